//! Archive, restore, remove and ownership transfer, from the member page and the Users
//! list's row buttons. Archive and remove show what will happen first (`confirm=yes` does
//! it); a refusal (the Owner, no free seat, not an Admin…) shows the member page again with
//! 422 and the reason (`page::answer`).

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::reauth;
use crate::error::{AppError, AppResult};
use crate::permissions::Permission;
use crate::services::members::join::Ending;
use crate::services::members::lifecycle::{self, Preview};
use crate::web::forms::{ConfirmForm, CurrentPasswordForm, EmptyForm, StrictForm};
use crate::web::members::{act, page, path_id};
use crate::web::{refused, render, Chrome, WorkspaceCtx};

#[derive(Template)]
#[template(path = "users/end.html")]
struct EndPage {
    chrome: Chrome,
    base: String,
    preview: Preview,
}

/// POST /w/{ws}/users/{id}/archive — requires members.remove over that member.
pub async fn archive(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ConfirmForm>,
) -> AppResult<HttpResponse> {
    end(ctx, path_id(&path.1)?, form.0.confirmed(), Ending::Archived).await
}

/// POST /w/{ws}/users/{id}/remove — requires members.remove over that member.
pub async fn remove(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ConfirmForm>,
) -> AppResult<HttpResponse> {
    end(ctx, path_id(&path.1)?, form.0.confirmed(), Ending::Removed).await
}

/// Archive or remove: without `confirm` the page says what will happen; with it, it is done.
async fn end(
    ctx: WorkspaceCtx,
    id: i64,
    confirmed: bool,
    ending: Ending,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersRemove)?;
    if !confirmed {
        return preview(ctx, id, ending).await;
    }
    let outcome = act(&ctx, move |conn, access, actor| {
        lifecycle::end(conn, access, actor, id, ending)
    })
    .await?;
    let done = |name: String| {
        match ending {
        Ending::Archived => format!("{name} was archived: their access ended and their seat is free. Restore them from their page."),
        _ => format!("{name} was removed from the workspace. They can be invited again."),
    }
    };
    page::answer(&ctx, id, outcome.map(done), None).await
}

/// What archiving or removing will do, with the button that does it.
async fn preview(ctx: WorkspaceCtx, id: i64, ending: Ending) -> AppResult<HttpResponse> {
    let outcome = act(&ctx, move |conn, access, _| {
        lifecycle::preview(conn, access, id, ending)
    })
    .await?;
    let preview = match outcome {
        Ok(preview) => preview,
        Err(refusals) => return page::answer(&ctx, id, Err(refusals), None).await,
    };
    let verb = match ending {
        Ending::Archived => "Archive",
        _ => "Remove",
    };
    render(&EndPage {
        chrome: ctx.chrome(format!("{verb} {}?", preview.name), "users")?,
        base: ctx.path("/users"),
        preview,
    })
}

/// POST /w/{ws}/users/{id}/restore — requires members.remove; needs a free seat.
pub async fn restore(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersRemove)?;
    let id = path_id(&path.1)?;
    let outcome = act(&ctx, move |conn, access, actor| {
        lifecycle::restore(conn, access, actor, id)
    })
    .await?;
    let done = |name| format!("{name} was restored with the roles they had.");
    page::answer(&ctx, id, outcome.map(done), None).await
}

/// POST /w/{ws}/users/{id}/transfer-ownership — the Owner only, with their current
/// password; the target must already be an Admin.
pub async fn transfer_ownership(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<CurrentPasswordForm>,
) -> AppResult<HttpResponse> {
    if !ctx.access.perms.is_owner() {
        return Err(AppError::forbidden_because(
            "Only the workspace's Owner can transfer ownership.",
        ));
    }
    let id = path_id(&path.1)?;
    let (account_id, password) = (ctx.access.account.id, form.0.current_password);
    if let Err(refusal) =
        reauth::verify_current_password(&ctx.state, &ctx.actor, account_id, password).await?
    {
        let errors = refused(&ctx.session, vec![refusal])?;
        return page::invalid(&ctx, id, errors, None).await;
    }
    let outcome = act(&ctx, move |conn, access, actor| {
        lifecycle::transfer_ownership(conn, access, actor, id)
    })
    .await?;
    if outcome.is_ok() {
        ctx.state.mail_wakeup.notify_one();
    }
    let done = |name| format!("{name} is now the Owner. You remain an Admin.");
    page::answer(&ctx, id, outcome.map(done), None).await
}
