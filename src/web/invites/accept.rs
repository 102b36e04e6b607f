//! The invitee's side: `/invite/{token}`. Opening the link changes nothing (mail scanners
//! open links); accepting is one POST. Pages for unknown, expired, revoked and used links
//! each say what to do next.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::password::{check_new_password_pair, PasswordProblem};
use crate::auth::{csrf, session_store};
use crate::error::{AppError, AppResult};
use crate::models::audit::Actor;
use crate::services::access;
use crate::services::invites::{self, AcceptError, Acceptor, InviteView, LinkState};
use crate::state::AppState;
use crate::text;
use crate::web::auth_pages::begin_session;
use crate::web::forms::{FieldErrors, StrictForm};
use crate::web::{
    client_ip, db, encode_query_value, path_token, render_status, see_other, set_flash, Chrome,
    FlashKind,
};

/// Which page of the flow to show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    Unknown,
    Expired,
    Revoked,
    Used,
    /// Pending, but its inviter can no longer offer these roles: refused, nothing changes.
    Withdrawn,
    /// Signed in as the invited account: one button.
    Accept,
    /// Signed in as someone else: told whose invite it is, offered to sign out.
    WrongAccount,
    /// The address has an account: sign in first.
    SignIn,
    /// No account yet: name and password.
    CreateAccount,
}

#[derive(Template)]
#[template(path = "invite/page.html")]
struct InvitePage {
    chrome: Chrome,
    step: Step,
    view: Option<InviteView>,
    action: String,
    login_href: String,
    signed_in_as: String,
    name: String,
    errors: FieldErrors,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptForm {
    name: Option<String>,
    password: Option<String>,
    password_confirm: Option<String>,
}

fn signed_in_account(session: &Session) -> Option<i64> {
    session.get::<i64>(session_store::ACCOUNT_ID).ok().flatten()
}

/// The link's page as it stands, with nothing typed and no errors. `token` is what
/// `path_token` let through; `None` is the unknown-link page, without any lookup.
async fn plain_page(
    session: &Session,
    state: &AppState,
    token: Option<&str>,
) -> AppResult<HttpResponse> {
    page(
        session,
        state,
        token,
        String::new(),
        FieldErrors::default(),
        None,
    )
    .await
}

async fn page(
    session: &Session,
    state: &AppState,
    token: Option<&str>,
    name: String,
    errors: FieldErrors,
    code: Option<StatusCode>,
) -> AppResult<HttpResponse> {
    let account = signed_in_account(session);
    let probe = token.map(str::to_string);
    let (link_state, signed_in_as) = db(&state.pool, move |conn| {
        let link = match probe {
            Some(token) => invites::lookup(conn, &token)?,
            None => LinkState::Unknown,
        };
        let who = match account {
            Some(id) => {
                access::account_summary(conn, id)?.map(|a| format!("{} ({})", a.name, a.email))
            }
            None => None,
        };
        // The signed-in account may own the address unverified: that is still theirs.
        let owns_unverified = match (&link, account) {
            (LinkState::Pending(view), Some(id)) if view.account_id.is_none() => {
                crate::models::email_address::EmailAddressRow::for_account(conn, id)?
                    .iter()
                    .any(|e| e.canonical == view.invite.canonical)
            }
            _ => false,
        };
        Ok(((link, owns_unverified), who))
    })
    .await?;
    let ((link_state, owns_unverified), signed_in_as) =
        (link_state, signed_in_as.unwrap_or_default());
    let (step, view, status) = match link_state {
        LinkState::Unknown => (Step::Unknown, None, StatusCode::NOT_FOUND),
        LinkState::Expired(v) => (Step::Expired, Some(*v), StatusCode::GONE),
        LinkState::Revoked(v) => (Step::Revoked, Some(*v), StatusCode::GONE),
        LinkState::Accepted(v) => (Step::Used, Some(*v), StatusCode::GONE),
        // 403, not 410: the invitation is not gone (it stays pending, and would work again
        // if its inviter regained the rights); this acceptance is not allowed.
        LinkState::Withdrawn(v, _) => (Step::Withdrawn, Some(*v), StatusCode::FORBIDDEN),
        LinkState::Pending(v) => {
            let step = match (account, v.account_id) {
                (Some(me), Some(owner)) if me == owner => Step::Accept,
                (Some(_), None) if owns_unverified => Step::Accept,
                (Some(_), _) => Step::WrongAccount,
                (None, Some(_)) => Step::SignIn,
                (None, None) => Step::CreateAccount,
            };
            let status = if step == Step::WrongAccount {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::OK
            };
            (step, Some(*v), status)
        }
    };
    let path = format!("/invite/{}", token.unwrap_or_default());
    let mut chrome = Chrome::public("Invitation", csrf::token(session)?, None);
    if account.is_some() {
        chrome.signed_in = Some(signed_in_as.clone());
    }
    let page = InvitePage {
        chrome,
        step,
        view,
        login_href: format!("/login?next={}", encode_query_value(&path)),
        action: path,
        signed_in_as,
        name,
        errors,
    };
    render_status(&page, code.unwrap_or(status))
}

/// GET /invite/{token} — public; reads only.
pub async fn show(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    plain_page(&session, &state, path_token(&req).as_deref()).await
}

/// POST /invite/{token} — accepts: a new account with `name`, `password`,
/// `password_confirm`, or the signed-in invited account with no field.
pub async fn accept(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: StrictForm<AcceptForm>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return plain_page(&session, &state, None).await;
    };
    let form = form.0;
    let actor = Actor {
        account_id: signed_in_account(&session),
        ip: client_ip(&req),
    };
    let links = state.links.clone();
    let outcome = match signed_in_account(&session) {
        Some(account_id) => {
            let token = token.clone();
            db(&state.pool, move |conn| {
                invites::accept(
                    conn,
                    &actor,
                    &links,
                    &token,
                    Acceptor::Existing { account_id },
                )
            })
            .await?
        }
        None => {
            let name = form.name.unwrap_or_default().trim().to_string();
            let password = form.password.unwrap_or_default();
            let mut errors = FieldErrors::default();
            if let Err(e) = text::single_line(&name) {
                errors.add("name", e.to_string());
            } else if name.is_empty() || name.chars().count() > 100 {
                errors.add("name", "Enter your name (at most 100 characters)");
            }
            let confirmation = form.password_confirm.unwrap_or_default();
            for problem in check_new_password_pair(&password, &confirmation) {
                match problem {
                    PasswordProblem::New(m) => errors.add("password", m),
                    PasswordProblem::Confirmation(m) => errors.add("password_confirm", m),
                }
            }
            if !errors.is_empty() {
                return page(
                    &session,
                    &state,
                    Some(&token),
                    name,
                    errors,
                    Some(StatusCode::UNPROCESSABLE_ENTITY),
                )
                .await;
            }
            let hash = state.passwords.hash(password).await?;
            let token = token.clone();
            db(&state.pool, move |conn| {
                invites::accept(
                    conn,
                    &actor,
                    &links,
                    &token,
                    Acceptor::NewAccount {
                        name: &name,
                        password_hash: &hash,
                    },
                )
            })
            .await?
        }
    };
    match outcome {
        Ok(accepted) => {
            state.mail_wakeup.notify_one();
            if signed_in_account(&session) != Some(accepted.account_id) {
                begin_session(&session, &req, accepted.account_id)?;
            }
            let welcome = match &accepted.confirmation_sent_to {
                None => "Welcome! You have joined the workspace.".to_string(),
                Some(address) => format!(
                    "Welcome! You have joined the workspace. {address} is not confirmed yet: we sent a link to it — open it to confirm the address."
                ),
            };
            set_flash(&session, FlashKind::Success, welcome)?;
            Ok(see_other(&format!("/w/{}/users", accepted.workspace_slug)))
        }
        Err(AcceptError::AlreadyMember) => Err(AppError::BadRequest(
            "You are already a member of this workspace.".into(),
        )),
        // Gone, withdrawn, wrong account, account exists: the link's page says which, and
        // what next.
        Err(_) => plain_page(&session, &state, Some(&token)).await,
    }
}
