//! The Users screen: listing, searching and filtering members within what the viewer's
//! `members.view` scope lets them see, and one member's detail.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use crate::db::schema::{accounts, member_roles, members};
use crate::db::{cached_if, is_postgres, DbConn};
use crate::error::{AppError, AppResult};
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::module::Module;
use crate::models::role::{HeldRole, Role};
use crate::permissions::{EffectivePermissions, Permission, Scope};
use crate::services::access::{self, Access};

pub const PAGE_SIZE: i64 = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Name,
    Joined,
}

impl Sort {
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "name" => Some(Sort::Name),
            "joined" => Some(Sort::Joined),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Joined => "joined",
        }
    }
}

/// A parsed, validated Users query.
#[derive(Clone, Debug, Default)]
pub struct MemberFilter {
    pub q: Option<String>,
    /// `None` lists every status.
    pub status: Option<MemberStatus>,
    pub role: Option<i64>,
    pub seat: Option<SeatType>,
    pub department: Option<String>,
    pub sort: Sort,
    /// 1-based.
    pub page: i64,
}

impl MemberFilter {
    fn is_unfiltered_active(&self) -> bool {
        self.q.is_none()
            && self.status == Some(MemberStatus::Active)
            && self.role.is_none()
            && self.seat.is_none()
            && self.department.is_none()
    }
}

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
}

#[derive(Clone, Debug)]
pub struct MemberPage {
    pub rows: Vec<MemberRow>,
    pub total: i64,
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

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(q: &str) -> String {
    let mut out = String::from("%");
    for ch in q.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// SQLite's trigram index over each member's name and addresses (rowid = `members.id`; see
/// the migration `2026-12-01-000040_search`). Not in `schema.rs`: an FTS5 table, joined only
/// here.
mod fts {
    diesel::table! {
        account_search_member (rowid) {
            rowid -> BigInt,
        }
    }
}
use fts::account_search_member;
diesel::allow_tables_to_appear_in_same_query!(account_search_member, members);
diesel::allow_tables_to_appear_in_same_query!(account_search_member, member_roles);

/// Whether the search runs on SQLite's FTS5 trigram index (3+ characters): the list is
/// then [`fts_page`], which starts from the index's matches and joins them to `members` by
/// rowid (`count` and `page_ids` must not be used: their query does not join the index).
fn uses_fts(conn: &DbConn, filter: &MemberFilter) -> bool {
    !is_postgres(conn)
        && filter
            .q
            .as_deref()
            .is_some_and(|q| q.to_lowercase().chars().count() >= 3)
}

/// The search condition over a member's name and every address, on a real index:
/// SQLite FTS5 trigram (3+ characters; the query must join `account_search_member`) or
/// PostgreSQL pg_trgm (`LIKE` uses the GIN index). Returns the SQL before the bind, the
/// bound value and the SQL after it.
fn search_condition(conn: &DbConn, q: &str) -> (&'static str, String, &'static str) {
    let needle = q.to_lowercase();
    if !is_postgres(conn) && needle.chars().count() >= 3 {
        // A quoted FTS5 string: the trigram tokenizer matches it as a substring.
        (
            "account_search_member MATCH ",
            format!("\"{}\"", needle.replace('"', "\"\"")),
            "",
        )
    } else {
        (
            "members.account_id IN (SELECT id FROM accounts WHERE search_text LIKE ",
            like_pattern(&needle),
            " ESCAPE '\\')",
        )
    }
}

/// Applies the filter to a boxed query over `members` (alone or joined). Every part is a
/// fixed SQL shape, so the prepared statement is cached per shape; only team scope binds a
/// list of ids.
macro_rules! filtered {
    ($query:expr, $conn:expr, $access:expr, $filter:expr, $visible:expr) => {{
        let mut query = $query.filter(members::workspace_id.eq($access.workspace.id));
        if let Some(status) = $filter.status {
            query = query.filter(members::status.eq(status.key()));
        }
        if let Some(seat) = $filter.seat {
            query = query.filter(members::seat_type.eq(seat.key()));
        }
        if let Some(department) = &$filter.department {
            query = query.filter(members::department.eq(department.clone()));
        }
        if let Some(role) = $filter.role {
            query = query.filter(
                members::id.eq_any(
                    member_roles::table
                        .filter(member_roles::role_id.eq(role))
                        .select(member_roles::member_id),
                ),
            );
        }
        if let Visible::Ids(ids) = $visible {
            query = query.filter(members::id.eq_any(ids.clone()));
        }
        if let Some(q) = &$filter.q {
            let (prefix, bound, suffix) = search_condition($conn, q);
            query = query.filter(sql::<Bool>(prefix).bind::<Text, _>(bound).sql(suffix));
        }
        query
    }};
}

/// A sort key as SQLite hands it over in JSON: borrowed from the JSON text unless escaped.
#[derive(serde::Deserialize)]
struct Key<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// On SQLite with a search of 3+ characters: the page (clamped to the last), the number of
/// matches and the page's ids, from one pass over the trigram index's matches joined to
/// `members` by rowid, counted and sorted here. Counting in SQL would need a second pass
/// over the index (a COUNT) or a copy of every match into a temporary table (a window),
/// which cost more than handing the matches over. They come as two JSON arrays in one row
/// (filled in the same order): a row per match costs more.
fn fts_page(
    conn: &mut DbConn,
    access: &Access,
    filter: &MemberFilter,
    visible: &Visible,
) -> AppResult<(i64, i64, Vec<i64>)> {
    let keys = match filter.sort {
        Sort::Name => "json_group_array(members.sort_name)",
        // The stored text, not a parsed timestamp: SQLite orders the column by that text.
        Sort::Joined => "json_group_array(members.joined_at)",
    };
    let query = filtered!(
        account_search_member::table
            .inner_join(members::table.on(members::id.eq(account_search_member::rowid)))
            .into_boxed(),
        conn,
        access,
        filter,
        visible
    );
    let rows: Vec<(String, String)> = cached_if(
        query.select((
            sql::<Text>("json_group_array(members.id)"),
            sql::<Text>(keys),
        )),
        matches!(visible, Visible::All),
    )
    .load(conn)?;
    let invalid = |e: serde_json::Error| AppError::internal(format!("search matches: {e}"));
    let (ids, keys): (Vec<i64>, Vec<Key>) = match rows.first() {
        Some((ids, keys)) => (
            serde_json::from_str(ids).map_err(invalid)?,
            serde_json::from_str(keys).map_err(invalid)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    if ids.len() != keys.len() {
        return Err(AppError::internal("search matches: ids and keys differ"));
    }
    let mut matches: Vec<(&str, i64)> = keys.iter().map(|k| k.0.as_ref()).zip(ids).collect();
    let total = matches.len() as i64;
    let page = filter
        .page
        .clamp(1, ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1));
    // The database's order: by the key's bytes (SQLite's BINARY collation), then id.
    let order = |a: &(&str, i64), b: &(&str, i64)| match filter.sort {
        Sort::Name => a.cmp(b),
        Sort::Joined => b.cmp(a),
    };
    let start = ((page - 1) * PAGE_SIZE) as usize;
    let end = (page * PAGE_SIZE).min(total) as usize;
    // Only the first `end` in order need sorting.
    if end < matches.len() {
        matches.select_nth_unstable_by(end, order);
        matches.truncate(end);
    }
    matches.sort_unstable_by(order);
    let ids = matches.get(start..).unwrap_or_default();
    Ok((page, total, ids.iter().map(|(_, id)| *id).collect()))
}

/// How many members the filter matches.
fn count(
    conn: &mut DbConn,
    access: &Access,
    filter: &MemberFilter,
    visible: &Visible,
) -> AppResult<i64> {
    debug_assert!(
        !uses_fts(conn, filter),
        "a trigram search goes through fts_page"
    );
    Ok(cached_if(
        filtered!(members::table.into_boxed(), conn, access, filter, visible).count(),
        matches!(visible, Visible::All),
    )
    .get_result(conn)?)
}

/// The ids of one page of members, in order, each with the number of matches when
/// `with_total` (else 0): from the members indexes alone (a covering index range, even
/// deep in the list). Every shape but team scope's `IN (?, ?, …)` list is fixed text, so
/// its statement stays prepared.
fn page_ids(
    conn: &mut DbConn,
    access: &Access,
    filter: &MemberFilter,
    visible: &Visible,
    page: i64,
    with_total: bool,
) -> AppResult<Vec<(i64, i64)>> {
    debug_assert!(
        !uses_fts(conn, filter),
        "a trigram search goes through fts_page"
    );
    let query = filtered!(members::table.into_boxed(), conn, access, filter, visible);
    // With a search, the database must start from the matches and sort them, not walk the
    // whole name index hoping to meet them (with `count(*) OVER ()` it would walk it all):
    // `+column` (SQLite) and an expression (PostgreSQL) keep the index out of the ORDER BY.
    let pg = is_postgres(conn);
    let order = match (filter.sort, filter.q.is_some(), pg) {
        (Sort::Name, false, _) => "members.sort_name ASC, members.id ASC",
        (Sort::Joined, false, _) => "members.joined_at DESC, members.id DESC",
        (Sort::Name, true, false) => "+members.sort_name ASC, +members.id ASC",
        (Sort::Joined, true, false) => "+members.joined_at DESC, +members.id DESC",
        (Sort::Name, true, true) => "members.sort_name || '' ASC, members.id ASC",
        (Sort::Joined, true, true) => {
            "members.joined_at + INTERVAL '0 seconds' DESC, members.id DESC"
        }
    };
    let total = if with_total {
        "count(*) OVER ()"
    } else {
        "CAST(0 AS BIGINT)"
    };
    // LIMIT and OFFSET on SQLite as `(? + 0)`, not diesel's `.limit()`/`.offset()`: SQLite
    // expires a statement whenever a bare `LIMIT ?`/`OFFSET ?` is re-bound (its planner
    // looked at the value) and prepares it again on every execution; an expression is not
    // inspected. PostgreSQL keeps plain parameters, whose values its planner uses.
    let (limit, offset, end) = if pg {
        (" LIMIT ", " OFFSET ", "")
    } else {
        (" LIMIT (", " + 0) OFFSET (", " + 0)")
    };
    Ok(cached_if(
        query.select((members::id, sql::<BigInt>(total))).order(
            sql::<Text>(order)
                .sql(limit)
                .bind::<BigInt, _>(PAGE_SIZE)
                .sql(offset)
                .bind::<BigInt, _>((page - 1) * PAGE_SIZE)
                .sql(end),
        ),
        matches!(visible, Visible::All),
    )
    .load(conn)?)
}

/// One page of members: a count (kept on the workspace row when unfiltered), one query
/// for the page's rows and one for their roles — never a query per row.
pub fn list(conn: &mut DbConn, access: &Access, filter: &MemberFilter) -> AppResult<MemberPage> {
    let visible = visible_members(conn, access, Permission::MembersView)?;
    let known_total = (filter.is_unfiltered_active() && matches!(visible, Visible::All))
        .then(|| i64::from(access.workspace.active_members));
    let pages_of = |total: i64| ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    // A search visits and sorts every match anyway: it counts them in the same pass
    // (`count(*) OVER ()`; on SQLite's trigram index, `fts_page`) instead of joining them
    // all a second time for a COUNT.
    let count_in_page = known_total.is_none() && filter.q.is_some();
    let (page, total, page_ids) = match known_total {
        None if uses_fts(conn, filter) => fts_page(conn, access, filter, &visible)?,
        Some(total) => {
            let page = filter.page.clamp(1, pages_of(total));
            let ids = page_ids(conn, access, filter, &visible, page, false)?;
            (page, total, ids.into_iter().map(|(id, _)| id).collect())
        }
        None if count_in_page => {
            let page = filter.page.max(1);
            let ids = page_ids(conn, access, filter, &visible, page, true)?;
            match ids.first() {
                Some((_, total)) => (page, *total, ids.iter().map(|(id, _)| *id).collect()),
                // No match at all.
                None if page == 1 => (1, 0, Vec::new()),
                // A page past the end: shown as the last page.
                None => {
                    let total = count(conn, access, filter, &visible)?;
                    let last = pages_of(total);
                    let ids = if total > 0 {
                        page_ids(conn, access, filter, &visible, last.min(page), false)?
                    } else {
                        Vec::new()
                    };
                    (
                        page.min(last),
                        total,
                        ids.into_iter().map(|(id, _)| id).collect(),
                    )
                }
            }
        }
        None => {
            let total = count(conn, access, filter, &visible)?;
            let page = filter.page.clamp(1, pages_of(total));
            let ids = page_ids(conn, access, filter, &visible, page, false)?;
            (
                page,
                total,
                ids.into_iter().map(|(id, _)| id).collect::<Vec<i64>>(),
            )
        }
    };
    let pages = pages_of(total);
    let mut loaded = Member::list_rows(conn, &page_ids)?;
    loaded.sort_by_key(|row| page_ids.iter().position(|id| *id == row.0));
    let ids: Vec<i64> = loaded.iter().map(|row| row.0).collect();
    let roles = Role::for_workspace(conn, access.workspace.id)?;
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
    // Primary first, then in the workspace's role order (as `Role::held_by`).
    let rank = |id: i64| roles.iter().position(|r| r.id == id);
    for held in by_member.values_mut() {
        held.sort_by_key(|h| (!h.is_primary, rank(h.role_id)));
    }
    let rows = loaded
        .into_iter()
        .map(
            |(id, name, email, status, seat, department, joined_at)| MemberRow {
                id,
                status: MemberStatus::from_key(&status).unwrap_or(MemberStatus::Removed),
                seat: SeatType::from_key(&seat).unwrap_or(SeatType::Member),
                department,
                joined_at,
                roles: by_member.remove(&id).unwrap_or_default(),
                name,
                email,
            },
        )
        .collect();
    Ok(MemberPage {
        rows,
        total,
        page,
        pages,
        roles,
    })
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
    let name: String = accounts::table
        .find(member.account_id)
        .select(accounts::name)
        .first(conn)?;
    let emails = EmailAddressRow::for_account(conn, member.account_id)?;
    let roles = Role::held_by(conn, &[member.id])?;
    let manager = match member.manager_id {
        Some(manager_id) => members::table
            .inner_join(accounts::table)
            .filter(members::id.eq(manager_id))
            .filter(members::workspace_id.eq(access.workspace.id))
            .select((members::id, accounts::name))
            .first(conn)
            .optional()?,
        None => None,
    };
    let reports: i64 = members::table
        .filter(members::manager_id.eq(member.id))
        .filter(members::status.eq(MemberStatus::Active.key()))
        .count()
        .get_result(conn)?;
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
    let mut query = members::table
        .inner_join(accounts::table)
        .filter(members::workspace_id.eq(access.workspace.id))
        .filter(members::status.eq(MemberStatus::Active.key()))
        .into_boxed();
    if let Visible::Ids(ids) = visible {
        query = query.filter(members::id.eq_any(ids));
    }
    let rows: Vec<(i64, String)> = query
        .order((members::sort_name, members::id))
        .select((members::id, accounts::name))
        .limit(MANAGER_LIST_LIMIT + team.len() as i64 + 1)
        .load(conn)?;
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
