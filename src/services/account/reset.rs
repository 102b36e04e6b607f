//! The forgotten password: a reset link mailed to a verified address, and setting a new
//! password through it (which ends every session of the account).

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::domain::PlainText;
use crate::email::EmailAddress;
use crate::error::{AppResult, ServiceResult};
use crate::links::Links;
use crate::mail::messages::{self, PasswordResetMail};
use crate::models;
use crate::models::account::Account;
use crate::models::account_token::{AccountToken, NewAccountToken, Purpose};
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::EmailAddressRow;
use crate::models::outbox;
use crate::models::session;
use crate::tokens;

use super::link::{find_token, state_problem, Link, LinkProblem};
use super::{account_of, primary_of};

/// A reset link works for 45 minutes.
pub const RESET_MINUTES: i64 = 45;
/// Reset requests per address, and per client, in the window; past it nothing is sent
/// (and the page reads the same).
pub const MAX_RESETS_PER_ADDRESS: i64 = 3;
pub const MAX_RESETS_PER_CLIENT: i64 = 20;
pub const RESET_WINDOW_MINUTES: i64 = 60;
pub const RESET_REQUESTED: &str = "password.reset_requested";

/// "Forgot password": for a verified address of an account, mails a reset link. The
/// caller answers the same whatever happens here, so nobody learns who has an account.
/// Throttled per address and per client (like sign-in); every request is recorded.
/// `typed` is what was typed, an address or not.
pub fn request_reset(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    typed: &PlainText,
) -> AppResult<()> {
    let typed = typed.as_str();
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
        let now = models::now();
        let address = match &canonical {
            Some(canonical) => EmailAddressRow::find_verified(conn, canonical)?,
            None => None,
        };
        let account_id = address.as_ref().map(|a| a.account_id);
        let throttled = record_request(conn, actor, &label, account_id, now)?;
        let Some(address) = address.filter(|_| !throttled) else {
            return Ok(());
        };
        mail_reset_link(conn, links, &address, now)
    })
}

/// Records the request under `label` (targeting the account when the address is one's
/// verified address, so it shows in the log of the account's workspaces; the page answers
/// the same either way) and says whether it is past a limit.
fn record_request(
    conn: &mut DbConn,
    actor: &Actor,
    label: &str,
    account_id: Option<i64>,
    now: NaiveDateTime,
) -> AppResult<bool> {
    let since = now - TimeDelta::minutes(RESET_WINDOW_MINUTES);
    let mut throttled =
        audit::count_for_label(conn, RESET_REQUESTED, label, since)? >= MAX_RESETS_PER_ADDRESS;
    if let Some(ip) = actor.ip.as_deref() {
        throttled |=
            audit::count_for_ip(conn, RESET_REQUESTED, ip, since)? >= MAX_RESETS_PER_CLIENT;
    }
    let mut event = Event::new(RESET_REQUESTED)
        .label(label)
        .changes(json!({"throttled": throttled}));
    if let Some(id) = account_id {
        event = event.target("account", id, label);
    }
    audit::record(conn, &Actor::anonymous(actor.ip.clone()), event)?;
    Ok(throttled)
}

/// One live reset link at a time (the newest), mailed to `address`.
fn mail_reset_link(
    conn: &mut DbConn,
    links: &Links,
    address: &EmailAddressRow,
    now: NaiveDateTime,
) -> AppResult<()> {
    let account = account_of(conn, address.account_id)?;
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
        &rendered.mail("password_reset", address.canonical.as_str()),
        now,
    )?;
    Ok(())
}

fn reset_target(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> AppResult<Link<AccountToken>> {
    let Some(row) = find_token(conn, Purpose::ResetPassword, token)? else {
        return Ok(Link::Unusable(LinkProblem::Unknown));
    };
    Ok(match state_problem(&row, now) {
        Some(problem) => Link::Unusable(problem),
        None => Link::Usable(row),
    })
}

/// Whether a reset link can be used (the GET page; changes nothing).
pub fn reset_link(conn: &mut DbConn, token: &str) -> AppResult<Link<()>> {
    Ok(reset_target(conn, token, models::now())?.map(drop))
}

/// Sets the new password (already hashed) through a reset link: single use; every
/// session of the account ends. A link that cannot be used (any more) is refused in the
/// words of its problem.
pub fn reset_password(
    conn: &mut DbConn,
    actor: &Actor,
    token: &str,
    new_hash: &str,
) -> ServiceResult<()> {
    write_transaction(conn, |conn| {
        let now = models::now();
        let row = reset_target(conn, token, now)?.or_refuse()?;
        if !row.consume(conn, now)? {
            return Err(LinkProblem::Used.into());
        }
        let account_id = row.account_id;
        Account::set_password_hash(conn, account_id, new_hash, now)?;
        let sessions_ended = session::delete_for_account(conn, account_id)?;
        AccountToken::retire_all(conn, account_id, Purpose::ResetPassword, now)?;
        let label = primary_of(conn, account_id)?.canonical;
        audit::record(
            conn,
            &Actor {
                account_id: Some(account_id),
                ip: actor.ip.clone(),
            },
            Event::new("account.password_reset")
                .target("account", account_id, &label)
                .changes(json!({"sessions_ended": sessions_ended})),
        )?;
        Ok(())
    })
}
