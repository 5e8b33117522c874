//! The real binary over a real socket: start-up, a report posted like curl does, the
//! subcommands, bad flags, and a graceful shutdown that loses nothing acknowledged.

use crate::support::sample;
use result_aggregation_server::config::Config;
use rusqlite::Connection;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const BIN: &str = env!("CARGO_BIN_EXE_result-aggregation-server");

/// A running server binary on a free loopback port.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Everything it logged so far.
    pub log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(db: &Path, extra: &[&str]) -> Server {
        Server::launch("127.0.0.1:0", db, extra, "info")
    }

    /// Started with `RUST_LOG` at `level`.
    pub fn start_logging(db: &Path, extra: &[&str], level: &str) -> Server {
        Server::launch("127.0.0.1:0", db, extra, level)
    }

    /// Starts the binary listening on `listen` (a fixed port, to restart it on the same one).
    pub fn start_on(listen: &str, db: &Path, extra: &[&str]) -> Server {
        Server::launch(listen, db, extra, "info")
    }

    fn launch(listen: &str, db: &Path, extra: &[&str], level: &str) -> Server {
        let mut command = Command::new(BIN);
        command
            .args(["--listen", listen, "--db"])
            .arg(db)
            .args(extra)
            .env("RUST_LOG", level)
            .env_remove("RAS_RATE_LIMIT")
            .env_remove("RAS_TRUSTED_PROXIES")
            .env_remove("RAS_REDIS_URL")
            .env_remove("RAS_REDIS_PREFIX")
            .env_remove("RAS_REDIS_TIMEOUT")
            .env_remove("RAS_METRICS");
        Server::spawn(command)
    }

    /// Starts `command`, a server that logs where it listens (the binary just built, or the
    /// installed one run as its unit runs it: tests/package.rs), and reads its log.
    pub fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let base = loop {
            let line = lines
                .next()
                .expect("the server logs before it exits")
                .unwrap();
            log.lock().unwrap().push_str(&line);
            log.lock().unwrap().push('\n');
            if let Some(at) = line.find("listening on ") {
                break line[at + "listening on ".len()..].trim().to_owned();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Server { child, base, log }
    }

    /// The address it listens on, `127.0.0.1:PORT`.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base.trim_start_matches("http://").parse().unwrap()
    }

    /// Waits (30 s at most) until the log has `needle` in it `times` times; returns the log.
    pub fn wait_for_log(&self, needle: &str, times: usize) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.matches(needle).count() >= times {
                return log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {needle:?} ({times}x) in the log:\n{log}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM (what `systemctl stop` sends) and returns at once.
    pub fn signal_term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal_term();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

/// POSTs a body; returns the status and the body as text.
pub fn post_json(agent: &ureq::Agent, url: &str, body: &str) -> (u16, String) {
    let mut response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .expect("the server answers");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Rows in `table` of the database file at `db`.
pub fn count(db: &Path, table: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_report_posted_over_http_is_stored_and_the_user_can_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &[]);
    let agent = agent();
    let url = format!("{}/installation_data/", server.base);
    let body = sample(None, Some("someone@example.org"), Some("2026-11-27-test")).to_string();
    let (status, text) = post_json(&agent, &url, &body);
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let key = answer["key"].as_str().unwrap().to_owned();
    let (status, _) = post_json(&agent, &url, "{not json");
    assert_eq!(status, 400);
    let health = agent
        .get(format!("{}/healthz", server.base))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(server.terminate().success());
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("ras.db"),
        "start-up names the database:\n{log}"
    );
    assert!(
        log.contains("POST /installation_data/ 200"),
        "one line per request:\n{log}"
    );
    assert!(
        !log.contains("someone@example.org"),
        "emails never reach the log"
    );
    assert_eq!(count(&db, "attempts"), 1);

    let deleted = Command::new(BIN)
        .args(["delete-user", &key, "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        deleted.status.success(),
        "{}",
        String::from_utf8_lossy(&deleted.stderr)
    );
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("1 attempts"));
    for table in [
        "user_system_info",
        "attempts",
        "successful_installs",
        "failed_installs",
    ] {
        assert_eq!(count(&db, table), 0, "{table}");
    }
    let again = Command::new(BIN)
        .args(["delete-user", &key, "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no learner"));
}

#[test]
fn graceful_shutdown_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let url = format!("{}/installation_data/", server.base);
    let acknowledged = Arc::new(Mutex::new(0));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (url, acknowledged) = (url.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let body = sample(None, None, None).to_string();
                for _ in 0..400 {
                    match agent
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(&body)
                    {
                        Ok(r) if r.status().as_u16() == 200 => *acknowledged.lock().unwrap() += 1,
                        // Refused or cut off by the shutdown: not acknowledged, nothing owed.
                        _ => break,
                    }
                }
            })
        })
        .collect();
    while *acknowledged.lock().unwrap() < 200 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let status = server.terminate();
    for client in clients {
        client.join().unwrap();
    }
    assert!(status.success(), "exit status {status}");
    let acknowledged = *acknowledged.lock().unwrap();
    let stored = count(&db, "attempts");
    assert!(
        stored >= acknowledged,
        "{stored} stored < {acknowledged} acknowledged"
    );
    assert!(
        acknowledged < 16 * 400,
        "the shutdown came before the clients finished"
    );
    // The file is complete without its WAL: the writer checkpointed and closed.
    let wal = db.with_extension("db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
    // The log is read by a thread of its own, which may still be reading the last lines.
    server.wait_for_log("database closed", 1);
}

#[test]
fn help_explains_every_flag_and_bad_values_exit_2() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--listen",
        "RAS_LISTEN",
        "--db",
        "RAS_DB",
        "--rate-limit",
        "RAS_RATE_LIMIT",
        "--trusted-proxy",
        "RAS_TRUSTED_PROXIES",
        "delete-user",
        "--retention",
        "RAS_RETENTION",
        "purge",
        "backup",
        "--max-connections",
        "RAS_MAX_CONNECTIONS",
    ] {
        assert!(text.contains(flag), "--help mentions {flag}:\n{text}");
    }
    for bad in [
        &["--rate-limit", "lots"][..],
        &["--listen", "not-an-address"],
        &["--trusted-proxy", "10.0.0.0/99"],
        &["serve", "--rate-limit", "0/hour"],
        &["--no-such-flag"],
    ] {
        let out = Command::new(BIN).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{bad:?}: one line, got:\n{err}"
        );
    }
    let env = Command::new(BIN)
        .env("RAS_RATE_LIMIT", "often")
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        env.status.success(),
        "--help works whatever the environment says"
    );
    let env = Command::new(BIN)
        .env("RAS_RATE_LIMIT", "often")
        .args(["--db", ":memory:"])
        .output()
        .unwrap();
    assert_eq!(
        env.status.code(),
        Some(2),
        "a bad environment value is refused too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_in_process_on_a_bound_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(result_aggregation_server::serve(
        listener,
        Config::in_memory(),
        async {
            let _ = stopped.await;
        },
    ));
    let body = sample(None, None, None).to_string();
    let (status, text) = tokio::task::spawn_blocking(move || {
        post_json(
            &agent(),
            &format!("http://{addr}/installation_data/"),
            &body,
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{text}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn commands_on_a_database_that_is_not_there_refuse_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    for args in [
        &["delete-user", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"][..],
        &["rebuild-tallies"],
        &["workshop", "list"],
        &["workshop", "show", "2026-11-27-place"],
        &["workshop", "revoke", "2026-11-27-place"],
        &["workshop", "delete", "2026-11-27-place", "--yes"],
        &["purge", "--older-than", "30"],
        &["backup", "/dev/null/never-written.db"],
    ] {
        let out = Command::new(BIN)
            .args(args)
            .arg("--db")
            .arg(&typo)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("there is no database at"), "{args:?}: {err}");
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}

#[test]
fn generated_reports_spread_over_days_show_on_their_own_days_and_survive_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("generated.db");
    let generated = Command::new(BIN)
        .args(["generate", "--submissions", "600", "--days", "30", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    let days_of_attempts: std::collections::BTreeSet<String> = Connection::open(&db)
        .unwrap()
        .prepare("SELECT DISTINCT substr(create_time, 1, 10) FROM failed_installs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(days_of_attempts.len() > 5, "{days_of_attempts:?}");
    let detail = |server: &Server| -> serde_json::Value {
        let url = format!(
            "{}/view/detail/?package_one_name=GNU%20Make%20(make)&all_attempts=1&export=json",
            server.base
        );
        let text = agent()
            .get(url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let mut server = Server::start(&db, &[]);
    let before = detail(&server);
    let days = before["package_details"][0]["create_time"]
        .as_array()
        .unwrap();
    assert!(
        days.len() > 5,
        "failures per day are the attempts' days: {days:?}"
    );
    for day in days {
        assert!(days_of_attempts.contains(day[0].as_str().unwrap()), "{day}");
    }
    assert!(server.terminate().success());
    // A hand edit, then rebuild-tallies: the counts follow the rows again.
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM submission_failures;")
        .unwrap();
    drop(conn);
    let rebuilt = Command::new(BIN)
        .args(["rebuild-tallies", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(rebuilt.status.success(), "{rebuilt:?}");
    let mut server = Server::start(&db, &[]);
    let after = detail(&server);
    assert_eq!(
        after["package_details"][0]["create_time"],
        serde_json::json!([])
    );
    assert!(server.terminate().success());
}
