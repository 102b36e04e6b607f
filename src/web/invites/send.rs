//! Sending invites: the form posted; the review shown, above the form, when an entry
//! needs attention, when the daily limit lets only some go, or beside the form's own errors
//! (every problem in one round).

use actix_web::HttpResponse;
use chrono::{NaiveDateTime, TimeDelta};

use super::{render_page, render_refused, sent, InviteForm, PageInput, ReviewView};
use crate::error::AppResult;
use crate::permissions::Permission;
use crate::services::invites::{self, CreateOutcome, DailyLimit, Review};
use crate::web::forms::{FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{attempt, db, see_other, set_flash, FlashKind, REFUSED};

/// POST /w/{ws}/invites — requires members.invite; roles only those the inviter may grant.
pub async fn create(ctx: WorkspaceCtx, form: StrictForm<InviteForm>) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let form = form.0;
    let request = match form.request() {
        Ok(request) => request,
        Err(errors) => return render_form_errors(&ctx, form, errors).await,
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
        Ok(CreateOutcome::Created { invites, repeats }) => {
            let mut message = match invites.len() {
                1 => "Sent 1 invitation.".to_string(),
                n => format!("Sent {n} invitations."),
            };
            match repeats {
                0 => {}
                1 => message.push_str(" 1 address was listed twice and got one invitation."),
                n => message.push_str(&format!(
                    " {n} addresses were listed twice and got one invitation each."
                )),
            }
            sent(&ctx, invites)?;
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/invites")))
        }
        Ok(CreateOutcome::Review(review)) => {
            render_review(&ctx, form, review, FieldErrors::default()).await
        }
        Err(refusals) => render_refused(&ctx, form, refusals).await,
    }
}

/// The form's own errors, with the review of the addresses beside them when they can be
/// read: every problem in one round.
async fn render_form_errors(
    ctx: &WorkspaceCtx,
    form: InviteForm,
    errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let Some(addresses) = form.addresses() else {
        let view = ReviewView {
            summary: vec![fields_sentence(&errors)],
            ..ReviewView::default()
        };
        return render_page(ctx, with_errors(form, errors, view), REFUSED).await;
    };
    let access = ctx.access.clone();
    let review = db(ctx.db_pool(), move |conn| {
        invites::preview(conn, &access, &addresses)
    })
    .await?;
    render_review(ctx, form, review, errors).await
}

fn with_errors(form: InviteForm, errors: FieldErrors, review: ReviewView) -> PageInput {
    PageInput {
        form,
        errors,
        review: Some(review),
        ..PageInput::default()
    }
}

/// Nothing was sent: the review says which entries need attention and how many can go
/// now; its button sends those when the form itself is fine.
async fn render_review(
    ctx: &WorkspaceCtx,
    form: InviteForm,
    review: Review,
    mut errors: FieldErrors,
) -> AppResult<HttpResponse> {
    let form_ok = errors.is_empty();
    let mut summary = Vec::new();
    if !form_ok {
        summary.push(fields_sentence(&errors));
    }
    let (bad, total) = (review.unacceptable(), review.lines.len());
    if bad > 0 {
        let seats = review
            .seats_free
            .map(|f| format!(" {f} seats free."))
            .unwrap_or_default();
        let attention = format!("{bad} of {total} addresses need attention (see the review).");
        summary.push(attention.clone());
        errors.add("emails", format!("Nothing was sent: {attention}{seats}"));
    }
    if review.duplicates() > 0 {
        summary.push(match review.duplicates() {
            1 => "1 address is listed twice: it gets one invitation.".to_string(),
            n => format!("{n} addresses are listed twice: each gets one invitation."),
        });
    }
    if review.over_daily_limit() {
        let limit = daily_sentence(&review.daily, review.new_count());
        summary.push(limit.clone());
        if bad == 0 && form_ok {
            errors.add("emails", format!("Nothing was sent: {limit}"));
        }
    }
    let sendable = if form_ok {
        review.sendable()
    } else {
        Vec::new()
    };
    let send_label = match (sendable.len(), review.can_go() < review.new_count()) {
        (0, _) => String::new(),
        (n, true) => format!("Send the first {n}"),
        (1, false) => "Send the one that can go".to_string(),
        (n, false) => format!("Send the {n} that can go"),
    };
    let view = ReviewView {
        summary,
        sendable: sendable.join("\n"),
        send_label,
        lines: review.lines,
    };
    render_page(ctx, with_errors(form, errors, view), REFUSED).await
}

/// What the form's errors come to, for the summary above it.
fn fields_sentence(errors: &FieldErrors) -> String {
    let count = InviteForm::FIELDS
        .iter()
        .filter(|f| errors.get(f).is_some())
        .count();
    match count {
        1 => "1 field needs attention (marked in the form).".to_string(),
        n => format!("{n} fields need attention (marked in the form)."),
    }
}

/// How many the rolling daily limit lets go now, and when it frees more.
fn daily_sentence(daily: &DailyLimit, wanted: usize) -> String {
    let when = daily
        .frees_at
        .map(|at| human_time(at, daily.now))
        .unwrap_or_else(|| "as invites leave the last 24 hours".to_string());
    match daily.remaining() {
        0 => format!(
            "The daily limit of {} invitations is used up: {} were sent in the last 24 hours. 0 can be sent now; the next can go {when}.",
            daily.limit, daily.used
        ),
        n => format!(
            "{n} can still be sent today, not all {wanted}: {} of the daily limit of {} were sent in the last 24 hours. More can go {when}.",
            daily.used, daily.limit
        ),
    }
}

/// `from 14:05 UTC today (in 3 hours 12 minutes)`: the clock time and how long until then.
pub(super) fn human_time(at: NaiveDateTime, now: NaiveDateTime) -> String {
    let wait = at - now;
    if wait <= TimeDelta::zero() {
        return "now".to_string();
    }
    let day = match (at.date() - now.date()).num_days() {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        _ => at.format("on %-d %B").to_string(),
    };
    // Rounded up to the minute: "in 0 minutes" would be wrong until it has passed.
    let minutes = (wait.num_seconds() + 59) / 60;
    let (hours, minutes) = (minutes / 60, minutes % 60);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let span = match (hours, minutes) {
        (0, m) => plural(m, "minute"),
        (h, 0) => plural(h, "hour"),
        (h, m) => format!("{} {}", plural(h, "hour"), plural(m, "minute")),
    };
    format!("from {} UTC {day} (in {span})", at.format("%H:%M"))
}

#[cfg(test)]
mod tests {
    use super::human_time;
    use chrono::NaiveDate;

    #[test]
    fn the_time_more_invites_free_up_reads_as_a_person_says_it() {
        let now = NaiveDate::from_ymd_opt(2026, 3, 4)
            .and_then(|d| d.and_hms_opt(10, 50, 30))
            .expect("a date");
        let later = |h: i64, m: i64| now + chrono::TimeDelta::minutes(h * 60 + m);
        assert_eq!(
            human_time(later(3, 12), now),
            "from 14:02 UTC today (in 3 hours 12 minutes)"
        );
        assert_eq!(
            human_time(later(23, 59), now),
            "from 10:49 UTC tomorrow (in 23 hours 59 minutes)"
        );
        assert_eq!(
            human_time(now + chrono::TimeDelta::seconds(20), now),
            "from 10:50 UTC today (in 1 minute)"
        );
        assert_eq!(
            human_time(later(1, 0), now),
            "from 11:50 UTC today (in 1 hour)"
        );
        assert_eq!(human_time(now, now), "now");
    }
}
