//! Creating invites: one per address — all or none — with their mails, in one transaction
//! that holds the workspace's member lock.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use super::review::{review, DailyLimit, Invitee, Review};
use super::{
    ensure_may_invite, expiry_date, invitation_mail, role_names, CreatedInvite, InviteTokens,
};
use crate::db::DbConn;
use crate::domain::{AddressList, InviteMessage, Metadata, PersonName};
use crate::email::EmailAddress;
use crate::error::{AppError, Refusal, ServiceResult};
use crate::links::Links;
use crate::mail::messages::InvitationMail;
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::invite::{self, Invite, NewInvite};
use crate::models::member::SeatType;
use crate::models::outbox::{self, NewMail};
use crate::models::role::Role;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::services::locks;
use crate::services::roles;
use crate::services::seats::Seats;

/// Everything the inviter chose, already parsed.
#[derive(Clone, Debug)]
pub struct InviteRequest {
    /// Each entry may carry its own name (`Ada Lovelace <ada.lovelace@mail.example>`).
    pub addresses: AddressList,
    pub role_ids: Vec<i64>,
    pub seat: SeatType,
    /// The form's single name field: only with exactly one address (`AddressList::name_field`).
    pub name: Option<PersonName>,
    pub message: Option<InviteMessage>,
    pub notification_email: Option<EmailAddress>,
    pub metadata: Metadata,
}

/// What sending came to. Not enough seats is a refusal (beside `emails`); a review that
/// found entries needing attention, or more new addresses than the daily limit lets go
/// now, is not: it is the answer the page is made of (every entry's verdict, how many can
/// go and when the limit frees more, and those to send), which a refusal's message cannot
/// carry. Nothing is written in that case either.
#[derive(Clone, Debug)]
pub enum CreateOutcome {
    /// Every address was invited; `repeats` entries were listed again and sent once.
    Created {
        invites: Vec<CreatedInvite>,
        repeats: usize,
    },
    /// Nothing was created: an entry needs attention or the daily limit is in the way.
    Review(Review),
}

/// Creates one invite per address — all or none — with their mails, in one transaction.
/// The inviter may only offer roles they may grant (checked with their rights as they are
/// inside the lock); every address must be new; the seats and the rolling daily limit
/// must allow them all.
pub fn create(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    request: &InviteRequest,
) -> ServiceResult<CreateOutcome> {
    locks::acting(conn, access, |conn, access| {
        let workspace = &access.workspace;
        let now = models::now();
        let roles = Role::for_workspace(conn, workspace.id)?;
        ensure_may_offer(conn, access, &roles, &request.role_ids)?;
        request
            .addresses
            .name_field(request.name.as_ref())
            .map_err(|invalid| invalid.at("name"))?;
        let (lines, invitees) = review(conn, workspace.id, &request.addresses, now)?;
        let seats = Seats::load(conn, workspace, now)?;
        let review = Review {
            lines,
            seats_free: seats.free(),
            daily: DailyLimit::load(conn, workspace, now)?,
        };
        if review.unacceptable() > 0 || invitees.is_empty() {
            return Ok(CreateOutcome::Review(review));
        }
        let needed = invitees.len() as i64;
        seats
            .ensure_free(needed)
            .map_err(|refusal| Refusal::field("emails", refusal.message))?;
        // Decided here, inside the lock: no concurrent submit lets more than the limit by.
        if review.over_daily_limit() {
            return Ok(CreateOutcome::Review(review));
        }
        let batch = Batch {
            access,
            request,
            links,
            role_names: role_names(&roles, &request.role_ids),
            now,
            expires_at: now + TimeDelta::days(i64::from(workspace.invite_expiry_days)),
        };
        Ok(CreateOutcome::Created {
            invites: insert_all(conn, actor, &batch, &invitees)?,
            repeats: review.duplicates(),
        })
    })
}

/// The inviter holds `members.invite` and may grant every role offered (no escalation).
fn ensure_may_offer(
    conn: &mut DbConn,
    access: &Access,
    roles: &[Role],
    role_ids: &[i64],
) -> ServiceResult<()> {
    ensure_may_invite(access)?;
    let grants = roles::grants_by_role(conn, access.workspace.id)?;
    if !roles::may_grant_roles(&access.perms, role_ids, roles, &grants) {
        return Err(AppError::forbidden(Permission::MembersInvite).into());
    }
    Ok(())
}

/// One batch being written: what every invite of it shares.
struct Batch<'a> {
    access: &'a Access,
    request: &'a InviteRequest,
    links: &'a Links,
    role_names: Vec<String>,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// Writes the invites, their roles, their mails and their audit events.
fn insert_all(
    conn: &mut DbConn,
    actor: &Actor,
    batch: &Batch<'_>,
    invitees: &[Invitee],
) -> ServiceResult<Vec<CreatedInvite>> {
    let workspace_id = batch.access.workspace.id;
    let canonicals: Vec<String> = invitees
        .iter()
        .map(|i| i.email.canonical().to_string())
        .collect();
    Invite::supersede_expired(conn, workspace_id, &canonicals, batch.now)?;
    let mut created = Vec::with_capacity(invitees.len());
    let mut mails = Vec::with_capacity(invitees.len());
    let mut events = Vec::with_capacity(invitees.len());
    for invitee in invitees {
        let (email, name) = (&invitee.email, batch.name_of(invitee));
        let tokens = InviteTokens::generate();
        let id = batch.insert(conn, email, name, &tokens)?;
        mails.push(batch.mail(email, name, id, &tokens)?);
        events.push(batch.event(email, id));
        created.push(CreatedInvite {
            id,
            email: email.as_str().to_string(),
            link: batch.links.invite(&tokens.shared),
        });
    }
    outbox::enqueue_all(conn, &mails, batch.now)?;
    audit::record_all(conn, actor, &events)?;
    Ok(created)
}

impl Batch<'_> {
    /// The name written with the address, else the form's single name field (given only
    /// with one address).
    fn name_of<'i>(&'i self, invitee: &'i Invitee) -> Option<&'i PersonName> {
        invitee.name.as_ref().or(self.request.name.as_ref())
    }

    fn insert(
        &self,
        conn: &mut DbConn,
        email: &EmailAddress,
        name: Option<&PersonName>,
        tokens: &InviteTokens,
    ) -> ServiceResult<i64> {
        let request = self.request;
        let id = NewInvite {
            workspace_id: self.access.workspace.id,
            email: email.as_str(),
            canonical: email.canonical(),
            name: name.map(PersonName::as_str),
            message: request.message.as_ref().map(InviteMessage::as_str),
            notification_email: request.notification_email.as_ref().map(|e| e.canonical()),
            metadata: request.metadata.as_str(),
            seat_type: request.seat.key(),
            status: invite::PENDING,
            token_hash: &tokens.mailed_hash(),
            link_token_hash: Some(&tokens.shared_hash()),
            invited_by: Some(self.access.account.id),
            created_at: self.now,
            sent_at: self.now,
            expires_at: self.expires_at,
        }
        .insert(conn)?;
        Invite::set_roles(conn, id, &request.role_ids)?;
        Ok(id)
    }

    /// The invitation mail: to the invited address with the proving link, or to the
    /// notification address with the shared one.
    fn mail(
        &self,
        email: &EmailAddress,
        name: Option<&PersonName>,
        invite_id: i64,
        tokens: &InviteTokens,
    ) -> ServiceResult<NewMail> {
        let request = self.request;
        let recipient = request.notification_email.as_ref().unwrap_or(email);
        let link = self
            .links
            .invite(tokens.for_mail(request.notification_email.is_some()));
        let mail = InvitationMail {
            workspace: &self.access.workspace.name,
            inviter: &self.access.account.name,
            invitee_name: name.map(PersonName::as_str),
            roles: &self.role_names,
            seat: request.seat.label(),
            message: request.message.as_ref().map(InviteMessage::as_str),
            expires_on: expiry_date(self.expires_at),
            link: &link,
        };
        Ok(invitation_mail(
            self.access.workspace.id,
            invite_id,
            recipient.canonical(),
            &mail,
        )?)
    }

    fn event<'e>(&self, email: &'e EmailAddress, invite_id: i64) -> Event<'e> {
        Event::new("invite.created")
            .workspace(self.access.workspace.id)
            .target("invite", invite_id, email.canonical())
            .changes(json!({"after": {
                "email": email.canonical(),
                "roles": self.role_names,
                "seat_type": self.request.seat.key(),
                "expires_at": self.expires_at.to_string(),
            }}))
    }
}
