//! Package breakdowns: which packages and versions ever failed, and where and when one
//! package fails, one field at a time (the package detail page).

use super::fixes::check_fixes;
use super::sql::{counted, rows_in, workshop_key};
use crate::storage::dictionary::ALL_WORKSHOPS;
use crate::storage::stats::{Breakdown, PackageDetail, PackageFilter, Rows, Scope, ValueCount};
use crate::storage::timestamp::{self, UNKNOWN_DAY};
use crate::storage::StorageError;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection};

/// Every package name that ever failed, in order, the `window` of them.
pub(crate) fn package_names(conn: &Connection, window: Rows) -> Result<Vec<String>, StorageError> {
    let sql = format!(
        "SELECT DISTINCT p.name FROM failure_tally t JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = {ALL_WORKSHOPS} AND t.every > 0 ORDER BY 1"
    );
    rows_in(conn, &sql, Vec::new(), window, |row| row.get(0))
}

/// Every version of `name` that ever failed, in order, the `window` of them.
pub(crate) fn package_versions(
    conn: &Connection,
    name: &str,
    window: Rows,
) -> Result<Vec<String>, StorageError> {
    let sql = format!(
        "SELECT DISTINCT p.version FROM packages p
          WHERE p.name = ?1 AND p.version IS NOT NULL AND p.version <> ''
            AND EXISTS (SELECT 1 FROM failure_tally t
                         WHERE t.workshop = {ALL_WORKSHOPS} AND t.package_id = p.id
                           AND t.every > 0)
          ORDER BY 1"
    );
    rows_in(conn, &sql, vec![name.to_owned().into()], window, |row| {
        row.get(0)
    })
}

/// `t.workshop = ?1 AND t.package_id IN (the package's ids)`, with its values.
fn of_package(workshop: i64, package: &PackageFilter) -> (&'static str, Vec<Value>) {
    let mut values = vec![Value::Integer(workshop), Value::Text(package.name.clone())];
    let sql = match &package.version {
        None => "t.workshop = ?1 AND t.package_id IN (SELECT id FROM packages WHERE name = ?2)",
        Some(version) => {
            values.push(Value::Text(version.clone()));
            "t.workshop = ?1 AND t.package_id IN
                 (SELECT id FROM packages WHERE name = ?2 AND version = ?3)"
        }
    };
    (sql, values)
}

/// How many failures of `package` count in scope.
pub(crate) fn failure_count(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(0);
    };
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT coalesce(sum(t.{}), 0) FROM failure_tally t WHERE {filter}",
        counted(scope)
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}

/// Failures of `package` in scope, counted by one field, most first; empty and unknown
/// values left out; the `window` of them, counted in SQL.
pub(crate) fn failure_breakdown(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
    window: Rows,
) -> Result<Vec<ValueCount>, StorageError> {
    let Some(column) = by.machine_sql("pr") else {
        return match by {
            Breakdown::Day => per_day(conn, package, scope, window),
            _ => per_error(conn, package, scope, window),
        };
    };
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT {column}, sum(t.{count}) FROM failure_tally t
           JOIN system_profiles pr ON pr.id = t.profile_id
          WHERE {filter}
          GROUP BY 1 HAVING {column} <> '' AND sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    rows_in(conn, &sql, values, window, |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })
}

/// A package's failures in scope per day (the attempts' days), the `window` of them.
fn per_day(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<ValueCount>, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT t.day, sum(t.{count}) FROM failure_day_tally t
          WHERE {filter} AND t.day <> {UNKNOWN_DAY}
          GROUP BY 1 HAVING sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    rows_in(conn, &sql, values, window, |row| {
        Ok(ValueCount {
            value: timestamp::day_text(row.get(0)?),
            count: row.get(1)?,
        })
    })
}

/// A package's failures in scope per error text, the `window` of them.
fn per_error(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<ValueCount>, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let (filter, values) = of_package(workshop, package);
    let sql = format!(
        "SELECT e.text, sum(t.{count}) FROM failure_error_tally t
           JOIN error_texts e ON e.id = t.error_id
          WHERE {filter} AND e.text <> ''
          GROUP BY 1 HAVING sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    rows_in(conn, &sql, values, window, |row| {
        Ok(ValueCount {
            value: row.get(0)?,
            count: row.get(1)?,
        })
    })
}

/// Every breakdown of one package's failures, with what fixed it, the `window` of each list.
pub(crate) fn package_detail(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    window: Rows,
) -> Result<PackageDetail, StorageError> {
    let fixes = check_fixes(conn, &package.name, scope.workshop.as_deref(), window)?;
    let failures = failure_count(conn, package, scope)?;
    PackageDetail::assemble(package, failures, fixes, |field| {
        failure_breakdown(conn, package, scope, field, window)
    })
}
