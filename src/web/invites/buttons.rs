//! The list's buttons: Resend, Copy a new link and Revoke (which asks first: without
//! `confirm=yes` it shows what will happen). A refusal shows the list again with the
//! message at the top (422).

use actix_web::{web, HttpResponse};
use askama::Template;

use super::{remember_links, render_refused, sent};
use crate::error::{AppError, AppResult};
use crate::permissions::Permission;
use crate::services::invites::{self, CopiedLink, RevokePreview};
use crate::web::forms::{ConfirmForm, EmptyForm, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{attempt, render, see_other, set_flash, Chrome, FlashKind};

fn invite_id(path: &(String, String)) -> AppResult<i64> {
    path.1.parse().map_err(|_| AppError::NotFound)
}

/// POST /w/{ws}/invites/{id}/resend — requires members.invite.
pub async fn resend(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let id = invite_id(&path)?;
    let (access, actor, links) = (
        ctx.access.clone(),
        ctx.actor.clone(),
        ctx.state.links.clone(),
    );
    match attempt(ctx.db_pool(), move |conn| {
        invites::resend(conn, &access, &actor, &links, id)
    })
    .await?
    {
        Ok(created) => {
            let message = format!(
                "A new link was sent to {}; the old one no longer works.",
                created.email
            );
            sent(&ctx, vec![created])?;
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/invites")))
        }
        Err(refusals) => render_refused(&ctx, Default::default(), refusals).await,
    }
}

/// POST /w/{ws}/invites/{id}/link — requires members.invite (and, like Resend, the roles it
/// offers). A fresh link to copy, shown once on the next page; nothing is mailed.
pub async fn copy_link(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let id = invite_id(&path)?;
    let (access, actor, links) = (
        ctx.access.clone(),
        ctx.actor.clone(),
        ctx.state.links.clone(),
    );
    match attempt(ctx.db_pool(), move |conn| {
        invites::copy_link(conn, &access, &actor, &links, id)
    })
    .await?
    {
        Ok(CopiedLink {
            invite,
            notification_email,
        }) => {
            let mailed = match notification_email {
                Some(other) => {
                    format!("The link mailed to {other} no longer works, as the one shown before.")
                }
                None => format!(
                    "The link shown before no longer works; the one mailed to {} still does.",
                    invite.email
                ),
            };
            let message = format!(
                "A new link for {} is below: copy it and pass it on. Nothing was mailed. {mailed}",
                invite.email
            );
            remember_links(&ctx.session, vec![invite])?;
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/invites")))
        }
        Err(refusals) => render_refused(&ctx, Default::default(), refusals).await,
    }
}

#[derive(Template)]
#[template(path = "invites/confirm_revoke.html")]
struct ConfirmRevokePage {
    chrome: Chrome,
    base: String,
    preview: RevokePreview,
}

/// POST /w/{ws}/invites/{id}/revoke — requires members.invite. Without `confirm=yes` it
/// shows what revoking will do (nothing changes); with it, the invite is revoked.
pub async fn revoke(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ConfirmForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let id = invite_id(&path)?;
    if !form.0.confirmed() {
        return confirm_revoke(&ctx, id).await;
    }
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        invites::revoke(conn, &access, &actor, id)
    })
    .await?
    {
        Ok(invite) => {
            let message = format!(
                "The invitation to {} was revoked; its seat is free.",
                invite.email
            );
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/invites")))
        }
        Err(refusals) => render_refused(&ctx, Default::default(), refusals).await,
    }
}

/// Revoke's question, with the button that revokes and a way back.
async fn confirm_revoke(ctx: &WorkspaceCtx, id: i64) -> AppResult<HttpResponse> {
    let access = ctx.access.clone();
    match attempt(ctx.db_pool(), move |conn| {
        invites::revoke_preview(conn, &access, id)
    })
    .await?
    {
        Ok(preview) => render(&ConfirmRevokePage {
            chrome: ctx.chrome(
                format!("Revoke the invitation to {}?", preview.email),
                "invites",
            )?,
            base: ctx.path("/invites"),
            preview,
        }),
        Err(refusals) => render_refused(ctx, Default::default(), refusals).await,
    }
}
