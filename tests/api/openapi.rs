//! The committed OpenAPI document matches the code, and the docs work offline.

use crate::common::spawn_app;
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
    assert!(put["security"][0]["cms_key"].is_array());
    for status in ["401", "403"] {
        assert!(put["responses"][status].is_object());
    }
    let request = &spec["components"]["schemas"]["CreateReviewRequest"];
    assert_eq!(request["additionalProperties"], false);
    let required: Vec<&str> = request["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // A rating is required unless the site takes feedback without stars.
    assert!(required.contains(&"body") && !required.contains(&"rating"));
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

/// The routes the server answers are exactly the documented ones: every documented path answers
/// an undocumented method with 405 and an `Allow` listing the documented methods (and HEAD for
/// GET), and a path that is not documented is a 404.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_routes_exactly_what_the_spec_documents() {
    let app = spawn_app().await;
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let path = template
            .replace("{article_id}", "routing-check")
            .replace("{id}", "00000000-0000-7000-8000-000000000000");
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|method| method.to_uppercase())
            .collect();
        if documented.iter().any(|method| method == "GET") {
            documented.push("HEAD".into());
        }
        let undocumented = ["DELETE", "PATCH", "PUT", "POST"]
            .into_iter()
            .find(|method| !documented.iter().any(|m| m == method))
            .unwrap();
        let response = app
            .client
            .request(undocumented.parse().unwrap(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{undocumented} {template}");
        let mut allowed: Vec<String> = response.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|method| method.trim().to_owned())
            .collect();
        allowed.sort();
        documented.sort();
        assert_eq!(allowed, documented, "Allow of {template}");
    }
    assert_eq!(app.get("/v1/undocumented").await.status(), 404);
}

/// The scope each handler registered in a scope of `api::routes` is under, by the handler's
/// name: the `.service(module::handler)` calls between a `scope("/prefix")` and the end of its
/// closure.
fn scoped_handlers() -> std::collections::HashMap<String, String> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api/mod.rs"),
    )
    .unwrap();
    let mut handlers = std::collections::HashMap::new();
    let mut prefix: Option<String> = None;
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.split("scope(\"").nth(1) {
            prefix = rest.split('"').next().map(str::to_owned);
        }
        let call = line
            .split(".service(")
            .nth(1)
            .filter(|call| !call.starts_with("scope("));
        if let (Some(prefix), Some(call)) = (&prefix, call) {
            let handler = call.split(')').next().unwrap().rsplit("::").next().unwrap();
            handlers.insert(handler.to_owned(), prefix.clone());
        }
        if line.starts_with("}))") {
            prefix = None;
        }
    }
    assert!(
        handlers.len() > 20,
        "the scopes of src/api/mod.rs were found: {handlers:?}"
    );
    handlers
}

/// The routes the server registers, read from the source: each handler's route attribute
/// (`#[get("/v1/me")]`, under its scope's prefix) and each route registered by hand (`web::resource("/metrics")`,
/// `.route("/docs", …)`, `SwaggerUi::new("/docs/{_:.*}")`), as (METHOD or `*`, template).
fn registered_routes() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let quoted = |text: &str| text.split('"').nth(1).map(str::to_owned);
    let scopes = scoped_handlers();
    let mut routes = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = source.lines().map(str::trim).collect();
        for (at, line) in lines.iter().enumerate() {
            for method in ["get", "post", "put", "patch", "delete", "head"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{method}(")) {
                    let handler = lines[at..]
                        .iter()
                        .find_map(|line| line.strip_prefix("pub async fn "))
                        .and_then(|rest| rest.split(['(', '<']).next())
                        .unwrap();
                    let prefix = scopes.get(handler).map_or("", String::as_str);
                    let path = format!("{prefix}{}", quoted(rest).unwrap());
                    routes.push((method.to_uppercase(), path));
                }
            }
        }
        // Registered by hand: the path is the call's first argument, maybe on the next line.
        for call in ["web::resource(", ".route(", "SwaggerUi::new("] {
            for (at, _) in source.match_indices(call) {
                let argument = source[at + call.len()..].trim_start();
                if argument.starts_with('"') {
                    let path = quoted(argument).unwrap();
                    if path.starts_with('/') {
                        routes.push(("*".to_owned(), path));
                    }
                }
            }
        }
    }
    routes
}

/// The other half of "exactly": every route the server registers is documented, but for the
/// few that are deliberately not operations (the metrics, Swagger UI and its document), each
/// named here and shown to be served. The pages, files and probes (`api::PAGES`) are registered
/// from that list, not by a route attribute; tests/api/widget.rs shows them served and absent.
#[tokio::test(flavor = "multi_thread")]
async fn every_route_the_server_registers_is_documented() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    // `{file:.+}` is a path parameter with actix's own pattern; the document names it `{file}`.
    let template = |path: &str| {
        let mut out = String::new();
        let mut in_pattern = false;
        for c in path.chars() {
            match c {
                ':' if out.rfind('{') > out.rfind('}') => in_pattern = true,
                '}' => {
                    in_pattern = false;
                    out.push(c);
                }
                _ if in_pattern => {}
                _ => out.push(c),
            }
        }
        out
    };
    let undocumented = ["/metrics", "/docs", "/docs/{_}"];
    let routes = registered_routes();
    assert!(
        routes.len() > 30,
        "the route attributes were found: {routes:?}"
    );
    for (method, path) in &routes {
        let path = template(path);
        if undocumented.contains(&path.as_str()) {
            continue;
        }
        let item = paths
            .get(&path)
            .unwrap_or_else(|| panic!("{method} {path} is served but not documented"));
        if method != "*" {
            assert!(
                item.get(method.to_lowercase()).is_some(),
                "{method} {path} is served but not documented"
            );
        }
    }
    // Every documented operation has its route in the source.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            assert!(
                routes
                    .iter()
                    .any(|(m, p)| *m == method && template(p) == *path),
                "{method} {path} is documented but no route serves it"
            );
        }
    }
    // The undocumented ones are there, and nothing else is.
    let app = spawn_app().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, status) in [
        ("/metrics", 401),
        ("/docs", 308),
        ("/docs/", 200),
        ("/openapi.json", 200),
    ] {
        let response = no_redirects.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "GET {path}");
    }
}

/// Every limit and pattern the document publishes is the constant the code enforces.
#[test]
fn published_limits_are_the_enforced_constants() {
    use marginalia::domain::article::{ArticleId, ArticleIds, ArticleTitle, ArticleUrl};
    use marginalia::domain::page::{PageSize, CURSOR_MAX};
    use marginalia::domain::review::{AuthorEmail, AuthorName, Rating, ReviewBody, ReviewTitle};
    use marginalia::domain::text::{LanguageTag, NON_BLANK_PATTERN, PRINTABLE_PATTERN};
    use serde_json::json;
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let expect = |schema: &str, keyword: &str, value: serde_json::Value| {
        assert_eq!(schemas[schema][keyword], value, "{schema}.{keyword}");
    };
    expect("Rating", "minimum", json!(Rating::MIN));
    expect("Rating", "maximum", json!(Rating::MAX));
    expect("ReviewBody", "maxLength", json!(ReviewBody::MAX_CHARS));
    expect("ReviewBody", "pattern", json!(NON_BLANK_PATTERN));
    expect("ReviewTitle", "maxLength", json!(ReviewTitle::MAX_CHARS));
    expect("ReviewTitle", "pattern", json!(PRINTABLE_PATTERN));
    expect("AuthorName", "maxLength", json!(AuthorName::MAX_CHARS));
    expect("AuthorName", "pattern", json!(PRINTABLE_PATTERN));
    expect("AuthorEmail", "maxLength", json!(AuthorEmail::MAX_CHARS));
    expect("LanguageTag", "maxLength", json!(LanguageTag::MAX_CHARS));
    expect("LanguageTag", "pattern", json!(LanguageTag::PATTERN));
    expect("ArticleTitle", "maxLength", json!(ArticleTitle::MAX_CHARS));
    expect("ArticleTitle", "pattern", json!(PRINTABLE_PATTERN));
    expect("ArticleUrl", "maxLength", json!(ArticleUrl::MAX_CHARS));
    expect("ArticleUrl", "pattern", json!(ArticleUrl::PATTERN));
    expect("ArticleId", "maxLength", json!(ArticleId::MAX_LEN));
    expect("ArticleId", "pattern", json!(ArticleId::PATTERN));
    expect("PageSize", "maximum", json!(PageSize::MAX));
    expect("PageSize", "default", json!(PageSize::DEFAULT));
    expect("Cursor", "maxLength", json!(CURSOR_MAX));
    expect("ArticleIds", "maxItems", json!(ArticleIds::MAX));
    // A site's settings and its id.
    use marginalia::domain::site::{self, SiteId};
    let settings = &schemas["SiteSettingsRequest"]["properties"];
    for (field, keyword, value) in [
        ("name", "maxLength", site::NAME_MAX_CHARS as u64),
        ("newsroom_name", "maxLength", site::NAME_MAX_CHARS as u64),
        ("origins", "maxItems", site::MAX_ORIGINS as u64),
        ("languages", "maxItems", site::MAX_LANGUAGES as u64),
        ("banned_terms", "maxItems", site::MAX_BANNED_TERMS as u64),
        ("max_links", "maximum", u64::from(site::MAX_LINKS_LIMIT)),
        (
            "flag_threshold",
            "maximum",
            u64::from(site::FLAG_THRESHOLD_MAX),
        ),
        ("cms_secrets", "maxItems", site::MAX_CMS_SECRETS as u64),
        (
            "rate_limit_reviews",
            "maximum",
            u64::from(site::RATE_LIMIT_MAX),
        ),
        (
            "rate_limit_reactions",
            "maximum",
            u64::from(site::RATE_LIMIT_MAX),
        ),
    ] {
        assert_eq!(
            settings[field][keyword],
            json!(value),
            "SiteSettingsRequest.{field}.{keyword}"
        );
    }
    for method in ["get", "put"] {
        let parameter = &spec["paths"]["/v1/sites/{site_id}"][method]["parameters"][0]["schema"];
        assert_eq!(
            parameter["pattern"],
            json!(SiteId::PATTERN),
            "{method} site_id"
        );
        assert_eq!(
            parameter["maxLength"],
            json!(SiteId::MAX_LEN),
            "{method} site_id"
        );
    }
    // The request and response fields refer to these schemas rather than restating them.
    let request = &schemas["CreateReviewRequest"]["properties"];
    for (field, schema) in [("rating", "Rating"), ("body", "ReviewBody")] {
        assert_eq!(
            request[field]["$ref"],
            format!("#/components/schemas/{schema}"),
            "CreateReviewRequest.{field}"
        );
    }
}

/// Every problem `type` and field error `code` the server sends for the hostile fixtures is in
/// the published enums, so clients generated from the document can match on them.
#[tokio::test(flavor = "multi_thread")]
async fn emitted_problem_types_and_codes_are_published() {
    use crate::common::fixture;
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let schemas = &spec["components"]["schemas"];
    let published = |schema: &str| -> Vec<String> {
        schemas[schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} is an enum"))
            .iter()
            .map(|value| value.as_str().unwrap().to_owned())
            .collect()
    };
    let types = published("ProblemType");
    let codes = published("FieldErrorCode");
    let app = spawn_app().await;
    let mut seen = 0;
    for case in fixture("reviews-hostile.json").as_array().unwrap() {
        let Some(body) = case.get("body") else {
            continue;
        };
        let article = case["article_id"].as_str().unwrap_or("enum-check");
        if case["raw_path"].as_bool() == Some(true) {
            continue;
        }
        let response = app.post_review(article, body).await;
        if response.status().is_success() {
            continue;
        }
        let problem: serde_json::Value = response.json().await.unwrap();
        let problem_type = problem["type"].as_str().unwrap();
        assert!(
            types.iter().any(|t| t == problem_type),
            "{problem_type} is published"
        );
        for error in problem["errors"].as_array().into_iter().flatten() {
            let code = error["code"].as_str().unwrap();
            assert!(codes.iter().any(|c| c == code), "code {code} is published");
            seen += 1;
        }
    }
    for path in [
        "/v1/articles/a/reviews?limit=0&sort=x&rating=9&cursor=zz&q=1",
        "/v1/stats",
    ] {
        let problem: serde_json::Value = app.get(path).await.json().await.unwrap();
        assert!(types.iter().any(|t| t == problem["type"].as_str().unwrap()));
        for error in problem["errors"].as_array().into_iter().flatten() {
            let code = error["code"].as_str().unwrap();
            assert!(codes.iter().any(|c| c == code), "code {code} is published");
            seen += 1;
        }
    }
    assert!(seen > 10, "field errors were checked");
}

/// "Try it out" and generated clients call the instance that served the document, on whatever
/// address and port: each `servers` URL, resolved against the document's own URL as OpenAPI says,
/// reaches this very service.
#[tokio::test(flavor = "multi_thread")]
async fn the_servers_reach_the_instance_that_serves_the_document() {
    let app = spawn_app().await;
    let document_url = url::Url::parse(&app.url("/openapi.json")).unwrap();
    let served: serde_json::Value = app.get_json("/openapi.json").await;
    let servers = served["servers"].as_array().expect("servers are listed");
    assert!(!servers.is_empty());
    for server in servers {
        // Each variable at its default (the default site), as a client that sets none calls.
        let mut raw = server["url"].as_str().unwrap().to_owned();
        if let Some(variables) = server["variables"].as_object() {
            for (name, variable) in variables {
                let default = variable["default"].as_str().expect("a default");
                raw = raw.replace(&format!("{{{name}}}"), default);
            }
        }
        if !raw.ends_with('/') {
            raw.push('/');
        }
        let raw = raw.as_str();
        let base = document_url.join(raw).unwrap();
        assert_eq!(
            base.origin(),
            document_url.origin(),
            "server {raw} is not the instance that served the document"
        );
        let me = base.join("v1/me").unwrap();
        let answer = app.client.get(me.clone()).send().await.unwrap();
        assert_eq!(answer.status(), 401, "{me} is this service's /v1/me");
    }
    // The committed document is the same for every host.
    let committed: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    assert_eq!(committed["servers"], served["servers"]);
}

/// Each documented error status of each operation shows named examples, one per problem type it
/// can answer with, each under its type's name and with that status: no operation shows the same
/// problem under several statuses.
#[test]
fn every_error_status_has_its_own_example() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let mut failures = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let mut seen: Vec<(String, &serde_json::Value)> = Vec::new();
            for (status, response) in operation["responses"].as_object().unwrap() {
                let Some(content) = response["content"]["application/problem+json"].as_object()
                else {
                    continue;
                };
                let examples = content.get("examples").and_then(|e| e.as_object());
                let Some(examples) = examples.filter(|examples| !examples.is_empty()) else {
                    failures.push(format!("{name} {status} has no example"));
                    continue;
                };
                for (example_name, example) in examples {
                    let at = format!("{name} {status} `{example_name}`");
                    let value = &example["value"];
                    let problem_type = value["type"].as_str().unwrap_or_default();
                    if !problem_type.ends_with(&format!(":{example_name}")) {
                        failures.push(format!("{at} shows a {problem_type}"));
                    }
                    if example["summary"].as_str().is_none_or(str::is_empty) {
                        failures.push(format!("{at} has no summary"));
                    }
                    if value["status"].as_u64().map(|s| s.to_string()).as_deref()
                        != Some(status.as_str())
                    {
                        failures.push(format!("{at} shows a {} example", value["status"]));
                    }
                    if value["detail"].as_str().is_none_or(str::is_empty) {
                        failures.push(format!("{at} has no detail"));
                    }
                    if status == "422" && value["errors"][0]["field"].as_str().is_none() {
                        failures.push(format!("{at} names no field"));
                    }
                    for (other, earlier) in &seen {
                        if *earlier == value || earlier["detail"] == value["detail"] {
                            failures.push(format!("{name}: {other} and {at} share an example"));
                        }
                    }
                    seen.push((at, value));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each operation's key scopes are machine-readable alternatives of scope names, `admin` among
/// them (it may do everything), and the prose says the same; an operation any key may call
/// documents no 403.
#[test]
fn scopes_are_published_per_operation() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let expected = [
        ("put", "/v1/articles/{article_id}", vec!["cms", "admin"]),
        (
            "patch",
            "/v1/articles/{article_id}",
            vec!["moderator", "cms", "admin"],
        ),
        ("get", "/v1/moderation/queue", vec!["moderator", "admin"]),
        ("post", "/v1/moderation/actions", vec!["moderator", "admin"]),
        ("post", "/v1/data-rights/erasures", vec!["admin"]),
        ("post", "/v1/installation/erasures", vec!["admin"]),
        ("get", "/v1/installation/exports/reviews", vec!["admin"]),
        ("get", "/v1/webhook-endpoints", vec!["admin"]),
        ("get", "/v1/me", vec![]),
    ];
    for (method, path, scopes) in expected {
        let operation = &spec["paths"][path][method];
        // One alternative per scope, each naming the scope's own scheme with no OAuth scopes;
        // any key at all is `api_key`.
        let published: Vec<String> = operation["security"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|alternative| alternative.as_object().unwrap())
            .inspect(|(_, oauth_scopes)| assert_eq!(**oauth_scopes, serde_json::json!([])))
            .filter_map(|(scheme, _)| scheme.strip_suffix("_key"))
            .filter(|scope| *scope != "api")
            .map(str::to_owned)
            .collect();
        assert_eq!(published, scopes, "{method} {path}");
        let description = operation["description"].as_str().unwrap();
        for scope in &scopes {
            assert!(
                description.contains(&format!("`{scope}`")),
                "{method} {path}: {description}"
            );
        }
    }
    assert!(spec["paths"]["/v1/me"]["get"]["responses"]["403"].is_null());
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for alternative in operation["security"].as_array().unwrap() {
                for scheme in alternative.as_object().unwrap().keys() {
                    assert!(
                        schemes.contains_key(scheme),
                        "{method} {path}: no scheme {scheme}"
                    );
                }
                let scoped = alternative
                    .as_object()
                    .unwrap()
                    .keys()
                    .any(|scheme| scheme.ends_with("_key") && scheme != "api_key");
                if scoped {
                    let all = operation["security"].to_string();
                    assert!(
                        all.contains("\"admin_key\""),
                        "{method} {path} does not admit admin"
                    );
                }
            }
        }
    }
}

/// The outbound event definitions have a tag of their own, apart from the endpoint management
/// operations and the CMS's inbound events (one shared tag made openapi-generator write a module
/// that does not import); optional headers are plain strings, never `null`.
#[test]
fn webhook_tags_are_separate_and_headers_not_nullable() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let mut event_tags = std::collections::BTreeSet::new();
    for item in spec["webhooks"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for tag in operation["tags"].as_array().unwrap() {
                event_tags.insert(tag.as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(
        event_tags.into_iter().collect::<Vec<_>>(),
        ["webhook events"]
    );
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for tag in operation["tags"].as_array().unwrap() {
                assert_ne!(tag, "webhook events", "{method} {path}");
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert!(
                    !parameter["schema"].to_string().contains("null"),
                    "{method} {path}: {parameter}"
                );
            }
        }
    }
    let create = &spec["paths"]["/v1/articles/{article_id}/reviews"]["post"];
    let key = create["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(key["required"], false);
    assert_eq!(key["schema"]["type"], "string");
    assert_eq!(spec["paths"]["/v1/webhooks/cms"]["post"]["tags"][0], "cms");
    assert_eq!(
        spec["paths"]["/v1/webhook-endpoints"]["get"]["tags"][0],
        "webhook endpoints"
    );
}

/// The per-network vote bound is stated in the votes operation's prose; it must be the bound the
/// service enforces.
#[test]
fn the_vote_bound_the_document_states_is_the_one_enforced() {
    let spec: serde_json::Value = serde_json::from_str(&openapi_json().unwrap()).unwrap();
    let description = spec["paths"]["/v1/reviews/{id}/votes"]["post"]["description"]
        .as_str()
        .expect("the votes operation is described");
    let stated = format!(
        "at most {} new voters",
        marginalia::domain::reaction::VOTES_PER_NETWORK_PER_DAY
    );
    assert!(description.contains(&stated), "{description}");
}
