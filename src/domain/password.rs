//! A new password with its confirmation: the rules of `auth::password` and a typed-twice
//! match, each problem said of its own field.

use crate::auth::password::check_new_password;
use crate::error::Refusal;

/// A new password that meets the rules and was typed the same twice. Never displayed.
pub struct NewPassword(String);

impl NewPassword {
    /// `fields` names the password field and its confirmation field on the form, so
    /// every problem is said beside the field it belongs to.
    pub fn parse(
        password: &str,
        confirmation: &str,
        fields: (&'static str, &'static str),
    ) -> Result<Self, Vec<Refusal>> {
        let (new_field, confirm_field) = fields;
        let mut refusals = Vec::new();
        let new_ok = match check_new_password(password) {
            Ok(()) => true,
            Err(message) => {
                refusals.push(Refusal::field(new_field, message));
                false
            }
        };
        if crate::text::single_line(confirmation).is_err() {
            refusals.push(Refusal::field(
                confirm_field,
                "A password can't contain control or invisible characters",
            ));
        } else if new_ok && password != confirmation {
            refusals.push(Refusal::field(confirm_field, "The passwords do not match"));
        }
        if refusals.is_empty() {
            Ok(NewPassword(password.to_string()))
        } else {
            Err(refusals)
        }
    }

    /// The password, for hashing.
    pub fn expose(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_is_said_beside_its_field() {
        let fields = ("password", "password_confirm");
        assert!(
            NewPassword::parse("correct horse battery", "correct horse battery", fields).is_ok()
        );
        let short = NewPassword::parse("short", "short", fields)
            .err()
            .unwrap_or_default();
        assert_eq!(
            short.iter().map(|r| r.field).collect::<Vec<_>>(),
            [Some("password")]
        );
        let mismatch = NewPassword::parse("correct horse battery", "correct horse", fields)
            .err()
            .unwrap_or_default();
        assert_eq!(
            mismatch,
            [Refusal::field(
                "password_confirm",
                "The passwords do not match"
            )]
        );
    }
}
