//! Changes an admin makes to one member: roles, seat type, manager. Every change checks,
//! inside its write transaction, that the actor may act on that member (scope of the
//! permission, and the member holds nothing the actor lacks) and records its audit event.

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::role::Role;
use crate::permissions::{BuiltinRole, EffectivePermissions, Permission, Scope};
use crate::services::access::{self, Access};
use crate::services::roles;

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

/// Whether the actor may change this member with `permission` (to show the forms; the
/// writing service checks again with `target`).
pub fn may_change(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
    perms: &EffectivePermissions,
    permission: Permission,
) -> AppResult<bool> {
    let Some(scope) = access.perms.scope(permission) else {
        return Ok(false);
    };
    Ok(access.perms.dominates(perms) && in_scope(conn, access, scope, member.id)?)
}

/// A member the actor is about to change, with what they hold.
pub struct Target {
    pub member: Member,
    pub perms: EffectivePermissions,
    /// Primary address, for audit labels.
    pub label: String,
}

/// Loads a member the actor may change with `permission` (`members.edit` or
/// `members.remove`): 404 when the actor cannot see them, 403 when they are outside the
/// permission's scope or hold something the actor does not.
pub fn target(
    conn: &mut DbConn,
    access: &Access,
    member_id: i64,
    permission: Permission,
) -> AppResult<Target> {
    let member = Member::find_in_workspace(conn, access.workspace.id, member_id)?
        .ok_or(AppError::NotFound)?;
    let view = access
        .perms
        .scope(Permission::MembersView)
        .ok_or(AppError::NotFound)?;
    if !in_scope(conn, access, view, member.id)? {
        return Err(AppError::NotFound);
    }
    let scope = access
        .perms
        .scope(permission)
        .ok_or_else(|| AppError::forbidden_in(&access.workspace.slug, permission))?;
    if !in_scope(conn, access, scope, member.id)? {
        return Err(AppError::forbidden_in(&access.workspace.slug, permission));
    }
    let perms = access::effective_permissions(conn, member.id)?;
    if !access.perms.dominates(&perms) {
        return Err(AppError::forbidden_because(
            "This member holds permissions you don't: only someone who holds at least as much can change them.",
        ));
    }
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
    write_transaction(conn, |conn| {
        let target = target(conn, access, member_id, Permission::MembersEdit)?;
        if target.member.status() == MemberStatus::Removed {
            return Ok(refuse(
                "role",
                "A removed member has no roles: invite them again to give them some",
            ));
        }
        let all = Role::for_workspace(conn, access.workspace.id)?;
        let owner_role = all
            .iter()
            .find(|r| r.builtin() == Some(BuiltinRole::Owner))
            .map(|r| r.id);
        let grantable = roles::grantable_roles(conn, access)?;
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
    write_transaction(conn, |conn| {
        let target = target(conn, access, member_id, Permission::MembersEdit)?;
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
    write_transaction(conn, |conn| {
        let target = target(conn, access, member_id, Permission::MembersEdit)?;
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
