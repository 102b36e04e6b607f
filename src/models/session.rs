//! Server-side sessions. The cookie carries a random key; only its SHA-256 is stored.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::sessions;
use crate::db::{DbConn, FirstByKey};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id_hash: String,
    pub account_id: Option<i64>,
    pub state: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = sessions)]
pub struct SessionWrite<'a> {
    pub account_id: Option<i64>,
    pub state: &'a str,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub expires_at: NaiveDateTime,
}

/// A live session: not idle-expired and not older than the absolute limit.
pub fn find_live(
    conn: &mut DbConn,
    id_hash: &str,
    now: NaiveDateTime,
    created_after: NaiveDateTime,
) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(id_hash)
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::created_at.gt(created_after))
        .select(SessionRow::as_select())
        .first_by_key(conn)
}

pub fn insert(
    conn: &mut DbConn,
    id_hash: &str,
    write: &SessionWrite<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id_hash.eq(id_hash),
            sessions::created_at.eq(now),
            write,
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends the account's sessions beyond the newest `keep` by last activity (the idle expiry
/// slides with use, so the longest-idle end first), and deletes any that can no longer be
/// used. Returns how many live sessions the cap ended (the dead ones are only swept).
/// Run in the transaction that inserts a new session, holding the account's lock.
pub fn end_beyond_cap(
    conn: &mut DbConn,
    account_id: i64,
    keep: usize,
    now: NaiveDateTime,
    created_after: NaiveDateTime,
) -> QueryResult<usize> {
    let live: Vec<String> = sessions::table
        .filter(sessions::account_id.eq(account_id))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::created_at.gt(created_after))
        .order((
            sessions::expires_at.desc(),
            sessions::created_at.desc(),
            sessions::id_hash,
        ))
        .select(sessions::id_hash)
        .load(conn)?;
    diesel::delete(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(
                sessions::expires_at
                    .le(now)
                    .or(sessions::created_at.le(created_after)),
            ),
    )
    .execute(conn)?;
    if live.len() <= keep {
        return Ok(0);
    }
    diesel::delete(sessions::table.filter(sessions::id_hash.eq_any(&live[keep..]))).execute(conn)
}

/// Updates a session's state; returns false when the session no longer exists.
pub fn update(conn: &mut DbConn, id_hash: &str, write: &SessionWrite<'_>) -> QueryResult<bool> {
    let n = diesel::update(sessions::table.find(id_hash))
        .set(write)
        .execute(conn)?;
    Ok(n == 1)
}

pub fn extend(conn: &mut DbConn, id_hash: &str, expires_at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConn, id_hash: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)?;
    Ok(())
}

/// Ends every session of an account (sign-out everywhere, removal, password change).
pub fn delete_for_account(conn: &mut DbConn, account_id: i64) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::account_id.eq(account_id))).execute(conn)
}

/// Housekeeping: drops sessions that can no longer be used.
pub fn delete_dead(
    conn: &mut DbConn,
    now: NaiveDateTime,
    created_before: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::created_at.le(created_before)),
        ),
    )
    .execute(conn)
}

pub fn for_account(conn: &mut DbConn, account_id: i64) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::account_id.eq(account_id))
        .order(sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)
}

/// The opaque id a session is shown and ended by: derived from the stored hash (never
/// from the cookie's key), so it reveals nothing that could sign anyone in.
pub fn public_id(id_hash: &str) -> String {
    let mut id = crate::tokens::hash(&format!("gatehouse-session-ref:{id_hash}"));
    id.truncate(32);
    id
}

/// Ends one session of an account; returns whether one was ended.
pub fn delete_for_account_by_hash(
    conn: &mut DbConn,
    account_id: i64,
    id_hash: &str,
) -> QueryResult<bool> {
    let n = diesel::delete(
        sessions::table
            .find(id_hash)
            .filter(sessions::account_id.eq(account_id)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Ends every session of an account but one (password change, "sign out everywhere else").
pub fn delete_for_account_except(
    conn: &mut DbConn,
    account_id: i64,
    keep_id_hash: &str,
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::account_id.eq(account_id))
            .filter(sessions::id_hash.ne(keep_id_hash)),
    )
    .execute(conn)
}

/// An account's live sessions, newest first; at most `limit` when given.
pub fn live_for_account(
    conn: &mut DbConn,
    account_id: i64,
    now: NaiveDateTime,
    created_after: NaiveDateTime,
    limit: Option<i64>,
) -> QueryResult<Vec<SessionRow>> {
    let query = sessions::table
        .filter(sessions::account_id.eq(account_id))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::created_at.gt(created_after))
        .order((sessions::created_at.desc(), sessions::id_hash))
        .select(SessionRow::as_select());
    match limit {
        Some(n) => query.limit(n).load(conn),
        None => query.load(conn),
    }
}
