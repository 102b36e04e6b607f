//! The member page (`GET /w/{ws}/users/{id}`) and its JSON twin, and [`answer`]: how every
//! POST from the page ends — 303 back here with a flash, or this page again with 422, the
//! refusals beside their fields (what was typed kept) and the others at the top.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::error::{AppError, AppResult, Refusal};
use crate::models::member::{MemberStatus, SeatType};
use crate::permissions::{BuiltinRole, Effective, Permission};
use crate::services::access::Access;
use crate::services::members::directory::{self, MemberDetail};
use crate::services::members::emails::{self, Management};
use crate::services::members::{self, edit, Act};
use crate::services::{requests, roles};
use crate::state::AppState;
use crate::web::forms::FieldErrors;
use crate::web::members::path_id;
use crate::web::WorkspaceCtx;
use crate::web::{db, refused, render_status, see_other, set_flash, Chrome, FlashKind, REFUSED};

pub struct PermissionLine {
    pub key: &'static str,
    pub description: &'static str,
    pub scope: String,
    pub sources: String,
}

/// A role option on the member's roles form.
pub struct RoleOption {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub held: bool,
    pub primary: bool,
    /// Shown but not changeable: the Owner role, or a role the actor may not hand out.
    pub locked: bool,
}

/// A value typed into the form that was refused, shown again: (field, value).
pub type Typed = Option<(&'static str, String)>;

/// Every value posted by the "Edit member" form, shown again on a 422: (field, value),
/// repeatable fields once per value.
pub type TypedForm = Vec<(&'static str, String)>;

/// A direct grant as the member page lists it.
pub struct GrantLine {
    pub id: i64,
    pub key: String,
    /// The permission's human label (its description).
    pub label: &'static str,
    pub scope: String,
    pub granted_by: String,
    /// "Until 12 Jan 2027" or "No end date".
    pub until: String,
}

/// The error key of one address's row in the "Email addresses" section.
pub fn email_row_field(email_id: i64) -> String {
    format!("email-{email_id}")
}

#[derive(Template)]
#[template(path = "users/detail.html")]
struct DetailPage {
    chrome: Chrome,
    base: String,
    detail: MemberDetail,
    permissions: Vec<PermissionLine>,
    is_self: bool,
    edit: Option<EditForms>,
    /// Archive / restore / remove are offered.
    can_end: bool,
    /// The viewer is the Owner and this member is an Admin who could take over.
    can_take_ownership: bool,
    errors: FieldErrors,
    typed: TypedForm,
    seat_types: [SeatType; 2],
    workspace_base: String,
    /// The admin's controls over the member's addresses, when the viewer may use them.
    email_admin: Option<Management>,
    /// On one's own page without the edit forms: why the membership is read-only.
    own_read_only: Option<&'static str>,
    /// The member's live direct grants.
    grants: Vec<GrantLine>,
    /// The viewer may revoke them (`settings.manage`, by `members::Act::Grant`).
    can_revoke_grants: bool,
}

/// The edit forms, present only when the viewer may change this member.
pub struct EditForms {
    pub roles: Vec<RoleOption>,
    /// Possible managers (id, name), or `None` when there are too many for a list.
    pub managers: Option<Vec<(i64, String)>>,
    /// Departments in use, offered as suggestions.
    pub departments: std::sync::Arc<Vec<String>>,
    /// `Err(reason)` when admins may not edit this member's name.
    pub name_rule: Result<(), String>,
}

impl DetailPage {
    /// The manager option chosen: the one typed into a refused form, else the stored one.
    fn is_manager(&self, id: &i64) -> bool {
        match self.typed.iter().find(|(f, _)| *f == "manager_id") {
            Some((_, typed)) => typed.trim() == id.to_string(),
            None => self.detail.member.manager_id == Some(*id),
        }
    }

    /// The manager id field's value (when there are too many members for a list).
    fn manager_value(&self) -> String {
        let stored = self
            .detail
            .member
            .manager_id
            .as_ref()
            .map(i64::to_string)
            .unwrap_or_default();
        self.value_or("manager_id", &stored)
    }

    /// The seat option chosen: typed, else stored.
    fn is_seat(&self, seat: &SeatType) -> bool {
        match self.typed.iter().find(|(f, _)| *f == "seat_type") {
            Some((_, typed)) => typed == seat.key(),
            None => self.detail.member.seat() == *seat,
        }
    }

    /// Whether a checkbox or radio of a repeatable `field` is ticked: as posted by a
    /// refused form (which always sends the field, see the template), else as `stored`.
    fn ticked(&self, field: &str, id: &i64, stored: &bool) -> bool {
        if self.typed.iter().any(|(f, _)| *f == field) {
            let id = id.to_string();
            self.typed
                .iter()
                .any(|(f, v)| *f == field && v.trim() == id)
        } else {
            *stored
        }
    }

    /// The value typed into a failed form, else the stored one.
    fn value_or(&self, field: &str, stored: &str) -> String {
        self.typed
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| stored.to_string())
    }

    fn department(&self) -> String {
        self.value_or(
            "department",
            self.detail.member.department.as_deref().unwrap_or_default(),
        )
    }

    fn metadata(&self) -> String {
        let stored = match self.detail.member.metadata.as_str() {
            "{}" => String::new(),
            other => other.to_string(),
        };
        self.value_or("metadata", &stored)
    }

    fn email_row_error(&self, email_id: &i64) -> Option<&str> {
        self.errors.get(&email_row_field(*email_id))
    }
}

/// GET /w/{ws}/users/{id} — requires members.view over that member.
pub async fn detail(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersView)?;
    let id = path_id(&path.1)?;
    render(&ctx, id, FieldErrors::default(), Vec::new(), StatusCode::OK).await
}

/// The end of a POST from the member page, by the refusal rule: `Ok(done)` is 303 back to
/// the page with `done` as the flash; refusals show the page again with 422.
pub async fn answer(
    ctx: &WorkspaceCtx,
    id: i64,
    outcome: Result<String, Vec<Refusal>>,
    typed: Typed,
) -> AppResult<HttpResponse> {
    answer_form(ctx, id, outcome, typed.into_iter().collect()).await
}

/// [`answer`] for the "Edit member" form: on a refusal every posted value is kept.
pub async fn answer_form(
    ctx: &WorkspaceCtx,
    id: i64,
    outcome: Result<String, Vec<Refusal>>,
    typed: TypedForm,
) -> AppResult<HttpResponse> {
    match outcome {
        Ok(done) => {
            set_flash(&ctx.session, FlashKind::Success, done)?;
            Ok(see_other(&ctx.path(&format!("/users/{id}"))))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render(ctx, id, errors, typed, REFUSED).await
        }
    }
}

/// The member page again with 422: `errors` beside their fields, `typed` kept.
pub async fn invalid(
    ctx: &WorkspaceCtx,
    id: i64,
    errors: FieldErrors,
    typed: Typed,
) -> AppResult<HttpResponse> {
    render(ctx, id, errors, typed.into_iter().collect(), REFUSED).await
}

/// [`invalid`] for the "Edit member" form, every posted value kept.
pub async fn invalid_form(
    ctx: &WorkspaceCtx,
    id: i64,
    errors: FieldErrors,
    typed: TypedForm,
) -> AppResult<HttpResponse> {
    render(ctx, id, errors, typed, REFUSED).await
}

/// What the page offers the viewer over this member, read in one go.
struct Offers {
    detail: MemberDetail,
    edit: Option<EditForms>,
    can_end: bool,
    email_admin: Option<Management>,
    grants: Vec<GrantLine>,
    can_revoke_grants: bool,
}

/// The member page with `status`.
async fn render(
    ctx: &WorkspaceCtx,
    id: i64,
    errors: FieldErrors,
    typed: TypedForm,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let (access, state) = (ctx.access.clone(), ctx.state.clone());
    let offers = db(ctx.db_pool(), move |conn| offers(conn, &access, &state, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let Offers {
        detail,
        edit,
        can_end,
        email_admin,
        grants,
        can_revoke_grants,
    } = offers;
    let viewer = &ctx.access;
    let is_self = detail.member.id == viewer.member.id;
    let own_read_only = if is_self && edit.is_none() {
        Act::Membership.on_oneself(viewer.perms.is_owner()).err()
    } else {
        None
    };
    let page = DetailPage {
        own_read_only,
        chrome: ctx.chrome(detail.name.clone(), "users")?,
        can_end,
        can_take_ownership: may_take_ownership(viewer, &detail),
        base: ctx.path("/users"),
        workspace_base: ctx.path(""),
        is_self,
        permissions: permission_lines(&detail),
        detail,
        edit,
        errors,
        typed,
        seat_types: SeatType::ALL,
        email_admin,
        grants,
        can_revoke_grants,
    };
    render_status(&page, status)
}

/// The member as the viewer may see them and what the viewer may do to them, by the rule
/// the services apply (`members::may`); `None` when the member is not the viewer's to see.
fn offers(
    conn: &mut crate::db::DbConn,
    access: &Access,
    state: &AppState,
    id: i64,
) -> AppResult<Option<Offers>> {
    let Some(detail) = directory::detail(conn, access, id)? else {
        return Ok(None);
    };
    let may = |conn: &mut crate::db::DbConn, act| {
        members::may(conn, access, &detail.member, &detail.perms, act)
    };
    let can_end = !detail.perms.is_owner() && may(conn, Act::Lifecycle)?;
    let email_admin = if may(conn, Act::Identity)? {
        emails::management(conn, access, &detail.member, &detail.emails)?
    } else {
        None
    };
    let edit = if may(conn, Act::Membership)? {
        Some(edit_forms(conn, access, state, &detail)?)
    } else {
        None
    };
    let can_revoke_grants =
        access.perms.allows(Permission::SettingsManage) && may(conn, Act::Grant)?;
    let grants = requests::grants_of(conn, detail.member.id)?
        .into_iter()
        .map(grant_line)
        .collect();
    Ok(Some(Offers {
        detail,
        edit,
        can_end,
        email_admin,
        grants,
        can_revoke_grants,
    }))
}

/// A grant's line: its permission (label and key), scope, who granted it and its last day
/// (it ends at the end of that day, `LastDay::end`).
fn grant_line(grant: crate::models::permission_request::DirectGrant) -> GrantLine {
    let permission = Permission::from_key(&grant.permission);
    GrantLine {
        id: grant.id,
        label: permission.map(Permission::description).unwrap_or_default(),
        key: grant.permission,
        scope: grant.scope.unwrap_or_else(|| "—".into()),
        granted_by: grant.granted_by.unwrap_or_else(|| "—".into()),
        until: match grant.expires_at {
            Some(end) => format!(
                "Until {}",
                (end - chrono::TimeDelta::days(1)).format("%-d %b %Y")
            ),
            None => "No end date".into(),
        },
    }
}

/// The edit forms' choices: the roles (those held, and those the viewer may give), the
/// possible managers, the departments in use and whether the name is the admin's to edit.
fn edit_forms(
    conn: &mut crate::db::DbConn,
    access: &Access,
    state: &AppState,
    detail: &MemberDetail,
) -> AppResult<EditForms> {
    let (all, grantable) = roles::with_grantable(conn, access)?;
    let roles = all
        .into_iter()
        .filter_map(|role| {
            let held = detail.roles.iter().find(|h| h.role_id == role.id);
            let is_owner = role.builtin() == Some(BuiltinRole::Owner);
            let may_give = grantable.iter().any(|g| g.id == role.id);
            (held.is_some() || may_give).then(|| RoleOption {
                id: role.id,
                held: held.is_some(),
                primary: held.is_some_and(|h| h.is_primary),
                locked: is_owner || !may_give,
                name: role.name,
                description: role.description,
            })
        })
        .collect();
    let name_rule = if detail.member.id == access.member.id {
        Act::Identity
            .on_oneself(access.perms.is_owner())
            .map_err(str::to_string)
    } else {
        match edit::name_read_only(conn, access.workspace.id, detail.member.account_id)? {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    };
    Ok(EditForms {
        roles,
        managers: directory::manager_candidates(conn, access, &detail.member)?,
        departments: state.departments.get(conn, access.workspace.id)?,
        name_rule,
    })
}

/// The viewer is the Owner and this member an active Admin: ownership could go to them.
fn may_take_ownership(viewer: &Access, detail: &MemberDetail) -> bool {
    viewer.perms.is_owner()
        && detail.member.id != viewer.member.id
        && detail.member.status() == MemberStatus::Active
        && detail
            .roles
            .iter()
            .any(|r| r.builtin_key.as_deref() == Some(BuiltinRole::Admin.key()))
}

fn permission_lines(detail: &MemberDetail) -> Vec<PermissionLine> {
    detail
        .perms
        .iter()
        .map(|(p, Effective { scope, sources })| PermissionLine {
            key: p.key(),
            description: p.description(),
            scope: scope
                .map(|s| s.key().to_string())
                .unwrap_or_else(|| "—".into()),
            sources: sources.join(", "),
        })
        .collect()
}

/// GET /w/{ws}/users/{id}/permissions.json — requires members.view over that member. The
/// answer a host product asks before showing a record: effective permissions with scope
/// and sources, recomputed from the database now.
pub async fn permissions_json(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersView)?;
    let id = path_id(&path.1)?;
    let access = ctx.access.clone();
    let detail = db(ctx.db_pool(), move |conn| {
        directory::detail(conn, &access, id)
    })
    .await?
    .ok_or(AppError::NotFound)?;
    let body = permissions_body(&ctx.access.workspace.slug, &detail);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body.to_string()))
}

/// The JSON answer: a member who is not active holds no permission and no module.
fn permissions_body(workspace: &str, detail: &MemberDetail) -> serde_json::Value {
    let active = detail.member.status() == MemberStatus::Active;
    let permissions: Vec<serde_json::Value> = detail
        .perms
        .iter()
        .filter(|_| active)
        .map(|(p, e)| {
            serde_json::json!({
                "permission": p.key(),
                "scope": e.scope.map(|s| s.key()),
                "sources": e.sources,
            })
        })
        .collect();
    serde_json::json!({
        "workspace": workspace,
        "member_id": detail.member.id,
        "account_id": detail.member.account_id,
        "status": detail.member.status().key(),
        "seat_type": detail.member.seat().key(),
        "is_owner": active && detail.perms.is_owner(),
        "roles": detail.roles.iter().map(|r| serde_json::json!({
            "id": r.role_id,
            "name": r.name,
            "primary": r.is_primary,
        })).collect::<Vec<_>>(),
        "permissions": permissions,
        "modules": detail.modules.iter().map(|(m, granted)| serde_json::json!({
            "key": m.key,
            "name": m.name,
            "granted": active && *granted,
        })).collect::<Vec<_>>(),
    })
}
