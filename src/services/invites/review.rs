//! The review of typed addresses: each entry's verdict, in the order typed. Nothing is
//! sent unless every entry is new; the page shows the review and offers to send to the
//! acceptable ones only.

use std::collections::HashSet;

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::domain::AddressList;
use crate::email::EmailAddress;
use crate::error::AppResult;
use crate::models::invite::{self, Invite};

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
    Duplicate,
    AlreadyMember,
    AlreadyInvited { invite_id: i64 },
    LikelyTypo { suggestion: String },
}

impl Verdict {
    pub fn is_acceptable(&self) -> bool {
        matches!(self, Verdict::New)
    }
}

#[derive(Clone, Debug)]
pub struct ReviewLine {
    pub typed: String,
    pub verdict: Verdict,
}

/// Every entry's verdict, and the seats free when it was made (`None`: unlimited).
#[derive(Clone, Debug)]
pub struct Review {
    pub lines: Vec<ReviewLine>,
    pub seats_free: Option<i64>,
}

impl Review {
    /// How many entries need attention.
    pub fn unacceptable(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| !l.verdict.is_acceptable())
            .count()
    }

    /// The entries that would be invited, as typed.
    pub fn acceptable(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.verdict.is_acceptable())
            .map(|l| l.typed.as_str())
            .collect()
    }
}

/// The verdict on every entry, and the addresses that are new (all of them, when the
/// review has nothing to say). Inside the invite's transaction, after the member lock, so
/// "already a member" and "already invited" are what the write is based on.
pub(super) fn review(
    conn: &mut DbConn,
    workspace_id: i64,
    addresses: &AddressList,
    now: NaiveDateTime,
) -> AppResult<(Vec<ReviewLine>, Vec<EmailAddress>)> {
    let (mut lines, parsed) = read_entries(addresses);
    let canonicals: Vec<String> = parsed
        .iter()
        .map(|(_, e)| e.canonical().to_string())
        .collect();
    let members: HashSet<String> =
        invite::active_member_addresses(conn, workspace_id, &canonicals)?
            .into_iter()
            .collect();
    let pending = Invite::pending_for(conn, workspace_id, &canonicals, now)?;
    let mut accepted = Vec::new();
    for (typed, email) in parsed {
        let verdict = if members.contains(email.canonical()) {
            Verdict::AlreadyMember
        } else if let Some((_, id)) = pending.iter().find(|(c, _)| c == email.canonical()) {
            Verdict::AlreadyInvited { invite_id: *id }
        } else {
            accepted.push(email);
            Verdict::New
        };
        lines.push(ReviewLine { typed, verdict });
    }
    Ok((lines, accepted))
}

/// What can be told from the text alone: invalid, listed twice, a likely typo; the rest
/// parsed, for the checks against the workspace.
fn read_entries(addresses: &AddressList) -> (Vec<ReviewLine>, Vec<(String, EmailAddress)>) {
    let mut lines = Vec::new();
    let mut parsed = Vec::new();
    let mut seen = HashSet::new();
    for typed in addresses.entries() {
        let verdict = match EmailAddress::parse(typed) {
            Err(e) => Verdict::Invalid(e.to_string()),
            Ok(email) if !seen.insert(email.canonical().to_string()) => Verdict::Duplicate,
            Ok(email) => match likely_typo(&email) {
                Some(suggestion) => Verdict::LikelyTypo { suggestion },
                None => {
                    parsed.push((typed.clone(), email));
                    continue;
                }
            },
        };
        lines.push(ReviewLine {
            typed: typed.clone(),
            verdict,
        });
    }
    (lines, parsed)
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
