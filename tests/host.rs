//! The host's private page in-process: what it shows (each learner's latest failures, emails
//! only where given), what it answers to (the current secret and nothing else, with one 404),
//! its headers, its CSV, and that no public page or export shows an email.

use crate::dashboard::fetch as send;
use crate::support::{app, peer, post};
use http_body_util::BodyExt;
use result_aggregation_server::app::App;
use result_aggregation_server::storage::NewWorkshop;
use serde_json::{json, Value};

const WORKSHOP: &str = "2026-11-27-oslo";
const EMAIL: &str = "ada@example.org";

async fn report(app: &App, body: Value) -> String {
    let response = app
        .handle(
            post("/installation_data/", body.to_string()),
            peer("192.0.2.1"),
        )
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let answer: Value = serde_json::from_slice(&body).unwrap();
    answer["key"].as_str().unwrap().to_owned()
}

fn attempt(key: Option<&str>, email: Option<&str>, system: &str, failed: &[(&str, &str)]) -> Value {
    let passed: Vec<Value> = ["Git (git)", "NumPy (numpy)", "Python (python)"]
        .iter()
        .filter(|name| !failed.iter().any(|(f, _)| f == *name))
        .map(|name| json!({"name": name, "version": "9.9"}))
        .collect();
    json!({
        "user_system_info": {"system": system, "workshop_id": WORKSHOP, "email_id": email},
        "successful_installs": passed,
        "failed_installs": failed.iter().map(|(name, error)| json!({
            "name": name, "version": null, "error_description": error})).collect::<Vec<_>>(),
        "unique_user_id": key
    })
}

async fn hosted(app: &App, name: &str, checks: Option<&str>) -> String {
    let secret = app
        .store
        .create_workshop(NewWorkshop {
            name: name.into(),
            title: Some("Oslo <day one>".into()),
            checks: checks.map(str::to_owned),
            time_zone: None,
        })
        .await
        .unwrap();
    format!("/host/{name}/{}/", secret.expose())
}

#[tokio::test]
async fn the_private_page_shows_latest_failures_and_emails_only_where_given() {
    let app = app(None, "");
    let link = hosted(&app, WORKSHOP, Some("git>=2.30,numpy,python")).await;
    // Ada fixes git, then still fails numpy; the second learner gives no email and is ready.
    let ada = report(
        &app,
        attempt(
            None,
            Some(EMAIL),
            "Linux",
            &[("Git (git)", "not found"), ("NumPy (numpy)", "not found")],
        ),
    )
    .await;
    report(
        &app,
        attempt(Some(&ada), None, "Linux", &[("NumPy (numpy)", "not found")]),
    )
    .await;
    let anonymous = report(&app, attempt(None, None, "Windows", &[])).await;

    let page = send(&app, &link).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["x-robots-tag"], "noindex");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert!(page.text.contains(EMAIL), "the email a learner gave");
    assert!(
        page.text.contains("day one") && !page.text.contains("<day one>"),
        "the title, escaped"
    );
    assert!(page.text.contains("NumPy (numpy)"));
    assert!(
        !page.text.contains(&anonymous) && !page.text.contains(&ada),
        "never a key"
    );
    assert!(page.text.contains("learner-"), "a pseudonym instead");
    assert!(
        page.text.contains("50%"),
        "one of two ready:\n{}",
        page.text
    );
    // Git was fixed: it is no longer among Ada's failures, nor in the fixes to send, but
    // among what she fixed.
    let learners = page.text.split("id=\"learners-h\"").nth(1).unwrap();
    let learners = learners.split("id=\"fixes-h\"").next().unwrap();
    assert!(!learners.contains("\">Git (git)"), "{learners}");
    assert!(learners.contains("fixed Git (git)"), "{learners}");
    // Each time is an instant the browser shows in its reader's zone, UTC kept in the title.
    let time = learners
        .split("<time datetime=\"")
        .nth(1)
        .expect("a <time>");
    let (instant, rest) = time.split_once('"').unwrap();
    assert!(instant.len() == 20 && instant.ends_with('Z'), "{instant}");
    let title = rest.split("title=\"").nth(1).unwrap();
    assert!(
        title.starts_with(&instant[..10]) && title.contains(" UTC\""),
        "{title}"
    );
    let script = send(&app, "/static/local-time.js").await;
    assert_eq!(script.status, 200);
    assert!(script.text.contains("Intl.DateTimeFormat"));
    assert!(
        page.text.contains("python3 -m pip install numpy"),
        "the fix for Linux"
    );
    assert!(
        !page.text.contains("/host/"),
        "links are queries: the secret is not in the HTML"
    );

    let not_ready = send(&app, &format!("{link}?show=not-ready")).await;
    assert!(not_ready.text.contains(EMAIL));
    assert!(
        !not_ready.text.contains("badge ok"),
        "the ready learner is filtered out"
    );
    let by_system = send(&app, &format!("{link}?sort=system&order=desc")).await;
    let windows = by_system.text.find("<td class=\"system\">Windows").unwrap();
    let linux = by_system.text.find("<td class=\"system\">Linux").unwrap();
    assert!(windows < linux, "sorted by system, descending");

    let csv = send(&app, &format!("{link}?export=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(csv.headers["cache-control"], "no-store");
    assert!(csv
        .text
        .starts_with("learner,system,python_version,ready,still_failing"));
    assert!(
        csv.text
            .contains(&format!("{EMAIL},Linux,,no,NumPy (numpy),")),
        "{}",
        csv.text
    );

    // Public pages and exports of the same workshop show no email.
    for path in [
        format!("/view/{WORKSHOP}/"),
        format!("/view/{WORKSHOP}/?export=json"),
        format!("/view/{WORKSHOP}/?export=csv"),
        "/view/".to_owned(),
        "/".to_owned(),
        format!("/view/detail/?package_one_name=NumPy%20(numpy)&workshop_id={WORKSHOP}&export=csv"),
        format!("/view/detail/?package_one_name=NumPy%20(numpy)&workshop_id={WORKSHOP}"),
    ] {
        let page = send(&app, &path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(!page.text.contains(EMAIL), "{path} shows an email");
    }
    app.store.close();
}

#[tokio::test]
async fn wrong_revoked_and_other_workshops_secrets_all_get_the_same_404() {
    let app = app(None, "");
    let link = hosted(&app, WORKSHOP, None).await;
    let other = hosted(&app, "2026-12-04-bergen", None).await;
    let secret = link
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let other_secret = other
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(send(&app, &link).await.status, 200);
    let renewed = app
        .store
        .renew_workshop_link(WORKSHOP.into())
        .await
        .unwrap();
    let mut wrong = secret.clone();
    wrong.replace_range(..1, if secret.starts_with('0') { "1" } else { "0" });
    let missing = send(&app, "/host/no-such-workshop/0123456789abcdef0123/").await;
    assert_eq!(missing.status, 404);
    for path in [
        link.clone(),                                     // revoked
        format!("/host/{WORKSHOP}/{wrong}/"),             // wrong
        format!("/host/{WORKSHOP}/{other_secret}/"),      // another workshop's
        format!("/host/{WORKSHOP}/{}", renewed.expose()), // no trailing slash
        format!("/host/{WORKSHOP}/{}/x/", renewed.expose()),
        format!("/host/{WORKSHOP}/"),
    ] {
        let page = send(&app, &path).await;
        assert_eq!((page.status, &page.text), (404, &missing.text), "{path}");
        assert!(!page.text.contains(&secret) && !page.text.contains(renewed.expose()));
    }
    let page = send(&app, &format!("/host/{WORKSHOP}/{}/", renewed.expose())).await;
    assert_eq!(page.status, 200);
    app.store.close();
}

#[tokio::test]
async fn a_registered_workshop_serves_its_own_checks() {
    let app = app(None, "");
    hosted(&app, WORKSHOP, Some("git>=2.30,numpy?")).await;
    hosted(&app, "plain", None).await;
    let own = send(&app, &format!("/check.py?workshop={WORKSHOP}")).await;
    assert!(own.text.contains("CHECKS = [\"git>=2.30\", \"numpy?\"]\n"));
    for other in ["plain", "unregistered"] {
        let page = send(&app, &format!("/check.py?workshop={other}")).await;
        assert!(
            page.text.contains("CHECKS = None\n"),
            "{other}: the server's default"
        );
    }
    app.store.close();
}

#[tokio::test]
async fn the_learner_table_exports_formula_safe() {
    let app = app(None, "");
    let link = hosted(&app, WORKSHOP, Some("git")).await;
    report(
        &app,
        attempt(
            None,
            Some("=HYPERLINK@evil.example"),
            "+Linux",
            &[("Git (git)", "not found")],
        ),
    )
    .await;
    let csv = send(&app, &format!("{link}?export=csv")).await;
    let row = csv.text.lines().nth(1).unwrap();
    assert!(row.starts_with("'=HYPERLINK@evil.example,"), "{row}");
    assert!(row.contains(",'+Linux,"), "{row}");
    app.store.close();
}

/// A learner's report for [`import`]: their key, email, system, and what passed and failed
/// (failures with an error text of their own).
fn learner_report(
    key: &str,
    email: Option<&str>,
    system: &str,
    passed: &[&str],
    failed: &[&str],
) -> Value {
    let distribution = (system == "Linux").then_some("Ubuntu");
    json!({
        "user_system_info": {"system": system, "distribution_name": distribution,
            "distribution_version": distribution.map(|_| "22.04"),
            "workshop_id": WORKSHOP, "email_id": email},
        "successful_installs": passed.iter().map(|n| json!({"name": n, "version": "1.0"}))
            .collect::<Vec<_>>(),
        "failed_installs": failed.iter().enumerate().map(|(i, n)| json!({
            "name": n, "version": null,
            "error_description": format!("{key} failure {i}: {}", "x".repeat(1000))}))
            .collect::<Vec<_>>(),
        "unique_user_id": key
    })
}

/// Stores reports in one transaction, each at its own time, as `generate` does.
async fn import(app: &App, reports: Vec<(Value, String)>) {
    let reports = reports
        .into_iter()
        .map(|(body, at)| (crate::support::report(&body), at))
        .collect();
    app.store.import(reports).await.unwrap();
}

fn key_of(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// How often `needle` occurs in `text`.
fn occurrences(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Issue 20, item 3: 300 reports with the public workshop id made the private page 112 MB
/// and its CSV 36 MB. Now every list on it is cut, saying how many more there are: 50
/// learners a page, 10 failing checks a learner, 20 problems to tell about, 25 learners
/// named under each; the CSV comes 1,000 learners at a time with a link to the next file.
/// The share of ready learners still counts every learner.
#[tokio::test]
async fn the_private_page_stays_small_with_a_thousand_learners_failing_many_checks() {
    let app = app(None, "");
    let link = hosted(&app, WORKSHOP, Some("git,numpy,python,make?")).await;
    let unknown: Vec<String> = (0..30).map(|i| format!("Tool {i} (tool-{i})")).collect();
    let mut reports = Vec::new();
    for n in 0..1001 {
        // Every third learner is ready; the others fail numpy and 14 checks nobody knows.
        let mut failed: Vec<&str> = Vec::new();
        if n % 3 != 0 {
            failed.push("NumPy (numpy)");
            failed.extend(unknown.iter().skip(n % 16).take(14).map(String::as_str));
        }
        let passed: &[&str] = match n % 3 {
            0 => &["Git (git)", "NumPy (numpy)", "Python (python)"],
            _ => &["Git (git)", "Python (python)"],
        };
        let email = format!("learner{n}@example.org");
        let body = learner_report(&key_of(n), Some(&email), "Linux", passed, &failed);
        reports.push((
            body,
            format!("2026-11-20 10:{:02}:{:02}.000", n / 60, n % 60),
        ));
    }
    import(&app, reports).await;

    let page = send(&app, &link).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("334 of 1001 learners"),
        "every learner counts in the share"
    );
    assert_eq!(
        occurrences(&page.text, "<tr class=\"not-ready\">"),
        50,
        "a page of rows"
    );
    assert!(
        page.text.contains("Page 1 of 21"),
        "1001 learners, the not ready first"
    );
    let failing = occurrences(&page.text, "<div class=\"failing\"")
        + occurrences(&page.text, "<div class=\"failing optional\"");
    assert_eq!(failing, 50 * 10, "10 failing checks shown a learner");
    assert_eq!(
        occurrences(&page.text, "and 5 more</div>"),
        50,
        "15 fail: 5 more"
    );
    assert_eq!(occurrences(&page.text, "<article class=\"fix\">"), 20);
    assert!(
        page.text.contains("10 more problems"),
        "numpy and 29 unknown tools: 30 problems"
    );
    assert!(
        page.text.contains(" and 642 more (the CSV lists them)"),
        "667 learners fail numpy, 25 are named"
    );
    assert!(page.text.len() < 400_000, "{} bytes", page.text.len());
    let second = send(&app, &format!("{link}?page=2")).await;
    assert!(second.text.contains("Page 2 of 21"));
    assert!(second.text.contains("rel=\"prev\""));

    let csv = send(&app, &format!("{link}?export=csv")).await;
    assert_eq!(
        csv.text.lines().count(),
        1 + 1000,
        "a header and 1,000 learners"
    );
    assert_eq!(
        csv.headers["link"].to_str().unwrap(),
        "<?export=csv&page=2>; rel=\"next\""
    );
    let row = csv.text.lines().nth(1).unwrap();
    assert!(row.contains("; … 5 more,"), "{row}");
    let rest = send(&app, &format!("{link}?export=csv&page=2")).await;
    assert_eq!(rest.text.lines().count(), 1 + 1);
    assert!(!rest.headers.contains_key("link"), "the last file");
    app.store.close();
}

/// The model the host page's order is checked against: each learner's attempts replayed
/// straightforwardly, in the words of docs/hosting.md.
#[derive(Debug, Clone)]
struct Expected {
    id: usize,
    who: String,
    system: String,
    ready: bool,
    missing: usize,
    failing: usize,
    since: Option<String>,
    attempts: usize,
    last: Option<String>,
}

fn pseudonym(key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("learner pseudonym\n{key}").as_bytes());
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("learner-{hex}")
}

/// `(time, passed, failed)` per attempt, in time order.
type History = Vec<(String, Vec<&'static str>, Vec<&'static str>)>;

fn expected(id: usize, who: String, system: String, history: &History) -> Expected {
    let required = ["Git (git)", "NumPy (numpy)", "Python (python)"];
    // label -> (passed, since)
    let mut state: std::collections::HashMap<&str, (bool, Option<String>)> =
        std::collections::HashMap::new();
    for (time, passed, failed) in history {
        for label in passed {
            state.insert(label, (true, None));
        }
        for label in failed {
            let since = match state.get(label) {
                Some((false, since)) => since.clone(),
                _ => Some(time.clone()),
            };
            state.insert(label, (false, since));
        }
    }
    let passing = required
        .iter()
        .filter(|r| state.get(*r).is_some_and(|s| s.0))
        .count();
    Expected {
        id,
        who,
        system,
        ready: passing == required.len(),
        missing: required.len() - passing,
        failing: state.values().filter(|s| !s.0).count(),
        since: state
            .values()
            .filter(|s| !s.0)
            .filter_map(|s| s.1.clone())
            .min(),
        attempts: history.len(),
        last: history.last().map(|h| h.0.clone()),
    }
}

/// The learners a page lists, in its order.
fn listed(page: &str) -> Vec<String> {
    let table = page.split("id=\"learners-h\"").nth(1).unwrap();
    let table = table.split("id=\"fixes-h\"").next().unwrap();
    table
        .split("<th scope=\"row\">")
        .skip(1)
        .map(|cell| {
            let cell = cell.split("</th>").next().unwrap();
            cell.trim_start_matches("<span class=\"pseudonym\">")
                .trim_end_matches("</span>")
                .to_owned()
        })
        .collect()
}

/// Issue 20, item 3: the learner table is sorted, filtered and paged on the server. Every
/// order, both directions, with and without the "not ready" filter, read page by page, lists
/// the learners as a straightforward replay of their random histories says.
#[tokio::test]
async fn every_order_filter_and_page_matches_a_straightforward_replay() {
    use std::cmp::Ordering;
    let app = app(None, "");
    let link = hosted(&app, WORKSHOP, Some("git,numpy,python,make?")).await;
    let mut rng = fastrand::Rng::with_seed(3);
    let checks = [
        "Git (git)",
        "NumPy (numpy)",
        "Python (python)",
        "GNU Make (make)",
        "Tool (tool)",
    ];
    let mut reports = Vec::new();
    let mut model = Vec::new();
    for n in 0..130 {
        let key = key_of(n);
        let email = rng
            .bool()
            .then(|| format!("Learner{}@example.org", rng.u32(..1000)));
        let system = ["Linux", "Windows", "Darwin"][rng.usize(..3)];
        let mut history: History = Vec::new();
        for a in 0..rng.usize(1..5) {
            // A partial re-test names only some checks.
            let (mut passed, mut failed) = (Vec::new(), Vec::new());
            for check in checks {
                match rng.usize(..4) {
                    0 | 1 => passed.push(check),
                    2 => failed.push(check),
                    _ => {}
                }
            }
            let at = format!(
                "2026-11-{:02} {:02}:{:02}:00.000",
                10 + a * 3,
                rng.u8(..24),
                n % 60
            );
            let body = learner_report(&key, email.as_deref(), system, &passed, &failed);
            reports.push((body, at.clone()));
            history.push((at, passed, failed));
        }
        let who = email.clone().unwrap_or_else(|| pseudonym(&key));
        let system_text = match system {
            "Linux" => "Linux · Ubuntu 22.04".to_owned(),
            other => other.to_owned(),
        };
        model.push(expected(n, who, system_text, &history));
    }
    // Stored in arrival order, not learner by learner.
    reports.sort_by(|a, b| a.1.cmp(&b.1));
    let first_seen: Vec<String> = {
        let mut seen = Vec::new();
        for (body, _) in &reports {
            let key = body["unique_user_id"].as_str().unwrap().to_owned();
            if !seen.contains(&key) {
                seen.push(key);
            }
        }
        seen
    };
    import(&app, reports).await;
    // Rows are made in the order learners first reported: that is their last tie-break.
    let row_of = |e: &Expected| first_seen.iter().position(|k| *k == key_of(e.id)).unwrap();
    let ready = model.iter().filter(|e| e.ready).count();
    let page = send(&app, &link).await;
    assert!(
        page.text.contains(&format!("{ready} of 130 learners")),
        "{ready} ready"
    );
    let key = |e: &Expected| e.who.to_lowercase();
    for sort in ["failing", "learner", "system", "since", "attempts", "last"] {
        for descending in [false, true] {
            for not_ready in [false, true] {
                let compare = |a: &Expected, b: &Expected| -> Ordering {
                    let by = match sort {
                        "failing" => a
                            .ready
                            .cmp(&b.ready)
                            .then(b.missing.cmp(&a.missing))
                            .then(b.failing.cmp(&a.failing)),
                        "learner" => Ordering::Equal,
                        "system" => a.system.cmp(&b.system),
                        "since" => match (&a.since, &b.since) {
                            (Some(x), Some(y)) => x.cmp(y),
                            (x, y) => y.is_some().cmp(&x.is_some()),
                        },
                        "attempts" => a.attempts.cmp(&b.attempts),
                        _ => a.last.cmp(&b.last),
                    };
                    let by = by.then_with(|| key(a).cmp(&key(b)));
                    if descending {
                        by.reverse()
                    } else {
                        by
                    }
                };
                let mut want: Vec<&Expected> =
                    model.iter().filter(|e| !not_ready || !e.ready).collect();
                want.sort_by_key(|e| row_of(e));
                want.sort_by(|a, b| compare(a, b));
                let want: Vec<String> = want.iter().map(|e| e.who.clone()).collect();
                let mut query = format!("sort={sort}");
                if descending {
                    query.push_str("&order=desc");
                }
                if not_ready {
                    query.push_str("&show=not-ready");
                }
                let mut got = Vec::new();
                for n in 1..=want.len().div_ceil(50).max(1) {
                    let page = send(&app, &format!("{link}?{query}&page={n}")).await;
                    let rows = listed(&page.text);
                    assert!(rows.len() <= 50);
                    got.extend(rows);
                }
                assert_eq!(got, want, "{query}");
            }
        }
    }
    app.store.close();
}

/// A workshop in Melbourne counts its days there: a report at 22:00 UTC is the next
/// morning's, in the chart's table, and its times say which zone the page shows them in.
#[tokio::test]
async fn a_workshops_time_zone_sets_its_days_and_times() {
    let app = app(None, "");
    let secret = app
        .store
        .create_workshop(NewWorkshop {
            name: WORKSHOP.into(),
            title: None,
            checks: Some("git".into()),
            time_zone: Some("Australia/Melbourne".into()),
        })
        .await
        .unwrap();
    let link = format!("/host/{WORKSHOP}/{}/", secret.expose());
    let late = learner_report(&key_of(1), None, "Linux", &["Git (git)"], &[]);
    import(&app, vec![(late, "2026-11-20 22:00:00.000".into())]).await;
    let page = send(&app, &link).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let days = page.text.split("id=\"days-h\"").nth(1).unwrap();
    let days = days.split("id=\"learners-h\"").next().unwrap();
    assert!(days.contains("days in Australia/Melbourne"), "{days}");
    assert!(days.contains("<th scope=\"row\">2026-11-21</th>"), "{days}");
    assert!(
        !days.contains("2026-11-20"),
        "the UTC day is not Melbourne's: {days}"
    );
    assert!(
        page.text.contains("data-time-zone=\"Australia/Melbourne\""),
        "{}",
        page.text
    );
    app.store.close();
}
