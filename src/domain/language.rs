//! Guessing a review's language when the reader gave none.

use super::text::LanguageTag;

/// How much of a review detection reads: enough to be sure, and a bound on the work a
/// 10,000-character review costs on the request path.
const DETECTION_SAMPLE_CHARS: usize = 400;

/// Detects languages among all that whatlang knows (69), or only among the newsroom's
/// (`MARGINALIA_DETECT_LANGUAGES`): fewer candidates cost less per submission (the profile showed
/// detection at a fifth of the service's CPU for untagged reviews) and never guess a language
/// the newsroom does not publish in.
#[derive(Debug, Clone, Default)]
pub struct LanguageDetector {
    detector: whatlang::Detector,
}

impl LanguageDetector {
    /// Only among `languages` (ISO 639-1 codes such as `uk`); an empty list means all.
    pub fn among(languages: &[String]) -> Result<Self, String> {
        if languages.is_empty() {
            return Ok(Self::default());
        }
        let allowed = languages
            .iter()
            .map(|code| {
                isolang::Language::from_639_1(code.trim())
                    .and_then(|language| whatlang::Lang::from_code(language.to_639_3()))
                    .ok_or_else(|| {
                        format!(
                            "`{code}` is not an ISO 639-1 code of a language the detector knows"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            detector: whatlang::Detector::with_allowlist(allowed),
        })
    }

    /// The language of `text`, or `None` when the guess is unreliable (short texts, mixed
    /// scripts): a wrong tag would mislead filters more than no tag.
    pub fn detect(&self, text: &str) -> Option<LanguageTag> {
        let sample_end = text
            .char_indices()
            .nth(DETECTION_SAMPLE_CHARS)
            .map_or(text.len(), |(index, _)| index);
        let info = self.detector.detect(&text[..sample_end])?;
        if !info.is_reliable() {
            return None;
        }
        isolang::Language::from_639_3(info.lang().code())
            .and_then(|language| language.to_639_1())
            .and_then(|code| LanguageTag::parse(code).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UKRAINIAN: &str = "Стаття добре пояснює, чому ІДІЛ-Хорасан не можна вважати \
                             переможеним: цифри про кількість бойовиків вражають. Бракує лише \
                             карти та думки місцевих жителів.";

    fn detected(detector: &LanguageDetector, text: &str) -> Option<String> {
        detector.detect(text).map(|tag| tag.as_str().to_owned())
    }

    #[test]
    fn language_is_detected_only_when_reliable() {
        let any = LanguageDetector::default();
        assert_eq!(detected(&any, UKRAINIAN).as_deref(), Some("uk"));
        assert_eq!(detected(&any, "ok"), None);
        let long = format!("{UKRAINIAN} ").repeat(200);
        assert_eq!(
            detected(&any, &long).as_deref(),
            Some("uk"),
            "long texts are sampled"
        );
    }

    #[test]
    fn a_newsroom_s_languages_bound_the_guess() {
        let newsroom = LanguageDetector::among(&["uk".into(), "en".into()]).unwrap();
        assert_eq!(detected(&newsroom, UKRAINIAN).as_deref(), Some("uk"));
        let french = "Un article très clair et bien documenté sur la situation en Afghanistan. \
                      Les chiffres sur les combattants sont impressionnants, mais il manque une \
                      carte de la province et le témoignage des habitants de la région.";
        assert_eq!(
            detected(&LanguageDetector::default(), french).as_deref(),
            Some("fr")
        );
        assert_ne!(detected(&newsroom, french).as_deref(), Some("fr"));
        assert!(LanguageDetector::among(&["xx".into()]).is_err());
        assert!(LanguageDetector::among(&[]).is_ok());
    }
}
