//! Claimed email domains: added Pending, verified by the operator's command line (or, in
//! a later step, a DNS TXT record). A verified domain belongs to one workspace and lets
//! its admins edit names and addresses of members on it (SPEC §3 "Domains and links").

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::email::canonical_domain;
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::{self, Domain, NewDomain};
use crate::models::workspace::Workspace;
use crate::tokens;

/// The TXT record that proves control of a domain.
pub fn txt_record(domain: &Domain) -> String {
    format!("gatehouse-verification={}", domain.verification_token)
}

fn workspace(conn: &mut DbConn, slug: &str) -> AppResult<Workspace> {
    Workspace::find_by_slug(conn, slug)?.ok_or(AppError::NotFound)
}

fn parse(input: &str) -> AppResult<String> {
    canonical_domain(input)
        .map_err(|_| AppError::BadRequest(format!("`{}` is not a valid domain name", input.trim())))
}

/// Claims a domain for a workspace (Pending). Claiming it again returns the existing claim.
pub fn add(conn: &mut DbConn, actor: &Actor, workspace_id: i64, input: &str) -> AppResult<Domain> {
    let name = parse(input)?;
    write_transaction(conn, |conn| {
        if let Some(existing) = Domain::find_by_name(conn, workspace_id, &name)? {
            return Ok(existing);
        }
        let id = NewDomain {
            workspace_id,
            domain: &name,
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
                .target("domain", id, &name)
                .changes(json!({"after": {"domain": name, "status": domain::PENDING}})),
        )?;
        Domain::find_by_name(conn, workspace_id, &name)?.ok_or(AppError::NotFound)
    })
}

/// Marks a workspace's domain verified (claiming it first if needed); refused when another
/// workspace already verified it.
pub fn verify(
    conn: &mut DbConn,
    actor: &Actor,
    workspace_id: i64,
    input: &str,
    method: &str,
) -> AppResult<Domain> {
    let claimed = add(conn, actor, workspace_id, input)?;
    write_transaction(conn, |conn| {
        if claimed.is_verified() {
            return Ok(claimed.clone());
        }
        if Domain::verified_anywhere(conn, &claimed.domain)? {
            return Err(AppError::BadRequest(format!(
                "{} is already verified by another workspace",
                claimed.domain
            )));
        }
        Domain::mark_verified(conn, claimed.id, models::now())?;
        audit::record(
            conn,
            actor,
            Event::new("domain.verified")
                .workspace(workspace_id)
                .target("domain", claimed.id, &claimed.domain)
                .changes(json!({
                    "before": {"status": domain::PENDING},
                    "after": {"status": domain::VERIFIED},
                    "method": method,
                })),
        )?;
        Domain::find_by_name(conn, workspace_id, &claimed.domain)?.ok_or(AppError::NotFound)
    })
}

/// `gatehouse domain add WS DOMAIN`.
pub fn add_by_operator(conn: &mut DbConn, slug: &str, input: &str) -> AppResult<Domain> {
    let ws = workspace(conn, slug)?;
    add(conn, &Actor::operator(), ws.id, input)
}

/// `gatehouse domain verify WS DOMAIN`.
pub fn verify_by_operator(conn: &mut DbConn, slug: &str, input: &str) -> AppResult<Domain> {
    let ws = workspace(conn, slug)?;
    verify(conn, &Actor::operator(), ws.id, input, "operator")
}

/// Whether a canonical address is on one of these (verified) domains.
pub fn on_domains(canonical_email: &str, domains: &[String]) -> bool {
    canonical_email
        .rsplit_once('@')
        .is_some_and(|(_, d)| domains.iter().any(|v| v == d))
}
