//! The Domains screen (`/w/{ws}/settings/domains`, settings.manage): add a domain (Pending,
//! with the TXT record to publish), "Check now" looks the record up, remove asks first.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::domain::Domain;
use crate::permissions::Permission;
use crate::services::domains::{self, CheckOutcome};
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

/// A domain as the screen shows it.
pub struct DomainRow {
    pub id: i64,
    pub name: String,
    pub verified: bool,
    pub record: String,
    pub checked_at: Option<String>,
    pub check_result: Option<String>,
    pub verified_at: Option<String>,
}

impl DomainRow {
    fn from(domain: &Domain) -> Self {
        let when = |t: chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M UTC").to_string();
        DomainRow {
            id: domain.id,
            name: domain.domain.clone(),
            verified: domain.is_verified(),
            record: domains::txt_record(domain),
            checked_at: domain.last_checked_at.map(when),
            check_result: domain.last_check_result.clone(),
            verified_at: domain.verified_at.map(when),
        }
    }
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
    let workspace_id = ctx.access.workspace.id;
    let list = db(ctx.db_pool(), move |conn| domains::list(conn, workspace_id)).await?;
    let page = DomainsPage {
        chrome: ctx.chrome("Domains", "settings")?,
        action: ctx.path("/settings/domains"),
        settings_href: ctx.path("/settings"),
        form,
        errors,
        rows: list.iter().map(DomainRow::from).collect(),
    };
    render_status(&page, status)
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
    match attempt(ctx.db_pool(), move |conn| {
        domains::remove(conn, &access, &actor, id)
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
