//! The dashboard in-process: every view and export on in-memory SQLite, the original's view
//! tests (latest versus all attempts, per workshop, package detail), odd and hostile strings.

use crate::support::{app, peer, post, sample, unchecked_report};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Request};
use result_aggregation_server::app::App;
use serde_json::{json, Value};

/// A response with its body as text.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }
}

async fn send(app: &App, request: Request<Full<Bytes>>) -> Page {
    let response = app.handle(request, peer("192.0.2.1")).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        text: String::from_utf8(body.to_vec()).expect("UTF-8"),
    }
}

pub async fn fetch(app: &App, path: &str) -> Page {
    send(
        app,
        Request::get(path).body(Full::new(Bytes::new())).unwrap(),
    )
    .await
}

/// GETs a JSON export, checking it is one.
async fn export(app: &App, path: &str) -> Value {
    let page = fetch(app, path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.text);
    assert_eq!(page.header("content-type"), "application/json", "{path}");
    page.json()
}

/// Posts a report; returns the learner's key.
async fn submit(app: &App, report: &Value) -> String {
    let answer = send(app, post("/installation_data/", report.to_string())).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["key"].as_str().unwrap().to_owned()
}

/// Stores a report without the wire's cleaning (control characters, terminal escapes and
/// bidirectional controls left in), as a database from before it, or the original's, may hold
/// it: the pages must still show it harmlessly.
async fn store_unchecked(app: &App, report: &Value) {
    let at = "2026-01-01 12:00:00.000".to_owned();
    app.store
        .import(vec![(unchecked_report(report), at)])
        .await
        .unwrap();
}

/// A report from a chosen learner, workshop and system, failing the named packages.
fn report(
    key: Option<&str>,
    workshop: Option<&str>,
    system: &str,
    failures: &[(&str, &str)],
) -> Value {
    let mut report = sample(key, Some("learner@example.org"), workshop);
    report["user_system_info"]["system"] = json!(system);
    report["failed_installs"] = failures
        .iter()
        .map(|(name, version)| {
            json!({"name": name, "version": version, "error_description": format!("{name} is missing")})
        })
        .collect();
    report
}

/// What askama writes for each character it escapes, `&` first.
const ESCAPES: [(&str, &str); 5] = [
    ("&", "&#38;"),
    ("<", "&#60;"),
    (">", "&#62;"),
    ("\"", "&#34;"),
    ("'", "&#39;"),
];

/// Reverses askama's escaping, to read a page's text as a browser shows it.
fn unescape(html: &str) -> String {
    ESCAPES
        .iter()
        .rev()
        .fold(html.to_owned(), |text, (raw, escaped)| {
            text.replace(escaped, raw)
        })
}

/// A text as askama writes it into HTML.
fn escaped(text: &str) -> String {
    ESCAPES
        .iter()
        .fold(text.to_owned(), |text, (raw, escaped)| {
            text.replace(raw, escaped)
        })
}

/// The markup of each tag, `<` and `>` left out. Escaped text has no raw `<`, so text a
/// learner sent can never be taken for a tag here.
fn tags(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .map(|rest| rest[..rest.find('>').unwrap_or(rest.len())].to_lowercase())
        .collect()
}

/// A tag's attributes as (name, value). Values are double-quoted by our templates, and an
/// escaped value holds no raw quote, so the first quote closes it.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = tag[tag.find(char::is_whitespace).unwrap_or(tag.len())..].trim_start();
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c == '=' || c == '/' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..end].to_owned();
        rest = &rest[end..];
        let mut value = String::new();
        if let Some(quoted) = rest.strip_prefix("=\"") {
            let close = quoted.find('"').expect("a closing quote");
            value = quoted[..close].to_owned();
            rest = &quoted[close + 1..];
        } else if let Some(bare) = rest.strip_prefix('=') {
            let close = bare.find(char::is_whitespace).unwrap_or(bare.len());
            value = bare[..close].to_owned();
            rest = &bare[close..];
        }
        rest = rest.trim_start_matches(|c: char| c == '/' || c.is_whitespace());
        if !name.is_empty() {
            found.push((name, value));
        }
    }
    found
}

/// The HTML loads only our own files and carries no inline script, style or handler.
fn assert_no_inline_code(path: &str, html: &str) {
    let tags = tags(html);
    let scripts: Vec<&String> = tags.iter().filter(|t| t.starts_with("script")).collect();
    assert_eq!(scripts.len(), 2, "{path}: two script tags: {scripts:?}");
    assert!(
        scripts[0].starts_with("script src=\"/static/live.js?v="),
        "{path}"
    );
    assert!(
        scripts[1].starts_with("script src=\"/static/local-time.js?v="),
        "{path}"
    );
    for tag in &tags {
        assert!(!tag.starts_with("style"), "{path}: a style element");
        for (name, value) in attributes(tag) {
            assert!(!name.starts_with("on"), "{path}: a handler in <{tag}>");
            assert_ne!(name, "style", "{path}: a style attribute in <{tag}>");
            if ["href", "src", "action"].contains(&name.as_str()) {
                assert!(
                    value.starts_with('/'),
                    "{path}: a link elsewhere in <{tag}>"
                );
            }
        }
    }
}

async fn html(app: &App, path: &str) -> Page {
    let page = fetch(app, path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.text);
    assert_eq!(
        page.header("content-type"),
        "text/html; charset=utf-8",
        "{path}"
    );
    let policy = page.header("content-security-policy");
    assert!(policy.contains("default-src 'none'"), "{path}: {policy}");
    assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
    assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
    assert_no_inline_code(path, &page.text);
    page
}

fn count_of(list: &Value, name: &str) -> i64 {
    list.as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == name)
        .map_or(0, |entry| entry["count"].as_i64().unwrap())
}

#[tokio::test]
async fn every_view_answers_with_its_security_headers() {
    let app = app(None, "");
    submit(
        &app,
        &report(None, Some("2016-08-13-place"), "Linux", &[("git", "2.7")]),
    )
    .await;
    for path in [
        "/",
        "/?workshop=2016-08-13-place",
        "/view/",
        "/view/?all_attempts=1",
        "/view/2016-08-13-place/",
        "/view/2016-08-13-place",
        "/view/detail/?package_one_name=git",
        "/view/detail/?package_one_name=git&package_one_version=2.7&package_two_name=EasyMercurial",
    ] {
        let page = html(&app, path).await;
        assert!(page.text.contains("<main data-live"), "{path}");
    }
    let overview = html(&app, "/view/").await.text;
    assert!(
        overview.contains("each learner's latest attempt"),
        "the page says what it counts"
    );
    assert!(overview.contains("<svg class=\"chart\""));
    assert!(
        overview.contains("<title>git: 1 failures</title>"),
        "a tooltip per bar"
    );

    let css = fetch(&app, "/static/dashboard.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.header("cache-control").contains("immutable"));
    let js = fetch(&app, "/static/live.js").await;
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(js.header("x-content-type-options"), "nosniff");
    assert_eq!(
        fetch(&app, "/static/icon.svg").await.header("content-type"),
        "image/svg+xml"
    );
    assert_eq!(fetch(&app, "/static/nothing.js").await.status, 404);
    assert_eq!(fetch(&app, "/static/../Cargo.toml").await.status, 404);
    assert_eq!(fetch(&app, "/viewer").await.status, 404);
}

#[tokio::test]
async fn only_get_and_head_are_allowed() {
    let app = app(None, "");
    for path in [
        "/",
        "/view/",
        "/view/w/",
        "/view/detail/?package_one_name=git",
        "/static/live.js",
    ] {
        let head = send(
            &app,
            Request::head(path).body(Full::new(Bytes::new())).unwrap(),
        )
        .await;
        assert_eq!(head.status, 200, "HEAD {path}");
        let posted = send(&app, post(path, "{}")).await;
        assert_eq!(posted.status, 405, "POST {path}");
        assert_eq!(posted.header("allow"), "GET, HEAD");
    }
}

#[tokio::test]
async fn the_landing_page_shows_the_commands_for_this_server() {
    let app = app(None, "");
    let request = |path: &str, host: &str| {
        Request::get(path)
            .header("host", host)
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let page = send(&app, request("/", "ras.example.org:8080")).await;
    assert_eq!(page.status, 200);
    let text = unescape(&page.text);
    assert!(
        text.contains(
            "curl -fsSL 'http://ras.example.org:8080/check.py' -o check.py && python3 check.py"
        ),
        "{text}"
    );
    assert!(text.contains(
        "Invoke-WebRequest -UseBasicParsing -Uri 'http://ras.example.org:8080/check.py' -OutFile check.py; \
         if ($env:CONDA_PREFIX -or -not (Get-Command py -ErrorAction SilentlyContinue)) { python check.py } \
         else { py check.py }"
    ));
    assert!(text.contains("No learner has reported yet"));
    assert!(
        page.text.contains("href=\"/view/\""),
        "links to the statistics"
    );

    let page = send(&app, request("/?workshop=2016-08-13+a%26b", "[::1]:9")).await;
    let text = unescape(&page.text);
    assert!(
        text.contains("curl -fsSL 'http://[::1]:9/check.py?workshop=2016-08-13+a%26b' -o check.py"),
        "{text}"
    );

    // A Host header that is not a host is not echoed into a command line: the address the
    // request arrived on is (an in-process request carries none, so the app's --listen).
    let page = send(&app, request("/", "evil.example/'; rm -rf ~")).await;
    let text = unescape(&page.text);
    assert!(text.contains("'http://127.0.0.1:0/check.py'"), "{text}");
    assert!(!text.contains("rm -rf"));
}

/// Issue 19: the home page listed workshops largest first, with nothing to tell this week's
/// from a past one; newest first now, the ones still to come marked.
#[tokio::test]
async fn the_home_page_lists_workshops_newest_first_with_the_upcoming_marked() {
    let app = app(None, "");
    for workshop in [
        "2016-08-13-past",
        "2999-01-02-future",
        "undated",
        "2016-08-13-past",
    ] {
        submit(&app, &report(None, Some(workshop), "Linux", &[])).await;
    }
    let page = html(&app, "/").await.text;
    let at = |text: &str| page.find(text).unwrap_or_else(|| panic!("{text}: {page}"));
    // "undated" was heard from today, between the future and the past.
    assert!(at(">2999-01-02-future<") < at(">undated<"));
    assert!(at(">undated<") < at(">2016-08-13-past<"));
    assert!(page.contains(">2999-01-02-future</a> <span class=\"badge upcoming\">upcoming</span>"));
    assert_eq!(page.matches("badge upcoming").count(), 1, "{page}");
}

#[tokio::test]
async fn workshops_are_listed_once_each() {
    let app = app(None, "");
    for workshop in [Some("w1"), Some("w1"), Some("w2"), None] {
        submit(&app, &report(None, workshop, "Linux", &[("git", "2.7")])).await;
    }
    let all = export(&app, "/view/?export=json").await;
    assert_eq!(all["workshops"], json!(["w1", "w2"]));
    assert_eq!(all["workshop_id"], "All workshops");
    assert_eq!(all["all_workshops"], true);
    assert_eq!(all["all_attempts"], Value::Null);
    let keys: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "all_attempts",
            "all_workshops",
            "most_failed_package_names",
            "most_failed_packages",
            "os_users",
            "workshop_id",
            "workshops"
        ]
    );
    let one = export(&app, "/view/w1/?export=json").await;
    assert_eq!(
        one["workshops"],
        json!(["w1", "w2"]),
        "every workshop, for the selector"
    );
    assert_eq!(one["workshop_id"], "w1");
    assert_eq!(one["all_workshops"], false);
    let page = html(&app, "/view/").await.text;
    assert!(page.contains("<option value=\"w1\">w1</option>"));
    assert!(page.contains("href=\"/view/w2/\""));
}

#[tokio::test]
async fn a_learner_who_fixed_git_counts_only_under_all_attempts() {
    let app = app(None, "");
    let fixer = submit(&app, &report(None, Some("w"), "Linux", &[("git", "2.7")])).await;
    submit(&app, &report(Some(&fixer), Some("w"), "Linux", &[])).await;
    submit(
        &app,
        &report(
            None,
            Some("w"),
            "Darwin",
            &[("git", "2.7"), ("make", "4.1")],
        ),
    )
    .await;

    let latest = export(&app, "/view/?export=json").await;
    assert_eq!(
        latest["most_failed_packages"],
        json!([{"name": "git", "version": "2.7", "count": 1},
               {"name": "make", "version": "4.1", "count": 1}])
    );
    assert_eq!(count_of(&latest["most_failed_package_names"], "git"), 1);
    let all = export(&app, "/view/?export=json&all_attempts=1").await;
    assert_eq!(all["all_attempts"], 1);
    assert_eq!(count_of(&all["most_failed_packages"], "git"), 2);
    assert_eq!(
        all["most_failed_package_names"],
        json!([{"name": "git", "count": 2}, {"name": "make", "count": 1}]),
        "sorted by count, largest first"
    );
    let explicit = export(&app, "/view/w/?export=json&all_attempts=0").await;
    assert_eq!(explicit["all_attempts"], 0);
    assert_eq!(count_of(&explicit["most_failed_packages"], "git"), 1);
    // Learners, not attempts: the fixer reported twice and is one Linux learner.
    assert_eq!(all["os_users"], json!([["Darwin", 1], ["Linux", 1]]));

    let page = unescape(&html(&app, "/view/w/").await.text);
    assert!(
        page.contains("2 learners; 1 (50%) passed everything in their latest attempt."),
        "{page}"
    );
    let page = html(&app, "/view/w/?all_attempts=1").await.text;
    assert!(page.contains("Counting <strong>every attempt</strong>"));
    assert!(
        page.contains("href=\"/view/w/\""),
        "the switch back to latest attempts"
    );
}

#[tokio::test]
async fn a_workshop_view_counts_only_its_learners() {
    let app = app(None, "");
    submit(&app, &report(None, Some("w1"), "Linux", &[("git", "2.7")])).await;
    submit(
        &app,
        &report(
            None,
            Some("w1"),
            "Windows",
            &[("git", "2.7"), ("nano", "2")],
        ),
    )
    .await;
    submit(
        &app,
        &report(None, Some("w2"), "Darwin", &[("make", "4.1")]),
    )
    .await;
    let learner = submit(&app, &report(None, None, "Linux", &[("git", "2.6")])).await;
    // A later attempt with no workshop keeps the learner's (none) and adds nothing to w1.
    submit(
        &app,
        &report(Some(&learner), None, "Linux", &[("git", "2.6")]),
    )
    .await;

    let w1 = export(&app, "/view/w1/?export=json").await;
    assert_eq!(
        w1["most_failed_package_names"],
        json!([{"name": "git", "count": 2}, {"name": "nano", "count": 1}])
    );
    assert_eq!(w1["os_users"], json!([["Linux", 1], ["Windows", 1]]));
    let w2 = export(&app, "/view/w2/?export=json&all_attempts=1").await;
    assert_eq!(
        w2["most_failed_packages"],
        json!([{"name": "make", "version": "4.1", "count": 1}])
    );
    assert_eq!(w2["os_users"], json!([["Darwin", 1]]));
    let all = export(&app, "/view/?export=json").await;
    assert_eq!(count_of(&all["most_failed_package_names"], "git"), 3);
    assert_eq!(
        all["os_users"],
        json!([["Linux", 2], ["Darwin", 1], ["Windows", 1]])
    );

    let page = unescape(&html(&app, "/view/").await.text);
    assert!(
        page.contains("(no workshop named)"),
        "learners without a workshop are summarised"
    );
    let heat = page.split("class=\"heat\"").nth(1).expect("a heat map");
    assert!(
        heat.contains("title=\"git on Linux: 2 failures\""),
        "{heat}"
    );
    assert!(heat.contains("title=\"nano on Windows: 1 failures\""));
}

#[tokio::test]
async fn the_selector_form_leads_to_the_workshops_own_url() {
    let app = app(None, "");
    submit(
        &app,
        &report(None, Some("a b/c"), "Linux", &[("git", "2.7")]),
    )
    .await;
    let page = fetch(&app, "/view/?workshop_id=a+b%2Fc&all_attempts=1").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), "/view/a%20b%2Fc/?all_attempts=1");
    let all = fetch(&app, "/view/?workshop_id=All+workshops").await;
    assert_eq!(
        all.status, 200,
        "the original's 'All workshops' choice is the overview"
    );
    let redirected = fetch(&app, "/view/All%20workshops/?export=json").await;
    assert_eq!(redirected.status, 303);
    assert_eq!(redirected.header("location"), "/view/?export=json");
}

#[tokio::test]
async fn odd_workshop_ids_round_trip_through_their_urls() {
    let ids = [
        "2016 08 13 spaces",
        "a/b/c",
        "ünïcødé-工作坊",
        "<script>alert(1)</script>",
        "100% & more?#",
        "detail",
        "..",
    ];
    let app = app(None, "");
    for id in ids {
        submit(&app, &report(None, Some(id), "Linux", &[("git", id)])).await;
    }
    let overview = html(&app, "/view/").await.text;
    let hrefs: Vec<String> = overview
        .split("href=\"")
        .skip(1)
        .map(|rest| unescape(&rest[..rest.find('"').unwrap()]))
        .filter(|href| {
            href.starts_with("/view/")
                && !href.starts_with("/view/detail/")
                && !href.contains("export=")
                && href != "/view/"
        })
        .collect();
    for id in ids {
        let mut found = false;
        for href in &hrefs {
            let join = if href.contains('?') { '&' } else { '?' };
            let json = export(&app, &format!("{href}{join}export=json")).await;
            if json["workshop_id"] == id {
                found = true;
                assert_eq!(
                    json["most_failed_packages"],
                    json!([{"name": "git", "version": id, "count": 1}]),
                    "{href}"
                );
                let page = html(&app, href).await.text;
                assert!(
                    unescape(&page).contains(&format!("<h1>{id}</h1>")),
                    "{href}"
                );
            }
        }
        assert!(found, "no link leads to {id:?}: {hrefs:?}");
    }
}

#[tokio::test]
async fn detail_of_one_package_for_latest_or_all_attempts_and_one_or_all_workshops() {
    let app = app(None, "");
    let fixer = submit(&app, &report(None, Some("w1"), "Linux", &[("git", "2.7")])).await;
    submit(&app, &report(Some(&fixer), Some("w1"), "Linux", &[])).await;
    submit(
        &app,
        &report(None, Some("w1"), "Windows", &[("git", "2.6")]),
    )
    .await;
    submit(&app, &report(None, Some("w2"), "Linux", &[("git", "2.7")])).await;

    let detail = |query: &str| {
        let app = &app;
        let path = format!("/view/detail/?package_one_name=git{query}&export=json");
        async move { export(app, &path).await["package_details"].clone() }
    };
    let latest = detail("").await;
    assert_eq!(latest.as_array().unwrap().len(), 1);
    let git = &latest[0];
    assert_eq!(git["package_name"], "git");
    assert_eq!(git["package_version"], "");
    assert_eq!(git["workshop_id"], Value::Null);
    assert_eq!(git["all_attempts"], Value::Null);
    assert_eq!(
        git["user_system_info"]["system"],
        json!([["Linux", 1], ["Windows", 1]])
    );
    assert_eq!(
        git["user_system_info"]["distribution_name_version"],
        json!([["Ubuntu 16.04", 2]])
    );
    assert_eq!(
        git["user_system_info"]["python_version"],
        json!([["3.5.1", 2]])
    );
    let today = git["create_time"][0][0].as_str().unwrap();
    assert_eq!(today.len(), 10, "a day: {today}");
    assert_eq!(git["create_time"], json!([[today, 2]]));
    let system_keys: Vec<&String> = git["user_system_info"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        system_keys,
        [
            "distribution_name",
            "distribution_name_version",
            "distribution_version",
            "machine",
            "python_version",
            "system",
            "system_platform",
            "system_version"
        ]
    );

    let all = detail("&all_attempts=1").await;
    assert_eq!(
        all[0]["user_system_info"]["system"],
        json!([["Linux", 2], ["Windows", 1]])
    );
    assert_eq!(all[0]["all_attempts"], 1);
    let version = detail("&package_one_version=2.7&all_attempts=1").await;
    assert_eq!(version[0]["package_version"], "2.7");
    assert_eq!(
        version[0]["user_system_info"]["system"],
        json!([["Linux", 2]])
    );
    let w1 = detail("&workshop_id=w1").await;
    assert_eq!(w1[0]["workshop_id"], "w1");
    assert_eq!(w1[0]["user_system_info"]["system"], json!([["Windows", 1]]));
    let w1_all = detail("&workshop_id=w1&all_attempts=1").await;
    assert_eq!(
        w1_all[0]["user_system_info"]["system"],
        json!([["Linux", 1], ["Windows", 1]])
    );
    let w1_version = detail("&workshop_id=w1&all_attempts=1&package_one_version=2.7").await;
    assert_eq!(
        w1_version[0]["user_system_info"]["system"],
        json!([["Linux", 1]])
    );
    let all_versions = detail("&package_one_version=All").await;
    assert_eq!(all_versions[0]["package_version"], "");

    let page = unescape(&html(&app, "/view/detail/?package_one_name=git").await.text);
    assert!(
        page.contains("git (all versions): 2 failures, in all workshops."),
        "{page}"
    );
    assert!(page.contains("Failures over time"));
    assert!(
        page.contains("<code>git is missing</code>"),
        "error messages are listed"
    );
}

#[tokio::test]
async fn two_packages_are_compared_side_by_side() {
    let app = app(None, "");
    submit(
        &app,
        &report(None, None, "Linux", &[("git", "2.7"), ("make", "4.1")]),
    )
    .await;
    submit(&app, &report(None, None, "Windows", &[("make", "4.1")])).await;
    let path = "/view/detail/?package_one_name=git&package_one_version=&package_two_name=make&package_two_version=4.1";
    let both = export(&app, &format!("{path}&export=json")).await;
    let details = both["package_details"].as_array().unwrap();
    assert_eq!(details.len(), 2);
    assert_eq!(details[0]["package_name"], "git");
    assert_eq!(details[1]["package_name"], "make");
    assert_eq!(details[1]["package_version"], "4.1");
    assert_eq!(
        details[1]["user_system_info"]["system"],
        json!([["Linux", 1], ["Windows", 1]])
    );
    let page = unescape(&html(&app, path).await.text);
    assert!(page.contains("git (all versions)") && page.contains("make 4.1"));
    assert!(
        page.contains("class=\"bar s1\""),
        "the second package has its own colour"
    );
    assert!(
        page.contains("<title>Windows (make 4.1): 1 failures</title>"),
        "{page}"
    );
    let csv = fetch(&app, &format!("{path}&export=csv")).await;
    assert!(
        csv.text.contains("make,4.1,system,Windows,1"),
        "{}",
        csv.text
    );
}

#[tokio::test]
async fn a_package_compared_with_itself_is_shown_once_with_a_polite_note() {
    let app = app(None, "");
    submit(&app, &report(None, None, "Linux", &[("git", "2.7")])).await;
    let path = "/view/detail/?package_one_name=git&package_one_version=2.7&package_two_name=git&package_two_version=2.7";
    let page = html(&app, path).await;
    assert!(page.text.contains("with itself"), "{}", page.text);
    let json = export(&app, &format!("{path}&export=json")).await;
    assert_eq!(json["package_details"].as_array().unwrap().len(), 1);
    // All versions against one version is a real comparison.
    let json = export(
        &app,
        "/view/detail/?package_one_name=git&package_two_name=git&package_two_version=2.7&export=json",
    )
    .await;
    assert_eq!(json["package_details"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_detail_without_a_package_goes_to_the_overview() {
    let app = app(None, "");
    for (path, to) in [
        ("/view/detail/", "/view/"),
        ("/view/detail/?package_one_name=", "/view/"),
        (
            "/view/detail/?package_one_name=None&workshop_id=w&all_attempts=1",
            "/view/w/?all_attempts=1",
        ),
    ] {
        let page = fetch(&app, path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.header("location"), to, "{path}");
    }
}

#[tokio::test]
async fn an_empty_database_unknown_workshops_and_packages_get_friendly_pages() {
    let app = app(None, "");
    let page = html(&app, "/view/").await.text;
    assert!(page.contains("No reports yet"), "{page}");
    let empty = export(&app, "/view/?export=json").await;
    assert_eq!(
        empty,
        json!({"most_failed_packages": [], "most_failed_package_names": [], "os_users": [],
               "workshops": [], "workshop_id": "All workshops", "all_workshops": true,
               "all_attempts": null})
    );
    assert!(html(&app, "/")
        .await
        .text
        .contains("No learner has reported yet"));
    let csv = fetch(&app, "/view/?export=csv").await;
    assert_eq!(csv.text, "table,name,version,count\n");

    submit(
        &app,
        &report(None, Some("real"), "Linux", &[("git", "2.7")]),
    )
    .await;
    let page = html(&app, "/view/nobody-here/").await.text;
    assert!(page.contains("No reports for this workshop yet"), "{page}");
    assert!(
        page.contains("href=\"/?workshop=nobody-here\""),
        "how to report for it"
    );
    let unknown = export(&app, "/view/nobody-here/?export=json").await;
    assert_eq!(unknown["most_failed_packages"], json!([]));
    assert_eq!(unknown["os_users"], json!([]));
    assert_eq!(unknown["workshops"], json!(["real"]));

    let page = html(&app, "/view/detail/?package_one_name=no-such-package")
        .await
        .text;
    assert!(page.contains("No failures recorded"), "{page}");
    let unknown = export(
        &app,
        "/view/detail/?package_one_name=no-such-package&export=json",
    )
    .await;
    let detail = &unknown["package_details"][0];
    assert_eq!(detail["create_time"], json!([]));
    assert_eq!(detail["user_system_info"]["system"], json!([]));

    // Learners whose latest attempt passed everything: no failure to chart, still a page.
    let app = crate::support::app(None, "");
    submit(&app, &report(None, None, "Linux", &[])).await;
    let page = html(&app, "/view/").await.text;
    assert!(
        page.contains("Every learner's latest attempt passed everything."),
        "{page}"
    );
}

#[tokio::test]
async fn bad_query_values_mean_the_defaults() {
    let app = app(None, "");
    submit(&app, &report(None, Some("w"), "Linux", &[("git", "2.7")])).await;
    for path in [
        "/view/?all_attempts=abc",
        "/view/?all_attempts=",
        "/view/?all_attempts=99999999999999999999999",
        "/view/w/?export=xml",
        "/view/?%ZZ=%%&&=&all_attempts=%FF",
        "/view/detail/?package_one_name=git&all_attempts=-",
        "/view/detail/?package_one_name=%FF%FE&export=pdf",
        "/view/%FF%FE/",
        "/?workshop=",
    ] {
        let page = fetch(&app, path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        assert_eq!(
            page.header("content-type"),
            "text/html; charset=utf-8",
            "{path}"
        );
    }
    let json = export(&app, "/view/?all_attempts=abc&export=json").await;
    assert_eq!(json["all_attempts"], Value::Null);
    assert_eq!(count_of(&json["most_failed_packages"], "git"), 1);
}

#[tokio::test]
async fn csv_exports_neutralise_formulas() {
    let app = app(None, "");
    let mut hostile = report(
        None,
        Some("@SUM(1+1)"),
        "-2+3",
        &[
            ("=cmd|' /C calc'!A0", "+1"),
            ("\tTAB", "-1"),
            ("plain", "1.0"),
        ],
    );
    hostile["user_system_info"]["machine"] = json!("=HYPERLINK(\"http://x\")");
    store_unchecked(&app, &hostile).await;
    let mut paths = vec![
        "/view/?export=csv".to_owned(),
        "/view/@SUM(1+1)/?export=csv".to_owned(),
    ];
    for name in ["=cmd|' /C calc'!A0", "\tTAB", "plain"] {
        let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        paths.push(format!("/view/detail/?package_one_name={name}&export=csv"));
    }
    for path in paths {
        let page = fetch(&app, &path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("content-type"), "text/csv; charset=utf-8");
        let disposition = page.header("content-disposition");
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        assert!(disposition.ends_with(".csv\""), "{disposition}");
        let mut reader = csv::Reader::from_reader(page.text.as_bytes());
        let mut rows = 0;
        for record in reader.records() {
            rows += 1;
            for cell in record.unwrap().iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{path}: {cell:?}"
                );
            }
        }
        assert!(rows > 0, "{path}: {}", page.text);
    }
    let sheet = fetch(&app, "/view/?export=csv").await.text;
    assert!(
        sheet.contains("most_failed_packages,'=cmd|' /C calc'!A0,'+1,1"),
        "{sheet}"
    );
    assert!(sheet.contains("os_users,'-2+3,,1"), "{sheet}");
    let detail = fetch(&app, "/view/detail/?package_one_name=plain&export=csv")
        .await
        .text;
    assert!(
        detail.contains("plain,,machine,\"'=HYPERLINK(\"\"http://x\"\")\",1"),
        "{detail}"
    );
}

/// Strings a learner's client could send to make a page run script.
const PAYLOADS: [&str; 5] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'><svg onload=alert(1)>",
    "</title><script>document.title='pwned'</script>",
    "javascript:alert(1)",
];

#[tokio::test]
async fn script_payloads_appear_only_escaped() {
    let app = app(None, "");
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let mut hostile = report(None, Some(payload), payload, &[(payload, payload)]);
        for field in [
            "distribution_name",
            "distribution_version",
            "machine",
            "python_version",
            "system_platform",
        ] {
            hostile["user_system_info"][field] = json!(format!("{payload}{i}"));
        }
        hostile["failed_installs"][0]["error_description"] = json!(payload);
        store_unchecked(&app, &hostile).await;
    }
    let mut paths = vec![
        "/".to_owned(),
        "/view/".to_owned(),
        "/view/?all_attempts=1".to_owned(),
    ];
    for payload in PAYLOADS {
        let encoded: String = form_urlencoded::byte_serialize(payload.as_bytes()).collect();
        paths.push(format!("/?workshop={encoded}"));
        paths.push(format!("/view/?workshop_id={encoded}"));
        paths.push(format!("/view/detail/?package_one_name={encoded}&package_one_version={encoded}&workshop_id={encoded}"));
        paths.push(format!(
            "/view/detail/?package_one_name={encoded}&package_two_name=%3Cb%3E&workshop_id={encoded}"
        ));
    }
    for path in paths {
        let mut page = fetch(&app, &path).await;
        if page.status == 303 {
            let to = page.header("location").to_owned();
            page = fetch(&app, &to).await;
        }
        assert_eq!(page.status, 200, "{path}");
        assert_no_inline_code(&path, &page.text);
        for payload in PAYLOADS {
            if payload.contains(['<', '>', '"', '\'']) {
                assert!(!page.text.contains(payload), "{path}: {payload} unescaped");
            }
        }
        assert!(!page.text.contains("<img src=x"), "{path}");
        assert!(!page.text.contains("<svg onload"), "{path}");
    }
    let html = html(&app, "/view/").await.text;
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "escaped, still readable"
    );
}

#[tokio::test]
async fn no_email_address_appears_on_any_page_or_export() {
    let app = app(None, "");
    let mut with_email = report(None, Some("w"), "Linux", &[("git", "2.7")]);
    with_email["user_system_info"]["email_id"] = json!("secret.learner@example.org");
    let key = submit(&app, &with_email).await;
    submit(
        &app,
        &report(Some(&key), Some("w"), "Linux", &[("git", "2.7")]),
    )
    .await;
    let mut seen = String::new();
    for path in [
        "/",
        "/view/",
        "/view/?export=json",
        "/view/?export=csv",
        "/view/w/",
        "/view/w/?export=json&all_attempts=1",
        "/view/w/?export=csv",
        "/view/detail/?package_one_name=git",
        "/view/detail/?package_one_name=git&export=json&all_attempts=1",
        "/view/detail/?package_one_name=git&export=csv",
    ] {
        let page = fetch(&app, path).await;
        assert_eq!(page.status, 200, "{path}");
        seen.push_str(&page.text);
    }
    assert!(seen.contains("git"), "the pages did show the data");
    assert!(!seen.contains("secret.learner"), "an email address leaked");
    assert!(
        !seen.contains("learner@example.org"),
        "an email address leaked"
    );
    assert!(!seen.contains('@'), "nothing that looks like an address");
}

#[tokio::test]
async fn the_original_selector_values_are_understood() {
    let app = app(None, "");
    submit(&app, &report(None, Some("w"), "Linux", &[("git", "2.7")])).await;
    let json = export(
        &app,
        "/view/detail/?package_one_name=git&package_one_version=All&package_two_name=None&package_two_version=All&workshop_id=w&all_attempts=0&export=json",
    )
    .await;
    let details = json["package_details"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0]["package_version"], "");
    assert_eq!(details[0]["all_attempts"], 0);
    assert_eq!(details[0]["workshop_id"], "w");
}

/// A small deterministic generator, so the random reports are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// One learner of the hand tally: what they reported, attempt by attempt.
struct Learner {
    workshop: Option<&'static str>,
    system: &'static str,
    attempts: Vec<Vec<(&'static str, &'static str)>>,
    key: String,
}

#[tokio::test]
async fn counts_agree_with_a_tally_made_by_hand() {
    use std::collections::BTreeMap;
    let app = app(None, "");
    let mut random = Lcg(42);
    let packages = [
        ("git", "2.7"),
        ("git", "2.8"),
        ("make", "4.1"),
        ("nano", "2"),
    ];
    let workshops = [Some("w1"), Some("w2"), None];
    let systems = ["Linux", "Darwin", "Windows"];
    let mut learners: Vec<Learner> = Vec::new();
    for _ in 0..80 {
        let returning = !learners.is_empty() && random.below(3) == 0;
        let failures: Vec<(&'static str, &'static str)> = packages
            .iter()
            .copied()
            .filter(|_| random.below(3) == 0)
            .collect();
        if returning {
            let i = random.below(learners.len());
            let learner = &mut learners[i];
            let again = report(
                Some(&learner.key),
                learner.workshop,
                learner.system,
                &failures,
            );
            submit(&app, &again).await;
            learner.attempts.push(failures);
        } else {
            let workshop = workshops[random.below(3)];
            let system = systems[random.below(3)];
            let key = submit(&app, &report(None, workshop, system, &failures)).await;
            learners.push(Learner {
                workshop,
                system,
                attempts: vec![failures],
                key,
            });
        }
    }
    for all_attempts in [false, true] {
        for workshop in [None, Some("w1"), Some("w2")] {
            let mut versions: BTreeMap<(&str, &str), i64> = BTreeMap::new();
            let mut names: BTreeMap<&str, i64> = BTreeMap::new();
            let mut systems_seen: BTreeMap<&str, i64> = BTreeMap::new();
            for learner in &learners {
                if workshop.is_some() && learner.workshop != workshop {
                    continue;
                }
                *systems_seen.entry(learner.system).or_default() += 1;
                let attempts = &learner.attempts;
                let counted = if all_attempts {
                    &attempts[..]
                } else {
                    &attempts[attempts.len() - 1..]
                };
                for (name, version) in counted.iter().flatten() {
                    *versions.entry((name, version)).or_default() += 1;
                    *names.entry(name).or_default() += 1;
                }
            }
            let path = match workshop {
                Some(w) => format!(
                    "/view/{w}/?export=json&all_attempts={}",
                    u8::from(all_attempts)
                ),
                None => format!("/view/?export=json&all_attempts={}", u8::from(all_attempts)),
            };
            let json = export(&app, &path).await;
            let mut got_versions: BTreeMap<(&str, &str), i64> = BTreeMap::new();
            for entry in json["most_failed_packages"].as_array().unwrap() {
                got_versions.insert(
                    (
                        entry["name"].as_str().unwrap(),
                        entry["version"].as_str().unwrap(),
                    ),
                    entry["count"].as_i64().unwrap(),
                );
            }
            assert_eq!(got_versions, versions, "{path}");
            for (name, count) in &names {
                assert_eq!(
                    count_of(&json["most_failed_package_names"], name),
                    *count,
                    "{path}"
                );
            }
            let got_systems: BTreeMap<&str, i64> = json["os_users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| (pair[0].as_str().unwrap(), pair[1].as_i64().unwrap()))
                .collect();
            assert_eq!(got_systems, systems_seen, "{path}");
            let counts: Vec<i64> = json["most_failed_packages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["count"].as_i64().unwrap())
                .collect();
            assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{path}: sorted");
            // The detail of one package agrees with the overview's count of it.
            let git = versions
                .iter()
                .filter(|((n, _), _)| *n == "git")
                .map(|(_, c)| c)
                .sum::<i64>();
            let detail = export(
                &app,
                &format!(
                    "/view/detail/?package_one_name=git&export=json&all_attempts={}{}",
                    u8::from(all_attempts),
                    workshop.map_or(String::new(), |w| format!("&workshop_id={w}"))
                ),
            )
            .await;
            let by_system: i64 = detail["package_details"][0]["user_system_info"]["system"]
                .as_array()
                .unwrap()
                .iter()
                .map(|pair| pair[1].as_i64().unwrap())
                .sum();
            assert_eq!(by_system, git, "{path}: detail of git");
        }
    }
}

/// Issue 20, item 2: texts with markup, quotes and ampersands are now stored as a learner's
/// client sent them (they were refused before). Sent through the real ingestion into a name,
/// a version, an error text and a workshop id, they reach every page, attribute, link, chart,
/// export and the host's private page only in their escaped, encoded or formula-safe form.
#[tokio::test]
async fn texts_a_learner_sent_reach_every_page_only_escaped() {
    let app = app(None, "");
    let texts = [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
        "Tom & Jerry's \"tools\"",
    ];
    let workshop = "intro <python> & \"friends\"";
    let secret = app
        .store
        .create_workshop(result_aggregation_server::storage::NewWorkshop {
            name: workshop.into(),
            title: None,
            checks: None,
            time_zone: None,
        })
        .await
        .unwrap();
    for (i, text) in texts.iter().enumerate() {
        let mut hostile = report(None, Some(workshop), "Linux", &[(text, text)]);
        hostile["failed_installs"][0]["error_description"] = json!(format!("{text}\n{i}"));
        hostile["successful_installs"][0]["version"] = json!(text);
        let key = submit(&app, &hostile).await;
        // A fix, so "what gets fixed" and the detail's "fixed with" show the version too.
        let mut fixed = report(Some(&key), Some(workshop), "Linux", &[]);
        fixed["successful_installs"] = json!([{"name": text, "version": format!("{text} 2")}]);
        submit(&app, &fixed).await;
    }
    let encoded = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let mut pages = vec![
        "/".to_owned(),
        "/view/".to_owned(),
        "/view/?all_attempts=1".to_owned(),
        "/fixes/?min_learners=1".to_owned(),
        format!("/view/?workshop_id={}&all_attempts=1", encoded(workshop)),
        format!("/?workshop={}", encoded(workshop)),
        format!("/fixes/?workshop_id={}&min_learners=1", encoded(workshop)),
        format!("/host/{}/{}/", query_segment(workshop), secret.expose()),
    ];
    for text in texts {
        pages.push(format!(
            "/view/detail/?package_one_name={}&package_one_version={}&all_attempts=1",
            encoded(text),
            encoded(text)
        ));
        pages.push(format!(
            "/view/detail/?package_one_name={}&workshop_id={}&all_attempts=1",
            encoded(text),
            encoded(workshop)
        ));
    }
    let mut shown = String::new();
    for path in &pages {
        let mut page = fetch(&app, path).await;
        if page.status == 303 {
            let to = page.header("location").to_owned();
            page = fetch(&app, &to).await;
        }
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        // (The private page links to itself with relative links, which keep its secret.)
        if !path.starts_with("/host/") {
            assert_no_inline_code(path, &page.text);
        }
        for text in texts.iter().chain([&workshop]) {
            if text.contains(['<', '>', '"']) {
                assert!(!page.text.contains(text), "{path}: {text} unescaped");
            }
        }
        assert!(!page.text.contains("<img src=x"), "{path}");
        shown.push_str(&page.text);
    }
    for text in texts.iter().chain([&workshop]) {
        assert!(shown.contains(&escaped(text)), "{text} is shown, escaped");
    }
    // Charts (SVG inside the page) label with the same escaped text.
    let overview = fetch(&app, "/view/?all_attempts=1").await.text;
    assert!(
        overview.contains(&format!("<title>{}</title>", escaped(texts[0]))),
        "a chart's label"
    );
    // Exports: JSON holds the text as stored; CSV cells are formula-safe and quoted.
    let json = export(&app, "/view/?all_attempts=1&export=json").await;
    let names: Vec<&str> = json["most_failed_packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for text in texts {
        assert!(names.contains(&text), "{names:?}");
    }
    let csv = fetch(&app, "/view/?all_attempts=1&export=csv").await.text;
    let mut cells = Vec::new();
    for record in csv::Reader::from_reader(csv.as_bytes()).records() {
        cells.extend(record.unwrap().iter().map(str::to_owned));
    }
    for text in texts {
        assert!(cells.iter().any(|c| c == text), "{text} in the CSV: {csv}");
    }
}

/// The path segment of a workshop id in a host link.
fn query_segment(workshop: &str) -> String {
    percent_encoding::utf8_percent_encode(workshop, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Issue 20, item 2: `/?workshop=` printed the learners' commands for any id, one whose every
/// report would be stored under another name included; such an id now gets a 400 page that
/// says why and prints no command.
#[tokio::test]
async fn the_landing_page_prints_no_command_for_an_id_that_is_none() {
    let app = app(None, "");
    for (query, reason) in [
        ("intro%E2%80%8F", "U+200F at position 6"),
        ("a%0Ab", "U+000A at position 2"),
        ("%1B%5B31mred", "U+001B at position 1"),
    ] {
        let page = fetch(&app, &format!("/?workshop={query}")).await;
        assert_eq!(page.status, 400, "{query}");
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        assert!(page.text.contains(reason), "{query}: {}", page.text);
        assert!(!page.text.contains("check.py"), "{query}: no command");
        assert!(!page.text.contains('\u{1b}') && !page.text.contains('\u{200f}'));
    }
    let page = fetch(&app, "/?workshop=intro+%3Cpython%3E").await;
    assert_eq!(page.status, 200);
    assert!(unescape(&page.text).contains("check.py?workshop=intro+%3Cpython%3E"));
}

/// "Failures over time" is a time axis: failures on days far apart stand apart, the days
/// between are zeros in the chart's table, and the JSON export keeps the days with failures.
#[tokio::test]
async fn failures_over_time_keep_their_gaps_and_the_export_its_days() {
    let app = app(None, "");
    let reports = ["2024-11-27", "2025-01-03", "2025-01-21"]
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let key = format!("00000000-0000-4000-8000-{i:012}");
            (
                crate::support::report(&sample(Some(&key), None, None)),
                format!("{day} 10:00:00.000"),
            )
        })
        .collect();
    app.store.import(reports).await.unwrap();
    let path = "/view/detail/?package_one_name=EasyMercurial";
    let page = fetch(&app, path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let time = page.text.split("id=\"time-h\"").nth(1).unwrap();
    let time = time.split("</section>").next().unwrap();
    let rows: Vec<&str> = time
        .split("<th scope=\"row\">")
        .skip(1)
        .map(|r| &r[..10])
        .collect();
    assert_eq!(
        rows.len(),
        56,
        "every day from the first to the last: {rows:?}"
    );
    assert_eq!(rows[0], "2024-11-27");
    assert_eq!(rows[55], "2025-01-21");
    assert!(
        time.contains("<th scope=\"row\">2024-11-28</th><td class=\"num\">0</td>"),
        "{time}"
    );
    let days = export(&app, &format!("{path}&export=json")).await;
    let create_time = days["package_details"][0]["create_time"].to_string();
    assert_eq!(
        create_time, r#"[["2024-11-27",1],["2025-01-03",1],["2025-01-21",1]]"#,
        "days with failures only, as the 2016 export"
    );
    app.store.close();
}
