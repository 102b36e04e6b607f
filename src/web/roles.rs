//! The Roles screen: every role with its permissions (the matrix), and custom roles'
//! create / edit / delete with the impact on members shown before a change is saved.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use validator::Validate;

use crate::domain::{RoleDescription, RoleName};
use crate::error::{AppError, AppResult};
use crate::models::role::Role;
use crate::permissions::{Grant, Permission, Scope};
use crate::services::roles::{
    self, permission_field, DeleteOutcome, Impact, RoleInput, RoleSummary, SaveOutcome,
};
use crate::web::forms::{parsed, validated, ConfirmForm, FieldErrors, StrictForm};
use crate::web::WorkspaceCtx;
use crate::web::{
    attempt, db, refused, render, render_status, see_other, set_flash, Chrome, FlashKind, REFUSED,
};

#[derive(Template)]
#[template(path = "roles/list.html")]
struct RolesPage {
    chrome: Chrome,
    base: String,
    roles: Vec<RoleSummary>,
    permissions: [Permission; 13],
    can_manage: bool,
}

/// GET /w/{ws}/roles — requires members.view (read-only); editing needs roles.manage.
pub async fn list(ctx: WorkspaceCtx) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersView)?;
    let workspace_id = ctx.access.workspace.id;
    let roles = db(ctx.db_pool(), move |conn| {
        roles::summaries(conn, workspace_id)
    })
    .await?;
    render(&RolesPage {
        chrome: ctx.chrome("Roles", "roles")?,
        base: ctx.path("/roles"),
        roles,
        permissions: Permission::ALL,
        can_manage: ctx.access.perms.allows(Permission::RolesManage),
    })
}

/// The role form: `name`, `description`, one `perm.<key>` per permission (a scope, or `on`
/// for an unscoped one; absent = not granted) and `confirm` after the impact was shown.
#[derive(Deserialize, Validate, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RoleForm {
    #[serde(default)]
    #[validate(custom(function = "RoleName::validate"))]
    name: String,
    #[serde(default)]
    #[validate(custom(function = "RoleDescription::validate"))]
    description: String,
    /// The fingerprint of the permissions whose impact the person confirmed.
    #[serde(default)]
    confirm: String,
    #[serde(default, rename = "perm.members.view")]
    members_view: String,
    #[serde(default, rename = "perm.members.invite")]
    members_invite: String,
    #[serde(default, rename = "perm.members.edit")]
    members_edit: String,
    #[serde(default, rename = "perm.members.remove")]
    members_remove: String,
    #[serde(default, rename = "perm.roles.manage")]
    roles_manage: String,
    #[serde(default, rename = "perm.settings.manage")]
    settings_manage: String,
    #[serde(default, rename = "perm.billing.manage")]
    billing_manage: String,
    #[serde(default, rename = "perm.audit.view")]
    audit_view: String,
    #[serde(default, rename = "perm.records.view")]
    records_view: String,
    #[serde(default, rename = "perm.records.create")]
    records_create: String,
    #[serde(default, rename = "perm.records.edit")]
    records_edit: String,
    #[serde(default, rename = "perm.records.delete")]
    records_delete: String,
    #[serde(default, rename = "perm.records.export")]
    records_export: String,
}

impl RoleForm {
    fn value(&self, permission: Permission) -> &str {
        match permission {
            Permission::MembersView => &self.members_view,
            Permission::MembersInvite => &self.members_invite,
            Permission::MembersEdit => &self.members_edit,
            Permission::MembersRemove => &self.members_remove,
            Permission::RolesManage => &self.roles_manage,
            Permission::SettingsManage => &self.settings_manage,
            Permission::BillingManage => &self.billing_manage,
            Permission::AuditView => &self.audit_view,
            Permission::RecordsView => &self.records_view,
            Permission::RecordsCreate => &self.records_create,
            Permission::RecordsEdit => &self.records_edit,
            Permission::RecordsDelete => &self.records_delete,
            Permission::RecordsExport => &self.records_export,
        }
    }

    fn set(&mut self, permission: Permission, value: String) {
        let slot = match permission {
            Permission::MembersView => &mut self.members_view,
            Permission::MembersInvite => &mut self.members_invite,
            Permission::MembersEdit => &mut self.members_edit,
            Permission::MembersRemove => &mut self.members_remove,
            Permission::RolesManage => &mut self.roles_manage,
            Permission::SettingsManage => &mut self.settings_manage,
            Permission::BillingManage => &mut self.billing_manage,
            Permission::AuditView => &mut self.audit_view,
            Permission::RecordsView => &mut self.records_view,
            Permission::RecordsCreate => &mut self.records_create,
            Permission::RecordsEdit => &mut self.records_edit,
            Permission::RecordsDelete => &mut self.records_delete,
            Permission::RecordsExport => &mut self.records_export,
        };
        *slot = value;
    }

    fn from_role(role: &Role, grants: &[Grant]) -> Self {
        let mut form = RoleForm {
            name: role.name.clone(),
            description: role.description.clone(),
            ..RoleForm::default()
        };
        for g in grants {
            form.set(
                g.permission,
                g.scope.map(Scope::key).unwrap_or("on").to_string(),
            );
        }
        form
    }

    /// The permissions ticked. Each `perm.<key>` is a select of scopes or a checkbox, so
    /// any other value is a request no page of ours sends (400).
    fn grants(&self) -> AppResult<Vec<Grant>> {
        let mut grants = Vec::new();
        for permission in Permission::ALL {
            let scope = match (self.value(permission), permission.is_scoped()) {
                ("", _) => continue,
                ("on", false) => None,
                (value, true) => Some(
                    Scope::from_key(value)
                        .ok_or_else(|| malformed(permission, "Choose own, team or all"))?,
                ),
                (_, false) => return Err(malformed(permission, "Tick it or leave it out")),
            };
            grants.push(Grant { permission, scope });
        }
        Ok(grants)
    }

    /// The role as the service takes it, or every field's problem at once.
    fn input(&self, grants: Vec<Grant>) -> Result<RoleInput, FieldErrors> {
        validated(self)?;
        Ok(RoleInput {
            name: parsed(RoleName::parse(&self.name), "name")?,
            description: parsed(RoleDescription::parse(&self.description), "description")?,
            grants,
        })
    }
}

fn malformed(permission: Permission, message: &str) -> AppError {
    AppError::BadRequest(format!("{}: {message}.", permission_field(permission)))
}

/// A fingerprint of a set of permissions: a confirmation applies to exactly what was shown.
fn fingerprint(grants: &[Grant]) -> String {
    let text: Vec<String> = grants.iter().map(Grant::label).collect();
    let digest = Sha256::digest(text.join(",").as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// One permission line of the form.
pub struct PermField {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub scoped: bool,
    pub value: String,
    /// Scopes the actor may grant (the others are shown, disabled).
    pub grantable: Vec<(&'static str, bool)>,
    /// For an unscoped permission: whether the actor holds it.
    pub can_grant: bool,
    pub error: Option<String>,
}

impl PermField {
    pub fn field(&self) -> String {
        format!("perm.{}", self.key)
    }

    pub fn id(&self) -> String {
        format!("perm-{}", self.key.replace('.', "-"))
    }
}

fn perm_fields(ctx: &WorkspaceCtx, form: &RoleForm, errors: &FieldErrors) -> Vec<PermField> {
    Permission::ALL
        .into_iter()
        .map(|permission| {
            let held = ctx.access.perms.scope(permission);
            PermField {
                key: permission.key(),
                label: permission.label(),
                description: permission.description(),
                scoped: permission.is_scoped(),
                value: form.value(permission).to_string(),
                grantable: [Scope::Own, Scope::Team, Scope::All]
                    .into_iter()
                    .map(|s| (s.key(), held.is_some_and(|h| h >= s)))
                    .collect(),
                can_grant: ctx.access.perms.allows(permission),
                error: errors.get(permission_field(permission)).map(str::to_string),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "roles/form.html")]
struct RoleFormPage {
    chrome: Chrome,
    base: String,
    /// `None` for a new role.
    role: Option<Role>,
    form: RoleForm,
    errors: FieldErrors,
    perms: Vec<PermField>,
    impact: Option<Impact>,
    /// Built-in role, or no `roles.manage`: shown, not editable.
    read_only: bool,
    members: i64,
}

impl RoleFormPage {
    fn action(&self) -> String {
        match &self.role {
            Some(role) => format!("{}/{}", self.base, role.id),
            None => format!("{}/new", self.base),
        }
    }
}

struct FormState {
    role: Option<Role>,
    form: RoleForm,
    errors: FieldErrors,
    impact: Option<Impact>,
    read_only: bool,
    members: i64,
}

impl FormState {
    /// An editable form (new role when `role` is `None`), with any errors beside fields.
    fn editing(role: Option<Role>, form: RoleForm, errors: FieldErrors) -> Self {
        FormState {
            role,
            form,
            errors,
            impact: None,
            read_only: false,
            members: 0,
        }
    }

    /// The edit form again with what the change does, to be confirmed.
    fn confirming(role: Role, form: RoleForm, impact: Impact) -> Self {
        FormState {
            impact: Some(impact),
            ..FormState::editing(Some(role), form, FieldErrors::default())
        }
    }
}

fn render_form(
    ctx: &WorkspaceCtx,
    state: FormState,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let title = match &state.role {
        Some(role) => role.name.clone(),
        None => "New role".to_string(),
    };
    let page = RoleFormPage {
        chrome: ctx.chrome(title, "roles")?,
        base: ctx.path("/roles"),
        perms: perm_fields(ctx, &state.form, &state.errors),
        role: state.role,
        form: state.form,
        errors: state.errors,
        impact: state.impact,
        read_only: state.read_only,
        members: state.members,
    };
    render_status(&page, status)
}

/// GET /w/{ws}/roles/new — requires roles.manage.
pub async fn new_form(ctx: WorkspaceCtx) -> AppResult<HttpResponse> {
    ctx.require(Permission::RolesManage)?;
    let state = FormState::editing(None, RoleForm::default(), FieldErrors::default());
    render_form(&ctx, state, StatusCode::OK)
}

/// POST /w/{ws}/roles/new — requires roles.manage; only permissions the actor holds.
pub async fn create(ctx: WorkspaceCtx, form: StrictForm<RoleForm>) -> AppResult<HttpResponse> {
    ctx.require(Permission::RolesManage)?;
    let form = form.0;
    let input = match form.input(form.grants()?) {
        Ok(input) => input,
        Err(errors) => return render_form(&ctx, FormState::editing(None, form, errors), REFUSED),
    };
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    let name = input.name.clone();
    match attempt(ctx.db_pool(), move |conn| {
        roles::create(conn, &access, &actor, &input)
    })
    .await?
    {
        Ok(_) => {
            let message = format!("Role “{name}” created.");
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/roles")))
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_form(&ctx, FormState::editing(None, form, errors), REFUSED)
        }
    }
}

fn role_id(path: &(String, String)) -> AppResult<i64> {
    path.1.parse().map_err(|_| AppError::NotFound)
}

/// The role's page: editable for a custom role the actor may change, read-only otherwise.
async fn render_role(
    ctx: &WorkspaceCtx,
    id: i64,
    errors: FieldErrors,
    status: StatusCode,
) -> AppResult<HttpResponse> {
    let workspace_id = ctx.access.workspace.id;
    let (role, grants, members) = db(ctx.db_pool(), move |conn| {
        let (role, grants) = roles::find(conn, workspace_id, id)?;
        let members = roles::holders(conn, workspace_id, role.id)?;
        Ok((role, grants, members))
    })
    .await?;
    let read_only = role.builtin_key.is_some()
        || !ctx.access.perms.allows(Permission::RolesManage)
        || !roles::holds_all(&ctx.access.perms, &grants);
    let state = FormState {
        form: RoleForm::from_role(&role, &grants),
        role: Some(role),
        errors,
        impact: None,
        read_only,
        members,
    };
    render_form(ctx, state, status)
}

/// GET /w/{ws}/roles/{id} — requires members.view; editable for custom roles with
/// roles.manage, read-only otherwise (built-in roles never change).
pub async fn edit_form(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersView)?;
    let id = role_id(&path)?;
    render_role(&ctx, id, FieldErrors::default(), StatusCode::OK).await
}

/// POST /w/{ws}/roles/{id} — requires roles.manage. When members would gain or lose
/// anything, the first submit shows who and what; the second (with `confirm`) saves.
pub async fn update(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<RoleForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::RolesManage)?;
    let id = role_id(&path)?;
    let mut form = form.0;
    let workspace_id = ctx.access.workspace.id;
    let current = db(ctx.db_pool(), move |conn| {
        roles::find(conn, workspace_id, id)
    })
    .await?
    .0;
    let input = match form.input(form.grants()?) {
        Ok(input) => input,
        Err(errors) => {
            return render_form(
                &ctx,
                FormState::editing(Some(current), form, errors),
                REFUSED,
            )
        }
    };
    let print = fingerprint(&input.grants);
    let confirmed = form.confirm == print;
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    let name = input.name.clone();
    match attempt(ctx.db_pool(), move |conn| {
        roles::update(conn, &access, &actor, id, &input, confirmed)
    })
    .await?
    {
        Ok(SaveOutcome::Saved(_)) => {
            set_flash(
                &ctx.session,
                FlashKind::Success,
                format!("Role “{name}” saved."),
            )?;
            Ok(see_other(&ctx.path("/roles")))
        }
        Ok(SaveOutcome::NeedsConfirmation(impact)) => {
            form.confirm = print;
            render_form(
                &ctx,
                FormState::confirming(current, form, impact),
                StatusCode::OK,
            )
        }
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_form(
                &ctx,
                FormState::editing(Some(current), form, errors),
                REFUSED,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "roles/delete.html")]
struct DeletePage {
    chrome: Chrome,
    base: String,
    role: Role,
    impact: Option<Impact>,
    holders: i64,
}

/// POST /w/{ws}/roles/{id}/delete — requires roles.manage. A role members hold is only
/// deleted after a confirmation page that says who loses what; a refusal (someone holds
/// only this role) is shown on the role's page.
pub async fn delete(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ConfirmForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::RolesManage)?;
    let id = role_id(&path)?;
    let confirmed = form.0.confirmed();
    let (access, actor) = (ctx.access.clone(), ctx.actor.clone());
    match attempt(ctx.db_pool(), move |conn| {
        roles::delete(conn, &access, &actor, id, confirmed)
    })
    .await?
    {
        Ok(DeleteOutcome::Deleted(name)) => {
            let message = format!("Role “{name}” deleted.");
            set_flash(&ctx.session, FlashKind::Success, message)?;
            Ok(see_other(&ctx.path("/roles")))
        }
        Ok(DeleteOutcome::NeedsConfirmation {
            role,
            impact,
            holders,
        }) => render(&DeletePage {
            chrome: ctx.chrome(format!("Delete {}", role.name), "roles")?,
            base: ctx.path("/roles"),
            role,
            impact: Some(impact),
            holders,
        }),
        Err(refusals) => {
            let errors = refused(&ctx.session, refusals)?;
            render_role(&ctx, id, errors, REFUSED).await
        }
    }
}
