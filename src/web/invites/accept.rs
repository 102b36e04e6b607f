//! The invitee's side: `/invite/{token}`. Opening the link changes nothing (mail scanners
//! open links); accepting is one POST. Pages for unknown, expired, revoked and used links
//! each say what to do next.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::auth::csrf;
use crate::domain::{NewPassword, PersonName};
use crate::error::{AppError, AppResult};
use crate::models::audit::Actor;
use crate::services::access;
use crate::services::invites::{self, Accepted, Acceptor, InviteView, LinkState, Replacement};
use crate::state::AppState;
use crate::web::auth_pages::begin_session;
use crate::web::forms::{parsed, validated, FieldErrors, StrictForm};
use crate::web::{
    attempt, client_ip, db, encode_query_value, path_token, refused, render_status, see_other,
    set_flash, take_flash, Chrome, FlashKind, REFUSED,
};

/// Which page of the flow to show.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Step {
    Unknown,
    /// An earlier link, replaced by a resend or a newer copied link.
    Replaced(Replacement),
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

/// The create-account form; signed in, the button posts no field (any sent is ignored).
#[derive(Deserialize, Validate, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptForm {
    #[serde(default)]
    #[validate(custom(function = "PersonName::validate"))]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

impl AcceptForm {
    /// The new account's name and password, or every field's problem at once.
    fn new_account(&self) -> Result<(PersonName, NewPassword), FieldErrors> {
        let mut errors = validated(self).err().unwrap_or_default();
        let password = NewPassword::parse(
            &self.password,
            &self.password_confirm,
            ("password", "password_confirm"),
        );
        match password {
            Ok(password) if errors.is_empty() => {
                Ok((parsed(PersonName::parse(&self.name), "name")?, password))
            }
            Ok(_) => Err(errors),
            Err(refusals) => {
                for refusal in refusals {
                    errors.add(refusal.field.unwrap_or("password"), refusal.message);
                }
                Err(errors)
            }
        }
    }
}

fn signed_in_account(session: &Session) -> Option<i64> {
    crate::web::session::AppSession::from(session).account_id()
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

/// What the page is made of: the link's state, whether the signed-in account holds the
/// invited address unverified (still theirs), and who is signed in.
struct Visit {
    link: LinkState,
    owns_unverified: bool,
    signed_in_as: String,
}

async fn visit(state: &AppState, token: Option<&str>, account: Option<i64>) -> AppResult<Visit> {
    let probe = token.map(str::to_string);
    db(&state.pool, move |conn| {
        let link = match probe {
            Some(token) => invites::lookup(conn, &token)?,
            None => LinkState::Unknown,
        };
        let signed_in_as = match account {
            Some(id) => {
                access::account_summary(conn, id)?.map(|a| format!("{} ({})", a.name, a.email))
            }
            None => None,
        };
        let owns_unverified = match (&link, account) {
            (LinkState::Pending(view), Some(id)) if view.account_id.is_none() => {
                invites::owns_address(conn, id, &view.invite.canonical)?
            }
            _ => false,
        };
        Ok(Visit {
            link,
            owns_unverified,
            signed_in_as: signed_in_as.unwrap_or_default(),
        })
    })
    .await
}

/// The step to show, and the status the link's state answers with.
fn step_of(visit: Visit, account: Option<i64>) -> (Step, Option<InviteView>, StatusCode) {
    match visit.link {
        LinkState::Unknown => (Step::Unknown, None, StatusCode::NOT_FOUND),
        LinkState::Replaced(v, by) => (Step::Replaced(by), Some(*v), StatusCode::GONE),
        LinkState::Expired(v) => (Step::Expired, Some(*v), StatusCode::GONE),
        LinkState::Revoked(v) => (Step::Revoked, Some(*v), StatusCode::GONE),
        LinkState::Accepted(v) => (Step::Used, Some(*v), StatusCode::GONE),
        // 403, not 410: the invitation is not gone (it stays pending, and would work again
        // if its inviter regained the rights); this acceptance is not allowed.
        LinkState::Withdrawn(v, _) => (Step::Withdrawn, Some(*v), StatusCode::FORBIDDEN),
        LinkState::Pending(v) => {
            let step = match (account, v.account_id) {
                (Some(me), Some(owner)) if me == owner => Step::Accept,
                (Some(_), None) if visit.owns_unverified => Step::Accept,
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
    }
}

/// The link's page; `code` replaces the status of the link's state (422 after a refusal).
async fn page(
    session: &Session,
    state: &AppState,
    token: Option<&str>,
    name: String,
    errors: FieldErrors,
    code: Option<StatusCode>,
) -> AppResult<HttpResponse> {
    let account = signed_in_account(session);
    let visit = visit(state, token, account).await?;
    let signed_in_as = visit.signed_in_as.clone();
    let (step, view, status) = step_of(visit, account);
    let path = format!("/invite/{}", token.unwrap_or_default());
    let mut chrome = Chrome::public("Invitation", csrf::token(session)?, take_flash(session));
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
/// `password_confirm`, or the signed-in invited account with no field. Refused (the link
/// gone or withdrawn, the wrong account, an address that has an account): the link's page
/// again, saying why, with 422.
pub async fn accept(
    req: HttpRequest,
    session: Session,
    state: web::Data<AppState>,
    form: StrictForm<AcceptForm>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return plain_page(&session, &state, None).await;
    };
    let signed_in = signed_in_account(&session);
    let acceptor = match acceptor(signed_in, &state, &form.0).await? {
        Ok(acceptor) => acceptor,
        Err(errors) => {
            let typed = form.0.name.trim().to_string();
            return refused_page(&session, &state, &token, typed, errors).await;
        }
    };
    let actor = Actor {
        account_id: signed_in,
        ip: client_ip(&req),
    };
    let (links, probe) = (state.links.clone(), token.clone());
    let outcome = attempt(&state.pool, move |conn| {
        invites::accept(conn, &actor, &links, &probe, &acceptor)
    })
    .await;
    // A link that redeems nothing (replaced, unknown): its own page says why.
    if let Err(AppError::NotFound) = outcome {
        return plain_page(&session, &state, Some(&token)).await;
    }
    match outcome? {
        Ok(accepted) => welcome(&req, &session, &state, &accepted),
        Err(refusals) => {
            let errors = refused(&session, refusals)?;
            refused_page(&session, &state, &token, String::new(), errors).await
        }
    }
}

/// Who accepts: the signed-in account (the form's fields are ignored), or a new account
/// from the form — or the form's problems.
async fn acceptor(
    signed_in: Option<i64>,
    state: &AppState,
    form: &AcceptForm,
) -> AppResult<Result<Acceptor, FieldErrors>> {
    if let Some(account_id) = signed_in {
        return Ok(Ok(Acceptor::Existing { account_id }));
    }
    Ok(match form.new_account() {
        Ok((name, password)) => Ok(Acceptor::NewAccount {
            name,
            password_hash: state.passwords.hash(password.expose()).await?,
        }),
        Err(errors) => Err(errors),
    })
}

/// The link's page after a refusal (422): what was typed, and why.
async fn refused_page(
    session: &Session,
    state: &AppState,
    token: &str,
    typed: String,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    page(session, state, Some(token), typed, errors, Some(REFUSED)).await
}

/// Joined: signed in as the account (made now, or already), welcomed on the workspace.
fn welcome(
    req: &HttpRequest,
    session: &Session,
    state: &AppState,
    accepted: &Accepted,
) -> AppResult<HttpResponse> {
    state.mail_wakeup.notify_one();
    if signed_in_account(session) != Some(accepted.account_id) {
        begin_session(session, req, accepted.account_id)?;
    }
    let welcome = match &accepted.confirmation_sent_to {
        None => "Welcome! You have joined the workspace.".to_string(),
        Some(address) => format!(
            "Welcome! You have joined the workspace. {address} is not confirmed yet: we sent a link to it — open it to confirm the address."
        ),
    };
    set_flash(session, FlashKind::Success, welcome)?;
    Ok(see_other(&format!("/w/{}/users", accepted.workspace_slug)))
}
