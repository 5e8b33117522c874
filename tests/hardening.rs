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
