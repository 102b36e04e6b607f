//! Ending the account's sessions.

use actix_web::{web, HttpResponse};

use crate::error::{AppError, AppResult};
use crate::services::account::{self, EndedSession};
use crate::web::forms::{EmptyForm, StrictForm};
use crate::web::{db, see_other, SignedIn};

use super::done;

/// POST /account/sessions/{id}/end — signed in; `{id}` is a session's opaque id (another
/// account's, or none, is a 404). Ending the current session signs out.
pub async fn end_session(
    who: SignedIn,
    path: web::Path<String>,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let public_id = path.into_inner();
    let (actor, account_id, current) = (who.actor.clone(), who.account_id, who.session_hash());
    let ended = db(who.db_pool(), move |conn| {
        account::end_session(conn, &actor, account_id, &public_id, current.as_deref())
    })
    .await?;
    match ended {
        EndedSession::This => {
            who.session.sign_out();
            Ok(see_other("/login"))
        }
        EndedSession::Other => done(&who.session, "The session was signed out."),
    }
}

/// POST /account/sessions/end-others — signed in; every session but this one ends.
pub async fn end_other_sessions(
    who: SignedIn,
    _form: StrictForm<EmptyForm>,
) -> AppResult<HttpResponse> {
    let keep = who.session_hash().ok_or_else(|| AppError::SignInRequired {
        next: "/account".into(),
    })?;
    let (actor, account_id) = (who.actor.clone(), who.account_id);
    let ended = db(who.db_pool(), move |conn| {
        account::end_other_sessions(conn, &actor, account_id, &keep)
    })
    .await?;
    let message = match ended {
        0 => "There were no other sessions.".to_string(),
        1 => "Your other session was signed out.".to_string(),
        n => format!("Your {n} other sessions were signed out."),
    };
    done(&who.session, message)
}
