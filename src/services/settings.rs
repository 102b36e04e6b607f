//! Workspace settings (`settings.manage`): name, slug, invitation expiry and the module
//! catalogue; the plan (`billing.manage`) goes through `workspaces::set_limits`.

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::error::AppResult;
use crate::models;
use crate::models::audit::{self, Actor, Event};
use crate::models::module::Module;
use crate::models::workspace::Workspace;
use crate::services::access::Access;
use crate::services::workspaces::{slugify, valid_slug};
use crate::text;

pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_MODULES: usize = 50;

/// The general settings as submitted, already shaped by the form layer.
#[derive(Clone, Debug)]
pub struct GeneralInput {
    pub name: String,
    pub slug: String,
    pub invite_expiry_days: i32,
    /// Module names, one per line of the form; keys derive from names.
    pub modules: Vec<String>,
}

/// Field-level refusals; nothing was changed.
pub type Invalid = Vec<(&'static str, String)>;

/// Checks what needs no database: lengths, ranges, slug shape, duplicate modules.
pub fn validate(input: &GeneralInput) -> Invalid {
    let mut invalid = Invalid::new();
    let name = input.name.trim();
    if name.is_empty() {
        invalid.push(("name", "Enter the workspace's name".into()));
    } else if let Err(e) = text::single_line(name) {
        invalid.push(("name", e.to_string()));
    } else if name.chars().count() > MAX_NAME_CHARS {
        invalid.push(("name", format!("At most {MAX_NAME_CHARS} characters")));
    }
    if !valid_slug(&input.slug) {
        invalid.push((
            "slug",
            "Use lower-case letters, digits and single hyphens (at most 40), like acme-corp".into(),
        ));
    }
    if !(1..=30).contains(&input.invite_expiry_days) {
        invalid.push((
            "invite_expiry_days",
            "Invitations last between 1 and 30 days".into(),
        ));
    }
    if input.modules.len() > MAX_MODULES {
        invalid.push(("modules", format!("At most {MAX_MODULES} modules")));
    }
    let mut keys: Vec<String> = Vec::new();
    for name in &input.modules {
        if let Err(e) = text::single_line(name) {
            invalid.push(("modules", format!("A module name: {e}")));
        } else if name.chars().count() > 60 {
            invalid.push(("modules", format!("“{name}” is longer than 60 characters")));
            break;
        }
        let key = slugify(name);
        if keys.contains(&key) {
            invalid.push(("modules", format!("“{name}” is listed twice")));
            break;
        }
        keys.push(key);
    }
    invalid
}

/// Saves the general settings in one transaction with one audit event. Modules keep their
/// identity (and per-member revocations) by key; a module left out of the list is deleted.
pub fn update_general(
    conn: &mut DbConn,
    access: &Access,
    actor: &Actor,
    input: &GeneralInput,
) -> AppResult<Result<Workspace, Invalid>> {
    let invalid = validate(input);
    if !invalid.is_empty() {
        return Ok(Err(invalid));
    }
    write_transaction(conn, |conn| {
        use crate::db::schema::workspaces;
        use diesel::prelude::*;
        let before = crate::services::invites::lock_workspace(conn, access.workspace.id)?;
        if input.slug != before.slug && Workspace::slug_exists(conn, &input.slug)? {
            return Ok(Err(vec![(
                "slug",
                format!("“{}” is taken by another workspace", input.slug),
            )]));
        }
        let now = models::now();
        let name = input.name.trim();
        diesel::update(workspaces::table.find(before.id))
            .set((
                workspaces::name.eq(name),
                workspaces::slug.eq(&input.slug),
                workspaces::invite_expiry_days.eq(input.invite_expiry_days),
                workspaces::updated_at.eq(now),
            ))
            .execute(conn)?;
        let existing = Module::for_workspace(conn, before.id)?;
        let mut kept = Vec::new();
        for (position, module_name) in input.modules.iter().enumerate() {
            let key = slugify(module_name);
            match existing.iter().find(|m| m.key == key) {
                Some(m) => Module::rename(conn, m.id, module_name, position as i32)?,
                None => {
                    Module::insert(conn, before.id, &key, module_name, position as i32, now)?;
                }
            }
            kept.push(key);
        }
        for module in existing.iter().filter(|m| !kept.contains(&m.key)) {
            Module::delete(conn, module.id)?;
        }
        audit::record(
            conn,
            actor,
            Event::new("workspace.settings_changed")
                .workspace(before.id)
                .target("workspace", before.id, &input.slug)
                .changes(json!({
                    "before": {
                        "name": before.name,
                        "slug": before.slug,
                        "invite_expiry_days": before.invite_expiry_days,
                        "modules": existing.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
                    },
                    "after": {
                        "name": name,
                        "slug": input.slug,
                        "invite_expiry_days": input.invite_expiry_days,
                        "modules": input.modules,
                    },
                })),
        )?;
        Ok(Ok(workspaces::table
            .find(before.id)
            .select(Workspace::as_select())
            .first(conn)?))
    })
}
