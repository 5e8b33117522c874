//! Storage: the one module that speaks SQL. A single `Writer` thread owns the only writing
//! connection and commits waiting submissions together (group commit); a pool of read-only
//! connections answers statistics. Handlers see [`Store`] and plain Rust types, never rusqlite.

mod advice;
mod backup;
mod calendar;
mod consistency;
mod dictionary;
mod error;
mod file;
mod fixes;
mod profile;
mod readiness;
mod rebuild;
mod record;
// What every statistic means, which `verify` (`consistency`) holds the tallies to.
mod reference;
mod retention;
mod schema;
mod statistics;
mod stats;
mod tally;
pub(crate) mod timestamp;
mod workshops;
mod writer;

pub use backup::back_up;
pub(crate) use calendar::{DatedWorkshop, WorkshopDay};
pub use consistency::{verify, Difference, VerifyError};
pub use error::{Cause, StorageError};
pub(crate) use readiness::{
    Advice, LearnerOrder, LearnerRow, LearnerWindow, PageRules, RequiredCheck, Standings,
};
pub use record::{Deleted, Receipt};
pub use retention::Purged;
pub use schema::SCHEMA_VERSION;
pub(crate) use stats::{
    CheckFixes, Comparison, Extent, FixOverview, Fixes, Overview, PackageDetail, PackageFilter,
    Rows, Scope, ValueCount, WorkshopSummary,
};
pub(crate) use workshops::HostView;
pub use workshops::{HostedWorkshop, NewWorkshop, Secret};

pub use crate::config::Location;
use crate::metrics::{DatabaseFile, Metrics};
use crate::report::Report;
use r2d2_sqlite::SqliteConnectionManager;
use record::Keys;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use writer::Writer;

/// The advice the straightforward SQL gives for check `name` on `system` in the database at
/// `path`. For the tests (through `testing`).
pub(crate) fn reference_advice(
    path: &Path,
    name: &str,
    system: &str,
) -> Result<Option<crate::report::Advice>, String> {
    consistency::advice_in_file(path, name, system)
}

/// How long a reader waits for a lock before it reports [`StorageError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the writer waits for another process's write lock in one attempt; it then logs
/// the wait and tries again, for as long as its patience lasts (`writer.rs`).
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// Read-only connections for statistics; the machine this runs on has a few cores.
const READERS: u32 = 4;
/// A commit this recent proves the database writable without a probe of its own.
const RECENT_COMMIT: Duration = Duration::from_secs(2);
/// How long a write probe may wait behind the writer's queue before the answer is "busy".
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The database: one writer, a pool of readers.
pub struct Store {
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// A reading connection of `/healthz`'s own: the pool's may all be busy with large
    /// pages, and a health check must not queue behind them.
    health: Arc<Mutex<Connection>>,
    writer: Writer,
    /// The database file as opened, which `/healthz` and every commit check is still there.
    file: Option<Arc<file::WatchedFile>>,
    /// Where the files are, for their sizes in the metrics.
    location: Location,
    /// What SQLite opens: the file's path, or the in-memory database's shared name.
    path: String,
    /// The advice answers give, kept between passes over the fix records (`advice.rs`).
    advice: Arc<advice::AdviceCache>,
}

/// Rows of the original's four tables (learners, attempts, and their packages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // the tables' names
pub struct Totals {
    pub learners: i64,
    pub attempts: i64,
    pub successful_installs: i64,
    pub failed_installs: i64,
}

/// What a connection is for; each role gets its pragmas in [`configure`].
#[derive(Clone, Copy)]
enum Role {
    Writer,
    Reader,
}

/// The per-connection settings, in one place for every connection we open.
fn configure(conn: &Connection, role: Role) -> rusqlite::Result<()> {
    conn.busy_timeout(match role {
        Role::Writer => WRITER_BUSY_TIMEOUT,
        Role::Reader => BUSY_TIMEOUT,
    })?;
    conn.pragma_update(None, "foreign_keys", true)?;
    match role {
        // FULL: a commit is on disk, WAL included, before we acknowledge it. Checkpoints
        // every 10,000 pages (about 40 MiB of WAL) rather than 1,000: fewer, larger
        // checkpoints made ingestion about 30% faster (bench/ingest.sh).
        // temp_store=MEMORY: each job's savepoint journal stays in memory instead of a
        // temporary file (85% of the writer's writes were into it; PERFORMANCE.md).
        // secure_delete: deleted rows and freed pages are overwritten with zeros, so what a
        // forgotten learner sent is not left in the file's free space.
        Role::Writer => {
            conn.pragma_update(None, "secure_delete", true)?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
            conn.pragma_update(None, "temp_store", "MEMORY")
        }
        // temp_store=FILE: the large GROUP BYs of a big database (400,000 failed versions)
        // sort in temporary files rather than in memory (the bundled SQLite's default), so
        // four concurrent pages cost the page cache, not the process's memory.
        Role::Reader => {
            conn.pragma_update(None, "query_only", true)?;
            conn.pragma_update(None, "temp_store", "FILE")
        }
    }
}

/// How long opening waits in all for another process that keeps the file busy.
const OPEN_PATIENCE: Duration = Duration::from_secs(20);

/// The writing connection, the schema brought up to date, in WAL mode.
fn open_writer(path: &str, location: &Location) -> Result<Connection, StorageError> {
    let mut conn = Connection::open(path)?;
    configure(&conn, Role::Writer)?;
    // Before anything changes the file (WAL mode included): an older file is copied aside
    // and migrated in its own journal mode, so a failed migration leaves it as it was.
    schema::migrate(&mut conn, location)?;
    if let Location::File(_) = location {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!("database is in journal mode {mode}, not WAL: readers will wait for writes");
        }
    }
    Ok(conn)
}

/// The readers' connections to the database at `path`. A reader never creates the file: the
/// pool opens connections at any time (one stays idle, others come and go), and one opened
/// after the file was deleted would make a new empty file at its path, which the server would
/// then take for a file put in its place ("replaced" instead of "deleted").
fn readers_of(path: &str, location: &Location) -> SqliteConnectionManager {
    let manager = SqliteConnectionManager::file(path);
    let manager = match location {
        Location::File(_) => manager.with_flags(
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ),
        Location::Memory => manager,
    };
    manager.with_init(|c| configure(c, Role::Reader))
}

impl Store {
    /// Opens a database that must already exist (for commands that act on one: a mistyped
    /// path is an error, not a new empty file).
    pub fn open_existing(location: &Location) -> Result<Store, StorageError> {
        if let Location::File(path) = location {
            if !path.is_file() {
                return Err(StorageError::NoDatabase(path.clone()));
            }
        }
        Store::open(location)
    }

    /// Opens (creating or migrating) the database and starts the writer thread.
    pub fn open(location: &Location) -> Result<Store, StorageError> {
        Store::open_with_metrics(location, Metrics::new())
    }

    /// As [`Store::open`], with the writer recording its batches into `metrics`.
    pub fn open_with_metrics(location: &Location, metrics: Metrics) -> Result<Store, StorageError> {
        // Every connection of one in-memory store shares one memdb database by name.
        let path = match location {
            Location::File(path) => path.to_string_lossy().into_owned(),
            Location::Memory => format!("file:/ras-{}?vfs=memdb", uuid::Uuid::new_v4()),
        };
        // Another process busy with the file (a second instance starting or committing, a
        // checkpoint) is waited for, as the writer waits for its lock, rather than refused.
        let started = std::time::Instant::now();
        let conn = loop {
            match open_writer(&path, location) {
                Err(StorageError::Busy) if started.elapsed() < OPEN_PATIENCE => {
                    log::warn!("the database is busy in another process; opening it again");
                    std::thread::sleep(Duration::from_millis(100));
                }
                outcome => break outcome?,
            }
        };
        let manager = readers_of(&path, location);
        let readers = r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| StorageError::Other(Cause::new("opening readers", e)))?;
        let health = Connection::open(&path)?;
        configure(&health, Role::Reader)?;
        let file = match location {
            Location::File(path) => file::WatchedFile::new(path)?.map(Arc::new),
            Location::Memory => None,
        };
        Ok(Store {
            readers,
            health: Arc::new(Mutex::new(health)),
            writer: Writer::start(conn, file.clone(), metrics)?,
            file,
            location: location.clone(),
            path,
            advice: Arc::default(),
        })
    }

    /// Stores one report; resolves once it is committed (durable), with the learner's key.
    pub async fn record(&self, report: Report) -> Result<Receipt, StorageError> {
        self.writer
            .write(move |work| record::record_attempt(work, &report, None, Keys::Issue))
            .await
    }

    /// Imports many reports in one transaction, each with the time it was received (stored
    /// form, `YYYY-MM-DD HH:MM:SS.SSS`). Unlike [`Store::record`], a key not yet known
    /// creates its learner under that very key: for `generate` and for imports, never for
    /// what learners send.
    pub async fn import(
        &self,
        reports: Vec<(Report, String)>,
    ) -> Result<Vec<Receipt>, StorageError> {
        self.writer
            .write(move |mut work| {
                reports
                    .iter()
                    .map(|(report, at)| {
                        record::record_attempt(work.reborrow(), report, Some(at), Keys::Adopt)
                    })
                    .collect()
            })
            .await
    }

    /// Deletes a learner and, by the foreign keys' cascade, their attempts and packages.
    pub async fn delete_user(&self, key: String) -> Result<Deleted, StorageError> {
        let deleted = self
            .writer
            .write(move |work| record::delete_user(work, &key))
            .await?;
        self.sweep().await;
        Ok(deleted)
    }

    /// Registers a workshop (its title and checks); answers the private link's secret, which
    /// is stored only as a hash. [`StorageError::Exists`] when it is registered already.
    pub async fn create_workshop(&self, new: NewWorkshop) -> Result<Secret, StorageError> {
        self.writer
            .write(move |work| workshops::create(work, &new))
            .await
    }

    /// Replaces a workshop's secret: the old link stops working as this commits.
    pub async fn renew_workshop_link(&self, name: String) -> Result<Secret, StorageError> {
        self.writer
            .write(move |work| workshops::renew_link(work, &name))
            .await
    }

    /// Unregisters a workshop and deletes, by cascade, every learner whose current workshop
    /// it is with all they sent. [`StorageError::NotFound`] when it is not registered.
    pub async fn delete_workshop(&self, name: String) -> Result<Deleted, StorageError> {
        let deleted = self
            .writer
            .write(move |work| workshops::delete(work, &name))
            .await?;
        self.sweep().await;
        Ok(deleted)
    }

    /// Every registered workshop.
    pub async fn workshops(&self) -> Result<Vec<HostedWorkshop>, StorageError> {
        self.read(workshops::list).await
    }

    /// One registered workshop, or `None`.
    pub async fn workshop(&self, name: String) -> Result<Option<HostedWorkshop>, StorageError> {
        self.read(move |conn| workshops::find(conn, &name)).await
    }

    /// The host's page of `name`, when `secret` is its current one; `None` otherwise, the
    /// same for an unknown workshop, a wrong secret and a replaced one. Its learners are
    /// judged against the checks it requires by `rules`, and the `window` of their table is
    /// read (see [`readiness::standings`]).
    pub(crate) async fn host_view(
        &self,
        name: String,
        secret: String,
        window: LearnerWindow,
        rules: Box<dyn PageRules>,
    ) -> Result<Option<HostView>, StorageError> {
        self.read(move |conn| {
            if !workshops::admits(conn, &name, &secret)? {
                return Ok(None);
            }
            let Some(workshop) = workshops::find(conn, &name)? else {
                return Ok(None);
            };
            let required = rules.required(workshop.checks.as_deref());
            let zone = workshop.time_zone.as_deref().and_then(|name| {
                let zone = timestamp::zone(name);
                if zone.is_none() {
                    log::warn!("time zone {name} is not in the system's tzdb: the page shows UTC");
                }
                zone
            });
            let today = timestamp::local_day(Some(&timestamp::now()), zone.as_ref());
            let standings = readiness::standings(
                conn,
                &name,
                &required,
                &window,
                &*rules,
                today,
                zone.as_ref(),
            )?;
            Ok(Some(HostView {
                workshop,
                required,
                standings,
            }))
        })
        .await
    }

    /// Recomputes every tally from the raw rows: after rows were edited by hand with SQL.
    ///
    /// On a connection of its own, in one transaction of its own, with temporary storage on
    /// disk: inside the writer's batch it would run under a job's savepoint, whose journal
    /// the writer keeps in memory (hundreds of MiB, and slower with every statement, for a
    /// million reports). It takes the write lock for as long as it runs; the writer waits.
    pub async fn rebuild_tallies(&self) -> Result<(), StorageError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = Connection::open(&path)?;
            configure(&conn, Role::Writer)?;
            conn.pragma_update(None, "temp_store", "FILE")?;
            conn.busy_timeout(OPEN_PATIENCE)?;
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            rebuild::everything(&tx, &mut dictionary::Dictionary::default())?;
            tx.commit()?;
            Ok::<_, StorageError>(())
        })
        .await??;
        // Values of learners deleted by hand are unused now: they go too.
        self.sweep().await;
        Ok(())
    }

    /// Runs a read-only query on a pooled connection, off the async threads.
    pub(crate) async fn read<T, F>(&self, query: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool
                .get()
                .map_err(|e| StorageError::Other(Cause::new("no reader available", e)))?;
            query(&conn)
        })
        .await?
    }

    /// How many rows each table holds.
    pub async fn totals(&self) -> Result<Totals, StorageError> {
        self.read(|conn| {
            let count = |table: &str| {
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            };
            Ok(Totals {
                learners: count("user_system_info")?,
                attempts: count("submissions")?,
                successful_installs: conn.query_row(
                    "SELECT coalesce(sum(json_array_length(successes)), 0) FROM submissions",
                    [],
                    |r| r.get(0),
                )?,
                failed_installs: count("submission_failures")?,
            })
        })
        .await
    }

    /// Records the sizes of the database's files into `metrics` (nothing for an in-memory
    /// database; a WAL that is not there counts as empty).
    pub fn measure(&self, metrics: &Metrics) {
        if let Location::File(path) = &self.location {
            let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            metrics.database_size(DatabaseFile::Main, size(path));
            metrics.database_size(DatabaseFile::Wal, size(std::path::Path::new(&wal)));
        }
    }

    /// Checks that the database can be read (for `/healthz`), on a connection of its own
    /// rather than the readers' pool, and that it is still the file that was opened (reading
    /// a deleted one fails with an I/O error that would not say why).
    pub async fn ping(&self) -> Result<(), StorageError> {
        file::still_ours(self.file.as_deref())?;
        let health = self.health.clone();
        tokio::task::spawn_blocking(move || {
            let conn = health
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Ok(conn
                .query_row("SELECT 1 FROM sqlite_schema LIMIT 1", [], |_| Ok(()))
                .optional()
                .map(|_| ())?)
        })
        .await?
    }

    /// Checks that a write can be committed (for `/healthz`): the database file is still the
    /// one opened; then a commit from the last two seconds is trusted, and otherwise a write
    /// that changes nothing but is a real one is committed (the header page rewritten with the
    /// same schema version), so a full disk or a file system that turned read-only shows here
    /// and not only in failing submissions.
    pub async fn writable(&self) -> Result<(), StorageError> {
        // A recent commit proves nothing once the file was deleted or replaced.
        file::still_ours(self.file.as_deref())?;
        if self.writer.committed_within(RECENT_COMMIT) {
            return Ok(());
        }
        let probe = self.writer.write(|work| {
            let version: i64 = work
                .conn
                .pragma_query_value(None, "user_version", |r| r.get(0))?;
            Ok(work.conn.pragma_update(None, "user_version", version)?)
        });
        tokio::time::timeout(PROBE_TIMEOUT, probe)
            .await
            .map_err(|_| StorageError::Busy)?
    }

    /// Stops taking writes, commits what is queued, and closes the writing connection.
    /// Blocks until the writer thread is done.
    pub fn close(&self) {
        self.writer.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader opened after the database file was deleted fails and leaves nothing at the
    /// path: before, it made a new empty file there, and `/healthz` said "replaced" for a
    /// deleted file whenever the pool happened to open a connection in between (a flaky
    /// `operations::a_database_file_deleted_or_moved_while_serving_is_noticed`).
    #[test]
    fn a_reader_never_creates_the_database_file() {
        use r2d2::ManageConnection;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gone.db");
        let location = Location::File(db.clone());
        let manager = readers_of(&db.to_string_lossy(), &location);
        assert!(manager.connect().is_err());
        assert!(!db.exists(), "a reader made {}", db.display());
    }

    /// Issue 11, item 2: four slow `/view/` requests made `/healthz` wait 6.5 s for the
    /// readers' pool. Its read has a connection of its own now: it answers while every
    /// pooled reader is held.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_health_check_does_not_wait_for_the_readers() {
        let store = Arc::new(Store::open(&Location::Memory).unwrap());
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let (held, all_held) = tokio::sync::mpsc::unbounded_channel();
        let busy: Vec<_> = (0..READERS)
            .map(|_| {
                let (store, released, held) = (store.clone(), released.clone(), held.clone());
                tokio::spawn(async move {
                    store
                        .read(move |_| {
                            held.send(()).unwrap();
                            let _ = released.lock().unwrap().recv();
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        let mut all_held = all_held;
        for _ in 0..READERS {
            all_held.recv().await.unwrap();
        }
        let ping = tokio::time::timeout(Duration::from_secs(120), store.ping()).await;
        for _ in 0..READERS {
            release.send(()).unwrap();
        }
        for read in busy {
            read.await.unwrap().unwrap();
        }
        ping.expect("the health check does not wait").unwrap();
    }
}
