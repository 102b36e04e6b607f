//! Changes an admin makes to one member: roles, seat type, manager, department, modules,
//! metadata, name. Each runs under the member lock (`services::locks::acting`), loads the
//! member through `members::target` (the rule for acting on a member, checked on the
//! member as they are inside that transaction), refuses what its own rule forbids
//! (nothing is written then) and records its audit event.

use serde_json::json;

use crate::db::DbConn;
use crate::domain::{Department, Metadata, PersonName};
use crate::error::{AppResult, ServiceError, ServiceResult};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::Domain;
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::module::Module;
use crate::models::role::Role;
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
        let wanted = wanted_roles(conn, access, &target, &all, role_ids)?;
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
            },
        });
        record(
            conn,
            actor,
            access,
            &target,
            "member.roles_changed",
            changes,
        )
    })
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
        Member::set_seat(conn, target.member.id, seat, models::now())?;
        let changes = json!({
            "before": {"seat_type": target.member.seat_type},
            "after": {"seat_type": seat.key()},
        });
        record(conn, actor, access, &target, "member.seat_changed", changes)
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
) -> ServiceResult<()> {
    locks::acting(conn, access, |conn, access| {
        let target = target(conn, access, member_id, Act::Membership)?;
        if target.member.manager_id == manager_id {
            return Ok(());
        }
        if let Some(manager_id) = manager_id {
            check_manager(conn, access, &target, manager_id)?;
        }
        Member::set_manager(conn, target.member.id, manager_id, models::now())?;
        let changes = json!({
            "before": {"manager_id": target.member.manager_id},
            "after": {"manager_id": manager_id},
        });
        record(
            conn,
            actor,
            access,
            &target,
            "member.manager_changed",
            changes,
        )
    })
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
        Member::set_department(conn, target.member.id, department, models::now())?;
        let changes = json!({
            "before": {"department": target.member.department},
            "after": {"department": department},
        });
        record(
            conn,
            actor,
            access,
            &target,
            "member.department_changed",
            changes,
        )
    })
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
        Member::set_metadata(conn, target.member.id, metadata.as_str(), models::now())?;
        let changes = json!({
            "before": {"metadata": target.member.metadata},
            "after": {"metadata": metadata.as_str()},
        });
        record(
            conn,
            actor,
            access,
            &target,
            "member.metadata_changed",
            changes,
        )
    })
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
        Module::set_revoked(conn, target.member.id, &revoked)?;
        let keys = |ids: &[i64]| -> Vec<String> {
            catalogue
                .iter()
                .filter(|m| ids.contains(&m.id))
                .map(|m| m.key.clone())
                .collect()
        };
        let changes = json!({
            "before": {"revoked": keys(&before)},
            "after": {"revoked": keys(&revoked)},
        });
        record(
            conn,
            actor,
            access,
            &target,
            "member.modules_changed",
            changes,
        )
    })
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
        Account::rename(conn, account_id, name, models::now())?;
        let changes = json!({"before": {"name": before}, "after": {"name": name}});
        record(conn, actor, access, &target, "member.name_changed", changes)
    })
}
