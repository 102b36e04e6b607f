//! `EmailAddress::parse`: the one place an address is validated and canonicalised
//! (trimmed, lower-cased, domain in punycode). Everything stores and compares the canonical form.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    /// What the person typed, trimmed (shown back to them).
    display: String,
    /// Lower-cased local part @ lower-cased ASCII (punycode) domain; unique in the database.
    canonical: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailError {
    Empty,
    TooLong,
    NoAt,
    BadLocalPart,
    BadDomain,
    ControlCharacters,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmailError::Empty => "Enter an email address",
            EmailError::TooLong => "That address is too long",
            EmailError::NoAt => "An email address needs an @, like name@example.com",
            EmailError::BadLocalPart => "The part before the @ is not valid",
            EmailError::BadDomain => "The part after the @ is not a valid domain",
            EmailError::ControlCharacters => {
                "An email address cannot contain line breaks, control or invisible characters"
            }
        })
    }
}

/// A domain name in canonical form: lower-case ASCII (IDNA / punycode), at least two
/// labels, a top-level label with a letter. Used for addresses and for claimed domains.
pub fn canonical_domain(input: &str) -> Result<String, EmailError> {
    let input = input.trim().trim_start_matches('@').trim_end_matches('.');
    if crate::text::single_line(input).is_err() {
        return Err(EmailError::ControlCharacters);
    }
    ascii_domain(input)
}

/// The domain part exactly as given, validated and converted to lower-case ASCII.
fn ascii_domain(input: &str) -> Result<String, EmailError> {
    let ascii_domain = idna::domain_to_ascii(input).map_err(|_| EmailError::BadDomain)?;
    let labels: Vec<&str> = ascii_domain.split('.').collect();
    let valid_domain = ascii_domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
    if !valid_domain {
        return Err(EmailError::BadDomain);
    }
    Ok(ascii_domain)
}

impl EmailAddress {
    /// For `#[validate(custom(function = "EmailAddress::validate"))]`: the rule of `parse`.
    pub fn validate(input: &str) -> Result<(), validator::ValidationError> {
        Self::parse(input).map(drop).map_err(|e| {
            validator::ValidationError::new("email").with_message(e.to_string().into())
        })
    }

    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        // Checked before anything else: a CR/LF here could smuggle a mail header.
        if crate::text::single_line(trimmed).is_err() {
            return Err(EmailError::ControlCharacters);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.rsplit_once('@').ok_or(EmailError::NoAt)?;
        if local.is_empty()
            || local.len() > 64
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
            || !local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        {
            return Err(EmailError::BadLocalPart);
        }
        let ascii_domain = ascii_domain(domain)?;
        Ok(EmailAddress {
            display: trimmed.to_string(),
            canonical: format!("{}@{}", local.to_lowercase(), ascii_domain),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    pub fn canonical(&self) -> &str {
        &self.canonical
    }

    /// The ASCII domain of the canonical form.
    pub fn domain(&self) -> &str {
        self.canonical
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_trimmed_lowercased_and_punycoded() {
        let e = EmailAddress::parse("  Ana.Silva@Bücher.Example ").expect("valid");
        assert_eq!(e.as_str(), "Ana.Silva@Bücher.Example");
        assert_eq!(e.canonical(), "ana.silva@xn--bcher-kva.example");
    }

    #[test]
    fn header_injection_and_junk_are_refused() {
        assert_eq!(
            EmailAddress::parse("a@b.com\r\nBcc: x@y.com"),
            Err(EmailError::ControlCharacters)
        );
        assert_eq!(
            EmailAddress::parse("no-at.example.com"),
            Err(EmailError::NoAt)
        );
        assert_eq!(
            EmailAddress::parse("a@localhost"),
            Err(EmailError::BadDomain)
        );
        assert_eq!(
            EmailAddress::parse("a..b@example.com"),
            Err(EmailError::BadLocalPart)
        );
        assert_eq!(
            EmailAddress::parse("<a>@example.com"),
            Err(EmailError::BadLocalPart)
        );
        assert!(EmailAddress::parse("").is_err());
    }
}
