//! Learners: who reports which operating system, which workshops there are, and how many
//! learners of each pass everything.

use super::sql::{in_workshop, rows_in};
use crate::storage::stats::{Rows, SystemLearners, WorkshopSummary};
use crate::storage::StorageError;
use rusqlite::{Connection, Row};

/// Learners per operating system (their current one), most first, the `window` of them.
pub(crate) fn learners_by_system(
    conn: &Connection,
    workshop: Option<&str>,
    window: Rows,
) -> Result<Vec<SystemLearners>, StorageError> {
    let sql = "SELECT pr.system, sum(t.learners) FROM learner_tally t
                 JOIN system_profiles pr ON pr.id = t.profile_id
                WHERE t.workshop = ?1
                GROUP BY 1 HAVING sum(t.learners) > 0 ORDER BY 2 DESC, 1";
    in_workshop(conn, workshop, sql, window, |row| {
        Ok(SystemLearners {
            system: row.get(0)?,
            learners: row.get(1)?,
        })
    })
}

/// Every workshop some learner names, in order, the `window` of them.
pub(crate) fn workshops(conn: &Connection, window: Rows) -> Result<Vec<String>, StorageError> {
    let sql = "SELECT w.name FROM workshop_tally t JOIN workshops w ON w.id = t.workshop
                WHERE t.learners > 0 ORDER BY 1";
    rows_in(conn, sql, Vec::new(), window, |row| row.get(0))
}

/// Learners in a workshop (or all), and those whose latest attempt passed everything: the
/// sums of [`workshop_summaries`], without reading them.
pub(crate) fn learner_totals(
    conn: &Connection,
    workshop: Option<&str>,
) -> Result<(i64, i64), StorageError> {
    let totals = |row: &Row<'_>| Ok((row.get(0)?, row.get(1)?));
    Ok(match workshop {
        None => conn
            .prepare_cached(
                "SELECT coalesce(sum(learners), 0), coalesce(sum(passing), 0)
                   FROM workshop_tally WHERE learners > 0",
            )?
            .query_row([], totals)?,
        Some(name) => conn
            .prepare_cached(
                "SELECT coalesce(sum(t.learners), 0), coalesce(sum(t.passing), 0)
                   FROM workshop_tally t JOIN workshops w ON w.id = t.workshop
                  WHERE w.name = ?1 AND t.learners > 0",
            )?
            .query_row([name], totals)?,
    })
}

/// Learners and passing learners per workshop (one, or all), largest workshop first, the
/// `window` of them.
pub(crate) fn workshop_summaries(
    conn: &Connection,
    workshop: Option<&str>,
    window: Rows,
) -> Result<Vec<WorkshopSummary>, StorageError> {
    let map = |row: &Row<'_>| {
        Ok(WorkshopSummary {
            workshop: row.get(0)?,
            learners: row.get(1)?,
            passing: row.get(2)?,
        })
    };
    match workshop {
        None => rows_in(
            conn,
            "SELECT w.name, t.learners, t.passing FROM workshop_tally t
               LEFT JOIN workshops w ON w.id = t.workshop
              WHERE t.learners > 0 ORDER BY 2 DESC, 1",
            Vec::new(),
            window,
            map,
        ),
        Some(name) => rows_in(
            conn,
            "SELECT w.name, t.learners, t.passing FROM workshop_tally t
               JOIN workshops w ON w.id = t.workshop
              WHERE w.name = ?1 AND t.learners > 0",
            vec![name.to_owned().into()],
            window,
            map,
        ),
    }
}
