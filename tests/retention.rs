//! Retention and backups through the real binary: `purge` deletes exactly the learners it
//! should and keeps every statistic exact; `--retention` does it on its own; `backup` copies a
//! database that is being written, and the copy is complete and checks out.

use crate::binary::{agent, post_json, Server, BIN};
use crate::support::sample;
use result_aggregation_server::testing::check_statistics;
use rusqlite::Connection;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], db: &Path) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db)
        .env_remove("RAS_RETENTION")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    out
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Learners whose latest attempt is older than `days` days.
fn stale(db: &Path, days: u32) -> i64 {
    count(
        db,
        &format!(
            "SELECT count(*) FROM user_system_info u JOIN submissions s
               ON s.id = u.latest_attempt_id
              WHERE s.create_time < strftime('%Y-%m-%d %H:%M:%f', 'now', '-{days} days')"
        ),
    )
}

#[test]
fn purge_deletes_learners_whose_latest_attempt_is_older_and_keeps_every_statistic_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    run(
        &[
            "generate",
            "--submissions",
            "800",
            "--days",
            "40",
            "--seed",
            "3",
        ],
        &db,
    );
    let (learners, old) = (
        count(&db, "SELECT count(*) FROM user_system_info"),
        stale(&db, 20),
    );
    assert!(old > 0 && old < learners, "{old} of {learners} are old");
    let dry = run(&["purge", "--older-than", "20", "--dry-run"], &db);
    let said = String::from_utf8_lossy(&dry.stdout);
    assert!(
        said.starts_with(&format!("would delete {old} learners")),
        "{said}"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM user_system_info"),
        learners
    );
    let purged = run(&["purge", "--older-than", "20"], &db);
    let said = String::from_utf8_lossy(&purged.stdout);
    assert!(
        said.starts_with(&format!("deleted {old} learners")),
        "{said}"
    );
    assert_eq!(stale(&db, 20), 0);
    assert_eq!(
        count(&db, "SELECT count(*) FROM user_system_info"),
        learners - old
    );
    let orphans = count(
        &db,
        "SELECT count(*) FROM submissions WHERE user_id NOT IN (SELECT id FROM user_system_info)",
    );
    assert_eq!(orphans, 0, "attempts went with their learners");
    check_statistics(&db).unwrap();
}

#[test]
fn the_server_applies_its_retention_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    run(&["generate", "--submissions", "300", "--days", "40"], &db);
    let old = stale(&db, 20);
    assert!(old > 0);
    let mut server = Server::start(&db, &["--retention", "20"]);
    let url = format!("{}/installation_data/", server.base);
    // The purge and this report share the writer's queue: once it is answered, the purge
    // queued before it is done too.
    let mut waited = 0;
    while !server.log.lock().unwrap().contains("retention: deleted") {
        assert_eq!(
            post_json(&agent(), &url, &sample(None, None, None).to_string()).0,
            200
        );
        waited += 1;
        assert!(waited < 100, "the retention runs at start-up");
    }
    assert!(server.terminate().success());
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains(&format!("retention: deleted {old} learners")),
        "{log}"
    );
    assert_eq!(stale(&db, 20), 0);
    check_statistics(&db).unwrap();
}

#[test]
fn a_backup_taken_while_reports_arrive_is_complete_and_checks_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    run(
        &["generate", "--submissions", "200", "--workshops", "2"],
        &db,
    );
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let url = format!("{}/installation_data/", server.base);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let agent = agent();
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && sent < 5000 {
                let body = sample(None, None, None).to_string();
                assert_eq!(post_json(&agent, &url, &body).0, 200);
                sent += 1;
            }
        })
    };
    let copy = dir.path().join("backups").join("copy.db");
    std::fs::create_dir(copy.parent().unwrap()).unwrap();
    for _ in 0..3 {
        let out = run(&["backup", copy.to_str().unwrap()], &db);
        let said = String::from_utf8_lossy(&out.stdout);
        let size = std::fs::metadata(&copy).unwrap().len();
        assert!(said.contains(&format!("{size} bytes")), "{said}");
        assert!(said.contains("integrity ok"), "{said}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(server.terminate().success());
    // The copy stands alone (no WAL beside it), is whole, and its statistics are exact.
    let files: Vec<_> = std::fs::read_dir(copy.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, ["copy.db"]);
    let conn = Connection::open(&copy).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let attempts: i64 = conn
        .query_row("SELECT count(*) FROM attempts", [], |r| r.get(0))
        .unwrap();
    assert!(attempts >= 200, "{attempts}");
    drop(conn);
    check_statistics(&copy).unwrap();
    // Restoring is copying the file back while the server is stopped.
    std::fs::copy(&copy, &db).unwrap();
    let _ = std::fs::remove_file(db.with_extension("db-wal"));
    let server = Server::start(&db, &[]);
    let health = agent()
        .get(format!("{}/healthz", server.base))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    drop(server);
    assert_eq!(count(&db, "SELECT count(*) FROM attempts"), attempts);
}
