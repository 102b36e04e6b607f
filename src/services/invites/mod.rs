//! Invitations, one file per thing done with them:
//!
//! - [`review`]: each typed address's verdict (new, invalid, listed twice, a likely typo,
//!   already a member, already invited) and how many can go now (seats, daily limit) —
//!   what the inviter sees before anything is sent;
//! - [`create`]: one invite per address, all or none, in the workspace's member lock
//!   (the inviter's grants, seats and the daily limit decided inside it);
//! - [`resend`] (and its copy-a-new-link twin) and [`revoke`] (with its confirmation), the
//!   buttons of the list; [`list`], the list itself and which buttons each row offers;
//! - [`link`]: what an invite link leads to (read-only: mail scanners open links) and whom
//!   the invited address belongs to through it;
//! - [`accept`]: redeeming a link, with the inviter's rights checked again inside the
//!   redeeming transaction.
//!
//! Every invite has two links (`InviteTokens`): only the one mailed to the invited address
//! proves it; the other is shown once to the inviter (and mailed to a notification address).

mod accept;
mod create;
mod link;
mod list;
mod resend;
mod review;
mod revoke;

pub use accept::{accept, Accepted, Acceptor};
pub use create::{create, CreateOutcome, InviteRequest};
pub use link::{lookup, owns_address, InviteView, LinkState, Replacement};
pub use list::{screen, InvitesScreen, ListLine, RowActions};
pub use resend::{copy_link, resend, CopiedLink};
pub use review::{preview, DailyLimit, Review, ReviewLine, Verdict};
pub use revoke::{revoke, revoke_pending_sent_by, revoke_preview, RevokePreview};

use chrono::NaiveDateTime;

use crate::error::{AppError, AppResult, ServiceResult};
use crate::mail::messages::{self, InvitationMail};
use crate::models::outbox::NewMail;
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::tokens;

/// A created (or resent) invite with its one-time shared link (shown once to the inviter,
/// never stored). That link redeems the invite but does not prove the address: only the
/// other link, mailed to the invited address, does.
#[derive(Clone, Debug)]
pub struct CreatedInvite {
    pub id: i64,
    pub email: String,
    pub link: String,
}

/// An invite's two fresh tokens: `mailed` goes only to the invited address (it proves it),
/// `shared` is shown to the inviter and mailed to a `notification_email`.
struct InviteTokens {
    mailed: String,
    shared: String,
}

impl InviteTokens {
    fn generate() -> Self {
        InviteTokens {
            mailed: tokens::generate(),
            shared: tokens::generate(),
        }
    }

    fn mailed_hash(&self) -> String {
        tokens::hash(&self.mailed)
    }

    fn shared_hash(&self) -> String {
        tokens::hash(&self.shared)
    }

    /// The token the invitation mail carries: the proving one when it goes to the invited
    /// address, the shared one when it goes to someone else's mailbox.
    fn for_mail(&self, notification_email: bool) -> &str {
        if notification_email {
            &self.shared
        } else {
            &self.mailed
        }
    }
}

/// Checked again inside the member lock, with the actor's rights as they are now.
fn ensure_may_invite(access: &Access) -> ServiceResult<()> {
    if access.perms.allows(Permission::MembersInvite) {
        Ok(())
    } else {
        Err(AppError::forbidden(Permission::MembersInvite).into())
    }
}

/// The names of these roles, in the order of `ids`.
fn role_names(roles: &[Role], ids: &[i64]) -> Vec<String> {
    ids.iter()
        .filter_map(|id| roles.iter().find(|r| r.id == *id).map(|r| r.name.clone()))
        .collect()
}

/// Renders one invitation mail for the outbox (written in the invite's transaction).
fn invitation_mail(
    workspace_id: i64,
    invite_id: i64,
    recipient: &str,
    mail: &InvitationMail<'_>,
) -> AppResult<NewMail> {
    let rendered = messages::invitation(mail)?;
    Ok(NewMail {
        workspace_id: Some(workspace_id),
        invite_id: Some(invite_id),
        ..rendered.mail("invitation", recipient)
    })
}

fn expiry_date(at: NaiveDateTime) -> String {
    at.format("%-d %B %Y").to_string()
}
