//! The account's email addresses: adding one, making one primary, removing one, and the
//! verification link mailed to a new one.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use validator::Validate;

use crate::domain::Invalid;
use crate::email::EmailAddress;
use crate::error::{AppResult, Refusal};
use crate::services::access;
use crate::services::account::{self, Added, Link, LinkProblem};
use crate::web::forms::{
    parsed, validated, CurrentPasswordForm, EmptyForm, FieldErrors, StrictForm,
};
use crate::web::{attempt, db, path_token, refused, render_status, Chrome, SignedIn};

use super::{beside, done, link_view, links, refused_page, verified, AccountForms, TokenPage};

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AddEmailForm {
    #[serde(default)]
    #[validate(custom(function = "EmailAddress::validate"))]
    email: String,
    #[serde(default)]
    current_password: String,
}

impl AddEmailForm {
    fn email(&self) -> Result<EmailAddress, FieldErrors> {
        validated(self)?;
        let email = EmailAddress::parse(&self.email).map_err(|e| Invalid::new(e.to_string()));
        parsed(email, "email")
    }
}

/// POST /account/emails — signed in; `email`, `current_password`. Adds an unverified
/// address (or sends its link again) and mails it a link; the primary address is told.
pub async fn add_email(who: SignedIn, form: StrictForm<AddEmailForm>) -> AppResult<HttpResponse> {
    let form = form.0;
    let email = form.email();
    // Always verified (the same work whatever else is wrong).
    let email = match (email, verified(&who, form.current_password).await?) {
        (Ok(email), Ok(_)) => email,
        (email, password) => {
            let errors = beside(email.err().unwrap_or_default(), password.err());
            return refused_page(&who, AccountForms::email(&form.email, errors)).await;
        }
    };
    let shown = email.as_str().to_string();
    let (actor, account_id, links) = (who.actor.clone(), who.account_id, links(&who.state));
    let outcome = attempt(who.db_pool(), move |conn| {
        account::add_email(conn, &actor, &links, account_id, &email)
    })
    .await?;
    match outcome {
        Ok(added) => {
            who.state.mail_wakeup.notify_one();
            done(&who.session, sent(added, &shown))
        }
        Err(refusals) => {
            let errors = refused(&who.session, refusals)?;
            refused_page(&who, AccountForms::email(&form.email, errors)).await
        }
    }
}

fn sent(added: Added, address: &str) -> String {
    match added {
        Added::New => format!(
            "We sent a confirmation link to {address}. The address can be used once it is confirmed."
        ),
        Added::Resent => {
            format!("We sent a new confirmation link to {address}; earlier links no longer work.")
        }
    }
}

/// POST /account/emails/{eid}/primary — signed in; `current_password` (SPEC §4.8).
/// Only a verified address of this account; the old primary is told.
pub async fn make_primary(
    who: SignedIn,
    path: web::Path<i64>,
    form: StrictForm<CurrentPasswordForm>,
) -> AppResult<HttpResponse> {
    let (email_id, account_id) = (path.into_inner(), who.account_id);
    let row = format!("primary-{email_id}");
    if let Err(refusal) = verified(&who, form.0.current_password).await? {
        // Another account's id is still a 404, before anything is said about passwords.
        db(who.db_pool(), move |conn| {
            account::ensure_own_address(conn, account_id, email_id)
        })
        .await?;
        return refused_page(&who, AccountForms::row(&row, vec![refusal])).await;
    }
    let (actor, links) = (who.actor.clone(), links(&who.state));
    let outcome = attempt(who.db_pool(), move |conn| {
        account::make_primary(conn, &actor, &links, account_id, email_id)
    })
    .await?;
    match outcome {
        Ok(address) => {
            who.state.mail_wakeup.notify_one();
            let message =
                format!("{address} is now your primary address: sign in with it from now on.");
            done(&who.session, message)
        }
        Err(refusals) => refused_page(&who, AccountForms::row(&row, refusals)).await,
    }
}

/// POST /account/emails/{eid}/delete — signed in. Never the last or the primary address.
pub async fn remove_email(
    who: SignedIn,
    path: web::Path<i64>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let email_id = path.into_inner();
    let (actor, account_id, links) = (who.actor.clone(), who.account_id, links(&who.state));
    let outcome = attempt(who.db_pool(), move |conn| {
        account::remove_email(conn, &actor, &links, account_id, email_id)
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
        Err(refusals) => {
            let forms = AccountForms::row(&format!("remove-{email_id}"), refusals);
            refused_page(&who, forms).await
        }
    }
}

/// GET /account/emails/verify/{token} — signed in as the account that asked; reads only
/// (mail scanners open links): a page with one button.
pub async fn verify_form(who: SignedIn, req: HttpRequest) -> AppResult<HttpResponse> {
    verify_page(&who, path_token(&req), None).await
}

/// POST /account/emails/verify/{token} — signed in as the account that asked; confirms
/// the address the link was sent to (contract addition: SPEC §4.6 consumes tokens by POST).
pub async fn verify(
    who: SignedIn,
    req: HttpRequest,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let Some(token) = path_token(&req) else {
        return verify_page(&who, None, None).await;
    };
    let (probe, account_id, actor) = (token.clone(), who.account_id, who.actor.clone());
    let outcome = attempt(who.db_pool(), move |conn| {
        account::verify_email(conn, &actor, &probe, account_id)
    })
    .await?;
    match outcome {
        Ok(address) => done(&who.session, format!("{address} is confirmed.")),
        // The link's page again, saying why it can no longer be used.
        Err(refusals) => verify_page(&who, Some(token), Some(refusals)).await,
    }
}

/// The verification link's page as the link stands (`None`: an unknown link, without
/// any lookup), after `refusals` of its POST if there were any.
async fn verify_page(
    who: &SignedIn,
    token: Option<String>,
    refusals: Option<Vec<Refusal>>,
) -> AppResult<HttpResponse> {
    let account_id = who.account_id;
    let action = format!(
        "/account/emails/verify/{}",
        token.as_deref().unwrap_or_default()
    );
    let (link, summary) = db(who.db_pool(), move |conn| {
        let link = match token {
            Some(token) => account::verify_link(conn, &token, account_id)?,
            None => Link::Unusable(LinkProblem::Unknown),
        };
        Ok((link, access::account_summary(conn, account_id)?))
    })
    .await?;
    let (status, address, problem) = match link_view(link, refusals) {
        Ok(address) => (StatusCode::OK, address, None),
        Err((status, message)) => (status, String::new(), Some(message)),
    };
    let heading = "Confirm your email address";
    let mut chrome = Chrome::public(heading, who.session.csrf_token()?, None);
    chrome.signed_in = summary.map(|s| s.name);
    let page = TokenPage {
        chrome,
        heading,
        address,
        problem,
        action,
        reset: false,
        errors: FieldErrors::default(),
    };
    render_status(&page, status)
}
