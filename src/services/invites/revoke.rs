//! Revoking invites: by an admin from the list, or all the pending ones a member sent when
//! they are removed or archived.

use chrono::NaiveDateTime;
use serde_json::json;

use super::ensure_may_invite;
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::invite::Invite;
use crate::models::outbox;
use crate::services::access::Access;
use crate::services::locks;

/// Revoke: the link stops working at once and the seat is free.
pub fn revoke(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    invite_id: i64,
) -> ServiceResult<Invite> {
    locks::acting(conn, access, |conn, access| {
        ensure_may_invite(access)?;
        let invite = Invite::find_in_workspace(conn, access.workspace.id, invite_id)?
            .ok_or(AppError::NotFound)?;
        if !revoke_in_tx(conn, actor, &invite, models::now(), "revoked by an admin")? {
            return Err(ServiceError::general(
                "This invitation is no longer pending.",
            ));
        }
        Ok(invite)
    })
}

/// Removal hygiene: when a member is removed, the invites they sent that are still
/// pending are revoked, in the caller's transaction (which holds the member lock).
pub fn revoke_pending_sent_by(
    conn: &mut DbConn,
    actor: &Actor,
    workspace_id: i64,
    account_id: i64,
) -> AppResult<usize> {
    let now = models::now();
    let mut revoked = 0;
    for invite in Invite::pending_sent_by(conn, workspace_id, account_id)? {
        if revoke_in_tx(conn, actor, &invite, now, "the inviter was removed")? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// Revokes one invite if it is still pending, cancelling its queued mail; `false` when it
/// no longer was.
fn revoke_in_tx(
    conn: &mut DbConn,
    actor: &Actor,
    invite: &Invite,
    now: NaiveDateTime,
    reason: &str,
) -> AppResult<bool> {
    if !Invite::revoke_pending(conn, invite.id, actor.account_id, now)? {
        return Ok(false);
    }
    outbox::cancel_queued_for_invite(conn, invite.id)?;
    audit::record(
        conn,
        actor,
        Event::new("invite.revoked")
            .workspace(invite.workspace_id)
            .target("invite", invite.id, &invite.canonical)
            .changes(json!({
                "before": {"status": "pending"},
                "after": {"status": "revoked"},
                "reason": reason,
            })),
    )?;
    Ok(true)
}
