//! The shareable invite link (SPEC §3 "Domains and links", §5 `/w/{ws}/settings/link`,
//! `/join/{token}`) and the join requests it leads to.
//!
//! The token is 256 CSPRNG bits, stored only as its SHA-256 (like invite tokens), so the
//! link's URL is shown once, right after enabling or rotating; afterwards the page offers
//! "Rotate to get a new link". Rotating replaces the hash: the old link dies at once.
//!
//! Every use is decided inside one write transaction that holds the workspace's member lock
//! (`services::locks`): the link's state (enabled, expiry, uses left), its author's rights
//! *now* (`roles::offer_withdrawn`: a stored offer grants at most what its author may grant
//! at the moment it is used, SPEC §4.3), seats (`Seats`) and the daily limit are checked
//! and the use is consumed by a conditional update, so concurrent joins never exceed them.

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::domain::{LastDay, PersonName};
use crate::email::EmailAddress;
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::links::Links;
use crate::mail::messages::{self, JoinMail};
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::domain::Domain;
use crate::models::email_address::EmailAddressRow;
use crate::models::join_link::{
    self as model, encode_ids, JoinLink, JoinRequest, JoinRequestWithName, LinkSettings,
    NewJoinRequest,
};
use crate::models::member::{Member, MemberStatus};
use crate::models::outbox::{self, NewMail};
use crate::models::role::Role;
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::access::{self, Access};
use crate::services::domain_join;
use crate::services::joining::{self, ensure_room, label_of, make_member};
use crate::services::locks::{self, lock_workspace};
use crate::services::members::join;
use crate::services::roles::{self, Offer};
use crate::tokens;

/// How long a new person's confirmation link works.
const CONFIRM_DAYS: i64 = 7;

/// The settings form as the service takes it.
#[derive(Clone, Debug)]
pub struct LinkInput {
    pub enabled: bool,
    pub require_approval: bool,
    pub verified_domains_only: bool,
    pub role_ids: Vec<i64>,
    pub expires_on: Option<LastDay>,
    pub max_uses: Option<i32>,
}

/// The settings page: the link as stored and the roles the viewer may offer through it.
pub struct LinkOverview {
    pub link: Option<JoinLink>,
    pub roles: Vec<Role>,
}

fn require_settings(access: &Access) -> ServiceResult<()> {
    if access.perms.allows(Permission::SettingsManage) {
        Ok(())
    } else {
        Err(AppError::forbidden_in(&access.workspace.slug, Permission::SettingsManage).into())
    }
}

pub fn overview(conn: &mut DbConn, access: &Access) -> AppResult<LinkOverview> {
    Ok(LinkOverview {
        link: JoinLink::for_workspace(conn, access.workspace.id)?,
        roles: roles::grantable_roles(conn, access)?,
    })
}

/// Saves the link's settings (`settings.manage`, and every default role grantable by the
/// one saving, both re-checked under the lock). Returns the new token when this save
/// enabled the link (a link that was off gets a fresh token: its URL is shown once).
pub fn save(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    input: &LinkInput,
) -> ServiceResult<Option<String>> {
    locks::acting(conn, access, |conn, access| {
        require_settings(access)?;
        let all = Role::for_workspace(conn, access.workspace.id)?;
        if input.role_ids.is_empty() {
            return Err(ServiceError::field("role", "Choose at least one role."));
        }
        if !input
            .role_ids
            .iter()
            .all(|id| all.iter().any(|r| r.id == *id))
        {
            return Err(AppError::BadRequest("Unknown role.".into()).into());
        }
        let grants = roles::grants_by_role(conn, access.workspace.id)?;
        if !roles::may_grant_roles(&access.perms, &input.role_ids, &all, &grants) {
            return Err(ServiceError::field(
                "role",
                "You can only offer roles whose every permission you hold yourself.",
            ));
        }
        let now = models::now();
        let before = JoinLink::for_workspace(conn, access.workspace.id)?;
        let was_on = before.as_ref().is_some_and(|l| l.enabled);
        let id = JoinLink::save(
            conn,
            access.workspace.id,
            &LinkSettings {
                enabled: input.enabled,
                require_approval: input.require_approval,
                verified_domains_only: input.verified_domains_only,
                role_ids: &input.role_ids,
                expires_at: input.expires_on.map(LastDay::end),
                max_uses: input.max_uses,
                author_account_id: access.account.id,
            },
            now,
        )?;
        let token = if input.enabled && !was_on {
            let token = tokens::generate();
            JoinLink::set_token(conn, id, &tokens::hash(&token), now)?;
            Some(token)
        } else {
            None
        };
        audit::record(
            conn,
            actor,
            Event::new("join_link.updated")
                .workspace(access.workspace.id)
                .target("join_link", id, "invite link")
                .changes(json!({
                    "before": before.as_ref().map(describe),
                    "after": {
                        "enabled": input.enabled,
                        "require_approval": input.require_approval,
                        "verified_domains_only": input.verified_domains_only,
                        "role_ids": input.role_ids,
                        "expires_on": input.expires_on.map(|d| d.date().to_string()),
                        "max_uses": input.max_uses,
                    },
                    "new_token": token.is_some(),
                })),
        )?;
        Ok(token)
    })
}

fn describe(link: &JoinLink) -> serde_json::Value {
    json!({
        "enabled": link.enabled,
        "require_approval": link.require_approval,
        "verified_domains_only": link.verified_domains_only,
        "role_ids": link.role_id_list(),
        "expires_at": link.expires_at.map(|t| t.to_string()),
        "max_uses": link.max_uses,
        "uses": link.uses,
    })
}

/// Replaces the token of an enabled link (the old URL stops working at once, the use count
/// restarts); the new token, shown once.
pub fn rotate(conn: &mut DbConn, access: &Access, actor: &Actor) -> ServiceResult<String> {
    locks::acting(conn, access, |conn, access| {
        require_settings(access)?;
        let link = JoinLink::for_workspace(conn, access.workspace.id)?
            .filter(|l| l.enabled)
            .ok_or_else(|| ServiceError::general("Turn the link on first: it is off."))?;
        let token = tokens::generate();
        JoinLink::set_token(conn, link.id, &tokens::hash(&token), models::now())?;
        audit::record(
            conn,
            actor,
            Event::new("join_link.rotated")
                .workspace(access.workspace.id)
                .target("join_link", link.id, "invite link")
                .changes(json!({"before": {"uses": link.uses}, "after": {"uses": 0}})),
        )?;
        Ok(token)
    })
}

/// What a `/join/{token}` link leads to, read without changing anything.
#[derive(Clone, Debug)]
pub enum LinkState {
    Unknown,
    /// Turned off by an admin.
    Disabled(LinkView),
    Expired(LinkView),
    UsedUp(LinkView),
    Open(LinkView),
}

#[derive(Clone, Debug)]
pub struct LinkView {
    pub workspace_name: String,
    pub workspace_slug: String,
    pub roles: Vec<String>,
    pub require_approval: bool,
    pub verified_domains_only: bool,
}

fn state_of(link: &JoinLink, now: NaiveDateTime) -> Result<(), &'static str> {
    if !link.enabled {
        Err("disabled")
    } else if link.expires_at.is_some_and(|at| at <= now) {
        Err("expired")
    } else if link.max_uses.is_some_and(|max| link.uses >= max) {
        Err("used up")
    } else {
        Ok(())
    }
}

pub fn lookup(conn: &mut DbConn, token: &str) -> AppResult<LinkState> {
    let Some(link) = JoinLink::find_by_token_hash(conn, &tokens::hash(token))? else {
        return Ok(LinkState::Unknown);
    };
    let Some(workspace) = model::workspace(conn, link.workspace_id)? else {
        return Ok(LinkState::Unknown);
    };
    let all = Role::for_workspace(conn, workspace.id)?;
    let view = LinkView {
        workspace_name: workspace.name.clone(),
        workspace_slug: workspace.slug.clone(),
        roles: link
            .role_id_list()
            .iter()
            .filter_map(|id| all.iter().find(|r| r.id == *id).map(|r| r.name.clone()))
            .collect(),
        require_approval: link.require_approval,
        verified_domains_only: link.verified_domains_only,
    };
    Ok(match state_of(&link, models::now()) {
        Ok(()) => LinkState::Open(view),
        Err("disabled") => LinkState::Disabled(view),
        Err("expired") => LinkState::Expired(view),
        Err(_) => LinkState::UsedUp(view),
    })
}

/// What a use of the link did.
#[derive(Clone, Debug)]
pub enum Used {
    Joined { workspace_slug: String },
    Requested { workspace_name: String },
}

/// The link of `token` under the workspace's member lock, still usable, with its author
/// still able to offer its roles. Not found: an unknown (or rotated-away) link.
fn open_link(
    conn: &mut DbConn,
    hash: &str,
    now: NaiveDateTime,
) -> ServiceResult<(JoinLink, Workspace)> {
    let found = JoinLink::find_by_token_hash(conn, hash)?.ok_or(AppError::NotFound)?;
    let workspace = lock_workspace(conn, found.workspace_id)?;
    // Read again under the lock: what the use is decided on.
    let link = JoinLink::for_workspace(conn, workspace.id)?
        .filter(|l| l.token_hash.as_deref() == Some(hash))
        .ok_or(AppError::NotFound)?;
    match state_of(&link, now) {
        Ok(()) => {}
        Err("disabled") => return Err(ServiceError::general(
            "This invite link was turned off: nothing was changed. Ask the workspace's admins for a new one.",
        )),
        Err("expired") => return Err(ServiceError::general(
            "This invite link has expired: nothing was changed. Ask the workspace's admins for a new one.",
        )),
        Err(_) => return Err(ServiceError::general(
            "This invite link has been used as many times as it allows: nothing was changed.",
        )),
    }
    let offer = Offer {
        author_account_id: link.author_account_id,
        role_ids: link.role_id_list(),
    };
    if roles::offer_withdrawn(conn, workspace.id, Permission::SettingsManage, offer)?.is_some() {
        return Err(ServiceError::general(
            "This invite link can't be used now: whoever set it up can no longer offer its roles. Nothing was changed.",
        ));
    }
    Ok((link, workspace))
}

/// The account may use the link: not already a member (a removed one may come back), an
/// address on a verified domain when the link asks for one, no request already waiting.
fn ensure_may_join(
    conn: &mut DbConn,
    workspace: &Workspace,
    link: &JoinLink,
    account_id: i64,
) -> ServiceResult<Option<Member>> {
    let member = joining::ensure_not_member(conn, workspace, account_id)?;
    if link.verified_domains_only {
        let domains = Domain::verified_names(conn, workspace.id)?;
        let mine = EmailAddressRow::for_account(conn, account_id)?;
        let ok = mine.iter().filter(|e| e.verified).any(|e| {
            e.canonical
                .rsplit_once('@')
                .is_some_and(|(_, d)| domains.iter().any(|v| v == d))
        });
        if !ok {
            return Err(ServiceError::general(
                "This invite link is only for confirmed addresses on the workspace's verified domains: add and confirm such an address on your account first.",
            ));
        }
    }
    joining::ensure_no_pending_request(conn, workspace, account_id)?;
    Ok(member)
}

/// A signed-in account uses the link (one POST after a confirmation): joins at once, or
/// files a join request when the link requires approval (admins are mailed).
pub fn use_link(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    token: &str,
    account_id: i64,
) -> ServiceResult<Used> {
    write_transaction(conn, |conn| {
        let now = models::now();
        let hash = tokens::hash(token);
        let (link, workspace) = open_link(conn, &hash, now)?;
        crate::services::account::lock_account(conn, account_id)?;
        apply(
            conn, actor, links, &link, &hash, &workspace, account_id, now,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn apply(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    link: &JoinLink,
    hash: &str,
    workspace: &Workspace,
    account_id: i64,
    now: NaiveDateTime,
) -> ServiceResult<Used> {
    let existing = ensure_may_join(conn, workspace, link, account_id)?;
    let role_ids = link.role_id_list();
    if !link.require_approval {
        ensure_room(conn, workspace, now)?;
    }
    if !JoinLink::take_use(conn, link.id, hash)? {
        return Err(ServiceError::general(
            "This invite link has been used as many times as it allows: nothing was changed.",
        ));
    }
    let through = joining::Through::Link { link_id: link.id };
    Ok(if link.require_approval {
        joining::file_request(
            conn, actor, links, workspace, account_id, &role_ids, through, now,
        )?
    } else {
        joining::join_now(
            conn, actor, workspace, existing, account_id, &role_ids, through, now,
        )?
    })
}

/// What a decision did, for the flash.
pub struct DecidedJoin {
    pub who: String,
    pub approved: bool,
}

/// Approves (seats and the daily limit checked, and every role grantable by the approver
/// now) or denies a pending join request (`settings.manage`, re-checked under the lock).
/// Decided by a conditional update, so two admins cannot both decide it; the requester is
/// mailed the outcome in the same transaction.
pub fn decide(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    request_id: i64,
    approve: bool,
) -> ServiceResult<DecidedJoin> {
    locks::acting(conn, access, |conn, access| {
        require_settings(access)?;
        let workspace = access.workspace.clone();
        let req = JoinRequest::find_in_workspace(conn, workspace.id, request_id)?
            .ok_or(AppError::NotFound)?;
        if req.status != model::PENDING {
            return Err(ServiceError::general("This request was already decided."));
        }
        let now = models::now();
        let label = label_of(conn, req.account_id)?;
        let mut member_id = None;
        if approve {
            let all = Role::for_workspace(conn, workspace.id)?;
            let role_ids: Vec<i64> = req
                .role_id_list()
                .into_iter()
                .filter(|id| all.iter().any(|r| r.id == *id))
                .collect();
            if role_ids.is_empty() {
                return Err(ServiceError::general(
                    "The roles this request was made with no longer exist: deny it and share the link again.",
                ));
            }
            let grants = roles::grants_by_role(conn, workspace.id)?;
            if !roles::may_grant_roles(&access.perms, &role_ids, &all, &grants) {
                return Err(AppError::forbidden_because(
                    "You can't approve this request: it gives roles with permissions you don't hold yourself.",
                )
                .into());
            }
            let existing = Member::find_for_account(conn, workspace.id, req.account_id)?;
            if existing
                .as_ref()
                .is_some_and(|m| m.status() != MemberStatus::Removed)
            {
                return Err(ServiceError::general(
                    "This person is already a member of the workspace (or archived): deny the request.",
                ));
            }
            crate::services::account::lock_account(conn, req.account_id)?;
            // A request filed through a domain still needs its confirmed address there.
            let via = match req.domain_id {
                Some(domain_id) => {
                    domain_join::ensure_still_on_domain(
                        conn,
                        &workspace,
                        domain_id,
                        req.account_id,
                    )?;
                    model::VIA_DOMAIN
                }
                None => model::VIA_LINK,
            };
            ensure_room(conn, &workspace, now)?;
            member_id = Some(make_member(
                conn,
                actor,
                &workspace,
                existing,
                req.account_id,
                &role_ids,
                Some(access.account.id),
                via,
            )?);
        }
        let to = if approve {
            model::APPROVED
        } else {
            model::DENIED
        };
        if !JoinRequest::decide(
            conn,
            req.id,
            model::PENDING,
            to,
            Some(access.account.id),
            member_id,
            now,
        )? {
            return Err(ServiceError::general("This request was already decided."));
        }
        audit::record(
            conn,
            actor,
            Event::new(if approve {
                "join_request.approved"
            } else {
                "join_request.denied"
            })
            .workspace(workspace.id)
            .target("join_request", req.id, &label)
            .changes(json!({"before": {"status": "pending"}, "after": {"status": to, "member_id": member_id}})),
        )?;
        let who = tell_requester(conn, links, access, &req, approve, now)?;
        Ok(DecidedJoin {
            who,
            approved: approve,
        })
    })
}

/// The requester hears the outcome at their primary address; their name.
pub(crate) fn tell_requester(
    conn: &mut DbConn,
    links: &Links,
    access: &Access,
    req: &JoinRequest,
    approved: bool,
    now: NaiveDateTime,
) -> AppResult<String> {
    let Some(who) = access::account_summary(conn, req.account_id)? else {
        return Ok(String::new());
    };
    let ws = &access.workspace;
    let (subject, what, action, link) = if approved {
        (
            format!("You have joined {}", ws.name),
            format!(
                "{} approved your request to join {}. You are now a member.",
                access.account.name, ws.name
            ),
            "Open the workspace",
            links.workspace(&ws.slug, "/users"),
        )
    } else {
        (
            format!("Your request to join {} was declined", ws.name),
            format!(
                "{} declined your request to join {}. Nothing else changed on your account.",
                access.account.name, ws.name
            ),
            "Your account",
            links.account(),
        )
    };
    if !who.email.is_empty() {
        let rendered = messages::join(&JoinMail {
            subject: &subject,
            name: &who.name,
            what: &what,
            action,
            link: &link,
        })?;
        outbox::enqueue(
            conn,
            &NewMail {
                workspace_id: Some(ws.id),
                ..rendered.mail("join_decision", who.email.as_str())
            },
            now,
        )?;
    }
    Ok(who.name)
}

/// The Requests screen's join part: waiting and recently decided join requests.
pub struct JoinTriage {
    pub pending: Vec<JoinRequestWithName>,
    pub approved: Vec<JoinRequestWithName>,
    pub denied: Vec<JoinRequestWithName>,
}

pub fn triage(conn: &mut DbConn, workspace_id: i64) -> AppResult<JoinTriage> {
    Ok(JoinTriage {
        pending: JoinRequest::list(conn, workspace_id, model::PENDING, 200)?,
        approved: JoinRequest::list(conn, workspace_id, model::APPROVED, 20)?,
        denied: JoinRequest::list(conn, workspace_id, model::DENIED, 20)?,
    })
}

/// A new person (not signed in) uses the link: an account is created with the address
/// unconfirmed and a confirmation link is mailed to it; nothing is joined until that link
/// is opened and confirmed (`confirm`). Refused when an account already uses the address
/// (sign in first). Returns where the confirmation went.
pub fn start_new_person(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    token: &str,
    name: &PersonName,
    email: &EmailAddress,
    password_hash: &str,
) -> ServiceResult<String> {
    write_transaction(conn, |conn| {
        let now = models::now();
        let hash = tokens::hash(token);
        let (link, workspace) = open_link(conn, &hash, now)?;
        if Account::find_by_verified_email(conn, email.canonical())?.is_some()
            || EmailAddressRow::verified_exists(conn, email.canonical())?
        {
            return Err(ServiceError::field(
                "email",
                "An account already uses this address: sign in first, then open the link again.",
            ));
        }
        let account_id = join::insert_account(
            conn,
            actor,
            name.as_str(),
            email,
            Some(password_hash),
            false,
        )?;
        let confirm = tokens::generate();
        let confirm_hash = tokens::hash(&confirm);
        let id = NewJoinRequest {
            workspace_id: workspace.id,
            account_id,
            status: model::UNCONFIRMED,
            role_ids: encode_ids(&link.role_id_list()),
            confirm_token_hash: Some(&confirm_hash),
            member_id: None,
            decided_at: None,
            created_at: now,
            domain_id: None,
        }
        .insert(conn)?;
        audit::record(
            conn,
            actor,
            Event::new("join_request.unconfirmed")
                .workspace(workspace.id)
                .target("join_request", id, email.canonical())
                .changes(json!({"after": {"status": "unconfirmed", "link_id": link.id}})),
        )?;
        let url = links.to(&format!("/join/confirm/{confirm}"));
        let rendered = messages::join(&JoinMail {
            subject: &format!("Confirm your address to join {}", workspace.name),
            name: name.as_str(),
            what: &format!(
                "Someone (we hope you) used the invite link of {} with this address. Open the link below within {CONFIRM_DAYS} days to confirm it; only then is your account added to the workspace. If it was not you, ignore this mail.",
                workspace.name
            ),
            action: "Confirm and join",
            link: &url,
        })?;
        outbox::enqueue(
            conn,
            &NewMail {
                workspace_id: Some(workspace.id),
                ..rendered.mail("join_confirm", email.as_str())
            },
            now,
        )?;
        Ok(email.as_str().to_string())
    })
}

/// What a confirmation link leads to (read only).
pub fn confirmation(conn: &mut DbConn, confirm: &str) -> AppResult<Option<(String, String)>> {
    let Some(req) = JoinRequest::find_by_confirm_hash(conn, &tokens::hash(confirm))? else {
        return Ok(None);
    };
    if req.status != model::UNCONFIRMED
        || req.created_at + TimeDelta::days(CONFIRM_DAYS) <= models::now()
    {
        return Ok(None);
    }
    let name = model::workspace(conn, req.workspace_id)?
        .map(|w| w.name)
        .unwrap_or_default();
    Ok(Some((name, label_of(conn, req.account_id)?)))
}

/// Opens a new person's confirmation (POST): the address becomes verified, then the link
/// is used as for a signed-in account (join, or a join request) — all in one transaction,
/// with every check of the link made again now. Returns the account and what happened.
pub fn confirm(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    confirm: &str,
) -> ServiceResult<(i64, Used)> {
    write_transaction(conn, |conn| {
        let now = models::now();
        let req = JoinRequest::find_by_confirm_hash(conn, &tokens::hash(confirm))?
            .ok_or(AppError::NotFound)?;
        if req.status != model::UNCONFIRMED || req.created_at + TimeDelta::days(CONFIRM_DAYS) <= now
        {
            return Err(AppError::NotFound.into());
        }
        let link = JoinLink::for_workspace(conn, req.workspace_id)?.ok_or(AppError::NotFound)?;
        let hash = link.token_hash.clone().ok_or(AppError::NotFound)?;
        let (link, workspace) = open_link(conn, &hash, now)?;
        crate::services::account::lock_account(conn, req.account_id)?;
        let address =
            EmailAddressRow::primary_for(conn, req.account_id)?.ok_or(AppError::NotFound)?;
        if !address.verified {
            use crate::models::email_address::Verification;
            if matches!(
                EmailAddressRow::mark_verified(conn, req.account_id, address.id, now)?,
                Verification::TakenElsewhere
            ) {
                return Err(ServiceError::general(
                    "Another account confirmed this address first: nothing was joined.",
                ));
            }
        }
        if !JoinRequest::decide(
            conn,
            req.id,
            model::UNCONFIRMED,
            "confirmed",
            None,
            None,
            now,
        )? {
            return Err(AppError::NotFound.into());
        }
        let used = apply(
            conn,
            actor,
            links,
            &link,
            &hash,
            &workspace,
            req.account_id,
            now,
        )?;
        Ok((req.account_id, used))
    })
}

/// A join request of a bulk decision that was not decided: whose, and why.
#[derive(Clone, Debug)]
pub struct Undecided {
    pub who: String,
    pub why: String,
}

/// What a bulk decision did: the requests decided, and those a rule kept undecided.
pub struct DecidedMany {
    pub decided: Vec<DecidedJoin>,
    pub undecided: Vec<Undecided>,
}

/// Approves or denies several pending join requests ("several at once", Requests screen).
/// Each is decided by [`decide`] — the same rules, in its own transaction — so when seats
/// run out half-way the ones that fit are approved and the rest are reported with the
/// reason. Every id must be a join request of this workspace (else not found, before any
/// is decided); choosing none is refused.
pub fn decide_many(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    links: &Links,
    request_ids: &[i64],
    approve: bool,
) -> ServiceResult<DecidedMany> {
    require_settings(access)?;
    let mut ids = request_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(ServiceError::general(
            "Choose at least one join request first: nothing was changed.",
        ));
    }
    let mut requests = Vec::with_capacity(ids.len());
    for id in ids {
        requests.push(
            JoinRequest::find_in_workspace(conn, access.workspace.id, id)?
                .ok_or(AppError::NotFound)?,
        );
    }
    let mut outcome = DecidedMany {
        decided: Vec::new(),
        undecided: Vec::new(),
    };
    for req in requests {
        let why = match decide(conn, access, actor, links, req.id, approve) {
            Ok(decided) => {
                outcome.decided.push(decided);
                continue;
            }
            Err(ServiceError::Refused(refusals)) => refusals
                .into_iter()
                .map(|r| r.message)
                .collect::<Vec<_>>()
                .join(" "),
            Err(ServiceError::Fatal(AppError::Forbidden(refused))) => refused
                .reason
                .unwrap_or_else(|| "you may not decide it.".into()),
            Err(other) => return Err(other),
        };
        let who = access::account_summary(conn, req.account_id)?
            .map(|a| a.name)
            .unwrap_or_default();
        outcome.undecided.push(Undecided { who, why });
    }
    Ok(outcome)
}
