//! Every hostile input from `tests/fixtures/reviews-hostile.json` and
//! `tests/fixtures/articles-hostile.json` gets its listed status, names its field, and leaves
//! nothing behind in the database.

use crate::common::{expect_problem, fixture, problem_fields, raw_http, spawn_app};
use marginalia::auth::Scope;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

const ARTICLE: &str = "voa-2020-05-iskp-attacks";

fn decode_hex(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn expected_statuses(case: &Value) -> Vec<u16> {
    match &case["expect"] {
        Value::Array(list) => list.iter().map(|s| s.as_u64().unwrap() as u16).collect(),
        single => vec![single.as_u64().unwrap() as u16],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_case_gets_its_status_and_leaves_no_trace() {
    let app = spawn_app().await;
    let cases = fixture("reviews-hostile.json");
    let mut accepted = 0;
    for case in cases.as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let article = case["article_id"].as_str().unwrap_or(ARTICLE);
        let (body, content_type): (Vec<u8>, &str) = if let Some(raw) = case["raw"].as_str() {
            (
                raw.as_bytes().to_vec(),
                case["content_type"].as_str().unwrap_or("application/json"),
            )
        } else if let Some(hex) = case["raw_hex"].as_str() {
            (decode_hex(hex), "application/json")
        } else if let Some(size) = case["raw_size"].as_u64() {
            let mut big = b"{\"rating\": 4, \"body\": \"".to_vec();
            big.resize(size as usize - 2, b'a');
            big.extend_from_slice(b"\"}");
            (big, "application/json")
        } else {
            (
                serde_json::to_vec(&case["body"]).unwrap(),
                "application/json",
            )
        };
        let content_type = case["content_type"].as_str().unwrap_or(content_type);
        let expected = expected_statuses(case);
        if case["raw_path"].as_bool() == Some(true) {
            // HTTP clients resolve `.` and `..` segments away; send the path as is.
            let mut request = format!(
                "POST /v1/articles/{article}/reviews HTTP/1.1\r\nHost: test\r\n\
                 Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            let answer = raw_http(&app.address, &request).await;
            assert!(expected.contains(&answer.status), "{name}: got {answer:?}");
            let problem = answer.problem();
            if let Some(field) = case["field"].as_str() {
                assert!(
                    problem_fields(&problem).iter().any(|f| f == field),
                    "{name}: problem should name `{field}`: {problem}"
                );
            }
            continue;
        }
        // The article id goes into the path exactly as the fixture spells it.
        let url = app.url(&format!("/v1/articles/{article}/reviews"));
        let mut request = app
            .client
            .post(url)
            .header("content-type", content_type)
            .body(body);
        if let Some(coding) = case["content_encoding"].as_str() {
            request = request.header("content-encoding", coding);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        assert!(
            expected.contains(&status),
            "{name}: got {status}, expected one of {expected:?}"
        );
        if status == 201 {
            accepted += 1;
            let review: Value = response.json().await.unwrap();
            let sent = case["body"]["body"].as_str().unwrap();
            let expected: String = sent.trim().nfc().collect();
            assert_eq!(review["body"], expected, "{name}: stored literally (NFC)");
            continue;
        }
        let problem = expect_problem(response, status).await;
        if let Some(field) = case["field"].as_str() {
            assert!(
                problem_fields(&problem).iter().any(|f| f == field),
                "{name}: problem should name `{field}`: {problem}"
            );
        }
    }
    assert!(accepted > 0, "the fixture has inputs that must be accepted");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews").await,
        accepted
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM articles").await,
        1,
        "only the article of accepted reviews exists"
    );
    // Hostile texts the rules hold (shouting, links, repeats) are stored but not counted.
    assert_eq!(
        app.count("SELECT coalesce(sum(review_count), 0) AS n FROM article_stats")
            .await,
        app.count("SELECT count(*) AS n FROM reviews WHERE status = 'published'")
            .await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_article_description_gets_its_status_and_changes_nothing() {
    let app = spawn_app().await;
    let bearer = format!("Bearer {}", app.api_key(&[Scope::Cms]).await);
    let mut accepted = 0;
    for (index, case) in fixture("articles-hostile.json")
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let name = case["case"].as_str().unwrap();
        let response = app
            .put_article(&format!("hostile-{index}"), Some(&bearer), &case["body"])
            .await;
        let status = response.status().as_u16();
        let expected = expected_statuses(case);
        assert!(
            expected.contains(&status),
            "{name}: got {status}, expected one of {expected:?}"
        );
        if status < 300 {
            accepted += 1;
            continue;
        }
        let problem = expect_problem(response, status).await;
        let field = case["field"].as_str().unwrap();
        assert!(
            problem_fields(&problem).iter().any(|f| f == field),
            "{name}: problem should name `{field}`: {problem}"
        );
    }
    assert!(accepted > 0);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM articles").await,
        accepted
    );
}
