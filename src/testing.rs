//! What the integration tests need from inside the crate and nothing else does. Not part of
//! the program's interface: hidden from the documentation, and may change at any time.

pub use crate::throttle::ManualClock;

/// The advice the straightforward SQL over the raw rows gives for check `name` on `system`
/// in the database file at `path` (what an answer's advice must equal when its snapshot was
/// taken then).
pub fn reference_advice(
    path: &std::path::Path,
    name: &str,
    system: &str,
) -> Result<Option<crate::report::Advice>, String> {
    crate::storage::reference_advice(path, name, system)
}

/// The request log's budget for client errors, which the flood test holds the log to.
pub use crate::http::request_log::{CLIENT_ERROR_BURST, CLIENT_ERROR_LINES_PER_SECOND};
