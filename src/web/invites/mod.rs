//! The Invites screen: the invite form and its review (`form`, `send`), the list with its
//! Resend, Copy a new link and Revoke buttons (`buttons`, Revoke with its confirmation
//! page), all on one page rendered here; and the invitee's side of a link (`accept`).

pub mod accept;
mod buttons;
mod form;
mod send;

pub use buttons::{copy_link, resend, revoke};
pub use form::InviteForm;
pub use send::create;

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::error::{AppError, AppResult, Refusal};
use crate::models::invite::{Delivery, InviteStatus};
use crate::models::member::SeatType;
use crate::models::outbox::DeliveredVia;
use crate::models::role::Role;
use crate::permissions::{BuiltinRole, Permission};
use crate::services::invites::{self, CreatedInvite, ListLine, ReviewLine, Verdict};
use crate::web::forms::FieldErrors;
use crate::web::WorkspaceCtx;
use crate::web::{refused, render_status, take, Chrome, REFUSED};

/// The links of the invites just sent, shown once on the next page.
const NEW_LINKS_KEY: &str = "new_invite_links";

#[derive(Template)]
#[template(path = "invites/list.html")]
struct InvitesPage {
    chrome: Chrome,
    base: String,
    form: InviteForm,
    errors: FieldErrors,
    roles: Vec<Role>,
    seat_types: [SeatType; 2],
    statuses: [InviteStatus; 4],
    status_key: String,
    lines: Vec<ListLine>,
    review: Option<ReviewView>,
    seats_label: String,
    /// The plan section of Settings, for whoever may change the plan.
    plan_href: Option<String>,
    new_links: Vec<(String, String)>,
    /// `/w/{ws}/users`: accepted rows link to the member.
    users_base: String,
    /// Set when no SMTP server is configured: the folder mail is written to (the banner).
    mail_folder: Option<String>,
}

impl InvitesPage {
    fn verdict_text(&self, verdict: &Verdict) -> String {
        match verdict {
            Verdict::New => "New: will be invited".into(),
            Verdict::Invalid(why) => format!("Invalid: {why}"),
            Verdict::Duplicate => "Listed twice: gets one invitation".into(),
            Verdict::AlreadyMember => "Already a member".into(),
            Verdict::AlreadyInvited { .. } => {
                "Already invited: resend it from the list below".into()
            }
            Verdict::LikelyTypo { suggestion } => {
                format!("Likely typo: did you mean {suggestion}?")
            }
        }
    }

    /// `ok` (will be invited), `note` (listed twice: information) or `bad`.
    fn verdict_class(&self, verdict: &Verdict) -> &'static str {
        match verdict {
            Verdict::New => "ok",
            Verdict::Duplicate => "note",
            _ => "bad",
        }
    }

    fn fmt_date(&self, at: &NaiveDateTime) -> String {
        at.format("%-d %b %Y").to_string()
    }

    /// The Delivery cell's word: what happened to the latest invitation mail, as recorded
    /// on its outbox row ("Sent" only when an SMTP server took it).
    fn delivery_text(&self, delivery: &Delivery) -> String {
        match (delivery.status.as_str(), &delivery.via) {
            ("sent", Some(DeliveredVia::Files(folder))) => {
                format!("Written to {folder} — no SMTP server configured")
            }
            ("sent", _) => "Sent".into(),
            ("failed", _) => "Failed".into(),
            _ => "Queued".into(),
        }
    }

    /// The Delivery cell's class: `delivery-written` for a file, else the row's status.
    fn delivery_class(&self, delivery: &Delivery) -> String {
        match (delivery.status.as_str(), &delivery.via) {
            ("sent", Some(DeliveredVia::Files(_))) => "delivery-written".into(),
            (status, _) => format!("delivery-{status}"),
        }
    }

    /// The seat type as people read it ("Member", "Builder").
    fn seat_label(&self, key: &str) -> &'static str {
        SeatType::from_key(key).unwrap_or(SeatType::Member).label()
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
}

/// The review shown above the form after a refused submit: what it comes to, each entry's
/// verdict, and the entries its button sends (none while the form has errors of its own).
#[derive(Default)]
struct ReviewView {
    summary: Vec<String>,
    lines: Vec<ReviewLine>,
    /// The entries that can go now, as typed, one a line.
    sendable: String,
    send_label: String,
}

/// What differs between renderings of the page: the form as typed, its errors, the review.
#[derive(Default)]
struct PageInput {
    form: InviteForm,
    errors: FieldErrors,
    review: Option<ReviewView>,
    status: Option<InviteStatus>,
    /// A fresh form (not a submit coming back): the Member role is ticked.
    fresh: bool,
}

async fn render_page(
    ctx: &WorkspaceCtx,
    input: PageInput,
    code: StatusCode,
) -> AppResult<HttpResponse> {
    let (access, status) = (ctx.access.clone(), input.status);
    let screen = crate::web::db(ctx.db_pool(), move |conn| {
        invites::screen(conn, &access, status)
    })
    .await?;
    let mut form = input.form;
    if form.seat_type.is_empty() {
        form.seat_type = SeatType::Member.key().into();
    }
    if input.fresh && form.role.is_empty() {
        let member = BuiltinRole::Member.key();
        form.role = screen
            .roles
            .iter()
            .filter(|r| r.builtin_key.as_deref() == Some(member))
            .map(|r| r.id.to_string())
            .collect();
    }
    let page = InvitesPage {
        chrome: ctx.chrome("Invites", "invites")?,
        base: ctx.path("/invites"),
        form,
        errors: input.errors,
        roles: screen.roles,
        seat_types: SeatType::ALL,
        statuses: InviteStatus::ALL,
        status_key: status.map(|s| s.key()).unwrap_or("").to_string(),
        lines: screen.lines,
        review: input.review,
        seats_label: screen.seats.label(),
        plan_href: crate::services::seats::plan_link(&ctx.access),
        new_links: take(&ctx.session, NEW_LINKS_KEY).unwrap_or_default(),
        users_base: ctx.path("/users"),
        mail_folder: ctx.state.mailer.files_folder(),
    };
    render_status(&page, code)
}

/// A refusal of the form or of a button on this page: the page again, with 422.
async fn render_refused(
    ctx: &WorkspaceCtx,
    form: InviteForm,
    refusals: Vec<Refusal>,
) -> AppResult<HttpResponse> {
    let errors = refused(&ctx.session, refusals)?;
    let input = PageInput {
        form,
        errors,
        ..PageInput::default()
    };
    render_page(ctx, input, REFUSED).await
}

/// GET /w/{ws}/invites — requires members.invite.
pub async fn list(ctx: WorkspaceCtx, query: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let input = PageInput {
        status: query.status.as_deref().and_then(InviteStatus::from_key),
        fresh: true,
        ..PageInput::default()
    };
    render_page(&ctx, input, StatusCode::OK).await
}

/// After a send or a resend: the mail worker woken, the links kept for the next page
/// (shown once), and logged when mail only goes to files (SPEC: local onboarding).
fn sent(ctx: &WorkspaceCtx, invites: Vec<CreatedInvite>) -> AppResult<()> {
    ctx.state.mail_wakeup.notify_one();
    if let Some(folder) = ctx.state.mailer.files_folder() {
        for invite in &invites {
            tracing::info!(email = %invite.email, link = %invite.link, %folder, "no SMTP configured: invitation written as a file");
        }
    }
    remember_links(&ctx.session, invites)
}

pub(super) fn remember_links(session: &Session, invites: Vec<CreatedInvite>) -> AppResult<()> {
    let pairs: Vec<(String, String)> = invites.into_iter().map(|c| (c.email, c.link)).collect();
    session
        .insert(NEW_LINKS_KEY, pairs)
        .map_err(AppError::internal)
}
