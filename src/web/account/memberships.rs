//! The account's workspaces: leaving one.

use actix_web::{HttpRequest, HttpResponse};

use crate::auth::session_store;
use crate::error::{AppResult, Refusal};
use crate::services::members::join::{self, EndRefused};
use crate::web::forms::{EmptyForm, StrictForm};
use crate::web::{db, WorkspaceCtx, REFUSED};

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
    let outcome = db(ctx.db_pool(), move |conn| {
        join::leave(conn, &actor, workspace_id, account_id)
    })
    .await?;
    let refused = match outcome {
        Ok(()) => return done(&ctx.session, format!("You left {}.", workspace.name)),
        Err(EndRefused::Owner) => {
            "You are the Owner of this workspace. Transfer ownership to an Admin before leaving."
        }
        Err(EndRefused::NotActive) => "You are no longer a member of this workspace.",
    };
    let forms = AccountForms::row(
        &format!("leave-{}", workspace.slug),
        vec![Refusal::general(refused)],
    );
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
