//! The signed-in person's own account (`/account`): name, password, email addresses,
//! sessions and workspaces (leave); the email verification link; and, signed out, the
//! forgotten-password flow (`/forgot-password`, `/reset/{token}`). Token pages change
//! nothing on GET: the token is consumed by the POST of the page's button.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::password::{check_new_password_pair, PasswordProblem};
use crate::auth::{csrf, reauth, session_store};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::models::audit::Actor;
use crate::services::access::WorkspaceLink;
use crate::services::account::{self, Added, LinkProblem, Overview, PasswordChange, PrimaryError};
use crate::services::members::join;
use crate::state::AppState;
use crate::text;
use crate::web::forms::{EmptyForm, FieldErrors, StrictForm};
use crate::web::{attempt, SignedIn, WorkspaceCtx};
use crate::web::{
    client_ip, db, path_token, render, render_status, see_other, set_flash, take_flash, Chrome,
    FlashKind,
};

const NAME_MAX: usize = 100;

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

fn current_session(req: &HttpRequest, state: &AppState) -> Option<String> {
    session_store::current_id_hash(req, &state.session_cookie_key)
}

/// Renders `/account` for the signed-in account, with a refused form's values and errors.
/// The account page again with the refusals in `forms` beside their fields (422).
async fn page_with_errors(
    req: &HttpRequest,
    who: &SignedIn,
    forms: AccountForms,
) -> AppResult<HttpResponse> {
    account_page(
        req,
        &who.session,
        &who.state,
        who.account_id,
        forms,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn account_page(
    req: &HttpRequest,
    session: &Session,
    state: &web::Data<AppState>,
    account_id: i64,
    forms: AccountForms,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let current = current_session(req, state);
    let idle = state.config.session_idle_minutes;
    let overview = db(&state.pool, move |conn| {
        account::overview(conn, account_id, current.as_deref(), idle)
    })
    .await?;
    let Some(overview) = overview else {
        session.purge();
        return Ok(see_other("/login"));
    };
    let flash = if status == StatusCode::OK {
        take_flash(session)
    } else {
        None
    };
    let mut chrome = Chrome::public("Your account", csrf::token(session)?, flash);
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
    render_status(
        &AccountPage {
            chrome,
            overview,
            name,
            forms,
        },
        status,
    )
}

fn done(session: &Session, message: impl Into<String>) -> AppResult<HttpResponse> {
    set_flash(session, FlashKind::Success, message)?;
    Ok(see_other("/account"))
}

/// GET /account — signed in.
pub async fn show(req: HttpRequest, who: SignedIn) -> AppResult<HttpResponse> {
    account_page(
        &req,
        &who.session,
        &who.state,
        who.account_id,
        AccountForms::default(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// POST /account/name — signed in; `name`.
pub async fn rename(
    req: HttpRequest,
    who: SignedIn,
    form: StrictForm<NameForm>,
) -> AppResult<HttpResponse> {
    let name = form.0.name.trim().to_string();
    let refusal = match text::single_line(&name) {
        Err(e) => Some(e.to_string()),
        Ok(_) if name.is_empty() || name.chars().count() > NAME_MAX => {
            Some("Enter your name (at most 100 characters)".to_string())
        }
        Ok(_) => None,
    };
    if let Some(message) = refusal {
        let mut forms = AccountForms {
            name: Some(name),
            ..Default::default()
        };
        forms.name_errors.add("name", message);
        return page_with_errors(&req, &who, forms).await;
    }
    let (actor, account_id) = (who.actor.clone(), who.account_id);
    db(&who.state.pool, move |conn| {
        account::rename(conn, &actor, account_id, &name)
    })
    .await?;
    done(&who.session, "Your name was saved.")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

/// The current password, checked by the one throttled re-authentication
/// (`auth::reauth`): the hash it matched, or the message for its field.
async fn verified_hash(who: &SignedIn, password: String) -> AppResult<Result<String, String>> {
    reauth::verify_current_password(&who.state, &who.actor, who.account_id, password).await
}

/// POST /account/password — signed in; `current_password`, `new_password`,
/// `new_password_confirm`. Ends every other session of the account.
pub async fn change_password(
    req: HttpRequest,
    who: SignedIn,
    form: StrictForm<PasswordForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let mut forms = AccountForms::default();
    for problem in check_new_password_pair(&form.new_password, &form.new_password_confirm) {
        match problem {
            PasswordProblem::New(m) => forms.password_errors.add("new_password", m),
            PasswordProblem::Confirmation(m) => {
                forms.password_errors.add("new_password_confirm", m)
            }
        }
    }
    // Always verified (the same work whatever else is wrong).
    let verified = match verified_hash(&who, form.current_password).await? {
        Ok(hash) => Some(hash),
        Err(message) => {
            forms.password_errors.add("current_password", message);
            None
        }
    };
    let (Some(old_hash), true) = (verified, forms.password_errors.is_empty()) else {
        return page_with_errors(&req, &who, forms).await;
    };
    let Some(keep) = current_session(&req, &who.state) else {
        return Err(AppError::SignInRequired {
            next: "/account".into(),
        });
    };
    let new_hash = who.state.passwords.hash(form.new_password).await?;
    let (actor, account_id, state) = (who.actor.clone(), who.account_id, who.state.clone());
    let outcome = db(&who.state.pool, move |conn| {
        account::change_password(
            conn,
            &actor,
            &links(&state),
            account_id,
            &old_hash,
            &new_hash,
            &keep,
        )
    })
    .await?;
    match outcome {
        PasswordChange::Changed { sessions_ended } => {
            who.state.mail_wakeup.notify_one();
            // This session carries on under a new key and a new CSRF token, so a copy of
            // the old cookie is worthless too.
            who.session.renew();
            csrf::rotate(&who.session)?;
            let others = match sessions_ended {
                0 => String::new(),
                1 => " Your other session was signed out.".into(),
                n => format!(" Your {n} other sessions were signed out."),
            };
            done(&who.session, format!("Your password was changed.{others}"))
        }
        PasswordChange::ChangedMeanwhile => {
            forms.password_errors.add(
                "current_password",
                "Your password was changed meanwhile. Enter the current one again.",
            );
            page_with_errors(&req, &who, forms).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddEmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

/// POST /account/emails — signed in; `email`, `current_password`. Adds an unverified
/// address and mails it a link; the primary address is told.
pub async fn add_email(
    req: HttpRequest,
    who: SignedIn,
    form: StrictForm<AddEmailForm>,
) -> AppResult<HttpResponse> {
    let form = form.0;
    let mut forms = AccountForms {
        email: form.email.trim().to_string(),
        ..Default::default()
    };
    let email = EmailAddress::parse(&form.email);
    if let Err(e) = &email {
        forms.email_errors.add("email", e.to_string());
    }
    if let Err(message) = verified_hash(&who, form.current_password).await? {
        forms.email_errors.add("current_password", message);
    }
    let email = match email {
        Ok(email) if forms.email_errors.is_empty() => email,
        _ => return page_with_errors(&req, &who, forms).await,
    };
    let (actor, account_id, state) = (who.actor.clone(), who.account_id, who.state.clone());
    let shown = email.as_str().to_string();
    let outcome = db(&who.state.pool, move |conn| {
        account::add_email(conn, &actor, &links(&state), account_id, &email)
    })
    .await?;
    match outcome {
        Ok(added) => {
            who.state.mail_wakeup.notify_one();
            done(
                &who.session,
                match added {
                    Added::New => format!(
                        "We sent a confirmation link to {shown}. The address can be used once it is confirmed."
                    ),
                    Added::Resent => format!(
                        "We sent a new confirmation link to {shown}; earlier links no longer work."
                    ),
                },
            )
        }
        Err(refused) => {
            forms.email_errors.add("email", refused.message());
            page_with_errors(&req, &who, forms).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryForm {
    #[serde(default)]
    current_password: String,
}

/// POST /account/emails/{eid}/primary — signed in; `current_password` (SPEC §4.8).
/// Only a verified address of this account; the old primary is told.
pub async fn make_primary(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<i64>,
    form: StrictForm<PrimaryForm>,
) -> AppResult<HttpResponse> {
    let email_id = path.into_inner();
    let verified = verified_hash(&who, form.0.current_password).await?;
    let mut forms = AccountForms::default();
    let key = format!("primary-{email_id}");
    if let Err(message) = verified {
        // Another account's id is still a 404, before anything is said about passwords.
        let account_id = who.account_id;
        let exists = db(&who.state.pool, move |conn| {
            Ok(
                crate::models::email_address::EmailAddressRow::find_for_account(
                    conn, account_id, email_id,
                )?
                .is_some(),
            )
        })
        .await?;
        if !exists {
            return Err(AppError::NotFound);
        }
        forms.row_errors.add(&key, message);
        return page_with_errors(&req, &who, forms).await;
    }
    let (actor, account_id, state) = (who.actor.clone(), who.account_id, who.state.clone());
    let outcome = db(&who.state.pool, move |conn| {
        account::make_primary(conn, &actor, &links(&state), account_id, email_id)
    })
    .await?;
    match outcome {
        Ok(address) => {
            who.state.mail_wakeup.notify_one();
            done(
                &who.session,
                format!("{address} is now your primary address: sign in with it from now on."),
            )
        }
        Err(PrimaryError::NotVerified) => {
            forms
                .row_errors
                .add(&key, "Confirm this address before making it primary");
            page_with_errors(&req, &who, forms).await
        }
    }
}

/// POST /account/emails/{eid}/delete — signed in. Never the last or the primary address.
pub async fn remove_email(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<i64>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let email_id = path.into_inner();
    let (actor, account_id, state) = (who.actor.clone(), who.account_id, who.state.clone());
    let outcome = db(&who.state.pool, move |conn| {
        account::remove_email(conn, &actor, &links(&state), account_id, email_id)
    })
    .await?;
    match outcome {
        Ok(address) => {
            who.state.mail_wakeup.notify_one();
            done(
                &who.session,
                format!("{address} was removed from your account."),
            )
        }
        Err(refused) => {
            let mut forms = AccountForms::default();
            forms
                .row_errors
                .add(&format!("remove-{email_id}"), refused.message());
            page_with_errors(&req, &who, forms).await
        }
    }
}

/// POST /account/sessions/{id}/end — signed in; `{id}` is a session's opaque id.
/// Ending the current session signs out.
pub async fn end_session(
    req: HttpRequest,
    who: SignedIn,
    path: web::Path<String>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let public_id = path.into_inner();
    let is_current = current_session(&req, &who.state)
        .is_some_and(|h| crate::models::session::public_id(&h) == public_id);
    let (actor, account_id) = (who.actor.clone(), who.account_id);
    let ended = db(&who.state.pool, move |conn| {
        account::end_session(conn, &actor, account_id, &public_id)
    })
    .await?;
    if !ended {
        return Err(AppError::NotFound);
    }
    if is_current {
        who.session.purge();
        return Ok(see_other("/login"));
    }
    done(&who.session, "The session was signed out.")
}

/// POST /account/sessions/end-others — signed in; every session but this one ends.
pub async fn end_other_sessions(
    req: HttpRequest,
    who: SignedIn,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let Some(keep) = current_session(&req, &who.state) else {
        return Err(AppError::SignInRequired {
            next: "/account".into(),
        });
    };
    let (actor, account_id) = (who.actor.clone(), who.account_id);
    let ended = db(&who.state.pool, move |conn| {
        account::end_other_sessions(conn, &actor, account_id, &keep)
    })
    .await?;
    done(
        &who.session,
        match ended {
            0 => "There were no other sessions.".to_string(),
            1 => "Your other session was signed out.".to_string(),
            n => format!("Your {n} other sessions were signed out."),
        },
    )
}

/// POST /w/{ws}/leave — any active member but the Owner.
pub async fn leave(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let (actor, workspace_id, account_id) = (
        ctx.actor.clone(),
        ctx.access.workspace.id,
        ctx.access.account.id,
    );
    let outcome = attempt(&ctx.state.pool, move |conn| {
        join::leave(conn, &actor, workspace_id, account_id)
    })
    .await?;
    let name = ctx.access.workspace.name.clone();
    match outcome {
        Ok(()) => done(&ctx.session, format!("You left {name}.")),
        Err(refusals) => {
            let mut forms = AccountForms::default();
            let reasons: Vec<String> = refusals.into_iter().map(|r| r.message).collect();
            forms.row_errors.add(
                &format!("leave-{}", ctx.access.workspace.slug),
                reasons.join(" "),
            );
            account_page(
                &req,
                &ctx.session,
                &ctx.state,
                account_id,
                forms,
                StatusCode::CONFLICT,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "account/token.html")]
struct TokenPage {
    chrome: Chrome,
    heading: &'static str,
    /// The address being confirmed, or empty for a reset.
    address: String,
    problem: Option<&'static str>,
    action: String,
    /// A reset form (`new_password`, `new_password_confirm`) rather than one button.
    reset: bool,
    errors: FieldErrors,
}

fn problem_status(problem: &LinkProblem) -> StatusCode {
    match problem {
        LinkProblem::Unknown => StatusCode::NOT_FOUND,
        LinkProblem::Used | LinkProblem::Expired => StatusCode::GONE,
        LinkProblem::WrongAccount => StatusCode::FORBIDDEN,
        LinkProblem::TakenElsewhere => StatusCode::CONFLICT,
    }
}

async fn verify_page(
    who: &SignedIn,
    token: &str,
    outcome: Result<String, LinkProblem>,
) -> AppResult<HttpResponse> {
    let account_id = who.account_id;
    let summary = db(&who.state.pool, move |conn| {
        crate::services::access::account_summary(conn, account_id)
    })
    .await?;
    let mut chrome = Chrome::public(
        "Confirm your email address",
        csrf::token(&who.session)?,
        None,
    );
    chrome.signed_in = summary.map(|s| s.name);
    let (status, address, problem) = match outcome {
        Ok(address) => (StatusCode::OK, address, None),
        Err(p) => (problem_status(&p), String::new(), Some(p.message())),
    };
    render_status(
        &TokenPage {
            chrome,
            heading: "Confirm your email address",
            address,
            problem,
            action: format!("/account/emails/verify/{token}"),
            reset: false,
            errors: FieldErrors::default(),
        },
        status,
    )
}

/// GET /account/emails/verify/{token} — signed in as the account that asked; reads only
/// (mail scanners open links): a page with one button.
pub async fn verify_form(who: SignedIn, req: HttpRequest) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return verify_page(&who, "", Err(LinkProblem::Unknown)).await;
    };
    let (probe, account_id) = (token.clone(), who.account_id);
    let outcome = db(&who.state.pool, move |conn| {
        account::verify_preview(conn, &probe, account_id)
    })
    .await?;
    verify_page(&who, &token, outcome).await
}

/// POST /account/emails/verify/{token} — signed in as the account that asked; confirms
/// the address the link was sent to (contract addition: SPEC §4.6 consumes tokens by POST).
pub async fn verify(
    who: SignedIn,
    req: HttpRequest,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return verify_page(&who, "", Err(LinkProblem::Unknown)).await;
    };
    let (probe, account_id, actor) = (token.clone(), who.account_id, who.actor.clone());
    let outcome = db(&who.state.pool, move |conn| {
        account::verify_email(conn, &actor, &probe, account_id)
    })
    .await?;
    match outcome {
        Ok(address) => done(&who.session, format!("{address} is confirmed.")),
        Err(problem) => verify_page(&who, &token, Err(problem)).await,
    }
}

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

/// GET /forgot-password — public.
pub async fn forgot_form(session: Session) -> AppResult<HttpResponse> {
    let chrome = Chrome::public("Forgot your password?", csrf::token(&session)?, None);
    render(&ForgotPage {
        chrome,
        email: String::new(),
        sent: false,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// POST /forgot-password — public; `email`. The same page and message whether or not an
/// account exists (and when throttled).
pub async fn forgot(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: StrictForm<ForgotForm>,
) -> AppResult<HttpResponse> {
    let typed = form.0.email;
    let refusal = match text::single_line(&typed) {
        Err(e) => Some(e.to_string()),
        Ok(t) if t.trim().is_empty() => Some("Enter the email address you sign in with".into()),
        Ok(_) => None,
    };
    if let Some(message) = refusal {
        let mut errors = FieldErrors::default();
        errors.add("email", message);
        let chrome = Chrome::public("Forgot your password?", csrf::token(&session)?, None);
        return render_status(
            &ForgotPage {
                chrome,
                email: typed,
                sent: false,
                errors,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let actor = Actor {
        account_id: None,
        ip: client_ip(&req),
    };
    let worker = state.clone();
    db(&state.pool, move |conn| {
        account::request_reset(conn, &actor, &links(&worker), &typed)
    })
    .await?;
    state.mail_wakeup.notify_one();
    let chrome = Chrome::public("Forgot your password?", csrf::token(&session)?, None);
    render(&ForgotPage {
        chrome,
        email: String::new(),
        sent: true,
        errors: FieldErrors::default(),
    })
}

fn reset_page(
    session: &Session,
    token: &str,
    problem: Option<LinkProblem>,
    errors: FieldErrors,
    status: Option<StatusCode>,
) -> AppResult<HttpResponse> {
    let chrome = Chrome::public("Choose a new password", csrf::token(session)?, None);
    let code = problem
        .as_ref()
        .map(problem_status)
        .unwrap_or(StatusCode::OK);
    render_status(
        &TokenPage {
            chrome,
            heading: "Choose a new password",
            address: String::new(),
            problem: problem.as_ref().map(LinkProblem::message),
            action: format!("/reset/{token}"),
            reset: true,
            errors,
        },
        status.unwrap_or(code),
    )
}

/// GET /reset/{token} — public; reads only.
pub async fn reset_form(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return reset_page(
            &session,
            "",
            Some(LinkProblem::Unknown),
            FieldErrors::default(),
            None,
        );
    };
    let probe = token.clone();
    let outcome = db(&state.pool, move |conn| {
        account::reset_preview(conn, &probe)
    })
    .await?;
    reset_page(
        &session,
        &token,
        outcome.err(),
        FieldErrors::default(),
        None,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

/// POST /reset/{token} — public; `new_password`, `new_password_confirm`. Single use; every
/// session of the account ends, this browser's included.
pub async fn reset(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: StrictForm<ResetForm>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return reset_page(
            &session,
            "",
            Some(LinkProblem::Unknown),
            FieldErrors::default(),
            None,
        );
    };
    let form = form.0;
    let mut errors = FieldErrors::default();
    for problem in check_new_password_pair(&form.new_password, &form.new_password_confirm) {
        match problem {
            PasswordProblem::New(m) => errors.add("new_password", m),
            PasswordProblem::Confirmation(m) => errors.add("new_password_confirm", m),
        }
    }
    if !errors.is_empty() {
        let probe = token.clone();
        let outcome = db(&state.pool, move |conn| {
            account::reset_preview(conn, &probe)
        })
        .await?;
        return reset_page(
            &session,
            &token,
            outcome.err(),
            errors,
            Some(StatusCode::UNPROCESSABLE_ENTITY),
        );
    }
    let hash = state.passwords.hash(form.new_password).await?;
    let actor = Actor {
        account_id: None,
        ip: client_ip(&req),
    };
    let probe = token.clone();
    let outcome = db(&state.pool, move |conn| {
        account::reset_password(conn, &actor, &probe, &hash)
    })
    .await?;
    match outcome {
        Ok(()) => {
            // Whatever this browser held is over (the account's sessions are all ended).
            session.clear();
            session.renew();
            set_flash(
                &session,
                FlashKind::Success,
                "Your password was changed and every session was signed out. Sign in with the new password.",
            )?;
            Ok(see_other("/login"))
        }
        Err(problem) => reset_page(
            &session,
            &token,
            Some(problem),
            FieldErrors::default(),
            None,
        ),
    }
}
