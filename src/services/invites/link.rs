//! What an invite link leads to, read without changing anything (mail scanners open
//! links), and whom the invited address belongs to as seen through that link.

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models;
use crate::models::account::Account;
use crate::models::email_address::EmailAddressRow;
use crate::models::invite::{self, Invite, InviteStatus, LinkKind};
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::roles::{self, Offer, OfferRefused};
use crate::tokens;

use super::role_names;

/// What an invite link leads to.
#[derive(Clone, Debug)]
pub enum LinkState {
    Unknown,
    Expired(Box<InviteView>),
    Revoked(Box<InviteView>),
    Accepted(Box<InviteView>),
    Pending(Box<InviteView>),
    /// Pending, but its inviter can no longer offer it (SPEC §3): it cannot be accepted.
    Withdrawn(Box<InviteView>, OfferRefused),
    /// An earlier link of a pending invite, replaced by a resend or a new copied link.
    Replaced(Box<InviteView>, Replacement),
}

/// What replaced an earlier link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replacement {
    /// A newer invitation was mailed.
    Resent,
    /// A newer link was copied by whoever invited.
    NewLink,
}

#[derive(Clone, Debug)]
pub struct InviteView {
    pub invite: Invite,
    pub workspace_name: String,
    pub workspace_slug: String,
    pub inviter: Option<String>,
    pub roles: Vec<String>,
    /// The account that the invited address belongs to for this link, if any
    /// (`address_claimant`).
    pub account_id: Option<i64>,
    /// Whether this link was the one mailed to the invited address (redeeming it proves it).
    pub proves_address: bool,
}

/// Reads an invite link without changing anything. `token` is what `tokens::parse` let
/// through.
pub fn lookup(conn: &mut DbConn, token: &str) -> AppResult<LinkState> {
    let hash = tokens::hash(token);
    let (invite, kind, replaced) = match Invite::find_by_token_hash(conn, &hash)? {
        Some((invite, kind)) => (invite, kind, None),
        None => match Invite::find_by_replaced_hash(conn, &hash)? {
            // A replaced link redeems nothing; seen through it, it proves nothing either.
            Some((invite, by)) => {
                let by = if by == invite::REPLACED_BY_RESEND {
                    Replacement::Resent
                } else {
                    Replacement::NewLink
                };
                (invite, LinkKind::Shared, Some(by))
            }
            None => return Ok(LinkState::Unknown),
        },
    };
    let (workspace_name, workspace_slug) = invite::workspace_label(conn, invite.workspace_id)?;
    let inviter = match invite.invited_by {
        Some(id) => Account::find(conn, id)?.map(|a| a.name),
        None => None,
    };
    let roles = Role::for_workspace(conn, invite.workspace_id)?;
    let offer = offer_of(conn, &invite)?;
    let role_list = role_names(&roles, &offer.role_ids);
    let account_id = address_claimant(conn, &invite.canonical, kind)?.map(|a| a.id);
    let status = invite.status_at(models::now());
    let refused = if status == InviteStatus::Pending {
        roles::offer_withdrawn(conn, invite.workspace_id, Permission::MembersInvite, offer)?
    } else {
        None
    };
    let view = Box::new(InviteView {
        invite,
        workspace_name,
        workspace_slug,
        inviter,
        roles: role_list,
        account_id,
        proves_address: kind == LinkKind::Mailed,
    });
    Ok(match (status, replaced) {
        (InviteStatus::Pending, Some(by)) => LinkState::Replaced(view, by),
        (InviteStatus::Pending, None) => match refused {
            Some(why) => LinkState::Withdrawn(view, why),
            None => LinkState::Pending(view),
        },
        (InviteStatus::Expired, _) => LinkState::Expired(view),
        (InviteStatus::Revoked, _) => LinkState::Revoked(view),
        (InviteStatus::Accepted, _) => LinkState::Accepted(view),
    })
}

/// Whether the account holds the invited address at all, verified or not (a signed-in
/// account that added it unconfirmed may still accept: it is theirs).
pub fn owns_address(conn: &mut DbConn, account_id: i64, canonical: &str) -> AppResult<bool> {
    Ok(EmailAddressRow::for_account(conn, account_id)?
        .iter()
        .any(|e| e.canonical == canonical))
}

/// The account an invite for `canonical` belongs to, as seen through one of its links: the
/// account holding the address verified; or, through a link that proves nothing, also an
/// account whose login is that address still unconfirmed (it joined through such a link
/// before — it signs in, and no second account is made for the address). A proving link is
/// never blocked by an unconfirmed claim: whoever opens the mail owns the address.
pub(super) fn address_claimant(
    conn: &mut DbConn,
    canonical: &str,
    kind: LinkKind,
) -> AppResult<Option<Account>> {
    if let Some(owner) = Account::find_by_verified_email(conn, canonical)? {
        return Ok(Some(owner));
    }
    Ok(match kind {
        LinkKind::Mailed => None,
        LinkKind::Shared => Account::find_by_login(conn, canonical)?,
    })
}

/// The offer an invite makes, as its inviter made it.
pub(super) fn offer_of(conn: &mut DbConn, invite: &Invite) -> AppResult<Offer> {
    Ok(Offer {
        author_account_id: invite.invited_by,
        role_ids: Invite::role_ids(conn, invite.id)?,
    })
}
