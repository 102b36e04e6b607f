//! What every way in without an invitation shares — the invite link (`join_link`) and a
//! verified domain's join policy (`domain_join`): room for one more (seats and the rolling
//! daily limit), who may still join, making the membership, and mailing the deciders of a
//! new join request. Each is called inside the caller's write transaction, under the
//! workspace's member lock.

use chrono::{NaiveDateTime, TimeDelta};

use crate::db::DbConn;
use crate::error::{AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::mail::messages::{self, JoinMail};
use crate::models::audit::Actor;
use crate::models::email_address::EmailAddressRow;
use crate::models::invite::Invite;
use crate::models::join_link::{self as model, JoinRequest};
use crate::models::member::{Member, MemberStatus, SeatType};
use crate::models::outbox::{self, NewMail};
use crate::models::role::Role;
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::access;
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
