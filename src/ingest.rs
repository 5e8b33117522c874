//! Ingestion, `POST /installation_data/`: throttle, read, check, store, answer, count; and
//! its undoing, `DELETE /installation_data/<key>/`. Takes only the store, the throttle and the
//! metrics it uses.

use crate::http::body::read_limited;
use crate::http::response::{self, Body};
use crate::http::RequestError;
use crate::metrics::Metrics;
use crate::report::{parse_key, parse_report, MAX_BODY_BYTES};
use crate::storage::{StorageError, Store};
use crate::throttle::{Decision, Throttle};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use std::net::IpAddr;

/// The original's answer, which its clients read the key from.
#[derive(Serialize)]
struct Answer {
    key: String,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    status: &'static str,
    message: &'static str,
}

/// Every answer of this endpoint, refusals included, carries the rate-limit headers.
pub async fn submit<B>(
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
pub async fn forget(
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
    let body = read_limited(request, MAX_BODY_BYTES).await?;
    let report = parse_report(&body)?;
    let receipt = store.record(report).await?;
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
        },
    ))
}
