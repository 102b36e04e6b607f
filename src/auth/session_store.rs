//! actix-session's `SessionStore` on our own `sessions` table, so sessions survive restarts,
//! are shared by every instance, and can be ended server-side (sign-out, removal).
//!
//! The cookie carries a 256-bit random key; the table keeps only its SHA-256. Idle expiry
//! slides forward on use, at most one write a minute; the absolute limit is fixed at creation.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use actix_web::web;
use chrono::{NaiveDateTime, TimeDelta};

use crate::db::DbPool;
use crate::models::{self, session};
use crate::services::account::{self, SESSION_ABSOLUTE_HOURS};
use crate::tokens;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "gatehouse_session";

/// The stored id (SHA-256 of the key) of the session the request carries, read from the
/// encrypted cookie. The key itself is hashed at once and never kept.
pub fn current_id_hash(
    req: &actix_web::HttpRequest,
    key: &actix_web::cookie::Key,
) -> Option<String> {
    let cookie = req.cookie(COOKIE_NAME)?;
    let mut jar = actix_web::cookie::CookieJar::new();
    jar.add_original(cookie);
    let opened = jar.private(key).get(COOKIE_NAME)?;
    Some(tokens::hash(opened.value()))
}

/// Keys of the session state that the store copies into columns.
pub const ACCOUNT_ID: &str = "account_id";
pub const USER_AGENT: &str = "ua";
pub const CLIENT_IP: &str = "ip";

/// Extend the idle expiry only when it moved more than this since the last write.
const EXTEND_GRANULARITY_SECS: i64 = 60;

#[derive(Clone)]
pub struct DbSessionStore {
    pool: DbPool,
    idle: TimeDelta,
}

impl DbSessionStore {
    /// `idle_minutes` must match the middleware's state TTL: loading slides the expiry by it.
    pub fn new(pool: DbPool, idle_minutes: i64) -> Self {
        DbSessionStore {
            pool,
            idle: TimeDelta::minutes(idle_minutes),
        }
    }
}

type State = HashMap<String, String>;

fn expiry(ttl: &Duration) -> NaiveDateTime {
    models::now() + TimeDelta::seconds(ttl.whole_seconds())
}

/// Values are stored by actix-session as JSON text; these columns hold the plain value.
fn json_string(state: &State, key: &str) -> Option<String> {
    state
        .get(key)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
}

/// The row's values for a session state.
struct Written {
    text: String,
    account_id: Option<i64>,
    user_agent: Option<String>,
    ip: Option<String>,
    expires_at: NaiveDateTime,
}

impl Written {
    fn from_state(state: &State, ttl: &Duration) -> Result<Self, serde_json::Error> {
        Ok(Written {
            text: serde_json::to_string(state)?,
            account_id: state
                .get(ACCOUNT_ID)
                .and_then(|v| serde_json::from_str::<i64>(v).ok()),
            user_agent: json_string(state, USER_AGENT),
            ip: json_string(state, CLIENT_IP),
            expires_at: expiry(ttl),
        })
    }

    fn row(&self) -> session::SessionWrite<'_> {
        session::SessionWrite {
            account_id: self.account_id,
            state: &self.text,
            user_agent: self.user_agent.as_deref(),
            ip: self.ip.as_deref(),
            expires_at: self.expires_at,
        }
    }
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let pool = self.pool.clone();
        let id_hash = tokens::hash(session_key.as_ref());
        let idle = self.idle;
        let row = web::block(
            move || -> Result<Option<session::SessionRow>, anyhow::Error> {
                let mut conn = pool.get()?;
                let now = models::now();
                let oldest = now - TimeDelta::hours(SESSION_ABSOLUTE_HOURS);
                let row = session::find_live(&mut conn, &id_hash, now, oldest)?;
                // Sliding idle expiry, written at most once a minute rather than on every request.
                if let Some(row) = &row {
                    let extended = now + idle;
                    if row.expires_at < extended - TimeDelta::seconds(EXTEND_GRANULARITY_SECS) {
                        session::extend(&mut conn, &id_hash, extended)?;
                    }
                }
                Ok(row)
            },
        )
        .await
        .map_err(|e| LoadError::Other(anyhow::anyhow!("{e}")))?
        .map_err(LoadError::Other)?;
        let Some(row) = row else { return Ok(None) };
        let state: State =
            serde_json::from_str(&row.state).map_err(|e| LoadError::Deserialization(e.into()))?;
        Ok(Some(state))
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let written =
            Written::from_state(&state, ttl).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = tokens::generate();
        let id_hash = tokens::hash(&key);
        let pool = self.pool.clone();
        web::block(move || -> Result<(), anyhow::Error> {
            let mut conn = pool.get()?;
            let Some(account_id) = written.account_id else {
                session::insert(&mut conn, &id_hash, &written.row(), models::now())?;
                return Ok(());
            };
            account::start_session(&mut conn, account_id, &id_hash, &written.row())
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .await
        .map_err(|e| SaveError::Other(anyhow::anyhow!("{e}")))?
        .map_err(SaveError::Other)?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let written =
            Written::from_state(&state, ttl).map_err(|e| UpdateError::Serialization(e.into()))?;
        let id_hash = tokens::hash(session_key.as_ref());
        let pool = self.pool.clone();
        // A session ended meanwhile (sign-out elsewhere, removal) stays ended: the update
        // touches nothing and the cookie's key no longer loads.
        web::block(move || -> Result<bool, anyhow::Error> {
            let mut conn = pool.get()?;
            Ok(session::update(&mut conn, &id_hash, &written.row())?)
        })
        .await
        .map_err(|e| UpdateError::Other(anyhow::anyhow!("{e}")))?
        .map_err(UpdateError::Other)?;
        Ok(session_key)
    }

    /// Unused: the middleware runs with `OnStateChanges`, and `load` slides the expiry.
    async fn update_ttl(
        &self,
        _session_key: &SessionKey,
        _ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        let id_hash = tokens::hash(session_key.as_ref());
        let pool = self.pool.clone();
        web::block(move || -> Result<(), anyhow::Error> {
            let mut conn = pool.get()?;
            session::delete(&mut conn, &id_hash)?;
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    }
}
