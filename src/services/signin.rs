//! Sign-in bookkeeping: throttling per account and per client address, and the audit
//! record of every attempt. The password check itself runs on the bounded hashing pool.

use chrono::TimeDelta;
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::error::AppResult;
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};

pub const FAILED: &str = "login.failed";
pub const SUCCEEDED: &str = "login.succeeded";
/// Failed attempts allowed per address (account) and per client in the window.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;
pub const MAX_FAILURES_PER_CLIENT: i64 = 50;
pub const WINDOW_MINUTES: i64 = 15;

/// What the handler needs to check a password without revealing who exists.
pub struct Attempt {
    pub account_id: Option<i64>,
    pub password_hash: Option<String>,
    pub throttled: bool,
}

/// Looks up the login and the recent failures. `canonical` is `None` for input that is
/// not an address at all (still throttled by client, still answered the same way).
pub fn prepare(conn: &mut DbConn, canonical: Option<&str>, ip: Option<&str>) -> AppResult<Attempt> {
    let since = models::now() - TimeDelta::minutes(WINDOW_MINUTES);
    let mut throttled = false;
    if let Some(ip) = ip {
        throttled |= audit::count_for_ip(conn, FAILED, ip, since)? >= MAX_FAILURES_PER_CLIENT;
    }
    let account = match canonical {
        Some(c) => {
            throttled |=
                audit::count_for_label(conn, FAILED, c, since)? >= MAX_FAILURES_PER_ACCOUNT;
            Account::find_by_login(conn, c)?
        }
        None => None,
    };
    Ok(Attempt {
        account_id: account.as_ref().map(|a| a.id),
        password_hash: account.and_then(|a| a.password_hash),
        throttled,
    })
}

/// Records the outcome; the label is the address tried, so failures count per account.
pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    label: &str,
    account_id: Option<i64>,
    succeeded: bool,
    throttled: bool,
) -> AppResult<()> {
    write_transaction(conn, |conn| {
        let mut event = Event::new(if succeeded { SUCCEEDED } else { FAILED }).label(label);
        if let Some(id) = account_id {
            event = event.target("account", id, label);
        }
        if throttled {
            event = event.changes(json!({"throttled": true}));
        }
        let actor = Actor {
            account_id: if succeeded {
                account_id
            } else {
                actor.account_id
            },
            ip: actor.ip.clone(),
        };
        audit::record(conn, &actor, event)?;
        Ok(())
    })
}
