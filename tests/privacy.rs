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

/// What one learner sent that nobody else did: an error text with their home folder, a
/// version, machine fields and an email. After they are forgotten, none of it may be left in
/// the database file or its WAL.
fn own_values(who: &str) -> [String; 5] {
    [
        format!("ImportError: /home/{who}/miniconda3/lib/libssl.so.3: cannot open"),
        format!("3.11.7-{who}-build"),
        format!("#1 SMP PREEMPT_DYNAMIC {who}-laptop"),
        format!("Linux-6.5.0-{who}-x86_64-with-glibc2.35"),
        format!("{who}@example.org"),
    ]
}

/// A report of `who`'s own values, with the values every learner shares.
fn own_report(who: &str) -> serde_json::Value {
    let [error, version, system_version, platform, email] = own_values(who);
    json!({
        "user_system_info": {"distribution_name": "Ubuntu", "distribution_version": "22.04",
            "system": "Linux", "system_version": system_version, "machine": "x86_64",
            "system_platform": platform, "python_version": "3.11.7",
            "workshop_id": WORKSHOP, "email_id": email},
        "successful_installs": [{"name": "Git (git)", "version": "2.43.0"},
                                {"name": "Python (python)", "version": version}],
        "failed_installs": [{"name": "NumPy (numpy)", "version": null,
                             "error_description": error},
                            {"name": "GNU Make (make)", "version": null,
                             "error_description": "not found"}],
        "unique_user_id": null
    })
}

/// What of `who`'s own values the database file and its WAL still hold.
fn left_of(db: &std::path::Path, who: &str) -> Vec<String> {
    let mut bytes = std::fs::read(db).unwrap();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(std::path::PathBuf::from(wal)).unwrap_or_default());
    own_values(who)
        .into_iter()
        .filter(|v| bytes.windows(v.len()).any(|w| w == v.as_bytes()))
        .collect()
}

/// How many values each dictionary holds, and the file's size.
fn dictionary_rows(db: &std::path::Path) -> (i64, i64, i64) {
    Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT (SELECT count(*) FROM error_texts), (SELECT count(*) FROM packages),
                    (SELECT count(*) FROM system_profiles)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

fn run(db: &std::path::Path, args: &[&str]) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
}

/// Issue 20, item 7: after `delete-user`, `--forget`, `purge`, `--retention` and
/// `rebuild-tallies` every error text the learner sent stayed in its dictionary (and their
/// rows' bytes in the file's free space). Each way of forgetting a learner is run on the real
/// binary; then the file and its WAL are searched for what that learner alone sent.
#[test]
fn a_forgotten_learners_own_values_are_in_neither_the_file_nor_its_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let agent = agent();
    let names = ["forget-http", "delete-user", "kept"];
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let mut keys = Vec::new();
    for who in names {
        let url = format!("{}/installation_data/", server.base);
        let (status, body) = crate::binary::post_json(&agent, &url, &own_report(who).to_string());
        assert_eq!(status, 200, "{body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        keys.push(answer["key"].as_str().unwrap().to_owned());
    }
    let before = dictionary_rows(&db);
    assert_eq!(
        left_of(&db, "forget-http").len(),
        5,
        "the values were stored"
    );

    // A learner's `check.py --forget`, while the server runs: gone when it answers.
    let url = format!("{}/installation_data/{}/", server.base, keys[0]);
    assert_eq!(agent.delete(&url).call().unwrap().status().as_u16(), 204);
    assert_eq!(
        left_of(&db, "forget-http"),
        Vec::<String>::new(),
        "after --forget"
    );
    assert_eq!(
        dictionary_rows(&db),
        (before.0 - 1, before.1 - 1, before.2 - 1),
        "its own error text, version and machine went; the shared ones stayed"
    );
    assert!(server.terminate().success());

    run(&db, &["delete-user", &keys[1]]);
    assert_eq!(
        left_of(&db, "delete-user"),
        Vec::<String>::new(),
        "after delete-user"
    );
    assert_eq!(
        left_of(&db, "kept").len(),
        5,
        "another learner's values stay"
    );
    result_aggregation_server::storage::verify(&db).unwrap();
}

/// A learner whose reports are `days` old, written through the library as `generate` does.
fn old_learner(db: &std::path::Path, who: &str, days: u64) {
    use result_aggregation_server::config::Location;
    use result_aggregation_server::storage::Store;
    // The stored form of a time, `days` ago.
    let at: String = Connection::open_in_memory()
        .unwrap()
        .query_row(
            "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now', ?1)",
            [format!("-{days} days")],
            |r| r.get(0),
        )
        .unwrap();
    let store = Store::open(&Location::File(db.to_owned())).unwrap();
    let report = crate::support::report(&own_report(who));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(store.import(vec![(report, at)])).unwrap();
    store.close();
}

/// The same for retention: `purge`, the server's `--retention`, and `rebuild-tallies` after a
/// learner was deleted by hand (in an SQL session that overwrites what it deletes, as the
/// docs/operations.md asks).
#[test]
fn purged_retained_and_hand_deleted_learners_leave_nothing_either() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    old_learner(&db, "purged", 100);
    old_learner(&db, "kept", 1);
    assert_eq!(left_of(&db, "purged").len(), 5);
    run(&db, &["purge", "--older-than", "30"]);
    assert_eq!(left_of(&db, "purged"), Vec::<String>::new(), "after purge");

    old_learner(&db, "retained", 100);
    let mut server = Server::start(&db, &["--retention", "30"]);
    server.wait_for_log("retention: deleted 1 learners", 1);
    assert_eq!(
        left_of(&db, "retained"),
        Vec::<String>::new(),
        "after --retention"
    );
    assert!(server.terminate().success());

    old_learner(&db, "by-hand", 1);
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;
         DELETE FROM user_system_info WHERE email_id = 'by-hand@example.org';
         PRAGMA wal_checkpoint(TRUNCATE);",
    )
    .unwrap();
    drop(conn);
    assert!(
        !left_of(&db, "by-hand").is_empty(),
        "the dictionaries still hold them"
    );
    run(&db, &["rebuild-tallies"]);
    assert_eq!(
        left_of(&db, "by-hand"),
        Vec::<String>::new(),
        "after rebuild-tallies"
    );
    assert_eq!(
        left_of(&db, "kept").len(),
        5,
        "another learner's values stay"
    );
    result_aggregation_server::storage::verify(&db).unwrap();
}
