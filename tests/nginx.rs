//! Behind the real nginx, configured by contrib/nginx in front of two instances: each learner
//! keeps their own rate-limit budget (the original put every client behind nginx into one
//! bucket) and cannot forge one, the metrics stay on this host, and restarting one instance
//! in the middle of a stream of submissions loses none of them.

use crate::binary::Server;
use crate::instances::{RedisServer, Stream};
use crate::support::{free_port, installed, request_from, submit_from};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The nginx binary, or `None` (with the reason printed) to skip outside CI.
pub fn nginx() -> Option<PathBuf> {
    installed("nginx", &["/usr/sbin/nginx", "/usr/bin/nginx"], "nginx")
}

/// A running nginx of the test's own; stopped when dropped.
pub struct Nginx(Child);

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: the master must live to stop its workers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// A site shipped in contrib/nginx, as text.
pub fn shipped_site(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib/nginx")
            .join(name),
    )
    .unwrap()
}

/// `site` with its two upstream instances pointed at `upstreams`.
pub fn with_upstreams(site: &str, upstreams: [SocketAddr; 2]) -> String {
    let site = site
        .replace(
            "server 127.0.0.1:8080 ",
            &format!("server {} ", upstreams[0]),
        )
        .replace(
            "server 127.0.0.1:8081 ",
            &format!("server {} ", upstreams[1]),
        );
    for upstream in upstreams {
        assert!(
            site.contains(&format!("server {upstream} ")),
            "the site names its upstreams"
        );
    }
    site
}

/// Runs nginx with `site` (as `dir/site.conf`, everything else in `dir`) and waits until it
/// accepts on every address of `listening`.
pub fn run_nginx(binary: &Path, dir: &Path, site: &str, listening: &[SocketAddr]) -> Nginx {
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "master_process off; daemon off; pid {d}/nginx.pid; error_log {d}/error.log;
             events {{ worker_connections 256; }}
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
                     fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
                     include {d}/site.conf; }}"
        ),
    )
    .unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .spawn()
        .unwrap();
    let nginx = Nginx(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    for addr in listening {
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {:?}",
                std::fs::read_to_string(dir.join("error.log"))
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    nginx
}

/// Starts nginx with the contrib site, its two upstream instances pointed at `upstreams`, on
/// a free loopback port.
fn start_nginx(binary: &Path, dir: &Path, upstreams: [SocketAddr; 2]) -> (Nginx, SocketAddr) {
    let contrib =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/nginx/result-aggregation-server.conf");
    start_site(binary, &contrib, dir, upstreams)
}

/// Starts nginx with the site in the file `site` (contrib's, or the copy the package installs),
/// as [`start_nginx`] does.
pub fn start_site(
    binary: &Path,
    site: &Path,
    dir: &Path,
    upstreams: [SocketAddr; 2],
) -> (Nginx, SocketAddr) {
    let port = free_port();
    let site = std::fs::read_to_string(site)
        .unwrap()
        .replace("    listen [::]:80;\n", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let nginx = run_nginx(binary, dir, &with_upstreams(&site, upstreams), &[addr]);
    (nginx, addr)
}

async fn post_from(from: &str, to: SocketAddr, extra: &str) -> u16 {
    submit_from(from, to, extra).await.0
}

#[tokio::test]
async fn behind_nginx_each_learner_has_their_own_budget() {
    let Some(binary) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("ras.db"),
        &["--rate-limit", "2/hour", "--trusted-proxy", "127.0.0.1,::1"],
    );
    // One instance behind both upstream lines: its in-process budget is the whole budget.
    let (_nginx, proxy) = start_nginx(&binary, dir.path(), [server.addr(), server.addr()]);

    assert_eq!(post_from("127.0.0.2", proxy, "").await, 200);
    assert_eq!(post_from("127.0.0.2", proxy, "").await, 200);
    assert_eq!(post_from("127.0.0.2", proxy, "").await, 429);
    // Another learner behind the same nginx is not in the first one's bucket...
    assert_eq!(post_from("127.0.0.3", proxy, "").await, 200);
    // ...and cannot escape their own by forging the forwarding headers.
    let forged = "X-Forwarded-For: 127.0.0.99\r\nX-Real-IP: 127.0.0.98\r\n";
    assert_eq!(post_from("127.0.0.3", proxy, forged).await, 200);
    assert_eq!(post_from("127.0.0.3", proxy, forged).await, 429);
    // The log is read by a thread of its own: wait for the line rather than race it.
    let log = server.wait_for_log("127.0.0.3 POST /installation_data/ 429", 1);
    assert!(
        !log.contains("127.0.0.99"),
        "a forged address never counts:\n{log}"
    );
}

#[tokio::test]
async fn behind_nginx_two_instances_keep_one_budget_per_learner_through_redis() {
    let Some(binary) = nginx() else { return };
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let url = redis.url();
    let flags = [
        "--rate-limit",
        "3/hour",
        "--trusted-proxy",
        "127.0.0.1,::1",
        "--redis-url",
        &url,
        // Generous: this test is about the shared budget, not about a loaded machine's
        // scheduling (the deadline has tests of its own).
        "--redis-timeout",
        "2000",
    ];
    let a = Server::start(&db, &flags);
    let b = Server::start(&db, &flags);
    for server in [&a, &b] {
        server.wait_for_log("rate limit shared through Redis", 1);
    }
    let (_nginx, proxy) = start_nginx(&binary, dir.path(), [a.addr(), b.addr()]);

    // nginx spreads these over both instances; the budget is one all the same.
    let first: Vec<u16> = futures_of("127.0.0.2", proxy, "", 5).await;
    assert_eq!(first, [200, 200, 200, 429, 429]);
    let forged = "X-Forwarded-For: 127.0.0.99\r\nX-Real-IP: 127.0.0.98\r\n";
    let second = futures_of("127.0.0.3", proxy, forged, 5).await;
    assert_eq!(second, [200, 200, 200, 429, 429], "forging gains nothing");
    let logs = format!("{}{}", a.log.lock().unwrap(), b.log.lock().unwrap());
    assert!(
        !logs.contains("127.0.0.99") && !logs.contains("127.0.0.98"),
        "{logs}"
    );
    for (instance, log) in [("a", a.log.lock().unwrap()), ("b", b.log.lock().unwrap())] {
        assert!(
            log.contains("POST /installation_data/"),
            "nginx sent instance {instance} nothing:\n{log}"
        );
    }

    // The metrics are this host's: nginx refuses them to anyone else.
    let (status, _) = request_from("127.0.0.2", proxy, "/metrics", "", "").await;
    assert_eq!(status, 403);
    let (status, text) = request_from("127.0.0.1", proxy, "/metrics", "", "").await;
    assert_eq!(status, 200);
    crate::metrics::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

/// `count` submissions from `from`, one after the other; their statuses.
async fn futures_of(from: &str, to: SocketAddr, extra: &str, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        statuses.push(post_from(from, to, extra).await);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_one_instance_behind_nginx_loses_no_submission() {
    let Some(binary) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let flags = ["--rate-limit", "off", "--trusted-proxy", "127.0.0.1,::1"];
    let listen_a = format!("127.0.0.1:{}", free_port());
    let mut a = Server::start_on(&listen_a, &db, &flags);
    let b = Server::start(&db, &flags);
    let (_nginx, proxy) = start_nginx(&binary, dir.path(), [a.addr(), b.addr()]);

    let stream = Stream::start(move |n| (format!("127.0.1.{}", n % 4 + 1), proxy));
    stream.wait_for(40).await;
    // A graceful restart, as systemd does it: SIGTERM, wait for the exit, start again.
    let status = tokio::task::block_in_place(|| a.terminate());
    assert!(status.success(), "{status}");
    stream.wait_for(40).await;
    let restarted = tokio::task::block_in_place(|| Server::start_on(&listen_a, &db, &flags));
    // nginx leaves a refusing instance alone for its fail_timeout (5 s), then sends to it again.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !restarted
        .log
        .lock()
        .unwrap()
        .contains("POST /installation_data/ 200")
    {
        assert!(
            Instant::now() < deadline,
            "the restarted instance got nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream.wait_for(40).await;
    stream.finish_with_nothing_lost(&db).await;
}
