//! Behind the real nginx with TLS, configured by contrib/nginx/result-aggregation-server-tls.conf
//! with a throwaway self-signed certificate: the learner's real check script reports and
//! forgets through the https site and through the plain http site that redirects there, and
//! every URL the server writes says https (issue 20, item 1).

use crate::binary::Server;
use crate::check_script::{fake_tools, python};
use crate::nginx::{nginx, run_nginx, shipped_site, with_upstreams};
use crate::support::{free_port, installed};
use rusqlite::Connection;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The openssl command, or `None` (with the reason printed) to skip outside CI.
fn openssl() -> Option<PathBuf> {
    installed(
        "openssl",
        &["/usr/bin/openssl", "/usr/local/bin/openssl"],
        "openssl",
    )
}

/// A self-signed certificate for 127.0.0.1, valid for a day: `(certificate, key)` in `dir`.
fn certificate(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    (cert, key)
}

/// GETs `url` with Python's urllib (following redirects), trusting `cert`.
fn fetch(python: &Path, url: &str, cert: &Path) -> String {
    let got = Command::new(python)
        .args([
            "-c",
            "import sys, urllib.request; \
             sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=30).read().decode())",
            url,
        ])
        .env("SSL_CERT_FILE", cert)
        .output()
        .unwrap();
    assert!(got.status.success(), "{url}: {got:?}");
    String::from_utf8(got.stdout).unwrap()
}

fn learners(db: &Path, key: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM user_system_info WHERE unique_user_id = ?1",
            [key],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn behind_nginx_with_tls_the_check_script_reports_and_forgets_over_http_and_https() {
    let Some(nginx) = nginx() else { return };
    let Some(openssl) = openssl() else { return };
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(&openssl, dir.path());
    let db = dir.path().join("ras.db");
    // As docs/deployment.md deploys it, but without --public-url: the proxy's headers must say it.
    let server = Server::start(
        &db,
        &["--trusted-proxy", "127.0.0.1", "--checks", "git,make"],
    );
    let (https_port, http_port) = (free_port(), free_port());
    let shipped = shipped_site("result-aggregation-server-tls.conf");
    let site = shipped
        .replace("    listen [::]:80;\n", "")
        .replace("    listen [::]:443 ssl;\n", "")
        .replace("listen 80;", &format!("listen 127.0.0.1:{http_port};"))
        .replace(
            "listen 443 ssl;",
            &format!("listen 127.0.0.1:{https_port} ssl;"),
        )
        // The learner's https port is not 443 here: the redirect must name it.
        .replace(
            "return 308 https://$host$request_uri;",
            &format!("return 308 https://$host:{https_port}$request_uri;"),
        )
        .replace(
            "/etc/letsencrypt/live/checks.example.org/fullchain.pem",
            &cert.display().to_string(),
        )
        .replace(
            "/etc/letsencrypt/live/checks.example.org/privkey.pem",
            &key.display().to_string(),
        );
    for placed in [
        format!("127.0.0.1:{http_port};"),
        format!("127.0.0.1:{https_port} ssl;"),
        format!("$host:{https_port}$request_uri"),
        cert.display().to_string(),
    ] {
        assert!(
            site.contains(&placed),
            "the shipped site has changed: {placed}"
        );
    }
    let site = with_upstreams(&site, [server.addr(), server.addr()]);
    let listening: Vec<SocketAddr> = [http_port, https_port]
        .iter()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], *port)))
        .collect();
    let _nginx = run_nginx(&nginx, dir.path(), &site, &listening);
    let https = format!("https://127.0.0.1:{https_port}");
    let http = format!("http://127.0.0.1:{http_port}");

    // What learners are told to run, and the script they download, say https.
    for via in [&https, &http] {
        let landing = fetch(&python, &format!("{via}/?workshop=2026-11-27-tls"), &cert);
        assert!(
            landing.contains(&format!("{https}/check.py?workshop=2026-11-27-tls")),
            "{landing}"
        );
        assert!(!landing.contains("http://127.0.0.1"), "{landing}");
        let script = fetch(&python, &format!("{via}/check.py"), &cert);
        assert!(
            script.contains(&format!("SERVER_URL = \"{https}\"\n")),
            "{}",
            script
                .lines()
                .find(|l| l.starts_with("SERVER_URL"))
                .unwrap()
        );
    }

    // The real script, once given the http URL (nginx redirects it) and once the https one.
    let path = fake_tools(dir.path(), &python);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/check/check.py");
    let run = |url: &str, config: &Path, args: &[&str]| -> Output {
        Command::new(&python)
            .arg(&script)
            .args(args)
            .args(["--host", url])
            .env("PATH", &path)
            .env("SWC_CHECK_CONFIG_DIR", config)
            .env("SSL_CERT_FILE", &cert)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let mut keys = Vec::new();
    for (url, name) in [(&http, "http"), (&https, "https")] {
        let config = dir.path().join(name);
        let sent = run(url, &config, &["--yes"]);
        let said = String::from_utf8_lossy(&sent.stdout);
        assert!(said.contains("Thank you"), "{url}:\n{said}");
        let key = std::fs::read_to_string(config.join("key")).unwrap();
        assert_eq!(learners(&db, key.trim()), 1, "{url}: stored");
        keys.push((url, config, key.trim().to_owned()));
    }
    for (url, config, key) in keys {
        let forgot = run(url, &config, &["--forget", "--yes"]);
        let said = String::from_utf8_lossy(&forgot.stdout);
        assert_eq!(forgot.status.code(), Some(0), "{url}:\n{said}");
        assert!(said.contains("Deleted"), "{url}:\n{said}");
        assert_eq!(learners(&db, &key), 0, "{url}: forgotten");
        assert!(!config.join("key").exists(), "{url}: the key file is gone");
    }
    // The log is read by a thread of its own: wait for the lines rather than race it.
    let log = server.wait_for_log("DELETE /installation_data/<key>/ 204", 2);
    assert_eq!(
        log.matches("POST /installation_data/ 200").count(),
        2,
        "{log}"
    );
    assert!(
        !log.contains(" 405 "),
        "no report turned into a GET:\n{log}"
    );
}
