//! Crash safety, proven on the real binary: submitters keep sending while the server is killed
//! with SIGKILL at random moments and restarted on the same file, again and again. Every report
//! answered 200 must then be in the database with its packages, none twice, the file must
//! pass `PRAGMA integrity_check`, and every statistic must equal the straightforward SQL.

use crate::binary::{agent, Server};
use result_aggregation_server::storage::verify;
use rusqlite::Connection;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SUBMITTERS: usize = 8;
const KILLS: usize = 24;
/// The package that carries each report's marker as its version.
pub const MARKER: &str = "marker (marker)";

/// A report that can be found again by its `marker`, failing some packages (so that every
/// statistic has something to count), from one of two workshops and systems.
pub fn marked_report(marker: &str, key: Option<&str>, rng: &mut fastrand::Rng) -> (Value, usize) {
    let failures: Vec<Value> = (0..rng.usize(..4))
        .map(|_| {
            let (name, version) =
                [("NumPy", "1.26"), ("NumPy", "2.0"), ("GNU Make (make)", "")][rng.usize(..3)];
            let why = ["not found", "too old"][rng.usize(..2)];
            json!({"name": name, "version": (!version.is_empty()).then_some(version),
                   "error_description": why})
        })
        .collect();
    let count = failures.len();
    let system = ["Linux", "Windows"][rng.usize(..2)];
    let distribution = ["Ubuntu", "Windows"][rng.usize(..2)];
    let workshop = [Some("crash-1"), Some("crash-2"), None][rng.usize(..3)];
    let report = json!({
        "user_system_info": {"system": system, "distribution_name": distribution,
            "machine": "x86_64", "python_version": "3.12.1", "workshop_id": workshop,
            "email_id": null},
        "successful_installs": [{"name": MARKER, "version": marker},
                                {"name": "Git (git)", "version": "2.43.0"}],
        "failed_installs": failures,
        "unique_user_id": key
    });
    (report, count)
}

/// What the server acknowledged: marker -> (the learner's key, failures sent).
pub type Acknowledged = Arc<Mutex<BTreeMap<String, (String, usize)>>>;

/// Every report stored, by marker: (attempt id, learner key, failures stored).
pub fn stored_reports(db: &Path) -> BTreeMap<String, Vec<(i64, String, i64)>> {
    let conn = Connection::open(db).unwrap();
    let mut query = conn
        .prepare(
            "SELECT s.version, s.attempt_id, a.unique_user_id,
                    (SELECT count(*) FROM failed_installs f WHERE f.attempt_id = s.attempt_id)
               FROM successful_installs s JOIN attempts a ON a.id = s.attempt_id
              WHERE s.name = ?1",
        )
        .unwrap();
    let mut stored: BTreeMap<String, Vec<(i64, String, i64)>> = BTreeMap::new();
    let rows = query
        .query_map([MARKER], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })
        .unwrap();
    for row in rows {
        let (marker, attempt) = row.unwrap();
        stored.entry(marker).or_default().push(attempt);
    }
    stored
}

/// How many acknowledged reports are missing or wrong; panics on a report stored twice.
pub fn lost(db: &Path, acknowledged: &BTreeMap<String, (String, usize)>) -> usize {
    let stored = stored_reports(db);
    for (marker, copies) in &stored {
        assert_eq!(copies.len(), 1, "{marker} is stored {} times", copies.len());
    }
    acknowledged
        .iter()
        .filter(|(marker, (key, failures))| {
            let found = stored.get(*marker).map(|copies| &copies[0]);
            let whole = found.is_some_and(|(_, k, f)| k == key && *f == *failures as i64);
            if !whole {
                eprintln!("acknowledged {marker} ({key}, {failures} failures): stored {found:?}");
            }
            !whole
        })
        .count()
}

pub fn integrity(db: &Path) -> String {
    Connection::open(db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed_again_and_again() {
    let seed = fastrand::u64(..);
    eprintln!("crash test seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let base = Arc::new(Mutex::new(String::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Acknowledged::default();
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|thread| {
            let (base, stop, acknowledged) = (base.clone(), stop.clone(), acknowledged.clone());
            let mut rng = fastrand::Rng::with_seed(seed ^ thread as u64);
            std::thread::spawn(move || {
                let agent = agent();
                let mut keys: Vec<String> = Vec::new();
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // A new marker every time: a report is never sent twice.
                    let marker = format!("{thread}-{n}");
                    // A third of the reports come from learners who reported before.
                    let key = (!keys.is_empty() && rng.u8(..3) == 0)
                        .then(|| keys[rng.usize(..keys.len())].clone());
                    let (report, failures) = marked_report(&marker, key.as_deref(), &mut rng);
                    let url = format!("{}/installation_data/", base.lock().unwrap());
                    let answer = agent
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(report.to_string())
                        .ok()
                        .filter(|r| r.status().as_u16() == 200)
                        .and_then(|mut r| r.body_mut().read_to_string().ok());
                    let Some(answer) = answer else {
                        // Killed mid-request, or not up yet: nothing was promised.
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    };
                    let answer: Value = serde_json::from_str(&answer).unwrap();
                    let key = answer["key"].as_str().unwrap().to_owned();
                    if !keys.contains(&key) {
                        keys.push(key.clone());
                    }
                    acknowledged.lock().unwrap().insert(marker, (key, failures));
                }
            })
        })
        .collect();
    for _ in 0..KILLS {
        let mut server = Server::start(&db, &["--rate-limit", "off"]);
        *base.lock().unwrap() = server.base.clone();
        std::thread::sleep(Duration::from_millis(rng.u64(20..300)));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for submitter in submitters {
        submitter.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    // Read straight after the last kill, as the next start would find it.
    assert_eq!(integrity(&db), "ok");
    let lost = lost(&db, &acknowledged);
    let figures = format!(
        "{} acknowledged, {lost} lost over {KILLS} kills",
        acknowledged.len()
    );
    eprintln!("{figures}");
    assert_eq!(lost, 0, "{figures}");
    assert!(
        acknowledged.len() > 10 * KILLS,
        "the submitters kept sending: {figures}"
    );
    verify(&db).unwrap();
    // And the server starts on it once more.
    let server = Server::start(&db, &[]);
    let health = agent()
        .get(format!("{}/healthz", server.base))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
