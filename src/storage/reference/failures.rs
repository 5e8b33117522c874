//! The failure lists: per name and version, per name, and per operating system and name.

use super::counted_failures;
use crate::storage::stats::{NameFailures, Scope, SystemNameFailures, VersionFailures};
use crate::storage::StorageError;
use rusqlite::{params_from_iter, Connection};

/// Failures per name and version, most first.
pub(crate) fn failed_versions(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<VersionFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None);
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
pub(crate) fn failed_names(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<NameFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None);
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

/// Failures per operating system (of the failing attempt) and package name, most first.
pub(crate) fn failures_by_system(
    conn: &Connection,
    scope: &Scope,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let (from, values) = counted_failures(scope, None);
    let sql = format!(
        "SELECT a.system, f.name, count(*) {from}
         GROUP BY a.system, f.name ORDER BY count(*) DESC, a.system, f.name"
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
