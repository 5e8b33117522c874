//! Handlers in-process: hand-built requests from chosen peer addresses.

use crate::support::{answer, app, get, header, peer, post, sample};
use result_aggregation_server::report::{MAX_BODY_BYTES, MAX_NAME_CHARS, MAX_PACKAGES_PER_LIST};
use serde_json::json;

#[tokio::test]
async fn a_report_gets_a_key_and_the_same_key_is_recognised() {
    let app = app(None, "");
    let first = answer(
        app.handle(
            post("/installation_data/", sample(None, None, None).to_string()),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(header(&first, "content-type"), "application/json");
    let key = first.json["key"].as_str().unwrap().to_owned();
    assert_eq!(uuid::Uuid::parse_str(&key).unwrap().get_version_num(), 4);
    assert_eq!(
        first.json["summary"],
        json!({"status": "Successful", "message": "new id generated"})
    );
    let second = answer(
        app.handle(
            post(
                "/installation_data/",
                sample(Some(&key), None, None).to_string(),
            ),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(second.json["key"], key);
    assert_eq!(
        second.json["summary"]["message"],
        "pushed data with same id"
    );
    // Change the last digit (to one it is not), so the key really differs.
    let last = if key.ends_with('0') { '1' } else { '0' };
    let modified = format!("{}{last}", &key[..35]);
    let third = answer(
        app.handle(
            post(
                "/installation_data/",
                sample(Some(&modified), None, None).to_string(),
            ),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(third.json["summary"]["message"], "new id generated");
    assert_ne!(third.json["key"], modified);
}

#[tokio::test]
async fn bad_input_is_refused_with_a_json_error_and_nothing_is_stored() {
    let app = app(None, "");
    let too_many =
        json!({"failed_installs": vec![json!({"name": "x"}); MAX_PACKAGES_PER_LIST + 1]});
    let too_long = json!({"successful_installs": [{"name": "n".repeat(MAX_NAME_CHARS + 1)}]});
    let deep = format!(
        r#"{{"user_system_info": {{"x": {}{}}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not JSON", b"hello".to_vec(), 400),
        ("truncated", br#"{"successful_installs": ["#.to_vec(), 400),
        (
            "invalid UTF-8",
            b"{\"unique_user_id\": \"\xc3\x28\"}".to_vec(),
            400,
        ),
        ("deep nesting", deep.into_bytes(), 400),
        ("not an object", b"[]".to_vec(), 422),
        (
            "wrong type",
            br#"{"successful_installs": "git"}"#.to_vec(),
            422,
        ),
        (
            "name missing",
            br#"{"failed_installs": [{"version": "1"}]}"#.to_vec(),
            422,
        ),
        ("too many packages", too_many.to_string().into_bytes(), 422),
        ("string too long", too_long.to_string().into_bytes(), 422),
        ("body too large", vec![b' '; MAX_BODY_BYTES + 1], 413),
    ];
    for (what, body, status) in cases {
        let refused = answer(
            app.handle(post("/installation_data/", body), peer("192.0.2.1"))
                .await,
        )
        .await;
        assert_eq!(refused.status, status, "{what}: {}", refused.json);
        assert!(
            refused.json["error"].is_string(),
            "{what}: {}",
            refused.json
        );
        assert!(
            refused.json["detail"].is_string(),
            "{what}: {}",
            refused.json
        );
    }
    assert_eq!(app.store.totals().await.unwrap().attempts, 0);
    // And it keeps serving.
    let ok = answer(
        app.handle(
            post("/installation_data/", sample(None, None, None).to_string()),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn a_too_large_body_is_refused_by_its_declared_length() {
    let app = app(None, "");
    let mut request = post("/installation_data/", "{}");
    request
        .headers_mut()
        .insert("content-length", (MAX_BODY_BYTES + 1).into());
    let refused = answer(app.handle(request, peer("192.0.2.1")).await).await;
    assert_eq!(refused.status, 413);
}

#[tokio::test]
async fn the_field_at_fault_is_named() {
    let app = app(None, "");
    let body = json!({"successful_installs": [{"name": "git", "version": 2}]}).to_string();
    let refused = answer(
        app.handle(post("/installation_data/", body), peer("192.0.2.1"))
            .await,
    )
    .await;
    let detail = refused.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("successful_installs[0].version"),
        "{detail}"
    );
}

async fn submit(
    app: &result_aggregation_server::app::App,
    from: &str,
    headers: &[(&str, &str)],
) -> crate::support::Answer {
    let mut request = post("/installation_data/", sample(None, None, None).to_string());
    for (name, value) in headers {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    answer(app.handle(request, peer(from)).await).await
}

#[tokio::test]
async fn the_101st_submission_in_an_hour_is_throttled() {
    let app = app(Some("100/hour"), "");
    for n in 1..=100u32 {
        let ok = submit(&app, "192.0.2.1", &[]).await;
        assert_eq!(ok.status, 200, "submission {n}");
        assert_eq!(header(&ok, "x-ratelimit-limit"), "100");
        assert_eq!(header(&ok, "x-ratelimit-remaining"), (100 - n).to_string());
    }
    let throttled = submit(&app, "192.0.2.1", &[]).await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.json["error"], "rate limit exceeded");
    let retry: u64 = header(&throttled, "retry-after").parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    let reset: u64 = header(&throttled, "x-ratelimit-reset").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset > now && reset <= now + 3601, "{reset} vs {now}");
    assert_eq!(header(&throttled, "x-ratelimit-remaining"), "0");
    assert_eq!(
        app.store.totals().await.unwrap().attempts,
        100,
        "the 101st was not stored"
    );
    // Another address has its own budget.
    assert_eq!(submit(&app, "192.0.2.2", &[]).await.status, 200);
    // A forged X-Forwarded-For from a peer that is not a trusted proxy changes nothing.
    let forged = submit(
        &app,
        "192.0.2.1",
        &[
            ("x-forwarded-for", "198.51.100.77"),
            ("x-real-ip", "198.51.100.78"),
        ],
    )
    .await;
    assert_eq!(forged.status, 429);
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_address_is_the_client() {
    let app = app(Some("2/hour"), "127.0.0.1");
    let via = |client: &'static str| [("x-forwarded-for", client)];
    assert_eq!(
        submit(&app, "127.0.0.1", &via("203.0.113.5")).await.status,
        200
    );
    assert_eq!(
        submit(&app, "127.0.0.1", &via("203.0.113.5")).await.status,
        200
    );
    assert_eq!(
        submit(&app, "127.0.0.1", &via("203.0.113.5")).await.status,
        429
    );
    // Another learner behind the same proxy is not in the first one's bucket.
    assert_eq!(
        submit(&app, "127.0.0.1", &via("203.0.113.6")).await.status,
        200
    );
    // X-Real-IP alone (nginx's usual header) is honoured too.
    assert_eq!(
        submit(&app, "127.0.0.1", &[("x-real-ip", "203.0.113.7")])
            .await
            .status,
        200
    );
    // A client can prepend whatever it likes; the hop nginx appended is what counts.
    assert_eq!(
        submit(
            &app,
            "127.0.0.1",
            &[("x-forwarded-for", "10.9.9.9, 203.0.113.5")]
        )
        .await
        .status,
        429
    );
}

#[tokio::test]
async fn other_routes_answer_sensibly() {
    let app = app(None, "");
    let health = answer(app.handle(get("/healthz"), peer("192.0.2.1")).await).await;
    assert_eq!(health.status, 200);
    let wrong_method = answer(
        app.handle(get("/installation_data/"), peer("192.0.2.1"))
            .await,
    )
    .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(header(&wrong_method, "allow"), "POST");
    let missing = answer(app.handle(get("/no/such/page"), peer("192.0.2.1")).await).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json["error"], "not found");
    let no_slash = answer(
        app.handle(
            post("/installation_data", sample(None, None, None).to_string()),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(no_slash.status, 200);
}

#[tokio::test]
async fn a_learner_deletes_everything_they_sent_and_the_answer_never_tells_whether_it_existed() {
    let app = app(Some("4/hour"), "");
    let me = peer("192.0.2.1");
    let sent = answer(
        app.handle(
            post("/installation_data/", sample(None, None, None).to_string()),
            me,
        )
        .await,
    )
    .await;
    let key = sent.json["key"].as_str().unwrap().to_owned();
    let delete = |path: String| {
        hyper::Request::delete(path)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    };
    // Any spelling the script's key could take: upper case, braces (percent-encoded), urn.
    let braced = format!("/installation_data/%7B{}%7D/", key.to_uppercase());
    let gone = answer(app.handle(delete(braced), me).await).await;
    assert_eq!(gone.status, 204);
    assert_eq!(header(&gone, "x-ratelimit-remaining"), "2");
    assert_eq!(app.store.totals().await.unwrap(), Default::default());
    let again = answer(
        app.handle(delete(format!("/installation_data/urn:uuid:{key}")), me)
            .await,
    )
    .await;
    assert_eq!(
        again.status, 204,
        "the same answer for a key that is not there"
    );
    let nonsense = answer(app.handle(delete("/installation_data/x/".into()), me).await).await;
    assert_eq!(nonsense.status, 404);
    assert!(!nonsense.json["detail"].as_str().unwrap().contains("/x/"));
    let throttled = answer(
        app.handle(delete(format!("/installation_data/{key}/")), me)
            .await,
    )
    .await;
    assert_eq!(
        throttled.status, 429,
        "deletions share the submissions' budget"
    );
    assert!(throttled.headers.contains_key("retry-after"));
    let get = answer(
        app.handle(get(&format!("/installation_data/{key}/")), me)
            .await,
    )
    .await;
    assert_eq!(get.status, 405);
    assert_eq!(header(&get, "allow"), "DELETE");
}

#[tokio::test]
async fn a_body_over_the_limit_is_drained_and_answered_413() {
    let app = app(None, "");
    let big = vec![b' '; 3 * MAX_BODY_BYTES];
    let refused = answer(
        app.handle(post("/installation_data/", big), peer("192.0.2.1"))
            .await,
    )
    .await;
    assert_eq!(refused.status, 413);
    assert_eq!(refused.json["error"], "body too large");
}

/// Posts a report from a documentation address.
async fn posted(
    app: &result_aggregation_server::app::App,
    report: &serde_json::Value,
) -> crate::support::Answer {
    let request = post("/installation_data/", report.to_string());
    answer(app.handle(request, peer("192.0.2.1")).await).await
}

/// One learner's two reports: a failing one of `check` with `checked_at` as given, and a
/// passing one sent right after with none. Returns the failing attempt's day and the time to
/// fix it, as the package's detail export counts them, and the seconds the two took.
async fn failed_then_fixed(
    app: &result_aggregation_server::app::App,
    check: &str,
    checked_at: serde_json::Value,
) -> (String, i64, u64) {
    let started = std::time::SystemTime::now();
    let mut failing = sample(None, None, None);
    failing["failed_installs"] = json!([{"name": check, "version": "1.0"}]);
    failing["checked_at"] = checked_at;
    let first = posted(app, &failing).await;
    assert_eq!(first.status, 200, "{}", first.json);
    let mut passing = sample(first.json["key"].as_str(), None, None);
    passing["successful_installs"] = json!([{"name": check, "version": "2.0"}]);
    passing["failed_installs"] = json!([]);
    let second = posted(app, &passing).await;
    assert_eq!(second.status, 200, "{}", second.json);
    let took = started.elapsed().unwrap().as_secs() + 1;
    let name: String = form_urlencoded::byte_serialize(check.as_bytes()).collect();
    let path = format!("/view/detail/?package_one_name={name}&all_attempts=1&export=json");
    let detail = answer(app.handle(get(&path), peer("192.0.2.1")).await).await;
    let package = &detail.json["package_details"][0];
    let days = package["create_time"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{package}");
    (
        days[0][0].as_str().unwrap().to_owned(),
        package["fixes"]["median_seconds_to_fix"].as_i64().unwrap(),
        took,
    )
}

/// The day of a time, as the statistics name it.
fn day_of(time: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(time).unwrap().to_string()[..10].to_owned()
}

/// The RFC 3339 form a script sends.
fn rfc3339(time: std::time::SystemTime) -> serde_json::Value {
    json!(jiff::Timestamp::try_from(time).unwrap().to_string())
}

/// Issue 22: a report kept by a script that could not send it counts at the time its checks
/// ran (within the past 30 days and a minute ahead at most), not when it arrives; the day
/// statistics and the time to fix both follow.
#[tokio::test]
async fn a_checked_time_within_30_days_is_the_attempts_time_and_any_other_is_ignored() {
    use std::time::{Duration, SystemTime};
    let app = app(None, "");
    let day = Duration::from_secs(86_400);
    let now = SystemTime::now();
    // 29 days ago: kept, so the fix took 29 days.
    let (failed_on, to_fix, took) =
        failed_then_fixed(&app, "kept 29 days", rfc3339(now - day * 29)).await;
    assert_eq!(failed_on, day_of(now - day * 29));
    let (low, high) = (29 * 86_400, 29 * 86_400 + took as i64);
    assert!((low - 1..=high + 1).contains(&to_fix), "{to_fix}");
    // 30 seconds ahead (a clock a little fast): kept, so the fix came 30 s "before" it.
    let now = SystemTime::now();
    let (_, to_fix, took) = failed_then_fixed(
        &app,
        "kept 30 s ahead",
        rfc3339(now + Duration::from_secs(30)),
    )
    .await;
    assert!((-31..=took as i64 - 29).contains(&to_fix), "{to_fix}");
    // 31 days ago, 2 minutes ahead, not a time: the arrival time, so the fix took moments.
    for (check, checked_at) in [
        ("ignored 31 days", rfc3339(SystemTime::now() - day * 31)),
        (
            "ignored 2 min ahead",
            rfc3339(SystemTime::now() + Duration::from_secs(120)),
        ),
        ("ignored garbage", json!("the day before yesterday")),
        ("ignored null", json!(null)),
    ] {
        let before = SystemTime::now();
        let (failed_on, to_fix, took) = failed_then_fixed(&app, check, checked_at).await;
        let after = SystemTime::now();
        assert!(
            [day_of(before), day_of(after)].contains(&failed_on),
            "{check}: {failed_on}"
        );
        assert!((0..=took as i64).contains(&to_fix), "{check}: {to_fix}");
    }
    // Not a string: a wrong type, refused and named.
    let mut report = sample(None, None, None);
    report["checked_at"] = json!(1_796_290_867);
    let refused = posted(&app, &report).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.json["detail"]
            .as_str()
            .unwrap()
            .starts_with("checked_at:"),
        "{}",
        refused.json
    );
}

/// Issue 20, item 2: a text a machine printed cost the whole report (422); now each field is
/// stored cleaned, and an email typed in angle brackets is stored as the address.
#[tokio::test]
async fn a_report_is_stored_whatever_its_texts_hold() {
    let app = app(None, "");
    let mut report = sample(None, Some("<jane@uni.edu>"), Some("intro <python>"));
    report["successful_installs"][1]["version"] =
        json!("3.6.15 (default, May  9 2026, 07:30:54) \n[GCC 12.2.0]");
    report["failed_installs"][0]["error_description"] =
        json!("no version in output of 'git --version' (exit code 129): <command> [<args>]");
    let stored = posted(&app, &report).await;
    assert_eq!(stored.status, 200, "{}", stored.json);
    let totals = app.store.totals().await.unwrap();
    assert_eq!((totals.successful_installs, totals.failed_installs), (2, 1));
    let page = answer(
        app.handle(
            get("/view/intro%20%3Cpython%3E/?export=json"),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(page.json["workshop_id"], "intro <python>", "{}", page.json);
}
