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
const INSTALLATION_TABLES: [&str; 4] = [
    "__diesel_schema_migrations",
    "api_keys",
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
    assert_eq!(with_site.len(), 13, "{with_site:?}");
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
