//! Roles: custom role definitions (create, edit, delete) with the impact of a change on
//! the members who hold the role, and which roles an actor may hand out. No escalation:
//! a role can only define, and an actor can only assign, what the actor holds (SPEC §4.3).

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::db::DbConn;
use crate::domain::{RoleDescription, RoleName};
use crate::error::{refuse_any, AppError, AppResult, Refusal, ServiceError, ServiceResult};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::member::Member;
use crate::models::role::{self, NewRole, Role};
use crate::permissions::{BuiltinRole, EffectivePermissions, Grant, Permission, Scope};
use crate::services::access::Access;
use crate::services::locks;

/// A role with its permissions and how many active members hold it.
#[derive(Clone, Debug)]
pub struct RoleSummary {
    pub role: Role,
    pub grants: Vec<Grant>,
    pub members: i64,
}

impl RoleSummary {
    pub fn is_builtin(&self) -> bool {
        self.role.builtin_key.is_some()
    }

    /// What this role gives for a permission, for the matrix: not held (`None`), held
    /// without scope (`Some(None)`) or held with a scope.
    pub fn cell(&self, permission: &Permission) -> Option<Option<Scope>> {
        self.grants
            .iter()
            .find(|g| g.permission == *permission)
            .map(|g| g.scope)
    }
}

/// Every role of the workspace with permissions and member counts: three queries.
pub fn summaries(conn: &mut DbConn, workspace_id: i64) -> AppResult<Vec<RoleSummary>> {
    let roles = Role::for_workspace(conn, workspace_id)?;
    let mut grants = grants_by_role(conn, workspace_id)?;
    let counts: HashMap<i64, i64> = Role::member_counts(conn, workspace_id)?
        .into_iter()
        .collect();
    Ok(roles
        .into_iter()
        .map(|role| RoleSummary {
            grants: grants.remove(&role.id).unwrap_or_default(),
            members: counts.get(&role.id).copied().unwrap_or(0),
            role,
        })
        .collect())
}

/// Every role's permissions in a workspace, by role id (one query).
pub(crate) fn grants_by_role(
    conn: &mut DbConn,
    workspace_id: i64,
) -> AppResult<HashMap<i64, Vec<Grant>>> {
    let mut out: HashMap<i64, Vec<Grant>> = HashMap::new();
    for (role_id, grant) in Role::grants_by_role(conn, workspace_id)? {
        out.entry(role_id).or_default().push(grant);
    }
    Ok(out)
}

/// Whether `actor` holds every permission of `grants` at least at the same scope.
pub fn holds_all(actor: &EffectivePermissions, grants: &[Grant]) -> bool {
    grants.iter().all(|g| actor.covers(g))
}

/// Whether a member holding `perms` may grant this one role: never Owner (there is
/// exactly one), and only a role whose every permission and scope they hold.
fn may_grant_role(
    perms: &EffectivePermissions,
    role: &Role,
    grants: &HashMap<i64, Vec<Grant>>,
) -> bool {
    role.builtin() != Some(BuiltinRole::Owner)
        && holds_all(
            perms,
            grants.get(&role.id).map(Vec::as_slice).unwrap_or_default(),
        )
}

/// **The** rule deciding "may this member grant these roles" (SPEC §4.3): every id must be
/// a role of the workspace (`roles`, with their permissions in `grants`) that
/// `may_grant_role` allows, and there must be at least one.
///
/// Used when an invite is created (against the inviter now), when the role pickers are
/// built (`grantable_among`), and when an invite is redeemed (against its inviter at that
/// moment, through `offer_withdrawn`). It is meant for every stored offer whose
/// default roles must be checked against their author when the offer is used — invite
/// links, domain join policies, join-request approvals — so that no path has its own copy.
pub fn may_grant_roles(
    perms: &EffectivePermissions,
    role_ids: &[i64],
    roles: &[Role],
    grants: &HashMap<i64, Vec<Grant>>,
) -> bool {
    !role_ids.is_empty()
        && role_ids.iter().all(|id| {
            roles
                .iter()
                .find(|r| r.id == *id)
                .is_some_and(|role| may_grant_role(perms, role, grants))
        })
}

/// Roles of the workspace the actor may hand out (two queries): never Owner (there is
/// exactly one), and only roles whose every permission and scope the actor holds.
pub fn grantable_roles(conn: &mut DbConn, access: &Access) -> AppResult<Vec<Role>> {
    let roles = Role::for_workspace(conn, access.workspace.id)?;
    grantable_among(conn, access, &roles)
}

/// `grantable_roles` for a caller that already loaded the workspace's roles (one query).
pub fn grantable_among(conn: &mut DbConn, access: &Access, roles: &[Role]) -> AppResult<Vec<Role>> {
    let grants = grants_by_role(conn, access.workspace.id)?;
    Ok(roles
        .iter()
        .filter(|role| may_grant_roles(&access.perms, &[role.id], roles, &grants))
        .cloned()
        .collect())
}

/// Why the author of a stored offer can no longer make it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferRefused {
    /// No author on record, or no longer an active member (archived, removed, left).
    AuthorNotActive,
    /// Still a member, but without the permission the offer needs (`members.invite`).
    LacksPermission,
    /// Still a member with the permission, but no longer allowed to grant every role.
    CannotGrantRoles,
}

/// A stored offer of roles, as its author made it.
#[derive(Clone, Debug)]
pub struct Offer {
    pub author_account_id: Option<i64>,
    pub role_ids: Vec<i64>,
}

/// Whether each offer's author may still make it *now* (SPEC §3 "an invite grants, when it
/// is redeemed, no more than its inviter may grant at that moment", §4.3): an active member
/// of the workspace who holds `required` and may grant every role of it
/// (`may_grant_roles`). Rights change through many paths (demotion, role edits, grants
/// expiring with the clock, archive), so this is checked when the offer is used, inside the
/// transaction that redeems it — never by revoking on each event. A fixed number of queries
/// whatever the number of offers (the Invites list checks a page of them).
pub fn authors_may_still_offer(
    conn: &mut DbConn,
    workspace_id: i64,
    required: Permission,
    offers: &[Offer],
) -> AppResult<Vec<Result<(), OfferRefused>>> {
    let mut authors: Vec<i64> = offers.iter().filter_map(|o| o.author_account_id).collect();
    authors.sort_unstable();
    authors.dedup();
    let active: HashMap<i64, i64> = if authors.is_empty() {
        HashMap::new()
    } else {
        Member::active_for_accounts(conn, workspace_id, &authors)?
            .into_iter()
            .collect()
    };
    let member_ids: Vec<i64> = active.values().copied().collect();
    let perms = crate::services::access::effective_permissions_of(conn, &member_ids)?;
    let (roles, grants) = if offers.is_empty() {
        (Vec::new(), HashMap::new())
    } else {
        (
            Role::for_workspace(conn, workspace_id)?,
            grants_by_role(conn, workspace_id)?,
        )
    };
    let empty = EffectivePermissions::default();
    Ok(offers
        .iter()
        .map(|offer| {
            let Some(member_id) = offer.author_account_id.and_then(|a| active.get(&a)) else {
                return Err(OfferRefused::AuthorNotActive);
            };
            let held = perms.get(member_id).unwrap_or(&empty);
            if !held.allows(required) {
                Err(OfferRefused::LacksPermission)
            } else if !may_grant_roles(held, &offer.role_ids, &roles, &grants) {
                Err(OfferRefused::CannotGrantRoles)
            } else {
                Ok(())
            }
        })
        .collect())
}

/// `authors_may_still_offer` for one offer (the redeeming transaction's check): why the
/// offer is withdrawn, or `None` while its author may still make it.
pub fn offer_withdrawn(
    conn: &mut DbConn,
    workspace_id: i64,
    required: Permission,
    offer: Offer,
) -> AppResult<Option<OfferRefused>> {
    Ok(
        authors_may_still_offer(conn, workspace_id, required, &[offer])?
            .pop()
            .unwrap_or(Err(OfferRefused::AuthorNotActive))
            .err(),
    )
}

/// A custom role as submitted, each value already parsed.
#[derive(Clone, Debug)]
pub struct RoleInput {
    pub name: RoleName,
    pub description: RoleDescription,
    pub grants: Vec<Grant>,
}

/// The form field of a permission (`perm.<key>`), which a refusal of it names.
pub fn permission_field(permission: Permission) -> &'static str {
    match permission {
        Permission::MembersView => "perm.members.view",
        Permission::MembersInvite => "perm.members.invite",
        Permission::MembersEdit => "perm.members.edit",
        Permission::MembersRemove => "perm.members.remove",
        Permission::RolesManage => "perm.roles.manage",
        Permission::SettingsManage => "perm.settings.manage",
        Permission::BillingManage => "perm.billing.manage",
        Permission::AuditView => "perm.audit.view",
        Permission::RecordsView => "perm.records.view",
        Permission::RecordsCreate => "perm.records.create",
        Permission::RecordsEdit => "perm.records.edit",
        Permission::RecordsDelete => "perm.records.delete",
        Permission::RecordsExport => "perm.records.export",
    }
}

/// How one permission changes for some members: `before`/`after` are `None` when not held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpactLine {
    pub permission: Permission,
    pub before: Level,
    pub after: Level,
    pub members: usize,
}

impl ImpactLine {
    fn held(label: Level) -> String {
        match label {
            None => "nothing".into(),
            Some(None) => "on".into(),
            Some(Some(scope)) => scope.key().into(),
        }
    }

    /// "3 members gain records.export (all)", "1 member loses roles.manage",
    /// "2 members go from members.view (all) to (team)".
    pub fn sentence(&self) -> String {
        let who = if self.members == 1 {
            "1 member".to_string()
        } else {
            format!("{} members", self.members)
        };
        let s = |verb: &str, verbs: &str| {
            if self.members == 1 {
                verbs.to_string()
            } else {
                verb.to_string()
            }
        };
        let key = self.permission.key();
        match (self.before, self.after) {
            (None, Some(after)) => format!("{who} {} {}", s("gain", "gains"), label(key, after)),
            (Some(before), None) => format!("{who} {} {}", s("lose", "loses"), label(key, before)),
            (before, after) => format!(
                "{who} {} {key} from {} to {}",
                s("go", "goes"),
                Self::held(before),
                Self::held(after)
            ),
        }
    }

    pub fn is_loss(&self) -> bool {
        self.after.is_none() || (self.before.is_some() && self.after < self.before)
    }
}

fn label(key: &str, scope: Option<Scope>) -> String {
    match scope {
        Some(scope) => format!("{key} ({scope})"),
        None => key.to_string(),
    }
}

/// What a role change does to the members who hold it.
#[derive(Clone, Debug, Default)]
pub struct Impact {
    pub lines: Vec<ImpactLine>,
    /// Up to ten names of affected members, for the confirmation page.
    pub names: Vec<String>,
    pub affected: usize,
}

impl Impact {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

type Held = BTreeMap<Permission, Option<Scope>>;
/// Not held (`None`), held without scope (`Some(None)`), or held with a scope.
type Level = Option<Option<Scope>>;

fn fold(held: &mut Held, grants: &[Grant]) {
    for g in grants {
        let entry = held.entry(g.permission).or_insert(g.scope);
        if g.scope > *entry {
            *entry = g.scope;
        }
    }
}

/// The effect on every active holder of `role_id` of replacing its permissions with
/// `after` (`None`: deleting the role). A constant number of queries.
fn impact(
    conn: &mut DbConn,
    workspace_id: i64,
    role_id: i64,
    after: Option<&[Grant]>,
) -> AppResult<Impact> {
    let holders = Role::holders_roles(conn, role_id)?;
    let mut roles_of: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (member_id, held_role, _) in &holders {
        roles_of.entry(*member_id).or_default().push(*held_role);
    }
    let by_role = grants_by_role(conn, workspace_id)?;
    let member_ids: Vec<i64> = roles_of.keys().copied().collect();
    let mut direct: HashMap<i64, Vec<Grant>> = HashMap::new();
    for (member_id, grant) in Role::live_grants_of(conn, &member_ids, models::now())? {
        direct.entry(member_id).or_default().push(grant);
    }
    let mut counts: BTreeMap<(Permission, Level, Level), usize> = BTreeMap::new();
    let mut affected_ids = Vec::new();
    for (member_id, held_roles) in &roles_of {
        let mut before = Held::new();
        let mut later = Held::new();
        for r in held_roles {
            let grants = by_role.get(r).map(Vec::as_slice).unwrap_or_default();
            fold(&mut before, grants);
            if *r == role_id {
                if let Some(after) = after {
                    fold(&mut later, after);
                }
            } else {
                fold(&mut later, grants);
            }
        }
        if let Some(grants) = direct.get(member_id) {
            fold(&mut before, grants);
            fold(&mut later, grants);
        }
        let mut changed = false;
        for permission in Permission::ALL {
            let (b, a) = (
                before.get(&permission).copied(),
                later.get(&permission).copied(),
            );
            if b != a {
                changed = true;
                *counts.entry((permission, b, a)).or_default() += 1;
            }
        }
        if changed {
            affected_ids.push(*member_id);
        }
    }
    let names = Member::names(conn, &affected_ids[..affected_ids.len().min(10)])?
        .into_iter()
        .map(|(_, name, _)| name)
        .collect();
    Ok(Impact {
        lines: counts
            .into_iter()
            .map(|((permission, before, after), members)| ImpactLine {
                permission,
                before,
                after,
                members,
            })
            .collect(),
        names,
        affected: affected_ids.len(),
    })
}

/// What saving a role did.
pub enum SaveOutcome {
    Saved(i64),
    /// The change alters what members may do: nothing was written; show it and ask again
    /// with `confirm`.
    NeedsConfirmation(Impact),
}

/// Role definitions are changed under the member lock by someone who holds `roles.manage`
/// there and then (the acting member as re-read inside the lock).
fn ensure_manages_roles(access: &Access) -> AppResult<()> {
    if access.perms.allows(Permission::RolesManage) {
        Ok(())
    } else {
        Err(AppError::forbidden_in(
            &access.workspace.slug,
            Permission::RolesManage,
        ))
    }
}

/// Refusals for a definition: the name is free (case-insensitively) and every permission
/// is one the actor holds at that scope.
fn check_definition(
    conn: &mut DbConn,
    access: &Access,
    input: &RoleInput,
    except: Option<i64>,
) -> AppResult<Vec<Refusal>> {
    let mut refusals = Vec::new();
    let name = input.name.as_str();
    if Role::name_taken(conn, access.workspace.id, &name.to_lowercase(), except)? {
        refusals.push(Refusal::field(
            "name",
            format!("A role named “{name}” already exists"),
        ));
    }
    for grant in &input.grants {
        if !access.perms.covers(grant) {
            refusals.push(Refusal::field(
                permission_field(grant.permission),
                format!(
                    "You can't grant {}: you don't hold it at that scope",
                    grant.title()
                ),
            ));
        }
    }
    Ok(refusals)
}

fn grants_json(grants: &[Grant]) -> serde_json::Value {
    json!(grants.iter().map(Grant::label).collect::<Vec<_>>())
}

/// Creates a custom role (`roles.manage`) and returns its id.
pub fn create(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    input: &RoleInput,
) -> ServiceResult<i64> {
    locks::acting(conn, access, |conn, access| {
        ensure_manages_roles(access)?;
        refuse_any(check_definition(conn, access, input, None)?)?;
        let now = models::now();
        let name = input.name.as_str();
        let id = NewRole {
            workspace_id: access.workspace.id,
            builtin_key: None,
            name,
            name_canonical: name.to_lowercase(),
            description: input.description.as_str(),
            position: Role::next_position(conn, access.workspace.id)?,
            created_at: now,
            updated_at: now,
        }
        .insert(conn)?;
        role::set_permissions(conn, id, &input.grants)?;
        audit::record(
            conn,
            actor,
            Event::new("role.created")
                .workspace(access.workspace.id)
                .target("role", id, name)
                .changes(json!({"after": {
                    "name": name,
                    "description": input.description.as_str(),
                    "permissions": grants_json(&input.grants),
                }})),
        )?;
        Ok(id)
    })
}

/// A custom role the actor may change: in this workspace, not built-in (no page offers
/// that: a malformed request), and granting nothing the actor lacks (an Admin cannot edit
/// away what only the Owner holds).
fn editable_role(
    conn: &mut DbConn,
    access: &Access,
    role_id: i64,
) -> AppResult<(Role, Vec<Grant>)> {
    let role =
        Role::find_in_workspace(conn, access.workspace.id, role_id)?.ok_or(AppError::NotFound)?;
    if role.builtin_key.is_some() {
        return Err(AppError::BadRequest(
            "Built-in roles cannot be edited or deleted.".into(),
        ));
    }
    let grants = role::grants_of(conn, role.id)?;
    if !holds_all(&access.perms, &grants) {
        return Err(AppError::forbidden_because(
            "This role grants permissions you don't hold, so you can't change or delete it.",
        ));
    }
    Ok((role, grants))
}

/// The role and its permissions, for the edit form (any member who may open it).
pub fn find(conn: &mut DbConn, workspace_id: i64, role_id: i64) -> AppResult<(Role, Vec<Grant>)> {
    let role = Role::find_in_workspace(conn, workspace_id, role_id)?.ok_or(AppError::NotFound)?;
    let grants = role::grants_of(conn, role.id)?;
    Ok((role, grants))
}

/// How many members hold the role.
pub fn holders(conn: &mut DbConn, workspace_id: i64, role_id: i64) -> AppResult<i64> {
    Ok(Role::member_counts(conn, workspace_id)?
        .into_iter()
        .find(|(id, _)| *id == role_id)
        .map_or(0, |(_, n)| n))
}

/// Every role of the workspace, and those among them the member may grant.
pub fn with_grantable(conn: &mut DbConn, access: &Access) -> AppResult<(Vec<Role>, Vec<Role>)> {
    let all = Role::for_workspace(conn, access.workspace.id)?;
    let grantable = grantable_among(conn, access, &all)?;
    Ok((all, grantable))
}

/// Edits a custom role. When the change alters any holder's effective permissions and
/// `confirmed` is false, nothing is written and the impact is returned. Under the member
/// lock: what members hold changes, and every check of what a member holds runs under it.
pub fn update(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    role_id: i64,
    input: &RoleInput,
    confirmed: bool,
) -> ServiceResult<SaveOutcome> {
    locks::acting(conn, access, |conn, access| {
        ensure_manages_roles(access)?;
        let (role, before) = editable_role(conn, access, role_id)?;
        refuse_any(check_definition(conn, access, input, Some(role.id))?)?;
        let impact = impact(conn, access.workspace.id, role.id, Some(&input.grants))?;
        if !confirmed && !impact.is_empty() {
            return Ok(SaveOutcome::NeedsConfirmation(impact));
        }
        let (name, description) = (input.name.as_str(), input.description.as_str());
        Role::update_details(conn, role.id, name, description, models::now())?;
        role::set_permissions(conn, role.id, &input.grants)?;
        audit::record(
            conn,
            actor,
            Event::new("role.updated")
                .workspace(access.workspace.id)
                .target("role", role.id, name)
                .changes(json!({
                    "before": {"name": role.name, "description": role.description, "permissions": grants_json(&before)},
                    "after": {"name": name, "description": description, "permissions": grants_json(&input.grants)},
                    "impact": impact.lines.iter().map(ImpactLine::sentence).collect::<Vec<_>>(),
                })),
        )?;
        Ok(SaveOutcome::Saved(role.id))
    })
}

/// What deleting a role did.
pub enum DeleteOutcome {
    /// The role's name.
    Deleted(String),
    /// Members hold the role: nothing was written; show who loses what and ask again with
    /// `confirm`.
    NeedsConfirmation {
        role: Role,
        impact: Impact,
        holders: i64,
    },
}

/// Each holder of a role with every role they hold: (role id, primary).
type Holdings = BTreeMap<i64, Vec<(i64, bool)>>;

fn holdings(conn: &mut DbConn, role_id: i64) -> AppResult<Holdings> {
    let mut roles_of = Holdings::new();
    for (member_id, held, primary) in Role::holders_roles(conn, role_id)? {
        roles_of.entry(member_id).or_default().push((held, primary));
    }
    Ok(roles_of)
}

/// Refused while some members hold only this role: a member keeps at least one.
fn ensure_no_one_holds_only(conn: &mut DbConn, roles_of: &Holdings) -> ServiceResult<()> {
    let only: Vec<i64> = roles_of
        .iter()
        .filter(|(_, held)| held.len() == 1)
        .map(|(id, _)| *id)
        .collect();
    if only.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = Member::names(conn, &only[..only.len().min(10)])?
        .into_iter()
        .map(|(_, name, _)| name)
        .collect();
    let holds = match only.len() {
        1 => "1 member holds".to_string(),
        n => format!("{n} members hold"),
    };
    let mut who = names.join(", ");
    if only.len() > names.len() {
        who.push_str(&format!(" and {} more", only.len() - names.len()));
    }
    Err(ServiceError::general(format!(
        "This role can't be deleted yet: {holds} no other role, and every member keeps at least one. Give {who} another role first."
    )))
}

/// Deletes a custom role. Members who hold it lose it (a member whose primary role it was
/// gets their next role as primary); refused while it is someone's only role. Under the
/// member lock, as it rewrites members' roles.
pub fn delete(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    role_id: i64,
    confirmed: bool,
) -> ServiceResult<DeleteOutcome> {
    locks::acting(conn, access, |conn, access| {
        ensure_manages_roles(access)?;
        let (role, grants) = editable_role(conn, access, role_id)?;
        let roles_of = holdings(conn, role.id)?;
        ensure_no_one_holds_only(conn, &roles_of)?;
        if !confirmed && !roles_of.is_empty() {
            let impact = impact(conn, access.workspace.id, role.id, None)?;
            return Ok(DeleteOutcome::NeedsConfirmation {
                role,
                impact,
                holders: roles_of.len() as i64,
            });
        }
        for (member_id, held) in &roles_of {
            let was_primary = held.iter().any(|(r, p)| *r == role.id && *p);
            if let Some((next, _)) = held.iter().find(|(r, _)| *r != role.id) {
                if was_primary {
                    Role::set_primary(conn, *member_id, *next)?;
                }
            }
        }
        Role::delete(conn, role.id)?;
        audit::record(
            conn,
            actor,
            Event::new("role.deleted")
                .workspace(access.workspace.id)
                .target("role", role.id, &role.name)
                .changes(json!({"before": {
                    "name": role.name,
                    "permissions": grants_json(&grants),
                    "holders": roles_of.len(),
                }})),
        )?;
        Ok(DeleteOutcome::Deleted(role.name))
    })
}
