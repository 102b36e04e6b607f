//! Permission requests: a member asks for a permission; an admin approves or denies it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, members, permission_requests};
use crate::db::{DbConn, FirstByKey};

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = permission_requests)]
pub struct PermissionRequest {
    pub id: i64,
    pub workspace_id: i64,
    pub member_id: i64,
    pub permission: String,
    pub scope: Option<String>,
    pub reason: String,
    pub status: String,
    pub decided_by: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub note: Option<String>,
    pub grant_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = permission_requests)]
pub struct NewPermissionRequest<'a> {
    pub workspace_id: i64,
    pub member_id: i64,
    pub permission: &'a str,
    pub scope: Option<&'a str>,
    pub reason: &'a str,
    pub status: &'a str,
    pub created_at: NaiveDateTime,
}

impl NewPermissionRequest<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(permission_requests::table)
            .values(self)
            .returning(permission_requests::id)
            .get_result(conn)
    }
}

/// A request with the requester's name, for the triage list.
pub type RequestWithName = (PermissionRequest, String);

impl PermissionRequest {
    /// What was asked for, as a person reads it (`Edit members (their team)`), then as keys
    /// (`members.edit (team)`); a key no longer known reads as itself.
    pub fn asked_for(&self) -> (String, String) {
        match crate::permissions::Grant::from_keys(&self.permission, self.scope.as_deref()) {
            Some(grant) => (grant.title(), grant.label()),
            None => (self.permission.clone(), self.permission.clone()),
        }
    }

    /// The status as shown: `Pending`, `Approved`, `Denied`.
    pub fn status_label(&self) -> &'static str {
        match self.status.as_str() {
            PENDING => "Pending",
            APPROVED => "Approved",
            _ => "Denied",
        }
    }

    pub fn find_in_workspace(
        conn: &mut DbConn,
        workspace_id: i64,
        id: i64,
    ) -> QueryResult<Option<PermissionRequest>> {
        permission_requests::table
            .filter(permission_requests::workspace_id.eq(workspace_id))
            .filter(permission_requests::id.eq(id))
            .select(PermissionRequest::as_select())
            .first_by_key(conn)
    }

    /// How many requests of the workspace wait for a decision.
    pub fn pending_in(conn: &mut DbConn, workspace_id: i64) -> QueryResult<i64> {
        permission_requests::table
            .filter(permission_requests::workspace_id.eq(workspace_id))
            .filter(permission_requests::status.eq(PENDING))
            .count()
            .get_result(conn)
    }

    pub fn pending_for(conn: &mut DbConn, member_id: i64, permission: &str) -> QueryResult<bool> {
        let ids: Vec<i64> = permission_requests::table
            .filter(permission_requests::member_id.eq(member_id))
            .filter(permission_requests::permission.eq(permission))
            .filter(permission_requests::status.eq(PENDING))
            .select(permission_requests::id)
            .load(conn)?;
        Ok(!ids.is_empty())
    }

    /// A workspace's requests with a status, newest first, with the requester's name.
    pub fn list(
        conn: &mut DbConn,
        workspace_id: i64,
        status: &str,
        limit: i64,
    ) -> QueryResult<Vec<RequestWithName>> {
        permission_requests::table
            .inner_join(members::table.inner_join(accounts::table))
            .filter(permission_requests::workspace_id.eq(workspace_id))
            .filter(permission_requests::status.eq(status))
            .order(permission_requests::created_at.desc())
            .limit(limit)
            .select((PermissionRequest::as_select(), accounts::name))
            .load(conn)
    }

    /// One member's requests, newest first.
    pub fn for_member(
        conn: &mut DbConn,
        member_id: i64,
        limit: i64,
    ) -> QueryResult<Vec<PermissionRequest>> {
        permission_requests::table
            .filter(permission_requests::member_id.eq(member_id))
            .order(permission_requests::created_at.desc())
            .limit(limit)
            .select(PermissionRequest::as_select())
            .load(conn)
    }

    /// Decides a pending request; 0 rows when someone else decided it first.
    pub fn decide(
        conn: &mut DbConn,
        id: i64,
        status: &str,
        decided_by: i64,
        note: Option<&str>,
        grant_id: Option<i64>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            permission_requests::table
                .filter(permission_requests::id.eq(id))
                .filter(permission_requests::status.eq(PENDING)),
        )
        .set((
            permission_requests::status.eq(status),
            permission_requests::decided_by.eq(decided_by),
            permission_requests::decided_at.eq(now),
            permission_requests::note.eq(note),
            permission_requests::grant_id.eq(grant_id),
        ))
        .execute(conn)
    }
}

/// A direct grant as the member page lists it (a `permission_grants` row), with the name
/// of the admin who granted it.
#[derive(Clone, Debug)]
pub struct DirectGrant {
    pub id: i64,
    pub member_id: i64,
    pub permission: String,
    pub scope: Option<String>,
    /// The moment it ends (the end of its last day); `None` for no end date.
    pub expires_at: Option<NaiveDateTime>,
    pub granted_by: Option<String>,
}

impl DirectGrant {
    /// A member's grants that have not expired at `now`, oldest first.
    pub fn live_for_member(
        conn: &mut DbConn,
        member_id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<Vec<DirectGrant>> {
        use crate::db::schema::permission_grants as g;
        let rows: Vec<GrantRow> = g::table
            .left_join(accounts::table.on(g::granted_by.eq(accounts::id.nullable())))
            .filter(g::member_id.eq(member_id))
            .filter(g::expires_at.is_null().or(g::expires_at.gt(now)))
            .order(g::id)
            .select((
                g::id,
                g::member_id,
                g::permission,
                g::scope,
                g::expires_at,
                accounts::name.nullable(),
            ))
            .load(conn)?;
        Ok(rows.into_iter().map(DirectGrant::from_row).collect())
    }

    /// One grant by id, whoever holds it (the caller checks it is the member's).
    pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Option<DirectGrant>> {
        use crate::db::schema::permission_grants as g;
        let row: Option<GrantRow> = g::table
            .left_join(accounts::table.on(g::granted_by.eq(accounts::id.nullable())))
            .filter(g::id.eq(id))
            .select((
                g::id,
                g::member_id,
                g::permission,
                g::scope,
                g::expires_at,
                accounts::name.nullable(),
            ))
            .first_by_key(conn)?;
        Ok(row.map(DirectGrant::from_row))
    }

    /// Deletes this member's grant `id`; how many rows went (0 when it was already gone).
    pub fn revoke(conn: &mut DbConn, member_id: i64, id: i64) -> QueryResult<usize> {
        use crate::db::schema::permission_grants as g;
        diesel::delete(
            g::table
                .filter(g::id.eq(id))
                .filter(g::member_id.eq(member_id)),
        )
        .execute(conn)
    }

    fn from_row(
        (id, member_id, permission, scope, expires_at, granted_by): GrantRow,
    ) -> DirectGrant {
        DirectGrant {
            id,
            member_id,
            permission,
            scope,
            expires_at,
            granted_by,
        }
    }
}

type GrantRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
);
