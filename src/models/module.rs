//! The workspace's module catalogue and per-member revocations: a member has every module
//! of the catalogue except those an admin revoked for them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{member_module_revocations, modules};
use crate::db::DbConn;

#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = modules)]
pub struct Module {
    pub id: i64,
    pub workspace_id: i64,
    pub key: String,
    pub name: String,
    pub position: i32,
    pub created_at: NaiveDateTime,
}

impl Module {
    pub fn for_workspace(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Vec<Module>> {
        modules::table
            .filter(modules::workspace_id.eq(workspace_id))
            .order((modules::position, modules::id))
            .select(Module::as_select())
            .load(conn)
    }

    pub fn insert(
        conn: &mut DbConn,
        workspace_id: i64,
        key: &str,
        name: &str,
        position: i32,
        now: NaiveDateTime,
    ) -> QueryResult<i64> {
        diesel::insert_into(modules::table)
            .values((
                modules::workspace_id.eq(workspace_id),
                modules::key.eq(key),
                modules::name.eq(name),
                modules::position.eq(position),
                modules::created_at.eq(now),
            ))
            .returning(modules::id)
            .get_result(conn)
    }

    pub fn rename(conn: &mut DbConn, id: i64, name: &str, position: i32) -> QueryResult<()> {
        diesel::update(modules::table.find(id))
            .set((modules::name.eq(name), modules::position.eq(position)))
            .execute(conn)?;
        Ok(())
    }

    pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
        diesel::delete(modules::table.find(id)).execute(conn)?;
        Ok(())
    }

    /// Module ids revoked for a member.
    pub fn revoked_for(conn: &mut DbConn, member_id: i64) -> QueryResult<Vec<i64>> {
        member_module_revocations::table
            .filter(member_module_revocations::member_id.eq(member_id))
            .order(member_module_revocations::module_id)
            .select(member_module_revocations::module_id)
            .load(conn)
    }

    /// Replaces a member's revocations.
    pub fn set_revoked(conn: &mut DbConn, member_id: i64, module_ids: &[i64]) -> QueryResult<()> {
        diesel::delete(
            member_module_revocations::table
                .filter(member_module_revocations::member_id.eq(member_id)),
        )
        .execute(conn)?;
        for module_id in module_ids {
            diesel::insert_into(member_module_revocations::table)
                .values((
                    member_module_revocations::member_id.eq(member_id),
                    member_module_revocations::module_id.eq(module_id),
                ))
                .execute(conn)?;
        }
        Ok(())
    }
}
