//! Changes an admin makes to one member: roles, seat type, manager, department, modules,
//! metadata, name. Each runs under the member lock (`services::locks::acting`), loads the
//! member through `members::target` (the rule for acting on a member, checked on the
//! member as they are inside that transaction), refuses what its own rule forbids
//! (nothing is written then) and records its audit event.

use serde_json::json;

use crate::db::DbConn;
use crate::domain::{Department, Metadata, PersonName};
use crate::error::{refuse_any, AppError, AppResult, Refusal, ServiceError, ServiceResult};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::Domain;
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::module::Module;
use crate::models::role::{HeldRole, Role};
use crate::permissions::{BuiltinRole, Permission};
use crate::services::access::Access;
use crate::services::members::{in_scope, target, Act, Target};
use crate::services::{domains, locks, roles};

/// The member's audit event: `action` by `actor` on the target, with `changes`.
fn record(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    action: &'static str,
    changes: serde_json::Value,
) -> ServiceResult<()> {
    Ok(audit::record(
        conn,
        actor,
        Event::new(action)
            .workspace(access.workspace.id)
            .target("member", target.member.id, &target.label)
            .changes(changes),
    )?)
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
) -> ServiceResult<()> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        let all = Role::for_workspace(conn, access.workspace.id)?;
        let (wanted, primary) = checked_roles(conn, access, &target, &all, role_ids, primary)?;
        write_roles(conn, actor, access, &target, &all, &wanted, primary)
    })
}

/// Writes the member's roles (`wanted`, `primary` among them) and records the change.
fn write_roles(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    all: &[Role],
    wanted: &[i64],
    primary: i64,
) -> ServiceResult<()> {
    let before = Role::held_by(conn, &[target.member.id])?;
    let rows: Vec<(i64, bool)> = wanted.iter().map(|id| (*id, *id == primary)).collect();
    Role::replace_for_member(conn, target.member.id, &rows)?;
    let name_of = |id: &i64| {
        all.iter()
            .find(|r| r.id == *id)
            .map(|r| r.name.clone())
            .unwrap_or_default()
    };
    let changes = json!({
        "before": {
            "roles": before.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "primary": before.iter().find(|r| r.is_primary).map(|r| r.name.clone()),
        },
        "after": {
            "roles": wanted.iter().map(name_of).collect::<Vec<_>>(),
            "primary": name_of(&primary),
            // What the membership history replays (`roles` names these ids, in order).
            "role_ids": wanted,
            "primary_role_id": primary,
        },
    });
    record(conn, actor, access, target, "member.roles_changed", changes)
}

/// The roles the member will hold, in the order asked, without repeats: roles of this
/// workspace the actor may hand out, the Owner's Owner role kept whatever was asked, never
/// the Owner role for anyone else, and at least one.
fn wanted_roles(
    conn: &mut DbConn,
    access: &Access,
    target: &Target,
    all: &[Role],
    role_ids: &[i64],
) -> ServiceResult<Vec<i64>> {
    let owner_role = all
        .iter()
        .find(|r| r.builtin() == Some(BuiltinRole::Owner))
        .map(|r| r.id);
    let grantable = roles::grantable_among(conn, access, all)?;
    let mut wanted: Vec<i64> = Vec::new();
    for id in role_ids {
        if !wanted.contains(id) {
            wanted.push(*id);
        }
    }
    if let Some(owner) = owner_role.filter(|_| target.perms.is_owner()) {
        if !wanted.contains(&owner) {
            wanted.insert(0, owner);
        }
    }
    for id in &wanted {
        let Some(role) = all.iter().find(|r| r.id == *id) else {
            return Err(ServiceError::field(
                "role",
                "Choose roles of this workspace",
            ));
        };
        if Some(*id) == owner_role {
            if !target.perms.is_owner() {
                return Err(ServiceError::field(
                    "role",
                    "The Owner role can't be given: transfer ownership instead",
                ));
            }
        } else if !grantable.iter().any(|g| g.id == *id) {
            return Err(ServiceError::field(
                "role",
                format!(
                    "You can't give the {} role: it grants permissions you don't hold",
                    role.name
                ),
            ));
        }
    }
    if wanted.is_empty() {
        return Err(ServiceError::field(
            "role",
            "A member keeps at least one role",
        ));
    }
    Ok(wanted)
}

/// Changes a member's seat type (both take one seat, so the seat count is unchanged).
pub fn set_seat(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    seat: SeatType,
) -> ServiceResult<()> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        if target.member.seat() == seat {
            return Ok(());
        }
        write_seat(conn, actor, access, &target, seat)
    })
}

fn write_seat(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    seat: SeatType,
) -> ServiceResult<()> {
    Member::set_seat(conn, target.member.id, seat, models::now())?;
    let changes = json!({
        "before": {"seat_type": target.member.seat_type},
        "after": {"seat_type": seat.key()},
    });
    record(conn, actor, access, target, "member.seat_changed", changes)
}

/// Sets who a member reports to. The manager must be an active member the actor can see,
/// and never someone who already reports to this member (a chain never loops).
pub fn set_manager(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    manager_id: Option<i64>,
) -> ServiceResult<()> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        if target.member.manager_id == manager_id {
            return Ok(());
        }
        if let Some(manager_id) = manager_id {
            check_manager(conn, access, &target, manager_id)?;
        }
        write_manager(conn, actor, access, &target, manager_id)
    })
}

fn write_manager(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    manager_id: Option<i64>,
) -> ServiceResult<()> {
    Member::set_manager(conn, target.member.id, manager_id, models::now())?;
    let changes = json!({
        "before": {"manager_id": target.member.manager_id},
        "after": {"manager_id": manager_id},
    });
    record(
        conn,
        actor,
        access,
        target,
        "member.manager_changed",
        changes,
    )
}

/// Refused unless `manager_id` may manage the target: an active member the actor can see,
/// not the target, and not already in the target's team.
fn check_manager(
    conn: &mut DbConn,
    access: &Access,
    target: &Target,
    manager_id: i64,
) -> ServiceResult<()> {
    let refuse = |message: &str| Err(ServiceError::field("manager_id", message));
    let manager = Member::find_in_workspace(conn, access.workspace.id, manager_id)?;
    let visible = match (&manager, access.perms.scope(Permission::MembersView)) {
        (Some(m), Some(scope)) => in_scope(conn, access, scope, m.id)?,
        _ => false,
    };
    let Some(manager) = manager.filter(|_| visible) else {
        return refuse("Choose a member of this workspace");
    };
    if manager.status() != MemberStatus::Active {
        return refuse("The manager must be an active member");
    }
    if manager.id == target.member.id {
        return refuse("A member can't report to themselves");
    }
    if Member::team_ids(conn, access.workspace.id, target.member.id)?.contains(&manager.id) {
        return refuse("That member already reports to this member, directly or through others: the chain would loop");
    }
    Ok(())
}

/// Sets (or, with `None`, clears) a member's department.
pub fn set_department(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    department: Option<&Department>,
) -> ServiceResult<()> {
    let department = department.map(Department::as_str);
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        if target.member.department.as_deref() == department {
            return Ok(());
        }
        write_department(conn, actor, access, &target, department)
    })
}

fn write_department(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    department: Option<&str>,
) -> ServiceResult<()> {
    Member::set_department(conn, target.member.id, department, models::now())?;
    let changes = json!({
        "before": {"department": target.member.department},
        "after": {"department": department},
    });
    record(
        conn,
        actor,
        access,
        target,
        "member.department_changed",
        changes,
    )
}

/// Replaces a member's metadata (the host product's JSON object).
pub fn set_metadata(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    metadata: &Metadata,
) -> ServiceResult<()> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        write_metadata(conn, actor, access, &target, metadata)
    })
}

fn write_metadata(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    metadata: &Metadata,
) -> ServiceResult<()> {
    Member::set_metadata(conn, target.member.id, metadata.as_str(), models::now())?;
    let changes = json!({
        "before": {"metadata": target.member.metadata},
        "after": {"metadata": metadata.as_str()},
    });
    record(
        conn,
        actor,
        access,
        target,
        "member.metadata_changed",
        changes,
    )
}

/// Gives a member exactly the listed modules of the catalogue; the rest are revoked.
pub fn set_modules(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    granted: &[i64],
) -> ServiceResult<()> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        let catalogue = Module::for_workspace(conn, access.workspace.id)?;
        if granted
            .iter()
            .any(|id| !catalogue.iter().any(|m| m.id == *id))
        {
            return Err(ServiceError::field(
                "module",
                "Choose modules of this workspace",
            ));
        }
        let before: Vec<i64> = Module::revoked_for(conn, target.member.id)?;
        let revoked: Vec<i64> = catalogue
            .iter()
            .filter(|m| !granted.contains(&m.id))
            .map(|m| m.id)
            .collect();
        if before == revoked {
            return Ok(());
        }
        write_modules(conn, actor, access, &target, &catalogue, &before, &revoked)
    })
}

/// Revokes `revoked` (the rest of `catalogue` is granted) and records the change.
fn write_modules(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    catalogue: &[Module],
    before: &[i64],
    revoked: &[i64],
) -> ServiceResult<()> {
    Module::set_revoked(conn, target.member.id, revoked)?;
    let keys = |ids: &[i64]| -> Vec<String> {
        catalogue
            .iter()
            .filter(|m| ids.contains(&m.id))
            .map(|m| m.key.clone())
            .collect()
    };
    let changes = json!({
        "before": {"revoked": keys(before)},
        "after": {"revoked": keys(revoked)},
    });
    record(
        conn,
        actor,
        access,
        target,
        "member.modules_changed",
        changes,
    )
}

/// Why admins may not edit this member's name, or `None` when they may: only for a member
/// with a verified address on a verified domain of the workspace (SPEC §3). The member
/// page shows the reason; `set_name` refuses with it.
pub fn name_read_only(
    conn: &mut DbConn,
    workspace_id: i64,
    account_id: i64,
) -> AppResult<Option<String>> {
    let verified_domains = Domain::verified_names(conn, workspace_id)?;
    let on_domain = EmailAddressRow::for_account(conn, account_id)?
        .iter()
        .any(|e| e.verified && domains::on_domains(&e.canonical, &verified_domains));
    Ok(if on_domain {
        None
    } else if verified_domains.is_empty() {
        Some("The name belongs to the member's own account: admins can edit it only for members with an address on a verified domain of this workspace, and this workspace has none.".into())
    } else {
        Some(format!(
            "The name belongs to the member's own account: admins can edit it only for members with a verified address on {}.",
            verified_domains.join(", ")
        ))
    })
}

/// Corrects a member's name (their account's), where `name_read_only` allows it.
pub fn set_name(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    name: &PersonName,
) -> ServiceResult<()> {
    let name = name.as_str();
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Identity)?;
        let account_id = target.member.account_id;
        if let Some(reason) = name_read_only(conn, access.workspace.id, account_id)? {
            return Err(ServiceError::field("name", reason));
        }
        let before = Account::find(conn, account_id)?
            .map(|a| a.name)
            .unwrap_or_default();
        if before == name {
            return Ok(());
        }
        write_name(conn, actor, access, &target, &before, name)
    })
}

fn write_name(
    conn: &mut DbConn,
    actor: &Actor,
    access: &Access,
    target: &Target,
    before: &str,
    name: &str,
) -> ServiceResult<()> {
    Account::rename(conn, target.member.account_id, name, models::now())?;
    let changes = json!({"before": {"name": before}, "after": {"name": name}});
    record(conn, actor, access, target, "member.name_changed", changes)
}

/// The member page's one "Edit member" form, parsed: every field it sent. `None` is a
/// field not sent (not offered to this viewer, or a script leaving it as it is).
#[derive(Debug, Default)]
pub struct Edits {
    /// The roles ticked and the primary one.
    pub roles: Option<(Vec<i64>, Option<i64>)>,
    pub seat: Option<SeatType>,
    /// `Some(None)` clears the manager.
    pub manager: Option<Option<i64>>,
    /// `Some(None)` clears the department.
    pub department: Option<Option<Department>>,
    /// The modules ticked.
    pub modules: Option<Vec<i64>>,
    pub metadata: Option<Metadata>,
    pub name: Option<PersonName>,
}

/// What [`apply`] changed, in the form's order: the fields' labels, for the flash.
pub type Applied = Vec<&'static str>;

/// The one form's save: every field that differs from what is stored, in one transaction
/// under the member lock, each by the same rule as its own route (`set_roles`, `set_seat`,
/// …) and with its own audit event. The rule for acting on a member is checked for what
/// is changed (`Act::Membership` for roles, seat, manager, department, modules, metadata;
/// `Act::Identity` for the name), so a field the viewer may not change is refused however
/// it was sent. Every field's refusal is collected before anything is written: if any
/// field is refused, nothing is.
pub fn apply(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    edits: &Edits,
) -> ServiceResult<Applied> {
    locks::acting(conn, access, |conn, access| {
        let member = Member::find_in_workspace(conn, access.workspace.id, member_id)?
            .ok_or(AppError::NotFound)?;
        let visible = match access.perms.scope(Permission::MembersView) {
            Some(scope) => in_scope(conn, access, scope, member.id)?,
            None => false,
        };
        if !visible {
            return Err(AppError::NotFound.into());
        }
        let changed = Changed::read(conn, access, &member, edits)?;
        let membership = match changed.touches_membership() {
            true => Some(target(conn, access, member_id, Act::Membership)?),
            false => None,
        };
        let identity = match changed.name {
            Some(_) => Some(target(conn, access, member_id, Act::Identity)?),
            None => None,
        };
        let mut refusals = Vec::new();
        let mut roles = None;
        if let (Some(target), Some((ids, primary))) = (&membership, changed.roles) {
            match checked_roles(conn, access, target, &changed.all_roles, ids, *primary) {
                Ok(chosen) => roles = Some(chosen),
                Err(ServiceError::Refused(found)) => refusals.extend(found),
                Err(fatal) => return Err(fatal),
            }
        }
        if let (Some(target), Some(Some(manager_id))) = (&membership, changed.manager) {
            match check_manager(conn, access, target, manager_id) {
                Ok(()) => {}
                Err(ServiceError::Refused(found)) => refusals.extend(found),
                Err(fatal) => return Err(fatal),
            }
        }
        if changed.unknown_module {
            refusals.push(Refusal::field("module", "Choose modules of this workspace"));
        }
        if identity.is_some() {
            if let Some(reason) = name_read_only(conn, access.workspace.id, member.account_id)? {
                refusals.push(Refusal::field("name", reason));
            }
        }
        refuse_any(refusals)?;

        let mut applied = Applied::new();
        if let Some(target) = &membership {
            if let Some((wanted, primary)) = roles {
                write_roles(
                    conn,
                    actor,
                    access,
                    target,
                    &changed.all_roles,
                    &wanted,
                    primary,
                )?;
                applied.push("roles");
            }
            if let Some(seat) = changed.seat {
                write_seat(conn, actor, access, target, seat)?;
                applied.push("seat type");
            }
            if let Some(manager_id) = changed.manager {
                write_manager(conn, actor, access, target, manager_id)?;
                applied.push("manager");
            }
            if let Some(department) = changed.department {
                let department = department.as_ref().map(Department::as_str);
                write_department(conn, actor, access, target, department)?;
                applied.push("department");
            }
            if let Some(revoked) = &changed.revoked {
                let (catalogue, before) = (&changed.catalogue, &changed.revoked_before);
                write_modules(conn, actor, access, target, catalogue, before, revoked)?;
                applied.push("modules");
            }
            if let Some(metadata) = changed.metadata {
                write_metadata(conn, actor, access, target, metadata)?;
                applied.push("metadata");
            }
        }
        if let (Some(target), Some(name)) = (&identity, changed.name) {
            write_name(
                conn,
                actor,
                access,
                target,
                &changed.name_before,
                name.as_str(),
            )?;
            applied.push("name");
        }
        Ok(applied)
    })
}

/// The fields of an [`Edits`] that differ from what is stored, read inside the lock.
struct Changed<'a> {
    roles: Option<&'a (Vec<i64>, Option<i64>)>,
    seat: Option<SeatType>,
    manager: Option<Option<i64>>,
    department: Option<&'a Option<Department>>,
    /// The modules to revoke, when that differs from those revoked now.
    revoked: Option<Vec<i64>>,
    /// A module id ticked that is not in the catalogue.
    unknown_module: bool,
    metadata: Option<&'a Metadata>,
    name: Option<&'a PersonName>,
    all_roles: Vec<Role>,
    catalogue: Vec<Module>,
    revoked_before: Vec<i64>,
    name_before: String,
}

impl<'a> Changed<'a> {
    fn read(
        conn: &mut DbConn,
        access: &Access,
        member: &Member,
        edits: &'a Edits,
    ) -> ServiceResult<Changed<'a>> {
        let held = Role::held_by(conn, &[member.id])?;
        let roles = edits
            .roles
            .as_ref()
            .filter(|(ids, primary)| !same_roles(&held, ids, *primary));
        let catalogue = Module::for_workspace(conn, access.workspace.id)?;
        let revoked_before = Module::revoked_for(conn, member.id)?;
        let (mut revoked, mut unknown_module) = (None, false);
        if let Some(granted) = &edits.modules {
            unknown_module = granted
                .iter()
                .any(|id| !catalogue.iter().any(|m| m.id == *id));
            let wanted: Vec<i64> = catalogue
                .iter()
                .filter(|m| !granted.contains(&m.id))
                .map(|m| m.id)
                .collect();
            let (mut now, mut then) = (wanted.clone(), revoked_before.clone());
            now.sort_unstable();
            then.sort_unstable();
            if now != then || unknown_module {
                revoked = Some(wanted);
            }
        }
        let name_before = match edits.name {
            Some(_) => Account::find(conn, member.account_id)?
                .map(|a| a.name)
                .unwrap_or_default(),
            None => String::new(),
        };
        Ok(Changed {
            roles,
            seat: edits.seat.filter(|seat| *seat != member.seat()),
            manager: edits.manager.filter(|m| *m != member.manager_id),
            department: edits
                .department
                .as_ref()
                .filter(|d| d.as_ref().map(Department::as_str) != member.department.as_deref()),
            revoked,
            unknown_module,
            metadata: edits
                .metadata
                .as_ref()
                .filter(|m| m.as_str() != member.metadata),
            name: edits.name.as_ref().filter(|n| n.as_str() != name_before),
            all_roles: Role::for_workspace(conn, access.workspace.id)?,
            catalogue,
            revoked_before,
            name_before,
        })
    }

    fn touches_membership(&self) -> bool {
        self.roles.is_some()
            || self.seat.is_some()
            || self.manager.is_some()
            || self.department.is_some()
            || self.revoked.is_some()
            || self.unknown_module
            || self.metadata.is_some()
    }
}

/// Whether the roles asked (`ids`, `primary`) are those held: the same set, and the same
/// primary role when one is named.
fn same_roles(held: &[HeldRole], ids: &[i64], primary: Option<i64>) -> bool {
    let mut asked: Vec<i64> = ids.to_vec();
    asked.sort_unstable();
    asked.dedup();
    let mut now: Vec<i64> = held.iter().map(|h| h.role_id).collect();
    now.sort_unstable();
    let primary_now = held.iter().find(|h| h.is_primary).map(|h| h.role_id);
    asked == now && primary.is_none_or(|p| Some(p) == primary_now)
}

/// The roles to write and the primary one, by `set_roles`'s rules.
fn checked_roles(
    conn: &mut DbConn,
    access: &Access,
    target: &Target,
    all: &[Role],
    ids: &[i64],
    primary: Option<i64>,
) -> ServiceResult<(Vec<i64>, i64)> {
    let wanted = wanted_roles(conn, access, target, all, ids)?;
    let primary = match primary {
        Some(p) if wanted.contains(&p) => p,
        Some(_) => {
            return Err(ServiceError::field(
                "primary_role",
                "The primary role must be one of the roles ticked",
            ))
        }
        None => wanted[0],
    };
    Ok((wanted, primary))
}
