//! An admin's changes to a member's email addresses (SPEC §3 "Emails (admin)", §4.8): only
//! addresses on a verified domain of the workspace; an added address is unverified and
//! counts (sign-in, primary, domain rules) once the member confirms the link mailed to it.
//! The address mechanics — links, mails, the primary flag, the last-address rule — are the
//! account's own (`services::account`); here are the admin's limits, checked inside the
//! write transaction after `members::target`, and the workspace's audit events.

use chrono::TimeDelta;
use serde_json::json;

use crate::db::DbConn;
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult, Refusal, ServiceError, ServiceResult};
use crate::links::Links;
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::Domain;
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus};
use crate::services::access::Access;
use crate::services::account::{
    self, Added, ChangedBy, MAX_VERIFICATION_MAILS_PER_HOUR, TOO_MANY_LINKS,
};
use crate::services::members::{self, Act, Target};
use crate::services::{domains, locks};

pub const EMAIL_ADDED: &str = "member.email_added";
pub const EMAIL_RESENT: &str = "member.email_verification_resent";
pub const PRIMARY_CHANGED: &str = "member.primary_email_changed";
pub const EMAIL_REMOVED: &str = "member.email_removed";

/// What the member page offers an admin over one member's addresses.
#[derive(Clone, Debug)]
pub struct Management {
    /// The workspace's verified domains: addresses can be added on these only.
    pub domains: Vec<String>,
    /// The member's addresses on those domains (the others are read-only).
    pub manageable: Vec<i64>,
    /// Why the other addresses are read-only.
    pub read_only_reason: String,
}

impl Management {
    pub fn manages(&self, email_id: &i64) -> bool {
        self.manageable.contains(email_id)
    }
}

/// Why addresses off the verified domains are not the admin's to change; `subject` names
/// them ("This address", "Addresses marked read-only").
fn read_only_reason(domains: &[String], subject: &str) -> String {
    if domains.is_empty() {
        "These addresses belong to the member: this workspace has no verified domain, so none can be managed here.".into()
    } else {
        format!(
            "{subject} belong{} to the member: only addresses on {} can be managed here.",
            if subject.starts_with("This") { "s" } else { "" },
            domains.join(", ")
        )
    }
}

/// Why the actor may not manage this member's addresses at all (whatever the domain).
/// The services refuse these earlier (`members::authorize`, `Act::Identity`); the page asks
/// here.
fn out_of_reach(access: &Access, member: &Member) -> Option<&'static str> {
    if member.id == access.member.id {
        Some(members::OWN_IDENTITY)
    } else if member.status() == MemberStatus::Removed {
        Some("This member was removed from the workspace: their addresses are theirs alone now.")
    } else {
        None
    }
}

/// The address controls for the member page, or `None` when the actor may not manage this
/// member's addresses (themselves, a removed member). The caller checked the rule for
/// `Act::Identity` over the member (`members::may`).
pub fn management(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
    emails: &[EmailAddressRow],
) -> AppResult<Option<Management>> {
    if out_of_reach(access, member).is_some() {
        return Ok(None);
    }
    let domains = Domain::verified_names(conn, access.workspace.id)?;
    let manageable = emails
        .iter()
        .filter(|e| domains::on_domains(&e.canonical, &domains))
        .map(|e| e.id)
        .collect();
    Ok(Some(Management {
        read_only_reason: read_only_reason(&domains, "Addresses marked read-only"),
        domains,
        manageable,
    }))
}

/// The member the actor is changing, with their account locked and the workspace's
/// verified domains; inside the caller's write transaction.
fn begin(conn: &mut DbConn, access: &Access, member_id: i64) -> AppResult<(Target, Vec<String>)> {
    let target = members::target(conn, access, member_id, Act::Identity)?;
    account::lock_account(conn, target.member.account_id)?;
    let domains = Domain::verified_names(conn, access.workspace.id)?;
    Ok((target, domains))
}

fn changed_by(access: &Access) -> ChangedBy<'_> {
    ChangedBy {
        name: &access.account.name,
        workspace: &access.workspace.name,
    }
}

/// Refused when the actor may not manage this member's addresses (`out_of_reach`), with
/// the refusal `at` the field or row it is shown beside.
fn ensure_in_reach(
    access: &Access,
    member: &Member,
    at: fn(String) -> Refusal,
) -> ServiceResult<()> {
    match out_of_reach(access, member) {
        Some(reason) => Err(at(reason.into()).into()),
        None => Ok(()),
    }
}

/// A refusal beside the `email` field of the "Add an address" form.
fn at_email(message: String) -> Refusal {
    Refusal::field("email", message)
}

/// A refusal of a button on one address's row: the page shows it beside that row.
fn at_row(message: String) -> Refusal {
    Refusal::general(message)
}

/// Adds `email` to the member's account, unverified, and mails it a verification link (an
/// address already there unverified gets a fresh link). Only on a verified domain of the
/// workspace; an address another account confirmed is refused. Refusals are for the
/// `email` field; nothing is written then.
pub fn add(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    member_id: i64,
    email: &EmailAddress,
) -> ServiceResult<Added> {
    locks::acting(conn, access, |conn, access| {
        let (target, domains) = begin(conn, access, member_id)?;
        ensure_in_reach(access, &target.member, at_email)?;
        ensure_addable(conn, &domains, target.member.id, email)?;
        let by = Some(changed_by(access));
        let now = models::now();
        // The account's mechanics word their refusals for an admin (`by`); here they
        // belong beside the address typed.
        let outcome =
            account::add_unverified(conn, links, target.member.account_id, email, by, now)
                .map_err(beside_email)?;
        audit::record(
            conn,
            actor,
            Event::new(if outcome == Added::New {
                EMAIL_ADDED
            } else {
                EMAIL_RESENT
            })
            .workspace(access.workspace.id)
            .target("member", target.member.id, &target.label)
            .changes(json!({
                "before": null,
                "after": {"email": email.canonical(), "verified": false},
            })),
        )?;
        Ok(outcome)
    })
}

/// The admin's limits on adding: a verified domain of the workspace, and no more links
/// than the hourly limit.
fn ensure_addable(
    conn: &mut DbConn,
    domains: &[String],
    member_id: i64,
    email: &EmailAddress,
) -> ServiceResult<()> {
    if domains.is_empty() {
        return Err(at_email("This workspace has no verified domain: admins can add addresses only on a verified domain of the workspace.".into()).into());
    }
    if !domains::on_domains(email.canonical(), domains) {
        return Err(at_email(format!(
            "{email} is not on a verified domain of this workspace: you can add addresses on {} only. Other addresses belong to the member, who can add them from their own account.",
            domains.join(", ")
        )).into());
    }
    let since = models::now() - TimeDelta::hours(1);
    if audit::count_for_target(
        conn,
        &[EMAIL_ADDED, EMAIL_RESENT],
        "member",
        member_id,
        since,
    )? >= MAX_VERIFICATION_MAILS_PER_HOUR
    {
        return Err(at_email(TOO_MANY_LINKS.into()).into());
    }
    Ok(())
}

/// Refusals of the address typed, shown beside the `email` field.
fn beside_email(error: ServiceError) -> ServiceError {
    match error {
        ServiceError::Refused(refusals) => ServiceError::Refused(
            refusals
                .into_iter()
                .map(|r| Refusal::field("email", r.message))
                .collect(),
        ),
        fatal => fatal,
    }
}

/// What an action on one address did: the address to name, and the audit event (action and
/// changes) when something changed.
struct Done {
    address: String,
    event: Option<(&'static str, serde_json::Value)>,
}

/// In one write transaction: the member the actor may change (`members::target`), their
/// account locked, and the address `email_id` if it is the actor's to change — another
/// account's id is a 404; a member out of reach or an address off the verified domains is
/// refused — then `change` (the account's own mechanics, told who acts) and its audit event.
/// Refusals are of the address's row (`Refusal::general`).
fn on_address(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    email_id: i64,
    change: impl FnOnce(&mut DbConn, i64, ChangedBy<'_>) -> ServiceResult<Done>,
) -> ServiceResult<String> {
    locks::acting(conn, access, |conn, access| {
        let (target, domains) = begin(conn, access, member_id)?;
        let account_id = target.member.account_id;
        let address = EmailAddressRow::find_for_account(conn, account_id, email_id)?
            .ok_or(AppError::NotFound)?;
        ensure_in_reach(access, &target.member, at_row)?;
        if !domains::on_domains(&address.canonical, &domains) {
            return Err(at_row(read_only_reason(&domains, "This address")).into());
        }
        let done = change(conn, account_id, changed_by(access))?;
        if let Some((action, changes)) = done.event {
            audit::record(
                conn,
                actor,
                Event::new(action)
                    .workspace(access.workspace.id)
                    .target("member", target.member.id, &target.label)
                    .changes(changes),
            )?;
        }
        Ok(done.address)
    })
}

/// Makes one of the member's confirmed addresses on a verified domain their sign-in
/// address; the old primary address is told who did it. Returns the new primary.
pub fn make_primary(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    member_id: i64,
    email_id: i64,
) -> ServiceResult<String> {
    on_address(
        conn,
        access,
        actor,
        member_id,
        email_id,
        |conn, account_id, by| {
            let (new, old) = account::switch_primary(conn, links, account_id, email_id, Some(by))?;
            let event = old.map(|old| {
                (
                    PRIMARY_CHANGED,
                    json!({
                        "before": {"primary": old.canonical},
                        "after": {"primary": new.canonical},
                    }),
                )
            });
            Ok(Done {
                address: new.address,
                event,
            })
        },
    )
}

/// Removes one of the member's addresses on a verified domain: never the last, never the
/// primary. The primary address is told who did it. Returns the removed address.
pub fn remove(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    member_id: i64,
    email_id: i64,
) -> ServiceResult<String> {
    on_address(
        conn,
        access,
        actor,
        member_id,
        email_id,
        |conn, account_id, by| {
            let (removed, _primary) =
                account::delete_address(conn, links, account_id, email_id, Some(by))?;
            Ok(Done {
                event: Some((
                    EMAIL_REMOVED,
                    json!({
                        "before": {"email": removed.canonical, "verified": removed.verified},
                        "after": null,
                    }),
                )),
                address: removed.address,
            })
        },
    )
}
