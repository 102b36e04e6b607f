//! Workspace settings (`settings.manage`): name, slug, invitation expiry and the module
//! catalogue; the plan (`billing.manage`) goes through `workspaces::set_limits`.

use serde_json::json;

use crate::db::DbConn;
use crate::domain::{InviteExpiryDays, ModuleList, Slug, WorkspaceName};
use crate::error::{AppError, AppResult, ServiceError, ServiceResult};
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::module::Module;
use crate::models::workspace::Workspace;
use crate::permissions::Permission;
use crate::services::access::Access;
use crate::services::locks;
use crate::services::seats::Seats;

/// The general settings, each value already parsed.
#[derive(Clone, Debug)]
pub struct GeneralInput {
    pub name: WorkspaceName,
    pub slug: Slug,
    pub invite_expiry_days: InviteExpiryDays,
    pub modules: ModuleList,
}

/// What the Settings page shows besides the workspace: its modules and its seats.
pub fn overview(conn: &mut DbConn, workspace: &Workspace) -> AppResult<(Vec<Module>, Seats)> {
    let modules = Module::for_workspace(conn, workspace.id)?;
    let seats = Seats::load(conn, workspace, models::now())?;
    Ok((modules, seats))
}

/// Saves the general settings in one transaction with one audit event. Modules keep their
/// identity (and per-member revocations) by key; a module left out of the list is deleted.
pub fn update_general(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    input: &GeneralInput,
) -> ServiceResult<Workspace> {
    locks::acting(conn, access, |conn, access| {
        if !access.perms.allows(Permission::SettingsManage) {
            return Err(AppError::forbidden(Permission::SettingsManage).into());
        }
        let before = &access.workspace;
        let slug = input.slug.as_str();
        if slug != before.slug && Workspace::slug_exists(conn, slug)? {
            return Err(ServiceError::field(
                "slug",
                format!("“{slug}” is taken by another workspace"),
            ));
        }
        let now = models::now();
        let after = Workspace::update_general(
            conn,
            before.id,
            input.name.as_str(),
            slug,
            input.invite_expiry_days.days(),
            now,
        )?;
        let existing = Module::for_workspace(conn, before.id)?;
        for (position, (key, name)) in input.modules.iter().enumerate() {
            match existing.iter().find(|m| m.key == key) {
                Some(m) => Module::rename(conn, m.id, name, position as i32)?,
                None => drop(Module::insert(
                    conn,
                    before.id,
                    key,
                    name,
                    position as i32,
                    now,
                )?),
            }
        }
        for module in existing
            .iter()
            .filter(|m| input.modules.iter().all(|(key, _)| key != m.key))
        {
            Module::delete(conn, module.id)?;
        }
        audit::record(
            conn,
            actor,
            Event::new("workspace.settings_changed")
                .workspace(before.id)
                .target("workspace", before.id, slug)
                .changes(json!({
                    "before": {
                        "name": before.name,
                        "slug": before.slug,
                        "invite_expiry_days": before.invite_expiry_days,
                        "modules": existing.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
                    },
                    "after": {
                        "name": after.name,
                        "slug": after.slug,
                        "invite_expiry_days": after.invite_expiry_days,
                        "modules": input.modules.names(),
                    },
                })),
        )?;
        Ok(after)
    })
}
