//! The review of typed addresses: each entry's verdict, in the order typed, and how many
//! the seats and the rolling daily limit let go now. Nothing is sent unless every entry
//! can be (an entry listed twice is only a note: it is sent once); the page shows the
//! review and offers to send the ones that can go.

use std::collections::HashSet;

use chrono::{NaiveDateTime, TimeDelta};

use crate::db::DbConn;
use crate::domain::{AddressEntry, AddressList, PersonName};
use crate::email::EmailAddress;
use crate::error::AppResult;
use crate::models;
use crate::models::invite::{self, Invite};
use crate::models::workspace::Workspace;
use crate::services::access::Access;
use crate::services::seats::Seats;

/// Domains people mistype, and what they meant.
const TYPOS: &[(&str, &str)] = &[
    ("gmial.com", "gmail.com"),
    ("gmai.com", "gmail.com"),
    ("gmal.com", "gmail.com"),
    ("gnail.com", "gmail.com"),
    ("gamil.com", "gmail.com"),
    ("gmail.co", "gmail.com"),
    ("gmail.con", "gmail.com"),
    ("hotmial.com", "hotmail.com"),
    ("hotmal.com", "hotmail.com"),
    ("hotmail.co", "hotmail.com"),
    ("outlok.com", "outlook.com"),
    ("outloo.com", "outlook.com"),
    ("yaho.com", "yahoo.com"),
    ("yahooo.com", "yahoo.com"),
    ("iclod.com", "icloud.com"),
    ("icloud.co", "icloud.com"),
];

/// One address's verdict in the review table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    New,
    Invalid(String),
    /// Listed again (same canonical address): a note, sent once.
    Duplicate,
    AlreadyMember,
    AlreadyInvited {
        invite_id: i64,
    },
    LikelyTypo {
        suggestion: String,
    },
}

impl Verdict {
    /// This entry would be invited.
    pub fn is_acceptable(&self) -> bool {
        matches!(self, Verdict::New)
    }

    /// This entry stops the batch until it is fixed (a repeat does not: it is sent once).
    pub fn blocks(&self) -> bool {
        !matches!(self, Verdict::New | Verdict::Duplicate)
    }
}

#[derive(Clone, Debug)]
pub struct ReviewLine {
    /// The entry as typed (what the review's button posts again).
    pub typed: String,
    /// The address part, as typed.
    pub address: String,
    /// The name written with the address.
    pub name: Option<String>,
    pub verdict: Verdict,
}

/// The workspace's rolling 24-hour invite limit as it stands.
#[derive(Clone, Debug)]
pub struct DailyLimit {
    pub limit: i64,
    /// Invites created in the last 24 hours.
    pub used: i64,
    /// When the oldest of those leaves the window (and one more may go).
    pub frees_at: Option<NaiveDateTime>,
    pub now: NaiveDateTime,
}

impl DailyLimit {
    pub(super) fn load(
        conn: &mut DbConn,
        workspace: &Workspace,
        now: NaiveDateTime,
    ) -> AppResult<Self> {
        let (used, oldest) = Invite::created_since(conn, workspace.id, now - TimeDelta::hours(24))?;
        Ok(DailyLimit {
            limit: i64::from(workspace.daily_invite_limit),
            used,
            frees_at: oldest.map(|t| t + TimeDelta::hours(24)),
            now,
        })
    }

    /// How many more may be sent now.
    pub fn remaining(&self) -> i64 {
        (self.limit - self.used).max(0)
    }
}

/// Every entry's verdict, the seats free when it was made (`None`: unlimited) and the
/// daily limit.
#[derive(Clone, Debug)]
pub struct Review {
    pub lines: Vec<ReviewLine>,
    pub seats_free: Option<i64>,
    pub daily: DailyLimit,
}

impl Review {
    /// How many entries need attention (a repeat does not).
    pub fn unacceptable(&self) -> usize {
        self.lines.iter().filter(|l| l.verdict.blocks()).count()
    }

    /// How many entries were listed again (sent once).
    pub fn duplicates(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.verdict == Verdict::Duplicate)
            .count()
    }

    /// How many entries would be invited.
    pub fn new_count(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.verdict.is_acceptable())
            .count()
    }

    /// How many of the new ones the seats and the daily limit let go now.
    pub fn can_go(&self) -> usize {
        let mut cap = self.daily.remaining();
        if let Some(free) = self.seats_free {
            cap = cap.min(free.max(0));
        }
        self.new_count().min(usize::try_from(cap).unwrap_or(0))
    }

    /// The entries that can go now, as typed, in the order typed.
    pub fn sendable(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.verdict.is_acceptable())
            .take(self.can_go())
            .map(|l| l.typed.as_str())
            .collect()
    }

    /// More new entries than the daily limit lets go now.
    pub fn over_daily_limit(&self) -> bool {
        self.new_count() as i64 > self.daily.remaining()
    }
}

/// One address to invite, with the name written with it.
#[derive(Clone, Debug)]
pub(super) struct Invitee {
    pub email: EmailAddress,
    pub name: Option<PersonName>,
}

/// The review of typed addresses before anything is sent: what the form shows beside its
/// other errors, so that every problem is seen in one round. Read-only.
pub fn preview(conn: &mut DbConn, access: &Access, addresses: &AddressList) -> AppResult<Review> {
    let workspace = &access.workspace;
    let now = models::now();
    let (lines, _) = review(conn, workspace.id, addresses, now)?;
    let seats = Seats::load(conn, workspace, now)?;
    Ok(Review {
        lines,
        seats_free: seats.free(),
        daily: DailyLimit::load(conn, workspace, now)?,
    })
}

/// The verdict on every entry, in the order typed, and the addresses that are new.
/// Inside the invite's transaction, after the member lock, so "already a member" and
/// "already invited" are what the write is based on.
pub(super) fn review(
    conn: &mut DbConn,
    workspace_id: i64,
    addresses: &AddressList,
    now: NaiveDateTime,
) -> AppResult<(Vec<ReviewLine>, Vec<Invitee>)> {
    let read = read_entries(addresses);
    let canonicals: Vec<String> = read
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|i| i.email.canonical().to_string())
        .collect();
    let members: HashSet<String> =
        invite::active_member_addresses(conn, workspace_id, &canonicals)?
            .into_iter()
            .collect();
    let pending = Invite::pending_for(conn, workspace_id, &canonicals, now)?;
    let mut lines = Vec::with_capacity(read.len());
    let mut accepted = Vec::new();
    for (line, result) in read {
        let verdict = match result {
            Err(verdict) => verdict,
            Ok(invitee) => {
                let canonical = invitee.email.canonical();
                if members.contains(canonical) {
                    Verdict::AlreadyMember
                } else if let Some((_, id)) = pending.iter().find(|(c, _)| c == canonical) {
                    Verdict::AlreadyInvited { invite_id: *id }
                } else {
                    accepted.push(invitee);
                    Verdict::New
                }
            }
        };
        lines.push(ReviewLine { verdict, ..line });
    }
    Ok((lines, accepted))
}

/// What can be told from the text alone (invalid, listed twice, a likely typo) as a
/// verdict; the rest parsed, for the checks against the workspace.
fn read_entries(addresses: &AddressList) -> Vec<(ReviewLine, Result<Invitee, Verdict>)> {
    let mut seen = HashSet::new();
    addresses
        .entries()
        .iter()
        .map(|entry| {
            let line = ReviewLine {
                typed: entry.typed().to_string(),
                address: entry.address().to_string(),
                name: entry.written_name().map(str::to_string),
                verdict: Verdict::New,
            };
            (line, read_entry(entry, &mut seen))
        })
        .collect()
}

fn read_entry(entry: &AddressEntry, seen: &mut HashSet<String>) -> Result<Invitee, Verdict> {
    if let Some(problem) = entry.problem() {
        return Err(Verdict::Invalid(problem.to_string()));
    }
    let email =
        EmailAddress::parse(entry.address()).map_err(|e| Verdict::Invalid(e.to_string()))?;
    let name = entry
        .name()
        .map_err(|e| Verdict::Invalid(format!("The name: {e}")))?;
    if !seen.insert(email.canonical().to_string()) {
        return Err(Verdict::Duplicate);
    }
    if let Some(suggestion) = likely_typo(&email) {
        return Err(Verdict::LikelyTypo { suggestion });
    }
    Ok(Invitee { email, name })
}

/// The address as meant, when its domain is a common misspelling.
fn likely_typo(email: &EmailAddress) -> Option<String> {
    let (_, right) = TYPOS.iter().find(|(wrong, _)| *wrong == email.domain())?;
    let local = email
        .canonical()
        .rsplit_once('@')
        .map(|(l, _)| l)
        .unwrap_or_default();
    Some(format!("{local}@{right}"))
}
