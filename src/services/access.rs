//! Who is asking, in which workspace, with which effective permissions.

use std::collections::HashMap;

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models;
use crate::models::account::Account;
use crate::models::member::Member;
use crate::models::permission_request::PermissionRequest;
use crate::models::role::{PermissionRow, Role};
use crate::models::workspace::Workspace;
use crate::permissions::{BuiltinRole, EffectivePermissions, Permission};

#[derive(Clone, Debug)]
pub struct AccountSummary {
    pub id: i64,
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug)]
pub struct WorkspaceLink {
    pub slug: String,
    pub name: String,
}

/// A signed-in member's view of one workspace.
#[derive(Clone, Debug)]
pub struct Access {
    pub account: AccountSummary,
    pub workspace: Workspace,
    pub member: Member,
    pub perms: EffectivePermissions,
    /// Every workspace the account is an active member of (the switcher).
    pub workspaces: Vec<WorkspaceLink>,
    /// Permission and join requests waiting for a decision, counted only for those who decide them
    /// (the Requests tab's count); 0 for everyone else.
    pub pending_requests: i64,
}

pub enum Loaded {
    Member(Box<Access>),
    NotAMember,
    NoAccount,
}

pub fn account_summary(conn: &mut DbConn, account_id: i64) -> AppResult<Option<AccountSummary>> {
    let row = Account::name_and_primary(conn, account_id)?;
    Ok(row.map(|(id, name, email)| AccountSummary {
        id,
        name,
        email: email.unwrap_or_default(),
    }))
}

/// A member's effective permissions: roles and live grants, in two queries whatever
/// the number of roles.
pub fn effective_permissions(conn: &mut DbConn, member_id: i64) -> AppResult<EffectivePermissions> {
    let mut rows: Vec<PermissionRow> = Role::permission_rows(conn, member_id)?;
    rows.extend(Role::grant_rows(conn, member_id, models::now())?);
    Ok(fold(&rows))
}

/// `effective_permissions` of several members at once, by member id: the same rows, folded
/// the same way, in three queries whatever the number. The rows are read per role, not per
/// member (a page of fifty members holds a handful of distinct roles), and members holding
/// the same roles and no direct grant share one fold.
pub fn effective_permissions_of(
    conn: &mut DbConn,
    member_ids: &[i64],
) -> AppResult<HashMap<i64, EffectivePermissions>> {
    let held: Vec<(i64, i64)> = Role::held_ids(conn, member_ids)?
        .into_iter()
        .map(|(member_id, role_id, _)| (member_id, role_id))
        .collect();
    effective_permissions_with_roles(conn, member_ids, &held)
}

/// `effective_permissions_of` when the roles the members hold, `(member id, role id)`, are
/// already at hand (the Users list has read them for its rows): two queries.
pub fn effective_permissions_with_roles(
    conn: &mut DbConn,
    member_ids: &[i64],
    held: &[(i64, i64)],
) -> AppResult<HashMap<i64, EffectivePermissions>> {
    let mut roles_of: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut role_ids = Vec::new();
    for &(member_id, role_id) in held {
        roles_of.entry(member_id).or_default().push(role_id);
        role_ids.push(role_id);
    }
    role_ids.sort_unstable();
    role_ids.dedup();
    // Each role's rows, and the roles in the order a member's rows are listed.
    let mut rows_of_role: HashMap<i64, Vec<PermissionRow>> = HashMap::new();
    let mut rank: HashMap<i64, usize> = HashMap::new();
    for (role_id, row) in Role::permission_rows_of_roles(conn, &role_ids)? {
        let next = rank.len();
        rank.entry(role_id).or_insert(next);
        rows_of_role.entry(role_id).or_default().push(row);
    }
    let mut grants: HashMap<i64, Vec<PermissionRow>> = HashMap::new();
    for (member_id, grant) in Role::live_grants_of(conn, member_ids, models::now())? {
        grants.entry(member_id).or_default().push((
            grant.permission.key().to_string(),
            grant.scope.map(|s| s.key().to_string()),
            "Direct grant".to_string(),
            None,
        ));
    }
    let rows_for = |roles: &[i64]| -> Vec<PermissionRow> {
        roles
            .iter()
            .filter_map(|r| rows_of_role.get(r))
            .flatten()
            .cloned()
            .collect()
    };
    let mut by_roles: HashMap<Vec<i64>, EffectivePermissions> = HashMap::new();
    let mut out = HashMap::with_capacity(member_ids.len());
    for id in member_ids {
        let mut roles = roles_of.remove(id).unwrap_or_default();
        roles.sort_by_key(|r| rank.get(r).copied().unwrap_or(usize::MAX));
        let perms = match grants.remove(id) {
            Some(extra) => {
                let mut rows = rows_for(&roles);
                rows.extend(extra);
                fold(&rows)
            }
            None => by_roles
                .entry(roles)
                .or_insert_with_key(|roles| fold(&rows_for(roles)))
                .clone(),
        };
        out.insert(*id, perms);
    }
    Ok(out)
}

fn fold(rows: &[PermissionRow]) -> EffectivePermissions {
    let is_owner = rows
        .iter()
        .any(|(_, _, _, key)| key.as_deref() == Some(BuiltinRole::Owner.key()));
    EffectivePermissions::resolve(
        rows.iter()
            .map(|(p, s, source, _)| (p.as_str(), s.as_deref(), source.as_str())),
        is_owner,
    )
}

/// Loads everything the gate needs: five queries, whatever the request.
pub fn load(conn: &mut DbConn, account_id: i64, slug: &str) -> AppResult<Loaded> {
    let Some(account) = account_summary(conn, account_id)? else {
        return Ok(Loaded::NoAccount);
    };
    let memberships = Workspace::memberships_for_account(conn, account_id)?;
    let workspaces = memberships
        .iter()
        .map(|(w, _)| WorkspaceLink {
            slug: w.slug.clone(),
            name: w.name.clone(),
        })
        .collect();
    let Some((workspace, member)) = memberships.into_iter().find(|(w, _)| w.slug == slug) else {
        return Ok(Loaded::NotAMember);
    };
    let perms = effective_permissions(conn, member.id)?;
    // Counted for everyone (an index-only count), so the queries a request takes never
    // depend on what the member holds; kept only for those who decide requests.
    let waiting = PermissionRequest::pending_in(conn, workspace.id)?
        + crate::models::join_link::JoinRequest::pending_in(conn, workspace.id)?;
    let pending_requests = if perms.allows(Permission::SettingsManage) {
        waiting
    } else {
        0
    };
    Ok(Loaded::Member(Box::new(Access {
        account,
        workspace,
        member,
        perms,
        workspaces,
        pending_requests,
    })))
}

/// The workspaces of an account (for `/` and pages outside a workspace).
pub fn workspace_links(conn: &mut DbConn, account_id: i64) -> AppResult<Vec<WorkspaceLink>> {
    Ok(Workspace::active_for_account(conn, account_id)?
        .into_iter()
        .map(|w| WorkspaceLink {
            slug: w.slug,
            name: w.name,
        })
        .collect())
}
