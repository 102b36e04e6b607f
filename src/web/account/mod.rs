//! The signed-in person's own account (`/account`), one concern per module as in
//! `services::account`: [`profile`] (the name), [`password`], [`emails`] (the addresses
//! and their verification link), [`sessions`], [`memberships`] (leaving a workspace);
//! and, signed out, [`reset`] (`/forgot-password`, `/reset/{token}`). Here is the account
//! page, which every form on it renders again when a rule says no (422, each message
//! beside its own form), and the page a mailed link opens. Link pages change nothing on
//! GET: the token is used by the POST of the page's button.

mod emails;
mod memberships;
mod password;
mod profile;
mod reset;
mod sessions;

pub use emails::{add_email, make_primary, remove_email, verify, verify_form};
pub use memberships::leave;
pub use password::change_password;
pub use profile::rename;
pub use reset::{forgot, forgot_form, reset, reset_form, FORGOT_SENT};
pub use sessions::{end_other_sessions, end_session};

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

use crate::auth::reauth;
use crate::error::{AppResult, Refusal};
use crate::links::Links;
use crate::services::access::WorkspaceLink;
use crate::services::account::{self, Link, LinkProblem, Overview};
use crate::state::AppState;
use crate::web::forms::FieldErrors;
use crate::web::session::AppSession;
use crate::web::{db, render_status, see_other, Chrome, FlashKind, SignedIn, REFUSED};

/// What the account page shows besides the account itself: values typed into a refused
/// form and the messages beside its fields (passwords are never echoed).
#[derive(Default)]
pub struct AccountForms {
    name: Option<String>,
    name_errors: FieldErrors,
    password_errors: FieldErrors,
    email: String,
    email_errors: FieldErrors,
    /// Keyed `primary-{id}`, `remove-{id}`, `leave-{slug}`.
    row_errors: FieldErrors,
}

impl AccountForms {
    /// The name form refused, with what was typed.
    fn name(typed: &str, errors: FieldErrors) -> Self {
        AccountForms {
            name: Some(typed.trim().to_string()),
            name_errors: errors,
            ..Default::default()
        }
    }

    fn password(errors: FieldErrors) -> Self {
        AccountForms {
            password_errors: errors,
            ..Default::default()
        }
    }

    /// The add-an-address form refused, with what was typed.
    fn email(typed: &str, errors: FieldErrors) -> Self {
        AccountForms {
            email: typed.trim().to_string(),
            email_errors: errors,
            ..Default::default()
        }
    }

    /// A row's button refused (`primary-{id}`, `remove-{id}`, `leave-{slug}`): every
    /// message beside that row.
    fn row(key: &str, refusals: Vec<Refusal>) -> Self {
        let mut forms = AccountForms::default();
        let said: Vec<String> = refusals.into_iter().map(|r| r.message).collect();
        forms.row_errors.add(key, said.join(" "));
        forms
    }
}

#[derive(Template)]
#[template(path = "account/page.html")]
struct AccountPage {
    chrome: Chrome,
    overview: Overview,
    name: String,
    forms: AccountForms,
}

impl AccountPage {
    fn row_error(&self, kind: &str, id: &i64) -> Option<&str> {
        self.forms.row_errors.get(&format!("{kind}-{id}"))
    }

    fn leave_error(&self, slug: &str) -> Option<&str> {
        self.forms.row_errors.get(&format!("leave-{slug}"))
    }

    fn has_other_sessions(&self) -> bool {
        self.overview.sessions.iter().any(|s| !s.current)
    }
}

pub(crate) fn links(state: &AppState) -> Links {
    state.links.clone()
}

/// `errors` with each refusal beside the field it names. For refusals that name one (a
/// new password's, the current password's); the form's own field errors come first.
pub(crate) fn beside(
    mut errors: FieldErrors,
    refusals: impl IntoIterator<Item = Refusal>,
) -> FieldErrors {
    for refusal in refusals {
        errors.add(refusal.field.unwrap_or_default(), refusal.message);
    }
    errors
}

/// The current password, checked by the one throttled re-authentication
/// (`auth::reauth`): the stored hash it matched, or the refusal for its field.
async fn verified(who: &SignedIn, password: String) -> AppResult<Result<String, Refusal>> {
    reauth::verify_current_password(&who.state, &who.actor, who.account_id, password).await
}

/// Renders `/account` for `account_id` (with `current`, the hash of the session asking),
/// with a refused form's values and errors. Refusals of the whole request wait in the
/// flash and are shown at the top.
async fn render_page(
    session: &AppSession,
    state: &AppState,
    account_id: i64,
    current: Option<String>,
    forms: AccountForms,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let idle = state.config.session_idle_minutes;
    let overview = db(&state.pool, move |conn| {
        account::overview(conn, account_id, current.as_deref(), idle)
    })
    .await?;
    let Some(overview) = overview else {
        session.sign_out();
        return Ok(see_other("/login"));
    };
    let mut chrome = Chrome::public("Your account", session.csrf_token()?, session.take_flash());
    chrome.signed_in = Some(overview.account.name.clone());
    chrome.workspaces = overview
        .workspaces
        .iter()
        .map(|w| WorkspaceLink {
            slug: w.slug.clone(),
            name: w.name.clone(),
        })
        .collect();
    chrome.account_current = true;
    let name = forms
        .name
        .clone()
        .unwrap_or_else(|| overview.account.name.clone());
    let page = AccountPage {
        chrome,
        overview,
        name,
        forms,
    };
    render_status(&page, status)
}

/// The account page again because a rule said no (422), the refusals in `forms`.
async fn refused_page(who: &SignedIn, forms: AccountForms) -> AppResult<HttpResponse> {
    render_page(
        &who.session,
        &who.state,
        who.account_id,
        who.session_hash(),
        forms,
        REFUSED,
    )
    .await
}

/// Done: back to `/account` with the message.
fn done(session: &AppSession, message: impl Into<String>) -> AppResult<HttpResponse> {
    session.flash(FlashKind::Success, message)?;
    Ok(see_other("/account"))
}

/// GET /account — signed in.
pub async fn show(who: SignedIn) -> AppResult<HttpResponse> {
    let forms = AccountForms::default();
    let current = who.session_hash();
    render_page(
        &who.session,
        &who.state,
        who.account_id,
        current,
        forms,
        StatusCode::OK,
    )
    .await
}

/// The page a mailed link opens (a verification, a reset).
#[derive(Template)]
#[template(path = "account/token.html")]
struct TokenPage {
    chrome: Chrome,
    heading: &'static str,
    /// The address being confirmed, or empty for a reset.
    address: String,
    problem: Option<String>,
    action: String,
    /// A reset form (`new_password`, `new_password_confirm`) rather than one button.
    reset: bool,
    errors: FieldErrors,
}

/// How a link that cannot be used answers: unknown 404, used or expired 410, someone
/// else's 403, beaten by another account 409.
fn problem_status(problem: LinkProblem) -> StatusCode {
    match problem {
        LinkProblem::Unknown => StatusCode::NOT_FOUND,
        LinkProblem::Used | LinkProblem::Expired => StatusCode::GONE,
        LinkProblem::WrongAccount => StatusCode::FORBIDDEN,
        LinkProblem::TakenElsewhere => StatusCode::CONFLICT,
    }
}

/// What a link's page shows: the usable link's value, or why it cannot be used with its
/// status. A link still usable after its POST was refused (it changed meanwhile) says the
/// refusal, 409.
fn link_view<T>(link: Link<T>, refusals: Option<Vec<Refusal>>) -> Result<T, (StatusCode, String)> {
    match (link, refusals) {
        (Link::Usable(value), None) => Ok(value),
        (Link::Usable(_), Some(refusals)) => {
            let said: Vec<String> = refusals.into_iter().map(|r| r.message).collect();
            Err((StatusCode::CONFLICT, said.join(" ")))
        }
        (Link::Unusable(problem), _) => {
            Err((problem_status(problem), problem.message().to_string()))
        }
    }
}
