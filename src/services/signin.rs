//! Password attempts — signing in, and re-authentication (`current_password` on any form) —
//! throttled by one rule in one place (`assess`), counted from the audit trail so every
//! instance on one database sees the same counts. The password check itself runs on the
//! bounded hashing pool between `prepare` (a read that spares hashing when throttled) and
//! `settle`, which decides again under the account's lock and records the outcome in the
//! same transaction, so concurrent guesses cannot overrun a limit.
//!
//! The rule. Failures count only since the account last proved its password (a sign-in,
//! a completed reset, a password change, a re-authentication after failures):
//! - per account **and** client address: at most `MAX_FAILURES_PER_ACCOUNT_AND_CLIENT` in
//!   `WINDOW_MINUTES` (a success from that address, or a reset, starts the count again);
//! - per client address over all accounts: at most `MAX_FAILURES_PER_CLIENT` in the window;
//! - per account from all addresses: `FREE_FAILURES_PER_ACCOUNT` in `ACCOUNT_WINDOW_HOURS`,
//!   then each further attempt waits `FIRST_DELAY_SECONDS`, doubling per failure, at most
//!   `MAX_DELAY_SECONDS` after the last failure — a growing delay, never a wall. An address
//!   the account signed in from within `KNOWN_ADDRESS_DAYS` is not held back by it, so
//!   strangers' failures never lock the owner out of their usual address.
//!
//! A refused attempt (throttled) is recorded but does not count as a failure: retrying
//! while throttled does not prolong it. Unknown addresses are counted by the address typed,
//! with the same numbers, so a throttled answer never tells who has an account.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::QueryResult;
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, About, Actor, Event, Tally};
use crate::models::email_address::EmailAddressRow;

pub const FAILED: &str = "login.failed";
pub const SUCCEEDED: &str = "login.succeeded";
pub const THROTTLED: &str = "login.throttled";
pub const REAUTH_FAILED: &str = "reauth.failed";
pub const REAUTH_SUCCEEDED: &str = "reauth.succeeded";
pub const REAUTH_THROTTLED: &str = "reauth.throttled";
/// Events that prove the account's password: failures before them no longer count.
/// (A provider sign-in records `login.succeeded` too.)
const PROOFS: [&str; 4] = [
    SUCCEEDED,
    REAUTH_SUCCEEDED,
    "account.password_reset",
    "account.password_changed",
];
/// Proofs that count for every client address, not only the one they came from.
const PROOFS_FOR_EVERY_ADDRESS: [&str; 2] = ["account.password_reset", "account.password_changed"];
const FAILURES: [&str; 2] = [FAILED, REAUTH_FAILED];

/// Failed attempts for one account from one client address in the window.
pub const MAX_FAILURES_PER_ACCOUNT_AND_CLIENT: i64 = 10;
/// Failed attempts from one client address, whatever the account, in the window.
pub const MAX_FAILURES_PER_CLIENT: i64 = 50;
pub const WINDOW_MINUTES: i64 = 15;
/// Failed attempts for one account from all addresses before delays start.
pub const FREE_FAILURES_PER_ACCOUNT: i64 = 30;
pub const ACCOUNT_WINDOW_HOURS: i64 = 24;
/// The wait after the first failure past the free ones; it doubles with each further one.
pub const FIRST_DELAY_SECONDS: i64 = 30;
pub const MAX_DELAY_SECONDS: i64 = 15 * 60;
/// An address the account signed in from this recently is exempt from the account-wide delay.
pub const KNOWN_ADDRESS_DAYS: i64 = 30;

/// Whose password is being tried.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    Account(i64),
    /// An address with no account (sign-in only): counted by the text typed.
    Unknown(&'a str),
}

/// What the rule says about one more attempt now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Throttled { retry_at: NaiveDateTime },
}

/// The outcome of an attempt, once settled and recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Refused without regard to the password; it may be tried again at `retry_at`.
    Throttled {
        retry_at: NaiveDateTime,
    },
}

/// Which form the password was typed into.
#[derive(Clone, Copy, Debug)]
pub enum Kind<'a> {
    /// The sign-in form; `label` is the address tried (canonical when it parses).
    SignIn { label: &'a str },
    /// `current_password` on a form of a signed-in account.
    Reauth,
}

/// Failed attempts about `subject` since `since` (from `ip` only, when given).
fn failures(
    conn: &mut DbConn,
    subject: Subject<'_>,
    ip: Option<&str>,
    since: NaiveDateTime,
) -> QueryResult<Tally> {
    let about = match subject {
        Subject::Account(id) => About::Target("account", id),
        Subject::Unknown(label) => About::Untargeted(label),
    };
    audit::tally(conn, &FAILURES, about, ip, since)
}

/// The latest of these proofs for the account (from `ip` only, when given).
fn last_proof(
    conn: &mut DbConn,
    account_id: i64,
    actions: &[&str],
    ip: Option<&str>,
) -> QueryResult<Option<NaiveDateTime>> {
    audit::latest_for_target(conn, actions, "account", account_id, ip)
}

/// The start of a count: the window's start, or the last proof when that is later.
fn later(window_start: NaiveDateTime, proof: Option<NaiveDateTime>) -> NaiveDateTime {
    proof.map_or(window_start, |p| p.max(window_start))
}

/// The account-wide wait after `n` failures (none within the free allowance).
pub fn account_delay(n: i64) -> Option<TimeDelta> {
    let past = n - FREE_FAILURES_PER_ACCOUNT;
    if past < 0 {
        return None;
    }
    let doublings = u32::try_from(past.min(20)).unwrap_or(20);
    let seconds = FIRST_DELAY_SECONDS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_DELAY_SECONDS);
    Some(TimeDelta::seconds(seconds))
}

/// The rule (see the module's comment): may `subject` try a password from `ip` now?
pub fn assess(
    conn: &mut DbConn,
    subject: Subject<'_>,
    ip: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Verdict> {
    let window = TimeDelta::minutes(WINDOW_MINUTES);
    let mut retry_at: Option<NaiveDateTime> = None;
    let mut hold = |until: NaiveDateTime| {
        if until > now {
            retry_at = Some(retry_at.map_or(until, |r| r.max(until)));
        }
    };
    if let Some(ip) = ip {
        let from_client = audit::tally(conn, &FAILURES, About::Anything, Some(ip), now - window)?;
        if from_client.count >= MAX_FAILURES_PER_CLIENT {
            hold(from_client.first.unwrap_or(now) + window);
        }
    }
    let (proof_any, proof_here, known_address) = match subject {
        Subject::Account(id) => {
            let everywhere = last_proof(conn, id, &PROOFS_FOR_EVERY_ADDRESS, None)?;
            let any = last_proof(conn, id, &PROOFS, None)?;
            let here = match ip {
                Some(ip) => last_proof(conn, id, &PROOFS, Some(ip))?,
                None => None,
            };
            let known = match ip {
                Some(ip) => last_proof(conn, id, &[SUCCEEDED], Some(ip))?
                    .is_some_and(|t| t > now - TimeDelta::days(KNOWN_ADDRESS_DAYS)),
                None => false,
            };
            (any, here.max(everywhere), known)
        }
        Subject::Unknown(_) => (None, None, false),
    };
    if let Some(ip) = ip {
        let since = later(now - window, proof_here);
        let here = failures(conn, subject, Some(ip), since)?;
        if here.count >= MAX_FAILURES_PER_ACCOUNT_AND_CLIENT {
            hold(here.first.unwrap_or(now) + window);
        }
    }
    if !known_address {
        let since = later(now - TimeDelta::hours(ACCOUNT_WINDOW_HOURS), proof_any);
        let everywhere = failures(conn, subject, None, since)?;
        if let Some(delay) = account_delay(everywhere.count) {
            hold(everywhere.last.unwrap_or(now) + delay);
        }
    }
    Ok(match retry_at {
        Some(retry_at) => Verdict::Throttled { retry_at },
        None => Verdict::Allowed,
    })
}

/// What the sign-in handler needs to check a password without revealing who exists.
pub struct Attempt {
    pub account_id: Option<i64>,
    pub password_hash: Option<String>,
    /// Already throttled: the handler verifies against the dummy hash (the same time) and
    /// `settle`s with no verdict.
    pub throttled: bool,
}

/// Looks up the login and asks the rule. `canonical` is `None` for input that is not an
/// address at all (`label` is then what was typed; still throttled, answered the same way).
pub fn prepare(
    conn: &mut DbConn,
    canonical: Option<&str>,
    label: &str,
    ip: Option<&str>,
) -> AppResult<Attempt> {
    let account = match canonical {
        Some(c) => Account::find_by_login(conn, c)?,
        None => None,
    };
    let subject = match &account {
        Some(a) => Subject::Account(a.id),
        None => Subject::Unknown(label),
    };
    let throttled = assess(conn, subject, ip, models::now())? != Verdict::Allowed;
    Ok(Attempt {
        account_id: account.as_ref().map(|a| a.id),
        password_hash: account.and_then(|a| a.password_hash),
        throttled,
    })
}

/// What a re-authentication needs: the stored hash to check against, or `throttled`
/// (no hashing then). The account must exist.
pub fn prepare_reauth(conn: &mut DbConn, account_id: i64, ip: Option<&str>) -> AppResult<Attempt> {
    let throttled =
        assess(conn, Subject::Account(account_id), ip, models::now())? != Verdict::Allowed;
    let password_hash = if throttled {
        None
    } else {
        Account::find(conn, account_id)?.and_then(|a| a.password_hash)
    };
    Ok(Attempt {
        account_id: Some(account_id),
        password_hash,
        throttled,
    })
}

/// Decides an attempt and records it, in one write transaction holding the account's
/// lock: the rule is asked again (concurrent attempts were recorded meanwhile), and a
/// throttled attempt is refused whatever `verified` says. `verified` is `None` when the
/// password was not checked (throttled at `prepare`).
pub fn settle(
    conn: &mut DbConn,
    actor: &Actor,
    kind: Kind<'_>,
    account_id: Option<i64>,
    verified: Option<bool>,
) -> AppResult<Outcome> {
    write_transaction(conn, |conn| {
        let now = models::now();
        let account_label = match account_id {
            Some(id) => Some(locked_label(conn, id)?),
            None => None,
        };
        let typed = match kind {
            Kind::SignIn { label } => label,
            Kind::Reauth => account_label.as_deref().unwrap_or_default(),
        };
        let subject = match account_id {
            Some(id) => Subject::Account(id),
            None => Subject::Unknown(typed),
        };
        let ip = actor.ip.as_deref();
        let outcome = match (assess(conn, subject, ip, now)?, verified) {
            (Verdict::Throttled { retry_at }, _) => Outcome::Throttled { retry_at },
            // Not checked, yet allowed now (the wait just ended): refused all the same,
            // without counting; the next attempt is checked.
            (Verdict::Allowed, None) => Outcome::Throttled { retry_at: now },
            (Verdict::Allowed, Some(true)) if account_id.is_some() => Outcome::Succeeded,
            (Verdict::Allowed, Some(_)) => Outcome::Failed,
        };
        if let Some(action) = action_of(conn, kind, outcome, subject, now)? {
            record(conn, actor, kind, outcome, account_id, action, typed)?;
        }
        Ok(outcome)
    })
}

/// The audit action an attempt is recorded under, if any.
fn action_of(
    conn: &mut DbConn,
    kind: Kind<'_>,
    outcome: Outcome,
    subject: Subject<'_>,
    now: NaiveDateTime,
) -> AppResult<Option<&'static str>> {
    Ok(match (kind, outcome) {
        (Kind::SignIn { .. }, Outcome::Succeeded) => Some(SUCCEEDED),
        (Kind::SignIn { .. }, Outcome::Failed) => Some(FAILED),
        (Kind::SignIn { .. }, Outcome::Throttled { .. }) => Some(THROTTLED),
        (Kind::Reauth, Outcome::Failed) => Some(REAUTH_FAILED),
        (Kind::Reauth, Outcome::Throttled { .. }) => Some(REAUTH_THROTTLED),
        // A re-authentication is a proof worth recording only when failures precede it
        // (the form's own change is recorded by its service).
        (Kind::Reauth, Outcome::Succeeded) => {
            let proof = match subject {
                Subject::Account(id) => last_proof(conn, id, &PROOFS, None)?,
                Subject::Unknown(_) => None,
            };
            let since = later(now - TimeDelta::hours(ACCOUNT_WINDOW_HOURS), proof);
            (failures(conn, subject, None, since)?.count > 0).then_some(REAUTH_SUCCEEDED)
        }
    })
}

/// Records an attempt: labelled with what was typed (the account's address for a
/// re-authentication), by the account only once it signed in.
fn record(
    conn: &mut DbConn,
    actor: &Actor,
    kind: Kind<'_>,
    outcome: Outcome,
    account_id: Option<i64>,
    action: &str,
    typed: &str,
) -> AppResult<()> {
    let mut event = Event::new(action).label(typed);
    if let Some(id) = account_id {
        event = event.target("account", id, typed);
    }
    if let Outcome::Throttled { retry_at } = outcome {
        event = event.changes(json!({
            "throttled": true,
            "retry_at": retry_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }));
    }
    let actor = Actor {
        account_id: match (kind, outcome) {
            (Kind::SignIn { .. }, Outcome::Succeeded) => account_id,
            (Kind::SignIn { .. }, _) => None,
            (Kind::Reauth, _) => actor.account_id,
        },
        ip: actor.ip.clone(),
    };
    audit::record(conn, &actor, event)?;
    Ok(())
}

/// Locks the account (attempts on one account are decided one at a time) and names it
/// by its primary address.
fn locked_label(conn: &mut DbConn, account_id: i64) -> AppResult<String> {
    Account::lock_for_update(conn, account_id)?.ok_or(AppError::NotFound)?;
    Ok(EmailAddressRow::primary_for(conn, account_id)?
        .map(|e| e.canonical)
        .unwrap_or_default())
}

/// "Try again in about 12 minutes." — when a throttled person may try again.
pub fn retry_message(retry_at: NaiveDateTime, now: NaiveDateTime) -> String {
    let seconds = (retry_at - now).num_seconds().max(0);
    if seconds <= 60 {
        "Try again in a minute.".into()
    } else {
        format!("Try again in about {} minutes.", (seconds + 59) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_wide_delay_starts_after_the_free_failures_and_doubles_to_its_cap() {
        assert_eq!(account_delay(FREE_FAILURES_PER_ACCOUNT - 1), None);
        assert_eq!(
            account_delay(FREE_FAILURES_PER_ACCOUNT),
            Some(TimeDelta::seconds(30))
        );
        assert_eq!(
            account_delay(FREE_FAILURES_PER_ACCOUNT + 1),
            Some(TimeDelta::seconds(60))
        );
        assert_eq!(
            account_delay(FREE_FAILURES_PER_ACCOUNT + 1000),
            Some(TimeDelta::seconds(MAX_DELAY_SECONDS))
        );
    }
}
