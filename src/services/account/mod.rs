//! Account self-service: name, password, email addresses, sessions, and the forgotten
//! password. Every change is one write transaction with its audit event and its mail
//! (outbox); the handlers verify the current password (`auth::reauth`, throttled) on the
//! hashing pool before calling in here.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::{is_postgres, write_transaction, DbConn};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::mail::messages::{self, AccountNoticeMail, PasswordResetMail, VerifyEmailMail};
use crate::models;
use crate::models::account::Account;
use crate::models::account_token::{AccountToken, NewAccountToken, Purpose, TokenState};
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::{EmailAddressRow, NewEmailAddress};
use crate::models::outbox::{self, NewMail};
use crate::models::session::{self, SessionRow};
use crate::models::workspace::Workspace;
use crate::services::members::join;
use crate::tokens;

/// Absolute lifetime of a session, whatever its activity (SPEC §4.7).
pub const SESSION_ABSOLUTE_HOURS: i64 = 12;
/// Live sessions one account may hold (SPEC §4.10): a new sign-in beyond it ends the
/// longest-idle ones, in the transaction that creates the new session.
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 10;
/// A verification link works for a day.
pub const VERIFY_HOURS: i64 = 24;
/// A reset link works for 45 minutes.
pub const RESET_MINUTES: i64 = 45;
/// Addresses one account may hold (bounds what one account can make us mail).
pub const MAX_ADDRESSES: usize = 10;
/// Reset requests per address, and per client, in the window; past it nothing is sent
/// (and the page reads the same).
pub const MAX_RESETS_PER_ADDRESS: i64 = 3;
pub const MAX_RESETS_PER_CLIENT: i64 = 20;
pub const RESET_WINDOW_MINUTES: i64 = 60;
pub const RESET_REQUESTED: &str = "password.reset_requested";
/// Verification mails one account may cause in an hour (adding and re-sending).
pub const MAX_VERIFICATION_MAILS_PER_HOUR: i64 = 10;
pub const EMAIL_ADDED: &str = "account.email_added";
pub const EMAIL_RESENT: &str = "account.email_verification_resent";

/// One session as its owner sees it.
#[derive(Clone, Debug)]
pub struct SessionView {
    /// Opaque: derived from the stored hash, never the cookie's key.
    pub public_id: String,
    pub device: String,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
    /// Within a minute: the idle expiry slides forward at most once a minute.
    pub last_active: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub current: bool,
}

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

/// A readable device from a user agent: browser and system, or what was sent.
pub fn device_label(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    if ua.is_empty() {
        return "Unknown device".into();
    }
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) => ua.chars().take(60).collect(),
    }
}

fn live_sessions(
    conn: &mut DbConn,
    account_id: i64,
    limit: Option<i64>,
) -> AppResult<Vec<SessionRow>> {
    let now = models::now();
    Ok(session::live_for_account(
        conn,
        account_id,
        now,
        now - TimeDelta::hours(SESSION_ABSOLUTE_HOURS),
        limit,
    )?)
}

/// The sessions `/account` lists: the one asking first, then the newest, at most
/// `MAX_SESSIONS_PER_ACCOUNT` (sign-in keeps no more alive; the bound holds the page
/// short even for sessions made before the cap).
fn listed_sessions(
    conn: &mut DbConn,
    account_id: i64,
    current: Option<&str>,
) -> AppResult<Vec<SessionRow>> {
    let cap = MAX_SESSIONS_PER_ACCOUNT;
    let mut rows = live_sessions(
        conn,
        account_id,
        Some(i64::try_from(cap).unwrap_or(i64::MAX)),
    )?;
    let Some(current) = current else {
        return Ok(rows);
    };
    match rows
        .iter()
        .position(|row| tokens::constant_time_eq(current, &row.id_hash))
    {
        Some(i) => {
            let row = rows.remove(i);
            rows.insert(0, row);
        }
        None => {
            let now = models::now();
            let oldest = now - TimeDelta::hours(SESSION_ABSOLUTE_HOURS);
            if let Some(row) = session::find_live(conn, current, now, oldest)?
                .filter(|row| row.account_id == Some(account_id))
            {
                rows.insert(0, row);
                rows.truncate(cap);
            }
        }
    }
    Ok(rows)
}

/// The account page's data; `current` is the hash of the session asking (if known),
/// `idle_minutes` the sessions' idle timeout (to tell when each was last used).
pub fn overview(
    conn: &mut DbConn,
    account_id: i64,
    current: Option<&str>,
    idle_minutes: i64,
) -> AppResult<Option<Overview>> {
    let Some(account) = Account::find(conn, account_id)? else {
        return Ok(None);
    };
    let emails = EmailAddressRow::for_account(conn, account_id)?;
    let sessions = listed_sessions(conn, account_id, current)?
        .into_iter()
        .map(|row| SessionView {
            public_id: session::public_id(&row.id_hash),
            device: device_label(row.user_agent.as_deref()),
            ip: row.ip.filter(|ip| !ip.is_empty()),
            created_at: row.created_at,
            last_active: (row.expires_at - TimeDelta::minutes(idle_minutes)).max(row.created_at),
            expires_at: row.expires_at,
            current: current.is_some_and(|c| tokens::constant_time_eq(c, &row.id_hash)),
        })
        .collect();
    let mut workspaces = Vec::new();
    for (workspace, member) in Workspace::memberships_for_account(conn, account_id)? {
        workspaces.push(MembershipView {
            slug: workspace.slug,
            name: workspace.name,
            is_owner: join::is_owner(conn, member.id)?,
        });
    }
    Ok(Some(Overview {
        account,
        emails,
        sessions,
        workspaces,
    }))
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
    outbox::enqueue(
        conn,
        &NewMail {
            workspace_id: None,
            invite_id: None,
            kind: "account_notice",
            recipient: recipient.to_string(),
            subject: rendered.subject,
            text_body: rendered.text,
            html_body: rendered.html,
        },
        now,
    )?;
    Ok(())
}

/// Serialises changes to one account's addresses and password: on PostgreSQL a row lock
/// on the account (a concurrent "make primary" and "remove" of the same address could
/// otherwise leave no primary); on SQLite the write transaction already holds the lock.
pub(crate) fn lock_account(conn: &mut DbConn, account_id: i64) -> AppResult<Account> {
    if is_postgres(conn) {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::BigInt, _>(account_id)
            .execute(conn)?;
    }
    account_of(conn, account_id)
}

fn primary_of(conn: &mut DbConn, account_id: i64) -> AppResult<EmailAddressRow> {
    EmailAddressRow::primary_for(conn, account_id)?
        .ok_or_else(|| AppError::internal(format!("account {account_id} has no primary address")))
}

fn account_of(conn: &mut DbConn, account_id: i64) -> AppResult<Account> {
    Account::find(conn, account_id)?.ok_or(AppError::NotFound)
}

/// Changes the account's name, and the copies kept for search and sorting.
pub fn rename(conn: &mut DbConn, actor: &Actor, account_id: i64, name: &str) -> AppResult<()> {
    write_transaction(conn, |conn| {
        use crate::db::schema::{accounts, members};
        use diesel::prelude::*;
        let account = lock_account(conn, account_id)?;
        if account.name == name {
            return Ok(());
        }
        let now = models::now();
        diesel::update(accounts::table.find(account_id))
            .set((accounts::name.eq(name), accounts::updated_at.eq(now)))
            .execute(conn)?;
        Account::refresh_search_text(conn, account_id)?;
        diesel::update(members::table.filter(members::account_id.eq(account_id)))
            .set(members::sort_name.eq(name.to_lowercase()))
            .execute(conn)?;
        let label = primary_of(conn, account_id)?.canonical;
        audit::record(
            conn,
            actor,
            Event::new("account.renamed")
                .target("account", account_id, &label)
                .changes(json!({"before": {"name": account.name}, "after": {"name": name}})),
        )?;
        Ok(())
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordChange {
    Changed {
        sessions_ended: usize,
    },
    /// The password changed between the check and the write (another tab): nothing done.
    ChangedMeanwhile,
}

/// Sets a new password (already hashed) if the stored hash is still the one the current
/// password was verified against; ends every other session of the account.
pub fn change_password(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    verified_hash: &str,
    new_hash: &str,
    keep_session: &str,
) -> AppResult<PasswordChange> {
    write_transaction(conn, |conn| {
        use crate::db::schema::accounts;
        use diesel::prelude::*;
        let now = models::now();
        lock_account(conn, account_id)?;
        let n = diesel::update(
            accounts::table
                .find(account_id)
                .filter(accounts::password_hash.eq(verified_hash)),
        )
        .set((
            accounts::password_hash.eq(new_hash),
            accounts::updated_at.eq(now),
        ))
        .execute(conn)?;
        if n != 1 {
            return Ok(PasswordChange::ChangedMeanwhile);
        }
        let sessions_ended = session::delete_for_account_except(conn, account_id, keep_session)?;
        AccountToken::retire_all(conn, account_id, Purpose::ResetPassword, now)?;
        let account = account_of(conn, account_id)?;
        let primary = primary_of(conn, account_id)?;
        notice(
            conn,
            links,
            &account.name,
            &primary.canonical,
            "Your Gatehouse password was changed",
            "The password of your Gatehouse account was changed, and every other session was signed out.",
            now,
        )?;
        audit::record(
            conn,
            actor,
            Event::new("account.password_changed")
                .target("account", account_id, &primary.canonical)
                .changes(json!({"sessions_ended": sessions_ended})),
        )?;
        Ok(PasswordChange::Changed { sessions_ended })
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddEmailError {
    AlreadyVerified,
    TakenElsewhere,
    TooMany,
    TooManyLinks,
}

impl AddEmailError {
    pub fn message(&self) -> String {
        match self {
            AddEmailError::AlreadyVerified => "That address is already on your account.".into(),
            AddEmailError::TakenElsewhere => {
                "That address belongs to another account and cannot be added.".into()
            }
            AddEmailError::TooMany => {
                format!("An account can have at most {MAX_ADDRESSES} addresses. Remove one first.")
            }
            AddEmailError::TooManyLinks => {
                "Too many confirmation links were sent in the last hour. Try again later.".into()
            }
        }
    }
}

/// What happened to an added address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    /// New, unverified; a link was mailed.
    New,
    /// Already on the account unverified: a fresh link was mailed (the old one stops working).
    Resent,
}

/// Who made a change to an account on its owner's behalf (an admin of a workspace), for
/// the mails: `None` is the account's owner.
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
}

/// Adds an unverified address (or re-sends its link) and mails it a verification link;
/// the primary address is told. The current password was checked by the caller.
pub fn add_email(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    email: &EmailAddress,
) -> AppResult<Result<Added, AddEmailError>> {
    write_transaction(conn, |conn| {
        let now = models::now();
        lock_account(conn, account_id)?;
        let since = now - TimeDelta::hours(1);
        if audit::count_for_target(
            conn,
            &[EMAIL_ADDED, EMAIL_RESENT],
            "account",
            account_id,
            since,
        )? >= MAX_VERIFICATION_MAILS_PER_HOUR
        {
            return Ok(Err(AddEmailError::TooManyLinks));
        }
        let outcome = match add_unverified(conn, links, account_id, email, None, now)? {
            Ok(outcome) => outcome,
            Err(refused) => return Ok(Err(refused)),
        };
        let primary = primary_of(conn, account_id)?;
        audit::record(
            conn,
            actor,
            Event::new(if outcome == Added::New {
                EMAIL_ADDED
            } else {
                EMAIL_RESENT
            })
            .target("account", account_id, &primary.canonical)
            .changes(json!({"after": {"email": email.canonical(), "verified": false}})),
        )?;
        Ok(Ok(outcome))
    })
}

/// Puts `email` on the account unverified (or finds it there unverified, and retires its
/// earlier links) and mails it a fresh verification link; a new address is told to the
/// primary. For self-service and for admins (`by`): the caller holds the account's lock
/// (`lock_account`) in its write transaction, checked its own limits and records its audit.
pub(crate) fn add_unverified(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email: &EmailAddress,
    by: Option<ChangedBy<'_>>,
    now: NaiveDateTime,
) -> AppResult<Result<Added, AddEmailError>> {
    let account = account_of(conn, account_id)?;
    let existing = EmailAddressRow::for_account(conn, account_id)?;
    let mine = existing.iter().find(|e| e.canonical == email.canonical());
    if mine.is_some_and(|e| e.verified) {
        return Ok(Err(AddEmailError::AlreadyVerified));
    }
    if EmailAddressRow::verified_elsewhere(conn, email.canonical(), account_id)? {
        return Ok(Err(AddEmailError::TakenElsewhere));
    }
    let (address_id, outcome) = match mine {
        Some(row) => {
            AccountToken::retire_for_address(conn, row.id, now)?;
            (row.id, Added::Resent)
        }
        None => {
            if existing.len() >= MAX_ADDRESSES {
                return Ok(Err(AddEmailError::TooMany));
            }
            let id = NewEmailAddress {
                account_id,
                address: email.as_str(),
                canonical: email.canonical(),
                verified: false,
                is_primary: false,
                created_at: now,
                verified_at: None,
            }
            .insert(conn)?;
            Account::refresh_search_text(conn, account_id)?;
            (id, Added::New)
        }
    };
    let token = tokens::generate();
    let expires_at = now + TimeDelta::hours(VERIFY_HOURS);
    NewAccountToken {
        purpose: Purpose::VerifyEmail.key(),
        account_id,
        email_address_id: Some(address_id),
        token_hash: &tokens::hash(&token),
        expires_at,
        created_at: now,
    }
    .insert(conn)?;
    let link = links.verify_email(&token);
    let added_by =
        by.map(|by| format!("{} added this address to your Gatehouse account.", by.who()));
    let rendered = messages::verify_email(&VerifyEmailMail {
        name: &account.name,
        address: email.as_str(),
        link: &link,
        expires: expires_at.format("%-d %B %Y, %H:%M").to_string(),
        added_by: added_by.as_deref(),
    })?;
    outbox::enqueue(
        conn,
        &NewMail {
            workspace_id: None,
            invite_id: None,
            kind: "verify_email",
            recipient: email.canonical().to_string(),
            subject: rendered.subject,
            text_body: rendered.text,
            html_body: rendered.html,
        },
        now,
    )?;
    if outcome == Added::New {
        let primary = primary_of(conn, account_id)?;
        let what = ChangedBy::sentence(
            by,
            format!(
                "The address {} was added to your Gatehouse account. It can be used once it is confirmed.",
                email.as_str()
            ),
            |who| format!(
                "{who} added the address {} to your Gatehouse account. It can be used once it is confirmed through the link mailed to it.",
                email.as_str()
            ),
        );
        notice(
            conn,
            links,
            &account.name,
            &primary.canonical,
            "An email address was added to your Gatehouse account",
            &what,
            now,
        )?;
    }
    Ok(Ok(outcome))
}

/// What a verification link leads to, read without changing anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkProblem {
    /// Unknown, or the address it was for is gone.
    Unknown,
    Used,
    Expired,
    /// The link belongs to another account than the one signed in.
    WrongAccount,
    /// Another account verified this address first.
    TakenElsewhere,
}

impl LinkProblem {
    pub fn message(&self) -> &'static str {
        match self {
            LinkProblem::Unknown => "This link is not valid. Check that you copied all of it, or ask for a new one.",
            LinkProblem::Used => "This link has already been used. Each link works once.",
            LinkProblem::Expired => "This link has expired. Ask for a new one.",
            LinkProblem::WrongAccount => "This link belongs to a different account. Sign in with the account that asked for it.",
            LinkProblem::TakenElsewhere => "Another account has confirmed this address first, so it cannot be confirmed for yours. Remove it from your account, or contact your administrator.",
        }
    }
}

/// A usable verification link and the address it confirms.
struct VerifyTarget {
    token: AccountToken,
    address: EmailAddressRow,
}

fn verify_target(
    conn: &mut DbConn,
    token: &str,
    account_id: i64,
    now: NaiveDateTime,
) -> AppResult<Result<VerifyTarget, LinkProblem>> {
    let hash = tokens::hash(token);
    let Some(row) = AccountToken::find(conn, Purpose::VerifyEmail, &hash)? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    if !tokens::constant_time_eq(&row.token_hash, &hash) {
        return Ok(Err(LinkProblem::Unknown));
    }
    if row.account_id != account_id {
        return Ok(Err(LinkProblem::WrongAccount));
    }
    match row.state_at(now) {
        TokenState::Used => return Ok(Err(LinkProblem::Used)),
        TokenState::Expired => return Ok(Err(LinkProblem::Expired)),
        TokenState::Usable => {}
    }
    // Bound to one address of this account: the one it was mailed to.
    let Some(address) = row
        .email_address_id
        .map(|id| EmailAddressRow::find_for_account(conn, account_id, id))
        .transpose()?
        .flatten()
    else {
        return Ok(Err(LinkProblem::Unknown));
    };
    if address.verified {
        return Ok(Err(LinkProblem::Used));
    }
    if EmailAddressRow::verified_elsewhere(conn, &address.canonical, account_id)? {
        return Ok(Err(LinkProblem::TakenElsewhere));
    }
    Ok(Ok(VerifyTarget {
        token: row,
        address,
    }))
}

/// The address a verification link would confirm (the GET page; changes nothing).
pub fn verify_preview(
    conn: &mut DbConn,
    token: &str,
    account_id: i64,
) -> AppResult<Result<String, LinkProblem>> {
    Ok(verify_target(conn, token, account_id, models::now())?.map(|t| t.address.address))
}

/// Confirms the address the link was mailed to: single use, this account only.
pub fn verify_email(
    conn: &mut DbConn,
    actor: &Actor,
    token: &str,
    account_id: i64,
) -> AppResult<Result<String, LinkProblem>> {
    write_transaction(conn, |conn| {
        let now = models::now();
        lock_account(conn, account_id)?;
        let target = match verify_target(conn, token, account_id, now)? {
            Ok(target) => target,
            Err(problem) => return Ok(Err(problem)),
        };
        if !target.token.consume(conn, now)? {
            return Ok(Err(LinkProblem::Used));
        }
        // Checked above; a concurrent verification elsewhere can still win the unique
        // index on PostgreSQL, so the update runs in a savepoint and a conflict is answered.
        let marked = {
            use diesel::Connection;
            let id = target.address.id;
            conn.transaction(|c| EmailAddressRow::mark_verified(c, account_id, id, now))
        };
        match marked {
            Ok(true) => {}
            Ok(false) => return Ok(Err(LinkProblem::Used)),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => return Ok(Err(LinkProblem::TakenElsewhere)),
            Err(e) => return Err(e.into()),
        }
        audit::record(
            conn,
            actor,
            Event::new("account.email_verified")
                .target("account", account_id, &target.address.canonical)
                .changes(json!({"after": {"email": target.address.canonical, "verified": true}})),
        )?;
        Ok(Ok(target.address.address))
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrimaryError {
    NotVerified,
}

/// Makes a verified address the login; the old primary is told. The current password was
/// checked by the caller. Another account's address is a 404.
pub fn make_primary(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    email_id: i64,
) -> AppResult<Result<String, PrimaryError>> {
    write_transaction(conn, |conn| {
        lock_account(conn, account_id)?;
        let (target, old) = match switch_primary(conn, links, account_id, email_id, None)? {
            Ok(switched) => switched,
            Err(refused) => return Ok(Err(refused)),
        };
        if let Some(old) = old {
            audit::record(
                conn,
                actor,
                Event::new("account.primary_email_changed")
                    .target("account", account_id, &target.canonical)
                    .changes(json!({"before": {"primary": old.canonical}, "after": {"primary": target.canonical}})),
            )?;
        }
        Ok(Ok(target.address))
    })
}

/// Moves the primary flag to a verified address of the account and tells the old primary
/// (naming `by`, an admin, when it was not the owner). Returns the new primary and the old
/// one (`None`: it already was the primary, nothing changed). Another account's address is a 404. The caller holds `lock_account` in its
/// write transaction and records its audit event.
pub(crate) fn switch_primary(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email_id: i64,
    by: Option<ChangedBy<'_>>,
) -> AppResult<Result<(EmailAddressRow, Option<EmailAddressRow>), PrimaryError>> {
    let now = models::now();
    let target =
        EmailAddressRow::find_for_account(conn, account_id, email_id)?.ok_or(AppError::NotFound)?;
    if !target.verified {
        return Ok(Err(PrimaryError::NotVerified));
    }
    let old = primary_of(conn, account_id)?;
    if old.id == target.id {
        return Ok(Ok((target, None)));
    }
    if !EmailAddressRow::set_primary(conn, account_id, target.id)? {
        return Ok(Err(PrimaryError::NotVerified));
    }
    let account = account_of(conn, account_id)?;
    let what = ChangedBy::sentence(
        by,
        format!(
            "Your Gatehouse account now signs in with {} instead of {}.",
            target.address, old.address
        ),
        |who| {
            format!(
                "{who} changed the sign-in address of your Gatehouse account: it now signs in with {} instead of {}.",
                target.address, old.address
            )
        },
    );
    notice(
        conn,
        links,
        &account.name,
        &old.canonical,
        "Your Gatehouse sign-in address changed",
        &what,
        now,
    )?;
    Ok(Ok((target, Some(old))))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemoveError {
    Last,
    Primary,
}

impl RemoveError {
    pub fn message(&self) -> &'static str {
        match self {
            RemoveError::Last => "This is the only address of your account, so it cannot be removed.",
            RemoveError::Primary => "This is your primary address. Make another verified address primary first, then remove this one.",
        }
    }
}

/// Removes an address (never the last, never the primary); the primary is told.
pub fn remove_email(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    email_id: i64,
) -> AppResult<Result<String, RemoveError>> {
    write_transaction(conn, |conn| {
        lock_account(conn, account_id)?;
        let (target, primary) = match delete_address(conn, links, account_id, email_id, None)? {
            Ok(removed) => removed,
            Err(refused) => return Ok(Err(refused)),
        };
        audit::record(
            conn,
            actor,
            Event::new("account.email_removed")
                .target("account", account_id, &primary.canonical)
                .changes(
                    json!({"before": {"email": target.canonical, "verified": target.verified}}),
                ),
        )?;
        Ok(Ok(target.address))
    })
}

/// Deletes an address of the account (never the last, never the primary; its links go
/// with it) and tells the primary, naming `by` when an admin did it. Returns the removed
/// address and the primary. Another account's address is a 404. The caller holds
/// `lock_account` in its write transaction and records its audit event.
pub(crate) fn delete_address(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email_id: i64,
    by: Option<ChangedBy<'_>>,
) -> AppResult<Result<(EmailAddressRow, EmailAddressRow), RemoveError>> {
    let now = models::now();
    let target =
        EmailAddressRow::find_for_account(conn, account_id, email_id)?.ok_or(AppError::NotFound)?;
    let all = EmailAddressRow::for_account(conn, account_id)?;
    if all.len() <= 1 {
        return Ok(Err(RemoveError::Last));
    }
    if target.is_primary {
        return Ok(Err(RemoveError::Primary));
    }
    EmailAddressRow::delete_for_account(conn, account_id, target.id)?;
    Account::refresh_search_text(conn, account_id)?;
    let account = account_of(conn, account_id)?;
    let primary = primary_of(conn, account_id)?;
    let what = ChangedBy::sentence(
        by,
        format!(
            "The address {} was removed from your Gatehouse account.",
            target.address
        ),
        |who| {
            format!(
                "{who} removed the address {} from your Gatehouse account.",
                target.address
            )
        },
    );
    notice(
        conn,
        links,
        &account.name,
        &primary.canonical,
        "An email address was removed from your Gatehouse account",
        &what,
        now,
    )?;
    Ok(Ok((target, primary)))
}

/// Ends one of the account's sessions by its opaque id; false when there is none.
pub fn end_session(
    conn: &mut DbConn,
    actor: &Actor,
    account_id: i64,
    public_id: &str,
) -> AppResult<bool> {
    write_transaction(conn, |conn| {
        let Some(row) = live_sessions(conn, account_id, None)?
            .into_iter()
            .find(|row| tokens::constant_time_eq(&session::public_id(&row.id_hash), public_id))
        else {
            return Ok(false);
        };
        let ended = session::delete_for_account_by_hash(conn, account_id, &row.id_hash)?;
        if ended {
            let label = primary_of(conn, account_id)?.canonical;
            audit::record(
                conn,
                actor,
                Event::new("account.session_ended")
                    .target("account", account_id, &label)
                    .changes(json!({"sessions_ended": 1, "device": device_label(row.user_agent.as_deref())})),
            )?;
        }
        Ok(ended)
    })
}

/// Ends every session of the account but the one asking.
pub fn end_other_sessions(
    conn: &mut DbConn,
    actor: &Actor,
    account_id: i64,
    keep_session: &str,
) -> AppResult<usize> {
    write_transaction(conn, |conn| {
        let ended = session::delete_for_account_except(conn, account_id, keep_session)?;
        let label = primary_of(conn, account_id)?.canonical;
        audit::record(
            conn,
            actor,
            Event::new("account.sessions_ended")
                .target("account", account_id, &label)
                .changes(json!({"sessions_ended": ended})),
        )?;
        Ok(ended)
    })
}

/// "Forgot password": for a verified address of an account, mails a reset link. The
/// caller answers the same whatever happens here, so nobody learns who has an account.
/// Throttled per address and per client (like sign-in); every request is recorded.
pub fn request_reset(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    typed: &str,
) -> AppResult<()> {
    let canonical = EmailAddress::parse(typed)
        .ok()
        .map(|e| e.canonical().to_string());
    let label: String = canonical
        .clone()
        .unwrap_or_else(|| typed.trim().to_lowercase())
        .chars()
        .take(254)
        .collect();
    write_transaction(conn, |conn| {
        use crate::db::schema::email_addresses;
        use diesel::prelude::*;
        let now = models::now();
        let since = now - TimeDelta::minutes(RESET_WINDOW_MINUTES);
        let mut throttled =
            audit::count_for_label(conn, RESET_REQUESTED, &label, since)? >= MAX_RESETS_PER_ADDRESS;
        if let Some(ip) = actor.ip.as_deref() {
            throttled |=
                audit::count_for_ip(conn, RESET_REQUESTED, ip, since)? >= MAX_RESETS_PER_CLIENT;
        }
        audit::record(
            conn,
            &Actor {
                account_id: None,
                ip: actor.ip.clone(),
            },
            Event::new(RESET_REQUESTED)
                .label(&label)
                .changes(json!({"throttled": throttled})),
        )?;
        let Some(canonical) = canonical.filter(|_| !throttled) else {
            return Ok(());
        };
        let address: Option<EmailAddressRow> = email_addresses::table
            .filter(email_addresses::canonical.eq(&canonical))
            .filter(email_addresses::verified.eq(true))
            .select(EmailAddressRow::as_select())
            .first(conn)
            .optional()?;
        let Some(address) = address else {
            return Ok(());
        };
        let account = account_of(conn, address.account_id)?;
        // One live reset link at a time: the newest.
        AccountToken::retire_all(conn, account.id, Purpose::ResetPassword, now)?;
        let token = tokens::generate();
        NewAccountToken {
            purpose: Purpose::ResetPassword.key(),
            account_id: account.id,
            email_address_id: Some(address.id),
            token_hash: &tokens::hash(&token),
            expires_at: now + TimeDelta::minutes(RESET_MINUTES),
            created_at: now,
        }
        .insert(conn)?;
        let link = links.reset_password(&token);
        let rendered = messages::password_reset(&PasswordResetMail {
            name: &account.name,
            link: &link,
            minutes: RESET_MINUTES,
        })?;
        outbox::enqueue(
            conn,
            &NewMail {
                workspace_id: None,
                invite_id: None,
                kind: "password_reset",
                recipient: address.canonical.clone(),
                subject: rendered.subject,
                text_body: rendered.text,
                html_body: rendered.html,
            },
            now,
        )?;
        Ok(())
    })
}

fn reset_target(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> AppResult<Result<AccountToken, LinkProblem>> {
    let hash = tokens::hash(token);
    let Some(row) = AccountToken::find(conn, Purpose::ResetPassword, &hash)? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    if !tokens::constant_time_eq(&row.token_hash, &hash) {
        return Ok(Err(LinkProblem::Unknown));
    }
    Ok(match row.state_at(now) {
        TokenState::Usable => Ok(row),
        TokenState::Used => Err(LinkProblem::Used),
        TokenState::Expired => Err(LinkProblem::Expired),
    })
}

/// Whether a reset link can be used (the GET page; changes nothing).
pub fn reset_preview(conn: &mut DbConn, token: &str) -> AppResult<Result<(), LinkProblem>> {
    Ok(reset_target(conn, token, models::now())?.map(|_| ()))
}

/// Sets the new password (already hashed) through a reset link: single use; every
/// session of the account ends.
pub fn reset_password(
    conn: &mut DbConn,
    actor: &Actor,
    token: &str,
    new_hash: &str,
) -> AppResult<Result<(), LinkProblem>> {
    write_transaction(conn, |conn| {
        use crate::db::schema::accounts;
        use diesel::prelude::*;
        let now = models::now();
        let row = match reset_target(conn, token, now)? {
            Ok(row) => row,
            Err(problem) => return Ok(Err(problem)),
        };
        if !row.consume(conn, now)? {
            return Ok(Err(LinkProblem::Used));
        }
        diesel::update(accounts::table.find(row.account_id))
            .set((
                accounts::password_hash.eq(new_hash),
                accounts::updated_at.eq(now),
            ))
            .execute(conn)?;
        let sessions_ended = session::delete_for_account(conn, row.account_id)?;
        AccountToken::retire_all(conn, row.account_id, Purpose::ResetPassword, now)?;
        let label = primary_of(conn, row.account_id)?.canonical;
        audit::record(
            conn,
            &Actor {
                account_id: Some(row.account_id),
                ip: actor.ip.clone(),
            },
            Event::new("account.password_reset")
                .target("account", row.account_id, &label)
                .changes(json!({"sessions_ended": sessions_ended})),
        )?;
        Ok(Ok(()))
    })
}

#[cfg(test)]
mod tests {
    use super::device_label;

    #[test]
    fn devices_read_as_browser_on_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(device_label(Some(chrome)), "Chrome on Linux");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(Some(iphone)), "Safari on iPhone");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(device_label(Some(edge)), "Edge on Windows");
        assert_eq!(device_label(None), "Unknown device");
        assert_eq!(device_label(Some("")), "Unknown device");
        assert_eq!(device_label(Some("MyTool/1.0")), "MyTool/1.0");
    }
}
