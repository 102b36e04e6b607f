//! A workspace's members, one file per concern: the Users list and member page
//! (`directory`), an admin's edits (`edit`), a member's addresses (`emails`), joining and
//! leaving (`join`), archive/restore/remove and ownership (`lifecycle`). Here is
//! [`authorize`], the one rule for acting on a member (scope, dominance, oneself) that every
//! member-changing service applies: under the member lock (`services::locks::acting`), on
//! the member as they are inside that transaction (through [`target`]); the member page and
//! the Users list's row actions ask the same rule ([`Actor::check`]).

pub mod directory;
pub mod edit;
pub mod emails;
pub mod join;
pub mod lifecycle;

use crate::db::DbConn;
use crate::error::{AppError, AppResult};
use crate::models::email_address::EmailAddressRow;
use crate::models::member::{Member, MemberStatus};
use crate::permissions::{EffectivePermissions, Permission, Scope};
use crate::services::access::{self, Access};

/// Whether `member_id` falls within `scope` as seen from the acting member.
pub fn in_scope(
    conn: &mut DbConn,
    access: &Access,
    scope: Scope,
    member_id: i64,
) -> AppResult<bool> {
    Ok(match scope {
        Scope::All => true,
        Scope::Own => member_id == access.member.id,
        Scope::Team => {
            member_id == access.member.id
                || Member::team_ids(conn, access.workspace.id, access.member.id)?
                    .contains(&member_id)
        }
    })
}

/// What an act on a member touches, for the rules about who may do it (SPEC §3 Members, §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Roles, seat type, manager, department, modules, metadata (`members.edit`). Nobody but
    /// the Owner does these to themselves.
    Membership,
    /// Name and email addresses (`members.edit`). Never on oneself here, not even the Owner:
    /// one's own are changed on `/account`, under its rules (the current password).
    Identity,
    /// Archive, restore, remove (`members.remove`). Never oneself (Leave is on `/account`).
    Lifecycle,
    /// A direct grant from a permission request (`settings.manage`). Never to oneself, not
    /// even the Owner: a grant outlives roles, so a self-approved one would survive a later
    /// demotion or a transfer of ownership.
    Grant,
}

/// Why nobody acts on themselves this way: one's own name and addresses.
pub const OWN_IDENTITY: &str = "Change your name and addresses on your Account page.";
/// Why only the Owner acts on their own membership.
pub const OWN_MEMBERSHIP: &str = "Only the workspace's Owner changes their own roles, seat type, manager, department, modules or metadata: ask an admin to change yours.";
pub const OWNER_STAYS: &str =
    "The Owner can't be archived or removed. Transfer ownership to an Admin first.";
const OWN_LIFECYCLE: &str =
    "You can't archive, restore or remove yourself. To leave the workspace, use Leave on your account page.";
const OWN_GRANT: &str = "You can't approve your own permission request: another admin decides it.";

impl Act {
    /// The permission the act needs over the member.
    pub fn permission(self) -> Permission {
        match self {
            Act::Membership | Act::Identity => Permission::MembersEdit,
            Act::Lifecycle => Permission::MembersRemove,
            Act::Grant => Permission::SettingsManage,
        }
    }

    /// Whether an actor may do this to their own membership: `Err(reason)` if not. The one
    /// rule for oneself, also used where the Users list decides its row actions.
    pub fn on_oneself(self, actor_is_owner: bool) -> Result<(), &'static str> {
        match self {
            Act::Membership if actor_is_owner => Ok(()),
            Act::Membership => Err(OWN_MEMBERSHIP),
            Act::Identity => Err(OWN_IDENTITY),
            Act::Lifecycle if actor_is_owner => Err(OWNER_STAYS),
            Act::Lifecycle => Err(OWN_LIFECYCLE),
            Act::Grant => Err(OWN_GRANT),
        }
    }
}

/// The actor's reach for `permission`: its scope, or `all` for an unscoped permission held.
fn reach(access: &Access, permission: Permission) -> Option<Scope> {
    access
        .perms
        .allows(permission)
        .then(|| access.perms.scope(permission).unwrap_or(Scope::All))
}

/// The actor's side of [`authorize`], read once: who they are and, when a scope the acts
/// depend on is `team`, the ids of their team. [`authorize`] reads it for one member inside
/// the write transaction; the Users list reads it once for a whole page of rows (then one
/// [`Actor::check`] per row and act, no query per row).
pub struct Actor<'a> {
    access: &'a Access,
    /// The actor's team (everyone reporting to them, at any depth), when a scope needs it.
    team: Option<Vec<i64>>,
}

impl<'a> Actor<'a> {
    /// What [`Actor::check`] needs to decide `acts`: the team only when one of their
    /// permissions (or `members.view`, which every act but a grant needs) is team-scoped.
    pub fn load(conn: &mut DbConn, access: &'a Access, acts: &[Act]) -> AppResult<Self> {
        let view = acts
            .iter()
            .any(|a| *a != Act::Grant)
            .then_some(Permission::MembersView);
        let needs_team = view
            .into_iter()
            .chain(acts.iter().map(|a| a.permission()))
            .any(|p| access.perms.scope(p) == Some(Scope::Team));
        let team = if needs_team {
            Some(Member::team_ids(
                conn,
                access.workspace.id,
                access.member.id,
            )?)
        } else {
            None
        };
        Ok(Actor { access, team })
    }

    /// Whether `member_id` is within `scope` as seen from the actor.
    fn reaches(&self, scope: Scope, member_id: i64) -> bool {
        member_id == self.access.member.id
            || match scope {
                Scope::All => true,
                Scope::Own => false,
                Scope::Team => self.team.as_ref().is_some_and(|t| t.contains(&member_id)),
            }
    }

    /// THE rule for acting on a member, in one place: every service that changes a
    /// member applies it (through [`target`] and [`authorize`], inside its write
    /// transaction after the member lock), and the pages apply it to decide what to offer
    /// (the member page through [`may`], the Users list's row actions through
    /// [`Actor::may`]). In order:
    /// - a member outside the actor's `members.view` is a 404 (not for grants: the
    ///   requests page names the requester);
    /// - oneself: only what [`Act::on_oneself`] allows (403 with the reason);
    /// - outside the scope of the act's permission: 403;
    /// - a member who holds anything the actor does not (the Owner, to anyone else): 403;
    /// - a removed member's membership and identity are no longer the workspace's to
    ///   edit: 409.
    pub fn check(
        &self,
        member_id: i64,
        status: MemberStatus,
        perms: &EffectivePermissions,
        act: Act,
    ) -> AppResult<()> {
        let access = self.access;
        if act != Act::Grant {
            let view = reach(access, Permission::MembersView).ok_or(AppError::NotFound)?;
            if !self.reaches(view, member_id) {
                return Err(AppError::NotFound);
            }
        }
        if member_id == access.member.id {
            act.on_oneself(access.perms.is_owner())
                .map_err(AppError::forbidden_because)?;
        }
        let permission = act.permission();
        let scope = reach(access, permission)
            .ok_or_else(|| AppError::forbidden_in(&access.workspace.slug, permission))?;
        if !self.reaches(scope, member_id) {
            return Err(AppError::forbidden_in(&access.workspace.slug, permission));
        }
        if !access.perms.dominates(perms) {
            return Err(AppError::forbidden_because(
                "This member holds permissions you don't: only someone who holds at least as much can change them.",
            ));
        }
        if matches!(act, Act::Membership | Act::Identity) && status == MemberStatus::Removed {
            return Err(AppError::Conflict(
                "This member was removed from the workspace: invite them again to change their membership.".into(),
            ));
        }
        Ok(())
    }

    /// Whether [`Actor::check`] lets the actor do `act` to this member (to show a button
    /// or a form): the same rule, as a yes or no.
    pub fn may(
        &self,
        member_id: i64,
        status: MemberStatus,
        perms: &EffectivePermissions,
        act: Act,
    ) -> bool {
        self.check(member_id, status, perms, act).is_ok()
    }
}

/// [`Actor::check`] for one member: every member-changing service calls it (through
/// [`target`], inside its write transaction after the member lock).
pub fn authorize(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
    perms: &EffectivePermissions,
    act: Act,
) -> AppResult<()> {
    Actor::load(conn, access, &[act])?.check(member.id, member.status(), perms, act)
}

/// Whether [`authorize`] lets the actor do `act` to this member (to show the forms).
pub fn may(
    conn: &mut DbConn,
    access: &Access,
    member: &Member,
    perms: &EffectivePermissions,
    act: Act,
) -> AppResult<bool> {
    match authorize(conn, access, member, perms, act) {
        Ok(()) => Ok(true),
        Err(AppError::NotFound | AppError::Forbidden(_) | AppError::Conflict(_)) => Ok(false),
        Err(other) => Err(other),
    }
}

/// A member the actor is about to change, with what they hold.
pub struct Target {
    pub member: Member,
    pub perms: EffectivePermissions,
    /// Primary address, for audit labels.
    pub label: String,
}

/// Loads a member and checks [`authorize`] for `act`. Call it inside the write transaction,
/// after the member lock (`services::locks::acting`), so what it read is what is written.
pub fn target(conn: &mut DbConn, access: &Access, member_id: i64, act: Act) -> AppResult<Target> {
    let member = Member::find_in_workspace(conn, access.workspace.id, member_id)?
        .ok_or(AppError::NotFound)?;
    let perms = access::effective_permissions(conn, member.id)?;
    authorize(conn, access, &member, &perms, act)?;
    let label = EmailAddressRow::primary_for(conn, member.account_id)?
        .map(|e| e.canonical)
        .unwrap_or_default();
    Ok(Target {
        member,
        perms,
        label,
    })
}
