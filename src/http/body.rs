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
pub const LINGER_BYTES: u64 = 8 * 1024 * 1024;
/// Longest time spent throwing a refused body away.
pub const LINGER_TIME: Duration = Duration::from_secs(5);

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
    let deadline = Instant::now() + LINGER_TIME;
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
            match body.frame().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(RequestError::BodyUnreadable(e.to_string())),
                None => return Ok(kept.freeze()),
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
