//! An invitation's typed values: the list of addresses it goes to and its personal message.

use super::{validation, Invalid};
use crate::text;

/// The addresses typed into the invite form, split on commas, semicolons, spaces and new
/// lines: readable text, 1 to 500 entries. Each entry is kept as typed, since each one gets
/// its own verdict in the review (an entry that is not an address is a review line, not a
/// refusal of the field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressList(Vec<String>);

impl AddressList {
    /// Most addresses one submit may carry (SPEC §4.13).
    pub const MAX_ENTRIES: usize = 500;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let input = text::multi_line(input)?;
        let entries: Vec<String> = input
            .split([',', ';', ' ', '\n', '\t'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        match entries.len() {
            0 => Err(Invalid::new("Enter at least one email address")),
            n if n > Self::MAX_ENTRIES => Err(Invalid::new(format!(
                "At most {} addresses per invite ({n} entered)",
                Self::MAX_ENTRIES
            ))),
            _ => Ok(AddressList(entries)),
        }
    }

    pub fn validate(input: &str) -> Result<(), validator::ValidationError> {
        validation(Self::parse(input))
    }

    /// The entries as typed, in order.
    pub fn entries(&self) -> &[String] {
        &self.0
    }
}

/// The inviter's personal message: readable text over any number of lines, at most 1,000
/// characters; empty is no message (`parse_optional`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteMessage(String);

impl InviteMessage {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse_optional(input: &str) -> Result<Option<Self>, Invalid> {
        let message = text::multi_line(input)?;
        let message = message.trim();
        if message.is_empty() {
            return Ok(None);
        }
        if message.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("At most 1,000 characters"));
        }
        Ok(Some(InviteMessage(message.to_string())))
    }

    pub fn validate_optional(input: &str) -> Result<(), validator::ValidationError> {
        validation(Self::parse_optional(input))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_list_has_one_to_five_hundred_entries() {
        let list = AddressList::parse("a@x.example, b@x.example;c@x.example\r\n d");
        assert_eq!(
            list.as_ref().map(AddressList::entries),
            Ok(&["a@x.example", "b@x.example", "c@x.example", "d"].map(String::from)[..])
        );
        assert!(AddressList::parse(" ,; ").is_err());
        assert!(AddressList::parse("a\u{0}b").is_err());
        let many = vec!["a@x.example"; 501].join(" ");
        assert_eq!(
            AddressList::parse(&many).err().map(|e| e.to_string()),
            Some("At most 500 addresses per invite (501 entered)".into())
        );
    }

    #[test]
    fn a_message_is_optional_readable_and_short() {
        assert_eq!(InviteMessage::parse_optional("  "), Ok(None));
        assert_eq!(
            InviteMessage::parse_optional(" Hi\r\nthere ").map(|m| m.map(|m| m.0)),
            Ok(Some("Hi\nthere".into()))
        );
        assert!(InviteMessage::parse_optional("\u{202e}x").is_err());
        assert!(InviteMessage::parse_optional(&"m".repeat(1001)).is_err());
    }
}
