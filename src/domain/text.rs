//! Text values: names, the workspace address, a department, metadata.

use super::{validation, Invalid};
use crate::text;

/// A trimmed single line that passed the canonical check (`crate::text`).
fn line(input: &str) -> Result<&str, Invalid> {
    Ok(text::single_line(input.trim())?)
}

/// A required trimmed line of at most `max` characters.
fn required_line(input: &str, max: usize, empty: &'static str) -> Result<String, Invalid> {
    let value = line(input)?;
    if value.is_empty() {
        return Err(Invalid::new(empty));
    }
    at_most(value, max)
}

fn at_most(value: &str, max: usize) -> Result<String, Invalid> {
    if value.chars().count() > max {
        return Err(Invalid::new(format!("At most {max} characters")));
    }
    Ok(value.to_string())
}

/// Declares a value type over a `String` with its `parse`, its `validator` adapter and
/// the usual views.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// For `#[validate(custom(function = "…::validate"))]`.
            pub fn validate(input: &str) -> Result<(), validator::ValidationError> {
                validation(Self::parse(input))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(super) use text_value;

/// A required line with its limit: `parse`, and `parse_optional` where empty means none.
macro_rules! line_value {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, empty = $empty:expr) => {
        text_value!($(#[$doc])* $name);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(input: &str) -> Result<Self, Invalid> {
                required_line(input, Self::MAX_CHARS, $empty).map($name)
            }

            /// Empty input is `None`.
            pub fn parse_optional(input: &str) -> Result<Option<Self>, Invalid> {
                if input.trim().is_empty() {
                    Ok(None)
                } else {
                    Self::parse(input).map(Some)
                }
            }

            pub fn validate_optional(input: &str) -> Result<(), validator::ValidationError> {
                validation(Self::parse_optional(input))
            }
        }
    };
}

text_value!(
    /// Any single line a person typed (a search, a reason's line): trimmed, no control,
    /// direction or invisible characters; may be empty.
    PlainText
);

impl PlainText {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        line(input).map(|v| PlainText(v.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

line_value!(
    /// A person's name, as an account or an invitation carries it.
    PersonName,
    max = 100,
    empty = "Enter a name"
);

line_value!(
    /// A workspace's display name (setup and Settings share the limit).
    WorkspaceName,
    max = 100,
    empty = "Enter the workspace's name"
);

line_value!(
    /// A role's name.
    RoleName,
    max = 60,
    empty = "Enter a name for the role"
);

line_value!(
    /// A member's department; the empty department is `None` (`parse_optional`).
    Department,
    max = 100,
    empty = "Enter a department"
);

text_value!(
    /// The workspace's address in URLs (`/w/{slug}/…`): lower-case ASCII letters, digits
    /// and single hyphens, at most 40, neither starting nor ending with a hyphen.
    Slug
);

impl Slug {
    pub const MAX_CHARS: usize = 40;
    const RULE: &'static str =
        "Use lower-case letters, digits and single hyphens (at most 40), like acme-corp";

    /// What a person typed: trimmed and lower-cased, then held to the rule.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let slug = line(input)?.to_lowercase();
        if Self::is_valid(&slug) {
            Ok(Slug(slug))
        } else {
            Err(Invalid::new(Self::RULE))
        }
    }

    /// A slug exactly as it appears in a URL (no trimming or case folding).
    pub fn is_valid(slug: &str) -> bool {
        !slug.is_empty()
            && slug.len() <= Self::MAX_CHARS
            && slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && !slug.ends_with('-')
    }

    /// A slug made from a name (`"Acme Corp."` → `acme-corp`); `workspace` when nothing
    /// of the name is ASCII.
    pub fn from_name(name: &str) -> Self {
        let mut slug = String::new();
        for ch in name.trim().to_lowercase().chars() {
            if ch.is_ascii_alphanumeric() {
                slug.push(ch);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug: String = slug
            .trim_end_matches('-')
            .chars()
            .take(Self::MAX_CHARS)
            .collect();
        let slug = slug.trim_end_matches('-');
        Slug(if slug.is_empty() {
            "workspace".into()
        } else {
            slug.to_string()
        })
    }
}

text_value!(
    /// A member's or an invitation's metadata: a JSON object of at most 4 KiB, stored in
    /// its compact form. Its strings are held to the text rules after decoding, since
    /// `"\u0000"` or `"\u202e"` decode to what the raw text may not contain.
    Metadata
);

impl Metadata {
    pub const MAX_BYTES: usize = 4096;
    const RULE: &'static str = "Metadata must be a JSON object, like {\"team\": \"north\"}";

    /// Empty input is the empty object.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let input = input.trim();
        if input.is_empty() {
            return Ok(Metadata("{}".into()));
        }
        if input.len() > Self::MAX_BYTES {
            return Err(Invalid::new("Metadata is limited to 4 KiB"));
        }
        text::multi_line(input)?;
        match serde_json::from_str::<serde_json::Value>(input) {
            Ok(value @ serde_json::Value::Object(_)) => {
                json_text_ok(&value).map_err(|e| Invalid::new(format!("In a JSON string: {e}")))?;
                Ok(Metadata(value.to_string()))
            }
            Ok(_) => Err(Invalid::new(Self::RULE)),
            // Where, in words; not the parser's own message ("expected ident at …").
            Err(e) => Err(Invalid::new(format!(
                "{} (this is not valid JSON: check the quotes, colons and commas near line {}, character {})",
                Self::RULE,
                e.line(),
                e.column()
            ))),
        }
    }
}

fn json_text_ok(value: &serde_json::Value) -> Result<(), text::TextError> {
    match value {
        serde_json::Value::String(s) => text::multi_line(s).map(drop),
        serde_json::Value::Array(items) => items.iter().try_for_each(json_text_ok),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            text::single_line(k)?;
            json_text_ok(v)
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_share_one_rule_and_their_own_limit() {
        assert_eq!(
            PersonName::parse("  Ada  ").map(|n| n.into_inner()),
            Ok("Ada".into())
        );
        assert!(PersonName::parse(" ").is_err());
        assert!(PersonName::parse("Ada\u{0}").is_err());
        assert!(PersonName::parse(&"a".repeat(100)).is_ok());
        assert!(PersonName::parse(&"a".repeat(101)).is_err());
        // One limit for a workspace's name: what setup accepts, Settings saves again.
        assert!(WorkspaceName::parse(&"w".repeat(100)).is_ok());
        assert!(RoleName::parse(&"r".repeat(61)).is_err());
        assert_eq!(PersonName::parse_optional(""), Ok(None));
        assert_eq!(Department::parse_optional("  "), Ok(None));
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(Slug::from_name("Acme Corp.").as_str(), "acme-corp");
        assert_eq!(Slug::from_name("Ünïcode").as_str(), "n-code");
        assert_eq!(Slug::from_name("日本").as_str(), "workspace");
        assert_eq!(
            Slug::parse(" Acme-Corp ").map(Slug::into_inner),
            Ok("acme-corp".into())
        );
        for bad in ["", "-a", "a-", "a b", "ä", &"a".repeat(41)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata_is_a_small_json_object_of_readable_text() {
        assert_eq!(
            Metadata::parse("").map(Metadata::into_inner),
            Ok("{}".into())
        );
        assert_eq!(
            Metadata::parse("{ \"team\" : \"north\" }").map(Metadata::into_inner),
            Ok("{\"team\":\"north\"}".into())
        );
        assert!(Metadata::parse("[1]").is_err());
        assert_eq!(
            Metadata::parse("{\"team\": north}").err().map(|e| e.to_string()),
            Some("Metadata must be a JSON object, like {\"team\": \"north\"} (this is not valid JSON: check the quotes, colons and commas near line 1, character 11)".into())
        );
        assert!(Metadata::parse("{\"a\": \"\\u202e\"}").is_err());
        assert!(Metadata::parse(&format!("{{\"a\":\"{}\"}}", "x".repeat(4100))).is_err());
    }
}
