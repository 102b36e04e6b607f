//! Reading the audit trail: the log screen's entries in words (who, what, before → after)
//! and the CSV export, read in keyset batches so memory stays flat however long the log.
//! Nothing here writes to `audit_events`: no path in the app edits or deletes an entry.

use std::collections::HashMap;

use serde_json::Value;

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models::audit::{self, AuditEvent, Cursor, LogFilter};

/// Events per page of the screen.
pub const PAGE_SIZE: i64 = 50;
/// Events read per query by the export.
pub const EXPORT_BATCH: i64 = 1000;

/// One changed field: `field: before → after` (a side is `None` when the event has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// A fact of the event that is no before/after pair (`sessions_ended: 2`).
    pub fact: bool,
}

impl Change {
    /// `field: old → new`, `field: value`, as one line of text.
    pub fn line(&self) -> String {
        if self.fact {
            return format!("{}: {}", self.field, self.after.as_deref().unwrap_or("—"));
        }
        format!(
            "{}: {} → {}",
            self.field,
            self.before.as_deref().unwrap_or("—"),
            self.after.as_deref().unwrap_or("—")
        )
    }
}

/// A JSON value in words: text as it is, `none` for null, lists joined with commas.
fn words(value: &Value) -> String {
    match value {
        Value::Null => "none".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".into(),
        Value::Array(items) => items.iter().map(words).collect::<Vec<_>>().join(", "),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{}: {}", k.replace('_', " "), words(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The stored `changes` of an event as lines: each field of `before`/`after` as old → new
/// (fields in the order first seen), then every other key as a fact. Text that is not a
/// JSON object is shown as one fact.
pub fn changes(stored: &str) -> Vec<Change> {
    let value: Value = match serde_json::from_str(stored) {
        Ok(v) => v,
        Err(_) => Value::String(stored.to_string()),
    };
    let Value::Object(map) = value else {
        if value == Value::Null {
            return Vec::new();
        }
        return vec![Change {
            field: "details".into(),
            before: None,
            after: Some(words(&value)),
            fact: true,
        }];
    };
    let side = |key: &str| match map.get(key) {
        Some(Value::Object(fields)) => Some(fields.clone()),
        _ => None,
    };
    let (before, after) = (side("before"), side("after"));
    let mut out: Vec<Change> = Vec::new();
    for fields in [&before, &after].into_iter().flatten() {
        for field in fields.keys() {
            if out.iter().any(|c| c.field == *field) {
                continue;
            }
            let get = |s: &Option<serde_json::Map<String, Value>>| {
                s.as_ref().and_then(|m| m.get(field)).map(words)
            };
            out.push(Change {
                field: field.clone(),
                before: get(&before),
                after: get(&after),
                fact: false,
            });
        }
    }
    for (key, value) in &map {
        let paired = matches!(key.as_str(), "before" | "after")
            && matches!(value, Value::Object(_) | Value::Null);
        if !paired {
            out.push(Change {
                field: key.clone(),
                before: None,
                after: Some(words(value)),
                fact: true,
            });
        }
    }
    out
}

/// Who acted, in words: `Name <address>`, or who it was when no account acted.
pub fn actor_words(
    event: &AuditEvent,
    names: &HashMap<i64, (String, Option<String>)>,
) -> (String, String) {
    match event.actor_account_id {
        Some(id) => match names.get(&id) {
            Some((name, address)) => (name.clone(), address.clone().unwrap_or_default()),
            None => (format!("Account {id}"), String::new()),
        },
        None if event.ip.as_deref() == Some("cli") => {
            ("Operator (command line)".into(), String::new())
        }
        None => ("Not signed in".into(), String::new()),
    }
}

/// One entry of the log screen.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: i64,
    /// When, for reading ("2026-12-03 07:48:09 UTC").
    pub at: String,
    /// When, for machines (the `datetime` of the page's `<time>`).
    pub at_iso: String,
    pub actor: String,
    pub actor_address: String,
    pub ip: String,
    pub action: String,
    pub target: String,
    pub changes: Vec<Change>,
}

/// A page of the screen: its entries, the cursors of its neighbours, the actions the
/// filter offers (the fixed catalogue, `models::audit::ACTIONS`).
#[derive(Clone, Debug)]
pub struct Screen {
    pub entries: Vec<Entry>,
    pub older: Option<i64>,
    pub newer: Option<i64>,
    pub actions: Vec<String>,
}

fn time_words(at: &chrono::NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn target_words(event: &AuditEvent) -> String {
    match (&event.target_label, &event.target_type) {
        (Some(label), Some(kind)) => format!("{label} ({kind})"),
        (Some(label), None) => label.clone(),
        (None, Some(kind)) => kind.clone(),
        (None, None) => String::new(),
    }
}

/// One page of the workspace's log at `cursor`.
pub fn screen(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &LogFilter,
    cursor: Cursor,
) -> AppResult<Screen> {
    let page = audit::page(conn, workspace_id, filter, cursor, PAGE_SIZE)?;
    let names = names_of(conn, &page.events)?;
    let entries = page
        .events
        .iter()
        .map(|event| {
            let (actor, actor_address) = actor_words(event, &names);
            Entry {
                id: event.id,
                at: time_words(&event.created_at),
                at_iso: event.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                actor,
                actor_address,
                ip: event.ip.clone().unwrap_or_default(),
                action: event.action.clone(),
                target: target_words(event),
                changes: changes(&event.changes),
            }
        })
        .collect();
    Ok(Screen {
        entries,
        older: page.older,
        newer: page.newer,
        actions: audit::ACTIONS.iter().map(|a| a.to_string()).collect(),
    })
}

fn names_of(
    conn: &mut DbConn,
    events: &[AuditEvent],
) -> AppResult<HashMap<i64, (String, Option<String>)>> {
    let mut ids: Vec<i64> = events.iter().filter_map(|e| e.actor_account_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(audit::actor_names(conn, &ids)?)
}

/// The header row of the export.
pub const CSV_HEADER: [&str; 11] = [
    "id",
    "time",
    "actor",
    "actor_email",
    "client_ip",
    "action",
    "target_type",
    "target_id",
    "target",
    "changes",
    "changes_json",
];

/// Writes the whole filtered log as CSV, newest first, reading [`EXPORT_BATCH`] events per
/// query and handing each batch's bytes to `sink` before reading the next (so at most one
/// batch is in memory). Stops early, without error, when `sink` returns false (the client
/// went away).
pub fn export(
    conn: &mut DbConn,
    workspace_id: i64,
    filter: &LogFilter,
    mut sink: impl FnMut(Vec<u8>) -> bool,
) -> AppResult<()> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
    writer.write_record(CSV_HEADER).map_err(csv_error)?;
    let mut before = None;
    loop {
        let events = audit::batch(conn, workspace_id, filter, before, EXPORT_BATCH)?;
        let names = names_of(conn, &events)?;
        for event in &events {
            let (actor, actor_address) = actor_words(event, &names);
            let lines: Vec<String> = changes(&event.changes).iter().map(Change::line).collect();
            writer
                .write_record([
                    event.id.to_string().as_str(),
                    &event.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    &actor,
                    &actor_address,
                    event.ip.as_deref().unwrap_or(""),
                    &event.action,
                    event.target_type.as_deref().unwrap_or(""),
                    &event.target_id.map(|id| id.to_string()).unwrap_or_default(),
                    event.target_label.as_deref().unwrap_or(""),
                    &lines.join("; "),
                    &event.changes,
                ])
                .map_err(csv_error)?;
        }
        // Each batch's bytes leave before the next batch is read; a fresh writer per batch.
        let chunk = writer
            .into_inner()
            .map_err(|e| crate::error::AppError::internal(e.to_string()))?;
        writer = csv::Writer::from_writer(Vec::with_capacity(chunk.capacity()));
        if !chunk.is_empty() && !sink(chunk) {
            return Ok(());
        }
        match events.last() {
            Some(last) if events.len() as i64 == EXPORT_BATCH => before = Some(last.id),
            _ => return Ok(()),
        }
    }
}

fn csv_error(err: csv::Error) -> crate::error::AppError {
    crate::error::AppError::internal(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_and_after_read_as_old_to_new() {
        let lines: Vec<String> = changes(
            r#"{"before": {"roles": ["Member"], "primary": "Member"}, "after": {"roles": ["Admin", "Member"], "primary": "Admin"}, "grants_removed": 2}"#,
        )
        .iter()
        .map(Change::line)
        .collect();
        assert_eq!(
            lines,
            [
                "primary: Member → Admin",
                "roles: Member → Admin, Member",
                "grants_removed: 2"
            ]
        );
    }

    #[test]
    fn an_after_only_event_reads_from_nothing() {
        let lines: Vec<String> =
            changes(r#"{"before": null, "after": {"email": "a@b.example", "verified": false}}"#)
                .iter()
                .map(Change::line)
                .collect();
        assert_eq!(lines, ["email: — → a@b.example", "verified: — → no"]);
    }

    #[test]
    fn text_that_is_not_json_is_one_fact() {
        assert_eq!(changes("oops")[0].line(), "details: oops");
        assert!(changes("{}").is_empty());
    }
}
