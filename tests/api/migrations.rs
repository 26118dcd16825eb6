//! Migrations are written expand/contract, so that during a rolling upgrade an old node and a new
//! node serve side by side on the new schema (docs/deployment.md, "Upgrades"): the newest
//! migration only adds, unless it says it is the contract step of an earlier expansion; and its
//! `down.sql` takes the schema back exactly, so a release can be rolled back.

use std::path::{Path, PathBuf};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use crate::common::{empty_database, pg_dump, spawn_app};

/// A migration that is the contract step of an earlier release's expansion says so in a comment
/// naming that migration: `-- contract: drops what <migration> replaced`.
const CONTRACT_MARKER: &str = "-- contract:";

/// What an old node may still read or write, taken away: each with why it breaks the old node.
const CONTRACTIONS: &[(&str, &str)] = &[
    ("DROP TABLE", "an old node still reads the table"),
    ("DROP COLUMN", "an old node still selects the column"),
    ("RENAME", "an old node still uses the old name"),
    (
        "SET NOT NULL",
        "an old node still inserts without the column",
    ),
    (
        "DROP DEFAULT",
        "an old node still inserts without the column",
    ),
    (
        "DROP FUNCTION",
        "an old node's statements may still call it",
    ),
    (
        "DROP CONSTRAINT",
        "an old node may rely on it (an ON CONFLICT target)",
    ),
    ("ADD CONSTRAINT", "an old node's writes may break it"),
];

/// The first migration written under the rule; the ones before were written for single-node
/// installations upgraded while stopped.
const RULE_SINCE: &str = "2026-12-06";

/// The statements of `sql` that contract the schema, with why; empty for an expand-only
/// migration or one marked as a contract step.
fn contractions(sql: &str) -> Vec<String> {
    if sql.contains(CONTRACT_MARKER) {
        return Vec::new();
    }
    let code: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    let code = code.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut found: Vec<String> = CONTRACTIONS
        .iter()
        .filter(|(statement, _)| code.contains(statement))
        .map(|(statement, why)| format!("{statement}: {why}"))
        .collect();
    // A type change, and a new column an old node's inserts would not fill.
    for statement in code.split(';') {
        if statement.contains("ALTER COLUMN") && statement.contains(" TYPE ") {
            found.push("ALTER COLUMN … TYPE: an old node still binds the old type".into());
        }
        for added in statement.split("ADD COLUMN").skip(1) {
            let column = added.split(',').next().unwrap_or_default();
            if column.contains("NOT NULL") && !column.contains("DEFAULT") {
                found.push(
                    "ADD COLUMN … NOT NULL without DEFAULT: an old node's inserts fail".into(),
                );
            }
        }
    }
    found
}

fn migrations() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the migrations directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.join("up.sql").exists())
        .collect();
    names.sort();
    names
}

fn newest_migration() -> PathBuf {
    migrations().pop().expect("a migration")
}

#[test]
fn the_rule_tells_an_expansion_from_a_contraction() {
    assert!(contractions("CREATE TABLE t (a INT); ALTER TABLE u ADD COLUMN b TEXT;").is_empty());
    assert!(contractions("ALTER TABLE u ADD COLUMN b INT NOT NULL DEFAULT 0").is_empty());
    assert!(contractions("-- we never DROP TABLE here\nCREATE INDEX i ON t (a)").is_empty());
    assert_eq!(contractions("ALTER TABLE u DROP COLUMN b").len(), 1);
    assert_eq!(contractions("alter table u rename column a to b").len(), 1);
    assert_eq!(
        contractions("ALTER TABLE u ADD COLUMN b INT NOT NULL").len(),
        1
    );
    assert_eq!(
        contractions("ALTER TABLE u ALTER COLUMN a TYPE BIGINT").len(),
        1
    );
    assert_eq!(
        contractions("ALTER TABLE u ALTER COLUMN a SET NOT NULL").len(),
        1
    );
    assert!(
        contractions("-- contract: drops what 2026-12-06-000001 replaced\nDROP TABLE t").is_empty()
    );
}

#[test]
fn migrations_under_the_rule_only_expand() {
    let under_rule: Vec<PathBuf> = migrations()
        .into_iter()
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name >= RULE_SINCE)
        })
        .collect();
    assert!(under_rule.contains(&newest_migration()));
    for migration in under_rule {
        let up = std::fs::read_to_string(migration.join("up.sql")).expect("up.sql");
        let found = contractions(&up);
        assert!(
            found.is_empty(),
            "{} contracts the schema an old node still uses: {found:?}; ship it as an expansion \
             now and the contraction one release later, marked `{CONTRACT_MARKER} …`",
            migration.display()
        );
    }
}

fn schema(database_url: &str) -> String {
    pg_dump(
        database_url,
        &["--schema-only", "--no-owner", "--no-comments"],
    )
}

#[tokio::test]
async fn the_newest_migration_rolls_back_and_forward_to_the_same_schema() {
    let app = spawn_app().await;
    let newest = newest_migration();
    let migrated = schema(&app.database_url);
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .expect("connect as the owner");
    let down = std::fs::read_to_string(newest.join("down.sql")).expect("down.sql");
    conn.batch_execute(&down).await.expect("down.sql runs");
    let rolled_back = schema(&app.database_url);
    assert_ne!(rolled_back, migrated, "down.sql changed nothing");
    let up = std::fs::read_to_string(newest.join("up.sql")).expect("up.sql");
    conn.batch_execute(&up).await.expect("up.sql runs again");
    assert_eq!(
        schema(&app.database_url),
        migrated,
        "down then up left a different schema"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_starting_together_migrate_once() {
    let database_url = empty_database().await;
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let url = database_url.clone();
            tokio::spawn(async move { marginalia::db::run_migrations(&url).await })
        })
        .collect();
    let mut applied = Vec::new();
    for start in starts {
        applied.push(
            start
                .await
                .expect("the start finishes")
                .expect("every node's migrations succeed"),
        );
    }
    applied.sort_by_key(Vec::len);
    assert!(
        applied[0].is_empty() && applied[1].is_empty(),
        "the later nodes found nothing left: {applied:?}"
    );
    assert_eq!(
        applied[2].len(),
        migrations().len(),
        "one node applied every migration"
    );
}
