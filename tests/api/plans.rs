//! The submission statement's plan, as PostgreSQL makes it once per connection: the duplicate
//! rule probes its index once. Were the probe copied into each place that reads its answer, its
//! cost would count that many times, and once duplicates piled up PostgreSQL would find planning
//! each submission anew cheaper than the generic plan: the soak's late slowdown
//! (docs/benchmarks.md), where the database's CPU per write doubled.

use diesel::sql_types::{Integer, Text};
use diesel::QueryableByName;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use marginalia::store;
use serde_json::json;

use crate::common::spawn_app_with;

#[derive(QueryableByName)]
struct Prepared {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    parameters: i32,
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    line: String,
}

#[tokio::test]
async fn the_duplicate_rule_probes_its_index_once_per_submission() {
    // One connection: the one that prepares the statement is the one the test looks into.
    let app = spawn_app_with(|settings| settings.database.pool_size = 1).await;
    let response = app
        .post_review(
            "kyiv-metro-flooding",
            &json!({"rating": 4, "body": "The station was closed for a week."}),
        )
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);

    let mut conn = store::connection(&app.pool.installation())
        .await
        .expect("the pool's connection");
    let prepared: Prepared = diesel::sql_query(
        "SELECT name, cardinality(parameter_types) AS parameters FROM pg_prepared_statements \
         WHERE statement LIKE 'WITH created AS (INSERT INTO articles%'",
    )
    .get_result(&mut *conn)
    .await
    .expect("the submission statement, prepared on this connection");
    // Its generic plan: what every later submission on the connection runs.
    conn.batch_execute(
        "CREATE FUNCTION pg_temp.generic_plan(execute text) RETURNS SETOF text LANGUAGE plpgsql \
         AS $$ BEGIN SET LOCAL plan_cache_mode = force_generic_plan; \
         RETURN QUERY EXECUTE 'EXPLAIN ' || execute; END $$",
    )
    .await
    .expect("a session function to read the plan");
    let nulls = vec!["NULL"; usize::try_from(prepared.parameters).unwrap()].join(", ");
    let plan: Vec<PlanLine> = diesel::sql_query(format!(
        "SELECT line FROM pg_temp.generic_plan('EXECUTE {}({nulls})') AS line",
        prepared.name
    ))
    .load(&mut *conn)
    .await
    .expect("the generic plan");
    let plan: Vec<String> = plan.into_iter().map(|row| row.line).collect();

    // Whichever index the planner picks for an empty table, the probe's condition shows once per
    // copy of the probe.
    let probes = plan
        .iter()
        .filter(|line| line.contains("duplicate_digest = $"))
        .count();
    assert_eq!(probes, 1, "{}", plan.join("\n"));
}
