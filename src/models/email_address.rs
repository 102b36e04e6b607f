//! Email addresses: each belongs to one account; exactly one per account is primary.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::email_addresses;
use crate::db::DbConn;

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = email_addresses)]
pub struct EmailAddressRow {
    pub id: i64,
    pub account_id: i64,
    pub address: String,
    pub canonical: String,
    pub verified: bool,
    pub is_primary: bool,
    pub created_at: NaiveDateTime,
    pub verified_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = email_addresses)]
pub struct NewEmailAddress<'a> {
    pub account_id: i64,
    pub address: &'a str,
    pub canonical: &'a str,
    pub verified: bool,
    pub is_primary: bool,
    pub created_at: NaiveDateTime,
    pub verified_at: Option<NaiveDateTime>,
}

impl NewEmailAddress<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(email_addresses::table)
            .values(self)
            .returning(email_addresses::id)
            .get_result(conn)
    }
}

/// What `EmailAddressRow::mark_verified` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    Done,
    /// Not this account's unverified address (any more).
    NotPending,
    /// Another account holds the address verified.
    TakenElsewhere,
}

impl EmailAddressRow {
    /// An account's addresses, primary first.
    pub fn for_account(conn: &mut DbConn, account_id: i64) -> QueryResult<Vec<EmailAddressRow>> {
        email_addresses::table
            .filter(email_addresses::account_id.eq(account_id))
            .order((email_addresses::is_primary.desc(), email_addresses::id))
            .select(EmailAddressRow::as_select())
            .load(conn)
    }

    pub fn primary_for(conn: &mut DbConn, account_id: i64) -> QueryResult<Option<EmailAddressRow>> {
        email_addresses::table
            .filter(email_addresses::account_id.eq(account_id))
            .filter(email_addresses::is_primary.eq(true))
            .select(EmailAddressRow::as_select())
            .first(conn)
            .optional()
    }

    /// The verified address with this canonical form, on whichever account holds it.
    pub fn find_verified(
        conn: &mut DbConn,
        canonical: &str,
    ) -> QueryResult<Option<EmailAddressRow>> {
        email_addresses::table
            .filter(email_addresses::canonical.eq(canonical))
            .filter(email_addresses::verified.eq(true))
            .select(EmailAddressRow::as_select())
            .first(conn)
            .optional()
    }

    /// Whether a verified address with this canonical form exists on any account.
    pub fn verified_exists(conn: &mut DbConn, canonical: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            email_addresses::table
                .filter(email_addresses::canonical.eq(canonical))
                .filter(email_addresses::verified.eq(true)),
        ))
        .get_result(conn)
    }

    /// One address by id, only if it belongs to the account (another account's id is `None`).
    pub fn find_for_account(
        conn: &mut DbConn,
        account_id: i64,
        id: i64,
    ) -> QueryResult<Option<EmailAddressRow>> {
        email_addresses::table
            .filter(email_addresses::account_id.eq(account_id))
            .filter(email_addresses::id.eq(id))
            .select(EmailAddressRow::as_select())
            .first(conn)
            .optional()
    }

    /// Whether another account holds this address verified.
    pub fn verified_elsewhere(
        conn: &mut DbConn,
        canonical: &str,
        account_id: i64,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            email_addresses::table
                .filter(email_addresses::canonical.eq(canonical))
                .filter(email_addresses::verified.eq(true))
                .filter(email_addresses::account_id.ne(account_id)),
        ))
        .get_result(conn)
    }

    /// Marks an address verified, only if it is still this account's and unverified. In a
    /// savepoint: another account verifying the same address at the same moment can win
    /// the unique index on PostgreSQL, which is answered (`TakenElsewhere`) without
    /// aborting the caller's transaction.
    pub fn mark_verified(
        conn: &mut DbConn,
        account_id: i64,
        id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<Verification> {
        use diesel::result::{DatabaseErrorKind, Error};
        let updated = conn.transaction(|conn| {
            diesel::update(
                email_addresses::table
                    .filter(email_addresses::account_id.eq(account_id))
                    .filter(email_addresses::id.eq(id))
                    .filter(email_addresses::verified.eq(false)),
            )
            .set((
                email_addresses::verified.eq(true),
                email_addresses::verified_at.eq(Some(now)),
            ))
            .execute(conn)
        });
        match updated {
            Ok(1) => Ok(Verification::Done),
            Ok(_) => Ok(Verification::NotPending),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                Ok(Verification::TakenElsewhere)
            }
            Err(e) => Err(e),
        }
    }

    /// Moves the primary flag to a verified address of the account (the old one is
    /// cleared first: at most one primary per account is a unique index).
    pub fn set_primary(conn: &mut DbConn, account_id: i64, id: i64) -> QueryResult<bool> {
        diesel::update(
            email_addresses::table
                .filter(email_addresses::account_id.eq(account_id))
                .filter(email_addresses::is_primary.eq(true)),
        )
        .set(email_addresses::is_primary.eq(false))
        .execute(conn)?;
        let n = diesel::update(
            email_addresses::table
                .filter(email_addresses::account_id.eq(account_id))
                .filter(email_addresses::id.eq(id))
                .filter(email_addresses::verified.eq(true)),
        )
        .set(email_addresses::is_primary.eq(true))
        .execute(conn)?;
        Ok(n == 1)
    }

    pub fn delete_for_account(conn: &mut DbConn, account_id: i64, id: i64) -> QueryResult<bool> {
        let n = diesel::delete(
            email_addresses::table
                .filter(email_addresses::account_id.eq(account_id))
                .filter(email_addresses::id.eq(id)),
        )
        .execute(conn)?;
        Ok(n == 1)
    }
}
