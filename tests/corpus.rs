//! Bad and hostile input at scale: every file under tests/corpus/generated/ (made by
//! make_corpus.py) and tests/corpus/hand/ is POSTed to the real binary. The one rule decides
//! each: a body that cannot be stored faithfully (not JSON, not UTF-8, wrong types, over a
//! limit) gets the 4xx its EXPECTED line names, with a JSON error whose detail names the field
//! at fault, and nothing of it is stored; any other body is stored whole, the field its line
//! names holding exactly the cleaned text the line gives, and every page shows it escaped.
//! SQL payloads (tests/corpus/sql/) are text like any other: stored verbatim, every table
//! still there.

use crate::binary::{agent, Server};
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One line of an EXPECTED file.
struct Case {
    file: PathBuf,
    status: u16,
    /// The field the error must name, or (stored) whose text is compared.
    field: Option<String>,
    /// For a stored payload, the text its field must hold (`Null`: stored as absent).
    stored: Option<Value>,
}

fn expected(dir: &Path) -> Vec<Case> {
    let listing = std::fs::read_to_string(dir.join("EXPECTED")).unwrap();
    listing
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split('\t').collect();
            assert_eq!(parts.len(), 4, "{line:?}: file, status, field, stored");
            Case {
                file: dir.join(parts[0]),
                status: parts[1].parse().unwrap(),
                field: Some(parts[2]).filter(|f| *f != "-").map(str::to_owned),
                stored: Some(parts[3])
                    .filter(|s| *s != "-")
                    .map(|s| serde_json::from_str(s).unwrap()),
            }
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

fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    let mut answer = agent.get(url).call().expect("the server answers");
    let status = answer.status().as_u16();
    (
        status,
        answer.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// The text a learner's field holds as stored: `user_system_info.machine` from the learner,
/// `failed_installs[0].version` from their attempt, read through the original's tables.
pub fn stored_text(conn: &Connection, key: &str, field: &str) -> Option<String> {
    let sql = match field.split_once("[0].") {
        None => format!(
            "SELECT {} FROM user_system_info WHERE unique_user_id = ?1",
            field.trim_start_matches("user_system_info.")
        ),
        Some((list, column)) => format!(
            "SELECT p.{column} FROM {list} p JOIN attempts a ON a.id = p.attempt_id
              WHERE a.unique_user_id = ?1"
        ),
    };
    conn.query_row(&sql, [key], |r| r.get(0))
        .optional()
        .unwrap()
        .flatten()
}

/// How many successes and failures a learner's attempts hold.
pub fn stored_lists(conn: &Connection, key: &str) -> (usize, usize) {
    let count = |list: &str| -> usize {
        conn.query_row::<i64, _, _>(
            &format!(
                "SELECT count(*) FROM {list} p JOIN attempts a ON a.id = p.attempt_id
                  WHERE a.unique_user_id = ?1"
            ),
            [key],
            |r| r.get(0),
        )
        .unwrap() as usize
    };
    (count("successful_installs"), count("failed_installs"))
}

/// What a refusal may say: the one rule's reasons, and no other.
const REASONS: [&str; 4] = [
    "malformed JSON",
    "not an installation report",
    "over a limit",
    "body too large",
];

/// What an HTML page may never hold raw: the markup the payloads carry.
const MARKUP: [&str; 4] = [
    "<script>alert(1)</script>",
    "<img src=x",
    "<svg/onload",
    "<%= 7*7 %>",
];
/// What no answer may hold at all: cleaning removed it before it was stored.
const CLEANED: [char; 3] = ['\u{1b}', '\u{202e}', '\u{0}'];

/// Issue 20, item 2: payloads refused before only for markup, controls or bidirectional
/// characters (about a third of the corpus) are now stored, cleaned, and shown escaped.
#[test]
fn every_payload_is_refused_by_the_one_rule_or_stored_whole_and_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let url = format!("{}/installation_data/", server.base);
    let agent = agent();
    let mut cases = expected(&corpus("generated"));
    cases.extend(expected(&corpus("hand")));
    assert!(cases.len() >= 300, "{} payloads", cases.len());
    let mut wrong = Vec::new();
    let mut stored = 0;
    for case in &cases {
        let body = std::fs::read(&case.file).unwrap();
        let (got, text) = send(&agent, &url, body.clone());
        let name = case.file.file_name().unwrap().to_string_lossy();
        let answer: Value = serde_json::from_str(&text).unwrap_or_default();
        if got != case.status {
            wrong.push(format!(
                "{name}: expected {}, got {got} {text}",
                case.status
            ));
            continue;
        }
        if got == 200 {
            stored += 1;
            let key = answer["key"].as_str().unwrap_or_default();
            let conn = Connection::open(&db).unwrap();
            let field = case.field.as_deref().unwrap();
            let want = case.stored.as_ref().unwrap().as_str();
            let held = stored_text(&conn, key, field);
            if held.as_deref() != want {
                wrong.push(format!("{name}: {field} stored as {held:?}, not {want:?}"));
            }
            // Whole: every success and failure the body lists is stored.
            let sent: Value = serde_json::from_slice(&body).unwrap();
            let listed = |list: &str| sent[list].as_array().map_or(0, Vec::len);
            let lists = (listed("successful_installs"), listed("failed_installs"));
            if stored_lists(&conn, key) != lists {
                wrong.push(format!("{name}: not stored whole"));
            }
            continue;
        }
        let reason = answer["error"].as_str().unwrap_or_default();
        let detail = answer["detail"].as_str();
        let names_field = match (&case.field, detail) {
            (Some(field), Some(detail)) => detail.contains(field.as_str()),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if !REASONS.contains(&reason) || !names_field {
            wrong.push(format!(
                "{name}: expected {} naming {:?} for a reason of the one rule, got {got} {text}",
                case.status, case.field
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
    let conn = Connection::open(&db).unwrap();
    let attempts: i64 = conn
        .query_row("SELECT count(*) FROM attempts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(attempts, stored, "nothing of a refused payload is stored");
    assert!(stored > 100, "{stored} stored");

    // Everything stored is shown escaped: every page that lists it, each stored workshop's
    // page and each failing check's detail.
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let column = |sql: &str| -> Vec<String> {
        conn.prepare(sql)
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let mut paths: Vec<String> = ["/", "/view/", "/view/?all_attempts=1", "/fixes/"]
        .map(str::to_owned)
        .to_vec();
    for workshop in
        column("SELECT DISTINCT workshop_id FROM user_system_info WHERE workshop_id IS NOT NULL")
    {
        paths.push(format!("/view/?workshop_id={}", encode(&workshop)));
        paths.push(format!("/?workshop={}", encode(&workshop)));
    }
    for name in column("SELECT DISTINCT name FROM failed_installs") {
        paths.push(format!("/view/detail/?package_one_name={}", encode(&name)));
    }
    for path in &paths {
        let (status, page) = get(&agent, &format!("{}{path}", server.base));
        assert_eq!(status, 200, "{path}");
        for raw in MARKUP {
            assert!(!page.contains(raw), "{path} holds {raw:?} raw");
        }
        assert!(!page.contains(CLEANED), "{path}");
    }
    // Exports hold the text as stored (JSON is data; CSV cells are formula-safe).
    for path in [
        "/view/?export=json",
        "/view/?export=csv",
        "/fixes/?export=csv&min_learners=1",
    ] {
        let (status, export) = get(&agent, &format!("{}{path}", server.base));
        assert_eq!(status, 200, "{path}");
        assert!(
            export.contains("<script>alert(1)</script>"),
            "{path}: as stored"
        );
        assert!(!export.contains(CLEANED), "{path}");
        if path.ends_with("csv") {
            let mut cells = csv::Reader::from_reader(export.as_bytes());
            for record in cells.records() {
                for cell in record.unwrap().iter() {
                    assert!(!cell.starts_with(['=', '+', '-', '@']), "{path}: {cell:?}");
                }
            }
        }
    }
    eprintln!(
        "{} payloads: {} refused by the one rule, {stored} stored cleaned; {} pages escape them",
        cases.len(),
        cases.len() as i64 - stored,
        paths.len()
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
    for case in expected(&corpus("sql")) {
        let (got, text) = send(&agent, &url, std::fs::read(&case.file).unwrap());
        assert_eq!(got, case.status, "{}: {text}", case.file.display());
        // The payload comes back out of the database as it went in.
        let answer: Value = serde_json::from_str(&text).unwrap();
        let held = stored_text(
            &Connection::open(&db).unwrap(),
            answer["key"].as_str().unwrap(),
            case.field.as_deref().unwrap(),
        );
        assert_eq!(
            held.as_deref(),
            case.stored.as_ref().unwrap().as_str(),
            "{}",
            case.file.display()
        );
    }
    assert_eq!(
        tables(),
        before,
        "every table, view and index is still there"
    );
    assert!(server.terminate().success());
}
