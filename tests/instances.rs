//! Several instances of the real binary: on one database file, and on one `redis-server`
//! (started here on a free port) that is stopped, started again, paused, or replaced by a
//! socket that never answers. No learner may notice: no 5xx, nothing acknowledged lost, and
//! one budget per address whenever Redis answers.

use crate::binary::Server;
use crate::metrics::parse;
use crate::support::{free_port, installed, request_from, submit_from};
use rusqlite::Connection;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `redis-server` of the test's own, without persistence, on a free loopback port.
pub struct RedisServer {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// `None` (with the reason printed) to skip outside CI when redis-server is missing.
    pub fn start() -> Option<RedisServer> {
        let binary = installed(
            "redis-server",
            &["/usr/bin/redis-server", "/usr/local/bin/redis-server"],
            "redis-server",
        )?;
        let mut redis = RedisServer {
            child: None,
            binary,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        };
        redis.start_again();
        Some(redis)
    }

    /// Starts it (again) on its port, and waits until it answers.
    pub fn start_again(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ping = self
                .connection()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if ping.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer: {ping:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it the hard way (as a crash or `systemctl stop` mid-request would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: connections stay open and new ones are accepted, but nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT: it answers again, the requests that waited included.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success());
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url())?.get_connection_with_timeout(Duration::from_secs(2))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.resume();
        }
        self.stop();
    }
}

/// Every learner key in the database file.
pub fn stored_keys(db: &Path) -> HashSet<String> {
    let conn = Connection::open(db).unwrap();
    let mut query = conn
        .prepare("SELECT unique_user_id FROM user_system_info")
        .unwrap();
    let keys = query
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    keys
}

/// Submissions sent without pause by four clients at once until told to stop, each answer
/// kept: the load under which the tests stop Redis or restart an instance.
pub struct Stream {
    answers: Arc<Mutex<Vec<(u16, String)>>>,
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Stream {
    /// `route(n)` says where the n-th submission goes and from which loopback address.
    pub fn start(route: impl Fn(u32) -> (String, SocketAddr) + Send + Sync + 'static) -> Stream {
        let route = Arc::new(route);
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU32::new(0));
        let clients = (0..4)
            .map(|_| {
                let (route, answers, stop, sent) =
                    (route.clone(), answers.clone(), stop.clone(), sent.clone());
                tokio::spawn(async move {
                    // Bounded, so that the stream ends even if the test does not stop it.
                    for _ in 0..20_000 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let (from, to) = route(sent.fetch_add(1, Ordering::SeqCst));
                        let answer = submit_from(&from, to, "").await;
                        answers.lock().unwrap().push(answer);
                    }
                })
            })
            .collect();
        Stream {
            answers,
            stop,
            clients,
        }
    }

    pub fn answered(&self) -> usize {
        self.answers.lock().unwrap().len()
    }

    /// Waits (a minute at most) for `more` answers than there are now.
    pub async fn wait_for(&self, more: usize) {
        let until = self.answered() + more;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.answered() < until {
            assert!(
                Instant::now() < deadline,
                "only {} answers",
                self.answered()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the clients, and checks that every submission was answered 200 and that every
    /// key the answers gave is in `db`.
    pub async fn finish_with_nothing_lost(self, db: &Path) {
        self.stop.store(true, Ordering::SeqCst);
        for client in self.clients {
            client.await.unwrap();
        }
        let answers = self.answers.lock().unwrap().clone();
        let refused: Vec<_> = answers
            .iter()
            .filter(|(status, _)| *status != 200)
            .collect();
        assert!(
            refused.is_empty(),
            "{} of {} refused: {refused:?}",
            refused.len(),
            answers.len()
        );
        let stored = stored_keys(db);
        let lost: Vec<_> = answers
            .iter()
            .filter(|(_, key)| !stored.contains(key))
            .collect();
        assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    }
}

/// The flags of an instance that counts in `redis`, `limit` per hour.
fn shared(redis: &RedisServer, limit: u32, prefix: &str) -> Vec<String> {
    [
        "--rate-limit",
        &format!("{limit}/hour"),
        "--redis-url",
        &redis.url(),
        "--redis-prefix",
        prefix,
        // Generous: these tests are about sharing, not about how busy the machine is (a
        // missed deadline would count in the instance's memory); the default deadline has
        // tests of its own below and in tests/throttle.rs.
        "--redis-timeout",
        "2000",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn start_pair(db: &Path, flags: &[String]) -> (Server, Server) {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let a = Server::start(db, &flags);
    let b = Server::start(db, &flags);
    (a, b)
}

/// Submits from `from` to the instances in the order `pattern` names them (`a` or `b`).
async fn submit_in_turn(from: &str, pattern: &str, a: SocketAddr, b: SocketAddr) -> Vec<u16> {
    let mut statuses = Vec::new();
    for instance in pattern.chars() {
        let to = if instance == 'a' { a } else { b };
        statuses.push(submit_from(from, to, "").await.0);
    }
    statuses
}

#[tokio::test]
async fn two_instances_on_one_redis_accept_exactly_the_limit_however_requests_alternate() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = start_pair(&dir.path().join("ras.db"), &shared(&redis, 5, "share:"));
    for server in [&a, &b] {
        server.wait_for_log("rate limit shared through Redis", 1);
    }
    let patterns = [
        "abababababab",
        "aaaaaabbbbbb",
        "bbbbbbbaaaaa",
        "abbabaabbbaa",
        "babbbbbbaaaa",
    ];
    for (n, pattern) in patterns.iter().enumerate() {
        // Each pattern from its own address: a budget of its own.
        let from = format!("127.0.2.{}", n + 1);
        let statuses = submit_in_turn(&from, pattern, a.addr(), b.addr()).await;
        assert_eq!(statuses[..5], [200; 5], "{pattern}: {statuses:?}");
        assert!(
            statuses[5..].iter().all(|s| *s == 429),
            "{pattern}: {statuses:?}"
        );
    }

    // One key per address, each with a TTL no longer than the window.
    let mut conn = redis.connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("share:*").query(&mut conn).unwrap();
    assert_eq!(keys.len(), patterns.len(), "{keys:?}");
    for key in keys {
        assert!(key.starts_with("share:throttle:127.0.2."), "{key}");
        let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut conn).unwrap();
        assert!((1..=3600).contains(&ttl), "{key} has TTL {ttl}");
        let count: u32 = redis::cmd("HGET")
            .arg(&key)
            .arg("count")
            .query(&mut conn)
            .unwrap();
        assert_eq!(
            count, 12,
            "{key}: every submission counted, refused ones too"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_and_started_again_under_load_costs_learners_nothing() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let (a, b) = start_pair(&db, &shared(&redis, 5, "outage:"));
    for server in [&a, &b] {
        server.wait_for_log("rate limit shared through Redis", 1);
    }
    let (to_a, to_b) = (a.addr(), b.addr());

    // Each submission from an address of its own (within every budget), to both instances in
    // turn.
    let stream = Stream::start(move |n| {
        let from = format!("127.1.{}.{}", n / 250, n % 250 + 1);
        (from, if n % 2 == 0 { to_a } else { to_b })
    });
    stream.wait_for(40).await;
    tokio::task::block_in_place(|| redis.stop());
    let fell_back = "counting submissions in this process until it answers again";
    let back = "the shared budget is in use again";
    for server in [&a, &b] {
        tokio::task::block_in_place(|| server.wait_for_log(fell_back, 1));
    }
    stream.wait_for(80).await;
    tokio::task::block_in_place(|| redis.start_again());
    for server in [&a, &b] {
        tokio::task::block_in_place(|| server.wait_for_log(back, 1));
    }
    stream.wait_for(40).await;
    stream.finish_with_nothing_lost(&db).await;
    for server in [&a, &b] {
        let log = server.log.lock().unwrap().clone();
        assert_eq!(
            log.matches(fell_back).count(),
            1,
            "one line per change of state:\n{log}"
        );
        assert_eq!(log.matches(back).count(), 1, "{log}");
    }

    // The shared budget is in use again: exactly the limit in total.
    let statuses = submit_in_turn("127.0.3.1", "abbaabbaab", to_a, to_b).await;
    assert_eq!(statuses[..5], [200; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
}

/// A "Redis" that accepts connections and never says a word.
fn silent_listener() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        // Holds what it accepts for a minute at most, then the test is long over.
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    (addr, holder)
}

#[tokio::test]
async fn a_redis_that_never_answers_holds_up_neither_start_up_nor_submissions() {
    let (silent, _holder) = silent_listener();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://{silent}/0");
    let server = Server::start(
        &dir.path().join("ras.db"),
        &["--rate-limit", "3/hour", "--redis-url", &url],
    );
    server.wait_for_log("does not answer", 1);
    // Counted in the instance's memory from the first request: the limit still holds.
    let statuses = submit_in_turn("127.0.4.1", "aaaaa", server.addr(), server.addr()).await;
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let (status, text) = request_from("127.0.0.1", server.addr(), "/metrics", "", "").await;
    assert_eq!(status, 200);
    let metrics = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        metrics.value("ras_throttle_backend", &[("backend", "fallback")]),
        1.0
    );
    assert!(metrics.value("ras_redis_errors_total", &[]) >= 1.0);
    assert_eq!(metrics.value("ras_reports_accepted_total", &[]), 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_stops_answering_mid_run_is_worked_around_and_used_again() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    // The default deadline (50 ms): a paused Redis must cost a submission no more.
    let url = redis.url();
    let server = Server::start(&db, &["--rate-limit", "100/hour", "--redis-url", &url]);
    server.wait_for_log("rate limit shared through Redis", 1);
    assert_eq!(submit_from("127.0.5.1", server.addr(), "").await.0, 200);
    redis.pause();
    let mut keys = Vec::new();
    for n in 0..5 {
        let (status, key) = submit_from(&format!("127.0.5.{}", n + 2), server.addr(), "").await;
        assert_eq!(status, 200);
        keys.push(key);
    }
    tokio::task::block_in_place(|| server.wait_for_log("no answer within 50ms", 1));
    redis.resume();
    tokio::task::block_in_place(|| server.wait_for_log("the shared budget is in use again", 1));
    let stored = stored_keys(&db);
    assert!(keys.iter().all(|k| stored.contains(k)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_writing_one_database_file_store_every_acknowledged_report() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let flags = ["--rate-limit", "off"].map(str::to_owned);
    let (a, b) = start_pair(&db, &flags);
    let (to_a, to_b) = (a.addr(), b.addr());
    let clients: Vec<_> = (0..8u32)
        .map(|client| {
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..60 {
                    // Each client keeps one instance busy: both write all the time.
                    let to = if client % 2 == 0 { to_a } else { to_b };
                    answers.push(submit_from("127.0.0.1", to, "").await);
                }
                answers
            })
        })
        .collect();
    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.unwrap());
    }
    assert_eq!(answers.len(), 480);
    let refused: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    let stored = stored_keys(&db);
    assert!(answers.iter().all(|(_, key)| stored.contains(key)));
    assert_eq!(stored.len(), 480);
    for server in [&a, &b] {
        let log = server.log.lock().unwrap().clone();
        assert_eq!(
            log.matches("POST /installation_data/ 200").count(),
            240,
            "{log}"
        );
    }
}
