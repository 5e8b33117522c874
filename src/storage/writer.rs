//! The single writer: a thread that owns the writing connection and commits every job waiting
//! in its queue in one transaction (group commit). One fsync then acknowledges many reports,
//! which is how durability and throughput go together on SQLite. The batch's changes to the
//! tallies are added up while its jobs run and written once, just before the commit.
//!
//! Other processes may write the same file (a second instance, `delete-user`): the writer
//! then waits for their write lock, patiently, rather than fail a learner's report.

use super::dictionary::Dictionary;
use super::tally::Deltas;
use super::StorageError;
use crate::metrics::Metrics;
use rusqlite::Connection;
use std::sync::Mutex;
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
/// once the commit is known.
type Job = Box<dyn FnOnce(Result<Work<'_>, StorageError>) -> Completion + Send>;
/// Told whether the batch committed; answers the waiting request.
type Completion = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

pub(crate) struct Writer {
    /// `None` once closed: later writes fail with [`StorageError::Closed`].
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(crate) fn start(conn: Connection, metrics: Metrics) -> Result<Writer, StorageError> {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, receiver, &metrics))
            .map_err(|e| StorageError::Other(format!("starting the writer: {e}")))?;
        Ok(Writer {
            queue: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
        })
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
            Box::new(move |committed: Result<(), StorageError>| {
                // The requester may have gone (client hung up): nothing to tell then.
                let _ = reply.send(committed.and(outcome));
            })
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
        conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
        // Ids the job added to the dictionaries are gone with it.
        dictionary.forget();
    }
    outcome
}

/// The writer thread: take what is waiting, commit it together, answer everyone, repeat.
/// Ends when every sender is gone, after the last batch is committed.
fn run(conn: Connection, mut queue: mpsc::Receiver<Job>, metrics: &Metrics) {
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
        commit(&conn, &mut dictionary, &mut batch, metrics);
        metrics.batch_committed(writes, started.elapsed());
    }
    // Fold the WAL back into the database so the file is complete on its own.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        log::warn!("final checkpoint failed: {e}");
    }
    if let Err((_, e)) = conn.close() {
        log::error!("closing the database: {e}");
    }
}

fn commit(conn: &Connection, dictionary: &mut Dictionary, batch: &mut Vec<Job>, metrics: &Metrics) {
    if let Err(e) = begin_patiently(conn, batch.len(), metrics) {
        log::error!("cannot begin a transaction for {} writes: {e}", batch.len());
        for job in batch.drain(..) {
            // Never run: each requester hears why.
            job(Err(e.clone()))(Err(e.clone()));
        }
        return;
    }
    let mut deltas = Deltas::default();
    let completions: Vec<Completion> = batch
        .drain(..)
        .map(|job| {
            job(Ok(Work {
                conn,
                dictionary: &mut *dictionary,
                deltas: &mut deltas,
            }))
        })
        .collect();
    let committed = deltas.apply(conn).and_then(|()| commit_patiently(conn));
    if let Err(e) = &committed {
        if !conn.is_autocommit() {
            if let Err(rollback) = conn.execute_batch("ROLLBACK") {
                log::error!("rolling back a failed batch: {rollback}");
            }
        }
        dictionary.forget();
        log::error!(
            "a batch of {} writes failed to commit: {e}",
            completions.len()
        );
    }
    for complete in completions {
        complete(committed.clone());
    }
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
