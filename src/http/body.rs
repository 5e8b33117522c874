//! Reading a request body under a size limit the way nginx's lingering close does: a body over
//! the limit is still read to its end, within bounds, and thrown away, so that a client that is
//! still sending (Python's urllib, requests, curl) gets to read the 413 and its message instead
//! of a connection reset.

use super::RequestError;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::header::CONTENT_LENGTH;
use hyper::Request;
use std::time::Duration;
use tokio::time::Instant;

/// Most bytes of a refused body read and thrown away; a body declared larger is refused at
/// once, unread (the client may see a reset then: that is the price of not reading it).
pub(crate) const LINGER_BYTES: u64 = 8 * 1024 * 1024;
/// Longest time spent throwing a refused body away.
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(5);
/// Longest time a whole body may take to arrive. A report is a few KiB sent at once; 256 KiB
/// (the most we take) arrives in 20 s at 13 KiB/s, slower than any link a learner runs a
/// workshop's software over. A client sending a byte a second held its connection for ever.
pub(crate) const BODY_DEADLINE: Duration = Duration::from_secs(20);
/// After [`BODY_GRACE`], a body must have arrived at this many bytes a second at least, so
/// a trickle is cut well before [`BODY_DEADLINE`] and frees its connection.
pub(crate) const MIN_BODY_RATE: u64 = 1024;
/// How long a body may take before [`MIN_BODY_RATE`] is asked of it (a connection's slow
/// start, a learner's laptop waking its radio).
pub(crate) const BODY_GRACE: Duration = Duration::from_secs(5);

/// The body of `request`, at most `limit` bytes; over it, [`RequestError::BodyTooLarge`]
/// once the rest has been drained (or the draining bounds were reached).
pub(crate) async fn read_limited<B>(
    request: Request<B>,
    limit: usize,
) -> Result<Bytes, RequestError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > LINGER_BYTES) {
        return Err(RequestError::BodyTooLarge);
    }
    let mut body = std::pin::pin!(request.into_body());
    let too_large = declared.is_some_and(|n| n > limit as u64);
    let mut kept = BytesMut::new();
    let mut seen: u64 = 0;
    let started = Instant::now();
    let deadline = started + LINGER_TIME;
    loop {
        let frame = if too_large || seen > limit as u64 {
            if seen > LINGER_BYTES {
                return Err(RequestError::BodyTooLarge);
            }
            match tokio::time::timeout_at(deadline, body.frame()).await {
                Ok(Some(Ok(frame))) => frame,
                // The end, a broken body or the time limit: the answer is the same.
                _ => return Err(RequestError::BodyTooLarge),
            }
        } else {
            match tokio::time::timeout_at(due(started, seen), body.frame()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(e))) => return Err(RequestError::BodyUnreadable(e.into())),
                Ok(None) => return Ok(kept.freeze()),
                Err(_) => return Err(RequestError::BodyTooSlow),
            }
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if !too_large && seen <= limit as u64 {
                kept.extend_from_slice(&data);
            }
        }
    }
}

/// When the next piece of a body that began at `started`, `seen` bytes into it, must have
/// come: as late as [`MIN_BODY_RATE`] allows after [`BODY_GRACE`], and within the
/// [`BODY_DEADLINE`] of the whole.
fn due(started: Instant, seen: u64) -> Instant {
    let allowed = BODY_GRACE + Duration::from_secs_f64(seen as f64 / MIN_BODY_RATE as f64);
    started + allowed.min(BODY_DEADLINE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, item 1: a byte a second kept a body, and its connection, open for ever.
    #[test]
    fn a_body_must_keep_a_pace_and_end_in_time() {
        let start = Instant::now();
        assert_eq!(due(start, 0), start + BODY_GRACE);
        // A trickle of a byte a second is due just after the grace: 5 s and 5 ms.
        assert!(due(start, 5) < start + BODY_GRACE + Duration::from_millis(10));
        assert_eq!(due(start, 5 * MIN_BODY_RATE), start + BODY_GRACE * 2);
        assert_eq!(due(start, u64::MAX / 2), start + BODY_DEADLINE);
    }
}
