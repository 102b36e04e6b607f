//! A member's life in a workspace as admins run it: archive (access ends, roles kept),
//! restore (needs a free seat), remove (suspended: roles, grants and manager links gone,
//! can be re-invited) and ownership transfer. The workspace keeps exactly one Owner: every
//! path checks it inside its write transaction (SPEC §4.4).

use serde_json::json;

use crate::db::DbConn;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::mail::messages::{self, OwnershipMail};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::invite::Invite;
use crate::models::member::{Member, MemberStatus};
use crate::models::outbox::{self, NewMail};
use crate::models::role::{HeldRole, Role};
use crate::models::session;
use crate::models::workspace::Workspace;
use crate::permissions::BuiltinRole;
use crate::services::access::Access;
use crate::services::locks;
use crate::services::members::join::{self, Ending};
use crate::services::members::{target, Act, Target, OWNER_STAYS};
use crate::services::seats::Seats;

/// What archiving or removing a member will do, shown before it is done.
#[derive(Clone, Debug)]
pub struct Preview {
    pub member_id: i64,
    pub name: String,
    pub ending: Ending,
    pub roles: Vec<String>,
    pub pending_invites: usize,
    pub sessions: usize,
    /// Names of the members who report to them (removal clears their manager).
    pub reports: Vec<String>,
}

/// The member, if the actor may archive or remove them: the rule for acting on a member
/// (`members::authorize`: `members.remove` over their scope, holding nothing the actor
/// lacks, never oneself), and never the Owner (refused: ownership moves first).
fn endable(conn: &mut DbConn, access: &Access, member_id: i64) -> ServiceResult<Target> {
    let target = target(conn, access, member_id, Act::Lifecycle)?;
    if target.perms.is_owner() {
        return Err(ServiceError::general(OWNER_STAYS));
    }
    Ok(target)
}

/// An admin archives or removes; leaving is the member's own (`join::leave`).
fn by_admin(ending: Ending) -> ServiceResult<()> {
    match ending {
        Ending::Archived | Ending::Removed => Ok(()),
        Ending::Left => Err(AppError::internal("an admin does not leave for a member").into()),
    }
}

fn name_of(conn: &mut DbConn, member_id: i64) -> AppResult<String> {
    Ok(Member::names(conn, &[member_id])?
        .pop()
        .map(|(_, name, _)| name)
        .unwrap_or_default())
}

/// What archiving or removing the member would do (nothing is changed).
pub fn preview(
    conn: &mut DbConn,
    access: &Access,
    member_id: i64,
    ending: Ending,
) -> ServiceResult<Preview> {
    by_admin(ending)?;
    let target = endable(conn, access, member_id)?;
    let roles = Role::held_by(conn, &[target.member.id])?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let pending_invites =
        Invite::pending_sent_by(conn, access.workspace.id, target.member.account_id)?.len();
    let sessions = session::for_account(conn, target.member.account_id)?.len();
    let report_ids = Member::direct_reports(conn, target.member.id)?;
    let reports = Member::names(conn, &report_ids)?
        .into_iter()
        .map(|(_, name, _)| name)
        .collect();
    Ok(Preview {
        member_id: target.member.id,
        name: name_of(conn, target.member.id)?,
        ending,
        roles,
        pending_invites,
        sessions,
        reports,
    })
}

/// Archives (access and sessions end, roles kept, seat freed) or removes (also roles,
/// direct grants and their reports' manager link) a member; either way the pending
/// invitations they sent are revoked. The shared rules live in `join::end_in_tx`.
/// Returns the member's name.
pub fn end(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    ending: Ending,
) -> ServiceResult<String> {
    by_admin(ending)?;
    locks::acting(conn, access, |conn, access| {
        // Under the member lock: the member as they are now, then the write.
        let target = endable(conn, access, member_id)?;
        join::end_in_tx(conn, actor, &access.workspace, target.member.id, ending)?;
        session::delete_for_account(conn, target.member.account_id)?;
        Ok(name_of(conn, target.member.id)?)
    })
}

/// Brings an archived member back, with the roles they kept, if a seat is free (checked and
/// taken in one write transaction, so concurrent restores and invites never oversubscribe).
/// Returns the member's name.
pub fn restore(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
) -> ServiceResult<String> {
    locks::acting(conn, access, |conn, access| {
        let workspace = &access.workspace;
        let target = target(conn, access, member_id, Act::Lifecycle)?;
        match target.member.status() {
            MemberStatus::Archived => {}
            MemberStatus::Active => {
                return Err(ServiceError::general("This member is already active."))
            }
            MemberStatus::Removed => {
                return Err(ServiceError::general(
                    "A removed member comes back by being invited again.",
                ))
            }
        }
        let now = models::now();
        Seats::load(conn, workspace, now)?.ensure_free(1)?;
        Member::set_status(conn, target.member.id, MemberStatus::Active, now)?;
        Workspace::adjust_active_members(conn, workspace.id, 1)?;
        audit::record(
            conn,
            actor,
            Event::new("member.restored")
                .workspace(workspace.id)
                .target("member", target.member.id, &target.label)
                .changes(json!({"before": {"status": "archived"}, "after": {"status": "active"}})),
        )?;
        Ok(name_of(conn, target.member.id)?)
    })
}

/// The workspace's Owner and Admin role ids.
fn owner_and_admin(conn: &mut DbConn, workspace_id: i64) -> AppResult<(i64, i64)> {
    let roles = Role::for_workspace(conn, workspace_id)?;
    let role_id = |role: BuiltinRole| {
        roles
            .iter()
            .find(|r| r.builtin() == Some(role))
            .map(|r| r.id)
            .ok_or_else(|| AppError::internal("built-in role missing"))
    };
    Ok((role_id(BuiltinRole::Owner)?, role_id(BuiltinRole::Admin)?))
}

/// Moves the Owner role from the acting Owner to an active Admin; the previous Owner keeps
/// (or gets) Admin. Both are mailed. The caller verified the Owner's current password.
/// Returns the new Owner's name.
pub fn transfer_ownership(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
) -> ServiceResult<String> {
    locks::acting(conn, access, |conn, access| {
        let workspace = &access.workspace;
        let (owner_role, admin_role) = owner_and_admin(conn, workspace.id)?;
        // Re-read inside the transaction: only the current Owner may hand it over.
        let actor_roles = Role::held_by(conn, &[access.member.id])?;
        if !actor_roles.iter().any(|r| r.role_id == owner_role) {
            return Err(AppError::forbidden_because(
                "Only the workspace's Owner can transfer ownership.",
            )
            .into());
        }
        let new_owner =
            Member::find_in_workspace(conn, workspace.id, member_id)?.ok_or(AppError::NotFound)?;
        let new_roles = Role::held_by(conn, &[new_owner.id])?;
        if new_owner.id == access.member.id {
            return Err(ServiceError::general("You are already the Owner."));
        }
        if new_owner.status() != MemberStatus::Active
            || !new_roles.iter().any(|r| r.role_id == admin_role)
        {
            return Err(ServiceError::general(
                "Ownership can only go to an active member who is already an Admin.",
            ));
        }
        // The previous Owner: Admin (primary) plus their other roles, without Owner.
        let mut kept: Vec<(i64, bool)> = vec![(admin_role, true)];
        kept.extend(others(&actor_roles, &[owner_role, admin_role]));
        Role::replace_for_member(conn, access.member.id, &kept)?;
        let mut given: Vec<(i64, bool)> = vec![(owner_role, true)];
        given.extend(others(&new_roles, &[]));
        Role::replace_for_member(conn, new_owner.id, &given)?;
        Ok(tell_about_ownership(
            conn,
            actor,
            workspace,
            (access.member.id, &kept),
            (new_owner.id, &given),
        )?)
    })
}

/// The roles held but `except`, none of them primary.
fn others<'a>(held: &'a [HeldRole], except: &'a [i64]) -> impl Iterator<Item = (i64, bool)> + 'a {
    held.iter()
        .filter(|r| !except.contains(&r.role_id))
        .map(|r| (r.role_id, false))
}

/// The ids of `(role, primary)` pairs, the primary first.
fn role_ids(roles: &[(i64, bool)]) -> Vec<i64> {
    let primary = roles.iter().filter(|(_, p)| *p);
    let rest = roles.iter().filter(|(_, p)| !*p);
    primary.chain(rest).map(|(id, _)| *id).collect()
}

/// Mails both Owners (the new and the previous) and records the transfer; returns the new
/// Owner's name.
fn tell_about_ownership(
    conn: &mut DbConn,
    actor: &Actor,
    workspace: &Workspace,
    (old_owner, old_roles): (i64, &[(i64, bool)]),
    (new_owner, new_roles): (i64, &[(i64, bool)]),
) -> AppResult<String> {
    let people = Member::names(conn, &[old_owner, new_owner])?;
    let find = |id: i64| {
        people
            .iter()
            .find(|(m, _, _)| *m == id)
            .map(|(_, name, email)| (name.clone(), email.clone()))
            .unwrap_or_default()
    };
    let (old_name, old_email) = find(old_owner);
    let (new_name, new_email) = find(new_owner);
    let mut mails = Vec::new();
    for (recipient, is_new) in [(&new_email, true), (&old_email, false)] {
        let rendered = messages::ownership(&OwnershipMail {
            workspace: &workspace.name,
            old_owner: &old_name,
            new_owner: &new_name,
            to_new_owner: is_new,
        })?;
        mails.push(NewMail {
            workspace_id: Some(workspace.id),
            ..rendered.mail("ownership", recipient)
        });
    }
    outbox::enqueue_all(conn, &mails, models::now())?;
    audit::record(
        conn,
        actor,
        Event::new("workspace.ownership_transferred")
            .workspace(workspace.id)
            .target("member", new_owner, &new_email)
            .changes(json!({
                "before": {"owner": old_email},
                "after": {
                    "owner": new_email,
                    "previous_owner_role": "Admin",
                    // Both members' roles after the move, primary first (the membership
                    // history replays them).
                    "role_ids": role_ids(new_roles),
                    "previous_owner_member_id": old_owner,
                    "previous_owner_label": old_email,
                    "previous_owner_role_ids": role_ids(old_roles),
                },
            })),
    )?;
    Ok(new_name)
}
