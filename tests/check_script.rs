//! The learner's script as a learner meets it: downloaded from the real server, run with the
//! Python on this machine, its report found in the database.

use crate::binary::{agent, post_json, Server};
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The real interpreter `command` runs (not a pyenv shim, which needs a full PATH), if any.
fn interpreter(command: &str) -> Option<PathBuf> {
    Command::new(command)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
}

/// The real python3, or `None` to skip.
pub fn python() -> Option<PathBuf> {
    let found = interpreter("python3");
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

/// Runs the script's unit tests (contrib/check/test_check.py) with `python`.
fn unit_tests_pass(python: &Path) {
    let run = Command::new(python)
        .args(["-m", "unittest", "discover", "-s", "contrib/check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "{} -m unittest discover -s contrib/check:\n{report}",
        python.display()
    );
    eprintln!(
        "{}",
        report.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
    );
}

#[test]
fn the_scripts_own_unit_tests_pass() {
    let Some(python) = python() else { return };
    unit_tests_pass(&python);
}

#[test]
fn check_py_forget_deletes_what_it_sent_from_the_real_server() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let server = Server::start(&db, &["--checks", "git,make"]);
    download_script(&server.base, "", dir.path());
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

/// Downloads the served script into `dir` as check.py, as the landing page's command does.
fn download_script(base: &str, query: &str, dir: &Path) {
    let script = agent()
        .get(format!("{base}/check.py{query}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    std::fs::write(dir.join("check.py"), script).unwrap();
}

/// A loopback port nothing listens on, for a server that starts there later.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a learner at a venue without network went through: the script downloaded while the
/// server was up, run while it was down (with consent: the report is kept), then run again
/// once the server is back.
struct Offline {
    dir: tempfile::TempDir,
    db: PathBuf,
    /// The first report's checked_at, as kept (moved an hour back: the laptop was offline).
    checked_at: String,
    /// What the two runs printed.
    first: String,
    second: String,
    server: Server,
}

/// The learner's home folder inside `dir`, with a tool in it that fails and names its path.
fn home_with_a_broken_tool(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let home = dir.join("home").join("jane-doe");
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("sqlite3");
    let says = format!("Error: unable to open {}/.sqliterc", home.display());
    std::fs::write(&tool, format!("#!/bin/sh\necho \"{says}\" >&2\nexit 1\n")).unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    home
}

fn offline_then_online(python: &Path) -> Offline {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let listen = format!("127.0.0.1:{}", free_port());
    let checks = ["--checks", "git>=2.0,make,python,sqlite3?"];
    let mut server = Server::start_on(&listen, &db, &checks);
    download_script(&server.base, "?workshop=2026-12-03-venue", dir.path());
    server.terminate();

    let home = home_with_a_broken_tool(dir.path());
    let bin = fake_tools(dir.path(), python);
    let path = format!("{}:{}", home.join("bin").display(), bin.display());
    // Typed in a shell, as a learner does: `python3 check.py ...` finds python3 on PATH.
    let run = |command: &str| {
        let run = Command::new("/bin/sh")
            .args(["-c", command])
            .env("PATH", &path)
            .env("HOME", &home)
            .env("SWC_CHECK_CONFIG_DIR", dir.path().join("config"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    let first = run("python3 check.py --yes --email '<jane@uni.edu>'");
    let pending = dir.path().join("config").join("pending");
    let kept: Vec<_> = std::fs::read_dir(&pending)
        .unwrap_or_else(|e| panic!("{pending:?}: {e}\n{first}"))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{first}");
    let mut entry: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&kept[0]).unwrap()).unwrap();
    let checked_at: String = Connection::open_in_memory()
        .unwrap()
        .query_row(
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 hour')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    entry["report"]["checked_at"] = checked_at.clone().into();
    std::fs::write(&kept[0], entry.to_string()).unwrap();

    // The Wi-Fi is back, and git was fixed meanwhile.
    let server = Server::start_on(&listen, &db, &checks);
    std::fs::write(bin.join("git"), "#!/bin/sh\necho \"git version 2.43.0\"\n").unwrap();
    let second = run("python3 check.py --yes");
    Offline {
        dir,
        db,
        checked_at,
        first,
        second,
        server,
    }
}

#[test]
fn a_report_kept_while_the_server_was_down_is_sent_first_on_the_next_run_under_one_learner() {
    let Some(python) = python() else { return };
    let run = offline_then_online(&python);
    let base = &run.server.base;
    assert!(
        run.first.contains(&format!(
            "Could not reach the server at {base}/installation_data/ ("
        )),
        "{}",
        run.first
    );
    assert!(
        run.first.contains(&format!(
            "Your results above are still valid, and kept in {}: they are sent first thing on \
             your next run (or now: python3 check.py --send-pending).",
            run.dir.path().join("config").join("pending").display()
        )),
        "{}",
        run.first
    );
    // The re-test line names what the learner typed.
    assert!(
        run.first
            .contains("then re-test them with: python3 check.py git\n"),
        "{}",
        run.first
    );
    assert!(
        run.second.contains(&format!(
            "Sending 1 report you agreed to send earlier, which could not be delivered then, \
             to {base}/installation_data/ ...\nSent the report checked at {} (new id generated).",
            run.checked_at
        )),
        "{}",
        run.second
    );
    assert!(
        run.second
            .contains("Thank you, your results were sent (pushed data with same id)."),
        "{}",
        run.second
    );
    assert!(
        !run.dir
            .path()
            .join("config/pending")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "a delivered report is deleted"
    );

    // Both reports, one learner (the key of the first, which had none), the email as typed
    // normalised, the first report's failures kept apart from the second's.
    let conn = Connection::open(&run.db).unwrap();
    let (learners, key, email): (i64, String, String) = conn
        .query_row(
            "SELECT count(*), max(unique_user_id), max(email_id) FROM user_system_info",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(learners, 1);
    assert_eq!(email, "jane@uni.edu");
    let stored_key = std::fs::read_to_string(run.dir.path().join("config/key")).unwrap();
    assert_eq!(key, stored_key.trim());
    let attempts: Vec<(i64, String)> = conn
        .prepare("SELECT id, unique_user_id FROM attempts ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|(_, k)| *k == key));
    let failed_in = |attempt: i64| -> BTreeSet<String> {
        conn.prepare("SELECT name FROM failed_installs WHERE attempt_id = ?1")
            .unwrap()
            .query_map([attempt], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        failed_in(attempts[0].0),
        BTreeSet::from(["Git (git)".to_owned(), "SQLite (sqlite3)".to_owned()]),
        "the kept report went first"
    );
    assert_eq!(
        failed_in(attempts[1].0),
        BTreeSet::from(["SQLite (sqlite3)".to_owned()])
    );

    // The home folder never left the computer: the error text arrived with ~.
    let errors: Vec<String> = conn
        .prepare("SELECT error_description FROM failed_installs WHERE name = 'SQLite (sqlite3)'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(errors.len(), 2);
    for error in &errors {
        assert_eq!(
            error,
            "no version in output of 'sqlite3 --version' (exit code 1): Error: unable to open \
             ~/.sqliterc"
        );
    }
    drop(conn);
    let bytes = std::fs::read(&run.db).unwrap();
    assert!(
        !bytes.windows(8).any(|w| w == b"jane-doe"),
        "no trace of the learner's name in the database file"
    );
}

#[test]
fn a_report_kept_while_the_server_was_down_is_stored_under_the_time_it_was_checked() {
    let Some(python) = python() else { return };
    let run = offline_then_online(&python);
    let first: String = Connection::open(&run.db)
        .unwrap()
        .query_row(
            "SELECT create_time FROM attempts ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Stored as "YYYY-MM-DD HH:MM:SS.fff"; sent as "YYYY-MM-DDTHH:MM:SSZ", an hour back.
    assert_eq!(
        first[..19],
        run.checked_at[..19].replace('T', " "),
        "{}",
        run.second
    );
}

/// The script promises Python 3.6: its unit tests run there too, where this machine has it
/// (pyenv's `python3.6`; CI does not install it).
#[test]
fn the_scripts_own_unit_tests_pass_on_python_3_6() {
    let Some(python) = interpreter("python3.6") else {
        eprintln!("skipping: no python3.6 here (the script's oldest supported Python)");
        return;
    };
    unit_tests_pass(&python);
}

/// A time `hours` before now, as a report's `checked_at` (RFC 3339, UTC).
fn hours_ago(hours: u32) -> String {
    Connection::open_in_memory()
        .unwrap()
        .query_row(
            &format!("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-{hours} hours')"),
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// Another learner on Linux who failed git three hours ago and fixed it with 2.43.0 an hour
/// ago, as their script reported it.
fn another_learner_fixed_git(base: &str) {
    let report = |failed: bool, checked_at: String, key: Option<String>| {
        let git = serde_json::json!({"name": "Git (git)", "version": if failed { "1.8.3" } else { "2.43.0" },
                                     "error_description": "version 1.8.3 < required 2.0"});
        serde_json::json!({
            "user_system_info": {"system": "Linux", "distribution_name": "Ubuntu",
                                 "distribution_version": "24.04", "machine": "x86_64"},
            "successful_installs": if failed { vec![] } else { vec![git.clone()] },
            "failed_installs": if failed { vec![git] } else { vec![] },
            "unique_user_id": key, "checked_at": checked_at,
        })
        .to_string()
    };
    let url = format!("{base}/installation_data/");
    let (status, body) = post_json(&agent(), &url, &report(true, hours_ago(3), None));
    assert_eq!(status, 200, "{body}");
    let key: serde_json::Value = serde_json::from_str(&body).unwrap();
    let key = key["key"].as_str().map(str::to_owned);
    let (status, body) = post_json(&agent(), &url, &report(false, hours_ago(1), key));
    assert_eq!(status, 200, "{body}");
}

/// Issue 22: a learner who fails a check sees, under its fix, what learners on their system
/// who failed it did; nothing while fewer than five did. The answer's numbers are the
/// reference SQL's over the database as the report left it. The server restarts before each
/// run of the learner's script: answers read a snapshot taken at most about a second earlier,
/// and a fresh server takes its first after the report that needs it is committed, so the
/// numbers the script prints are those of the database right after its own report.
#[test]
fn the_script_prints_what_learners_on_the_same_system_did_from_five_learners_up() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let listen = format!("127.0.0.1:{}", free_port());
    let flags = ["--checks", "git>=2.0,make,python", "--rate-limit", "off"];
    let mut server = Server::start_on(&listen, &db, &flags);
    download_script(&server.base, "", dir.path());
    let bin = fake_tools(dir.path(), &python);
    let learner = || {
        let run = Command::new(&python)
            .arg(dir.path().join("check.py"))
            .arg("--yes")
            .env("PATH", &bin)
            .env("SWC_CHECK_CONFIG_DIR", dir.path().join("config"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    let heading = "What learners on your system who had the same problem did:";

    // Three others fixed git; with the learner, four failed it on Linux: nothing to say.
    for _ in 0..3 {
        another_learner_fixed_git(&server.base);
    }
    server.terminate();
    let mut server = Server::start_on(&listen, &db, &flags);
    let first = learner();
    assert!(
        first.contains("Thank you, your results were sent"),
        "{first}"
    );
    assert!(!first.contains(heading), "{first}");
    let reference = |name| result_aggregation_server::testing::reference_advice(&db, name, "Linux");
    assert_eq!(
        reference("Git (git)").unwrap(),
        None,
        "four learners: no advice"
    );

    // A fourth fixed it: five failed, four fixed.
    another_learner_fixed_git(&server.base);
    server.terminate();
    let _server = Server::start_on(&listen, &db, &flags);
    let second = learner();
    let advice = reference("Git (git)")
        .unwrap()
        .expect("five learners: advice");
    assert_eq!(
        (advice.failed_learners, advice.fixed_learners),
        (5, 4),
        "{advice:?}"
    );
    assert_eq!(advice.median_seconds_to_fix, Some(7200));
    assert_eq!(advice.fixed_with, [("2.43.0".to_owned(), 4)]);
    let line = advice.line("Git").unwrap();
    assert_eq!(
        line,
        "4 of 5 learners on Linux fixed this, half of them within 2 hours; most ended with Git \
         2.43."
    );
    // Under the heading, the check's result and fix again, then the advice under the fix.
    let shown = second
        .split_once(heading)
        .unwrap_or_else(|| panic!("no advice printed:\n{second}"))
        .1;
    let mut lines = shown.lines().skip_while(|l| l.is_empty());
    assert!(
        lines.next().unwrap().starts_with("[FAIL] Git (git): "),
        "{second}"
    );
    assert!(
        lines.next().unwrap().trim_start().starts_with("Fix: "),
        "{second}"
    );
    assert_eq!(lines.next().unwrap(), format!("       {line}"), "{second}");
    // Nothing for make, which passed, nor for a check nobody else failed.
    assert_eq!(second.matches("learners on Linux").count(), 1, "{second}");
}
