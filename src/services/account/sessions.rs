//! The account's sessions: the list on `/account` and ending them.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::session::{self, SessionRow};
use crate::tokens;

/// Absolute lifetime of a session, whatever its activity (SPEC §4.7).
pub const SESSION_ABSOLUTE_HOURS: i64 = 12;
/// Live sessions one account may hold (SPEC §4.10): a new sign-in beyond it ends the
/// longest-idle ones, in the transaction that creates the new session.
pub const MAX_SESSIONS_PER_ACCOUNT: usize = 10;

use super::primary_of;

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

/// The oldest a live session may have been created at `now`.
fn oldest_live(now: NaiveDateTime) -> NaiveDateTime {
    now - TimeDelta::hours(SESSION_ABSOLUTE_HOURS)
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
        oldest_live(now),
        limit,
    )?)
}

/// The sessions `/account` lists: the one asking (`current`, its hash) first, then the
/// newest, at most `MAX_SESSIONS_PER_ACCOUNT` (sign-in keeps no more alive; the bound
/// holds the page short even for sessions made before the cap).
pub(super) fn listed(
    conn: &mut DbConn,
    account_id: i64,
    current: Option<&str>,
    idle_minutes: i64,
) -> AppResult<Vec<SessionView>> {
    let rows = current_first(conn, account_id, current)?;
    Ok(rows
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
        .collect())
}

fn current_first(
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
            if let Some(row) = session::find_live(conn, current, now, oldest_live(now))?
                .filter(|row| row.account_id == Some(account_id))
            {
                rows.insert(0, row);
                rows.truncate(cap);
            }
        }
    }
    Ok(rows)
}

/// Which session `end_session` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndedSession {
    /// Another session of the account.
    Other,
    /// The one asking: it is signed out.
    This,
}

/// Stores a new signed-in session, under the account's lock: the account keeps at most
/// `MAX_SESSIONS_PER_ACCOUNT`, the longest-idle ending first, and ending them is recorded
/// like any other ended session (`write.ip` is the new sign-in's client address).
pub fn start_session(
    conn: &mut DbConn,
    account_id: i64,
    id_hash: &str,
    write: &session::SessionWrite<'_>,
) -> AppResult<()> {
    write_transaction(conn, |conn| {
        let now = models::now();
        Account::lock_for_update(conn, account_id)?.ok_or(AppError::NotFound)?;
        session::insert(conn, id_hash, write, now)?;
        let ended = session::end_beyond_cap(
            conn,
            account_id,
            MAX_SESSIONS_PER_ACCOUNT,
            now,
            now - TimeDelta::hours(SESSION_ABSOLUTE_HOURS),
        )?;
        if ended > 0 {
            let label = primary_of(conn, account_id)?.canonical;
            audit::record(
                conn,
                &Actor::account(account_id, write.ip.map(str::to_string)),
                Event::new("account.sessions_ended")
                    .target("account", account_id, &label)
                    .changes(json!({
                        "sessions_ended": ended,
                        "reason": format!(
                            "a new sign-in beyond the limit of {MAX_SESSIONS_PER_ACCOUNT} sessions"
                        ),
                    })),
            )?;
        }
        Ok(())
    })
}

/// Ends one of the account's sessions by its opaque id; `current` is the hash of the
/// session asking. An unknown id, or another account's, is a 404.
pub fn end_session(
    conn: &mut DbConn,
    actor: &Actor,
    account_id: i64,
    public_id: &str,
    current: Option<&str>,
) -> AppResult<EndedSession> {
    write_transaction(conn, |conn| {
        let row = live_sessions(conn, account_id, None)?
            .into_iter()
            .find(|row| tokens::constant_time_eq(&session::public_id(&row.id_hash), public_id))
            .ok_or(AppError::NotFound)?;
        if !session::delete_for_account_by_hash(conn, account_id, &row.id_hash)? {
            return Err(AppError::NotFound);
        }
        let label = primary_of(conn, account_id)?.canonical;
        audit::record(
            conn,
            actor,
            Event::new("account.session_ended")
                .target("account", account_id, &label)
                .changes(
                    json!({"sessions_ended": 1, "device": device_label(row.user_agent.as_deref())}),
                ),
        )?;
        Ok(
            if current.is_some_and(|c| tokens::constant_time_eq(c, &row.id_hash)) {
                EndedSession::This
            } else {
                EndedSession::Other
            },
        )
    })
}

/// Ends every session of the account but the one asking (`keep_session`, its hash);
/// returns how many ended.
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

/// Signs out: deletes the session `id_hash` of the account and records it, in one
/// transaction (a sign-out is a change of state like a sign-in). A session that had
/// already ended records nothing. Returns whether a session ended.
pub fn sign_out(
    conn: &mut DbConn,
    actor: &Actor,
    account_id: i64,
    id_hash: &str,
) -> AppResult<bool> {
    write_transaction(conn, |conn| {
        if !session::delete_for_account_by_hash(conn, account_id, id_hash)? {
            return Ok(false);
        }
        let label = primary_of(conn, account_id)?.canonical;
        audit::record(
            conn,
            actor,
            Event::new(SIGNED_OUT).target("account", account_id, &label),
        )?;
        Ok(true)
    })
}

/// The audit action of a sign-out.
pub const SIGNED_OUT: &str = "account.signed_out";

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
