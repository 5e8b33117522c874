//! The 2016 client (swc-setup-installation-test), the first promise of the wire contract: its
//! report as it really posts it (tests/fixtures/client-2016-linux.json, captured from its
//! `swc-main.py` on Python 3.6 against a server that saved the body), and the client itself,
//! run end to end where its code and a Python 3.6 are at hand.

use crate::binary::{agent, post_json, Server};
use crate::corpus::stored_text;
use rusqlite::Connection;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Where the client's code is kept: a git directory of its repository (not installable from
/// a registry, so never vendored here).
const CLIENT_GIT: &str = "/work/.mirror/prerit2010+swc-setup-installation-test/repo/.git";
/// The Python it ran on (`platform.linux_distribution`, which it calls, left Python in 3.8).
const PYTHON36: &str = "/root/.pyenv/versions/3.6.15/bin/python3.6";
/// What `sys.version` was on the machine that captured the fixture, as the client sends it
/// as two checks' version, and as it is stored.
const SYS_VERSION: &str = "3.6.15 (default, May  9 2026, 07:30:54) \n[GCC 12.2.0]";
const STORED_SYS_VERSION: &str = "3.6.15 (default, May  9 2026, 07:30:54) [GCC 12.2.0]";

fn fixture() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/client-2016-linux.json"
    );
    std::fs::read_to_string(path).unwrap()
}

/// Issue 20, item 2: every Linux report of the 2016 client was refused, `422
/// successful_installs[8].version: control character U+000A not allowed`, and the client
/// printed "Something bad happened at Server!" and kept no key.
#[test]
fn the_2016_clients_report_is_stored_with_sys_version_on_one_line() {
    let body = fixture();
    let sent: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent["successful_installs"][8]["version"], SYS_VERSION);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let (status, answer) = post_json(
        &agent(),
        &format!("{}/installation_data/", server.base),
        &body,
    );
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let key = uuid::Uuid::parse_str(answer["key"].as_str().unwrap()).unwrap();
    assert_eq!(answer["summary"]["message"], "new id generated");
    let conn = Connection::open(&db).unwrap();
    let versions: Vec<String> = conn
        .prepare(
            "SELECT s.version FROM successful_installs s JOIN attempts a ON a.id = s.attempt_id
              WHERE a.unique_user_id = ?1 AND s.name IN
                    ('SQLite Python package (sqlite3-python)', 'Python version (python)')",
        )
        .unwrap()
        .query_map([key.to_string()], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [STORED_SYS_VERSION, STORED_SYS_VERSION]);
    let (passed, failed): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM successful_installs), (SELECT count(*) FROM failed_installs)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((passed, failed), (12, 11), "stored whole");
    assert_eq!(
        stored_text(&conn, &key.to_string(), "user_system_info.email_id").as_deref(),
        Some("jane@uni.edu")
    );
    assert!(server.terminate().success());
}

/// The client's files, exported from its git directory into `dir`; `None` (with the reason
/// printed) where the code or its Python is not here. Neither comes from a registry, so
/// this skips in CI too.
fn client_in(dir: &Path) -> Option<()> {
    for (path, what) in [
        (CLIENT_GIT, "the 2016 client's code"),
        (PYTHON36, "Python 3.6"),
    ] {
        if !Path::new(path).exists() {
            eprintln!("skipping: {what} is not at {path}");
            return None;
        }
    }
    for file in ["swc-main.py", "api.py", "requirements_check.py"] {
        let shown = Command::new("git")
            .args(["--git-dir", CLIENT_GIT, "show", &format!("HEAD:{file}")])
            .output()
            .expect("git runs");
        assert!(shown.status.success(), "{file}: {shown:?}");
        std::fs::write(dir.join(file), shown.stdout).unwrap();
    }
    Some(())
}

/// Runs the client against `host`, answering its three questions (consent, workshop, email).
fn run_client(dir: &Path, host: &str) -> String {
    let mut child = Command::new(PYTHON36)
        .args(["swc-main.py", "-H", host])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"y\n2026-11-27-place\n<jane@uni.edu>\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn the_real_2016_client_reports_and_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    if client_in(dir.path()).is_none() {
        return;
    }
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let host = server.base.trim_start_matches("http://").to_owned();
    let said = run_client(dir.path(), &host);
    assert!(said.contains("Successfully Pushed to Server!"), "{said}");
    // It keeps the key as `DATE[key:]KEY` and sends it again the same day.
    let kept = std::fs::read_to_string(dir.path().join(".swc_submission_id")).unwrap();
    let key = kept.split("[key:]").nth(1).unwrap().to_owned();
    let said = run_client(dir.path(), &host);
    assert!(said.contains("Successfully Pushed to Server!"), "{said}");
    let conn = Connection::open(&db).unwrap();
    let (learners, attempts): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM user_system_info), (SELECT count(*) FROM attempts
              WHERE unique_user_id = ?1)",
            [&key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (learners, attempts),
        (1, 2),
        "one learner, under the server's key"
    );
    assert_eq!(
        stored_text(&conn, &key, "user_system_info.email_id").as_deref(),
        Some("jane@uni.edu")
    );
    assert_eq!(
        stored_text(&conn, &key, "user_system_info.workshop_id").as_deref(),
        Some("2026-11-27-place")
    );
    let multiline: i64 = conn
        .query_row(
            "SELECT count(*) FROM successful_installs WHERE instr(version, char(10)) > 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(multiline, 0, "every version on one line");
    assert!(server.terminate().success());
}
