//! What the tests share: sample reports, an in-process app, hand-built requests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use result_aggregation_server::app::App;
use result_aggregation_server::config::{Config, Location};
use result_aggregation_server::report::{parse_report, Failure, Package, Report, SystemInfo};
use result_aggregation_server::storage::Store;
use result_aggregation_server::throttle::Throttle;
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The wire format's example report (docs/api.md), with a chosen key, email and workshop.
pub fn sample(key: Option<&str>, email: Option<&str>, workshop: Option<&str>) -> Value {
    json!({
        "user_system_info": {"distribution_name": "Ubuntu", "distribution_version": "16.04",
            "system": "Linux", "system_version": "#50-Ubuntu SMP", "machine": "x86_64",
            "system_platform": "Linux-4.4.0-31-generic-x86_64-with-Ubuntu-16.04-xenial",
            "python_version": "3.5.1", "workshop_id": workshop, "email_id": email},
        "successful_installs": [{"name": "Git (git)", "version": "2.7.4\n"},
                                {"name": "Python (python)", "version": "3.5.1"}],
        "failed_installs": [{"name": "EasyMercurial", "version": "2.5.0",
                             "error_description": "errors finding EasyMercurial version"}],
        "unique_user_id": key
    })
}

pub fn report(value: &Value) -> Report {
    parse_report(value.to_string().as_bytes()).expect("a valid report")
}

/// A report built from JSON without the wire checks: rows as an older server (or the original,
/// which checked nothing) may have stored them, for tests of what the pages do with them.
pub fn unchecked_report(value: &Value) -> Report {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let system = |field: &str| text(&value["user_system_info"][field]);
    let list = |name: &str| value[name].as_array().cloned().unwrap_or_default();
    Report {
        key: None,
        system: SystemInfo {
            distribution_name: system("distribution_name"),
            distribution_version: system("distribution_version"),
            system: system("system"),
            system_version: system("system_version"),
            machine: system("machine"),
            system_platform: system("system_platform"),
            python_version: system("python_version"),
            workshop_id: system("workshop_id"),
            email_id: system("email_id"),
        },
        successes: list("successful_installs")
            .iter()
            .map(|p| Package {
                name: text(&p["name"]).unwrap(),
                version: text(&p["version"]),
            })
            .collect(),
        failures: list("failed_installs")
            .iter()
            .map(|p| Failure {
                name: text(&p["name"]).unwrap(),
                version: text(&p["version"]),
                error_description: text(&p["error_description"]),
            })
            .collect(),
        checked_at: None,
    }
}

pub fn memory_store() -> Store {
    Store::open(&Location::Memory).expect("an in-memory store")
}

/// An app on a fresh in-memory database, built as `serve` builds it.
pub fn app(limit: Option<&str>, proxies: &str) -> App {
    let config = Config {
        rate_limit: limit.map(|spec| spec.parse().unwrap()),
        trusted_proxies: proxies.parse().unwrap(),
        ..Config::in_memory()
    };
    let throttle = Throttle::from_limit(config.rate_limit);
    App::new(&config, memory_store(), throttle)
}

pub fn peer(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 40_000)
}

pub fn post(path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap()
}

pub fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path).body(Full::new(Bytes::new())).unwrap()
}

/// A response's status, headers and body parsed as JSON (Null when it is not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub json: Value,
}

pub async fn answer(response: Response<Full<Bytes>>) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

pub fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Whether a test that needs `program` (installed at one of `paths`) can run: outside CI it
/// skips, saying why, when the program is missing; in CI (CI=true) it must be there.
pub fn installed(program: &str, paths: &[&str], package: &str) -> Option<std::path::PathBuf> {
    let found = paths
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must install {program} (apt-get install {package})"
        );
        eprintln!("skipping: {program} is not installed (apt-get install {package})");
    }
    found
}

/// A free port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// POSTs `body` to `path` from the loopback address `from` (any 127.x address is this host),
/// with extra header lines, over a connection of its own; returns the status and the body.
pub async fn request_from(
    from: &str,
    to: SocketAddr,
    path: &str,
    extra: &str,
    body: &str,
) -> (u16, String) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let method = if body.is_empty() { "GET" } else { "POST" };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: checks.example.org\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_owned());
    (status, body)
}

/// POSTs a sample report from `from` (see [`request_from`]); returns the status and the key
/// the server issued (empty when it refused).
pub async fn submit_from(from: &str, to: SocketAddr, extra: &str) -> (u16, String) {
    let body = sample(None, None, None).to_string();
    let (status, answer) = request_from(from, to, "/installation_data/", extra, &body).await;
    let key = serde_json::from_str::<Value>(&answer)
        .ok()
        .and_then(|v| v["key"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (status, key)
}
