//! Access control, table-driven from the app's own OpenAPI document: every operation that
//! declares API key security answers its documented 401 to no key, an unknown key, a malformed
//! `Authorization` and a revoked key, and its documented 403 to a key of each scope its `security`
//! does not admit; every operation signed by the CMS answers its 401 to no signature, a malformed
//! one and one under a secret the service does not hold. So no operation can ship with its access
//! untested, and the scopes the document publishes are the ones the service enforces.

use marginalia::auth::{self, Scope};
use marginalia::store;
use reqwest::Method;
use serde_json::Value;

use crate::common::{expect_problem, spawn_app, TestApp};

/// The installation's own operations, which a key of any site may call.
fn is_installation_path(path: &str) -> bool {
    path == "/v1/me" || path.starts_with("/v1/sites")
}

/// Every scope a key can have; `admin` may do everything, so only the others can be refused.
const REFUSABLE: [Scope; 2] = [Scope::Cms, Scope::Moderator];

/// Path parameters that parse (so that auth, not parsing, decides), naming nothing that exists.
fn valid_looking(path: &str) -> String {
    let mut url = String::new();
    for segment in path.split('/').skip(1) {
        url.push('/');
        match segment {
            "{article_id}" => url.push_str("voa-2020-05-access-table"),
            "{site_id}" => url.push_str("access-table"),
            s if s.starts_with('{') => url.push_str(&uuid::Uuid::now_v7().to_string()),
            literal => url.push_str(literal),
        }
    }
    url
}

/// The scopes the operation's `security` admits (`api_key`, or a scope's own scheme such as
/// `moderator_key`): `None` when it takes no key, `Some(empty)` when any valid key will do.
fn admitted(operation: &Value) -> Option<Vec<String>> {
    match auth::Admits::published(&operation["security"])? {
        auth::Admits::AnyKey => Some(Vec::new()),
        auth::Admits::OneOf(scopes) => Some(scopes.iter().map(|s| s.to_string()).collect()),
    }
}

async fn call(
    app: &TestApp,
    method: &Method,
    url: &str,
    has_body: bool,
    authorization: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.request(method.clone(), app.url(url));
    if has_body {
        // Well-formed JSON that breaks the body's rules: a 422 would mean the body was read first.
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.expect("the request is answered")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_secured_operation_refuses_what_its_security_does_not_admit() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;

    // A key that worked once: created with every scope, then revoked.
    let revoked = auth::generate_key();
    let row = store::api_keys::create(
        &app.pool,
        "revoked",
        &["admin".into()],
        None,
        &revoked.digest,
    )
    .await
    .expect("create the key to revoke");
    assert!(store::api_keys::revoke(&app.pool, row.id)
        .await
        .expect("revoke the key"));
    let listed = store::api_keys::list(&app.pool).await.expect("list keys");
    assert!(
        listed
            .iter()
            .any(|key| key.id == row.id && key.revoked_at.is_some()),
        "the key is stored as revoked"
    );
    let unknown = auth::generate_key().secret;
    let mut scoped = Vec::new();
    for scope in REFUSABLE {
        scoped.push((scope, app.api_key(&[scope]).await));
    }
    // A key with every scope, of another site: refused by every operation of the default site.
    let other = marginalia::domain::site::SiteId::parse("other", "site").unwrap();
    store::sites::create(&app.pool, &other, "Another site")
        .await
        .expect("the other site is stored");
    let other_site = app.site_key("other", &Scope::ALL).await;

    let mut secured = 0;
    let mut signed = 0;
    let mut refusals = 0;
    let mut problems = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            if takes_signature(operation) {
                signed += 1;
                refuse_unsigned(&app, path, operation, &mut problems).await;
                continue;
            }
            let Some(scopes) = admitted(operation) else {
                continue;
            };
            secured += 1;
            let responses = &operation["responses"];
            if !responses["401"].is_object() {
                problems.push(format!("{name} takes an API key but documents no 401"));
            }
            let refusable: Vec<Scope> = REFUSABLE
                .into_iter()
                .filter(|scope| !scopes.is_empty() && !scopes.contains(&scope.to_string()))
                .collect();
            if !refusable.is_empty() && !responses["403"].is_object() {
                problems.push(format!("{name} refuses some scopes but documents no 403"));
            }
            let installation = is_installation_path(path);
            let installation_admin = installation && method == "put";
            if !installation && !responses["403"].is_object() {
                problems.push(format!(
                    "{name} refuses keys of other sites but documents no 403"
                ));
            }
            if refusable.is_empty()
                && installation
                && !installation_admin
                && responses["403"].is_object()
            {
                problems.push(format!(
                    "{name} documents a 403 that no key can meet (it admits {scopes:?})"
                ));
            }

            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = valid_looking(path);
            let has_body = operation["requestBody"].is_object();
            let unauthenticated = [
                ("no key", None),
                (
                    "a malformed Authorization",
                    Some("Basic dXNlcjpwYXNz".to_owned()),
                ),
                ("an unknown key", Some(format!("Bearer {unknown}"))),
                ("a revoked key", Some(format!("Bearer {}", revoked.secret))),
            ];
            for (what, authorization) in unauthenticated {
                let response = call(&app, &method, &url, has_body, authorization.as_deref()).await;
                if response.status() != 401 {
                    problems.push(format!(
                        "{name} with {what}: {} {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    ));
                    continue;
                }
                let problem = expect_problem(response, 401).await;
                assert_eq!(problem["type"], "urn:marginalia:problem:unauthorized");
                refusals += 1;
            }
            if !installation || installation_admin {
                let bearer = format!("Bearer {other_site}");
                let response = call(&app, &method, &url, has_body, Some(&bearer)).await;
                let problem = expect_problem(response, 403).await;
                let detail = problem["detail"].as_str().unwrap();
                let expected = if installation {
                    "installation-wide `admin` key"
                } else {
                    "not for site `default`"
                };
                assert!(
                    detail.contains(expected),
                    "{name} with a key of another site: {detail}"
                );
                refusals += 1;
            }
            for (scope, key) in scoped.iter().filter(|(s, _)| refusable.contains(s)) {
                let bearer = format!("Bearer {key}");
                let response = call(&app, &method, &url, has_body, Some(&bearer)).await;
                if response.status() != 403 {
                    problems.push(format!(
                        "{name} with a `{scope}` key: {} {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    ));
                    continue;
                }
                let problem = expect_problem(response, 403).await;
                assert_eq!(problem["type"], "urn:marginalia:problem:forbidden");
                let detail = problem["detail"].as_str().unwrap();
                for admitted in &scopes {
                    assert!(detail.contains(admitted.as_str()), "{name}: {detail}");
                }
                refusals += 1;
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The document's secured operations: the CMS's, the moderators', the data rights, the
    // webhook endpoints and /v1/me. Fewer would mean the walk missed some.
    assert!(secured >= 20, "only {secured} secured operations found");
    assert!(refusals >= secured * 4, "{refusals} refusals provoked");
    assert!(signed >= 1, "no operation signed by the CMS found");
}

fn takes_signature(operation: &Value) -> bool {
    operation["security"]
        .as_array()
        .is_some_and(|alternatives| {
            alternatives
                .iter()
                .any(|a| a.get("cms_signature").is_some())
        })
}

/// A CMS event without a valid signature: 401 whatever the body holds.
async fn refuse_unsigned(app: &TestApp, path: &str, operation: &Value, problems: &mut Vec<String>) {
    let name = format!("POST {path}");
    if !operation["responses"]["401"].is_object() {
        problems.push(format!("{name} takes a signature but documents no 401"));
    }
    let body = br#"{"type":"article.published","timestamp":"2026-12-04T16:00:00Z","data":{}}"#;
    let now = chrono::Utc::now().timestamp();
    // A well-formed secret the service was never given: as a secret that was rotated out.
    let foreign = standardwebhooks::Webhook::new("whsec_QmFzZTY0U2VjcmV0Rm9yT3RoZXJDTVMxMjM0NTY=")
        .unwrap()
        .sign("msg_access_table", now, body)
        .unwrap();
    let cases = [
        ("no signature", None),
        ("a malformed signature", Some("v1,not-base64!".to_owned())),
        ("a signature under a foreign secret", Some(foreign)),
    ];
    for (what, signature) in cases {
        let mut request = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request
                .header("webhook-id", "msg_access_table")
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", signature);
        }
        let response = request.send().await.expect("the request is answered");
        if response.status() != 401 {
            problems.push(format!("{name} with {what}: {}", response.status()));
            continue;
        }
        let problem = expect_problem(response, 401).await;
        assert_eq!(problem["type"], "urn:marginalia:problem:unauthorized");
    }
}

/// The scopes the document publishes are enough for the operation: a key with exactly one
/// admitted scope passes the access check (whatever the operation then answers of the request).
#[tokio::test(flavor = "multi_thread")]
async fn every_published_scope_is_admitted() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(scopes) = admitted(operation) else {
                continue;
            };
            let scopes: Vec<Scope> = if scopes.is_empty() {
                REFUSABLE.to_vec()
            } else {
                scopes.iter().map(|s| s.parse().unwrap()).collect()
            };
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = valid_looking(path);
            for scope in scopes {
                let bearer = format!("Bearer {}", app.api_key(&[scope]).await);
                let response = call(
                    &app,
                    &method,
                    &url,
                    operation["requestBody"].is_object(),
                    Some(&bearer),
                )
                .await;
                let status = response.status().as_u16();
                assert!(
                    status != 401 && status != 403 && status != 500,
                    "{method} {path} with a `{scope}` key: {status} {}",
                    response.text().await.unwrap_or_default()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} operations checked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_percent_encoded_path_meets_the_same_policy_as_the_plain_one() {
    let app = spawn_app().await;
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let cms = app.api_key(&[Scope::Cms]).await;
    // `%71` is `q`: the router serves the queue, so the queue's scopes must decide.
    let encoded = "/v1/moderation/%71ueue";
    let admitted = app.get_with_key(&moderator, encoded).await;
    assert_eq!(admitted.status(), 200, "a moderator reads the queue");
    let refused = app.get_with_key(&cms, encoded).await;
    expect_problem(refused, 403).await;
    let anonymous = app.client.get(app.url(encoded)).send().await.unwrap();
    expect_problem(anonymous, 401).await;
}
