//! The application state every request can reach. Its own module so that `web`, `auth`
//! and `startup` depend on it rather than on each other.

use std::sync::Arc;

use actix_web::cookie::Key;
use tokio::sync::Notify;

use crate::auth::password::Passwords;
use crate::config::Config;
use crate::db::DbPool;
use crate::links::Links;
use crate::mail::Mailer;
use crate::services::members::directory::DepartmentCache;

/// What every request can reach: the pool, the configuration, the hashing service.
pub struct AppState {
    pub pool: DbPool,
    pub config: Config,
    pub passwords: Passwords,
    pub mailer: Mailer,
    /// Wakes the mail worker right after a transaction queued mail.
    pub mail_wakeup: Arc<Notify>,
    pub departments: DepartmentCache,
    /// The session cookie's key: lets a handler tell which stored session is asking
    /// (`session_store::current_id_hash`) without the key ever leaving the process.
    pub session_cookie_key: Key,
    /// Absolute links for mail, from the configured base URL.
    pub links: Links,
}
