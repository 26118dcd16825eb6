//! A newsroom brings its readers' past comments along: `marginalia import` from Disqus,
//! WordPress, Remark42, Commento, Isso and Marginalia's own export (docs/import.md), run as the
//! real binary against a test app's database, the results read through the public API.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use marginalia::auth::Scope;
use marginalia::domain::import::article_id_for_url;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::wait::until;
use crate::common::{spawn_app, spawn_app_with, TestApp};

const THREAD_A: &str = "voa-2020-05-iskp-attacks";
const URL_A: &str =
    "https://news.example.org/a/islamic-state-afghan-affiliate-claims-deadly-attacks";
const URL_B: &str = "https://news.example.org/a/kunar-province-cleared";
const URL_C: &str = "https://news.example.org/a/kabul-maternity-ward-attack";

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

/// A source file of `format` as a reader of the docs would have it: the fixture itself, the
/// Remark42 backup gzipped, Isso's database built from its SQL.
fn source_file(format: &str, dir: &Path) -> PathBuf {
    match format {
        "disqus" => fixture_path("disqus.xml"),
        "wordpress" => fixture_path("wordpress.xml"),
        "commento" => fixture_path("commento.json"),
        "marginalia" => fixture_path("marginalia.ndjson"),
        "remark42" => {
            let plain = std::fs::read(fixture_path("remark42.backup")).expect("the fixture");
            let path = dir.join("remark42.backup.gz");
            let file = std::fs::File::create(&path).expect("a temporary file");
            let mut gzip = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            gzip.write_all(&plain).expect("gzipped");
            gzip.finish().expect("gzipped");
            path
        }
        "isso" => {
            let path = dir.join("comments.db");
            if path.exists() {
                return path;
            }
            let sql = std::fs::read_to_string(fixture_path("isso.sql")).expect("the fixture");
            let db = rusqlite::Connection::open(&path).expect("a SQLite file");
            db.execute_batch(&sql).expect("Isso's schema and rows");
            path
        }
        other => panic!("no fixture for {other}"),
    }
}

/// What `marginalia import` answered: whether it exited successfully, and its JSON report.
struct Imported {
    success: bool,
    report: Value,
    stderr: String,
}

/// Runs `marginalia import <format> <file> --site default --json <extra…>` on `app`'s database.
async fn import(app: &TestApp, format: &str, file: &Path, extra: &[&str]) -> Imported {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .args(["import", format])
        .arg(file)
        .args(["--site", "default", "--json"])
        .args(extra)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // A run refused before it starts (the site, the lock) prints no report.
    let report = if out.stdout.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|error| panic!("a JSON report ({error}); stderr: {stderr}"))
    };
    Imported {
        success: out.status.success(),
        report,
        stderr,
    }
}

/// The report's counts that a test states exactly (the rest: format, site, dry run).
fn counts(report: &Value) -> Value {
    let mut counts = report.clone();
    for field in ["format", "site", "dry_run"] {
        counts.as_object_mut().expect("an object").remove(field);
    }
    counts
}

/// Every public review of an article, oldest first.
async fn public_reviews(app: &TestApp, article: &str) -> Vec<Value> {
    let page = app
        .get_json(&format!(
            "/v1/articles/{article}/reviews?sort=oldest&limit=100"
        ))
        .await;
    assert_eq!(page["next_cursor"], Value::Null, "one page holds them");
    page["items"].as_array().expect("reviews").clone()
}

/// What every import of a fixture must show publicly: no markup, replies pointing at reviews of
/// the same page, stats that count the unrated reviews without averaging them.
async fn check_public_reads(
    app: &TestApp,
    article: &str,
    replies: usize,
    rated: i64,
    from_html: bool,
) -> Vec<Value> {
    let reviews = public_reviews(app, article).await;
    let ids: Vec<&Value> = reviews.iter().map(|review| &review["id"]).collect();
    let linked: Vec<&Value> = reviews
        .iter()
        .filter(|review| !review["in_reply_to"].is_null())
        .collect();
    assert_eq!(linked.len(), replies, "{reviews:#?}");
    for reply in linked {
        assert!(ids.contains(&&reply["in_reply_to"]), "{reply}");
    }
    // HTML sources lose their markup; a plain-text source (Isso's Markdown, our export) keeps
    // what the reader typed, which every page escapes.
    for review in reviews.iter().filter(|_| from_html) {
        let body = review["body"].as_str().expect("a body");
        assert!(!body.contains('<') && !body.contains("alert("), "{body}");
    }
    let texts: String = reviews.iter().filter_map(|r| r["body"].as_str()).collect();
    assert!(
        texts.contains('🙏') || texts.contains('👍'),
        "emoji kept: {texts}"
    );
    let stats = app.get_json(&format!("/v1/articles/{article}/stats")).await;
    assert_eq!(stats["review_count"], reviews.len());
    assert_eq!(stats["rated_count"], rated);
    if rated == 0 {
        assert_eq!(stats["average"], Value::Null);
    }
    reviews
}

#[tokio::test]
async fn a_disqus_export_imports_with_threads_spam_and_replies_kept() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let imported = import(&app, "disqus", &source_file("disqus", dir.path()), &[]).await;
    assert!(imported.success, "{}", imported.stderr);
    assert_eq!(
        counts(&imported.report),
        json!({
            "read": 9, "imported": 8, "updated": 0, "unchanged": 0,
            "skipped": {"deleted_without_text": 1},
            "by_status": {"published": 7, "spam": 1},
            "orphans": 1, "replies": 2, "articles_created": 3,
            "unmapped_threads": [], "dropped_fields": {}, "stopped": null
        })
    );
    let thread_a = check_public_reads(&app, THREAD_A, 2, 0, true).await;
    assert_eq!(thread_a.len(), 4, "the spam post is not public");
    assert_eq!(
        thread_a[0]["created_at"], "2020-05-14T10:15:00Z",
        "original time"
    );
    assert_eq!(thread_a[0]["rating"], Value::Null);
    assert!(thread_a
        .iter()
        .any(|review| review["body"]
            == "مقالة جيدة جداً\n\nSee VOA (https://www.voanews.com/) and this."));
    // The empty <id> thread is keyed by its URL (Isso lost these).
    let thread_b = public_reviews(&app, &article_id_for_url(URL_B)).await;
    assert_eq!(thread_b.len(), 2);
    assert!(
        thread_b
            .iter()
            .all(|review| review["in_reply_to"].is_null()),
        "the orphan stands alone"
    );
    assert!(thread_b
        .iter()
        .any(|review| review["body"] == "כתבה חשובה & מאוזנת"));
    let thread_c = public_reviews(&app, "voa-2020-05-kabul-hospital").await;
    assert_eq!(thread_c[0]["created_at"], "2020-05-13T03:45:00Z");
    let article = app
        .get_json("/v1/articles/voa-2020-05-kabul-hospital")
        .await;
    assert_eq!(article["url"], URL_C);
    let daily = app
        .get_json(&format!(
            "/v1/articles/{THREAD_A}/stats/daily?from=2020-05-01&to=2020-05-31"
        ))
        .await;
    let counted: i64 = daily["days"]
        .as_array()
        .expect("days")
        .iter()
        .map(|day| day["review_count"].as_i64().expect("a count"))
        .sum();
    assert_eq!(counted, 4, "counted on the days they were written");
}

#[tokio::test]
async fn every_other_format_imports_with_its_exact_report() {
    let cases = [
        (
            "wordpress",
            json!({"read": 10, "imported": 8, "skipped": {"pingback": 1, "trackback": 1},
                   "by_status": {"deleted": 2, "pending": 1, "published": 4, "spam": 1},
                   "orphans": 1, "replies": 2, "articles_created": 2}),
            "wp-12",
        ),
        (
            "remark42",
            json!({"read": 8, "imported": 7, "skipped": {"deleted_without_text": 1},
                   "by_status": {"published": 7}, "orphans": 1, "replies": 2,
                   "articles_created": 3}),
            "",
        ),
        (
            "commento",
            json!({"read": 8, "imported": 7, "skipped": {"deleted_without_text": 1},
                   "by_status": {"pending": 1, "published": 5, "spam": 1}, "orphans": 1,
                   "replies": 2, "articles_created": 3}),
            "",
        ),
        (
            "isso",
            json!({"read": 8, "imported": 6, "skipped": {"no_thread": 2},
                   "by_status": {"pending": 1, "published": 5}, "orphans": 0, "replies": 2,
                   "articles_created": 2,
                   "unmapped_threads": ["(a thread with neither identifier nor URL)"]}),
            "",
        ),
        (
            "marginalia",
            json!({"read": 8, "imported": 8, "skipped": {},
                   "by_status": {"deleted": 1, "pending": 1, "published": 4, "rejected": 1,
                                 "spam": 1},
                   "orphans": 1, "replies": 2, "articles_created": 2}),
            THREAD_A,
        ),
    ];
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (format, expected, article) in cases {
        let app = spawn_app().await;
        let base = ["--base-url", "https://news.example.org"];
        let extra: &[&str] = if format == "isso" { &base } else { &[] };
        let imported = import(&app, format, &source_file(format, dir.path()), extra).await;
        assert!(imported.success, "{format}: {}", imported.stderr);
        let mut want = json!({"updated": 0, "unchanged": 0, "unmapped_threads": [],
                              "dropped_fields": {}, "stopped": null});
        for (field, value) in expected.as_object().expect("an object") {
            want[field] = value.clone();
        }
        assert_eq!(counts(&imported.report), want, "{format}");
        let article = match article {
            "" => article_id_for_url(URL_A),
            id => id.to_owned(),
        };
        let plain = ["isso", "marginalia"].contains(&format);
        let rated = if format == "marginalia" { 2 } else { 0 };
        check_public_reads(&app, &article, 2, rated, !plain).await;
    }
}

/// What two imports must agree on, and what a second run must not touch: every imported row,
/// read in a fixed order (articles without their own creation times).
async fn snapshot(app: &TestApp) -> Vec<String> {
    app.texts_where(
        "SELECT coalesce(md5(string_agg(r::text, '|' ORDER BY r.id)), '') AS t FROM reviews r \
         UNION ALL SELECT coalesce(md5(string_agg((a.article_id, a.title, a.url)::text, '|' \
         ORDER BY a.article_id)), '') FROM articles a \
         UNION ALL SELECT coalesce(md5(string_agg(s::text, '|' ORDER BY s.article_id, s.stripe)), '') \
         FROM article_stats s \
         UNION ALL SELECT coalesce(md5(string_agg(d::text, '|' \
         ORDER BY d.article_id, d.day, d.language, d.stripe)), '') FROM article_daily_stats d",
    )
    .await
}

/// The row versions of every table an import writes: a row rewritten with the same values
/// still gets a new one.
async fn row_versions(app: &TestApp) -> Vec<String> {
    let mut versions = Vec::new();
    for table in [
        "reviews",
        "articles",
        "article_stats",
        "article_daily_stats",
        "outbox_events",
    ] {
        versions.extend(
            app.texts_where(&format!(
                "SELECT coalesce(string_agg(xmin::text, ',' ORDER BY xmin::text), '') AS t \
                 FROM {table}"
            ))
            .await,
        );
    }
    versions
}

const EVERY_FORMAT: [&str; 6] = [
    "disqus",
    "wordpress",
    "remark42",
    "commento",
    "isso",
    "marginalia",
];

#[tokio::test]
async fn a_second_run_changes_no_row_and_keeps_a_moderators_rejection() {
    let app = spawn_app_with(|settings| settings.server.read_cache_ttl = Duration::ZERO).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut first = Vec::new();
    for format in EVERY_FORMAT {
        let imported = import(&app, format, &source_file(format, dir.path()), &[]).await;
        assert!(imported.success, "{format}: {}", imported.stderr);
        first.push(imported.report);
    }
    // An editor rejects one imported review after the first run.
    let rejected = public_reviews(&app, THREAD_A).await[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let moderator = app.api_key(&[Scope::Moderator]).await;
    let action = json!({"action": "reject", "review_ids": [rejected], "note": "off topic"});
    let answer = app
        .with_key(
            &moderator,
            Method::POST,
            "/v1/moderation/actions",
            Some(&action),
        )
        .await;
    assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    let before = (snapshot(&app).await, row_versions(&app).await);
    for (format, first) in EVERY_FORMAT.into_iter().zip(&first) {
        let again = import(&app, format, &source_file(format, dir.path()), &[]).await;
        assert!(again.success, "{format}: {}", again.stderr);
        let report = &again.report;
        assert_eq!(
            (&report["imported"], &report["updated"], &report["replies"]),
            (&json!(0), &json!(0), &json!(0)),
            "{format}: {report}"
        );
        assert_eq!(report["unchanged"], first["imported"], "{format}");
        assert_eq!(report["skipped"], first["skipped"], "{format}");
    }
    assert_eq!(
        (snapshot(&app).await, row_versions(&app).await),
        before,
        "not one row written"
    );
    let shown = app.get(&format!("/v1/reviews/{rejected}")).await;
    assert_eq!(shown.status(), 404, "still rejected, so not public");
}

/// A Disqus export of `posts` posts over `threads` threads; every tenth post answers the next
/// post (a reply before its parent), every seventh the one before it.
fn generated_disqus(path: &Path, threads: usize, posts: usize) {
    let file = std::fs::File::create(path).expect("a temporary file");
    let mut out = std::io::BufWriter::new(file);
    let mut write = |text: String| out.write_all(text.as_bytes()).expect("written");
    write("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<disqus xmlns:dsq=\"http://disqus.com/disqus-internals\">\n".into());
    for thread in 0..threads {
        write(format!(
            "<thread dsq:id=\"t{thread}\"><id>story-{thread}</id><link>https://news.example.org/{thread}</link><title>Story {thread}</title></thread>\n"
        ));
    }
    for post in 0..posts {
        let parent = match post {
            p if p % 10 == 0 && p + 1 < posts => format!("<parent dsq:id=\"p{}\"/>", p + threads),
            p if p % 7 == 0 && p >= threads => format!("<parent dsq:id=\"p{}\"/>", p - threads),
            _ => String::new(),
        };
        let (day, minute) = (post % 28 + 1, post % 60);
        write(format!(
            "<post dsq:id=\"p{post}\"><message><![CDATA[<p>Коментар {post} 👍</p>]]></message>\
             <createdAt>2021-02-{day:02}T10:{minute:02}:00Z</createdAt><isDeleted>false</isDeleted>\
             <isSpam>{}</isSpam><author><name>Reader {post}</name><email>r{post}@example.com</email></author>\
             <thread dsq:id=\"t{}\"/>{parent}</post>\n",
            post % 50 == 0,
            post % threads
        ));
    }
    write("</disqus>\n".into());
}

#[tokio::test]
async fn a_run_killed_midway_and_run_again_ends_as_an_uninterrupted_one() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let export = dir.path().join("big.xml");
    generated_disqus(&export, 40, 6_000);
    let whole = spawn_app().await;
    let uninterrupted = import(&whole, "disqus", &export, &[]).await;
    assert!(uninterrupted.success, "{}", uninterrupted.stderr);
    assert_eq!(uninterrupted.report["imported"], 6_000);

    let killed = spawn_app().await;
    let mut run = tokio::process::Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .args(["import", "disqus"])
        .arg(&export)
        .args(["--site", "default", "--batch-size", "50"])
        .env("DATABASE_URL", &killed.database_url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the binary runs");
    until(
        Duration::from_secs(120),
        "some batches committed",
        || async { killed.count("SELECT count(*) AS n FROM reviews").await >= 500 },
    )
    .await;
    // Meanwhile a second run of the same source into the same site is refused.
    let second = import(&killed, "disqus", &export, &[]).await;
    assert!(!second.success);
    assert!(
        second
            .stderr
            .contains("another import of disqus into site default is running"),
        "{}",
        second.stderr
    );
    run.start_kill().expect("SIGKILL");
    run.wait().await.expect("it ends");
    let written = killed.count("SELECT count(*) AS n FROM reviews").await;
    assert!(written < 6_000, "killed midway: {written} of 6000 written");
    let resumed = import(&killed, "disqus", &export, &[]).await;
    assert!(resumed.success, "{}", resumed.stderr);
    assert_eq!(
        resumed.report["imported"].as_i64().expect("a count") + written,
        6_000,
        "{}",
        resumed.report
    );
    assert_eq!(snapshot(&killed).await, snapshot(&whole).await);
    assert_eq!(resumed.report["orphans"], uninterrupted.report["orphans"]);
}

#[tokio::test]
async fn a_broken_file_stops_at_its_line_and_nothing_of_the_bad_batch_is_written() {
    let app = spawn_app().await;
    let broken = import(&app, "disqus", &fixture_path("disqus-broken.xml"), &[]).await;
    assert!(!broken.success);
    assert_eq!(broken.report["stopped"]["line"], 17);
    assert_eq!(broken.report["stopped"]["column"], 24);
    assert_eq!(broken.report["imported"], 0);
    assert!(
        broken.stderr.contains("line 17, column 24"),
        "{}",
        broken.stderr
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM reviews").await, 0);

    // Our export cut short in its sixth line: batches of two, so lines 1–4 are written and the
    // fifth, in the batch with the bad line, is not.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let lines: Vec<String> = std::fs::read_to_string(fixture_path("marginalia.ndjson"))
        .expect("the fixture")
        .lines()
        .map(str::to_owned)
        .collect();
    let cut = format!("{}\n{}\n", lines[..5].join("\n"), &lines[5][..40]);
    let path = dir.path().join("cut.ndjson");
    std::fs::write(&path, cut).expect("written");
    let stopped = import(&app, "marginalia", &path, &["--batch-size", "2"]).await;
    assert!(!stopped.success);
    assert_eq!(stopped.report["stopped"]["line"], 6, "{}", stopped.report);
    assert_eq!(stopped.report["imported"], 4);
    assert_eq!(app.count("SELECT count(*) AS n FROM reviews").await, 4);
}

#[tokio::test]
async fn a_dry_run_reports_the_same_and_writes_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = source_file("wordpress", dir.path());
    let dry = import(&app, "wordpress", &file, &["--dry-run"]).await;
    assert!(dry.success, "{}", dry.stderr);
    assert_eq!(dry.report["dry_run"], true);
    for table in ["reviews", "articles"] {
        let rows = app
            .count(&format!("SELECT count(*) AS n FROM {table}"))
            .await;
        assert_eq!(rows, 0, "{table}");
    }
    let real = import(&app, "wordpress", &file, &[]).await;
    assert_eq!(counts(&real.report), counts(&dry.report));
}

#[tokio::test]
async fn unknown_articles_can_be_skipped_and_moved_pages_remapped() {
    let app = spawn_app().await;
    let file = fixture_path("disqus.xml");
    let skipped = import(&app, "disqus", &file, &["--unknown-articles", "skip"]).await;
    assert!(skipped.success, "{}", skipped.stderr);
    assert_eq!(skipped.report["imported"], 0);
    assert_eq!(
        skipped.report["unmapped_threads"],
        json!([URL_B, THREAD_A, "voa-2020-05-kabul-hospital"])
    );
    assert_eq!(skipped.report["skipped"]["unknown_article"], 9);
    // The Kunar story moved: its comments go to the article the CMS registered.
    let cms = app.api_key(&[Scope::Cms]).await;
    let registered = app
        .put_article(
            "kunar-2020",
            Some(&format!("Bearer {cms}")),
            &json!({"title": "Kunar", "url": "https://news.example.org/kunar"}),
        )
        .await;
    assert_eq!(registered.status(), 201);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = dir.path().join("moved.txt");
    std::fs::write(&rules, format!("# moved in 2024\n{URL_B} kunar-2020\n")).expect("written");
    let remap = [
        "--unknown-articles",
        "skip",
        "--remap",
        rules.to_str().expect("a path"),
    ];
    let remapped = import(&app, "disqus", &file, &remap).await;
    assert!(remapped.success, "{}", remapped.stderr);
    assert_eq!(remapped.report["imported"], 2, "{}", remapped.report);
    assert_eq!(public_reviews(&app, "kunar-2020").await.len(), 2);
}

#[tokio::test]
async fn webhooks_hear_nothing_or_one_summary_per_article() {
    let app = spawn_app().await;
    let file = fixture_path("disqus.xml");
    let quiet = import(&app, "disqus", &file, &[]).await;
    assert!(quiet.success, "{}", quiet.stderr);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbox_events").await,
        0
    );
    let other = spawn_app().await;
    let summary = import(&other, "disqus", &file, &["--announce", "summary"]).await;
    assert!(summary.success, "{}", summary.stderr);
    let events = other
        .texts_where(
            "SELECT event_type || ' ' || article_id AS t FROM outbox_events ORDER BY article_id",
        )
        .await;
    assert_eq!(
        events,
        [
            format!("article.stats_changed {}", article_id_for_url(URL_B)),
            format!("article.stats_changed {THREAD_A}"),
            "article.stats_changed voa-2020-05-kabul-hospital".to_owned(),
        ]
    );
}

/// Posts a review to the fixture article from its own client address; returns the 201's body.
async fn submitted(app: &TestApp, body: Value, client: u8) -> Value {
    let response = app
        .client
        .post(app.url(&format!("/v1/articles/{THREAD_A}/reviews")))
        .header("x-forwarded-for", format!("203.0.113.{client}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.expect("json")
}

/// Every public read of the fixture article that the round trip must give back byte for byte.
async fn public_answers(app: &TestApp) -> Vec<(String, String)> {
    let mut answers = Vec::new();
    let mut paths: Vec<String> = ["newest", "oldest", "highest", "lowest"]
        .iter()
        .map(|sort| format!("/v1/articles/{THREAD_A}/reviews?sort={sort}"))
        .collect();
    paths.push(format!(
        "/v1/articles/{THREAD_A}/reviews?sort=highest&limit=2"
    ));
    paths.push(format!("/v1/articles/{THREAD_A}/stats"));
    paths.push(format!("/v1/articles/{THREAD_A}/stats/daily"));
    for path in paths {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        answers.push((path, response.text().await.expect("a body")));
    }
    answers
}

#[tokio::test]
async fn our_export_imported_into_a_fresh_installation_reads_the_same() {
    let seeded = spawn_app().await;
    seeded.register_fixture_article().await;
    let texts = [
        (
            5,
            "Тверезий аналіз: стаття пояснює, чому ІДІЛ-Хорасан не переможений.",
        ),
        (
            2,
            "Too few sources for such strong claims, and no map of the province.",
        ),
        (4, "Корисно, але бракує мапи провінції Кунар."),
        (1, "Заголовок перебільшує, а текст — ні."),
        (
            3,
            "Balanced, though the hospital attack deserved more space.",
        ),
    ];
    let mut ids = Vec::new();
    for (client, (rating, body)) in (1..).zip(texts) {
        let created = submitted(
            &seeded,
            json!({"rating": rating, "body": body, "author_name": format!("Reader {client}")}),
            client,
        )
        .await;
        ids.push((
            created["id"].as_str().expect("an id").to_owned(),
            created["edit_token"].clone(),
        ));
    }
    let moderator = seeded.api_key(&[Scope::Moderator]).await;
    let (replied, _) = &ids[0];
    let reply = json!({"body": "Дякуємо! Мапу провінції додали до статті."});
    let answer = seeded
        .with_key(
            &moderator,
            Method::PUT,
            &format!("/v1/reviews/{replied}/reply"),
            Some(&reply),
        )
        .await;
    assert_eq!(answer.status(), 200);
    let action = json!({"action": "reject", "review_ids": [ids[3].0], "note": "off topic"});
    let answer = seeded
        .with_key(
            &moderator,
            Method::POST,
            "/v1/moderation/actions",
            Some(&action),
        )
        .await;
    assert_eq!(answer.status(), 200);
    let (edited, token) = &ids[2];
    let edit = seeded
        .client
        .patch(seeded.url(&format!("/v1/reviews/{edited}")))
        .header("x-edit-token", token.as_str().expect("a token"))
        .json(&json!({"rating": 5}))
        .send()
        .await
        .expect("request");
    assert_eq!(edit.status(), 200, "{:?}", edit.text().await);
    for voter in 0..3 {
        let vote = seeded
            .client
            .post(seeded.url(&format!("/v1/reviews/{}/votes", ids[1].0)))
            .header("x-forwarded-for", format!("198.51.100.{voter}"))
            .json(&json!({"helpful": voter != 2, "voter_token": format!("voter-token-{voter:08}")}))
            .send()
            .await
            .expect("request");
        assert_eq!(vote.status(), 200, "{:?}", vote.text().await);
    }
    let admin = seeded.api_key(&[Scope::Admin]).await;
    let export = seeded
        .get_with_key(&admin, "/v1/exports/reviews?format=ndjson")
        .await;
    assert_eq!(export.status(), 200);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("export.ndjson");
    std::fs::write(&file, export.text().await.expect("the export")).expect("written");

    let fresh = spawn_app().await;
    let imported = import(&fresh, "marginalia", &file, &[]).await;
    assert!(imported.success, "{}", imported.stderr);
    assert_eq!(imported.report["imported"], 5, "{}", imported.report);
    assert_eq!(public_answers(&fresh).await, public_answers(&seeded).await);
}

#[tokio::test]
async fn a_site_may_take_feedback_without_stars() {
    let app = spawn_app_with(|settings| settings.server.read_cache_ttl = Duration::ZERO).await;
    app.register_fixture_article().await;
    let unrated = json!({"body": "Дякую за статтю, але мапи бракує."});
    let refused = app.post_review(THREAD_A, &unrated).await;
    let problem = crate::common::expect_problem(refused, 422).await;
    assert_eq!(crate::common::problem_fields(&problem), ["rating"]);
    let admin = app.api_key(&[Scope::Admin]).await;
    let changed = app
        .with_key(
            &admin,
            Method::PUT,
            "/v1/sites/default",
            Some(&json!({"unrated_reviews": true})),
        )
        .await;
    assert_eq!(changed.status(), 200, "{:?}", changed.text().await);
    let created =
        crate::common::wait::until_some(Duration::from_secs(30), "the setting applied", || async {
            let response = app.post_review(THREAD_A, &unrated).await;
            match response.status().as_u16() {
                201 => Some(response.json::<Value>().await.expect("json")),
                422 => None,
                other => panic!("answered {other}"),
            }
        })
        .await;
    assert_eq!(created["rating"], Value::Null);
    let rated = app
        .post_review(THREAD_A, &json!({"rating": 4, "body": "Добре."}))
        .await;
    assert_eq!(rated.status(), 201);
    let listed = public_reviews(&app, THREAD_A).await;
    assert_eq!(
        listed
            .iter()
            .map(|r| r["rating"].clone())
            .collect::<Vec<_>>(),
        [Value::Null, json!(4)]
    );
    let stats = app
        .get_json(&format!("/v1/articles/{THREAD_A}/stats"))
        .await;
    assert_eq!(
        (
            &stats["review_count"],
            &stats["rated_count"],
            &stats["average"]
        ),
        (&json!(2), &json!(1), &json!(4.0))
    );
    assert_eq!(stats["histogram"]["4"], 1);
    let lowest = app
        .get_json(&format!("/v1/articles/{THREAD_A}/reviews?sort=lowest"))
        .await;
    assert_eq!(
        lowest["items"][0]["rating"],
        Value::Null,
        "no stars sort below one star"
    );
}

#[tokio::test]
async fn a_comment_changed_in_the_source_is_brought_up_to_date_and_keeps_its_status() {
    let app = spawn_app_with(|settings| settings.server.read_cache_ttl = Duration::ZERO).await;
    let first = import(&app, "marginalia", &fixture_path("marginalia.ndjson"), &[]).await;
    assert!(first.success, "{}", first.stderr);
    let before = app
        .get_json(&format!("/v1/articles/{THREAD_A}/stats"))
        .await;
    assert_eq!(before["average"], 4.5, "ratings 4 and 5");
    // The source changed review 1 (text and stars) and review 8 (rejected here) since.
    let mut lines: Vec<Value> = std::fs::read_to_string(fixture_path("marginalia.ndjson"))
        .expect("the fixture")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    lines[0]["body"] = json!("Переглянула ще раз: джерел справді бракує.");
    lines[0]["rating"] = json!(2);
    lines[7]["body"] = json!("Thanks, corrected.");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let changed = dir.path().join("changed.ndjson");
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&changed, text.join("\n") + "\n").expect("written");
    let again = import(&app, "marginalia", &changed, &[]).await;
    assert!(again.success, "{}", again.stderr);
    assert_eq!(
        (
            &again.report["imported"],
            &again.report["updated"],
            &again.report["unchanged"]
        ),
        (&json!(0), &json!(2), &json!(6)),
        "{}",
        again.report
    );
    let id = lines[0]["id"].as_str().expect("an id");
    let shown = app.get_json(&format!("/v1/reviews/{id}")).await;
    assert_eq!(
        (&shown["body"], &shown["rating"]),
        (&lines[0]["body"], &json!(2))
    );
    let after = app
        .get_json(&format!("/v1/articles/{THREAD_A}/stats"))
        .await;
    assert_eq!(
        after["average"], 3.5,
        "the counters followed the new rating"
    );
    assert_eq!(after["histogram"]["4"], 0);
    let rejected = lines[7]["id"].as_str().expect("an id");
    let status = app
        .texts_where(&format!(
            "SELECT status AS t FROM reviews WHERE id = '{rejected}'"
        ))
        .await;
    assert_eq!(
        status,
        ["rejected"],
        "the source's edit does not undo a decision"
    );
}
