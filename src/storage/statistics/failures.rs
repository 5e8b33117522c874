//! Failure lists: what fails most, by name and version, by name, and by operating system
//! (the overview's tables and its heat map).

use super::sql::{counted, in_workshop, rows_in, workshop_key};
use crate::storage::stats::{NameFailures, Rows, Scope, SystemNameFailures, VersionFailures};
use crate::storage::StorageError;
use rusqlite::types::Value;
use rusqlite::Connection;

/// Failures per name and version in scope, most first, the `window` of them.
pub(crate) fn failed_versions(
    conn: &Connection,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<VersionFailures>, StorageError> {
    let count = counted(scope);
    let sql = format!(
        "SELECT p.name, p.version, sum(t.{count}) FROM failure_tally t
           JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = ?1
          GROUP BY t.package_id HAVING sum(t.{count}) > 0 ORDER BY 3 DESC, 1, 2"
    );
    in_workshop(conn, scope.workshop.as_deref(), &sql, window, |row| {
        Ok(VersionFailures {
            name: row.get(0)?,
            version: row.get(1)?,
            count: row.get(2)?,
        })
    })
}

/// Failures per name, all versions together, most first, the `window` of them.
pub(crate) fn failed_names(
    conn: &Connection,
    scope: &Scope,
    window: Rows,
) -> Result<Vec<NameFailures>, StorageError> {
    let count = counted(scope);
    let sql = format!(
        "SELECT p.name, sum(t.{count}) FROM failure_tally t
           JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = ?1
          GROUP BY p.name HAVING sum(t.{count}) > 0 ORDER BY 2 DESC, 1"
    );
    in_workshop(conn, scope.workshop.as_deref(), &sql, window, |row| {
        Ok(NameFailures {
            name: row.get(0)?,
            count: row.get(1)?,
        })
    })
}

/// Failures per operating system (of the failing attempt) and package name, most first, of
/// the packages named `names` only (`None`: every package), the `window` of them: the heat
/// map's cells, for the names it shows.
pub(crate) fn failures_by_system(
    conn: &Connection,
    scope: &Scope,
    names: Option<&[String]>,
    window: Rows,
) -> Result<Vec<SystemNameFailures>, StorageError> {
    let Some(workshop) = workshop_key(conn, scope.workshop.as_deref())? else {
        return Ok(Vec::new());
    };
    let count = counted(scope);
    let mut values = vec![Value::Integer(workshop)];
    let of_names = match names {
        None => "",
        Some(names) => {
            values.push(
                serde_json::to_string(names)
                    .expect("strings serialize")
                    .into(),
            );
            "AND p.name IN (SELECT value FROM json_each(?2))"
        }
    };
    let sql = format!(
        "SELECT pr.system, p.name, sum(t.{count}) FROM failure_tally t
           JOIN packages p ON p.id = t.package_id
           JOIN system_profiles pr ON pr.id = t.profile_id
          WHERE t.workshop = ?1 {of_names}
          GROUP BY 1, 2 HAVING sum(t.{count}) > 0 ORDER BY 3 DESC, 1, 2"
    );
    rows_in(conn, &sql, values, window, |row| {
        Ok(SystemNameFailures {
            system: row.get(0)?,
            name: row.get(1)?,
            count: row.get(2)?,
        })
    })
}
