//! Public pages: `/` (where to go), sign-in and sign-out, and first-run setup.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::auth::password::{check_new_password_pair, PasswordProblem};
use crate::auth::{csrf, session_store};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::models::audit::Actor;
use crate::services::access::{self, WorkspaceLink};
use crate::services::signin::{self, Outcome};
use crate::services::workspaces;
use crate::state::AppState;
use crate::text;
use crate::web::forms::{FieldErrors, StrictForm};
use crate::web::{
    client_ip, db, query_token, render, render_status, see_other, set_flash, take_flash, Chrome,
    FlashKind,
};

/// `next` is honoured only for a local path: never a scheme, never `//host`.
pub fn local_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    workspaces: Vec<WorkspaceLink>,
}

/// GET / — the signed-in person's workspace, a list when they have several.
pub async fn home(session: Session, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let Some(account_id) = session.get::<i64>(session_store::ACCOUNT_ID).ok().flatten() else {
        return Ok(see_other("/login"));
    };
    let (summary, links) = db(&state.pool, move |conn| {
        Ok((
            access::account_summary(conn, account_id)?,
            access::workspace_links(conn, account_id)?,
        ))
    })
    .await?;
    let Some(summary) = summary else {
        session.purge();
        return Ok(see_other("/login"));
    };
    if let [only] = links.as_slice() {
        return Ok(see_other(&format!("/w/{}/users", only.slug)));
    }
    let mut chrome = Chrome::public(
        "Your workspaces",
        csrf::token(&session)?,
        take_flash(&session),
    );
    chrome.signed_in = Some(summary.name);
    chrome.workspaces = links.clone();
    render(&HomePage {
        chrome,
        workspaces: links,
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<String>,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// GET /login
pub async fn login_form(session: Session, query: web::Query<NextQuery>) -> AppResult<HttpResponse> {
    let next = local_next(&query.next).unwrap_or_default().to_string();
    if session
        .get::<i64>(session_store::ACCOUNT_ID)
        .ok()
        .flatten()
        .is_some()
    {
        return Ok(see_other(if next.is_empty() { "/" } else { &next }));
    }
    let chrome = Chrome::public("Sign in", csrf::token(&session)?, take_flash(&session));
    render(&LoginPage {
        chrome,
        email: String::new(),
        next,
        error: None,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Starts a signed-in session: a new session id (no fixation), a new CSRF token.
pub(crate) fn begin_session(
    session: &Session,
    req: &HttpRequest,
    account_id: i64,
) -> AppResult<()> {
    session.renew();
    session
        .insert(session_store::ACCOUNT_ID, account_id)
        .map_err(AppError::internal)?;
    let agent: String = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    session
        .insert(session_store::USER_AGENT, agent)
        .map_err(AppError::internal)?;
    session
        .insert(session_store::CLIENT_IP, client_ip(req).unwrap_or_default())
        .map_err(AppError::internal)?;
    csrf::rotate(session)?;
    Ok(())
}

/// POST /login — the same answer, in the same time, for an unknown address and a wrong
/// password; a throttled attempt (any address, with or without an account) is told when
/// to try again, never whether the password was right.
pub async fn login(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: StrictForm<LoginForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    // Text the canonical check refuses is bad input, not a sign-in attempt: nothing counts.
    let mut errors = FieldErrors::default();
    for (field, value) in [
        ("email", &form.email),
        ("password", &form.password),
        ("next", &form.next),
    ] {
        if let Err(e) = text::single_line(value) {
            errors.add(field, e.to_string());
        }
    }
    if !errors.is_empty() {
        let page = LoginPage {
            chrome: Chrome::public("Sign in", csrf::token(&session)?, None),
            email: form.email.trim().to_string(),
            next: String::new(),
            error: None,
            errors,
        };
        return render_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let ip = client_ip(&req);
    let canonical = EmailAddress::parse(&form.email)
        .ok()
        .map(|e| e.canonical().to_string());
    let label: String = canonical
        .clone()
        .unwrap_or_else(|| form.email.trim().to_lowercase())
        .chars()
        .take(254)
        .collect();
    let attempt = {
        let (canonical, label, ip) = (canonical.clone(), label.clone(), ip.clone());
        db(&state.pool, move |conn| {
            signin::prepare(conn, canonical.as_deref(), &label, ip.as_deref())
        })
        .await?
    };
    let stored = if attempt.throttled {
        None
    } else {
        attempt.password_hash.clone()
    };
    // Always verified (against a dummy hash when throttled or unknown): the same time.
    let verified = state.passwords.verify(stored, form.password).await?;
    let outcome = {
        let actor = Actor {
            account_id: None,
            ip: ip.clone(),
        };
        let (label, account_id) = (label.clone(), attempt.account_id);
        let verified = (!attempt.throttled).then_some(verified);
        db(&state.pool, move |conn| {
            signin::settle(
                conn,
                &actor,
                signin::Kind::SignIn { label: &label },
                account_id,
                verified,
            )
        })
        .await?
    };
    let next = local_next(&form.next).unwrap_or_default().to_string();
    let error = match (outcome, attempt.account_id) {
        (Outcome::Succeeded, Some(account_id)) => {
            begin_session(&session, &req, account_id)?;
            return Ok(see_other(if next.is_empty() { "/" } else { &next }));
        }
        // Said alike for every address, with or without an account.
        (Outcome::Throttled { retry_at }, _) => format!(
            "Too many failed sign-in attempts. {}",
            signin::retry_message(retry_at, crate::models::now())
        ),
        _ => "Incorrect email or password.".to_string(),
    };
    let chrome = Chrome::public("Sign in", csrf::token(&session)?, None);
    let page = LoginPage {
        chrome,
        email: form.email.trim().to_string(),
        next,
        error: Some(error),
        errors: FieldErrors::default(),
    };
    render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
}

/// POST /logout — deletes the session row, so a copied cookie stops working too.
pub async fn logout(session: Session) -> HttpResponse {
    session.purge();
    see_other("/login")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    chrome: Chrome,
    token: String,
    form: SetupForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Validate, Default)]
#[serde(deny_unknown_fields)]
pub struct SetupForm {
    #[validate(length(
        min = 1,
        max = 100,
        message = "Enter a workspace name (at most 100 characters)"
    ))]
    #[validate(custom(function = "crate::text::validate_line"))]
    workspace: String,
    #[validate(length(
        min = 1,
        max = 100,
        message = "Enter your name (at most 100 characters)"
    ))]
    #[validate(custom(function = "crate::text::validate_line"))]
    name: String,
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// GET /setup?token= — first run only.
pub async fn setup_form(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> AppResult<HttpResponse> {
    let _ = query.into_inner().token;
    let Some(token) = query_token(&req) else {
        return Err(AppError::NotFound);
    };
    let probe = token.clone();
    if !db(&state.pool, move |conn| {
        workspaces::setup_token_valid(conn, &probe)
    })
    .await?
    {
        return Err(AppError::NotFound);
    }
    let chrome = Chrome::public("Set up Gatehouse", csrf::token(&session)?, None);
    render(&SetupPage {
        chrome,
        token,
        form: SetupForm::default(),
        errors: FieldErrors::default(),
    })
}

/// POST /setup?token= — creates the first workspace and its Owner, then signs them in.
pub async fn setup(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
    form: StrictForm<SetupForm>,
) -> AppResult<HttpResponse> {
    let _ = query.into_inner().token;
    let Some(token) = query_token(&req) else {
        return Err(AppError::NotFound);
    };
    let probe = token.clone();
    if !db(&state.pool, move |conn| {
        workspaces::setup_token_valid(conn, &probe)
    })
    .await?
    {
        return Err(AppError::NotFound);
    }
    let mut form = form.0;
    form.workspace = form.workspace.trim().to_string();
    form.name = form.name.trim().to_string();
    let mut errors = match form.validate() {
        Ok(()) => FieldErrors::default(),
        Err(e) => FieldErrors::from_validation(&e),
    };
    let email = EmailAddress::parse(&form.email);
    if let Err(e) = &email {
        errors.add("email", e.to_string());
    }
    for problem in check_new_password_pair(&form.password, &form.password_confirm) {
        match problem {
            PasswordProblem::New(m) => errors.add("password", m),
            PasswordProblem::Confirmation(m) => errors.add("password_confirm", m),
        }
    }
    let email = match email {
        Ok(email) if errors.is_empty() => email,
        _ => {
            form.password.clear();
            form.password_confirm.clear();
            let chrome = Chrome::public("Set up Gatehouse", csrf::token(&session)?, None);
            return render_status(
                &SetupPage {
                    chrome,
                    token,
                    form,
                    errors,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let hash = state
        .passwords
        .hash(std::mem::take(&mut form.password))
        .await?;
    let actor = Actor {
        account_id: None,
        ip: client_ip(&req),
    };
    let created = db(&state.pool, move |conn| {
        let input = workspaces::NewOwnedWorkspace {
            workspace_name: &form.workspace,
            slug: None,
            owner_name: &form.name,
            owner_email: &email,
            password_hash: Some(&hash),
        };
        workspaces::complete_setup(conn, &actor, &token, &input)
    })
    .await?;
    begin_session(&session, &req, created.account_id)?;
    set_flash(
        &session,
        FlashKind::Success,
        "Your workspace is ready. Invite your team when you are.",
    )?;
    Ok(see_other(&format!("/w/{}/users", created.slug)))
}
