//! Fixes and percentiles: what happened to a check's failures (learners who fixed it, are
//! stuck, how long fixing took and with what), and "What gets fixed" over every check.

use super::sql::{rows, rows_in, workshop_key};
use crate::storage::dictionary::ALL_WORKSHOPS;
use crate::storage::fixes::bucket_range;
use crate::storage::stats::{percentile_rank, CheckFixes, Fixes, Rows, SystemFixes};
use crate::storage::StorageError;
use rusqlite::{params, Connection, OptionalExtension};

/// The id of a check's name; `None` when nobody ever failed or passed it.
fn name_key(conn: &Connection, name: &str) -> Result<Option<i64>, StorageError> {
    Ok(conn
        .prepare_cached("SELECT id FROM check_names WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?)
}

/// Per operating system: learners who failed a check, fixed it, are stuck with it.
fn fixes_by_system(
    conn: &Connection,
    workshop: i64,
    name: i64,
    window: Rows,
) -> Result<Vec<SystemFixes>, StorageError> {
    let sql = "SELECT pr.system, sum(t.failed), sum(t.fixed), sum(t.stuck) FROM fix_tally t
                 JOIN system_profiles pr ON pr.id = t.profile_id
                WHERE t.workshop = ?1 AND t.name_id = ?2
                GROUP BY 1 HAVING sum(t.failed) > 0 ORDER BY 2 DESC, 1";
    rows_in(
        conn,
        sql,
        vec![workshop.into(), name.into()],
        window,
        |row| {
            Ok(SystemFixes {
                system: row.get(0)?,
                failed: row.get(1)?,
                fixed: row.get(2)?,
                stuck: row.get(3)?,
            })
        },
    )
}

/// Nearest-rank percentiles of a check's times to fix, each `(numerator, denominator)`, read
/// exactly from the times in order (a partial index of `learner_checks`). One workshop's few
/// fixes are walked directly; for all workshops together the histogram of `fix_time_tally`
/// first finds the bucket that holds the rank, so only that bucket's times are walked.
fn percentiles(
    conn: &Connection,
    workshop: i64,
    name: i64,
    fractions: &[(i64, i64)],
) -> Result<Vec<Option<i64>>, StorageError> {
    // `(bucket, fixes)` in order: the whole range in one piece for one workshop.
    let histogram: Vec<(Option<i64>, i64)> = if workshop == ALL_WORKSHOPS {
        rows(
            conn,
            "SELECT bucket, fixes FROM fix_time_tally WHERE workshop = ?1 AND name_id = ?2
              ORDER BY bucket",
            vec![workshop.into(), name.into()],
            |row| Ok((Some(row.get(0)?), row.get(1)?)),
        )?
    } else {
        let fixes: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM learner_checks INDEXED BY learner_checks_by_workshop_time
                  WHERE workshop = ?1 AND name_id = ?2 AND seconds_to_fix IS NOT NULL",
            )?
            .query_row(params![workshop, name], |r| r.get(0))?;
        vec![(None, fixes)]
    };
    let n: i64 = histogram.iter().map(|(_, fixes)| fixes).sum();
    let within = if workshop == ALL_WORKSHOPS {
        "SELECT seconds_to_fix FROM learner_checks INDEXED BY learner_checks_by_time
          WHERE name_id = ?2 AND seconds_to_fix IS NOT NULL
            AND seconds_to_fix >= ?3 AND seconds_to_fix < ?4
          ORDER BY seconds_to_fix LIMIT 1 OFFSET ?5"
    } else {
        "SELECT seconds_to_fix FROM learner_checks INDEXED BY learner_checks_by_workshop_time
          WHERE workshop = ?1 AND name_id = ?2 AND seconds_to_fix IS NOT NULL
            AND seconds_to_fix >= ?3 AND seconds_to_fix < ?4
          ORDER BY seconds_to_fix LIMIT 1 OFFSET ?5"
    };
    let mut values = Vec::with_capacity(fractions.len());
    for &(numerator, denominator) in fractions {
        if n == 0 {
            values.push(None);
            continue;
        }
        let rank = percentile_rank(n, numerator, denominator);
        let mut below = 0;
        let mut found = None;
        for &(bucket, fixes) in &histogram {
            if below + fixes >= rank {
                let (low, high) = bucket.map_or((i64::MIN, i64::MAX), bucket_range);
                found = conn
                    .prepare_cached(within)?
                    .query_row(params![workshop, name, low, high, rank - below - 1], |r| {
                        r.get(0)
                    })
                    .optional()?;
                break;
            }
            below += fixes;
        }
        values.push(found);
    }
    Ok(values)
}

/// What fixed a check, in one workshop or all, with the `window` of its lists (systems,
/// versions); the totals are all the learners'.
pub(crate) fn check_fixes(
    conn: &Connection,
    name: &str,
    workshop: Option<&str>,
    window: Rows,
) -> Result<Fixes, StorageError> {
    let (Some(workshop), Some(name)) = (workshop_key(conn, workshop)?, name_key(conn, name)?)
    else {
        return Ok(Fixes::default());
    };
    let by_system = fixes_by_system(conn, workshop, name, window)?;
    let (failed_learners, fixed_learners, stuck_learners) = conn
        .prepare_cached(
            "SELECT coalesce(sum(failed), 0), coalesce(sum(fixed), 0), coalesce(sum(stuck), 0)
               FROM fix_tally WHERE workshop = ?1 AND name_id = ?2",
        )?
        .query_row(params![workshop, name], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    let times = percentiles(conn, workshop, name, &[(1, 2), (9, 10)])?;
    let fixed_with = rows_in(
        conn,
        "SELECT p.version, sum(t.fixes) FROM fix_version_tally t
           JOIN packages p ON p.id = t.package_id
          WHERE t.workshop = ?1 AND t.name_id = ?2
          GROUP BY 1 HAVING sum(t.fixes) > 0 ORDER BY 2 DESC, 1",
        vec![workshop.into(), name.into()],
        window,
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(Fixes {
        failed_learners,
        fixed_learners,
        stuck_learners,
        median_seconds_to_fix: times[0],
        p90_seconds_to_fix: times[1],
        fixed_with,
        by_system,
    })
}

/// "What gets fixed": every check at least `min_failed` learners failed, most stuck first,
/// the `window` of them. The order, totals, worst system and median come from SQL for the
/// checks in the window, so no list of every check is ever read.
pub(crate) fn fix_overview(
    conn: &Connection,
    workshop: Option<&str>,
    min_failed: i64,
    window: Rows,
) -> Result<Vec<CheckFixes>, StorageError> {
    let Some(workshop) = workshop_key(conn, workshop)? else {
        return Ok(Vec::new());
    };
    // Most stuck first: the ratio as a double, which is the same for equal fractions.
    let totals: Vec<(i64, CheckFixes)> = rows_in(
        conn,
        "SELECT t.name_id, n.name, sum(t.failed), sum(t.fixed), sum(t.stuck) FROM fix_tally t
           JOIN check_names n ON n.id = t.name_id
          WHERE t.workshop = ?1
          GROUP BY 1 HAVING sum(t.failed) > 0 AND sum(t.failed) >= ?2
          ORDER BY CAST(sum(t.stuck) AS REAL) / sum(t.failed) DESC, 3 DESC, 2",
        vec![workshop.into(), min_failed.into()],
        window,
        |row| {
            Ok((
                row.get(0)?,
                CheckFixes {
                    name: row.get(1)?,
                    failed_learners: row.get(2)?,
                    fixed_learners: row.get(3)?,
                    stuck_learners: row.get(4)?,
                    median_seconds_to_fix: None,
                    worst_system: None,
                },
            ))
        },
    )?;
    let mut checks = Vec::with_capacity(totals.len());
    for (id, mut check) in totals {
        check.median_seconds_to_fix = percentiles(conn, workshop, id, &[(1, 2)])?[0];
        check.worst_system = conn
            .prepare_cached(
                "SELECT pr.system, sum(t.failed), sum(t.fixed), sum(t.stuck) FROM fix_tally t
                   JOIN system_profiles pr ON pr.id = t.profile_id
                  WHERE t.workshop = ?1 AND t.name_id = ?2
                  GROUP BY 1 HAVING sum(t.failed) >= ?3 AND sum(t.stuck) > 0
                  ORDER BY CAST(sum(t.stuck) AS REAL) / sum(t.failed) DESC, 2 DESC, 1
                  LIMIT 1",
            )?
            .query_row(params![workshop, id, min_failed], |row| {
                Ok(SystemFixes {
                    system: row.get(0)?,
                    failed: row.get(1)?,
                    fixed: row.get(2)?,
                    stuck: row.get(3)?,
                })
            })
            .optional()?;
        checks.push(check);
    }
    Ok(checks)
}
