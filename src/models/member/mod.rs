//! Members: an account's membership of one workspace. The Users list's queries (search,
//! pages, rows, departments) and their performance rules are in [`search`].

pub mod search;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::schema::members;
use crate::db::{dialect, DbConn};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    Active,
    Archived,
    Removed,
}

impl MemberStatus {
    pub const ALL: [MemberStatus; 3] = [
        MemberStatus::Active,
        MemberStatus::Archived,
        MemberStatus::Removed,
    ];

    pub fn key(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Archived => "archived",
            MemberStatus::Removed => "removed",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        MemberStatus::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            MemberStatus::Active => "Active",
            MemberStatus::Archived => "Archived",
            MemberStatus::Removed => "Removed",
        }
    }
}

/// Both seat types take one seat; they differ in what the host product lets them do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatType {
    Member,
    Builder,
}

impl SeatType {
    pub const ALL: [SeatType; 2] = [SeatType::Member, SeatType::Builder];

    pub fn key(self) -> &'static str {
        match self {
            SeatType::Member => "member",
            SeatType::Builder => "builder",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        SeatType::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            SeatType::Member => "Member",
            SeatType::Builder => "Builder",
        }
    }
}

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = members)]
pub struct Member {
    pub id: i64,
    pub workspace_id: i64,
    pub account_id: i64,
    pub status: String,
    pub seat_type: String,
    pub manager_id: Option<i64>,
    pub department: Option<String>,
    pub metadata: String,
    pub sort_name: String,
    pub joined_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = members)]
pub struct NewMember<'a> {
    pub workspace_id: i64,
    pub account_id: i64,
    pub status: &'a str,
    pub seat_type: &'a str,
    pub manager_id: Option<i64>,
    pub department: Option<&'a str>,
    pub metadata: &'a str,
    pub sort_name: String,
    pub joined_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl NewMember<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(members::table)
            .values(self)
            .returning(members::id)
            .get_result(conn)
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

impl Member {
    pub fn status(&self) -> MemberStatus {
        MemberStatus::from_key(&self.status).unwrap_or(MemberStatus::Removed)
    }

    pub fn seat(&self) -> SeatType {
        SeatType::from_key(&self.seat_type).unwrap_or(SeatType::Member)
    }

    /// `(id, name, primary address)` of a few members (impact and confirmation pages,
    /// mails), in no particular order.
    pub fn names(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String, String)>> {
        Ok(Member::list_rows(conn, ids)?
            .into_iter()
            .map(|(id, name, email, ..)| (id, name, email))
            .collect())
    }

    /// A member by id, only within the given workspace (another workspace's id is `None`).
    pub fn find_in_workspace(
        conn: &mut DbConn,
        workspace_id: i64,
        id: i64,
    ) -> QueryResult<Option<Member>> {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::id.eq(id))
            .select(Member::as_select())
            .first(conn)
            .optional()
    }

    pub fn find_for_account(
        conn: &mut DbConn,
        workspace_id: i64,
        account_id: i64,
    ) -> QueryResult<Option<Member>> {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::account_id.eq(account_id))
            .select(Member::as_select())
            .first(conn)
            .optional()
    }

    /// The active members among these accounts: (account id, member id).
    pub fn active_for_accounts(
        conn: &mut DbConn,
        workspace_id: i64,
        account_ids: &[i64],
    ) -> QueryResult<Vec<(i64, i64)>> {
        members::table
            .filter(members::workspace_id.eq(workspace_id))
            .filter(members::account_id.eq_any(account_ids))
            .filter(members::status.eq(MemberStatus::Active.key()))
            .select((members::account_id, members::id))
            .load(conn)
    }

    pub fn set_seat(
        conn: &mut DbConn,
        id: i64,
        seat: SeatType,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(members::table.find(id))
            .set((
                members::seat_type.eq(seat.key()),
                members::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    pub fn set_department(
        conn: &mut DbConn,
        id: i64,
        department: Option<&str>,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(members::table.find(id))
            .set((
                members::department.eq(department),
                members::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    pub fn set_metadata(
        conn: &mut DbConn,
        id: i64,
        metadata: &str,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(members::table.find(id))
            .set((members::metadata.eq(metadata), members::updated_at.eq(now)))
            .execute(conn)?;
        Ok(())
    }

    pub fn set_status(
        conn: &mut DbConn,
        id: i64,
        status: MemberStatus,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(members::table.find(id))
            .set((
                members::status.eq(status.key()),
                members::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Ids of the members who report directly to this one.
    pub fn direct_reports(conn: &mut DbConn, id: i64) -> QueryResult<Vec<i64>> {
        members::table
            .filter(members::manager_id.eq(id))
            .order(members::id)
            .select(members::id)
            .load(conn)
    }

    /// How many active members report directly to this one.
    pub fn active_reports(conn: &mut DbConn, id: i64) -> QueryResult<i64> {
        members::table
            .filter(members::manager_id.eq(id))
            .filter(members::status.eq(MemberStatus::Active.key()))
            .count()
            .get_result(conn)
    }

    /// `(id, account name)` of a member, only within the given workspace.
    pub fn name_in_workspace(
        conn: &mut DbConn,
        workspace_id: i64,
        id: i64,
    ) -> QueryResult<Option<(i64, String)>> {
        use crate::db::schema::accounts;
        members::table
            .inner_join(accounts::table)
            .filter(members::id.eq(id))
            .filter(members::workspace_id.eq(workspace_id))
            .select((members::id, accounts::name))
            .first(conn)
            .optional()
    }

    /// Members who reported to this one now report to nobody; returns how many.
    pub fn clear_manager_of_reports(
        conn: &mut DbConn,
        id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(members::table.filter(members::manager_id.eq(id)))
            .set((
                members::manager_id.eq(None::<i64>),
                members::updated_at.eq(now),
            ))
            .execute(conn)
    }

    pub fn set_manager(
        conn: &mut DbConn,
        id: i64,
        manager_id: Option<i64>,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(members::table.find(id))
            .set((
                members::manager_id.eq(manager_id),
                members::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// The member and everyone who reports to them, directly or through any chain of
    /// managers: one recursive query whatever the depth. `UNION` (not `UNION ALL`) makes a
    /// stray loop terminate.
    pub fn team_ids(conn: &mut DbConn, workspace_id: i64, member_id: i64) -> QueryResult<Vec<i64>> {
        let sql = dialect(
            conn,
            "WITH RECURSIVE team(id) AS ( \
                 SELECT id FROM members WHERE id = ? AND workspace_id = ? \
                 UNION SELECT m.id FROM members m JOIN team t ON m.manager_id = t.id \
                 WHERE m.workspace_id = ? \
             ) SELECT id FROM team",
        );
        let rows: Vec<IdRow> = diesel::sql_query(sql)
            .bind::<BigInt, _>(member_id)
            .bind::<BigInt, _>(workspace_id)
            .bind::<BigInt, _>(workspace_id)
            .load(conn)?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }
}

/// Status changes of the member lifecycle (`services::members::{join, lifecycle}`).
impl Member {
    /// Moves a member from `from` to `to`, only if they are still `from`: `false` when a
    /// concurrent change got there first (so two endings count the seat once).
    pub fn change_status(
        conn: &mut DbConn,
        id: i64,
        from: MemberStatus,
        to: MemberStatus,
        now: NaiveDateTime,
    ) -> QueryResult<bool> {
        let changed = diesel::update(
            members::table
                .find(id)
                .filter(members::status.eq(from.key())),
        )
        .set((members::status.eq(to.key()), members::updated_at.eq(now)))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// A removed or archived member active again with the given seat type (re-invited).
    pub fn reactivate(
        conn: &mut DbConn,
        id: i64,
        seat: SeatType,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(members::table.find(id))
            .set((
                members::status.eq(MemberStatus::Active.key()),
                members::seat_type.eq(seat.key()),
                members::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    }
}
