//! Text a person writes for someone else to read, over several lines: a role's
//! description, the reason of a permission request, the note of its decision.

use super::text::text_value;
use super::{validation, Invalid};
use crate::text;

/// Trimmed text of several lines (line endings as `\n`) that passed the canonical check,
/// of at most `max` characters; may be empty.
fn paragraphs(input: &str, max: usize) -> Result<String, Invalid> {
    let value = text::multi_line(input.trim())?;
    if value.chars().count() > max {
        return Err(Invalid::new(format!("At most {max} characters")));
    }
    Ok(value)
}

text_value!(
    /// What a role is for, as the Roles screen shows it; may be empty.
    RoleDescription
);

impl RoleDescription {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        paragraphs(input, Self::MAX_CHARS).map(RoleDescription)
    }
}

text_value!(
    /// Why a member asks for a permission: the admin decides from it, so it is required.
    RequestReason
);

impl RequestReason {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let reason = paragraphs(input, Self::MAX_CHARS)?;
        if reason.is_empty() {
            return Err(Invalid::new(
                "Say why you need it: the admin decides from this",
            ));
        }
        Ok(RequestReason(reason))
    }
}

text_value!(
    /// The note an admin sends with a decision on a request; the empty note is `None`.
    DecisionNote
);

impl DecisionNote {
    pub const MAX_CHARS: usize = RequestReason::MAX_CHARS;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        match Self::parse_optional(input)? {
            Some(note) => Ok(note),
            None => Err(Invalid::new("Write a note")),
        }
    }

    /// Empty input is `None`.
    pub fn parse_optional(input: &str) -> Result<Option<Self>, Invalid> {
        let note = paragraphs(input, Self::MAX_CHARS)?;
        Ok((!note.is_empty()).then_some(DecisionNote(note)))
    }

    pub fn validate_optional(input: &str) -> Result<(), validator::ValidationError> {
        validation(Self::parse_optional(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_their_lines_and_their_limit() {
        assert_eq!(
            RoleDescription::parse(" Reads\r\nreports ").map(RoleDescription::into_inner),
            Ok("Reads\nreports".into())
        );
        assert!(RoleDescription::parse("").is_ok());
        assert!(RoleDescription::parse(&"d".repeat(501)).is_err());
        assert!(RoleDescription::parse("a\u{202e}b").is_err());
        assert!(RequestReason::parse("  ").is_err());
        assert!(RequestReason::parse(&"r".repeat(1000)).is_ok());
        assert!(RequestReason::parse(&"r".repeat(1001)).is_err());
        assert_eq!(DecisionNote::parse_optional(" "), Ok(None));
        assert!(DecisionNote::parse_optional("x\u{0}").is_err());
    }
}
