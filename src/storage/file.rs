//! Which file a path names: its device and inode, so that two paths naming one file (a hard
//! link, a symbolic link, `dir/../live.db`) are told apart from two files, and a database
//! file deleted or replaced under a running server is noticed, where comparing names cannot.

use super::{Cause, StorageError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A file's identity on this machine: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    /// The file `path` names now, following symbolic links; `Ok(None)` on a platform without
    /// inodes (there, only names are compared).
    pub(super) fn of(path: &Path) -> io::Result<Option<FileId>> {
        std::fs::metadata(path).map(|m| FileId::from_metadata(&m))
    }

    #[cfg(unix)]
    fn from_metadata(metadata: &std::fs::Metadata) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        Some(FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    #[cfg(not(unix))]
    fn from_metadata(_: &std::fs::Metadata) -> Option<FileId> {
        None
    }
}

/// The database file the server opened, watched: `rm` or `mv` of it while the server runs
/// would otherwise go unnoticed (SQLite keeps writing to the open, unlinked file, and every
/// report acknowledged from then on is gone at the next start).
#[derive(Debug)]
pub(super) struct WatchedFile {
    path: PathBuf,
    /// What the path named when the server opened it.
    opened: FileId,
    /// Whether the path names another file (or none) as last seen: the change is logged
    /// once, not per request.
    lost: AtomicBool,
}

impl WatchedFile {
    /// Watches the file `path` names now; `None` where files have no identity to compare.
    pub(super) fn new(path: &Path) -> Result<Option<WatchedFile>, StorageError> {
        let opened = FileId::of(path)
            .map_err(|e| StorageError::Io(Cause::new(format!("reading {}", path.display()), e)))?;
        Ok(opened.map(|opened| WatchedFile {
            path: path.to_owned(),
            opened,
            lost: AtomicBool::new(false),
        }))
    }

    /// `Ok` while the path still names the file that was opened; [`StorageError::Gone`]
    /// once it names none or another. Logs each change of that answer once.
    pub(super) fn check(&self) -> Result<(), StorageError> {
        let now = FileId::of(&self.path);
        let why = match now {
            Ok(Some(id)) if id == self.opened => None,
            Ok(_) => Some("replaced"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some("deleted"),
            // Unreadable for another reason (a permission changed): not proof of a new file.
            Err(_) => None,
        };
        match why {
            None => {
                if self.lost.swap(false, Ordering::SeqCst) {
                    log::warn!(
                        "the database file {} is the one this server opened again: reports \
                         are stored again",
                        self.path.display()
                    );
                }
                Ok(())
            }
            Some(why) => {
                if !self.lost.swap(true, Ordering::SeqCst) {
                    log::error!(
                        "the database file {} was {why} (moved, deleted or replaced) while \
                         the server ran: every report is refused with 503 from now on, since \
                         it would be written to a file that is gone at the next start. Its \
                         data is still open in this process (ls -l /proc/{}/fd); copy it back \
                         to that path, then restart the server",
                        self.path.display(),
                        std::process::id()
                    );
                }
                Err(StorageError::Gone(why))
            }
        }
    }
}

/// `Ok` while the database's path names the file that was opened (always, for a database
/// without a watched file: in memory, or where files have no identity).
pub(super) fn still_ours(file: Option<&WatchedFile>) -> Result<(), StorageError> {
    file.map_or(Ok(()), WatchedFile::check)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_moved_deleted_or_replaced_file_is_noticed_and_a_returned_one_forgiven() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.db");
        std::fs::write(&path, "a").unwrap();
        let watched = WatchedFile::new(&path).unwrap().unwrap();
        watched.check().unwrap();
        let aside = dir.path().join("aside.db");
        std::fs::rename(&path, &aside).unwrap();
        assert_eq!(watched.check(), Err(StorageError::Gone("deleted")));
        std::fs::write(&path, "a").unwrap();
        assert_eq!(watched.check(), Err(StorageError::Gone("replaced")));
        std::fs::rename(&aside, &path).unwrap();
        watched.check().unwrap();
        // Another name for the same file is the same file.
        let link = dir.path().join("link.db");
        std::fs::hard_link(&path, &link).unwrap();
        assert_eq!(FileId::of(&link).unwrap(), FileId::of(&path).unwrap());
    }
}
