//! Changing the password.

use actix_web::HttpResponse;
use serde::Deserialize;

use crate::domain::NewPassword;
use crate::error::{AppError, AppResult, Refusal};
use crate::services::account::{self, PasswordChange};
use crate::web::forms::FieldErrors;
use crate::web::forms::StrictForm;
use crate::web::{attempt, refused, SignedIn};

use super::{beside, done, links, refused_page, verified, AccountForms};

/// The current password (checked by `auth::reauth`) and the new one twice; the new one
/// is one two-field value, `NewPassword`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

impl PasswordForm {
    fn new_password(&self) -> Result<NewPassword, Vec<Refusal>> {
        NewPassword::parse(
            &self.new_password,
            &self.new_password_confirm,
            ("new_password", "new_password_confirm"),
        )
    }
}

/// POST /account/password — signed in; `current_password`, `new_password`,
/// `new_password_confirm`. Ends every other session of the account.
pub async fn change_password(
    who: SignedIn,
    form: StrictForm<PasswordForm>,
) -> AppResult<HttpResponse> {
    let (new, old_hash) = match checked(&who, form.0).await? {
        Ok(checked) => checked,
        Err(errors) => return refused_page(&who, AccountForms::password(errors)).await,
    };
    let keep = who.session_hash().ok_or_else(|| AppError::SignInRequired {
        next: "/account".into(),
    })?;
    let new_hash = who.state.passwords.hash(new.expose()).await?;
    let (actor, account_id, links) = (who.actor.clone(), who.account_id, links(&who.state));
    let outcome = attempt(who.db_pool(), move |conn| {
        let change = PasswordChange {
            verified_hash: &old_hash,
            new_hash: &new_hash,
            keep_session: &keep,
        };
        account::change_password(conn, &actor, &links, account_id, &change)
    })
    .await?;
    match outcome {
        Ok(sessions_ended) => {
            who.state.mail_wakeup.notify_one();
            // This session carries on under a new key and a new CSRF token.
            who.session.rekey()?;
            done(&who.session, changed(sessions_ended))
        }
        Err(refusals) => {
            let errors = refused(&who.session, refusals)?;
            refused_page(&who, AccountForms::password(errors)).await
        }
    }
}

/// The new password and the stored hash the current one matched, or every field's
/// problem. The current password is always verified (the same work whatever else is
/// wrong).
async fn checked(
    who: &SignedIn,
    form: PasswordForm,
) -> AppResult<Result<(NewPassword, String), FieldErrors>> {
    let new = form.new_password();
    Ok(match (new, verified(who, form.current_password).await?) {
        (Ok(new), Ok(old_hash)) => Ok((new, old_hash)),
        (new, old) => {
            let errors = beside(FieldErrors::default(), new.err().into_iter().flatten());
            Err(beside(errors, old.err()))
        }
    })
}

fn changed(sessions_ended: usize) -> String {
    let others = match sessions_ended {
        0 => String::new(),
        1 => " Your other session was signed out.".into(),
        n => format!(" Your {n} other sessions were signed out."),
    };
    format!("Your password was changed.{others}")
}
