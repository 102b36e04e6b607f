//! Roles, their permissions, and which members hold them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{member_roles, permission_grants, role_permissions, roles};
use crate::db::{cached, ids_in, DbConn, FirstByKey};
use crate::permissions::{BuiltinRole, Grant};
use diesel::dsl::sql;
use diesel::sql_types::{Bool, Text};

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = roles)]
pub struct Role {
    pub id: i64,
    pub workspace_id: i64,
    pub builtin_key: Option<String>,
    pub name: String,
    pub name_canonical: String,
    pub description: String,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = roles)]
pub struct NewRole<'a> {
    pub workspace_id: i64,
    pub builtin_key: Option<&'a str>,
    pub name: &'a str,
    pub name_canonical: String,
    pub description: &'a str,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewRole<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(roles::table)
            .values(self)
            .returning(roles::id)
            .get_result(conn)
    }
}

/// A role as shown beside a member: enough to label and link it.
#[derive(Queryable, Clone, Debug)]
pub struct HeldRole {
    pub member_id: i64,
    pub role_id: i64,
    pub name: String,
    pub builtin_key: Option<String>,
    pub is_primary: bool,
}

/// One row of a member's permission sources: (permission, scope, source name, built-in key).
pub type PermissionRow = (String, Option<String>, String, Option<String>);

impl Role {
    pub fn builtin(&self) -> Option<BuiltinRole> {
        self.builtin_key.as_deref().and_then(BuiltinRole::from_key)
    }

    /// Creates the five built-in roles of a new workspace with their SPEC permissions.
    pub fn create_builtins(
        conn: &mut DbConn,
        workspace_id: i64,
    ) -> QueryResult<Vec<(BuiltinRole, i64)>> {
        let now = super::now();
        let mut created = Vec::with_capacity(BuiltinRole::ALL.len());
        for (position, role) in BuiltinRole::ALL.into_iter().enumerate() {
            let id = NewRole {
                workspace_id,
                builtin_key: Some(role.key()),
                name: role.name(),
                name_canonical: role.name().to_lowercase(),
                description: role.description(),
                position: position as i32,
                created_at: now,
                updated_at: now,
            }
            .insert(conn)?;
            set_permissions(conn, id, &role.grants())?;
            created.push((role, id));
        }
        Ok(created)
    }

    pub fn for_workspace(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Vec<Role>> {
        roles::table
            .filter(roles::workspace_id.eq(workspace_id))
            .order((roles::position, roles::name_canonical))
            .select(Role::as_select())
            .load(conn)
    }

    /// A role by id, only within the given workspace (another workspace's id is `None`).
    pub fn find_in_workspace(
        conn: &mut DbConn,
        workspace_id: i64,
        id: i64,
    ) -> QueryResult<Option<Role>> {
        roles::table
            .filter(roles::workspace_id.eq(workspace_id))
            .filter(roles::id.eq(id))
            .select(Role::as_select())
            .first_by_key(conn)
    }

    /// Whether another role of the workspace already has this (lower-cased) name.
    pub fn name_taken(
        conn: &mut DbConn,
        workspace_id: i64,
        name_canonical: &str,
        except: Option<i64>,
    ) -> QueryResult<bool> {
        let ids: Vec<i64> = roles::table
            .filter(roles::workspace_id.eq(workspace_id))
            .filter(roles::name_canonical.eq(name_canonical))
            .select(roles::id)
            .load(conn)?;
        Ok(ids.into_iter().any(|id| Some(id) != except))
    }

    /// The position after the last role (custom roles list after the built-ins).
    pub fn next_position(conn: &mut DbConn, workspace_id: i64) -> QueryResult<i32> {
        let max: Option<i32> = roles::table
            .filter(roles::workspace_id.eq(workspace_id))
            .select(diesel::dsl::max(roles::position))
            .first(conn)?;
        Ok(max.unwrap_or(0) + 1)
    }

    pub fn update_details(
        conn: &mut DbConn,
        id: i64,
        name: &str,
        description: &str,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(roles::table.find(id))
            .set((
                roles::name.eq(name),
                roles::name_canonical.eq(name.to_lowercase()),
                roles::description.eq(description),
                roles::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
        diesel::delete(roles::table.find(id)).execute(conn)?;
        Ok(())
    }

    /// Every role permission of a workspace in one query: `(role id, grant)`.
    pub fn grants_by_role(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Vec<(i64, Grant)>> {
        let rows: Vec<(i64, String, Option<String>)> = role_permissions::table
            .inner_join(roles::table)
            .filter(roles::workspace_id.eq(workspace_id))
            .order((role_permissions::role_id, role_permissions::permission))
            .select((
                role_permissions::role_id,
                role_permissions::permission,
                role_permissions::scope,
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .filter_map(|(role_id, p, s)| Grant::from_keys(&p, s.as_deref()).map(|g| (role_id, g)))
            .collect())
    }

    /// Active members holding each role: `(role id, count)`, one grouped query.
    pub fn member_counts(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Vec<(i64, i64)>> {
        use crate::db::schema::members;
        member_roles::table
            .inner_join(members::table)
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::status.eq("active"))
            .group_by(member_roles::role_id)
            .select((member_roles::role_id, diesel::dsl::count_star()))
            .load(conn)
    }

    /// For every active member holding `role_id`: all the roles they hold
    /// (`(member id, role id, is primary)`), two queries.
    pub fn holders_roles(conn: &mut DbConn, role_id: i64) -> QueryResult<Vec<(i64, i64, bool)>> {
        use crate::db::schema::members;
        let holders: Vec<i64> = member_roles::table
            .inner_join(members::table)
            .filter(member_roles::role_id.eq(role_id))
            .filter(members::status.eq("active"))
            .select(member_roles::member_id)
            .load(conn)?;
        if holders.is_empty() {
            return Ok(Vec::new());
        }
        let (before, json, after) = ids_in(conn, "member_roles.member_id", &holders);
        member_roles::table
            .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
            .order((member_roles::member_id, member_roles::role_id))
            .select((
                member_roles::member_id,
                member_roles::role_id,
                member_roles::is_primary,
            ))
            .load(conn)
    }

    /// Replaces a member's roles; `roles` is `(role id, is primary)`.
    pub fn replace_for_member(
        conn: &mut DbConn,
        member_id: i64,
        roles: &[(i64, bool)],
    ) -> QueryResult<()> {
        diesel::delete(member_roles::table.filter(member_roles::member_id.eq(member_id)))
            .execute(conn)?;
        for (role_id, is_primary) in roles {
            Role::assign(conn, member_id, *role_id, *is_primary)?;
        }
        Ok(())
    }

    /// Makes `role_id` the primary role of a member (after their primary role was deleted).
    pub fn set_primary(conn: &mut DbConn, member_id: i64, role_id: i64) -> QueryResult<()> {
        diesel::update(
            member_roles::table
                .filter(member_roles::member_id.eq(member_id))
                .filter(member_roles::role_id.eq(role_id)),
        )
        .set(member_roles::is_primary.eq(true))
        .execute(conn)?;
        Ok(())
    }

    pub fn find_builtin(
        conn: &mut DbConn,
        workspace_id: i64,
        role: BuiltinRole,
    ) -> QueryResult<Role> {
        roles::table
            .filter(roles::workspace_id.eq(workspace_id))
            .filter(roles::builtin_key.eq(role.key()))
            .select(Role::as_select())
            .first(conn)
    }

    /// The roles held by each of these members, primary first (one query for a page).
    /// The ids travel as one JSON array bind (`ids_in`): one statement text, kept prepared.
    /// SQL orders by member only (the key's order); the order within a member is sorted
    /// here, as SQLite would otherwise run one small sort per member.
    pub fn held_by(conn: &mut DbConn, member_ids: &[i64]) -> QueryResult<Vec<HeldRole>> {
        if member_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (before, json, after) = ids_in(conn, "member_roles.member_id", member_ids);
        let mut rows: Vec<(HeldRole, i32, String)> = cached(
            member_roles::table
                .inner_join(roles::table)
                .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
                .order(member_roles::member_id)
                .select((
                    (
                        member_roles::member_id,
                        roles::id,
                        roles::name,
                        roles::builtin_key,
                        member_roles::is_primary,
                    ),
                    roles::position,
                    roles::name_canonical,
                )),
        )
        .load(conn)?;
        rows.sort_by(|(a, a_position, a_name), (b, b_position, b_name)| {
            (a.member_id, !a.is_primary, a_position, a_name).cmp(&(
                b.member_id,
                !b.is_primary,
                b_position,
                b_name,
            ))
        });
        Ok(rows.into_iter().map(|(role, _, _)| role).collect())
    }

    /// Which roles each of these members holds, as (member, role, is primary), by member:
    /// the Users list names them from the workspace's role list it has loaded anyway, so
    /// this reads only the `member_roles` key (one JSON array bind, kept prepared).
    pub fn held_ids(conn: &mut DbConn, member_ids: &[i64]) -> QueryResult<Vec<(i64, i64, bool)>> {
        if member_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (before, json, after) = ids_in(conn, "member_roles.member_id", member_ids);
        cached(
            member_roles::table
                .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
                .order((member_roles::member_id, member_roles::role_id))
                .select((
                    member_roles::member_id,
                    member_roles::role_id,
                    member_roles::is_primary,
                )),
        )
        .load(conn)
    }

    /// Every permission a member holds through roles, with the role's name as source.
    pub fn permission_rows(conn: &mut DbConn, member_id: i64) -> QueryResult<Vec<PermissionRow>> {
        member_roles::table
            .inner_join(roles::table.inner_join(role_permissions::table))
            .filter(member_roles::member_id.eq(member_id))
            .order((roles::position, roles::name_canonical))
            .select((
                role_permissions::permission,
                role_permissions::scope,
                roles::name,
                roles::builtin_key,
            ))
            .load(conn)
    }

    /// The accounts of the workspace's active members who hold `permission` (at any
    /// scope) through a role or a live direct grant: whom to tell about a request.
    pub fn accounts_holding(
        conn: &mut DbConn,
        workspace_id: i64,
        permission: &str,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<i64>> {
        use crate::db::schema::members;
        let active = crate::models::member::MemberStatus::Active.key();
        let mut accounts: Vec<i64> = member_roles::table
            .inner_join(members::table)
            .inner_join(
                role_permissions::table.on(role_permissions::role_id.eq(member_roles::role_id)),
            )
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::status.eq(active))
            .filter(role_permissions::permission.eq(permission))
            .select(members::account_id)
            .distinct()
            .load(conn)?;
        let granted: Vec<i64> = permission_grants::table
            .inner_join(members::table)
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::status.eq(active))
            .filter(permission_grants::permission.eq(permission))
            .filter(
                permission_grants::expires_at
                    .is_null()
                    .or(permission_grants::expires_at.gt(now)),
            )
            .select(members::account_id)
            .distinct()
            .load(conn)?;
        accounts.extend(granted);
        accounts.sort_unstable();
        accounts.dedup();
        Ok(accounts)
    }

    /// Every permission each of these roles gives: `(role id, row)`, the roles in the
    /// order `permission_rows` lists a member's (position, then name). One JSON array bind.
    pub fn permission_rows_of_roles(
        conn: &mut DbConn,
        role_ids: &[i64],
    ) -> QueryResult<Vec<(i64, PermissionRow)>> {
        if role_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (before, json, after) = ids_in(conn, "roles.id", role_ids);
        cached(
            roles::table
                .inner_join(role_permissions::table)
                .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
                .order((roles::position, roles::name_canonical, roles::id))
                .select((
                    roles::id,
                    (
                        role_permissions::permission,
                        role_permissions::scope,
                        roles::name,
                        roles::builtin_key,
                    ),
                )),
        )
        .load(conn)
    }

    /// Live direct grants of these members: `(member id, grant)`.
    pub fn live_grants_of(
        conn: &mut DbConn,
        member_ids: &[i64],
        now: NaiveDateTime,
    ) -> QueryResult<Vec<(i64, Grant)>> {
        if member_ids.is_empty() {
            return Ok(Vec::new());
        }
        let (before, json, after) = ids_in(conn, "permission_grants.member_id", member_ids);
        let rows: Vec<(i64, String, Option<String>)> = cached(
            permission_grants::table
                .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
                .filter(
                    permission_grants::expires_at
                        .is_null()
                        .or(permission_grants::expires_at.gt(now)),
                )
                .select((
                    permission_grants::member_id,
                    permission_grants::permission,
                    permission_grants::scope,
                )),
        )
        .load(conn)?;
        Ok(rows
            .into_iter()
            .filter_map(|(m, p, s)| Grant::from_keys(&p, s.as_deref()).map(|g| (m, g)))
            .collect())
    }

    /// Direct grants that have not expired, labelled as their source.
    pub fn grant_rows(
        conn: &mut DbConn,
        member_id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<PermissionRow>> {
        let rows: Vec<(String, Option<String>)> = permission_grants::table
            .filter(permission_grants::member_id.eq(member_id))
            .filter(
                permission_grants::expires_at
                    .is_null()
                    .or(permission_grants::expires_at.gt(now)),
            )
            .order(permission_grants::id)
            .select((permission_grants::permission, permission_grants::scope))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(p, s)| (p, s, "Direct grant".to_string(), None))
            .collect())
    }

    /// A direct grant (an approved permission request); returns its id.
    pub fn grant(
        conn: &mut DbConn,
        member_id: i64,
        grant: &Grant,
        expires_at: Option<NaiveDateTime>,
        granted_by: i64,
        now: NaiveDateTime,
    ) -> QueryResult<i64> {
        diesel::insert_into(permission_grants::table)
            .values((
                permission_grants::member_id.eq(member_id),
                permission_grants::permission.eq(grant.permission.key()),
                permission_grants::scope.eq(grant.scope.map(|s| s.key())),
                permission_grants::expires_at.eq(expires_at),
                permission_grants::granted_by.eq(Some(granted_by)),
                permission_grants::created_at.eq(now),
            ))
            .returning(permission_grants::id)
            .get_result(conn)
    }

    /// Removes every direct grant of a member; returns how many.
    pub fn delete_grants(conn: &mut DbConn, member_id: i64) -> QueryResult<usize> {
        diesel::delete(permission_grants::table.filter(permission_grants::member_id.eq(member_id)))
            .execute(conn)
    }

    /// Gives a member a role.
    pub fn assign(
        conn: &mut DbConn,
        member_id: i64,
        role_id: i64,
        is_primary: bool,
    ) -> QueryResult<()> {
        diesel::insert_into(member_roles::table)
            .values((
                member_roles::member_id.eq(member_id),
                member_roles::role_id.eq(role_id),
                member_roles::is_primary.eq(is_primary),
            ))
            .execute(conn)?;
        Ok(())
    }
}

/// A role's permissions as grants (unknown keys ignored).
pub fn grants_of(conn: &mut DbConn, role_id: i64) -> QueryResult<Vec<Grant>> {
    let rows: Vec<(String, Option<String>)> = role_permissions::table
        .filter(role_permissions::role_id.eq(role_id))
        .select((role_permissions::permission, role_permissions::scope))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, scope)| Grant::from_keys(&key, scope.as_deref()))
        .collect())
}

/// Replaces a role's permission rows.
pub fn set_permissions(conn: &mut DbConn, role_id: i64, grants: &[Grant]) -> QueryResult<()> {
    diesel::delete(role_permissions::table.filter(role_permissions::role_id.eq(role_id)))
        .execute(conn)?;
    for grant in grants {
        diesel::insert_into(role_permissions::table)
            .values((
                role_permissions::role_id.eq(role_id),
                role_permissions::permission.eq(grant.permission.key()),
                role_permissions::scope.eq(grant.scope.map(|s| s.key())),
            ))
            .execute(conn)?;
    }
    Ok(())
}

impl Role {
    /// Whether the member holds their workspace's Owner role.
    pub fn holds_owner(conn: &mut DbConn, member_id: i64) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            member_roles::table
                .inner_join(roles::table)
                .filter(member_roles::member_id.eq(member_id))
                .filter(roles::builtin_key.eq(BuiltinRole::Owner.key())),
        ))
        .get_result(conn)
    }
}
