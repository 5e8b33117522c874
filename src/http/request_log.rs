//! The request log: one line per request, with what the client chose (path, method) cut
//! short, and client errors held to a budget, so that a flood of bad requests cannot fill
//! the disk through the log. Suppressed lines are counted and the count is written once the
//! budget allows a line again.

use hyper::{Method, StatusCode};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest client-chosen text (a path, a method) written into a log line, in bytes; the rest
/// is replaced by a marker saying how much was left out. Real paths are under 100.
pub(crate) const MAX_LOGGED_BYTES: usize = 200;
/// Client-error (4xx) lines written at once after a quiet spell: a few hundred bad requests
/// are all logged, as a misconfigured client or a probe makes them.
pub const CLIENT_ERROR_BURST: u32 = 100;
/// Client-error lines written per second in a flood, after the burst: about 170 bytes each,
/// so at most some 75 MB a day instead of the 245 MB a minute one client produced.
pub const CLIENT_ERROR_LINES_PER_SECOND: u32 = 5;

/// The request log with its budget for client errors. Lines of other statuses are always
/// written: they are bounded by the work the server does for them.
pub(crate) struct RequestLog {
    budget: Mutex<Budget>,
}

/// A token bucket of log lines, and what it left out.
struct Budget {
    lines: f64,
    at: Instant,
    suppressed: u64,
}

/// What the budget says about one client-error line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Write it, after a line saying how many were suppressed before it (when any were).
    Write { suppressed: u64 },
    /// Leave it out (it is counted).
    Suppress,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog::new(Instant::now())
    }
}

impl RequestLog {
    /// A log whose budget is full at `now`.
    pub(crate) fn new(now: Instant) -> RequestLog {
        RequestLog {
            budget: Mutex::new(Budget {
                lines: f64::from(CLIENT_ERROR_BURST),
                at: now,
                suppressed: 0,
            }),
        }
    }

    /// Whether a client-error line at `now` is written; time is passed in so the tests need
    /// not wait.
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let mut budget = self.budget.lock().expect("log budget lock");
        let refill = now.saturating_duration_since(budget.at).as_secs_f64()
            * f64::from(CLIENT_ERROR_LINES_PER_SECOND);
        budget.lines = (budget.lines + refill).min(f64::from(CLIENT_ERROR_BURST));
        budget.at = budget.at.max(now);
        if budget.lines < 1.0 {
            budget.suppressed += 1;
            return Admission::Suppress;
        }
        budget.lines -= 1.0;
        Admission::Write {
            suppressed: std::mem::take(&mut budget.suppressed),
        }
    }

    /// Writes the line of one answered request (or counts it, for a client error over the
    /// budget).
    pub(crate) fn request(
        &self,
        client: IpAddr,
        method: &Method,
        path: &str,
        status: StatusCode,
        took: Duration,
    ) {
        if status.is_client_error() {
            match self.admit(Instant::now()) {
                Admission::Suppress => return,
                Admission::Write { suppressed: 0 } => {}
                Admission::Write { suppressed } => log::info!(
                    "suppressed {suppressed} similar lines (client errors over \
                     {CLIENT_ERROR_LINES_PER_SECOND} a second)"
                ),
            }
        }
        log::info!(
            "{client} {} {} {} {:.1}ms",
            clipped(method.as_str()),
            clipped(path),
            status.as_u16(),
            took.as_secs_f64() * 1000.0
        );
    }
}

/// `text` cut to [`MAX_LOGGED_BYTES`] (on a character boundary), with a marker of how many
/// bytes were left out.
pub(crate) fn clipped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_LOGGED_BYTES {
        return text.into();
    }
    let mut end = MAX_LOGGED_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} more bytes]", &text[..end], text.len() - end).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 11, item 10: 60 KB paths were logged whole.
    #[test]
    fn long_client_text_is_clipped_with_a_marker() {
        assert_eq!(clipped("/view/"), "/view/");
        let long = format!("/{}", "é".repeat(30_000));
        let line = clipped(&long);
        assert!(line.len() < MAX_LOGGED_BYTES + 30, "{}", line.len());
        assert!(line.ends_with(&format!("…[{} more bytes]", long.len() - 199)));
    }

    /// Issue 11, item 10: a stream of 400s wrote 245 MB of log a minute. Past the burst,
    /// lines are written at the budget's rate, and the next written line is preceded by the
    /// count of those left out.
    #[test]
    fn a_flood_of_client_errors_is_summarised() {
        let start = Instant::now();
        let log = RequestLog::new(start);
        let written = (0..10_000)
            .filter(|_| log.admit(start) != Admission::Suppress)
            .count();
        assert_eq!(written, CLIENT_ERROR_BURST as usize);
        let later = start + Duration::from_secs(1);
        assert_eq!(
            log.admit(later),
            Admission::Write {
                suppressed: 10_000 - u64::from(CLIENT_ERROR_BURST)
            }
        );
        let per_second = (0..10_000).filter(|_| log.admit(later) != Admission::Suppress);
        assert_eq!(
            per_second.count() + 1,
            CLIENT_ERROR_LINES_PER_SECOND as usize
        );
        let hour = later + Duration::from_secs(3600);
        assert!(matches!(log.admit(hour), Admission::Write { .. }));
        let refilled = (0..10_000).filter(|_| log.admit(hour) != Admission::Suppress);
        assert_eq!(refilled.count() + 1, CLIENT_ERROR_BURST as usize);
    }
}
