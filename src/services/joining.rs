//! What every way in without an invitation shares — the invite link (`join_link`) and a
//! verified domain's join policy (`domain_join`): room for one more (seats and the rolling
//! daily limit), who may still join, making the membership, and mailing the deciders of a
//! new join request. Each is called inside the caller's write transaction, under the
//! workspace's member lock.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::DbConn;
use crate::error::{AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::mail::messages::{self, JoinMail};
use crate::models::audit::{self, Actor, Event};
use crate::models::email_address::EmailAddressRow;
use crate::models::invite::Invite;
use crate::models::join_link::{self as model, encode_ids, JoinRequest, NewJoinRequest};
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::outbox::{self, NewMail};
use crate::models::role::Role;
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::access;
use crate::services::join_link::Used;
use crate::services::members::join;
use crate::services::seats::Seats;

/// Seats and the rolling daily limit (invitations sent plus joins through the link or a
/// domain in the last 24 hours) leave room for one more member.
pub(crate) fn ensure_room(
    conn: &mut DbConn,
    workspace: &Workspace,
    now: NaiveDateTime,
) -> ServiceResult<()> {
    Seats::load(conn, workspace, now)?.ensure_free(1)?;
    let since = now - TimeDelta::hours(24);
    let (invited, _) = Invite::created_since(conn, workspace.id, since)?;
    let joined = JoinRequest::joins_since(conn, workspace.id, since)?;
    if invited + joined >= i64::from(workspace.daily_invite_limit) {
        return Err(ServiceError::general(format!(
            "The workspace's daily limit of {} new people is reached: try again in 24 hours. Nothing was changed.",
            workspace.daily_invite_limit
        )));
    }
    Ok(())
}

/// The account is not an active or archived member (a removed one may come back: its
/// membership is returned to be reactivated).
pub(crate) fn ensure_not_member(
    conn: &mut DbConn,
    workspace: &Workspace,
    account_id: i64,
) -> ServiceResult<Option<Member>> {
    let member = Member::find_for_account(conn, workspace.id, account_id)?;
    match member.as_ref().map(Member::status) {
        Some(MemberStatus::Active) => Err(ServiceError::general(
            "You are already a member of this workspace.",
        )),
        Some(MemberStatus::Archived) => Err(ServiceError::general(
            "Your membership of this workspace is archived: ask an admin to restore it.",
        )),
        _ => Ok(member),
    }
}

/// No join request of this account already waits in the workspace.
pub(crate) fn ensure_no_pending_request(
    conn: &mut DbConn,
    workspace: &Workspace,
    account_id: i64,
) -> ServiceResult<()> {
    if JoinRequest::pending_for(conn, workspace.id, account_id)? {
        return Err(ServiceError::general(
            "You already asked to join: an admin has not answered yet.",
        ));
    }
    Ok(())
}

/// The membership with these roles, recorded as joined `via` (`model::VIA_LINK`,
/// `model::VIA_DOMAIN`): a former member comes back, anyone else joins.
#[allow(clippy::too_many_arguments)]
pub(crate) fn make_member(
    conn: &mut DbConn,
    actor: &Actor,
    workspace: &Workspace,
    existing: Option<Member>,
    account_id: i64,
    role_ids: &[i64],
    approved_by: Option<i64>,
    via: &str,
) -> AppResult<i64> {
    let member_id = match existing {
        Some(member) => {
            join::reactivate(conn, actor, workspace, &member, role_ids, SeatType::Member)?
        }
        None => join::join_in_tx(
            conn,
            actor,
            &join::Joining {
                workspace_id: workspace.id,
                account_id,
                role_ids,
                seat: SeatType::Member,
                manager_id: None,
                department: None,
            },
        )?,
    };
    model::set_joined_via(conn, member_id, via, approved_by)?;
    Ok(member_id)
}

/// The way in a join or a join request came through: the invite link or a verified domain.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Through<'a> {
    Link { link_id: i64 },
    Domain { domain_id: i64, name: &'a str },
}

impl Through<'_> {
    fn domain_id(self) -> Option<i64> {
        match self {
            Through::Link { .. } => None,
            Through::Domain { domain_id, .. } => Some(domain_id),
        }
    }

    fn domain_name(&self) -> Option<&str> {
        match self {
            Through::Link { .. } => None,
            Through::Domain { name, .. } => Some(name),
        }
    }

    /// A join request of the account through here, waiting (pending).
    fn request(
        self,
        workspace: &Workspace,
        account_id: i64,
        role_ids: &[i64],
        now: NaiveDateTime,
    ) -> NewJoinRequest<'static> {
        NewJoinRequest {
            workspace_id: workspace.id,
            account_id,
            status: model::PENDING,
            role_ids: encode_ids(role_ids),
            confirm_token_hash: None,
            member_id: None,
            decided_at: None,
            created_at: now,
            domain_id: self.domain_id(),
        }
    }

    /// The audit payload's key naming the way in.
    fn detail(self) -> (&'static str, serde_json::Value) {
        match self {
            Through::Link { link_id } => ("link_id", json!(link_id)),
            Through::Domain { name, .. } => ("domain", json!(name)),
        }
    }
}

/// Files a join request that waits for an admin (audited; the deciders are mailed).
#[allow(clippy::too_many_arguments)]
pub(crate) fn file_request(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    workspace: &Workspace,
    account_id: i64,
    role_ids: &[i64],
    through: Through<'_>,
    now: NaiveDateTime,
) -> AppResult<Used> {
    let id = through
        .request(workspace, account_id, role_ids, now)
        .insert(conn)?;
    let (key, value) = through.detail();
    let label = label_of(conn, account_id)?;
    audit::record(
        conn,
        actor,
        Event::new("join_request.created")
            .workspace(workspace.id)
            .target("join_request", id, &label)
            .changes(json!({"after": {"status": "pending", "role_ids": role_ids, key: value}})),
    )?;
    tell_deciders(
        conn,
        links,
        workspace,
        account_id,
        through.domain_name(),
        now,
    )?;
    Ok(Used::Requested {
        workspace_name: workspace.name.clone(),
    })
}

/// Joins at once: the membership, the use kept as a join request row (so the rolling daily
/// limit counts it), and the audit event.
#[allow(clippy::too_many_arguments)]
pub(crate) fn join_now(
    conn: &mut DbConn,
    actor: &Actor,
    workspace: &Workspace,
    existing: Option<Member>,
    account_id: i64,
    role_ids: &[i64],
    through: Through<'_>,
    now: NaiveDateTime,
) -> AppResult<Used> {
    let via = match through {
        Through::Link { .. } => model::VIA_LINK,
        Through::Domain { .. } => model::VIA_DOMAIN,
    };
    let member_id = make_member(
        conn, actor, workspace, existing, account_id, role_ids, None, via,
    )?;
    let id = NewJoinRequest {
        status: model::JOINED,
        member_id: Some(member_id),
        decided_at: Some(now),
        ..through.request(workspace, account_id, role_ids, now)
    }
    .insert(conn)?;
    let (key, value) = through.detail();
    let label = label_of(conn, account_id)?;
    audit::record(
        conn,
        actor,
        Event::new(match through {
            Through::Link { .. } => "join_link.used",
            Through::Domain { .. } => "domain.join",
        })
        .workspace(workspace.id)
        .target("member", member_id, &label)
        .changes(json!({"after": {"member_id": member_id, "role_ids": role_ids, key: value, "join_request_id": id}})),
    )?;
    Ok(Used::Joined {
        workspace_slug: workspace.slug.clone(),
    })
}

/// The account's primary address (an audit label).
pub(crate) fn label_of(conn: &mut DbConn, account_id: i64) -> AppResult<String> {
    Ok(EmailAddressRow::primary_for(conn, account_id)?
        .map(|e| e.canonical)
        .unwrap_or_default())
}

/// Mails a new join request to everyone who may decide it (`settings.manage`), in the
/// request's transaction. `domain`: the verified domain it came through (`None`: the
/// invite link), which the mail names.
pub(crate) fn tell_deciders(
    conn: &mut DbConn,
    links: &Links,
    workspace: &Workspace,
    account_id: i64,
    domain: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<()> {
    let who = access::account_summary(conn, account_id)?;
    let (who_name, who_email) = who.map(|a| (a.name, a.email)).unwrap_or_default();
    let link = links.workspace(&workspace.slug, "/requests");
    let subject = format!("{who_name} asks to join {}", workspace.name);
    let what = match domain {
        None => format!(
            "{who_name} ({who_email}) used the invite link of {} and asks to join. Approve or deny the request on the Requests page.",
            workspace.name
        ),
        Some(domain) => format!(
            "{who_name} ({who_email}) has a confirmed address on {domain} and asks to join {}. Approve or deny the request on the Requests page.",
            workspace.name
        ),
    };
    let deciders =
        Role::accounts_holding(conn, workspace.id, Permission::SettingsManage.key(), now)?;
    for decider_id in deciders.into_iter().filter(|id| *id != account_id) {
        let Some(decider) = access::account_summary(conn, decider_id)? else {
            continue;
        };
        if decider.email.is_empty() {
            continue;
        }
        let rendered = messages::join(&JoinMail {
            subject: &subject,
            name: &decider.name,
            what: &what,
            action: "Approve or deny",
            link: &link,
        })?;
        outbox::enqueue(
            conn,
            &NewMail {
                workspace_id: Some(workspace.id),
                ..rendered.mail("join_request", decider.email.as_str())
            },
            now,
        )?;
    }
    Ok(())
}
