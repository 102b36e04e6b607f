//! The Users screen: listing, searching and filtering members within what the viewer's
//! `members.view` scope lets them see, and one member's detail. The list's queries and
//! their performance rules live in `models::member::search`.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::account::Account;
use crate::models::email_address::EmailAddressRow;
use crate::models::member::search::{self, pages_of, Invitees, ListedMember, Search};
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::module::Module;
use crate::models::role::{HeldRole, Role};
use crate::permissions::{EffectivePermissions, Permission, Scope};
use crate::services::access::{self, Access};

pub use crate::models::member::search::{
    Invitees as InviteeListing, MemberFilter, Sort, PAGE_SIZE,
};

#[derive(Clone, Debug)]
pub struct MemberRow {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub status: MemberStatus,
    pub seat: SeatType,
    pub department: Option<String>,
    pub joined_at: NaiveDateTime,
    pub roles: Vec<HeldRole>,
    /// How they joined (invitation, invite link, domain) and who approved them.
    pub joined: Option<String>,
}

/// A pending invitation on the Users list (status `invited`).
#[derive(Clone, Debug)]
pub struct InviteeRow {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub seat: SeatType,
    pub sent_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    /// Past its expiry: it holds no seat and its link no longer works (Resend renews it).
    pub expired: bool,
    /// The roles it offers, the first (primary) first.
    pub roles: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct MemberPage {
    /// The page's members, in order; its invitees follow them.
    pub rows: Vec<MemberRow>,
    /// The page's pending invitations, after its members (the list is every matching
    /// member, then every matching invitation).
    pub invitees: Vec<InviteeRow>,
    /// Members and invitations that match.
    pub total: i64,
    pub members_total: i64,
    pub invitees_total: i64,
    pub page: i64,
    pub pages: i64,
    /// The workspace's roles in their order (the rows' labels and the role filter's choices).
    pub roles: Vec<Role>,
}

/// Which members a viewer may see: everyone, a team (ids), or only themselves.
enum Visible {
    All,
    Ids(Vec<i64>),
}

impl Visible {
    /// The ids a search is limited to; `None` for everyone.
    fn ids(&self) -> Option<&[i64]> {
        match self {
            Visible::All => None,
            Visible::Ids(ids) => Some(ids),
        }
    }
}

fn visible_members(
    conn: &mut DbConn,
    access: &Access,
    permission: Permission,
) -> AppResult<Visible> {
    match access.perms.scope(permission) {
        Some(Scope::All) => Ok(Visible::All),
        Some(Scope::Team) => Ok(Visible::Ids(Member::team_ids(
            conn,
            access.workspace.id,
            access.member.id,
        )?)),
        Some(Scope::Own) => Ok(Visible::Ids(vec![access.member.id])),
        None => Err(AppError::forbidden_in(&access.workspace.slug, permission)),
    }
}

/// One page of members within what the viewer may see: the page's ids from the search
/// ([`Member::search`], where the performance rules live), then one query for their rows
/// and one for their roles — never a query per row. With `status` `all` or `invited`, the
/// workspace's pending invitations follow the members (members first, in the list's
/// order, then invitations in the same order), counted in the total and paged with them;
/// only a viewer who sees every member (`members.view` at scope `all`) sees invitations,
/// which belong to nobody's team yet.
pub fn list(conn: &mut DbConn, access: &Access, filter: &MemberFilter) -> AppResult<MemberPage> {
    let visible = visible_members(conn, access, Permission::MembersView)?;
    let invitees = if filter.invitees != Invitees::Excluded && matches!(visible, Visible::All) {
        search::pending_invitees(conn, access.workspace.id, filter)?
    } else {
        Vec::new()
    };
    let invitees_total = invitees.len() as i64;
    let (members_total, member_ids, page) = if filter.invitees == Invitees::Only {
        let page = filter.page.clamp(1, pages_of(invitees_total));
        (0, Vec::new(), page)
    } else {
        let known_total = (filter.is_unfiltered_active() && matches!(visible, Visible::All))
            .then(|| i64::from(access.workspace.active_members));
        let found = Member::search(
            conn,
            &Search {
                workspace_id: access.workspace.id,
                filter,
                only: visible.ids(),
                known_total,
            },
        )?;
        let page = filter.page.clamp(1, pages_of(found.total + invitees_total));
        // Members come first: a page that starts among them is their page of the same
        // number (`found.page` is then `page`); a later one shows invitations only.
        let ids = if (page - 1) * PAGE_SIZE < found.total {
            debug_assert_eq!(found.page, page);
            found.ids
        } else {
            Vec::new()
        };
        (found.total, ids, page)
    };
    let mut loaded = Member::list_rows(conn, &member_ids)?;
    loaded.sort_by_key(|row| member_ids.iter().position(|id| *id == row.0));
    let roles = Role::for_workspace(conn, access.workspace.id)?;
    let rows = with_roles(conn, loaded, &roles)?;
    // The invitations on this page: positions after the members'.
    let start = ((page - 1) * PAGE_SIZE - members_total).clamp(0, invitees_total) as usize;
    let end = (page * PAGE_SIZE - members_total).clamp(0, invitees_total) as usize;
    let invitees = invitee_rows(conn, &invitees[start..end], &roles)?;
    let total = members_total + invitees_total;
    Ok(MemberPage {
        rows,
        invitees,
        total,
        members_total,
        invitees_total,
        page,
        pages: pages_of(total),
        roles,
    })
}

/// A page's invitations, each with the names of the roles it offers (one query).
fn invitee_rows(
    conn: &mut DbConn,
    listed: &[search::ListedInvitee],
    roles: &[Role],
) -> AppResult<Vec<InviteeRow>> {
    let ids: Vec<i64> = listed.iter().map(|row| row.0).collect();
    let held = search::invitee_roles(conn, &ids)?;
    let now = crate::models::now();
    Ok(listed
        .iter()
        .map(|(id, email, name, seat, sent_at, expires_at)| InviteeRow {
            id: *id,
            email: email.clone(),
            name: name.clone(),
            seat: SeatType::from_key(seat).unwrap_or(SeatType::Member),
            sent_at: *sent_at,
            expires_at: *expires_at,
            expired: *expires_at <= now,
            roles: held
                .iter()
                .filter(|(invite, _)| invite == id)
                .filter_map(|(_, role)| roles.iter().find(|r| r.id == *role))
                .map(|r| r.name.clone())
                .collect(),
        })
        .collect())
}

/// The list's rows, each with the roles the member holds: one query over `member_roles`,
/// named from the workspace's `roles`.
fn with_roles(
    conn: &mut DbConn,
    loaded: Vec<ListedMember>,
    roles: &[Role],
) -> AppResult<Vec<MemberRow>> {
    let ids: Vec<i64> = loaded.iter().map(|row| row.0).collect();
    let mut by_member: HashMap<i64, Vec<HeldRole>> = HashMap::new();
    for (member_id, role_id, is_primary) in Role::held_ids(conn, &ids)? {
        // A member's roles are their workspace's, all in `roles`.
        if let Some(role) = roles.iter().find(|r| r.id == role_id) {
            by_member.entry(member_id).or_default().push(HeldRole {
                member_id,
                role_id,
                name: role.name.clone(),
                builtin_key: role.builtin_key.clone(),
                is_primary,
            });
        }
    }
    let mut joined: HashMap<i64, String> = HashMap::new();
    for (member_id, via, approver) in crate::models::join_link::joined_of(conn, &ids)? {
        if let Some(label) =
            crate::models::join_link::joined_label(via.as_deref(), approver.as_deref())
        {
            joined.insert(member_id, label);
        }
    }
    // Primary first, then in the workspace's role order (as `Role::held_by`).
    let rank = |id: i64| roles.iter().position(|r| r.id == id);
    for held in by_member.values_mut() {
        held.sort_by_key(|h| (!h.is_primary, rank(h.role_id)));
    }
    Ok(loaded
        .into_iter()
        .map(
            |(id, name, email, status, seat, department, joined_at)| MemberRow {
                id,
                status: MemberStatus::from_key(&status).unwrap_or(MemberStatus::Removed),
                seat: SeatType::from_key(&seat).unwrap_or(SeatType::Member),
                department,
                joined_at,
                roles: by_member.remove(&id).unwrap_or_default(),
                joined: joined.remove(&id),
                name,
                email,
            },
        )
        .collect())
}

#[derive(Clone, Debug)]
pub struct MemberDetail {
    pub member: Member,
    pub name: String,
    pub emails: Vec<EmailAddressRow>,
    pub roles: Vec<HeldRole>,
    pub manager: Option<(i64, String)>,
    pub reports: i64,
    pub perms: EffectivePermissions,
    /// The workspace's module catalogue, each with whether this member has it.
    pub modules: Vec<(Module, bool)>,
}

/// One member, if the viewer may see them; another workspace's member, or one outside
/// the viewer's scope, is `None` (a 404, never a hint that it exists).
pub fn detail(
    conn: &mut DbConn,
    access: &Access,
    member_id: i64,
) -> AppResult<Option<MemberDetail>> {
    let Some(member) = Member::find_in_workspace(conn, access.workspace.id, member_id)? else {
        return Ok(None);
    };
    if let Visible::Ids(ids) = visible_members(conn, access, Permission::MembersView)? {
        if !ids.contains(&member.id) {
            return Ok(None);
        }
    }
    let name = Account::find(conn, member.account_id)?
        .ok_or(diesel::result::Error::NotFound)?
        .name;
    let emails = EmailAddressRow::for_account(conn, member.account_id)?;
    let roles = Role::held_by(conn, &[member.id])?;
    let manager = match member.manager_id {
        Some(manager_id) => Member::name_in_workspace(conn, access.workspace.id, manager_id)?,
        None => None,
    };
    let reports = Member::active_reports(conn, member.id)?;
    let perms = access::effective_permissions(conn, member.id)?;
    let revoked = Module::revoked_for(conn, member.id)?;
    let modules = Module::for_workspace(conn, access.workspace.id)?
        .into_iter()
        .map(|m| {
            let granted = !revoked.contains(&m.id);
            (m, granted)
        })
        .collect();
    Ok(Some(MemberDetail {
        modules,
        member,
        name,
        emails,
        roles,
        manager,
        reports,
        perms,
    }))
}

/// Most possible managers listed on a member's page; beyond it the form takes an id.
const MANAGER_LIST_LIMIT: i64 = 300;

/// Members who could become `member`'s manager: active, visible to the viewer, not the
/// member and not someone who reports to them. `None` when there are too many to list.
pub fn manager_candidates(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
) -> AppResult<Option<Vec<(i64, String)>>> {
    let visible = visible_members(conn, access, Permission::MembersView)?;
    let team = Member::team_ids(conn, access.workspace.id, member.id)?;
    let rows = Member::active_names(
        conn,
        access.workspace.id,
        visible.ids(),
        MANAGER_LIST_LIMIT + team.len() as i64 + 1,
    )?;
    let rows: Vec<(i64, String)> = rows
        .into_iter()
        .filter(|(id, _)| !team.contains(id))
        .collect();
    if rows.len() as i64 > MANAGER_LIST_LIMIT {
        return Ok(None);
    }
    Ok(Some(rows))
}

/// Department names per workspace, kept for a short while: the Users filter needs them on
/// every page view and they change rarely (suggestions may lag by at most `TTL`).
#[derive(Default)]
pub struct DepartmentCache {
    entries: std::sync::Mutex<HashMap<i64, CachedNames>>,
}

/// When the list was read, and the list.
type CachedNames = (std::time::Instant, std::sync::Arc<Vec<String>>);

impl DepartmentCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(30);

    pub fn get(
        &self,
        conn: &mut DbConn,
        workspace_id: i64,
    ) -> AppResult<std::sync::Arc<Vec<String>>> {
        if let Ok(entries) = self.entries.lock() {
            if let Some((at, names)) = entries.get(&workspace_id) {
                if at.elapsed() < Self::TTL {
                    return Ok(names.clone());
                }
            }
        }
        let names = std::sync::Arc::new(Member::departments(conn, workspace_id)?);
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(workspace_id, (std::time::Instant::now(), names.clone()));
        }
        Ok(names)
    }

    /// Forgets a workspace's list (after a change made by this instance).
    pub fn invalidate(&self, workspace_id: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&workspace_id);
        }
    }
}
