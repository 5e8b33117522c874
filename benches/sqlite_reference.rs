//! The reference for the ingestion benchmark: how fast SQLite alone stores the rows of
//! realistic 25-check reports (a learner, an attempt, 25 packages) in our schema, with WAL and
//! synchronous=FULL, committing 100 reports per transaction and one per transaction. No HTTP,
//! no JSON, no server. Run by bench/ingest.sh; alone: `cargo bench --bench sqlite_reference`.

use rusqlite::{params, Connection};
use std::time::Instant;

const SCHEMA: &str = include_str!("../schema.sql");
const CHECKS: usize = 25;

fn store(conn: &mut Connection, reports: usize, per_transaction: usize) -> f64 {
    let started = Instant::now();
    let mut n = 0;
    while n < reports {
        let tx = conn.transaction().unwrap();
        for _ in 0..per_transaction.min(reports - n) {
            let key = uuid::Uuid::new_v4().to_string();
            tx.prepare_cached(
                "INSERT INTO user_system_info (unique_user_id, distribution_name,
                    distribution_version, system_version, system, machine, system_platform,
                    python_version, workshop_id) VALUES (?1, 'Ubuntu', '22.04', '#50-Ubuntu SMP',
                    'Linux', 'x86_64', 'Linux-6.5.0-x86_64-with-glibc2.35', '3.11.7', 'bench')",
            )
            .unwrap()
            .execute([&key])
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
            for check in 0..CHECKS {
                let name = format!("Check number {check} (check{check})");
                if (n + check) % 10 == 0 {
                    tx.prepare_cached(
                        "INSERT INTO failed_installs (name, version, error_description, user_id,
                             attempt_id) VALUES (?1, '1.2.3', 'version 1.2.3 is too old', ?2, ?3)",
                    )
                    .unwrap()
                    .execute(params![name, user, attempt])
                    .unwrap();
                } else {
                    tx.prepare_cached(
                        "INSERT INTO successful_installs (name, version, user_id, attempt_id)
                         VALUES (?1, '1.2.3', ?2, ?3)",
                    )
                    .unwrap()
                    .execute(params![name, user, attempt])
                    .unwrap();
                }
            }
            n += 1;
        }
        tx.commit().unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn open(dir: &std::path::Path, name: &str) -> Connection {
    let conn = Connection::open(dir.join(name)).unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    // As the server's writer does (src/storage/mod.rs).
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)
        .unwrap();
    conn.execute_batch(SCHEMA).unwrap();
    conn
}

fn main() {
    let reports: usize = std::env::var("REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    let mut batched = open(dir.path(), "batched.db");
    let rate = store(&mut batched, reports, 100);
    println!("sqlite alone, 100 reports per transaction: {rate:.0} reports/s");
    let mut single = open(dir.path(), "single.db");
    let rate = store(&mut single, reports / 10, 1);
    println!("sqlite alone, 1 report per transaction: {rate:.0} reports/s");
}
