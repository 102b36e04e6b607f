//! The workspace's shareable invite link (`join_links`, one row per workspace) and every use
//! of it (`join_requests`: a direct join, a request waiting for an admin, or a new person's
//! use waiting for the mailed confirmation of their address).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, join_links, join_requests, members};
use crate::db::{DbConn, FirstByKey};

/// A use that joined at once (no approval needed).
pub const JOINED: &str = "joined";
/// Waiting for an admin.
pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";
/// A new person's use, waiting for the confirmation mailed to their address.
pub const UNCONFIRMED: &str = "unconfirmed";

/// How a member joined (`members.joined_via`).
pub const VIA_INVITATION: &str = "invitation";
pub const VIA_LINK: &str = "link";
pub const VIA_DOMAIN: &str = "domain";

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = join_links)]
pub struct JoinLink {
    pub id: i64,
    pub workspace_id: i64,
    pub token_hash: Option<String>,
    pub enabled: bool,
    pub require_approval: bool,
    pub verified_domains_only: bool,
    pub role_ids: String,
    pub expires_at: Option<NaiveDateTime>,
    pub max_uses: Option<i32>,
    pub uses: i32,
    pub author_account_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The settings a save writes (the token is written apart: `set_token`).
pub struct LinkSettings<'a> {
    pub enabled: bool,
    pub require_approval: bool,
    pub verified_domains_only: bool,
    pub role_ids: &'a [i64],
    pub expires_at: Option<NaiveDateTime>,
    pub max_uses: Option<i32>,
    pub author_account_id: i64,
}

pub fn encode_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

pub fn decode_ids(raw: &str) -> Vec<i64> {
    serde_json::from_str(raw).unwrap_or_default()
}

impl JoinLink {
    pub fn role_id_list(&self) -> Vec<i64> {
        decode_ids(&self.role_ids)
    }

    pub fn for_workspace(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Option<JoinLink>> {
        join_links::table
            .filter(join_links::workspace_id.eq(workspace_id))
            .select(JoinLink::as_select())
            .first_by_key(conn)
    }

    pub fn find_by_token_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<JoinLink>> {
        join_links::table
            .filter(join_links::token_hash.eq(hash))
            .select(JoinLink::as_select())
            .first_by_key(conn)
    }

    /// Writes the settings of the workspace's link, creating its row on first save; the
    /// link's id.
    pub fn save(
        conn: &mut DbConn,
        workspace_id: i64,
        settings: &LinkSettings<'_>,
        now: NaiveDateTime,
    ) -> QueryResult<i64> {
        let ids = encode_ids(settings.role_ids);
        match Self::for_workspace(conn, workspace_id)? {
            Some(link) => {
                diesel::update(join_links::table.filter(join_links::id.eq(link.id)))
                    .set((
                        join_links::enabled.eq(settings.enabled),
                        join_links::require_approval.eq(settings.require_approval),
                        join_links::verified_domains_only.eq(settings.verified_domains_only),
                        join_links::role_ids.eq(&ids),
                        join_links::expires_at.eq(settings.expires_at),
                        join_links::max_uses.eq(settings.max_uses),
                        join_links::author_account_id.eq(Some(settings.author_account_id)),
                        join_links::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                Ok(link.id)
            }
            None => diesel::insert_into(join_links::table)
                .values((
                    join_links::workspace_id.eq(workspace_id),
                    join_links::enabled.eq(settings.enabled),
                    join_links::require_approval.eq(settings.require_approval),
                    join_links::verified_domains_only.eq(settings.verified_domains_only),
                    join_links::role_ids.eq(&ids),
                    join_links::expires_at.eq(settings.expires_at),
                    join_links::max_uses.eq(settings.max_uses),
                    join_links::uses.eq(0),
                    join_links::author_account_id.eq(Some(settings.author_account_id)),
                    join_links::created_at.eq(now),
                    join_links::updated_at.eq(now),
                ))
                .returning(join_links::id)
                .get_result(conn),
        }
    }

    /// Replaces the token (the old link stops working at once) and restarts the use count.
    pub fn set_token(
        conn: &mut DbConn,
        id: i64,
        hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(join_links::table.filter(join_links::id.eq(id)))
            .set((
                join_links::token_hash.eq(Some(hash)),
                join_links::uses.eq(0),
                join_links::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Consumes one use, only if the link is still the one found (same token, enabled)
    /// and a use is left; false otherwise.
    pub fn take_use(conn: &mut DbConn, id: i64, hash: &str) -> QueryResult<bool> {
        let n = diesel::update(
            join_links::table
                .filter(join_links::id.eq(id))
                .filter(join_links::token_hash.eq(hash))
                .filter(join_links::enabled.eq(true))
                .filter(
                    join_links::max_uses
                        .is_null()
                        .or(join_links::max_uses.assume_not_null().gt(join_links::uses)),
                ),
        )
        .set(join_links::uses.eq(join_links::uses + 1))
        .execute(conn)?;
        Ok(n == 1)
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = join_requests)]
pub struct JoinRequest {
    pub id: i64,
    pub workspace_id: i64,
    pub account_id: i64,
    pub status: String,
    pub role_ids: String,
    pub confirm_token_hash: Option<String>,
    pub member_id: Option<i64>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// The verified domain it came through (`None`: the invite link).
    pub domain_id: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = join_requests)]
pub struct NewJoinRequest<'a> {
    pub workspace_id: i64,
    pub account_id: i64,
    pub status: &'a str,
    pub role_ids: String,
    pub confirm_token_hash: Option<&'a str>,
    pub member_id: Option<i64>,
    pub decided_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub domain_id: Option<i64>,
}

impl NewJoinRequest<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(join_requests::table)
            .values(self)
            .returning(join_requests::id)
            .get_result(conn)
    }
}

/// A join request with the requester's name, for the Requests screen.
pub type JoinRequestWithName = (JoinRequest, String);

impl JoinRequest {
    pub fn role_id_list(&self) -> Vec<i64> {
        decode_ids(&self.role_ids)
    }

    pub fn find_in_workspace(
        conn: &mut DbConn,
        workspace_id: i64,
        id: i64,
    ) -> QueryResult<Option<JoinRequest>> {
        join_requests::table
            .filter(join_requests::workspace_id.eq(workspace_id))
            .filter(join_requests::id.eq(id))
            .select(JoinRequest::as_select())
            .first_by_key(conn)
    }

    pub fn find_by_confirm_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<JoinRequest>> {
        join_requests::table
            .filter(join_requests::confirm_token_hash.eq(hash))
            .select(JoinRequest::as_select())
            .first_by_key(conn)
    }

    pub fn pending_in(conn: &mut DbConn, workspace_id: i64) -> QueryResult<i64> {
        join_requests::table
            .filter(join_requests::workspace_id.eq(workspace_id))
            .filter(join_requests::status.eq(PENDING))
            .count()
            .get_result(conn)
    }

    pub fn pending_for(conn: &mut DbConn, workspace_id: i64, account_id: i64) -> QueryResult<bool> {
        let n: i64 = join_requests::table
            .filter(join_requests::workspace_id.eq(workspace_id))
            .filter(join_requests::account_id.eq(account_id))
            .filter(join_requests::status.eq(PENDING))
            .count()
            .get_result(conn)?;
        Ok(n > 0)
    }

    /// Memberships made through the link since `since` (the rolling daily limit).
    pub fn joins_since(
        conn: &mut DbConn,
        workspace_id: i64,
        since: NaiveDateTime,
    ) -> QueryResult<i64> {
        join_requests::table
            .filter(join_requests::workspace_id.eq(workspace_id))
            .filter(join_requests::status.eq_any([JOINED, APPROVED]))
            .filter(join_requests::decided_at.gt(since))
            .count()
            .get_result(conn)
    }

    /// The requests filed through a domain that still wait for an admin.
    pub fn pending_through_domain(
        conn: &mut DbConn,
        domain_id: i64,
    ) -> QueryResult<Vec<JoinRequest>> {
        join_requests::table
            .filter(join_requests::domain_id.eq(domain_id))
            .filter(join_requests::status.eq(PENDING))
            .order(join_requests::id)
            .select(JoinRequest::as_select())
            .load(conn)
    }

    /// Moves a request from `from` to `to`, only if it is still `from`; false otherwise.
    pub fn decide(
        conn: &mut DbConn,
        id: i64,
        from: &str,
        to: &str,
        decided_by: Option<i64>,
        member_id: Option<i64>,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            join_requests::table
                .filter(join_requests::id.eq(id))
                .filter(join_requests::status.eq(from)),
        )
        .set((
            join_requests::status.eq(to),
            join_requests::decided_by.eq(decided_by),
            join_requests::member_id.eq(member_id),
            join_requests::decided_at.eq(Some(now)),
            join_requests::confirm_token_hash.eq(None::<String>),
        ))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// A workspace's requests with a status, newest first, with the requester's name.
    pub fn list(
        conn: &mut DbConn,
        workspace_id: i64,
        status: &str,
        limit: i64,
    ) -> QueryResult<Vec<JoinRequestWithName>> {
        join_requests::table
            .inner_join(accounts::table.on(accounts::id.eq(join_requests::account_id)))
            .filter(join_requests::workspace_id.eq(workspace_id))
            .filter(join_requests::status.eq(status))
            .order(join_requests::created_at.desc())
            .limit(limit)
            .select((JoinRequest::as_select(), accounts::name))
            .load(conn)
    }
}

/// Records how a member joined and who approved them.
pub fn set_joined_via(
    conn: &mut DbConn,
    member_id: i64,
    via: &str,
    approved_by: Option<i64>,
) -> QueryResult<()> {
    diesel::update(members::table.filter(members::id.eq(member_id)))
        .set((
            members::joined_via.eq(Some(via)),
            members::approved_by.eq(approved_by),
        ))
        .execute(conn)?;
    Ok(())
}

/// A workspace by id (the link's), outside any lock.
pub fn workspace(
    conn: &mut DbConn,
    id: i64,
) -> QueryResult<Option<crate::models::workspace::Workspace>> {
    use crate::db::schema::workspaces;
    workspaces::table
        .filter(workspaces::id.eq(id))
        .select(crate::models::workspace::Workspace::as_select())
        .first_by_key(conn)
}

/// `(member id, joined_via, approver's name)`.
pub type JoinedOf = (i64, Option<String>, Option<String>);

/// How each of these members joined and the name of who approved them:
/// `(member id, joined_via, approver's name)`.
pub fn joined_of(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<JoinedOf>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    // One JSON array bind and a statement kept prepared, like the list's own rows.
    let (before, json, after) = crate::db::ids_in(conn, "members.id", ids);
    crate::db::cached(
        members::table
            .left_join(accounts::table.on(members::approved_by.eq(accounts::id.nullable())))
            .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
            .select((members::id, members::joined_via, accounts::name.nullable())),
    )
    .load(conn)
}

/// How a member joined, as the Users screen says it.
pub fn joined_label(via: Option<&str>, approved_by: Option<&str>) -> Option<String> {
    let how = match via? {
        VIA_INVITATION => "Joined by invitation",
        VIA_LINK => "Joined through the invite link",
        VIA_DOMAIN => "Joined through a verified domain",
        _ => return None,
    };
    Some(match approved_by {
        Some(name) => format!("{how}, approved by {name}"),
        None => how.to_string(),
    })
}
