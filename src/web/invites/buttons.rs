//! The list's buttons: Resend and Revoke. A refusal shows the list again with the message
//! at the top (422).

use actix_web::{web, HttpResponse};

use super::{render_refused, sent};
use crate::error::{AppError, AppResult};
use crate::permissions::Permission;
use crate::services::invites;
use crate::web::WorkspaceCtx;
use crate::web::{attempt, see_other, set_flash, FlashKind};

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

/// POST /w/{ws}/invites/{id}/revoke — requires members.invite.
pub async fn revoke(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let id = invite_id(&path)?;
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
