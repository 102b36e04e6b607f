//! Accepting an invite: single use, bound to its address, and never giving more than its
//! inviter may give at that moment.

use chrono::NaiveDateTime;
use serde_json::json;

use super::link::{address_claimant, offer_of};
use crate::db::{write_transaction, DbConn};
use crate::domain::PersonName;
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::mail::messages::{self, AcceptedMail};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::EmailAddressRow;
use crate::models::invite::{self, Invite, InviteStatus, LinkKind};
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::outbox::{self, NewMail};
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::locks::lock_workspace;
use crate::services::members::join;
use crate::services::roles;
use crate::tokens;

/// Who is accepting.
#[derive(Clone, Debug)]
pub enum Acceptor {
    /// No account yet: create one with this name and password hash.
    NewAccount {
        name: PersonName,
        password_hash: String,
    },
    /// Signed in as this account.
    Existing { account_id: i64 },
}

#[derive(Clone, Debug)]
pub struct Accepted {
    pub account_id: i64,
    pub workspace_slug: String,
    pub member_id: i64,
    /// The invited address is still unconfirmed: a confirmation link was mailed to it.
    pub confirmation_sent_to: Option<String>,
}

/// Accepts an invite: single use (a conditional update), bound to its address, creating the
/// account if needed, the membership, the address and the inviter's mail — in one
/// transaction, so a double submit cannot create two accounts or memberships.
///
/// The inviter's rights are checked again here, inside the transaction (SPEC §3): an invite
/// never gives, when redeemed, more than its inviter may give at that moment. Only the link
/// mailed to the invited address proves it (SPEC §4.8); redeemed through the shared link,
/// the address stays unconfirmed and a confirmation link is mailed to it, in this
/// transaction, through the outbox.
///
/// Not found: an unknown link. Refused, with nothing changed: a link expired, revoked or used; an
/// inviter who can no longer offer it; an address that already has an account (sign in
/// first); a signed-in account that does not own the address, or is already a member.
pub fn accept(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    token: &str,
    acceptor: &Acceptor,
) -> ServiceResult<Accepted> {
    write_transaction(conn, |conn| {
        let now = models::now();
        let hash = tokens::hash(token);
        // An unknown link is not found (404), as its page is; a known one that no longer
        // works is a refusal the page explains.
        let (invite, kind) = Invite::find_by_token_hash(conn, &hash)?.ok_or(AppError::NotFound)?;
        let workspace = lock_workspace(conn, invite.workspace_id)?;
        // Every refusal is decided before anything is written.
        ensure_still_offered(conn, &workspace, &invite, now)?;
        ensure_acceptor_may(conn, &workspace, &invite, kind, acceptor)?;
        // Single use: only one transaction can move it from pending, and only through the
        // link it was found by.
        if !Invite::take(conn, invite.id, kind, &hash, now)? {
            return Err(gone());
        }
        let email = EmailAddress::parse(&invite.email)
            .map_err(|e| AppError::internal(format!("stored invite address: {e}")))?;
        let proves = kind == LinkKind::Mailed;
        let account_id = account_for(conn, actor, acceptor, &email, proves)?;
        Invite::set_accepted_by(conn, invite.id, account_id)?;
        let confirmation_sent_to = settle_address(conn, links, account_id, &email, proves, now)?;
        let joined = Joined {
            member_id: join_workspace(conn, actor, &workspace, &invite, account_id)?,
            account_id,
            workspace: &workspace,
            invite: &invite,
            email: &email,
        };
        record_accepted(conn, actor, &joined, confirmation_sent_to.is_none())?;
        tell_inviter(conn, links, &joined, now)?;
        Ok(Accepted {
            account_id,
            workspace_slug: workspace.slug.clone(),
            member_id: joined.member_id,
            confirmation_sent_to,
        })
    })
}

/// Expired, revoked or already used (the link's page says which).
fn gone() -> ServiceError {
    ServiceError::general("This invitation can no longer be used: nothing was changed.")
}

/// Still pending, and its inviter may still make the offer (SPEC §3) — decided with the
/// rights they hold now, inside this transaction.
fn ensure_still_offered(
    conn: &mut DbConn,
    workspace: &Workspace,
    invite: &Invite,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    if invite.status_at(now) != InviteStatus::Pending {
        return Err(gone());
    }
    let offer = offer_of(conn, invite)?;
    match roles::offer_withdrawn(conn, workspace.id, Permission::MembersInvite, offer)? {
        None => Ok(()),
        Some(_) => Err(ServiceError::general(
            "Nothing was changed: the person who sent this invitation can no longer offer these roles.",
        )),
    }
}

/// A new account only for an address nobody holds; an existing account only for its own
/// address, and only when it is not already a member.
fn ensure_acceptor_may(
    conn: &mut DbConn,
    workspace: &Workspace,
    invite: &Invite,
    kind: LinkKind,
    acceptor: &Acceptor,
) -> ServiceResult<()> {
    let owner = address_claimant(conn, &invite.canonical, kind)?;
    match acceptor {
        Acceptor::NewAccount { .. } if owner.is_some() => Err(ServiceError::general(
            "An account already uses this address: sign in to accept the invitation.",
        )),
        Acceptor::NewAccount { .. } => Ok(()),
        Acceptor::Existing { account_id } => {
            let owns_address = match &owner {
                Some(account) => account.id == *account_id,
                None => super::owns_address(conn, *account_id, &invite.canonical)?,
            };
            if !owns_address {
                return Err(ServiceError::general(
                    "This invitation is for another address than the account you are signed in with.",
                ));
            }
            if Member::find_for_account(conn, workspace.id, *account_id)?
                .is_some_and(|m| m.status() == MemberStatus::Active)
            {
                return Err(ServiceError::general(
                    "You are already a member of this workspace.",
                ));
            }
            Ok(())
        }
    }
}

/// The accepting account: created now (the address verified when the link proves it), or
/// the signed-in one, locked.
fn account_for(
    conn: &mut DbConn,
    actor: &Actor,
    acceptor: &Acceptor,
    email: &EmailAddress,
    proves: bool,
) -> AppResult<i64> {
    match acceptor {
        Acceptor::NewAccount {
            name,
            password_hash,
        } => join::insert_account(
            conn,
            actor,
            name.as_str(),
            email,
            Some(password_hash),
            proves,
        ),
        Acceptor::Existing { account_id } => {
            crate::services::account::lock_account(conn, *account_id)?;
            Ok(*account_id)
        }
    }
}

/// The invited address on the account: verified when the mailed link proved it; otherwise
/// left (or put) there unconfirmed with a confirmation link mailed to it. Returns where
/// that link went.
fn settle_address(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email: &EmailAddress,
    proves: bool,
    now: NaiveDateTime,
) -> AppResult<Option<String>> {
    if proves {
        invite::verify_invited_address(conn, account_id, email.canonical(), now)?;
        Ok(None)
    } else {
        confirm_later(conn, links, account_id, email, now)
    }
}

/// After a redemption that proved nothing: the invited address stays (or is put) on the
/// account unconfirmed, and the account's ordinary confirmation link is mailed to it
/// (`account_tokens`, `/account/emails/verify/{token}`), in the caller's transaction.
/// Returns the address it was mailed to; `None` when the address is already verified on
/// the account (nothing to prove).
fn confirm_later(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email: &EmailAddress,
    now: NaiveDateTime,
) -> AppResult<Option<String>> {
    use crate::services::account::add_unverified;
    let mine = EmailAddressRow::for_account(conn, account_id)?;
    if mine
        .iter()
        .any(|e| e.canonical == email.canonical() && e.verified)
    {
        return Ok(None);
    }
    match add_unverified(conn, links, account_id, email, None, now) {
        Ok(_) => Ok(Some(email.as_str().to_string())),
        // Checked before anything was written (another account's verified address is a
        // wrong-account refusal); the account keeps what it has.
        Err(ServiceError::Refused(refused)) => Err(AppError::internal(format!(
            "invite acceptance could not queue a confirmation: {refused:?}"
        ))),
        Err(ServiceError::Fatal(err)) => Err(err),
    }
}

/// The membership with the invite's roles and seat: a former member comes back, anyone
/// else joins.
fn join_workspace(
    conn: &mut DbConn,
    actor: &Actor,
    workspace: &Workspace,
    invite: &Invite,
    account_id: i64,
) -> AppResult<i64> {
    let role_ids = Invite::role_ids(conn, invite.id)?;
    let seat = SeatType::from_key(&invite.seat_type).unwrap_or(SeatType::Member);
    let member_id = match Member::find_for_account(conn, workspace.id, account_id)? {
        Some(member) => join::reactivate(conn, actor, workspace, &member, &role_ids, seat),
        None => join::join_in_tx(
            conn,
            actor,
            &join::Joining {
                workspace_id: workspace.id,
                account_id,
                role_ids: &role_ids,
                seat,
                manager_id: None,
                department: None,
            },
        ),
    }?;
    crate::models::join_link::set_joined_via(
        conn,
        member_id,
        crate::models::join_link::VIA_INVITATION,
        None,
    )?;
    Ok(member_id)
}

/// Who joined where through which invite.
struct Joined<'a> {
    workspace: &'a Workspace,
    invite: &'a Invite,
    email: &'a EmailAddress,
    account_id: i64,
    member_id: i64,
}

fn record_accepted(
    conn: &mut DbConn,
    actor: &Actor,
    joined: &Joined<'_>,
    address_verified: bool,
) -> AppResult<()> {
    audit::record(
        conn,
        actor,
        Event::new("invite.accepted")
            .workspace(joined.workspace.id)
            .target("invite", joined.invite.id, &joined.invite.canonical)
            .changes(json!({"after": {
                "status": "accepted",
                "account_id": joined.account_id,
                "member_id": joined.member_id,
                "address_verified": address_verified,
            }})),
    )?;
    Ok(())
}

/// The inviter hears about it, at their primary address, through the outbox.
fn tell_inviter(
    conn: &mut DbConn,
    links: &Links,
    joined: &Joined<'_>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let Some(inviter) = joined.invite.invited_by else {
        return Ok(());
    };
    let Some(address) = EmailAddressRow::primary_for(conn, inviter)? else {
        return Ok(());
    };
    let who = Account::find(conn, joined.account_id)?
        .map(|a| a.name)
        .unwrap_or_default();
    let link = links.member(&joined.workspace.slug, joined.member_id);
    let rendered = messages::accepted(&AcceptedMail {
        workspace: &joined.workspace.name,
        who: &who,
        email: joined.email.as_str(),
        link: &link,
    })?;
    outbox::enqueue(
        conn,
        &NewMail {
            workspace_id: Some(joined.workspace.id),
            invite_id: Some(joined.invite.id),
            ..rendered.mail("invite_accepted", address.canonical)
        },
        now,
    )?;
    Ok(())
}
