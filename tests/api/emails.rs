//! Author emails as readers have them: internationalised addresses (RFC 6531) and IDN domains
//! are stored; what is not an address is refused, naming the field.

use serde_json::{json, Value};

use crate::common::{expect_problem, problem_fields, spawn_app};

#[tokio::test]
async fn internationalised_author_emails_are_accepted_and_stored() {
    let app = spawn_app().await;
    for email in [
        "ірина@example.com",
        "reader@пример.рф",
        "李@例え.jp",
        "jörg.müller@bücher.de",
    ] {
        let review = json!({"rating": 4, "body": "Дуже докладна стаття.", "author_email": email});
        let response = app.post_review("idn", &review).await;
        assert_eq!(response.status(), 201, "{email}");
        let created: Value = response.json().await.unwrap();
        let id = created["id"].as_str().unwrap();
        let stored = app
            .count(&format!(
                "SELECT count(*) AS n FROM reviews WHERE id = '{id}' AND author_email = '{email}'"
            ))
            .await;
        assert_eq!(stored, 1, "{email} is stored as sent with review {id}");
    }
}

#[tokio::test]
async fn what_is_not_an_address_is_still_refused() {
    let app = spawn_app().await;
    let too_long_local = format!("{}@example.com", "ї".repeat(33));
    for email in [
        "ірина",
        "ірина @example.com",
        "ірина@exa mple.com",
        "ірина\u{0007}@example.com",
        "ірина\u{202E}@example.com",
        "ірина@example..com",
        too_long_local.as_str(),
    ] {
        let review = json!({"rating": 4, "body": "Дуже докладна стаття.", "author_email": email});
        let response = app.post_review("idn", &review).await;
        let problem = expect_problem(response, 422).await;
        assert_eq!(problem_fields(&problem), ["author_email"], "{email:?}");
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews").await,
        0,
        "nothing was stored"
    );
}
