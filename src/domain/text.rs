//! Normalization and checks shared by every free-text field readers and the CMS send.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;
use validator::ValidationError;

/// Free text without control characters other than tab, newline and carriage return, as the
/// OpenAPI document publishes it for free-text fields (the code also normalizes and trims).
pub const PRINTABLE_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// Printable text with at least one character that is not white space, for required texts.
pub const NON_BLANK_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// A broken rule with a machine code and a sentence for people.
pub fn rule(code: &'static str, message: impl Into<Cow<'static, str>>) -> ValidationError {
    let mut error = ValidationError::new(code);
    error.message = Some(message.into());
    error
}

/// A well-formed BCP 47 language tag in its conventional case (`en-gb` → `en-GB`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageTag(String);

impl LanguageTag {
    pub const MAX_CHARS: usize = 35;
    /// RFC 5646 `langtag`: language, extlang, script, region, variants, extensions, private use.
    pub const PATTERN: &'static str = r"^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-[Xx](-[A-Za-z0-9]{1,8})+)?$";

    /// A machine field: checked as sent, never trimmed into validity.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        bcp47(raw)?;
        Ok(Self(canonical_language(raw)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

static BCP47: LazyLock<Regex> = LazyLock::new(|| {
    // The pattern is a constant checked by the unit tests below.
    Regex::new(LanguageTag::PATTERN).unwrap_or_else(|error| panic!("LanguageTag::PATTERN: {error}"))
});

/// Unifies line endings, composes to Unicode NFC and trims surrounding whitespace, so that limits
/// and comparisons count what a reader sees, not how their keyboard encoded it.
pub fn normalize(raw: &str) -> String {
    let unified = raw.replace("\r\n", "\n").replace('\r', "\n");
    unified.nfc().collect::<String>().trim().to_owned()
}

/// Normalizes an optional field; a value that is empty once trimmed counts as absent, because
/// forms send `""` for a field the reader left empty.
pub fn normalize_optional(raw: Option<&str>) -> Option<String> {
    raw.map(normalize).filter(|text| !text.is_empty())
}

/// A rule normalized text must keep, beyond its length and the absence of control characters.
pub type TextRule = fn(&str) -> Result<(), ValidationError>;

/// Normalizes required free text and checks it: 1 to `max_chars` characters, no control
/// characters, and every one of `rules`.
pub fn free_text(
    raw: &str,
    max_chars: usize,
    rules: &[TextRule],
) -> Result<String, ValidationError> {
    checked(normalize(raw), max_chars, rules)
}

/// Like `free_text` for an optional field; `None` when it is blank, since forms send `""` for a
/// field the reader left empty.
pub fn optional_free_text(
    raw: &str,
    max_chars: usize,
    rules: &[TextRule],
) -> Result<Option<String>, ValidationError> {
    normalize_optional(Some(raw))
        .map(|text| checked(text, max_chars, rules))
        .transpose()
}

fn checked(text: String, max_chars: usize, rules: &[TextRule]) -> Result<String, ValidationError> {
    char_length(&text, 1, max_chars)?;
    no_control_chars(&text)?;
    for rule in rules {
        rule(&text)?;
    }
    Ok(text)
}

/// Rejects control characters (Unicode category Cc) other than newline and tab: they have no
/// meaning in a review and are a classic way to smuggle terminal or log escapes.
pub fn no_control_chars(text: &str) -> Result<(), ValidationError> {
    match text
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        None => Ok(()),
        Some(c) => {
            let mut error = ValidationError::new("control_character");
            error.message = Some(
                format!(
                    "must not contain control characters (found U+{:04X})",
                    u32::from(c)
                )
                .into(),
            );
            Err(error)
        }
    }
}

/// Unicode's Default_Ignorable_Code_Point ranges (DerivedCoreProperties.txt): characters that
/// render as nothing (zero-width spaces and joiners, bidi controls, fillers, variation selectors,
/// tag characters).
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{034F}', '\u{034F}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'),
    ('\u{180B}', '\u{180F}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{FE00}', '\u{FE0F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'),
    ('\u{FFF0}', '\u{FFF8}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0000}', '\u{E0FFF}'),
];

fn is_default_ignorable(c: char) -> bool {
    DEFAULT_IGNORABLE
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
}

/// Whether a character shows as something on screen. U+2800 (Braille blank) is a printable
/// symbol that looks like a space, a favourite of "empty" spam.
pub fn is_visible(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !is_default_ignorable(c) && c != '\u{2800}'
}

/// Rejects text made only of characters that render as nothing, so that a review cannot be
/// "blank" in a way trimming does not see.
pub fn has_visible_char(text: &str) -> Result<(), ValidationError> {
    if text.chars().any(is_visible) {
        Ok(())
    } else {
        let mut error = ValidationError::new("blank");
        error.message = Some("must contain at least one visible character".into());
        Err(error)
    }
}

/// Rules for names shown to other readers: no invisible or direction-changing characters, which
/// exist in a name only to impersonate (`\u{202E}admin`, `ad\u{200B}min`). Joiners stay allowed
/// between two non-ASCII characters (Persian and Indic names, emoji sequences such as 👩‍💻), and
/// variation selectors after a character that is not an ASCII letter (❤️, 1️⃣).
pub fn display_name_chars(name: &str) -> Result<(), ValidationError> {
    let chars: Vec<char> = name.chars().collect();
    let refused = chars.iter().enumerate().find(|&(index, &c)| {
        if !is_default_ignorable(c) {
            return false;
        }
        let before = index.checked_sub(1).and_then(|i| chars.get(i)).copied();
        let after = chars.get(index + 1).copied();
        match c {
            '\u{200C}' | '\u{200D}' => {
                !(before.is_some_and(|b| !b.is_ascii()) && after.is_some_and(|a| !a.is_ascii()))
            }
            '\u{FE00}'..='\u{FE0F}' => before.is_none_or(|b| b.is_ascii_alphabetic()),
            _ => true,
        }
    });
    match refused {
        None => Ok(()),
        Some((_, c)) => {
            let mut error = ValidationError::new("format");
            error.message = Some(
                format!(
                    "must not contain invisible or text-direction characters (found U+{:04X})",
                    u32::from(*c)
                )
                .into(),
            );
            Err(error)
        }
    }
}

/// Accepts a well-formed BCP 47 language tag such as `uk`, `en-GB` or `sr-Latn-RS`, at most
/// `LanguageTag::MAX_CHARS` characters.
fn bcp47(tag: &str) -> Result<(), ValidationError> {
    if tag.len() <= LanguageTag::MAX_CHARS && BCP47.is_match(tag) {
        Ok(())
    } else {
        let mut error = ValidationError::new("format");
        error.message = Some("must be a BCP 47 language tag such as `uk` or `en-GB`".into());
        Err(error)
    }
}

/// Writes a valid tag in its conventional case (`en-gb` → `en-GB`) so filters match.
fn canonical_language(tag: &str) -> String {
    language_tags::LanguageTag::parse(tag)
        .ok()
        .and_then(|parsed| parsed.canonicalize().ok())
        .map(|canonical| canonical.to_string())
        .unwrap_or_else(|| tag.to_owned())
}

/// A length error whose message counts characters, as our limits do.
pub fn length_error(min: usize, max: usize, actual: usize) -> ValidationError {
    let mut error = ValidationError::new("length");
    error.message = Some(
        if actual < min {
            format!("must be at least {min} characters")
        } else {
            format!("must be at most {max} characters (got {actual})")
        }
        .into(),
    );
    error
}

/// A token a client chooses (an idempotency key, a voter token): `min` to `max` visible ASCII
/// characters, no spaces, taken as sent.
pub fn client_token(raw: &str, min: usize, max: usize) -> Result<String, ValidationError> {
    char_length(raw, min, max)?;
    if raw.chars().all(|c| c.is_ascii_graphic()) {
        Ok(raw.to_owned())
    } else {
        Err(rule(
            "format",
            "must be visible ASCII characters without spaces, such as a UUID",
        ))
    }
}

/// Checks a character-count range on already normalized text.
pub fn char_length(text: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let count = text.chars().count();
    if (min..=max).contains(&count) {
        Ok(())
    } else {
        Err(length_error(min, max, count))
    }
}

/// Text for HTML: the five characters that could open markup or end an attribute, escaped.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    use super::*;

    #[test]
    fn normalize_composes_and_trims() {
        // "e" + combining acute becomes the single precomposed "é".
        assert_eq!(normalize("  cafe\u{301}\r\n"), "caf\u{e9}");
        assert_eq!(normalize("a\r\nb\rc"), "a\nb\nc");
    }

    #[test]
    fn blank_optional_fields_are_absent() {
        assert_eq!(normalize_optional(Some(" \t\n ")), None);
        assert_eq!(normalize_optional(None), None);
        assert_eq!(normalize_optional(Some(" Олена ")), Some("Олена".into()));
    }

    #[test]
    fn control_characters_other_than_newline_and_tab_are_refused() {
        assert!(no_control_chars("line\nnext\tcol").is_ok());
        assert!(no_control_chars("abc\u{0}def").is_err());
        assert!(no_control_chars("bell\u{7}").is_err());
        assert!(no_control_chars("c1\u{85}").is_err());
        // Bidi overrides are format characters (Cf), legitimate in right-to-left text.
        assert!(no_control_chars("reversed \u{202e}").is_ok());
    }

    #[test]
    fn language_tags() {
        for good in [
            "uk",
            "en",
            "en-GB",
            "sr-Latn-RS",
            "zh-Hant",
            "es-419",
            "de-CH-1996",
            "en-x-private",
        ] {
            assert!(bcp47(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            " uk",
            "english",
            "en_GB",
            "123",
            "en-",
            "qt-Si-Ln-g",
            "a",
            &"en-".repeat(12),
        ] {
            assert!(bcp47(bad).is_err(), "{bad}");
        }
        assert_eq!(canonical_language("en-gb"), "en-GB");
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let cyrillic = "ї".repeat(10);
        assert_eq!(cyrillic.len(), 20);
        assert!(char_length(&cyrillic, 1, 10).is_ok());
        assert!(char_length(&cyrillic, 1, 9).is_err());
        assert!(char_length("", 1, 9).is_err());
    }

    #[test]
    fn invisible_only_text_is_blank() {
        for blank in [
            "\u{200B}\u{200B}",
            "\u{AD}",
            "\u{2800}\u{2800}",
            "\u{FEFF} \u{FEFF}",
            "\u{3164}",
        ] {
            assert!(has_visible_char(blank).is_err(), "{blank:?}");
        }
        for visible in ["a", "ї", "🙏", "\u{200B}x", "مقالة"] {
            assert!(has_visible_char(visible).is_ok(), "{visible:?}");
        }
    }

    #[test]
    fn names_refuse_invisible_and_direction_characters() {
        for bad in [
            "\u{202E}admin\u{202C}",
            "ad\u{200B}min",
            "\u{200F}Editor",
            "ad\u{200D}min",
            "admin\u{FE0F}",
            "\u{2066}x",
            "x\u{E0041}",
        ] {
            assert!(display_name_chars(bad).is_err(), "{bad:?}");
        }
        for good in [
            "Олена К.",
            "سارة",
            "דנה",
            "\u{645}\u{200C}\u{647}",
            "👩\u{200D}💻 Sam",
            "❤\u{FE0F} Ліна",
            "1\u{FE0F}\u{20E3}",
        ] {
            assert!(display_name_chars(good).is_ok(), "{good:?}");
        }
    }
}
