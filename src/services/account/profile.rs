//! The account's name.

use serde_json::json;

use crate::db::{write_transaction, DbConn};
use crate::domain::PersonName;
use crate::error::AppResult;
use crate::models;
use crate::models::account::Account;
use crate::models::audit::{self, Actor, Event};

use super::{lock_account, primary_of};

/// Changes the account's name, and the copies kept for search and sorting
/// (`Account::rename`). The same name again changes nothing.
pub fn rename(
    conn: &mut DbConn,
    actor: &Actor,
    account_id: i64,
    name: &PersonName,
) -> AppResult<()> {
    write_transaction(conn, |conn| {
        let account = lock_account(conn, account_id)?;
        if account.name == name.as_str() {
            return Ok(());
        }
        Account::rename(conn, account_id, name.as_str(), models::now())?;
        let label = primary_of(conn, account_id)?.canonical;
        audit::record(
            conn,
            actor,
            Event::new("account.renamed")
                .target("account", account_id, &label)
                .changes(
                    json!({"before": {"name": account.name}, "after": {"name": name.as_str()}}),
                ),
        )?;
        Ok(())
    })
}
