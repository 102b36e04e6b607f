//! One-time links of an account: email verification and password reset. The token
//! itself is never stored, only its SHA-256 (`tokens::hash`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::account_tokens;
use crate::db::DbConn;

/// What a token may be used for; a token of one purpose is never accepted for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    pub fn key(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = account_tokens)]
pub struct AccountToken {
    pub id: i64,
    pub purpose: String,
    pub account_id: i64,
    pub email_address_id: Option<i64>,
    pub token_hash: String,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = account_tokens)]
pub struct NewAccountToken<'a> {
    pub purpose: &'a str,
    pub account_id: i64,
    pub email_address_id: Option<i64>,
    pub token_hash: &'a str,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

impl NewAccountToken<'_> {
    pub fn insert(&self, conn: &mut DbConn) -> QueryResult<i64> {
        diesel::insert_into(account_tokens::table)
            .values(self)
            .returning(account_tokens::id)
            .get_result(conn)
    }
}

/// Where a token stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    Usable,
    Used,
    Expired,
}

impl AccountToken {
    /// A token by its hash, only for the given purpose.
    pub fn find(
        conn: &mut DbConn,
        purpose: Purpose,
        token_hash: &str,
    ) -> QueryResult<Option<AccountToken>> {
        account_tokens::table
            .filter(account_tokens::token_hash.eq(token_hash))
            .filter(account_tokens::purpose.eq(purpose.key()))
            .select(AccountToken::as_select())
            .first(conn)
            .optional()
    }

    pub fn state_at(&self, now: NaiveDateTime) -> TokenState {
        if self.used_at.is_some() {
            TokenState::Used
        } else if self.expires_at <= now {
            TokenState::Expired
        } else {
            TokenState::Usable
        }
    }

    /// Single use: only one caller can move the token from unused to used, and only
    /// before it expires. Returns whether this caller consumed it.
    pub fn consume(&self, conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<bool> {
        let n = diesel::update(
            account_tokens::table
                .find(self.id)
                .filter(account_tokens::token_hash.eq(&self.token_hash))
                .filter(account_tokens::used_at.is_null())
                .filter(account_tokens::expires_at.gt(now)),
        )
        .set(account_tokens::used_at.eq(Some(now)))
        .execute(conn)?;
        Ok(n == 1)
    }

    /// Retires every unused token of this purpose for the account (a newer link, or the
    /// password they were for has changed).
    pub fn retire_all(
        conn: &mut DbConn,
        account_id: i64,
        purpose: Purpose,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            account_tokens::table
                .filter(account_tokens::account_id.eq(account_id))
                .filter(account_tokens::purpose.eq(purpose.key()))
                .filter(account_tokens::used_at.is_null()),
        )
        .set(account_tokens::used_at.eq(Some(now)))
        .execute(conn)
    }

    /// Retires unused verification links of one address (a fresh link replaces them).
    pub fn retire_for_address(
        conn: &mut DbConn,
        email_address_id: i64,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        diesel::update(
            account_tokens::table
                .filter(account_tokens::email_address_id.eq(email_address_id))
                .filter(account_tokens::purpose.eq(Purpose::VerifyEmail.key()))
                .filter(account_tokens::used_at.is_null()),
        )
        .set(account_tokens::used_at.eq(Some(now)))
        .execute(conn)
    }
}
