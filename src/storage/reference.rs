//! The straightforward SQL over the raw rows: what every statistic means. The server reads
//! the same numbers from the tallies (`tally.rs`); the tests there hold the two equal.

use super::stats::{
    Breakdown, NameFailures, PackageFilter, Scope, SystemLearners, SystemNameFailures, ValueCount,
    VersionFailures, WorkshopSummary,
};
use super::StorageError;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// The field's SQL: a fixed expression over `f` (failed_installs) and `u`
/// (user_system_info), never built from input.
fn expression(by: Breakdown) -> &'static str {
    match by {
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

/// The FROM and WHERE clauses that select the failures that count, with their parameters.
///
/// The join order is spelled out because SQLite's own choice is slow at scale: for one
/// package it starts from the package index; for every package it walks the learners and
/// finds each one's failures by index (CROSS JOIN keeps that order), rather than every failure
/// and then its learner. Without `learner_columns`, all attempts of all workshops need no
/// learner at all.
fn counted_failures(
    scope: &Scope,
    package: Option<&PackageFilter>,
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
pub fn package_names(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement =
        conn.prepare_cached("SELECT DISTINCT name FROM failed_installs ORDER BY name")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every version of `name` that ever failed, in order.
pub fn package_versions(conn: &Connection, name: &str) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT version FROM failed_installs
         WHERE name = ?1 AND version IS NOT NULL AND version <> '' ORDER BY version",
    )?;
    let rows = statement.query_map([name], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every workshop some learner named, in order.
pub fn workshops(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT workshop_id FROM user_system_info
         WHERE workshop_id IS NOT NULL ORDER BY workshop_id",
    )?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Learners and passing learners per workshop (one, or all), largest workshop first.
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
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
) -> Result<Vec<ValueCount>, StorageError> {
    let (from, values) = counted_failures(scope, Some(package), true);
    let field = expression(by);
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
    package: &PackageFilter,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let (from, values) = counted_failures(scope, Some(package), true);
    let sql = format!("SELECT count(*) {from}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}
