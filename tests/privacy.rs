//! Privacy, tested: learners' email addresses are stored for the organizers and appear in
//! nothing else. Reports with emails go in (and emails in the wrong places, which are refused);
//! then every route, every export and every subcommand is run, and their output and the whole
//! server log (at debug level) are searched for the addresses.

use crate::binary::{agent, Server, BIN};
use crate::support::sample;
use rusqlite::Connection;
use serde_json::json;
use std::process::Command;

const EMAILS: [&str; 3] = [
    "alice.private@example.org",
    "bob+workshop@example.net",
    "carol.o'neil@example.com",
];
const WORKSHOP: &str = "2026-11-27-privacy";

#[test]
fn emails_appear_in_no_page_export_log_error_or_command_output() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start_logging(&db, &["--rate-limit", "off"], "debug");
    let base = server.base.clone();
    let agent = agent();
    let mut seen = Vec::<(String, String)>::new();
    let mut keep = |what: String, status: u16, headers: String, body: String| {
        seen.push((what, format!("{status}\n{headers}\n{body}")));
    };
    let mut request = |method: &str, path: &str, body: Option<String>| -> (u16, String) {
        let url = format!("{base}{path}");
        let sent = match (method, body) {
            ("POST", Some(body)) => agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body),
            ("DELETE", _) => agent.delete(&url).call(),
            ("PUT", _) => agent.put(&url).send(""),
            _ => agent.get(&url).call(),
        };
        let mut answer = sent.unwrap();
        let status = answer.status().as_u16();
        let headers = format!("{:?}", answer.headers());
        let text = answer.body_mut().read_to_string().unwrap_or_default();
        keep(format!("{method} {path}"), status, headers, text.clone());
        (status, text)
    };
    let mut keys = Vec::new();
    for (i, email) in EMAILS.iter().enumerate() {
        let mut report = sample(None, Some(email), Some(WORKSHOP));
        report["user_system_info"]["system"] = json!(["Linux", "Darwin", "Windows"][i]);
        let (status, text) = request("POST", "/installation_data/", Some(report.to_string()));
        assert_eq!(status, 200, "{text}");
        let key: serde_json::Value = serde_json::from_str(&text).unwrap();
        keys.push(key["key"].as_str().unwrap().to_owned());
    }
    // A later attempt without an email keeps the stored one.
    let again = sample(Some(&keys[0]), None, Some(WORKSHOP)).to_string();
    assert_eq!(request("POST", "/installation_data/", Some(again)).0, 200);
    let email = EMAILS[0];
    let long = format!("{}{email}", "x".repeat(600));
    for wrong in [
        json!({"successful_installs": email}),
        json!({"user_system_info": email}),
        json!({"user_system_info": {"email_id": ["x", email]}}),
        json!({"user_system_info": {"email_id": 5, "workshop_id": email}, "failed_installs": email}),
        json!({"user_system_info": {"email_id": long}}),
        json!({"unique_user_id": email, "failed_installs": [{"name": email, "version": 1}]}),
        json!({ email: [{"x": "\u{0000}"}], "successful_installs": [[email]] }),
    ] {
        let (status, text) = request("POST", "/installation_data/", Some(wrong.to_string()));
        assert!((400..500).contains(&status), "{wrong}: {status} {text}");
    }
    // What is not an address is treated as absent: the report is stored, without it.
    for not_an_address in [format!("<b>{email}</b>"), format!("{email}\u{202e}")] {
        let report = json!({"user_system_info": {"email_id": not_an_address}});
        let (status, text) = request("POST", "/installation_data/", Some(report.to_string()));
        assert_eq!(status, 200, "{report}: {text}");
    }
    request(
        "POST",
        "/installation_data/",
        Some(format!("{{\"{email}\": ")),
    );
    let stored: i64 = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM user_system_info WHERE email_id IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 3, "the emails are stored, for the organizers");
    let encoded: String = form_urlencoded::byte_serialize(WORKSHOP.as_bytes()).collect();
    let package = "package_one_name=EasyMercurial";
    for path in [
        "/".to_owned(),
        format!("/?workshop={encoded}"),
        "/view".into(),
        "/view/".into(),
        "/view/?all_attempts=1".into(),
        "/view/?export=json".into(),
        "/view/?export=csv".into(),
        "/view/?all_attempts=1&export=json".into(),
        format!("/view/{encoded}/"),
        format!("/view/{encoded}/?export=json"),
        format!("/view/{encoded}/?export=csv"),
        format!("/view/?workshop_id={encoded}"),
        format!("/view/detail/?{package}"),
        format!("/view/detail/?{package}&export=json"),
        format!("/view/detail/?{package}&export=csv"),
        format!("/view/detail/?{package}&package_one_version=2.5.0&workshop_id={encoded}&all_attempts=1&export=json"),
        format!("/view/detail/?{package}&package_two_name=Git%20(git)&export=json"),
        "/view/no-such-workshop/".into(),
        "/check.py".into(),
        format!("/check.py?workshop={encoded}"),
        "/healthz".into(),
        "/static/dashboard.css".into(),
        "/static/live.js".into(),
        "/static/icon.svg".into(),
        "/nowhere".into(),
    ] {
        request("GET", &path, None);
    }
    request("PUT", "/installation_data/", None);
    request("DELETE", &format!("/installation_data/{email}/"), None);
    request(
        "DELETE",
        "/installation_data/00000000-0000-4000-8000-000000000000/",
        None,
    );
    assert_eq!(
        request("DELETE", &format!("/installation_data/{}/", keys[2]), None).0,
        204
    );
    assert!(server.terminate().success());
    let log = server.log.lock().unwrap().clone();
    seen.push(("the server's log".into(), log));
    // Every subcommand, on the same database.
    let copy = dir.path().join("copy.db");
    for args in [
        vec!["rebuild-tallies".to_owned()],
        vec![
            "purge".into(),
            "--older-than".into(),
            "30".into(),
            "--dry-run".into(),
        ],
        vec!["purge".into(), "--older-than".into(), "30".into()],
        vec!["backup".into(), copy.to_string_lossy().into_owned()],
        vec!["delete-user".into(), keys[1].to_uppercase()],
        vec!["delete-user".into(), keys[1].clone()],
        vec!["--help".into()],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--db")
            .arg(&db)
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        seen.push((
            format!("{args:?}"),
            format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    let generated = Command::new(BIN)
        .args(["generate", "--submissions", "20", "--db"])
        .arg(dir.path().join("generated.db"))
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    seen.push(("generate".into(), format!("{generated:?}")));
    let mut leaks = Vec::new();
    for (what, text) in &seen {
        for email in EMAILS {
            let local = email.split('@').next().unwrap();
            if text.contains(email) || text.contains(local) {
                leaks.push(format!("{what} shows {email}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    eprintln!(
        "{} outputs searched (every route, export, error, subcommand and the debug log): no email",
        seen.len()
    );
}
