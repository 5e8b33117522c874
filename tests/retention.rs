//! Retention and backups through the real binary: `purge` deletes exactly the learners it
//! should and keeps every statistic exact; `--retention` does it on its own; `backup` copies a
//! database that is being written, and the copy is complete and checks out.

use crate::binary::{agent, post_json, Server, BIN};
use crate::support::sample;
use result_aggregation_server::storage::verify;
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
    verify(&db).unwrap();
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
    verify(&db).unwrap();
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
    for force in [&[][..], &["--force"], &["--force"]] {
        let out = run(
            &[&["backup", copy.to_str().unwrap()][..], force].concat(),
            &db,
        );
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
    verify(&copy).unwrap();
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

/// `backup` with `args` on the database `db`: its exit code and what it printed on stderr.
fn backup(db: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("backup")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Issue 20, item 4: `backup live.db --db live.db` printed "integrity ok" and renamed a copy
/// over the file the server had open, so every report acknowledged after it was gone at the
/// next start; as root, `backup /dev/full` replaced the device node. Now the database and its
/// files (under any name), anything that is not a regular file, and an existing file without
/// --force are refused, the server's reports are kept, and no temporary file is left.
#[test]
fn backup_refuses_the_database_itself_devices_folders_and_existing_files() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    let mut server = Server::start(&live, &["--rate-limit", "off"]);
    let url = format!("{}/installation_data/", server.base);
    let submit = || {
        let (status, answer) = post_json(&agent(), &url, &sample(None, None, None).to_string());
        assert_eq!(status, 200, "{answer}");
    };
    submit();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let existing = files.join("existing.db");
    std::fs::write(&existing, "last night's backup").unwrap();
    let hard_link = files.join("hard-link.db");
    std::fs::hard_link(&live, &hard_link).unwrap();
    symlink(&live, files.join("link-to-live.db")).unwrap();
    symlink(&existing, files.join("link-to-existing.db")).unwrap();
    let fifo = files.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A device node of the test's own (as root; elsewhere that case is left out).
    let device = files.join("full");
    let has_device = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "7"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_device {
        eprintln!("not root: the device case is left out");
    }
    let wal = format!("{}-wal", live.display());
    let shm = format!("{}-shm", live.display());
    let dotted = format!("{}/../live.db", files.display());
    let mut cases = vec![
        (live.display().to_string(), "is the database"),
        (
            wal.clone(),
            "is the database being backed up (its -wal file)",
        ),
        (shm.clone(), "(its -shm file)"),
        (dotted, "is the database"),
        (hard_link.display().to_string(), "is the database"),
        (
            files.join("link-to-live.db").display().to_string(),
            "is the database",
        ),
        (files.display().to_string(), "is not a regular file"),
        (fifo.display().to_string(), "is not a regular file"),
        (
            files.join("link-to-existing.db").display().to_string(),
            "is not a regular file",
        ),
    ];
    if has_device {
        cases.push((device.display().to_string(), "is not a regular file"));
    }
    let before = names_in(&files);
    for (target, why) in &cases {
        for force in [&[][..], &["--force"]] {
            let (code, said) = backup(&live, &[&[target.as_str()][..], force].concat());
            assert_eq!(code, Some(1), "{target} {force:?}: {said}");
            assert!(said.contains(why), "{target} {force:?}: {said}");
        }
    }
    let (code, said) = backup(&live, &[existing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("exists: give --force to replace it"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "last night's backup"
    );
    // Nothing was written, no temporary file is left, and the server still stores reports.
    assert_eq!(names_in(&files), before);
    if has_device {
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&device)
            .unwrap()
            .file_type()
            .is_char_device());
    }
    submit();
    let (code, said) = backup(&live, &["--force", existing.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(count(&existing, "SELECT count(*) FROM attempts"), 2);
    submit();
    assert!(server.terminate().success());
    drop(server);
    let server = Server::start(&live, &[]);
    drop(server);
    assert_eq!(
        count(&live, "SELECT count(*) FROM attempts"),
        3,
        "every acknowledged report is in the live database after a restart"
    );
}

/// Issue 20, item 4: a backup that fails after it began writing leaves no temporary file
/// beside its destination.
#[test]
fn a_failed_backup_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_database = dir.path().join("notes.db");
    std::fs::write(&not_a_database, "x".repeat(10_000)).unwrap();
    let copies = dir.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    let (code, said) = backup(&not_a_database, &[copies.join("copy.db").to_str().unwrap()]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("cannot back up"), "{said}");
    assert_eq!(names_in(&copies), Vec::<String>::new());
}
