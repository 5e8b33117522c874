//! The single writer: a thread that owns the writing connection and commits every job waiting
//! in its queue in one transaction (group commit). One fsync then acknowledges many reports,
//! which is how durability and throughput go together on SQLite. The batch's changes to the
//! tallies are added up while its jobs run and written once, just before the commit.
//!
//! Other processes may write the same file (a second instance, `delete-user`): the writer
//! then waits for their write lock, patiently, rather than fail a learner's report.

use super::dictionary::Dictionary;
use super::file::{still_ours, WatchedFile};
use super::tally::Deltas;
use super::{Cause, StorageError};
use crate::metrics::Metrics;
use rusqlite::Connection;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Jobs that may wait for the writer; beyond it, senders wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;
/// Most jobs committed in one transaction, so one huge burst still commits in slices.
const MAX_BATCH: usize = 512;
/// How long a batch waits in all for another process's write lock (SQLite's busy timeout
/// waits inside each attempt) before its reports are refused as busy. Another instance holds
/// the lock for milliseconds; `rebuild-tallies` on a large file for seconds. Below nginx's
/// 30 s proxy timeout, so the learner hears our answer rather than nginx's.
const WRITE_LOCK_PATIENCE: Duration = Duration::from_secs(20);
/// Pause before a busy `COMMIT` is tried again.
const COMMIT_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// What a job works with: the connection inside the batch's transaction, the dictionaries,
/// and the job's own changes to the tallies (kept only if the job succeeds).
pub(crate) struct Work<'a> {
    pub conn: &'a Connection,
    pub dictionary: &'a mut Dictionary,
    pub deltas: &'a mut Deltas,
}

impl Work<'_> {
    /// The same work, borrowed again: for a job that records several things.
    pub(crate) fn reborrow(&mut self) -> Work<'_> {
        Work {
            conn: self.conn,
            dictionary: &mut *self.dictionary,
            deltas: &mut *self.deltas,
        }
    }
}

/// Runs inside the batch's transaction (or hears why there is none) and returns what to do
/// once the commit is known, with the job's own error if it failed.
type Job = Box<dyn FnOnce(Result<Work<'_>, StorageError>) -> Ran + Send>;
/// Told whether the batch committed; answers the waiting request.
type Completion = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// A job that has run: what to tell its requester, and why it failed, if it did (the cause
/// of a lost transaction, when SQLite rolled the whole batch back after a full disk).
struct Ran {
    complete: Completion,
    failure: Option<StorageError>,
}

/// How the last commit went, and when: `/healthz` trusts a recent success without writing.
type LastCommit = Arc<Mutex<Option<(Instant, Result<(), StorageError>)>>>;

pub(crate) struct Writer {
    /// `None` once closed: later writes fail with [`StorageError::Closed`].
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    last_commit: LastCommit,
}

impl Writer {
    /// Starts the thread that writes through `conn`. With `file`, each batch commits only
    /// while its path still names the file that was opened.
    pub(super) fn start(
        conn: Connection,
        file: Option<Arc<WatchedFile>>,
        metrics: Metrics,
    ) -> Result<Writer, StorageError> {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let last_commit = LastCommit::default();
        let recorder = last_commit.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, file.as_deref(), receiver, &recorder, &metrics))
            .map_err(|e| StorageError::Other(Cause::new("starting the writer", e)))?;
        Ok(Writer {
            queue: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            last_commit,
        })
    }

    /// True when the last batch committed less than `within` ago.
    pub(crate) fn committed_within(&self, within: Duration) -> bool {
        matches!(
            &*self.last_commit.lock().expect("last commit lock"),
            Some((at, Ok(()))) if at.elapsed() < within
        )
    }

    /// Runs `work` in the writer's next transaction; resolves after that transaction commits.
    /// A failing `work` is rolled back alone (a savepoint) with its tally changes, and does
    /// not spoil its batch.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(Work<'_>) -> Result<T, StorageError> + Send + 'static,
    {
        let sender = self
            .queue
            .lock()
            .expect("writer queue lock")
            .clone()
            .ok_or(StorageError::Closed)?;
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |batch| {
            let outcome = batch.and_then(|batch| in_savepoint(batch, work));
            let failure = outcome.as_ref().err().cloned();
            Ran {
                complete: Box::new(move |committed: Result<(), StorageError>| {
                    // The requester may have gone (client hung up): nothing to tell then.
                    let _ = reply.send(committed.and(outcome));
                }),
                failure,
            }
        });
        sender.send(job).await.map_err(|_| StorageError::Closed)?;
        drop(sender);
        answer.await.map_err(|_| StorageError::Closed)?
    }

    /// Refuses new writes, lets the thread commit what is queued, and waits for it to finish.
    pub(crate) fn close(&self) {
        self.queue.lock().expect("writer queue lock").take();
        if let Some(thread) = self.thread.lock().expect("writer thread lock").take() {
            if thread.join().is_err() {
                log::error!("the database writer thread panicked");
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Runs one job in a savepoint of the batch: its rows and its tally changes are kept only if
/// it succeeds.
fn in_savepoint<T>(
    batch: Work<'_>,
    work: impl FnOnce(Work<'_>) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    let Work {
        conn,
        dictionary,
        deltas: batch_deltas,
    } = batch;
    conn.execute_batch("SAVEPOINT job")?;
    let mut deltas = Deltas::default();
    let outcome = work(Work {
        conn,
        dictionary: &mut *dictionary,
        deltas: &mut deltas,
    });
    if outcome.is_ok() {
        conn.execute_batch("RELEASE job")?;
        batch_deltas.merge(deltas);
    } else {
        // After a full disk or an I/O error SQLite may have rolled back the whole batch
        // already; then there is no savepoint left, and the job's own error is the news.
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
        }
        // Ids the job added to the dictionaries are gone with it.
        dictionary.forget();
    }
    outcome
}

/// The writer thread: take what is waiting, commit it together, answer everyone, repeat.
/// Ends when every sender is gone, after the last batch is committed.
fn run(
    conn: Connection,
    file: Option<&WatchedFile>,
    mut queue: mpsc::Receiver<Job>,
    last_commit: &LastCommit,
    metrics: &Metrics,
) {
    let mut dictionary = Dictionary::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let writes = batch.len();
        let committed = commit(&conn, file, &mut dictionary, &mut batch, metrics);
        metrics.batch_committed(writes, started.elapsed());
        *last_commit.lock().expect("last commit lock") = Some((Instant::now(), committed));
    }
    // Fold the WAL back into the database so the file is complete on its own.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        log::warn!("final checkpoint failed: {e}");
    }
    if let Err((_, e)) = conn.close() {
        log::error!("closing the database: {e}");
    }
}

fn commit(
    conn: &Connection,
    file: Option<&WatchedFile>,
    dictionary: &mut Dictionary,
    batch: &mut Vec<Job>,
    metrics: &Metrics,
) -> Result<(), StorageError> {
    // A file deleted or replaced is noticed before the jobs run (SQLite may meet the missing
    // WAL as an I/O error, which would hide why) and again right before the commit.
    let began = still_ours(file).and_then(|()| begin_patiently(conn, batch.len(), metrics));
    if let Err(e) = began {
        // A file that is gone was logged once when it was noticed; every batch fails alike.
        if !matches!(e, StorageError::Gone(_)) {
            log::error!("cannot begin a transaction for {} writes: {e}", batch.len());
        }
        for job in batch.drain(..) {
            // Never run: each requester hears why.
            (job(Err(e.clone())).complete)(Err(e.clone()));
        }
        return Err(e);
    }
    // Values another process (or this one's sweep) deleted must not be referred to again.
    dictionary.refresh(conn);
    let mut deltas = Deltas::default();
    // Set when SQLite rolled the whole transaction back under a job (a full disk, an I/O
    // error): the jobs after it must not run outside any transaction, each committing alone.
    let mut lost: Option<StorageError> = None;
    let completions: Vec<Completion> = batch
        .drain(..)
        .map(|job| {
            if let Some(e) = &lost {
                return job(Err(e.clone())).complete;
            }
            let ran = job(Ok(Work {
                conn,
                dictionary: &mut *dictionary,
                deltas: &mut deltas,
            }));
            if conn.is_autocommit() {
                lost = Some(ran.failure.unwrap_or_else(|| {
                    StorageError::Other("the transaction ended under a job".into())
                }));
            }
            ran.complete
        })
        .collect();
    let committed = match lost {
        Some(e) => Err(e),
        // A commit into a file that was deleted or replaced is lost at the next start:
        // refused instead, right before it would be acknowledged.
        None => deltas
            .apply(conn)
            .and_then(|()| still_ours(file))
            .and_then(|()| commit_patiently(conn)),
    };
    if let Err(e) = &committed {
        if !conn.is_autocommit() {
            if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                log::error!("rolling back a failed batch: {rollback}");
            }
        }
        dictionary.forget();
        if !matches!(e, StorageError::Gone(_)) {
            log::error!(
                "a batch of {} writes failed to commit: {e}",
                completions.len()
            );
        }
    }
    for complete in completions {
        complete(committed.clone());
    }
    committed
}

/// `BEGIN IMMEDIATE`: takes the write lock now (SQLite waits its busy timeout for another
/// process that holds it) rather than fail halfway through the batch when a read turns into
/// a write. While another process keeps the lock, tries again for up to
/// [`WRITE_LOCK_PATIENCE`]: no job has run yet, so trying again is always safe.
fn begin_patiently(
    conn: &Connection,
    writes: usize,
    metrics: &Metrics,
) -> Result<(), StorageError> {
    let started = Instant::now();
    loop {
        match conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StorageError::from)
        {
            Err(StorageError::Busy) if started.elapsed() < WRITE_LOCK_PATIENCE => {
                metrics.write_lock_waited();
                log::warn!(
                    "another process has held the database's write lock for {:.1} s; \
                     {writes} writes wait for it",
                    started.elapsed().as_secs_f64()
                );
            }
            outcome => return outcome,
        }
    }
}

/// `COMMIT`, tried again while SQLite answers busy: the transaction then stays open (in
/// rollback-journal mode a commit waits for readers of other processes; in WAL mode it does
/// not wait at all).
fn commit_patiently(conn: &Connection) -> Result<(), StorageError> {
    let started = Instant::now();
    loop {
        match conn.execute_batch("COMMIT").map_err(StorageError::from) {
            Err(StorageError::Busy)
                if started.elapsed() < WRITE_LOCK_PATIENCE && !conn.is_autocommit() =>
            {
                std::thread::sleep(COMMIT_RETRY_PAUSE);
            }
            outcome => return outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{consistency, Location, StorageError, Store};
    use crate::report::{Failure, Report};

    /// A report whose long, new error text takes room in the database.
    fn report(n: usize) -> Report {
        Report {
            failures: vec![Failure {
                name: format!("package {}", n % 3),
                version: Some(format!("{n}")),
                error_description: Some(format!("{n} {}", "e".repeat(1500))),
            }],
            ..Report::default()
        }
    }

    #[tokio::test]
    async fn a_full_database_refuses_whole_batches_and_takes_writes_again_once_it_has_room() {
        let store = Store::open(&Location::Memory).unwrap();
        store.record(report(0)).await.unwrap();
        let pages: i64 = store
            .writer
            .write(|w| Ok(w.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?))
            .await
            .unwrap();
        let limit = |pages: i64| {
            let writer = &store.writer;
            async move {
                writer
                    .write(move |w| Ok(w.conn.pragma_update(None, "max_page_count", pages)?))
                    .await
            }
        };
        limit(pages + 4).await.unwrap();
        let (mut stored, mut refused) = (1, 0);
        for round in 1..200 {
            // Three at once: one batch, in which SQLite may roll everything back.
            let (a, b, c) = tokio::join!(
                store.record(report(3 * round)),
                store.record(report(3 * round + 1)),
                store.record(report(3 * round + 2))
            );
            for outcome in [a, b, c] {
                match outcome {
                    Ok(_) => stored += 1,
                    Err(StorageError::Full) => refused += 1,
                    Err(e) => panic!("a full database is Full, not {e}"),
                }
            }
            if refused > 0 {
                break;
            }
        }
        assert!(refused > 0, "the database filled up");
        let check = || store.read(|conn| Ok(consistency::check(conn)));
        check().await.unwrap().unwrap();
        assert_eq!(store.totals().await.unwrap().attempts, stored);
        limit(1_000_000).await.unwrap();
        store.record(report(1000)).await.unwrap();
        store.writable().await.unwrap();
        check().await.unwrap().unwrap();
        assert_eq!(store.totals().await.unwrap().attempts, stored + 1);
    }
}
