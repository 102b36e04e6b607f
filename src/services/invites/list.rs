//! The Invites screen's data: the roles the viewer may offer, the list with each pending
//! invite's acceptability and its buttons, the seats and how mail is delivered.

use chrono::NaiveDateTime;

use crate::db::DbConn;
use crate::error::AppResult;
use crate::models;
use crate::models::invite::{self, Invite, InviteListRow, InviteStatus};
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::services::roles::{authors_may_still_offer, grantable_roles, Offer};
use crate::services::seats::Seats;

/// How many invites the list shows.
const LIST_LIMIT: i64 = 200;

pub struct ListLine {
    pub row: InviteListRow,
    pub status: InviteStatus,
    /// Pending, but its inviter can no longer offer it: acceptance would be refused.
    pub withdrawn: bool,
    /// The row's buttons.
    pub actions: RowActions,
}

/// The buttons an invite's row offers, decided here once so every list showing invites
/// (the Invites screen, the Users screen's invited rows) offers the same ones; rendered by
/// the `row_actions` macro of `templates/invites/rows.html`.
#[derive(Clone, Debug)]
pub struct RowActions {
    pub id: i64,
    pub email: String,
    /// Resend: pending, or expired but not replaced (it mails two fresh links).
    pub resend: bool,
    /// Copy a new link: pending and unexpired (a fresh shown link, nothing mailed).
    pub copy_link: bool,
    /// Revoke…: pending and unexpired (asks to confirm first).
    pub revoke: bool,
}

impl RowActions {
    pub fn of(invite: &Invite, now: NaiveDateTime) -> Self {
        if invite.status != invite::PENDING {
            return RowActions {
                id: invite.id,
                email: invite.email.clone(),
                resend: false,
                copy_link: false,
                revoke: false,
            };
        }
        Self::of_pending(
            invite.id,
            &invite.email,
            invite.status_at(now) != InviteStatus::Pending,
        )
    }

    /// The buttons of an invitation stored as pending, live or past its expiry.
    pub fn of_pending(id: i64, email: &str, expired: bool) -> Self {
        RowActions {
            id,
            email: email.to_string(),
            resend: true,
            copy_link: !expired,
            revoke: !expired,
        }
    }

    /// Whether the row has any button at all.
    pub fn any(&self) -> bool {
        self.resend || self.copy_link || self.revoke
    }
}

pub struct InvitesScreen {
    /// The roles the viewer may offer (the form's choices).
    pub roles: Vec<Role>,
    pub lines: Vec<ListLine>,
    pub seats: Seats,
}

/// The screen for `access`, the list filtered by displayed status.
pub fn screen(
    conn: &mut DbConn,
    access: &Access,
    status: Option<InviteStatus>,
) -> AppResult<InvitesScreen> {
    let now = models::now();
    let roles = grantable_roles(conn, access)?;
    let rows = Invite::list(conn, access.workspace.id, status, now, LIST_LIMIT)?;
    let withdrawn = withdrawn(conn, access.workspace.id, &rows, now)?;
    let lines = rows
        .into_iter()
        .zip(withdrawn)
        .map(|(row, withdrawn)| ListLine {
            status: row.invite.status_at(now),
            actions: RowActions::of(&row.invite, now),
            row,
            withdrawn,
        })
        .collect();
    Ok(InvitesScreen {
        roles,
        lines,
        seats: Seats::load(conn, &access.workspace, now)?,
    })
}

/// For each row, whether it is pending but its inviter can no longer offer it: the same
/// check acceptance makes, for every pending row at once (fixed queries).
fn withdrawn(
    conn: &mut DbConn,
    workspace_id: i64,
    rows: &[InviteListRow],
    now: NaiveDateTime,
) -> AppResult<Vec<bool>> {
    let pending: Vec<usize> = (0..rows.len())
        .filter(|i| rows[*i].invite.status_at(now) == InviteStatus::Pending)
        .collect();
    let offers: Vec<Offer> = pending
        .iter()
        .map(|i| Offer {
            author_account_id: rows[*i].invite.invited_by,
            role_ids: rows[*i].role_ids.clone(),
        })
        .collect();
    let verdicts = authors_may_still_offer(conn, workspace_id, Permission::MembersInvite, &offers)?;
    let mut withdrawn = vec![false; rows.len()];
    for (i, verdict) in pending.into_iter().zip(verdicts) {
        withdrawn[i] = verdict.is_err();
    }
    Ok(withdrawn)
}
