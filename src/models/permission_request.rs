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
