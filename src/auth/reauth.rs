//! Re-authentication: the one check of `current_password` on every form that asks for it
//! (password change, adding an address, making one primary, transferring ownership),
//! throttled by the same rule as signing in (`services::signin`), so a stolen session
//! cannot guess the password without limit.

use crate::db::run as db;
use crate::error::{AppResult, Refusal};
use crate::models;
use crate::models::audit::Actor;
use crate::services::signin::{self, Kind, Outcome};
use crate::state::AppState;

/// The form field every re-authentication reads.
pub const FIELD: &str = "current_password";

/// The message beside `current_password` when it is wrong.
pub const WRONG: &str = "That is not your current password";

/// Verifies the signed-in account's current password, throttled and recorded. `Ok(hash)`
/// is the stored hash it matched (for a conditional update); the refusal is for the
/// `current_password` field: empty, wrong, or throttled with when to try again.
pub async fn verify_current_password(
    state: &AppState,
    actor: &Actor,
    account_id: i64,
    password: String,
) -> AppResult<Result<String, Refusal>> {
    // Nothing typed, or text no password can hold, is not a guess: it is not counted.
    if password.is_empty() {
        return Ok(Err(Refusal::field(FIELD, "Enter your current password")));
    }
    if let Err(e) = crate::text::single_line(&password) {
        return Ok(Err(Refusal::field(FIELD, e.to_string())));
    }
    let ip = actor.ip.clone();
    let attempt = db(&state.pool, move |conn| {
        signin::prepare_reauth(conn, account_id, ip.as_deref())
    })
    .await?;
    let stored = attempt.password_hash;
    // Checked only when not already throttled (then no hashing, and nothing counts).
    let verified = if attempt.throttled {
        None
    } else {
        Some(state.passwords.verify(stored.clone(), password).await? && stored.is_some())
    };
    let actor = actor.clone();
    let outcome = db(&state.pool, move |conn| {
        signin::settle(conn, &actor, Kind::Reauth, Some(account_id), verified)
    })
    .await?;
    Ok(match (outcome, stored) {
        (Outcome::Succeeded, Some(hash)) => Ok(hash),
        (Outcome::Throttled { retry_at }, _) => Err(Refusal::field(
            FIELD,
            format!(
                "Too many wrong passwords. {}",
                signin::retry_message(retry_at, models::now())
            ),
        )),
        _ => Err(Refusal::field(FIELD, WRONG)),
    })
}
