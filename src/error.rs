//! Two types: [`AppError`] for every failure (it maps itself to a status and an HTML
//! page; `Display` is what a person sees, `Debug` with the cause is what the log gets) and
//! [`Refusal`] for a rule that said no. Services return [`ServiceResult`], which carries
//! either, so `?` works throughout; the web edge turns refusals into the re-rendered page
//! with 422 (`web::forms::split`), and failures into their error page.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::permissions::Permission;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("Page not found")]
    NotFound,
    #[error("You don't have permission to do that")]
    Forbidden(Box<Refused>),
    #[error("Sign in to continue")]
    SignInRequired { next: String },
    #[error("{0}")]
    BadRequest(String),
    #[error("This form has expired or did not come from this site. Go back, reload the page and try again.")]
    Csrf,
    #[error("Too many attempts. Wait a few minutes and try again.")]
    TooManyRequests,
    /// The request no longer fits the current state (the member was removed meanwhile).
    #[error("{0}")]
    Conflict(String),
    #[error("Something went wrong on our side. Try again in a moment.")]
    Database(#[from] diesel::result::Error),
    #[error("The database is busy. Try again in a moment.")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("Something went wrong on our side. Try again in a moment.")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

/// A rule said no: nothing was changed, and the person can correct the request. `field`
/// names the form field the message belongs beside; `None` is about the whole request
/// (shown at the top of the page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub field: Option<&'static str>,
    pub message: String,
}

impl Refusal {
    /// A refusal shown beside `field`.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            field: Some(field),
            message: message.into(),
        }
    }

    /// A refusal of the whole request (a button with no fields, a state that forbids it).
    pub fn general(message: impl Into<String>) -> Self {
        Refusal {
            field: None,
            message: message.into(),
        }
    }
}

/// What a service returns when it did not succeed.
#[derive(Debug)]
pub enum ServiceError {
    /// One or more rules said no; the transaction (if any) was rolled back.
    Refused(Vec<Refusal>),
    /// Anything else: not found, forbidden, the database.
    Fatal(AppError),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// Refused beside `field`.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Refused(vec![Refusal::field(field, message)])
    }

    /// Refused as a whole.
    pub fn general(message: impl Into<String>) -> Self {
        ServiceError::Refused(vec![Refusal::general(message)])
    }
}

/// Refused when any refusal was collected: `refuse_any(found)?` after checking every field.
pub fn refuse_any(refusals: Vec<Refusal>) -> ServiceResult<()> {
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Refused(refusals))
    }
}

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> Self {
        ServiceError::Refused(vec![refusal])
    }
}

impl<E: Into<AppError>> From<E> for ServiceError {
    fn from(err: E) -> Self {
        ServiceError::Fatal(err.into())
    }
}

/// Why an action was refused, for the 403 page's "why" line and its permission request link.
#[derive(Debug, Default)]
pub struct Refused {
    /// The permission that would have allowed it.
    pub missing: Option<Permission>,
    /// Another reason, when holding the permission is not enough.
    pub reason: Option<String>,
    /// The workspace's slug, so the page can offer to ask for the permission there.
    pub workspace: Option<String>,
}

impl AppError {
    pub fn forbidden(missing: Permission) -> Self {
        AppError::Forbidden(Box::new(Refused {
            missing: Some(missing),
            ..Refused::default()
        }))
    }

    /// Refused in a workspace: the page links to a permission request there.
    pub fn forbidden_in(workspace_slug: &str, missing: Permission) -> Self {
        AppError::Forbidden(Box::new(Refused {
            missing: Some(missing),
            workspace: Some(workspace_slug.to_string()),
            ..Refused::default()
        }))
    }

    /// Refused for a reason other than a missing permission.
    pub fn forbidden_because(reason: impl Into<String>) -> Self {
        AppError::Forbidden(Box::new(Refused {
            reason: Some(reason.into()),
            ..Refused::default()
        }))
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    /// A database error that only says two transactions met (a deadlock, a serialization
    /// failure, a unique key taken by a concurrent insert): the request may simply be sent
    /// again, so it answers 409 with that advice, never 500.
    fn is_concurrent_conflict(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            AppError::Database(Error::DatabaseError(kind, info)) => match kind {
                DatabaseErrorKind::SerializationFailure | DatabaseErrorKind::UniqueViolation => {
                    true
                }
                // PostgreSQL's 40P01 and SQLite's SQLITE_BUSY (the write lock still taken
                // after the busy timeout), which diesel reports as `Unknown`.
                DatabaseErrorKind::Unknown => {
                    let message = info.message();
                    message.starts_with("deadlock detected")
                        || message.starts_with("database is locked")
                }
                _ => false,
            },
            _ => false,
        }
    }
}

const CONCURRENT_CHANGE: &str =
    "Someone changed this at the same moment. Reload the page and try again.";

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        AppError::internal(err)
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        AppError::internal(format!("template: {err}"))
    }
}

/// What an error page says: built from the error alone, so it can be rendered bare here
/// (no request at hand) and again with the page chrome by `web::error_pages`.
#[derive(Clone, Debug)]
pub struct ErrorView {
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub missing: Option<Permission>,
    pub reason: Option<String>,
    pub request_href: Option<String>,
}

/// The error page as it is without a request at hand. `web::error_pages` replaces it with
/// the full page (the layout, who is signed in, the workspace's navigation); this is what is
/// left should a response ever skip that middleware.
#[derive(Template)]
#[template(
    source = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{{ view.title }} · Gatehouse</title></head><body><main><h1>{{ view.title }}</h1><p>{{ view.message }}</p><p><a href=\"/\">Gatehouse</a></p></main></body></html>",
    ext = "html"
)]
struct BareErrorPage<'a> {
    view: &'a ErrorView,
}

impl AppError {
    /// What the error's page says.
    pub fn view(&self) -> ErrorView {
        let status = self.status_code();
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::TOO_MANY_REQUESTS => "Slow down",
            StatusCode::CONFLICT => "Changed meanwhile",
            StatusCode::SERVICE_UNAVAILABLE => "Busy",
            _ => "Something went wrong",
        };
        let message = match self {
            AppError::NotFound => {
                "There is nothing here, or you do not have access to it.".to_string()
            }
            concurrent if concurrent.is_concurrent_conflict() => CONCURRENT_CHANGE.to_string(),
            other => other.to_string(),
        };
        let refused = match self {
            AppError::Forbidden(refused) => Some(refused.as_ref()),
            _ => None,
        };
        let missing = refused.and_then(|r| r.missing);
        let request_href = match (refused.and_then(|r| r.workspace.as_deref()), missing) {
            (Some(slug), Some(permission)) => Some(format!(
                "/w/{slug}/requests/new?permission={}",
                permission.key()
            )),
            _ => None,
        };
        ErrorView {
            status: status.as_u16(),
            title,
            message,
            missing,
            reason: refused.and_then(|r| r.reason.clone()),
            request_href,
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Database(_) if self.is_concurrent_conflict() => StatusCode::CONFLICT,
            AppError::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::SignInRequired { next } = self {
            let location = format!(
                "/login?next={}",
                percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
            );
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish();
        }
        if status.is_server_error() {
            tracing::error!(error = ?self, "request failed");
        } else if self.is_concurrent_conflict() {
            tracing::warn!(error = ?self, "concurrent change refused");
        }
        let view = self.view();
        let body = BareErrorPage { view: &view }
            .render()
            .unwrap_or_else(|_| format!("{} {}", view.status, view.title));
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}
