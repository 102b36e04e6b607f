//! An admin's changes to a member's email addresses, from the "Email addresses" section of
//! the member page. Each handler checks the permission, parses the ids, calls one service
//! (which checks scope, dominance and the verified domains in its transaction) and answers
//! 303 back to the member with a flash, or the page again with the refusal beside the
//! field (422, nothing changed).

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::models::audit::Actor;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::services::account::Added;
use crate::services::members::emails;
use crate::web::account::links;
use crate::web::forms::{EmptyForm, StrictForm};
use crate::web::members::list::{email_row_field, render_detail, DetailErrors};
use crate::web::WorkspaceCtx;
use crate::web::{db, see_other, set_flash, FlashKind};

fn id(text: &str) -> AppResult<i64> {
    text.parse().map_err(|_| AppError::NotFound)
}

/// 303 back to the member page with `done`, or the page with `message` beside `field`.
async fn finish(
    ctx: WorkspaceCtx,
    member_id: i64,
    outcome: Result<String, (String, String)>,
    typed: String,
) -> AppResult<HttpResponse> {
    match outcome {
        Ok(done) => {
            ctx.state.mail_wakeup.notify_one();
            set_flash(&ctx.session, FlashKind::Success, done)?;
            Ok(see_other(&ctx.path(&format!("/users/{member_id}"))))
        }
        Err((field, message)) => {
            let mut errors = DetailErrors::default();
            errors.fields.add(&field, message);
            errors.values.push(("email", typed));
            render_detail(&ctx, member_id, errors).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddForm {
    #[serde(default)]
    email: String,
}

/// POST /w/{ws}/users/{id}/emails — requires members.edit over that member; `email` on a
/// verified domain of the workspace. Added unverified; a link is mailed to it.
pub async fn add(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<AddForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let member_id = id(&path.1)?;
    let typed = form.0.email.trim().to_string();
    let (access, actor, state) = (ctx.access.clone(), ctx.actor.clone(), ctx.state.clone());
    let email = typed.clone();
    let outcome = db(ctx.db_pool(), move |conn| {
        emails::add(conn, &access, &actor, &links(&state), member_id, &email)
    })
    .await?;
    let outcome = match outcome {
        Ok(Added::New) => Ok(format!(
            "We sent a confirmation link to {typed}. The address counts once the member opens it."
        )),
        Ok(Added::Resent) => Ok(format!(
            "We sent a new confirmation link to {typed}; earlier links no longer work."
        )),
        Err(message) => Err(("email".to_string(), message)),
    };
    finish(ctx, member_id, outcome, typed).await
}

/// A service acting on one address of a member: the refusal, or what to say.
type AddressAction =
    fn(&mut DbConn, &Access, &Actor, &Links, i64, i64) -> AppResult<Result<String, String>>;

/// Runs `action` on the address `{eid}` of the member `{id}`; the refusal is shown beside
/// that address, success is `done(address)`.
async fn on_address(
    ctx: WorkspaceCtx,
    path: &(String, String, String),
    action: AddressAction,
    done: fn(&str) -> String,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let (member_id, email_id) = (id(&path.1)?, id(&path.2)?);
    let (access, actor, state) = (ctx.access.clone(), ctx.actor.clone(), ctx.state.clone());
    let outcome = db(ctx.db_pool(), move |conn| {
        action(conn, &access, &actor, &links(&state), member_id, email_id)
    })
    .await?
    .map(|address| done(&address))
    .map_err(|message| (email_row_field(email_id), message));
    finish(ctx, member_id, outcome, String::new()).await
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
