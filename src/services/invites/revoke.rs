//! Revoking invites: by an admin from the list, or all the pending ones a member sent when
//! they are removed or archived.

use chrono::NaiveDateTime;
use serde_json::json;

use super::ensure_may_invite;
use crate::db::DbConn;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::invite::{self, Invite, InviteStatus};
use crate::models::outbox;
use crate::services::access::Access;
use crate::services::locks;
use crate::services::seats::Seats;

/// What revoking an invite will do, shown before it is done (SPEC: revoke asks first).
#[derive(Clone, Debug)]
pub struct RevokePreview {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    /// Pending and unexpired: it holds a seat, which revoking frees.
    pub holds_seat: bool,
    /// Where the invitation was mailed when not to the invited address.
    pub notification_email: Option<String>,
    /// Mail for it not delivered yet, which will not go out.
    pub queued_mail: bool,
    /// The seats as they will be once it is revoked.
    pub seats_after: String,
}

/// Revoke's question: refused as `revoke` would be (not found, not pending), changing
/// nothing.
pub fn revoke_preview(
    conn: &mut DbConn,
    access: &Access,
    invite_id: i64,
) -> ServiceResult<RevokePreview> {
    ensure_may_invite(access)?;
    let now = models::now();
    let invite = Invite::find_in_workspace(conn, access.workspace.id, invite_id)?
        .ok_or(AppError::NotFound)?;
    if invite.status != invite::PENDING {
        return Err(ServiceError::general(
            "This invitation is no longer pending.",
        ));
    }
    let holds_seat = invite.status_at(now) == InviteStatus::Pending;
    let mut seats = Seats::load(conn, &access.workspace, now)?;
    if holds_seat {
        seats.pending_invites -= 1;
    }
    Ok(RevokePreview {
        id: invite.id,
        holds_seat,
        queued_mail: outbox::queued_for_invite(conn, invite.id)? > 0,
        seats_after: seats.label(),
        email: invite.email,
        name: invite.name,
        notification_email: invite.notification_email,
    })
}

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
