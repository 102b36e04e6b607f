//! The Users list's queries: which members a filter matches, one page of their ids, the
//! page's rows and the department choices. Every statement here was measured
//! (`bench/callgrind.sh`, `bench/users.sh`; figures in `bench/README.md`, history in
//! `bench/HISTORY.md`, the rules in `docs/performance.md`) and is pinned by
//! `tests/it/users.rs` (`the_users_list_runs_a_fixed_set_of_statements_that_stay_prepared`
//! and the order and count tests). The tricks, each where it is used:
//!
//! - **Kept prepared.** diesel never caches a statement containing raw SQL (`sql(…)`,
//!   `eq_any(vec)`): each execution would parse and plan it again. Every statement here
//!   is wrapped in [`cached`]/[`cached_if`] (`db::Cached` overrides diesel's hidden
//!   `is_safe_to_cache_prepared`): the text comes from a fixed set written below; only team
//!   scope's `IN (?, ?, …)` list varies, and stays uncached.
//! - **SQL spliced from fixed pieces** (`filtered!`, `search_condition`): the same
//!   conditions apply to `members` alone and to the trigram index joined to it (two query
//!   types, hence a macro); each piece is literal text from this file, and what a person
//!   typed is always a bind, never text.
//! - **`LIMIT (? + 0) OFFSET (? + 0)`** on SQLite, not diesel's `.limit()`/`.offset()`:
//!   SQLite expires a statement whenever a bare `LIMIT ?`/`OFFSET ?` is re-bound (its
//!   planner looked at the value) and prepares it again on every execution; an expression
//!   is not inspected. PostgreSQL keeps plain parameters, whose values its planner uses.
//!   (For `.first()` the same cause has [`crate::db::FirstByKey`].)
//! - **ORDER BY hints that keep the index out** with a search (`+column` on SQLite, an
//!   expression on PostgreSQL): the database must start from the matches and sort them, not
//!   walk the whole name index hoping to meet them (with `count(*) OVER ()` it walks it all).
//! - **Count once**: the unfiltered active list takes its total from the workspace row; a
//!   search counts in the statement that finds the page; only a filter without a search
//!   runs a `COUNT(*)`.
//! - **The trigram index, keyed by member** (`account_search_member`, FTS5, rowid =
//!   `members.id`; declared here, not in `schema.rs`: SQLite only, joined only here): each
//!   match costs a rowid seek. Its matches come back as **two JSON arrays in one row**
//!   (ids, sort keys; `json_group_array`), counted and sorted here in SQLite's order: a row
//!   per match, a second pass for a COUNT, or a window's temporary table all cost more.
//! - **JSON-array binds** ([`ids_in`]): a list of ids is one bind, so the statement text is
//!   the same for any number of ids.
//! - **Narrow rows**: [`Member::list_rows`] reads only the seven columns the list shows.
//! - **Departments by index skip-scan** ([`Member::departments`]): one seek per department.

use chrono::NaiveDateTime;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

use super::{Member, MemberStatus, SeatType};
use crate::db::schema::{member_roles, members};
use crate::db::{cached, cached_if, dialect, ids_in, is_postgres, DbConn};

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
    /// Whether pending invitations are listed too (`status=all`) or alone
    /// (`status=invited`, when `status` is ignored).
    pub invitees: Invitees,
}

/// Whether a Users query lists pending invitations (SPEC §5: they appear with status
/// `invited`, and under `all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Invitees {
    /// Members only (`active`, `archived`, `removed`).
    #[default]
    Excluded,
    /// Members, then pending invitations (`all`).
    Included,
    /// Pending invitations only (`invited`).
    Only,
}

impl MemberFilter {
    /// The default list (active members, no other filter): its total is the workspace's
    /// `active_members`, which needs no count.
    pub fn is_unfiltered_active(&self) -> bool {
        self.q.is_none()
            && self.status == Some(MemberStatus::Active)
            && self.role.is_none()
            && self.seat.is_none()
            && self.department.is_none()
            && self.invitees == Invitees::Excluded
    }
}

/// What to search: a workspace's members matching `filter`, among `only` when the viewer
/// sees a team (or only themselves).
pub struct Search<'a> {
    pub workspace_id: i64,
    pub filter: &'a MemberFilter,
    /// `None`: every member of the workspace.
    pub only: Option<&'a [i64]>,
    /// The number of matches when the caller knows it (see
    /// [`MemberFilter::is_unfiltered_active`]): then nothing counts them.
    pub known_total: Option<i64>,
}

/// One page of a search: its number (clamped to the last page), how many members match,
/// and the page's member ids in order.
pub struct SearchPage {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub ids: Vec<i64>,
}

/// A row of the Users list: id, account name, primary address, status, seat type,
/// department, joined (see `Member::list_rows`).
pub type ListedMember = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    NaiveDateTime,
);

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Pages of `PAGE_SIZE` for `total` matches (at least one, empty).
pub fn pages_of(total: i64) -> i64 {
    ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
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

/// Applies the search to a boxed query over `members` (alone or joined). Every part is a
/// fixed SQL shape, so the prepared statement is cached per shape; only team scope binds a
/// list of ids.
macro_rules! filtered {
    ($query:expr, $conn:expr, $search:expr) => {{
        let search: &Search = $search;
        let filter = search.filter;
        let mut query = $query.filter(members::workspace_id.eq(search.workspace_id));
        if let Some(status) = filter.status {
            query = query.filter(members::status.eq(status.key()));
        }
        if let Some(seat) = filter.seat {
            query = query.filter(members::seat_type.eq(seat.key()));
        }
        if let Some(department) = &filter.department {
            query = query.filter(members::department.eq(department.clone()));
        }
        if let Some(role) = filter.role {
            query = query.filter(
                members::id.eq_any(
                    member_roles::table
                        .filter(member_roles::role_id.eq(role))
                        .select(member_roles::member_id),
                ),
            );
        }
        if let Some(ids) = search.only {
            query = query.filter(members::id.eq_any(ids.to_vec()));
        }
        if let Some(q) = &filter.q {
            let (prefix, bound, suffix) = search_condition($conn, q);
            query = query.filter(sql::<Bool>(prefix).bind::<Text, _>(bound).sql(suffix));
        }
        query
    }};
}

/// A sort key as SQLite hands it over in JSON: borrowed from the JSON text unless escaped.
#[derive(serde::Deserialize)]
struct Key<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

/// Turns a malformed answer of the database into diesel's decoding error.
fn undecodable(
    message: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(message.into())
}

/// On SQLite with a search of 3+ characters: the page (clamped to the last), the number of
/// matches and the page's ids, from one pass over the trigram index's matches joined to
/// `members` by rowid, counted and sorted here. Counting in SQL would need a second pass
/// over the index (a COUNT) or a copy of every match into a temporary table (a window),
/// which cost more than handing the matches over. They come as two JSON arrays in one row
/// (filled in the same order): a row per match costs more.
fn fts_page(conn: &mut DbConn, search: &Search) -> QueryResult<(i64, i64, Vec<i64>)> {
    let filter = search.filter;
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
        search
    );
    let rows: Vec<(String, String)> = cached_if(
        query.select((
            sql::<Text>("json_group_array(members.id)"),
            sql::<Text>(keys),
        )),
        search.only.is_none(),
    )
    .load(conn)?;
    let invalid = |e: serde_json::Error| undecodable(format!("search matches: {e}"));
    let (ids, keys): (Vec<i64>, Vec<Key>) = match rows.first() {
        Some((ids, keys)) => (
            serde_json::from_str(ids).map_err(invalid)?,
            serde_json::from_str(keys).map_err(invalid)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    if ids.len() != keys.len() {
        return Err(undecodable("search matches: ids and keys differ"));
    }
    let mut matches: Vec<(&str, i64)> = keys.iter().map(|k| k.0.as_ref()).zip(ids).collect();
    let total = matches.len() as i64;
    let page = filter.page.clamp(1, pages_of(total));
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

/// How many members the search matches.
fn count(conn: &mut DbConn, search: &Search) -> QueryResult<i64> {
    debug_assert!(
        !uses_fts(conn, search.filter),
        "a trigram search goes through fts_page"
    );
    cached_if(
        filtered!(members::table.into_boxed(), conn, search).count(),
        search.only.is_none(),
    )
    .get_result(conn)
}

/// The ids of one page of members, in order, each with the number of matches when
/// `with_total` (else 0): from the members indexes alone (a covering index range, even
/// deep in the list). Every shape but team scope's `IN (?, ?, …)` list is fixed text, so
/// its statement stays prepared.
fn page_ids(
    conn: &mut DbConn,
    search: &Search,
    page: i64,
    with_total: bool,
) -> QueryResult<Vec<(i64, i64)>> {
    debug_assert!(
        !uses_fts(conn, search.filter),
        "a trigram search goes through fts_page"
    );
    let filter = search.filter;
    let query = filtered!(members::table.into_boxed(), conn, search);
    // With a search, keep the index out of the ORDER BY (see the module doc).
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
    // `LIMIT (? + 0) OFFSET (? + 0)` on SQLite (see the module doc).
    let (limit, offset, end) = if pg {
        (" LIMIT ", " OFFSET ", "")
    } else {
        (" LIMIT (", " + 0) OFFSET (", " + 0)")
    };
    cached_if(
        query.select((members::id, sql::<BigInt>(total))).order(
            sql::<Text>(order)
                .sql(limit)
                .bind::<BigInt, _>(PAGE_SIZE)
                .sql(offset)
                .bind::<BigInt, _>((page - 1) * PAGE_SIZE)
                .sql(end),
        ),
        search.only.is_none(),
    )
    .load(conn)
}

/// The ids of `page_ids` without their totals.
fn only_ids(rows: Vec<(i64, i64)>) -> Vec<i64> {
    rows.into_iter().map(|(id, _)| id).collect()
}

impl Member {
    /// One page of the members a search matches, and how many match: a trigram search on
    /// SQLite in one pass (`fts_page`); a known total without a count; another search
    /// counted in its page statement (`count(*) OVER ()`); a filter without a search with a
    /// `COUNT(*)`. A page past the end is the last page.
    pub fn search(conn: &mut DbConn, search: &Search) -> QueryResult<SearchPage> {
        let filter = search.filter;
        // A search visits and sorts every match anyway: it counts them in the same pass
        // instead of joining them all a second time for a COUNT.
        let count_in_page = search.known_total.is_none() && filter.q.is_some();
        let (page, total, ids) = match search.known_total {
            None if uses_fts(conn, filter) => fts_page(conn, search)?,
            Some(total) => {
                let page = filter.page.clamp(1, pages_of(total));
                (page, total, only_ids(page_ids(conn, search, page, false)?))
            }
            None if count_in_page => {
                let page = filter.page.max(1);
                let ids = page_ids(conn, search, page, true)?;
                match ids.first() {
                    Some((_, total)) => (page, *total, ids.iter().map(|(id, _)| *id).collect()),
                    // No match at all.
                    None if page == 1 => (1, 0, Vec::new()),
                    // A page past the end: shown as the last page.
                    None => {
                        let total = count(conn, search)?;
                        let last = pages_of(total);
                        let ids = if total > 0 {
                            only_ids(page_ids(conn, search, last.min(page), false)?)
                        } else {
                            Vec::new()
                        };
                        (page.min(last), total, ids)
                    }
                }
            }
            None => {
                let total = count(conn, search)?;
                let page = filter.page.clamp(1, pages_of(total));
                (page, total, only_ids(page_ids(conn, search, page, false)?))
            }
        };
        Ok(SearchPage {
            page,
            pages: pages_of(total),
            total,
            ids,
        })
    }

    /// What the Users list shows of each member of a page of ids: id, account name, primary
    /// address, status, seat type, department, joined. Only these columns (no metadata, one
    /// timestamp), one JSON array bind, and a statement kept prepared. In no particular order.
    pub fn list_rows(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<ListedMember>> {
        use crate::db::schema::{accounts, email_addresses};
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (before, json, after) = ids_in(conn, "members.id", ids);
        cached(
            members::table
                .inner_join(accounts::table)
                .inner_join(
                    email_addresses::table.on(email_addresses::account_id
                        .eq(members::account_id)
                        .and(email_addresses::is_primary)),
                )
                .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
                .select((
                    members::id,
                    accounts::name,
                    email_addresses::address,
                    members::status,
                    members::seat_type,
                    members::department,
                    members::joined_at,
                )),
        )
        .load(conn)
    }

    /// `(id, account name)` of the workspace's active members by name, among `only` when
    /// given, at most `limit` of them (the manager choices of a member's page).
    pub fn active_names(
        conn: &mut DbConn,
        workspace_id: i64,
        only: Option<&[i64]>,
        limit: i64,
    ) -> QueryResult<Vec<(i64, String)>> {
        use crate::db::schema::accounts;
        let mut query = members::table
            .inner_join(accounts::table)
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::status.eq(MemberStatus::Active.key()))
            .into_boxed();
        if let Some(ids) = only {
            query = query.filter(members::id.eq_any(ids.to_vec()));
        }
        query
            .order((members::sort_name, members::id))
            .select((members::id, accounts::name))
            .limit(limit)
            .load(conn)
    }

    /// Distinct departments in use, for filters and suggestions: an index skip-scan
    /// (one seek per department) rather than a walk over every member.
    pub fn departments(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Vec<String>> {
        let sql = dialect(
            conn,
            "WITH RECURSIVE d(name, n) AS ( \
                 SELECT MIN(department), 1 FROM members WHERE workspace_id = ? AND department IS NOT NULL \
                 UNION ALL \
                 SELECT (SELECT MIN(department) FROM members WHERE workspace_id = ? AND department > d.name), n + 1 \
                 FROM d WHERE d.name IS NOT NULL AND n < 500 \
             ) SELECT name FROM d WHERE name IS NOT NULL",
        );
        let rows: Vec<NameRow> = diesel::sql_query(sql)
            .bind::<BigInt, _>(workspace_id)
            .bind::<BigInt, _>(workspace_id)
            .load(conn)?;
        Ok(rows.into_iter().map(|r| r.name).collect())
    }
}

/// A pending invitation on the Users list: id, address, invited name, seat type, sent,
/// expires (see [`pending_invitees`]).
pub type ListedInvitee = (
    i64,
    String,
    Option<String>,
    String,
    NaiveDateTime,
    NaiveDateTime,
);

/// The workspace's pending invitations (stored `pending`: live or past their expiry, not
/// superseded, accepted or revoked) that `filter` matches, in the list's order: by name
/// (the invited name, else the address) or newest sent first. `q` finds the address or
/// the invited name; `role` and `seat` are the invitation's; a `department` matches no
/// invitation (they have none yet); `status` does not apply (the caller decides, from
/// [`MemberFilter::invitees`], whether to list them at all). Every match, narrow rows: a
/// workspace has at most a few hundred (the daily limit times the expiry), and the caller
/// pages them after its members. One statement per filter shape, kept prepared.
pub fn pending_invitees(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &MemberFilter,
) -> QueryResult<Vec<ListedInvitee>> {
    use crate::db::schema::{invite_roles, invites};
    if filter.department.is_some() {
        return Ok(Vec::new());
    }
    let mut query = invites::table
        .filter(invites::workspace_id.eq(workspace_id))
        .filter(invites::status.eq(crate::models::invite::PENDING))
        .into_boxed();
    if let Some(seat) = filter.seat {
        query = query.filter(invites::seat_type.eq(seat.key()));
    }
    if let Some(role) = filter.role {
        query = query.filter(
            invites::id.eq_any(
                invite_roles::table
                    .filter(invite_roles::role_id.eq(role))
                    .select(invite_roles::invite_id),
            ),
        );
    }
    if let Some(q) = &filter.q {
        // `canonical` is stored lower-cased; the name is lower-cased here.
        let pattern = like_pattern(&q.to_lowercase());
        query = query.filter(
            sql::<Bool>("(invites.canonical LIKE ")
                .bind::<Text, _>(pattern.clone())
                .sql(" ESCAPE '\\' OR lower(COALESCE(invites.name, '')) LIKE ")
                .bind::<Text, _>(pattern)
                .sql(" ESCAPE '\\')"),
        );
    }
    let order = match filter.sort {
        Sort::Name => "lower(COALESCE(invites.name, invites.canonical)) ASC, invites.id ASC",
        Sort::Joined => "invites.sent_at DESC, invites.id DESC",
    };
    cached(query.order(sql::<Text>(order)).select((
        invites::id,
        invites::email,
        invites::name,
        invites::seat_type,
        invites::sent_at,
        invites::expires_at,
    )))
    .load(conn)
}

/// The roles of these invitations, in the order chosen (the first is primary):
/// `(invite id, role id)`. One JSON array bind, kept prepared.
pub fn invitee_roles(conn: &mut DbConn, invite_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    use crate::db::schema::invite_roles;
    if invite_ids.is_empty() {
        return Ok(Vec::new());
    }
    let (before, json, after) = ids_in(conn, "invite_roles.invite_id", invite_ids);
    cached(
        invite_roles::table
            .filter(sql::<Bool>(&before).bind::<Text, _>(json).sql(after))
            .order((invite_roles::invite_id, invite_roles::position))
            .select((invite_roles::invite_id, invite_roles::role_id)),
    )
    .load(conn)
}
