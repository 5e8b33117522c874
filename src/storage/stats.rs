//! Statistics: the types behind every dashboard view, as plain data. `tally.rs` fills them
//! from the tallies; `reference.rs` says what each number means as plain SQL over raw rows.

/// Which failures count: whose, and from which attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `None`: every workshop, and learners who named none.
    pub workshop: Option<String>,
    /// False: only each learner's latest attempt (a learner who fixed git no longer counts).
    pub all_attempts: bool,
}

/// One package, in all its versions or in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFilter {
    pub name: String,
    /// `None`: every version.
    pub version: Option<String>,
}

/// Failures of one name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFailures {
    pub name: String,
    pub version: Option<String>,
    pub count: i64,
}

/// Failures of one name, all versions together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFailures {
    pub name: String,
    pub count: i64,
}

/// Learners who report one operating system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemLearners {
    /// `None`: the script could not tell.
    pub system: Option<String>,
    pub learners: i64,
}

/// Failures of one package name on one operating system: a cell of the heat map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemNameFailures {
    pub system: Option<String>,
    pub name: String,
    pub count: i64,
}

/// How one workshop's learners are doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkshopSummary {
    /// `None`: learners who named no workshop.
    pub workshop: Option<String>,
    pub learners: i64,
    /// Learners whose latest attempt reported no failure.
    pub passing: i64,
}

/// A value seen in failures, and how many failures it was seen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCount {
    pub value: String,
    pub count: i64,
}

/// What failures of a package have in common, one field at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakdown {
    DistributionName,
    DistributionVersion,
    /// "Ubuntu 16.04": both parts known.
    DistributionNameVersion,
    System,
    SystemVersion,
    SystemPlatform,
    Machine,
    PythonVersion,
    /// The day the failure was reported.
    Day,
    ErrorDescription,
}

/// Everything `/view/` and `/view/<workshop>/` show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    pub failed_versions: Vec<VersionFailures>,
    pub failed_names: Vec<NameFailures>,
    pub learners_by_system: Vec<SystemLearners>,
    pub failures_by_system: Vec<SystemNameFailures>,
    /// Every workshop named by some learner, whatever the scope.
    pub workshops: Vec<String>,
    /// The scope's workshops (one, or all of them).
    pub summaries: Vec<WorkshopSummary>,
}

/// Where and when one package fails; each list sorted by count, largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageDetail {
    pub package: PackageFilter,
    /// Failures counted in all.
    pub failures: i64,
    pub distribution_name: Vec<ValueCount>,
    pub distribution_version: Vec<ValueCount>,
    pub distribution_name_version: Vec<ValueCount>,
    pub system: Vec<ValueCount>,
    pub system_version: Vec<ValueCount>,
    pub system_platform: Vec<ValueCount>,
    pub machine: Vec<ValueCount>,
    pub python_version: Vec<ValueCount>,
    pub days: Vec<ValueCount>,
    pub error_descriptions: Vec<ValueCount>,
}

/// Everything `/view/detail/` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub details: Vec<PackageDetail>,
    /// Every package name that ever failed, to suggest in the comparison form.
    pub names: Vec<String>,
    /// Every version that ever failed of the packages detailed.
    pub versions: Vec<String>,
    pub workshops: Vec<String>,
}
