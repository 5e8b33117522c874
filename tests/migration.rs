//! Older databases brought forward in place: the original 2016 server's, and this server's
//! schema version 2 (a real file it wrote, with what its exports said). A complete copy of the
//! file is written beside it first; a migration that fails leaves the file as it was.

use crate::support::{answer, get, peer, report, sample};
use result_aggregation_server::app::App;
use result_aggregation_server::config::{Config, Location};
use result_aggregation_server::storage::{Store, Totals, SCHEMA_VERSION};
use result_aggregation_server::throttle::Throttle;
use rusqlite::Connection;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn version_of(conn: &Connection) -> i64 {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

fn connect(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn
}

/// The app on a database file, as `serve` opens it.
fn app_on(path: &Path) -> App {
    let config = Config {
        db: Location::File(path.to_owned()),
        ..Config::in_memory()
    };
    let store = Store::open(&config.db).expect("the file opens");
    App::new(&config, store, Throttle::from_limit(None))
}

async fn export(app: &App, url: &str) -> Value {
    let page = answer(app.handle(get(url), peer("192.0.2.1")).await).await;
    assert_eq!(page.status, 200, "{url}");
    page.json
}

/// Fails with the first offset where the two files differ (not with every byte).
fn assert_same_bytes(file: &Path, expected: &[u8], what: &str) {
    let found = std::fs::read(file).unwrap();
    let first = found.iter().zip(expected).position(|(a, b)| a != b);
    assert!(
        found.len() == expected.len() && first.is_none(),
        "{what}: {} is {} bytes, expected {}; first difference at {first:?}",
        file.display(),
        found.len(),
        expected.len()
    );
}

/// The copy a migration from schema version `version` writes beside the file.
fn copy_beside(path: &Path, version: i64) -> PathBuf {
    let stem = path.file_stem().unwrap().to_string_lossy();
    path.with_file_name(format!("{stem}.before-migration-v{version}.db"))
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
    assert_eq!(version_of(&conn), SCHEMA_VERSION);
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

#[tokio::test]
async fn an_original_database_is_copied_first_and_its_counts_show_on_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("original.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(ORIGINAL_SCHEMA)
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let app = app_on(&path);
    assert_same_bytes(&copy_beside(&path, 0), &before, "the copy is the original");
    let overview = export(&app, "/view/?export=json").await;
    assert_eq!(
        overview["most_failed_packages"],
        json!([{"name": "EasyMercurial", "version": null, "count": 1},
               {"name": "Make (make)", "version": null, "count": 1}])
    );
    assert_eq!(overview["os_users"], json!([["Linux", 1], ["Windows", 1]]));
    assert_eq!(overview["workshops"], json!(["ws-1"]));
    let all = export(&app, "/view/ws-1/?export=json&all_attempts=1").await;
    assert_eq!(
        all["most_failed_package_names"].as_array().unwrap().len(),
        2
    );
    let detail = export(
        &app,
        "/view/detail/?package_one_name=EasyMercurial&export=json",
    )
    .await;
    let detail = &detail["package_details"][0];
    assert_eq!(detail["user_system_info"]["system"], json!([["Linux", 1]]));
    // The original kept no attempt times: an attempt has its earliest package's.
    assert_eq!(detail["create_time"], json!([["2016-08-13", 1]]));
    app.store.close();
}

/// A copy in `dir` of the real file of schema `version` in tests/fixtures, its bytes, and
/// what that version's exports said about it.
fn fixture(dir: &Path, version: i64) -> (PathBuf, Vec<u8>, serde_json::Map<String, Value>) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let exports = std::fs::read(fixtures.join(format!("v{version}-exports.json"))).unwrap();
    let path = dir.join(format!("v{version}.db"));
    std::fs::copy(fixtures.join(format!("v{version}.db")), &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    (path, before, serde_json::from_slice(&exports).unwrap())
}

#[tokio::test]
async fn a_version_2_database_migrates_in_place_with_every_export_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (path, before, expected) = fixture(dir.path(), 2);
    let app = app_on(&path);
    assert_same_bytes(&copy_beside(&path, 2), &before, "the copy is the original");
    for (url, exported) in &expected {
        let mut now = export(&app, url).await;
        // Later versions add "what fixed it" to each package detail; the rest is unchanged.
        let details = now.get_mut("package_details").and_then(Value::as_array_mut);
        for detail in details.into_iter().flatten() {
            let fixes = detail.as_object_mut().unwrap().remove("fixes");
            assert!(
                fixes.is_some_and(|f| f["failed_learners"].is_i64()),
                "{url}"
            );
        }
        assert_eq!(&now, exported, "{url} says what the version 2 server said");
    }
    let totals = app.store.totals().await.unwrap();
    assert_eq!((totals.learners, totals.attempts), (27, 40));
    app.store.close();
    let conn = connect(&path);
    assert_eq!(version_of(&conn), SCHEMA_VERSION);
    // The original's tables are still there to query, under their names.
    let failures: i64 = conn
        .query_row("SELECT count(*) FROM failed_installs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(failures, 80);
}

/// An original-like file whose learners share a key: it cannot become a schema with one
/// learner per key, so its migration fails.
fn broken_file(path: &Path) {
    Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE user_system_info (id INTEGER PRIMARY KEY, unique_user_id TEXT,
                 distribution_name, distribution_version, system_version, system, machine,
                 system_platform, python_version, workshop_id, email_id, create_time);
             INSERT INTO user_system_info (id, unique_user_id) VALUES (1, 'same'), (2, 'same');
             CREATE TABLE attempts (id INTEGER PRIMARY KEY, unique_user_id TEXT);",
        )
        .unwrap();
}

#[tokio::test]
async fn a_migration_that_fails_leaves_the_file_as_it_was_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db");
    broken_file(&path);
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&Location::File(path.clone()))
        .err()
        .expect("the migration fails");
    assert!(err.to_string().contains("UNIQUE"), "says why: {err}");
    assert_same_bytes(&path, &before, "the file is unchanged");
    assert_same_bytes(&copy_beside(&path, 0), &before, "the copy is the original");
}

/// Every table, index and view of a file, as `sqlite_schema` writes them, by name.
fn schema_of(conn: &Connection) -> Vec<(String, String)> {
    conn.prepare("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The bytes of the database file and of its WAL (if any), where no forgotten text may be.
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

/// Issue 20, item 7: version 3 kept every error text a deleted learner sent (and indexed each
/// by its whole text). Version 4 indexes them by a hash and deletes what no attempt uses; a
/// version 3 file migrates with every export unchanged and loses its forgotten learner's
/// text, version and machine, in the file itself, free space included (the copy beside it
/// keeps the old file as it was).
#[tokio::test]
async fn a_version_3_database_migrates_with_every_export_unchanged_and_its_orphans_gone() {
    let dir = tempfile::tempdir().unwrap();
    let (path, before, expected) = fixture(dir.path(), 3);
    let forgotten = [
        "/home/forgotten-learner-v3/",
        "2.99.0-forgotten",
        "forgotten-host",
    ];
    for text in forgotten {
        assert!(holds(&before, text), "the fixture holds {text}");
    }
    let app = app_on(&path);
    assert_same_bytes(&copy_beside(&path, 3), &before, "the copy is the original");
    for (url, exported) in &expected {
        assert_eq!(
            &export(&app, url).await,
            exported,
            "{url} says what the version 3 server said"
        );
    }
    app.store.close();
    let conn = connect(&path);
    assert_eq!(version_of(&conn), SCHEMA_VERSION);
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM error_texts"), 2);
    assert_eq!(
        count("SELECT count(*) FROM failed_installs WHERE error_description LIKE 'not found%'"),
        count("SELECT count(*) FROM submission_failures f JOIN error_texts e ON e.id = f.error_id WHERE e.text = 'not found'"),
        "the view reads the rebuilt texts"
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM error_texts
              WHERE id NOT IN (SELECT error_id FROM submission_failures WHERE error_id NOT NULL)"
        ),
        0
    );
    drop(conn);
    let after = file_bytes(&path);
    for text in forgotten {
        assert!(!holds(&after, text), "the migrated file still holds {text}");
    }
    result_aggregation_server::storage::verify(&path).unwrap();
}

/// Files migrated from every older version end with the very schema a new file gets.
#[tokio::test]
async fn every_migrated_file_has_the_schema_of_a_new_one() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.db");
    Store::open(&Location::File(fresh.clone())).unwrap().close();
    let expected = schema_of(&connect(&fresh));
    let original = dir.path().join("original.db");
    Connection::open(&original)
        .unwrap()
        .execute_batch(ORIGINAL_SCHEMA)
        .unwrap();
    for (name, path) in [
        ("original", original),
        ("v2", fixtures.join("v2.db")),
        ("v3", fixtures.join("v3.db")),
    ] {
        let copy = dir.path().join(format!("{name}-copy.db"));
        std::fs::copy(&path, &copy).unwrap();
        Store::open(&Location::File(copy.clone())).unwrap().close();
        assert_eq!(schema_of(&connect(&copy)), expected, "migrated from {name}");
    }
}

/// Issue 20, item 8: each failed migration wrote another full copy
/// (`X.before-migration-N.db`), and a service restarted on failure never stopped. Now there
/// is one copy per version migrated from: a complete copy of the same file is kept, a partial
/// one (a crash while writing it) or an outdated one is replaced.
#[tokio::test]
async fn failed_migrations_keep_one_copy_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.db");
    broken_file(&path);
    let before = std::fs::read(&path).unwrap();
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let copy = copy_beside(&path, 0);
    let fail = || {
        Store::open(&Location::File(path.clone()))
            .err()
            .expect("fails")
    };
    let modified = || std::fs::metadata(&copy).and_then(|m| m.modified()).ok();
    fail();
    let first = modified();
    for _ in 0..3 {
        fail();
    }
    assert_eq!(files(), ["broken.before-migration-v0.db", "broken.db"]);
    assert_same_bytes(&copy, &before, "the copy is the original");
    assert_eq!(
        modified(),
        first,
        "the complete copy was kept, not written again"
    );
    // A copy cut short under its final name (by an older version) or left partial is
    // replaced by a complete one.
    std::fs::write(&copy, &before[..before.len() / 2]).unwrap();
    let partial = dir.path().join("broken.before-migration-v0.db.partial");
    std::fs::write(&partial, b"half a copy").unwrap();
    fail();
    assert_same_bytes(&copy, &before, "the copy is complete again");
    assert_eq!(files(), ["broken.before-migration-v0.db", "broken.db"]);
    // The file changed (an older program ran on it in between): the copy follows it.
    Connection::open(&path)
        .unwrap()
        .execute_batch("INSERT INTO user_system_info (id, unique_user_id) VALUES (3, 'other')")
        .unwrap();
    let changed = std::fs::read(&path).unwrap();
    fail();
    assert_same_bytes(&copy, &changed, "the copy is the file as it is now");
    assert_eq!(files(), ["broken.before-migration-v0.db", "broken.db"]);
}
