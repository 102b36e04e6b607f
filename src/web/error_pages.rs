//! Error pages with the site's chrome: a refusal or a missing page keeps the top bar —
//! who is signed in, the workspace's navigation, sign out — so the person is not stranded.
//! `AppError` renders only a bare page (it has no request at hand); this middleware, inside
//! the session middleware, renders client errors again with what the request tells.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::error::{AppError, ErrorView};
use crate::services::access::{self, Loaded};
use crate::state::AppState;
use crate::web::session::AppSession;
use crate::web::{db, Chrome};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    view: &'a ErrorView,
}

/// Renders a client error's page again with the request's chrome.
pub async fn dress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // An error a middleware returned (CSRF) has no response, nor request, left to dress:
    // it keeps the bare page.
    let response = next.call(req).await?;
    let view = match response
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
    {
        Some(err) if is_client_error(err) => err.view(),
        _ => return Ok(response.map_into_boxed_body()),
    };
    let response = response.map_into_boxed_body();
    let chrome = match chrome_for(response.request(), view.title).await {
        Ok(chrome) => chrome,
        // The bare page already says what happened; a failure here must not hide it.
        Err(_) => return Ok(response),
    };
    let Ok(body) = (ErrorPage {
        chrome,
        view: &view,
    })
    .render() else {
        return Ok(response);
    };
    let (request, original) = response.into_parts();
    let mut dressed = HttpResponse::build(original.status());
    for (name, value) in original.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            dressed.append_header((name.clone(), value.clone()));
        }
    }
    let dressed = dressed.content_type("text/html; charset=utf-8").body(body);
    Ok(ServiceResponse::new(request, dressed))
}

/// 4xx with a page of its own (not the 303 to sign in). Server errors keep the bare page:
/// the database that would dress them may be what failed.
fn is_client_error(err: &AppError) -> bool {
    use actix_web::ResponseError;
    let status = err.status_code();
    status.is_client_error() && status != StatusCode::SEE_OTHER
}

/// The chrome the request's page would have had: the workspace's navigation for one of its
/// members, the account's top bar for anyone signed in, the public one otherwise.
async fn chrome_for(req: &HttpRequest, title: &'static str) -> Result<Chrome, AppError> {
    let session = AppSession::from(&req.get_session());
    let (Some(account_id), Some(state)) = (
        session.account_id(),
        req.app_data::<web::Data<AppState>>().cloned(),
    ) else {
        // No form on the public chrome: no token (and no session made for a stray 404).
        return Ok(Chrome::public(title, String::new(), None));
    };
    let csrf = session.csrf_token()?;
    let slug = workspace_slug(req.path());
    let seen = db(&state.pool, move |conn| {
        if let Some(slug) = slug {
            if let Loaded::Member(access) = access::load(conn, account_id, &slug)? {
                return Ok(Seen::Member(access));
            }
        }
        let summary = access::account_summary(conn, account_id)?;
        let workspaces = access::workspace_links(conn, account_id)?;
        Ok(Seen::Account(summary.map(|s| s.name), workspaces))
    })
    .await?;
    Ok(match seen {
        Seen::Member(access) => Chrome::for_workspace(title.to_string(), "", &access, csrf, None),
        Seen::Account(name, workspaces) => {
            let mut chrome = Chrome::public(title, csrf, None);
            chrome.signed_in = name;
            chrome.workspaces = workspaces;
            chrome
        }
    })
}

enum Seen {
    Member(Box<access::Access>),
    Account(Option<String>, Vec<access::WorkspaceLink>),
}

/// `acme` of `/w/acme/…`.
fn workspace_slug(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/w/")?;
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then(|| slug.to_string())
}
