//! Resending an invite: two fresh links (neither old one works any more), a fresh expiry,
//! and whoever resends makes the offer from now on. And its quiet twin, a new link to copy:
//! only the shown link is replaced, nothing is mailed.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use super::{
    ensure_may_invite, expiry_date, invitation_mail, role_names, CreatedInvite, InviteTokens,
};
use crate::db::DbConn;
use crate::error::{AppError, ServiceError, ServiceResult};
use crate::links::Links;
use crate::mail::messages::InvitationMail;
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::invite::{self, Invite, Renewal};
use crate::models::member::SeatType;
use crate::models::outbox::{self, NewMail};
use crate::models::role::Role;
use crate::services::access::Access;
use crate::services::locks;
use crate::services::roles;
use crate::services::seats::Seats;
use crate::tokens;

/// Resend: a fresh link (the old one stops working) and a fresh expiry.
pub fn resend(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    invite_id: i64,
) -> ServiceResult<CreatedInvite> {
    locks::acting(conn, access, |conn, access| {
        ensure_may_invite(access)?;
        let now = models::now();
        let invite = Invite::find_in_workspace(conn, access.workspace.id, invite_id)?
            .ok_or(AppError::NotFound)?;
        let role_names = ensure_resendable(conn, access, &invite, now)?;
        let tokens = InviteTokens::generate();
        let expires_at = now + TimeDelta::days(i64::from(access.workspace.invite_expiry_days));
        Invite::renew(
            conn,
            invite.id,
            &Renewal {
                token_hash: &tokens.mailed_hash(),
                link_token_hash: &tokens.shared_hash(),
                invited_by: access.account.id,
                sent_at: now,
                expires_at,
            },
        )?;
        outbox::cancel_queued_for_invite(conn, invite.id)?;
        let mail = mail_again(access, links, &invite, &role_names, &tokens, expires_at)?;
        outbox::enqueue(conn, &mail, now)?;
        audit::record(
            conn,
            actor,
            Event::new("invite.resent")
                .workspace(access.workspace.id)
                .target("invite", invite.id, &invite.canonical)
                .changes(json!({
                    "before": {"expires_at": invite.expires_at.to_string(), "invited_by": invite.invited_by},
                    "after": {"expires_at": expires_at.to_string(), "invited_by": access.account.id},
                })),
        )?;
        Ok(CreatedInvite {
            id: invite.id,
            email: invite.email,
            link: links.invite(&tokens.shared),
        })
    })
}

/// A fresh link to copy, without mailing anything.
pub struct CopiedLink {
    pub invite: CreatedInvite,
    /// Set when the invitation went to this notification address: the mail there carried
    /// the link just replaced, so it no longer works.
    pub notification_email: Option<String>,
}

/// "Copy a new link": replaces the invite's shown link (the earlier shown link stops
/// working) and returns the new one, shown once. Nothing is mailed, the expiry stays, and
/// the link mailed to the invited address keeps working. Like Resend, the one asking makes
/// the offer from now on and must be able to grant its roles. The link proves nothing about
/// the address (`LinkKind::Shared`): redeemed, it joins but leaves the address unconfirmed.
pub fn copy_link(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    invite_id: i64,
) -> ServiceResult<CopiedLink> {
    locks::acting(conn, access, |conn, access| {
        ensure_may_invite(access)?;
        let now = models::now();
        let invite = Invite::find_in_workspace(conn, access.workspace.id, invite_id)?
            .ok_or(AppError::NotFound)?;
        if invite.status != invite::PENDING {
            return Err(ServiceError::general(
                "This invitation is no longer pending.",
            ));
        }
        if invite.expires_at <= now {
            return Err(ServiceError::general(
                "This invitation has expired: resend it to send a new link.",
            ));
        }
        ensure_may_offer(conn, access, &invite, "copy a link for")?;
        let shared = tokens::generate();
        if !Invite::replace_shared_link(
            conn,
            invite.id,
            &tokens::hash(&shared),
            access.account.id,
            now,
        )? {
            return Err(ServiceError::general(
                "This invitation is no longer pending.",
            ));
        }
        if invite.notification_email.is_some() {
            // The mail to the notification address carries the link just replaced: one
            // still queued would arrive dead.
            outbox::cancel_queued_for_invite(conn, invite.id)?;
        }
        audit::record(
            conn,
            actor,
            Event::new("invite.link_renewed")
                .workspace(access.workspace.id)
                .target("invite", invite.id, &invite.canonical)
                .changes(json!({
                    "before": {"invited_by": invite.invited_by},
                    "after": {"invited_by": access.account.id},
                    "mailed": false,
                })),
        )?;
        Ok(CopiedLink {
            invite: CreatedInvite {
                id: invite.id,
                email: invite.email,
                link: links.invite(&shared),
            },
            notification_email: invite.notification_email,
        })
    })
}

/// Whoever renews an invite's links makes the offer from now on: they must be able to grant
/// every role of it, by the same rule as a new invite. Returns the roles and their names.
fn ensure_may_offer(
    conn: &mut DbConn,
    access: &Access,
    invite: &Invite,
    doing: &str,
) -> ServiceResult<Vec<String>> {
    let roles = Role::for_workspace(conn, access.workspace.id)?;
    let grants = roles::grants_by_role(conn, access.workspace.id)?;
    let role_ids = Invite::role_ids(conn, invite.id)?;
    if !roles::may_grant_roles(&access.perms, &role_ids, &roles, &grants) {
        return Err(ServiceError::general(format!(
            "You cannot {doing} this invitation: it offers roles you cannot grant."
        )));
    }
    Ok(role_names(&roles, &role_ids))
}

/// Refused unless the invite is still pending (or merely expired), the one resending may
/// grant every role it offers, and — if it expired, so holds no seat — a seat is free.
/// Returns the names of the roles it offers.
fn ensure_resendable(
    conn: &mut DbConn,
    access: &Access,
    invite: &Invite,
    now: NaiveDateTime,
) -> ServiceResult<Vec<String>> {
    if invite.status != invite::PENDING {
        return Err(ServiceError::general(
            "Only a pending or expired invitation can be resent.",
        ));
    }
    // Whoever resends makes the offer from now on (the mail names them).
    let names = ensure_may_offer(conn, access, invite, "resend")?;
    if invite.expires_at <= now {
        Seats::load(conn, &access.workspace, now)?.ensure_free(1)?;
    }
    Ok(names)
}

/// The invitation mail again, with the new link, to where the first one went.
fn mail_again(
    access: &Access,
    links: &Links,
    invite: &Invite,
    role_names: &[String],
    tokens: &InviteTokens,
    expires_at: NaiveDateTime,
) -> ServiceResult<NewMail> {
    let link = links.invite(tokens.for_mail(invite.notification_email.is_some()));
    let recipient = invite
        .notification_email
        .as_deref()
        .unwrap_or(&invite.canonical);
    let mail = InvitationMail {
        workspace: &access.workspace.name,
        inviter: &access.account.name,
        invitee_name: invite.name.as_deref(),
        roles: role_names,
        seat: SeatType::from_key(&invite.seat_type)
            .unwrap_or(SeatType::Member)
            .label(),
        message: invite.message.as_deref(),
        expires_on: expiry_date(expires_at),
        link: &link,
    };
    Ok(invitation_mail(
        access.workspace.id,
        invite.id,
        recipient,
        &mail,
    )?)
}
