//! Test harness: a real PostgreSQL per test binary (a private throwaway cluster, or the server
//! in `TEST_DATABASE_URL`), a fresh database per test cloned from a migrated template, and the
//! real HTTP server on an ephemeral port.
#![allow(dead_code)] // Each test binary uses its own subset of these helpers.

pub mod live;
pub mod smtp;
pub mod wait;
pub mod webhooks;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use marginalia::app::Application;
use marginalia::auth::{self, Scope};
use marginalia::config::{CmsSecrets, Settings};
use marginalia::db::embedded::{ClusterOptions, EmbeddedPostgres};
use marginalia::db::{self, Pool};
use marginalia::domain::site::SiteId;
use marginalia::domain::webhook::RetrySchedule;
use marginalia::store;
use serde_json::Value;
use tokio::sync::OnceCell;

/// Where test databases are created.
struct TestServer {
    /// Connection string for database `{}`.
    url_template: UrlTemplate,
    template_db: String,
}

enum UrlTemplate {
    KeyValue(String),
    Url(url::Url),
}

impl UrlTemplate {
    fn for_database(&self, database: &str) -> String {
        match self {
            // In key/value strings a later keyword wins.
            Self::KeyValue(base) => format!("{base} dbname={database}"),
            Self::Url(base) => {
                let mut url = base.clone();
                url.set_path(&format!("/{database}"));
                url.to_string()
            }
        }
    }
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();

async fn server() -> &'static TestServer {
    SERVER
        .get_or_init(|| async {
            let url_template = match std::env::var("TEST_DATABASE_URL") {
                Ok(url) if url.contains("://") => {
                    UrlTemplate::Url(url::Url::parse(&url).expect("TEST_DATABASE_URL is a URL"))
                }
                Ok(url) => UrlTemplate::KeyValue(url),
                Err(_) => {
                    let cluster = start_throwaway_cluster().await;
                    UrlTemplate::KeyValue(cluster.database_url("postgres"))
                }
            };
            let template_db = format!("marginalia_tpl_{}", uuid::Uuid::now_v7().simple());
            create_database(&url_template, &template_db, None).await;
            db::run_migrations(&url_template.for_database(&template_db))
                .await
                .expect("migrations apply to the template");
            TestServer {
                url_template,
                template_db,
            }
        })
        .await
}

/// A private cluster in a temporary directory, stopped and deleted when this process exits.
pub async fn start_throwaway_cluster() -> EmbeddedPostgres {
    let dir = world_searchable_tempdir();
    let cluster = EmbeddedPostgres::new(&dir).expect("PostgreSQL binaries are installed");
    cluster
        .start(ClusterOptions { durable: false })
        .await
        .expect("the test cluster starts");
    cluster
        .discard_when_process_exits(std::process::id())
        .expect("the cluster watcher starts");
    cluster
}

/// A temporary directory the `postgres` user can reach when tests run as root.
pub fn world_searchable_tempdir() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("mrg-")
        .tempdir()
        .expect("a temporary directory")
        .keep();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

async fn create_database(urls: &UrlTemplate, name: &str, template: Option<&str>) {
    let mut conn = AsyncPgConnection::establish(&urls.for_database("postgres"))
        .await
        .expect("connect to the maintenance database");
    let sql = match template {
        Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .expect("create a test database");
}

/// The CMS's signing secret in tests.
pub const CMS_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The settings every test app starts from: `serve`'s defaults, with what tests need on top.
pub fn test_settings() -> Settings {
    let mut settings = Settings::from_args(["marginalia"]).expect("the default settings");
    let server = &mut settings.server;
    server.bind = "127.0.0.1:0".parse().expect("an address");
    server.workers = 2;
    server.cors_origins = vec!["https://news.example.org".into()];
    server.shutdown_timeout = Duration::from_secs(1);
    // Fast schedules, so retries happen within a test.
    let webhooks = &mut settings.webhooks;
    webhooks.cms_secrets = CmsSecrets::parse(CMS_SECRET).expect("the test secret");
    // Tests' receivers listen on loopback.
    webhooks.allow_private_targets = true;
    // Nothing a test does can send outside this machine (the teardown guard fails the test if
    // anything tried).
    webhooks.loopback_only = true;
    webhooks.poll = Duration::from_millis(50);
    webhooks.retry_schedule =
        RetrySchedule::new(vec![Duration::from_millis(100); 3]).expect("a test schedule");
    webhooks.timeout = Duration::from_secs(2);
    webhooks.stats_window = Duration::from_millis(300);
    webhooks.disable_after = Duration::from_secs(3600);
    // Every test client shares 127.0.0.1: limits are off unless a test turns them on.
    settings.limits.rate_limit_reviews = 0;
    settings.limits.rate_limit_reactions = 0;
    settings
}

/// With `TEST_LOG=1`, the service's log goes to the test's captured output, which the harness
/// shows for a failing test only; without it tests stay quiet. `RUST_LOG` picks the levels
/// (default `info`).
fn init_test_log() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        if std::env::var_os("TEST_LOG").is_none_or(|value| value.is_empty() || value == "0") {
            return;
        }
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// One running service on its own fresh database.
pub struct TestApp {
    /// The app's serving task: aborted when the test ends, which stops its webhook worker.
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub address: String,
    pub client: reqwest::Client,
    pub pool: Pool,
    pub database_url: String,
    /// The database this app was given for its test alone, dropped when the test ends:
    /// (maintenance connection string, database name).
    own_database: Option<(String, String)>,
    /// Whether the teardown guard fails the test when the worker tried to reach a target off
    /// this machine (only the guard's own test turns it off, after checking the report).
    pub loopback_guard: bool,
}

/// The guard's report: the delivery attempts this app's worker refused as not loopback, or
/// `None` if there were none; `Err` when the test's database could not be read, so that a guard
/// which could not look is never taken for one that found nothing. Every test app runs
/// loopback-only, so a refused attempt means a test pointed an endpoint off the machine, which
/// without the guard would have been sent.
pub async fn loopback_guard_report(database_url: &str) -> Result<Option<String>, String> {
    #[derive(diesel::QueryableByName)]
    struct Refusal {
        #[diesel(sql_type = diesel::sql_types::Text)]
        url: String,
    }
    let mut conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(|error| error.to_string())?;
    let refused: Vec<Refusal> = diesel::sql_query(
        "SELECT w.url FROM webhook_attempts AS a \
         JOIN webhook_deliveries AS d ON d.id = a.delivery_id \
         JOIN webhook_endpoints AS w ON w.id = d.endpoint_id \
         WHERE a.error LIKE '%' || $1 || '%' ORDER BY a.started_at",
    )
    .bind::<diesel::sql_types::Text, _>(marginalia::webhooks::sender::NON_LOOPBACK_REFUSED)
    .load(&mut conn)
    .await
    .map_err(|error| error.to_string())?;
    Ok((!refused.is_empty()).then(|| {
        let urls: Vec<&str> = refused.iter().map(|r| r.url.as_str()).collect();
        format!(
            "the loopback guard: this test's webhook worker tried {} delivery attempt(s) to \
             targets outside this machine ({}); tests may only send to 127.0.0.0/8, ::1 or \
             localhost",
            refused.len(),
            urls.join(", ")
        )
    }))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.abort();
        }
        let own_database = self.own_database.take();
        let database_url = self.database_url.clone();
        let guard = self.loopback_guard && !std::thread::panicking();
        // Drop cannot await, and may run on the test's runtime: use a thread and a runtime of
        // its own. FORCE ends the app's own pooled connections to the database.
        let finished = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let report = if guard {
                runtime.block_on(loopback_guard_report(&database_url))
            } else {
                Ok(None)
            };
            let Some((maintenance, database)) = own_database else {
                return (report, Ok(()));
            };
            let dropped = runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&maintenance).await?;
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
                ))
                .execute(&mut conn)
                .await
                .map(drop)
                .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))
            });
            (report, dropped)
        })
        .join();
        match finished {
            Ok((report, dropped)) => {
                if let Err(error) = dropped {
                    eprintln!("could not drop a test database: {error}");
                }
                match report {
                    Ok(None) => {}
                    Ok(Some(report)) => panic!("{report}"),
                    // Tests on a cluster of their own stop it before the app is dropped.
                    Err(error) => eprintln!(
                        "THE LOOPBACK GUARD COULD NOT CHECK this test's deliveries: {error}"
                    ),
                }
            }
            Err(_) => eprintln!("the test app's teardown thread panicked"),
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A test app whose settings are `test_settings()` adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let server = server().await;
    let database = format!("marginalia_test_{}", uuid::Uuid::now_v7().simple());
    create_database(&server.url_template, &database, Some(&server.template_db)).await;
    let database_url = server.url_template.for_database(&database);
    let mut app = spawn_app_on(&database_url, adjust);
    app.own_database = Some((server.url_template.for_database("postgres"), database));
    app
}

/// `pg_dump` of `database_url` with `options`, without the per-run `\restrict` lines newer
/// clients add, so that two dumps of the same database compare equal.
pub fn pg_dump(database_url: &str, options: &[&str]) -> String {
    let pg_dump = marginalia::db::embedded::locate_binaries()
        .expect("PostgreSQL binaries")
        .join("pg_dump");
    let out = std::process::Command::new(pg_dump)
        .args(options)
        .args(["--dbname", database_url])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("the dump is UTF-8")
        .lines()
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The URL of a new, empty database (not migrated) on the test server, for tests of the
/// migrations themselves; dropped with the throwaway test cluster.
pub async fn empty_database() -> String {
    let server = server().await;
    let database = format!("marginalia_empty_{}", uuid::Uuid::now_v7().simple());
    create_database(&server.url_template, &database, None).await;
    server.url_template.for_database(&database)
}

/// A test app on a database restored from `dump` (plain SQL, as `pg_dump` writes it) and then
/// migrated as `serve` migrates at start: how an installation of an earlier release upgrades.
/// Returns the app and the migrations that the upgrade applied.
pub async fn spawn_app_upgraded_from(
    dump: &str,
    adjust: impl FnOnce(&mut Settings),
) -> (TestApp, Vec<String>) {
    let server = server().await;
    let database = format!("marginalia_upgrade_{}", uuid::Uuid::now_v7().simple());
    create_database(&server.url_template, &database, None).await;
    let database_url = server.url_template.for_database(&database);
    {
        let mut conn = AsyncPgConnection::establish(&database_url)
            .await
            .expect("connect to the restored database");
        conn.batch_execute(dump)
            .await
            .expect("the earlier release's dump restores");
    }
    let applied = db::run_migrations(&database_url)
        .await
        .expect("the migrations since that release apply");
    let mut app = spawn_app_on(&database_url, adjust);
    app.own_database = Some((server.url_template.for_database("postgres"), database));
    (app, applied)
}

/// Serves an app on an existing database (already migrated), built by the same
/// `Application::build` that `serve` uses, from `test_settings()` adjusted by `adjust`.
pub fn spawn_app_on(database_url: &str, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_test_log();
    let mut settings = test_settings();
    adjust(&mut settings);
    let application = Application::build(&settings, database_url).expect("the application builds");
    let address = format!("http://{}", application.address());
    let pool = application.pool().site(&SiteId::default_site());
    let running = tokio::spawn(application.run_until_stopped());
    TestApp {
        running: Some(running),
        address,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        pool,
        database_url: database_url.to_owned(),
        own_database: None,
        loopback_guard: true,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Creates an installation-wide API key (every site) with these scopes and returns its
    /// secret.
    pub async fn api_key(&self, scopes: &[Scope]) -> String {
        self.key_for(None, scopes).await
    }

    /// Creates an API key of one site with these scopes and returns its secret.
    pub async fn site_key(&self, site: &str, scopes: &[Scope]) -> String {
        self.key_for(Some(&[site.to_owned()]), scopes).await
    }

    async fn key_for(&self, sites: Option<&[String]>, scopes: &[Scope]) -> String {
        let key = auth::generate_key();
        let names: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        store::api_keys::create(&self.pool, "test", &names, sites, &key.digest)
            .await
            .expect("create key");
        key.secret
    }

    pub async fn post_review(&self, article_id: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/v1/articles/{article_id}/reviews")))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `PUT /v1/articles/{id}` as the CMS sends it; `authorization` is the whole header value.
    pub async fn put_article(
        &self,
        id: &str,
        authorization: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut request = self.client.put(self.url(&format!("/v1/articles/{id}")));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        request.json(body).send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// The author's own view of a review: GET with its edit token.
    pub async fn get_own_review(&self, created: &Value) -> reqwest::Response {
        let id = created["id"].as_str().expect("a review id");
        self.client
            .get(self.url(&format!("/v1/reviews/{id}")))
            .header(
                "x-edit-token",
                created["edit_token"].as_str().expect("an edit token"),
            )
            .send()
            .await
            .expect("request")
    }

    /// An author deleting their review with its edit token.
    pub async fn delete_own_review(&self, id: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(&format!("/v1/reviews/{id}")))
            .header("x-edit-token", token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }

    /// Runs a query returning one bigint, for checking what the database holds: the default
    /// site's rows.
    pub async fn count(&self, sql: &str) -> i64 {
        count_with(&self.pool, sql).await
    }

    /// Makes the default site's review `id` written `hours` earlier than it was, as if that time
    /// had passed since. The service counts a published review under its UTC day, so the
    /// article's per-day counters are recounted from its reviews in the same transaction: an
    /// hour earlier is the day before when a test runs just after midnight.
    pub async fn age_review(&self, id: &str, hours: i32) {
        use diesel::sql_types::{Integer, Uuid as SqlUuid};
        let id = uuid::Uuid::parse_str(id).expect("a review id");
        let mut conn = store::connection(&self.pool).await.expect("connection");
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let aged = diesel::sql_query(
                "UPDATE reviews SET created_at = created_at - make_interval(hours => $2) \
                     WHERE id = $1",
            )
            .bind::<SqlUuid, _>(id)
            .bind::<Integer, _>(hours)
            .execute(conn)
            .await?;
            assert_eq!(aged, 1, "review {id} exists");
            diesel::sql_query(
                "DELETE FROM article_daily_stats \
                     WHERE article_id = (SELECT article_id FROM reviews WHERE id = $1)",
            )
            .bind::<SqlUuid, _>(id)
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO article_daily_stats (article_id, day, language, stripe, \
                         count_1, count_2, count_3, count_4, count_5, unrated) \
                     SELECT article_id, (created_at AT TIME ZONE 'UTC')::date, \
                         COALESCE(language, ''), (get_byte(uuid_send(id), 15) % 8)::smallint, \
                         count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), \
                         count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4), \
                         count(*) FILTER (WHERE rating = 5), count(*) FILTER (WHERE rating = 0) \
                     FROM reviews \
                     WHERE status = 'published' \
                         AND article_id = (SELECT article_id FROM reviews WHERE id = $1) \
                     GROUP BY 1, 2, 3, 4",
            )
            .bind::<SqlUuid, _>(id)
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
        .expect("the review aged");
    }

    /// `count` over every site's rows (the query names the sites it counts).
    pub async fn count_where(&self, sql: &str) -> i64 {
        count_with(&self.pool.installation(), sql).await
    }

    /// The text column `t` of every row `sql` selects, over every site's rows.
    pub async fn texts_where(&self, sql: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Text {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let mut conn = store::connection(&self.pool.installation())
            .await
            .expect("connection");
        diesel::sql_query(sql)
            .load::<Text>(&mut conn)
            .await
            .expect("text query")
            .into_iter()
            .map(|row| row.t)
            .collect()
    }

    /// Registers the fixture article through the API with a CMS key.
    pub async fn register_fixture_article(&self) -> Value {
        let article = fixture("article.json");
        let key = self.api_key(&[Scope::Cms]).await;
        let id = article["article_id"].as_str().expect("id").to_owned();
        let body = serde_json::json!({
            "title": article["title"],
            "url": article["url"],
            "language": article["language"],
            "published_at": article["published_at"],
        });
        let response = self
            .put_article(&id, Some(&format!("Bearer {key}")), &body)
            .await;
        assert_eq!(response.status(), 201);
        article
    }
}

async fn count_with(pool: &marginalia::db::Pool, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = store::connection(pool).await.expect("connection");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .expect("count query")
        .n
}

/// A 201's review as every later read shows it: without the edit token, which only the creation
/// answer carries.
pub fn without_edit_token(mut created: Value) -> Value {
    if let Some(fields) = created.as_object_mut() {
        fields.remove("edit_token");
    }
    created
}

/// A file from `tests/fixtures`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Checks a response is a problem document with this status; returns it.
pub async fn expect_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem: Value = response.json().await.expect("problem json");
    assert_eq!(problem["status"], status);
    assert!(problem["type"].as_str().is_some_and(|t| !t.is_empty()));
    problem
}

/// Field names a problem document reports.
pub fn problem_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A raw HTTP/1.1 exchange over TCP, for what an HTTP client library would not send (dot
/// segments, stalled bodies): writes `request` as is and reads the whole answer.
pub async fn raw_http(address: &str, request: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .expect("read");
    RawResponse::parse(&answer)
}

/// A parsed raw HTTP answer.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    fn parse(answer: &[u8]) -> Self {
        let text = String::from_utf8_lossy(answer);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("an HTTP status line in {text:?}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Self {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as a problem document, checking the content type.
    pub fn problem(&self) -> Value {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        serde_json::from_str(&self.body).expect("a JSON problem document")
    }
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("an ephemeral port")
        .port()
}

/// Waits until `base` answers `/readyz` with 200, failing early if `service` exits.
pub async fn wait_ready(client: &reqwest::Client, base: &str, service: &mut ServiceProcess) {
    for _ in 0..600 {
        if let Some(status) = service.try_wait().expect("process status") {
            panic!("the service exited early with {status}");
        }
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the service did not become ready");
}

/// The service binary on a port of its own with its metrics on a second one (where no key is
/// needed), ready: a process of its own, since the test binary's recorder is shared by every test.
pub struct BinaryWithMetrics {
    pub base: String,
    pub metrics_port: u16,
    pub process: ServiceProcess,
}

impl BinaryWithMetrics {
    pub async fn start(app: &TestApp) -> Self {
        let (port, metrics_port) = (free_port(), free_port());
        let metrics_bind = (
            "MARGINALIA_METRICS_BIND",
            format!("127.0.0.1:{metrics_port}"),
        );
        let mut process = start_binary(&app.database_url, port, &[metrics_bind], None);
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&app.client, &base, &mut process).await;
        Self {
            base,
            metrics_port,
            process,
        }
    }
}

/// The Prometheus text on a separate metrics port, which must answer 200.
pub async fn scrape_metrics(client: &reqwest::Client, metrics_port: u16) -> String {
    let scraped = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200, "GET /metrics on the metrics port");
    scraped.text().await.unwrap()
}

/// Starts the `marginalia` binary serving `database_url` on `port` with one worker, extra
/// environment `env`, and its log written to `log` (discarded when `None`).
pub fn start_binary(
    database_url: &str,
    port: u16,
    env: &[(&str, String)],
    log: Option<&std::path::Path>,
) -> ServiceProcess {
    use std::process::{Command, Stdio};
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).expect("a log file")),
        None => Stdio::null(),
    };
    Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("MARGINALIA_BIND", format!("127.0.0.1:{port}"))
        .env("MARGINALIA_WORKERS", "1")
        // Every test client is 127.0.0.1: the per-address limits would throttle the tests.
        .env("MARGINALIA_RATE_LIMIT_REVIEWS", "0")
        .env("MARGINALIA_RATE_LIMIT_REACTIONS", "0")
        // Nothing a test starts may send off this machine (a test may not turn this off).
        .env("MARGINALIA_WEBHOOK_LOOPBACK_ONLY", "true")
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map(ServiceProcess)
        .expect("the binary starts")
}

/// A started `marginalia` process, killed when the test lets go of it, so that a failing test
/// never leaves a service running.
pub struct ServiceProcess(pub std::process::Child);

impl std::ops::Deref for ServiceProcess {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for ServiceProcess {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Concurrent workers repeating a request until stopped, as load tests need: every call of
/// `request(worker, attempt)` yields one observation, and `stop` returns them all.
pub struct Load<T> {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<Vec<T>>>,
}

impl<T: Send + 'static> Load<T> {
    pub fn start<F, Fut>(workers: usize, pause: Duration, request: F) -> Self
    where
        F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = T> + Send + 'static,
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let stop = Arc::new(AtomicBool::new(false));
        let request = Arc::new(request);
        let workers = (0..workers)
            .map(|worker| {
                let stop = stop.clone();
                let request = request.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut attempt = 0;
                    while !AtomicBool::load(&stop, Ordering::Relaxed) {
                        attempt += 1;
                        seen.push(request(worker, attempt).await);
                        tokio::time::sleep(pause).await;
                    }
                    seen
                })
            })
            .collect();
        Self { stop, workers }
    }

    /// Stops every worker after its current request and returns what they all saw.
    pub async fn stop(self) -> Vec<T> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut seen = Vec::new();
        for worker in self.workers {
            seen.extend(worker.await.expect("a load worker finishes"));
        }
        seen
    }
}

/// Submits `review` to `url` every `pause` until it is stored (201) or `within` has passed: how
/// long that took (`None` if never) and the other statuses answered meanwhile.
pub async fn post_until_created(
    client: &reqwest::Client,
    url: &str,
    review: &Value,
    within: Duration,
    pause: Duration,
) -> (Option<Duration>, Vec<u16>) {
    let started = std::time::Instant::now();
    let mut others = Vec::new();
    while started.elapsed() < within {
        let response = client
            .post(url)
            .json(review)
            .send()
            .await
            .expect("an answer");
        if response.status() == 201 {
            return (Some(started.elapsed()), others);
        }
        others.push(response.status().as_u16());
        tokio::time::sleep(pause).await;
    }
    (None, others)
}

/// Runs the `marginalia` binary with `args` against the database at `database_url`, as an
/// operator on the server would (`keys …`, `sites …`).
pub fn marginalia(database_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_marginalia"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("the binary runs")
}
