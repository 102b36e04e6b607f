//! Seats, by SPEC's definition: every active member and every pending, unexpired
//! invitation holds one. The one place seats are counted, checked and described; every
//! check (invite, resend, restore, accept) and every label (Users, Invites, Settings) uses it.

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::error::{AppResult, Refusal};
use crate::models::invite::Invite;
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::access::Access;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seats {
    pub members: i64,
    pub pending_invites: i64,
    /// `None`: unlimited.
    pub limit: Option<i64>,
}

impl Seats {
    /// The workspace's seats now. Inside a write transaction, call it after the workspace
    /// lock (`services::locks`) so the count is what the write is based on.
    pub fn load(conn: &mut DbConn, workspace: &Workspace, now: NaiveDateTime) -> AppResult<Self> {
        Ok(Seats {
            members: i64::from(workspace.active_members),
            pending_invites: Invite::reserved_seats(conn, workspace.id, now)?,
            limit: workspace.seat_limit.map(i64::from),
        })
    }

    pub fn used(&self) -> i64 {
        self.members + self.pending_invites
    }

    /// Seats still free; `None` when unlimited.
    pub fn free(&self) -> Option<i64> {
        self.limit.map(|limit| (limit - self.used()).max(0))
    }

    /// More in use than the limit (after a downgrade): everyone stays, nobody new comes in.
    pub fn over_limit(&self) -> bool {
        self.limit.is_some_and(|limit| self.used() > limit)
    }

    /// Refused unless `needed` more seats are free.
    pub fn ensure_free(&self, needed: i64) -> Result<(), Refusal> {
        match self.free() {
            Some(free) if needed > free => Err(Refusal::general(format!(
                "Not enough seats: needs {needed} seat{}, {free} free — {}. Free a seat, revoke an invitation or upgrade the plan.",
                if needed == 1 { "" } else { "s" },
                self.label(),
            ))),
            _ => Ok(()),
        }
    }

    /// "5 of 10 seats used (3 members, 2 pending invitations)": the one wording, everywhere.
    pub fn label(&self) -> String {
        let breakdown = format!(
            "{} member{}, {} pending invitation{}",
            self.members,
            plural(self.members),
            self.pending_invites,
            plural(self.pending_invites)
        );
        match self.limit {
            Some(limit) => format!("{} of {limit} seats used ({breakdown})", self.used()),
            None => format!("{} seats used (unlimited): {breakdown}", self.used()),
        }
    }
}

/// Where the plan (and so the seat limit) is changed, for the link beside every seat label
/// (Users, Invites, Settings): the Settings page's plan section, offered only to whoever
/// may change it there (`billing.manage`, and `settings.manage` to open the page).
pub fn plan_link(access: &Access) -> Option<String> {
    (access.perms.allows(Permission::BillingManage)
        && access.perms.allows(Permission::SettingsManage))
    .then(|| format!("/w/{}/settings#plan-h", access.workspace.slug))
}

fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_formula_for_every_check() {
        let seats = Seats {
            members: 3,
            pending_invites: 2,
            limit: Some(6),
        };
        assert_eq!(seats.free(), Some(1));
        assert!(seats.ensure_free(1).is_ok());
        let refused = seats
            .ensure_free(2)
            .err()
            .map(|r| r.message)
            .unwrap_or_default();
        assert!(refused.starts_with("Not enough seats: needs 2 seats, 1 free — 5 of 6 seats used (3 members, 2 pending invitations)."), "{refused}");
        let full = Seats {
            limit: Some(4),
            ..seats
        };
        assert_eq!(full.free(), Some(0));
        assert!(full.over_limit());
        let unlimited = Seats {
            limit: None,
            ..seats
        };
        assert!(unlimited.ensure_free(1000).is_ok());
        assert_eq!(
            unlimited.label(),
            "5 seats used (unlimited): 3 members, 2 pending invitations"
        );
    }
}
