//! Re-authentication: the one check of `current_password` on every form that asks for it
//! (password change, adding an address, making one primary, transferring ownership),
//! throttled by the same rule as signing in (`services::signin`), so a stolen session
//! cannot guess the password without limit.

use crate::db::run as db;
use crate::error::AppResult;
use crate::models;
use crate::models::audit::Actor;
use crate::services::signin::{self, Kind, Outcome};
use crate::state::AppState;

/// The message beside `current_password` when it is wrong.
pub const WRONG: &str = "That is not your current password";

/// Verifies the signed-in account's current password, throttled and recorded. `Ok(hash)`
/// is the stored hash it matched (for a conditional update); `Err(message)` is what to say
/// beside the `current_password` field: wrong, or throttled with when to try again.
pub async fn verify_current_password(
    state: &AppState,
    actor: &Actor,
    account_id: i64,
    password: String,
) -> AppResult<Result<String, String>> {
    // Nothing typed, or text no password can hold, is not a guess: it is not counted.
    if password.is_empty() {
        return Ok(Err("Enter your current password".into()));
    }
    if let Err(e) = crate::text::single_line(&password) {
        return Ok(Err(e.to_string()));
    }
    let ip = actor.ip.clone();
    let prepared = db(&state.pool, move |conn| {
        signin::prepare_reauth(conn, account_id, ip.as_deref())
    })
    .await?;
    let (stored, verified) = match prepared {
        Ok(stored) => {
            let ok = state.passwords.verify(stored.clone(), password).await? && stored.is_some();
            (stored, Some(ok))
        }
        Err(_) => (None, None),
    };
    let actor = actor.clone();
    let outcome = db(&state.pool, move |conn| {
        signin::settle(conn, &actor, Kind::Reauth, Some(account_id), verified)
    })
    .await?;
    Ok(match (outcome, stored) {
        (Outcome::Succeeded, Some(hash)) => Ok(hash),
        (Outcome::Throttled { retry_at }, _) => Err(format!(
            "Too many wrong passwords. {}",
            signin::retry_message(retry_at, models::now())
        )),
        _ => Err(WRONG.to_string()),
    })
}
