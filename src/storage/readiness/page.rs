//! What the host's page is given (the workshop's required checks, the window of the learner
//! table, the rules storage does not know) and what it gets back.

use crate::storage::stats::Rows;

/// A check the workshop asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequiredCheck {
    /// Its name in the script's list (`git`), shown when a learner never reported it.
    pub name: String,
    /// The name the script reports its result under (`Git (git)`).
    pub label: String,
    /// Optional checks are shown but do not decide readiness.
    pub optional: bool,
    /// The minimum version the workshop asks for, for the fix.
    pub minimum: Option<String>,
}

/// The orders of the learner table; each ends with the learner's name, then their row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LearnerOrder {
    /// Not ready first, then most required checks missing, then most failures.
    Standing,
    Learner,
    System,
    /// The earliest failure still unfixed first; learners with none last.
    Since,
    Attempts,
    Last,
}

/// Which rows of the learner table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LearnerWindow {
    pub order: LearnerOrder,
    /// The whole order reversed (the learner's row, the last tie-break, excepted).
    pub descending: bool,
    pub not_ready_only: bool,
    pub rows: Rows,
}

/// The fix the check script prints for a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Advice {
    pub text: String,
    pub url: Option<String>,
}

/// What the page decides and storage does not know: which checks a workshop requires, how
/// systems are named, what fix to send.
pub(crate) trait PageRules: Send {
    /// The checks a workshop requires, given its own list (`None`: it has none).
    fn required(&self, own: Option<&str>) -> Vec<RequiredCheck>;
    /// A system as the learner table shows it, with its distribution.
    fn system(&self, system: Option<&str>, distribution: Option<&str>) -> String;
    /// A system as "What to tell them" names it.
    fn system_label(&self, system: Option<&str>) -> String;
    /// Whether the fix for a failure of `label` depends on the failure (a check the learner's
    /// script knows); if not, one advice serves every failure of it.
    fn knows(&self, label: &str) -> bool;
    /// The fix for a failure of `label`, on `system`, for a workshop asking for `minimum`.
    fn advice(
        &self,
        label: &str,
        error: Option<&str>,
        system: Option<&str>,
        minimum: Option<&str>,
    ) -> Advice;
}

/// A check a learner still fails, as a row shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailingCheck {
    pub label: String,
    pub version: Option<String>,
    pub error: Option<String>,
    /// When the current run of failures began (the first attempt that failed it since it last
    /// passed).
    pub since: Option<String>,
    /// Whether the workshop requires it (otherwise it is optional or not on its list).
    pub required: bool,
}

/// A failure the learner already fixed: a later attempt passed what an earlier one failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FixedCheck {
    pub label: String,
    /// The first attempt that failed it, and the first later one that passed it.
    pub failed_at: Option<String>,
    pub fixed_at: Option<String>,
}

/// One learner as the host sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LearnerRow {
    /// Their email where they gave one, else a pseudonym made from their key.
    pub who: String,
    pub has_email: bool,
    pub system: String,
    pub python_version: Option<String>,
    pub ready: bool,
    /// Checks whose latest result is a failure, in the order first reported, the first
    /// [`FAILING_SHOWN`]; `more_failing` the rest.
    pub failing: Vec<FailingCheck>,
    pub more_failing: usize,
    /// Required checks no attempt reported on.
    pub unchecked: Vec<String>,
    /// What they fixed, in the order fixed, the first [`FIXED_SHOWN`].
    pub fixed: Vec<FixedCheck>,
    pub more_fixed: usize,
    pub attempts: i64,
    pub first_report: Option<String>,
    pub last_report: Option<String>,
}

/// One problem on one system: the fix to send, and the learners it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdviceGroup {
    pub label: String,
    pub system: String,
    pub advice: Advice,
    pub required: bool,
    /// The first [`GROUP_LEARNERS_SHOWN`] learners (by who reported first); `learners` in all.
    pub names: Vec<String>,
    pub learners: i64,
}

/// What the host's page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Standings {
    pub learners: i64,
    pub ready: i64,
    /// Learners the window's filter keeps.
    pub shown: i64,
    /// `(day, learners who had reported by its end, of whom ready)`, oldest first.
    pub days: Vec<(String, i64, i64)>,
    /// The window's rows.
    pub rows: Vec<LearnerRow>,
    /// The first [`GROUPS_SHOWN`] problems, required ones first, then most learners.
    pub groups: Vec<AdviceGroup>,
    pub all_groups: i64,
}
