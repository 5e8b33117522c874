//! Learners and workshops: learners per operating system, the workshops named, and each
//! workshop's learners and passing learners.

use crate::storage::stats::{SystemLearners, WorkshopSummary};
use crate::storage::StorageError;
use rusqlite::Connection;

/// Learners per operating system (learners, not attempts), most first.
pub(crate) fn learners_by_system(
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

/// Every workshop some learner named, in order.
pub(crate) fn workshops(conn: &Connection) -> Result<Vec<String>, StorageError> {
    let mut statement = conn.prepare_cached(
        "SELECT DISTINCT workshop_id FROM user_system_info
         WHERE workshop_id IS NOT NULL ORDER BY workshop_id",
    )?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Learners and passing learners per workshop (one, or all), largest workshop first.
pub(crate) fn workshop_summaries(
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
