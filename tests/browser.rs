//! The dashboard in a real browser: headless Chromium (Debian's) loads every page of a
//! populated server, the host's private page of a workshop with hostile strings in every
//! learner field included, takes screenshots into target/screenshots/, and finds no console
//! error, no request to another host, and no script run from a learner's string.
//!
//! Needs /usr/bin/chromium (apt-get install chromium), node, and playwright-core
//! (npm ci --prefix tests/browser). Without them it skips, except under CI=true.

use crate::binary::{agent, post_json, Server, BIN};
use crate::support::unchecked_report;
use result_aggregation_server::storage::{Location, Store};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";
const WORKSHOP: &str = "2016-08-13-place";
const PACKAGE: &str = "Git (git)";
/// Each string tries to run script, or to fetch from another host, if printed unescaped.
const HOSTILE_WORKSHOP: &str = "<script>document.title='pwned'</script>";
const HOSTILE_PACKAGE: &str = "<img src=x onerror=\"window.__xss=1;console.error('xss')\">";
const HOSTILE_VERSION: &str = "\"><svg onload=\"window.__xss=2\">";
const HOSTILE_SYSTEM: &str = "<script>window.__xss=3</script>";
const HOSTILE_ERROR: &str = "<iframe src=\"http://evil.example/\"></iframe>";
const HOSTILE_DISTRIBUTION: &str = "<img src=\"http://evil.example/pixel.png\">";
/// The workshop with a host: learners report to it, so its name is one they may send.
const HOST_WORKSHOP: &str = "2026-11-28-hosted";
const HOSTILE_EMAIL: &str = "\"><img src=x onerror=\"window.__xss=4\">@example.org";
const HOSTILE_TITLE: &str = "</title><script>window.__xss=5</script>";

/// What the browser test needs, or why it cannot run here.
fn tools(dir: &Path) -> Result<(), String> {
    if !Path::new(CHROMIUM).exists() {
        return Err(format!("{CHROMIUM} is missing (apt-get install chromium)"));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is missing (apt-get install nodejs)".into());
    }
    if !dir.join("node_modules/playwright-core").exists() {
        return Err("playwright-core is missing (npm ci --prefix tests/browser)".into());
    }
    Ok(())
}

/// Reports that fill every chart: workshops, systems, versions, and a few attempts fixed.
fn populate(base: &str) {
    let agent = agent();
    let url = format!("{base}/installation_data/");
    let systems = [
        ("Linux", "Ubuntu", "16.04", "x86_64"),
        ("Linux", "Fedora", "24", "x86_64"),
        ("Darwin", "", "", "x86_64"),
        ("Windows", "", "", "AMD64"),
        ("Darwin", "", "", "arm64"),
    ];
    let packages = [
        (PACKAGE, "2.7.4"),
        ("EasyMercurial", "2.5.0"),
        ("Python (python)", "3.5.1"),
        ("Nose (nosetests)", "1.3.7"),
        ("Jupyter Notebook", "4.2.1"),
        ("NumPy", "1.11.0"),
        ("Make (make)", "4.1"),
    ];
    let workshops = [WORKSHOP, "2016-09-01-elsewhere", "Ünïcode workshop / 2"];
    for learner in 0..36usize {
        let (system, distribution, distribution_version, machine) = systems[learner % 5];
        let failures: Vec<_> = packages
            .iter()
            .enumerate()
            .filter(|(i, _)| (learner * 7 + i * 3) % 5 < 2)
            .map(|(_, (name, version))| {
                json!({"name": name, "version": version,
                       "error_description": format!("errors finding {name} version")})
            })
            .collect();
        let python = ["3.5.1", "3.4.3", "2.7.12"][learner % 3];
        let report = json!({
            "user_system_info": {"system": system, "distribution_name": distribution,
                "distribution_version": distribution_version, "machine": machine,
                "system_version": "#1 SMP", "system_platform": format!("{system}-{machine}"),
                "python_version": python,
                "workshop_id": workshops[learner % 3], "email_id": "learner@example.org"},
            "successful_installs": [{"name": "Shell", "version": "4.3"}],
            "failed_installs": failures,
            "unique_user_id": null
        });
        let (status, text) = post_json(&agent, &url, &report.to_string());
        assert_eq!(status, 200, "{text}");
        // Every fourth learner fixes everything and reports again.
        if learner % 4 == 0 {
            let key: serde_json::Value = serde_json::from_str(&text).unwrap();
            let mut fixed = report.clone();
            fixed["failed_installs"] = json!([]);
            fixed["unique_user_id"] = key["key"].clone();
            assert_eq!(post_json(&agent, &url, &fixed.to_string()).0, 200);
        }
    }
}

/// A report whose every string tries to run script.
fn hostile_report() -> serde_json::Value {
    json!({
        "user_system_info": {"system": HOSTILE_SYSTEM, "distribution_name": HOSTILE_DISTRIBUTION,
            "distribution_version": HOSTILE_VERSION, "machine": HOSTILE_PACKAGE,
            "system_platform": HOSTILE_WORKSHOP, "python_version": HOSTILE_VERSION,
            "workshop_id": HOSTILE_WORKSHOP, "email_id": HOSTILE_EMAIL},
        "successful_installs": [{"name": HOSTILE_PACKAGE, "version": HOSTILE_VERSION}],
        "failed_installs": [
            {"name": HOSTILE_PACKAGE, "version": HOSTILE_VERSION, "error_description": HOSTILE_ERROR},
            {"name": PACKAGE, "version": HOSTILE_VERSION, "error_description": HOSTILE_ERROR}
        ],
        "unique_user_id": null
    })
}

/// The hostile strings as a learner's client sends them: stored (texts are data), to be shown
/// escaped like any other.
fn post_hostile_learner(base: &str) {
    let url = format!("{base}/installation_data/");
    let (status, text) = post_json(&agent(), &url, &hostile_report().to_string());
    assert_eq!(status, 200, "{text}");
}

/// A learner whose every string tries to run script, written straight into the file (email
/// included, which the wire would drop as no address), as a database from before the wire's
/// cleaning may hold it. `populate` sends the same strings through the real ingestion.
fn store_hostile_learner(db: &Path) {
    let hostile = hostile_report();
    // A first attempt fails both; a later one fixes the hostile package with a hostile
    // version, so "What gets fixed" and the detail's "fixed with" show them too. A learner of
    // the hosted workshop carries a hostile email and package names onto the private page.
    let key = Some(uuid::Uuid::from_u128(0x0bad));
    let mut first = unchecked_report(&hostile);
    first.key = key;
    let mut fixed = unchecked_report(&hostile);
    fixed.key = key;
    fixed.failures.retain(|f| f.name == PACKAGE);
    fixed.successes = vec![result_aggregation_server::report::Package {
        name: HOSTILE_PACKAGE.into(),
        version: Some(HOSTILE_ERROR.into()),
    }];
    let mut hosted = unchecked_report(&hostile);
    hosted.system.workshop_id = Some(HOST_WORKSHOP.into());
    let store = Store::open(&Location::File(db.to_owned())).unwrap();
    let at = |t: &str| format!("2026-01-01 {t}:00.000");
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(store.import(vec![
            (first, at("12:00")),
            (fixed, at("14:30")),
            (hosted, at("15:00")),
        ]))
        .unwrap();
    store.close();
}

#[test]
fn chromium_shows_the_dashboard_and_runs_no_learners_script() {
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Err(why) = tools(&browser_dir) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the browser test: {why}"
        );
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    store_hostile_learner(&db);
    let server = Server::start(&db, &["--rate-limit", "off"]);
    // A hosted workshop whose private page shows hostile strings in every learner field and
    // its title.
    let created = Command::new(BIN)
        .args([
            "workshop",
            "create",
            HOST_WORKSHOP,
            "--title",
            HOSTILE_TITLE,
        ])
        .args([
            "--checks",
            "git,numpy",
            "--public-url",
            &server.base,
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let created = String::from_utf8_lossy(&created.stdout).into_owned();
    let link = created
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{}/host/", server.base)))
        .unwrap_or_else(|| panic!("no private link:\n{created}"));
    let host_path = &link[server.base.len()..];
    let secret = host_path.trim_end_matches('/').rsplit('/').next().unwrap();
    populate(&server.base);
    post_hostile_learner(&server.base);
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    let run = Command::new("node")
        .arg(browser_dir.join("check.mjs"))
        .arg(&server.base)
        .arg(&shots)
        .arg(CHROMIUM)
        .args([
            WORKSHOP,
            PACKAGE,
            HOSTILE_WORKSHOP,
            HOSTILE_PACKAGE,
            host_path,
            HOST_WORKSHOP,
        ])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the browser found problems:\n{stdout}\n{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["problems"], json!([]));
    assert!(summary["visited"].as_u64().unwrap() >= 22, "{summary}");
    assert!(shots.join("overview.png").exists());
    assert!(shots.join("host-live-updated.png").exists());
    let log = server.log.lock().unwrap().clone();
    assert!(
        !log.contains(" 500 "),
        "no request failed on the server:\n{log}"
    );
    assert!(
        log.contains("/host/"),
        "the private page was visited:\n{log}"
    );
    assert!(!log.contains(secret), "the secret reached the log:\n{log}");
}

/// Issue 19: on a phone, tables were cut off at the right ("Share", "Failing since") and
/// headings broke inside words ("Reporte d", "Learner s"). Every page of the demo a host gets
/// from `generate` (home, statistics, a workshop, a detail, what gets fixed, a registered
/// workshop's private page) loads at 1280 and at 390 px wide with no console error, nothing
/// past the right edge outside a wrapper that scrolls, and no heading broken inside a word.
/// Screenshots go to /tmp/shots/NAME-WIDTH.png.
#[test]
fn every_demo_page_fits_a_desktop_and_a_phone() {
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if let Err(why) = tools(&browser_dir) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the browser test: {why}"
        );
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let generated = Command::new(BIN)
        .args(["generate", "--submissions", "3000", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(generated.status.success(), "{generated:?}");
    // The workshop with most learners is the one registered, so its page has rows to show.
    let workshop: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT workshop_id FROM user_system_info WHERE workshop_id IS NOT NULL
              GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let server = Server::start(&db, &["--rate-limit", "off"]);
    let created = Command::new(BIN)
        .args([
            "workshop",
            "create",
            &workshop,
            "--public-url",
            &server.base,
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let created = String::from_utf8_lossy(&created.stdout).into_owned();
    let link = created
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{}/host/", server.base)))
        .unwrap_or_else(|| panic!("no private link:\n{created}"));
    let host_path = &link[server.base.len()..];
    let overview = agent()
        .get(format!("{}/view/?export=json", server.base))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let overview: serde_json::Value = serde_json::from_str(&overview).unwrap();
    let package = overview["most_failed_package_names"][0]["name"]
        .as_str()
        .expect("the demo has failures")
        .to_owned();
    let q = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pages = [
        ("home", "/".to_owned()),
        ("statistics", "/view/".to_owned()),
        ("workshop", format!("/view/{}/", q(&workshop))),
        (
            "detail",
            format!("/view/detail/?package_one_name={}", q(&package)),
        ),
        ("fixes", "/fixes/".to_owned()),
        ("host", host_path.to_owned()),
    ];
    let run = Command::new("node")
        .arg(browser_dir.join("widths.mjs"))
        .arg(&server.base)
        .arg("/tmp/shots")
        .arg(CHROMIUM)
        .args(pages.iter().map(|(name, path)| format!("{name}={path}")))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the pages do not fit:\n{stdout}\n{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["problems"], json!([]));
    assert_eq!(summary["visited"], json!(pages.len() * 2));
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains(" 500 "), "no request failed:\n{log}");
}
