//! Invitations: creating them (validation, no escalation, seats and the daily limit in one
//! write transaction), resend and revoke, and accepting them.

use std::collections::HashSet;

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::mail::messages::{self, AcceptedMail, InvitationMail};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::EmailAddressRow;
use crate::models::invite::{self, Invite, LinkKind, NewInvite};
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::outbox::{self, NewMail};
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::services::members::join;
pub use crate::services::roles::grantable_roles;
use crate::services::roles::{self, Offer, OfferRefused};
use crate::services::seats::Seats;
use crate::tokens;

/// Most addresses one submit may carry (SPEC §4.13).
pub const MAX_ADDRESSES: usize = 500;

/// Splits the `emails` field on commas, semicolons, spaces and newlines.
pub fn split_addresses(raw: &str) -> Vec<&str> {
    raw.split([',', ';', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

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

/// Everything the inviter chose, already parsed.
#[derive(Clone, Debug)]
pub struct InviteRequest {
    pub emails: String,
    pub role_ids: Vec<i64>,
    pub seat: SeatType,
    pub name: Option<String>,
    pub message: Option<String>,
    pub notification_email: Option<EmailAddress>,
    pub metadata: String,
}

/// A created invite with its one-time shared link (shown once to the inviter, never
/// stored). That link redeems the invite but does not prove the address: only the other
/// link, mailed to the invited address, does.
#[derive(Clone, Debug)]
pub struct CreatedInvite {
    pub id: i64,
    pub email: String,
    pub link: String,
}

/// An invite's two fresh tokens and their hashes: `mailed` goes only to the invited address
/// (it proves it), `shared` is shown to the inviter and mailed to a `notification_email`.
struct InviteTokens {
    mailed: String,
    shared: String,
}

impl InviteTokens {
    fn generate() -> Self {
        InviteTokens {
            mailed: tokens::generate(),
            shared: tokens::generate(),
        }
    }

    /// The token the invitation mail carries: the proving one when it goes to the invited
    /// address, the shared one when it goes to someone else's mailbox.
    fn for_mail(&self, notification_email: bool) -> &str {
        if notification_email {
            &self.shared
        } else {
            &self.mailed
        }
    }
}

#[derive(Clone, Debug)]
pub enum CreateOutcome {
    Created(Vec<CreatedInvite>),
    /// Nothing was created: at least one address is not acceptable.
    Review {
        lines: Vec<ReviewLine>,
        seats_free: Option<i64>,
    },
    /// Nothing was created: not enough seats (`Seats::ensure_free`'s message).
    SeatLimit(String),
    /// Nothing was created: the rolling 24-hour limit would be passed.
    DailyLimit {
        limit: i64,
        used: i64,
        resets_at: NaiveDateTime,
    },
}

/// The workspace's member lock (`services::locks`): seats, invites and members share it.
pub(crate) use crate::services::locks::lock_workspace;

fn review(
    conn: &mut DbConn,
    workspace_id: i64,
    raw: &str,
    now: NaiveDateTime,
) -> AppResult<(Vec<ReviewLine>, Vec<EmailAddress>)> {
    let mut lines = Vec::new();
    let mut accepted = Vec::new();
    let mut seen = HashSet::new();
    let mut parsed = Vec::new();
    for typed in split_addresses(raw) {
        match EmailAddress::parse(typed) {
            Err(e) => lines.push(ReviewLine {
                typed: typed.to_string(),
                verdict: Verdict::Invalid(e.to_string()),
            }),
            Ok(email) => {
                if !seen.insert(email.canonical().to_string()) {
                    lines.push(ReviewLine {
                        typed: typed.to_string(),
                        verdict: Verdict::Duplicate,
                    });
                } else if let Some((_, right)) =
                    TYPOS.iter().find(|(wrong, _)| *wrong == email.domain())
                {
                    let local = email
                        .canonical()
                        .rsplit_once('@')
                        .map(|(l, _)| l)
                        .unwrap_or_default();
                    lines.push(ReviewLine {
                        typed: typed.to_string(),
                        verdict: Verdict::LikelyTypo {
                            suggestion: format!("{local}@{right}"),
                        },
                    });
                } else {
                    parsed.push((typed.to_string(), email));
                }
            }
        }
    }
    let canonicals: Vec<String> = parsed
        .iter()
        .map(|(_, e)| e.canonical().to_string())
        .collect();
    let members = active_member_addresses(conn, workspace_id, &canonicals)?;
    let pending = Invite::pending_for(conn, workspace_id, &canonicals, now)?;
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

/// Which of these addresses belong to an active member of the workspace: verified, or the
/// member's login while still unconfirmed (joined through a link that proved nothing).
fn active_member_addresses(
    conn: &mut DbConn,
    workspace_id: i64,
    canonicals: &[String],
) -> AppResult<HashSet<String>> {
    use crate::db::schema::{email_addresses, members};
    use diesel::prelude::*;
    let rows: Vec<String> = email_addresses::table
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
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

fn role_names(roles: &[Role], ids: &[i64]) -> Vec<String> {
    ids.iter()
        .filter_map(|id| roles.iter().find(|r| r.id == *id).map(|r| r.name.clone()))
        .collect()
}

/// Renders one invitation mail for the outbox (written in the invite's transaction).
fn invitation_mail(
    workspace_id: i64,
    invite_id: i64,
    recipient: &str,
    mail: &InvitationMail<'_>,
) -> AppResult<NewMail> {
    let rendered = messages::invitation(mail)?;
    Ok(NewMail {
        workspace_id: Some(workspace_id),
        invite_id: Some(invite_id),
        kind: "invitation",
        recipient: recipient.to_string(),
        subject: rendered.subject,
        text_body: rendered.text,
        html_body: rendered.html,
    })
}

fn expiry_date(at: NaiveDateTime) -> String {
    at.format("%-d %B %Y").to_string()
}

/// Creates one invite per address — all or none — with their mails, in one transaction.
pub fn create(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    request: &InviteRequest,
) -> AppResult<CreateOutcome> {
    write_transaction(conn, |conn| {
        let workspace = lock_workspace(conn, access.workspace.id)?;
        let now = models::now();
        let roles = Role::for_workspace(conn, workspace.id)?;
        let grants = roles::grants_by_role(conn, workspace.id)?;
        if !roles::may_grant_roles(&access.perms, &request.role_ids, &roles, &grants) {
            return Err(AppError::forbidden(Permission::MembersInvite));
        }
        let (lines, emails) = review(conn, workspace.id, &request.emails, now)?;
        let seats = Seats::load(conn, &workspace, now)?;
        if emails.is_empty() || lines.iter().any(|l| !l.verdict.is_acceptable()) {
            return Ok(CreateOutcome::Review {
                lines,
                seats_free: seats.free(),
            });
        }
        let needed = emails.len() as i64;
        if let Err(refusal) = seats.ensure_free(needed) {
            return Ok(CreateOutcome::SeatLimit(refusal.message));
        }
        let window_start = now - TimeDelta::hours(24);
        let (used_today, oldest) = Invite::created_since(conn, workspace.id, window_start)?;
        let limit = i64::from(workspace.daily_invite_limit);
        if used_today + needed > limit {
            let resets_at = oldest.map(|t| t + TimeDelta::hours(24)).unwrap_or(now);
            return Ok(CreateOutcome::DailyLimit {
                limit,
                used: used_today,
                resets_at,
            });
        }
        let canonicals: Vec<String> = emails.iter().map(|e| e.canonical().to_string()).collect();
        Invite::supersede_expired(conn, workspace.id, &canonicals, now)?;
        let names = role_names(&roles, &request.role_ids);
        let expires_at = now + TimeDelta::days(i64::from(workspace.invite_expiry_days));
        let mut created = Vec::with_capacity(emails.len());
        let mut mails = Vec::with_capacity(emails.len());
        let mut events = Vec::with_capacity(emails.len());
        for email in &emails {
            let tokens = InviteTokens::generate();
            let id = NewInvite {
                workspace_id: workspace.id,
                email: email.as_str(),
                canonical: email.canonical(),
                name: request.name.as_deref(),
                message: request.message.as_deref(),
                notification_email: request.notification_email.as_ref().map(|e| e.canonical()),
                metadata: &request.metadata,
                seat_type: request.seat.key(),
                status: invite::PENDING,
                token_hash: &tokens::hash(&tokens.mailed),
                link_token_hash: Some(&tokens::hash(&tokens.shared)),
                invited_by: Some(access.account.id),
                created_at: now,
                sent_at: now,
                expires_at,
            }
            .insert(conn)?;
            Invite::set_roles(conn, id, &request.role_ids)?;
            let recipient = request.notification_email.as_ref().unwrap_or(email);
            let mailed_link = links.invite(tokens.for_mail(request.notification_email.is_some()));
            let mail = InvitationMail {
                workspace: &workspace.name,
                inviter: &access.account.name,
                invitee_name: request.name.as_deref(),
                roles: &names,
                message: request.message.as_deref(),
                expires_on: expiry_date(expires_at),
                link: &mailed_link,
            };
            mails.push(invitation_mail(
                workspace.id,
                id,
                recipient.canonical(),
                &mail,
            )?);
            events.push(
                Event::new("invite.created")
                    .workspace(workspace.id)
                    .target("invite", id, email.canonical())
                    .changes(json!({"after": {
                        "email": email.canonical(),
                        "roles": names,
                        "seat_type": request.seat.key(),
                        "expires_at": expires_at.to_string(),
                    }})),
            );
            created.push(CreatedInvite {
                id,
                email: email.as_str().to_string(),
                link: links.invite(&tokens.shared),
            });
        }
        outbox::enqueue_all(conn, &mails, now)?;
        audit::record_all(conn, actor, &events)?;
        Ok(CreateOutcome::Created(created))
    })
}

/// Resend: a fresh link (the old one stops working) and a fresh expiry.
pub fn resend(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    invite_id: i64,
) -> AppResult<CreatedInvite> {
    write_transaction(conn, |conn| {
        use crate::db::schema::invites;
        use diesel::prelude::*;
        let workspace = lock_workspace(conn, access.workspace.id)?;
        let now = models::now();
        let invite =
            Invite::find_in_workspace(conn, workspace.id, invite_id)?.ok_or(AppError::NotFound)?;
        if invite.status != invite::PENDING {
            return Err(AppError::BadRequest(
                "Only a pending or expired invitation can be resent.".into(),
            ));
        }
        // Whoever resends makes the offer from now on (the mail names them): they must be
        // able to grant every role of it, by the same rule as a new invite.
        let roles = Role::for_workspace(conn, workspace.id)?;
        let grants = roles::grants_by_role(conn, workspace.id)?;
        let role_ids = Invite::role_ids(conn, invite.id)?;
        if !roles::may_grant_roles(&access.perms, &role_ids, &roles, &grants) {
            return Err(AppError::BadRequest(
                "You cannot resend this invitation: it offers roles you cannot grant.".into(),
            ));
        }
        // An expired invite holds no seat; resending takes one again.
        if invite.expires_at <= now {
            Seats::load(conn, &workspace, now)?
                .ensure_free(1)
                .map_err(|refusal| AppError::BadRequest(refusal.message))?;
        }
        // Both links are replaced: neither old one works any more.
        let tokens = InviteTokens::generate();
        let expires_at = now + TimeDelta::days(i64::from(workspace.invite_expiry_days));
        diesel::update(invites::table.find(invite.id))
            .set((
                invites::token_hash.eq(tokens::hash(&tokens.mailed)),
                invites::link_token_hash.eq(Some(tokens::hash(&tokens.shared))),
                invites::invited_by.eq(Some(access.account.id)),
                invites::expires_at.eq(expires_at),
                invites::sent_at.eq(now),
            ))
            .execute(conn)?;
        outbox::cancel_queued_for_invite(conn, invite.id)?;
        let names = role_names(&roles, &role_ids);
        let mailed_link = links.invite(tokens.for_mail(invite.notification_email.is_some()));
        let recipient = invite
            .notification_email
            .clone()
            .unwrap_or_else(|| invite.canonical.clone());
        let mail = InvitationMail {
            workspace: &workspace.name,
            inviter: &access.account.name,
            invitee_name: invite.name.as_deref(),
            roles: &names,
            message: invite.message.as_deref(),
            expires_on: expiry_date(expires_at),
            link: &mailed_link,
        };
        outbox::enqueue(
            conn,
            &invitation_mail(workspace.id, invite.id, &recipient, &mail)?,
            now,
        )?;
        audit::record(
            conn,
            actor,
            Event::new("invite.resent")
                .workspace(workspace.id)
                .target("invite", invite.id, &invite.canonical)
                .changes(json!({"before": {"expires_at": invite.expires_at.to_string(), "invited_by": invite.invited_by}, "after": {"expires_at": expires_at.to_string(), "invited_by": access.account.id}})),
        )?;
        Ok(CreatedInvite {
            id: invite.id,
            email: invite.email,
            link: links.invite(&tokens.shared),
        })
    })
}

fn revoke_in_tx(
    conn: &mut DbConn,
    actor: &Actor,
    invite: &Invite,
    now: NaiveDateTime,
    reason: &str,
) -> AppResult<bool> {
    use crate::db::schema::invites;
    use diesel::prelude::*;
    let changed = diesel::update(
        invites::table
            .find(invite.id)
            .filter(invites::status.eq(invite::PENDING)),
    )
    .set((
        invites::status.eq(invite::REVOKED),
        invites::revoked_at.eq(Some(now)),
        invites::revoked_by.eq(actor.account_id),
    ))
    .execute(conn)?;
    if changed == 1 {
        outbox::cancel_queued_for_invite(conn, invite.id)?;
        audit::record(
            conn,
            actor,
            Event::new("invite.revoked")
                .workspace(invite.workspace_id)
                .target("invite", invite.id, &invite.canonical)
                .changes(json!({"before": {"status": "pending"}, "after": {"status": "revoked"}, "reason": reason})),
        )?;
    }
    Ok(changed == 1)
}

/// Revoke: the link stops working at once and the seat is free.
pub fn revoke(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    invite_id: i64,
) -> AppResult<Invite> {
    write_transaction(conn, |conn| {
        let invite = Invite::find_in_workspace(conn, access.workspace.id, invite_id)?
            .ok_or(AppError::NotFound)?;
        if !revoke_in_tx(conn, actor, &invite, models::now(), "revoked by an admin")? {
            return Err(AppError::BadRequest(
                "This invitation is no longer pending.".into(),
            ));
        }
        Ok(invite)
    })
}

/// Removal hygiene: when a member is removed, the invites they sent that are still
/// pending are revoked, in the caller's transaction.
pub fn revoke_pending_sent_by(
    conn: &mut DbConn,
    actor: &Actor,
    workspace_id: i64,
    account_id: i64,
) -> AppResult<usize> {
    let now = models::now();
    let mut revoked = 0;
    for invite in Invite::pending_sent_by(conn, workspace_id, account_id)? {
        if revoke_in_tx(conn, actor, &invite, now, "the inviter was removed")? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// What an invite link leads to.
#[derive(Clone, Debug)]
pub enum LinkState {
    Unknown,
    Expired(Box<InviteView>),
    Revoked(Box<InviteView>),
    Accepted(Box<InviteView>),
    Pending(Box<InviteView>),
    /// Pending, but its inviter can no longer offer it (SPEC §3): it cannot be accepted.
    Withdrawn(Box<InviteView>, OfferRefused),
}

#[derive(Clone, Debug)]
pub struct InviteView {
    pub invite: Invite,
    pub workspace_name: String,
    pub workspace_slug: String,
    pub inviter: Option<String>,
    pub roles: Vec<String>,
    /// The account that the invited address belongs to for this link, if any
    /// (`address_claimant`).
    pub account_id: Option<i64>,
    /// Whether this link was the one mailed to the invited address (redeeming it proves it).
    pub proves_address: bool,
}

/// The account an invite for `canonical` belongs to, as seen through one of its links: the
/// account holding the address verified; or, through a link that proves nothing, also an
/// account whose login is that address still unconfirmed (it joined through such a link
/// before — it signs in, and no second account is made for the address). A proving link is
/// never blocked by an unconfirmed claim: whoever opens the mail owns the address.
fn address_claimant(
    conn: &mut DbConn,
    canonical: &str,
    kind: LinkKind,
) -> AppResult<Option<Account>> {
    if let Some(owner) = Account::find_by_verified_email(conn, canonical)? {
        return Ok(Some(owner));
    }
    Ok(match kind {
        LinkKind::Mailed => None,
        LinkKind::Shared => Account::find_by_login(conn, canonical)?,
    })
}

/// The offer an invite makes, as its inviter made it.
fn offer_of(conn: &mut DbConn, invite: &Invite) -> AppResult<Offer> {
    Ok(Offer {
        author_account_id: invite.invited_by,
        role_ids: Invite::role_ids(conn, invite.id)?,
    })
}

/// Reads an invite link without changing anything (mail scanners open links). `token` is
/// what `tokens::parse` let through.
pub fn lookup(conn: &mut DbConn, token: &str) -> AppResult<LinkState> {
    let Some((invite, kind)) = Invite::find_by_token_hash(conn, &tokens::hash(token))? else {
        return Ok(LinkState::Unknown);
    };
    use crate::db::schema::workspaces;
    use diesel::prelude::*;
    let (workspace_name, workspace_slug): (String, String) = workspaces::table
        .find(invite.workspace_id)
        .select((workspaces::name, workspaces::slug))
        .first(conn)?;
    let inviter = match invite.invited_by {
        Some(id) => Account::find(conn, id)?.map(|a| a.name),
        None => None,
    };
    let roles = Role::for_workspace(conn, invite.workspace_id)?;
    let offer = offer_of(conn, &invite)?;
    let role_list = role_names(&roles, &offer.role_ids);
    let account_id = address_claimant(conn, &invite.canonical, kind)?.map(|a| a.id);
    let status = invite.status_at(models::now());
    let refused = if status == invite::InviteStatus::Pending {
        roles::author_may_still_offer(conn, invite.workspace_id, Permission::MembersInvite, offer)?
            .err()
    } else {
        None
    };
    let view = Box::new(InviteView {
        invite,
        workspace_name,
        workspace_slug,
        inviter,
        roles: role_list,
        account_id,
        proves_address: kind == LinkKind::Mailed,
    });
    Ok(match status {
        invite::InviteStatus::Pending => match refused {
            Some(why) => LinkState::Withdrawn(view, why),
            None => LinkState::Pending(view),
        },
        invite::InviteStatus::Expired => LinkState::Expired(view),
        invite::InviteStatus::Revoked => LinkState::Revoked(view),
        invite::InviteStatus::Accepted => LinkState::Accepted(view),
    })
}

/// Who is accepting.
pub enum Acceptor<'a> {
    /// No account yet: create one with this name and password hash.
    NewAccount {
        name: &'a str,
        password_hash: &'a str,
    },
    /// Signed in as this account.
    Existing { account_id: i64 },
}

#[derive(Clone, Debug)]
pub struct Accepted {
    pub account_id: i64,
    pub workspace_slug: String,
    pub member_id: i64,
    /// The invited address is still unconfirmed: a confirmation link was mailed to it.
    pub confirmation_sent_to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcceptError {
    /// Unknown, expired, revoked or already used.
    Gone,
    /// Signed in as an account that does not own the invited address.
    WrongAccount,
    /// The address already has an account: sign in first.
    AccountExists,
    AlreadyMember,
    /// The inviter can no longer offer this invite's roles: nothing was changed.
    Withdrawn(OfferRefused),
}

/// Accepts an invite: single use (a conditional update), bound to its address, creating the
/// account if needed, the membership, the address and the inviter's mail — in one
/// transaction, so a double submit cannot create two accounts or memberships.
///
/// The inviter's rights are checked again here, inside the transaction (SPEC §3): an invite
/// never gives, when redeemed, more than its inviter may give at that moment. Only the link
/// mailed to the invited address proves it (SPEC §4.8); redeemed through the shared link,
/// the address stays unconfirmed and a confirmation link is mailed to it, in this
/// transaction, through the outbox.
pub fn accept(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    token: &str,
    acceptor: Acceptor<'_>,
) -> AppResult<Result<Accepted, AcceptError>> {
    write_transaction(conn, |conn| {
        use crate::db::schema::invites;
        use diesel::prelude::*;
        let now = models::now();
        let hash = tokens::hash(token);
        let Some((invite, kind)) = Invite::find_by_token_hash(conn, &hash)? else {
            return Ok(Err(AcceptError::Gone));
        };
        let workspace = lock_workspace(conn, invite.workspace_id)?;
        if invite.status_at(now) != invite::InviteStatus::Pending {
            return Ok(Err(AcceptError::Gone));
        }
        let offer = offer_of(conn, &invite)?;
        if let Err(why) =
            roles::author_may_still_offer(conn, workspace.id, Permission::MembersInvite, offer)?
        {
            return Ok(Err(AcceptError::Withdrawn(why)));
        }
        let email = EmailAddress::parse(&invite.email)
            .map_err(|e| AppError::internal(format!("stored invite address: {e}")))?;
        let owner = address_claimant(conn, &invite.canonical, kind)?;
        // Every refusal is decided before anything is written.
        match acceptor {
            Acceptor::NewAccount { .. } if owner.is_some() => {
                return Ok(Err(AcceptError::AccountExists))
            }
            Acceptor::NewAccount { .. } => {}
            Acceptor::Existing { account_id } => {
                let owns_address = match &owner {
                    Some(account) => account.id == account_id,
                    None => EmailAddressRow::for_account(conn, account_id)?
                        .iter()
                        .any(|e| e.canonical == invite.canonical),
                };
                if !owns_address {
                    return Ok(Err(AcceptError::WrongAccount));
                }
                if Member::find_for_account(conn, workspace.id, account_id)?
                    .is_some_and(|m| m.status() == MemberStatus::Active)
                {
                    return Ok(Err(AcceptError::AlreadyMember));
                }
            }
        }
        // Single use: only one transaction can move it from pending, and only through the
        // link it was found by.
        let taken = match kind {
            LinkKind::Mailed => diesel::update(
                invites::table
                    .find(invite.id)
                    .filter(invites::status.eq(invite::PENDING))
                    .filter(invites::expires_at.gt(now))
                    .filter(invites::token_hash.eq(&hash)),
            )
            .set((
                invites::status.eq(invite::ACCEPTED),
                invites::accepted_at.eq(Some(now)),
            ))
            .execute(conn)?,
            LinkKind::Shared => diesel::update(
                invites::table
                    .find(invite.id)
                    .filter(invites::status.eq(invite::PENDING))
                    .filter(invites::expires_at.gt(now))
                    .filter(invites::link_token_hash.eq(&hash)),
            )
            .set((
                invites::status.eq(invite::ACCEPTED),
                invites::accepted_at.eq(Some(now)),
            ))
            .execute(conn)?,
        };
        if taken != 1 {
            return Ok(Err(AcceptError::Gone));
        }
        let proves = kind == LinkKind::Mailed;
        let account_id = match acceptor {
            Acceptor::NewAccount {
                name,
                password_hash,
            } => join::insert_account(conn, actor, name, &email, Some(password_hash), proves)?,
            Acceptor::Existing { account_id } => {
                crate::services::account::lock_account(conn, account_id)?;
                account_id
            }
        };
        diesel::update(invites::table.find(invite.id))
            .set(invites::accepted_by.eq(Some(account_id)))
            .execute(conn)?;
        let confirmation_sent_to = if proves {
            // The mailed link proves the address: it becomes (or stays) verified here.
            use crate::db::schema::email_addresses;
            diesel::update(
                email_addresses::table
                    .filter(email_addresses::account_id.eq(account_id))
                    .filter(email_addresses::canonical.eq(&invite.canonical))
                    .filter(email_addresses::verified.eq(false)),
            )
            .set((
                email_addresses::verified.eq(true),
                email_addresses::verified_at.eq(Some(now)),
            ))
            .execute(conn)?;
            None
        } else {
            confirm_later(conn, links, account_id, &email, now)?
        };
        let role_ids = Invite::role_ids(conn, invite.id)?;
        let seat = SeatType::from_key(&invite.seat_type).unwrap_or(SeatType::Member);
        let member_id = match Member::find_for_account(conn, workspace.id, account_id)? {
            Some(member) => join::reactivate(conn, actor, &workspace, &member, &role_ids, seat)?,
            None => join::join_in_tx(
                conn,
                actor,
                &join::Joining {
                    workspace_id: workspace.id,
                    account_id,
                    role_ids: &role_ids,
                    seat,
                    manager_id: None,
                    department: None,
                },
            )?,
        };
        audit::record(
            conn,
            actor,
            Event::new("invite.accepted")
                .workspace(workspace.id)
                .target("invite", invite.id, &invite.canonical)
                .changes(json!({"after": {
                    "status": "accepted",
                    "account_id": account_id,
                    "member_id": member_id,
                    "address_verified": proves || confirmation_sent_to.is_none(),
                }})),
        )?;
        if let Some(inviter) = invite.invited_by {
            if let Some(address) = EmailAddressRow::primary_for(conn, inviter)? {
                let who = Account::find(conn, account_id)?
                    .map(|a| a.name)
                    .unwrap_or_default();
                let link = links.member(&workspace.slug, member_id);
                let rendered = messages::accepted(&AcceptedMail {
                    workspace: &workspace.name,
                    who: &who,
                    email: email.as_str(),
                    link: &link,
                })?;
                outbox::enqueue(
                    conn,
                    &NewMail {
                        workspace_id: Some(workspace.id),
                        invite_id: Some(invite.id),
                        kind: "invite_accepted",
                        recipient: address.canonical,
                        subject: rendered.subject,
                        text_body: rendered.text,
                        html_body: rendered.html,
                    },
                    now,
                )?;
            }
        }
        Ok(Ok(Accepted {
            account_id,
            workspace_slug: workspace.slug.clone(),
            member_id,
            confirmation_sent_to,
        }))
    })
}

/// After a redemption that proved nothing: the invited address stays (or is put) on the
/// account unconfirmed, and the account's ordinary confirmation link is mailed to it
/// (`account_tokens`, `/account/emails/verify/{token}`), in the caller's transaction.
/// Returns the address it was mailed to; `None` when the address is already verified on
/// the account (nothing to prove).
fn confirm_later(
    conn: &mut DbConn,
    links: &Links,
    account_id: i64,
    email: &EmailAddress,
    now: NaiveDateTime,
) -> AppResult<Option<String>> {
    use crate::error::ServiceError;
    use crate::services::account::add_unverified;
    let mine = crate::models::email_address::EmailAddressRow::for_account(conn, account_id)?;
    if mine
        .iter()
        .any(|e| e.canonical == email.canonical() && e.verified)
    {
        return Ok(None);
    }
    match add_unverified(conn, links, account_id, email, None, now) {
        Ok(_) => Ok(Some(email.as_str().to_string())),
        // Checked before anything was written (another account's verified address is a
        // WrongAccount refusal); the account keeps what it has.
        Err(ServiceError::Refused(refused)) => Err(AppError::internal(format!(
            "invite acceptance could not queue a confirmation: {refused:?}"
        ))),
        Err(ServiceError::Fatal(err)) => Err(err),
    }
}
