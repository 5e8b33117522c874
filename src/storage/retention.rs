//! Retention: learners whose latest attempt is older than a cut-off are deleted, each through
//! `delete_learner`, so the tallies lose exactly what they counted. Slices keep one purge from
//! holding the writer (and the learners waiting on it) for long.

use super::record::{self, Deleted};
use super::{timestamp, StorageError, Store};
use rusqlite::Connection;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Learners deleted per transaction.
const SLICE: i64 = 500;

/// The learners a purge selects: latest attempt (or, without one, the learner's own row)
/// received before `?1`.
const STALE: &str = "SELECT u.id FROM user_system_info u
                       LEFT JOIN submissions s ON s.id = u.latest_attempt_id
                      WHERE coalesce(s.create_time, u.create_time) < ?1";

/// What a purge removed, or would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purged {
    /// The cut-off, as stored (`YYYY-MM-DD HH:MM:SS.SSS`, UTC).
    pub before: String,
    /// Rows deleted (or that would be).
    pub deleted: Deleted,
}

impl Store {
    /// Deletes every learner whose latest attempt is older than `age`, with their attempts
    /// and packages; with `dry_run`, only counts them.
    pub async fn purge(&self, age: Duration, dry_run: bool) -> Result<Purged, StorageError> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let before = timestamp::at(since_epoch.saturating_sub(age));
        if dry_run {
            let cutoff = before.clone();
            let deleted = self.read(move |conn| count_stale(conn, &cutoff)).await?;
            return Ok(Purged { before, deleted });
        }
        let mut deleted = Deleted::default();
        loop {
            let cutoff = before.clone();
            let slice = self
                .writer
                .write(move |mut work| {
                    let ids: Vec<i64> = work
                        .conn
                        .prepare_cached(&format!("{STALE} LIMIT ?2"))?
                        .query_map(rusqlite::params![cutoff, SLICE], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    let mut slice = Deleted::default();
                    for id in ids {
                        slice += record::delete_learner(work.reborrow(), id)?;
                    }
                    Ok(slice)
                })
                .await?;
            if slice.learners == 0 {
                return Ok(Purged { before, deleted });
            }
            deleted += slice;
        }
    }
}

fn count_stale(conn: &Connection, before: &str) -> Result<Deleted, StorageError> {
    Ok(conn.query_row(
        &format!(
            "WITH stale(id) AS ({STALE}),
                  attempts AS (SELECT id, successes FROM submissions
                                WHERE user_id IN (SELECT id FROM stale))
             SELECT (SELECT count(*) FROM stale), (SELECT count(*) FROM attempts),
                    (SELECT coalesce(sum(json_array_length(successes)), 0) FROM attempts),
                    (SELECT count(*) FROM submission_failures
                      WHERE submission_id IN (SELECT id FROM attempts))"
        ),
        [before],
        |r| {
            Ok(Deleted {
                learners: r.get(0)?,
                attempts: r.get(1)?,
                successful_installs: r.get(2)?,
                failed_installs: r.get(3)?,
            })
        },
    )?)
}
