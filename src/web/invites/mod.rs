//! The Invites screen: the invite form, the review table, the list, resend and revoke.

pub mod accept;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::email::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::invite::{Invite, InviteListRow, InviteStatus};
use crate::models::member::SeatType;
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::invites::{
    self, CreateOutcome, CreatedInvite, InviteRequest, ReviewLine, Verdict,
};
use crate::services::members;
use crate::services::roles::{authors_may_still_offer, Offer};
use crate::services::seats::Seats;
use crate::text;
use crate::web::forms::{FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{db, render_status, see_other, set_flash, take, Chrome, FlashKind};

const NEW_LINKS_KEY: &str = "new_invite_links";

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct InviteForm {
    #[serde(default)]
    emails: String,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    seat_type: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    notification_email: String,
    #[serde(default)]
    metadata: String,
}

impl InviteForm {
    fn has_role(&self, id: &i64) -> bool {
        self.role.iter().any(|r| r == &id.to_string())
    }

    fn parse(&self) -> Result<InviteRequest, FieldErrors> {
        let mut errors = FieldErrors::default();
        for (field, value, lines) in [
            ("emails", &self.emails, true),
            ("name", &self.name, false),
            ("message", &self.message, true),
        ] {
            let checked = if lines {
                text::multi_line(value).map(drop)
            } else {
                text::single_line(value).map(drop)
            };
            if let Err(e) = checked {
                errors.add(field, e.to_string());
            }
        }
        let count = invites::split_addresses(&self.emails).len();
        if count == 0 {
            errors.add("emails", "Enter at least one email address");
        } else if count > invites::MAX_ADDRESSES {
            errors.add(
                "emails",
                format!(
                    "At most {} addresses per invite ({count} entered)",
                    invites::MAX_ADDRESSES
                ),
            );
        }
        let role_ids: Vec<i64> = self.role.iter().filter_map(|r| r.parse().ok()).collect();
        if role_ids.is_empty() || role_ids.len() != self.role.len() {
            errors.add("role", "Choose at least one role");
        }
        let seat = SeatType::from_key(&self.seat_type);
        if seat.is_none() {
            errors.add("seat_type", "Choose Member or Builder");
        }
        let name = self.name.trim();
        if name.chars().count() > 100 {
            errors.add("name", "At most 100 characters");
        }
        let message = self.message.trim();
        if message.chars().count() > 1000 {
            errors.add("message", "At most 1,000 characters");
        }
        let notification_email = match self.notification_email.trim() {
            "" => None,
            other => match EmailAddress::parse(other) {
                Ok(email) => Some(email),
                Err(e) => {
                    errors.add("notification_email", e.to_string());
                    None
                }
            },
        };
        let metadata = members::parse_metadata(&self.metadata).unwrap_or_else(|e| {
            errors.add("metadata", e);
            String::new()
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(InviteRequest {
            emails: self.emails.clone(),
            role_ids,
            seat: seat.unwrap_or(SeatType::Member),
            name: (!name.is_empty()).then(|| name.to_string()),
            message: (!message.is_empty()).then(|| message.to_string()),
            notification_email,
            metadata,
        })
    }
}

pub struct ListLine {
    pub row: InviteListRow,
    pub status: InviteStatus,
    /// Pending, but its inviter can no longer offer it: acceptance would be refused.
    pub withdrawn: bool,
}

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
    review: Vec<ReviewLine>,
    acceptable: String,
    seats_label: String,
    new_links: Vec<(String, String)>,
}

impl InvitesPage {
    fn verdict_text(&self, verdict: &Verdict) -> String {
        match verdict {
            Verdict::New => "New: will be invited".into(),
            Verdict::Invalid(why) => format!("Invalid: {why}"),
            Verdict::Duplicate => "Listed twice: sent once".into(),
            Verdict::AlreadyMember => "Already a member".into(),
            Verdict::AlreadyInvited { .. } => {
                "Already invited: resend it from the list below".into()
            }
            Verdict::LikelyTypo { suggestion } => {
                format!("Likely typo: did you mean {suggestion}?")
            }
        }
    }

    fn fmt_date(&self, at: &NaiveDateTime) -> String {
        at.format("%-d %b %Y").to_string()
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    status: Option<String>,
}

struct PageInput {
    form: InviteForm,
    errors: FieldErrors,
    review: Vec<ReviewLine>,
    status: Option<InviteStatus>,
}

async fn render_page(
    ctx: &WorkspaceCtx,
    input: PageInput,
    code: StatusCode,
) -> AppResult<HttpResponse> {
    let access = ctx.access.clone();
    let status = input.status;
    let (roles, rows, seats) = db(ctx.db_pool(), move |conn| {
        let roles = invites::grantable_roles(conn, &access)?;
        let now = models::now();
        let rows = Invite::list(conn, access.workspace.id, status, now, 200)?;
        // The same check acceptance makes, for every pending row at once (fixed queries).
        let pending: Vec<usize> = (0..rows.len())
            .filter(|i| rows[*i].invite.status_at(now) == InviteStatus::Pending)
            .collect();
        let offers: Vec<Offer> = pending
            .iter()
            .map(|i| Offer {
                author_account_id: rows[*i].invite.invited_by,
                role_ids: rows[*i].role_ids.clone(),
            })
            .collect();
        let verdicts = authors_may_still_offer(
            conn,
            access.workspace.id,
            Permission::MembersInvite,
            &offers,
        )?;
        let mut withdrawn = vec![false; rows.len()];
        for (i, verdict) in pending.into_iter().zip(verdicts) {
            withdrawn[i] = verdict.is_err();
        }
        let seats = Seats::load(conn, &access.workspace, now)?;
        Ok((
            roles,
            rows.into_iter().zip(withdrawn).collect::<Vec<_>>(),
            seats,
        ))
    })
    .await?;
    let now = models::now();
    let seats_label = seats.label();
    let acceptable = input
        .review
        .iter()
        .filter(|l| l.verdict.is_acceptable())
        .map(|l| l.typed.clone())
        .collect::<Vec<_>>()
        .join("\n");
    let new_links: Vec<(String, String)> = take(&ctx.session, NEW_LINKS_KEY).unwrap_or_default();
    let mut form = input.form;
    if form.seat_type.is_empty() {
        form.seat_type = SeatType::Member.key().into();
    }
    let page = InvitesPage {
        chrome: ctx.chrome("Invites", "invites")?,
        base: ctx.path("/invites"),
        form,
        errors: input.errors,
        roles,
        seat_types: SeatType::ALL,
        statuses: InviteStatus::ALL,
        status_key: status.map(|s| s.key()).unwrap_or("").to_string(),
        lines: rows
            .into_iter()
            .map(|(row, withdrawn)| ListLine {
                status: row.invite.status_at(now),
                row,
                withdrawn,
            })
            .collect(),
        review: input.review,
        acceptable,
        seats_label,
        new_links,
    };
    render_status(&page, code)
}

/// GET /w/{ws}/invites — requires members.invite.
pub async fn list(ctx: WorkspaceCtx, query: web::Query<ListQuery>) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let status = query.status.as_deref().and_then(InviteStatus::from_key);
    let input = PageInput {
        form: InviteForm::default(),
        errors: FieldErrors::default(),
        review: Vec::new(),
        status,
    };
    render_page(&ctx, input, StatusCode::OK).await
}

/// Tells the operator the links when mail only goes to files (SPEC: local onboarding).
fn log_links_without_smtp(ctx: &WorkspaceCtx, created: &[CreatedInvite]) {
    if ctx.state.mailer.is_files() {
        for invite in created {
            tracing::info!(email = %invite.email, link = %invite.link, "no SMTP configured: invitation written to mail/");
        }
    }
}

/// POST /w/{ws}/invites — requires members.invite; roles only those the inviter may grant.
pub async fn create(ctx: WorkspaceCtx, form: StrictForm<InviteForm>) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let form = form.0;
    let request = match form.parse() {
        Ok(request) => request,
        Err(errors) => {
            let input = PageInput {
                form,
                errors,
                review: Vec::new(),
                status: None,
            };
            return render_page(&ctx, input, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let (access, actor, links) = (
        ctx.access.clone(),
        ctx.actor.clone(),
        ctx.state.links.clone(),
    );
    let outcome = db(ctx.db_pool(), move |conn| {
        invites::create(conn, &access, &actor, &links, &request)
    })
    .await?;
    let mut errors = FieldErrors::default();
    let review = match outcome {
        CreateOutcome::Created(created) => {
            ctx.state.mail_wakeup.notify_one();
            log_links_without_smtp(&ctx, &created);
            let n = created.len();
            let pairs: Vec<(String, String)> =
                created.into_iter().map(|c| (c.email, c.link)).collect();
            ctx.session
                .insert(NEW_LINKS_KEY, pairs)
                .map_err(AppError::internal)?;
            let message = if n == 1 {
                "Sent 1 invitation.".to_string()
            } else {
                format!("Sent {n} invitations.")
            };
            set_flash(&ctx.session, FlashKind::Success, message)?;
            return Ok(see_other(&ctx.path("/invites")));
        }
        CreateOutcome::Review { lines, seats_free } => {
            let bad = lines.iter().filter(|l| !l.verdict.is_acceptable()).count();
            let seats = seats_free
                .map(|f| format!(" {f} seats free."))
                .unwrap_or_default();
            errors.add("emails", format!("Nothing was sent: {bad} of {} addresses need attention (see the review below).{seats}", lines.len()));
            lines
        }
        CreateOutcome::SeatLimit(message) => {
            errors.add("emails", message);
            Vec::new()
        }
        CreateOutcome::DailyLimit {
            limit,
            used,
            resets_at,
        } => {
            errors.add(
                "emails",
                format!(
                    "Daily invitation limit reached: {used} of {limit} addresses invited in the last 24 hours. More can be invited from {} UTC.",
                    resets_at.format("%-d %b %Y %H:%M")
                ),
            );
            Vec::new()
        }
    };
    let input = PageInput {
        form,
        errors,
        review,
        status: None,
    };
    render_page(&ctx, input, StatusCode::UNPROCESSABLE_ENTITY).await
}

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
    match db(ctx.db_pool(), move |conn| {
        invites::resend(conn, &access, &actor, &links, id)
    })
    .await
    {
        Ok(created) => {
            ctx.state.mail_wakeup.notify_one();
            log_links_without_smtp(&ctx, std::slice::from_ref(&created));
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!(
                    "A new link was sent to {}; the old one no longer works.",
                    created.email
                ),
            )?;
            ctx.session
                .insert(NEW_LINKS_KEY, vec![(created.email, created.link)])
                .map_err(AppError::internal)?;
        }
        Err(AppError::BadRequest(message)) => set_flash(&ctx.session, FlashKind::Error, message)?,
        Err(other) => return Err(other),
    }
    Ok(see_other(&ctx.path("/invites")))
}

/// POST /w/{ws}/invites/{id}/revoke — requires members.invite.
pub async fn revoke(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersInvite)?;
    let id = invite_id(&path)?;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match db(ctx.db_pool(), move |conn| {
        invites::revoke(conn, &access, &actor, id)
    })
    .await
    {
        Ok(invite) => set_flash(
            &ctx.session,
            FlashKind::Success,
            format!(
                "The invitation to {} was revoked; its seat is free.",
                invite.email
            ),
        )?,
        Err(AppError::BadRequest(message)) => set_flash(&ctx.session, FlashKind::Error, message)?,
        Err(other) => return Err(other),
    }
    Ok(see_other(&ctx.path("/invites")))
}
