//! Sites are kept apart by PostgreSQL itself: every table of site data has a forced row-level
//! security policy, and the service works as a role the policies hold, bound to one site per
//! call. These tests drop the site condition on purpose (plain `SELECT`s under the service's own
//! connections) and find nothing of another site.

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use marginalia::db::Pool;
use marginalia::domain::site::SiteId;
use marginalia::store;
use serde_json::json;

use crate::common::{spawn_app, TestApp};

/// Tables that hold no site's data: keys and sites are the installation's, site_secrets its
/// salts, and diesel's own bookkeeping.
const INSTALLATION_TABLES: [&str; 6] = [
    "__diesel_schema_migrations",
    "api_keys",
    // One row: the newest live event pruned, a position, no site's data.
    "live_events_pruned",
    // Keyed by the limit's owner ('*' or a site id) and a digest: no site's data.
    "rate_limit_buckets",
    "site_secrets",
    "sites",
];

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn names(pool: &Pool, sql: &str) -> Vec<String> {
    let mut conn = store::connection(pool).await.expect("a connection");
    let rows: Vec<Name> = diesel::sql_query(sql)
        .load(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    rows.into_iter().map(|row| row.name).collect()
}

async fn count(pool: &Pool, sql: &str) -> i64 {
    let mut conn = store::connection(pool).await.expect("a connection");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .n
}

/// The tables of the public schema that have a `site_id` column.
async fn site_tables(app: &TestApp) -> Vec<String> {
    names(
        &app.pool,
        "SELECT table_name::text AS name FROM information_schema.columns \
         WHERE table_schema = 'public' AND column_name = 'site_id' AND table_name <> 'sites' \
         ORDER BY 1",
    )
    .await
}

async fn add_site(app: &TestApp, id: &str) -> SiteId {
    let site = SiteId::parse(id, "site").expect("a site id");
    let created = store::sites::create(&app.pool, &site, &format!("The {id} service"))
        .await
        .expect("the site is stored");
    assert_eq!(created.map(|row| row.site_id), Some(id.to_owned()));
    site
}

#[tokio::test]
async fn every_table_is_either_the_installations_or_held_by_a_forced_site_policy() {
    let app = spawn_app().await;
    let all = names(
        &app.pool,
        "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .await;
    let with_site = site_tables(&app).await;
    let without: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|table| !with_site.iter().any(|t| t == table))
        .collect();
    assert_eq!(
        without, INSTALLATION_TABLES,
        "a new table holds a site's data (give it site_id and the policy) or is listed here"
    );
    let unguarded = names(
        &app.pool,
        "SELECT c.relname::text AS name FROM pg_class c \
         JOIN information_schema.columns col ON col.table_name = c.relname \
           AND col.table_schema = 'public' AND col.column_name = 'site_id' \
         WHERE c.relkind = 'r' AND c.relname <> 'sites' AND NOT (c.relrowsecurity \
           AND c.relforcerowsecurity \
           AND EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname \
                       AND p.policyname = 'site_isolation')) \
         ORDER BY 1",
    )
    .await;
    assert!(
        unguarded.is_empty(),
        "tables without a forced site policy: {unguarded:?}"
    );
    assert_eq!(with_site.len(), 19, "{with_site:?}");
}

#[tokio::test]
async fn the_service_works_as_a_role_that_row_level_security_holds() {
    let app = spawn_app().await;
    let role = names(
        &app.pool,
        "SELECT current_user::text AS name UNION ALL \
         SELECT (rolsuper OR rolbypassrls)::text FROM pg_roles WHERE rolname = current_user",
    )
    .await;
    assert_eq!(role, ["marginalia_app", "false"]);
}

#[tokio::test]
async fn a_query_without_its_site_condition_finds_nothing_of_another_site() {
    let app = spawn_app().await;
    let ukrainian = add_site(&app, "uk").await;
    let article = app.register_fixture_article().await;
    let article_id = article["article_id"].as_str().expect("an id");
    let created = app
        .post_review(
            article_id,
            &json!({"rating": 5, "body": "Ґрунтовний матеріал, дякую."}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let default_site = &app.pool;
    let uk_site = app.pool.site(&ukrainian);
    for table in site_tables(&app).await {
        let everything = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(
            count(&uk_site, &everything).await,
            0,
            "{table} seen from uk"
        );
    }
    for table in [
        "articles",
        "reviews",
        "article_stats",
        "article_daily_stats",
    ] {
        let everything = format!("SELECT count(*) AS n FROM {table}");
        assert!(
            count(default_site, &everything).await > 0,
            "{table} of the default site"
        );
    }
    // What a connection bound to uk writes is uk's, and the default site does not see it.
    let mut conn = store::connection(&uk_site).await.expect("a connection");
    let inserted = diesel::sql_query("INSERT INTO articles (article_id) VALUES ($1)")
        .bind::<Text, _>(article_id)
        .execute(&mut conn)
        .await
        .expect("the same article id is another article in another site");
    assert_eq!(inserted, 1);
    drop(conn);
    let by_id = format!("SELECT count(*) AS n FROM articles WHERE article_id = '{article_id}'");
    assert_eq!(count(&uk_site, &by_id).await, 1);
    assert_eq!(count(default_site, &by_id).await, 1);
    assert_eq!(
        names(&uk_site, "SELECT site_id AS name FROM articles").await,
        ["uk"]
    );
    // Every site at once only for installation-wide work, which asks for it.
    assert_eq!(count(&app.pool.installation(), &by_id).await, 2);
}

#[tokio::test]
async fn a_connection_bound_to_no_site_sees_nothing_and_cannot_write() {
    let app = spawn_app().await;
    app.register_fixture_article().await;
    let unbound = app.pool.unbound();
    assert_eq!(
        count(&unbound, "SELECT count(*) AS n FROM articles").await,
        0
    );
    let mut conn = store::connection(&unbound).await.expect("a connection");
    let refused = diesel::sql_query("INSERT INTO articles (article_id) VALUES ('stray')")
        .execute(&mut conn)
        .await;
    assert!(
        refused.is_err(),
        "an insert bound to no site must fail: {refused:?}"
    );
}

/// `/sites/{site}/v1/…`, the API of one site.
fn site_path(site: &str, path: &str) -> String {
    format!("/sites/{site}{path}")
}

async fn put_article_in(app: &TestApp, site: &str, key: &str, id: &str) -> reqwest::Response {
    app.client
        .put(app.url(&site_path(site, &format!("/v1/articles/{id}"))))
        .bearer_auth(key)
        .json(&json!({"title": format!("Article {id} of {site}"), "language": "uk"}))
        .send()
        .await
        .expect("request")
}

async fn post_review_in(app: &TestApp, site: &str, article: &str, rating: u8) -> serde_json::Value {
    let response = app
        .client
        .post(app.url(&site_path(site, &format!("/v1/articles/{article}/reviews"))))
        .json(&json!({"rating": rating, "body": format!("A {rating}-star review of {article} in {site}.")}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201, "review in {site}");
    response.json().await.expect("json")
}

#[tokio::test]
async fn the_same_article_id_in_two_sites_is_two_articles_with_their_own_reviews_and_stats() {
    let app = spawn_app().await;
    add_site(&app, "uk").await;
    let default_cms = app
        .site_key("default", &[marginalia::auth::Scope::Cms])
        .await;
    let uk_cms = app.site_key("uk", &[marginalia::auth::Scope::Cms]).await;
    let in_default = put_article_in(&app, "default", &default_cms, "shared-1").await;
    assert_eq!(in_default.status(), 201);
    assert_eq!(in_default.headers()["location"], "/v1/articles/shared-1");
    let in_uk = put_article_in(&app, "uk", &uk_cms, "shared-1").await;
    assert_eq!(in_uk.status(), 201);
    assert_eq!(
        in_uk.headers()["location"],
        "/sites/uk/v1/articles/shared-1",
        "the site's own path"
    );
    let in_default = post_review_in(&app, "default", "shared-1", 1).await;
    let in_uk = post_review_in(&app, "uk", "shared-1", 5).await;
    post_review_in(&app, "uk", "shared-1", 4).await;

    let stats = |site: &'static str| {
        let path = site_path(site, "/v1/articles/shared-1/stats");
        let app = &app;
        async move { app.get_json(&path).await }
    };
    let (default_stats, uk_stats) = (stats("default").await, stats("uk").await);
    assert_eq!(default_stats["review_count"], 1);
    assert_eq!(uk_stats["review_count"], 2);
    assert_eq!(uk_stats["average"], 4.5);
    // Today's unprefixed paths are the default site's.
    assert_eq!(
        app.get_json("/v1/articles/shared-1/stats").await,
        default_stats
    );

    let page = app
        .get_json(&site_path("uk", "/v1/articles/shared-1/reviews"))
        .await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|review| review["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&in_uk["id"].as_str().expect("id")));
    assert!(!ids.contains(&in_default["id"].as_str().expect("id")));
    // A review is read through its own site only.
    let elsewhere = format!("/v1/reviews/{}", in_uk["id"].as_str().expect("id"));
    assert_eq!(app.get(&elsewhere).await.status(), 404);
    assert_eq!(app.get(&site_path("uk", &elsewhere)).await.status(), 200);
}

#[tokio::test]
async fn a_key_of_one_site_is_refused_by_another() {
    let app = spawn_app().await;
    add_site(&app, "uk").await;
    let uk_cms = app.site_key("uk", &[marginalia::auth::Scope::Cms]).await;
    let refused = put_article_in(&app, "default", &uk_cms, "a-1").await;
    assert_eq!(refused.status(), 403);
    let problem: serde_json::Value = refused.json().await.expect("a problem");
    assert_eq!(problem["detail"], "this API key is not for site `default`");
    assert_eq!(
        put_article_in(&app, "uk", &uk_cms, "a-1").await.status(),
        201
    );
    // An installation-wide key serves every site.
    let everywhere = app.api_key(&[marginalia::auth::Scope::Cms]).await;
    assert_eq!(
        put_article_in(&app, "default", &everywhere, "a-1")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_site_that_does_not_exist_is_a_404_problem() {
    let app = spawn_app().await;
    for path in [
        "/sites/nowhere/v1/articles/a-1/reviews",
        "/sites/Not-A-Slug/v1/articles/a-1/reviews",
        "/sites/-/v1/stats?article_id=a-1",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_eq!(content_type, "application/problem+json", "{path}");
        let problem: serde_json::Value = response.json().await.expect("a problem");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .starts_with("there is no site"),
            "{path}: {problem}"
        );
    }
}

async fn backend_and_site(pool: &Pool) -> (i64, String) {
    #[derive(QueryableByName)]
    struct Backend {
        #[diesel(sql_type = BigInt)]
        pid: i64,
        #[diesel(sql_type = Text)]
        site: String,
    }
    let mut conn = store::connection(pool).await.expect("a connection");
    let row: Backend = diesel::sql_query(
        "SELECT pg_backend_pid()::bigint AS pid, current_setting('marginalia.site') AS site",
    )
    .get_result(&mut conn)
    .await
    .expect("the backend");
    (row.pid, row.site)
}

#[tokio::test]
async fn a_connection_given_back_serves_its_own_site_next_and_another_site_rebound() {
    let app = spawn_app().await;
    let (ukrainian, persian) = (add_site(&app, "uk").await, add_site(&app, "fa").await);
    let options = marginalia::db::PoolOptions {
        max_size: 2,
        shards: 1,
        acquire_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(5),
    };
    let pool = marginalia::db::build_pool(&app.database_url, options).expect("a pool");
    let (uk, fa) = (pool.site(&ukrainian), pool.site(&persian));
    // Two sites, two connections: each site keeps getting its own, bound once.
    let (uk_backend, bound) = backend_and_site(&uk).await;
    assert_eq!(bound, "uk");
    let (fa_backend, bound) = backend_and_site(&fa).await;
    assert_eq!(bound, "fa");
    assert_ne!(
        uk_backend, fa_backend,
        "a new connection while the pool may open one"
    );
    for _ in 0..3 {
        assert_eq!(backend_and_site(&uk).await, (uk_backend, "uk".to_owned()));
        assert_eq!(backend_and_site(&fa).await, (fa_backend, "fa".to_owned()));
    }
    // The pool full and fa's connection in use: uk's idle one is rebound to fa, and sees fa.
    let held = store::connection(&fa).await.expect("fa's connection");
    assert_eq!(backend_and_site(&fa).await, (uk_backend, "fa".to_owned()));
    let (default_backend, bound) = backend_and_site(&pool.site(&SiteId::default_site())).await;
    assert_eq!((default_backend, bound.as_str()), (uk_backend, "default"));
    // Both in use: the next caller waits for the first given back.
    let other = store::connection(&uk).await.expect("the other connection");
    let waiting = tokio::spawn({
        let uk = uk.clone();
        async move { backend_and_site(&uk).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "no connection free yet");
    drop(held);
    let (backend, bound) = waiting.await.expect("the waiter");
    assert_eq!((backend, bound.as_str()), (fa_backend, "uk"));
    drop(other);
    let status = pool.status();
    assert_eq!((status.size, status.available), (2, 2), "both idle again");
}

/// On a thread of its own, as an HTTP worker: the backends of the connections it is given over
/// `rounds` checkouts.
fn as_worker(worker: usize, pool: Pool, rounds: usize) -> std::thread::JoinHandle<Vec<i64>> {
    std::thread::spawn(move || {
        marginalia::db::pool::serve_from_this_thread(worker);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut backends = Vec::new();
            for _ in 0..rounds {
                let (backend, _) = backend_and_site(&pool).await;
                backends.push(backend);
            }
            backends
        })
    })
}

#[tokio::test]
async fn each_http_worker_takes_the_connections_it_opened_and_other_threads_take_any() {
    let app = spawn_app().await;
    let site = SiteId::default_site();
    let options = marginalia::db::PoolOptions {
        max_size: 4,
        shards: 2,
        acquire_timeout: std::time::Duration::from_secs(5),
        statement_timeout: std::time::Duration::from_secs(5),
    };
    let pool = marginalia::db::build_pool(&app.database_url, options)
        .expect("a pool")
        .site(&site);
    let backends_of = |worker| {
        let backends = as_worker(worker, pool.clone(), 5)
            .join()
            .expect("the worker's thread");
        backends
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (first, second) = (backends_of(0), backends_of(1));
    assert_eq!(
        first.len(),
        1,
        "worker 0 reuses its own connection: {first:?}"
    );
    assert_eq!(
        second.len(),
        1,
        "worker 1 reuses its own connection: {second:?}"
    );
    assert!(first.is_disjoint(&second), "{first:?} and {second:?}");
    let status = pool.status();
    assert_eq!(status.max_size, 4, "the shards add up to the pool's size");
    // A thread that is no worker's (here the test's) holds connections of both shards at once.
    let held: Vec<_> = futures_util::future::join_all((0..4).map(|_| store::connection(&pool)))
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("four connections");
    assert_eq!(pool.status().size, 4);
    drop(held);
}
