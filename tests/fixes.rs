//! "What fixed it" on small hand-made histories, every number checked through the exports the
//! way a lesson maintainer reads them: fixed, never fixed, fixed then broken again, fixed in
//! another workshop, and learners with different times to fix.

use crate::support::{answer, app, get, peer};
use result_aggregation_server::app::App;
use result_aggregation_server::report::{Failure, Package, Report, SystemInfo};
use serde_json::{json, Value};

const GIT: &str = "Git (git)";

/// One attempt: what failed, what passed (with versions), where, when.
struct Attempt<'a> {
    learner: u128,
    at: &'a str,
    workshop: &'a str,
    system: &'a str,
    failed: &'a [&'a str],
    passed: &'a [(&'a str, &'a str)],
}

async fn record(app: &App, attempts: &[Attempt<'_>]) {
    let reports = attempts
        .iter()
        .map(|a| {
            let report = Report {
                key: Some(uuid::Uuid::from_u128(a.learner)),
                system: SystemInfo {
                    system: Some(a.system.into()),
                    workshop_id: Some(a.workshop.into()),
                    ..SystemInfo::default()
                },
                successes: a
                    .passed
                    .iter()
                    .map(|(name, version)| Package {
                        name: (*name).into(),
                        version: Some((*version).into()),
                    })
                    .collect(),
                failures: a
                    .failed
                    .iter()
                    .map(|name| Failure {
                        name: (*name).into(),
                        version: Some("1.8.3".into()),
                        error_description: Some("version too old".into()),
                    })
                    .collect(),
                checked_at: None,
            };
            (report, a.at.to_owned())
        })
        .collect();
    app.store.import(reports).await.unwrap();
}

async fn json(app: &App, path: &str) -> Value {
    let page = answer(app.handle(get(path), peer("192.0.2.1")).await).await;
    assert_eq!(page.status, 200, "{path}");
    page.json
}

async fn fixes_of(app: &App, query: &str) -> Value {
    let detail = json(
        app,
        &format!("/view/detail/?package_one_name=Git%20(git)&export=json{query}"),
    )
    .await;
    detail["package_details"][0]["fixes"].clone()
}

/// Five learners of git in two workshops, each a case.
async fn history() -> App {
    let app = app(None, "");
    let at = |day: u32, hour: u32| format!("2026-03-{day:02} {hour:02}:00:00.000");
    let (d1h9, d1h11, d1h12, d2h9, d2h10, d3h9) = (
        at(1, 9),
        at(1, 11),
        at(1, 12),
        at(2, 9),
        at(2, 10),
        at(3, 9),
    );
    record(
        &app,
        &[
            // 1: fixed two hours later, with 2.43.0.
            Attempt {
                learner: 1,
                at: &d1h9,
                workshop: "ws-a",
                system: "Linux",
                failed: &[GIT],
                passed: &[],
            },
            Attempt {
                learner: 1,
                at: &d1h11,
                workshop: "ws-a",
                system: "Linux",
                failed: &[],
                passed: &[(GIT, "2.43.0")],
            },
            // 2: never fixed.
            Attempt {
                learner: 2,
                at: &d1h9,
                workshop: "ws-a",
                system: "Windows",
                failed: &[GIT],
                passed: &[],
            },
            Attempt {
                learner: 2,
                at: &d2h9,
                workshop: "ws-a",
                system: "Windows",
                failed: &[GIT],
                passed: &[],
            },
            // 3: fixed a day later with 2.39.2, then broken again: fixed and stuck.
            Attempt {
                learner: 3,
                at: &d1h9,
                workshop: "ws-a",
                system: "Windows",
                failed: &[GIT],
                passed: &[],
            },
            Attempt {
                learner: 3,
                at: &d2h9,
                workshop: "ws-a",
                system: "Windows",
                failed: &[],
                passed: &[(GIT, "2.39.2")],
            },
            Attempt {
                learner: 3,
                at: &d3h9,
                workshop: "ws-a",
                system: "Windows",
                failed: &[GIT],
                passed: &[],
            },
            // 4: failed in ws-a, fixed after moving to ws-b (three hours).
            Attempt {
                learner: 4,
                at: &d1h9,
                workshop: "ws-a",
                system: "Darwin",
                failed: &[GIT],
                passed: &[],
            },
            Attempt {
                learner: 4,
                at: &d1h12,
                workshop: "ws-b",
                system: "Darwin",
                failed: &[],
                passed: &[(GIT, "2.43.0")],
            },
            // 5: in ws-b, fixed after one hour; a pass with no failure before is no fix.
            Attempt {
                learner: 5,
                at: &d2h9,
                workshop: "ws-b",
                system: "Linux",
                failed: &[GIT],
                passed: &[("Make (make)", "4.3")],
            },
            Attempt {
                learner: 5,
                at: &d2h10,
                workshop: "ws-b",
                system: "Linux",
                failed: &[],
                passed: &[(GIT, "2.43.0")],
            },
        ],
    )
    .await;
    app
}

#[tokio::test]
async fn every_number_of_a_small_history_is_as_defined() {
    let app = history().await;
    let all = fixes_of(&app, "").await;
    assert_eq!(all["failed_learners"], 5);
    assert_eq!(all["fixed_learners"], 4, "1, 3, 4 and 5 fixed it");
    assert_eq!(
        all["stuck_learners"], 2,
        "2 never fixed it, 3 broke it again"
    );
    // Times to fix: 1 h (5), 2 h (1), 3 h (4), 24 h (3): nearest-rank median is the 2nd.
    assert_eq!(all["median_seconds_to_fix"], 7200);
    assert_eq!(all["p90_seconds_to_fix"], 86_400);
    assert_eq!(all["fixed_with"], json!([["2.43.0", 3], ["2.39.2", 1]]));
    assert_eq!(
        all["by_system"],
        json!([["Linux", 2, 2], ["Windows", 2, 1], ["Darwin", 1, 1]]),
        "most failed first, then by name"
    );

    // Per workshop: each learner counts where they first failed it.
    let a = fixes_of(&app, "&workshop_id=ws-a").await;
    assert_eq!(
        (
            &a["failed_learners"],
            &a["fixed_learners"],
            &a["stuck_learners"]
        ),
        (&json!(4), &json!(3), &json!(2)),
        "learner 4 fixed it in ws-b but failed it in ws-a"
    );
    let b = fixes_of(&app, "&workshop_id=ws-b").await;
    assert_eq!(b["failed_learners"], 1);
    assert_eq!(b["median_seconds_to_fix"], 3600);
    assert_eq!(b["p90_seconds_to_fix"], 3600);
    let make = json(
        &app,
        "/view/detail/?package_one_name=Make%20(make)&export=json",
    )
    .await;
    assert_eq!(
        make["package_details"][0]["fixes"]["failed_learners"], 0,
        "passing alone is no fix"
    );
    assert!(make["package_details"][0]["fixes"]["median_seconds_to_fix"].is_null());
}

#[tokio::test]
async fn what_gets_fixed_lists_checks_most_stuck_first_with_their_worst_system() {
    let app = history().await;
    // Another check: three learners fail make on Windows and none fixes it.
    let at = "2026-03-04 09:00:00.000";
    record(
        &app,
        &[
            Attempt {
                learner: 6,
                at,
                workshop: "ws-a",
                system: "Windows",
                failed: &["Make (make)"],
                passed: &[],
            },
            Attempt {
                learner: 7,
                at,
                workshop: "ws-a",
                system: "Windows",
                failed: &["Make (make)"],
                passed: &[],
            },
            Attempt {
                learner: 8,
                at,
                workshop: "ws-a",
                system: "Windows",
                failed: &["Make (make)"],
                passed: &[],
            },
        ],
    )
    .await;
    let page = json(&app, "/fixes/?min_learners=2&export=json").await;
    assert_eq!(page["min_learners"], 2);
    let checks = page["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0]["name"], "Make (make)", "all stuck comes first");
    assert_eq!(checks[0]["stuck_learners"], 3);
    assert!(checks[0]["median_seconds_to_fix"].is_null());
    assert_eq!(checks[1]["name"], GIT);
    assert_eq!(checks[1]["median_seconds_to_fix"], 7200);
    assert_eq!(
        checks[1]["worst_system"],
        json!({"system": "Windows", "failed": 2, "stuck": 2})
    );
    // Fewer learners than the minimum: left out.
    let strict = json(&app, "/fixes/?min_learners=4&export=json").await;
    assert_eq!(strict["checks"].as_array().unwrap().len(), 1);
    let in_b = json(&app, "/fixes/?workshop_id=ws-b&min_learners=1&export=json").await;
    assert_eq!(in_b["workshop_id"], "ws-b");
    assert_eq!(in_b["checks"][0]["failed_learners"], 1);

    let csv = app
        .handle(get("/fixes/?min_learners=2&export=csv"), peer("192.0.2.1"))
        .await;
    assert_eq!(csv.status(), 200);
    let body = http_body_util::BodyExt::collect(csv.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "check,failed_learners,fixed_learners,stuck_learners,median_seconds_to_fix,worst_system,worst_system_failed,worst_system_stuck"
    );
    assert_eq!(lines.next().unwrap(), "Make (make),3,0,3,,Windows,3,3");

    let html = answer(app.handle(get("/fixes/"), peer("192.0.2.1")).await).await;
    assert_eq!(html.status, 200);
}

#[tokio::test]
async fn the_detail_export_keeps_the_2016_shape_and_adds_fixes() {
    let app = history().await;
    let detail = json(
        &app,
        "/view/detail/?package_one_name=Git%20(git)&package_two_name=Make%20(make)&export=json",
    )
    .await;
    for package in detail["package_details"].as_array().unwrap() {
        let keys: Vec<&str> = package
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "package_name",
            "package_version",
            "user_system_info",
            "create_time",
            "workshop_id",
            "all_attempts",
            "fixes",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        let fixes: Vec<&str> = package["fixes"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fixes,
            [
                "by_system",
                "failed_learners",
                "fixed_learners",
                "fixed_with",
                "median_seconds_to_fix",
                "p90_seconds_to_fix",
                "stuck_learners"
            ]
        );
    }
    let csv = app
        .handle(
            get("/view/detail/?package_one_name=Git%20(git)&export=csv"),
            peer("192.0.2.1"),
        )
        .await;
    let body = http_body_util::BodyExt::collect(csv.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains("Git (git),,fixes,median_seconds_to_fix,7200"),
        "{text}"
    );
    assert!(text.contains("Git (git),,fixed_with,2.43.0,3"), "{text}");
    assert!(
        text.contains("Git (git),,fixed_learners_by_system,Windows,1"),
        "{text}"
    );
    let page = answer(
        app.handle(
            get("/view/detail/?package_one_name=Git%20(git)"),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(page.status, 200);
}
