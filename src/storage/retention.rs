//! Retention: learners whose latest attempt is older than a cut-off are deleted, each through
//! `delete_learner`, so the tallies lose exactly what they counted. Slices keep one purge from
//! holding the writer (and the learners waiting on it) for long.
//!
//! After every deletion (a purge's slice, `delete-user`, a learner's `--forget`, `workshop
//! delete`, `rebuild-tallies`) the store sweeps: dictionary values no attempt uses any more
//! are deleted, and the WAL is folded into the file and truncated, so that what was deleted
//! is left in neither file (rows and freed pages are zeroed by `secure_delete`).

use super::record::{self, Deleted};
use super::{configure, dictionary, file, timestamp, Role, StorageError, Store, OPEN_PATIENCE};
use rusqlite::{Connection, OpenFlags};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the sweep's checkpoint waits for readers and the writer to let it truncate the WAL.
const CHECKPOINT_PATIENCE: Duration = Duration::from_secs(5);

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
            self.sweep().await;
            deleted += slice;
        }
    }

    /// Deletes the dictionary values that deletions left unused, then folds the WAL into the
    /// database and truncates it. On a connection of its own, with foreign keys off (see
    /// [`dictionary::prune`]); it waits for the writer's lock like any other process. What it
    /// cannot do now (the file busy beyond its patience) stays queued for the next sweep, and
    /// is logged: the deletion it follows has committed either way.
    pub(crate) async fn sweep(&self) {
        let path = self.path.clone();
        let file = self.file.clone();
        let swept = tokio::task::spawn_blocking(move || {
            // Never into another file now at the path, nor a new one where it was deleted.
            file::still_ours(file.as_deref())?;
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&path, flags)?;
            configure(&conn, Role::Writer)?;
            conn.pragma_update(None, "foreign_keys", false)?;
            conn.busy_timeout(OPEN_PATIENCE)?;
            let values = dictionary::prune(&conn)?;
            conn.busy_timeout(CHECKPOINT_PATIENCE)?;
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok::<_, StorageError>((values, busy != 0))
        })
        .await
        .map_err(StorageError::from)
        .and_then(|swept| swept);
        match swept {
            Ok((values, busy)) => {
                log::debug!("deleted {values} dictionary values no attempt uses any more");
                if busy {
                    log::info!(
                        "the WAL could not be truncated after a deletion (the database is \
                         busy); it will be after the next one, or when the server stops"
                    );
                }
            }
            Err(e) => log::warn!(
                "after a deletion, unused values could not be swept (the next deletion or \
                 `rebuild-tallies` sweeps them): {e}"
            ),
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
