//! Workspace settings: general settings and the module catalogue (`settings.manage`), and
//! the plan (`billing.manage`, the Owner), on one page with two forms.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;
use serde::Deserialize;
use validator::Validate;

use crate::domain::{InviteExpiryDays, ModuleList, Plan, Slug, WorkspaceName};
use crate::error::{AppError, AppResult};
use crate::models;
use crate::permissions::Permission;
use crate::services::seats::Seats;
use crate::services::settings::{self, GeneralInput};
use crate::services::workspaces::{self, PlanChange};
use crate::web::forms::{parsed, validated, FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{
    attempt, db, refused, render_status, see_other, set_flash, Chrome, FlashKind, REFUSED,
};

/// Both forms post here; `section` says which (`general` or `plan`).
#[derive(Deserialize, Validate, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct SettingsForm {
    #[serde(default)]
    section: String,
    #[serde(default)]
    #[validate(custom(function = "WorkspaceName::validate"))]
    name: String,
    #[serde(default)]
    #[validate(custom(function = "Slug::validate"))]
    slug: String,
    #[serde(default)]
    #[validate(custom(function = "InviteExpiryDays::validate"))]
    invite_expiry_days: String,
    #[serde(default)]
    #[validate(custom(function = "ModuleList::validate"))]
    modules: String,
    #[serde(default)]
    plan: String,
    /// `yes` once a plan that allows fewer seats than are in use was confirmed.
    #[serde(default)]
    confirm: String,
}

impl SettingsForm {
    /// The general section as the service takes it, or every field's problem at once.
    fn general(&self) -> Result<GeneralInput, FieldErrors> {
        validated(self)?;
        Ok(GeneralInput {
            name: parsed(WorkspaceName::parse(&self.name), "name")?,
            slug: parsed(Slug::parse(&self.slug), "slug")?,
            invite_expiry_days: parsed(
                InviteExpiryDays::parse(&self.invite_expiry_days),
                "invite_expiry_days",
            )?,
            modules: parsed(ModuleList::parse(&self.modules), "modules")?,
        })
    }
}

pub struct PlanOption {
    pub key: &'static str,
    pub label: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "settings/page.html")]
struct SettingsPage {
    chrome: Chrome,
    action: String,
    form: SettingsForm,
    errors: FieldErrors,
    can_bill: bool,
    plans: Vec<PlanOption>,
    plan_name: String,
    /// False until a plan is chosen: the select then starts on "No plan yet".
    plan_chosen: bool,
    seats: Seats,
    /// The plan section, for whoever may change the plan (as on Users and Invites).
    plan_href: Option<String>,
    domains_href: String,
}

async fn render_page(
    ctx: &WorkspaceCtx,
    form: Option<SettingsForm>,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let workspace = ctx.access.workspace.clone();
    let (modules, seats) = {
        let workspace = workspace.clone();
        db(ctx.db_pool(), move |conn| {
            settings::overview(conn, &workspace)
        })
        .await?
    };
    let form = form.unwrap_or_else(|| SettingsForm {
        section: "general".into(),
        name: workspace.name.clone(),
        slug: workspace.slug.clone(),
        invite_expiry_days: workspace.invite_expiry_days.to_string(),
        modules: modules
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        plan: workspace.plan.clone().unwrap_or_default(),
        confirm: String::new(),
    });
    let plans = Plan::ALL
        .into_iter()
        .map(|p| PlanOption {
            key: p.key(),
            label: match p.seat_limit() {
                Some(n) => format!("{} — {n} seats", p.label()),
                None => format!("{} — unlimited seats", p.label()),
            },
            current: workspace.plan() == Some(p),
        })
        .collect();
    let page = SettingsPage {
        chrome: ctx.chrome("Settings", "settings")?,
        action: ctx.path("/settings"),
        form,
        errors,
        can_bill: ctx.access.perms.allows(Permission::BillingManage),
        plans,
        plan_name: workspace.plan_name().to_string(),
        plan_chosen: workspace.plan().is_some(),
        seats,
        plan_href: crate::services::seats::plan_link(&ctx.access),
        domains_href: ctx.path("/settings/domains"),
    };
    render_status(&page, status)
}

/// GET /w/{ws}/settings — requires settings.manage.
pub async fn show(ctx: WorkspaceCtx) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    render_page(&ctx, None, FieldErrors::default(), StatusCode::OK).await
}

/// POST /w/{ws}/settings — `section=general` requires settings.manage; `section=plan`
/// requires billing.manage.
pub async fn save(ctx: WorkspaceCtx, form: StrictForm<SettingsForm>) -> AppResult<HttpResponse> {
    let form = form.0;
    if form.section == "plan" {
        return save_plan(ctx, form).await;
    }
    ctx.require(Permission::SettingsManage)?;
    if form.section != "general" {
        return Err(AppError::BadRequest("Unknown settings section.".into()));
    }
    save_general(ctx, form).await
}

async fn save_general(ctx: WorkspaceCtx, form: SettingsForm) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let input = match form.general() {
        Ok(input) => input,
        Err(errors) => return render_page(&ctx, Some(form), errors, REFUSED).await,
    };
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        settings::update_general(conn, &access, &actor, &input)
    })
    .await?
    {
        Ok(workspace) => {
            set_flash(&ctx.session, FlashKind::Success, "Settings saved.")?;
            Ok(see_other(&format!("/w/{}/settings", workspace.slug)))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_page(&ctx, Some(form), errors, REFUSED).await
        }
    }
}

impl SettingsForm {
    /// The plan chosen: a select, so any other value is a request no page of ours sends.
    /// Empty is the "no plan yet" line the select starts on when none was chosen.
    fn plan(&self) -> AppResult<Result<Plan, FieldErrors>> {
        if self.plan.trim().is_empty() {
            let mut errors = FieldErrors::default();
            errors.add("plan", "Choose a plan");
            return Ok(Err(errors));
        }
        Plan::from_key(self.plan.trim())
            .map(Ok)
            .ok_or_else(|| AppError::BadRequest("Choose one of the plans offered.".into()))
    }
}

/// The question asked before a plan that allows fewer seats than are in use.
#[derive(Template)]
#[template(path = "settings/confirm_plan.html")]
struct ConfirmPlanPage {
    chrome: Chrome,
    action: String,
    plan: Plan,
    limit: i32,
    seats: Seats,
}

async fn save_plan(ctx: WorkspaceCtx, form: SettingsForm) -> AppResult<HttpResponse> {
    ctx.require(Permission::BillingManage)?;
    let plan = match form.plan()? {
        Ok(plan) => plan,
        Err(errors) => return render_page(&ctx, None, errors, REFUSED).await,
    };
    let confirmed = form.confirm == "yes";
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        match workspaces::set_plan(conn, &access, &actor, plan, confirmed)? {
            PlanChange::Applied(workspace) => Ok(Ok(Seats::load(conn, &workspace, models::now())?)),
            PlanChange::ToConfirm { seats, plan } => Ok(Err((seats, plan))),
        }
    })
    .await?
    {
        Ok(Err((seats, plan))) => {
            let page = ConfirmPlanPage {
                chrome: ctx.chrome("Change the plan?", "settings")?,
                action: ctx.path("/settings"),
                limit: plan.seat_limit().unwrap_or_default(),
                plan,
                seats,
            };
            render_status(&page, StatusCode::OK)
        }
        Ok(Ok(seats)) => {
            let mut message = format!("Plan set to {}.", plan.label());
            if seats.over_limit() {
                message.push_str(&format!(
                    " {}, more than the plan allows. Everyone stays, but no new invitation can be sent until seats are freed.",
                    seats.label()
                ));
            }
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/settings")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_page(&ctx, None, errors, REFUSED).await
        }
    }
}
