//! Permission requests: a member asks (from a 403 page or their member page); admins
//! triage on the Requests screen, approving with an optional end date or denying.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::domain::{DecisionNote, Invalid, LastDay, RequestReason};
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::permission_request::PermissionRequest;
use crate::permissions::{Grant, Permission, Scope};
use crate::services::join_link::{self, JoinTriage};
use crate::services::requests::{self, Decision, Triage};
use crate::web::forms::{parsed, validated, FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{
    attempt, db, refused, render_status, see_other, set_flash, Chrome, FlashKind, REFUSED,
};

#[derive(Deserialize, Validate, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AskForm {
    #[serde(default)]
    #[validate(length(min = 1, message = "Choose a permission"))]
    permission: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    #[validate(custom(function = "RequestReason::validate"))]
    reason: String,
}

impl AskForm {
    /// The permission and scope chosen (`None` before a permission is chosen). Both are
    /// selects, so any other value is a request no page of ours sends (400).
    fn grant(&self) -> AppResult<Option<Grant>> {
        if self.permission.is_empty() {
            return Ok(None);
        }
        let permission = Permission::from_key(&self.permission)
            .ok_or_else(|| AppError::BadRequest("Unknown permission.".into()))?;
        let scope = if permission.is_scoped() {
            Some(
                Scope::from_key(&self.scope)
                    .ok_or_else(|| AppError::BadRequest("Choose own, team or all.".into()))?,
            )
        } else {
            None
        };
        Ok(Some(Grant { permission, scope }))
    }

    /// The request as the service takes it, or every field's problem at once.
    fn input(&self, grant: Option<Grant>) -> Result<(Grant, RequestReason), FieldErrors> {
        validated(self)?;
        let grant = parsed(
            grant.ok_or_else(|| Invalid::new("Choose a permission")),
            "permission",
        )?;
        Ok((grant, parsed(RequestReason::parse(&self.reason), "reason")?))
    }
}

#[derive(Template)]
#[template(path = "requests/new.html")]
struct AskPage {
    chrome: Chrome,
    action: String,
    form: AskForm,
    errors: FieldErrors,
    permissions: [Permission; 13],
    scopes: [Scope; 3],
    mine: Vec<PermissionRequest>,
}

impl AskPage {
    fn fmt_date(&self, at: &chrono::NaiveDateTime) -> String {
        at.format("%-d %b %Y").to_string()
    }
}

async fn render_ask(
    ctx: &WorkspaceCtx,
    form: AskForm,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let access = ctx.access.clone();
    let mine = db(ctx.db_pool(), move |conn| requests::mine(conn, &access)).await?;
    let page = AskPage {
        chrome: ctx.chrome("Ask for a permission", "")?,
        action: ctx.path("/requests/new"),
        form,
        errors,
        permissions: Permission::ALL,
        scopes: [Scope::Own, Scope::Team, Scope::All],
        mine,
    };
    render_status(&page, status)
}

#[derive(Deserialize)]
pub struct AskQuery {
    permission: Option<String>,
}

/// GET /w/{ws}/requests/new — any active member; `?permission=` preselects one (the 403
/// page links here with the permission it lacked).
pub async fn ask_form(ctx: WorkspaceCtx, query: web::Query<AskQuery>) -> AppResult<HttpResponse> {
    let permission = query
        .permission
        .as_deref()
        .and_then(Permission::from_key)
        .map(|p| p.key().to_string())
        .unwrap_or_default();
    let form = AskForm {
        permission,
        scope: "all".into(),
        reason: String::new(),
    };
    render_ask(&ctx, form, FieldErrors::default(), StatusCode::OK).await
}

/// POST /w/{ws}/requests/new — any active member asks for a permission for themselves.
pub async fn ask(ctx: WorkspaceCtx, form: StrictForm<AskForm>) -> AppResult<HttpResponse> {
    let form = form.0;
    let (grant, reason) = match form.input(form.grant()?) {
        Ok(input) => input,
        Err(errors) => return render_ask(&ctx, form, errors, REFUSED).await,
    };
    let (access, actor, links) = (
        ctx.access.clone(),
        ctx.actor.clone(),
        ctx.state.links.clone(),
    );
    let label = grant.title();
    match attempt(ctx.db_pool(), move |conn| {
        requests::ask(conn, &access, &actor, &links, &grant, &reason)
    })
    .await?
    {
        Ok(_) => {
            ctx.state.mail_wakeup.notify_one();
            let message =
                format!("Request for {label} sent. You'll get an email when an admin decides.");
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/requests/new")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_ask(&ctx, form, errors, REFUSED).await
        }
    }
}

#[derive(Template)]
#[template(path = "requests/list.html")]
struct TriagePage {
    chrome: Chrome,
    base: String,
    triage: Triage,
    today: String,
    /// The viewer's member id: their own requests are decided by someone else.
    viewer: i64,
    /// The decision form that was refused, shown again on its request.
    row: Option<RowForm>,
    /// Join requests from the invite link, next to permission requests.
    joins: JoinTriage,
    /// The invite link's settings page.
    link_settings: String,
}

/// One request's decision form as it was sent: what was typed in its field, and what is
/// wrong with it.
struct RowForm {
    request: i64,
    field: &'static str,
    typed: String,
    errors: FieldErrors,
}

impl RowForm {
    fn new(request: i64, field: &'static str, typed: &str) -> Self {
        RowForm {
            request,
            field,
            typed: typed.to_string(),
            errors: FieldErrors::default(),
        }
    }

    fn with(self, errors: FieldErrors) -> Self {
        RowForm { errors, ..self }
    }
}

impl TriagePage {
    fn error_for(&self, request: &i64, field: &str) -> Option<&str> {
        self.row
            .as_ref()
            .filter(|r| r.request == *request)
            .and_then(|r| r.errors.get(field))
    }

    fn typed_for(&self, request: &i64, field: &str) -> &str {
        self.row
            .as_ref()
            .filter(|r| r.request == *request && r.field == field)
            .map_or("", |r| r.typed.as_str())
    }

    fn fmt_date(&self, at: &chrono::NaiveDateTime) -> String {
        at.format("%-d %b %Y").to_string()
    }

    /// Whether the viewer may approve it (never their own: `members::Act::Grant`).
    fn may_approve(&self, request: &PermissionRequest) -> bool {
        request.member_id != self.viewer
    }
}

/// GET /w/{ws}/requests — requires settings.manage: pending permission requests to decide.
pub async fn list(ctx: WorkspaceCtx) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    render_triage(&ctx, None, StatusCode::OK).await
}

async fn render_triage(
    ctx: &WorkspaceCtx,
    row: Option<RowForm>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let workspace_id = ctx.access.workspace.id;
    let (triage, joins) = db(ctx.db_pool(), move |conn| {
        Ok((
            requests::triage(conn, workspace_id)?,
            join_link::triage(conn, workspace_id)?,
        ))
    })
    .await?;
    let page = TriagePage {
        chrome: ctx.chrome("Requests", "requests")?,
        base: ctx.path("/requests"),
        viewer: ctx.access.member.id,
        triage,
        today: models::now().date().format("%Y-%m-%d").to_string(),
        row,
        joins,
        link_settings: ctx.path("/settings/link"),
    };
    render_status(&page, status)
}

fn request_id(path: &(String, String)) -> AppResult<i64> {
    path.1.parse().map_err(|_| AppError::NotFound)
}

/// Decides the request of `row`; a refusal shows the requests page again with it.
async fn decide(ctx: WorkspaceCtx, row: RowForm, decision: Decision) -> AppResult<HttpResponse> {
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    let (links, id) = (ctx.state.links.clone(), row.request);
    match attempt(ctx.db_pool(), move |conn| {
        requests::decide(conn, &access, &actor, &links, id, decision)
    })
    .await?
    {
        Ok(decided) => {
            ctx.state.mail_wakeup.notify_one();
            let verb = if decided.approved {
                "Approved"
            } else {
                "Denied"
            };
            let message = format!(
                "{verb}: {} for {}. They were emailed the outcome.",
                decided.grant, decided.who
            );
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/requests")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_triage(&ctx, Some(row.with(errors)), REFUSED).await
        }
    }
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ApproveForm {
    #[serde(default)]
    #[validate(custom(function = "LastDay::validate_optional"))]
    expires_on: String,
}

impl ApproveForm {
    fn last_day(&self) -> Result<Option<LastDay>, FieldErrors> {
        validated(self)?;
        parsed(LastDay::parse_optional(&self.expires_on), "expires_on")
    }
}

/// POST /w/{ws}/requests/{id}/approve — requires settings.manage and the permission itself
/// at the requested scope; `expires_on` (YYYY-MM-DD, optional) is the grant's last day.
pub async fn approve(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ApproveForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let form = form.0;
    let row = RowForm::new(request_id(&path)?, "expires_on", &form.expires_on);
    match form.last_day() {
        Ok(last_day) => decide(ctx, row, Decision::Approve { last_day }).await,
        Err(errors) => render_triage(&ctx, Some(row.with(errors)), REFUSED).await,
    }
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DenyForm {
    #[serde(default)]
    #[validate(custom(function = "DecisionNote::validate_optional"))]
    note: String,
}

impl DenyForm {
    fn note(&self) -> Result<Option<DecisionNote>, FieldErrors> {
        validated(self)?;
        parsed(DecisionNote::parse_optional(&self.note), "note")
    }
}

/// POST /w/{ws}/requests/{id}/deny — requires settings.manage; `note` goes to the member.
pub async fn deny(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<DenyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let form = form.0;
    let row = RowForm::new(request_id(&path)?, "note", &form.note);
    match form.note() {
        Ok(note) => decide(ctx, row, Decision::Deny { note }).await,
        Err(errors) => render_triage(&ctx, Some(row.with(errors)), REFUSED).await,
    }
}

fn join_request_id(path: &(String, String)) -> AppResult<i64> {
    path.1.parse().map_err(|_| AppError::NotFound)
}

/// Approves or denies a join request; a refusal shows the requests page again.
async fn decide_join(ctx: WorkspaceCtx, id: i64, approve: bool) -> AppResult<HttpResponse> {
    let (access, actor, links) = (
        ctx.access.clone(),
        ctx.actor.clone(),
        ctx.state.links.clone(),
    );
    match attempt(ctx.db_pool(), move |conn| {
        join_link::decide(conn, &access, &actor, &links, id, approve)
    })
    .await?
    {
        Ok(decided) => {
            ctx.state.mail_wakeup.notify_one();
            let message = if decided.approved {
                format!(
                    "Approved: {} joined the workspace. They were emailed.",
                    decided.who
                )
            } else {
                format!("Denied: {} does not join. They were emailed.", decided.who)
            };
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/requests")))
        }
        Err(refusals) => {
            refused(&ctx.session, refusals)?;
            render_triage(&ctx, None, REFUSED).await
        }
    }
}

/// POST /w/{ws}/requests/join/{id}/approve — requires settings.manage; the seat, the daily
/// limit and the approver's right to give the link's roles are checked as it is written.
pub async fn approve_join(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    _form: StrictForm<crate::web::forms::EmptyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = join_request_id(&path)?;
    decide_join(ctx, id, true).await
}

/// POST /w/{ws}/requests/join/{id}/deny — requires settings.manage.
pub async fn deny_join(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    _form: StrictForm<crate::web::forms::EmptyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = join_request_id(&path)?;
    decide_join(ctx, id, false).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkJoinForm {
    /// The join requests ticked, one `request` each.
    #[serde(default)]
    request: Vec<String>,
    /// Which button: `approve` or `deny`.
    #[serde(default)]
    decision: String,
}

/// "Approved 3 requests. 1 could not be approved: Eve — the workspace has no free seat."
fn bulk_message(outcome: &join_link::DecidedMany, approve: bool) -> String {
    let (verb, infinitive) = if approve {
        ("Approved", "approved")
    } else {
        ("Denied", "denied")
    };
    let plural = |n: usize| if n == 1 { "request" } else { "requests" };
    let mut message = String::new();
    if !outcome.decided.is_empty() {
        let n = outcome.decided.len();
        message.push_str(&format!(
            "{verb} {n} {}. Each requester was emailed.",
            plural(n)
        ));
    }
    if !outcome.undecided.is_empty() {
        let reasons: Vec<String> = outcome
            .undecided
            .iter()
            .map(|u| {
                format!(
                    "{} — {}",
                    u.who,
                    lowercase_first(u.why.trim_end_matches('.'))
                )
            })
            .collect();
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(&format!(
            "{} could not be {infinitive}: {}.",
            outcome.undecided.len(),
            reasons.join("; ")
        ));
    }
    message
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// POST /w/{ws}/requests/join/bulk — requires settings.manage: approves or denies every
/// ticked join request, each by the rules (and in the transaction) of one decision; what
/// could not be decided is listed with why. An id that is not a join request here is a 404
/// (and nothing is decided); none ticked is refused.
pub async fn decide_joins(
    ctx: WorkspaceCtx,
    form: StrictForm<BulkJoinForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let form = form.0;
    let approve = match form.decision.as_str() {
        "approve" => true,
        "deny" => false,
        _ => return Err(AppError::BadRequest("Choose Approve or Deny.".into())),
    };
    let ids = form
        .request
        .iter()
        .map(|id| id.parse::<i64>().map_err(|_| AppError::NotFound))
        .collect::<AppResult<Vec<i64>>>()?;
    let (access, actor, links) = (
        ctx.access.clone(),
        ctx.actor.clone(),
        ctx.state.links.clone(),
    );
    match attempt(ctx.db_pool(), move |conn| {
        join_link::decide_many(conn, &access, &actor, &links, &ids, approve)
    })
    .await?
    {
        Ok(outcome) if outcome.decided.is_empty() => {
            // Nothing was decided: the page again, saying why for each.
            set_flash(
                &ctx.session,
                FlashKind::Error,
                bulk_message(&outcome, approve),
            )?;
            render_triage(&ctx, None, REFUSED).await
        }
        Ok(outcome) => {
            ctx.state.mail_wakeup.notify_one();
            let kind = if outcome.undecided.is_empty() {
                FlashKind::Success
            } else {
                FlashKind::Info
            };
            set_flash(&ctx.session, kind, bulk_message(&outcome, approve))?;
            Ok(see_other(&ctx.path("/requests")))
        }
        Err(refusals) => {
            refused(&ctx.session, refusals)?;
            render_triage(&ctx, None, REFUSED).await
        }
    }
}
