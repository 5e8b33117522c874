//! Statistics: the straightforward SQL behind every dashboard view, one query per function.
//!
//! These are the reference answers. The overview and the comparison form read the same
//! numbers from maintained tallies ([`super::tally`]), whose tests compare against these
//! functions; the package breakdowns are computed here.

use super::{tally, StorageError, Store};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

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
    /// The field's SQL: a fixed expression over `f` (failed_installs) and `u`
    /// (user_system_info), never built from input.
    fn expression(self) -> &'static str {
        match self {
            Breakdown::DistributionName => "u.distribution_name",
            Breakdown::DistributionVersion => "u.distribution_version",
            Breakdown::DistributionNameVersion => {
                "CASE WHEN u.distribution_name <> '' AND u.distribution_version <> ''
                 THEN u.distribution_name || ' ' || u.distribution_version END"
            }
            Breakdown::System => "u.system",
            Breakdown::SystemVersion => "u.system_version",
            Breakdown::SystemPlatform => "u.system_platform",
            Breakdown::Machine => "u.machine",
            Breakdown::PythonVersion => "u.python_version",
            // The date part of "YYYY-MM-DD HH:MM:SS.fff", whatever precision follows.
            Breakdown::Day => "substr(f.create_time, 1, 10)",
            Breakdown::ErrorDescription => "f.error_description",
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

/// The FROM and WHERE clauses that select the failures that count, with their parameters.
///
/// The join order is spelled out because SQLite's own choice is slow at scale: for one
/// package it starts from the package index; for every package it walks the learners and
/// finds each one's failures by index (CROSS JOIN keeps that order), rather than every failure
/// and then its learner. Without `learner_columns`, all attempts of all workshops need no
/// learner at all.
fn counted_failures(
    scope: &Scope,
    package: Option<&Package>,
    learner_columns: bool,
) -> (String, Vec<Value>) {
    let mut values = Vec::new();
    let mut sql = match package {
        Some(package) => {
            values.push(Value::Text(package.name.clone()));
            let mut sql =
                String::from("FROM failed_installs f JOIN user_system_info u ON u.id = f.user_id");
            if !scope.all_attempts {
                sql.push_str(" AND f.attempt_id = u.latest_attempt_id");
            }
            sql.push_str(" WHERE f.name = ?");
            if let Some(version) = &package.version {
                sql.push_str(" AND f.version = ?");
                values.push(Value::Text(version.clone()));
            }
            sql
        }
        None if scope.all_attempts && scope.workshop.is_none() && !learner_columns => {
            String::from("FROM failed_installs f WHERE 1")
        }
        // The unary + keeps the user_id index out of it: the latest attempt is the lookup.
        None if !scope.all_attempts => String::from(
            "FROM user_system_info u CROSS JOIN failed_installs f
               ON +f.user_id = u.id AND f.attempt_id = u.latest_attempt_id WHERE 1",
        ),
        None => String::from(
            "FROM user_system_info u CROSS JOIN failed_installs f ON f.user_id = u.id WHERE 1",
        ),
    };
    if let Some(workshop) = &scope.workshop {
        sql.push_str(" AND u.workshop_id = ?");
        values.push(Value::Text(workshop.clone()));
    }
    (sql, values)
}

/// Failures per name and version, most first.
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn failed_versions(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<VersionFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None, false);
    let sql = format!(
        "SELECT f.name, f.version, count(*) {from}
         GROUP BY f.name, f.version ORDER BY count(*) DESC, f.name, f.version"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(VersionFailures {
            name: row.get(0)?,
            version: row.get(1)?,
            count: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Failures per name, all versions together, most first.
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn failed_names(conn: &Connection, scope: &Scope) -> Result<Vec<NameFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None, false);
    let sql =
        format!("SELECT f.name, count(*) {from} GROUP BY f.name ORDER BY count(*) DESC, f.name");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(NameFailures {
            name: row.get(0)?,
            count: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Learners per operating system (learners, not attempts), most first.
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn learners_by_system(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<SystemLearners>, StorageError> {
    let map = |row: &rusqlite::Row<'_>| {
        Ok(SystemLearners {
            system: row.get(0)?,
            learners: row.get(1)?,
        })
    };
    let rows = match workshop {
        Some(workshop) => conn
            .prepare_cached(
                "SELECT system, count(*) FROM user_system_info WHERE workshop_id = ?1
                 GROUP BY system ORDER BY count(*) DESC, system",
            )?
            .query_map([workshop], map)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(
                "SELECT system, count(*) FROM user_system_info
                 GROUP BY system ORDER BY count(*) DESC, system",
            )?
            .query_map([], map)?
            .collect::<Result<_, _>>()?,
    };
    Ok(rows)
}

/// Failures per operating system and package name, most first.
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn failures_by_system(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None, true);
    let sql = format!(
        "SELECT u.system, f.name, count(*) {from}
         GROUP BY u.system, f.name ORDER BY count(*) DESC, u.system, f.name"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(SystemNameFailures {
            system: row.get(0)?,
            name: row.get(1)?,
            count: row.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every package name that ever failed, in order (read from the package index alone).
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn package_names(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement =
        conn.prepare_cached("SELECT DISTINCT name FROM failed_installs ORDER BY name")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every version of `name` that ever failed, in order.
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn package_versions(conn: &Connection, name: &str) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT version FROM failed_installs
         WHERE name = ?1 AND version IS NOT NULL AND version <> '' ORDER BY version",
    )?;
    let rows = statement.query_map([name], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every workshop some learner named, in order.
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn workshops(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT workshop_id FROM user_system_info
         WHERE workshop_id IS NOT NULL ORDER BY workshop_id",
    )?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Learners and passing learners per workshop (one, or all), largest workshop first.
/// The reference for its namesake in `tally`, which the server uses; kept for the tests.
#[cfg(test)]
pub fn workshop_summaries(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Vec<WorkshopSummary>, StorageError> {
    // A learner passes when their latest attempt exists and reported no failure.
    const COLUMNS: &str = "SELECT workshop_id, count(*),
        coalesce(sum(latest_attempt_id IS NOT NULL AND NOT EXISTS
            (SELECT 1 FROM failed_installs f WHERE f.attempt_id = u.latest_attempt_id)), 0)
        FROM user_system_info u";
    let map = |row: &rusqlite::Row<'_>| {
        Ok(WorkshopSummary {
            workshop: row.get(0)?,
            learners: row.get(1)?,
            passing: row.get(2)?,
        })
    };
    let rows = match workshop {
        Some(workshop) => conn
            .prepare_cached(&format!(
                "{COLUMNS} WHERE workshop_id = ?1 GROUP BY workshop_id"
            ))?
            .query_map([workshop], map)?
            .collect::<Result<_, _>>()?,
        None => conn
            .prepare_cached(&format!(
                "{COLUMNS} GROUP BY workshop_id ORDER BY count(*) DESC, workshop_id"
            ))?
            .query_map([], map)?
            .collect::<Result<_, _>>()?,
    };
    Ok(rows)
}

/// Failures of `package` in scope, counted by one field; empty and unknown values left out.
pub fn failure_breakdown(
    conn: &Connection,
    package: &Package,
    scope: &Scope,
    by: Breakdown,
) -> Result<Vec<ValueCount>, StorageError> {
    let (from, values) = counted_failures(scope, Some(package), true);
    let field = by.expression();
    let sql = format!(
        "SELECT {field}, count(*) {from} AND ({field}) IS NOT NULL AND ({field}) <> ''
         GROUP BY 1 ORDER BY 2 DESC, 1"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(values), |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many failures of `package` count in scope.
pub fn failure_count(
    conn: &Connection,
    package: &Package,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let (from, values) = counted_failures(scope, Some(package), true);
    let sql = format!("SELECT count(*) {from}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}

/// Every breakdown of one package's failures.
pub fn package_detail(
    conn: &Connection,
    package: &Package,
    scope: &Scope,
) -> Result<PackageDetail, StorageError> {
    let by = |breakdown| failure_breakdown(conn, package, scope, breakdown);
    Ok(PackageDetail {
        package: package.clone(),
        failures: failure_count(conn, package, scope)?,
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
