//! The forgotten password, signed out: asking for a reset link (`/forgot-password`) and
//! choosing a new password through it (`/reset/{token}`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use validator::{Validate, ValidationError};

use crate::domain::{NewPassword, PlainText};
use crate::error::{AppResult, Refusal};
use crate::models::audit::Actor;
use crate::services::account::{self, Link, LinkProblem};
use crate::state::AppState;
use crate::web::forms::{parsed, validated, FieldErrors, StrictForm};
use crate::web::session::AppSession;
use crate::web::{
    attempt, client_ip, db, path_token, render_status, see_other, Chrome, FlashKind, REFUSED,
};

use super::{beside, link_view, links, TokenPage};

#[derive(Template)]
#[template(path = "account/forgot.html")]
struct ForgotPage {
    chrome: Chrome,
    email: String,
    sent: bool,
    errors: FieldErrors,
}

/// What the forgot-password page says after any request, whoever asked.
pub const FORGOT_SENT: &str = "If an account uses that address, we have sent it a link to choose a new password. The link works once, for 45 minutes. Check your inbox.";

fn forgot_page(
    session: &AppSession,
    email: String,
    sent: bool,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let chrome = Chrome::public("Forgot your password?", session.csrf_token()?, None);
    let page = ForgotPage {
        chrome,
        email,
        sent,
        errors,
    };
    render_status(&page, status)
}

/// GET /forgot-password — public.
pub async fn forgot_form(session: AppSession) -> AppResult<HttpResponse> {
    forgot_page(
        &session,
        String::new(),
        false,
        FieldErrors::default(),
        StatusCode::OK,
    )
}

/// Whatever was typed as the address, readable and not empty: an address or not, it is
/// answered the same way.
fn typed_address(input: &str) -> Result<(), ValidationError> {
    let message = match PlainText::parse(input) {
        Ok(typed) if !typed.is_empty() => return Ok(()),
        Ok(_) => "Enter the email address you sign in with".to_string(),
        Err(invalid) => invalid.to_string(),
    };
    Err(ValidationError::new("text").with_message(message.into()))
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ForgotForm {
    #[serde(default)]
    #[validate(custom(function = "typed_address"))]
    email: String,
}

/// POST /forgot-password — public; `email`. The same page and message whether or not an
/// account exists (and when throttled).
pub async fn forgot(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
    form: StrictForm<ForgotForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let typed = match validated(&form).and_then(|()| parsed(PlainText::parse(&form.email), "email"))
    {
        Ok(typed) => typed,
        Err(errors) => return forgot_page(&session, form.email, false, errors, REFUSED),
    };
    let (actor, links) = (Actor::anonymous(client_ip(&req)), links(&state));
    db(&state.pool, move |conn| {
        account::request_reset(conn, &actor, &links, &typed)
    })
    .await?;
    state.mail_wakeup.notify_one();
    forgot_page(
        &session,
        String::new(),
        true,
        FieldErrors::default(),
        StatusCode::OK,
    )
}

/// The reset link's page as the link stands (`None`: an unknown link, without any
/// lookup): the form, or why the link cannot be used (after `refusals` of its POST, if
/// any). `errors` are the form's; with them the page answers 422.
async fn reset_page(
    session: &AppSession,
    state: &AppState,
    token: Option<String>,
    errors: FieldErrors,
    refusals: Option<Vec<Refusal>>,
) -> AppResult<HttpResponse> {
    let action = format!("/reset/{}", token.as_deref().unwrap_or_default());
    let link = match token {
        Some(token) => db(&state.pool, move |conn| account::reset_link(conn, &token)).await?,
        None => Link::Unusable(LinkProblem::Unknown),
    };
    let (status, problem) = match link_view(link, refusals) {
        Ok(()) => (StatusCode::OK, None),
        Err((status, message)) => (status, Some(message)),
    };
    let status = if errors.is_empty() { status } else { REFUSED };
    let chrome = Chrome::public("Choose a new password", session.csrf_token()?, None);
    let page = TokenPage {
        chrome,
        heading: "Choose a new password",
        address: String::new(),
        problem,
        action,
        reset: true,
        errors,
    };
    render_status(&page, status)
}

/// GET /reset/{token} — public; reads only.
pub async fn reset_form(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    reset_page(
        &session,
        &state,
        path_token(&req),
        FieldErrors::default(),
        None,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

impl ResetForm {
    /// The new password (`NewPassword`, one two-field value), or its fields' problems.
    fn new_password(&self) -> Result<NewPassword, FieldErrors> {
        NewPassword::parse(
            &self.new_password,
            &self.new_password_confirm,
            ("new_password", "new_password_confirm"),
        )
        .map_err(|refusals| beside(FieldErrors::default(), refusals))
    }
}

/// POST /reset/{token} — public; `new_password`, `new_password_confirm`. Single use; every
/// session of the account ends, this browser's included.
pub async fn reset(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
    form: StrictForm<ResetForm>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return reset_page(&session, &state, None, FieldErrors::default(), None).await;
    };
    let password = match form.0.new_password() {
        Ok(password) => password,
        Err(errors) => return reset_page(&session, &state, Some(token), errors, None).await,
    };
    let hash = state.passwords.hash(password.expose()).await?;
    let (actor, probe) = (Actor::anonymous(client_ip(&req)), token.clone());
    let outcome = attempt(&state.pool, move |conn| {
        account::reset_password(conn, &actor, &probe, &hash)
    })
    .await?;
    if let Err(refusals) = outcome {
        return reset_page(
            &session,
            &state,
            Some(token),
            FieldErrors::default(),
            Some(refusals),
        )
        .await;
    }
    // Whatever this browser held is over (the account's sessions are all ended).
    session.start_over();
    session.flash(FlashKind::Success, RESET_DONE)?;
    Ok(see_other("/login"))
}

const RESET_DONE: &str =
    "Your password was changed and every session was signed out. Sign in with the new password.";
