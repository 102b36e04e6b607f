//! The one lock every transaction takes before it reads and then writes a workspace's
//! members (roles, seat, manager, department, modules, metadata, name, addresses, archive,
//! restore, remove, leave, ownership, role definitions, invite acceptance, permission
//! grants, seats and invites).
//!
//! SQLite: the write transaction is `BEGIN IMMEDIATE`, so it holds the database's write lock
//! from its first statement. PostgreSQL: the workspace row, locked first thing. Taking the
//! same lock first, always, means conflicting requests run one after the other (never a
//! deadlock: nobody holds a member's rows while waiting for the workspace), and everything
//! read after it — the member, the actor's own roles — is what the write will be based on.

use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use crate::models::member::{Member, MemberStatus};
use crate::models::workspace::Workspace;
use crate::services::access::{self, Access};

/// Locks the workspace row for the rest of the transaction (`Workspace::lock_for_update`:
/// PostgreSQL's row lock; on SQLite the write transaction already holds the database's
/// write lock) and returns it.
pub(crate) fn lock_workspace(conn: &mut DbConn, workspace_id: i64) -> AppResult<Workspace> {
    Workspace::lock_for_update(conn, workspace_id)?.ok_or(AppError::NotFound)
}

/// A write transaction that holds the workspace's member lock from its start.
/// Generic over the error so a service returning `ServiceResult` rolls back on a refusal.
pub fn member_transaction<T, E, F>(conn: &mut DbConn, workspace_id: i64, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn, Workspace) -> Result<T, E>,
    E: From<AppError> + From<diesel::result::Error>,
{
    write_transaction(conn, |conn| {
        let workspace = lock_workspace(conn, workspace_id)?;
        f(conn, workspace)
    })
}

/// `member_transaction` for a signed-in actor: inside the lock the actor is read again (still
/// an active member, with the roles and grants they hold now), so a decision never rests
/// on what the actor held before a concurrent change. `f` gets that fresh view.
pub fn acting<T, E, F>(conn: &mut DbConn, access: &Access, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn, &Access) -> Result<T, E>,
    E: From<AppError> + From<diesel::result::Error>,
{
    member_transaction(conn, access.workspace.id, |conn, workspace| {
        let now = actor_now(conn, access, workspace)?;
        f(conn, &now)
    })
}

/// The actor as they are now, inside the lock.
fn actor_now(conn: &mut DbConn, access: &Access, workspace: Workspace) -> AppResult<Access> {
    let member = Member::find_in_workspace(conn, workspace.id, access.member.id)?
        .filter(|m| m.status() == MemberStatus::Active)
        .ok_or_else(|| {
            AppError::forbidden_because("You are no longer an active member of this workspace.")
        })?;
    let perms = access::effective_permissions(conn, member.id)?;
    Ok(Access {
        account: access.account.clone(),
        workspace,
        member,
        perms,
        workspaces: access.workspaces.clone(),
        pending_requests: access.pending_requests,
    })
}
