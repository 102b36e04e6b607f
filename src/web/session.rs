//! The session, typed: what Gatehouse keeps in a visitor's session — who is signed in
//! (with the device and client address the store copies into its columns), the flash,
//! and other one-time values — each under its one key, read and written only here (the
//! CSRF token is `auth::csrf`'s own). Handlers take an [`AppSession`], or find it in the
//! gate (`SignedIn::session`, `WorkspaceCtx::session`); it dereferences to actix's
//! `Session` for what actix does itself (`purge`, `renew`).

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::{csrf, session_store};
use crate::error::{AppError, AppResult};
use crate::web::{client_ip, Flash, FlashKind};

/// A value kept for the next request only: [`AppSession::put`] it, the next page
/// [`AppSession::take`]s it (and it is gone).
pub struct OneTime<T> {
    key: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T> OneTime<T> {
    pub const fn new(key: &'static str) -> Self {
        OneTime {
            key,
            value: PhantomData,
        }
    }
}

/// The message the next page shows (after a 303), or a refusal shown at the top.
pub const FLASH: OneTime<Flash> = OneTime::new("flash");

/// The visitor's session.
#[derive(Clone)]
pub struct AppSession(Session);

impl From<&Session> for AppSession {
    fn from(session: &Session) -> Self {
        AppSession(session.clone())
    }
}

impl Deref for AppSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.0
    }
}

impl FromRequest for AppSession {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(AppSession(req.get_session())))
    }
}

/// The longest user agent kept for the sessions list.
const MAX_USER_AGENT_CHARS: usize = 200;

impl AppSession {
    /// The signed-in account, if any.
    pub fn account_id(&self) -> Option<i64> {
        self.0.get::<i64>(session_store::ACCOUNT_ID).ok().flatten()
    }

    /// Starts a signed-in session for `account_id`: a new session id (no fixation), a
    /// new CSRF token, and the device and client address `req` came from.
    pub fn sign_in(&self, account_id: i64, req: &HttpRequest) -> AppResult<()> {
        self.0.renew();
        let agent: String = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        self.insert(session_store::ACCOUNT_ID, account_id)?;
        self.insert(session_store::USER_AGENT, agent)?;
        self.insert(session_store::CLIENT_IP, client_ip(req).unwrap_or_default())?;
        csrf::rotate(&self.0)?;
        Ok(())
    }

    /// Carries on under a new key and a new CSRF token (after a password change), so a
    /// copy of the old cookie is worthless.
    pub fn rekey(&self) -> AppResult<()> {
        self.0.renew();
        csrf::rotate(&self.0)?;
        Ok(())
    }

    /// Signs out: the session's row is deleted, so a copied cookie stops working too.
    pub fn sign_out(&self) {
        self.0.purge();
    }

    /// Signs out and says so on the next page: the session's row is deleted (as by
    /// [`Self::sign_out`]) and the browser goes on under a new, anonymous session that
    /// holds only the notice.
    pub fn sign_out_with_notice(&self) -> AppResult<()> {
        self.start_over();
        self.flash(FlashKind::Info, "You are signed out.")
    }

    /// Forgets everything this browser held and goes on as a fresh, anonymous session
    /// (after a password reset ended every session of the account).
    pub fn start_over(&self) {
        self.0.clear();
        self.0.renew();
    }

    /// Keeps `value` for the next request.
    pub fn put<T: Serialize>(&self, slot: &OneTime<T>, value: T) -> AppResult<()> {
        self.insert(slot.key, value)
    }

    /// Removes and returns a one-time value.
    pub fn take<T: DeserializeOwned>(&self, slot: &OneTime<T>) -> Option<T> {
        take_key(&self.0, slot.key)
    }

    /// A message for the next page.
    pub fn flash(&self, kind: FlashKind, message: impl Into<String>) -> AppResult<()> {
        self.put(
            &FLASH,
            Flash {
                kind,
                message: message.into(),
            },
        )
    }

    /// The message left for this page, if any.
    pub fn take_flash(&self) -> Option<Flash> {
        self.take(&FLASH)
    }

    /// The session's CSRF token, for the page's forms.
    pub fn csrf_token(&self) -> AppResult<String> {
        csrf::token(&self.0)
    }

    fn insert(&self, key: &str, value: impl Serialize) -> AppResult<()> {
        self.0.insert(key, value).map_err(AppError::internal)
    }
}

/// Removes and returns the one-time value under `key`. Checks first: `Session::remove`
/// marks the session changed even when the key is absent, which would write the session
/// row (and send a cookie) on every page view.
pub(crate) fn take_key<T: DeserializeOwned>(session: &Session, key: &str) -> Option<T> {
    if !session.contains_key(key) {
        return None;
    }
    session.remove_as::<T>(key).and_then(Result::ok)
}
