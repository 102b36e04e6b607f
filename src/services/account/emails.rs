//! The account's email addresses: adding one (unverified, with a link mailed to it),
//! confirming it through that link, making a verified one the primary (the login), and
//! removing one. The mechanics — links, mails, the primary flag, the last-address rule —
//! serve the owner here and an admin (`services::members::emails`, naming them in `by`).

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::mail::messages::{self, VerifyEmailMail};
use crate::models;
use crate::models::account::Account;
use crate::models::account_token::{AccountToken, NewAccountToken, Purpose};
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::{EmailAddressRow, NewEmailAddress, Verification};
use crate::models::outbox;
use crate::tokens;

use super::link::{find_token, state_problem, Link, LinkProblem};
use super::{account_of, lock_account, notice, primary_of, ChangedBy};

/// A verification link works for a day.
pub const VERIFY_HOURS: i64 = 24;
/// Addresses one account may hold (bounds what one account can make us mail).
pub const MAX_ADDRESSES: usize = 10;
/// Verification mails one account may cause in an hour (adding and re-sending).
pub const MAX_VERIFICATION_MAILS_PER_HOUR: i64 = 10;
pub const EMAIL_ADDED: &str = "account.email_added";
pub const EMAIL_RESENT: &str = "account.email_verification_resent";
/// The refusal past `MAX_VERIFICATION_MAILS_PER_HOUR`.
pub const TOO_MANY_LINKS: &str =
    "Too many confirmation links were sent in the last hour. Try again later.";

/// What happened to an added address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// New, unverified; a link was mailed.
    New,
    /// Already on the account unverified: a fresh link was mailed (the old one stops working).
    Resent,
}

/// Adds an unverified address (or re-sends its link) and mails it a verification link;
/// the primary address is told. The current password was checked by the caller.
/// Refusals are for the `email` field.
pub fn add_email(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    email: &EmailAddress,
) -> ServiceResult<Added> {
    write_transaction(conn, |conn| {
        let now = models::now();
        lock_account(conn, account_id)?;
        let since = now - TimeDelta::hours(1);
        let sent = audit::count_for_target(
            conn,
            &[EMAIL_ADDED, EMAIL_RESENT],
            "account",
            account_id,
            since,
        )?;
        if sent >= MAX_VERIFICATION_MAILS_PER_HOUR {
            return Err(ServiceError::field("email", TOO_MANY_LINKS));
        }
        let added = add_unverified(conn, links, account_id, email, None, now)?;
        let primary = primary_of(conn, account_id)?;
        let action = match added {
            Added::New => EMAIL_ADDED,
            Added::Resent => EMAIL_RESENT,
        };
        audit::record(
            conn,
            actor,
            Event::new(action)
                .target("account", account_id, &primary.canonical)
                .changes(json!({"after": {"email": email.canonical(), "verified": false}})),
        )?;
        Ok(added)
    })
}

/// Puts `email` on the account unverified (or finds it there unverified, and retires its
/// earlier links) and mails it a fresh verification link; a new address is told to the
/// primary. Refused (for the `email` field, in the words for the owner or for `by`) when
/// the account already has it verified, another account verified it, or the account has
/// `MAX_ADDRESSES`. The caller holds `lock_account` in its write transaction, checked
/// its own limits and records its audit event.
pub(crate) fn add_unverified(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email: &EmailAddress,
    by: Option<ChangedBy<'_>>,
    now: NaiveDateTime,
) -> ServiceResult<Added> {
    let account = account_of(conn, account_id)?;
    let existing = EmailAddressRow::for_account(conn, account_id)?;
    let mine = existing.iter().find(|e| e.canonical == email.canonical());
    refuse_if_held(conn, account_id, mine, email, by)?;
    let (address_id, added) = match mine {
        Some(row) => {
            AccountToken::retire_for_address(conn, row.id, now)?;
            (row.id, Added::Resent)
        }
        None if existing.len() >= MAX_ADDRESSES => {
            return Err(ServiceError::field(
                "email",
                format!("An account can have at most {MAX_ADDRESSES} addresses. Remove one first."),
            ))
        }
        None => (insert_unverified(conn, account_id, email, now)?, Added::New),
    };
    mail_verification_link(conn, links, &account, address_id, email, by, now)?;
    if added == Added::New {
        tell_primary_of_new(conn, links, &account, email, by, now)?;
    }
    Ok(added)
}

/// Refused when the account already holds `email` verified (`mine`), or another account
/// verified it first.
fn refuse_if_held(
    conn: &mut DbConn,
    account_id: i64,
    mine: Option<&EmailAddressRow>,
    email: &EmailAddress,
    by: Option<ChangedBy<'_>>,
) -> ServiceResult<()> {
    if mine.is_some_and(|e| e.verified) {
        return Err(ServiceError::field(
            "email",
            ChangedBy::refusal(by, "That address is already on your account.", || {
                format!("{email} is already a confirmed address of this member.")
            }),
        ));
    }
    if EmailAddressRow::verified_elsewhere(conn, email.canonical(), account_id)? {
        return Err(ServiceError::field(
            "email",
            ChangedBy::refusal(
                by,
                "That address belongs to another account and cannot be added.",
                || {
                    format!("{email} has been confirmed by another account, so it cannot be added to this member.")
                },
            ),
        ));
    }
    Ok(())
}

fn insert_unverified(
    conn: &mut DbConn,
    account_id: i64,
    email: &EmailAddress,
    now: NaiveDateTime,
) -> AppResult<i64> {
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
    Ok(id)
}

/// A fresh single-use link for one address of the account, mailed to it.
fn mail_verification_link(
    conn: &mut DbConn,
    links: &Links,
    account: &Account,
    address_id: i64,
    email: &EmailAddress,
    by: Option<ChangedBy<'_>>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let token = tokens::generate();
    let expires_at = now + TimeDelta::hours(VERIFY_HOURS);
    NewAccountToken {
        purpose: Purpose::VerifyEmail.key(),
        account_id: account.id,
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
    outbox::enqueue(conn, &rendered.mail("verify_email", email.canonical()), now)?;
    Ok(())
}

fn tell_primary_of_new(
    conn: &mut DbConn,
    links: &Links,
    account: &Account,
    email: &EmailAddress,
    by: Option<ChangedBy<'_>>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let primary = primary_of(conn, account.id)?;
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
    )
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
) -> AppResult<Link<VerifyTarget>> {
    let Some(row) = find_token(conn, Purpose::VerifyEmail, token)? else {
        return Ok(Link::Unusable(LinkProblem::Unknown));
    };
    if row.account_id != account_id {
        return Ok(Link::Unusable(LinkProblem::WrongAccount));
    }
    if let Some(problem) = state_problem(&row, now) {
        return Ok(Link::Unusable(problem));
    }
    // Bound to one address of this account: the one it was mailed to.
    let Some(address) = row
        .email_address_id
        .map(|id| EmailAddressRow::find_for_account(conn, account_id, id))
        .transpose()?
        .flatten()
    else {
        return Ok(Link::Unusable(LinkProblem::Unknown));
    };
    if address.verified {
        return Ok(Link::Unusable(LinkProblem::Used));
    }
    if EmailAddressRow::verified_elsewhere(conn, &address.canonical, account_id)? {
        return Ok(Link::Unusable(LinkProblem::TakenElsewhere));
    }
    Ok(Link::Usable(VerifyTarget {
        token: row,
        address,
    }))
}

/// The address a verification link would confirm for this account (the GET page;
/// changes nothing).
pub fn verify_link(conn: &mut DbConn, token: &str, account_id: i64) -> AppResult<Link<String>> {
    Ok(verify_target(conn, token, account_id, models::now())?.map(|t| t.address.address))
}

/// Confirms the address the link was mailed to: single use, this account only. A link
/// that cannot be used (any more) is refused in the words of its problem.
pub fn verify_email(
    conn: &mut DbConn,
    actor: &Actor,
    token: &str,
    account_id: i64,
) -> ServiceResult<String> {
    write_transaction(conn, |conn| {
        let now = models::now();
        lock_account(conn, account_id)?;
        let target = verify_target(conn, token, account_id, now)?.or_refuse()?;
        if !target.token.consume(conn, now)? {
            return Err(LinkProblem::Used.into());
        }
        mark_verified(conn, account_id, &target.address, now)?;
        audit::record(
            conn,
            actor,
            Event::new("account.email_verified")
                .target("account", account_id, &target.address.canonical)
                .changes(json!({"after": {"email": target.address.canonical, "verified": true}})),
        )?;
        Ok(target.address.address)
    })
}

/// Marks the address verified. Checked by `verify_target`; a concurrent verification (of
/// this link, or of the address by another account) is refused in its problem's words.
fn mark_verified(
    conn: &mut DbConn,
    account_id: i64,
    address: &EmailAddressRow,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    match EmailAddressRow::mark_verified(conn, account_id, address.id, now)? {
        Verification::Done => Ok(()),
        Verification::NotPending => Err(LinkProblem::Used.into()),
        Verification::TakenElsewhere => Err(LinkProblem::TakenElsewhere.into()),
    }
}

/// Another account's address (or none) is a 404, before anything else is said about it.
pub fn ensure_own_address(conn: &mut DbConn, account_id: i64, email_id: i64) -> AppResult<()> {
    EmailAddressRow::find_for_account(conn, account_id, email_id)?
        .map(drop)
        .ok_or(AppError::NotFound)
}

/// Makes a verified address the login; the old primary is told. The current password was
/// checked by the caller. Another account's address is a 404.
pub fn make_primary(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    email_id: i64,
) -> ServiceResult<String> {
    write_transaction(conn, |conn| {
        lock_account(conn, account_id)?;
        let (target, old) = switch_primary(conn, links, account_id, email_id, None)?;
        if let Some(old) = old {
            audit::record(
                conn,
                actor,
                Event::new("account.primary_email_changed")
                    .target("account", account_id, &target.canonical)
                    .changes(json!({"before": {"primary": old.canonical}, "after": {"primary": target.canonical}})),
            )?;
        }
        Ok(target.address)
    })
}

/// Moves the primary flag to a verified address of the account and tells the old primary
/// (naming `by`, an admin, when it was not the owner). Returns the new primary and the old
/// one (`None`: it already was the primary, nothing changed). Refused while the address is
/// unconfirmed; another account's address is a 404. The caller holds `lock_account` in
/// its write transaction and records its audit event.
pub(crate) fn switch_primary(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email_id: i64,
    by: Option<ChangedBy<'_>>,
) -> ServiceResult<(EmailAddressRow, Option<EmailAddressRow>)> {
    let now = models::now();
    let not_verified = || {
        ServiceError::general(ChangedBy::refusal(
            by,
            "Confirm this address before making it primary",
            || {
                "The member hasn't confirmed this address yet: it can become primary once they open the link mailed to it.".into()
            },
        ))
    };
    let target =
        EmailAddressRow::find_for_account(conn, account_id, email_id)?.ok_or(AppError::NotFound)?;
    if !target.verified {
        return Err(not_verified());
    }
    let old = primary_of(conn, account_id)?;
    if old.id == target.id {
        return Ok((target, None));
    }
    if !EmailAddressRow::set_primary(conn, account_id, target.id)? {
        return Err(not_verified());
    }
    tell_old_primary(conn, links, account_id, &target, &old, by, now)?;
    Ok((target, Some(old)))
}

/// Tells the old primary address which one the account signs in with now.
fn tell_old_primary(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    new: &EmailAddressRow,
    old: &EmailAddressRow,
    by: Option<ChangedBy<'_>>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let account = account_of(conn, account_id)?;
    let what = ChangedBy::sentence(
        by,
        format!(
            "Your Gatehouse account now signs in with {} instead of {}.",
            new.address, old.address
        ),
        |who| {
            format!(
                "{who} changed the sign-in address of your Gatehouse account: it now signs in with {} instead of {}.",
                new.address, old.address
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
    )
}

/// Removes an address (never the last, never the primary); the primary is told.
pub fn remove_email(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    email_id: i64,
) -> ServiceResult<String> {
    write_transaction(conn, |conn| {
        lock_account(conn, account_id)?;
        let (target, primary) = delete_address(conn, links, account_id, email_id, None)?;
        audit::record(
            conn,
            actor,
            Event::new("account.email_removed")
                .target("account", account_id, &primary.canonical)
                .changes(
                    json!({"before": {"email": target.canonical, "verified": target.verified}}),
                ),
        )?;
        Ok(target.address)
    })
}

/// Deletes an address of the account (its links go with it) and tells the primary,
/// naming `by` when an admin did it. Refused for the last address and for the primary.
/// Returns the removed address and the primary. Another account's address is a 404. The
/// caller holds `lock_account` in its write transaction and records its audit event.
pub(crate) fn delete_address(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email_id: i64,
    by: Option<ChangedBy<'_>>,
) -> ServiceResult<(EmailAddressRow, EmailAddressRow)> {
    let now = models::now();
    let target =
        EmailAddressRow::find_for_account(conn, account_id, email_id)?.ok_or(AppError::NotFound)?;
    refuse_removal(conn, account_id, &target, by)?;
    EmailAddressRow::delete_for_account(conn, account_id, target.id)?;
    Account::refresh_search_text(conn, account_id)?;
    let primary = primary_of(conn, account_id)?;
    tell_primary_of_removal(conn, links, account_id, &primary, &target, by, now)?;
    Ok((target, primary))
}

/// Refused for the account's last address and for its primary.
fn refuse_removal(
    conn: &mut DbConn,
    account_id: i64,
    target: &EmailAddressRow,
    by: Option<ChangedBy<'_>>,
) -> ServiceResult<()> {
    if EmailAddressRow::for_account(conn, account_id)?.len() <= 1 {
        return Err(ServiceError::general(ChangedBy::refusal(
            by,
            "This is the only address of your account, so it cannot be removed.",
            || "This is the member's only address, so it cannot be removed.".into(),
        )));
    }
    if target.is_primary {
        return Err(ServiceError::general(ChangedBy::refusal(
            by,
            "This is your primary address. Make another verified address primary first, then remove this one.",
            || "This is the member's primary address, which they sign in with: make another of their confirmed addresses primary first, then remove this one.".into(),
        )));
    }
    Ok(())
}

fn tell_primary_of_removal(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    primary: &EmailAddressRow,
    removed: &EmailAddressRow,
    by: Option<ChangedBy<'_>>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let account = account_of(conn, account_id)?;
    let what = ChangedBy::sentence(
        by,
        format!(
            "The address {} was removed from your Gatehouse account.",
            removed.address
        ),
        |who| {
            format!(
                "{who} removed the address {} from your Gatehouse account.",
                removed.address
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
    )
}
