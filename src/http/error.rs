//! The request error, and the single place where each kind becomes a status and a JSON body.

use super::body::{BODY_DEADLINE, BODY_GRACE, MIN_BODY_RATE};
use super::response::{self, Body};
use crate::metrics::Refusal;
use crate::report::{Rejection, RejectionKind, MAX_BODY_BYTES};
use crate::storage::StorageError;
use crate::throttle::Decision;
use hyper::header::{HeaderValue, ALLOW, CONNECTION, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde::Serialize;

/// Seconds a client is asked to wait while the disk is full or failing.
const NO_DISK_RETRY_AFTER: &str = "30";

/// Why a request is not answered with what it asked for.
#[derive(Debug)]
pub(crate) enum RequestError {
    NotFound(String),
    MethodNotAllowed(&'static str),
    /// The body is larger than [`MAX_BODY_BYTES`].
    BodyTooLarge,
    /// The body could not be read (the client went away mid-body, say).
    BodyUnreadable(Box<dyn std::error::Error + Send + Sync>),
    /// The body did not arrive within [`BODY_DEADLINE`] or fell below [`MIN_BODY_RATE`].
    BodyTooSlow,
    /// A submission whose Content-Type is not JSON (what a cross-site form or `text/plain`
    /// request would send).
    NotJson,
    BadInput(Rejection),
    /// A query-string value we cannot use.
    BadQuery(String),
    /// More than one Host header: which host was meant is ambiguous.
    SeveralHosts,
    RateLimited(Decision),
    Storage(StorageError),
    /// `/healthz`: the database answers reads but cannot commit a write.
    NotWritable(StorageError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    detail: &'a str,
}

impl From<StorageError> for RequestError {
    fn from(e: StorageError) -> Self {
        RequestError::Storage(e)
    }
}

impl From<Rejection> for RequestError {
    fn from(e: Rejection) -> Self {
        RequestError::BadInput(e)
    }
}

impl RequestError {
    /// Why a submission that met this error was not stored, as the metrics count it; `None`
    /// for errors a submission cannot meet.
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        match self {
            RequestError::BodyTooLarge => Some(Refusal::TooLarge),
            RequestError::BadInput(rejection) => Some(match rejection.kind {
                RejectionKind::TooLarge => Refusal::TooLarge,
                RejectionKind::Malformed | RejectionKind::WrongShape => Refusal::BadInput,
            }),
            RequestError::BodyUnreadable(_) | RequestError::NotJson | RequestError::BodyTooSlow => {
                Some(Refusal::BadInput)
            }
            RequestError::RateLimited(_) => Some(Refusal::Throttled),
            RequestError::Storage(_) | RequestError::NotWritable(_) => Some(Refusal::Storage),
            RequestError::NotFound(_)
            | RequestError::MethodNotAllowed(_)
            | RequestError::BadQuery(_)
            | RequestError::SeveralHosts => None,
        }
    }

    /// The status, and the error and its detail as the client reads them.
    fn answer(&self) -> (StatusCode, &'static str, String) {
        match self {
            RequestError::NotFound(path) => (
                StatusCode::NOT_FOUND,
                "not found",
                format!("nothing is served at {path}"),
            ),
            RequestError::MethodNotAllowed(allow) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed",
                format!("use {allow}"),
            ),
            RequestError::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body too large",
                format!("a report may be at most {MAX_BODY_BYTES} bytes"),
            ),
            RequestError::BodyUnreadable(why) => {
                (StatusCode::BAD_REQUEST, "body unreadable", why.to_string())
            }
            RequestError::BodyTooSlow => (
                StatusCode::REQUEST_TIMEOUT,
                "body too slow",
                format!(
                    "a report must arrive within {} s, at {MIN_BODY_RATE} bytes a second or \
                     more after the first {} s",
                    BODY_DEADLINE.as_secs(),
                    BODY_GRACE.as_secs()
                ),
            ),
            RequestError::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not JSON",
                "send the report as Content-Type: application/json".to_string(),
            ),
            RequestError::BadInput(rejection) => match rejection.kind {
                RejectionKind::Malformed => (
                    StatusCode::BAD_REQUEST,
                    "malformed JSON",
                    rejection.detail.clone(),
                ),
                RejectionKind::WrongShape => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "not an installation report",
                    rejection.detail.clone(),
                ),
                RejectionKind::TooLarge => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "over a limit",
                    rejection.detail.clone(),
                ),
            },
            RequestError::BadQuery(why) => (StatusCode::BAD_REQUEST, "bad query", why.clone()),
            RequestError::SeveralHosts => (
                StatusCode::BAD_REQUEST,
                "several Host headers",
                "send one Host header".to_string(),
            ),
            RequestError::RateLimited(decision) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate limit exceeded",
                format!(
                    "at most {} submissions per address; try again in {} s",
                    decision.limit,
                    decision.retry_after_secs()
                ),
            ),
            RequestError::Storage(e) => match e {
                StorageError::NotFound => (StatusCode::NOT_FOUND, "not found", e.to_string()),
                StorageError::Exists => (StatusCode::CONFLICT, "exists already", e.to_string()),
                StorageError::Busy | StorageError::Full | StorageError::Closed => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unavailable",
                    e.to_string(),
                ),
                // Logged once by storage when it noticed, not once per request.
                StorageError::Gone(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database file gone",
                    e.to_string(),
                ),
                StorageError::Io(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily unavailable",
                    e.to_string(),
                ),
                StorageError::Corrupt(_)
                | StorageError::NoDatabase(_)
                | StorageError::Interrupted(_)
                | StorageError::Other(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                    "the server could not store or read data; see its log".to_string(),
                ),
            },
            RequestError::NotWritable(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database not writable",
                e.to_string(),
            ),
        }
    }

    pub(crate) fn into_response(self) -> Response<Body> {
        // What the client is not told in full is logged: the admin's to see.
        if let RequestError::Storage(
            e @ (StorageError::Io(_)
            | StorageError::Corrupt(_)
            | StorageError::NoDatabase(_)
            | StorageError::Interrupted(_)
            | StorageError::Other(_)),
        ) = &self
        {
            log::error!("storage failed: {e}");
        }
        let (status, error, detail) = self.answer();
        let mut response = response::json(
            status,
            &ErrorBody {
                error,
                detail: &detail,
            },
        );
        let headers = response.headers_mut();
        match self {
            RequestError::MethodNotAllowed(allow) => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            // The rest of a body that came too slowly is not waited for: the connection ends.
            RequestError::BodyTooSlow => {
                headers.insert(CONNECTION, HeaderValue::from_static("close"));
            }
            RequestError::RateLimited(decision) => {
                headers.insert(RETRY_AFTER, decision.retry_after_secs().into());
            }
            RequestError::Storage(StorageError::Busy | StorageError::Closed) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // A full or failing disk waits for an admin: come back in a while, not at once.
            RequestError::Storage(
                StorageError::Full | StorageError::Io(_) | StorageError::Gone(_),
            )
            | RequestError::NotWritable(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static(NO_DISK_RETRY_AFTER));
            }
            _ => {}
        }
        response
    }
}

/// As the client reads it: `error: detail`.
impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (_, error, detail) = self.answer();
        write!(f, "{error}: {detail}")
    }
}

impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RequestError::BodyUnreadable(e) => Some(e.as_ref()),
            RequestError::Storage(e) | RequestError::NotWritable(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_or_failing_disk_asks_the_client_to_come_back_later() {
        for e in [
            RequestError::Storage(StorageError::Full),
            RequestError::Storage(StorageError::Io("fsync failed".into())),
            RequestError::Storage(StorageError::Gone("deleted")),
            RequestError::NotWritable(StorageError::Full),
            RequestError::NotWritable(StorageError::Gone("replaced")),
        ] {
            let response = e.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[RETRY_AFTER], NO_DISK_RETRY_AFTER);
        }
    }

    #[test]
    fn a_body_that_could_not_be_read_keeps_why() {
        let broken = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let e = RequestError::BodyUnreadable(Box::new(broken));
        assert_eq!(e.to_string(), "body unreadable: reset by peer");
        let source = std::error::Error::source(&e).unwrap();
        let io = source.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
        let full = RequestError::Storage(StorageError::Full);
        assert!(std::error::Error::source(&full).is_some());
    }
}
