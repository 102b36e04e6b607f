//! The append-only audit trail. Every state change calls `record` inside the transaction
//! that makes the change, so the change and its record commit or roll back together.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::audit_events;
use crate::db::DbConn;

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
