//! The Domains screen (`/w/{ws}/settings/domains`, settings.manage): add a domain (Pending,
//! with the TXT record to publish), "Check now" looks the record up, remove asks first; a
//! verified domain's join policy (off, auto-join, join with approval; default roles).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::domain::Domain;
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::domains::{self, CheckOutcome, JoinPolicy, PolicyInput};
use crate::web::forms::{ConfirmForm, EmptyForm, FieldErrors, StrictForm};
use crate::web::{
    attempt, db, refused, render, render_status, see_other, set_flash, Chrome, FlashKind,
    WorkspaceCtx, REFUSED,
};

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AddDomainForm {
    #[serde(default)]
    domain: String,
}

/// A verified domain's join policy form: `policy` (`off`, `auto`, `approval`), `role`
/// (repeatable role ids), `include_subdomains` (`on` or absent).
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct PolicyForm {
    #[serde(default)]
    policy: String,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    include_subdomains: String,
}

impl PolicyForm {
    fn from_domain(domain: &Domain, default_roles: &[i64]) -> Self {
        let stored = domain.role_id_list();
        let roles = if stored.is_empty() {
            default_roles
        } else {
            &stored
        };
        PolicyForm {
            policy: domain.join_policy.clone(),
            role: roles.iter().map(ToString::to_string).collect(),
            include_subdomains: if domain.include_subdomains {
                "on".into()
            } else {
                String::new()
            },
        }
    }

    pub fn has_role(&self, id: &i64) -> bool {
        self.role.iter().any(|r| r == &id.to_string())
    }

    /// The form as the service takes it; a value no page of ours sends is 400.
    fn input(&self) -> AppResult<PolicyInput> {
        let policy = JoinPolicy::parse(&self.policy)
            .ok_or_else(|| AppError::BadRequest("The policy is off, auto or approval.".into()))?;
        let include_subdomains = match self.include_subdomains.as_str() {
            "" => false,
            "on" => true,
            _ => return Err(AppError::BadRequest("A checkbox is `on` or absent.".into())),
        };
        let mut role_ids = Vec::new();
        for r in &self.role {
            let id = r
                .parse::<i64>()
                .map_err(|_| AppError::BadRequest("A role is a role id.".into()))?;
            if !role_ids.contains(&id) {
                role_ids.push(id);
            }
        }
        Ok(PolicyInput {
            policy,
            role_ids,
            include_subdomains,
        })
    }
}

/// A domain as the screen shows it.
pub struct DomainRow {
    pub id: i64,
    pub name: String,
    pub verified: bool,
    pub record: String,
    pub checked_at: Option<String>,
    pub check_result: Option<String>,
    pub verified_at: Option<String>,
    /// What the join policy says, in words ("Off", …), and its roles by name.
    pub policy_label: String,
    pub policy_roles: String,
    /// The policy form's values (stored, or as typed when it was refused) and its errors.
    pub policy: PolicyForm,
    pub policy_errors: FieldErrors,
}

impl DomainRow {
    fn from(domain: &Domain) -> Self {
        Self::with_roles(domain, &[], &[])
    }

    fn with_roles(domain: &Domain, all: &[Role], default_roles: &[i64]) -> Self {
        let when = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M UTC").to_string();
        DomainRow {
            id: domain.id,
            name: domain.domain.clone(),
            verified: domain.is_verified(),
            record: domains::txt_record(domain),
            checked_at: domain.last_checked_at.map(when),
            check_result: domain.last_check_result.clone(),
            verified_at: domain.verified_at.map(when),
            policy_label: JoinPolicy::label(&domain.join_policy).to_string(),
            policy_roles: domain
                .role_id_list()
                .iter()
                .filter_map(|id| all.iter().find(|r| r.id == *id))
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            policy: PolicyForm::from_domain(domain, default_roles),
            policy_errors: FieldErrors::default(),
        }
    }
}

/// A refused policy form, shown again on its own domain's row.
struct PolicyEdit {
    id: i64,
    form: PolicyForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "settings/domains.html")]
struct DomainsPage {
    chrome: Chrome,
    action: String,
    settings_href: String,
    form: AddDomainForm,
    errors: FieldErrors,
    rows: Vec<DomainRow>,
    /// The roles the viewer may offer through a join policy.
    roles: Vec<Role>,
}

#[derive(Template)]
#[template(path = "settings/domains_remove.html")]
struct RemovePage {
    chrome: Chrome,
    base: String,
    row: DomainRow,
}

fn path_id(segment: &str) -> AppResult<i64> {
    segment.parse().map_err(|_| AppError::NotFound)
}

async fn render_page(
    ctx: &WorkspaceCtx,
    form: AddDomainForm,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    render_with(ctx, form, errors, None, status).await
}

async fn render_with(
    ctx: &WorkspaceCtx,
    form: AddDomainForm,
    errors: FieldErrors,
    edit: Option<PolicyEdit>,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let access = ctx.access.clone();
    let (list, all, grantable) = db(ctx.db_pool(), move |conn| {
        let all = Role::for_workspace(conn, access.workspace.id)?;
        let grantable = crate::services::roles::grantable_among(conn, &access, &all)?;
        Ok((domains::list(conn, access.workspace.id)?, all, grantable))
    })
    .await?;
    // A new policy offers the Member role unless someone chooses otherwise.
    let default_roles: Vec<i64> = grantable
        .iter()
        .filter(|r| r.builtin_key.as_deref() == Some("member"))
        .map(|r| r.id)
        .collect();
    let mut rows: Vec<DomainRow> = list
        .iter()
        .map(|d| DomainRow::with_roles(d, &all, &default_roles))
        .collect();
    if let Some(edit) = edit {
        if let Some(row) = rows.iter_mut().find(|r| r.id == edit.id) {
            row.policy = edit.form;
            row.policy_errors = edit.errors;
        }
    }
    let page = DomainsPage {
        chrome: ctx.chrome("Domains", "settings")?,
        action: ctx.path("/settings/domains"),
        settings_href: ctx.path("/settings"),
        form,
        errors,
        rows,
        roles: grantable,
    };
    render_status(&page, status)
}

/// POST /w/{ws}/settings/domains/{id}/policy — a verified domain's join policy.
pub async fn policy(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<PolicyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = path_id(&path.1)?;
    let form = form.0;
    let input = form.input()?;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        domains::set_policy(conn, &access, &actor, id, &input)
    })
    .await?
    {
        Ok(saved) => {
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!(
                    "Join policy of {} saved: {}.",
                    saved.domain,
                    JoinPolicy::label(&saved.join_policy)
                ),
            )?;
            Ok(see_other(&ctx.path("/settings/domains")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            let edit = PolicyEdit { id, form, errors };
            render_with(
                &ctx,
                AddDomainForm::default(),
                FieldErrors::default(),
                Some(edit),
                REFUSED,
            )
            .await
        }
    }
}

/// GET /w/{ws}/settings/domains — requires settings.manage.
pub async fn show(ctx: WorkspaceCtx) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    render_page(
        &ctx,
        AddDomainForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

/// POST /w/{ws}/settings/domains — adds a domain, Pending.
pub async fn add(ctx: WorkspaceCtx, form: StrictForm<AddDomainForm>) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let form = form.0;
    let input = form.domain.clone();
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        domains::add(conn, &access, &actor, &input)
    })
    .await?
    {
        Ok(added) => {
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!(
                    "{} added, Pending: publish its TXT record, then choose Check now.",
                    added.domain
                ),
            )?;
            Ok(see_other(&ctx.path("/settings/domains")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_page(&ctx, form, errors, REFUSED).await
        }
    }
}

/// POST /w/{ws}/settings/domains/{id}/check — looks the TXT record up now.
pub async fn check(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = path_id(&path.1)?;
    let workspace_id = ctx.access.workspace.id;
    let claimed = db(ctx.db_pool(), move |conn| {
        domains::find(conn, workspace_id, id)
    })
    .await?;
    let back = ctx.path("/settings/domains");
    if claimed.is_verified() {
        set_flash(
            &ctx.session,
            FlashKind::Info,
            format!("{} is already verified.", claimed.domain),
        )?;
        return Ok(see_other(&back));
    }
    let config = &ctx.state.config;
    let lookup = domains::look_up_txt(config.dns_server, config.dns_timeout, &claimed.domain).await;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        domains::record_check(conn, &access, &actor, id, lookup, models::now())
    })
    .await?
    {
        Ok(CheckOutcome::Verified(d)) => {
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!("{} is verified.", d.domain),
            )?;
            Ok(see_other(&back))
        }
        Ok(CheckOutcome::AlreadyVerified(d)) => {
            set_flash(
                &ctx.session,
                FlashKind::Info,
                format!("{} is already verified.", d.domain),
            )?;
            Ok(see_other(&back))
        }
        Ok(CheckOutcome::Pending(d, reason)) => {
            set_flash(
                &ctx.session,
                FlashKind::Error,
                format!("{} is still Pending. {reason}", d.domain),
            )?;
            Ok(see_other(&back))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_page(&ctx, AddDomainForm::default(), errors, REFUSED).await
        }
    }
}

/// POST /w/{ws}/settings/domains/{id}/delete — without `confirm=yes` says what stops
/// working; with it, removes the domain.
pub async fn delete(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ConfirmForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = path_id(&path.1)?;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    if !form.0.confirmed() {
        let outcome = attempt(ctx.db_pool(), move |conn| {
            domains::preview_remove(conn, &access, id)
        })
        .await?;
        return match outcome {
            Ok(domain) => render(&RemovePage {
                chrome: ctx.chrome(format!("Remove {}?", domain.domain), "settings")?,
                base: ctx.path("/settings/domains"),
                row: DomainRow::from(&domain),
            }),
            Err(refusals) => {
                let errors = refused(&ctx.session, refusals)?;
                render_page(&ctx, AddDomainForm::default(), errors, REFUSED).await
            }
        };
    }
    let links = ctx.state.links.clone();
    match attempt(ctx.db_pool(), move |conn| {
        domains::remove(conn, &access, &actor, &links, id)
    })
    .await?
    {
        Ok(removed) => {
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!("{} was removed.", removed.domain),
            )?;
            Ok(see_other(&ctx.path("/settings/domains")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_page(&ctx, AddDomainForm::default(), errors, REFUSED).await
        }
    }
}
