//! What the server does when things go wrong around it: bodies over the limit from clients
//! that keep sending, a SIGTERM under load, a disk that fills up.

use crate::binary::Server;
use crate::check_script::python;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// Python's urllib sends the whole body before it reads the answer: without the server
/// reading the rest of a refused body, it reported "connection reset" or "broken pipe".
#[test]
fn a_python_client_sending_megabytes_reads_the_413_and_its_message() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &["--rate-limit", "off"]);
    let client = r#"
import json, sys, urllib.error, urllib.request
url, size = sys.argv[1], int(sys.argv[2])
request = urllib.request.Request(url, data=b" " * size, method="POST",
                                 headers={"Content-Type": "application/json"})
try:
    urllib.request.urlopen(request, timeout=30)
    print("200")
except urllib.error.HTTPError as error:
    print(error.code, json.loads(error.read().decode())["error"])
"#;
    for mib in [1, 5] {
        let run = Command::new(&python)
            .args(["-c", client])
            .arg(format!("{}/installation_data/", server.base))
            .arg((mib << 20).to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(
            stdout.trim(),
            "413 body too large",
            "{mib} MiB: {stdout}{stderr}"
        );
    }
}

/// A Content-Length far beyond what the server would drain is answered at once, unread.
#[test]
fn a_body_declared_far_too_large_is_refused_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &[]);
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /installation_data/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{{",
        1u64 << 30
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body too large"), "{answer}");
}

/// What became of one request sent on a fresh connection.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The connection was refused: nothing sent, nothing promised.
    Refused,
    /// Connected, but the connection closed without a byte of answer.
    Unanswered,
    /// A complete answer with this status and body.
    Answered(u16, String),
    /// Part of an answer, then nothing: what must never happen.
    Cut(String),
}

/// POSTs `body` with `Connection: close` over a raw socket and reads to the end, so every way
/// a request can end is seen as it is.
fn post_raw(addr: &str, body: &str) -> Outcome {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(stream) => stream,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return Outcome::Refused,
        // Queued in the listener's backlog when the server closed it: the kernel resets it,
        // sometimes before the connect has been reported. Nothing was sent or answered.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Outcome::Unanswered,
        Err(e) => panic!("connecting to {addr}: {e}"),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "POST /installation_data/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // A write may fail on a connection the server reset; what was read decides.
    let _ = stream.write_all(request.as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    if answer.is_empty() {
        return Outcome::Unanswered;
    }
    let Some((head, content)) = answer.split_once("\r\n\r\n") else {
        return Outcome::Cut(answer);
    };
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok());
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    match (status, length) {
        (Some(status), Some(length)) if content.len() == length => {
            Outcome::Answered(status, content.to_owned())
        }
        _ => Outcome::Cut(answer),
    }
}

/// What systemd's `restart` does, under load: SIGTERM, then a new process on the same file.
/// Every request the server took is answered in full; a request that comes while it stops
/// is refused before anything is sent.
#[test]
fn a_rolling_restart_under_load_fails_no_request_it_took() {
    use crate::crash::{integrity, lost, marked_report, Acknowledged};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    const RESTARTS: usize = 3;
    const SUBMITTERS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let addr = Arc::new(Mutex::new(String::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Acknowledged::default();
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    *addr.lock().unwrap() = server.base.trim_start_matches("http://").to_owned();
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|thread| {
            let (addr, stop) = (addr.clone(), stop.clone());
            let (acknowledged, outcomes) = (acknowledged.clone(), outcomes.clone());
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(thread as u64);
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let marker = format!("{thread}-{n}");
                    let (report, failures) = marked_report(&marker, None, &mut rng);
                    let target = addr.lock().unwrap().clone();
                    match post_raw(&target, &report.to_string()) {
                        Outcome::Answered(200, body) => {
                            let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
                            let key = answer["key"].as_str().unwrap().to_owned();
                            acknowledged.lock().unwrap().insert(marker, (key, failures));
                        }
                        other => {
                            outcomes.lock().unwrap().push(other);
                            std::thread::sleep(Duration::from_millis(2));
                        }
                    }
                }
            })
        })
        .collect();
    let mut handled = 0;
    for round in 1..=RESTARTS {
        let wanted = 300 * round;
        let mut waited = 0;
        while acknowledged.lock().unwrap().len() < wanted {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
            assert!(waited < 6000, "the submitters make progress");
        }
        assert!(server.terminate().success(), "a clean exit after SIGTERM");
        let log = server.log.lock().unwrap().clone();
        handled += log.matches("POST /installation_data/ ").count();
        assert!(log.contains("database closed"), "{log}");
        server = Server::start(&db, &["--rate-limit", "off"]);
        *addr.lock().unwrap() = server.base.trim_start_matches("http://").to_owned();
    }
    stop.store(true, Ordering::Relaxed);
    for submitter in submitters {
        submitter.join().unwrap();
    }
    assert!(server.terminate().success());
    handled += server
        .log
        .lock()
        .unwrap()
        .matches("POST /installation_data/ ")
        .count();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let outcomes = outcomes.lock().unwrap();
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let refused = count(|o| *o == Outcome::Refused);
    let unanswered = count(|o| *o == Outcome::Unanswered);
    let figures = format!(
        "{} acknowledged, {refused} refused, {unanswered} unanswered over {RESTARTS} SIGTERMs",
        acknowledged.len()
    );
    eprintln!("{figures}");
    let other: Vec<_> = outcomes
        .iter()
        .filter(|o| !matches!(o, Outcome::Refused | Outcome::Unanswered))
        .collect();
    assert!(other.is_empty(), "cut or failed answers: {other:?}");
    // Every request a server logged (took) was answered in full to its client.
    assert_eq!(handled, acknowledged.len(), "{figures}");
    assert_eq!(integrity(&db), "ok");
    assert_eq!(lost(&db, &acknowledged), 0, "{figures}");
}

/// A client that connected just before the SIGTERM and sends its request a moment after it
/// is answered in full, not reset: hyper-util's graceful shutdown, used before, closed at once
/// every connection that had not begun a request. A connection made after the signal is
/// refused before anything is sent.
#[test]
fn a_client_that_connected_before_a_sigterm_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let addr = server.addr().to_string();
    let mut early = TcpStream::connect(&addr).unwrap();
    early
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    server.signal_term();
    server.wait_for_log("finishing in-flight requests", 1);
    assert_eq!(
        post_raw(&addr, "{}"),
        Outcome::Refused,
        "a connection after the signal"
    );
    let body = crate::support::sample(None, None, None).to_string();
    write!(
        early,
        "POST /installation_data/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = early.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.contains("\"key\""), "{answer:?}");
    assert!(server.child.wait().unwrap().success());
    assert_eq!(crate::binary::count(&db, "attempts"), 1);
}

/// A tmpfs of a chosen size mounted for one test, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// Mounts it, or says why it cannot be (not root, no mount in this sandbox).
    fn mount(at: &std::path::Path, size: &str) -> Result<SmallDisk, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(SmallDisk(at.to_owned()))
    }

    /// Writes a file until the disk is full; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        let filler = self.0.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The disk fills while learners submit: each gets a stored 200 or a 503 with Retry-After
/// (never a 200 for what was not stored, never a hang), /healthz says the database is not
/// writable, the process stays up, and once space is freed it takes reports again by itself.
#[test]
fn a_full_disk_gets_503_with_retry_after_and_the_server_recovers_by_itself() {
    use crate::binary::agent;
    use crate::crash::{integrity, lost, marked_report, Acknowledged};
    use result_aggregation_server::storage::verify;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    // Room for the WAL to grow through the whole test once the filler is gone.
    let disk = match SmallDisk::mount(&dir.path().join("disk"), "64m") {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipping the disk-full test: {why}");
            return;
        }
    };
    let db = disk.0.join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let url = format!("{}/installation_data/", server.base);
    let health = format!("{}/healthz", server.base);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Acknowledged::default();
    let unavailable = Arc::new(AtomicUsize::new(0));
    let wrong = Arc::new(Mutex::new(Vec::<String>::new()));
    let submitters: Vec<_> = (0..4)
        .map(|thread| {
            let (url, stop, acknowledged) = (url.clone(), stop.clone(), acknowledged.clone());
            let (unavailable, wrong) = (unavailable.clone(), wrong.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut rng = fastrand::Rng::with_seed(thread);
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let marker = format!("{thread}-{n}");
                    let (report, failures) = marked_report(&marker, None, &mut rng);
                    let sent = agent
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(report.to_string());
                    let mut answer = match sent {
                        Ok(answer) => answer,
                        Err(e) => {
                            wrong.lock().unwrap().push(format!("no answer: {e}"));
                            continue;
                        }
                    };
                    let status = answer.status().as_u16();
                    let retry = answer.headers().get("retry-after").cloned();
                    let body = answer.body_mut().read_to_string().unwrap_or_default();
                    match status {
                        200 => {
                            let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
                            let key = answer["key"].as_str().unwrap().to_owned();
                            acknowledged.lock().unwrap().insert(marker, (key, failures));
                        }
                        503 if retry.is_some() => {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        _ => wrong.lock().unwrap().push(format!("{status} {body}")),
                    }
                }
            })
        })
        .collect();
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        for _ in 0..3000 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("waited 30 s for {what}");
    };
    wait_for("100 reports", &|| acknowledged.lock().unwrap().len() >= 100);
    let filler = disk.fill();
    let before_full = acknowledged.lock().unwrap().len();
    wait_for("a 503", &|| unavailable.load(Ordering::Relaxed) > 0);
    let healthz = || {
        let mut answer = agent().get(&health).call().unwrap();
        let status = answer.status().as_u16();
        (
            status,
            answer.body_mut().read_to_string().unwrap_or_default(),
        )
    };
    // A probe may still fit in WAL space a failed batch left behind; soon nothing does.
    let said = Mutex::new(String::new());
    wait_for("/healthz to say not writable", &|| {
        let (status, body) = healthz();
        *said.lock().unwrap() = body;
        status == 503
    });
    let said = said.into_inner().unwrap();
    assert!(said.contains("database not writable"), "{said}");
    assert!(said.contains("full"), "{said}");
    // Full for a while: the submitters keep getting their 503s.
    wait_for("200 answers while full", &|| {
        unavailable.load(Ordering::Relaxed) >= 200
    });
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the process stays up"
    );
    let refused_while_full = unavailable.load(Ordering::Relaxed);
    std::fs::remove_file(filler).unwrap();
    wait_for("/healthz to say ok", &|| healthz().0 == 200);
    let after = acknowledged.lock().unwrap().len();
    wait_for("reports taken again", &|| {
        acknowledged.lock().unwrap().len() >= after + 100
    });
    stop.store(true, Ordering::Relaxed);
    for submitter in submitters {
        submitter.join().unwrap();
    }
    assert!(server.terminate().success());
    let wrong = wrong.lock().unwrap();
    assert!(
        wrong.is_empty(),
        "answers other than 200 or 503 + Retry-After: {wrong:?}"
    );
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(integrity(&db), "ok");
    let lost = lost(&db, &acknowledged);
    eprintln!(
        "disk full: {} acknowledged ({before_full} before the disk filled), \
         {refused_while_full} answered 503 with Retry-After while full, {lost} lost",
        acknowledged.len()
    );
    assert_eq!(lost, 0);
    verify(&db).unwrap();
}
