//! Readers the newsroom knows: a site's login signs a token for its signed-in reader, the
//! widget passes it along, and the review is theirs (their name, their badges, their id for the
//! moderators). Each supported algorithm is accepted; each refused class is refused, by name; a
//! key rotated in the site's JWKS works without a restart.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use marginalia::auth::Scope;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::webhooks::Receiver;
use crate::common::{spawn_app_with, TestApp};

pub(crate) const SITE: &str = "uk";
const ARTICLE: &str = "kyiv-metro-flooding";
pub(crate) const HS_SECRET: &str = "a-secret-the-newsroom-login-shares-with-marginalia-uk";

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/reader-keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn rsa(name: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&pem(name)).unwrap()
}

fn ed25519() -> EncodingKey {
    EncodingKey::from_ed_pem(&pem("ed25519.pem")).unwrap()
}

/// The public half of `key`, as a JWK named `kid`.
fn public_jwk(key: &EncodingKey, algorithm: Algorithm, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, algorithm).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).unwrap()
}

fn jwks(keys: &[Value]) -> Value {
    let set: JwkSet = serde_json::from_value(json!({ "keys": keys })).unwrap();
    serde_json::to_value(set).unwrap()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A reader's claims for the site, valid for ten minutes.
fn claims() -> Value {
    json!({
        "sub": "wp-user-17",
        "aud": format!("marginalia:{SITE}"),
        "exp": now() + 600,
        "iat": now(),
        "name": "Олена Коваль",
        "badges": ["subscriber", "expert"],
    })
}

fn sign(algorithm: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub(crate) fn hs256(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()).unwrap(),
        None,
        claims,
    )
}

/// The newsroom's site: HS256 with its secret, an Ed25519 key set in its settings, and RSA keys
/// from its JWKS URL (served by `jwks`); reviews only from signed-in readers.
async fn site_with_reader_tokens(app: &TestApp, jwks_url: &str) {
    let admin = app.api_key(&[Scope::Admin]).await;
    let put = app
        .with_key(
            &admin,
            Method::PUT,
            &format!("/v1/sites/{SITE}"),
            Some(&json!({
                "name": "Українська служба",
                "reader_tokens": {
                    "secrets": [HS_SECRET],
                    "keys": jwks(&[public_jwk(&ed25519(), Algorithm::EdDSA, "ed-1")]),
                    "jwks_url": jwks_url,
                    "anonymous_reviews": false,
                },
            })),
        )
        .await;
    assert_eq!(put.status(), 201, "{:?}", put.text().await);
    let shown: Value = put.json().await.unwrap();
    assert_eq!(
        shown["reader_tokens"]["secrets"], 1,
        "secrets are counted, never shown"
    );
    assert_eq!(shown["reader_tokens"]["anonymous_reviews"], false);
}

async fn submit_as(app: &TestApp, token: Option<&str>, text: &str) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(&format!("/sites/{SITE}/v1/articles/{ARTICLE}/reviews")))
        .json(&json!({"rating": 5, "body": text, "author_name": "typed name"}));
    if let Some(token) = token {
        request = request.header("marginalia-reader", token);
    }
    request.send().await.unwrap()
}

async fn app_and_jwks() -> (TestApp, Receiver) {
    let app = spawn_app_with(|settings| settings.limits.rate_limit_reviews = 0).await;
    let jwks_server = Receiver::start(0);
    jwks_server.answer_ok_with(
        jwks(&[public_jwk(&rsa("rsa.pem"), Algorithm::RS256, "rsa-1")])
            .to_string()
            .as_bytes(),
    );
    site_with_reader_tokens(&app, &jwks_server.url).await;
    (app, jwks_server)
}

#[tokio::test]
async fn a_token_signed_by_each_supported_algorithm_is_accepted() {
    let (app, jwks_server) = app_and_jwks().await;
    let tokens = [
        ("HS256", hs256(&claims())),
        (
            "RS256",
            sign(Algorithm::RS256, &rsa("rsa.pem"), Some("rsa-1"), &claims()),
        ),
        (
            "EdDSA",
            sign(Algorithm::EdDSA, &ed25519(), Some("ed-1"), &claims()),
        ),
    ];
    for (algorithm, token) in &tokens {
        let created = submit_as(&app, Some(token), &format!("Signed in, {algorithm}")).await;
        assert_eq!(
            created.status(),
            201,
            "{algorithm}: {:?}",
            created.text().await
        );
        let review: Value = created.json().await.unwrap();
        assert_eq!(review["verified"], true, "{algorithm}");
        assert_eq!(review["badges"], json!(["expert", "subscriber"]));
        assert_eq!(
            review["author_name"], "Олена Коваль",
            "the login's name, not the typed one"
        );
        let id = review["id"].as_str().unwrap();
        let stored = app
            .count_where(&format!(
                "SELECT count(*) AS n FROM reviews WHERE id = '{id}' AND reader_id = 'wp-user-17'"
            ))
            .await;
        assert_eq!(
            stored, 1,
            "{algorithm}: the reader's id is kept for the moderators"
        );
    }
    assert_eq!(
        jwks_server.requests().len(),
        1,
        "the JWKS was fetched once and cached"
    );
    let page = app
        .get_json(&format!("/sites/{SITE}/v1/articles/{ARTICLE}/reviews"))
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items
        .iter()
        .all(|item| item["verified"] == true && item.get("reader_id").is_none()));
}

#[tokio::test]
async fn each_refused_class_is_refused_by_name() {
    let (app, _jwks) = app_and_jwks().await;
    let with = |change: Value| {
        let mut claims = claims();
        for (name, value) in change.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    // {"alg":"none"} with valid claims and no signature.
    let unsigned = {
        use base64::Engine;
        let encode = |value: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
        };
        format!(
            "{}.{}.",
            encode(&json!({"alg": "none", "typ": "JWT"})),
            encode(&claims())
        )
    };
    // The RSA public key used as an HMAC secret, naming the RSA key: algorithm confusion.
    let public_pem = {
        let jwk = public_jwk(&rsa("rsa.pem"), Algorithm::RS256, "rsa-1");
        jwk.to_string()
    };
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(public_pem.as_bytes()).unwrap(),
        Some("rsa-1"),
        &claims(),
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("required", None),
        // A signed-out page that still sends the header, empty: no token, so one is required.
        ("required", Some(String::new())),
        ("malformed", Some("not.a.token".to_owned())),
        ("unsigned", Some(unsigned)),
        ("algorithm_not_allowed", Some(confused)),
        (
            "algorithm_not_allowed",
            Some(sign(
                Algorithm::HS384,
                &EncodingKey::from_secret(HS_SECRET.as_bytes()).unwrap(),
                None,
                &claims(),
            )),
        ),
        (
            "unknown_key",
            Some(sign(
                Algorithm::RS256,
                &rsa("rsa.pem"),
                Some("no-such-key"),
                &claims(),
            )),
        ),
        (
            "bad_signature",
            Some(sign(
                Algorithm::RS256,
                &rsa("rsa-rotated.pem"),
                Some("rsa-1"),
                &claims(),
            )),
        ),
        (
            "bad_signature",
            Some(sign(
                Algorithm::HS256,
                &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!").unwrap(),
                None,
                &claims(),
            )),
        ),
        ("expired", Some(hs256(&with(json!({"exp": now() - 3600}))))),
        (
            "not_yet_valid",
            Some(hs256(&with(json!({"nbf": now() + 3600})))),
        ),
        (
            "wrong_audience",
            Some(hs256(&with(json!({"aud": "someone-else"})))),
        ),
        (
            "wrong_site",
            Some(hs256(&with(json!({"aud": "marginalia:default"})))),
        ),
        (
            "bad_claims",
            Some(hs256(&with(json!({"badges": ["Staff"]})))),
        ),
        ("bad_claims", Some(hs256(&with(json!({"sub": ""}))))),
    ];
    for (class, token) in cases {
        let refused = submit_as(&app, token.as_deref(), "Should not be stored").await;
        assert_eq!(refused.status(), 401, "{class}");
        let problem: Value = refused.json().await.unwrap();
        let error = &problem["errors"][0];
        assert_eq!(error["field"], "Marginalia-Reader", "{class}: {problem}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{class}:")),
            "{class}: {problem}"
        );
        for secret in [HS_SECRET, "BEGIN", "rsa-1"] {
            assert!(
                !problem.to_string().contains(secret),
                "{class} tells too much: {problem}"
            );
        }
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM reviews").await,
        0,
        "nothing refused was stored"
    );
    // A site without reader tokens takes none.
    let elsewhere = app
        .client
        .post(app.url(&format!("/v1/articles/{ARTICLE}/reviews")))
        .header("marginalia-reader", hs256(&claims()))
        .json(&json!({"rating": 5, "body": "On the default site"}))
        .send()
        .await
        .unwrap();
    let problem: Value = elsewhere.json().await.unwrap();
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not_accepted:"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_key_rotated_into_the_sites_jwks_works_without_a_restart() {
    let (app, jwks_server) = app_and_jwks().await;
    let first = sign(Algorithm::RS256, &rsa("rsa.pem"), Some("rsa-1"), &claims());
    let created = submit_as(&app, Some(&first), "With the first key").await;
    assert_eq!(created.status(), 201);

    // The site publishes its new key beside the old one, and its login starts using it.
    jwks_server.answer_ok_with(
        jwks(&[
            public_jwk(&rsa("rsa.pem"), Algorithm::RS256, "rsa-1"),
            public_jwk(&rsa("rsa-rotated.pem"), Algorithm::RS256, "rsa-2"),
        ])
        .to_string()
        .as_bytes(),
    );
    let rotated = sign(
        Algorithm::RS256,
        &rsa("rsa-rotated.pem"),
        Some("rsa-2"),
        &claims(),
    );
    // The set is fetched again for an unknown key, at most every 2 s: the first tries may come
    // too soon after the first fetch.
    crate::common::wait::until(
        Duration::from_secs(20),
        "the rotated key accepted",
        || async {
            submit_as(&app, Some(&rotated), "With the rotated key")
                .await
                .status()
                == 201
        },
    )
    .await;
    assert_eq!(
        jwks_server.requests().len(),
        2,
        "fetched once more, not per request"
    );
    let old = submit_as(&app, Some(&first), "The old key still works").await;
    assert_eq!(old.status(), 201);
}
