//! Ingestion, `POST /installation_data/`: throttle, read, check, store, answer, count. Takes
//! only the store, the throttle and the metrics it uses.

use crate::http::response::{self, Body};
use crate::http::RequestError;
use crate::metrics::Metrics;
use crate::report::{parse_report, MAX_BODY_BYTES};
use crate::storage::Store;
use crate::throttle::{Decision, Throttle};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_LENGTH};
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
    let mut response = match accept(store, request, decision).await {
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
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(RequestError::BodyTooLarge);
    }
    let body = Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<LengthLimitError>().is_some() {
                RequestError::BodyTooLarge
            } else {
                RequestError::BodyUnreadable(e.to_string())
            }
        })?
        .to_bytes();
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
