//! The single writer: a thread that owns the writing connection and commits every job waiting
//! in its queue in one transaction (group commit). One fsync then acknowledges many reports,
//! which is how durability and throughput go together on SQLite. The batch's changes to the
//! tallies are added up while its jobs run and written once, just before the commit.

use super::dictionary::Dictionary;
use super::tally::Deltas;
use super::StorageError;
use rusqlite::Connection;
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Jobs that may wait for the writer; beyond it, senders wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;
/// Most jobs committed in one transaction, so one huge burst still commits in slices.
const MAX_BATCH: usize = 512;

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
    pub(crate) fn start(conn: Connection) -> Result<Writer, StorageError> {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, receiver))
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
fn run(mut conn: Connection, mut queue: mpsc::Receiver<Job>) {
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
        commit(&mut conn, &mut dictionary, &mut batch);
    }
    // Fold the WAL back into the database so the file is complete on its own.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        log::warn!("final checkpoint failed: {e}");
    }
    if let Err((_, e)) = conn.close() {
        log::error!("closing the database: {e}");
    }
}

fn commit(conn: &mut Connection, dictionary: &mut Dictionary, batch: &mut Vec<Job>) {
    // IMMEDIATE: take the write lock now (waiting up to the busy timeout for another process
    // that holds it), rather than fail halfway through the batch when a read turns into a write.
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StorageError::from(e);
            log::error!("cannot begin a transaction for {} writes: {e}", batch.len());
            for job in batch.drain(..) {
                // Never run: each requester hears why.
                job(Err(e.clone()))(Err(e.clone()));
            }
            return;
        }
    };
    let mut deltas = Deltas::default();
    let completions: Vec<Completion> = batch
        .drain(..)
        .map(|job| {
            job(Ok(Work {
                conn: &tx,
                dictionary: &mut *dictionary,
                deltas: &mut deltas,
            }))
        })
        .collect();
    let committed = deltas
        .apply(&tx)
        .and_then(|()| tx.commit().map_err(StorageError::from));
    if let Err(e) = &committed {
        // The transaction is rolled back (dropping it does that if the commit did not run).
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
