//! Storage on SQLite: the original project's cases, the cascade, migrations.

use crate::support::{memory_store, report, sample};
use result_aggregation_server::config::Location;
use result_aggregation_server::storage::{StorageError, Store, Totals};
use rusqlite::{Connection, OptionalExtension};
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
    // Deleting an attempt (the table under the `attempts` view) deletes its packages too.
    conn.execute("DELETE FROM submissions", []).unwrap();
    assert_eq!(count("SELECT count(*) FROM successful_installs"), 0);
    assert_eq!(count("SELECT count(*) FROM failed_installs"), 0);
    drop(conn);
    // After hand edits, rebuild-tallies repairs what points at the deleted rows.
    let store = Store::open(&Location::File(path.clone())).unwrap();
    store.rebuild_tallies().await.unwrap();
    store.close();
    let conn = connect(&path);
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        count("SELECT count(*) FROM user_system_info WHERE latest_attempt_id IS NOT NULL"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM failure_tally"), 0);
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

#[tokio::test]
async fn delete_user_takes_a_key_in_any_spelling_a_client_may_send() {
    let store = memory_store();
    for spelling in [
        |k: &str| k.to_uppercase(),
        |k: &str| format!("{{{k}}}"),
        |k: &str| format!("urn:uuid:{k}"),
        |k: &str| k.replace('-', ""),
    ] {
        let key = store
            .record(report(&sample(None, None, None)))
            .await
            .unwrap()
            .key
            .to_string();
        let deleted = store.delete_user(spelling(&key)).await.unwrap();
        assert_eq!(deleted.learners, 1, "{}", spelling(&key));
    }
    assert_eq!(store.totals().await.unwrap().learners, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_by_another_process_is_waited_for_not_refused() {
    use crate::metrics::parse;
    use result_aggregation_server::metrics::Metrics;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ras.db");
    let metrics = Metrics::new();
    let store = Store::open_with_metrics(&Location::File(path.clone()), metrics.clone()).unwrap();
    // Another process (delete-user, a second instance) holds the write lock...
    let other = connect(&path);
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let store = std::sync::Arc::new(store);
    let writer = store.clone();
    let pending =
        tokio::spawn(async move { writer.record(report(&sample(None, None, None))).await });
    // ...for longer than the writer's busy timeout: hold it until the writer says it waited.
    let waits = || {
        parse(&metrics.encode())
            .unwrap()
            .value("ras_writer_lock_waits_total", &[])
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while waits() < 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never waited"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    other.execute_batch("COMMIT").unwrap();
    let receipt = pending
        .await
        .unwrap()
        .expect("stored once the lock was free");
    assert!(!receipt.known);
    assert_eq!(store.totals().await.unwrap().attempts, 1);
    store.close();
}

/// Rows of `dictionary_uses`: kind, id, uses.
type Uses = Vec<(i64, i64, i64)>;

/// The straightforward count of every dictionary value's uses, from the raw rows, against
/// what the writer kept; and what the dictionaries hold that nothing uses.
fn uses_and_orphans(conn: &Connection) -> (Uses, Uses, i64) {
    let rows = |sql: &str| -> Uses {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let kept = rows("SELECT kind, id, uses FROM dictionary_uses ORDER BY 1, 2");
    let counted = rows(
        "SELECT 1, id, count(*) FROM (SELECT j.value AS id FROM submissions, json_each(successes) j
                                      UNION ALL SELECT package_id FROM submission_failures)
          GROUP BY id
         UNION ALL SELECT 2, error_id, count(*) FROM submission_failures
          WHERE error_id IS NOT NULL GROUP BY error_id
         UNION ALL SELECT 3, profile_id, count(*) FROM submissions GROUP BY profile_id
         ORDER BY 1, 2",
    );
    let orphans: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM error_texts WHERE id NOT IN
                        (SELECT error_id FROM submission_failures WHERE error_id NOT NULL))
                  + (SELECT count(*) FROM packages WHERE id NOT IN
                        (SELECT j.value FROM submissions, json_each(successes) j)
                      AND id NOT IN (SELECT package_id FROM submission_failures))
                  + (SELECT count(*) FROM system_profiles WHERE id NOT IN
                        (SELECT profile_id FROM submissions)
                      AND id NOT IN (SELECT profile_id FROM user_system_info
                                      WHERE profile_id NOT NULL))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (kept, counted, orphans)
}

/// Issue 20, item 7: the writer counts each dictionary value's uses exactly, and values no
/// attempt uses any more are deleted after each deletion, whatever the history: learners
/// coming back with shared and own values, deleted one by one, by purge and by workshop,
/// in batches the writer commits together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_dictionary_values_go_with_the_learners_who_used_them() {
    let (_dir, path, store) = file_store();
    let store = std::sync::Arc::new(store);
    let mut rng = fastrand::Rng::with_seed(20);
    let mut keys: Vec<String> = Vec::new();
    for round in 0..60 {
        let mut jobs = Vec::new();
        for n in 0..rng.usize(1..6) {
            let mut body = sample(None, None, Some(["ws-a", "ws-b"][rng.usize(0..2)]));
            if !keys.is_empty() && rng.bool() {
                body["unique_user_id"] = json!(keys[rng.usize(0..keys.len())]);
            }
            let own = format!("{round}-{n}");
            body["user_system_info"]["system_version"] = json!(if rng.bool() {
                "#50-Ubuntu SMP".into()
            } else {
                own.clone()
            });
            body["successful_installs"][1]["version"] = json!(if rng.bool() {
                "3.5.1".into()
            } else {
                format!("3.5.1-{own}")
            });
            body["failed_installs"][0]["error_description"] = json!(if rng.bool() {
                "not found".into()
            } else {
                format!("error {own}")
            });
            if rng.usize(0..4) == 0 {
                body["failed_installs"] = json!([]);
            }
            let store = store.clone();
            jobs.push(tokio::spawn(
                async move { store.record(report(&body)).await },
            ));
        }
        for job in jobs {
            let key = job.await.unwrap().unwrap().key.to_string();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if !keys.is_empty() && rng.usize(0..3) == 0 {
            let gone = keys.swap_remove(rng.usize(0..keys.len()));
            store.delete_user(gone).await.unwrap();
        }
    }
    let check = |what: &str| {
        let conn = connect(&path);
        let (kept, counted, orphans) = uses_and_orphans(&conn);
        assert_eq!(kept, counted, "{what}: the uses kept are the uses counted");
        assert_eq!(orphans, 0, "{what}: no value is left that nothing uses");
        let broken: Option<String> = conn
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()
            .unwrap();
        assert_eq!(broken, None, "{what}");
        let dangling: i64 = conn
            .query_row(
                "SELECT count(*) FROM submissions, json_each(successes) j
                  WHERE j.value NOT IN (SELECT id FROM packages)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(dangling, 0, "{what}: every success names a package");
        result_aggregation_server::storage::verify(&path).unwrap();
    };
    check("after deleting learners one by one");
    store.delete_workshop("ws-a".into()).await.unwrap_err(); // not registered: nothing goes
    store.purge(std::time::Duration::ZERO, false).await.unwrap();
    check("after purging everyone");
    let conn = connect(&path);
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM error_texts"), 0);
    assert_eq!(count("SELECT count(*) FROM packages"), 0);
    assert_eq!(count("SELECT count(*) FROM dictionary_uses"), 0);
    drop(conn);
    // Values come back as new rows once they are used again.
    let key = store
        .record(report(&sample(None, None, None)))
        .await
        .unwrap()
        .key;
    check("after a new report");
    store.delete_user(key.to_string()).await.unwrap();
    check("after it was deleted");
    store.close();
}
