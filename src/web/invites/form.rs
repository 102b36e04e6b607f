//! The invite form: every field's rule at once (`validator`), then the service's request
//! built from the same rules' parsers.

use serde::Deserialize;
use validator::{Validate, ValidationError};

use crate::domain::{validation, AddressList, Invalid, InviteMessage, Metadata, PersonName};
use crate::email::EmailAddress;
use crate::models::member::SeatType;
use crate::services::invites::InviteRequest;
use crate::web::forms::{parsed, validated, FieldErrors};

#[derive(Deserialize, Validate, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct InviteForm {
    #[serde(default)]
    #[validate(custom(function = "AddressList::validate"))]
    pub emails: String,
    #[serde(default)]
    #[validate(custom(function = "validate_roles"))]
    pub role: Vec<String>,
    #[serde(default)]
    #[validate(custom(function = "validate_seat"))]
    pub seat_type: String,
    #[serde(default)]
    #[validate(custom(function = "PersonName::validate_optional"))]
    pub name: String,
    #[serde(default)]
    #[validate(custom(function = "InviteMessage::validate_optional"))]
    pub message: String,
    #[serde(default)]
    #[validate(custom(function = "validate_notification_email"))]
    pub notification_email: String,
    #[serde(default)]
    #[validate(custom(function = "Metadata::validate"))]
    pub metadata: String,
}

impl InviteForm {
    /// The form's fields, in the order the page shows them.
    pub const FIELDS: [&'static str; 7] = [
        "emails",
        "role",
        "seat_type",
        "name",
        "message",
        "notification_email",
        "metadata",
    ];

    pub fn has_role(&self, id: &i64) -> bool {
        self.role.iter().any(|r| r == &id.to_string())
    }

    /// The typed addresses, when the field is readable (for the review shown beside the
    /// other fields' errors).
    pub fn addresses(&self) -> Option<AddressList> {
        AddressList::parse(&self.emails).ok()
    }

    /// The request as the service takes it, or every field's problem at once (the single
    /// `name` field with several addresses among them).
    pub fn request(&self) -> Result<InviteRequest, FieldErrors> {
        let mut errors = validated(self).err().unwrap_or_default();
        if let (Some(list), Ok(name)) = (self.addresses(), PersonName::parse_optional(&self.name)) {
            if let Err(invalid) = list.name_field(name.as_ref()) {
                errors.add("name", invalid.to_string());
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(InviteRequest {
            addresses: parsed(AddressList::parse(&self.emails), "emails")?,
            role_ids: parsed(role_ids(&self.role), "role")?,
            seat: parsed(seat(&self.seat_type), "seat_type")?,
            name: parsed(PersonName::parse_optional(&self.name), "name")?,
            message: parsed(InviteMessage::parse_optional(&self.message), "message")?,
            notification_email: parsed(
                notification_email(&self.notification_email),
                "notification_email",
            )?,
            metadata: parsed(Metadata::parse(&self.metadata), "metadata")?,
        })
    }
}

/// The ticked roles: at least one, each a role id.
fn role_ids(roles: &[String]) -> Result<Vec<i64>, Invalid> {
    let ids: Vec<i64> = roles.iter().filter_map(|r| r.parse().ok()).collect();
    if ids.is_empty() || ids.len() != roles.len() {
        return Err(Invalid::new("Choose at least one role"));
    }
    Ok(ids)
}

fn validate_roles(roles: &[String]) -> Result<(), ValidationError> {
    validation(role_ids(roles))
}

fn seat(key: &str) -> Result<SeatType, Invalid> {
    SeatType::from_key(key).ok_or_else(|| Invalid::new("Choose Member or Builder"))
}

fn validate_seat(key: &str) -> Result<(), ValidationError> {
    validation(seat(key))
}

/// Another address to send the invitation to; empty is none.
fn notification_email(input: &str) -> Result<Option<EmailAddress>, Invalid> {
    match input.trim() {
        "" => Ok(None),
        address => EmailAddress::parse(address)
            .map(Some)
            .map_err(|e| Invalid::new(e.to_string())),
    }
}

fn validate_notification_email(input: &str) -> Result<(), ValidationError> {
    validation(notification_email(input))
}
