//! No public response ever carries the author's email or an internal field.

use crate::common::{fixture, spawn_app};
use marginalia::api::openapi::openapi_json;
use serde_json::Value;

/// Every property the public response schemas of the OpenAPI document declare: a public answer
/// may carry these and nothing else.
fn public_properties() -> Vec<String> {
    let spec: Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let mut names = Vec::new();
    for schema in [
        "Review",
        "ReviewPage",
        "Article",
        "ArticleStats",
        "Histogram",
        "BulkStats",
        "ReviewEvent",
        "StatsChangedEvent",
        "Reply",
        "CreatedReview",
        "VoteCounts",
    ] {
        // A schema's own properties, or those of the inline parts of its `allOf`.
        let parts = match schemas[schema]["allOf"].as_array() {
            Some(parts) => parts.clone(),
            None => vec![schemas[schema].clone()],
        };
        for part in parts {
            if let Some(properties) = part["properties"].as_object() {
                names.extend(properties.keys().cloned());
            }
        }
    }
    names
}

/// Every key anywhere in a JSON document.
fn keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                out.push(key.clone());
                keys(inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| keys(item, out)),
        _ => {}
    }
}

fn assert_private(path: &str, text: &str, emails: &[String], public: &[String]) {
    for email in emails {
        assert!(!text.contains(email.as_str()), "{path} leaks {email}");
    }
    let json: Value = serde_json::from_str(text).unwrap();
    let mut found = Vec::new();
    keys(&json, &mut found);
    for key in found {
        assert!(
            public.contains(&key),
            "{path} has `{key}`, which no public schema declares"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn public_endpoints_never_show_private_fields() {
    let app = spawn_app().await;
    let public = public_properties();
    // The private columns are real, and no public schema declares them.
    for column in [
        "author_email",
        "edit_token_hash",
        "duplicate_digest",
        "reasons",
    ] {
        let exists = app
            .count(&format!(
                "SELECT count(*) AS n FROM information_schema.columns \
                 WHERE table_name = 'reviews' AND column_name = '{column}'"
            ))
            .await;
        assert_eq!(exists, 1, "reviews.{column} exists");
        assert!(
            !public.iter().any(|name| name == column),
            "{column} is not public"
        );
    }
    let article = app.register_fixture_article().await;
    let id = article["article_id"].as_str().unwrap();
    let mut emails = Vec::new();
    let mut review_ids = Vec::new();
    for (index, review) in fixture("reviews-valid.json")
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let mut review = review.clone();
        let email = format!("reader{index}@private.example");
        review["author_email"] = Value::String(email.clone());
        emails.push(email);
        let response = app.post_review(id, &review).await;
        assert_eq!(response.status(), 201);
        let text = response.text().await.unwrap();
        assert_private("POST review", &text, &emails, &public);
        let created: Value = serde_json::from_str(&text).unwrap();
        review_ids.push(created["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews WHERE author_email LIKE '%@private.example'")
            .await,
        emails.len() as i64,
        "emails are stored, just never shown"
    );

    let mut paths: Vec<String> = vec![
        format!("/v1/articles/{id}"),
        format!("/v1/articles/{id}/stats"),
        format!("/v1/stats?article_id={id}"),
    ];
    for sort in ["newest", "oldest", "highest", "lowest"] {
        paths.push(format!("/v1/articles/{id}/reviews?sort={sort}&limit=100"));
    }
    paths.extend(review_ids.iter().map(|rid| format!("/v1/reviews/{rid}")));
    for path in &paths {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_private(path, &response.text().await.unwrap(), &emails, &public);
    }
}
