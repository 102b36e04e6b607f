//! The permission catalogue, scopes, the built-in roles (SPEC §2) and how a member's
//! effective permissions are resolved from their roles and grants. Pure data: no I/O.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    MembersView,
    MembersInvite,
    MembersEdit,
    MembersRemove,
    RolesManage,
    SettingsManage,
    BillingManage,
    AuditView,
    RecordsView,
    RecordsCreate,
    RecordsEdit,
    RecordsDelete,
    RecordsExport,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::MembersView,
        Permission::MembersInvite,
        Permission::MembersEdit,
        Permission::MembersRemove,
        Permission::RolesManage,
        Permission::SettingsManage,
        Permission::BillingManage,
        Permission::AuditView,
        Permission::RecordsView,
        Permission::RecordsCreate,
        Permission::RecordsEdit,
        Permission::RecordsDelete,
        Permission::RecordsExport,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Permission::MembersView => "members.view",
            Permission::MembersInvite => "members.invite",
            Permission::MembersEdit => "members.edit",
            Permission::MembersRemove => "members.remove",
            Permission::RolesManage => "roles.manage",
            Permission::SettingsManage => "settings.manage",
            Permission::BillingManage => "billing.manage",
            Permission::AuditView => "audit.view",
            Permission::RecordsView => "records.view",
            Permission::RecordsCreate => "records.create",
            Permission::RecordsEdit => "records.edit",
            Permission::RecordsDelete => "records.delete",
            Permission::RecordsExport => "records.export",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Permission::ALL.into_iter().find(|p| p.key() == key)
    }

    /// Scoped permissions apply to `own`, `team` or `all` members/records.
    pub fn is_scoped(self) -> bool {
        matches!(
            self,
            Permission::MembersView
                | Permission::MembersEdit
                | Permission::MembersRemove
                | Permission::RecordsView
                | Permission::RecordsCreate
                | Permission::RecordsEdit
                | Permission::RecordsDelete
                | Permission::RecordsExport
        )
    }

    /// What a person reads first; the key is shown beside it, second.
    pub fn label(self) -> &'static str {
        match self {
            Permission::MembersView => "View members",
            Permission::MembersInvite => "Invite people",
            Permission::MembersEdit => "Edit members",
            Permission::MembersRemove => "Archive and remove members",
            Permission::RolesManage => "Manage roles",
            Permission::SettingsManage => "Manage settings",
            Permission::BillingManage => "Manage the plan",
            Permission::AuditView => "View the audit log",
            Permission::RecordsView => "View records",
            Permission::RecordsCreate => "Create records",
            Permission::RecordsEdit => "Edit records",
            Permission::RecordsDelete => "Delete records",
            Permission::RecordsExport => "Export records",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Permission::MembersView => "See members in the Users screen and their details",
            Permission::MembersInvite => "Send, resend and revoke invites",
            Permission::MembersEdit => {
                "Change members' roles, seat, manager, department and details"
            }
            Permission::MembersRemove => "Archive, restore or remove members",
            Permission::RolesManage => "Create, edit and delete custom roles",
            Permission::SettingsManage => "Manage workspace settings, domains and requests",
            Permission::BillingManage => "Manage the plan and seat limit",
            Permission::AuditView => "View and export the audit log",
            Permission::RecordsView => "View records",
            Permission::RecordsCreate => "Create records",
            Permission::RecordsEdit => "Edit records",
            Permission::RecordsDelete => "Delete records",
            Permission::RecordsExport => "Export records",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// How far a scoped permission reaches; ordered so the widest wins (`all > team > own`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Own,
    Team,
    All,
}

impl Scope {
    pub fn key(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Team => "team",
            Scope::All => "all",
        }
    }

    /// How the scope reads beside a permission's label.
    pub fn label(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Team => "their team",
            Scope::All => "everyone",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "own" => Some(Scope::Own),
            "team" => Some(Scope::Team),
            "all" => Some(Scope::All),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One permission with its scope (`None` for unscoped permissions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub permission: Permission,
    pub scope: Option<Scope>,
}

impl Grant {
    /// What a person reads: `Export records (everyone)` or `Manage roles`.
    pub fn title(&self) -> String {
        match self.scope {
            Some(scope) => format!("{} ({})", self.permission.label(), scope.label()),
            None => self.permission.label().to_string(),
        }
    }

    /// The keys, as stored and audited: `records.export (all)` or `roles.manage`.
    pub fn label(&self) -> String {
        match self.scope {
            Some(scope) => format!("{} ({scope})", self.permission),
            None => self.permission.key().to_string(),
        }
    }

    /// Parses stored `(permission, scope)` text; unknown keys are `None`, and a scoped
    /// permission without a valid scope is read as the narrowest (`own`).
    pub fn from_keys(permission: &str, scope: Option<&str>) -> Option<Grant> {
        let permission = Permission::from_key(permission)?;
        let scope = permission
            .is_scoped()
            .then(|| scope.and_then(Scope::from_key).unwrap_or(Scope::Own));
        Some(Grant { permission, scope })
    }
}

/// The five roles every workspace is created with; not editable, not deletable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinRole {
    Owner,
    Admin,
    Manager,
    Member,
    Viewer,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 5] = [
        BuiltinRole::Owner,
        BuiltinRole::Admin,
        BuiltinRole::Manager,
        BuiltinRole::Member,
        BuiltinRole::Viewer,
    ];

    pub fn key(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "owner",
            BuiltinRole::Admin => "admin",
            BuiltinRole::Manager => "manager",
            BuiltinRole::Member => "member",
            BuiltinRole::Viewer => "viewer",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        BuiltinRole::ALL.into_iter().find(|r| r.key() == key)
    }

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "Owner",
            BuiltinRole::Admin => "Admin",
            BuiltinRole::Manager => "Manager",
            BuiltinRole::Member => "Member",
            BuiltinRole::Viewer => "Viewer",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            BuiltinRole::Owner => "Full access, plus transferring ownership, changing the plan and deleting the workspace",
            BuiltinRole::Admin => "Manages members, roles and settings; no billing, no owner-only acts",
            BuiltinRole::Manager => "Sees and edits their team (everyone who reports to them) and its records",
            BuiltinRole::Member => "Sees members; creates and edits their own records; no delete, export or settings",
            BuiltinRole::Viewer => "Read-only across the workspace",
        }
    }

    /// The permissions of SPEC §2, the source of truth when a workspace is created.
    pub fn grants(self) -> Vec<Grant> {
        use Permission::*;
        let all = |permission: Permission| Grant {
            permission,
            scope: permission.is_scoped().then_some(Scope::All),
        };
        let scoped = |permission: Permission, scope: Scope| Grant {
            permission,
            scope: Some(scope),
        };
        match self {
            BuiltinRole::Owner => Permission::ALL.into_iter().map(all).collect(),
            BuiltinRole::Admin => Permission::ALL
                .into_iter()
                .filter(|p| *p != BillingManage)
                .map(all)
                .collect(),
            BuiltinRole::Manager => vec![
                scoped(MembersView, Scope::Team),
                scoped(MembersEdit, Scope::Team),
                scoped(RecordsView, Scope::Team),
                scoped(RecordsCreate, Scope::Team),
                scoped(RecordsEdit, Scope::Team),
                scoped(RecordsDelete, Scope::Team),
                scoped(RecordsExport, Scope::Team),
            ],
            BuiltinRole::Member => vec![
                scoped(MembersView, Scope::All),
                scoped(RecordsView, Scope::Own),
                scoped(RecordsCreate, Scope::Own),
                scoped(RecordsEdit, Scope::Own),
            ],
            BuiltinRole::Viewer => vec![
                scoped(MembersView, Scope::All),
                scoped(RecordsView, Scope::All),
            ],
        }
    }
}

/// A permission as a member holds it: the widest scope and everything that gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub scope: Option<Scope>,
    /// Role names (or "Direct grant") that give this permission, in a stable order.
    pub sources: Vec<String>,
}

/// A member's effective permissions: the union of their roles and live grants.
#[derive(Clone, Debug, Default)]
pub struct EffectivePermissions {
    map: BTreeMap<Permission, Effective>,
    is_owner: bool,
}

impl EffectivePermissions {
    /// Folds `(permission key, scope key, source)` rows; unknown keys are ignored so a
    /// permission retired from the catalogue can never be granted by a stale row.
    pub fn resolve<'a>(
        rows: impl IntoIterator<Item = (&'a str, Option<&'a str>, &'a str)>,
        is_owner: bool,
    ) -> Self {
        let mut map: BTreeMap<Permission, Effective> = BTreeMap::new();
        for (key, scope, source) in rows {
            let Some(permission) = Permission::from_key(key) else {
                continue;
            };
            let scope = if permission.is_scoped() {
                Some(scope.and_then(Scope::from_key).unwrap_or(Scope::Own))
            } else {
                None
            };
            let entry = map.entry(permission).or_insert(Effective {
                scope,
                sources: Vec::new(),
            });
            if scope > entry.scope {
                entry.scope = scope;
            }
            if !entry.sources.iter().any(|s| s == source) {
                entry.sources.push(source.to_string());
            }
        }
        EffectivePermissions { map, is_owner }
    }

    pub fn allows(&self, permission: Permission) -> bool {
        self.map.contains_key(&permission)
    }

    /// The scope held for a scoped permission; `None` when not held.
    pub fn scope(&self, permission: Permission) -> Option<Scope> {
        self.map.get(&permission).and_then(|e| e.scope)
    }

    pub fn is_owner(&self) -> bool {
        self.is_owner
    }

    /// Whether this holds the grant's permission at least at its scope.
    pub fn covers(&self, grant: &Grant) -> bool {
        match (self.map.get(&grant.permission), grant.scope) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(held), Some(wanted)) => held.scope.is_some_and(|s| s >= wanted),
        }
    }

    /// Whether this holds everything `other` holds, at the same or a wider scope (and the
    /// Owner's owner-only acts, which only the Owner holds). Nobody acts on a member who
    /// holds more than they do (SPEC §4.3).
    pub fn dominates(&self, other: &EffectivePermissions) -> bool {
        (self.is_owner || !other.is_owner) && other.grants().iter().all(|g| self.covers(g))
    }

    /// Every held permission with its widest scope.
    pub fn grants(&self) -> Vec<Grant> {
        self.map
            .iter()
            .map(|(permission, e)| Grant {
                permission: *permission,
                scope: e.scope,
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (Permission, &Effective)> {
        self.map.iter().map(|(p, e)| (*p, e))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_scope_wins_and_every_source_is_kept() {
        let rows = [
            ("members.view", Some("team"), "Manager"),
            ("members.view", Some("all"), "Viewer"),
            ("records.view", Some("own"), "Member"),
            ("no.such", None, "Stale"),
        ];
        let eff = EffectivePermissions::resolve(rows, false);
        assert_eq!(eff.scope(Permission::MembersView), Some(Scope::All));
        assert_eq!(eff.scope(Permission::RecordsView), Some(Scope::Own));
        assert_eq!(eff.len(), 2);
        let (_, view) = eff.iter().next().expect("members.view");
        assert_eq!(
            view.sources,
            vec!["Manager".to_string(), "Viewer".to_string()]
        );
    }

    #[test]
    fn dominance_needs_every_permission_at_the_same_or_a_wider_scope() {
        let manager = EffectivePermissions::resolve([("members.view", Some("team"), "M")], false);
        let viewer = EffectivePermissions::resolve([("members.view", Some("all"), "V")], false);
        assert!(viewer.dominates(&manager));
        assert!(!manager.dominates(&viewer));
        let owner = EffectivePermissions::resolve([("members.view", Some("all"), "O")], true);
        assert!(owner.dominates(&viewer));
        assert!(
            !viewer.dominates(&owner),
            "only the Owner dominates the Owner"
        );
    }

    #[test]
    fn admin_has_everything_but_billing() {
        let keys: Vec<_> = BuiltinRole::Admin
            .grants()
            .iter()
            .map(|g| g.permission)
            .collect();
        assert!(!keys.contains(&Permission::BillingManage));
        assert_eq!(keys.len(), Permission::ALL.len() - 1);
    }
}
