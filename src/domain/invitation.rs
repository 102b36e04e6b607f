//! An invitation's typed values: the list of addresses it goes to and its personal message.

use super::{validation, Invalid, PersonName};
use crate::text;

/// The addresses typed into the invite form, as mail clients write them: bare
/// (`ada@example.com`) or with the person's name (`Ada Lovelace <ada.lovelace@mail.example>`,
/// `"Lovelace, Ada" <ada@example.com>`), separated by commas, semicolons, new lines or (for
/// bare addresses) spaces. Readable text, 1 to 500 entries. Each entry is kept as typed,
/// since each one gets its own verdict in the review (an entry that is not an address is a
/// review line, not a refusal of the field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressList(Vec<AddressEntry>);

/// One entry of an [`AddressList`]: the text typed for it, the address part and the name
/// written with it, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressEntry {
    typed: String,
    address: String,
    name: Option<String>,
    problem: Option<&'static str>,
}

impl AddressEntry {
    fn bare(typed: &str) -> Self {
        AddressEntry {
            typed: typed.to_string(),
            address: typed.to_string(),
            name: None,
            problem: None,
        }
    }

    /// The entry as typed (with its name, quotes and brackets).
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// The address part, to be parsed as an `EmailAddress`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The name written with the address, as a person would read it (quotes removed).
    pub fn written_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// What is wrong with how the entry is written (an unclosed quote or bracket).
    pub fn problem(&self) -> Option<&'static str> {
        self.problem
    }

    /// The name written with the address, under the rule of every person's name.
    pub fn name(&self) -> Result<Option<PersonName>, Invalid> {
        match &self.name {
            None => Ok(None),
            Some(name) => PersonName::parse_optional(name),
        }
    }
}

/// A piece of the typed text: a word (quoted or not), an `<address>`, or a separator.
#[derive(Debug)]
enum Token {
    Word {
        start: usize,
        end: usize,
        text: String,
        quoted: bool,
        closed: bool,
    },
    Angle {
        start: usize,
        end: usize,
        text: String,
        closed: bool,
    },
    Separator,
}

/// Splits the text into words, quoted strings, `<…>` and separators. A quoted string runs
/// to its closing quote (commas inside it belong to the name) or to the end of the line;
/// `<` runs to `>` or to the next separator.
fn tokens(input: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            ',' | ';' | '\n' => {
                chars.next();
                out.push(Token::Separator);
            }
            c if c.is_whitespace() => {
                chars.next();
            }
            '"' => {
                chars.next();
                let (mut text, mut closed, mut end) = (String::new(), false, input.len());
                loop {
                    match chars.peek() {
                        None => break,
                        Some(&(i, '\n')) => {
                            end = i;
                            break;
                        }
                        Some(_) => {}
                    }
                    let Some((i, c)) = chars.next() else { break };
                    match c {
                        '"' => {
                            (closed, end) = (true, i + 1);
                            break;
                        }
                        '\\' => {
                            if let Some((_, next)) = chars.next_if(|&(_, n)| n != '\n') {
                                text.push(next);
                            }
                        }
                        c => text.push(c),
                    }
                }
                out.push(Token::Word {
                    start,
                    end,
                    text,
                    quoted: true,
                    closed,
                });
            }
            '<' => {
                chars.next();
                let (mut text, mut closed, mut end) = (String::new(), false, input.len());
                while let Some(&(i, c)) = chars.peek() {
                    if matches!(c, ',' | ';' | '\n') {
                        end = i;
                        break;
                    }
                    chars.next();
                    if c == '>' {
                        (closed, end) = (true, i + 1);
                        break;
                    }
                    text.push(c);
                }
                out.push(Token::Angle {
                    start,
                    end,
                    text: text.trim().to_string(),
                    closed,
                });
            }
            _ => {
                let mut end = input.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, ',' | ';' | '"' | '<') {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                out.push(Token::Word {
                    start,
                    end,
                    text: input[start..end].to_string(),
                    quoted: false,
                    closed: true,
                });
            }
        }
    }
    out
}

/// The entries of the typed text: a name's words followed by `<address>` make one entry;
/// any other word is an entry of its own (a bare address, or something the review calls
/// invalid).
fn entries(input: &str) -> Vec<AddressEntry> {
    let mut entries = Vec::new();
    // The words since the last entry: a name, if an `<address>` follows.
    let mut pending: Vec<Token> = Vec::new();
    let flush = |pending: &mut Vec<Token>, entries: &mut Vec<AddressEntry>| {
        for token in pending.drain(..) {
            if let Token::Word {
                start, end, closed, ..
            } = token
            {
                let mut entry = AddressEntry::bare(input[start..end].trim());
                if !closed {
                    entry.problem = Some("A quotation mark is not closed");
                }
                entries.push(entry);
            }
        }
    };
    for token in tokens(input) {
        match token {
            Token::Separator => flush(&mut pending, &mut entries),
            Token::Word {
                quoted: false,
                ref text,
                ..
            } if text.contains('@') => {
                flush(&mut pending, &mut entries);
                pending.push(token);
                flush(&mut pending, &mut entries);
            }
            Token::Word { .. } => pending.push(token),
            Token::Angle {
                start,
                end,
                text,
                closed,
            } => {
                let unclosed_quote = pending
                    .iter()
                    .any(|t| matches!(t, Token::Word { closed: false, .. }));
                let from = match pending.first() {
                    Some(Token::Word { start, .. }) => *start,
                    _ => start,
                };
                let words: Vec<String> = pending
                    .drain(..)
                    .filter_map(|t| match t {
                        Token::Word { text, .. } => Some(text),
                        _ => None,
                    })
                    .collect();
                let name = words.join(" ");
                let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
                entries.push(AddressEntry {
                    typed: input[from..end].trim().to_string(),
                    address: text,
                    name: (!name.is_empty()).then_some(name),
                    problem: if unclosed_quote {
                        Some("A quotation mark is not closed")
                    } else {
                        (!closed).then_some("A < is not closed with >")
                    },
                });
            }
        }
    }
    flush(&mut pending, &mut entries);
    entries
}

impl AddressList {
    /// Most addresses one submit may carry (SPEC §4.13).
    pub const MAX_ENTRIES: usize = 500;

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let input = text::multi_line(input)?;
        let entries = entries(&input.replace('\t', " "));
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

    /// The entries, in the order typed.
    pub fn entries(&self) -> &[AddressEntry] {
        &self.0
    }

    /// How many entries were typed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The form's single name field goes with exactly one address, one without a name of
    /// its own; several people's names are written with their addresses.
    pub fn name_field(&self, name: Option<&PersonName>) -> Result<(), Invalid> {
        let Some(name) = name else { return Ok(()) };
        match self.0.as_slice() {
            [only] => match only.written_name() {
                Some(written) if written != name.as_str() => Err(Invalid::new(format!(
                    "The address already carries the name {written}: leave this empty, or remove the name from the address"
                ))),
                _ => Ok(()),
            },
            _ => Err(Invalid::new(
                "Name is for a single address. For several people, write each name with its address, like Ada Lovelace <ada.lovelace@mail.example>",
            )),
        }
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

    fn typed(list: &AddressList) -> Vec<&str> {
        list.entries().iter().map(AddressEntry::typed).collect()
    }

    #[test]
    fn an_address_list_has_one_to_five_hundred_entries() {
        let list =
            AddressList::parse("a@x.example, b@x.example;c@x.example\r\n d").expect("parses");
        assert_eq!(
            typed(&list),
            ["a@x.example", "b@x.example", "c@x.example", "d"]
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
    fn each_address_may_carry_its_name_as_mail_clients_write_it() {
        let list = AddressList::parse(
            "Ada Lovelace <ada@example.com>, \"Lovelace, Ada\" <ada2@example.com>\n\
             bob@example.com <carl@example.com>; \"Dee \\\"D\\\" Dee\" <dee@example.com> erin@example.com",
        )
        .expect("parses");
        let seen: Vec<(&str, Option<&str>, &str)> = list
            .entries()
            .iter()
            .map(|e| (e.address(), e.written_name(), e.typed()))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "ada@example.com",
                    Some("Ada Lovelace"),
                    "Ada Lovelace <ada@example.com>"
                ),
                (
                    "ada2@example.com",
                    Some("Lovelace, Ada"),
                    "\"Lovelace, Ada\" <ada2@example.com>"
                ),
                ("bob@example.com", None, "bob@example.com"),
                ("carl@example.com", None, "<carl@example.com>"),
                (
                    "dee@example.com",
                    Some("Dee \"D\" Dee"),
                    "\"Dee \\\"D\\\" Dee\" <dee@example.com>"
                ),
                ("erin@example.com", None, "erin@example.com"),
            ]
        );
        // What the review re-posts (the entries as typed, one a line) reads the same.
        let again = AddressList::parse(&typed(&list).join("\n")).expect("parses");
        assert_eq!(again, list);
        let broken =
            AddressList::parse("\"Ada <ada@example.com>\nBob <bob@example.com, c@example.com")
                .expect("parses");
        let problems: Vec<Option<&str>> =
            broken.entries().iter().map(AddressEntry::problem).collect();
        assert_eq!(
            problems,
            [
                Some("A quotation mark is not closed"),
                Some("A < is not closed with >"),
                None
            ]
        );
        let long = format!("{} <a@example.com>", "n".repeat(101));
        let list = AddressList::parse(&long).expect("parses");
        assert!(list.entries()[0].name().is_err());
        assert_eq!(list.entries()[0].address(), "a@example.com");
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
