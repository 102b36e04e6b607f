//! Permission requests: a member asks (from a 403 page or their member page); admins
//! triage on the Requests screen, approving with an optional end date or denying.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::permission_request::PermissionRequest;
use crate::permissions::{Grant, Permission, Scope};
use crate::services::requests::{self, AskOutcome, Decision, Triage, MAX_REASON_CHARS};
use crate::text;
use crate::web::forms::{FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{db, render_status, see_other, set_flash, Chrome, FlashKind};

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AskForm {
    #[serde(default)]
    permission: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    reason: String,
}

impl AskForm {
    fn parse(&self) -> Result<(Grant, String), FieldErrors> {
        let mut errors = FieldErrors::default();
        let permission = Permission::from_key(&self.permission);
        if permission.is_none() {
            errors.add("permission", "Choose a permission");
        }
        let scope = match permission {
            Some(p) if p.is_scoped() => match Scope::from_key(&self.scope) {
                Some(scope) => Some(scope),
                None => {
                    errors.add("scope", "Choose own, team or all");
                    None
                }
            },
            _ => None,
        };
        let reason = self.reason.trim();
        if let Err(e) = text::multi_line(reason) {
            errors.add("reason", e.to_string());
        } else if reason.is_empty() {
            errors.add("reason", "Say why you need it: the admin decides from this");
        } else if reason.chars().count() > MAX_REASON_CHARS {
            errors.add("reason", format!("At most {MAX_REASON_CHARS} characters"));
        }
        match permission {
            Some(permission) if errors.is_empty() => {
                Ok((Grant { permission, scope }, reason.to_string()))
            }
            _ => Err(errors),
        }
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
    let (grant, reason) = match form.parse() {
        Ok(parsed) => parsed,
        Err(errors) => {
            return render_ask(&ctx, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    };
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match db(ctx.db_pool(), move |conn| {
        requests::ask(conn, &access, &actor, &grant, &reason)
    })
    .await?
    {
        AskOutcome::Created(_) => {
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!(
                    "Request for {} sent. You'll get an email when an admin decides.",
                    grant.label()
                ),
            )?;
            Ok(see_other(&ctx.path("/requests/new")))
        }
        AskOutcome::Refused(field, message) => {
            let mut errors = FieldErrors::default();
            errors.add(field, message);
            render_ask(&ctx, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
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
    refused: Option<RowRefusal>,
}

/// A decision form that was refused: shown again on its request, with what was typed.
struct RowRefusal {
    request: i64,
    field: &'static str,
    message: String,
    typed: String,
}

impl TriagePage {
    fn error_for(&self, request: &i64, field: &str) -> Option<&str> {
        self.refused
            .as_ref()
            .filter(|r| r.request == *request && r.field == field)
            .map(|r| r.message.as_str())
    }

    fn typed_for(&self, request: &i64, field: &str) -> &str {
        self.refused
            .as_ref()
            .filter(|r| r.request == *request && r.field == field)
            .map_or("", |r| r.typed.as_str())
    }

    fn grant_label(&self, request: &PermissionRequest) -> String {
        Grant::from_keys(&request.permission, request.scope.as_deref())
            .map(|g| g.label())
            .unwrap_or_else(|| request.permission.clone())
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
    render_triage(&ctx, None).await
}

async fn render_triage(ctx: &WorkspaceCtx, refused: Option<RowRefusal>) -> AppResult<HttpResponse> {
    let workspace_id = ctx.access.workspace.id;
    let triage = db(ctx.db_pool(), move |conn| {
        requests::triage(conn, workspace_id)
    })
    .await?;
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = TriagePage {
        chrome: ctx.chrome("Requests", "requests")?,
        base: ctx.path("/requests"),
        viewer: ctx.access.member.id,
        triage,
        today: models::now().date().format("%Y-%m-%d").to_string(),
        refused,
    };
    render_status(&page, status)
}

fn request_id(path: &(String, String)) -> AppResult<i64> {
    path.1.parse().map_err(|_| AppError::NotFound)
}

async fn decide(ctx: WorkspaceCtx, id: i64, decision: Decision) -> AppResult<HttpResponse> {
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    let links = ctx.state.links.clone();
    match db(ctx.db_pool(), move |conn| {
        requests::decide(conn, &access, &actor, &links, id, decision)
    })
    .await
    {
        Ok(decided) => {
            ctx.state.mail_wakeup.notify_one();
            let verb = if decided.approved {
                "Approved"
            } else {
                "Denied"
            };
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!(
                    "{verb}: {} for {}. They were emailed the outcome.",
                    decided.grant, decided.who
                ),
            )?;
        }
        Err(AppError::BadRequest(message)) => set_flash(&ctx.session, FlashKind::Error, message)?,
        Err(other) => return Err(other),
    }
    Ok(see_other(&ctx.path("/requests")))
}

/// The grant's optional last day: empty, or a date today or later.
fn parse_last_day(typed: &str) -> Result<Option<NaiveDate>, String> {
    let typed = text::single_line(typed).map_err(|e| e.to_string())?.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    match NaiveDate::parse_from_str(typed, "%Y-%m-%d") {
        Ok(date) if date >= models::now().date() => Ok(Some(date)),
        Ok(_) => Err("The end date must be today or later.".into()),
        Err(_) => Err("The end date must be a date like 2027-01-31.".into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveForm {
    #[serde(default)]
    expires_on: String,
}

/// POST /w/{ws}/requests/{id}/approve — requires settings.manage and the permission itself
/// at the requested scope; `expires_on` (YYYY-MM-DD, optional) is the grant's last day.
pub async fn approve(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ApproveForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = request_id(&path)?;
    let typed = form.0.expires_on;
    let expires_on = match parse_last_day(&typed) {
        Ok(day) => day,
        Err(message) => {
            let refused = RowRefusal {
                request: id,
                field: "expires_on",
                message,
                typed,
            };
            return render_triage(&ctx, Some(refused)).await;
        }
    };
    decide(ctx, id, Decision::Approve { expires_on }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyForm {
    #[serde(default)]
    note: String,
}

/// POST /w/{ws}/requests/{id}/deny — requires settings.manage; `note` goes to the member.
pub async fn deny(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<DenyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = request_id(&path)?;
    let typed = form.0.note;
    let note = match text::multi_line(typed.trim()) {
        Ok(note) if note.chars().count() <= MAX_REASON_CHARS => note,
        refused => {
            let message = match refused {
                Err(e) => e.to_string(),
                Ok(_) => format!("At most {MAX_REASON_CHARS} characters"),
            };
            let refused = RowRefusal {
                request: id,
                field: "note",
                message,
                typed,
            };
            return render_triage(&ctx, Some(refused)).await;
        }
    };
    let decision = Decision::Deny {
        note: (!note.is_empty()).then_some(note),
    };
    decide(ctx, id, decision).await
}
