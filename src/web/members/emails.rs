//! An admin's changes to a member's email addresses, from the "Email addresses" section of
//! the member page. Each handler checks the permission, parses the ids, calls one service
//! (which checks scope, dominance and the verified domains in its transaction) and answers
//! ends by the refusal rule (`page::answer`): 303 back to the member with a flash, or the
//! page again with 422 and the refusal beside the field or the address's row.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use validator::{Validate, ValidationError};

use crate::db::DbConn;
use crate::email::EmailAddress;
use crate::error::{AppResult, Refusal, ServiceResult};
use crate::links::Links;
use crate::models::audit::Actor;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::services::account::Added;
use crate::services::members::emails;
use crate::web::forms::{validated, EmptyForm, FieldErrors, StrictForm};
use crate::web::members::page::{self, email_row_field, Typed};
use crate::web::members::{act, path_id};
use crate::web::WorkspaceCtx;

/// `EmailAddress::parse` for `validator`.
fn validate_email(input: &str) -> Result<(), ValidationError> {
    EmailAddress::parse(input)
        .map(drop)
        .map_err(|e| ValidationError::new("email").with_message(e.to_string().into()))
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AddForm {
    #[serde(default)]
    #[validate(custom(function = "validate_email"))]
    email: String,
}

impl AddForm {
    fn input(&self) -> Result<EmailAddress, FieldErrors> {
        validated(self)?;
        EmailAddress::parse(&self.email).map_err(|e| {
            let mut errors = FieldErrors::default();
            errors.add("email", e.to_string());
            errors
        })
    }
}

/// POST /w/{ws}/users/{id}/emails — requires members.edit over that member; `email` on a
/// verified domain of the workspace. Added unverified; a link is mailed to it.
pub async fn add(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<AddForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let typed: Typed = Some(("email", form.0.email.trim().to_string()));
    let email = match form.0.input() {
        Ok(email) => email,
        Err(errors) => return page::invalid(&ctx, id, errors, typed).await,
    };
    let links = ctx.state.links.clone();
    let outcome = act(&ctx, move |conn, access, actor| {
        emails::add(conn, access, actor, &links, id, &email).map(|added| (added, email))
    })
    .await?;
    let done = |(added, email): (Added, EmailAddress)| match added {
        Added::New => format!(
            "We sent a confirmation link to {email}. The address counts once the member opens it."
        ),
        Added::Resent => {
            format!("We sent a new confirmation link to {email}; earlier links no longer work.")
        }
    };
    wake_mail(&ctx, outcome.is_ok());
    page::answer(&ctx, id, outcome.map(done), typed).await
}

fn wake_mail(ctx: &WorkspaceCtx, sent: bool) {
    if sent {
        ctx.state.mail_wakeup.notify_one();
    }
}

/// A service acting on one address of a member: what it returns is the address to name.
type AddressAction = fn(&mut DbConn, &Access, &Actor, &Links, i64, i64) -> ServiceResult<String>;

/// Runs `action` on the address `{eid}` of the member `{id}`; success is `done(address)`,
/// a refusal is shown beside that address's row.
async fn on_address(
    ctx: WorkspaceCtx,
    path: &(String, String, String),
    action: AddressAction,
    done: fn(&str) -> String,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let (id, email_id) = (path_id(&path.1)?, path_id(&path.2)?);
    let links = ctx.state.links.clone();
    let outcome = act(&ctx, move |conn, access, actor| {
        action(conn, access, actor, &links, id, email_id)
    })
    .await?;
    wake_mail(&ctx, outcome.is_ok());
    match outcome {
        Ok(address) => page::answer(&ctx, id, Ok(done(&address)), None).await,
        Err(refusals) => page::invalid(&ctx, id, beside_row(refusals, email_id), None).await,
    }
}

/// Refusals of an address's buttons, beside its row (those naming a field, beside it).
fn beside_row(refusals: Vec<Refusal>, email_id: i64) -> FieldErrors {
    let mut errors = FieldErrors::default();
    for refusal in refusals {
        match refusal.field {
            Some(field) => errors.add(field, refusal.message),
            None => errors.add(&email_row_field(email_id), refusal.message),
        }
    }
    errors
}

/// POST /w/{ws}/users/{id}/emails/{eid}/primary — requires members.edit over that member;
/// a confirmed address on a verified domain; the old primary address is told.
pub async fn make_primary(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    on_address(ctx, &path, emails::make_primary, |address| {
        format!("{address} is now the member's primary address: they sign in with it from now on.")
    })
    .await
}

/// POST /w/{ws}/users/{id}/emails/{eid}/delete — requires members.edit over that member;
/// an address on a verified domain, never the last or the primary.
pub async fn remove(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    on_address(ctx, &path, emails::remove, |address| {
        format!("{address} was removed from the member's account.")
    })
    .await
}
