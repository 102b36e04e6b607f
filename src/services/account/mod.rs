//! Account self-service, one concern per module: [`profile`] (the name), [`password`]
//! (changing it), [`emails`] (the addresses, their verification links and the primary),
//! [`sessions`] and [`reset`] (the forgotten password); [`link`] is what a mailed link
//! leads to. Here is what they share: the account page's overview, the account's lock,
//! the security notice, and who made a change on the owner's behalf.
//!
//! Every change is one write transaction holding the account's lock, with its audit
//! event and its mail (outbox). A rule that says no refuses (`ServiceError::Refused`) and
//! nothing is written. The handlers verify the current password (`auth::reauth`,
//! throttled) on the hashing pool before calling in here.

mod emails;
mod link;
mod password;
mod profile;
mod reset;
mod sessions;

pub use emails::{
    add_email, ensure_own_address, make_primary, remove_email, verify_email, verify_link, Added,
    EMAIL_ADDED, EMAIL_RESENT, MAX_ADDRESSES, MAX_VERIFICATION_MAILS_PER_HOUR, TOO_MANY_LINKS,
    VERIFY_HOURS,
};
pub(crate) use emails::{add_unverified, delete_address, switch_primary};
pub use link::{Link, LinkProblem};
pub use password::{change_password, PasswordChange};
pub use profile::rename;
pub use reset::{
    request_reset, reset_link, reset_password, MAX_RESETS_PER_ADDRESS, MAX_RESETS_PER_CLIENT,
    RESET_MINUTES, RESET_REQUESTED, RESET_WINDOW_MINUTES,
};
pub use sessions::{
    device_label, end_other_sessions, end_session, sign_out, start_session, EndedSession,
    SessionView, MAX_SESSIONS_PER_ACCOUNT, SESSION_ABSOLUTE_HOURS, SIGNED_OUT,
};

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::mail::messages::{self, AccountNoticeMail};
use crate::models::account::Account;
use crate::models::email_address::EmailAddressRow;
use crate::models::outbox;
use crate::models::workspace::Workspace;
use crate::services::members::join;

/// One workspace the account is an active member of.
#[derive(Clone, Debug)]
pub struct MembershipView {
    pub slug: String,
    pub name: String,
    pub is_owner: bool,
}

/// Everything `/account` shows.
#[derive(Clone, Debug)]
pub struct Overview {
    pub account: Account,
    pub emails: Vec<EmailAddressRow>,
    pub sessions: Vec<SessionView>,
    pub workspaces: Vec<MembershipView>,
}

impl Overview {
    pub fn primary_email(&self) -> &str {
        self.emails
            .iter()
            .find(|e| e.is_primary)
            .map(|e| e.address.as_str())
            .unwrap_or_default()
    }
}

/// The account page's data (`None`: the account is gone); `current` is the hash of the
/// session asking (if known), `idle_minutes` the sessions' idle timeout (to tell when
/// each was last used).
pub fn overview(
    conn: &mut DbConn,
    account_id: i64,
    current: Option<&str>,
    idle_minutes: i64,
) -> AppResult<Option<Overview>> {
    let Some(account) = Account::find(conn, account_id)? else {
        return Ok(None);
    };
    Ok(Some(Overview {
        emails: EmailAddressRow::for_account(conn, account_id)?,
        sessions: sessions::listed(conn, account_id, current, idle_minutes)?,
        workspaces: memberships(conn, account_id)?,
        account,
    }))
}

fn memberships(conn: &mut DbConn, account_id: i64) -> AppResult<Vec<MembershipView>> {
    let mut workspaces = Vec::new();
    for (workspace, member) in Workspace::memberships_for_account(conn, account_id)? {
        workspaces.push(MembershipView {
            slug: workspace.slug,
            name: workspace.name,
            is_owner: join::is_owner(conn, member.id)?,
        });
    }
    Ok(workspaces)
}

/// Locks the account for the rest of the write transaction (`Account::lock_for_update`),
/// so changes to one account's addresses, password and sessions run one after the other
/// (a concurrent "make primary" and "remove" of the same address could otherwise leave
/// no primary). Every account service takes it first; so do the admin's changes to a
/// member's addresses and invite acceptance.
pub(crate) fn lock_account(conn: &mut DbConn, account_id: i64) -> AppResult<Account> {
    Account::lock_for_update(conn, account_id)?.ok_or(AppError::NotFound)
}

fn account_of(conn: &mut DbConn, account_id: i64) -> AppResult<Account> {
    Account::find(conn, account_id)?.ok_or(AppError::NotFound)
}

fn primary_of(conn: &mut DbConn, account_id: i64) -> AppResult<EmailAddressRow> {
    EmailAddressRow::primary_for(conn, account_id)?
        .ok_or_else(|| AppError::internal(format!("account {account_id} has no primary address")))
}

/// Queues a security notice to one address of the account.
pub(crate) fn notice(
    conn: &mut DbConn,
    links: &Links,
    name: &str,
    recipient: &str,
    subject: &'static str,
    what: &str,
    now: NaiveDateTime,
) -> AppResult<()> {
    let link = links.account();
    let rendered = messages::account_notice(&AccountNoticeMail {
        subject,
        name,
        what,
        link: &link,
    })?;
    outbox::enqueue(conn, &rendered.mail("account_notice", recipient), now)?;
    Ok(())
}

/// Who made a change to an account on its owner's behalf (an admin of a workspace), for
/// the mails and the refusals: `None` is the account's owner.
#[derive(Clone, Copy, Debug)]
pub struct ChangedBy<'a> {
    pub name: &'a str,
    pub workspace: &'a str,
}

impl ChangedBy<'_> {
    /// "Ada Admin, an admin of Acme," — the subject of a sentence in a mail.
    fn who(&self) -> String {
        format!("{}, an admin of {},", self.name, self.workspace)
    }

    /// The owner's own wording, or the admin's (given `who`).
    fn sentence(
        by: Option<ChangedBy<'_>>,
        own: String,
        admin: impl FnOnce(&str) -> String,
    ) -> String {
        match by {
            None => own,
            Some(by) => admin(&by.who()),
        }
    }

    /// A refusal said to the owner (`own`) or to the admin acting for them (`admin`).
    fn refusal(by: Option<ChangedBy<'_>>, own: &str, admin: impl FnOnce() -> String) -> String {
        match by {
            None => own.to_string(),
            Some(_) => admin(),
        }
    }
}
