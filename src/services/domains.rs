//! Claimed email domains: added Pending (Domains screen or the operator's command line),
//! verified by a DNS TXT record `gatehouse-verification=<token>` checked on demand, or by
//! the operator's command line. A verified domain lets the workspace's admins edit names
//! and addresses of members on it and people with a confirmed address on it join (SPEC §3
//! "Domains and links"); several workspaces may verify one domain, each by its own record.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDateTime;
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::email::canonical_domain;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::{self, Domain, NewDomain};
use crate::models::join_link::{self, JoinRequest};
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::services::join_link as join_link_service;
use crate::services::locks;
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
/// first if needed, in one transaction (the operator vouches for control of it).
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

/// The domain's canonical name (trimmed, lower-case, IDNA to punycode, as the domain of
/// an address is); a bare top-level domain or a public suffix (`co.uk`, `github.io`),
/// under which anyone can register names, is refused.
pub fn parse(input: &str) -> ServiceResult<String> {
    let shown = input.trim();
    if shown.is_empty() {
        return Err(ServiceError::field(
            "domain",
            "Enter a domain, e.g. example.com",
        ));
    }
    let label = shown.trim_matches('.');
    let single_label =
        !label.contains('.') && label.chars().all(|c| c.is_alphanumeric() || c == '-');
    let name = canonical_domain(input).map_err(|_| {
        ServiceError::field(
            "domain",
            if single_label {
                format!("`{shown}` is a top-level domain; enter your own domain under it, e.g. example.{shown}")
            } else {
                format!("`{shown}` is not a valid domain name")
            },
        )
    })?;
    if psl::suffix_str(&name) == Some(name.as_str()) {
        return Err(ServiceError::field(
            "domain",
            if name.contains('.') {
                format!("`{name}` is a public suffix: anyone can register names under it. Enter your own domain, e.g. example.{name}")
            } else {
                format!("`{name}` is a top-level domain; enter your own domain under it, e.g. example.{name}")
            },
        ));
    }
    Ok(name)
}

fn ensure_manages_settings(access: &Access) -> AppResult<()> {
    if access.perms.allows(Permission::SettingsManage) {
        Ok(())
    } else {
        Err(AppError::forbidden_in(
            &access.workspace.slug,
            Permission::SettingsManage,
        ))
    }
}

/// The workspace's domains, by name.
pub fn list(conn: &mut DbConn, workspace_id: i64) -> AppResult<Vec<Domain>> {
    Ok(Domain::for_workspace(conn, workspace_id)?)
}

/// One of the workspace's domains (404 for an unknown id or another workspace's).
pub fn find(conn: &mut DbConn, workspace_id: i64, id: i64) -> AppResult<Domain> {
    Domain::find_in_workspace(conn, workspace_id, id)?.ok_or(AppError::NotFound)
}

/// Domains screen, "Add domain": claims it for the workspace, Pending with a new token.
/// Refused when this workspace already has it (verified, or pending with its record).
pub fn add(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    input: &str,
) -> ServiceResult<Domain> {
    let name = parse(input)?;
    locks::acting(conn, access, |conn, access| {
        ensure_manages_settings(access)?;
        if let Some(existing) = Domain::find_by_name(conn, access.workspace.id, &name)? {
            return Err(ServiceError::field(
                "domain",
                if existing.is_verified() {
                    format!("{name} is already verified by this workspace")
                } else {
                    format!("{name} is already added and waits for its TXT record: publish it and choose Check now")
                },
            ));
        }
        Ok(claim(conn, actor, access.workspace.id, &name)?)
    })
}

/// What looking up a domain's TXT records found.
#[derive(Clone, Debug)]
pub enum TxtLookup {
    /// The TXT strings (each record's strings joined, as published).
    Found(Vec<String>),
    /// The name exists but has no TXT record.
    NoRecord,
    NxDomain,
    /// The nameserver did not answer in time.
    TimedOut(Duration),
    Failed(String),
}

/// Looks up the TXT records of `domain` with a real stub resolver: the configured
/// nameserver (`GATEHOUSE_DNS_SERVER`, over UDP) or the system's (resolv.conf).
pub async fn look_up_txt(server: Option<SocketAddr>, timeout: Duration, domain: &str) -> TxtLookup {
    use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
    use hickory_resolver::name_server::TokioConnectionProvider;
    use hickory_resolver::proto::xfer::Protocol;
    use hickory_resolver::{Name, TokioResolver};

    let mut builder = match server {
        Some(addr) => {
            let mut config = ResolverConfig::new();
            config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
        }
        None => match TokioResolver::builder_tokio() {
            Ok(builder) => builder,
            Err(e) => return TxtLookup::Failed(format!("no nameserver configured: {e}")),
        },
    };
    let options = builder.options_mut();
    options.timeout = timeout;
    options.attempts = 1;
    options.cache_size = 0;
    options.use_hosts_file = ResolveHosts::Never;
    let resolver = builder.build();
    let name = match Name::from_ascii(format!("{domain}.")) {
        Ok(name) => name,
        Err(e) => return TxtLookup::Failed(e.to_string()),
    };
    // The resolver has its own timeout; this bounds the whole lookup (retries included).
    match tokio::time::timeout(timeout * 3, resolver.txt_lookup(name)).await {
        Err(_) => TxtLookup::TimedOut(timeout),
        Ok(Ok(found)) => TxtLookup::Found(
            found
                .iter()
                .map(|txt| {
                    txt.txt_data()
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>()
                })
                .collect(),
        ),
        Ok(Err(e)) if e.is_nx_domain() => TxtLookup::NxDomain,
        Ok(Err(e)) if e.is_no_records_found() => TxtLookup::NoRecord,
        Ok(Err(e)) => {
            let timed_out = e.proto().is_some_and(|p| {
                matches!(p.kind(), hickory_resolver::proto::ProtoErrorKind::Timeout)
            });
            if timed_out {
                TxtLookup::TimedOut(timeout)
            } else {
                TxtLookup::Failed(e.to_string())
            }
        }
    }
}

/// What "Check now" did.
#[derive(Clone, Debug)]
pub enum CheckOutcome {
    Verified(Domain),
    /// It stays Pending, for this reason (also kept on the domain with the check time).
    Pending(Domain, String),
    AlreadyVerified(Domain),
}

/// Domains screen, "Check now": records what the TXT lookup (done before, outside the
/// transaction) found and verifies the domain when one of the TXT strings is this
/// workspace's own record. Another workspace's record never verifies ours, whether or not
/// that workspace has verified the domain.
pub fn record_check(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    id: i64,
    lookup: TxtLookup,
    checked_at: NaiveDateTime,
) -> ServiceResult<CheckOutcome> {
    locks::acting(conn, access, |conn, access| {
        ensure_manages_settings(access)?;
        let claimed = find(conn, access.workspace.id, id)?;
        if claimed.is_verified() {
            return Ok(CheckOutcome::AlreadyVerified(claimed));
        }
        let expected = txt_record(&claimed);
        let name = claimed.domain.clone();
        let reason = match &lookup {
            TxtLookup::Found(txts) if txts.iter().any(|t| t.trim() == expected) => {
                Domain::record_check(conn, claimed.id, checked_at, "The TXT record matched.")?;
                let verified = verify(conn, actor, claimed, "dns")?;
                return Ok(CheckOutcome::Verified(verified));
            }
            TxtLookup::Found(txts) => {
                let ours = txts
                    .iter()
                    .filter(|t| t.starts_with("gatehouse-verification="))
                    .count();
                if ours > 0 {
                    format!("{name} has a gatehouse-verification TXT record, but not with this workspace's token.")
                } else {
                    format!(
                        "{name} has {} TXT record{}, none of them {expected}.",
                        txts.len(),
                        if txts.len() == 1 { "" } else { "s" }
                    )
                }
            }
            TxtLookup::NoRecord => format!("{name} has no TXT record yet."),
            TxtLookup::NxDomain => format!("{name} does not exist in DNS (NXDOMAIN)."),
            TxtLookup::TimedOut(after) => format!(
                "The nameserver did not answer within {} ms; try again later.",
                after.as_millis()
            ),
            TxtLookup::Failed(why) => format!("The lookup failed: {why}"),
        };
        Domain::record_check(conn, claimed.id, checked_at, &reason)?;
        audit::record(
            conn,
            actor,
            Event::new("domain.checked")
                .workspace(claimed.workspace_id)
                .target("domain", claimed.id, &claimed.domain)
                .changes(json!({"status": domain::PENDING, "result": reason})),
        )?;
        let claimed = find(conn, access.workspace.id, id)?;
        Ok(CheckOutcome::Pending(claimed, reason))
    })
}

/// A join policy as the form gives it (`policy` = `off` | `auto` | `approval`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinPolicy {
    Off,
    Auto,
    Approval,
}

impl JoinPolicy {
    /// `None` for a value no page of ours sends.
    pub fn parse(value: &str) -> Option<JoinPolicy> {
        match value {
            domain::POLICY_OFF => Some(JoinPolicy::Off),
            domain::POLICY_AUTO => Some(JoinPolicy::Auto),
            domain::POLICY_APPROVAL => Some(JoinPolicy::Approval),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            JoinPolicy::Off => domain::POLICY_OFF,
            JoinPolicy::Auto => domain::POLICY_AUTO,
            JoinPolicy::Approval => domain::POLICY_APPROVAL,
        }
    }

    /// How the Domains screen and the audit log say it.
    pub fn label(key: &str) -> &'static str {
        match key {
            domain::POLICY_AUTO => "Anyone with a confirmed address joins",
            domain::POLICY_APPROVAL => "Anyone with a confirmed address may ask to join",
            _ => "Off",
        }
    }
}

/// The policy form as the service takes it.
#[derive(Clone, Debug)]
pub struct PolicyInput {
    pub policy: JoinPolicy,
    pub role_ids: Vec<i64>,
    pub include_subdomains: bool,
}

/// Domains screen, a verified domain's join policy (`settings.manage`, re-checked under
/// the lock): who may join with a confirmed address on it, with which roles. Only roles
/// the one saving may grant (SPEC §4.3); they become the policy's author, against whom the
/// roles are checked again at every join. Refused on a Pending domain.
pub fn set_policy(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    id: i64,
    input: &PolicyInput,
) -> ServiceResult<Domain> {
    locks::acting(conn, access, |conn, access| {
        ensure_manages_settings(access)?;
        let claimed = find(conn, access.workspace.id, id)?;
        if !claimed.is_verified() {
            return Err(ServiceError::general(format!(
                "{} is still Pending: verify it before choosing who may join through it. Nothing was changed.",
                claimed.domain
            )));
        }
        let all = models::role::Role::for_workspace(conn, access.workspace.id)?;
        if !input
            .role_ids
            .iter()
            .all(|id| all.iter().any(|r| r.id == *id))
        {
            return Err(AppError::BadRequest("Unknown role.".into()).into());
        }
        if input.role_ids.is_empty() && input.policy != JoinPolicy::Off {
            return Err(ServiceError::field(
                "role",
                "Choose at least one role for people who join.",
            ));
        }
        let grants = crate::services::roles::grants_by_role(conn, access.workspace.id)?;
        if !input.role_ids.is_empty()
            && !crate::services::roles::may_grant_roles(
                &access.perms,
                &input.role_ids,
                &all,
                &grants,
            )
        {
            return Err(ServiceError::field(
                "role",
                "You can only offer roles whose every permission you hold yourself.",
            ));
        }
        let names = |ids: &[i64]| -> String {
            ids.iter()
                .filter_map(|id| all.iter().find(|r| r.id == *id))
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Domain::set_policy(
            conn,
            claimed.id,
            input.policy.key(),
            &input.role_ids,
            input.include_subdomains,
            access.account.id,
        )?;
        audit::record(
            conn,
            actor,
            Event::new("domain.policy_changed")
                .workspace(claimed.workspace_id)
                .target("domain", claimed.id, &claimed.domain)
                .changes(json!({
                    "before": {
                        "policy": JoinPolicy::label(&claimed.join_policy),
                        "roles": names(&claimed.role_id_list()),
                        "include_subdomains": claimed.include_subdomains,
                    },
                    "after": {
                        "policy": JoinPolicy::label(input.policy.key()),
                        "roles": names(&input.role_ids),
                        "include_subdomains": input.include_subdomains,
                    },
                })),
        )?;
        Ok(find(conn, access.workspace.id, id)?)
    })
}

/// What removing a domain will stop (shown before it is done).
pub fn preview_remove(conn: &mut DbConn, access: &Access, id: i64) -> ServiceResult<Domain> {
    ensure_manages_settings(access)?;
    Ok(find(conn, access.workspace.id, id)?)
}

/// Domains screen, "Remove" once confirmed: the claim goes, with its token (adding the
/// domain again gives a new one). Join requests still waiting through it are declined (and
/// their requesters told), since nothing would let an approver check them any more.
pub fn remove(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    id: i64,
) -> ServiceResult<Domain> {
    locks::acting(conn, access, |conn, access| {
        ensure_manages_settings(access)?;
        let claimed = find(conn, access.workspace.id, id)?;
        decline_waiting_requests(conn, access, actor, links, &claimed)?;
        Domain::delete(conn, claimed.id)?;
        audit::record(
            conn,
            actor,
            Event::new("domain.removed")
                .workspace(claimed.workspace_id)
                .target("domain", claimed.id, &claimed.domain)
                .changes(json!({"before": {"domain": claimed.domain, "status": claimed.status}})),
        )?;
        Ok(claimed)
    })
}

fn decline_waiting_requests(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    claimed: &Domain,
) -> AppResult<()> {
    let now = models::now();
    for req in JoinRequest::pending_through_domain(conn, claimed.id)? {
        if !JoinRequest::decide(
            conn,
            req.id,
            join_link::PENDING,
            join_link::DENIED,
            Some(access.account.id),
            None,
            now,
        )? {
            continue;
        }
        let who = join_link_service::tell_requester(conn, links, access, &req, false, now)?;
        audit::record(
            conn,
            actor,
            Event::new("join_request.denied")
                .workspace(claimed.workspace_id)
                .target("join_request", req.id, &who)
                .changes(json!({"before": {"status": "pending"}, "after": {"status": "denied", "reason": format!("{} was removed", claimed.domain)}})),
        )?;
    }
    Ok(())
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
        join_policy: domain::POLICY_OFF,
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

/// Marks a claim verified (each workspace proves control through its own record, so
/// another workspace's verification of the same domain does not matter here).
fn verify(
    conn: &mut DbConn,
    actor: &Actor,
    claimed: Domain,
    method: &str,
) -> ServiceResult<Domain> {
    if claimed.is_verified() {
        return Ok(claimed);
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
