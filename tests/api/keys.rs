//! `marginalia keys create|list|revoke` against the service's database.

use crate::common::{marginalia, spawn_app};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_created_key_works_until_revoked() {
    let app = spawn_app().await;
    let created = marginalia(
        &app.database_url,
        &["keys", "create", "--name", "cms-prod", "--scope", "cms"],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("mrg_"));
    let stderr = String::from_utf8(created.stderr).unwrap();
    let id = stderr
        .split_whitespace()
        .nth(2)
        .expect("`Created key <id> …`")
        .to_owned();

    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM api_keys WHERE octet_length(key_hash) = 32 \
             AND position(convert_to('{secret}', 'UTF8') IN key_hash) = 0"
        ))
        .await,
        1,
        "only a 32-byte digest is stored, never the secret"
    );
    let listed = marginalia(&app.database_url, &["keys", "list"]);
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(listing.contains("cms-prod") && listing.contains(&id));
    assert!(!listing.contains(&secret), "list never shows secrets");

    let bearer = format!("Bearer {secret}");
    let body = json!({"title": "Keyed"});
    let put = || app.put_article("keyed", Some(&bearer), &body);
    assert!(put().await.status().is_success());

    let revoked = marginalia(&app.database_url, &["keys", "revoke", &id]);
    assert!(revoked.status.success());
    assert_eq!(put().await.status(), 401);
    let again = marginalia(&app.database_url, &["keys", "revoke", &id]);
    assert!(!again.status.success(), "revoking twice is an error");

    let bad_scope = marginalia(
        &app.database_url,
        &["keys", "create", "--name", "x", "--scope", "root"],
    );
    assert!(!bad_scope.status.success());
}
