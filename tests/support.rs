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

/// The DESIGN.md example report, with a chosen key, email and workshop.
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
