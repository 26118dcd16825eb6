//! A NUL (U+0000), the one character PostgreSQL cannot store in text, sent in any parameter or
//! JSON string field of any operation is a 400/422 problem naming it, never a 500. The walk reads
//! the operations from the app's own `/openapi.json`, so an operation added later is covered.

use marginalia::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{expect_problem, problem_fields, raw_http, spawn_app, TestApp};

const NUL: &str = "a\u{0}b";
/// The same value in a URL.
const NUL_IN_URL: &str = "a%00b";
const ARTICLE: &str = "nul-walk";

/// Ids for the path segments of the operations, so each request reaches the check of the value
/// under test.
struct Fixtures {
    key: String,
    review_id: String,
    edit_token: String,
    endpoint_id: String,
}

async fn fixtures(app: &TestApp) -> Fixtures {
    let key = app
        .api_key(&[Scope::Admin, Scope::Moderator, Scope::Cms])
        .await;
    let created = app
        .post_review(
            ARTICLE,
            &json!({"rating": 4, "body": "A review to aim at."}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let endpoint = app
        .create_endpoint(&key, json!({"url": "http://127.0.0.1:9/hooks"}))
        .await;
    Fixtures {
        key,
        review_id: created["id"].as_str().unwrap().to_owned(),
        edit_token: created["edit_token"].as_str().unwrap().to_owned(),
        endpoint_id: endpoint["id"].as_str().unwrap().to_owned(),
    }
}

/// `path` with every `{name}` filled: `target` with the NUL, the others with a valid value.
fn fill_path(path: &str, target: Option<&str>, fixtures: &Fixtures) -> String {
    let mut filled = path.to_owned();
    for (name, value) in [
        ("article_id", ARTICLE.to_owned()),
        ("id", fixtures.review_id.clone()),
        ("endpoint_id", fixtures.endpoint_id.clone()),
        ("delivery_id", uuid::Uuid::now_v7().to_string()),
        ("file", "console.js".to_owned()),
        ("site_id", "default".to_owned()),
        ("reader_id", "wp-17".to_owned()),
    ] {
        let value = if target == Some(name) {
            NUL_IN_URL.to_owned()
        } else {
            value
        };
        filled = filled.replace(&format!("{{{name}}}"), &value);
    }
    filled
}

/// Follows a local `$ref`.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => document
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or(schema),
        None => schema,
    }
}

/// Whether a schema allows a string (directly, nullable, or as one of its alternatives).
fn allows_string(document: &Value, schema: &Value) -> bool {
    let schema = resolve(document, schema);
    let typed = match &schema["type"] {
        Value::String(kind) => kind == "string",
        Value::Array(kinds) => kinds.iter().any(|kind| kind == "string"),
        _ => false,
    };
    typed
        || ["oneOf", "anyOf", "allOf"].iter().any(|key| {
            schema[key]
                .as_array()
                .is_some_and(|options| options.iter().any(|o| allows_string(document, o)))
        })
}

/// Every string field of a body schema, top level and one level into arrays, with a JSON value
/// that puts the NUL in it and the field name the problem must give.
fn string_fields(document: &Value, schema: &Value) -> Vec<(String, Value, String)> {
    let schema = resolve(document, schema);
    let mut fields = Vec::new();
    let Some(properties) = schema["properties"].as_object() else {
        return fields;
    };
    for (name, property) in properties {
        let property = resolve(document, property);
        if allows_string(document, property) {
            fields.push((name.clone(), json!({ name: NUL }), name.clone()));
        } else if property["items"].is_object() && allows_string(document, &property["items"]) {
            fields.push((name.clone(), json!({ name: [NUL] }), format!("{name}[0]")));
        } else if property["properties"].is_object() || property["$ref"].is_string() {
            for (inner, value, field) in string_fields(document, property) {
                fields.push((
                    format!("{name}.{inner}"),
                    json!({ name: value }),
                    format!("{name}.{field}"),
                ));
            }
        }
    }
    fields
}

async fn send(
    app: &TestApp,
    fixtures: &Fixtures,
    method: &Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    if path == "/v1/webhooks/cms" {
        let body = body.cloned().unwrap_or_else(|| json!({}));
        return app.send_cms_event("msg_nul_walk", &body).await;
    }
    let mut request = app
        .client
        .request(method.clone(), app.url(path))
        .bearer_auth(&fixtures.key)
        .header("x-edit-token", &fixtures.edit_token);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn expect_named(response: reqwest::Response, what: &str, field: &str) {
    let status = response.status().as_u16();
    assert!(
        status == 400 || status == 422,
        "{what}: answered {status}, not 400/422"
    );
    let problem = expect_problem(response, status).await;
    assert!(
        problem_fields(&problem).iter().any(|named| named == field),
        "{what}: the problem names {:?}, not {field}: {problem}",
        problem_fields(&problem)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nul_in_any_parameter_or_string_field_of_any_operation_is_a_problem_naming_it() {
    let app = spawn_app().await;
    let fixtures = fixtures(&app).await;
    let document = app.get_json("/openapi.json").await;
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let what = |part: &str| format!("{method} {path} {part}");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                match parameter["in"].as_str().unwrap() {
                    "path" => {
                        let url = fill_path(path, Some(name), &fixtures);
                        let response = send(&app, &fixtures, &method, &url, None).await;
                        if name == "file" {
                            // A console file name names no stored value: any NUL is simply
                            // no such file.
                            assert_eq!(response.status(), 404, "{}", what(name));
                        } else {
                            expect_named(response, &what(name), name).await;
                        }
                    }
                    "query" => {
                        let url =
                            format!("{}?{name}={NUL_IN_URL}", fill_path(path, None, &fixtures));
                        let response = send(&app, &fixtures, &method, &url, None).await;
                        expect_named(response, &what(name), name).await;
                    }
                    "header" => {
                        // HTTP cannot carry a NUL in a header: the server's parser refuses the
                        // request before any handler, and never with a 5xx.
                        let url = fill_path(path, None, &fixtures);
                        let raw = format!(
                            "{method} {url} HTTP/1.1\r\nHost: localhost\r\n{name}: a\0b\r\n\
                             Content-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                        let answer = raw_http(&app.address, raw.as_bytes()).await;
                        assert_eq!(answer.status, 400, "{}", what(name));
                    }
                    other => panic!("{}: a parameter in {other}", what(name)),
                }
                checked += 1;
            }
            let body_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            if body_schema.is_null() {
                continue;
            }
            let url = fill_path(path, None, &fixtures);
            let fields = string_fields(&document, body_schema);
            assert!(!fields.is_empty(), "{}", what("has no string field"));
            for (name, body, field) in fields {
                let response = send(&app, &fixtures, &method, &url, Some(&body)).await;
                expect_named(response, &what(&name), &field).await;
                checked += 1;
            }
        }
    }
    assert!(checked > 60, "only {checked} values checked");

    // Nothing was stored on the way: the review and the endpoint are as they were.
    let created = json!({"id": fixtures.review_id, "edit_token": fixtures.edit_token});
    let review = app.get_own_review(&created).await;
    assert_eq!(review.status(), 200);
    let review: Value = review.json().await.unwrap();
    assert_eq!(review["body"], "A review to aim at.");
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_filters_with_a_nul_are_a_400_in_json_and_csv() {
    let app = spawn_app().await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    for query in [
        "actor=a%00b",
        "action=a%00b",
        "actor=a%00b&format=csv",
        "format=csv&action=%00",
    ] {
        let parameter = if query.contains("actor") {
            "actor"
        } else {
            "action"
        };
        let response = app
            .get_with_key(&moderator, &format!("/v1/moderation/log?{query}"))
            .await;
        let problem = expect_problem(response, 400).await;
        assert_eq!(problem_fields(&problem), [parameter], "{query}: {problem}");
    }
    // The same filters without the NUL are fine, in both formats.
    for query in ["actor=ab&action=approve", "actor=ab&format=csv"] {
        let response = app
            .get_with_key(&moderator, &format!("/v1/moderation/log?{query}"))
            .await;
        assert_eq!(response.status(), 200, "{query}");
    }
}
