//! Storage on SQLite: the original project's cases, the cascade, migrations.

use crate::support::{memory_store, report, sample};
use result_aggregation_server::config::Location;
use result_aggregation_server::storage::{StorageError, Store, Totals, SCHEMA_VERSION};
use rusqlite::Connection;
use serde_json::json;

#[tokio::test]
async fn empty_successful_installs_are_stored() {
    let store = memory_store();
    let mut body = sample(None, None, None);
    body["successful_installs"] = json!([]);
    let receipt = store.record(report(&body)).await.unwrap();
    assert!(!receipt.known);
    let totals = store.totals().await.unwrap();
    assert_eq!((totals.learners, totals.attempts), (1, 1));
    assert_eq!((totals.successful_installs, totals.failed_installs), (0, 1));
}

#[tokio::test]
async fn empty_failed_installs_are_stored() {
    let store = memory_store();
    let mut body = sample(None, None, None);
    body["failed_installs"] = json!([]);
    store.record(report(&body)).await.unwrap();
    let totals = store.totals().await.unwrap();
    assert_eq!((totals.successful_installs, totals.failed_installs), (2, 0));
}

#[tokio::test]
async fn empty_system_info_is_stored() {
    let store = memory_store();
    let mut body = sample(None, None, None);
    body["user_system_info"] = json!({});
    store.record(report(&body)).await.unwrap();
    body["user_system_info"] = json!(null);
    store.record(report(&body)).await.unwrap();
    assert_eq!(store.totals().await.unwrap().learners, 2);
}

#[tokio::test]
async fn a_modified_key_gets_a_fresh_one() {
    let store = memory_store();
    let first = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap();
    let mut edited = first.key.to_string();
    let prefix = if edited.starts_with("ffff") {
        "0000"
    } else {
        "ffff"
    };
    edited.replace_range(0..4, prefix);
    let second = store
        .record(report(&sample(Some(&edited), None, None)))
        .await
        .unwrap();
    assert!(!second.known);
    assert_ne!(
        second.key.to_string(),
        edited,
        "never adopt a key the server did not issue"
    );
    assert_ne!(second.key, first.key);
    assert_eq!(store.totals().await.unwrap().learners, 2);
}

#[tokio::test]
async fn the_same_key_twice_is_one_user_with_two_attempts() {
    let store = memory_store();
    let first = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap();
    let key = first.key.to_string();
    let second = store
        .record(report(&sample(Some(&key), None, None)))
        .await
        .unwrap();
    assert!(second.known);
    assert_eq!(second.key, first.key);
    let totals = store.totals().await.unwrap();
    assert_eq!((totals.learners, totals.attempts), (1, 2));
    assert_eq!(totals.successful_installs, 4);
}

/// A store on a file, so the test can look at the rows with its own connection.
fn file_store() -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let store = Store::open(&Location::File(path.clone())).unwrap();
    (dir, path, store)
}

fn connect(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn
}

#[tokio::test]
async fn a_later_attempt_without_email_or_workshop_keeps_them() {
    let (_dir, path, store) = file_store();
    let first = store
        .record(report(&sample(
            None,
            Some("learner@example.org"),
            Some("2016-08-13-place"),
        )))
        .await
        .unwrap();
    let key = first.key.to_string();
    store
        .record(report(&sample(Some(&key), None, None)))
        .await
        .unwrap();
    let mut other_os = sample(Some(&key), None, None);
    other_os["user_system_info"] = json!({"system": "Darwin", "email_id": ""});
    store.record(report(&other_os)).await.unwrap();
    store.close();
    let (email, workshop, system, distribution): (String, String, String, String) = connect(&path)
        .query_row(
            "SELECT email_id, workshop_id, system, distribution_name FROM user_system_info",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(email, "learner@example.org");
    assert_eq!(workshop, "2016-08-13-place");
    assert_eq!(system, "Darwin", "fields a report carries are updated");
    assert_eq!(distribution, "Ubuntu", "fields it leaves out are kept");
}

#[tokio::test]
async fn versions_lose_their_trailing_newline_and_latest_attempt_is_kept() {
    let (_dir, path, store) = file_store();
    let first = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap();
    store
        .record(report(&sample(Some(&first.key.to_string()), None, None)))
        .await
        .unwrap();
    store.close();
    let conn = connect(&path);
    let version: String = conn
        .query_row(
            "SELECT version FROM successful_installs WHERE name = 'Git (git)' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "2.7.4");
    let (latest, newest): (i64, i64) = conn
        .query_row(
            "SELECT latest_attempt_id, (SELECT max(id) FROM attempts) FROM user_system_info",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(latest, newest);
}

#[tokio::test]
async fn deleting_a_user_cascades_in_the_database() {
    let (_dir, path, store) = file_store();
    let gone = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap();
    store
        .record(report(&sample(Some(&gone.key.to_string()), None, None)))
        .await
        .unwrap();
    let kept = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap();
    store.close();
    // Plain SQL with foreign keys on, no ORM: the schema alone must cascade.
    let conn = connect(&path);
    conn.execute(
        "DELETE FROM user_system_info WHERE unique_user_id = ?1",
        [gone.key.to_string()],
    )
    .unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM attempts"), 1);
    assert_eq!(count("SELECT count(*) FROM successful_installs"), 2);
    assert_eq!(count("SELECT count(*) FROM failed_installs"), 1);
    let owner: String = conn
        .query_row("SELECT DISTINCT u.unique_user_id FROM failed_installs f JOIN user_system_info u ON u.id = f.user_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(owner, kept.key.to_string());
    // Deleting one attempt deletes its packages too.
    conn.execute("DELETE FROM attempts", []).unwrap();
    assert_eq!(count("SELECT count(*) FROM successful_installs"), 0);
    assert_eq!(
        count("SELECT count(*) FROM user_system_info WHERE latest_attempt_id IS NOT NULL"),
        0
    );
}

#[tokio::test]
async fn delete_user_reports_what_went_and_refuses_unknown_keys() {
    let store = memory_store();
    let receipt = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap();
    let deleted = store.delete_user(receipt.key.to_string()).await.unwrap();
    assert_eq!(
        (
            deleted.attempts,
            deleted.successful_installs,
            deleted.failed_installs
        ),
        (1, 2, 1)
    );
    assert_eq!(store.totals().await.unwrap(), Totals::default());
    assert_eq!(
        store
            .delete_user(receipt.key.to_string())
            .await
            .unwrap_err(),
        StorageError::NotFound
    );
}

#[tokio::test]
async fn concurrent_writes_are_all_committed() {
    let store = std::sync::Arc::new(memory_store());
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record(report(&sample(None, None, None))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let totals = store.totals().await.unwrap();
    assert_eq!(
        (totals.learners, totals.attempts, totals.failed_installs),
        (200, 200, 200)
    );
}

#[tokio::test]
async fn writes_after_close_are_refused() {
    let store = memory_store();
    store.close();
    let refused = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap_err();
    assert_eq!(refused, StorageError::Closed);
}

/// The original server's tables, as its SQLAlchemy models created them.
const ORIGINAL_SCHEMA: &str = "
PRAGMA foreign_keys = OFF; -- as in Python's sqlite3, where the original ran
CREATE TABLE user_system_info (id INTEGER NOT NULL, unique_user_id VARCHAR(100),
  distribution_name VARCHAR(100), distribution_version VARCHAR(100), system_version VARCHAR(100),
  system VARCHAR(100), machine VARCHAR(100), system_platform VARCHAR(100),
  python_version VARCHAR(100), workshop_id VARCHAR(100), email_id VARCHAR(100),
  create_time DATETIME, PRIMARY KEY (id), UNIQUE (unique_user_id));
CREATE TABLE attempts (id INTEGER NOT NULL, unique_user_id VARCHAR(100), PRIMARY KEY (id));
CREATE TABLE successful_installs (id INTEGER NOT NULL, name VARCHAR(100), version VARCHAR(100),
  user_id INTEGER, attempt_id INTEGER, create_time DATETIME, PRIMARY KEY (id),
  FOREIGN KEY(user_id) REFERENCES user_system_info (id), FOREIGN KEY(attempt_id) REFERENCES attempts (id));
CREATE TABLE failed_installs (id INTEGER NOT NULL, name VARCHAR(100), version VARCHAR(100),
  error_description VARCHAR(1000), user_id INTEGER, attempt_id INTEGER, create_time DATETIME,
  PRIMARY KEY (id), FOREIGN KEY(user_id) REFERENCES user_system_info (id),
  FOREIGN KEY(attempt_id) REFERENCES attempts (id));
INSERT INTO user_system_info VALUES (1, 'key-one', 'Ubuntu', '16.04', '#50', 'Linux', 'x86_64',
  'Linux-4.4', '3.5.1', 'ws-1', 'one@example.org', '2016-08-13 10:00:00.000000');
INSERT INTO user_system_info VALUES (2, 'key-two', NULL, NULL, NULL, 'Windows', NULL, NULL,
  '2.7.12', 'ws-1', NULL, '2016-08-13 11:00:00.000000');
INSERT INTO attempts VALUES (1, 'key-one'), (2, 'key-one'), (3, 'key-gone');
INSERT INTO successful_installs VALUES (1, 'Git (git)', '2.7.4', 1, 1, '2016-08-13 10:00:00'),
  (2, 'Git (git)', '2.7.4', 1, 2, '2016-08-13 10:05:00'),
  (3, 'Python (python)', '2.7.12', 2, NULL, '2016-08-13 11:00:00');
INSERT INTO failed_installs VALUES (1, 'EasyMercurial', NULL, 'not found', 1, 2, '2016-08-13 10:05:00'),
  (2, 'Make (make)', NULL, 'not found', 2, NULL, '2016-08-13 11:00:00'),
  (3, 'Orphan', NULL, 'user deleted by hand', 99, NULL, '2016-08-13 12:00:00');
";

#[tokio::test]
async fn an_original_database_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("original.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(ORIGINAL_SCHEMA)
        .unwrap();
    let store = Store::open(&Location::File(path.clone())).unwrap();
    let totals = store.totals().await.unwrap();
    // key-gone's attempt and the orphan failure point at nobody; learner 2's packages from
    // before attempts existed get an attempt of their own.
    assert_eq!(
        totals,
        Totals {
            learners: 2,
            attempts: 3,
            successful_installs: 3,
            failed_installs: 2
        }
    );
    let again = store
        .record(report(&sample(Some("key-one"), None, None)))
        .await;
    assert!(again.is_ok());
    store.close();
    let conn = connect(&path);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let email: String = conn
        .query_row(
            "SELECT email_id FROM user_system_info WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(email, "one@example.org");
    let latest: i64 = conn
        .query_row(
            "SELECT latest_attempt_id FROM user_system_info WHERE id = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let holds: i64 = conn
        .query_row(
            "SELECT count(*) FROM failed_installs WHERE attempt_id = ?1",
            [latest],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(holds, 1);
    conn.execute("DELETE FROM user_system_info WHERE id = 1", [])
        .unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM successful_installs WHERE user_id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the migrated tables cascade");
    // Opening it again is a no-op.
    Store::open(&Location::File(path)).unwrap().close();
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = Store::open(&Location::File(path)).err().expect("refused");
    assert!(err.to_string().contains("newer"), "{err}");
}
