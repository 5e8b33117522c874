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
    let windows = by_system.text.find("<td>Windows").unwrap();
    let linux = by_system.text.find("<td>Linux").unwrap();
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
