//! The account's workspaces: leaving one.

use actix_web::{HttpRequest, HttpResponse};

use crate::auth::session_store;
use crate::error::AppResult;
use crate::services::members::join;
use crate::web::forms::{EmptyForm, StrictForm};
use crate::web::{attempt, WorkspaceCtx, REFUSED};

use super::{done, render_page, AccountForms};

/// POST /w/{ws}/leave — any active member but the Owner. Refused: the account page again
/// (422) with the message beside the workspace's row.
pub async fn leave(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let workspace = &ctx.access.workspace;
    let (actor, workspace_id, account_id) =
        (ctx.actor.clone(), workspace.id, ctx.access.account.id);
    let outcome = attempt(ctx.db_pool(), move |conn| {
        join::leave(conn, &actor, workspace_id, account_id)
    })
    .await?;
    let refusals = match outcome {
        Ok(()) => return done(&ctx.session, format!("You left {}.", workspace.name)),
        Err(refusals) => refusals,
    };
    let forms = AccountForms::row(&format!("leave-{}", workspace.slug), refusals);
    let current = session_store::current_id_hash(&req, &ctx.state.session_cookie_key);
    render_page(
        &ctx.session,
        &ctx.state,
        account_id,
        current,
        forms,
        REFUSED,
    )
    .await
}
