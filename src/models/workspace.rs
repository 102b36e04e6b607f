//! Workspaces: team spaces with their own members, roles and limits.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{members, workspaces};
use crate::db::{is_postgres, DbConn, FirstByKey};
use crate::domain::Plan;
use crate::models::member::Member;

/// Seat limit of a workspace that has not chosen a plan.
pub const DEFAULT_SEAT_LIMIT: i32 = 10;
pub const DEFAULT_DAILY_INVITES: i32 = 20;
pub const DEFAULT_INVITE_EXPIRY_DAYS: i32 = 7;

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = workspaces)]
pub struct Workspace {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub plan: Option<String>,
    /// `None` means unlimited (Enterprise).
    pub seat_limit: Option<i32>,
    pub daily_invite_limit: i32,
    pub invite_expiry_days: i32,
    /// Active members, kept by every service that changes a member's status.
    pub active_members: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = workspaces)]
pub struct NewWorkspace<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub plan: Option<&'a str>,
    pub seat_limit: Option<i32>,
    pub daily_invite_limit: i32,
    pub invite_expiry_days: i32,
    pub active_members: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewWorkspace<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(workspaces::table)
            .values(self)
            .returning(workspaces::id)
            .get_result(conn)
    }
}

impl Workspace {
    pub fn find_by_slug(conn: &mut DbConn, slug: &str) -> QueryResult<Option<Workspace>> {
        workspaces::table
            .filter(workspaces::slug.eq(slug))
            .select(Workspace::as_select())
            .first(conn)
            .optional()
    }

    /// The workspace, its row locked for the rest of the transaction on PostgreSQL (SQLite's
    /// write transaction already holds the database's write lock). `FOR NO KEY UPDATE`: it
    /// excludes every other holder of this lock (and any update of the row), but not a
    /// transaction that merely inserts a row referencing the workspace (an audit event, a
    /// session), whose foreign-key check takes a `KEY SHARE` lock.
    pub fn lock_for_update(conn: &mut DbConn, id: i64) -> QueryResult<Option<Workspace>> {
        if is_postgres(conn) {
            diesel::sql_query("SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE")
                .bind::<diesel::sql_types::BigInt, _>(id)
                .execute(conn)?;
        }
        workspaces::table
            .find(id)
            .select(Workspace::as_select())
            .first_by_key(conn)
    }

    /// Saves the general settings (name, slug, invitation expiry) and returns the row.
    pub fn update_general(
        conn: &mut DbConn,
        id: i64,
        name: &str,
        slug: &str,
        invite_expiry_days: i32,
        now: NaiveDateTime,
    ) -> QueryResult<Workspace> {
        diesel::update(workspaces::table.find(id))
            .set((
                workspaces::name.eq(name),
                workspaces::slug.eq(slug),
                workspaces::invite_expiry_days.eq(invite_expiry_days),
                workspaces::updated_at.eq(now),
            ))
            .execute(conn)?;
        workspaces::table
            .find(id)
            .select(Workspace::as_select())
            .first(conn)
    }

    pub fn slug_exists(conn: &mut DbConn, slug: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            workspaces::table.filter(workspaces::slug.eq(slug)),
        ))
        .get_result(conn)
    }

    /// The workspaces an account is an active member of, by name.
    pub fn active_for_account(conn: &mut DbConn, account_id: i64) -> QueryResult<Vec<Workspace>> {
        workspaces::table
            .inner_join(members::table)
            .filter(members::account_id.eq(account_id))
            .filter(members::status.eq("active"))
            .order((workspaces::name, workspaces::id))
            .select(Workspace::as_select())
            .load(conn)
    }

    /// An account's active memberships with their workspaces, by workspace name.
    pub fn memberships_for_account(
        conn: &mut DbConn,
        account_id: i64,
    ) -> QueryResult<Vec<(Workspace, Member)>> {
        workspaces::table
            .inner_join(members::table)
            .filter(members::account_id.eq(account_id))
            .filter(members::status.eq("active"))
            .order((workspaces::name, workspaces::id))
            .select((Workspace::as_select(), Member::as_select()))
            .load(conn)
    }

    /// Keeps `active_members` in step; called in the transaction that changes a status.
    pub fn adjust_active_members(conn: &mut DbConn, id: i64, delta: i32) -> QueryResult<()> {
        diesel::update(workspaces::table.find(id))
            .set(workspaces::active_members.eq(workspaces::active_members + delta))
            .execute(conn)?;
        Ok(())
    }

    /// The plan chosen, if any.
    pub fn plan(&self) -> Option<Plan> {
        self.plan.as_deref().and_then(Plan::from_key)
    }

    pub fn plan_name(&self) -> &str {
        self.plan().map_or("No plan", Plan::label)
    }

    /// Sets the plan, seat limit (`None`: unlimited) and daily invite limit; returns the row.
    pub fn set_limits(
        conn: &mut DbConn,
        id: i64,
        plan: Option<&str>,
        seat_limit: Option<i32>,
        daily_invite_limit: i32,
        now: NaiveDateTime,
    ) -> QueryResult<Workspace> {
        diesel::update(workspaces::table.find(id))
            .set((
                workspaces::plan.eq(plan),
                workspaces::seat_limit.eq(seat_limit),
                workspaces::daily_invite_limit.eq(daily_invite_limit),
                workspaces::updated_at.eq(now),
            ))
            .execute(conn)?;
        workspaces::table
            .find(id)
            .select(Workspace::as_select())
            .first(conn)
    }
}
