//! The widget's files and demo page, as a newsroom's page and a browser fetch them.

use crate::common::spawn_app;

#[tokio::test]
async fn the_widget_is_served_with_validators_and_the_demo_under_a_strict_policy() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/widget.js", "text/javascript; charset=utf-8"),
        ("/widget.css", "text/css; charset=utf-8"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert!(!response.text().await.unwrap().is_empty());
        // A browser revalidating its copy downloads nothing.
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    }

    let demo = app.get("/demo/voa-2020-05-iskp-attacks").await;
    assert_eq!(demo.status(), 200);
    let policy = demo.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe"),
        "{policy}"
    );
    let page = demo.text().await.unwrap();
    assert!(
        page.contains(r#"data-article-id="voa-2020-05-iskp-attacks""#),
        "{page}"
    );
    assert!(!page.contains("{{"), "every placeholder is filled");

    let bad = app.get("/demo/not%20an%20id").await;
    assert_eq!(bad.status(), 400);
}
