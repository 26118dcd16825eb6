//! A 201 means committed. PostgreSQL sends a statement's rows before it commits the implicit
//! transaction around it; a connection cut between the two (a fast shutdown, an administrator
//! ending the backend) loses the write after its rows went out. These stories cut the connection
//! exactly there, with a deferred trigger that ends its own backend at commit, and expect a 503
//! and nothing stored instead of an acknowledgement of a write that never happened.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use serde_json::json;

use crate::common::{expect_problem, spawn_app, TestApp};

/// Text that makes the database end the connection while committing the review that holds it.
const CUT_OFF: &str = "The connection of this review ends while it commits.";

/// Installs, in this test's own database, a deferred trigger that ends the backend committing a
/// review whose body is `CUT_OFF`: after the statement sent its rows, before the commit.
async fn cut_connections_at_commit(app: &TestApp) {
    // As the database's owner: the service's own role may not create functions or triggers.
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .expect("connect as the owner");
    conn.batch_execute(&format!(
        "CREATE FUNCTION cut_off_at_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ \
         BEGIN \
           IF NEW.body = '{CUT_OFF}' THEN \
             PERFORM pg_terminate_backend(pg_backend_pid()); \
             PERFORM pg_sleep(10); \
           END IF; \
           RETURN NULL; \
         END $$; \
         CREATE CONSTRAINT TRIGGER cut_off_at_commit AFTER INSERT ON reviews \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cut_off_at_commit();"
    ))
    .await
    .expect("the trigger is installed");
}

#[tokio::test]
async fn a_submission_whose_commit_is_cut_off_is_a_503_and_not_stored() {
    let app = spawn_app().await;
    cut_connections_at_commit(&app).await;

    let response = app
        .post_review(
            "kyiv-metro-flooding",
            &json!({"rating": 2, "body": CUT_OFF}),
        )
        .await;
    expect_problem(response, 503).await;
    let stored = app
        .count(&format!(
            "SELECT count(*) AS n FROM reviews WHERE body = '{CUT_OFF}'"
        ))
        .await;
    assert_eq!(stored, 0, "nothing was committed");

    // The pool drops the cut connection; the next submission is stored and read back by its id.
    let response = app
        .post_review(
            "kyiv-metro-flooding",
            &json!({"rating": 4, "body": "The station reopened on Monday."}),
        )
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    let created: serde_json::Value = response.json().await.expect("the created review");
    let read = app
        .get(&format!(
            "/v1/reviews/{}",
            created["id"].as_str().expect("an id")
        ))
        .await;
    assert_eq!(read.status(), 200);
}
