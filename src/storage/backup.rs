//! Copies of a live database: SQLite's online backup API reads every page in one read
//! transaction (WAL lets the server keep writing meanwhile), so a copy is consistent; it is
//! checked before it replaces anything.

use super::file::FileId;
use super::{Cause, Location, StorageError};
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
        return Err(StorageError::Corrupt(
            format!("the copy {} does not check out: {check}", to.display()).into(),
        ));
    }
    Ok(())
}

/// `backup`: a consistent copy of the database at `from` (which a server may be writing),
/// checked, as one self-contained file (no WAL beside it) at `to`. The copy is written into
/// a temporary file beside `to` and renamed into place only once it checks out; a failure
/// leaves nothing behind. `to` must not be the database or one of its files, nor anything
/// but a regular file, and an existing file is replaced only when `force` says so. Returns
/// the copy's size in bytes.
pub fn back_up(from: &Location, to: &Path, force: bool) -> Result<u64, StorageError> {
    let Location::File(source) = from else {
        return Err(StorageError::Other(
            "an in-memory database cannot be backed up".into(),
        ));
    };
    if !source.is_file() {
        return Err(StorageError::NoDatabase(source.clone()));
    }
    check_target(source, to, force)?;
    let conn = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    let io = |what: &str, path: &Path, e: std::io::Error| {
        StorageError::Io(Cause::new(format!("{what} {}", path.display()), e))
    };
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let folder = match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // A unique name (O_EXCL), deleted when dropped: on every way out but the rename.
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(folder)
        .map_err(|e| io("creating a temporary file in", folder, e))?;
    let _journals = Journals(partial.path().to_owned());
    copy(&conn, partial.path())?;
    // A backup stays in the source's WAL mode; a file to keep or to move is better whole.
    let target = Connection::open(partial.path())?;
    target.pragma_update(None, "journal_mode", "DELETE")?;
    target.close().map_err(|(_, e)| StorageError::from(e))?;
    partial
        .as_file()
        .sync_all()
        .map_err(|e| io("syncing", partial.path(), e))?;
    // Without --force, a file that appeared at `to` meanwhile is not replaced either.
    let placed = if force {
        partial.persist(to)
    } else {
        partial.persist_noclobber(to)
    };
    placed.map_err(|e| io("renaming the copy to", to, e.error))?;
    // The rename itself is durable once the folder is synced.
    let _ = std::fs::File::open(folder).and_then(|d| d.sync_all());
    std::fs::metadata(to)
        .map(|m| m.len())
        .map_err(|e| io("reading the size of", to, e))
}

/// Refuses a destination that would destroy data: the database itself or one of the files
/// SQLite keeps beside it (by identity, so another name for the same file counts, and by
/// path, for a `-wal` that is not there yet), a device, folder, pipe or symbolic link (the
/// rename would replace the link, or a device node, with a file), and without `force` an
/// existing file.
fn check_target(source: &Path, to: &Path, force: bool) -> Result<(), StorageError> {
    let refused = |why: &str| StorageError::Other(format!("{} {why}", to.display()).into());
    let target_id = FileId::of(to).ok().flatten();
    let target_path = resolved(to);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = source.as_os_str().to_owned();
        name.push(suffix);
        let file = PathBuf::from(name);
        let same_file = target_id.is_some() && FileId::of(&file).ok().flatten() == target_id;
        if same_file || (target_path.is_some() && resolved(&file) == target_path) {
            return Err(refused(&format!(
                "is the database being backed up{}",
                if suffix.is_empty() {
                    String::new()
                } else {
                    format!(" (its {suffix} file)")
                }
            )));
        }
    }
    match std::fs::symlink_metadata(to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::Io(Cause::new(
            format!("reading {}", to.display()),
            e,
        ))),
        Ok(m) if !m.file_type().is_file() => Err(refused(
            "is not a regular file (a folder, device, pipe or link): name a file",
        )),
        Ok(_) if !force => Err(refused("exists: give --force to replace it")),
        Ok(_) => Ok(()),
    }
}

/// `path` with its folder made absolute and free of links and `..` (the file itself need
/// not exist); `None` when the folder cannot be resolved.
fn resolved(path: &Path) -> Option<PathBuf> {
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some(folder.canonicalize().ok()?.join(path.file_name()?))
}

/// The files SQLite may leave beside the temporary copy: deleted with it.
struct Journals(PathBuf);

impl Drop for Journals {
    fn drop(&mut self) {
        for suffix in ["-journal", "-wal", "-shm"] {
            let mut name = self.0.as_os_str().to_owned();
            name.push(suffix);
            let _ = std::fs::remove_file(name);
        }
    }
}
