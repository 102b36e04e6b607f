//! The account's name.

use actix_web::HttpResponse;
use serde::Deserialize;
use validator::Validate;

use crate::domain::PersonName;
use crate::error::AppResult;
use crate::services::account;
use crate::web::forms::{parsed, validated, FieldErrors, StrictForm};
use crate::web::{db, SignedIn};

use super::{done, refused_page, AccountForms};

#[derive(Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct NameForm {
    #[serde(default)]
    #[validate(custom(function = "PersonName::validate"))]
    name: String,
}

impl NameForm {
    fn name(&self) -> Result<PersonName, FieldErrors> {
        validated(self)?;
        parsed(PersonName::parse(&self.name), "name")
    }
}

/// POST /account/name — signed in; `name`.
pub async fn rename(who: SignedIn, form: StrictForm<NameForm>) -> AppResult<HttpResponse> {
    let form = form.0;
    let name = match form.name() {
        Ok(name) => name,
        Err(errors) => return refused_page(&who, AccountForms::name(&form.name, errors)).await,
    };
    let (actor, account_id) = (who.actor.clone(), who.account_id);
    db(who.db_pool(), move |conn| {
        account::rename(conn, &actor, account_id, &name)
    })
    .await?;
    done(&who.session, "Your name was saved.")
}
