//! Email domains a workspace claims: Pending until verified (DNS TXT record or the
//! operator's command line); a verified domain unlocks admin email management.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::domains;
use crate::db::{DbConn, FirstByKey};

pub const PENDING: &str = "pending";
pub const VERIFIED: &str = "verified";

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = domains)]
pub struct Domain {
    pub id: i64,
    pub workspace_id: i64,
    pub domain: String,
    pub status: String,
    pub verification_token: String,
    pub join_policy: String,
    pub created_at: NaiveDateTime,
    pub verified_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = domains)]
pub struct NewDomain<'a> {
    pub workspace_id: i64,
    pub domain: &'a str,
    pub status: &'a str,
    pub verification_token: &'a str,
    pub join_policy: &'a str,
    pub created_at: NaiveDateTime,
}

impl NewDomain<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(domains::table)
            .values(self)
            .returning(domains::id)
            .get_result(conn)
    }
}

impl Domain {
    pub fn is_verified(&self) -> bool {
        self.status == VERIFIED
    }

    pub fn find_by_name(
        conn: &mut DbConn,
        workspace_id: i64,
        domain: &str,
    ) -> QueryResult<Option<Domain>> {
        domains::table
            .filter(domains::workspace_id.eq(workspace_id))
            .filter(domains::domain.eq(domain))
            .select(Domain::as_select())
            .first_by_key(conn)
    }

    /// Whether any workspace has verified this domain.
    pub fn verified_anywhere(conn: &mut DbConn, domain: &str) -> QueryResult<bool> {
        let ids: Vec<i64> = domains::table
            .filter(domains::domain.eq(domain))
            .filter(domains::status.eq(VERIFIED))
            .select(domains::id)
            .load(conn)?;
        Ok(!ids.is_empty())
    }

    /// The verified domains of a workspace (names only).
    pub fn verified_names(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Vec<String>> {
        domains::table
            .filter(domains::workspace_id.eq(workspace_id))
            .filter(domains::status.eq(VERIFIED))
            .order(domains::domain)
            .select(domains::domain)
            .load(conn)
    }

    pub fn mark_verified(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
        diesel::update(domains::table.find(id))
            .set((
                domains::status.eq(VERIFIED),
                domains::verified_at.eq(Some(now)),
            ))
            .execute(conn)?;
        Ok(())
    }
}
