//! Statistics: the types behind every dashboard view, as plain data. `statistics/` fills
//! them from the tallies; `reference.rs` says what each number means as plain SQL over the raw
//! rows.

use super::profile::Field;

/// Which failures count: whose, and from which attempts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    /// `None`: every workshop, and learners who named none.
    pub workshop: Option<String>,
    /// False: only each learner's latest attempt (a learner who fixed git no longer counts).
    pub all_attempts: bool,
}

/// Which rows of a list to read: at most `limit`, after the first `offset`. Pages and exports
/// read every list through one of these, so what they hold stays bounded whatever the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rows {
    pub offset: usize,
    pub limit: usize,
}

impl Rows {
    /// The whole list (what the tests compare with the reference).
    pub(crate) const ALL: Rows = Rows {
        offset: 0,
        limit: usize::MAX,
    };

    /// The first `limit` rows.
    pub(crate) fn first(limit: usize) -> Rows {
        Rows { offset: 0, limit }
    }

    /// `LIMIT ?, OFFSET ?` values for SQLite, where -1 means no limit.
    pub(crate) fn sql(self) -> (i64, i64) {
        (
            i64::try_from(self.limit).unwrap_or(-1),
            i64::try_from(self.offset).unwrap_or(i64::MAX),
        )
    }
}

/// How much of a view to read: the window of each of its lists, of the choices its forms
/// offer, and of its heat map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    /// The rows read of each list (failures, systems, summaries, breakdowns, checks).
    pub lists: Rows,
    /// The workshops, package names and versions offered to choose from.
    pub choices: Rows,
    /// The heat map's package names (the first of the failed names read; 0 for none) and
    /// its most cells.
    pub heat_names: usize,
    pub heat_cells: usize,
}

/// One package, in all its versions or in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackageFilter {
    pub name: String,
    /// `None`: every version.
    pub version: Option<String>,
}

/// Failures of one name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VersionFailures {
    pub name: String,
    pub version: Option<String>,
    pub count: i64,
}

/// Failures of one name, all versions together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameFailures {
    pub name: String,
    pub count: i64,
}

/// Learners who report one operating system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemLearners {
    /// `None`: the script could not tell.
    pub system: Option<String>,
    pub learners: i64,
}

/// Failures of one package name on one operating system: a cell of the heat map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemNameFailures {
    pub system: Option<String>,
    pub name: String,
    pub count: i64,
}

/// How one workshop's learners are doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkshopSummary {
    /// `None`: learners who named no workshop.
    pub workshop: Option<String>,
    pub learners: i64,
    /// Learners whose latest attempt reported no failure.
    pub passing: i64,
}

/// A value seen in failures, and how many failures it was seen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueCount {
    pub value: String,
    pub count: i64,
}

/// What failures of a package have in common, one field at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breakdown {
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

impl Breakdown {
    /// The machine field it counts by, if it is one.
    pub(crate) fn field(self) -> Option<Field> {
        Some(match self {
            Breakdown::DistributionName => Field::DistributionName,
            Breakdown::DistributionVersion => Field::DistributionVersion,
            Breakdown::System => Field::System,
            Breakdown::SystemVersion => Field::SystemVersion,
            Breakdown::SystemPlatform => Field::SystemPlatform,
            Breakdown::Machine => Field::Machine,
            Breakdown::PythonVersion => Field::PythonVersion,
            Breakdown::DistributionNameVersion | Breakdown::Day | Breakdown::ErrorDescription => {
                return None
            }
        })
    }

    /// Its value as SQL over the machine fields of `table` (an alias of `system_profiles`
    /// or `attempts`, never input); `None` for the day and the error text, which are not
    /// machine fields.
    pub(crate) fn machine_sql(self, table: &str) -> Option<String> {
        if let Some(field) = self.field() {
            return Some(format!("{table}.{}", field.column()));
        }
        (self == Breakdown::DistributionNameVersion).then(|| {
            let name = format!("{table}.{}", Field::DistributionName.column());
            let version = format!("{table}.{}", Field::DistributionVersion.column());
            format!(
                "CASE WHEN {name} <> '' AND {version} <> '' THEN {name} || ' ' || {version} END"
            )
        })
    }
}

/// Everything `/fixes/` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FixOverview {
    /// Checks at least the minimum of learners failed, most stuck first.
    pub checks: Vec<CheckFixes>,
    /// Every workshop named by some learner, for the selector.
    pub workshops: Vec<String>,
}

/// Everything `/view/` and `/view/<workshop>/` show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Overview {
    pub failed_versions: Vec<VersionFailures>,
    pub failed_names: Vec<NameFailures>,
    pub learners_by_system: Vec<SystemLearners>,
    pub failures_by_system: Vec<SystemNameFailures>,
    /// Every workshop named by some learner, whatever the scope.
    pub workshops: Vec<String>,
    /// The scope's workshops (one, or all of them).
    pub summaries: Vec<WorkshopSummary>,
    /// Learners in scope, and those whose latest attempt passed everything (all of them,
    /// not only those of the summaries read).
    pub learners: i64,
    pub passing: i64,
}

/// Where and when one package fails; each list sorted by count, largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackageDetail {
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
    /// What fixed it, for the check (the package's name, all versions together).
    pub fixes: Fixes,
}

impl PackageDetail {
    /// A package's detail from its failure count, its `fixes` and each field counted by `by`:
    /// one place lists the fields, for the statistics and for their reference alike.
    pub(crate) fn assemble<E>(
        package: &PackageFilter,
        failures: i64,
        fixes: Fixes,
        by: impl Fn(Breakdown) -> Result<Vec<ValueCount>, E>,
    ) -> Result<PackageDetail, E> {
        Ok(PackageDetail {
            package: package.clone(),
            failures,
            distribution_name: by(Breakdown::DistributionName)?,
            distribution_version: by(Breakdown::DistributionVersion)?,
            distribution_name_version: by(Breakdown::DistributionNameVersion)?,
            system: by(Breakdown::System)?,
            system_version: by(Breakdown::SystemVersion)?,
            system_platform: by(Breakdown::SystemPlatform)?,
            machine: by(Breakdown::Machine)?,
            python_version: by(Breakdown::PythonVersion)?,
            days: by(Breakdown::Day)?,
            error_descriptions: by(Breakdown::ErrorDescription)?,
            fixes,
        })
    }
}

/// What happened to a check's failures, in one workshop or all: learners who failed it,
/// fixed it (a later attempt passed it), are stuck (their latest attempt fails it), how long
/// fixing took and with what. Each learner counts under the workshop and machine of the
/// attempt where they first failed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fixes {
    pub failed_learners: i64,
    pub fixed_learners: i64,
    pub stuck_learners: i64,
    /// Nearest-rank percentiles of the seconds from first failure to first fix, over the
    /// fixes whose times are known; `None` when there is none.
    pub median_seconds_to_fix: Option<i64>,
    pub p90_seconds_to_fix: Option<i64>,
    /// The version that passed (`None`: the script could not tell) and how many learners
    /// fixed it so, most first.
    pub fixed_with: Vec<(Option<String>, i64)>,
    /// Per operating system, most failed first.
    pub by_system: Vec<SystemFixes>,
}

/// One operating system's share of a check's fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemFixes {
    /// `None`: the script could not tell.
    pub system: Option<String>,
    pub failed: i64,
    pub fixed: i64,
    pub stuck: i64,
}

/// A row of "What gets fixed": one check with its learners and where it is worst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckFixes {
    pub name: String,
    pub failed_learners: i64,
    pub fixed_learners: i64,
    pub stuck_learners: i64,
    pub median_seconds_to_fix: Option<i64>,
    /// The operating system with the largest share of its learners stuck, among those with
    /// at least the page's minimum of failed learners.
    pub worst_system: Option<SystemFixes>,
}

/// Order of "What gets fixed": the largest share still stuck first, then more learners, then
/// by name.
pub(super) fn most_stuck_first(a: &CheckFixes, b: &CheckFixes) -> std::cmp::Ordering {
    (b.stuck_learners * a.failed_learners)
        .cmp(&(a.stuck_learners * b.failed_learners))
        .then(b.failed_learners.cmp(&a.failed_learners))
        .then_with(|| a.name.cmp(&b.name))
}

/// The system where a check is worst: the largest share stuck among systems with at least
/// `min_failed` learners, then more learners, then by name.
pub(super) fn worst_system(systems: &[SystemFixes], min_failed: i64) -> Option<SystemFixes> {
    systems
        .iter()
        .filter(|s| s.failed >= min_failed && s.stuck > 0)
        .min_by(|a, b| {
            (b.stuck * a.failed)
                .cmp(&(a.stuck * b.failed))
                .then(b.failed.cmp(&a.failed))
                .then_with(|| a.system.cmp(&b.system))
        })
        .cloned()
}

/// The nearest-rank percentile `numerator / denominator` of `n` values: the 1-based rank of
/// the value that is it.
pub(super) fn percentile_rank(n: i64, numerator: i64, denominator: i64) -> i64 {
    ((numerator * n + denominator - 1) / denominator).max(1)
}

/// Everything `/view/detail/` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub details: Vec<PackageDetail>,
    /// Every package name that ever failed, to suggest in the comparison form.
    pub names: Vec<String>,
    /// Every version that ever failed of the packages detailed.
    pub versions: Vec<String>,
    pub workshops: Vec<String>,
}
