//! What went wrong in storage, in terms a handler can turn into an answer, with the error
//! that caused it kept for `source()`.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// What went wrong in storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The thing asked for does not exist (a learner's key, say).
    NotFound,
    /// The thing to create exists already (a registered workshop, say).
    Exists,
    /// A command that acts on an existing database was pointed at a file that is not there.
    NoDatabase(std::path::PathBuf),
    /// Locked by another process for longer than the busy timeout.
    Busy,
    /// The disk or the database is full.
    Full,
    /// The operating system failed to read or write the file (a failing disk, a file system
    /// remounted read-only).
    Io(Cause),
    /// The file is not a database we can read, or it is damaged.
    Corrupt(Cause),
    /// The database file's path no longer names the file the server opened (`deleted` or
    /// `replaced` while it ran): what it commits would be lost at the next start.
    Gone(&'static str),
    /// The writer has stopped: the server is shutting down.
    Closed,
    /// The task doing the work panicked or was cancelled before it finished.
    Interrupted(Cause),
    /// Anything else SQLite reported.
    Other(Cause),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotFound => f.write_str("not found"),
            StorageError::Exists => f.write_str("exists already"),
            StorageError::NoDatabase(path) => {
                write!(f, "there is no database at {} (check --db)", path.display())
            }
            StorageError::Busy => f.write_str("database is busy"),
            StorageError::Full => f.write_str("database or disk is full"),
            StorageError::Io(why) => write!(f, "database file cannot be written: {why}"),
            StorageError::Corrupt(why) => write!(f, "database is unreadable: {why}"),
            StorageError::Gone(why) => write!(
                f,
                "the database file was {why} while the server ran; nothing is stored until an \
                 admin puts it back and restarts the server"
            ),
            StorageError::Closed => f.write_str("database is closed"),
            StorageError::Interrupted(why) => write!(f, "storage task interrupted: {why}"),
            StorageError::Other(why) => write!(f, "{why}"),
        }
    }
}

impl Error for StorageError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            StorageError::Io(cause)
            | StorageError::Corrupt(cause)
            | StorageError::Interrupted(cause)
            | StorageError::Other(cause) => cause.source(),
            StorageError::NotFound
            | StorageError::Exists
            | StorageError::NoDatabase(_)
            | StorageError::Busy
            | StorageError::Full
            | StorageError::Gone(_)
            | StorageError::Closed => None,
        }
    }
}

/// Why storage failed: what it was doing, and the error that stopped it, kept whole for
/// [`Error::source`] (shared, so that one failed batch's error clones to each of its jobs).
/// Shown as `context: source`, or either alone.
#[derive(Debug, Clone)]
pub struct Cause {
    /// What storage was doing ("reading /var/lib/x.db"); the whole story when no other
    /// error caused it.
    context: String,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

impl Cause {
    /// `source`, met while doing `context`.
    pub fn new(context: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Cause {
        Cause {
            context: context.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// `source`, with nothing to add.
    pub fn of(source: impl Error + Send + Sync + 'static) -> Cause {
        Cause::new(String::new(), source)
    }

    /// The error that caused it, when another error did.
    pub fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn Error + 'static))
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) if self.context.is_empty() => write!(f, "{source}"),
            Some(source) => write!(f, "{}: {source}", self.context),
            None => f.write_str(&self.context),
        }
    }
}

/// A cause told in words only, when no other error caused it.
impl From<String> for Cause {
    fn from(context: String) -> Cause {
        Cause {
            context,
            source: None,
        }
    }
}

impl From<&str> for Cause {
    fn from(context: &str) -> Cause {
        Cause::from(context.to_owned())
    }
}

/// Two causes are the same when they read the same (errors of other kinds cannot be
/// compared otherwise).
impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        self.to_string() == other.to_string() && self.source.is_some() == other.source.is_some()
    }
}

impl Eq for Cause {}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        match e.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => StorageError::Busy,
            Some(DiskFull) => StorageError::Full,
            Some(SystemIoFailure | ReadOnly) => StorageError::Io(Cause::of(e)),
            Some(DatabaseCorrupt | NotADatabase) => StorageError::Corrupt(Cause::of(e)),
            _ if matches!(e, rusqlite::Error::QueryReturnedNoRows) => StorageError::NotFound,
            _ => StorageError::Other(Cause::of(e)),
        }
    }
}

impl From<tokio::task::JoinError> for StorageError {
    fn from(e: tokio::task::JoinError) -> Self {
        StorageError::Interrupted(Cause::of(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("why".into()))
    }

    #[test]
    fn full_disks_and_failing_files_are_named_as_such() {
        assert_eq!(StorageError::from(sqlite(13)), StorageError::Full); // SQLITE_FULL
        for code in [10, 10 | (4 << 8), 10 | (24 << 8), 8] {
            // SQLITE_IOERR, _IOERR_FSYNC, _IOERR_SHMSIZE, SQLITE_READONLY
            assert!(
                matches!(StorageError::from(sqlite(code)), StorageError::Io(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn the_error_that_caused_it_is_kept_as_the_source() {
        let failed = StorageError::from(sqlite(10));
        let source = failed.source().expect("the SQLite error is kept");
        let sqlite_error = source.downcast_ref::<rusqlite::Error>().unwrap();
        assert_eq!(
            sqlite_error.sqlite_error_code(),
            Some(rusqlite::ErrorCode::SystemIoFailure)
        );
        assert_eq!(
            failed.to_string(),
            format!("database file cannot be written: {source}")
        );

        let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let failed = StorageError::Io(Cause::new("reading /x.db", missing));
        assert_eq!(
            failed.to_string(),
            "database file cannot be written: reading /x.db: gone"
        );
        let source = failed.source().unwrap().downcast_ref::<std::io::Error>();
        assert_eq!(source.unwrap().kind(), std::io::ErrorKind::NotFound);
        assert_eq!(failed.clone(), failed);

        // A cause in words only has no source.
        let told = StorageError::Other("no migration from schema version 7".into());
        assert_eq!(told.to_string(), "no migration from schema version 7");
        assert!(told.source().is_none());
    }
}
