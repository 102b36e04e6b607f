//! HTTP: one module per screen (handlers, their forms, their templates), plus the
//! shared page chrome, flash messages and response helpers.

pub mod account;
pub mod audit;
pub mod auth_pages;
pub mod domains;
pub mod error_pages;
pub mod forms;
pub mod gate;
pub mod invites;
pub mod join;
pub mod members;
pub mod requests;
pub mod roles;
pub mod session;
pub mod settings;
pub mod system;

use actix_session::Session;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::db::{DbConn, DbPool};
use crate::error::{AppResult, Refusal, ServiceError, ServiceResult};
use crate::permissions::Permission;
use crate::services::access::{Access, WorkspaceLink};
use crate::web::forms::FieldErrors;

pub use gate::{SignedIn, WorkspaceCtx};

pub use crate::db::run as db;

/// Runs a service on the blocking pool and splits what it returned: a failure propagates
/// with `?` (its error page), a refusal comes back for [`refused`] to show.
pub async fn attempt<T, F>(pool: &DbPool, work: F) -> AppResult<Result<T, Vec<Refusal>>>
where
    F: FnOnce(&mut DbConn) -> ServiceResult<T> + Send + 'static,
    T: Send + 'static,
{
    let outcome = db(pool, move |conn| Ok(work(conn))).await?;
    match outcome {
        Ok(value) => Ok(Ok(value)),
        Err(ServiceError::Refused(refusals)) => Ok(Err(refusals)),
        Err(ServiceError::Fatal(err)) => Err(err),
    }
}

/// The status of a page re-rendered because a rule said no.
pub const REFUSED: actix_web::http::StatusCode = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;

/// The one way a refusal reaches the person (README, "Refusals"): the page they were on is
/// rendered again with [`REFUSED`]; each refusal that names a field is shown beside it (the
/// returned errors), the others at the top of the page (through the flash, which the
/// page's chrome takes).
pub fn refused(session: &Session, refusals: Vec<Refusal>) -> AppResult<FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut general = Vec::new();
    for refusal in refusals {
        match refusal.field {
            Some(field) => errors.add(field, refusal.message),
            None => general.push(refusal.message),
        }
    }
    if !general.is_empty() {
        set_flash(session, FlashKind::Error, general.join(" "))?;
    }
    Ok(errors)
}

/// The client address: the TCP peer (a proxy's forwarded header is not trusted).
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// The token of a token route (`/invite/{token}`, `/reset/{token}`,
/// `/account/emails/verify/{token}`): the last segment of the path exactly as the client
/// sent it — never a percent-decoded form — through `tokens::parse`. `None` is an unknown
/// link: the route answers its ordinary 404 page without any lookup.
pub fn path_token(req: &HttpRequest) -> Option<String> {
    let raw = req.uri().path().rsplit('/').next()?;
    crate::tokens::parse(raw).map(str::to_string)
}

/// The `token` of `/setup?token=`, from the raw query string, through `tokens::parse`.
pub fn query_token(req: &HttpRequest) -> Option<String> {
    let mut found = None;
    for pair in req.uri().query()?.split('&') {
        if let Some(raw) = pair.strip_prefix("token=") {
            if found.is_some() {
                return None;
            }
            found = Some(crate::tokens::parse(raw)?.to_string());
        }
    }
    found
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

/// A message for the next page (`session::AppSession::flash`).
pub fn set_flash(session: &Session, kind: FlashKind, message: impl Into<String>) -> AppResult<()> {
    session::AppSession::from(session).flash(kind, message)
}

/// The message left for this page (`session::AppSession::take_flash`).
pub fn take_flash(session: &Session) -> Option<Flash> {
    session::AppSession::from(session).take_flash()
}

/// Removes and returns a one-time session value (`session::AppSession::take` with a
/// `session::OneTime` is the typed form).
pub fn take<T: serde::de::DeserializeOwned>(session: &Session, key: &str) -> Option<T> {
    session::take_key(session, key)
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
    /// Things waiting there (the Requests tab), shown beside the label when any.
    pub waiting: i64,
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
                waiting: 0,
                href: format!("{base}/users"),
                current: section == "users",
            });
        }
        if access.perms.allows(Permission::MembersInvite) {
            nav.push(NavItem {
                label: "Invites",
                waiting: 0,
                href: format!("{base}/invites"),
                current: section == "invites",
            });
        }
        if access.perms.allows(Permission::MembersView) {
            nav.push(NavItem {
                label: "Roles",
                waiting: 0,
                href: format!("{base}/roles"),
                current: section == "roles",
            });
        }
        if access.perms.allows(Permission::SettingsManage) {
            nav.push(NavItem {
                label: "Settings",
                waiting: 0,
                href: format!("{base}/settings"),
                current: section == "settings",
            });
            nav.push(NavItem {
                label: "Requests",
                waiting: access.pending_requests,
                href: format!("{base}/requests"),
                current: section == "requests",
            });
        }
        if access.perms.allows(Permission::AuditView) {
            nav.push(NavItem {
                label: "Audit",
                waiting: 0,
                href: format!("{base}/audit"),
                current: section == "audit",
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

/// Declares every route once: `routes` registers them and `ROUTES` lists them, so tests
/// can walk the real table (e.g. every POST a Member must be refused).
macro_rules! route_table {
    (@method GET) => { web::get() };
    (@method POST) => { web::post() };
    ($($method:ident $path:literal => $handler:path),* $(,)?) => {
        /// Every route as (method, path pattern), in registration order.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// Registers every route.
        pub fn routes(cfg: &mut web::ServiceConfig) {
            $(cfg.route($path, route_table!(@method $method).to($handler));)*
        }
    };
}

route_table! {
    GET "/" => auth_pages::home,
    GET "/healthz" => system::healthz,
    GET "/static/{file}" => system::static_file,
    GET "/login" => auth_pages::login_form,
    POST "/login" => auth_pages::login,
    POST "/logout" => auth_pages::logout,
    GET "/setup" => auth_pages::setup_form,
    POST "/setup" => auth_pages::setup,
    GET "/w/{ws}" => members::list::workspace_home,
    GET "/w/{ws}/users" => members::list::list,
    GET "/w/{ws}/users/{id}" => members::page::detail,
    GET "/w/{ws}/users/{id}/permissions.json" => members::page::permissions_json,
    POST "/w/{ws}/users/{id}/roles" => members::edit::set_roles,
    POST "/w/{ws}/users/{id}/seat" => members::edit::set_seat,
    POST "/w/{ws}/users/{id}/manager" => members::edit::set_manager,
    POST "/w/{ws}/users/{id}/department" => members::edit::set_department,
    POST "/w/{ws}/users/{id}/modules" => members::edit::set_modules,
    POST "/w/{ws}/users/{id}/metadata" => members::edit::set_metadata,
    POST "/w/{ws}/users/{id}/name" => members::edit::set_name,
    POST "/w/{ws}/users/{id}/emails" => members::emails::add,
    POST "/w/{ws}/users/{id}/emails/{eid}/primary" => members::emails::make_primary,
    POST "/w/{ws}/users/{id}/emails/{eid}/delete" => members::emails::remove,
    POST "/w/{ws}/users/{id}/archive" => members::lifecycle::archive,
    POST "/w/{ws}/users/{id}/restore" => members::lifecycle::restore,
    POST "/w/{ws}/users/{id}/remove" => members::lifecycle::remove,
    POST "/w/{ws}/users/{id}/transfer-ownership" => members::lifecycle::transfer_ownership,
    POST "/w/{ws}/users/{id}" => members::edit::save,
    POST "/w/{ws}/users/{id}/grants/{gid}/revoke" => members::edit::revoke_grant,
    GET "/w/{ws}/invites" => invites::list,
    POST "/w/{ws}/invites" => invites::create,
    POST "/w/{ws}/invites/{id}/resend" => invites::resend,
    POST "/w/{ws}/invites/{id}/revoke" => invites::revoke,
    POST "/w/{ws}/invites/{id}/link" => invites::copy_link,
    GET "/w/{ws}/roles" => roles::list,
    GET "/w/{ws}/roles/new" => roles::new_form,
    POST "/w/{ws}/roles/new" => roles::create,
    GET "/w/{ws}/roles/{id}" => roles::edit_form,
    POST "/w/{ws}/roles/{id}" => roles::update,
    POST "/w/{ws}/roles/{id}/delete" => roles::delete,
    GET "/w/{ws}/settings" => settings::show,
    POST "/w/{ws}/settings" => settings::save,
    GET "/w/{ws}/requests" => requests::list,
    GET "/w/{ws}/requests/new" => requests::ask_form,
    POST "/w/{ws}/requests/new" => requests::ask,
    POST "/w/{ws}/requests/{id}/approve" => requests::approve,
    POST "/w/{ws}/requests/{id}/deny" => requests::deny,
    GET "/invite/{token}" => invites::accept::show,
    POST "/invite/{token}" => invites::accept::accept,
    GET "/account" => account::show,
    POST "/account/name" => account::rename,
    POST "/account/password" => account::change_password,
    POST "/account/emails" => account::add_email,
    GET "/account/emails/verify/{token}" => account::verify_form,
    POST "/account/emails/verify/{token}" => account::verify,
    POST "/account/emails/{eid}/primary" => account::make_primary,
    POST "/account/emails/{eid}/delete" => account::remove_email,
    POST "/account/sessions/end-others" => account::end_other_sessions,
    POST "/account/sessions/{id}/end" => account::end_session,
    POST "/w/{ws}/leave" => account::leave,
    GET "/forgot-password" => account::forgot_form,
    POST "/forgot-password" => account::forgot,
    GET "/reset/{token}" => account::reset_form,
    POST "/reset/{token}" => account::reset,
    GET "/w/{ws}/settings/link" => join::show,
    POST "/w/{ws}/settings/link" => join::save,
    POST "/w/{ws}/settings/link/rotate" => join::rotate,
    POST "/w/{ws}/requests/join/{id}/approve" => requests::approve_join,
    POST "/w/{ws}/requests/join/{id}/deny" => requests::deny_join,
    POST "/w/{ws}/requests/join/bulk" => requests::decide_joins,
    GET "/join/{token}" => join::show_join,
    POST "/join/{token}" => join::join,
    GET "/join/confirm/{token}" => join::confirm_form,
    POST "/join/confirm/{token}" => join::confirm,
    GET "/w/{ws}/settings/domains" => domains::show,
    POST "/w/{ws}/settings/domains" => domains::add,
    POST "/w/{ws}/settings/domains/{id}/check" => domains::check,
    POST "/w/{ws}/settings/domains/{id}/policy" => domains::policy,
    POST "/w/{ws}/settings/domains/{id}/delete" => domains::delete,
    GET "/w/{ws}/audit" => audit::log,
    POST "/w/{ws}/join" => auth_pages::join_workspace,
    GET "/w/{ws}/audit/diff" => audit::diff,
}
