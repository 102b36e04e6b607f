//! Public pages: `/` (where to go), sign-in and sign-out, and first-run setup.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::auth::session_store;
use crate::domain::{Invalid, NewPassword, PersonName, WorkspaceName};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult, Refusal};
use crate::models::audit::Actor;
use crate::services::access::{self, WorkspaceLink};
use crate::services::account;
use crate::services::domain_join::{self, Joinable};
use crate::services::join_link::Used;
use crate::services::signin::{self, Outcome};
use crate::services::workspaces::{self, Created, NewOwnedWorkspace, SetupLink};
use crate::state::AppState;
use crate::web::account::beside;
use crate::web::forms::{parsed, validated, EmptyForm, FieldErrors, StrictForm};
use crate::web::session::AppSession;
use crate::web::{
    attempt, client_ip, db, query_token, refused, render, render_status, see_other, Chrome,
    FlashKind, REFUSED,
};

/// `next` is honoured only for a local path: never a scheme, never `//host`.
pub fn local_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

/// Where to go after signing in: `next` when it is a local path, else `/`.
fn after_sign_in(next: &str) -> HttpResponse {
    see_other(local_next(next).filter(|n| !n.is_empty()).unwrap_or("/"))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    workspaces: Vec<WorkspaceLink>,
    /// Workspaces the account may join through a verified domain of theirs.
    joinable: Vec<Joinable>,
}

/// GET / — the signed-in person's workspace, a list when they have several (or when a
/// workspace may be joined through a verified domain: the page offers it).
pub async fn home(session: AppSession, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    home_page(&session, &state, StatusCode::OK, true).await
}

/// The home page; `may_redirect`: straight to the only workspace when there is nothing
/// else to show.
async fn home_page(
    session: &AppSession,
    state: &AppState,
    status: StatusCode,
    may_redirect: bool,
) -> AppResult<HttpResponse> {
    let Some(account_id) = session.account_id() else {
        return Ok(see_other("/login"));
    };
    let (summary, links, joinable) = db(&state.pool, move |conn| {
        Ok((
            access::account_summary(conn, account_id)?,
            access::workspace_links(conn, account_id)?,
            domain_join::joinable(conn, account_id)?,
        ))
    })
    .await?;
    let Some(summary) = summary else {
        session.sign_out();
        return Ok(see_other("/login"));
    };
    if let [only] = links.as_slice() {
        if may_redirect && joinable.is_empty() {
            return Ok(see_other(&format!("/w/{}/users", only.slug)));
        }
    }
    let mut chrome = Chrome::public(
        "Your workspaces",
        session.csrf_token()?,
        session.take_flash(),
    );
    chrome.signed_in = Some(summary.name);
    chrome.workspaces = links.clone();
    render_status(
        &HomePage {
            chrome,
            workspaces: links,
            joinable,
        },
        status,
    )
}

/// POST /w/{ws}/join — a signed-in account that is not a member joins the workspace
/// through a verified domain its confirmed address is on (auto: 303 to the workspace), or
/// asks to join (approval: 303 home, the admins are mailed). Refused: the home page again
/// with why (422), nothing changed.
pub async fn join_workspace(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let Some(account_id) = session.account_id() else {
        return Ok(see_other("/login"));
    };
    let actor = Actor {
        account_id: Some(account_id),
        ip: client_ip(&req),
    };
    let (links, slug) = (state.links.clone(), path.into_inner());
    match attempt(&state.pool, move |conn| {
        domain_join::join(conn, &actor, &links, &slug, account_id)
    })
    .await?
    {
        Ok(Used::Joined { workspace_slug }) => {
            session.flash(
                FlashKind::Success,
                "Welcome! You have joined the workspace.",
            )?;
            Ok(see_other(&format!("/w/{workspace_slug}/users")))
        }
        Ok(Used::Requested { workspace_name }) => {
            state.mail_wakeup.notify_one();
            session.flash(
                FlashKind::Success,
                format!("Your request to join {workspace_name} was sent to its admins. You'll get an email when they decide."),
            )?;
            Ok(see_other("/"))
        }
        Err(refusals) => {
            refused(&session, refusals)?;
            home_page(&session, &state, REFUSED, false).await
        }
    }
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
pub async fn login_form(
    session: AppSession,
    query: web::Query<NextQuery>,
) -> AppResult<HttpResponse> {
    if session.account_id().is_some() {
        return Ok(after_sign_in(&query.next));
    }
    let next = local_next(&query.next).unwrap_or_default().to_string();
    let chrome = Chrome::public("Sign in", session.csrf_token()?, session.take_flash());
    render(&LoginPage {
        chrome,
        email: String::new(),
        next,
        error: None,
        errors: FieldErrors::default(),
    })
}

/// Text the canonical check refuses is bad input, not a sign-in attempt: nothing counts.
#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginForm {
    #[validate(custom(function = "crate::text::validate_line"))]
    email: String,
    #[validate(custom(function = "crate::text::validate_line"))]
    password: String,
    #[serde(default)]
    #[validate(custom(function = "crate::text::validate_line"))]
    next: String,
}

/// Starts a signed-in session: a new session id (no fixation), a new CSRF token
/// (`AppSession::sign_in`).
pub(crate) fn begin_session(
    session: &Session,
    req: &HttpRequest,
    account_id: i64,
) -> AppResult<()> {
    AppSession::from(session).sign_in(account_id, req)
}

/// POST /login — the same answer, in the same time, for an unknown address and a wrong
/// password; a throttled attempt (any address, with or without an account) is told when
/// to try again, never whether the password was right.
pub async fn login(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
    form: StrictForm<LoginForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    if let Err(errors) = validated(&form) {
        return login_page(&session, &form.email, String::new(), None, errors);
    }
    let (outcome, account_id) = try_password(&state, &form, client_ip(&req)).await?;
    let error = match (outcome, account_id) {
        (Outcome::Succeeded, Some(account_id)) => {
            session.sign_in(account_id, &req)?;
            return Ok(after_sign_in(&form.next));
        }
        // Said alike for every address, with or without an account.
        (Outcome::Throttled { retry_at }, _) => format!(
            "Too many failed sign-in attempts. {}",
            signin::retry_message(retry_at, crate::models::now())
        ),
        _ => "Incorrect email or password.".to_string(),
    };
    let next = local_next(&form.next).unwrap_or_default().to_string();
    login_page(
        &session,
        &form.email,
        next,
        Some(error),
        FieldErrors::default(),
    )
}

/// The sign-in page again (422), with what was typed as the address.
fn login_page(
    session: &AppSession,
    email: &str,
    next: String,
    error: Option<String>,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let page = LoginPage {
        chrome: Chrome::public("Sign in", session.csrf_token()?, None),
        email: email.trim().to_string(),
        next,
        error,
        errors,
    };
    render_status(&page, REFUSED)
}

/// One password attempt, throttled and recorded (`services::signin`): the account it
/// was for, if any, and the outcome. Always verified — against a dummy hash when
/// throttled or unknown — so every answer takes the same time.
async fn try_password(
    state: &AppState,
    form: &LoginForm,
    ip: Option<String>,
) -> AppResult<(Outcome, Option<i64>)> {
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
        let (label, ip) = (label.clone(), ip.clone());
        db(&state.pool, move |conn| {
            signin::prepare(conn, canonical.as_deref(), &label, ip.as_deref())
        })
        .await?
    };
    let stored = attempt.password_hash.filter(|_| !attempt.throttled);
    let verified = state
        .passwords
        .verify(stored, form.password.clone())
        .await?;
    let (account_id, verified) = (attempt.account_id, (!attempt.throttled).then_some(verified));
    let outcome = db(&state.pool, move |conn| {
        let kind = signin::Kind::SignIn { label: &label };
        signin::settle(conn, &Actor::anonymous(ip), kind, account_id, verified)
    })
    .await?;
    Ok((outcome, account_id))
}

/// POST /logout — deletes the session row (recording `account.signed_out` with it), so a
/// copied cookie stops working too.
pub async fn logout(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let current = session_store::current_id_hash(&req, &state.session_cookie_key);
    if let (Some(account_id), Some(id_hash)) = (session.account_id(), current) {
        let actor = Actor::account(account_id, client_ip(&req));
        db(&state.pool, move |conn| {
            account::sign_out(conn, &actor, account_id, &id_hash)
        })
        .await?;
    }
    session.sign_out_with_notice()?;
    Ok(see_other("/login"))
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
    #[validate(custom(function = "WorkspaceName::validate"))]
    workspace: String,
    #[validate(custom(function = "PersonName::validate"))]
    name: String,
    #[validate(custom(function = "EmailAddress::validate"))]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// The first workspace and its Owner, as the form gave them.
struct SetupInput {
    workspace: WorkspaceName,
    name: PersonName,
    email: EmailAddress,
    password: NewPassword,
}

impl SetupForm {
    /// The setup as the service takes it, or every field's problem at once.
    fn input(&self) -> Result<SetupInput, FieldErrors> {
        let valid = validated(self);
        let password = NewPassword::parse(
            &self.password,
            &self.password_confirm,
            ("password", "password_confirm"),
        );
        let password = match (valid, password) {
            (Ok(()), Ok(password)) => password,
            (valid, password) => {
                let errors = valid.err().unwrap_or_default();
                return Err(beside(errors, password.err().unwrap_or_default()));
            }
        };
        let email = EmailAddress::parse(&self.email).map_err(|e| Invalid::new(e.to_string()));
        Ok(SetupInput {
            workspace: parsed(WorkspaceName::parse(&self.workspace), "workspace")?,
            name: parsed(PersonName::parse(&self.name), "name")?,
            email: parsed(email, "email")?,
            password,
        })
    }

    /// What the page shows again: the names trimmed, the passwords never.
    fn shown_again(self) -> Self {
        SetupForm {
            workspace: self.workspace.trim().to_string(),
            name: self.name.trim().to_string(),
            email: self.email,
            password: String::new(),
            password_confirm: String::new(),
        }
    }
}

/// Hashes the password (on the hashing pool), then creates the workspace and its Owner,
/// consuming the setup token.
async fn create_first_workspace(
    state: &AppState,
    actor: Actor,
    token: String,
    input: SetupInput,
) -> AppResult<Result<Created, Vec<Refusal>>> {
    let SetupInput {
        workspace,
        name,
        email,
        password,
    } = input;
    let hash = state.passwords.hash(password.expose()).await?;
    attempt(&state.pool, move |conn| {
        let owned = NewOwnedWorkspace {
            workspace_name: &workspace,
            slug: None,
            owner_name: &name,
            owner_email: &email,
            password_hash: Some(&hash),
        };
        workspaces::complete_setup(conn, &actor, &token, &owned)
    })
    .await
}

/// The setup link's token while it is still good (first run, token matches); otherwise
/// the page that says why not: setup already done (410, with the way to sign in), or 404.
async fn setup_token(
    req: &HttpRequest,
    session: &AppSession,
    state: &AppState,
) -> AppResult<Result<String, HttpResponse>> {
    let token = query_token(req);
    let probe = token.clone().unwrap_or_default();
    let link = db(&state.pool, move |conn| {
        workspaces::setup_link(conn, &probe)
    })
    .await?;
    match (link, token) {
        (SetupLink::Open, Some(token)) => Ok(Ok(token)),
        (SetupLink::Complete, _) => {
            let chrome = Chrome::public("Setup is complete", session.csrf_token()?, None);
            let page = SetupDonePage {
                chrome,
                signed_in: session.account_id().is_some(),
            };
            Ok(Err(render_status(&page, StatusCode::GONE)?))
        }
        _ => Err(AppError::NotFound),
    }
}

#[derive(Template)]
#[template(path = "setup_done.html")]
struct SetupDonePage {
    chrome: Chrome,
    signed_in: bool,
}

fn setup_page(
    session: &AppSession,
    token: String,
    form: SetupForm,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let chrome = Chrome::public("Set up Gatehouse", session.csrf_token()?, None);
    render_status(
        &SetupPage {
            chrome,
            token,
            form,
            errors,
        },
        status,
    )
}

/// GET /setup?token= — first run only.
pub async fn setup_form(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> AppResult<HttpResponse> {
    let _ = query.into_inner().token;
    let token = match setup_token(&req, &session, &state).await? {
        Ok(token) => token,
        Err(closed) => return Ok(closed),
    };
    let form = SetupForm::default();
    setup_page(
        &session,
        token,
        form,
        FieldErrors::default(),
        StatusCode::OK,
    )
}

/// POST /setup?token= — creates the first workspace and its Owner, then signs them in.
pub async fn setup(
    req: HttpRequest,
    session: AppSession,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
    form: StrictForm<SetupForm>,
) -> AppResult<HttpResponse> {
    let _ = query.into_inner().token;
    let token = match setup_token(&req, &session, &state).await? {
        Ok(token) => token,
        Err(closed) => return Ok(closed),
    };
    let form = form.0;
    let input = match form.input() {
        Ok(input) => input,
        Err(errors) => return setup_page(&session, token, form.shown_again(), errors, REFUSED),
    };
    let actor = Actor::anonymous(client_ip(&req));
    let outcome = create_first_workspace(&state, actor, token.clone(), input).await?;
    match outcome {
        Ok(created) => {
            session.sign_in(created.account_id, &req)?;
            session.flash(
                FlashKind::Success,
                "Your workspace is ready. Invite your team when you are.",
            )?;
            Ok(see_other(&format!("/w/{}/users", created.slug)))
        }
        Err(refusals) => {
            let errors = refused(&session, refusals)?;
            setup_page(&session, token, form.shown_again(), errors, REFUSED)
        }
    }
}
