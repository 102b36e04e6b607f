//! Creating workspaces with their Owner (the first-run setup page and `create-owner`),
//! and an operator's limits.

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::domain::{PersonName, Plan, Slug, WorkspaceName};
use crate::email::EmailAddress;
use crate::error::{refuse_any, AppError, AppResult, Refusal, ServiceError, ServiceResult};
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};
use crate::models::member::{MemberStatus, NewMember, SeatType};
use crate::models::role::Role;
use crate::models::workspace::{
    NewWorkspace, Workspace, DEFAULT_DAILY_INVITES, DEFAULT_INVITE_EXPIRY_DAYS, DEFAULT_SEAT_LIMIT,
};
use crate::models::{self, setting};
use crate::permissions::{BuiltinRole, Permission};
use crate::services::access::Access;
use crate::services::locks;
use crate::services::members::join;
use crate::services::seats::Seats;
use crate::tokens;

/// A workspace and its Owner, each value already parsed: from the setup page or the
/// `create-owner` command.
pub struct NewOwnedWorkspace<'a> {
    pub workspace_name: &'a WorkspaceName,
    /// Explicit slug; derived from the name when `None`.
    pub slug: Option<&'a Slug>,
    pub owner_name: &'a PersonName,
    pub owner_email: &'a EmailAddress,
    /// Used only when the account is created; an existing account keeps its password.
    pub password_hash: Option<&'a str>,
}

#[derive(Clone, Debug)]
pub struct Created {
    pub workspace_id: i64,
    pub slug: String,
    pub account_id: i64,
    pub member_id: i64,
    pub account_created: bool,
}

/// The address of a new workspace: the one asked for (refused beside `slug` when taken),
/// or one made from its name, numbered (`acme-2`) past those already taken.
fn free_slug(conn: &mut DbConn, input: &NewOwnedWorkspace<'_>) -> ServiceResult<Slug> {
    if let Some(slug) = input.slug {
        if Workspace::slug_exists(conn, slug.as_str())? {
            return Err(ServiceError::field(
                "slug",
                format!("The slug `{slug}` is taken."),
            ));
        }
        return Ok(slug.clone());
    }
    let base = Slug::from_name(input.workspace_name.as_str());
    if !Workspace::slug_exists(conn, base.as_str())? {
        return Ok(base);
    }
    for n in 2..1000 {
        let candidate = numbered(&base, n)?;
        if !Workspace::slug_exists(conn, candidate.as_str())? {
            return Ok(candidate);
        }
    }
    Err(ServiceError::general(
        "No free address for this workspace name; choose a slug.",
    ))
}

/// `base-n`, the base shortened so the whole stays within the slug's limit.
fn numbered(base: &Slug, n: u32) -> AppResult<Slug> {
    let suffix = format!("-{n}");
    let stem: String = base
        .as_str()
        .chars()
        .take(Slug::MAX_CHARS - suffix.len())
        .collect();
    Slug::parse(&format!("{}{suffix}", stem.trim_end_matches('-'))).map_err(AppError::internal)
}

/// The account that will own the workspace: the one holding the address verified, or a
/// new one. Returns its id and whether it was created.
fn owner_account(
    conn: &mut DbConn,
    actor: &Actor,
    input: &NewOwnedWorkspace<'_>,
) -> AppResult<(i64, bool)> {
    if let Some(account) = Account::find_by_verified_email(conn, input.owner_email.canonical())? {
        return Ok((account.id, false));
    }
    let id = join::insert_account(
        conn,
        actor,
        input.owner_name.as_str(),
        input.owner_email,
        input.password_hash,
        true,
    )?;
    Ok((id, true))
}

/// Creates (or reuses, by verified address) the account, the workspace, its five
/// built-in roles and the Owner membership, in the caller's transaction.
fn create_in_tx(
    conn: &mut DbConn,
    actor: &Actor,
    input: &NewOwnedWorkspace<'_>,
) -> ServiceResult<Created> {
    let now = models::now();
    let slug = free_slug(conn, input)?.into_inner();
    let (account_id, account_created) = owner_account(conn, actor, input)?;
    let workspace_id = NewWorkspace {
        slug: &slug,
        name: input.workspace_name.as_str(),
        plan: None,
        seat_limit: Some(DEFAULT_SEAT_LIMIT),
        daily_invite_limit: DEFAULT_DAILY_INVITES,
        invite_expiry_days: DEFAULT_INVITE_EXPIRY_DAYS,
        active_members: 1,
        created_at: now,
        updated_at: now,
    }
    .insert(conn)?;
    let member_id = add_owner(conn, workspace_id, account_id, now)?;
    let created = Created {
        workspace_id,
        slug,
        account_id,
        member_id,
        account_created,
    };
    record_created(conn, actor, input, &created)?;
    Ok(created)
}

fn record_created(
    conn: &mut DbConn,
    actor: &Actor,
    input: &NewOwnedWorkspace<'_>,
    created: &Created,
) -> AppResult<()> {
    let (workspace_id, slug, owner) = (
        created.workspace_id,
        &created.slug,
        input.owner_email.canonical(),
    );
    let owner_role = Role::find_builtin(conn, workspace_id, BuiltinRole::Owner)?.id;
    audit::record(
        conn,
        actor,
        Event::new("workspace.created")
            .workspace(workspace_id)
            .target("workspace", workspace_id, slug)
            .changes(json!({"after": {"name": input.workspace_name.as_str(), "slug": slug, "owner": owner}})),
    )?;
    audit::record(
        conn,
        actor,
        Event::new("member.joined")
            .workspace(workspace_id)
            .target("member", created.member_id, owner)
            .changes(json!({"after": {"roles": ["Owner"], "role_ids": [owner_role], "seat_type": "builder"}})),
    )?;
    Ok(())
}

/// The workspace's built-in roles and its Owner's membership; returns the member's id.
fn add_owner(
    conn: &mut DbConn,
    workspace_id: i64,
    account_id: i64,
    now: chrono::NaiveDateTime,
) -> AppResult<i64> {
    let roles = Role::create_builtins(conn, workspace_id)?;
    let owner_role = roles
        .iter()
        .find(|(r, _)| *r == BuiltinRole::Owner)
        .map(|(_, id)| *id)
        .ok_or_else(|| AppError::internal("owner role missing"))?;
    let account_name: String = Account::find(conn, account_id)?
        .map(|a| a.name)
        .unwrap_or_default();
    let member_id = NewMember {
        workspace_id,
        account_id,
        status: MemberStatus::Active.key(),
        seat_type: SeatType::Builder.key(),
        manager_id: None,
        department: None,
        metadata: "{}",
        sort_name: account_name.to_lowercase(),
        joined_at: now,
        updated_at: now,
    }
    .insert(conn)?;
    Role::assign(conn, member_id, owner_role, true)?;
    Ok(member_id)
}

/// `gatehouse create-owner`: a workspace for a new or existing account.
pub fn create_with_owner(
    conn: &mut DbConn,
    actor: &Actor,
    input: &NewOwnedWorkspace<'_>,
) -> ServiceResult<Created> {
    write_transaction(conn, |conn| create_in_tx(conn, actor, input))
}

/// What the operator changes with `gatehouse workspace limits`.
#[derive(Clone, Debug, Default)]
pub struct LimitsChange {
    pub plan: Option<Plan>,
    /// `Some(None)`: unlimited.
    pub seats: Option<Option<i32>>,
    pub daily_invites: Option<i32>,
}

/// `gatehouse workspace limits`: sets a workspace's plan, seat limit and daily invite
/// limit. A downgrade below the members already there keeps them; only new invites are
/// refused while over the limit.
pub fn set_limits(
    conn: &mut DbConn,
    actor: &Actor,
    slug: &str,
    change: &LimitsChange,
) -> ServiceResult<Workspace> {
    let id = Workspace::find_by_slug(conn, slug)?
        .ok_or(AppError::NotFound)?
        .id;
    locks::member_transaction(conn, id, |conn, workspace| {
        write_limits(conn, actor, workspace, change)
    })
}

/// The plan from the Settings page (`billing.manage`, re-checked under the lock).
pub fn set_plan(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    plan: Plan,
    confirmed: bool,
) -> ServiceResult<PlanChange> {
    locks::acting(conn, access, |conn, access| {
        if !access.perms.allows(Permission::BillingManage) {
            return Err(
                AppError::forbidden_in(&access.workspace.slug, Permission::BillingManage).into(),
            );
        }
        // Counted under the lock, so the question shown is about the seats as they are.
        let seats = Seats::load(conn, &access.workspace, crate::models::now())?;
        if let Some(limit) = plan.seat_limit() {
            if !confirmed && seats.used() > i64::from(limit) {
                return Ok(PlanChange::ToConfirm { seats, plan });
            }
        }
        let change = LimitsChange {
            plan: Some(plan),
            ..LimitsChange::default()
        };
        let workspace = write_limits(conn, actor, access.workspace.clone(), &change)?;
        Ok(PlanChange::Applied(workspace))
    })
}

/// What choosing a plan did.
#[derive(Debug)]
pub enum PlanChange {
    Applied(Workspace),
    /// Nothing changed: the plan allows fewer seats than are in use, which the person
    /// confirms first (`confirm=yes`).
    ToConfirm {
        seats: Seats,
        plan: Plan,
    },
}

/// Applies a change to the workspace as read under the member lock (seat checks read the
/// limit under the same lock), with its audit event.
fn write_limits(
    conn: &mut DbConn,
    actor: &Actor,
    before: Workspace,
    change: &LimitsChange,
) -> ServiceResult<Workspace> {
    let seats = change
        .seats
        .unwrap_or_else(|| change.plan.map_or(before.seat_limit, Plan::seat_limit));
    let daily = change.daily_invites.unwrap_or(before.daily_invite_limit);
    let mut refusals = Vec::new();
    if seats.is_some_and(|n| n < 1) {
        refusals.push(Refusal::field(
            "seats",
            "The seat limit must be at least 1 (or unlimited)",
        ));
    }
    if daily < 0 {
        refusals.push(Refusal::field(
            "daily_invites",
            "The daily invite limit must be 0 or more",
        ));
    }
    refuse_any(refusals)?;
    let plan = change.plan.map(Plan::key).or(before.plan.as_deref());
    let after = Workspace::set_limits(conn, before.id, plan, seats, daily, models::now())?;
    audit::record(
        conn,
        actor,
        Event::new("workspace.limits_changed")
            .workspace(before.id)
            .target("workspace", before.id, &before.slug)
            .changes(json!({
                "before": {"plan": before.plan, "seat_limit": before.seat_limit, "daily_invite_limit": before.daily_invite_limit},
                "after": {"plan": plan, "seat_limit": seats, "daily_invite_limit": daily},
            })),
    )?;
    Ok(after)
}

/// On an empty database, issues a fresh one-time setup token (only its hash is kept).
pub fn issue_setup_token(conn: &mut DbConn) -> AppResult<Option<String>> {
    write_transaction(conn, |conn| {
        if Account::exists_any(conn)? {
            return Ok(None);
        }
        let token = tokens::generate();
        setting::put(conn, setting::SETUP_TOKEN_HASH, &tokens::hash(&token))?;
        Ok(Some(token))
    })
}

/// What a setup link leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupLink {
    /// First run, and the token matches: the setup form.
    Open,
    /// Setup is done (an account exists): the link has nothing left to do.
    Complete,
    /// Not a setup link of this instance.
    Unknown,
}

/// What the setup link `token` leads to now.
pub fn setup_link(conn: &mut DbConn, token: &str) -> AppResult<SetupLink> {
    if Account::exists_any(conn)? {
        return Ok(SetupLink::Complete);
    }
    let Some(stored) = setting::get(conn, setting::SETUP_TOKEN_HASH)? else {
        return Ok(SetupLink::Unknown);
    };
    Ok(if tokens::constant_time_eq(&stored, &tokens::hash(token)) {
        SetupLink::Open
    } else {
        SetupLink::Unknown
    })
}

/// Whether the setup link is still good (first run, token matches).
pub fn setup_token_valid(conn: &mut DbConn, token: &str) -> AppResult<bool> {
    Ok(setup_link(conn, token)? == SetupLink::Open)
}

/// Completes first-run setup; the token is consumed by a conditional delete in the same
/// transaction, so two submits cannot both create an Owner (the second is a 404).
pub fn complete_setup(
    conn: &mut DbConn,
    actor: &Actor,
    token: &str,
    input: &NewOwnedWorkspace<'_>,
) -> ServiceResult<Created> {
    write_transaction(conn, |conn| {
        if !setting::take_if(conn, setting::SETUP_TOKEN_HASH, &tokens::hash(token))?
            || Account::exists_any(conn)?
        {
            return Err(AppError::NotFound.into());
        }
        let created = create_in_tx(conn, actor, input)?;
        audit::record(
            conn,
            actor,
            Event::new("setup.completed")
                .workspace(created.workspace_id)
                .label(&created.slug),
        )?;
        Ok(created)
    })
}
