//! The append-only audit trail. Every state change calls `record` inside the transaction
//! that makes the change, so the change and its record commit or roll back together.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use serde_json::Value;

use crate::db::schema::audit_events;
use crate::db::DbConn;

/// Every action the app records, sorted: the audit screen's action filter offers these (a
/// fixed list, so the filter never scans the log). A new `Event::new(action)` belongs here
/// too: the route-table audit walk (tests/it/audit_walk.rs) fails on an action it records
/// that is missing, and the unit test below on an unsorted or repeated one.
pub const ACTIONS: &[&str] = &[
    "account.created",
    "account.email_added",
    "account.email_removed",
    "account.email_verification_resent",
    "account.email_verified",
    "account.password_changed",
    "account.password_reset",
    "account.primary_email_changed",
    "account.renamed",
    "account.session_ended",
    "account.sessions_ended",
    "account.signed_out",
    "domain.added",
    "domain.checked",
    "domain.join",
    "domain.policy_changed",
    "domain.removed",
    "domain.verified",
    "invite.accepted",
    "invite.created",
    "invite.link_renewed",
    "invite.resent",
    "invite.revoked",
    "join_link.rotated",
    "join_link.updated",
    "join_link.used",
    "join_request.approved",
    "join_request.created",
    "join_request.denied",
    "join_request.unconfirmed",
    "login.failed",
    "login.succeeded",
    "login.throttled",
    "member.archived",
    "member.department_changed",
    "member.email_added",
    "member.email_removed",
    "member.email_verification_resent",
    "member.joined",
    "member.left",
    "member.manager_changed",
    "member.metadata_changed",
    "member.modules_changed",
    "member.name_changed",
    "member.primary_email_changed",
    "member.rejoined",
    "member.removed",
    "member.restored",
    "member.roles_changed",
    "member.seat_changed",
    "password.reset_requested",
    "permission_grant.revoked",
    "permission_request.approved",
    "permission_request.created",
    "permission_request.denied",
    "reauth.failed",
    "reauth.succeeded",
    "reauth.throttled",
    "role.created",
    "role.deleted",
    "role.updated",
    "setup.completed",
    "workspace.created",
    "workspace.limits_changed",
    "workspace.ownership_transferred",
    "workspace.seeded",
    "workspace.settings_changed",
];

/// Who acted, and from where; passed from the handler into every service call.
#[derive(Clone, Debug, Default)]
pub struct Actor {
    pub account_id: Option<i64>,
    pub ip: Option<String>,
}

impl Actor {
    pub fn account(account_id: i64, ip: Option<String>) -> Self {
        Actor {
            account_id: Some(account_id),
            ip,
        }
    }

    /// Someone not signed in, from `ip` (sign-in, setup, a forgotten password).
    pub fn anonymous(ip: Option<String>) -> Self {
        Actor {
            account_id: None,
            ip,
        }
    }

    /// The operator at the command line.
    pub fn operator() -> Self {
        Actor {
            account_id: None,
            ip: Some("cli".into()),
        }
    }
}

/// One event: the action (`member.role_changed`), its target and what changed.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    pub workspace_id: Option<i64>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<i64>,
    pub target_label: Option<&'a str>,
    /// `{"before": …, "after": …}` or any JSON object describing the change.
    pub changes: Value,
}

impl<'a> Event<'a> {
    pub fn new(action: &'a str) -> Self {
        Event {
            workspace_id: None,
            action,
            target_type: None,
            target_id: None,
            target_label: None,
            changes: Value::Object(Default::default()),
        }
    }

    pub fn workspace(mut self, id: i64) -> Self {
        self.workspace_id = Some(id);
        self
    }

    pub fn target(mut self, kind: &'a str, id: i64, label: &'a str) -> Self {
        self.target_type = Some(kind);
        self.target_id = Some(id);
        self.target_label = Some(label);
        self
    }

    pub fn label(mut self, label: &'a str) -> Self {
        self.target_label = Some(label);
        self
    }

    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = changes;
        self
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub workspace_id: Option<i64>,
    pub actor_account_id: Option<i64>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<i64>,
    pub target_label: Option<String>,
    pub changes: String,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn record(conn: &mut DbConn, actor: &Actor, event: Event<'_>) -> QueryResult<()> {
    record_all(conn, actor, std::slice::from_ref(&event))
}

/// Records many events with one multi-row INSERT per 100 (bulk actions like a
/// 100-address invite), in the caller's transaction.
pub fn record_all(conn: &mut DbConn, actor: &Actor, events: &[Event<'_>]) -> QueryResult<()> {
    let now = super::now();
    for chunk in events.chunks(100) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|event| {
                (
                    audit_events::workspace_id.eq(event.workspace_id),
                    audit_events::actor_account_id.eq(actor.account_id),
                    audit_events::action.eq(event.action),
                    audit_events::target_type.eq(event.target_type),
                    audit_events::target_id.eq(event.target_id),
                    audit_events::target_label.eq(event.target_label),
                    audit_events::changes.eq(event.changes.to_string()),
                    audit_events::ip.eq(actor.ip.as_deref()),
                    audit_events::created_at.eq(now),
                )
            })
            .collect();
        match conn {
            DbConn::Sqlite(c) => diesel::insert_into(audit_events::table)
                .values(rows)
                .execute(c)?,
            DbConn::Pg(c) => diesel::insert_into(audit_events::table)
                .values(rows)
                .execute(c)?,
        };
    }
    Ok(())
}

/// How many events of `action` for this label happened since `since` (sign-in throttling).
pub fn count_for_label(
    conn: &mut DbConn,
    action: &str,
    label: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    audit_events::table
        .filter(audit_events::action.eq(action))
        .filter(audit_events::target_label.eq(label))
        .filter(audit_events::created_at.gt(since))
        .count()
        .get_result(conn)
}

/// How many events of these actions targeted one object since `since` (per-account limits).
pub fn count_for_target(
    conn: &mut DbConn,
    actions: &[&str],
    target_type: &str,
    target_id: i64,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    audit_events::table
        .filter(audit_events::action.eq_any(actions))
        .filter(audit_events::target_type.eq(target_type))
        .filter(audit_events::target_id.eq(target_id))
        .filter(audit_events::created_at.gt(since))
        .count()
        .get_result(conn)
}

/// How many events of `action` came from this client address since `since`.
pub fn count_for_ip(
    conn: &mut DbConn,
    action: &str,
    ip: &str,
    since: NaiveDateTime,
) -> QueryResult<i64> {
    audit_events::table
        .filter(audit_events::action.eq(action))
        .filter(audit_events::ip.eq(ip))
        .filter(audit_events::created_at.gt(since))
        .count()
        .get_result(conn)
}

/// The latest events of a workspace (newest first).
pub fn latest(conn: &mut DbConn, workspace_id: i64, limit: i64) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::workspace_id.eq(workspace_id))
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// Which events a [`tally`] counts.
#[derive(Clone, Copy, Debug)]
pub enum About<'a> {
    /// Whatever they targeted.
    Anything,
    /// Those targeting one object (`target_type`, `target_id`).
    Target(&'a str, i64),
    /// Those with no target id, labelled with this text (an address with no account).
    Untargeted(&'a str),
}

/// How many events, and when the first and the last of them happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub count: i64,
    pub first: Option<NaiveDateTime>,
    pub last: Option<NaiveDateTime>,
}

/// The events of these actions since `since` (exclusive) about `about`, from client
/// address `ip` when given (password-attempt throttling).
pub fn tally(
    conn: &mut DbConn,
    actions: &[&str],
    about: About<'_>,
    ip: Option<&str>,
    since: NaiveDateTime,
) -> QueryResult<Tally> {
    use diesel::dsl::{count_star, max, min};
    let mut query = audit_events::table
        .filter(audit_events::action.eq_any(actions.to_vec()))
        .filter(audit_events::created_at.gt(since))
        .into_boxed();
    query = match about {
        About::Anything => query,
        About::Target(kind, id) => query
            .filter(audit_events::target_type.eq(kind))
            .filter(audit_events::target_id.eq(id)),
        About::Untargeted(label) => query
            .filter(audit_events::target_label.eq(label))
            .filter(audit_events::target_id.is_null()),
    };
    if let Some(ip) = ip {
        query = query.filter(audit_events::ip.eq(ip));
    }
    let (count, first, last) = query
        .select((
            count_star(),
            min(audit_events::created_at),
            max(audit_events::created_at),
        ))
        .get_result(conn)?;
    Ok(Tally { count, first, last })
}

/// When the latest event of these actions targeting one object happened (from client
/// address `ip` only, when given).
pub fn latest_for_target(
    conn: &mut DbConn,
    actions: &[&str],
    target_type: &str,
    target_id: i64,
    ip: Option<&str>,
) -> QueryResult<Option<NaiveDateTime>> {
    use diesel::dsl::max;
    let mut query = audit_events::table
        .filter(audit_events::target_type.eq(target_type))
        .filter(audit_events::target_id.eq(target_id))
        .filter(audit_events::action.eq_any(actions.to_vec()))
        .into_boxed();
    if let Some(ip) = ip {
        query = query.filter(audit_events::ip.eq(ip));
    }
    query.select(max(audit_events::created_at)).get_result(conn)
}

/// The backend of [`DbConn`] (both databases), for boxed queries.
type Backend = <DbConn as diesel::Connection>::Backend;

/// What the audit log screen narrows to; every part optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Part of the actor's name or of one of their addresses (any case).
    pub actor: Option<String>,
    /// Part of the target's label (any case).
    pub target: Option<String>,
    /// One action exactly (`member.role_changed`).
    pub action: Option<String>,
    /// Events at or after this time.
    pub from: Option<NaiveDateTime>,
    /// Events before this time (exclusive).
    pub until: Option<NaiveDateTime>,
}

/// Where a page of the log starts (keyset on `id`, never OFFSET).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The newest events.
    Newest,
    /// The events just older than this id.
    Before(i64),
    /// The events just newer than this id.
    After(i64),
}

/// One page of the log, newest first, and the cursors of its neighbours when they exist.
#[derive(Clone, Debug)]
pub struct LogPage {
    pub events: Vec<AuditEvent>,
    /// `before=` for the next older page.
    pub older: Option<i64>,
    /// `after=` for the next newer page.
    pub newer: Option<i64>,
}

/// `%text%` for `LIKE … ESCAPE '\'`, the text lower-cased and its wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// The two parts of a workspace's log, each read on its own indexes and merged by id
/// (one query with an OR across them makes both databases walk every event of the
/// workspace whose actor is a member — all of them — to find the few account-level ones):
/// the events recorded in the workspace, and the account-level events (recorded with no
/// workspace) whose target is the account of one of its members (active, archived or
/// suspended: anyone with a membership row) or whose actor is one — a member's password
/// change, added address, failed or throttled sign-in show in every workspace they belong
/// to.
#[derive(Clone, Copy, Debug)]
enum Part {
    Workspace,
    Accounts,
}

const PARTS: [Part; 2] = [Part::Workspace, Part::Accounts];

impl Part {
    /// The events of this part before any filter: the workspace's, or those recorded with
    /// no workspace (both served by `audit_events_workspace_time (workspace_id, created_at)`).
    fn recorded<'a>(self, workspace_id: i64) -> audit_events::BoxedQuery<'a, Backend> {
        match self {
            Part::Workspace => audit_events::table
                .filter(audit_events::workspace_id.eq(workspace_id))
                .into_boxed(),
            Part::Accounts => audit_events::table
                .filter(audit_events::workspace_id.is_null())
                .into_boxed(),
        }
    }
}

/// How far a date range's events can lie from the order of their ids. Ids come from a
/// sequence assigned at insert and `created_at` is read in Rust just before the INSERT
/// (`record_all`), so ids and times disagree only by the skew between instances' clocks
/// and a statement's latency — seconds; an hour covers that with room.
const SLACK: TimeDelta = TimeDelta::hours(1);

/// The ids one part's date range lies between (exclusive), found on the time index so the
/// log's `ORDER BY id DESC` walk starts at the range instead of at the newest event and
/// reading every later one (the exact `created_at` filters stay beside them).
#[derive(Clone, Copy, Debug, Default)]
struct IdRange {
    above: Option<i64>,
    below: Option<i64>,
}

/// Each part's [`IdRange`] for `filter`'s dates: two indexed lookups a bound given.
fn id_ranges(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &LogFilter,
) -> QueryResult<[IdRange; 2]> {
    let mut ranges = [IdRange::default(); 2];
    for (range, part) in ranges.iter_mut().zip(PARTS) {
        // The last event (by time) recorded more than SLACK before `from`: no event with a
        // smaller id can be at or after `from`.
        if let Some(edge) = filter.from.and_then(|t| t.checked_sub_signed(SLACK)) {
            range.above = part
                .recorded(workspace_id)
                .filter(audit_events::created_at.lt(edge))
                .order(audit_events::created_at.desc())
                .select(audit_events::id)
                .first(conn)
                .optional()?;
        }
        // The first event recorded SLACK or more after `until`: none with a larger id can
        // be before `until`.
        if let Some(edge) = filter.until.and_then(|t| t.checked_add_signed(SLACK)) {
            range.below = part
                .recorded(workspace_id)
                .filter(audit_events::created_at.ge(edge))
                .order(audit_events::created_at.asc())
                .select(audit_events::id)
                .first(conn)
                .optional()?;
        }
    }
    Ok(ranges)
}

/// The events of one part of a workspace's log that match `filter` (its dates' ids
/// narrowed to `range`, from [`id_ranges`]).
fn in_part<'a>(
    workspace_id: i64,
    filter: &'a LogFilter,
    part: Part,
    range: IdRange,
) -> audit_events::BoxedQuery<'a, Backend> {
    use crate::db::schema::{accounts, members};
    let member_accounts = || {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .select(members::account_id.nullable())
    };
    let mut query = part.recorded(workspace_id);
    if let Part::Accounts = part {
        query = query.filter(
            audit_events::target_type
                .eq("account")
                .and(audit_events::target_id.eq_any(member_accounts()))
                .or(audit_events::actor_account_id.eq_any(member_accounts())),
        );
    }
    if let Some(actor) = &filter.actor {
        let pattern = contains_pattern(actor);
        query = query.filter(
            audit_events::actor_account_id.eq_any(
                accounts::table
                    .filter(accounts::search_text.like(pattern).escape('\\'))
                    .select(accounts::id.nullable()),
            ),
        );
    }
    if let Some(target) = &filter.target {
        // `lower()` on both databases (PostgreSQL's `LIKE` is case-sensitive); on
        // PostgreSQL it is the expression of the trigram index `audit_events_label_trgm`.
        // Raw SQL on purpose: diesel keeps no such statement prepared, so PostgreSQL plans
        // each one knowing the pattern. A kept statement turns generic after five runs, and
        // the generic plan walks `id DESC` for every label — a rare one read the whole log
        // (255 ms at 1M events, bench/HISTORY.md) — where the planner, seeing the value,
        // takes the index for a rare label and the walk for a common one.
        query = query.filter(
            sql::<Bool>("lower(audit_events.target_label) LIKE ")
                .bind::<Text, _>(contains_pattern(target))
                .sql(" ESCAPE '\\'"),
        );
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_events::action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::created_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_events::created_at.lt(until));
    }
    if let Some(above) = range.above {
        query = query.filter(audit_events::id.gt(above));
    }
    if let Some(below) = range.below {
        query = query.filter(audit_events::id.lt(below));
    }
    query
}

/// Up to `limit` events of the log newest first, older than `before` when given (the
/// export reads the whole log in such batches).
pub fn batch(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &LogFilter,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let ranges = id_ranges(conn, workspace_id, filter)?;
    Ok(batch_in(
        conn,
        workspace_id,
        filter,
        &ranges,
        Cursor::from_before(before),
        limit,
    )?
    .events)
}

impl Cursor {
    fn from_before(before: Option<i64>) -> Self {
        before.map_or(Cursor::Newest, Cursor::Before)
    }
}

/// What a batch read, and what it tells of the events beyond its far end (older for
/// `Newest`/`Before`, newer for `After`) without asking the database again: that check
/// walks the same index as the batch did, so for a rare match it read the log a second
/// time (a rare target label: the page's time twice).
struct Loaded {
    /// Shown order: newest first.
    events: Vec<AuditEvent>,
    /// Some part's events were cut to fit `limit`: those lie beyond the far end.
    dropped: bool,
    /// The parts that filled `limit` and may hold more beyond; the others were read to
    /// their end.
    open: [bool; 2],
}

/// Up to `limit` events at `cursor`, from both parts, with the parts' id ranges found.
fn batch_in(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &LogFilter,
    ranges: &[IdRange; 2],
    cursor: Cursor,
    limit: i64,
) -> QueryResult<Loaded> {
    let mut events = Vec::new();
    let mut open = [false; 2];
    for ((part, range), open) in PARTS.into_iter().zip(ranges).zip(&mut open) {
        let query = in_part(workspace_id, filter, part, *range);
        let query = match cursor {
            Cursor::Newest => query.order(audit_events::id.desc()),
            Cursor::Before(id) => query
                .filter(audit_events::id.lt(id))
                .order(audit_events::id.desc()),
            Cursor::After(id) => query
                .filter(audit_events::id.gt(id))
                .order(audit_events::id.asc()),
        };
        let rows = query
            .limit(limit)
            .select(AuditEvent::as_select())
            .load(conn)?;
        *open = rows.len() as i64 >= limit;
        events.extend(rows);
    }
    let limit = usize::try_from(limit).unwrap_or(0);
    let dropped = events.len() > limit;
    if let Cursor::After(_) = cursor {
        // The `limit` just newer than the cursor, shown newest first.
        events.sort_unstable_by_key(|e| e.id);
        events.truncate(limit);
        events.reverse();
    } else {
        events.sort_unstable_by_key(|e| std::cmp::Reverse(e.id));
        events.truncate(limit);
    }
    Ok(Loaded {
        events,
        dropped,
        open,
    })
}

/// Whether the log has an event on that side of `id`, in the parts `ask` names.
fn any_beyond(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &LogFilter,
    ranges: &[IdRange; 2],
    ask: [bool; 2],
    id: i64,
    older: bool,
) -> QueryResult<bool> {
    for ((part, range), ask) in PARTS.into_iter().zip(ranges).zip(ask) {
        if !ask {
            continue;
        }
        let query = in_part(workspace_id, filter, part, *range);
        // Nearest first: without the order a database may start from the far end of the
        // log and walk to the cursor.
        let query = if older {
            query
                .filter(audit_events::id.lt(id))
                .order(audit_events::id.desc())
        } else {
            query
                .filter(audit_events::id.gt(id))
                .order(audit_events::id.asc())
        };
        let found: Option<i64> = query
            .select(audit_events::id)
            .limit(1)
            .first(conn)
            .optional()?;
        if found.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One page of `size` events of the log at `cursor`, newest first.
pub fn page(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &LogFilter,
    cursor: Cursor,
    size: i64,
) -> QueryResult<LogPage> {
    let ranges = id_ranges(conn, workspace_id, filter)?;
    let ranges = &ranges;
    let loaded = batch_in(conn, workspace_id, filter, ranges, cursor, size)?;
    let events = loaded.events;
    let every = [true; 2];
    let (older, newer) = match (events.last(), events.first()) {
        (Some(oldest), Some(newest)) => match cursor {
            // The newest page has nothing newer by definition: no query (with a date
            // filter it would walk every later event of the log to find none).
            Cursor::Newest | Cursor::Before(_) => (
                (loaded.dropped
                    || any_beyond(
                        conn,
                        workspace_id,
                        filter,
                        ranges,
                        loaded.open,
                        oldest.id,
                        true,
                    )?)
                .then_some(oldest.id),
                match cursor {
                    Cursor::Newest => None,
                    _ => any_beyond(conn, workspace_id, filter, ranges, every, newest.id, false)?
                        .then_some(newest.id),
                },
            ),
            Cursor::After(_) => (
                any_beyond(conn, workspace_id, filter, ranges, every, oldest.id, true)?
                    .then_some(oldest.id),
                (loaded.dropped
                    || any_beyond(
                        conn,
                        workspace_id,
                        filter,
                        ranges,
                        loaded.open,
                        newest.id,
                        false,
                    )?)
                .then_some(newest.id),
            ),
        },
        // Past either end: offer the way back.
        _ => match cursor {
            Cursor::Before(id) => (
                None,
                any_beyond(conn, workspace_id, filter, ranges, every, id - 1, false)?
                    .then_some(id - 1),
            ),
            Cursor::After(id) => (
                any_beyond(conn, workspace_id, filter, ranges, every, id + 1, true)?
                    .then_some(id + 1),
                None,
            ),
            Cursor::Newest => (None, None),
        },
    };
    Ok(LogPage {
        events,
        older,
        newer,
    })
}

/// Name and primary address of each of these accounts (the actors of a page of the log).
pub fn actor_names(
    conn: &mut DbConn,
    account_ids: &[i64],
) -> QueryResult<std::collections::HashMap<i64, (String, Option<String>)>> {
    use crate::db::schema::{accounts, email_addresses};
    if account_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(i64, String, Option<String>)> = accounts::table
        .left_join(
            email_addresses::table.on(email_addresses::account_id
                .eq(accounts::id)
                .and(email_addresses::is_primary)),
        )
        .filter(accounts::id.eq_any(account_ids))
        .select((
            accounts::id,
            accounts::name,
            email_addresses::address.nullable(),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, address)| (id, (name, address)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::ACTIONS;

    #[test]
    fn the_action_catalogue_is_sorted_without_repeats() {
        assert!(ACTIONS.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
    }
}
