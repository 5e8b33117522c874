//! Bad input at scale: every file under tests/corpus/generated/ (made by make_corpus.py) and
//! tests/corpus/hand/ is POSTed to the real binary, and each must get the 4xx its EXPECTED
//! line names, with a JSON error whose detail names the field at fault, while nothing is
//! stored and the server stays up. SQL payloads (tests/corpus/sql/) are text like any other:
//! stored verbatim, every table still there.

use crate::binary::{agent, Server};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// (file, status, field the detail must name).
fn expected(dir: &Path) -> Vec<(PathBuf, u16, Option<String>)> {
    let listing = std::fs::read_to_string(dir.join("EXPECTED")).unwrap();
    listing
        .lines()
        .map(|line| {
            let mut parts = line.split('\t');
            let (file, status, field) = (parts.next(), parts.next(), parts.next());
            let field = field.filter(|f| *f != "-").map(str::to_owned);
            (
                dir.join(file.unwrap()),
                status.unwrap().parse().unwrap(),
                field,
            )
        })
        .collect()
}

fn corpus(part: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(part)
}

fn send(agent: &ureq::Agent, url: &str, body: Vec<u8>) -> (u16, String) {
    let mut answer = agent
        .post(url)
        .header("content-type", "application/json")
        .send(&body[..])
        .expect("the server answers");
    let status = answer.status().as_u16();
    let text = answer
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .unwrap_or_default();
    (status, text)
}

#[test]
fn every_hostile_payload_gets_a_4xx_naming_the_field_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let url = format!("{}/installation_data/", server.base);
    let agent = agent();
    let mut cases = expected(&corpus("generated"));
    cases.extend(expected(&corpus("hand")));
    assert!(cases.len() >= 200, "{} payloads", cases.len());
    let mut wrong = Vec::new();
    for (file, status, field) in &cases {
        let (got, text) = send(&agent, &url, std::fs::read(file).unwrap());
        let name = file.file_name().unwrap().to_string_lossy();
        let error: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let detail = error["detail"].as_str();
        let names_field = match (field, detail) {
            (Some(field), Some(detail)) => detail.contains(field.as_str()),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if got != *status || !error["error"].is_string() || !names_field {
            wrong.push(format!(
                "{name}: expected {status} naming {field:?}, got {got} {text}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} payloads were answered wrongly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    let health = agent
        .get(format!("{}/healthz", server.base))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "the server stays up");
    assert!(server.child.try_wait().unwrap().is_none());
    let stored: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM user_system_info", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 0, "nothing of any payload is stored");
    eprintln!(
        "{} hostile payloads, each answered with its 4xx naming the field, 0 stored",
        cases.len()
    );
    assert!(server.terminate().success());
}

#[test]
fn sql_payloads_are_stored_verbatim_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let tables = || -> i64 {
        Connection::open(&db)
            .unwrap()
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap()
    };
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let agent = agent();
    // Answered once the database is open (the server listens before it opens it).
    agent
        .get(format!("{}/healthz", server.base))
        .call()
        .unwrap();
    let before = tables();
    let url = format!("{}/installation_data/", server.base);
    let cases = expected(&corpus("sql"));
    for (file, status, field) in &cases {
        let body = std::fs::read(file).unwrap();
        let (got, text) = send(&agent, &url, body.clone());
        assert_eq!(got, *status, "{}: {text}", file.display());
        // The payload comes back out of the database as it went in.
        let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let field = field.as_deref().unwrap();
        let (list, column) = field.split_once("[0].").unwrap_or(("", field));
        let sent = match list {
            "" => &report["user_system_info"][column.trim_start_matches("user_system_info.")],
            list => &report[list][0][column],
        };
        let key: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sql = match list {
            "" => format!(
                "SELECT {} FROM user_system_info WHERE unique_user_id = ?1",
                column.trim_start_matches("user_system_info.")
            ),
            list => format!(
                "SELECT p.{column} FROM {list} p JOIN attempts a ON a.id = p.attempt_id
                  WHERE a.unique_user_id = ?1"
            ),
        };
        let stored: String = Connection::open(&db)
            .unwrap()
            .query_row(&sql, [key["key"].as_str().unwrap()], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, sent.as_str().unwrap(), "{}", file.display());
    }
    assert_eq!(
        tables(),
        before,
        "every table, view and index is still there"
    );
    assert!(server.terminate().success());
}
