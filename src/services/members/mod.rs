//! Changes an admin makes to one member: roles, seat type, manager, department, modules,
//! metadata, name; and [`authorize`], the one rule for acting on a member (scope, dominance,
//! oneself) that every member-changing service applies. Every change runs under the member
//! lock (`services::locks::acting`), checks that rule on the member as it is inside that
//! transaction, and records its audit event.

pub mod directory;
pub mod emails;
pub mod join;
pub mod lifecycle;

use serde_json::json;

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::Domain;
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::module::Module;
use crate::models::role::Role;
use crate::permissions::{BuiltinRole, EffectivePermissions, Permission, Scope};
use crate::services::access::{self, Access};
use crate::services::{domains, locks, roles};
use crate::text;

/// Whether `member_id` falls within `scope` as seen from the acting member.
pub fn in_scope(
    conn: &mut DbConn,
    access: &Access,
    scope: Scope,
    member_id: i64,
) -> AppResult<bool> {
    Ok(match scope {
        Scope::All => true,
        Scope::Own => member_id == access.member.id,
        Scope::Team => {
            member_id == access.member.id
                || Member::team_ids(conn, access.workspace.id, access.member.id)?
                    .contains(&member_id)
        }
    })
}

/// What an act on a member touches, for the rules about who may do it (SPEC §3 Members, §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Roles, seat type, manager, department, modules, metadata (`members.edit`). Nobody but
    /// the Owner does these to themselves.
    Membership,
    /// Name and email addresses (`members.edit`). Never on oneself here, not even the Owner:
    /// one's own are changed on `/account`, under its rules (the current password).
    Identity,
    /// Archive, restore, remove (`members.remove`). Never oneself (Leave is on `/account`).
    Lifecycle,
    /// A direct grant from a permission request (`settings.manage`). Never to oneself, not
    /// even the Owner: a grant outlives roles, so a self-approved one would survive a later
    /// demotion or a transfer of ownership.
    Grant,
}

/// Why nobody acts on themselves this way: one's own name and addresses.
pub const OWN_IDENTITY: &str = "Change your name and addresses on your Account page.";
/// Why only the Owner acts on their own membership.
pub const OWN_MEMBERSHIP: &str = "Only the workspace's Owner changes their own roles, seat type, manager, department, modules or metadata: ask an admin to change yours.";
pub const OWNER_STAYS: &str =
    "The Owner can't be archived or removed. Transfer ownership to an Admin first.";
const OWN_LIFECYCLE: &str =
    "You can't archive, restore or remove yourself. To leave the workspace, use Leave on your account page.";
const OWN_GRANT: &str = "You can't approve your own permission request: another admin decides it.";

impl Act {
    /// The permission the act needs over the member.
    pub fn permission(self) -> Permission {
        match self {
            Act::Membership | Act::Identity => Permission::MembersEdit,
            Act::Lifecycle => Permission::MembersRemove,
            Act::Grant => Permission::SettingsManage,
        }
    }

    /// Whether an actor may do this to their own membership: `Err(reason)` if not. The one
    /// rule for oneself, also used where the Users list decides its row actions.
    pub fn on_oneself(self, actor_is_owner: bool) -> Result<(), &'static str> {
        match self {
            Act::Membership if actor_is_owner => Ok(()),
            Act::Membership => Err(OWN_MEMBERSHIP),
            Act::Identity => Err(OWN_IDENTITY),
            Act::Lifecycle if actor_is_owner => Err(OWNER_STAYS),
            Act::Lifecycle => Err(OWN_LIFECYCLE),
            Act::Grant => Err(OWN_GRANT),
        }
    }
}

/// The actor's reach for `permission`: its scope, or `all` for an unscoped permission held.
fn reach(access: &Access, permission: Permission) -> Option<Scope> {
    access
        .perms
        .allows(permission)
        .then(|| access.perms.scope(permission).unwrap_or(Scope::All))
}

/// THE rule for acting on a member, in one place: every service that changes a member
/// calls it (through [`target`], inside its write transaction after the member lock), and
/// the pages call it (through [`may`]) to decide what to offer. In order:
/// - a member outside the actor's `members.view` is a 404 (not for grants: the requests
///   page names the requester);
/// - oneself: only what [`Act::on_oneself`] allows (403 with the reason);
/// - outside the scope of the act's permission: 403;
/// - a member who holds anything the actor does not: 403;
/// - a removed member's membership and identity are no longer the workspace's to edit: 409.
pub fn authorize(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
    perms: &EffectivePermissions,
    act: Act,
) -> AppResult<()> {
    if act != Act::Grant {
        let view = reach(access, Permission::MembersView).ok_or(AppError::NotFound)?;
        if !in_scope(conn, access, view, member.id)? {
            return Err(AppError::NotFound);
        }
    }
    if member.id == access.member.id {
        act.on_oneself(access.perms.is_owner())
            .map_err(AppError::forbidden_because)?;
    }
    let permission = act.permission();
    let scope = reach(access, permission)
        .ok_or_else(|| AppError::forbidden_in(&access.workspace.slug, permission))?;
    if !in_scope(conn, access, scope, member.id)? {
        return Err(AppError::forbidden_in(&access.workspace.slug, permission));
    }
    if !access.perms.dominates(perms) {
        return Err(AppError::forbidden_because(
            "This member holds permissions you don't: only someone who holds at least as much can change them.",
        ));
    }
    if matches!(act, Act::Membership | Act::Identity) && member.status() == MemberStatus::Removed {
        return Err(AppError::Conflict(
            "This member was removed from the workspace: invite them again to change their membership.".into(),
        ));
    }
    Ok(())
}

/// Whether [`authorize`] lets the actor do `act` to this member (to show the forms).
pub fn may(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
    perms: &EffectivePermissions,
    act: Act,
) -> AppResult<bool> {
    match authorize(conn, access, member, perms, act) {
        Ok(()) => Ok(true),
        Err(AppError::NotFound | AppError::Forbidden(_) | AppError::Conflict(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

/// A member the actor is about to change, with what they hold.
pub struct Target {
    pub member: Member,
    pub perms: EffectivePermissions,
    /// Primary address, for audit labels.
    pub label: String,
}

/// Loads a member and checks [`authorize`] for `act`. Call it inside the write transaction,
/// after the member lock (`services::locks::acting`), so what it read is what is written.
pub fn target(conn: &mut DbConn, access: &Access, member_id: i64, act: Act) -> AppResult<Target> {
    let member = Member::find_in_workspace(conn, access.workspace.id, member_id)?
        .ok_or(AppError::NotFound)?;
    let perms = access::effective_permissions(conn, member.id)?;
    authorize(conn, access, &member, &perms, act)?;
    let label = EmailAddressRow::primary_for(conn, member.account_id)?
        .map(|e| e.canonical)
        .unwrap_or_default();
    Ok(Target {
        member,
        perms,
        label,
    })
}

/// A refusal to show beside a field; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> Result<(), Refusal> {
    Err(Refusal {
        field,
        message: message.into(),
    })
}

/// Replaces a member's roles (`role_ids`, one of them `primary`). The Owner role is never
/// given here and never taken from the Owner (only a transfer moves it); every other role
/// must be one the actor may hand out; a member keeps at least one role.
pub fn set_roles(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    role_ids: &[i64],
    primary: Option<i64>,
) -> AppResult<Result<(), Refusal>> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        let all = Role::for_workspace(conn, access.workspace.id)?;
        let owner_role = all
            .iter()
            .find(|r| r.builtin() == Some(BuiltinRole::Owner))
            .map(|r| r.id);
        let grantable = roles::grantable_among(conn, access, &all)?;
        let mut wanted: Vec<i64> = Vec::new();
        for id in role_ids {
            if !wanted.contains(id) {
                wanted.push(*id);
            }
        }
        // The Owner keeps the Owner role whatever the form says.
        if target.perms.is_owner() {
            if let Some(owner) = owner_role {
                if !wanted.contains(&owner) {
                    wanted.insert(0, owner);
                }
            }
        }
        for id in &wanted {
            let Some(role) = all.iter().find(|r| r.id == *id) else {
                return Ok(refuse("role", "Choose roles of this workspace"));
            };
            if Some(*id) == owner_role {
                if !target.perms.is_owner() {
                    return Ok(refuse(
                        "role",
                        "The Owner role can't be given: transfer ownership instead",
                    ));
                }
                continue;
            }
            if !grantable.iter().any(|g| g.id == *id) {
                return Ok(refuse(
                    "role",
                    format!(
                        "You can't give the {} role: it grants permissions you don't hold",
                        role.name
                    ),
                ));
            }
        }
        if wanted.is_empty() {
            return Ok(refuse("role", "A member keeps at least one role"));
        }
        let primary = match primary {
            Some(p) if wanted.contains(&p) => p,
            Some(_) => {
                return Ok(refuse(
                    "primary_role",
                    "The primary role must be one of the roles ticked",
                ))
            }
            None => wanted[0],
        };
        let before = Role::held_by(conn, &[target.member.id])?;
        let rows: Vec<(i64, bool)> = wanted.iter().map(|id| (*id, *id == primary)).collect();
        Role::replace_for_member(conn, target.member.id, &rows)?;
        let name_of = |id: &i64| {
            all.iter()
                .find(|r| r.id == *id)
                .map(|r| r.name.clone())
                .unwrap_or_default()
        };
        audit::record(
            conn,
            actor,
            Event::new("member.roles_changed")
                .workspace(access.workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({
                    "before": {
                        "roles": before.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
                        "primary": before.iter().find(|r| r.is_primary).map(|r| r.name.clone()),
                    },
                    "after": {
                        "roles": wanted.iter().map(name_of).collect::<Vec<_>>(),
                        "primary": name_of(&primary),
                    },
                })),
        )?;
        Ok(Ok(()))
    })
}

/// Changes a member's seat type (both take one seat, so the seat count is unchanged).
pub fn set_seat(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    seat: SeatType,
) -> AppResult<()> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        if target.member.seat() == seat {
            return Ok(());
        }
        Member::set_seat(conn, target.member.id, seat, models::now())?;
        audit::record(
            conn,
            actor,
            Event::new("member.seat_changed")
                .workspace(access.workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({
                    "before": {"seat_type": target.member.seat_type},
                    "after": {"seat_type": seat.key()},
                })),
        )
        .map_err(AppError::from)
    })
}

/// Sets who a member reports to. The manager must be an active member the actor can see,
/// and never someone who already reports to this member (a chain never loops).
pub fn set_manager(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    manager_id: Option<i64>,
) -> AppResult<Result<(), Refusal>> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        if target.member.manager_id == manager_id {
            return Ok(Ok(()));
        }
        if let Some(manager_id) = manager_id {
            let manager = Member::find_in_workspace(conn, access.workspace.id, manager_id)?;
            let visible = match (&manager, access.perms.scope(Permission::MembersView)) {
                (Some(m), Some(scope)) => in_scope(conn, access, scope, m.id)?,
                _ => false,
            };
            let Some(manager) = manager.filter(|_| visible) else {
                return Ok(refuse("manager_id", "Choose a member of this workspace"));
            };
            if manager.status() != MemberStatus::Active {
                return Ok(refuse("manager_id", "The manager must be an active member"));
            }
            if manager.id == target.member.id {
                return Ok(refuse("manager_id", "A member can't report to themselves"));
            }
            if Member::team_ids(conn, access.workspace.id, target.member.id)?.contains(&manager.id)
            {
                return Ok(refuse(
                    "manager_id",
                    "That member already reports to this member, directly or through others: the chain would loop",
                ));
            }
        }
        Member::set_manager(conn, target.member.id, manager_id, models::now())?;
        audit::record(
            conn,
            actor,
            Event::new("member.manager_changed")
                .workspace(access.workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({
                    "before": {"manager_id": target.member.manager_id},
                    "after": {"manager_id": manager_id},
                })),
        )?;
        Ok(Ok(()))
    })
}

pub const MAX_DEPARTMENT_CHARS: usize = 100;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_METADATA_BYTES: usize = 4096;

/// Sets (or clears) a member's department: free text, trimmed.
pub fn set_department(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    department: Option<&str>,
) -> AppResult<Result<(), Refusal>> {
    let department = department.map(str::trim).filter(|d| !d.is_empty());
    if department.is_some_and(|d| d.chars().count() > MAX_DEPARTMENT_CHARS) {
        return Ok(refuse(
            "department",
            format!("At most {MAX_DEPARTMENT_CHARS} characters"),
        ));
    }
    if let Some(Err(e)) = department.map(text::single_line) {
        return Ok(refuse("department", e.to_string()));
    }
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        if target.member.department.as_deref() == department {
            return Ok(Ok(()));
        }
        Member::set_department(conn, target.member.id, department, models::now())?;
        audit::record(
            conn,
            actor,
            Event::new("member.department_changed")
                .workspace(access.workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({
                    "before": {"department": target.member.department},
                    "after": {"department": department},
                })),
        )?;
        Ok(Ok(()))
    })
}

/// Parses member metadata: a JSON object of at most 4 KiB (empty means `{}`).
pub fn parse_metadata(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok("{}".into());
    }
    if text.len() > MAX_METADATA_BYTES {
        return Err("Metadata is limited to 4 KiB".into());
    }
    text::multi_line(text).map_err(|e| e.to_string())?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value @ serde_json::Value::Object(_)) => {
            // Escapes (`"\u0000"`, `"\u202e"`) decode to what the raw text may not contain.
            json_text_ok(&value).map_err(|e| format!("In a JSON string: {e}"))?;
            Ok(value.to_string())
        }
        Ok(_) => Err("Metadata must be a JSON object, like {\"team\": \"north\"}".into()),
        Err(e) => Err(format!("Not valid JSON: {e}")),
    }
}

fn json_text_ok(value: &serde_json::Value) -> Result<(), text::TextError> {
    match value {
        serde_json::Value::String(s) => text::multi_line(s).map(drop),
        serde_json::Value::Array(items) => items.iter().try_for_each(json_text_ok),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            text::single_line(k)?;
            json_text_ok(v)
        }),
        _ => Ok(()),
    }
}

pub fn set_metadata(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    metadata: &str,
) -> AppResult<Result<(), Refusal>> {
    let metadata = match parse_metadata(metadata) {
        Ok(m) => m,
        Err(message) => return Ok(refuse("metadata", message)),
    };
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        Member::set_metadata(conn, target.member.id, &metadata, models::now())?;
        audit::record(
            conn,
            actor,
            Event::new("member.metadata_changed")
                .workspace(access.workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({
                    "before": {"metadata": target.member.metadata},
                    "after": {"metadata": metadata},
                })),
        )?;
        Ok(Ok(()))
    })
}

/// Gives a member exactly the listed modules of the catalogue; the rest are revoked.
pub fn set_modules(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    granted: &[i64],
) -> AppResult<Result<(), Refusal>> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        let catalogue = Module::for_workspace(conn, access.workspace.id)?;
        if granted
            .iter()
            .any(|id| !catalogue.iter().any(|m| m.id == *id))
        {
            return Ok(refuse("module", "Choose modules of this workspace"));
        }
        let before: Vec<i64> = Module::revoked_for(conn, target.member.id)?;
        let revoked: Vec<i64> = catalogue
            .iter()
            .filter(|m| !granted.contains(&m.id))
            .map(|m| m.id)
            .collect();
        if before == revoked {
            return Ok(Ok(()));
        }
        Module::set_revoked(conn, target.member.id, &revoked)?;
        let keys = |ids: &[i64]| -> Vec<String> {
            catalogue
                .iter()
                .filter(|m| ids.contains(&m.id))
                .map(|m| m.key.clone())
                .collect()
        };
        audit::record(
            conn,
            actor,
            Event::new("member.modules_changed")
                .workspace(access.workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({
                    "before": {"revoked": keys(&before)},
                    "after": {"revoked": keys(&revoked)},
                })),
        )?;
        Ok(Ok(()))
    })
}

/// Why an admin may or may not edit a member's name: only when the member has a verified
/// address on a verified domain of the workspace (SPEC §3).
pub fn name_editable(
    conn: &mut DbConn,
    workspace_id: i64,
    account_id: i64,
) -> AppResult<Result<(), String>> {
    let verified_domains = Domain::verified_names(conn, workspace_id)?;
    let on_domain = EmailAddressRow::for_account(conn, account_id)?
        .iter()
        .any(|e| e.verified && domains::on_domains(&e.canonical, &verified_domains));
    Ok(if on_domain {
        Ok(())
    } else if verified_domains.is_empty() {
        Err("The name belongs to the member's own account: admins can edit it only for members with an address on a verified domain of this workspace, and this workspace has none.".into())
    } else {
        Err(format!(
            "The name belongs to the member's own account: admins can edit it only for members with a verified address on {}.",
            verified_domains.join(", ")
        ))
    })
}

pub fn set_name(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    name: &str,
) -> AppResult<Result<(), Refusal>> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(refuse("name", "Enter a name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Ok(refuse(
            "name",
            format!("At most {MAX_NAME_CHARS} characters"),
        ));
    }
    if let Err(e) = text::single_line(name) {
        return Ok(refuse("name", e.to_string()));
    }
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Identity)?;
        if let Err(reason) = name_editable(conn, access.workspace.id, target.member.account_id)? {
            return Ok(refuse("name", reason));
        }
        let before = Account::find(conn, target.member.account_id)?
            .map(|a| a.name)
            .unwrap_or_default();
        if before == name {
            return Ok(Ok(()));
        }
        Account::rename(conn, target.member.account_id, name, models::now())?;
        audit::record(
            conn,
            actor,
            Event::new("member.name_changed")
                .workspace(access.workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({"before": {"name": before}, "after": {"name": name}})),
        )?;
        Ok(Ok(()))
    })
}
