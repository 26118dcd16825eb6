//! The widget's files and demo page, as a newsroom's page and a browser fetch them.

use std::io::Read;

use crate::common::{spawn_app, spawn_app_with, TestApp};

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

/// One answer, as a client that sends `accept_encoding` (and maybe `If-None-Match`) gets it.
struct Served {
    status: u16,
    encoding: Option<String>,
    etag: String,
    vary: String,
    cache_control: String,
    body: Vec<u8>,
}

async fn fetch(app: &TestApp, path: &str, accept_encoding: &str, etag: Option<&str>) -> Served {
    let mut request = app
        .client
        .get(app.url(path))
        .header("accept-encoding", accept_encoding);
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    Served {
        status: response.status().as_u16(),
        encoding: header("content-encoding"),
        etag: header("etag").unwrap_or_default(),
        vary: header("vary").unwrap_or_default(),
        cache_control: header("cache-control").unwrap_or_default(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// Whether a `Vary` value names `Accept-Encoding` (CORS adds its own names beside it).
fn varies_by_encoding(vary: &str) -> bool {
    vary.split(',')
        .any(|name| name.trim().eq_ignore_ascii_case("accept-encoding"))
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut plain)
        .unwrap();
    plain
}

fn unbrotli(body: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    brotli::Decompressor::new(body, 4096)
        .read_to_end(&mut plain)
        .unwrap();
    plain
}

/// The widget's and the console's files go out gzip- or brotli-encoded as `Accept-Encoding`
/// asks, with or without MARGINALIA_COMPRESSION: each form decodes to the same bytes, has its own
/// ETag (a 304 for it), and every answer varies by `Accept-Encoding`.
#[tokio::test]
async fn static_files_go_out_precompressed_in_the_encoding_asked_for() {
    for compression in [false, true] {
        let app = spawn_app_with(|settings| {
            settings.server.compression = compression;
        })
        .await;
        let mut sizes = Vec::new();
        for path in [
            "/widget.js",
            "/widget.css",
            "/console/",
            "/console/console.js",
        ] {
            let plain = fetch(&app, path, "identity", None).await;
            assert_eq!(plain.status, 200, "{path}");
            assert_eq!(plain.encoding, None, "{path}");
            assert!(!plain.body.is_empty(), "{path}");
            let gzip = fetch(&app, path, "gzip", None).await;
            assert_eq!(gzip.encoding.as_deref(), Some("gzip"), "{path}");
            assert_eq!(
                gunzip(&gzip.body),
                plain.body,
                "{path}: gzip decodes to the file"
            );
            let brotli = fetch(&app, path, "gzip, deflate, br, zstd", None).await;
            assert_eq!(brotli.encoding.as_deref(), Some("br"), "{path}");
            assert_eq!(
                unbrotli(&brotli.body),
                plain.body,
                "{path}: brotli decodes to it"
            );
            // q-values decide, not the order or the server's preference.
            let preferred = fetch(&app, path, "br;q=0.5, gzip;q=0.9", None).await;
            assert_eq!(preferred.encoding.as_deref(), Some("gzip"), "{path}");
            let refused = fetch(&app, path, "br;q=0, gzip;q=0, identity", None).await;
            assert_eq!(refused.encoding, None, "{path}");
            assert_eq!(refused.body, plain.body, "{path}");

            let forms = [(&plain, "identity"), (&gzip, "gzip"), (&brotli, "br")];
            for (served, accept) in forms {
                assert!(varies_by_encoding(&served.vary), "{path} {accept}");
                let again = fetch(&app, path, accept, Some(&served.etag)).await;
                assert_eq!(
                    again.status, 304,
                    "{path} {accept}: revalidated by its own ETag"
                );
                assert!(again.body.is_empty());
                assert_eq!(again.etag, served.etag);
                assert!(varies_by_encoding(&again.vary), "{path} {accept}");
            }
            assert!(
                plain.etag != gzip.etag && gzip.etag != brotli.etag && plain.etag != brotli.etag,
                "{path}: one ETag per form"
            );
            // A cache holding the gzip bytes cannot validate them for a brotli request.
            let mismatched = fetch(&app, path, "br", Some(&gzip.etag)).await;
            assert_eq!(mismatched.status, 200, "{path}");
            assert_eq!(mismatched.encoding.as_deref(), Some("br"));
            assert!(brotli.body.len() < gzip.body.len() && gzip.body.len() < plain.body.len());
            sizes.push((path, plain.body.len(), gzip.body.len(), brotli.body.len()));
        }
        // The figures docs/widget.md quotes (`cargo test --test api static_files -- --nocapture`).
        for (path, plain, gzip, brotli) in sizes {
            println!("{path}: {plain} B plain, {gzip} B gzip, {brotli} B brotli");
        }
    }
}

/// The script links its stylesheet by content hash; that URL may be cached for a year, the
/// unversioned ones (the embed snippet's `widget.js`) only briefly, and a stale or made-up version
/// never for long.
#[tokio::test]
async fn the_versioned_stylesheet_is_cached_for_good_and_the_embed_url_briefly() {
    let app = spawn_app().await;
    let script = fetch(&app, "/widget.js", "identity", None).await;
    assert_eq!(script.cache_control, "public, max-age=300");
    let script = String::from_utf8(script.body).unwrap();
    let (_, rest) = script
        .split_once("/widget.css?v=")
        .expect("the script links a versioned stylesheet");
    let version: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
    assert_eq!(version.len(), 16, "{rest:.40}");

    let css = fetch(&app, "/widget.css", "identity", None).await;
    assert_eq!(css.cache_control, "public, max-age=300");
    assert_eq!(
        css.etag,
        format!("\"{version}\""),
        "the version is the content's tag"
    );
    for accept in ["identity", "gzip", "br"] {
        let versioned = fetch(&app, &format!("/widget.css?v={version}"), accept, None).await;
        assert_eq!(versioned.status, 200);
        assert_eq!(
            versioned.cache_control, "public, max-age=31536000, immutable",
            "{accept}"
        );
        assert!(varies_by_encoding(&versioned.vary), "{accept}");
    }
    let stale = fetch(&app, "/widget.css?v=0123456789abcdef", "br", None).await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.cache_control, "public, max-age=300");
}

#[tokio::test]
async fn a_version_that_is_no_content_hash_is_a_problem_naming_it() {
    let app = spawn_app().await;
    for path in ["/widget.css?v=2", "/widget.js?v=0123456789ABCDEF"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let problem = crate::common::expect_problem(response, 400).await;
        assert_eq!(problem["errors"][0]["field"], "v", "{path}: {problem}");
    }
}

/// The pages, files and probes served beside the API are no operations of the document, yet are
/// routed as the operations are: served to GET and HEAD, a 405 naming `GET, HEAD` to other
/// methods, and the console's missing files a 404 problem.
#[tokio::test(flavor = "multi_thread")]
async fn pages_are_served_beside_the_api_but_are_not_in_its_document() {
    let app = spawn_app().await;
    let document = app.get_json("/openapi.json").await;
    let paths = document["paths"].as_object().unwrap();
    for page in marginalia::api::PAGES {
        let url = page
            .replace("{article_id}", "voa-2020-05-pages")
            .replace("{file:.+}", "views/queue.js");
        let documented = page.replace(":.+", "");
        assert!(
            !paths.contains_key(&documented),
            "{page} is in the document"
        );
        assert_eq!(app.get(&url).await.status(), 200, "GET {url}");
        let head = app.client.head(app.url(&url)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {url}");
        let post = app.client.post(app.url(&url)).send().await.unwrap();
        assert_eq!(post.headers()["allow"], "GET, HEAD", "POST {url}");
        crate::common::expect_problem(post, 405).await;
    }
    let missing = app.get("/console/views/no-such-view.js").await;
    let problem = crate::common::expect_problem(missing, 404).await;
    assert_eq!(problem["type"], "urn:marginalia:problem:not-found");
    assert_eq!(
        problem["detail"],
        "the console has no file `views/no-such-view.js`"
    );
}
