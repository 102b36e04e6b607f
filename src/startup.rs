//! Building the application: the same function serves `main` and the tests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, Compress, DefaultHeaders, Logger};
use actix_web::{web, App, HttpServer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::TimeDelta;
use rand::RngCore;
use sha2::{Digest, Sha512};
use tokio::sync::Notify;

use crate::auth::csrf;
use crate::auth::password::Passwords;
use crate::auth::session_store::{self, DbSessionStore};
use crate::config::Config;
use crate::db::{self, DbPool};
use crate::mail::{worker, Mailer};
use crate::models::{self, session, setting};
use crate::services::account::SESSION_ABSOLUTE_HOURS;
use crate::services::members::directory::DepartmentCache;
use crate::services::workspaces;
use crate::state::AppState;
use crate::web::{self as pages, system};

pub struct Application {
    port: u16,
    server: Server,
    /// Printed at start on an empty database: the one-time `/setup` link's token.
    pub setup_token: Option<String>,
    pub state: web::Data<AppState>,
}

/// The session cookie key: derived from `GATEHOUSE_SECRET_KEY`, or generated once and kept
/// in the database so every instance and restart shares it.
fn session_key(pool: &DbPool, config: &Config) -> Result<Key, String> {
    if let Some(secret) = &config.secret_key {
        if secret.len() < 32 {
            return Err("GATEHOUSE_SECRET_KEY must be at least 32 characters".into());
        }
        return Ok(Key::from(Sha512::digest(secret.as_bytes()).as_slice()));
    }
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let stored = setting::get(&mut conn, setting::SESSION_KEY).map_err(|e| e.to_string())?;
    let encoded = match stored {
        Some(value) => value,
        None => {
            let mut bytes = [0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let value = STANDARD.encode(bytes);
            setting::put(&mut conn, setting::SESSION_KEY, &value).map_err(|e| e.to_string())?;
            value
        }
    };
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| format!("stored session key: {e}"))?;
    Key::try_from(bytes.as_slice()).map_err(|e| format!("stored session key: {e}"))
}

/// Removes the token part of paths that carry one, so secrets never reach the access log.
/// The path is read as the router reads it (percent-decoded, repeated slashes squeezed), so
/// `/%69nvite/…` or `//invite/…` are recognised too; and any other segment that looks like
/// a token (32+ base64url characters with an upper-case letter — slugs are lower-case) is
/// masked as well, whatever route it came on.
pub fn redact_path(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    let normalized = format!("/{}", segments.join("/"));
    for prefix in ["/invite/", "/join/", "/account/emails/verify/", "/reset/"] {
        if normalized.starts_with(prefix) || format!("{normalized}/") == prefix {
            return format!("{prefix}[token]");
        }
    }
    let looks_like_token = |segment: &str| {
        segment.len() >= 32
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'%')
            && segment.bytes().any(|b| b.is_ascii_uppercase())
    };
    if segments.iter().any(|s| looks_like_token(s)) {
        let masked: Vec<&str> = segments
            .iter()
            .map(|s| if looks_like_token(s) { "[token]" } else { s })
            .collect();
        return format!("/{}", masked.join("/"));
    }
    path.to_string()
}

fn security_headers(config: &Config) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'; form-action 'self'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add((
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=()",
        ))
        // Signed-in pages must never be cached; static files set their own policy.
        .add(("Cache-Control", "no-store"));
    if config.is_https() {
        headers = headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ));
    }
    headers
}

impl Application {
    pub fn build(config: Config) -> Result<Self, String> {
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
        Self::build_with_listener(config, listener)
    }

    pub fn build_with_listener(config: Config, listener: TcpListener) -> Result<Self, String> {
        let pool_size = (config.workers as u32 * 4).clamp(4, 16);
        let pool = db::connect(&config.database, pool_size)?;
        let setup_token = {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            db::migrate(&mut conn)?;
            workspaces::issue_setup_token(&mut conn).map_err(|e| format!("{e:?}"))?
        };
        let key = session_key(&pool, &config)?;
        let passwords = Passwords::new((num_cpus::get() / 2).max(1));
        let mailer = Mailer::from_settings(config.smtp_url.as_deref(), &config.mail_dir)?;
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            config: config.clone(),
            passwords,
            mailer,
            mail_wakeup: Arc::new(Notify::new()),
            departments: DepartmentCache::default(),
            session_cookie_key: key.clone(),
            links: crate::links::Links::from_config(&config),
        });
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let idle = actix_web::cookie::time::Duration::minutes(config.session_idle_minutes);
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            let store = DbSessionStore::new(
                app_state.pool.clone(),
                app_state.config.session_idle_minutes,
            );
            let sessions = SessionMiddleware::builder(store, key.clone())
                .cookie_name(session_store::COOKIE_NAME.into())
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_secure(app_state.config.is_https())
                .cookie_path("/".into())
                .cookie_content_security(CookieContentSecurity::Private)
                .session_lifecycle(BrowserSession::default().state_ttl(idle))
                .build();
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(csrf::MAX_BODY_BYTES))
                .configure(pages::routes)
                .default_service(web::to(system::not_found))
                .wrap(from_fn(csrf::protect))
                // Inside the session middleware: error pages read who is signed in.
                .wrap(from_fn(pages::error_pages::dress))
                .wrap(sessions)
                .wrap(security_headers(&app_state.config))
                .wrap(
                    Logger::new("%a %{method}xi %{path}xi %s %b %Dms")
                        .custom_request_replace("method", |req| req.method().to_string())
                        .custom_request_replace("path", |req| redact_path(req.path())),
                )
                // gzip or brotli, as the client accepts. Safe for pages carrying the CSRF
                // token because it is masked afresh for every page (`csrf::token`).
                .wrap(Compress::default())
        })
        .workers(config.workers.max(1))
        // As many blocking threads per worker as it has pooled connections: database work
        // is CPU-bound on few cores, and more threads only queue on the pool's lock and
        // add context switches; waiting tasks queue in the runtime instead.
        .worker_max_blocking_threads((pool_size as usize / config.workers.max(1)).max(2))
        .listen(listener)
        .map_err(|e| e.to_string())?
        .run();
        Ok(Application {
            port,
            server,
            setup_token,
            state,
        })
    }

    /// Stops the server (tests stop it before dropping their database).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped, delivering mail and sweeping dead sessions every ten minutes.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        worker::spawn(
            self.state.pool.clone(),
            self.state.mailer.clone(),
            self.state.config.mail_from.clone(),
            self.state.mail_wakeup.clone(),
        );
        let pool = self.state.pool.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_secs(600));
            loop {
                tick.tick().await;
                let pool = pool.clone();
                let swept = web::block(move || -> Result<usize, String> {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    let now = models::now();
                    session::delete_dead(
                        &mut conn,
                        now,
                        now - TimeDelta::hours(SESSION_ABSOLUTE_HOURS),
                    )
                    .map_err(|e| e.to_string())
                })
                .await;
                if let Ok(Err(err)) = swept {
                    tracing::warn!(error = %err, "session sweep failed");
                }
            }
        });
        self.server.await
    }
}
