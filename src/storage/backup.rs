//! Copies of a live database: SQLite's online backup API reads every page in one read
//! transaction (WAL lets the server keep writing meanwhile), so a copy is consistent; it is
//! checked before it replaces anything.

use super::{Location, StorageError};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a copy waits for a lock before giving up.
const LOCKED_RETRIES: u32 = 50;
const LOCKED_PAUSE: Duration = Duration::from_millis(100);

/// Copies every page of `conn`'s database to a new file at `to`, in one step, and checks the
/// copy with `PRAGMA integrity_check`.
pub(super) fn copy(conn: &Connection, to: &Path) -> Result<(), StorageError> {
    let mut target = Connection::open(to)?;
    {
        let backup = Backup::new(conn, &mut target)?;
        let mut retries = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::Busy | StepResult::Locked if retries < LOCKED_RETRIES => {
                    retries += 1;
                    std::thread::sleep(LOCKED_PAUSE);
                }
                _ => return Err(StorageError::Busy),
            }
        }
    }
    let check: String = target.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    target.close().map_err(|(_, e)| StorageError::from(e))?;
    if check != "ok" {
        return Err(StorageError::Corrupt(format!(
            "the copy {} does not check out: {check}",
            to.display()
        )));
    }
    Ok(())
}

/// `backup`: a consistent copy of the database at `from` (which a server may be writing),
/// checked, as one self-contained file (no WAL beside it) at `to`, which it replaces only once
/// the copy is complete. Returns the copy's size in bytes.
pub fn back_up(from: &Location, to: &Path) -> Result<u64, StorageError> {
    let Location::File(source) = from else {
        return Err(StorageError::Other(
            "an in-memory database cannot be backed up".into(),
        ));
    };
    if !source.is_file() {
        return Err(StorageError::NoDatabase(source.clone()));
    }
    let conn = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    let partial = partial_path(to);
    let failed = |what: &str, e: std::io::Error| {
        StorageError::Io(format!("{what} {}: {e}", partial.display()))
    };
    match std::fs::remove_file(&partial) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed("removing", e)),
        _ => {}
    }
    let copied = copy(&conn, &partial).and_then(|()| {
        // A backup stays in the source's WAL mode; a file to keep or to move is better whole.
        let target = Connection::open(&partial)?;
        target.pragma_update(None, "journal_mode", "DELETE")?;
        target.close().map_err(|(_, e)| StorageError::from(e))
    });
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| failed("syncing", e))?;
    std::fs::rename(&partial, to).map_err(|e| failed("renaming", e))?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename itself is durable once the folder is synced.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    std::fs::metadata(to)
        .map(|m| m.len())
        .map_err(|e| failed("reading the size of", e))
}

/// `PATH.partial` beside the destination, so the rename stays on one file system.
fn partial_path(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}
