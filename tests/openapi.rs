//! The committed OpenAPI document matches the code, and the docs work offline.

mod common;

use common::spawn_app;
use marginalia::api::openapi::openapi_json;

#[test]
fn committed_spec_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).expect("openapi/openapi.json is committed");
    let generated = openapi_json().expect("the spec serializes");
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
}

#[test]
fn every_operation_is_documented_with_errors() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 7);
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            assert!(operation["summary"].is_string(), "{name} has a summary");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{name} has a success"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{name} {status} is a problem document"
                    );
                }
            }
            if path.starts_with("/v1/") && path != "/v1/stats" && method != "put" {
                assert!(responses.contains_key("503"), "{name} documents 503");
            }
        }
    }
    let put = &spec["paths"]["/v1/articles/{article_id}"]["put"];
    assert!(put["security"][0]["api_key"].is_array());
    for status in ["401", "403"] {
        assert!(put["responses"][status].is_object());
    }
    let request = &spec["components"]["schemas"]["CreateReviewRequest"];
    assert_eq!(request["properties"]["rating"]["minimum"], 1);
    assert_eq!(request["properties"]["rating"]["maximum"], 5);
    assert_eq!(request["properties"]["body"]["maxLength"], 10000);
    assert_eq!(request["additionalProperties"], false);
    let required: Vec<&str> = request["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"rating") && required.contains(&"body"));
    let schemas = &spec["components"]["schemas"];
    // Published patterns are the very ones the code enforces.
    let bcp47 = marginalia::domain::text::BCP47_PATTERN;
    assert_eq!(request["properties"]["language"]["pattern"], bcp47);
    assert_eq!(
        schemas["PutArticleRequest"]["properties"]["language"]["pattern"],
        bcp47
    );
    assert_eq!(
        schemas["PutArticleRequest"]["properties"]["url"]["pattern"],
        marginalia::domain::article::WEB_URL_PATTERN
    );
    assert_eq!(
        schemas["ArticleId"]["pattern"],
        marginalia::domain::article::ArticleId::PATTERN
    );
    let review = &spec["components"]["schemas"]["Review"]["properties"];
    assert!(
        review.get("author_email").is_none(),
        "the public schema has no email"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_spec_and_swagger_ui_are_served_without_outside_resources() {
    let app = spawn_app().await;
    let served: serde_json::Value = app.get_json("/openapi.json").await;
    let generated: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    assert_eq!(served, generated);

    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "Swagger UI page");
    // Everything the page loads must come from us.
    let mut assets = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for part in html.split(attribute).skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(
                !target.contains("://") && !target.starts_with("//"),
                "the page loads {target} from elsewhere"
            );
            assets.push(target.trim_start_matches("./").to_owned());
        }
    }
    assert!(assets.iter().any(|a| a.ends_with(".js")));
    for asset in assets {
        let response = app.get(&format!("/docs/{asset}")).await;
        assert_eq!(response.status(), 200, "/docs/{asset} is served locally");
        let body = response.text().await.unwrap();
        if asset.contains("initializer") {
            assert!(body.contains("/openapi.json"));
            assert!(
                body.contains("\"validatorUrl\": \"none\"")
                    || body.contains("validatorUrl\":\"none\""),
                "the validator badge would call out: {body}"
            );
        }
    }
}
