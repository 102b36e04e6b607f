//! The member page's edits: its one "Edit member" form ([`save`], every field at once)
//! and the per-field routes of SPEC §5 (roles, seat type, manager, department, modules,
//! metadata, name), kept for scripts. Each form validates every field at once (`#[derive(Validate)]`, the
//! values through `crate::domain`), then one service call (`services::members::edit`)
//! decides, and `page::answer` ends the request by the refusal rule.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use validator::{Validate, ValidationError};

use crate::domain::{validation, Department, Invalid, Metadata, PersonName};
use crate::error::AppResult;
use crate::models::member::SeatType;
use crate::permissions::Permission;
use crate::services::members::edit;
use crate::services::requests;
use crate::web::forms::{parsed, validated, EmptyForm, FieldErrors, StrictForm};
use crate::web::members::page::{self, Typed, TypedForm};
use crate::web::members::{act, path_id};
use crate::web::WorkspaceCtx;

/// Ids as our pages send them (checkbox and option values).
fn ids(values: &[String]) -> Result<Vec<i64>, Invalid> {
    values
        .iter()
        .map(|v| v.trim().parse().map_err(|_| Invalid::new("Not an id")))
        .collect()
}

fn validate_ids(values: &[String]) -> Result<(), ValidationError> {
    validation(ids(values))
}

/// An optional id: empty is none.
fn optional_id(value: &str) -> Result<Option<i64>, Invalid> {
    match value.trim() {
        "" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|_| Invalid::new("Not an id")),
    }
}

fn validate_optional_id(value: &str) -> Result<(), ValidationError> {
    validation(optional_id(value))
}

fn seat(key: &str) -> Result<SeatType, Invalid> {
    SeatType::from_key(key).ok_or_else(|| Invalid::new("Choose Member or Builder"))
}

fn validate_seat(key: &str) -> Result<(), ValidationError> {
    validation(seat(key))
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RolesForm {
    #[serde(default)]
    #[validate(custom(function = "validate_ids", message = "Choose roles of this workspace"))]
    role: Vec<String>,
    #[serde(default)]
    #[validate(custom(
        function = "validate_optional_id",
        message = "The primary role must be one of the roles ticked"
    ))]
    primary_role: String,
}

impl RolesForm {
    /// The roles ticked and the primary one.
    fn input(&self) -> Result<(Vec<i64>, Option<i64>), FieldErrors> {
        validated(self)?;
        Ok((
            parsed(ids(&self.role), "role")?,
            parsed(optional_id(&self.primary_role), "primary_role")?,
        ))
    }
}

/// POST /w/{ws}/users/{id}/roles — requires members.edit over that member; only roles the
/// actor may hand out, never Owner; at least one role.
pub async fn set_roles(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<RolesForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let (role_ids, primary) = match form.0.input() {
        Ok(input) => input,
        Err(errors) => return page::invalid(&ctx, id, errors, None).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::set_roles(conn, access, actor, id, &role_ids, primary)
    })
    .await?;
    let done = "Roles saved. They take effect at once, on whatever the member opens next.";
    page::answer(&ctx, id, outcome.map(|()| done.into()), None).await
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SeatForm {
    #[serde(default)]
    #[validate(custom(function = "validate_seat"))]
    seat_type: String,
}

impl SeatForm {
    fn input(&self) -> Result<SeatType, FieldErrors> {
        validated(self)?;
        parsed(seat(&self.seat_type), "seat_type")
    }
}

/// POST /w/{ws}/users/{id}/seat — requires members.edit over that member.
pub async fn set_seat(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<SeatForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let seat = match form.0.input() {
        Ok(seat) => seat,
        Err(errors) => return page::invalid(&ctx, id, errors, None).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::set_seat(conn, access, actor, id, seat)
    })
    .await?;
    let done = format!("Seat type set to {}.", seat.label());
    page::answer(&ctx, id, outcome.map(|()| done), None).await
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ManagerForm {
    #[serde(default)]
    #[validate(custom(
        function = "validate_optional_id",
        message = "Choose a member of this workspace"
    ))]
    manager_id: String,
}

impl ManagerForm {
    /// The manager chosen; `None` for no manager.
    fn input(&self) -> Result<Option<i64>, FieldErrors> {
        validated(self)?;
        parsed(optional_id(&self.manager_id), "manager_id")
    }
}

/// POST /w/{ws}/users/{id}/manager — requires members.edit over that member; empty
/// `manager_id` means none; a chain of managers never loops.
pub async fn set_manager(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ManagerForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let manager_id = match form.0.input() {
        Ok(manager_id) => manager_id,
        Err(errors) => return page::invalid(&ctx, id, errors, None).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::set_manager(conn, access, actor, id, manager_id)
    })
    .await?;
    let done = match manager_id {
        Some(_) => "Manager saved.",
        None => "Manager removed.",
    };
    page::answer(&ctx, id, outcome.map(|()| done.into()), None).await
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DepartmentForm {
    #[serde(default)]
    #[validate(custom(function = "Department::validate_optional"))]
    department: String,
}

impl DepartmentForm {
    /// The department; `None` clears it.
    fn input(&self) -> Result<Option<Department>, FieldErrors> {
        validated(self)?;
        parsed(Department::parse_optional(&self.department), "department")
    }
}

/// POST /w/{ws}/users/{id}/department — requires members.edit over that member; empty
/// clears it.
pub async fn set_department(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<DepartmentForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let form = form.0;
    let typed: Typed = Some(("department", form.department.clone()));
    let department = match form.input() {
        Ok(department) => department,
        Err(errors) => return page::invalid(&ctx, id, errors, typed).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::set_department(conn, access, actor, id, department.as_ref())
    })
    .await?;
    if outcome.is_ok() {
        ctx.state.departments.invalidate(ctx.access.workspace.id);
    }
    page::answer(
        &ctx,
        id,
        outcome.map(|()| "Department saved.".into()),
        typed,
    )
    .await
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ModulesForm {
    #[serde(default)]
    #[validate(custom(
        function = "validate_ids",
        message = "Choose modules of this workspace"
    ))]
    module: Vec<String>,
}

impl ModulesForm {
    /// The modules ticked.
    fn input(&self) -> Result<Vec<i64>, FieldErrors> {
        validated(self)?;
        parsed(ids(&self.module), "module")
    }
}

/// POST /w/{ws}/users/{id}/modules — requires members.edit over that member; the ticked
/// modules are kept, the rest of the catalogue is revoked for this member.
pub async fn set_modules(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<ModulesForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let granted = match form.0.input() {
        Ok(granted) => granted,
        Err(errors) => return page::invalid(&ctx, id, errors, None).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::set_modules(conn, access, actor, id, &granted)
    })
    .await?;
    page::answer(&ctx, id, outcome.map(|()| "Modules saved.".into()), None).await
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MetadataForm {
    #[serde(default)]
    #[validate(custom(function = "Metadata::validate"))]
    metadata: String,
}

impl MetadataForm {
    fn input(&self) -> Result<Metadata, FieldErrors> {
        validated(self)?;
        parsed(Metadata::parse(&self.metadata), "metadata")
    }
}

/// POST /w/{ws}/users/{id}/metadata — requires members.edit; a JSON object (≤ 4 KiB).
pub async fn set_metadata(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<MetadataForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let form = form.0;
    let typed: Typed = Some(("metadata", form.metadata.clone()));
    let metadata = match form.input() {
        Ok(metadata) => metadata,
        Err(errors) => return page::invalid(&ctx, id, errors, typed).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::set_metadata(conn, access, actor, id, &metadata)
    })
    .await?;
    page::answer(&ctx, id, outcome.map(|()| "Metadata saved.".into()), typed).await
}

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct NameForm {
    #[serde(default)]
    #[validate(custom(function = "PersonName::validate"))]
    name: String,
}

impl NameForm {
    fn input(&self) -> Result<PersonName, FieldErrors> {
        validated(self)?;
        parsed(PersonName::parse(&self.name), "name")
    }
}

/// POST /w/{ws}/users/{id}/name — requires members.edit, and the member must have a
/// verified address on a verified domain of the workspace (otherwise the name is theirs).
pub async fn set_name(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<NameForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let form = form.0;
    let typed: Typed = Some(("name", form.name.clone()));
    let name = match form.input() {
        Ok(name) => name,
        Err(errors) => return page::invalid(&ctx, id, errors, typed).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::set_name(conn, access, actor, id, &name)
    })
    .await?;
    page::answer(&ctx, id, outcome.map(|()| "Name saved.".into()), typed).await
}

/// The ids of a repeatable field of the "Edit member" form, which also sends the field
/// once empty (so that unticking every box still says "this list, now empty").
fn listed_ids(values: &[String]) -> Result<Vec<i64>, Invalid> {
    let given: Vec<String> = values
        .iter()
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .collect();
    ids(&given)
}

fn validate_listed_ids(values: &[String]) -> Result<(), ValidationError> {
    validation(listed_ids(values))
}

/// The member page's one form (`POST /w/{ws}/users/{id}`): the union of the per-field
/// forms, each field optional. A field not sent is left as it is; see `edit::apply`.
#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct MemberForm {
    #[serde(default)]
    #[validate(custom(
        function = "validate_listed_ids",
        message = "Choose roles of this workspace"
    ))]
    role: Vec<String>,
    #[validate(custom(
        function = "validate_optional_id",
        message = "The primary role must be one of the roles ticked"
    ))]
    primary_role: Option<String>,
    #[validate(custom(function = "validate_seat"))]
    seat_type: Option<String>,
    #[validate(custom(
        function = "validate_optional_id",
        message = "Choose a member of this workspace"
    ))]
    manager_id: Option<String>,
    #[validate(custom(function = "Department::validate_optional"))]
    department: Option<String>,
    #[serde(default)]
    #[validate(custom(
        function = "validate_listed_ids",
        message = "Choose modules of this workspace"
    ))]
    module: Vec<String>,
    #[validate(custom(function = "Metadata::validate"))]
    metadata: Option<String>,
    #[validate(custom(function = "PersonName::validate"))]
    name: Option<String>,
}

impl MemberForm {
    /// Every value sent, to show again on a 422.
    fn typed(&self) -> TypedForm {
        let mut typed: TypedForm = Vec::new();
        typed.extend(self.role.iter().map(|v| ("role", v.clone())));
        let single = [
            ("primary_role", &self.primary_role),
            ("seat_type", &self.seat_type),
            ("manager_id", &self.manager_id),
            ("department", &self.department),
            ("metadata", &self.metadata),
            ("name", &self.name),
        ];
        for (field, value) in single {
            if let Some(value) = value {
                typed.push((field, value.clone()));
            }
        }
        typed.extend(self.module.iter().map(|v| ("module", v.clone())));
        typed
    }

    /// Every field's problem at once, or the edits asked for.
    fn input(&self) -> Result<edit::Edits, FieldErrors> {
        validated(self)?;
        let roles = match (self.role.is_empty(), &self.primary_role) {
            (true, None) => None,
            (_, primary) => Some((
                parsed(listed_ids(&self.role), "role")?,
                match primary {
                    Some(p) => parsed(optional_id(p), "primary_role")?,
                    None => None,
                },
            )),
        };
        Ok(edit::Edits {
            roles,
            seat: self
                .seat_type
                .as_deref()
                .map(|v| parsed(seat(v), "seat_type"))
                .transpose()?,
            manager: self
                .manager_id
                .as_deref()
                .map(|v| parsed(optional_id(v), "manager_id"))
                .transpose()?,
            department: self
                .department
                .as_deref()
                .map(|v| parsed(Department::parse_optional(v), "department"))
                .transpose()?,
            modules: match self.module.is_empty() {
                true => None,
                false => Some(parsed(listed_ids(&self.module), "module")?),
            },
            metadata: self
                .metadata
                .as_deref()
                .map(|v| parsed(Metadata::parse(v), "metadata"))
                .transpose()?,
            name: self
                .name
                .as_deref()
                .map(|v| parsed(PersonName::parse(v), "name"))
                .transpose()?,
        })
    }
}

/// The flash after the one form's save: what changed, or that nothing did.
fn saved(applied: &edit::Applied) -> String {
    match applied.as_slice() {
        [] => "Nothing to save: every field was as stored.".into(),
        [one] => format!("Saved the {one}."),
        [first @ .., last] => format!("Saved the {} and {last}.", first.join(", ")),
    }
}

/// POST /w/{ws}/users/{id} — the "Edit member" form: requires members.edit over that
/// member; applies every field that differs from what is stored in one transaction (one
/// audit event each), or nothing, showing every refusal beside its field and every value
/// typed (`edit::apply`).
pub async fn save(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String)>,
    form: StrictForm<MemberForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::MembersEdit)?;
    let id = path_id(&path.1)?;
    let form = form.0;
    let typed = form.typed();
    let edits = match form.input() {
        Ok(edits) => edits,
        Err(errors) => return page::invalid_form(&ctx, id, errors, typed).await,
    };
    let outcome = act(&ctx, move |conn, access, actor| {
        edit::apply(conn, access, actor, id, &edits)
    })
    .await?;
    if outcome.as_ref().is_ok_and(|a| a.contains(&"department")) {
        ctx.state.departments.invalidate(ctx.access.workspace.id);
    }
    page::answer_form(&ctx, id, outcome.map(|a| saved(&a)), typed).await
}

/// POST /w/{ws}/users/{id}/grants/{gid}/revoke — requires settings.manage (the permission
/// that approves requests), re-checked inside the transaction with the rule for acting on
/// the member (never one's own grant); a grant of another member or workspace is a 404.
pub async fn revoke_grant(
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    ctx.require(Permission::SettingsManage)?;
    let id = path_id(&path.1)?;
    let grant_id = path_id(&path.2)?;
    let outcome = act(&ctx, move |conn, access, actor| {
        requests::revoke_grant(conn, access, actor, id, grant_id)
    })
    .await?;
    let done = |label: String| format!("Revoked the direct grant of {label}.");
    page::answer(&ctx, id, outcome.map(done), None).await
}
