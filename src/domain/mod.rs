//! The product's values, each parsed once at the edge and carried as its own type: a
//! service that takes a [`PersonName`] cannot be handed an unchecked string. Every type
//! has one rule and one limit, written here and nowhere else; `parse` trims, checks and
//! says what is wrong in words meant for the field it came from.
//!
//! Forms are `#[derive(Deserialize, Validate)]` with `#[validate(custom(function =
//! "PersonName::validate"))]` on their string fields, so every field's problem is reported
//! at once; the handler then builds the service input with `parse`, which cannot fail
//! for a form that validated (it is the same rule) and, if it ever did, refuses rather
//! than panics.

mod day;
mod invitation;
mod password;
mod plan;
mod prose;
mod settings;
mod text;

pub use day::LastDay;
pub use invitation::{AddressEntry, AddressList, InviteMessage};
pub use password::NewPassword;
pub use plan::Plan;
pub use prose::{DecisionNote, RequestReason, RoleDescription};
pub use settings::{InviteExpiryDays, ModuleList};
pub use text::{Department, Metadata, PersonName, PlainText, RoleName, Slug, WorkspaceName};

use std::borrow::Cow;

/// A value's problem, in words meant for the field it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub Cow<'static, str>);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Invalid {
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Invalid(message.into())
    }

    /// The refusal of the form field this value came from.
    pub fn at(self, field: &'static str) -> crate::error::Refusal {
        crate::error::Refusal::field(field, self.0)
    }

    /// For `validator`'s custom functions.
    fn into_validation(self) -> validator::ValidationError {
        validator::ValidationError::new("invalid").with_message(self.0)
    }
}

impl From<crate::text::TextError> for Invalid {
    fn from(e: crate::text::TextError) -> Self {
        Invalid(e.to_string().into())
    }
}

/// The `validator` adapter every value type shares.
pub(crate) fn validation<T>(parsed: Result<T, Invalid>) -> Result<(), validator::ValidationError> {
    parsed.map(drop).map_err(Invalid::into_validation)
}
