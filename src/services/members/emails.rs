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
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
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

/// The account mechanics' `ServiceResult` in this module's shape: a refusal as its words.
fn refusal_text<T>(outcome: ServiceResult<T>) -> AppResult<Result<T, String>> {
    match outcome {
        Ok(value) => Ok(Ok(value)),
        Err(ServiceError::Refused(refusals)) => Ok(Err(refusals
            .into_iter()
            .map(|r| r.message)
            .collect::<Vec<_>>()
            .join(" "))),
        Err(ServiceError::Fatal(err)) => Err(err),
    }
}

fn changed_by(access: &Access) -> ChangedBy<'_> {
    ChangedBy {
        name: &access.account.name,
        workspace: &access.workspace.name,
    }
}

/// Adds `typed` to the member's account, unverified, and mails it a verification link (an
/// address already there unverified gets a fresh link). Only on a verified domain of the
/// workspace; an address another account confirmed is refused. The refusal is for the
/// `email` field; nothing is written then.
pub fn add(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    member_id: i64,
    typed: &str,
) -> AppResult<Result<Added, String>> {
    locks::acting(conn, access, |conn, access| {
        let (target, domains) = begin(conn, access, member_id)?;
        if let Some(reason) = out_of_reach(access, &target.member) {
            return Ok(Err(reason.into()));
        }
        let email = match EmailAddress::parse(typed) {
            Ok(email) => email,
            Err(e) => return Ok(Err(e.to_string())),
        };
        if domains.is_empty() {
            return Ok(Err("This workspace has no verified domain: admins can add addresses only on a verified domain of the workspace.".into()));
        }
        if !domains::on_domains(email.canonical(), &domains) {
            return Ok(Err(format!(
                "{email} is not on a verified domain of this workspace: you can add addresses on {} only. Other addresses belong to the member, who can add them from their own account.",
                domains.join(", ")
            )));
        }
        let now = models::now();
        if audit::count_for_target(
            conn,
            &[EMAIL_ADDED, EMAIL_RESENT],
            "member",
            target.member.id,
            now - TimeDelta::hours(1),
        )? >= MAX_VERIFICATION_MAILS_PER_HOUR
        {
            return Ok(Err(TOO_MANY_LINKS.into()));
        }
        let account_id = target.member.account_id;
        let by = Some(changed_by(access));
        // The account's mechanics word their refusals for an admin (`by`).
        let outcome = match refusal_text(account::add_unverified(
            conn, links, account_id, &email, by, now,
        ))? {
            Ok(outcome) => outcome,
            Err(message) => return Ok(Err(message)),
        };
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
        Ok(Ok(outcome))
    })
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
fn on_address(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    email_id: i64,
    change: impl FnOnce(&mut DbConn, i64, ChangedBy<'_>) -> AppResult<Result<Done, String>>,
) -> AppResult<Result<String, String>> {
    locks::acting(conn, access, |conn, access| {
        let (target, domains) = begin(conn, access, member_id)?;
        let account_id = target.member.account_id;
        let address = EmailAddressRow::find_for_account(conn, account_id, email_id)?
            .ok_or(AppError::NotFound)?;
        if let Some(reason) = out_of_reach(access, &target.member) {
            return Ok(Err(reason.into()));
        }
        if !domains::on_domains(&address.canonical, &domains) {
            return Ok(Err(read_only_reason(&domains, "This address")));
        }
        let done = match change(conn, account_id, changed_by(access))? {
            Ok(done) => done,
            Err(refused) => return Ok(Err(refused)),
        };
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
        Ok(Ok(done.address))
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
) -> AppResult<Result<String, String>> {
    on_address(
        conn,
        access,
        actor,
        member_id,
        email_id,
        |conn, account_id, by| {
            let (new, old) = match refusal_text(account::switch_primary(
                conn,
                links,
                account_id,
                email_id,
                Some(by),
            ))? {
                Ok(switched) => switched,
                Err(message) => return Ok(Err(message)),
            };
            let event = old.map(|old| {
                (
                    PRIMARY_CHANGED,
                    json!({
                        "before": {"primary": old.canonical},
                        "after": {"primary": new.canonical},
                    }),
                )
            });
            Ok(Ok(Done {
                address: new.address,
                event,
            }))
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
) -> AppResult<Result<String, String>> {
    on_address(
        conn,
        access,
        actor,
        member_id,
        email_id,
        |conn, account_id, by| {
            let removed = match refusal_text(account::delete_address(
                conn,
                links,
                account_id,
                email_id,
                Some(by),
            ))? {
                Ok((removed, _primary)) => removed,
                Err(message) => return Ok(Err(message)),
            };
            Ok(Ok(Done {
                event: Some((
                    EMAIL_REMOVED,
                    json!({
                        "before": {"email": removed.canonical, "verified": removed.verified},
                        "after": null,
                    }),
                )),
                address: removed.address,
            }))
        },
    )
}
