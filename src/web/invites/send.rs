//! Sending invites: the form posted, the review shown when an entry needs attention.

use actix_web::HttpResponse;

use super::{render_page, render_refused, sent, InviteForm, PageInput};
use crate::error::AppResult;
use crate::permissions::Permission;
use crate::services::invites::{self, CreateOutcome, Review};
use crate::web::forms::{FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{attempt, see_other, set_flash, FlashKind, REFUSED};

/// POST /w/{ws}/invites — requires members.invite; roles only those the inviter may grant.
pub async fn create(ctx: WorkspaceCtx, form: StrictForm<InviteForm>) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let form = form.0;
    let request = match form.request() {
        Ok(request) => request,
        Err(errors) => return render_page(&ctx, with_errors(form, errors), REFUSED).await,
    };
    let (access, actor, links) = (
        ctx.access.clone(),
        ctx.actor.clone(),
        ctx.state.links.clone(),
    );
    match attempt(ctx.db_pool(), move |conn| {
        invites::create(conn, &access, &actor, &links, &request)
    })
    .await?
    {
        Ok(CreateOutcome::Created(created)) => {
            let message = match created.len() {
                1 => "Sent 1 invitation.".to_string(),
                n => format!("Sent {n} invitations."),
            };
            sent(&ctx, created)?;
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/invites")))
        }
        Ok(CreateOutcome::Review(review)) => render_review(&ctx, form, review).await,
        Err(refusals) => render_refused(&ctx, form, refusals).await,
    }
}

fn with_errors(form: InviteForm, errors: FieldErrors) -> PageInput {
    PageInput {
        form,
        errors,
        ..PageInput::default()
    }
}

/// Nothing was sent: the review says which entries need attention, beside the addresses.
async fn render_review(
    ctx: &WorkspaceCtx,
    form: InviteForm,
    review: Review,
) -> AppResult<HttpResponse> {
    let seats = review
        .seats_free
        .map(|f| format!(" {f} seats free."))
        .unwrap_or_default();
    let mut errors = FieldErrors::default();
    errors.add(
        "emails",
        format!(
            "Nothing was sent: {} of {} addresses need attention (see the review below).{seats}",
            review.unacceptable(),
            review.lines.len()
        ),
    );
    let input = PageInput {
        review: review.lines,
        ..with_errors(form, errors)
    };
    render_page(ctx, input, REFUSED).await
}
