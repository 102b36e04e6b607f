//! Joining a workspace through one of its verified domains (SPEC §3 "Domains and links",
//! issue 12.2): a signed-in account with a *confirmed* address on a verified domain whose
//! join policy is on sees "Join <workspace>" on its home page; joining makes the
//! membership (auto) or files a join request (approval).
//!
//! The address is read from the database, never the session, and the match is exact: the
//! domain itself, or a subdomain only when the policy includes subdomains — never a mere
//! suffix (`evil-acme.test` is not `acme.test`). Everything is decided again at the moment
//! of joining, in one write transaction under the workspace's member lock and the account's
//! lock: the domain still verified with its policy on, the address still confirmed, not a
//! member, no request waiting, the policy's author still able to offer its roles (SPEC §4.3),
//! seats and the daily limit (shared with the invite link: `services::joining`).

use crate::db::{write_transaction, DbConn};
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::models;
use crate::models::audit::Actor;
use crate::models::domain::{self, Domain};
use crate::models::email_address::EmailAddressRow;
use crate::models::join_link::{self as model, JoinRequest};
use crate::models::member::{Member, MemberStatus};
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::join_link::Used;
use crate::services::joining;
use crate::services::locks::lock_workspace;
use crate::services::roles::{self, Offer};

/// A workspace the account may join (or has asked to join) through a verified domain.
#[derive(Clone, Debug)]
pub struct Joinable {
    pub workspace_name: String,
    pub workspace_slug: String,
    /// The verified domain the account's confirmed address is on.
    pub domain: String,
    /// The policy asks an admin's approval ("Ask to join").
    pub approval: bool,
    /// A request of the account already waits for an admin.
    pub waiting: bool,
}

/// The domains of the account's confirmed addresses (read from the database).
fn confirmed_domains(conn: &mut DbConn, account_id: i64) -> AppResult<Vec<String>> {
    let mut found: Vec<String> = EmailAddressRow::for_account(conn, account_id)?
        .into_iter()
        .filter(|e| e.verified)
        .filter_map(|e| e.canonical.rsplit_once('@').map(|(_, d)| d.to_string()))
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// Every name a policy could be set on for these address domains: each domain and the
/// domains above it (`a.acme.test`, `acme.test`, `test`); `Domain::covers` decides.
fn candidate_names(address_domains: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for d in address_domains {
        let mut rest = d.as_str();
        loop {
            names.push(rest.to_string());
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => break,
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

/// The home page's "Join <workspace>" offers: workspaces with a verified domain whose
/// policy is on and covers one of the account's confirmed addresses, of which the account
/// is not an active or archived member (a removed member may come back).
pub fn joinable(conn: &mut DbConn, account_id: i64) -> AppResult<Vec<Joinable>> {
    let mine = confirmed_domains(conn, account_id)?;
    let open = Domain::open_among(conn, &candidate_names(&mine))?;
    let mut offers: Vec<Joinable> = Vec::new();
    for d in open {
        if !mine.iter().any(|a| d.covers(a)) {
            continue;
        }
        let member = Member::find_for_account(conn, d.workspace_id, account_id)?;
        if member
            .as_ref()
            .is_some_and(|m| m.status() != MemberStatus::Removed)
        {
            continue;
        }
        let Some(workspace) = model::workspace(conn, d.workspace_id)? else {
            continue;
        };
        if offers.iter().any(|o| o.workspace_slug == workspace.slug) {
            continue;
        }
        offers.push(Joinable {
            workspace_name: workspace.name,
            workspace_slug: workspace.slug,
            domain: d.domain.clone(),
            approval: d.join_policy == domain::POLICY_APPROVAL,
            waiting: JoinRequest::pending_for(conn, d.workspace_id, account_id)?,
        });
    }
    offers.sort_by(|a, b| a.workspace_name.cmp(&b.workspace_name));
    Ok(offers)
}

/// `POST /w/{ws}/join`: the signed-in account joins the workspace (auto) or asks to join
/// (approval; the deciders are mailed) through the verified domain its confirmed address
/// is on. A refusal changes nothing.
pub fn join(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    slug: &str,
    account_id: i64,
) -> ServiceResult<Used> {
    // A slug no workspace could have is an unknown workspace, before any lookup.
    if !crate::domain::Slug::is_valid(slug) {
        return Err(AppError::NotFound.into());
    }
    let found = Workspace::find_by_slug(conn, slug)?.ok_or(AppError::NotFound)?;
    write_transaction(conn, |conn| {
        let workspace = lock_workspace(conn, found.id)?;
        crate::services::account::lock_account(conn, account_id)?;
        let now = models::now();
        let existing = joining::ensure_not_member(conn, &workspace, account_id)?;
        let open: Vec<Domain> = Domain::for_workspace(conn, workspace.id)?
            .into_iter()
            .filter(|d| d.is_verified() && d.join_policy != domain::POLICY_OFF)
            .collect();
        if open.is_empty() {
            return Err(ServiceError::general(format!(
                "{} does not let people join through a verified domain: ask its admins for an invitation. Nothing was changed.",
                workspace.name
            )));
        }
        let mine = confirmed_domains(conn, account_id)?;
        let Some(via) = open.iter().find(|d| mine.iter().any(|a| d.covers(a))) else {
            let names: Vec<&str> = open.iter().map(|d| d.domain.as_str()).collect();
            return Err(ServiceError::general(format!(
                "You need a confirmed address on {} to join {}: add one on your account and open the link mailed to it. Nothing was changed.",
                names.join(" or "),
                workspace.name
            )));
        };
        joining::ensure_no_pending_request(conn, &workspace, account_id)?;
        let role_ids = via.role_id_list();
        let offer = Offer {
            author_account_id: via.policy_author_account_id,
            role_ids: role_ids.clone(),
        };
        if roles::offer_withdrawn(conn, workspace.id, Permission::SettingsManage, offer)?.is_some()
        {
            return Err(ServiceError::general(format!(
                "You can't join {} through {} now: whoever set its join policy can no longer offer its roles. Nothing was changed.",
                workspace.name, via.domain
            )));
        }
        let through = joining::Through::Domain {
            domain_id: via.id,
            name: &via.domain,
        };
        if via.join_policy == domain::POLICY_APPROVAL {
            return Ok(joining::file_request(
                conn, actor, links, &workspace, account_id, &role_ids, through, now,
            )?);
        }
        joining::ensure_room(conn, &workspace, now)?;
        Ok(joining::join_now(
            conn, actor, &workspace, existing, account_id, &role_ids, through, now,
        )?)
    })
}

/// Approving a request filed through a domain (`join_link::decide`, under the locks): the
/// domain is still verified here and the requester still has a confirmed address on it.
pub(crate) fn ensure_still_on_domain(
    conn: &mut DbConn,
    workspace: &Workspace,
    domain_id: i64,
    account_id: i64,
) -> ServiceResult<()> {
    let Some(via) =
        Domain::find_in_workspace(conn, workspace.id, domain_id)?.filter(Domain::is_verified)
    else {
        return Err(ServiceError::general(
            "The domain this request came through is no longer verified here: deny the request.",
        ));
    };
    let mine = confirmed_domains(conn, account_id)?;
    if !mine.iter().any(|a| via.covers(a)) {
        return Err(ServiceError::general(format!(
            "The requester no longer has a confirmed address on {}: deny the request.",
            via.domain
        )));
    }
    Ok(())
}
