//! Behind the real nginx, configured by contrib/nginx: each learner keeps their own rate-limit
//! budget (the original put every client behind nginx into one bucket) and cannot forge one.

use crate::binary::Server;
use crate::support::sample;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The nginx binary, or `None` (with the reason printed) to skip outside CI.
fn nginx() -> Option<PathBuf> {
    let found = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must install nginx"
        );
        eprintln!("skipping: nginx is not installed (apt-get install nginx)");
    }
    found
}

struct Nginx(Child);

impl Drop for Nginx {
    /// SIGTERM, not SIGKILL: the master must live to stop its workers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Starts nginx with the contrib site, pointed at `upstream`, on a free loopback port.
fn start_nginx(binary: &Path, dir: &Path, upstream: &str) -> (Nginx, SocketAddr) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/nginx/result-aggregation-server.conf"),
    )
    .unwrap();
    let site = shipped
        .replace("    listen [::]:80;\n", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
        .replace("server 127.0.0.1:8080;", &format!("server {upstream};"));
    assert!(
        site.contains(&format!("server {upstream};")),
        "the site names its upstream"
    );
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    std::fs::write(
        dir.join("nginx.conf"),
        format!(
            "master_process off; daemon off; pid {d}/nginx.pid; error_log {d}/error.log;
             events {{ worker_connections 64; }}
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
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {:?}",
            std::fs::read_to_string(dir.join("error.log"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (nginx, addr)
}

/// POSTs a report from the loopback address `from` (any 127.x address is this host), with
/// extra header lines; returns the status code.
async fn post_from(from: &str, to: SocketAddr, extra: &str) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let body = sample(None, None, None).to_string();
    let request = format!(
        "POST /installation_data/ HTTP/1.1\r\nHost: checks.example.org\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}

#[tokio::test]
async fn behind_nginx_each_learner_has_their_own_budget() {
    let Some(binary) = nginx() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("ras.db"),
        &["--rate-limit", "2/hour", "--trusted-proxy", "127.0.0.1,::1"],
    );
    let upstream = server.base.trim_start_matches("http://").to_owned();
    let (_nginx, proxy) = start_nginx(&binary, dir.path(), &upstream);

    assert_eq!(post_from("127.0.0.2", proxy, "").await, 200);
    assert_eq!(post_from("127.0.0.2", proxy, "").await, 200);
    assert_eq!(post_from("127.0.0.2", proxy, "").await, 429);
    // Another learner behind the same nginx is not in the first one's bucket...
    assert_eq!(post_from("127.0.0.3", proxy, "").await, 200);
    // ...and cannot escape their own by forging the forwarding headers.
    let forged = "X-Forwarded-For: 127.0.0.99\r\nX-Real-IP: 127.0.0.98\r\n";
    assert_eq!(post_from("127.0.0.3", proxy, forged).await, 200);
    assert_eq!(post_from("127.0.0.3", proxy, forged).await, 429);
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("127.0.0.3 POST /installation_data/ 429"),
        "{log}"
    );
    assert!(
        !log.contains("127.0.0.99"),
        "a forged address never counts:\n{log}"
    );
}
