//! The one canonical check for submitted text (SPEC §4.13): every text field and query
//! parameter goes through [`single_line`] or [`multi_line`] before anything uses it.
//!
//! Refused everywhere: control characters (NUL and the rest; multi-line fields keep line
//! breaks and tabs), text-direction controls (U+202E turns "gnp.exe" into "exe.png" on
//! screen), invisible format characters such as zero-width spaces, noncharacters and
//! U+FFFD (what invalid UTF-8 or a lone surrogate decodes to). Zero-width joiners (U+200C,
//! U+200D) stay allowed between two visible characters: Persian, Indic scripts and emoji
//! sequences need them. We refuse rather than isolate with `<bdi>` because the same text
//! also reaches mail, JSON and the audit trail, where no markup can isolate it.

use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextError {
    Control,
    LineBreak,
    Direction,
    Invisible,
    Unreadable,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextError::Control => "This can't contain control characters (such as NUL)",
            TextError::LineBreak => "This must fit on one line",
            TextError::Direction => {
                "This can't contain text-direction characters: they can disguise what is shown"
            }
            TextError::Invisible => {
                "This can't contain invisible characters such as zero-width spaces"
            }
            TextError::Unreadable => {
                "This contains characters that could not be read: please type it again"
            }
        })
    }
}

/// One line of text: a name, an address, a search, a password.
pub fn single_line(value: &str) -> Result<&str, TextError> {
    check(value, false).map(|()| value)
}

/// Text that may span lines (a message, a reason, a list); line endings become `\n`.
pub fn multi_line(value: &str) -> Result<String, TextError> {
    let normalized = value.replace("\r\n", "\n").replace('\r', "\n");
    check(&normalized, true).map(|()| normalized)
}

/// [`single_line`] for `#[validate(custom(function = "crate::text::validate_line"))]`.
pub fn validate_line(value: &str) -> Result<(), validator::ValidationError> {
    single_line(value)
        .map(drop)
        .map_err(|e| validator::ValidationError::new("text").with_message(e.to_string().into()))
}

fn check(value: &str, multi: bool) -> Result<(), TextError> {
    let chars: Vec<char> = value.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\n' | '\t' if multi => {}
            '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => {
                return Err(if multi {
                    TextError::Control
                } else {
                    TextError::LineBreak
                });
            }
            '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => return Err(TextError::Direction),
            '\u{200c}' | '\u{200d}' => {
                let visible = |c: Option<&char>| c.is_some_and(|c| is_visible(*c));
                if !(i > 0 && visible(chars.get(i - 1)) && visible(chars.get(i + 1))) {
                    return Err(TextError::Invisible);
                }
            }
            // Tag characters spell subdivision flags (🏴 + tags); they follow a visible base.
            '\u{e0020}'..='\u{e007f}' => {}
            '\u{fffd}' | '\u{fdd0}'..='\u{fdef}' => return Err(TextError::Unreadable),
            c if (c as u32) & 0xfffe == 0xfffe => return Err(TextError::Unreadable),
            c => match c.general_category() {
                GeneralCategory::Control => return Err(TextError::Control),
                GeneralCategory::Format => return Err(TextError::Invisible),
                GeneralCategory::Surrogate | GeneralCategory::Unassigned => {
                    return Err(TextError::Unreadable)
                }
                _ => {}
            },
        }
    }
    Ok(())
}

fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c.general_category(),
            GeneralCategory::Control | GeneralCategory::Format
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_in_any_script_pass() {
        for name in [
            "Ada Lovelace",
            "Zoë O'Brien-Łukasiewicz",
            "山田 太郎",
            "مریم\u{200c}ها",
            "👩\u{200d}💻 Dev",
            "José 🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}",
        ] {
            assert_eq!(single_line(name), Ok(name), "{name:?}");
        }
    }

    #[test]
    fn control_direction_invisible_and_unreadable_characters_are_refused() {
        assert_eq!(single_line("a\u{0}b"), Err(TextError::Control));
        assert_eq!(single_line("a\u{7}b"), Err(TextError::Control));
        assert_eq!(single_line("a\nb"), Err(TextError::LineBreak));
        assert_eq!(
            single_line("Mem \u{202e}gnp.exe"),
            Err(TextError::Direction)
        );
        assert_eq!(single_line("\u{2067}x"), Err(TextError::Direction));
        assert_eq!(single_line("zero\u{200b}width"), Err(TextError::Invisible));
        assert_eq!(single_line("\u{feff}bom"), Err(TextError::Invisible));
        assert_eq!(single_line("\u{200d}"), Err(TextError::Invisible));
        assert_eq!(single_line("a \u{200c}b"), Err(TextError::Invisible));
        assert_eq!(single_line("bad \u{fffd}"), Err(TextError::Unreadable));
        assert_eq!(single_line("\u{ffff}"), Err(TextError::Unreadable));
    }

    #[test]
    fn multi_line_text_keeps_line_breaks_and_tabs_but_nothing_else() {
        assert_eq!(
            multi_line("one\r\ntwo\rthree\tfour"),
            Ok("one\ntwo\nthree\tfour".into())
        );
        assert_eq!(multi_line("a\u{0}"), Err(TextError::Control));
        assert_eq!(multi_line("a\u{2028}b"), Err(TextError::Control));
        assert_eq!(multi_line("a\u{202d}b"), Err(TextError::Direction));
    }
}
