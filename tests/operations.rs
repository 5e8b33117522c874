//! What an admin's hands do to a running deployment (issue 20): the database file deleted or
//! moved while the server runs, and `generate` pointed at a database that holds reports.

use crate::binary::{agent, count, post_json, Server, BIN};
use crate::support::sample;
use std::path::Path;
use std::process::Command;

/// Posts one report; returns the status, the answer's body and its Retry-After.
fn submit(server: &Server) -> (u16, String, Option<String>) {
    let url = format!("{}/installation_data/", server.base);
    let mut response = agent()
        .post(&url)
        .header("content-type", "application/json")
        .send(sample(None, None, None).to_string())
        .unwrap();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), body, retry)
}

fn health(server: &Server) -> (u16, String) {
    let mut response = agent()
        .get(format!("{}/healthz", server.base))
        .call()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

/// `path` with `suffix` added to its name (`-wal`, `-shm`).
fn beside(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Issue 20, item 5: after `rm` of the database, its WAL and shm while serving, three more
/// reports got 200 and `/healthz` said ok, and all were gone at the next start (the same after
/// an `mv`). Now every report is refused with 503 once the path no longer names the open
/// file, `/healthz` says why, and the log says it once.
#[test]
fn a_database_file_deleted_or_moved_while_serving_is_noticed() {
    for how in ["rm", "mv"] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("live.db");
        let mut server = Server::start(&db, &["--rate-limit", "off"]);
        let (status, body, _) = submit(&server);
        assert_eq!(status, 200, "{body}");
        let aside = dir.path().join("aside.db");
        match how {
            "rm" => {
                for file in [db.clone(), beside(&db, "-wal"), beside(&db, "-shm")] {
                    std::fs::remove_file(&file).unwrap();
                }
            }
            _ => std::fs::rename(&db, &aside).unwrap(),
        }
        for _ in 0..3 {
            let (status, body, retry) = submit(&server);
            assert_eq!(status, 503, "{how}: {body}");
            let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(answer["error"], "database file gone", "{how}: {body}");
            assert!(retry.is_some(), "{how}: Retry-After");
        }
        let (status, said) = health(&server);
        assert_eq!(status, 503, "{how}: {said}");
        // Moved away or deleted: either way nothing is at the path any more.
        assert!(said.contains("database file was deleted"), "{how}: {said}");
        let log = server.wait_for_log("while the server ran", 1);
        assert_eq!(
            log.matches("while the server ran").count(),
            1,
            "{how}: said once, not per request:\n{log}"
        );
        assert!(!log.contains("failed to commit"), "{how}:\n{log}");
        // A clean stop checkpoints into the open file (the moved one, for mv).
        assert!(server.terminate().success());
        drop(server);
        // Nothing was acknowledged after the file went: the moved file holds the one report.
        if how == "mv" {
            assert_eq!(count(&aside, "attempts"), 1);
        }
    }
}

/// Issue 20, item 5: a file put in the database's place (a restored copy moved over it) is
/// another file: refused as well, until the server is restarted on it.
#[test]
fn a_database_file_replaced_while_serving_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    assert_eq!(submit(&server).0, 200);
    let copy = dir.path().join("copy.db");
    let out = Command::new(BIN)
        .arg("backup")
        .arg(&copy)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    std::fs::rename(&copy, &db).unwrap();
    let (status, body, _) = submit(&server);
    assert_eq!(status, 503, "{body}");
    assert!(health(&server).1.contains("database file was replaced"));
    assert!(server.terminate().success());
    // Restarted on it, the server takes reports again.
    let server = Server::start(&db, &["--rate-limit", "off"]);
    assert_eq!(submit(&server).0, 200);
    assert_eq!(health(&server).0, 200);
    drop(server);
    assert_eq!(count(&db, "attempts"), 2);
}

/// Issue 20, item 8: `generate` filled whatever `RAS_DB` named, production included. It takes
/// `--db` only, and adds to a database that holds reports only with `--append`.
#[test]
fn generate_takes_db_only_and_appends_only_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let production = dir.path().join("production.db");
    let server = Server::start(&production, &[]);
    let (status, body) = post_json(
        &agent(),
        &format!("{}/installation_data/", server.base),
        &sample(None, None, None).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    drop(server);
    let generate = |args: &[&str]| {
        Command::new(BIN)
            .arg("generate")
            .args(["--submissions", "50"])
            .args(args)
            .env("RAS_DB", &production)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    // RAS_DB is not read, and there is no default file: --db must name one.
    let out = generate(&[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--db"),
        "{out:?}"
    );
    assert_eq!(count(&production, "attempts"), 1);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no file made"
    );
    // A database that holds reports is refused, unless --append.
    let out = generate(&["--db", production.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("already holds 1 report"), "{said}");
    assert!(said.contains("--append"), "{said}");
    assert_eq!(count(&production, "attempts"), 1);
    let out = generate(&["--db", production.to_str().unwrap(), "--append"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(count(&production, "attempts"), 51);
}
