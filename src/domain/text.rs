//! Normalization and checks shared by every free-text field readers and the CMS send.

use std::sync::LazyLock;

use regex::Regex;
use unicode_normalization::UnicodeNormalization;
use validator::ValidationError;

/// Well-formed BCP 47 language tags (RFC 5646 `langtag`: language, extlang, script, region,
/// variants, extensions, private use). The OpenAPI document publishes this same pattern.
pub const BCP47_PATTERN: &str = r"^[A-Za-z]{2,3}(-[A-Za-z]{3}){0,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*(-[0-9A-WY-Za-wy-z](-[A-Za-z0-9]{2,8})+)*(-[Xx](-[A-Za-z0-9]{1,8})+)?$";
pub const LANGUAGE_MAX: usize = 35;

static BCP47: LazyLock<Regex> = LazyLock::new(|| {
    // The pattern is a constant checked by the unit tests below.
    Regex::new(BCP47_PATTERN).unwrap_or_else(|error| panic!("BCP47_PATTERN: {error}"))
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

/// Accepts a well-formed BCP 47 language tag such as `uk`, `en-GB` or `sr-Latn-RS`, at most
/// 35 characters.
pub fn bcp47(tag: &str) -> Result<(), ValidationError> {
    if tag.len() <= LANGUAGE_MAX && BCP47.is_match(tag) {
        Ok(())
    } else {
        let mut error = ValidationError::new("format");
        error.message = Some("must be a BCP 47 language tag such as `uk` or `en-GB`".into());
        Err(error)
    }
}

/// Writes a valid tag in its conventional case (`en-gb` → `en-GB`) so filters match.
pub fn canonical_language(tag: &str) -> String {
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

/// Checks a character-count range on already normalized text.
pub fn char_length(text: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let count = text.chars().count();
    if (min..=max).contains(&count) {
        Ok(())
    } else {
        Err(length_error(min, max, count))
    }
}

#[cfg(test)]
mod tests {
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
}
