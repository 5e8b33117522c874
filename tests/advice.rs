//! Advice from those who fixed it (issue 22), in-process: the answer to a report adds, per
//! failed check, what learners on the same system did, only from five learners up, in the
//! wire contract's shape; and the server's words for it are the script's, entry for entry.

use crate::check_script::python;
use crate::dashboard::fetch;
use crate::support::{answer, memory_store, peer, post, report};
use result_aggregation_server::app::App;
use result_aggregation_server::config::Config;
use result_aggregation_server::report::Advice;
use result_aggregation_server::storage::NewWorkshop;
use result_aggregation_server::throttle::Throttle;
use serde_json::{json, Value};
use std::process::Command;

/// A report from `system` that fails `failed` and passes `passed` (name, version).
fn attempt(key: Option<&str>, system: &str, failed: &[&str], passed: &[(&str, &str)]) -> Value {
    json!({
        "user_system_info": {"system": system, "distribution_name": system,
                             "python_version": "3.12.1"},
        "successful_installs": passed.iter()
            .map(|(name, version)| json!({"name": name, "version": version}))
            .collect::<Vec<_>>(),
        "failed_installs": failed.iter()
            .map(|name| json!({"name": name, "version": null, "error_description": "not found"}))
            .collect::<Vec<_>>(),
        "unique_user_id": key,
    })
}

/// Stored form of a time on 2026-11-20.
fn at(hour: u32, minute: u32) -> String {
    format!("2026-11-20 {hour:02}:{minute:02}:00.000")
}

/// An app whose store already holds other learners' histories (imported, as `generate`
/// writes them, so no answer has read advice yet), built as `serve` builds it.
async fn app_after(histories: &[Vec<(Value, String)>]) -> App {
    let store = memory_store();
    for (n, history) in histories.iter().enumerate() {
        let key = uuid::Uuid::from_u128(n as u128 + 1).to_string();
        for (value, time) in history {
            let mut value = value.clone();
            value["unique_user_id"] = key.clone().into();
            store
                .import(vec![(report(&value), time.clone())])
                .await
                .unwrap();
        }
    }
    let config = Config {
        rate_limit: None,
        ..Config::in_memory()
    };
    App::new(&config, store, Throttle::from_limit(None))
}

/// A learner on `system` who failed git at 9:00 and passed it `minutes` later with `version`.
fn fixed_git(system: &str, minutes: u32, version: &str) -> Vec<(Value, String)> {
    vec![
        (attempt(None, system, &["Git (git)"], &[]), at(9, 0)),
        (
            attempt(None, system, &[], &[("Git (git)", version)]),
            at(9 + minutes / 60, minutes % 60),
        ),
    ]
}

async fn submit(app: &App, value: &Value) -> Value {
    let answered = answer(
        app.handle(
            post("/installation_data/", value.to_string()),
            peer("192.0.2.9"),
        )
        .await,
    )
    .await;
    assert_eq!(answered.status, 200, "{}", answered.json);
    answered.json
}

#[tokio::test]
async fn the_answer_tells_what_learners_on_the_same_system_did_from_five_learners_up() {
    // Windows: three fixed git (after 1 h with 2.43.0, 2 h with 2.43.0, 3 h with 2.44.0), one
    // is stuck; make failed for one learner only. Linux: four failed git, none fixed it.
    let mut histories = vec![
        fixed_git("Windows", 60, "2.43.0"),
        fixed_git("Windows", 120, "2.43.0"),
        fixed_git("Windows", 180, "2.44.0"),
        vec![(
            attempt(None, "Windows", &["Git (git)", "GNU Make (make)"], &[]),
            at(10, 0),
        )],
    ];
    for _ in 0..4 {
        histories.push(vec![(
            attempt(None, "Linux", &["Git (git)"], &[]),
            at(8, 0),
        )]);
    }
    let app = app_after(&histories).await;

    // A fifth Windows learner fails git and make: their report is committed before the
    // advice is read, so they are the fifth who failed git there. Make: one learner, nothing.
    let windows = attempt(None, "Windows", &["GNU Make (make)", "Git (git)"], &[]);
    let answered = submit(&app, &windows).await;
    assert_eq!(answered["summary"]["status"], "Successful");
    assert_eq!(
        answered["advice"],
        json!([{"name": "Git (git)", "system": "Windows", "failed_learners": 5,
                "fixed_learners": 3, "median_seconds_to_fix": 7200,
                "fixed_with": [["2.43.0", 2], ["2.44.0", 1]]}])
    );
    let advice: Vec<Advice> = answered["advice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| Advice {
            name: a["name"].as_str().unwrap().into(),
            system: a["system"].as_str().unwrap().into(),
            failed_learners: a["failed_learners"].as_i64().unwrap(),
            fixed_learners: a["fixed_learners"].as_i64().unwrap(),
            median_seconds_to_fix: a["median_seconds_to_fix"].as_i64(),
            fixed_with: serde_json::from_value(a["fixed_with"].clone()).unwrap(),
        })
        .collect();
    assert_eq!(
        advice[0].line("Git").unwrap(),
        "3 of 5 learners on Windows fixed this, half of them within 2 hours; most ended with \
         Git 2.43."
    );

    // Linux: four learners failed git before, none fixed it. The snapshot this answer reads
    // was taken for the Windows learner's answer, before this report: four, under five.
    let linux = submit(&app, &attempt(None, "Linux", &["Git (git)"], &[])).await;
    assert!(linux.get("advice").is_none(), "{linux}");

    // Nothing failed, or no system named: the 2016 answer, key and summary only.
    let passed = submit(
        &app,
        &attempt(None, "Windows", &[], &[("Git (git)", "2.45.0")]),
    )
    .await;
    assert_eq!(
        passed.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["key", "summary"]
    );
    let mut unknown = windows.clone();
    unknown["user_system_info"]["system"] = Value::Null;
    let answered = submit(&app, &unknown).await;
    assert!(answered.get("advice").is_none(), "{answered}");
}

/// The host's "What to tell them" gives, under a problem's fix, the line the script prints
/// its learners: what learners on that system who failed the check did.
#[tokio::test]
async fn the_hosts_page_tells_what_learners_on_the_same_system_did() {
    const WORKSHOP: &str = "2026-11-27-oslo";
    let in_workshop = |mut value: Value| {
        value["user_system_info"]["workshop_id"] = WORKSHOP.into();
        value
    };
    // Elsewhere three Windows learners fixed git; in the workshop two are stuck with it, and
    // one Linux learner, whose system has too few learners for advice.
    let mut histories = vec![
        fixed_git("Windows", 60, "2.43.0"),
        fixed_git("Windows", 120, "2.43.0"),
        fixed_git("Windows", 180, "2.44.0"),
    ];
    for system in ["Windows", "Windows", "Linux"] {
        let stuck = in_workshop(attempt(None, system, &["Git (git)"], &[]));
        histories.push(vec![(stuck, at(10, 0))]);
    }
    let app = app_after(&histories).await;
    let secret = app
        .store
        .create_workshop(NewWorkshop {
            name: WORKSHOP.into(),
            title: None,
            checks: Some("git".into()),
            time_zone: None,
        })
        .await
        .unwrap();
    let page = fetch(&app, &format!("/host/{WORKSHOP}/{}/", secret.expose())).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let told = page.text.split("What to tell them").nth(1).unwrap();
    let windows = told
        .split("<article")
        .find(|a| a.contains("on Windows"))
        .unwrap();
    assert!(
        windows.contains(
            "3 of 5 learners on Windows fixed this, half of them within 2 hours; most ended \
             with Git 2.43.</pre>"
        ),
        "{windows}"
    );
    let linux = told
        .split("<article")
        .find(|a| a.contains("on Linux"))
        .unwrap();
    assert!(!linux.contains("learners on Linux"), "{linux}");
}

#[tokio::test]
async fn a_check_nobody_fixed_is_said_so_and_each_check_once() {
    let histories: Vec<_> = (0..5)
        .map(|_| vec![(attempt(None, "Darwin", &["R (r)"], &[]), at(9, 0))])
        .collect();
    let app = app_after(&histories).await;
    // Listed twice (a 2016 client may): one entry.
    let answered = submit(&app, &attempt(None, "Darwin", &["R (r)", "R (r)"], &[])).await;
    assert_eq!(
        answered["advice"],
        json!([{"name": "R (r)", "system": "Darwin", "failed_learners": 6,
                "fixed_learners": 0, "median_seconds_to_fix": null, "fixed_with": []}])
    );
}

/// Entries around every edge of the wording: no fix, negative and boundary times, versions
/// that add up by major.minor, ties, undotted versions, an empty system.
fn entries() -> Vec<Advice> {
    let mut rng = fastrand::Rng::with_seed(22);
    let mut entries = Vec::new();
    let times = [
        None,
        Some(-60),
        Some(0),
        Some(29),
        Some(30),
        Some(90),
        Some(150),
        Some(3570),
        Some(3599),
        Some(5400),
        Some(9000),
        Some(172_799),
        Some(172_800),
        Some(48 * 3600 + 1),
        Some(10 * 86_400 + 43_200),
    ];
    let versions = [
        "2.43.0",
        "2.43.1",
        "2.44.0.windows.1",
        "11",
        "v2.1",
        "2.43rc1",
        "1.",
        "3.11",
    ];
    for median in times {
        for _ in 0..4 {
            let failed = rng.i64(1..60);
            let with = (0..rng.usize(0..=3))
                .map(|_| {
                    (
                        versions[rng.usize(..versions.len())].to_owned(),
                        rng.i64(1..9),
                    )
                })
                .collect();
            entries.push(Advice {
                name: "Git (git)".into(),
                system: ["Windows", "Linux", "Darwin", ""][rng.usize(..4)].into(),
                failed_learners: failed,
                fixed_learners: [0, 1, failed][rng.usize(..3)],
                median_seconds_to_fix: median,
                fixed_with: with,
            });
        }
    }
    entries
}

#[test]
fn the_servers_line_is_word_for_word_the_scripts() {
    let Some(python) = python() else { return };
    let entries = entries();
    let program = "import json, sys\n\
                   sys.path.insert(0, 'contrib/check')\n\
                   import check\n\
                   for entry in json.load(sys.stdin):\n\
                   \x20   print(json.dumps(check.advice_line(entry, 'Git')))\n";
    let mut child = Command::new(python)
        .args(["-c", program])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let json = serde_json::to_string(&entries).unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scripts: Vec<Option<String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scripts.len(), entries.len());
    for (entry, script) in entries.iter().zip(scripts) {
        assert_eq!(entry.line("Git"), script, "{entry:?}");
    }
}
