//! A learner's report: what a check script sends (the 2016 wire format), the limits it must
//! keep, the parsing that turns a body into a [`Report`] every other part can trust, and the
//! rules every door applies to a text a machine printed ([`clean`]), a workshop id
//! ([`WorkshopId`]) and an email ([`normalize_email`]); and what the answer adds for the
//! learner ([`Advice`]). Depends on nothing else in the crate.

mod advice;
mod email;
mod text;
mod wire;
mod workshop;

pub use advice::{Advice, MAX_FIXED_WITH, MIN_ADVICE_LEARNERS};
pub use email::normalize_email;
pub use text::{clean, Lines};
pub use wire::{parse_report, Rejection, RejectionKind};
pub use workshop::{workshop_date, WorkshopId, WorkshopIdError};

use std::time::{Duration, SystemTime};

/// Bodies larger than this are refused with 413 before they are parsed. A real report is a
/// few KiB; this leaves room for a script that checks hundreds of tools with long errors.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// At most this many entries in `successful_installs` and in `failed_installs` each.
pub const MAX_PACKAGES_PER_LIST: usize = 500;
/// Deepest nesting of arrays and objects accepted anywhere in a body.
pub const MAX_DEPTH: usize = 32;
/// Longest package name or version, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest `error_description`, in characters.
pub const MAX_ERROR_CHARS: usize = 2000;
/// Longest field of `user_system_info` (a Windows or Linux platform string is under 200),
/// and longest workshop id at every door.
pub const MAX_SYSTEM_FIELD_CHARS: usize = 500;
/// How old a report's `checked_at` may be and still be its attempt's time: a report kept by a
/// script that could not send it is sent within days, not months.
pub const MAX_CHECKED_AGE: Duration = Duration::from_secs(30 * 86_400);
/// How far ahead of the server's clock a `checked_at` may be: a learner's clock a little fast.
pub const MAX_CHECKED_AHEAD: Duration = Duration::from_secs(60);

/// A learner's key as any client may write it (upper or lower case, with or without hyphens,
/// in braces, as `urn:uuid:`), or `None` when it is not a UUID. Every way a key comes in
/// (a report, a deletion, the `delete-user` command) goes through here, so one learner has
/// one key whatever its spelling.
pub fn parse_key(text: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(text.trim()).ok()
}

/// A validated submission: every limit checked, every text cleaned, the key parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The key the script sent, when it is a well-formed UUID; unknown keys are the storage
    /// layer's business (it issues a fresh one).
    pub key: Option<uuid::Uuid>,
    /// The machine and the learner's workshop and email.
    pub system: SystemInfo,
    /// What passed.
    pub successes: Vec<Package>,
    /// What failed.
    pub failures: Vec<Failure>,
    /// When the checks ran, as the script says (`checked_at`); see [`Report::attempt_time`].
    pub checked_at: Option<SystemTime>,
}

impl Report {
    /// The time the attempt counts at, for a report that arrived at `arrival`: when the checks
    /// ran, if the script says so and it lies within the past [`MAX_CHECKED_AGE`] and at most
    /// [`MAX_CHECKED_AHEAD`] in the future; the arrival otherwise (a wrong clock, or a 2016
    /// client that sends no time).
    pub fn attempt_time(&self, arrival: SystemTime) -> SystemTime {
        let believable = |checked: &SystemTime| match arrival.duration_since(*checked) {
            Ok(age) => age <= MAX_CHECKED_AGE,
            Err(ahead) => ahead.duration() <= MAX_CHECKED_AHEAD,
        };
        self.checked_at.filter(believable).unwrap_or(arrival)
    }
}

/// The learner's machine, as the script saw it. Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(missing_docs)] // the original's field names say it
pub struct SystemInfo {
    pub distribution_name: Option<String>,
    pub distribution_version: Option<String>,
    pub system: Option<String>,
    pub system_version: Option<String>,
    pub machine: Option<String>,
    pub system_platform: Option<String>,
    pub python_version: Option<String>,
    pub workshop_id: Option<String>,
    /// Stored for the organizers, never shown on a page or written to a log.
    pub email_id: Option<String>,
}

/// A check that passed, as the script names it (`"Git (git)"`) with the version it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The check's label.
    pub name: String,
    /// `None` when the script could not tell.
    pub version: Option<String>,
}

/// A check that failed, with what the script found and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check's label.
    pub name: String,
    /// The version found, if any (too old, say).
    pub version: Option<String>,
    /// The script's own words for the failure.
    pub error_description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checked_time_counts_only_within_the_past_30_days_and_a_minute_ahead() {
        let arrival = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_290_867);
        let day = Duration::from_secs(86_400);
        let report = |checked_at| Report {
            checked_at,
            ..Report::default()
        };
        for (checked, kept) in [
            (arrival - 29 * day, true),
            (arrival - MAX_CHECKED_AGE, true),
            (arrival - 31 * day, false),
            (arrival + Duration::from_secs(30), true),
            (arrival + MAX_CHECKED_AHEAD, true),
            (arrival + Duration::from_secs(120), false),
        ] {
            let expected = if kept { checked } else { arrival };
            assert_eq!(report(Some(checked)).attempt_time(arrival), expected);
        }
        assert_eq!(report(None).attempt_time(arrival), arrival);
    }
}
