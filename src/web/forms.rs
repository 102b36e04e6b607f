//! Strict form parsing: unknown fields and repeated single-value fields are a 400 before
//! any work (SPEC §4.13); `csrf_token` was already checked by the middleware.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors};

use crate::auth::csrf;
use crate::domain::Invalid;
use crate::error::AppError;

/// A form body parsed into `T` (declare `T` with `#[serde(deny_unknown_fields)]`).
pub struct StrictForm<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for StrictForm<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body
                .await
                .map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
            let without_token: Vec<(String, String)> = form_urlencoded::parse(&body)
                .filter(|(k, _)| k != csrf::FIELD)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(without_token)
                .finish();
            serde_html_form::from_str::<T>(&encoded)
                .map(StrictForm)
                .map_err(|e| {
                    AppError::BadRequest(format!(
                        "The form has unexpected or repeated fields ({e})."
                    ))
                })
        })
    }
}

/// A button's form: nothing but the CSRF token.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EmptyForm {}

/// A destructive button's form: the first POST (without `confirm=yes`) shows what will
/// happen; the second, with it, does it.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

impl ConfirmForm {
    pub fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// A form that asks for the current password (re-authentication) and nothing else.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CurrentPasswordForm {
    #[serde(default)]
    pub current_password: String,
}

/// Messages to show beside fields, in the order they were found.
#[derive(Clone, Debug, Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field.to_string(), message.into()));
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A date field's input type: `date`, or `text` while it holds what was refused (a
    /// date input cannot hold "2026-13-40", and the typed value stays in the field).
    pub fn date_kind(&self, field: &str) -> &'static str {
        if self.get(field).is_some() {
            "text"
        } else {
            "date"
        }
    }

    /// A date field's `max` (`latest`), none while it is a text field.
    pub fn date_max<'a>(&self, field: &str, latest: &'a str) -> &'a str {
        if self.get(field).is_some() {
            ""
        } else {
            latest
        }
    }

    /// Every field's problem at once, from `Validate::validate`.
    pub fn from_validation(errors: &ValidationErrors) -> Self {
        let mut out = FieldErrors::default();
        let mut fields: Vec<_> = errors.field_errors().into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        for (field, list) in fields {
            if let Some(message) = list.iter().find_map(|e| e.message.as_ref()) {
                out.add(&field, message.to_string());
            }
        }
        out
    }
}

/// Validates a form (`#[derive(Validate)]`): every field's problem at once, or nothing.
pub fn validated<F: Validate>(form: &F) -> Result<(), FieldErrors> {
    form.validate()
        .map_err(|errors| FieldErrors::from_validation(&errors))
}

/// A value parsed from a form that already validated: the same rule, so this cannot fail;
/// should it ever, the field is refused rather than the request panicking.
pub fn parsed<T>(value: Result<T, Invalid>, field: &str) -> Result<T, FieldErrors> {
    value.map_err(|invalid| {
        let mut errors = FieldErrors::default();
        errors.add(field, invalid.to_string());
        errors
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        name: String,
        #[serde(default)]
        role: Vec<String>,
    }

    #[test]
    fn repeated_single_fields_and_unknown_fields_are_refused() {
        let ok: Sample = serde_html_form::from_str("name=a&role=1&role=2").expect("valid");
        assert_eq!((ok.name.as_str(), ok.role.len()), ("a", 2));
        assert!(serde_html_form::from_str::<Sample>("name=a&name=b").is_err());
        assert!(serde_html_form::from_str::<Sample>("name=a&admin=1").is_err());
    }
}
