//! Statistics: the types behind every dashboard view and the reads that fill them.
//!
//! What each view shows, read in one transaction from the tallies (`tally.rs`); the meaning
//! of every number, as plain SQL over the raw rows, is in `reference.rs`.

use super::{tally, StorageError, Store};
use rusqlite::Connection;

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
pub struct Package {
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

impl Breakdown {
    /// The field's name in `detail_tally.dim`.
    pub(super) fn dim(self) -> &'static str {
        match self {
            Breakdown::DistributionName => "distribution_name",
            Breakdown::DistributionVersion => "distribution_version",
            Breakdown::DistributionNameVersion => "distribution_name_version",
            Breakdown::System => "system",
            Breakdown::SystemVersion => "system_version",
            Breakdown::SystemPlatform => "system_platform",
            Breakdown::Machine => "machine",
            Breakdown::PythonVersion => "python_version",
            Breakdown::Day => "day",
            Breakdown::ErrorDescription => "error_description",
        }
    }
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
    pub package: Package,
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

/// Every breakdown of one package's failures.
pub fn package_detail(
    conn: &Connection,
    package: &Package,
    scope: &Scope,
) -> Result<PackageDetail, StorageError> {
    let by = |breakdown| tally::failure_breakdown(conn, package, scope, breakdown);
    Ok(PackageDetail {
        package: package.clone(),
        failures: tally::failure_count(conn, package, scope)?,
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
    })
}

/// The overview of one scope, read in one transaction so its numbers agree.
pub fn overview(conn: &Connection, scope: &Scope) -> Result<Overview, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    let workshop = scope.workshop.as_deref();
    Ok(Overview {
        failed_versions: tally::failed_versions(&snapshot, scope)?,
        failed_names: tally::failed_names(&snapshot, scope)?,
        learners_by_system: tally::learners_by_system(&snapshot, workshop)?,
        failures_by_system: tally::failures_by_system(&snapshot, scope)?,
        workshops: tally::workshops(&snapshot)?,
        summaries: tally::workshop_summaries(&snapshot, workshop)?,
    })
}

/// The details of some packages, and the choices for comparing others, in one transaction.
pub fn comparison(
    conn: &Connection,
    packages: &[Package],
    scope: &Scope,
) -> Result<Comparison, StorageError> {
    let snapshot = conn.unchecked_transaction()?;
    Ok(Comparison {
        details: packages
            .iter()
            .map(|package| package_detail(&snapshot, package, scope))
            .collect::<Result<_, _>>()?,
        names: tally::package_names(&snapshot)?,
        versions: {
            let mut versions = Vec::new();
            for package in packages {
                versions.extend(tally::package_versions(&snapshot, &package.name)?);
            }
            versions.sort();
            versions.dedup();
            versions
        },
        workshops: tally::workshops(&snapshot)?,
    })
}

impl Store {
    /// Most failed packages, learners per system and workshop summaries for one scope.
    pub async fn overview(&self, scope: Scope) -> Result<Overview, StorageError> {
        self.read(move |conn| overview(conn, &scope)).await
    }

    /// Where and when each of `packages` fails, with the packages one may compare instead.
    pub async fn comparison(
        &self,
        packages: Vec<Package>,
        scope: Scope,
    ) -> Result<Comparison, StorageError> {
        self.read(move |conn| comparison(conn, &packages, &scope))
            .await
    }

    /// Learners and passing learners per workshop, largest first.
    pub async fn workshop_summaries(&self) -> Result<Vec<WorkshopSummary>, StorageError> {
        self.read(|conn| tally::workshop_summaries(conn, None))
            .await
    }
}
