//! Texts real machines print (tests/fixtures/machine-texts.json: tracebacks in colour, usage
//! lines in angle brackets, UTF-16 read as bytes, CRLF, an email in angle brackets...), each
//! sent in a report that also carries passes and other failures, to the real binary: every
//! report is stored whole, the text cleaned as the fixture says, and shown escaped.

use crate::binary::{agent, post_json, Server};
use crate::corpus::{stored_lists, stored_text};
use rusqlite::Connection;
use serde_json::{json, Value};

/// The fixture: `{"what", "field", "sent", "stored"}` each.
pub fn machine_texts() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/machine-texts.json"
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["texts"].as_array().unwrap().clone()
}

/// A report of two passes and two failures with `text` in its `field`, and where the stored
/// text is read back.
fn report_with(field: &str, text: &Value) -> (Value, &'static str) {
    let mut report = json!({
        "user_system_info": {"distribution_name": "Ubuntu", "distribution_version": "22.04",
            "system": "Linux", "machine": "x86_64", "python_version": "3.10.12",
            "workshop_id": "2026-11-27-texts", "email_id": null},
        "successful_installs": [{"name": "Python (python)", "version": "3.10.12"},
                                {"name": "Git (git)", "version": "2.34.1"}],
        "failed_installs": [{"name": "NumPy (numpy)", "version": null,
                             "error_description": "No module named 'numpy'"},
                            {"name": "GNU Make (make)", "version": null,
                             "error_description": "make: command not found"}],
        "unique_user_id": null
    });
    let at = match field {
        "error_description" => {
            report["failed_installs"][0]["error_description"] = text.clone();
            "failed_installs[0].error_description"
        }
        "version" => {
            report["successful_installs"][0]["version"] = text.clone();
            "successful_installs[0].version"
        }
        "email_id" => {
            report["user_system_info"]["email_id"] = text.clone();
            "user_system_info.email_id"
        }
        "workshop_id" => {
            report["user_system_info"]["workshop_id"] = text.clone();
            "user_system_info.workshop_id"
        }
        "python_version" => {
            report["user_system_info"]["python_version"] = text.clone();
            "user_system_info.python_version"
        }
        other => panic!("the fixture names a field the test does not know: {other}"),
    };
    (report, at)
}

/// Issue 20, item 2: 10 of 41 such texts cost the whole report (422), the learner's passes and
/// every other failure with it.
#[test]
fn every_report_with_a_text_a_machine_printed_is_stored_whole_and_cleaned() {
    let texts = machine_texts();
    assert!(texts.len() >= 41, "{} texts", texts.len());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let agent = agent();
    let url = format!("{}/installation_data/", server.base);
    let (mut lost, mut altered) = (Vec::new(), Vec::new());
    for text in &texts {
        let what = text["what"].as_str().unwrap();
        let (report, field) = report_with(text["field"].as_str().unwrap(), &text["sent"]);
        let (status, answer) = post_json(&agent, &url, &report.to_string());
        if status != 200 {
            lost.push(format!("{what}: {status} {answer}"));
            continue;
        }
        let answer: Value = serde_json::from_str(&answer).unwrap();
        let key = answer["key"].as_str().unwrap();
        let conn = Connection::open(&db).unwrap();
        assert_eq!(stored_lists(&conn, key), (2, 2), "{what}: stored whole");
        let stored = stored_text(&conn, key, field);
        if stored.as_deref() != text["stored"].as_str() {
            altered.push(format!("{what}: stored as {stored:?}"));
        }
    }
    assert!(
        lost.is_empty() && altered.is_empty(),
        "{} of {} reports lost:\n{}\n{} stored not as cleaned:\n{}",
        lost.len(),
        texts.len(),
        lost.join("\n"),
        altered.len(),
        altered.join("\n")
    );
    // Shown escaped: the texts with markup are on the detail page, as text.
    let detail = format!(
        "{}/view/detail/?package_one_name=NumPy%20(numpy)&all_attempts=1",
        server.base
    );
    let page = agent
        .get(&detail)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        page.contains("&#60;script&#62;window.location=&#39;https://portal.example/login&#39;"),
        "{page}"
    );
    assert!(page.contains("&#60;h1&#62;503 Service"), "{page}");
    assert!(!page.contains("<script>window.location"), "{page}");
    assert!(!page.contains("<h1>503"), "{page}");
    assert!(server.terminate().success());
}
