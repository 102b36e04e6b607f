//! Email domains a workspace claims: Pending until verified (DNS TXT record or the
//! operator's command line); a verified domain unlocks admin email management and may let
//! people with a confirmed address on it join (its join policy).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::domains;
use crate::db::{DbConn, FirstByKey};

pub const PENDING: &str = "pending";
pub const VERIFIED: &str = "verified";

/// Join policies (`domains.join_policy`).
pub const POLICY_OFF: &str = "off";
pub const POLICY_AUTO: &str = "auto";
pub const POLICY_APPROVAL: &str = "approval";

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
    /// When "Check now" last looked the TXT record up, and what it found.
    pub last_checked_at: Option<NaiveDateTime>,
    pub last_check_result: Option<String>,
    /// The join policy's default roles (a JSON array of role ids, the first primary).
    pub role_ids: String,
    /// Whether addresses on subdomains (`a.acme.test` for `acme.test`) match the policy.
    pub include_subdomains: bool,
    /// Who set the join policy: its roles are re-checked against them at every join.
    pub policy_author_account_id: Option<i64>,
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

    pub fn role_id_list(&self) -> Vec<i64> {
        crate::models::join_link::decode_ids(&self.role_ids)
    }

    /// Whether an address's domain (canonical) falls under this domain: the same name, or
    /// a subdomain of it when the policy includes subdomains. Never a mere suffix:
    /// `evil-acme.test` is not under `acme.test`.
    pub fn covers(&self, address_domain: &str) -> bool {
        address_domain == self.domain
            || (self.include_subdomains
                && address_domain
                    .strip_suffix(self.domain.as_str())
                    .is_some_and(|head| head.len() > 1 && head.ends_with('.')))
    }

    /// Verified domains whose join policy is on (auto or approval), among these names.
    pub fn open_among(conn: &mut DbConn, names: &[String]) -> QueryResult<Vec<Domain>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        domains::table
            .filter(domains::domain.eq_any(names))
            .filter(domains::status.eq(VERIFIED))
            .filter(domains::join_policy.eq_any([POLICY_AUTO, POLICY_APPROVAL]))
            .order((domains::workspace_id, domains::domain))
            .select(Domain::as_select())
            .load(conn)
    }

    /// Writes a verified domain's join policy and its author.
    pub fn set_policy(
        conn: &mut DbConn,
        id: i64,
        policy: &str,
        role_ids: &[i64],
        include_subdomains: bool,
        author_account_id: i64,
    ) -> QueryResult<()> {
        diesel::update(domains::table.find(id))
            .set((
                domains::join_policy.eq(policy),
                domains::role_ids.eq(crate::models::join_link::encode_ids(role_ids)),
                domains::include_subdomains.eq(include_subdomains),
                domains::policy_author_account_id.eq(Some(author_account_id)),
            ))
            .execute(conn)?;
        Ok(())
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

    /// A workspace's domains, by name.
    pub fn for_workspace(conn: &mut DbConn, workspace_id: i64) -> QueryResult<Vec<Domain>> {
        domains::table
            .filter(domains::workspace_id.eq(workspace_id))
            .order((domains::domain, domains::id))
            .select(Domain::as_select())
            .load(conn)
    }

    /// One of a workspace's domains by id (`None` for another workspace's).
    pub fn find_in_workspace(
        conn: &mut DbConn,
        workspace_id: i64,
        id: i64,
    ) -> QueryResult<Option<Domain>> {
        domains::table
            .filter(domains::workspace_id.eq(workspace_id))
            .filter(domains::id.eq(id))
            .select(Domain::as_select())
            .first_by_key(conn)
    }

    /// Keeps what a TXT check found, and when.
    pub fn record_check(
        conn: &mut DbConn,
        id: i64,
        now: NaiveDateTime,
        result: &str,
    ) -> QueryResult<()> {
        diesel::update(domains::table.find(id))
            .set((
                domains::last_checked_at.eq(Some(now)),
                domains::last_check_result.eq(Some(result)),
            ))
            .execute(conn)?;
        Ok(())
    }

    pub fn delete(conn: &mut DbConn, id: i64) -> QueryResult<()> {
        diesel::delete(domains::table.find(id)).execute(conn)?;
        Ok(())
    }
}
