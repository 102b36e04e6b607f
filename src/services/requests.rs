//! Permission requests (SPEC §3): a member refused an action asks for the permission with
//! a reason; an admin approves it as a direct grant (optionally expiring) or denies it, and
//! the member is mailed the outcome. An approver can only grant what they hold.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult};
use crate::links::Links;
use crate::mail::messages::{self, DecisionMail};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus};
use crate::models::outbox::{self, NewMail};
use crate::models::permission_request::{self as request, NewPermissionRequest, PermissionRequest};
use crate::models::role::Role;
use crate::permissions::Grant;
use crate::services::access::{self, Access};
use crate::services::locks;
use crate::services::members::{self, Act};

pub const MAX_REASON_CHARS: usize = 1000;

pub enum AskOutcome {
    Created(i64),
    /// Refused with a message for the field it concerns; nothing written.
    Refused(&'static str, String),
}

/// Records a request from the acting member for `grant`, with their reason.
pub fn ask(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    grant: &Grant,
    reason: &str,
) -> AppResult<AskOutcome> {
    write_transaction(conn, |conn| {
        if access.perms.covers(grant) {
            return Ok(AskOutcome::Refused(
                "permission",
                format!("You already hold {}", grant.label()),
            ));
        }
        if PermissionRequest::pending_for(conn, access.member.id, grant.permission.key())? {
            return Ok(AskOutcome::Refused(
                "permission",
                format!(
                    "You already asked for {}: an admin has not answered yet",
                    grant.permission
                ),
            ));
        }
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
        Ok(AskOutcome::Created(id))
    })
}

/// The end of the given day (UTC): a grant "until 5 March" works all of 5 March.
pub fn end_of_day(date: NaiveDate) -> NaiveDateTime {
    date.succ_opt().unwrap_or(date).and_time(NaiveTime::MIN)
}

pub enum Decision {
    Approve { expires_on: Option<NaiveDate> },
    Deny { note: Option<String> },
}

/// What a decision did, for the flash message.
pub struct Decided {
    pub who: String,
    pub grant: String,
    pub approved: bool,
}

/// Approves or denies a pending request (the caller checked `settings.manage`). Approval
/// needs the approver to hold the permission at that scope and to pass the rule for acting
/// on the member (`members::authorize`, `Act::Grant`: never one's own request, never for a
/// member who holds more); it runs under the member lock, so the member it grants to is
/// still active when the grant is written (a concurrent removal deletes grants). The
/// request is decided by a conditional update, so two admins cannot both decide it; the
/// member's mail is queued in the same transaction.
pub fn decide(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    request_id: i64,
    decision: Decision,
) -> AppResult<Decided> {
    locks::acting(conn, access, |conn, access| {
        let req = PermissionRequest::find_in_workspace(conn, access.workspace.id, request_id)?
            .ok_or(AppError::NotFound)?;
        let grant = Grant::from_keys(&req.permission, req.scope.as_deref()).ok_or_else(|| {
            AppError::BadRequest("This request names a permission that no longer exists.".into())
        })?;
        if req.status != request::PENDING {
            return Err(AppError::BadRequest(
                "This request was already decided.".into(),
            ));
        }
        let member = Member::find_in_workspace(conn, access.workspace.id, req.member_id)?
            .ok_or(AppError::NotFound)?;
        let (name, email) = Member::names(conn, &[member.id])?
            .pop()
            .map(|(_, name, email)| (name, email))
            .unwrap_or_default();
        let now = models::now();
        let (status, grant_id, expires_at, note) = match decision {
            Decision::Approve { expires_on } => {
                if !access.perms.covers(&grant) {
                    return Err(AppError::forbidden_because(format!(
                        "You can't grant {}: you don't hold it at that scope yourself.",
                        grant.label()
                    )));
                }
                if member.status() != MemberStatus::Active {
                    return Err(AppError::BadRequest(
                        "This member is no longer active in the workspace.".into(),
                    ));
                }
                let perms = access::effective_permissions(conn, member.id)?;
                members::authorize(conn, access, &member, &perms, Act::Grant)?;
                let expires_at = expires_on.map(end_of_day);
                let id = Role::grant(conn, member.id, &grant, expires_at, access.account.id, now)?;
                (request::APPROVED, Some(id), expires_at, None)
            }
            Decision::Deny { note } => (request::DENIED, None, None, note),
        };
        if PermissionRequest::decide(
            conn,
            req.id,
            status,
            access.account.id,
            note.as_deref(),
            grant_id,
            now,
        )? == 0
        {
            return Err(AppError::BadRequest(
                "This request was already decided.".into(),
            ));
        }
        let approved = status == request::APPROVED;
        let link = links.member(&access.workspace.slug, member.id);
        let until = expires_at.map(|at| {
            (at - chrono::TimeDelta::days(1))
                .format("%-d %B %Y")
                .to_string()
        });
        let rendered = messages::decision(&DecisionMail {
            workspace: &access.workspace.name,
            permission: &grant.label(),
            approved,
            decided_by: &access.account.name,
            until: until.as_deref(),
            note: note.as_deref(),
            link: &link,
        })?;
        outbox::enqueue(
            conn,
            &NewMail {
                workspace_id: Some(access.workspace.id),
                invite_id: None,
                kind: "permission_decision",
                recipient: email.clone(),
                subject: rendered.subject,
                text_body: rendered.text,
                html_body: rendered.html,
            },
            now,
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
                "request_id": req.id,
                "permission": grant.label(),
                "expires_at": expires_at.map(|t| t.to_string()),
                "note": note,
                "grant_id": grant_id,
            })),
        )?;
        Ok(Decided {
            who: name,
            grant: grant.label(),
            approved,
        })
    })
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
