//! Ingestion: what a check script sends (the 2016 wire format) and the checks that turn it into
//! a [`Report`] the storage layer can trust.

mod handler;
mod wire;

pub use handler::handle_submission;

pub use wire::{parse_report, Rejection, RejectionKind};

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
/// Longest field of `user_system_info` (a Windows or Linux platform string is under 200).
pub const MAX_SYSTEM_FIELD_CHARS: usize = 500;

/// A validated submission: every limit checked, versions trimmed, the key parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The key the script sent, when it is a well-formed UUID; unknown keys are the storage
    /// layer's business (it issues a fresh one).
    pub key: Option<uuid::Uuid>,
    pub system: SystemInfo,
    pub successes: Vec<Package>,
    pub failures: Vec<Failure>,
}

/// The learner's machine, as the script saw it. Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub name: String,
    pub version: Option<String>,
    pub error_description: Option<String>,
}
