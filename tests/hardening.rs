//! Issue 11, "what a hostile review of the running server found": each test names the item it
//! guards, and each failed before its fix.

use crate::support::{answer, app, peer, post, sample};
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

/// Item 9: a report is read only when it is declared JSON, as the 2016 client and check.py
/// declare it; `text/plain` (a cross-site request without preflight), a form, or no type at
/// all gets 415 with a JSON error, and nothing is stored.
#[tokio::test]
async fn only_json_submissions_are_stored() {
    let app = app(None, "");
    let body = sample(None, None, None).to_string();
    for content_type in [
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = Request::post("/installation_data/");
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Full::new(Bytes::from(body.clone()))).unwrap();
        let refused = answer(app.handle(request, peer("192.0.2.1")).await).await;
        assert_eq!(refused.status, 415, "{content_type:?}");
        assert_eq!(refused.json["error"], "not JSON", "{content_type:?}");
    }
    assert_eq!(app.store.totals().await.unwrap().attempts, 0);
    for content_type in ["application/json", "application/json; charset=utf-8"] {
        let request = Request::post("/installation_data/")
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body.clone())))
            .unwrap();
        let stored = answer(app.handle(request, peer("192.0.2.1")).await).await;
        assert_eq!(stored.status, 200, "{content_type}");
    }
    let sent = answer(
        app.handle(post("/installation_data/", body), peer("192.0.2.1"))
            .await,
    )
    .await;
    assert_eq!(sent.status, 200);
}

/// Item 10: a stream of 400s from one client wrote 245 MB of log in a minute, and 60 KB paths
/// were logged whole. Now the log of a flood of client errors holds the burst, then a few
/// lines a second, and says how many it left out; a long path is cut short.
#[test]
fn a_flood_of_client_errors_leaves_a_short_log() {
    use crate::binary::{agent, Server};
    use result_aggregation_server::testing::{CLIENT_ERROR_BURST, CLIENT_ERROR_LINES_PER_SECOND};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &["--rate-limit", "off"]);
    let agent = agent();
    // Long, but within the request head hyper takes (issue 20 capped it at 16 KiB).
    let long = format!("{}/{}", server.base, "x".repeat(12_000));
    assert_eq!(agent.get(&long).call().unwrap().status().as_u16(), 404);
    let flood = 3_000;
    let started = std::time::Instant::now();
    for i in 0..flood {
        let url = format!("{}/installation_data/", server.base);
        let status = agent
            .post(&url)
            .header("content-type", "application/json")
            .send(format!("{{not json {i}"))
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 400);
    }
    let seconds = started.elapsed().as_secs() + 1;
    // A line after the flood, so the count of what was left out is written.
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let _ = agent.get(format!("{}/nothing-here", server.base)).call();
    let log = server.wait_for_log("suppressed", 1);
    let written = log.matches("POST /installation_data/ 400").count() as u64;
    let budget = u64::from(CLIENT_ERROR_BURST) + u64::from(CLIENT_ERROR_LINES_PER_SECOND) * seconds;
    assert!(
        written <= budget && written < flood,
        "{written} lines for {flood} errors in {seconds} s"
    );
    let long_line = log.lines().find(|l| l.contains(" GET /xxx")).unwrap();
    assert!(long_line.len() < 400, "{} bytes", long_line.len());
    assert!(long_line.contains("more bytes]"), "{long_line}");
}

/// Sends `request` as it is over a connection of its own and reads the whole answer.
async fn raw(to: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(to).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_to_close(stream).await
}

/// Item 5: `/check.py` without a Host (HTTP/1.0), with `Host: my_host:8080` or with a
/// non-ASCII Host was served with `SERVER_URL = "http://127.0.0.1:8080"` whatever the server
/// listened on. Now: the host named when it is one, else the address the request arrived on;
/// two Host headers are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_script_names_the_address_the_learner_reached() {
    use crate::binary::Server;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &[]);
    let to = server.addr();
    let url_in = |answer: &str| {
        let line = answer
            .lines()
            .find(|l| l.starts_with("SERVER_URL = "))
            .unwrap_or_else(|| panic!("no SERVER_URL in {answer}"));
        line["SERVER_URL = ".len()..].trim_matches('"').to_owned()
    };
    let no_host = raw(to, b"GET /check.py HTTP/1.0\r\n\r\n").await;
    assert!(no_host.starts_with("HTTP/1.0 200"), "{no_host}");
    assert_eq!(url_in(&no_host), server.base);
    let underscore = raw(
        to,
        b"GET /check.py HTTP/1.1\r\nHost: my_host:8080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(url_in(&underscore), "http://my_host:8080");
    let utf8 = raw(
        to,
        "GET /check.py HTTP/1.1\r\nHost: bücher.example:80\r\nConnection: close\r\n\r\n".as_bytes(),
    )
    .await;
    assert_eq!(url_in(&utf8), server.base);
    let twice = raw(
        to,
        b"GET /check.py HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(twice.starts_with("HTTP/1.1 400"), "{twice}");
}

/// Item 7: `--public-url` was pasted into the learners' shell and PowerShell commands as
/// given; one with a quote broke out of the landing page's curl command, and `?` or `#` made
/// broken script URLs. Now the server, and every `workshop` command that prints commands,
/// refuse anything but scheme, host, port and path, in one line with exit code 2.
#[test]
fn a_public_url_that_is_more_than_a_base_url_is_refused() {
    use crate::binary::BIN;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    for url in [
        "http://x';touch${IFS}/tmp/PWNED;'",
        "http://checks.example.org/?x=1",
        "http://checks.example.org/#x",
        "http://me:secret@checks.example.org",
    ] {
        for args in [
            &["--public-url", url][..],
            &["workshop", "create", "2026-11-27-x", "--public-url", url],
        ] {
            let out = std::process::Command::new(BIN)
                .args(args)
                .arg("--db")
                .arg(&db)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("--public-url"), "{args:?}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        }
    }
    assert!(!db.exists());
}

/// Item 1: a POST with `Content-Length: 200000` followed by a byte a second held its
/// connection for ever, and 300 of them starved `/healthz` of file descriptors. Now a slow
/// body gets 408 with a JSON error, and at most `--max-connections` are served at once: the
/// next client waits in the kernel's queue until a slot frees, and is served then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_get_408_and_connections_beyond_the_cap_wait_their_turn() {
    use crate::binary::Server;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &["--max-connections", "4"]);
    let to = server.addr();
    let trickle = |to| async move {
        let mut stream = tokio::net::TcpStream::connect(to).await.unwrap();
        stream
            .write_all(
                b"POST /installation_data/ HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n{",
            )
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut answered = None;
        // A byte a second, for two minutes at most, until the server answers or hangs up.
        for _ in 0..120 {
            let mut buf = [0; 4096];
            match tokio::time::timeout(std::time::Duration::from_secs(1), stream.read(&mut buf))
                .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => {
                    answered.get_or_insert_with(std::time::Instant::now);
                    answer.extend_from_slice(&buf[..n]);
                }
                Err(_) => {
                    if stream.write_all(b" ").await.is_err() {
                        break;
                    }
                }
            }
        }
        (String::from_utf8_lossy(&answer).into_owned(), answered)
    };
    let slow: Vec<_> = (0..4).map(|_| tokio::spawn(trickle(to))).collect();
    // Give the four time to take every slot before the fifth client comes.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let health = raw(
        to,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let health = tokio::time::timeout(std::time::Duration::from_secs(120), health)
        .await
        .expect("the fifth client is served once a slot frees");
    let healthy = std::time::Instant::now();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let mut first_408 = None;
    for answer in slow {
        let (answer, answered) = answer.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"error\":\"body too slow\""), "{answer}");
        first_408 = first_408.min(answered).or(answered);
    }
    // The order of events, not their timing: the fifth was served after a slot freed.
    assert!(first_408.unwrap() <= healthy, "served beyond the cap");
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("Too many open files"), "{log}");
}

/// Item 4: arrays where objects belong were read positionally (serde's derived structs take
/// a sequence): the issue's very examples each get 422 naming the field, and nothing is
/// stored. (Fixed with issue 12; kept here with the issue's own cases.)
#[tokio::test]
async fn arrays_where_objects_belong_are_refused_naming_the_field() {
    let app = app(None, "");
    let eleven = r#"{"user_system_info": ["Ubuntu", "22.04", "Linux", "1 SMP", "x86_64",
        "Linux-5.15", "3.10.12", "WS", "a@b.org", "extra", "more"]}"#;
    for (body, field) in [
        (eleven, "user_system_info"),
        (r#"{"user_system_info": ["Ubuntu"]}"#, "user_system_info"),
        (r#"{"user_system_info": []}"#, "user_system_info"),
        (
            r#"{"successful_installs": [["pkg", "1.0"]]}"#,
            "successful_installs[0]",
        ),
        (
            r#"{"failed_installs": [["pkg", "1.0"]]}"#,
            "failed_installs[0]",
        ),
    ] {
        let refused = answer(
            app.handle(post("/installation_data/", body), peer("192.0.2.1"))
                .await,
        )
        .await;
        assert_eq!(refused.status, 422, "{body}");
        let detail = refused.json["detail"].as_str().unwrap();
        assert!(detail.starts_with(field), "{body}: {detail}");
        assert!(!detail.contains("trailing"), "{body}: {detail}");
        assert!(!detail.contains("a@b.org"), "{detail}");
    }
    assert_eq!(app.store.totals().await.unwrap().attempts, 0);
}

/// Item 8: `delete-user` compared raw strings (the upper-case key a client may send said "no
/// learner"), and `delete-user KEY --db typo.db` created and migrated an empty database.
/// (Fixed with issue 12; kept here with the issue's own cases.)
#[test]
fn delete_user_reads_keys_as_ingestion_does_and_creates_no_database() {
    use crate::binary::{agent, post_json, Server, BIN};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ras.db");
    let mut server = Server::start(&db, &["--rate-limit", "off"]);
    let url = format!("{}/installation_data/", server.base);
    let mut keys = Vec::new();
    for _ in 0..3 {
        let (status, text) = post_json(&agent(), &url, &sample(None, None, None).to_string());
        assert_eq!(status, 200, "{text}");
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
        keys.push(answer["key"].as_str().unwrap().to_owned());
    }
    assert!(server.terminate().success());
    let spellings = [
        keys[0].to_uppercase(),
        format!("{{{}}}", keys[1]),
        format!("urn:uuid:{}", keys[2]),
    ];
    for spelling in &spellings {
        let out = std::process::Command::new(BIN)
            .args(["delete-user", spelling, "--db"])
            .arg(&db)
            .output()
            .unwrap();
        assert!(out.status.success(), "{spelling}: {out:?}");
    }
    let typo = dir.path().join("typo.db");
    let out = std::process::Command::new(BIN)
        .args(["delete-user", &keys[0], "--db"])
        .arg(&typo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!typo.exists());
}

/// Item 2: every list a page or export returned was the whole list (400,000 failed versions
/// made a 20 MB export, twelve of them 900 MiB of memory). Now an export gives 1,000 rows of
/// each list a page, with the next page's link (`next_page`, `Link`), and the pages at most
/// 50 rows a table; together the export's pages hold every row, once.
#[tokio::test]
async fn exports_come_in_pages_and_pages_show_the_first_rows() {
    use crate::dashboard::fetch;
    let app = app(None, "");
    let versions: usize = 1_234;
    for chunk in 0..versions.div_ceil(500) {
        let mut report = sample(None, None, Some("ws"));
        report["failed_installs"] = (chunk * 500..(chunk * 500 + 500).min(versions))
            .map(
                |i| serde_json::json!({"name": format!("p{}", i % 7), "version": format!("1.{i}")}),
            )
            .collect();
        let stored = answer(
            app.handle(
                post("/installation_data/", report.to_string()),
                peer("192.0.2.1"),
            )
            .await,
        )
        .await;
        assert_eq!(stored.status, 200);
    }
    let mut seen = std::collections::HashSet::new();
    let mut path = "/view/?export=json".to_owned();
    for page in 1.. {
        let answer = fetch(&app, &path).await;
        assert_eq!(answer.status, 200, "{path}");
        let json: serde_json::Value = serde_json::from_str(&answer.text).unwrap();
        let rows = json["most_failed_packages"].as_array().unwrap();
        assert!(rows.len() <= 1_000, "page {page}: {}", rows.len());
        for row in rows {
            assert!(
                seen.insert(row["version"].as_str().unwrap().to_owned()),
                "{row}"
            );
        }
        match json["next_page"].as_str() {
            Some(next) => {
                let link = answer.headers["link"].to_str().unwrap();
                assert_eq!(link, format!("<{next}>; rel=\"next\""));
                path = next.to_owned();
            }
            None => {
                assert!(answer.headers.get("link").is_none());
                assert_eq!(page, 2);
                break;
            }
        }
    }
    assert_eq!(seen.len(), versions);
    let csv = fetch(&app, "/view/?export=csv").await;
    assert!(
        csv.text.lines().count() <= 1 + 3 * 1_000,
        "{}",
        csv.text.lines().count()
    );
    assert!(csv.headers["link"].to_str().unwrap().contains("page=2"));
    let html = fetch(&app, "/view/").await;
    assert_eq!(html.status, 200);
    assert_eq!(html.text.matches("package_one_version=1.").count(), 50);
    assert!(html.text.contains("More in the exports."));
    let detail = fetch(&app, "/view/detail/?package_one_name=p1&export=json").await;
    assert!(!detail.text.contains("next_page"), "{}", detail.text);
}

/// Item 11: a workshop literally named "All workshops" was stored but its page and the
/// selector led to every workshop; checks named "" or "   " (which an old database may hold)
/// showed in tables but their links led to `/view/`. Now each has a page that shows it, the
/// original's URLs keep their meaning, and a blank name is refused at ingestion.
#[tokio::test]
async fn every_stored_value_has_a_page() {
    use crate::dashboard::fetch;
    use crate::support::unchecked_report;
    let app = app(None, "");
    let mut report = sample(None, None, Some("All workshops"));
    report["failed_installs"] = serde_json::json!([
        {"name": "", "version": "1.0"},
        {"name": "   ", "version": null},
        {"name": "None", "version": "All"}
    ]);
    let at = "2026-01-01 12:00:00.000".to_owned();
    app.store
        .import(vec![(unchecked_report(&report), at)])
        .await
        .unwrap();
    let json = |path: String| {
        let app = &app;
        async move {
            let page = fetch(app, &path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.text);
            serde_json::from_str::<serde_json::Value>(&page.text).unwrap()
        }
    };
    // The workshop: from the table of workshops, and from the selector.
    let overview = fetch(&app, "/view/").await;
    let link = "/view/?workshop_id=All+workshops&#38;exact=1";
    assert!(overview.text.contains(link), "{}", overview.text);
    for path in [
        "/view/?workshop_id=All+workshops&exact=1&export=json",
        "/view/?workshop=All+workshops&export=json",
    ] {
        let view = json(path.to_owned()).await;
        assert_eq!(view["all_workshops"], false, "{path}");
        assert_eq!(view["workshop_id"], "All workshops", "{path}");
        assert_eq!(view["most_failed_packages"].as_array().unwrap().len(), 3);
    }
    // The original's URLs of every workshop mean what they meant.
    let legacy = json("/view/?workshop_id=All+workshops&export=json".into()).await;
    assert_eq!(legacy["all_workshops"], true);
    let path = fetch(&app, "/view/All%20workshops/").await;
    assert_eq!(path.status, 303);
    // The checks: a visible label, and links that lead to their details.
    assert!(overview.text.contains("(blank)"), "{}", overview.text);
    let mut followed = 0;
    for href in overview.text.split("href=\"").skip(1) {
        let href = href.split('"').next().unwrap().replace("&#38;", "&");
        if !href.starts_with("/view/detail/") || !href.contains("exact=1") {
            continue;
        }
        let detail = json(format!("{href}&export=json")).await;
        let name = detail["package_details"][0]["package_name"]
            .as_str()
            .unwrap();
        assert!(["", "   ", "None"].contains(&name), "{href}: {name:?}");
        followed += 1;
    }
    assert!(followed >= 3, "{followed} links followed");
    // New blank names are refused.
    let mut blank = sample(None, None, None);
    blank["failed_installs"][0]["name"] = serde_json::json!("  ");
    let refused = answer(
        app.handle(
            post("/installation_data/", blank.to_string()),
            peer("192.0.2.1"),
        )
        .await,
    )
    .await;
    assert_eq!(refused.status, 422);
    assert!(refused.json["detail"]
        .as_str()
        .unwrap()
        .starts_with("failed_installs[0].name"));
}

/// `count` connections from the loopback address `from`, each opened and left idle.
async fn idle_connections(
    from: &str,
    to: std::net::SocketAddr,
    count: usize,
) -> Vec<tokio::net::TcpStream> {
    let mut streams = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        streams.push(socket.connect(to).await.unwrap());
    }
    streams
}

/// Reads what the server sends on `stream` until it closes the connection.
async fn read_to_close(mut stream: tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    tokio::time::timeout(std::time::Duration::from_secs(60), read)
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Issue 20, item 6: 1,000 connections each sending 384 KB of headers took the server to
/// 485 MB, as hyper buffered some 400 KiB of request head per connection. A head over the
/// cap now gets 431; and a client that writes its whole request before it reads (Python's
/// http.client, curl) reads that 431, not a reset: the server reads and drops the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_the_cap_gets_431_which_the_client_reads() {
    use crate::binary::Server;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &[]);
    let to = server.addr();
    let mut big = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..48 {
        big.push_str(&format!("X-Pad-{i}: {}\r\n", "a".repeat(8_000)));
    }
    big.push_str("\r\n");
    assert!(big.len() > 384_000);
    // In pieces, as a client on a real network sends: the server answers while the client
    // is still writing (whole, on loopback, it fits the kernel's buffers at once).
    let send_in_pieces = |big: String| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(to).await.unwrap();
        for piece in big.as_bytes().chunks(8_192) {
            let sent = stream.write_all(piece).await;
            sent.expect("the server reads what the client still sends, no reset");
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("no reset");
        String::from_utf8_lossy(&answer).into_owned()
    };
    let clients: Vec<_> = (0..20)
        .map(|_| tokio::spawn(send_in_pieces(big.clone())))
        .collect();
    for client in clients {
        let answer = client.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    }
    // All at once, as Python's http.client sends a request.
    let answer = raw(to, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // A head of a few KiB, as browsers send, is served.
    let usual = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        "c".repeat(4_000)
    );
    let answer = raw(to, usual.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Issue 20, item 6: 10,000 idle sockets from one address delayed `/healthz` by 11 s and
/// stalled reports for 8-9 s: they took every connection slot. One address now holds at most
/// `--max-connections-per-address`; its further connections are answered 503 and closed at
/// once, and other learners are served meanwhile. A trusted proxy is not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_its_share_of_the_connections() {
    use crate::binary::Server;
    use crate::support::{request_from, submit_from};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("ras.db"),
        &[
            "--max-connections",
            "16",
            "--max-connections-per-address",
            "8",
            "--trusted-proxy",
            "127.0.0.4",
        ],
    );
    let to = server.addr();
    let idle = idle_connections("127.0.0.2", to, 200).await;
    // Another learner is served while they are open.
    let (status, _) = request_from("127.0.0.3", to, "/healthz", "", "").await;
    assert_eq!(status, 200);
    assert_eq!(submit_from("127.0.0.3", to, "").await.0, 200);
    // The proxy's connections are not capped: twenty requests on twenty connections at once.
    let proxied = idle_connections("127.0.0.4", to, 20).await;
    let mut answers = Vec::new();
    for mut stream in proxied {
        use tokio::io::AsyncWriteExt;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        answers.push(tokio::spawn(read_to_close(stream)));
    }
    for answer in answers {
        let answer = answer.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    // Of the 200, 8 were served (and closed by the header timeout, having sent nothing);
    // the rest were told why at once.
    let outcomes: Vec<_> = idle
        .into_iter()
        .map(|s| tokio::spawn(read_to_close(s)))
        .collect();
    let (mut served, mut refused) = (0, 0);
    for outcome in outcomes {
        let answer = outcome.await.unwrap();
        if answer.is_empty() {
            served += 1;
        } else {
            assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
            assert!(
                answer.contains("\"error\":\"too many connections\""),
                "{answer}"
            );
            refused += 1;
        }
    }
    assert_eq!((served, refused), (8, 192));
    let log = server.wait_for_log("--max-connections-per-address", 1);
    assert!(
        log.matches("--max-connections-per-address").count() < 5,
        "{log}"
    );
}

/// Issue 20, item 6: at the `--max-connections` cap a new client waited for a slot while
/// keep-alive connections that had been answered sat idle until their 10 s timeout. Now a
/// waiting client makes them close (gracefully: the log shows no timeout), and is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_idle_keep_alive_connections_make_room() {
    use crate::binary::Server;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_logging(
        &dir.path().join("ras.db"),
        &["--max-connections", "4"],
        "debug",
    );
    let to = server.addr();
    let mut kept = Vec::new();
    for from in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        let mut stream = idle_connections(from, to, 1).await.pop().unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // Read the whole answer (it ends with the body "ok\n"), and keep the connection.
        let mut answer = Vec::new();
        while !answer.ends_with(b"ok\n") {
            let mut buf = [0; 1024];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
        }
        kept.push(stream);
    }
    let fifth = raw(
        to,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(fifth.starts_with("HTTP/1.1 200"), "{fifth}");
    // The slot it got was freed by an idle connection closed for it, not by the 10 s header
    // timeout of one (before, the fifth waited for that, and the log said so at debug level).
    let log = server.log.lock().unwrap().clone();
    assert!(
        !log.lines()
            .any(|l| l.contains("ended") && l.contains("timeout")),
        "an idle connection was closed to make room, not by its timeout:\n{log}"
    );
    // Those closed to make room were closed without a word, as keep-alive allows.
    let mut closed = 0;
    for stream in kept {
        use std::io::Read;
        // A read by the kernel itself, now (the socket is non-blocking), not tokio's view.
        let mut stream = stream.into_std().unwrap();
        let mut buf = [0; 16];
        match stream.read(&mut buf) {
            Ok(0) => closed += 1,
            Ok(n) => panic!("{:?}", String::from_utf8_lossy(&buf[..n])),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
        }
    }
    assert!(closed >= 1, "{closed} closed");
}
