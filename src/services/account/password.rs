//! Changing the password, signed in, with the current one.

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::error::{ServiceError, ServiceResult};
use crate::links::Links;
use crate::models;
use crate::models::account::Account;
use crate::models::account_token::{AccountToken, Purpose};
use crate::models::audit::{self, Actor, Event};
use crate::models::session;

use super::{lock_account, notice, primary_of};

/// A password change from the account's own form.
pub struct PasswordChange<'a> {
    /// The stored hash the current password was verified against (`auth::reauth`).
    pub verified_hash: &'a str,
    /// The new password, already hashed.
    pub new_hash: &'a str,
    /// The hash of the session asking, which stays signed in.
    pub keep_session: &'a str,
}

/// Sets the new password if the stored hash is still the one the current password was
/// verified against (refused beside `current_password` if another tab changed it
/// meanwhile); ends every other session of the account, retires its reset links, and
/// tells the primary address. Returns how many sessions ended.
pub fn change_password(
    conn: &mut DbConn,
    actor: &Actor,
    links: &Links,
    account_id: i64,
    change: &PasswordChange<'_>,
) -> ServiceResult<usize> {
    write_transaction(conn, |conn| {
        let now = models::now();
        let account = lock_account(conn, account_id)?;
        if !Account::replace_password_hash(
            conn,
            account_id,
            change.verified_hash,
            change.new_hash,
            now,
        )? {
            return Err(ServiceError::field(
                "current_password",
                "Your password was changed meanwhile. Enter the current one again.",
            ));
        }
        let sessions_ended =
            session::delete_for_account_except(conn, account_id, change.keep_session)?;
        AccountToken::retire_all(conn, account_id, Purpose::ResetPassword, now)?;
        let primary = primary_of(conn, account_id)?;
        notice(
            conn,
            links,
            &account.name,
            &primary.canonical,
            "Your Gatehouse password was changed",
            "The password of your Gatehouse account was changed, and every other session was signed out.",
            now,
        )?;
        audit::record(
            conn,
            actor,
            Event::new("account.password_changed")
                .target("account", account_id, &primary.canonical)
                .changes(json!({"sessions_ended": sessions_ended})),
        )?;
        Ok(sessions_ended)
    })
}
