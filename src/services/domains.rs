//! Claimed email domains: added Pending, verified by the operator's command line (or, in
//! a later step, a DNS TXT record). A verified domain belongs to one workspace and lets
//! its admins edit names and addresses of members on it (SPEC §3 "Domains and links").

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::email::canonical_domain;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::{self, Domain, NewDomain};
use crate::models::workspace::Workspace;
use crate::tokens;

/// The TXT record that proves control of a domain.
pub fn txt_record(domain: &Domain) -> String {
    format!("gatehouse-verification={}", domain.verification_token)
}

/// `gatehouse domain add WS DOMAIN`: claims a domain for a workspace (Pending). Claiming
/// it again returns the existing claim.
pub fn add_by_operator(conn: &mut DbConn, slug: &str, input: &str) -> ServiceResult<Domain> {
    let workspace = workspace(conn, slug)?;
    let name = parse(input)?;
    let claimed = write_transaction(conn, |conn| {
        claim(conn, &Actor::operator(), workspace.id, &name)
    })?;
    Ok(claimed)
}

/// `gatehouse domain verify WS DOMAIN`: marks a workspace's domain verified, claiming it
/// first if needed, in one transaction; refused (and nothing claimed) when another
/// workspace already verified it.
pub fn verify_by_operator(conn: &mut DbConn, slug: &str, input: &str) -> ServiceResult<Domain> {
    let workspace = workspace(conn, slug)?;
    let name = parse(input)?;
    let actor = Actor::operator();
    write_transaction(conn, |conn| {
        let claimed = claim(conn, &actor, workspace.id, &name)?;
        verify(conn, &actor, claimed, "operator")
    })
}

fn workspace(conn: &mut DbConn, slug: &str) -> AppResult<Workspace> {
    Workspace::find_by_slug(conn, slug)?.ok_or(AppError::NotFound)
}

/// The domain's canonical name.
fn parse(input: &str) -> ServiceResult<String> {
    canonical_domain(input).map_err(|_| {
        ServiceError::field(
            "domain",
            format!("`{}` is not a valid domain name", input.trim()),
        )
    })
}

/// The workspace's claim of a domain (canonical `name`), made Pending if there was none.
fn claim(conn: &mut DbConn, actor: &Actor, workspace_id: i64, name: &str) -> AppResult<Domain> {
    if let Some(existing) = Domain::find_by_name(conn, workspace_id, name)? {
        return Ok(existing);
    }
    let id = NewDomain {
        workspace_id,
        domain: name,
        status: domain::PENDING,
        verification_token: &tokens::generate(),
        join_policy: "off",
        created_at: models::now(),
    }
    .insert(conn)?;
    audit::record(
        conn,
        actor,
        Event::new("domain.added")
            .workspace(workspace_id)
            .target("domain", id, name)
            .changes(json!({"after": {"domain": name, "status": domain::PENDING}})),
    )?;
    Domain::find_by_name(conn, workspace_id, name)?.ok_or(AppError::NotFound)
}

/// Marks a claim verified; refused when another workspace already verified the domain.
fn verify(
    conn: &mut DbConn,
    actor: &Actor,
    claimed: Domain,
    method: &str,
) -> ServiceResult<Domain> {
    if claimed.is_verified() {
        return Ok(claimed);
    }
    if Domain::verified_anywhere(conn, &claimed.domain)? {
        return Err(ServiceError::general(format!(
            "{} is already verified by another workspace",
            claimed.domain
        )));
    }
    Domain::mark_verified(conn, claimed.id, models::now())?;
    audit::record(
        conn,
        actor,
        Event::new("domain.verified")
            .workspace(claimed.workspace_id)
            .target("domain", claimed.id, &claimed.domain)
            .changes(json!({
                "before": {"status": domain::PENDING},
                "after": {"status": domain::VERIFIED},
                "method": method,
            })),
    )?;
    Ok(
        Domain::find_by_name(conn, claimed.workspace_id, &claimed.domain)?
            .ok_or(AppError::NotFound)?,
    )
}

/// Whether a canonical address is on one of these (verified) domains.
pub fn on_domains(canonical_email: &str, domains: &[String]) -> bool {
    canonical_email
        .rsplit_once('@')
        .is_some_and(|(_, d)| domains.iter().any(|v| v == d))
}
