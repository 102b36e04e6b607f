//! Membership as of a date, and what changed between two dates, rebuilt from the audit log
//! alone: the workspace's membership events up to an instant, replayed in the order they
//! were recorded (`created_at`, then `id`). The replay ([`replay`]) is pure — events in,
//! members out — so the Users screen's `?as_of=` view and the audit diff share one rule.
//!
//! It keys on what the membership paths record: `member.joined` (every join goes through
//! `members::join::join_in_tx`, or is a workspace's first Owner, or was seeded),
//! `member.rejoined` (`join::reactivate`), `member.roles_changed`, `member.archived`,
//! `member.restored`, `member.removed`, `member.left`, `workspace.ownership_transferred`
//! and `role.deleted` (a deleted role leaves everyone who held it).
//!
//! A replay does not start from the workspace's first event when it can help it: it starts
//! from the nearest checkpoint (`roster_snapshots`), the roster after the first N events,
//! and leaves new checkpoints behind as it passes them ([`replay_from`]). The log is
//! append-only and a checkpoint is only taken an hour behind the present, so no event can
//! later land before one.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::schema::{audit_events, roster_snapshots};
use crate::db::DbConn;
use crate::error::AppResult;
use crate::models::audit::AuditEvent;
use crate::models::member::Member;
use crate::models::role::Role;

/// The actions the replay reads (and the only ones its query loads).
pub const MEMBERSHIP_ACTIONS: [&str; 9] = [
    "member.joined",
    "member.rejoined",
    "member.roles_changed",
    "member.archived",
    "member.restored",
    "member.removed",
    "member.left",
    "workspace.ownership_transferred",
    "role.deleted",
];

/// The earliest day the views take (no workspace is older).
const FIRST_DAY: (i32, u32, u32) = (2000, 1, 1);

/// A role a member held: its id when the event recorded it, and the name recorded with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRole {
    pub id: Option<i64>,
    pub name: String,
}

/// Active, or archived (roles kept for a restore).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Active,
    Archived,
}

impl Standing {
    pub fn label(self) -> &'static str {
        match self {
            Standing::Active => "Active",
            Standing::Archived => "Archived",
        }
    }
}

/// One member at the instant: the address the log labels them with, their status and
/// their roles, the primary first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub label: String,
    pub standing: Standing,
    pub roles: Vec<HeldRole>,
}

/// Everyone with a membership at the instant (by member id), how those who had one and
/// lost it lost it, and the last name the log recorded for each role id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    pub members: BTreeMap<i64, Membership>,
    /// Member id → (label, `removed` or `left`) for memberships that ended.
    pub ended: HashMap<i64, (String, &'static str)>,
    pub role_names: HashMap<i64, String>,
}

fn ids(value: Option<&Value>) -> Option<Vec<i64>> {
    value?.as_array()?.iter().map(Value::as_i64).collect()
}

fn names(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Roster {
    /// The roles an event's side (`after`) records: `role_ids` (named in order by `roles`
    /// when it has them), with `primary_role_id` moved first; an event recorded before ids
    /// were kept gives the names alone (`primary` first).
    fn roles_of(&mut self, side: &Value) -> Vec<HeldRole> {
        let recorded = names(side.get("roles"));
        let mut roles: Vec<HeldRole> = match ids(side.get("role_ids")) {
            Some(role_ids) => role_ids
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    if let Some(name) = recorded.get(i).filter(|_| recorded.len() == role_ids.len())
                    {
                        self.role_names.insert(*id, name.clone());
                    }
                    HeldRole {
                        id: Some(*id),
                        name: self.role_names.get(id).cloned().unwrap_or_default(),
                    }
                })
                .collect(),
            None => recorded
                .into_iter()
                .map(|name| HeldRole { id: None, name })
                .collect(),
        };
        let primary = match side.get("primary_role_id").and_then(Value::as_i64) {
            Some(id) => roles.iter().position(|r| r.id == Some(id)),
            None => side
                .get("primary")
                .and_then(Value::as_str)
                .and_then(|name| roles.iter().position(|r| r.id.is_none() && r.name == name)),
        };
        if let Some(at) = primary {
            let first = roles.remove(at);
            roles.insert(0, first);
        }
        roles
    }

    fn admit(&mut self, member_id: i64, label: String, standing: Standing, roles: Vec<HeldRole>) {
        self.ended.remove(&member_id);
        self.members.insert(
            member_id,
            Membership {
                label,
                standing,
                roles,
            },
        );
    }

    fn apply(&mut self, event: &AuditEvent) {
        let changes: Value = serde_json::from_str(&event.changes).unwrap_or(Value::Null);
        let after = changes.get("after").cloned().unwrap_or(Value::Null);
        let label = event.target_label.clone().unwrap_or_default();
        let Some(target) = event.target_id else {
            return;
        };
        match event.action.as_str() {
            "member.joined" | "member.rejoined" => {
                let roles = self.roles_of(&after);
                match after.get("status").and_then(Value::as_str) {
                    Some("removed") => {
                        self.members.remove(&target);
                        self.ended.insert(target, (label, "removed"));
                    }
                    Some("archived") => self.admit(target, label, Standing::Archived, roles),
                    _ => self.admit(target, label, Standing::Active, roles),
                }
            }
            "member.roles_changed" => {
                let roles = self.roles_of(&after);
                if let Some(member) = self.members.get_mut(&target) {
                    member.roles = roles;
                    member.label = label;
                }
            }
            "member.archived" | "member.restored" => {
                if let Some(member) = self.members.get_mut(&target) {
                    member.standing = if event.action == "member.archived" {
                        Standing::Archived
                    } else {
                        Standing::Active
                    };
                    member.label = label;
                }
            }
            "member.removed" | "member.left" => {
                self.members.remove(&target);
                let how = if event.action == "member.left" {
                    "left"
                } else {
                    "removed"
                };
                self.ended.insert(target, (label, how));
            }
            "workspace.ownership_transferred" => self.transfer(target, &after),
            "role.deleted" => {
                self.role_names.insert(target, label);
                for member in self.members.values_mut() {
                    let was_primary = member.roles.first().is_some_and(|r| r.id == Some(target));
                    member.roles.retain(|r| r.id != Some(target));
                    // The deletion makes the member's lowest role id their primary.
                    let next = member
                        .roles
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.id.is_some())
                        .min_by_key(|(_, r)| r.id)
                        .map(|(at, _)| at);
                    if let Some(at) = next.filter(|_| was_primary) {
                        let moved = member.roles.remove(at);
                        member.roles.insert(0, moved);
                    }
                }
            }
            _ => {}
        }
    }

    /// The new Owner (`target`) and the previous one take the roles the event records; an
    /// event recorded before ids were kept moves the names (Owner to the new one, Admin
    /// to the previous one).
    fn transfer(&mut self, new_owner: i64, after: &Value) {
        let previous = after
            .get("previous_owner_member_id")
            .and_then(Value::as_i64);
        let names = self.role_names.clone();
        let held = |ids: Vec<i64>| -> Vec<HeldRole> {
            ids.into_iter()
                .map(|id| HeldRole {
                    id: Some(id),
                    name: names.get(&id).cloned().unwrap_or_default(),
                })
                .collect()
        };
        match (ids(after.get("role_ids")), previous) {
            (Some(new_roles), Some(previous)) => {
                let old_roles = ids(after.get("previous_owner_role_ids")).unwrap_or_default();
                if let Some(member) = self.members.get_mut(&new_owner) {
                    member.roles = held(new_roles);
                }
                if let Some(member) = self.members.get_mut(&previous) {
                    member.roles = held(old_roles);
                }
            }
            _ => {
                let owner = HeldRole {
                    id: None,
                    name: "Owner".into(),
                };
                for member in self.members.values_mut() {
                    if let Some(at) = member.roles.iter().position(|r| r.name == "Owner") {
                        member.roles[at] = HeldRole {
                            id: None,
                            name: "Admin".into(),
                        };
                    }
                }
                if let Some(member) = self.members.get_mut(&new_owner) {
                    member.roles.retain(|r| r.name != "Admin");
                    member.roles.insert(0, owner);
                }
            }
        }
    }
}

/// The pure core: the memberships after these events, applied in the order given (the
/// caller passes them ordered by time, then id).
pub fn replay<'a>(events: impl IntoIterator<Item = &'a AuditEvent>) -> Roster {
    replay_from(Checkpoint::start(), events, NaiveDateTime::MIN).0
}

/// How close to the present a checkpoint may be. An event carries the time its INSERT was
/// sent, so one still committing, or from an instance whose clock runs behind, can land
/// behind the newest; an hour covers both with room.
pub const SETTLED: TimeDelta = TimeDelta::hours(1);

/// Membership events between checkpoints: at least this many, and at least twice the
/// roster's size, so the checkpoints together stay smaller than the events they skip.
pub const MIN_SPACING: i64 = 10_000;

/// The roster after the workspace's first `events` membership events, the last of them
/// `last_event_id` recorded at `last_event_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub events: i64,
    pub last_event_id: i64,
    pub last_event_at: NaiveDateTime,
    pub roster: Roster,
}

impl Checkpoint {
    /// Where the next checkpoint falls after this one.
    fn next(&self) -> i64 {
        let members = i64::try_from(self.roster.members.len()).unwrap_or(i64::MAX / 4);
        self.events + MIN_SPACING.max(2 * members)
    }

    fn start() -> Self {
        Checkpoint {
            events: 0,
            last_event_id: 0,
            last_event_at: NaiveDateTime::MIN,
            roster: Roster::default(),
        }
    }

    /// Whether `event` comes after the checkpoint's last event in replay order.
    fn precedes(&self, event: &AuditEvent) -> bool {
        (event.created_at, event.id) > (self.last_event_at, self.last_event_id)
    }
}

/// Replays `events` (in order, each after `from`'s last) on top of `from`, and returns the
/// roster with the checkpoints passed on the way that lie before `settled_before`.
pub fn replay_from<'a>(
    from: Checkpoint,
    events: impl IntoIterator<Item = &'a AuditEvent>,
    settled_before: NaiveDateTime,
) -> (Roster, Vec<Checkpoint>) {
    let mut next = from.next();
    let (mut roster, mut count) = (from.roster, from.events);
    let mut passed = Vec::new();
    for event in events {
        roster.apply(event);
        count += 1;
        if count == next {
            if event.created_at >= settled_before {
                // Too recent to be final; every later one is too.
                next = i64::MAX;
                continue;
            }
            let checkpoint = Checkpoint {
                events: count,
                last_event_id: event.id,
                last_event_at: event.created_at,
                roster: roster.clone(),
            };
            next = checkpoint.next();
            passed.push(checkpoint);
        }
    }
    (roster, passed)
}

/// (member id, label, archived, roles as (role id, name)), the primary role first.
type StoredMember = (i64, String, bool, Vec<(Option<i64>, String)>);

/// A roster as stored in a checkpoint: compact rows, no repeated keys.
#[derive(Serialize, Deserialize)]
struct StoredRoster {
    members: Vec<StoredMember>,
    /// (member id, label, left rather than removed).
    ended: Vec<(i64, String, bool)>,
    role_names: Vec<(i64, String)>,
}

impl Roster {
    fn to_stored(&self) -> String {
        let stored = StoredRoster {
            members: self
                .members
                .iter()
                .map(|(id, m)| {
                    let roles = m.roles.iter().map(|r| (r.id, r.name.clone())).collect();
                    (
                        *id,
                        m.label.clone(),
                        m.standing == Standing::Archived,
                        roles,
                    )
                })
                .collect(),
            ended: self
                .ended
                .iter()
                .map(|(id, (label, how))| (*id, label.clone(), *how == "left"))
                .collect(),
            role_names: self
                .role_names
                .iter()
                .map(|(id, name)| (*id, name.clone()))
                .collect(),
        };
        serde_json::to_string(&stored).unwrap_or_default()
    }

    fn from_stored(text: &str) -> Option<Roster> {
        let stored: StoredRoster = serde_json::from_str(text).ok()?;
        Some(Roster {
            members: stored
                .members
                .into_iter()
                .map(|(id, label, archived, roles)| {
                    let standing = if archived {
                        Standing::Archived
                    } else {
                        Standing::Active
                    };
                    let roles = roles
                        .into_iter()
                        .map(|(id, name)| HeldRole { id, name })
                        .collect();
                    (
                        id,
                        Membership {
                            label,
                            standing,
                            roles,
                        },
                    )
                })
                .collect(),
            ended: stored
                .ended
                .into_iter()
                .map(|(id, label, left)| (id, (label, if left { "left" } else { "removed" })))
                .collect(),
            role_names: stored.role_names.into_iter().collect(),
        })
    }
}

/// The nearest checkpoint of the workspace whose last event was recorded before `until`.
fn nearest_checkpoint(
    conn: &mut DbConn,
    workspace_id: i64,
    until: NaiveDateTime,
) -> AppResult<Checkpoint> {
    let row: Option<(i64, i64, NaiveDateTime, String)> = roster_snapshots::table
        .filter(roster_snapshots::workspace_id.eq(workspace_id))
        .filter(roster_snapshots::last_event_at.lt(until))
        .order(roster_snapshots::events.desc())
        .select((
            roster_snapshots::events,
            roster_snapshots::last_event_id,
            roster_snapshots::last_event_at,
            roster_snapshots::roster,
        ))
        .first(conn)
        .optional()?;
    let checkpoint = row.and_then(|(events, last_event_id, last_event_at, text)| {
        let roster = Roster::from_stored(&text);
        if roster.is_none() {
            tracing::warn!(workspace_id, events, "unreadable roster checkpoint skipped");
        }
        Some(Checkpoint {
            events,
            last_event_id,
            last_event_at,
            roster: roster?,
        })
    });
    Ok(checkpoint.unwrap_or_else(Checkpoint::start))
}

/// Keeps the checkpoints a replay passed. They only save later replays work, so failing to
/// keep one (another request kept it first, or the database is busy) changes nothing the
/// page shows and is not an error.
fn keep_checkpoints(conn: &mut DbConn, workspace_id: i64, passed: &[Checkpoint]) {
    let now = crate::models::now();
    for checkpoint in passed {
        use diesel::sql_types::{BigInt, Text, Timestamp};
        let sql = crate::db::dialect(
            conn,
            "INSERT INTO roster_snapshots \
             (workspace_id, events, last_event_id, last_event_at, roster, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        );
        let kept = diesel::sql_query(sql)
            .bind::<BigInt, _>(workspace_id)
            .bind::<BigInt, _>(checkpoint.events)
            .bind::<BigInt, _>(checkpoint.last_event_id)
            .bind::<Timestamp, _>(checkpoint.last_event_at)
            .bind::<Text, _>(checkpoint.roster.to_stored())
            .bind::<Timestamp, _>(now)
            .execute(conn);
        if let Err(error) = kept {
            tracing::info!(workspace_id, events = checkpoint.events, %error, "roster checkpoint not kept");
        }
    }
}

/// The workspace's roster just before `until`: the nearest checkpoint, then the membership
/// events recorded after it and before `until`, in order.
fn roster_until(conn: &mut DbConn, workspace_id: i64, until: NaiveDateTime) -> AppResult<Roster> {
    let from = nearest_checkpoint(conn, workspace_id, until)?;
    let mut query = audit_events::table
        .filter(audit_events::workspace_id.eq(workspace_id))
        .filter(audit_events::action.eq_any(MEMBERSHIP_ACTIONS))
        .filter(audit_events::created_at.lt(until))
        .into_boxed();
    if from.events > 0 {
        query = query.filter(audit_events::created_at.ge(from.last_event_at));
    }
    let events: Vec<AuditEvent> = query
        .order((audit_events::created_at.asc(), audit_events::id.asc()))
        .select(AuditEvent::as_select())
        .load(conn)?;
    // Events at the checkpoint's own instant may be in it already.
    let after: Vec<&AuditEvent> = events.iter().filter(|e| from.precedes(e)).collect();
    let (roster, passed) = replay_from(from, after, crate::models::now() - SETTLED);
    keep_checkpoints(conn, workspace_id, &passed);
    Ok(roster)
}

/// The end of `day`: midnight after it (UTC; workspaces have no time zone setting).
pub fn end_of(day: NaiveDate) -> NaiveDateTime {
    day.succ_opt().unwrap_or(day).and_time(NaiveTime::MIN)
}

/// A day typed as `YYYY-MM-DD`, from the first day any workspace could exist up to
/// `today`; the message says what is wrong.
pub fn parse_day(input: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let typed = input.trim();
    let day = NaiveDate::parse_from_str(typed, "%Y-%m-%d")
        .ok()
        .filter(|_| typed.len() == 10)
        .ok_or_else(|| "Enter a date like 2026-12-31.".to_string())?;
    let first = NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).unwrap_or(day);
    if day > today {
        return Err(format!(
            "Choose today ({}) or an earlier day: the log cannot tell the future.",
            today.format("%Y-%m-%d")
        ));
    }
    if day < first {
        return Err("Choose a day from the year 2000 on.".into());
    }
    Ok(day)
}

/// Today in UTC, the last day the views take.
pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// One member of the historical list, in words.
#[derive(Clone, Debug)]
pub struct MemberThen {
    pub member_id: i64,
    /// The person's name now (their account's), else the address the log recorded.
    pub name: String,
    /// The address the log labelled them with.
    pub email: String,
    pub standing: Standing,
    /// Role names, the primary first: each role's current name, or the name recorded in the
    /// log when the role was deleted since.
    pub roles: Vec<String>,
}

/// Names for the rows: the workspace's roles now and the members' names now.
struct Names {
    roles: HashMap<i64, String>,
    people: HashMap<i64, String>,
}

impl Names {
    fn load<'a>(
        conn: &mut DbConn,
        workspace_id: i64,
        members: impl Iterator<Item = &'a i64>,
    ) -> AppResult<Self> {
        let roles = Role::for_workspace(conn, workspace_id)?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        let ids: Vec<i64> = members.copied().collect();
        let mut people = HashMap::new();
        for chunk in ids.chunks(1000) {
            for (id, name, _) in Member::names(conn, chunk)? {
                people.insert(id, name);
            }
        }
        Ok(Names { roles, people })
    }

    fn role(&self, role: &HeldRole, roster: &Roster) -> String {
        role.id
            .and_then(|id| self.roles.get(&id).or_else(|| roster.role_names.get(&id)))
            .cloned()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| role.name.clone())
    }

    fn roles(&self, roles: &[HeldRole], roster: &Roster) -> Vec<String> {
        roles.iter().map(|r| self.role(r, roster)).collect()
    }

    fn person(&self, member_id: i64, label: &str) -> String {
        self.people
            .get(&member_id)
            .cloned()
            .unwrap_or_else(|| label.to_string())
    }
}

fn by_name<T>(rows: &mut [T], key: impl Fn(&T) -> (String, String)) {
    rows.sort_by_cached_key(|row| {
        let (name, email) = key(row);
        (name.to_lowercase(), email)
    });
}

/// The workspace's members at the end of `day`, by name.
pub fn members_as_of(
    conn: &mut DbConn,
    workspace_id: i64,
    day: NaiveDate,
) -> AppResult<Vec<MemberThen>> {
    let roster = roster_until(conn, workspace_id, end_of(day))?;
    let names = Names::load(conn, workspace_id, roster.members.keys())?;
    let mut rows: Vec<MemberThen> = roster
        .members
        .iter()
        .map(|(id, member)| MemberThen {
            member_id: *id,
            name: names.person(*id, &member.label),
            email: member.label.clone(),
            standing: member.standing,
            roles: names.roles(&member.roles, &roster),
        })
        .collect();
    by_name(&mut rows, |r| (r.name.clone(), r.email.clone()));
    Ok(rows)
}

/// One line of the diff: who, how (joined, restored, archived, removed, left), roles
/// before and after.
#[derive(Clone, Debug)]
pub struct DiffRow {
    pub member_id: i64,
    pub name: String,
    pub email: String,
    pub how: &'static str,
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// Who joined, who left and whose roles changed between the end of one day and another.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    pub joined: Vec<DiffRow>,
    pub left: Vec<DiffRow>,
    pub changed: Vec<DiffRow>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty() && self.changed.is_empty()
    }
}

fn active(roster: &Roster, id: i64) -> bool {
    roster
        .members
        .get(&id)
        .is_some_and(|m| m.standing == Standing::Active)
}

/// The pure comparison of two rosters: joined (active at the end, not at the start: new,
/// or restored), left (active at the start, not at the end: archived, removed, left) and
/// role changes of those who were members at both ends. Names are filled by the caller.
pub fn compare(start: &Roster, end: &Roster) -> Vec<(i64, &'static str)> {
    let mut out = Vec::new();
    let ids: std::collections::BTreeSet<i64> = start
        .members
        .keys()
        .chain(end.members.keys())
        .copied()
        .collect();
    for id in ids {
        let (was, is) = (active(start, id), active(end, id));
        let how = match (was, is) {
            (false, true) if start.members.contains_key(&id) => "restored",
            (false, true) => "joined",
            (true, false) if end.members.contains_key(&id) => "archived",
            (true, false) => end.ended.get(&id).map(|(_, how)| *how).unwrap_or("removed"),
            _ => match (start.members.get(&id), end.members.get(&id)) {
                (Some(a), Some(b)) if a.roles != b.roles => "roles changed",
                _ => continue,
            },
        };
        out.push((id, how));
    }
    out
}

/// What changed between the end of `from` and the end of `to`.
pub fn diff(
    conn: &mut DbConn,
    workspace_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Diff> {
    let start = roster_until(conn, workspace_id, end_of(from))?;
    let end = roster_until(conn, workspace_id, end_of(to))?;
    let changes = compare(&start, &end);
    let names = Names::load(conn, workspace_id, changes.iter().map(|(id, _)| id))?;
    let mut diff = Diff::default();
    for (id, how) in changes {
        let label = end
            .members
            .get(&id)
            .map(|m| m.label.clone())
            .or_else(|| end.ended.get(&id).map(|(label, _)| label.clone()))
            .or_else(|| start.members.get(&id).map(|m| m.label.clone()))
            .unwrap_or_default();
        let roles = |roster: &Roster| {
            roster
                .members
                .get(&id)
                .map(|m| names.roles(&m.roles, roster))
                .unwrap_or_default()
        };
        let row = DiffRow {
            member_id: id,
            name: names.person(id, &label),
            email: label,
            how,
            before: roles(&start),
            after: roles(&end),
        };
        match how {
            "joined" | "restored" => diff.joined.push(row),
            "roles changed" => diff.changed.push(row),
            _ => diff.left.push(row),
        }
    }
    for rows in [&mut diff.joined, &mut diff.left, &mut diff.changed] {
        by_name(rows, |r| (r.name.clone(), r.email.clone()));
    }
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: i64, action: &str, target: i64, label: &str, changes: Value) -> AuditEvent {
        AuditEvent {
            id,
            workspace_id: Some(1),
            actor_account_id: None,
            action: action.into(),
            target_type: Some(
                if action.starts_with("role.") {
                    "role"
                } else {
                    "member"
                }
                .into(),
            ),
            target_id: Some(target),
            target_label: Some(label.into()),
            changes: changes.to_string(),
            ip: None,
            created_at: NaiveDateTime::default() + chrono::TimeDelta::seconds(id),
        }
    }

    fn joined(id: i64, member: i64, label: &str, roles: &[(i64, &str)]) -> AuditEvent {
        let ids: Vec<i64> = roles.iter().map(|r| r.0).collect();
        let names: Vec<&str> = roles.iter().map(|r| r.1).collect();
        event(
            id,
            "member.joined",
            member,
            label,
            json!({"after": {"roles": names, "role_ids": ids, "seat_type": "member"}}),
        )
    }

    fn role_names(roster: &Roster, member: i64) -> Vec<String> {
        roster.members[&member]
            .roles
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }

    #[test]
    fn joins_role_changes_and_endings_replay_in_order() {
        let events = vec![
            joined(1, 10, "olivia@a.test", &[(1, "Owner")]),
            joined(2, 11, "ana@a.test", &[(4, "Member")]),
            joined(3, 12, "ben@a.test", &[(4, "Member")]),
            event(
                4,
                "member.roles_changed",
                11,
                "ana@a.test",
                json!({"after": {"roles": ["Member", "Admin"], "primary": "Admin", "role_ids": [4, 2], "primary_role_id": 2}}),
            ),
            event(5, "member.archived", 12, "ben@a.test", json!({})),
        ];
        let roster = replay(&events);
        assert_eq!(roster.members.len(), 3);
        assert_eq!(role_names(&roster, 11), ["Admin", "Member"]);
        assert_eq!(roster.members[&12].standing, Standing::Archived);
        assert_eq!(role_names(&roster, 12), ["Member"], "archived keeps roles");

        let mut later = events.clone();
        later.push(event(6, "member.restored", 12, "ben@a.test", json!({})));
        later.push(event(7, "member.left", 11, "ana@a.test", json!({})));
        let roster = replay(&later);
        assert_eq!(roster.members[&12].standing, Standing::Active);
        assert!(!roster.members.contains_key(&11));
        assert_eq!(roster.ended[&11].1, "left");
    }

    #[test]
    fn a_rejoin_comes_back_with_the_roles_it_records() {
        let events = vec![
            joined(1, 11, "ana@a.test", &[(4, "Member")]),
            event(2, "member.removed", 11, "ana@a.test", json!({})),
            event(
                3,
                "member.rejoined",
                11,
                "ana@a.test",
                json!({"after": {"status": "active", "role_ids": [5], "roles": ["Viewer"]}}),
            ),
        ];
        let roster = replay(&events[..2]);
        assert!(roster.members.is_empty());
        assert_eq!(roster.ended[&11].1, "removed");
        let roster = replay(&events);
        assert_eq!(role_names(&roster, 11), ["Viewer"]);
        assert!(roster.ended.is_empty());
    }

    #[test]
    fn a_transfer_moves_both_owners_roles() {
        let events = vec![
            joined(1, 10, "olivia@a.test", &[(1, "Owner")]),
            joined(2, 11, "ana@a.test", &[(2, "Admin")]),
            event(
                3,
                "workspace.ownership_transferred",
                11,
                "ana@a.test",
                json!({"after": {"role_ids": [1], "previous_owner_member_id": 10, "previous_owner_role_ids": [2]}}),
            ),
        ];
        let roster = replay(&events);
        assert_eq!(role_names(&roster, 11), ["Owner"]);
        assert_eq!(role_names(&roster, 10), ["Admin"]);
    }

    #[test]
    fn a_deleted_role_leaves_its_holders_and_keeps_its_recorded_name() {
        let events = vec![
            joined(1, 11, "ana@a.test", &[(7, "Auditors"), (4, "Member")]),
            event(2, "role.deleted", 7, "Auditors", json!({})),
        ];
        let before = replay(&events[..1]);
        assert_eq!(role_names(&before, 11), ["Auditors", "Member"]);
        assert_eq!(before.role_names[&7], "Auditors");
        let after = replay(&events);
        assert_eq!(role_names(&after, 11), ["Member"]);
    }

    #[test]
    fn old_events_without_ids_replay_by_name() {
        let events = vec![event(
            1,
            "member.joined",
            10,
            "olivia@a.test",
            json!({"after": {"roles": ["Owner"], "seat_type": "builder"}}),
        )];
        let roster = replay(&events);
        assert_eq!(
            roster.members[&10].roles,
            [HeldRole {
                id: None,
                name: "Owner".into()
            }]
        );
    }

    #[test]
    fn a_seeded_member_joins_in_its_seeded_status() {
        let events = vec![
            event(
                1,
                "member.joined",
                20,
                "x@a.test",
                json!({"after": {"status": "archived", "role_ids": [4], "roles": ["Member"]}}),
            ),
            event(
                2,
                "member.joined",
                21,
                "y@a.test",
                json!({"after": {"status": "removed", "role_ids": [], "roles": []}}),
            ),
        ];
        let roster = replay(&events);
        assert_eq!(roster.members[&20].standing, Standing::Archived);
        assert!(!roster.members.contains_key(&21));
    }

    #[test]
    fn the_comparison_names_joins_leaves_and_role_changes() {
        let start = replay(&[
            joined(1, 10, "o@a.test", &[(1, "Owner")]),
            joined(2, 11, "a@a.test", &[(4, "Member")]),
            joined(3, 12, "b@a.test", &[(4, "Member")]),
            joined(4, 13, "c@a.test", &[(4, "Member")]),
        ]);
        let end = replay(&[
            joined(1, 10, "o@a.test", &[(1, "Owner")]),
            joined(2, 11, "a@a.test", &[(2, "Admin")]),
            joined(3, 12, "b@a.test", &[(4, "Member")]),
            event(5, "member.archived", 12, "b@a.test", json!({})),
            joined(4, 13, "c@a.test", &[(4, "Member")]),
            event(6, "member.removed", 13, "c@a.test", json!({})),
            joined(7, 14, "d@a.test", &[(4, "Member")]),
        ]);
        assert_eq!(
            compare(&start, &end),
            [
                (11, "roles changed"),
                (12, "archived"),
                (13, "removed"),
                (14, "joined")
            ]
        );
        assert!(compare(&end, &end).is_empty());
    }

    /// `n` events over three members: joins, then role changes and an ending in turn.
    fn history(n: i64) -> Vec<AuditEvent> {
        (1..=n)
            .map(|i| match i {
                1..=3 => joined(i, 10 + i, &format!("m{i}@a.test"), &[(4, "Member")]),
                _ if i % 97 == 0 => event(i, "member.archived", 11, "m1@a.test", json!({})),
                _ if i % 89 == 0 => event(i, "member.restored", 11, "m1@a.test", json!({})),
                _ => event(
                    i,
                    "member.roles_changed",
                    10 + i % 3 + 1,
                    "m@a.test",
                    json!({"after": {"roles": ["Role"], "role_ids": [i % 7]}}),
                ),
            })
            .collect()
    }

    #[test]
    fn a_replay_resumed_from_a_checkpoint_matches_one_from_the_start() {
        let events = history(3 * MIN_SPACING + 500);
        let settled = NaiveDateTime::MAX;
        let (whole, passed) = replay_from(Checkpoint::start(), &events, settled);
        assert_eq!(whole, replay(&events));
        let counts: Vec<i64> = passed.iter().map(|c| c.events).collect();
        assert_eq!(counts, [MIN_SPACING, 2 * MIN_SPACING, 3 * MIN_SPACING]);
        for (at, checkpoint) in passed.iter().enumerate() {
            let upto = usize::try_from(checkpoint.events).unwrap_or_default();
            assert_eq!(checkpoint.roster, replay(&events[..upto]));
            assert_eq!(checkpoint.last_event_id, events[upto - 1].id);
            // Stored and read back, it resumes to the same roster and the same checkpoints.
            let stored = Checkpoint {
                roster: Roster::from_stored(&checkpoint.roster.to_stored()).unwrap_or_default(),
                ..checkpoint.clone()
            };
            assert_eq!(&stored, checkpoint);
            let rest: Vec<&AuditEvent> = events.iter().filter(|e| stored.precedes(e)).collect();
            let (resumed, later) = replay_from(stored, rest, settled);
            assert_eq!(resumed, whole);
            assert_eq!(later, passed[at + 1..]);
        }
    }

    #[test]
    fn no_checkpoint_is_taken_at_an_unsettled_event() {
        let events = history(2 * MIN_SPACING + 1);
        let settled = events[usize::try_from(MIN_SPACING).unwrap_or_default()].created_at;
        let (_, passed) = replay_from(Checkpoint::start(), &events, settled);
        assert_eq!(passed.len(), 1, "only the first lies before {settled}");
        let (_, none) = replay_from(Checkpoint::start(), &events, events[0].created_at);
        assert!(none.is_empty());
    }

    #[test]
    fn a_large_roster_spaces_its_checkpoints_by_twice_its_size() {
        let members = MIN_SPACING;
        let events: Vec<AuditEvent> = (1..=3 * members)
            .map(|i| joined(i, i, &format!("m{i}@a.test"), &[(4, "Member")]))
            .collect();
        let (_, passed) = replay_from(Checkpoint::start(), &events, NaiveDateTime::MAX);
        let counts: Vec<i64> = passed.iter().map(|c| c.events).collect();
        assert_eq!(counts, [MIN_SPACING, 3 * MIN_SPACING]);
    }

    #[test]
    fn days_are_checked() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap_or_default();
        assert_eq!(
            parse_day(" 2026-12-02 ", today),
            Ok(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap_or_default())
        );
        assert!(parse_day("2026-13-40", today).is_err());
        assert!(parse_day("yesterday", today).is_err());
        assert!(parse_day("2026-12-4", today).is_err());
        assert!(parse_day("2026-12-04", today)
            .expect_err("a future day")
            .contains("earlier"));
        assert_eq!(end_of(today).to_string(), "2026-12-04 00:00:00");
    }
}
