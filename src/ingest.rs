//! Ingestion, `POST /installation_data/`: throttle, read, check, store, answer (with advice
//! from learners who fixed the same failures), count; and its undoing,
//! `DELETE /installation_data/<key>/`. Takes only the store, the throttle and the metrics it
//! uses.

use crate::http::body::read_limited;
use crate::http::response::{self, Body};
use crate::http::RequestError;
use crate::metrics::Metrics;
use crate::report::{parse_key, parse_report, Advice, MAX_BODY_BYTES};
use crate::storage::{StorageError, Store};
use crate::throttle::{Decision, Throttle};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::HeaderMap;
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use std::net::IpAddr;

/// The original's answer, which its clients read the key from, and what learners on the
/// same system did about each failure (left out when there is nothing to say, so a report
/// without such failures gets the original's answer byte for byte).
#[derive(Serialize)]
struct Answer {
    key: String,
    summary: Summary,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    advice: Vec<Advice>,
}

#[derive(Serialize)]
struct Summary {
    status: &'static str,
    message: &'static str,
}

/// Every answer of this endpoint, refusals included, carries the rate-limit headers.
pub(crate) async fn submit<B>(
    store: &Store,
    throttle: &Throttle,
    metrics: &Metrics,
    request: Request<B>,
    client: IpAddr,
) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let decision = throttle.admit(client).await;
    let response = match accept(store, request, decision).await {
        Ok(response) => {
            metrics.accepted();
            response
        }
        Err(e) => {
            if let Some(reason) = e.refusal() {
                metrics.refused(reason);
            }
            e.into_response()
        }
    };
    with_rate_headers(response, decision)
}

/// `DELETE /installation_data/<key>/`, the learner's right to be forgotten: the learner and,
/// by cascade, every attempt and package. Answers 204 whether or not the key was known: a
/// key is the only credential, and the answer must not tell which keys exist. Throttled
/// like submissions, from the same budget.
pub(crate) async fn forget(
    store: &Store,
    throttle: &Throttle,
    key: &str,
    client: IpAddr,
) -> Response<Body> {
    let decision = throttle.admit(client).await;
    let response = match erase(store, key, decision).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    with_rate_headers(response, decision)
}

async fn erase(
    store: &Store,
    key: &str,
    decision: Option<Decision>,
) -> Result<Response<Body>, RequestError> {
    if let Some(decision) = decision.filter(|d| !d.allowed) {
        return Err(RequestError::RateLimited(decision));
    }
    // Not a key in any spelling: no such URL (the text is not repeated back).
    let key = parse_key(key)
        .ok_or_else(|| RequestError::NotFound("/installation_data/<not a key>/".into()))?;
    match store.delete_user(key.to_string()).await {
        Ok(_) | Err(StorageError::NotFound) => Ok(response::empty(StatusCode::NO_CONTENT)),
        Err(e) => Err(e.into()),
    }
}

/// Whether the body is declared JSON: `application/json` (with or without parameters, as the
/// 2016 client and check.py send it) or a `+json` type. Anything else, and no type at all,
/// is refused: a web page can make a visitor's browser POST `text/plain`, a form type or a
/// typeless Blob to a server on their network without asking (no CORS preflight), but not
/// JSON, so this keeps other sites from submitting reports through learners' browsers.
fn is_json(headers: &HeaderMap) -> bool {
    let mut types = headers.get_all(CONTENT_TYPE).iter();
    let (Some(declared), None) = (types.next(), types.next()) else {
        return false;
    };
    let Ok(declared) = declared.to_str() else {
        return false;
    };
    let essence = declared.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application")
        && (subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len()))
}

fn with_rate_headers(mut response: Response<Body>, decision: Option<Decision>) -> Response<Body> {
    if let Some(decision) = decision {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", decision.limit.into());
        headers.insert("x-ratelimit-remaining", decision.remaining.into());
        headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_at));
    }
    response
}

async fn accept<B>(
    store: &Store,
    request: Request<B>,
    decision: Option<Decision>,
) -> Result<Response<Body>, RequestError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if let Some(decision) = decision.filter(|d| !d.allowed) {
        return Err(RequestError::RateLimited(decision));
    }
    if !is_json(request.headers()) {
        return Err(RequestError::NotJson);
    }
    let body = read_limited(request, MAX_BODY_BYTES).await?;
    let report = parse_report(&body)?;
    let system = report.system.system.clone();
    let failed: Vec<String> = report.failures.iter().map(|f| f.name.clone()).collect();
    let receipt = store.record(report).await?;
    // Read after the commit; the report is stored whatever happens here, so a failure costs
    // the advice only.
    let advice = store.advice(system, failed).await.unwrap_or_else(|e| {
        log::warn!("advice could not be read: {e}");
        Vec::new()
    });
    let message = if receipt.known {
        "pushed data with same id"
    } else {
        "new id generated"
    };
    Ok(response::json(
        StatusCode::OK,
        &Answer {
            key: receipt.key.to_string(),
            summary: Summary {
                status: "Successful",
                message,
            },
            advice,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, item 9: any Content-Type was accepted, so a page a learner visits could post
    /// reports through their browser (`text/plain` needs no CORS preflight).
    #[test]
    fn only_json_is_read_as_a_report() {
        let declared = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            }
            is_json(&headers)
        };
        for json in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/vnd.api+json",
        ] {
            assert!(declared(&[json]), "{json}");
        }
        for other in [
            &[][..],
            &["text/plain"],
            &["text/plain;charset=UTF-8"],
            &["application/x-www-form-urlencoded"],
            &["multipart/form-data; boundary=x"],
            &["text/json"],
            &["application/jsonx"],
            &["application/+json"],
            &["application/json", "text/plain"],
            &[""],
        ] {
            assert!(!declared(other), "{other:?}");
        }
    }
}
