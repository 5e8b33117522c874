//! The single writer: a thread that owns the writing connection and commits every submission
//! waiting in its queue in one transaction (group commit). One fsync then acknowledges many
//! reports, which is how durability and throughput go together on SQLite.

use super::StorageError;
use rusqlite::Connection;
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Submissions that may wait for the writer; beyond it, senders wait (back-pressure).
const QUEUE_DEPTH: usize = 4096;
/// Most jobs committed in one transaction, so one huge burst still commits in slices.
const MAX_BATCH: usize = 512;

/// Runs inside the batch's transaction and returns what to do once the commit is known.
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;
/// Told whether the batch committed; answers the waiting request.
type Completion = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

pub struct Writer {
    /// `None` once closed: later writes fail with [`StorageError::Closed`].
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub fn start(conn: Connection) -> Result<Writer, StorageError> {
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
    /// A failing `work` is rolled back alone (a savepoint) and does not spoil its batch.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let sender = self
            .queue
            .lock()
            .expect("writer queue lock")
            .clone()
            .ok_or(StorageError::Closed)?;
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let outcome = in_savepoint(conn, work);
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
    pub fn close(&self) {
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

fn in_savepoint<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    conn.execute_batch("SAVEPOINT job")?;
    let outcome = work(conn);
    let end = if outcome.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end)?;
    outcome
}

/// The writer thread: take what is waiting, commit it together, answer everyone, repeat.
/// Ends when every sender is gone, after the last batch is committed.
fn run(mut conn: Connection, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&mut conn, &mut batch);
    }
    // Fold the WAL back into the database so the file is complete on its own.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        log::warn!("final checkpoint failed: {e}");
    }
    if let Err((_, e)) = conn.close() {
        log::error!("closing the database: {e}");
    }
}

fn commit(conn: &mut Connection, batch: &mut Vec<Job>) {
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            // Dropping the jobs drops their reply channels: each requester hears "closed".
            log::error!("cannot begin a transaction for {} writes: {e}", batch.len());
            batch.clear();
            return;
        }
    };
    let completions: Vec<Completion> = batch.drain(..).map(|job| job(&tx)).collect();
    let committed = tx.commit().map_err(StorageError::from);
    if let Err(e) = &committed {
        log::error!(
            "a batch of {} writes failed to commit: {e}",
            completions.len()
        );
    }
    for complete in completions {
        complete(committed.clone());
    }
}
