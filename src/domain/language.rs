//! Guessing a review's language when the reader gave none.
//!
//! Reader reviews are short (a median of about eight words), where trigram statistics alone are
//! unsure: whatlang called "The map was really helpful, and the timeline at the end too."
//! unreliable. So three kinds of evidence are weighed, among the site's languages only (see the
//! README's design note for the measurements behind the choice):
//! - letters that only one of the candidate languages uses (Ukrainian і ї є ґ, Russian ы э ъ ё,
//!   German ß, Polish ł ą ę…);
//! - the commonest function words of each language ("the", "що", "что", "und"…), a few dozen
//!   each, counted only where they tell the candidates apart;
//! - whatlang's trigram guess, weighted by its confidence.
//!
//! When the evidence is not clear, the guess is a short list of languages the text fits; the
//! article's language settles it if it is one of them (`settle`), since readers mostly answer in
//! the language they read.

use std::collections::HashMap;

use whatlang::{Lang, Script};

use super::text::LanguageTag;

/// How much of a review detection reads: enough to be sure, and a bound on the work a
/// 10,000-character review costs on the request path.
const DETECTION_SAMPLE_CHARS: usize = 400;

/// How far ahead of the runner-up the best language must score to be taken without context: half
/// a distinctive word or letter, or whatlang at confidence 0.5.
const DECISIVE_MARGIN: f64 = 1.0;
/// A letter only one candidate uses is strong evidence, though one typo can plant it.
const LETTER_WEIGHT: f64 = 2.0;
/// A distinctive function word outweighs whatlang's guess at confidence below one half: on a few
/// words, "спасибо" says more than trigram statistics.
const WORD_WEIGHT: f64 = 2.0;
/// whatlang's guess scores `TRIGRAM_WEIGHT × confidence` (confidence is 0 to 1).
const TRIGRAM_WEIGHT: f64 = 2.0;

/// Letters that single out a language within its script (lower case). A letter counts only when
/// no other candidate of the site lists it, so `і` tells Ukrainian from Russian but not from
/// Belarusian.
const LETTERS: &[(Lang, &str)] = &[
    (Lang::Ukr, "ієїґ"),
    (Lang::Rus, "ыэъё"),
    (Lang::Bel, "іўыэё"),
    (Lang::Bul, "ъѝ"),
    (Lang::Srp, "ђјљњћџ"),
    (Lang::Mkd, "ѓќѕјљњџ"),
    (Lang::Deu, "ßäöü"),
    (Lang::Pol, "ąćęłńóśźż"),
    (Lang::Spa, "ñ¿¡áéíóúü"),
    (Lang::Fra, "çéèêëàâîïôûùœÿ"),
    (Lang::Por, "ãõçáâàéêíóôú"),
    (Lang::Ita, "àèéìòù"),
    (Lang::Ces, "ěščřžýáíéůúťďň"),
    (Lang::Slk, "äčďľĺňôŕšťýž"),
    (Lang::Ron, "ăâîșțşţ"),
    (Lang::Hun, "őűáéíóöúü"),
    (Lang::Tur, "ğışçöü"),
    (Lang::Nld, "ĳ"),
    (Lang::Swe, "åäö"),
    (Lang::Dan, "æøå"),
    (Lang::Nob, "æøå"),
    (Lang::Fin, "äö"),
    (Lang::Lit, "ąčęėįšųūž"),
    (Lang::Lav, "āčēģīķļņšūž"),
    (Lang::Est, "äöõüšž"),
    (Lang::Hrv, "čćđšž"),
    (Lang::Slv, "čšž"),
    (Lang::Pes, "پچژگک"),
    (Lang::Urd, "ٹڈڑںےھ"),
];

/// The commonest function words, the kind every review has whatever its topic (lower case). A
/// word counts only for the one candidate that lists it.
const WORDS: &[(Lang, &str)] = &[
    (
        Lang::Eng,
        "the and of to is was it this that for with on are not but very you i my be have \
         has had at too would could should what more about from they there so just really \
         thanks thank well good great a an in as by we our if or which its were been will",
    ),
    (
        Lang::Ukr,
        "і й та що це як але дуже дякую щоб чи його її їх ми ви вони було була були є бути \
         також тому коли де який яка які лише навіть більше статтю стаття статті цю цей усе \
         все ще вже теж можна треба",
    ),
    (
        Lang::Rus,
        "и что это как но очень спасибо чтобы ли его её их мы вы они было была были \
         есть быть также потому когда где какой какая какие только даже больше статью статья \
         статьи эту этот всё все ещё уже тоже можно нужно",
    ),
    (
        Lang::Deu,
        "der die das und ist nicht ein eine zu mit auf für ich sie es den dem sehr auch \
         aber wie war danke bitte noch nur wenn dass",
    ),
    (
        Lang::Fra,
        "le la les et est un une des du de pas pour que qui dans sur avec très mais je il \
         elle ce cette merci aussi plus au",
    ),
    (
        Lang::Spa,
        "el la los las y es un una del de no para que en con muy pero por gracias esta este \
         también más lo se al",
    ),
    (
        Lang::Pol,
        "i w na nie jest to że się z do jak ale bardzo dziękuję tak za co ten ta czy tylko \
         już też być",
    ),
    (
        Lang::Ita,
        "il la le e è un una di che non per con sono molto ma grazie anche questo questa \
         della del nel",
    ),
    (
        Lang::Por,
        "o a os as e é um uma de que não para com muito mas obrigado obrigada também isso \
         este esta do da no na",
    ),
    (
        Lang::Nld,
        "de het een en is niet van op voor met ik zijn maar heel bedankt ook dit dat wel",
    ),
];

/// What detection made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guess {
    /// The evidence points at one language.
    Sure(LanguageTag),
    /// The text fits any of these languages and the evidence does not choose (short or
    /// formulaic texts: "Super!", "Так тримати").
    Undecided(Vec<LanguageTag>),
    /// No letters, or none of the site's languages is written in the text's script.
    Unknown,
}

impl Guess {
    pub fn sure(self) -> Option<LanguageTag> {
        match self {
            Self::Sure(tag) => Some(tag),
            Self::Undecided(_) | Self::Unknown => None,
        }
    }
}

/// Detects languages among all that whatlang knows (69), or only among the site's
/// (`MARGINALIA_DETECT_LANGUAGES`): fewer candidates are both cheaper per submission and surer,
/// and detection never guesses a language the newsroom does not publish in.
#[derive(Debug, Clone)]
pub struct LanguageDetector {
    detector: whatlang::Detector,
    /// `None`: every language whatlang knows.
    allowed: Option<Vec<Lang>>,
    /// Letters and words that single out one allowed language.
    letters: HashMap<char, Lang>,
    words: HashMap<&'static str, Lang>,
    /// Each allowed language's ISO 639-1 tag, made once rather than per review.
    tags: HashMap<Lang, LanguageTag>,
}

impl Default for LanguageDetector {
    fn default() -> Self {
        Self::with(whatlang::Detector::new(), None)
    }
}

/// ISO 639-1 names macrolanguages (`fa`, `zh`); the detector knows their most used member
/// (Iranian Persian, Mandarin): (macrolanguage, member), in ISO 639-3.
const MACROLANGUAGE_MEMBERS: [(&str, &str); 2] = [("fas", "pes"), ("zho", "cmn")];

/// The detector's language for an ISO 639-3 code.
fn detected_as(code: &str) -> Option<Lang> {
    let member = MACROLANGUAGE_MEMBERS
        .iter()
        .find(|(macrolanguage, _)| *macrolanguage == code)
        .map_or(code, |(_, member)| member);
    Lang::from_code(member)
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
                    .and_then(|language| detected_as(language.to_639_3()))
                    .ok_or_else(|| {
                        format!(
                            "`{code}` is not an ISO 639-1 code of a language the detector knows"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::with(
            whatlang::Detector::with_allowlist(allowed.clone()),
            Some(allowed),
        ))
    }

    fn with(detector: whatlang::Detector, allowed: Option<Vec<Lang>>) -> Self {
        let is_allowed = |lang: &Lang| allowed.as_ref().is_none_or(|list| list.contains(lang));
        let letters = exclusive(
            LETTERS
                .iter()
                .filter(|(lang, _)| is_allowed(lang))
                .flat_map(|(lang, letters)| letters.chars().map(move |letter| (letter, *lang))),
        );
        let words = exclusive(
            WORDS
                .iter()
                .filter(|(lang, _)| is_allowed(lang))
                .flat_map(|(lang, words)| words.split_whitespace().map(move |word| (word, *lang))),
        );
        let tags = Lang::all()
            .iter()
            .filter(|lang| is_allowed(lang))
            .filter_map(|lang| tag(*lang).map(|tag| (*lang, tag)))
            .collect();
        Self {
            detector,
            allowed,
            letters,
            words,
            tags,
        }
    }

    /// The language of `text` when the evidence is clear, else `None`: a wrong tag would mislead
    /// filters more than no tag.
    pub fn detect(&self, text: &str) -> Option<LanguageTag> {
        self.guess(text).sure()
    }

    /// The language of `text`, using the language of the article it is about to settle a short
    /// or formulaic text the evidence alone does not decide.
    pub fn detect_in_context(
        &self,
        text: &str,
        article_language: Option<&LanguageTag>,
    ) -> Option<LanguageTag> {
        settle(self.guess(text), article_language)
    }

    /// What the evidence says about `text`.
    pub fn guess(&self, text: &str) -> Guess {
        let sample_end = text
            .char_indices()
            .nth(DETECTION_SAMPLE_CHARS)
            .map_or(text.len(), |(index, _)| index);
        let sample = &text[..sample_end];
        let Some(script) = whatlang::detect_script(sample) else {
            return Guess::Unknown;
        };
        let candidates: Vec<Lang> = script
            .langs()
            .iter()
            .copied()
            .filter(|lang| self.is_allowed(*lang))
            .collect();
        if let Some(decided) = self.decided_by_script(script, &candidates, sample) {
            return decided;
        }
        let mut scores: Vec<(Lang, f64)> = candidates.iter().map(|lang| (*lang, 0.0)).collect();
        let add = |scores: &mut Vec<(Lang, f64)>, lang: Lang, points: f64| {
            if let Some((_, score)) = scores.iter_mut().find(|(each, _)| *each == lang) {
                *score += points;
            }
        };
        let lower = sample.to_lowercase();
        let mut lettered: Vec<Lang> = Vec::new();
        // Every telling letter is outside ASCII.
        for letter in lower.chars().filter(|c| !c.is_ascii()) {
            if let Some(lang) = self.letters.get(&letter) {
                if !lettered.contains(lang) {
                    lettered.push(*lang);
                    add(&mut scores, *lang, LETTER_WEIGHT);
                }
            }
        }
        for word in lower.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’') {
            if let Some(lang) = self.words.get(word) {
                add(&mut scores, *lang, WORD_WEIGHT);
            }
        }
        // Trigram statistics cost most of detection's time; they are skipped when letters and
        // words lead by more than whatlang's full weight could close, which decides the same.
        let (best, runner_up) = top_two(&scores);
        if best - runner_up < DECISIVE_MARGIN + TRIGRAM_WEIGHT {
            if let Some(info) = self.detector.detect(sample) {
                add(&mut scores, info.lang(), TRIGRAM_WEIGHT * info.confidence());
            }
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (best, runner_up) = top_two(&scores);
        if best - runner_up >= DECISIVE_MARGIN {
            return scores
                .first()
                .and_then(|(lang, _)| self.tag(*lang))
                .map_or(Guess::Unknown, Guess::Sure);
        }
        // Languages the text fits: close to the best, and with some evidence for them when there
        // is any (the article's language must not win against the only language with evidence).
        Guess::Undecided(
            scores
                .iter()
                .filter(|(_, score)| {
                    best - score < DECISIVE_MARGIN && (*score > 0.0 || best == 0.0)
                })
                .filter_map(|(lang, _)| self.tag(*lang))
                .collect(),
        )
    }

    /// What the script alone decides, with whatlang's help where it must: kana and Han, a script
    /// with one candidate, a script with none. `None`: the candidates' evidence must be weighed.
    fn decided_by_script(
        &self,
        script: Script,
        candidates: &[Lang],
        sample: &str,
    ) -> Option<Guess> {
        // Kana and Han (Chinese, or Japanese by its kana) are whatlang's to decide.
        let kana_or_han = matches!(
            script,
            Script::Hiragana | Script::Katakana | Script::Mandarin
        );
        if let [only] = candidates {
            if !kana_or_han {
                // The only candidate in this script (a script of one language, such as Greek, or
                // the site's only language in it) is the answer, unless a look among all
                // languages names another one reliably: a French review on a uk/en site is not
                // English, and no tag beats a wrong one. One trigram pass decides both.
                if whatlang::detect(sample)
                    .is_some_and(|open| open.is_reliable() && open.lang() != *only)
                {
                    return Some(Guess::Unknown);
                }
                return Some(self.tag(*only).map_or(Guess::Unknown, Guess::Sure));
            }
        }
        // No allowed language writes this script (the bounded detector finds none), or kana/Han.
        if candidates.len() <= 1 || kana_or_han {
            return Some(
                self.detector
                    .detect(sample)
                    .and_then(|info| self.tag(info.lang()))
                    .map_or(Guess::Unknown, Guess::Sure),
            );
        }
        None
    }

    fn tag(&self, lang: Lang) -> Option<LanguageTag> {
        self.tags.get(&lang).cloned()
    }

    fn is_allowed(&self, lang: Lang) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|list| list.contains(&lang))
    }
}

/// The best score and the runner-up's.
fn top_two(scores: &[(Lang, f64)]) -> (f64, f64) {
    scores
        .iter()
        .fold((0.0, 0.0), |(best, second), &(_, score)| {
            if score > best {
                (score, best)
            } else if score > second {
                (best, score)
            } else {
                (best, second)
            }
        })
}

/// The guess, or the article's language when the guess is undecided between it and others.
pub fn settle(guess: Guess, article_language: Option<&LanguageTag>) -> Option<LanguageTag> {
    match guess {
        Guess::Sure(tag) => Some(tag),
        Guess::Undecided(fits) => article_language
            .filter(|article| fits.iter().any(|fit| fit.as_str() == primary(article)))
            .cloned(),
        Guess::Unknown => None,
    }
}

/// `en` of `en-GB`.
fn primary(tag: &LanguageTag) -> &str {
    tag.as_str().split('-').next().unwrap_or_default()
}

/// Keeps each key listed by exactly one language.
fn exclusive<K: std::hash::Hash + Eq>(pairs: impl Iterator<Item = (K, Lang)>) -> HashMap<K, Lang> {
    let mut seen: HashMap<K, Option<Lang>> = HashMap::new();
    for (key, lang) in pairs {
        seen.entry(key)
            .and_modify(|owner| {
                if *owner != Some(lang) {
                    *owner = None;
                }
            })
            .or_insert(Some(lang));
    }
    seen.into_iter()
        .filter_map(|(key, owner)| owner.map(|lang| (key, lang)))
        .collect()
}

/// The ISO 639-1 tag of a whatlang language, when it has one.
fn tag(lang: Lang) -> Option<LanguageTag> {
    let code = MACROLANGUAGE_MEMBERS
        .iter()
        .find(|(_, member)| *member == lang.code())
        .map_or(lang.code(), |(macrolanguage, _)| macrolanguage);
    isolang::Language::from_639_3(code)
        .and_then(|language| language.to_639_1())
        .and_then(|code| LanguageTag::parse(code).ok())
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

    fn site(codes: &[&str]) -> LanguageDetector {
        let codes: Vec<String> = codes.iter().map(|code| (*code).to_owned()).collect();
        LanguageDetector::among(&codes).unwrap()
    }

    #[test]
    fn language_is_detected_only_when_the_evidence_is_clear() {
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
    fn short_reviews_are_recognized() {
        for detector in [LanguageDetector::default(), site(&["uk", "ru", "en"])] {
            let english = "The map was really helpful, and the timeline at the end too.";
            assert_eq!(detected(&detector, english).as_deref(), Some("en"));
            let ukrainian = "Дуже докладна стаття, дякую за роботу редакції.";
            assert_eq!(detected(&detector, ukrainian).as_deref(), Some("uk"));
            let russian = "Спасибо, очень подробная статья.";
            assert_eq!(detected(&detector, russian).as_deref(), Some("ru"));
        }
    }

    #[test]
    fn the_article_s_language_settles_only_what_the_text_leaves_open() {
        let newsroom = site(&["uk", "ru", "en"]);
        let uk = LanguageTag::parse("uk").unwrap();
        let en_gb = LanguageTag::parse("en-GB").unwrap();
        // Shared by Ukrainian and Russian, with no telling letter or word.
        let formulaic = "Так";
        assert!(matches!(newsroom.guess(formulaic), Guess::Undecided(_)));
        let on_ukrainian = newsroom.detect_in_context(formulaic, Some(&uk));
        assert_eq!(on_ukrainian.as_ref().map(LanguageTag::as_str), Some("uk"));
        // An English article cannot make Cyrillic text English.
        assert_eq!(newsroom.detect_in_context(formulaic, Some(&en_gb)), None);
        // Nor can a Ukrainian article make a clearly Russian text Ukrainian.
        let russian = newsroom.detect_in_context("Спасибо, очень интересно.", Some(&uk));
        assert_eq!(russian.as_ref().map(LanguageTag::as_str), Some("ru"));
        // The site's only language in Latin letters needs no context.
        assert_eq!(detected(&newsroom, "Super!").as_deref(), Some("en"));
        assert_eq!(newsroom.detect_in_context("12345", Some(&uk)), None);
    }

    #[test]
    fn a_newsroom_s_languages_bound_the_guess() {
        let newsroom = site(&["uk", "en"]);
        assert_eq!(detected(&newsroom, UKRAINIAN).as_deref(), Some("uk"));
        let french = "Un article très clair et bien documenté sur la situation en Afghanistan. \
                      Les chiffres sur les combattants sont impressionnants, mais il manque une \
                      carte de la province et le témoignage des habitants de la région.";
        assert_eq!(
            detected(&LanguageDetector::default(), french).as_deref(),
            Some("fr")
        );
        assert_eq!(
            detected(&newsroom, french),
            None,
            "not the site's English: no tag beats a wrong one"
        );
        let english = "The map was really helpful, and the timeline at the end too.";
        assert_eq!(detected(&newsroom, english).as_deref(), Some("en"));
        assert!(LanguageDetector::among(&["xx".into()]).is_err());
        assert!(LanguageDetector::among(&[]).is_ok());
        // Macrolanguages a site may name: Persian and Chinese, detected under their own tags.
        assert!(LanguageDetector::among(&["fa".into(), "zh".into()]).is_ok());
        assert_eq!(
            tag(Lang::Pes).map(|t| t.as_str().to_owned()).as_deref(),
            Some("fa")
        );
        assert_eq!(
            tag(Lang::Cmn).map(|t| t.as_str().to_owned()).as_deref(),
            Some("zh")
        );
    }

    /// The cost per review over the labelled set, before (whatlang among all its languages, as
    /// the service detected until issue 18) and after, with every language and with the set's:
    /// `cargo test --release --lib language_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement: run in release"]
    fn language_cost() {
        use std::time::Instant;
        let set: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../../tests/fixtures/reviews-languages.json"))
                .unwrap();
        let texts: Vec<&str> = set.iter().filter_map(|r| r["text"].as_str()).collect();
        let site_codes = [
            "uk", "ru", "en", "de", "fr", "es", "pl", "ar", "he", "ja", "el", "ka",
        ];
        // Under `valgrind --tool=callgrind`, one variant and one round at a time:
        // LANGUAGE_COST_VARIANT=<part of a name> LANGUAGE_COST_ROUNDS=1 (instruction counts do
        // not depend on what else the machine runs; `none` is the baseline to subtract).
        let rounds: usize = std::env::var("LANGUAGE_COST_ROUNDS")
            .ok()
            .and_then(|rounds| rounds.parse().ok())
            .unwrap_or(200);
        let variant = std::env::var("LANGUAGE_COST_VARIANT").unwrap_or_default();
        let repeats = if rounds == 1 { 1 } else { 5 };
        let measure = |name: &str, detect: &dyn Fn(&str) -> bool| {
            if !name.contains(variant.as_str()) {
                return;
            }
            let mut best = f64::MAX;
            for _ in 0..repeats {
                let started = Instant::now();
                for _ in 0..rounds {
                    for text in &texts {
                        std::hint::black_box(detect(std::hint::black_box(text)));
                    }
                }
                let per_review =
                    started.elapsed().as_nanos() as f64 / (rounds * texts.len()) as f64;
                best = best.min(per_review);
            }
            println!("{name:44} {best:8.0} ns/review (best of {repeats} × {rounds} rounds)");
        };
        measure("none: the loop alone", &|text| text.is_empty());
        let whatlang = whatlang::Detector::new();
        measure("before: whatlang, all 69 languages", &|text| {
            whatlang.detect(text).is_some_and(|info| info.is_reliable())
        });
        let whatlang_site = whatlang::Detector::with_allowlist(
            site_codes
                .iter()
                .filter_map(|code| isolang::Language::from_639_1(code))
                .filter_map(|language| Lang::from_code(language.to_639_3()))
                .collect(),
        );
        measure("before: whatlang, the set's 12 languages", &|text| {
            whatlang_site
                .detect(text)
                .is_some_and(|info| info.is_reliable())
        });
        let any = LanguageDetector::default();
        measure("after: all 69 languages", &|text| {
            any.detect(text).is_some()
        });
        let newsroom = site(&site_codes);
        measure("after: the set's 12 languages", &|text| {
            newsroom.detect(text).is_some()
        });
    }

    #[test]
    fn only_letters_and_words_that_tell_candidates_apart_count() {
        // `і` is Ukrainian among uk/ru, but Belarusian uses it too.
        assert_eq!(site(&["uk", "ru"]).letters.get(&'і'), Some(&Lang::Ukr));
        assert_eq!(site(&["uk", "be"]).letters.get(&'і'), None);
        // "не" is in neither list; "и" is Russian only.
        assert_eq!(site(&["uk", "ru"]).words.get("и"), Some(&Lang::Rus));
        assert_eq!(site(&["uk", "ru"]).words.get("не"), None);
        // English uses "a" as much as Portuguese does: it tells them apart no more than "не".
        assert_eq!(LanguageDetector::default().words.get("a"), None);
        assert_eq!(site(&["pt", "uk"]).words.get("a"), Some(&Lang::Por));
    }
}
