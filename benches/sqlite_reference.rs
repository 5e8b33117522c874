//! The reference for the ingestion benchmark: how fast the storage alone stores the reports
//! bench/post.lua sends (25 checks, about one in ten failing, each from a new learner), with
//! WAL and synchronous=FULL, 500 reports per transaction. No HTTP, no JSON:
//!
//! - "version 2 rows only": the raw tables of schema version 2 (one row per package, the
//!   indexes their cascades need; no triggers, no tallies): the "rows only" ceiling that
//!   issue 9 measured its prototypes against;
//! - "rows only": the raw rows of schema.sql written by plain SQL (dictionaries known, no
//!   tallies): the ceiling for this layout;
//! - "with tallies": the store's own batch path (`Store::import`: dictionaries, rows, and the
//!   batch's tally changes applied once per key), as the server's writer runs it.
//!
//! Run by bench/ingest.sh; alone: `cargo bench --bench sqlite_reference`.

use result_aggregation_server::config::Location;
use result_aggregation_server::report::{Failure, Package, Report, SystemInfo};
use result_aggregation_server::storage::Store;
use rusqlite::{params, Connection};
use std::time::Instant;

const SCHEMA: &str = include_str!("../schema.sql");
/// Schema version 2's raw tables and indexes (commit 1c0856a), without its tallies.
const VERSION_2_TABLES: &str = r#"
CREATE TABLE user_system_info (
    id                   INTEGER PRIMARY KEY,
    unique_user_id       TEXT    NOT NULL UNIQUE,
    distribution_name    TEXT,
    distribution_version TEXT,
    system_version       TEXT,
    system               TEXT,
    machine              TEXT,
    system_platform      TEXT,
    python_version       TEXT,
    workshop_id          TEXT,
    email_id             TEXT,
    create_time          TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    -- Added: the learner's newest attempt, kept by the writer and by the trigger below.
    latest_attempt_id    INTEGER
);

-- The original tied an attempt to its learner by the key string; the key is UNIQUE in
-- user_system_info, so it can be a real foreign key as it stands.
CREATE TABLE attempts (
    id             INTEGER PRIMARY KEY,
    unique_user_id TEXT    NOT NULL
                   REFERENCES user_system_info (unique_user_id) ON DELETE CASCADE ON UPDATE CASCADE,
    -- Added: when the attempt arrived (NULL for attempts migrated from the original).
    create_time    TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE successful_installs (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    version     TEXT,
    user_id     INTEGER NOT NULL REFERENCES user_system_info (id) ON DELETE CASCADE,
    attempt_id  INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    create_time TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE failed_installs (
    id                INTEGER PRIMARY KEY,
    name              TEXT    NOT NULL,
    version           TEXT,
    error_description TEXT,
    user_id           INTEGER NOT NULL REFERENCES user_system_info (id) ON DELETE CASCADE,
    attempt_id        INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    create_time       TEXT    DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

-- Foreign-key children need an index each, or every cascade scans the whole table.
CREATE INDEX attempts_by_user ON attempts (unique_user_id);
CREATE INDEX successful_installs_by_user ON successful_installs (user_id);
CREATE INDEX successful_installs_by_attempt ON successful_installs (attempt_id);
CREATE INDEX failed_installs_by_user ON failed_installs (user_id);
CREATE INDEX failed_installs_by_attempt ON failed_installs (attempt_id);
-- Statistics: failures of one package, learners of one workshop.
CREATE INDEX failed_installs_by_package ON failed_installs (name, version);
CREATE INDEX user_system_info_by_workshop ON user_system_info (workshop_id);
"#;
const CHECKS: usize = 25;
const PER_TRANSACTION: usize = 500;

/// The n-th report: bench/post.lua's shape (16 bodies, one in ten checks failing).
fn report(n: usize) -> Report {
    let body = n % 16;
    let system = ["Windows", "Darwin", "Linux"][body % 3];
    let mut successes = Vec::new();
    let mut failures = Vec::new();
    for check in 0..CHECKS {
        let name = format!("Check number {check} (check{check})");
        let version = format!(
            "{}.{}.{}",
            (check + body) % 7 + 1,
            (check * body) % 20,
            body % 5
        );
        if (check * 7 + body * 3).is_multiple_of(10) {
            failures.push(Failure {
                name,
                error_description: Some(format!("version {version} is too old")),
                version: Some(version),
            });
        } else {
            successes.push(Package {
                name,
                version: Some(version),
            });
        }
    }
    Report {
        key: None,
        system: SystemInfo {
            system: Some(system.into()),
            distribution_name: Some(system.into()),
            distribution_version: Some("11".into()),
            system_version: Some(format!("{system} kernel")),
            machine: Some("x86_64".into()),
            system_platform: Some(format!("{system}-x86_64")),
            python_version: Some("3.11.7".into()),
            workshop_id: Some(format!("2026-11-27-bench-{}", body % 4)),
            email_id: None,
        },
        successes,
        failures,
        checked_at: None,
    }
}

/// The raw rows by plain SQL, dictionary ids looked up once and kept.
fn rows_only(conn: &mut Connection, reports: usize) -> f64 {
    let started = Instant::now();
    let mut packages = std::collections::HashMap::new();
    let mut n = 0;
    while n < reports {
        let tx = conn.transaction().unwrap();
        let mut id_of = |name: &str, version: &Option<String>| -> i64 {
            let key = (name.to_owned(), version.clone());
            *packages.entry(key).or_insert_with(|| {
                tx.execute(
                    "INSERT INTO packages (name, version) VALUES (?1, ?2)",
                    params![name, version],
                )
                .unwrap();
                tx.last_insert_rowid()
            })
        };
        let mut batch = Vec::new();
        for _ in 0..PER_TRANSACTION.min(reports - n) {
            let r = report(n);
            let successes: Vec<i64> = r
                .successes
                .iter()
                .map(|p| id_of(&p.name, &p.version))
                .collect();
            let failures: Vec<i64> = r
                .failures
                .iter()
                .map(|f| id_of(&f.name, &f.version))
                .collect();
            batch.push((r, successes, failures));
            n += 1;
        }
        for (r, successes, failures) in batch {
            let s = &r.system;
            tx.prepare_cached(
                "INSERT INTO user_system_info (unique_user_id, distribution_name,
                    distribution_version, system_version, system, machine, system_platform,
                    python_version, workshop_id, profile_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1)",
            )
            .unwrap()
            .execute(params![
                uuid::Uuid::new_v4().to_string(),
                s.distribution_name,
                s.distribution_version,
                s.system_version,
                s.system,
                s.machine,
                s.system_platform,
                s.python_version,
                s.workshop_id
            ])
            .unwrap();
            let user = tx.last_insert_rowid();
            tx.prepare_cached(
                "INSERT INTO submissions (user_id, create_time, profile_id, workshop, successes)
                 VALUES (?1, strftime('%Y-%m-%d %H:%M:%f', 'now'), 1, 1, ?2)",
            )
            .unwrap()
            .execute(params![user, serde_json::to_string(&successes).unwrap()])
            .unwrap();
            let attempt = tx.last_insert_rowid();
            tx.prepare_cached("UPDATE user_system_info SET latest_attempt_id = ?1 WHERE id = ?2")
                .unwrap()
                .execute([attempt, user])
                .unwrap();
            for (position, package) in failures.iter().enumerate() {
                tx.prepare_cached(
                    "INSERT INTO submission_failures (submission_id, position, package_id, error_id)
                     VALUES (?1, ?2, ?3, NULL)",
                )
                .unwrap()
                .execute(params![attempt, position as i64, package])
                .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Schema version 2's rows: a learner, an attempt, and a row per package.
fn version_2_rows(conn: &mut Connection, reports: usize) -> f64 {
    let started = Instant::now();
    let mut n = 0;
    while n < reports {
        let tx = conn.transaction().unwrap();
        for _ in 0..PER_TRANSACTION.min(reports - n) {
            let r = report(n);
            let s = &r.system;
            let key = uuid::Uuid::new_v4().to_string();
            tx.prepare_cached(
                "INSERT INTO user_system_info (unique_user_id, distribution_name,
                    distribution_version, system_version, system, machine, system_platform,
                    python_version, workshop_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .unwrap()
            .execute(params![
                key,
                s.distribution_name,
                s.distribution_version,
                s.system_version,
                s.system,
                s.machine,
                s.system_platform,
                s.python_version,
                s.workshop_id
            ])
            .unwrap();
            let user = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO attempts (unique_user_id) VALUES (?1)")
                .unwrap()
                .execute([&key])
                .unwrap();
            let attempt = tx.last_insert_rowid();
            tx.prepare_cached("UPDATE user_system_info SET latest_attempt_id = ?1 WHERE id = ?2")
                .unwrap()
                .execute([attempt, user])
                .unwrap();
            for p in &r.successes {
                tx.prepare_cached(
                    "INSERT INTO successful_installs (name, version, user_id, attempt_id)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .unwrap()
                .execute(params![p.name, p.version, user, attempt])
                .unwrap();
            }
            for f in &r.failures {
                tx.prepare_cached(
                    "INSERT INTO failed_installs (name, version, error_description, user_id,
                         attempt_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .unwrap()
                .execute(params![
                    f.name,
                    f.version,
                    f.error_description,
                    user,
                    attempt
                ])
                .unwrap();
            }
            n += 1;
        }
        tx.commit().unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// The store's own batch path, tallies included.
fn with_tallies(path: &std::path::Path, reports: usize) -> f64 {
    let store = Store::open(&Location::File(path.to_owned())).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = Instant::now();
    let mut n = 0;
    while n < reports {
        let batch: Vec<(Report, String)> = (n..(n + PER_TRANSACTION).min(reports))
            .map(|i| (report(i), "2026-11-27 12:00:00.000".to_owned()))
            .collect();
        n += batch.len();
        runtime.block_on(store.import(batch)).unwrap();
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    store.close();
    rate
}

/// A connection as the server's writer configures it (src/storage/mod.rs), with `schema`.
fn open(path: &std::path::Path, schema: &str) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    // As the server's writer does (src/storage/mod.rs).
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)
        .unwrap();
    conn.pragma_update(None, "temp_store", "MEMORY").unwrap();
    conn.execute_batch(schema).unwrap();
    conn
}

fn main() {
    let reports: usize = std::env::var("REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let rate = version_2_rows(
        &mut open(&dir.path().join("v2.db"), VERSION_2_TABLES),
        reports,
    );
    println!(
        "sqlite alone, version 2 rows only, {PER_TRANSACTION} reports per transaction: {rate:.0} reports/s"
    );
    let mut conn = open(&dir.path().join("rows.db"), SCHEMA);
    conn.execute_batch(
        "INSERT INTO system_profiles (id, fingerprint) VALUES (1, 0);
         INSERT INTO workshops (id, name) VALUES (1, 'bench');",
    )
    .unwrap();
    let rate = rows_only(&mut conn, reports);
    println!(
        "sqlite alone, rows only, {PER_TRANSACTION} reports per transaction: {rate:.0} reports/s"
    );
    let rate = with_tallies(&dir.path().join("store.db"), reports);
    println!("sqlite alone, with tallies, {PER_TRANSACTION} reports per transaction: {rate:.0} reports/s");
}
