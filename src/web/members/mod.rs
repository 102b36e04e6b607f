//! Edits to one member from the member detail page: roles, seat type, manager, and the
//! lifecycle (archive, restore, remove, ownership transfer). Each handler
//! checks the permission, parses, calls one service (which checks scope and dominance in its
//! transaction) and answers 303 back to the member with a flash, or 422 with the reason.

pub mod emails;
pub mod list;

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::auth::reauth;
use crate::error::{AppError, AppResult};
use crate::models::member::SeatType;
use crate::permissions::Permission;
use crate::services::members::lifecycle::{self, Ending, Preview, RestoreOutcome};
use crate::services::members::{self, Refusal};
use crate::web::forms::StrictForm;
use crate::web::members::list::{render_detail, DetailErrors};
use crate::web::WorkspaceCtx;
use crate::web::{db, render, see_other, set_flash, Chrome, FlashKind};

fn member_id(path: &(String, String)) -> AppResult<i64> {
    path.1.parse().map_err(|_| AppError::NotFound)
}

/// After a service call: 303 back to the member page, or the page again with the refusal
/// beside its field (422, nothing changed).
async fn finish(
    ctx: WorkspaceCtx,
    id: i64,
    outcome: Result<(), Refusal>,
    done: &str,
) -> AppResult<HttpResponse> {
    match outcome {
        Ok(()) => {
            set_flash(&ctx.session, FlashKind::Success, done)?;
            Ok(see_other(&ctx.path(&format!("/users/{id}"))))
        }
        Err(refusal) => {
            let mut errors = DetailErrors::default();
            errors.fields.add(refusal.field, refusal.message);
            render_detail(&ctx, id, errors).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesForm {
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    primary_role: String,
}

/// POST /w/{ws}/users/{id}/roles — requires members.edit over that member; only roles the
/// actor may hand out, never Owner; at least one role.
pub async fn set_roles(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<RolesForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = member_id(&path)?;
    let form = form.0;
    let role_ids: Option<Vec<i64>> = form.role.iter().map(|r| r.parse().ok()).collect();
    let primary: Result<Option<i64>, _> = match form.primary_role.as_str() {
        "" => Ok(None),
        typed => typed.parse().map(Some),
    };
    let outcome = match (role_ids, primary) {
        (None, _) => Err(Refusal {
            field: "role",
            message: "Choose roles of this workspace".into(),
        }),
        (_, Err(_)) => Err(Refusal {
            field: "primary_role",
            message: "The primary role must be one of the roles ticked".into(),
        }),
        (Some(role_ids), Ok(primary)) => {
            let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
            db(ctx.db_pool(), move |conn| {
                members::set_roles(conn, &access, &actor, id, &role_ids, primary)
            })
            .await?
        }
    };
    finish(
        ctx,
        id,
        outcome,
        "Roles saved. They apply from the member's next request.",
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatForm {
    #[serde(default)]
    seat_type: String,
}

/// POST /w/{ws}/users/{id}/seat — requires members.edit over that member.
pub async fn set_seat(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<SeatForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = member_id(&path)?;
    let Some(seat) = SeatType::from_key(&form.0.seat_type) else {
        let outcome = Err(Refusal {
            field: "seat_type",
            message: "Choose Member or Builder".into(),
        });
        return finish(ctx, id, outcome, "").await;
    };
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    db(ctx.db_pool(), move |conn| {
        members::set_seat(conn, &access, &actor, id, seat)
    })
    .await?;
    finish(
        ctx,
        id,
        Ok(()),
        &format!("Seat type set to {}.", seat.label()),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerForm {
    #[serde(default)]
    manager_id: String,
}

/// POST /w/{ws}/users/{id}/manager — requires members.edit over that member; empty
/// `manager_id` means none; a chain of managers never loops.
pub async fn set_manager(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ManagerForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = member_id(&path)?;
    let manager_id = match form.0.manager_id.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(m) => Some(m),
            Err(_) => {
                let outcome = Err(Refusal {
                    field: "manager_id",
                    message: "Choose a member of this workspace".into(),
                });
                return finish(ctx, id, outcome, "").await;
            }
        },
    };
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    let outcome = db(ctx.db_pool(), move |conn| {
        members::set_manager(conn, &access, &actor, id, manager_id)
    })
    .await?;
    let done = if manager_id.is_some() {
        "Manager saved."
    } else {
        "Manager removed."
    };
    finish(ctx, id, outcome, done).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EndForm {
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "users/end.html")]
struct EndPage {
    chrome: Chrome,
    base: String,
    preview: Preview,
}

/// Archive or remove: without `confirm` the page says what will happen; with it, it is done.
async fn end(
    ctx: WorkspaceCtx,
    id: i64,
    confirmed: bool,
    ending: Ending,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersRemove)?;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    if !confirmed {
        let preview = db(ctx.db_pool(), move |conn| {
            lifecycle::preview(conn, &access, id, ending)
        })
        .await?;
        let title = format!(
            "{} {}?",
            if ending == Ending::Archive {
                "Archive"
            } else {
                "Remove"
            },
            preview.name
        );
        return render(&EndPage {
            chrome: ctx.chrome(title, "users")?,
            base: ctx.path("/users"),
            preview,
        });
    }
    match db(ctx.db_pool(), move |conn| {
        lifecycle::end(conn, &access, &actor, id, ending)
    })
    .await
    {
        Ok(name) => {
            let message = match ending {
                Ending::Archive => format!("{name} was archived: their access ended and their seat is free. Restore them from their page."),
                Ending::Remove => format!("{name} was removed from the workspace. They can be invited again."),
            };
            set_flash(&ctx.session, FlashKind::Success, message)?;
        }
        Err(AppError::BadRequest(message)) => set_flash(&ctx.session, FlashKind::Error, message)?,
        Err(other) => return Err(other),
    }
    Ok(see_other(&ctx.path(&format!("/users/{id}"))))
}

/// POST /w/{ws}/users/{id}/archive — requires members.remove over that member.
pub async fn archive(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<EndForm>,
) -> AppResult<HttpResponse> {
    let id = member_id(&path)?;
    end(ctx, id, form.0.confirm == "yes", Ending::Archive).await
}

/// POST /w/{ws}/users/{id}/remove — requires members.remove over that member.
pub async fn remove(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<EndForm>,
) -> AppResult<HttpResponse> {
    let id = member_id(&path)?;
    end(ctx, id, form.0.confirm == "yes", Ending::Remove).await
}

/// POST /w/{ws}/users/{id}/restore — requires members.remove; needs a free seat.
pub async fn restore(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    _form: StrictForm<EndForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersRemove)?;
    let id = member_id(&path)?;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match db(ctx.db_pool(), move |conn| {
        lifecycle::restore(conn, &access, &actor, id)
    })
    .await
    {
        Ok(RestoreOutcome::Restored(name)) => set_flash(
            &ctx.session,
            FlashKind::Success,
            format!("{name} was restored with the roles they had."),
        )?,
        Ok(RestoreOutcome::NoSeat(message)) => set_flash(&ctx.session, FlashKind::Error, message)?,
        Err(AppError::BadRequest(message)) => set_flash(&ctx.session, FlashKind::Error, message)?,
        Err(other) => return Err(other),
    }
    Ok(see_other(&ctx.path(&format!("/users/{id}"))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferForm {
    #[serde(default)]
    current_password: String,
}

/// POST /w/{ws}/users/{id}/transfer-ownership — the Owner only, with their current
/// password; the target must already be an Admin.
pub async fn transfer_ownership(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<TransferForm>,
) -> AppResult<HttpResponse> {
    if !ctx.access.perms.is_owner() {
        return Err(AppError::forbidden_because(
            "Only the workspace's Owner can transfer ownership.",
        ));
    }
    let id = member_id(&path)?;
    if let Err(refusal) = reauth::verify_current_password(
        &ctx.state,
        &ctx.actor,
        ctx.access.account.id,
        form.0.current_password,
    )
    .await?
    {
        let mut errors = DetailErrors::default();
        errors.fields.add("current_password", refusal.message);
        return render_detail(&ctx, id, errors).await;
    }
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match db(ctx.db_pool(), move |conn| {
        lifecycle::transfer_ownership(conn, &access, &actor, id)
    })
    .await
    {
        Ok(name) => {
            ctx.state.mail_wakeup.notify_one();
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!("{name} is now the Owner. You remain an Admin."),
            )?;
        }
        Err(AppError::BadRequest(message)) => set_flash(&ctx.session, FlashKind::Error, message)?,
        Err(other) => return Err(other),
    }
    Ok(see_other(&ctx.path(&format!("/users/{id}"))))
}

/// After a single-field edit: 303 back with a flash, or the member page again (422) with
/// the message beside the field and what was typed kept.
async fn finish_typed(
    ctx: WorkspaceCtx,
    id: i64,
    outcome: Result<(), Refusal>,
    typed: String,
    done: &str,
) -> AppResult<HttpResponse> {
    match outcome {
        Ok(()) => finish(ctx, id, Ok(()), done).await,
        Err(refusal) => {
            let errors = DetailErrors::refused(refusal.field, refusal.message, Some(typed));
            render_detail(&ctx, id, errors).await
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentForm {
    #[serde(default)]
    department: String,
}

/// POST /w/{ws}/users/{id}/department — requires members.edit over that member; empty
/// clears it.
pub async fn set_department(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<DepartmentForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = member_id(&path)?;
    let typed = form.0.department;
    let (access, actor, value) = (ctx.access.clone(), ctx.actor.clone(), typed.clone());
    let outcome = db(ctx.db_pool(), move |conn| {
        members::set_department(conn, &access, &actor, id, Some(&value))
    })
    .await?;
    if outcome.is_ok() {
        ctx.state.departments.invalidate(ctx.access.workspace.id);
    }
    finish_typed(ctx, id, outcome, typed, "Department saved.").await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModulesForm {
    #[serde(default)]
    module: Vec<String>,
}

/// POST /w/{ws}/users/{id}/modules — requires members.edit over that member; the ticked
/// modules are kept, the rest of the catalogue is revoked for this member.
pub async fn set_modules(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ModulesForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = member_id(&path)?;
    let ids: Option<Vec<i64>> = form.0.module.iter().map(|m| m.parse().ok()).collect();
    let outcome = match ids {
        None => Err(Refusal {
            field: "module",
            message: "Choose modules of this workspace".into(),
        }),
        Some(ids) => {
            let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
            db(ctx.db_pool(), move |conn| {
                members::set_modules(conn, &access, &actor, id, &ids)
            })
            .await?
        }
    };
    finish(ctx, id, outcome, "Modules saved.").await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataForm {
    #[serde(default)]
    metadata: String,
}

/// POST /w/{ws}/users/{id}/metadata — requires members.edit; a JSON object (≤ 4 KiB).
pub async fn set_metadata(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<MetadataForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = member_id(&path)?;
    let typed = form.0.metadata;
    let (access, actor, value) = (ctx.access.clone(), ctx.actor.clone(), typed.clone());
    let outcome = db(ctx.db_pool(), move |conn| {
        members::set_metadata(conn, &access, &actor, id, &value)
    })
    .await?;
    finish_typed(ctx, id, outcome, typed, "Metadata saved.").await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

/// POST /w/{ws}/users/{id}/name — requires members.edit, and the member must have a
/// verified address on a verified domain of the workspace (otherwise the name is theirs).
pub async fn set_name(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<NameForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = member_id(&path)?;
    let typed = form.0.name;
    let (access, actor, value) = (ctx.access.clone(), ctx.actor.clone(), typed.clone());
    let outcome = db(ctx.db_pool(), move |conn| {
        members::set_name(conn, &access, &actor, id, &value)
    })
    .await?;
    finish_typed(ctx, id, outcome, typed, "Name saved.").await
}
