//! Permission requests (SPEC §3): a member refused an action asks for the permission with
//! a reason; an admin approves it as a direct grant (optionally expiring) or denies it, and
//! the member is mailed the outcome. An approver can only grant what they hold.

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::domain::{DecisionNote, LastDay, RequestReason};
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::mail::messages::{self, DecisionMail};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus};
use crate::models::outbox::{self, NewMail};
use crate::models::permission_request::{
    self as request, DirectGrant, NewPermissionRequest, PermissionRequest,
};
use crate::models::role::Role;
use crate::permissions::{Grant, Permission};
use crate::services::access::{self, Access};
use crate::services::locks;
use crate::services::members::{self, Act};

/// Records a request from the acting member for `grant`, with their reason; returns its id.
pub fn ask(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    grant: &Grant,
    reason: &RequestReason,
) -> ServiceResult<i64> {
    write_transaction(conn, |conn| {
        if access.perms.covers(grant) {
            return Err(ServiceError::field(
                "permission",
                format!("You already hold {}", grant.title()),
            ));
        }
        if PermissionRequest::pending_for(conn, access.member.id, grant.permission.key())? {
            return Err(ServiceError::field(
                "permission",
                format!(
                    "You already asked for {}: an admin has not answered yet",
                    grant.permission.label()
                ),
            ));
        }
        let reason = reason.as_str();
        let id = NewPermissionRequest {
            workspace_id: access.workspace.id,
            member_id: access.member.id,
            permission: grant.permission.key(),
            scope: grant.scope.map(|s| s.key()),
            reason,
            status: request::PENDING,
            created_at: models::now(),
        }
        .insert(conn)?;
        audit::record(
            conn,
            actor,
            Event::new("permission_request.created")
                .workspace(access.workspace.id)
                .target("permission_request", id, &access.account.email)
                .changes(json!({"after": {"permission": grant.label(), "reason": reason}})),
        )?;
        tell_deciders(conn, access, links, grant, reason)?;
        Ok(id)
    })
}

/// Mails the request to everyone who may decide it (`settings.manage`, the Requests
/// page's permission), but not to the one asking; in the request's transaction.
fn tell_deciders(
    conn: &mut DbConn,
    access: &Access,
    links: &Links,
    grant: &Grant,
    reason: &str,
) -> AppResult<()> {
    let now = models::now();
    let link = links.workspace(&access.workspace.slug, "/requests");
    let deciders = Role::accounts_holding(
        conn,
        access.workspace.id,
        Permission::SettingsManage.key(),
        now,
    )?;
    let (permission, keys) = (grant.title(), grant.label());
    for account_id in deciders.into_iter().filter(|id| *id != access.account.id) {
        let Some(decider) = access::account_summary(conn, account_id)? else {
            continue;
        };
        if decider.email.is_empty() {
            continue;
        }
        let rendered = messages::request(&messages::RequestMail {
            workspace: &access.workspace.name,
            who: &access.account.name,
            permission: &permission,
            keys: &keys,
            reason,
            link: &link,
        })?;
        outbox::enqueue(
            conn,
            &NewMail {
                workspace_id: Some(access.workspace.id),
                ..rendered.mail("permission_request", decider.email.as_str())
            },
            now,
        )?;
    }
    Ok(())
}

pub enum Decision {
    /// A direct grant, until the end of `last_day` when there is one.
    Approve {
        last_day: Option<LastDay>,
    },
    Deny {
        note: Option<DecisionNote>,
    },
}

/// What a decision did, for the flash message.
pub struct Decided {
    pub who: String,
    pub grant: String,
    pub approved: bool,
}

const ALREADY_DECIDED: &str = "This request was already decided.";

/// Approves or denies a pending request (`settings.manage`, re-checked under the lock).
/// Approval needs the approver to hold the permission at that scope and to pass the rule
/// for acting on the member (`members::authorize`, `Act::Grant`: never one's own request,
/// never for a member who holds more); it runs under the member lock, so the member it
/// grants to is still active when the grant is written (a concurrent removal deletes
/// grants). The request is decided by a conditional update, so two admins cannot both
/// decide it; the member's mail is queued in the same transaction.
pub fn decide(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    request_id: i64,
    decision: Decision,
) -> ServiceResult<Decided> {
    locks::acting(conn, access, |conn, access| {
        if !access.perms.allows(Permission::SettingsManage) {
            return Err(
                AppError::forbidden_in(&access.workspace.slug, Permission::SettingsManage).into(),
            );
        }
        let (req, grant) = pending(conn, access, request_id)?;
        let member = Member::find_in_workspace(conn, access.workspace.id, req.member_id)?
            .ok_or(AppError::NotFound)?;
        let at = models::now();
        let (approved, grant_id, expires_at, note) = match decision {
            Decision::Approve { last_day } => {
                let id = approve(conn, access, &member, &grant, last_day, at)?;
                (true, Some(id), last_day.map(LastDay::end), None)
            }
            Decision::Deny { note } => (false, None, None, note),
        };
        let outcome = Outcome {
            request_id: req.id,
            member: &member,
            grant: &grant,
            approved,
            grant_id,
            expires_at,
            note: note.as_ref().map(DecisionNote::as_str),
            at,
        };
        let status = if approved {
            request::APPROVED
        } else {
            request::DENIED
        };
        let decided = PermissionRequest::decide(
            conn,
            req.id,
            status,
            access.account.id,
            outcome.note,
            grant_id,
            at,
        )?;
        if decided == 0 {
            return Err(ServiceError::general(ALREADY_DECIDED));
        }
        let who = tell_and_record(conn, access, actor, links, &outcome)?;
        Ok(Decided {
            who,
            grant: grant.title(),
            approved,
        })
    })
}

/// A decision as written: what the member's mail and the audit event say.
struct Outcome<'a> {
    request_id: i64,
    member: &'a Member,
    grant: &'a Grant,
    approved: bool,
    grant_id: Option<i64>,
    expires_at: Option<NaiveDateTime>,
    note: Option<&'a str>,
    at: NaiveDateTime,
}

/// The request, still pending, with the permission it names.
fn pending(
    conn: &mut DbConn,
    access: &Access,
    request_id: i64,
) -> ServiceResult<(PermissionRequest, Grant)> {
    let req = PermissionRequest::find_in_workspace(conn, access.workspace.id, request_id)?
        .ok_or(AppError::NotFound)?;
    let Some(grant) = Grant::from_keys(&req.permission, req.scope.as_deref()) else {
        return Err(ServiceError::general(
            "This request names a permission that no longer exists.",
        ));
    };
    if req.status != request::PENDING {
        return Err(ServiceError::general(ALREADY_DECIDED));
    }
    Ok((req, grant))
}

/// Writes the direct grant of an approval, once the approver may make it; its id.
fn approve(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
    grant: &Grant,
    last_day: Option<LastDay>,
    now: NaiveDateTime,
) -> ServiceResult<i64> {
    if !access.perms.covers(grant) {
        return Err(AppError::forbidden_because(format!(
            "You can't grant {}: you don't hold it at that scope yourself.",
            grant.title()
        ))
        .into());
    }
    if member.status() != MemberStatus::Active {
        return Err(ServiceError::general(
            "This member is no longer active in the workspace.",
        ));
    }
    let perms = access::effective_permissions(conn, member.id)?;
    members::authorize(conn, access, member, &perms, Act::Grant)?;
    let expires_at = last_day.map(LastDay::end);
    Ok(Role::grant(
        conn,
        member.id,
        grant,
        expires_at,
        access.account.id,
        now,
    )?)
}

/// Queues the member's mail about the decision and records it; the member's name.
fn tell_and_record(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    outcome: &Outcome<'_>,
) -> AppResult<String> {
    let Outcome {
        member,
        grant,
        approved,
        note,
        ..
    } = *outcome;
    let (name, email) = Member::names(conn, &[member.id])?
        .pop()
        .map(|(_, name, email)| (name, email))
        .unwrap_or_default();
    let link = links.member(&access.workspace.slug, member.id);
    let until = outcome.expires_at.map(|at| {
        (at - chrono::TimeDelta::days(1))
            .format("%-d %B %Y")
            .to_string()
    });
    let rendered = messages::decision(&DecisionMail {
        workspace: &access.workspace.name,
        permission: &grant.title(),
        keys: &grant.label(),
        approved,
        decided_by: &access.account.name,
        until: until.as_deref(),
        note,
        link: &link,
    })?;
    outbox::enqueue(
        conn,
        &NewMail {
            workspace_id: Some(access.workspace.id),
            ..rendered.mail("permission_decision", email.as_str())
        },
        outcome.at,
    )?;
    let label = EmailAddressRow::primary_for(conn, member.account_id)?
        .map(|e| e.canonical)
        .unwrap_or(email);
    audit::record(
        conn,
        actor,
        Event::new(if approved {
            "permission_request.approved"
        } else {
            "permission_request.denied"
        })
        .workspace(access.workspace.id)
        .target("member", member.id, &label)
        .changes(json!({
            "request_id": outcome.request_id,
            "permission": grant.label(),
            "expires_at": outcome.expires_at.map(|t| t.to_string()),
            "note": note,
            "grant_id": outcome.grant_id,
        })),
    )?;
    Ok(name)
}

/// The requests page: pending and recently decided requests of the workspace.
pub struct Triage {
    pub pending: Vec<request::RequestWithName>,
    pub approved: Vec<request::RequestWithName>,
    pub denied: Vec<request::RequestWithName>,
}

pub fn triage(conn: &mut DbConn, workspace_id: i64) -> AppResult<Triage> {
    Ok(Triage {
        pending: PermissionRequest::list(conn, workspace_id, request::PENDING, 200)?,
        approved: PermissionRequest::list(conn, workspace_id, request::APPROVED, 20)?,
        denied: PermissionRequest::list(conn, workspace_id, request::DENIED, 20)?,
    })
}

/// The acting member's own requests (the "ask" page).
pub fn mine(conn: &mut DbConn, access: &Access) -> AppResult<Vec<PermissionRequest>> {
    Ok(PermissionRequest::for_member(conn, access.member.id, 20)?)
}

/// Revokes a member's direct grant (`settings.manage`, the permission that approves
/// requests, re-checked under the member lock) by the rule for acting on a member
/// (`members::authorize`, `Act::Grant`: never one's own, never for a member who holds
/// more). A grant of another member or workspace is a 404. Audited; the member's next
/// request no longer holds it (permissions are read afresh on every request). Returns
/// the grant's label, for the flash.
pub fn revoke_grant(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    member_id: i64,
    grant_id: i64,
) -> ServiceResult<String> {
    locks::acting(conn, access, |conn, access| {
        if !access.perms.allows(Permission::SettingsManage) {
            return Err(
                AppError::forbidden_in(&access.workspace.slug, Permission::SettingsManage).into(),
            );
        }
        let member = Member::find_in_workspace(conn, access.workspace.id, member_id)?
            .ok_or(AppError::NotFound)?;
        let grant = DirectGrant::find(conn, grant_id)?
            .filter(|g| g.member_id == member.id)
            .ok_or(AppError::NotFound)?;
        let perms = access::effective_permissions(conn, member.id)?;
        members::authorize(conn, access, &member, &perms, Act::Grant)?;
        let label = match Grant::from_keys(&grant.permission, grant.scope.as_deref()) {
            Some(g) => g.label(),
            None => grant.permission.clone(),
        };
        if DirectGrant::revoke(conn, member.id, grant.id)? == 0 {
            return Err(ServiceError::general("This grant was already revoked."));
        }
        let target = EmailAddressRow::primary_for(conn, member.account_id)?
            .map(|e| e.canonical)
            .unwrap_or_default();
        audit::record(
            conn,
            actor,
            Event::new("permission_grant.revoked")
                .workspace(access.workspace.id)
                .target("member", member.id, &target)
                .changes(json!({
                    "grant_id": grant.id,
                    "permission": label,
                    "expires_at": grant.expires_at.map(|t| t.to_string()),
                })),
        )?;
        Ok(label)
    })
}

/// A member's live direct grants, for the member page.
pub fn grants_of(conn: &mut DbConn, member_id: i64) -> AppResult<Vec<DirectGrant>> {
    Ok(DirectGrant::live_for_member(
        conn,
        member_id,
        models::now(),
    )?)
}
