//! The account's workspaces: leaving one.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::session_store;
use crate::error::AppResult;
use crate::services::members::join;
use crate::web::forms::{ConfirmForm, StrictForm};
use crate::web::{attempt, render, Chrome, WorkspaceCtx, REFUSED};

use super::{done, render_page, AccountForms};

/// What leaving means, asked before it is done.
#[derive(Template)]
#[template(path = "account/leave.html")]
struct LeavePage {
    chrome: Chrome,
    workspace_name: String,
    action: String,
}

/// POST /w/{ws}/leave — any active member but the Owner; without `confirm=yes` the page
/// says what leaving means first (the Owner is refused at once: no question to ask).
/// Refused: the account page again (422) with the message beside the workspace's row.
pub async fn leave(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    form: StrictForm<ConfirmForm>,
) -> AppResult<HttpResponse> {
    let workspace = &ctx.access.workspace;
    if !form.0.confirmed() && !ctx.access.perms.is_owner() {
        let mut chrome = ctx.chrome(format!("Leave {}?", workspace.name), "")?;
        chrome.account_current = true;
        return render(&LeavePage {
            chrome,
            workspace_name: workspace.name.clone(),
            action: ctx.path("/leave"),
        });
    }
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
