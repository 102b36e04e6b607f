//! HTTP: one module per screen (handlers, their forms, their templates), plus the
//! shared page chrome, flash messages and response helpers.

pub mod accept;
pub mod account;
pub mod auth_pages;
pub mod forms;
pub mod invites;
pub mod system;
pub mod users;

use actix_session::Session;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::db::{DbConn, DbPool};
use crate::error::{AppError, AppResult};
use crate::permissions::Permission;
use crate::services::access::{Access, WorkspaceLink};

/// Runs database work on the blocking pool; a pooled connection never crosses an `.await`.
pub async fn db<T, F>(pool: &DbPool, work: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        work(&mut conn)
    })
    .await?
}

/// The client address: the TCP peer (a proxy's forwarded header is not trusted).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// Percent-encodes a value for a query string.
pub fn encode_query_value(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Info,
    Error,
}

/// A one-time message shown on the next page (after a 303).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

impl Flash {
    pub fn css_class(&self) -> &'static str {
        match self.kind {
            FlashKind::Success => "flash flash-success",
            FlashKind::Info => "flash flash-info",
            FlashKind::Error => "flash flash-error",
        }
    }
}

const FLASH_KEY: &str = "flash";

pub fn set_flash(session: &Session, kind: FlashKind, message: impl Into<String>) -> AppResult<()> {
    session
        .insert(
            FLASH_KEY,
            Flash {
                kind,
                message: message.into(),
            },
        )
        .map_err(AppError::internal)
}

pub fn take_flash(session: &Session) -> Option<Flash> {
    take(session, FLASH_KEY)
}

/// Removes and returns a one-time session value. Checks first: `Session::remove` marks the
/// session changed even when the key is absent, which would write the session row (and
/// send a cookie) on every page view.
pub fn take<T: serde::de::DeserializeOwned>(session: &Session, key: &str) -> Option<T> {
    if !session.contains_key(key) {
        return None;
    }
    session.remove_as::<T>(key).and_then(Result::ok)
}

/// 303 See Other to a local path.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}

pub fn render<T: Template>(page: &T) -> AppResult<HttpResponse> {
    render_status(page, actix_web::http::StatusCode::OK)
}

pub fn render_status<T: Template>(
    page: &T,
    status: actix_web::http::StatusCode,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

pub struct NavItem {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// Everything the base layout needs: who is signed in, where, the navigation, the CSRF
/// token for forms in the layout (sign out) and the flash message.
pub struct Chrome {
    pub title: String,
    pub signed_in: Option<String>,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub workspace: Option<WorkspaceLink>,
    pub workspaces: Vec<WorkspaceLink>,
    pub nav: Vec<NavItem>,
    /// The page is the signed-in person's own account page (the top bar's "Account").
    pub account_current: bool,
}

impl Chrome {
    /// A page outside any workspace (sign-in, setup, the workspace list).
    pub fn public(title: impl Into<String>, csrf: String, flash: Option<Flash>) -> Self {
        Chrome {
            title: title.into(),
            signed_in: None,
            csrf,
            flash,
            workspace: None,
            workspaces: Vec::new(),
            nav: Vec::new(),
            account_current: false,
        }
    }

    pub fn for_workspace(
        title: String,
        section: &'static str,
        access: &Access,
        csrf: String,
        flash: Option<Flash>,
    ) -> Self {
        let base = format!("/w/{}", access.workspace.slug);
        let mut nav = Vec::new();
        // Only screens that exist, and only those the member may open.
        if access.perms.allows(Permission::MembersView) {
            nav.push(NavItem {
                label: "Users",
                href: format!("{base}/users"),
                current: section == "users",
            });
        }
        if access.perms.allows(Permission::MembersInvite) {
            nav.push(NavItem {
                label: "Invites",
                href: format!("{base}/invites"),
                current: section == "invites",
            });
        }
        Chrome {
            title,
            signed_in: Some(access.account.name.clone()),
            csrf,
            flash,
            workspace: Some(WorkspaceLink {
                slug: access.workspace.slug.clone(),
                name: access.workspace.name.clone(),
            }),
            workspaces: access.workspaces.clone(),
            nav,
            account_current: false,
        }
    }

    pub fn has_switcher(&self) -> bool {
        self.workspaces.len() > 1
    }

    pub fn is_current_workspace(&self, slug: &str) -> bool {
        self.workspace.as_ref().is_some_and(|w| w.slug == slug)
    }
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(auth_pages::home))
        .route("/healthz", web::get().to(system::healthz))
        .route("/static/{file}", web::get().to(system::static_file))
        .route("/login", web::get().to(auth_pages::login_form))
        .route("/login", web::post().to(auth_pages::login))
        .route("/logout", web::post().to(auth_pages::logout))
        .route("/setup", web::get().to(auth_pages::setup_form))
        .route("/setup", web::post().to(auth_pages::setup))
        .route("/w/{ws}", web::get().to(users::workspace_home))
        .route("/w/{ws}/users", web::get().to(users::list))
        .route("/w/{ws}/users/{id}", web::get().to(users::detail))
        .route("/w/{ws}/invites", web::get().to(invites::list))
        .route("/w/{ws}/invites", web::post().to(invites::create))
        .route(
            "/w/{ws}/invites/{id}/resend",
            web::post().to(invites::resend),
        )
        .route(
            "/w/{ws}/invites/{id}/revoke",
            web::post().to(invites::revoke),
        )
        .route("/invite/{token}", web::get().to(accept::show))
        .route("/invite/{token}", web::post().to(accept::accept))
        .route("/account", web::get().to(account::show))
        .route("/account/name", web::post().to(account::rename))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route("/account/emails", web::post().to(account::add_email))
        .route(
            "/account/emails/verify/{token}",
            web::get().to(account::verify_form),
        )
        .route(
            "/account/emails/verify/{token}",
            web::post().to(account::verify),
        )
        .route(
            "/account/emails/{eid}/primary",
            web::post().to(account::make_primary),
        )
        .route(
            "/account/emails/{eid}/delete",
            web::post().to(account::remove_email),
        )
        .route(
            "/account/sessions/end-others",
            web::post().to(account::end_other_sessions),
        )
        .route(
            "/account/sessions/{id}/end",
            web::post().to(account::end_session),
        )
        .route("/w/{ws}/leave", web::post().to(account::leave))
        .route("/forgot-password", web::get().to(account::forgot_form))
        .route("/forgot-password", web::post().to(account::forgot))
        .route("/reset/{token}", web::get().to(account::reset_form))
        .route("/reset/{token}", web::post().to(account::reset));
}
