//! Deployment-wide key/value settings (the generated session key, the setup token hash).

use diesel::prelude::*;

use crate::db::schema::app_settings;
use crate::db::DbConn;

pub const SESSION_KEY: &str = "session_key";
pub const SETUP_TOKEN_HASH: &str = "setup_token_hash";

pub fn get(conn: &mut DbConn, key: &str) -> QueryResult<Option<String>> {
    app_settings::table
        .find(key)
        .select(app_settings::value)
        .first(conn)
        .optional()
}

/// Inserts or replaces a setting.
pub fn put(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(app_settings::table.find(key)).execute(conn)?;
        diesel::insert_into(app_settings::table)
            .values((app_settings::key.eq(key), app_settings::value.eq(value)))
            .execute(conn)?;
        Ok(())
    })
}

/// Deletes the setting only if it still holds `value`: the single-use step for tokens.
pub fn take_if(conn: &mut DbConn, key: &str, value: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(
        app_settings::table
            .filter(app_settings::key.eq(key))
            .filter(app_settings::value.eq(value)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}
