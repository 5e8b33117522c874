//! What every statistics query shares: which tally column counts, the tallies' key of a
//! workshop, and running a query over the window of its rows.

use crate::storage::dictionary::ALL_WORKSHOPS;
use crate::storage::stats::{Rows, Scope};
use crate::storage::StorageError;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};

/// The tally column that counts in `scope`.
pub(super) fn counted(scope: &Scope) -> &'static str {
    if scope.all_attempts {
        "every"
    } else {
        "latest"
    }
}

/// The tallies' `workshop` for a workshop name (all workshops for `None`); `None` when no
/// learner ever named that workshop, so nothing counts in it.
pub(super) fn workshop_key(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<Option<i64>, StorageError> {
    match workshop {
        None => Ok(Some(ALL_WORKSHOPS)),
        Some(name) => Ok(conn
            .prepare_cached("SELECT id FROM workshops WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?),
    }
}

/// Runs `sql` with `values` and maps each row.
pub(super) fn rows<T>(
    conn: &Connection,
    sql: &str,
    values: Vec<Value>,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params_from_iter(values), map)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Runs `sql` with `values`, reading only the `window` of its rows (a `LIMIT` and `OFFSET`
/// added after the query's own parameters), and maps each row.
pub(super) fn rows_in<T>(
    conn: &Connection,
    sql: &str,
    mut values: Vec<Value>,
    window: Rows,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    let (limit, offset) = window.sql();
    let first = values.len() + 1;
    values.extend([Value::Integer(limit), Value::Integer(offset)]);
    let sql = format!("{sql} LIMIT ?{first} OFFSET ?{}", first + 1);
    rows(conn, &sql, values, map)
}

/// Runs `sql` (whose `?1` is the tallies' workshop) for a workshop by name, or all of them,
/// reading the `window` of its rows; no rows for a workshop nobody named.
pub(super) fn in_workshop<T>(
    conn: &Connection,
    workshop: Option<&str>,
    sql: &str,
    window: Rows,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StorageError> {
    match workshop_key(conn, workshop)? {
        Some(key) => rows_in(conn, sql, vec![key.into()], window, map),
        None => Ok(Vec::new()),
    }
}
