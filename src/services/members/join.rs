//! Joining and leaving a workspace: the one path that creates an active membership (used
//! by accepted invites and join links; tests use it for fixtures) and the one that ends it
//! (leave now; admin remove and archive reuse `end_in_tx`).

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::models;
use crate::models::account::{search_text, Account, NewAccount};
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::{EmailAddressRow, NewEmailAddress};
use crate::models::member::{Member, MemberStatus, NewMember, SeatType};
use crate::models::role::Role;
use crate::models::workspace::Workspace;
use crate::services::locks::member_transaction;

/// Creates an account with one verified, primary address (the address was proven by the
/// invite link, the setup link or the operator). Refused when an account already uses it.
pub fn create_account(
    conn: &mut DbConn,
    actor: &Actor,
    name: &str,
    email: &EmailAddress,
    password_hash: Option<&str>,
) -> ServiceResult<i64> {
    write_transaction(conn, |conn| {
        if Account::find_by_verified_email(conn, email.canonical())?.is_some() {
            return Err(ServiceError::field(
                "email",
                format!("An account already uses {email}."),
            ));
        }
        Ok(insert_account(
            conn,
            actor,
            name,
            email,
            password_hash,
            true,
        )?)
    })
}

/// The insert behind `create_account`, for callers already inside a transaction. `verified`
/// is false only when the address was not proven (an invite redeemed through a link that was
/// not mailed to it): it is still the account's primary address and login, unconfirmed.
pub(crate) fn insert_account(
    conn: &mut DbConn,
    actor: &Actor,
    name: &str,
    email: &EmailAddress,
    password_hash: Option<&str>,
    verified: bool,
) -> AppResult<i64> {
    let now = models::now();
    let id = NewAccount {
        name,
        password_hash,
        search_text: search_text(name, [email.canonical()]),
        created_at: now,
        updated_at: now,
    }
    .insert(conn)?;
    NewEmailAddress {
        account_id: id,
        address: email.as_str(),
        canonical: email.canonical(),
        verified,
        is_primary: true,
        created_at: now,
        verified_at: verified.then_some(now),
    }
    .insert(conn)?;
    audit::record(
        conn,
        actor,
        Event::new("account.created")
            .target("account", id, email.canonical())
            .changes(
                json!({"after": {"name": name, "email": email.canonical(), "verified": verified}}),
            ),
    )?;
    Ok(id)
}

pub struct Joining<'a> {
    pub workspace_id: i64,
    pub account_id: i64,
    /// Role ids of this workspace; the first is primary.
    pub role_ids: &'a [i64],
    pub seat: SeatType,
    pub manager_id: Option<i64>,
    pub department: Option<&'a str>,
}

/// Adds an account to a workspace as an active member with the given roles.
pub fn join(conn: &mut DbConn, actor: &Actor, joining: &Joining<'_>) -> AppResult<i64> {
    member_transaction(conn, joining.workspace_id, |conn, _| {
        join_in_tx(conn, actor, joining)
    })
}

/// `join` inside the caller's transaction, which holds the member lock.
pub(crate) fn join_in_tx(
    conn: &mut DbConn,
    actor: &Actor,
    joining: &Joining<'_>,
) -> AppResult<i64> {
    let roles = check_joining(conn, joining)?;
    let account = Account::find(conn, joining.account_id)?.ok_or(AppError::NotFound)?;
    let now = models::now();
    let member_id = NewMember {
        workspace_id: joining.workspace_id,
        account_id: joining.account_id,
        status: MemberStatus::Active.key(),
        seat_type: joining.seat.key(),
        manager_id: joining.manager_id,
        department: joining.department,
        metadata: "{}",
        sort_name: account.name.to_lowercase(),
        joined_at: now,
        updated_at: now,
    }
    .insert(conn)?;
    for (i, role_id) in joining.role_ids.iter().enumerate() {
        Role::assign(conn, member_id, *role_id, i == 0)?;
    }
    Workspace::adjust_active_members(conn, joining.workspace_id, 1)?;
    let role_names: Vec<&str> = joining
        .role_ids
        .iter()
        .filter_map(|id| roles.iter().find(|r| r.id == *id).map(|r| r.name.as_str()))
        .collect();
    let label = label_of(conn, joining.account_id)?;
    audit::record(
        conn,
        actor,
        Event::new("member.joined")
            .workspace(joining.workspace_id)
            .target("member", member_id, &label)
            .changes(json!({"after": {
                "roles": role_names,
                "role_ids": joining.role_ids,
                "seat_type": joining.seat.key(),
                "manager_id": joining.manager_id,
                "department": joining.department,
            }})),
    )?;
    Ok(member_id)
}

/// The roles of the joining, after checking what the caller passed: roles of this
/// workspace (at least one), a manager who is a member, an account not yet a member. These
/// come from the caller's rows (an invite's, a fixture's), never from a person's form, so a
/// mismatch is a malformed request (400), not a refusal.
fn check_joining(conn: &mut DbConn, joining: &Joining<'_>) -> AppResult<Vec<Role>> {
    let roles = Role::for_workspace(conn, joining.workspace_id)?;
    if joining.role_ids.is_empty()
        || !joining
            .role_ids
            .iter()
            .all(|id| roles.iter().any(|r| r.id == *id))
    {
        return Err(AppError::BadRequest(
            "Choose at least one role of this workspace.".into(),
        ));
    }
    if let Some(manager_id) = joining.manager_id {
        Member::find_in_workspace(conn, joining.workspace_id, manager_id)?.ok_or_else(|| {
            AppError::BadRequest("The manager is not a member of this workspace.".into())
        })?;
    }
    if Member::find_for_account(conn, joining.workspace_id, joining.account_id)?.is_some() {
        return Err(AppError::BadRequest(
            "Already a member of this workspace.".into(),
        ));
    }
    Ok(roles)
}

/// A removed or archived member comes back (re-invited): active again, with the invite's
/// roles and seat; the same account, the same member row. The caller holds the member lock
/// (invite acceptance takes it before it reads the member).
pub(crate) fn reactivate(
    conn: &mut DbConn,
    actor: &Actor,
    workspace: &Workspace,
    member: &Member,
    role_ids: &[i64],
    seat: SeatType,
) -> AppResult<i64> {
    let before = json!({"status": member.status, "seat_type": member.seat_type});
    Member::reactivate(conn, member.id, seat, models::now())?;
    let roles: Vec<(i64, bool)> = role_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i == 0))
        .collect();
    Role::replace_for_member(conn, member.id, &roles)?;
    Workspace::adjust_active_members(conn, workspace.id, 1)?;
    let label = label_of(conn, member.account_id)?;
    let all = Role::for_workspace(conn, workspace.id)?;
    let role_names: Vec<&str> = role_ids
        .iter()
        .filter_map(|id| all.iter().find(|r| r.id == *id).map(|r| r.name.as_str()))
        .collect();
    audit::record(
        conn,
        actor,
        Event::new("member.rejoined")
            .workspace(workspace.id)
            .target("member", member.id, &label)
            .changes(json!({"before": before, "after": {"status": "active", "seat_type": seat.key(), "role_ids": role_ids, "roles": role_names}})),
    )?;
    Ok(member.id)
}

/// The account's primary address, the label of its audit events.
fn label_of(conn: &mut DbConn, account_id: i64) -> AppResult<String> {
    Ok(EmailAddressRow::primary_for(conn, account_id)?
        .map(|e| e.canonical)
        .unwrap_or_default())
}

/// Whether the member holds the workspace's Owner role.
pub(crate) fn is_owner(conn: &mut DbConn, member_id: i64) -> AppResult<bool> {
    Ok(Role::holds_owner(conn, member_id)?)
}

/// How an active membership ends: the one list, for leaving (`leave`) and for an admin's
/// archive and removal (`lifecycle::end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The member left on their own.
    Left,
    /// An admin removed them: roles go, they can be re-invited.
    Removed,
    /// An admin archived them: roles are kept for a restore.
    Archived,
}

impl Ending {
    /// The verb of its button and route (`/users/{id}/archive`, `/users/{id}/remove`).
    pub fn verb(self) -> &'static str {
        match self {
            Ending::Left => "leave",
            Ending::Removed => "remove",
            Ending::Archived => "archive",
        }
    }

    fn status(self) -> MemberStatus {
        match self {
            Ending::Left | Ending::Removed => MemberStatus::Removed,
            Ending::Archived => MemberStatus::Archived,
        }
    }

    fn action(self) -> &'static str {
        match self {
            Ending::Left => "member.left",
            Ending::Removed => "member.removed",
            Ending::Archived => "member.archived",
        }
    }

    /// Whether a member of this status can end this way: leaving and archiving need an
    /// active member; removal also takes an archived one.
    fn applies_to(self, status: MemberStatus) -> bool {
        match self {
            Ending::Left | Ending::Archived => status == MemberStatus::Active,
            Ending::Removed => status != MemberStatus::Removed,
        }
    }

    /// Why it does not apply to this member now.
    fn not_applicable(self) -> &'static str {
        match self {
            Ending::Left => "You are no longer a member of this workspace.",
            Ending::Removed => "This member was already removed.",
            Ending::Archived => "Only an active member can be archived.",
        }
    }

    /// Why the Owner does not end this way.
    fn owner_stays(self) -> &'static str {
        match self {
            Ending::Left => "You are the Owner of this workspace. Transfer ownership to an Admin before leaving.",
            Ending::Removed | Ending::Archived => super::OWNER_STAYS,
        }
    }
}

/// Ends a membership inside the caller's write transaction, which holds the member lock
/// (`services::locks`; SPEC §4.4: the Owner check happens here, where the change is
/// written). Refused for the Owner, and for a member the ending does not apply to
/// (`Ending::applies_to`). The seat is freed, the pending invites the member sent are
/// revoked; leaving and removal also take their roles, direct grants and their reports'
/// manager link. An audit event is recorded. Sessions are the caller's business: removal
/// and archive end them, leaving does not.
pub(crate) fn end_in_tx(
    conn: &mut DbConn,
    actor: &Actor,
    workspace: &Workspace,
    member_id: i64,
    ending: Ending,
) -> ServiceResult<Member> {
    let member =
        Member::find_in_workspace(conn, workspace.id, member_id)?.ok_or(AppError::NotFound)?;
    let was = member.status();
    if !ending.applies_to(was) {
        return Err(ServiceError::general(ending.not_applicable()));
    }
    if is_owner(conn, member.id)? {
        return Err(ServiceError::general(ending.owner_stays()));
    }
    let status = ending.status();
    let now = models::now();
    // Conditional on the status read above, so two concurrent endings count the seat once.
    if !Member::change_status(conn, member.id, was, status, now)? {
        return Err(ServiceError::general(ending.not_applicable()));
    }
    let mut changes = json!({
        "before": {"status": member.status},
        "after": {"status": status.key()},
    });
    if ending != Ending::Archived {
        let roles: Vec<String> = Role::held_by(conn, &[member.id])?
            .into_iter()
            .map(|r| r.name)
            .collect();
        Role::replace_for_member(conn, member.id, &[])?;
        changes["before"]["roles"] = json!(roles);
        changes["grants_removed"] = json!(Role::delete_grants(conn, member.id)?);
        changes["reports_unassigned"] =
            json!(Member::clear_manager_of_reports(conn, member.id, now)?);
    }
    if was == MemberStatus::Active {
        Workspace::adjust_active_members(conn, workspace.id, -1)?;
    }
    changes["invites_revoked"] = json!(crate::services::invites::revoke_pending_sent_by(
        conn,
        actor,
        workspace.id,
        member.account_id,
    )?);
    let label = label_of(conn, member.account_id)?;
    audit::record(
        conn,
        actor,
        Event::new(ending.action())
            .workspace(workspace.id)
            .target("member", member.id, &label)
            .changes(changes),
    )?;
    Ok(member)
}

/// The signed-in account leaves a workspace (any active member but its Owner).
pub fn leave(
    conn: &mut DbConn,
    actor: &Actor,
    workspace_id: i64,
    account_id: i64,
) -> ServiceResult<()> {
    member_transaction(conn, workspace_id, |conn, workspace| {
        let member =
            Member::find_for_account(conn, workspace.id, account_id)?.ok_or(AppError::NotFound)?;
        end_in_tx(conn, actor, &workspace, member.id, Ending::Left).map(drop)
    })
}
