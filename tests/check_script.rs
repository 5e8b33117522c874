//! The learner's script as a learner meets it: downloaded from the real server, run with the
//! Python on this machine, its report found in the database.

use crate::binary::{agent, Server};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The real interpreter (not a pyenv shim, which needs a full PATH), or `None` to skip.
pub fn python() -> Option<PathBuf> {
    let found = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have python3"
        );
        eprintln!("skipping: python3 is not installed");
    }
    found
}

/// A PATH holding only fake tools (and Python), so the outcome does not depend on the machine.
pub fn fake_tools(dir: &Path, python: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (tool, says) in [("git", "git version 1.8.3"), ("make", "GNU Make 4.3")] {
        let path = bin.join(tool);
        std::fs::write(&path, format!("#!/bin/sh\necho \"{says}\"\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::os::unix::fs::symlink(python, bin.join("python3")).unwrap();
    bin
}

/// The check names the script printed under `[ OK ]` and under `[FAIL]` or `[WARN]`.
pub fn printed(stdout: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let name = |line: &str| line[6..].split(':').next().unwrap().trim().to_owned();
    let mut passed = BTreeSet::new();
    let mut failed = BTreeSet::new();
    for line in stdout.lines() {
        if line.starts_with("[ OK ]") {
            passed.insert(name(line));
        } else if line.starts_with("[FAIL]") || line.starts_with("[WARN]") {
            failed.insert(name(line));
        }
    }
    (passed, failed)
}

fn names(db: &Path, table: &str) -> BTreeSet<String> {
    let conn = Connection::open(db).unwrap();
    let mut query = conn.prepare(&format!("SELECT name FROM {table}")).unwrap();
    let names = query.query_map([], |r| r.get(0)).unwrap();
    names.map(Result::unwrap).collect()
}

#[test]
fn a_downloaded_script_reports_to_the_server_that_served_it() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let server = Server::start(&db, &["--checks", "git>=2.0,make,python,sqlite3?"]);
    let mut response = agent()
        .get(format!("{}/check.py?workshop=2026-11-27-e2e", server.base))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let script = response.body_mut().read_to_string().unwrap();
    assert!(script.contains(&format!("SERVER_URL = \"{}\"", server.base)));
    std::fs::write(dir.path().join("check.py"), script).unwrap();
    let path = fake_tools(dir.path(), &python);
    let run = Command::new(&python)
        .arg(dir.path().join("check.py"))
        .args(["--yes", "--workshop", "2026-11-27-e2e"])
        .env("PATH", &path)
        .env("SWC_CHECK_CONFIG_DIR", dir.path().join("config"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(1),
        "git 1.8.3 fails a required check:\n{stdout}"
    );
    let (passed, failed) = printed(&stdout);
    assert_eq!(
        passed,
        BTreeSet::from(["GNU Make (make)".into(), "Python (python)".into()])
    );
    assert_eq!(
        failed,
        BTreeSet::from(["Git (git)".into(), "SQLite (sqlite3)".into()])
    );
    let key = std::fs::read_to_string(dir.path().join("config").join("key")).unwrap();
    assert!(
        uuid::Uuid::parse_str(key.trim()).is_ok(),
        "the key is kept: {key:?}"
    );
    assert!(
        !dir.path().join("key").exists(),
        "nothing written where it ran"
    );

    // The server has exactly what the script printed, under the learner's key and workshop.
    assert_eq!(names(&db, "successful_installs"), passed);
    assert_eq!(names(&db, "failed_installs"), failed);
    let (stored_key, workshop): (String, String) = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT unique_user_id, workshop_id FROM user_system_info",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(stored_key, key.trim());
    assert_eq!(workshop, "2026-11-27-e2e");

    // And the host sees the same failures on the workshop's statistics.
    let mut view = agent()
        .get(format!("{}/view/2026-11-27-e2e/?export=json", server.base))
        .call()
        .unwrap();
    let view: serde_json::Value =
        serde_json::from_str(&view.body_mut().read_to_string().unwrap()).unwrap();
    let shown: BTreeSet<String> = view["most_failed_package_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert_eq!(entry["count"], 1);
            entry["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(shown, failed);
    assert_eq!(view["workshop_id"], "2026-11-27-e2e");
    drop(server);
}

#[test]
fn the_served_script_carries_the_workshop_and_the_hosts_checks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("ras.db"),
        &["--checks", "git>=2.30,numpy?"],
    );
    let mut response = agent()
        .get(format!("{}/check.py?workshop=a%22b%5C", server.base))
        .call()
        .unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/x-python"));
    let script = response.body_mut().read_to_string().unwrap();
    assert!(
        script.contains("WORKSHOP_ID = \"a\\\"b\\\\\"\n"),
        "escaped as a Python literal"
    );
    assert!(script.contains("CHECKS = [\"git>=2.30\", \"numpy?\"]\n"));
    let Some(python) = python() else { return };
    let compiled = Command::new(python)
        .args([
            "-c",
            "import sys; compile(sys.stdin.read(), 'check.py', 'exec')",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(script.as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert!(compiled.success(), "the served script is valid Python");
}

#[test]
fn the_scripts_own_unit_tests_pass() {
    let Some(python) = python() else { return };
    let run = Command::new(python)
        .args(["-m", "unittest", "discover", "-s", "contrib/check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "python3 -m unittest discover -s contrib/check:\n{report}"
    );
    eprintln!(
        "{}",
        report.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
    );
}

#[test]
fn check_py_forget_deletes_what_it_sent_from_the_real_server() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let server = Server::start(&db, &["--checks", "git,make"]);
    let script = agent()
        .get(format!("{}/check.py", server.base))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    std::fs::write(dir.path().join("check.py"), script).unwrap();
    let path = fake_tools(dir.path(), &python);
    let run = |args: &[&str]| {
        Command::new(&python)
            .arg(dir.path().join("check.py"))
            .args(args)
            .env("PATH", &path)
            .env("SWC_CHECK_CONFIG_DIR", dir.path().join("config"))
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let learners = || -> i64 {
        Connection::open(&db)
            .unwrap()
            .query_row("SELECT count(*) FROM user_system_info", [], |r| r.get(0))
            .unwrap()
    };
    let sent = run(&["--yes", "--email", "learner@example.org"]);
    let said = String::from_utf8_lossy(&sent.stdout);
    assert!(
        said.contains("--forget"),
        "the consent text says how: {said}"
    );
    assert_eq!(learners(), 1, "{said}");
    let key_file = dir.path().join("config").join("key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    let forgot = run(&["--forget", "--yes"]);
    let said = String::from_utf8_lossy(&forgot.stdout);
    assert_eq!(forgot.status.code(), Some(0), "{said}");
    assert!(said.contains("Deleted"), "{said}");
    assert_eq!(
        learners(),
        0,
        "the learner and, by cascade, every attempt are gone"
    );
    let attempts: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM attempts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(attempts, 0);
    assert!(!key_file.exists(), "and the key file");
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("DELETE /installation_data/<key>/ 204"),
        "{log}"
    );
    assert!(!log.contains(key.trim()), "the key is not logged:\n{log}");
}
