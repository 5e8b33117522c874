//! What went wrong in storage, in terms a handler can turn into an answer.

use std::fmt;

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
    Io(String),
    /// The file is not a database we can read, or it is damaged.
    Corrupt(String),
    /// The database file's path no longer names the file the server opened (`deleted` or
    /// `replaced` while it ran): what it commits would be lost at the next start.
    Gone(&'static str),
    /// The writer has stopped: the server is shutting down.
    Closed,
    /// The task doing the work panicked or was cancelled before it finished.
    Interrupted(String),
    /// Anything else SQLite reported.
    Other(String),
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
            StorageError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StorageError {}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        match e.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked) => StorageError::Busy,
            Some(DiskFull) => StorageError::Full,
            Some(SystemIoFailure | ReadOnly) => StorageError::Io(e.to_string()),
            Some(DatabaseCorrupt | NotADatabase) => StorageError::Corrupt(e.to_string()),
            _ if matches!(e, rusqlite::Error::QueryReturnedNoRows) => StorageError::NotFound,
            _ => StorageError::Other(e.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for StorageError {
    fn from(e: tokio::task::JoinError) -> Self {
        StorageError::Interrupted(e.to_string())
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
}
