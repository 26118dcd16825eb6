//! Language detection on short reader reviews: accuracy over the labelled set in
//! `tests/fixtures/reviews-languages.json`, and the tag a review submitted without `language`
//! gets through the API.

use std::collections::BTreeMap;

use marginalia::auth::Scope;
use marginalia::domain::language::LanguageDetector;
use marginalia::domain::text::LanguageTag;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::common::{spawn_app, TestApp};

#[derive(Deserialize)]
struct Labelled {
    text: String,
    language: String,
    article_language: String,
}

fn labelled() -> Vec<Labelled> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reviews-languages.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The site's languages as a newsroom would configure them: those of the set.
fn site_languages(set: &[Labelled]) -> Vec<String> {
    let mut languages: Vec<String> = set.iter().map(|review| review.language.clone()).collect();
    languages.sort();
    languages.dedup();
    languages
}

/// Words as a reader counts them; a script written without spaces counts a word per two
/// characters.
fn words(text: &str) -> usize {
    let spaced = text.split_whitespace().count();
    if spaced == 1 {
        text.chars().filter(|c| c.is_alphabetic()).count() / 2
    } else {
        spaced
    }
}

#[derive(Default)]
struct Tally {
    long: usize,
    long_right: usize,
    short: usize,
    short_right: usize,
    /// Tagged with another language: worse than no tag.
    wrong: usize,
    /// Right on five words or more with the detector before issue 18 (whatlang among all its
    /// languages, only when it called itself reliable), for comparison.
    long_right_before: usize,
}

fn detected_before(text: &str) -> Option<String> {
    let info = whatlang::detect(text).filter(whatlang::Info::is_reliable)?;
    isolang::Language::from_639_3(info.lang().code())
        .and_then(|language| language.to_639_1())
        .map(str::to_owned)
}

fn percent(right: usize, of: usize) -> f64 {
    if of == 0 {
        100.0
    } else {
        100.0 * right as f64 / of as f64
    }
}

#[test]
fn short_reviews_are_tagged_reliably_in_every_language_of_the_set() {
    let set = labelled();
    assert!(set.len() >= 300, "the set has {} reviews", set.len());
    let detector = LanguageDetector::among(&site_languages(&set)).unwrap();
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for review in &set {
        let article = LanguageTag::parse(&review.article_language).unwrap();
        let got = detector.detect_in_context(&review.text, Some(&article));
        let got = got.as_ref().map(LanguageTag::as_str);
        let right = got == Some(review.language.as_str());
        let tally = tallies.entry(&review.language).or_default();
        if words(&review.text) >= 5 {
            tally.long += 1;
            tally.long_right += usize::from(right);
            let before = detected_before(&review.text);
            tally.long_right_before += usize::from(before.as_deref() == Some(&review.language));
        } else {
            tally.short += 1;
            tally.short_right += usize::from(right);
        }
        if !right {
            tally.wrong += usize::from(got.is_some());
            misses.push(format!("{:?} ({}) → {got:?}", review.text, review.language));
        }
    }
    println!("language  ≥5 words          <5 words          wrong tags   before, ≥5 words");
    for (language, t) in &tallies {
        println!(
            "{language:8}  {:3}/{:3} {:6.1} %   {:3}/{:3} {:6.1} %   {:10}   {:3}/{:3} {:6.1} %",
            t.long_right,
            t.long,
            percent(t.long_right, t.long),
            t.short_right,
            t.short,
            percent(t.short_right, t.short),
            t.wrong,
            t.long_right_before,
            t.long,
            percent(t.long_right_before, t.long),
        );
    }
    // For a newsroom that configures nothing: every language, no article context (printed,
    // not asserted; the README reports it).
    let any = LanguageDetector::default();
    for language in ["uk", "ru", "en"] {
        let long: Vec<&Labelled> = set
            .iter()
            .filter(|r| r.language == language && words(&r.text) >= 5)
            .collect();
        let right = long
            .iter()
            .filter(|r| any.detect(&r.text).as_ref().map(LanguageTag::as_str) == Some(language))
            .count();
        println!(
            "{language} with all languages, no context: {right}/{} on five words or more",
            long.len()
        );
    }
    for miss in &misses {
        println!("missed: {miss}");
    }
    for (language, t) in &tallies {
        let long = percent(t.long_right, t.long);
        let short = percent(t.short_right, t.short);
        let all = percent(t.long_right + t.short_right, t.long + t.short);
        if ["uk", "ru", "en"].contains(language) {
            assert!(
                long >= 97.0,
                "{language}: {long:.1} % on five words or more"
            );
            assert!(
                short >= 70.0,
                "{language}: {short:.1} % on fewer than five words"
            );
        } else {
            assert!(all >= 90.0, "{language}: {all:.1} %");
        }
        // A wrong tag misleads the console's filters; allow at most one per language.
        assert!(t.wrong <= 1, "{language}: {} wrong tags", t.wrong);
    }
}

/// Submits `body` without a language to `article`; returns the stored review, read back by id.
async fn submitted_language(app: &TestApp, article: &str, body: &str) -> Value {
    let response = app
        .post_review(article, &json!({"rating": 5, "body": body}))
        .await;
    assert_eq!(response.status(), 201, "POST {body:?}");
    let created: Value = response.json().await.unwrap();
    let stored = app.get_own_review(&created).await;
    assert_eq!(stored.status(), 200);
    let stored: Value = stored.json().await.unwrap();
    assert_eq!(stored["id"], created["id"]);
    assert_eq!(stored["language"], created["language"]);
    stored["language"].clone()
}

async fn register(app: &TestApp, id: &str, language: &str) {
    let key = app.api_key(&[Scope::Cms]).await;
    let body = json!({"title": format!("An article in {language}"), "language": language});
    let response = app
        .put_article(id, Some(&format!("Bearer {key}")), &body)
        .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn plain_short_reviews_submitted_without_language_are_tagged() {
    let app = spawn_app().await;
    // An article without a language: the text alone decides.
    let english = "The map was really helpful, and the timeline at the end too.";
    assert_eq!(submitted_language(&app, "plain", english).await, "en");
    let ukrainian = "Дуже докладна стаття, дякую за роботу редакції.";
    assert_eq!(submitted_language(&app, "plain", ukrainian).await, "uk");
}

#[tokio::test]
async fn the_article_s_language_settles_a_formulaic_review() {
    let app = spawn_app().await;
    register(&app, "ukrainian", "uk").await;
    register(&app, "english", "en").await;
    // "Yes" in both Ukrainian and Russian: no letter or word tells them apart.
    let formulaic = "Так";
    assert_eq!(submitted_language(&app, "ukrainian", formulaic).await, "uk");
    assert!(submitted_language(&app, "unregistered", formulaic)
        .await
        .is_null());
    // An English article cannot make Cyrillic text English, nor a Ukrainian one a Russian text
    // Ukrainian.
    assert!(submitted_language(&app, "english", formulaic)
        .await
        .is_null());
    let russian = "Спасибо, очень интересно.";
    assert_eq!(submitted_language(&app, "ukrainian", russian).await, "ru");
}
