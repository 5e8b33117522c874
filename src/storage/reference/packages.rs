//! One package (or one version of it): the names and versions that ever failed, and how its
//! failures in scope count and break down by one field.

use super::{counted_failures, expression};
use crate::storage::stats::{Breakdown, PackageFilter, Scope, ValueCount};
use crate::storage::StorageError;
use rusqlite::{params_from_iter, Connection};

/// Every package name that ever failed, in order.
pub(crate) fn package_names(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement =
        conn.prepare_cached("SELECT DISTINCT name FROM failed_installs ORDER BY name")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every version of `name` that ever failed, in order.
pub(crate) fn package_versions(conn: &Connection, name: &str) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT version FROM failed_installs
         WHERE name = ?1 AND version IS NOT NULL AND version <> '' ORDER BY version",
    )?;
    let rows = statement.query_map([name], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Failures of `package` in scope, counted by one field; empty and unknown values left out.
pub(crate) fn failure_breakdown(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
    by: Breakdown,
) -> Result<Vec<ValueCount>, StorageError> {
    let (from, values) = counted_failures(scope, Some(package));
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
pub(crate) fn failure_count(
    conn: &Connection,
    package: &PackageFilter,
    scope: &Scope,
) -> Result<i64, StorageError> {
    let (from, values) = counted_failures(scope, Some(package));
    let sql = format!("SELECT count(*) {from}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}
