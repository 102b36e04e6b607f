//! Invites: pending offers of membership, one per address, each holding a seat.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, email_addresses, invite_roles, invites, outbox, roles};
use crate::db::DbConn;
use crate::models::outbox::DeliveredVia;

/// What a person sees; `Expired` is computed from the time, never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteStatus {
    Pending,
    Accepted,
    Expired,
    Revoked,
}

impl InviteStatus {
    pub const ALL: [InviteStatus; 4] = [
        InviteStatus::Pending,
        InviteStatus::Accepted,
        InviteStatus::Expired,
        InviteStatus::Revoked,
    ];

    pub fn key(self) -> &'static str {
        match self {
            InviteStatus::Pending => "pending",
            InviteStatus::Accepted => "accepted",
            InviteStatus::Expired => "expired",
            InviteStatus::Revoked => "revoked",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        InviteStatus::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            InviteStatus::Pending => "Pending",
            InviteStatus::Accepted => "Accepted",
            InviteStatus::Expired => "Expired",
            InviteStatus::Revoked => "Revoked",
        }
    }
}

/// Stored states (`superseded`: an expired invite replaced by a new one for the address).
pub const PENDING: &str = "pending";
pub const ACCEPTED: &str = "accepted";
pub const REVOKED: &str = "revoked";
pub const SUPERSEDED: &str = "superseded";

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = invites)]
pub struct Invite {
    pub id: i64,
    pub workspace_id: i64,
    pub email: String,
    pub canonical: String,
    pub name: Option<String>,
    pub message: Option<String>,
    pub notification_email: Option<String>,
    pub metadata: String,
    pub seat_type: String,
    pub status: String,
    pub token_hash: String,
    pub invited_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub sent_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub accepted_at: Option<NaiveDateTime>,
    pub accepted_by: Option<i64>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<i64>,
    /// The unproving link's hash (shown to the inviter, mailed to a `notification_email`).
    pub link_token_hash: Option<String>,
}

/// Which of an invite's two links was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// The link mailed to the invited address: redeeming it proves the address.
    Mailed,
    /// The link shown to the inviter (and mailed to a `notification_email`): it redeems
    /// the invite but proves nothing about the address.
    Shared,
}

#[derive(Insertable)]
#[diesel(table_name = invites)]
pub struct NewInvite<'a> {
    pub workspace_id: i64,
    pub email: &'a str,
    pub canonical: &'a str,
    pub name: Option<&'a str>,
    pub message: Option<&'a str>,
    pub notification_email: Option<&'a str>,
    pub metadata: &'a str,
    pub seat_type: &'a str,
    pub status: &'a str,
    pub token_hash: &'a str,
    pub link_token_hash: Option<&'a str>,
    pub invited_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub sent_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl NewInvite<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(invites::table)
            .values(self)
            .returning(invites::id)
            .get_result(conn)
    }
}

/// One row of the Invites list, with everything shown beside it (no query per row).
#[derive(Clone, Debug)]
pub struct InviteListRow {
    pub invite: Invite,
    pub inviter: Option<String>,
    pub roles: Vec<String>,
    pub role_ids: Vec<i64>,
    pub account_exists: bool,
    pub delivery: Option<Delivery>,
    /// Accepted: the membership it made in this workspace (whatever its status now).
    pub member_id: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub status: String,
    pub last_error: Option<String>,
    /// How it left, once delivered.
    pub via: Option<DeliveredVia>,
}

impl Invite {
    pub fn status_at(&self, now: NaiveDateTime) -> InviteStatus {
        match self.status.as_str() {
            PENDING if self.expires_at > now => InviteStatus::Pending,
            PENDING | SUPERSEDED => InviteStatus::Expired,
            ACCEPTED => InviteStatus::Accepted,
            _ => InviteStatus::Revoked,
        }
    }

    /// The invite one of whose two links has this hash, and which link it is (compared
    /// again in constant time).
    pub fn find_by_token_hash(
        conn: &mut DbConn,
        hash: &str,
    ) -> QueryResult<Option<(Invite, LinkKind)>> {
        let found: Option<Invite> = invites::table
            .filter(
                invites::token_hash
                    .eq(hash)
                    .or(invites::link_token_hash.eq(hash)),
            )
            .select(Invite::as_select())
            .first(conn)
            .optional()?;
        Ok(found.and_then(|invite| {
            let kind = if crate::tokens::constant_time_eq(&invite.token_hash, hash) {
                LinkKind::Mailed
            } else if invite
                .link_token_hash
                .as_deref()
                .is_some_and(|h| crate::tokens::constant_time_eq(h, hash))
            {
                LinkKind::Shared
            } else {
                return None;
            };
            Some((invite, kind))
        }))
    }

    /// The invite a replaced link of it led to, and what replaced it (`REPLACED_BY_…`).
    pub fn find_by_replaced_hash(
        conn: &mut DbConn,
        hash: &str,
    ) -> QueryResult<Option<(Invite, String)>> {
        use crate::db::schema::replaced_invite_links as replaced;
        replaced::table
            .inner_join(invites::table)
            .filter(replaced::token_hash.eq(hash))
            .select((Invite::as_select(), replaced::replaced_by))
            .first(conn)
            .optional()
    }

    pub fn find_in_workspace(
        conn: &mut DbConn,
        workspace_id: i64,
        id: i64,
    ) -> QueryResult<Option<Invite>> {
        invites::table
            .filter(invites::workspace_id.eq(workspace_id))
            .filter(invites::id.eq(id))
            .select(Invite::as_select())
            .first(conn)
            .optional()
    }

    /// Live pending invites among these addresses: (canonical, invite id).
    pub fn pending_for(
        conn: &mut DbConn,
        workspace_id: i64,
        canonicals: &[String],
        now: NaiveDateTime,
    ) -> QueryResult<Vec<(String, i64)>> {
        invites::table
            .filter(invites::workspace_id.eq(workspace_id))
            .filter(invites::status.eq(PENDING))
            .filter(invites::expires_at.gt(now))
            .filter(invites::canonical.eq_any(canonicals))
            .select((invites::canonical, invites::id))
            .load(conn)
    }

    /// Marks expired pending invites of these addresses as superseded, freeing the
    /// one-pending-per-address slot for a new invite.
    pub fn supersede_expired(
        conn: &mut DbConn,
        workspace_id: i64,
        canonicals: &[String],
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            invites::table
                .filter(invites::workspace_id.eq(workspace_id))
                .filter(invites::status.eq(PENDING))
                .filter(invites::expires_at.le(now))
                .filter(invites::canonical.eq_any(canonicals)),
        )
        .set(invites::status.eq(SUPERSEDED))
        .execute(conn)
    }

    /// Seats held by invites: pending and not yet expired.
    pub fn reserved_seats(
        conn: &mut DbConn,
        workspace_id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<i64> {
        invites::table
            .filter(invites::workspace_id.eq(workspace_id))
            .filter(invites::status.eq(PENDING))
            .filter(invites::expires_at.gt(now))
            .count()
            .get_result(conn)
    }

    /// Invites created since `since` (the rolling daily limit) and the oldest of them.
    pub fn created_since(
        conn: &mut DbConn,
        workspace_id: i64,
        since: NaiveDateTime,
    ) -> QueryResult<(i64, Option<NaiveDateTime>)> {
        let count = invites::table
            .filter(invites::workspace_id.eq(workspace_id))
            .filter(invites::created_at.gt(since))
            .count()
            .get_result(conn)?;
        let oldest = invites::table
            .filter(invites::workspace_id.eq(workspace_id))
            .filter(invites::created_at.gt(since))
            .select(diesel::dsl::min(invites::created_at))
            .first(conn)?;
        Ok((count, oldest))
    }

    /// Role ids of an invite, in the order chosen (the first is primary).
    pub fn role_ids(conn: &mut DbConn, invite_id: i64) -> QueryResult<Vec<i64>> {
        invite_roles::table
            .filter(invite_roles::invite_id.eq(invite_id))
            .order(invite_roles::position)
            .select(invite_roles::role_id)
            .load(conn)
    }

    pub fn set_roles(conn: &mut DbConn, invite_id: i64, role_ids: &[i64]) -> QueryResult<()> {
        for (position, role_id) in role_ids.iter().enumerate() {
            diesel::insert_into(invite_roles::table)
                .values((
                    invite_roles::invite_id.eq(invite_id),
                    invite_roles::role_id.eq(role_id),
                    invite_roles::position.eq(position as i32),
                ))
                .execute(conn)?;
        }
        Ok(())
    }

    /// Pending invites sent by an account in a workspace (revoked when the sender leaves).
    pub fn pending_sent_by(
        conn: &mut DbConn,
        workspace_id: i64,
        account_id: i64,
    ) -> QueryResult<Vec<Invite>> {
        invites::table
            .filter(invites::workspace_id.eq(workspace_id))
            .filter(invites::invited_by.eq(account_id))
            .filter(invites::status.eq(PENDING))
            .order(invites::id)
            .select(Invite::as_select())
            .load(conn)
    }

    /// The Invites screen: newest first, filtered by displayed status, with roles,
    /// inviter, account existence and the latest delivery state in four queries.
    pub fn list(
        conn: &mut DbConn,
        workspace_id: i64,
        status: Option<InviteStatus>,
        now: NaiveDateTime,
        limit: i64,
    ) -> QueryResult<Vec<InviteListRow>> {
        let mut query = invites::table
            .left_join(accounts::table.on(accounts::id.nullable().eq(invites::invited_by)))
            .filter(invites::workspace_id.eq(workspace_id))
            .into_boxed();
        query = match status {
            Some(InviteStatus::Pending) => query
                .filter(invites::status.eq(PENDING))
                .filter(invites::expires_at.gt(now)),
            Some(InviteStatus::Expired) => query.filter(
                invites::status
                    .eq(SUPERSEDED)
                    .or(invites::status.eq(PENDING).and(invites::expires_at.le(now))),
            ),
            Some(InviteStatus::Accepted) => query.filter(invites::status.eq(ACCEPTED)),
            Some(InviteStatus::Revoked) => query.filter(invites::status.eq(REVOKED)),
            None => query,
        };
        let rows: Vec<(Invite, Option<String>)> = query
            .order((invites::created_at.desc(), invites::id.desc()))
            .limit(limit)
            .select((Invite::as_select(), accounts::name.nullable()))
            .load(conn)?;
        let ids: Vec<i64> = rows.iter().map(|(i, _)| i.id).collect();
        let canonicals: Vec<String> = rows.iter().map(|(i, _)| i.canonical.clone()).collect();
        let role_rows: Vec<(i64, i64, String)> = invite_roles::table
            .inner_join(roles::table)
            .filter(invite_roles::invite_id.eq_any(&ids))
            .order((invite_roles::invite_id, invite_roles::position))
            .select((invite_roles::invite_id, roles::id, roles::name))
            .load(conn)?;
        let existing: Vec<String> = email_addresses::table
            .filter(email_addresses::canonical.eq_any(&canonicals))
            // A login still unconfirmed is an account too (it signs in with that address).
            .filter(
                email_addresses::verified
                    .eq(true)
                    .or(email_addresses::is_primary.eq(true)),
            )
            .select(email_addresses::canonical)
            .load(conn)?;
        type DeliveryRow = (Option<i64>, String, Option<String>, Option<String>);
        let deliveries: Vec<DeliveryRow> = outbox::table
            .filter(outbox::invite_id.eq_any(&ids))
            .filter(outbox::kind.eq("invitation"))
            .order(outbox::id)
            .select((
                outbox::invite_id,
                outbox::status,
                outbox::last_error,
                outbox::delivered_via,
            ))
            .load(conn)?;
        let acceptors: Vec<i64> = rows
            .iter()
            .filter_map(|(i, _)| i.accepted_by.filter(|_| i.status == ACCEPTED))
            .collect();
        let memberships: Vec<(i64, i64)> = if acceptors.is_empty() {
            Vec::new()
        } else {
            use crate::db::schema::members;
            members::table
                .filter(members::workspace_id.eq(workspace_id))
                .filter(members::account_id.eq_any(&acceptors))
                .select((members::account_id, members::id))
                .load(conn)?
        };
        Ok(rows
            .into_iter()
            .map(|(invite, inviter)| {
                let (role_ids, roles) = role_rows
                    .iter()
                    .filter(|(id, _, _)| *id == invite.id)
                    .map(|(_, role_id, n)| (*role_id, n.clone()))
                    .unzip();
                let delivery = deliveries
                    .iter()
                    .rev()
                    .find(|(id, _, _, _)| *id == Some(invite.id))
                    .map(|(_, status, last_error, via)| Delivery {
                        status: status.clone(),
                        last_error: last_error.clone(),
                        via: via.as_deref().and_then(DeliveredVia::from_key),
                    });
                let member_id = match (invite.status.as_str(), invite.accepted_by) {
                    (ACCEPTED, Some(account)) => memberships
                        .iter()
                        .find(|(a, _)| *a == account)
                        .map(|(_, m)| *m),
                    _ => None,
                };
                InviteListRow {
                    member_id,
                    account_exists: existing.contains(&invite.canonical),
                    invite,
                    inviter,
                    roles,
                    role_ids,
                    delivery,
                }
            })
            .collect())
    }
}

/// An invite's two new links and its new term, when it is resent by `invited_by`.
pub struct Renewal<'a> {
    pub token_hash: &'a str,
    pub link_token_hash: &'a str,
    pub invited_by: i64,
    pub sent_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl Invite {
    /// Moves a pending, unexpired invite to accepted — only through the link it was found
    /// by (`kind`, `hash`). Single use: of concurrent redemptions, one gets `true`.
    pub fn take(
        conn: &mut DbConn,
        id: i64,
        kind: LinkKind,
        hash: &str,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let pending = invites::table
            .find(id)
            .filter(invites::status.eq(PENDING))
            .filter(invites::expires_at.gt(now));
        let accepted = (
            invites::status.eq(ACCEPTED),
            invites::accepted_at.eq(Some(now)),
        );
        let taken = match kind {
            LinkKind::Mailed => diesel::update(pending.filter(invites::token_hash.eq(hash)))
                .set(accepted)
                .execute(conn)?,
            LinkKind::Shared => diesel::update(pending.filter(invites::link_token_hash.eq(hash)))
                .set(accepted)
                .execute(conn)?,
        };
        Ok(taken == 1)
    }

    pub fn set_accepted_by(conn: &mut DbConn, id: i64, account_id: i64) -> QueryResult<()> {
        diesel::update(invites::table.find(id))
            .set(invites::accepted_by.eq(Some(account_id)))
            .execute(conn)
            .map(drop)
    }

    /// Replaces both links (neither old one works any more), the inviter and the term.
    pub fn renew(conn: &mut DbConn, id: i64, renewal: &Renewal<'_>) -> QueryResult<()> {
        let (mailed, shown): (String, Option<String>) = invites::table
            .find(id)
            .select((invites::token_hash, invites::link_token_hash))
            .first(conn)?;
        let old: Vec<&str> = std::iter::once(mailed.as_str())
            .chain(shown.as_deref())
            .collect();
        remember_replaced(conn, id, &old, REPLACED_BY_RESEND, renewal.sent_at)?;
        diesel::update(invites::table.find(id))
            .set((
                invites::token_hash.eq(renewal.token_hash),
                invites::link_token_hash.eq(Some(renewal.link_token_hash)),
                invites::invited_by.eq(Some(renewal.invited_by)),
                invites::expires_at.eq(renewal.expires_at),
                invites::sent_at.eq(renewal.sent_at),
            ))
            .execute(conn)
            .map(drop)
    }

    /// Replaces the unproving link of a pending, unexpired invite (the earlier one stops
    /// working; the proving link is untouched) and makes `invited_by` its inviter. `false`
    /// when it was no longer pending.
    pub fn replace_shared_link(
        conn: &mut DbConn,
        id: i64,
        link_token_hash: &str,
        invited_by: i64,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let shown: Option<Option<String>> = invites::table
            .find(id)
            .filter(invites::status.eq(PENDING))
            .filter(invites::expires_at.gt(now))
            .select(invites::link_token_hash)
            .first(conn)
            .optional()?;
        if let Some(Some(old)) = &shown {
            remember_replaced(conn, id, &[old.as_str()], REPLACED_BY_NEW_LINK, now)?;
        }
        let changed = diesel::update(
            invites::table
                .find(id)
                .filter(invites::status.eq(PENDING))
                .filter(invites::expires_at.gt(now)),
        )
        .set((
            invites::link_token_hash.eq(Some(link_token_hash)),
            invites::invited_by.eq(Some(invited_by)),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Revokes the invite if it is still pending; `false` when it no longer was.
    pub fn revoke_pending(
        conn: &mut DbConn,
        id: i64,
        by: Option<i64>,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let changed = diesel::update(invites::table.find(id).filter(invites::status.eq(PENDING)))
            .set((
                invites::status.eq(REVOKED),
                invites::revoked_at.eq(Some(now)),
                invites::revoked_by.eq(by),
            ))
            .execute(conn)?;
        Ok(changed == 1)
    }
}

/// Which of these addresses belong to an active member of the workspace: verified, or the
/// member's login while still unconfirmed (joined through a link that proved nothing).
/// The review's "already a member".
pub fn active_member_addresses(
    conn: &mut DbConn,
    workspace_id: i64,
    canonicals: &[String],
) -> QueryResult<Vec<String>> {
    use crate::db::schema::members;
    use crate::models::member::MemberStatus;
    email_addresses::table
        .inner_join(members::table.on(members::account_id.eq(email_addresses::account_id)))
        .filter(members::workspace_id.eq(workspace_id))
        .filter(members::status.eq(MemberStatus::Active.key()))
        .filter(
            email_addresses::verified
                .eq(true)
                .or(email_addresses::is_primary.eq(true)),
        )
        .filter(email_addresses::canonical.eq_any(canonicals))
        .select(email_addresses::canonical)
        .load(conn)
}

/// The name and slug of an invite's workspace, for the link's page.
pub fn workspace_label(conn: &mut DbConn, workspace_id: i64) -> QueryResult<(String, String)> {
    use crate::db::schema::workspaces;
    workspaces::table
        .find(workspace_id)
        .select((workspaces::name, workspaces::slug))
        .first(conn)
}

/// The invited address on the accepting account becomes (or stays) verified: redeemed
/// through the mailed link, which proves it.
pub fn verify_invited_address(
    conn: &mut DbConn,
    account_id: i64,
    canonical: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        email_addresses::table
            .filter(email_addresses::account_id.eq(account_id))
            .filter(email_addresses::canonical.eq(canonical))
            .filter(email_addresses::verified.eq(false)),
    )
    .set((
        email_addresses::verified.eq(true),
        email_addresses::verified_at.eq(Some(now)),
    ))
    .execute(conn)
    .map(drop)
}

/// What replaced a link: a resend (a new mail) or "Copy a new link".
pub const REPLACED_BY_RESEND: &str = "resend";
pub const REPLACED_BY_NEW_LINK: &str = "new_link";

/// Keeps the hashes of links an invite stops answering to, so they can say why.
fn remember_replaced(
    conn: &mut DbConn,
    invite_id: i64,
    hashes: &[&str],
    by: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    use crate::db::schema::replaced_invite_links as replaced;
    for hash in hashes {
        diesel::insert_into(replaced::table)
            .values((
                replaced::token_hash.eq(*hash),
                replaced::invite_id.eq(invite_id),
                replaced::replaced_by.eq(by),
                replaced::replaced_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
