//! Claims as one locked file per port, `port-N.lock`, for platforms without
//! POSIX record locks (Windows). The lock dies with the handle, so with the
//! process; the files stay behind, unlocked, and never block a port. They are
//! never deleted: deleting a lock file another process has just opened would
//! let a third process lock a new file of the same name.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

pub(super) struct Locks {
    dir: PathBuf,
    held: HashMap<u16, File>,
}

impl Locks {
    pub(super) fn open(dir: &Path, _private: bool) -> io::Result<Locks> {
        Ok(Locks {
            dir: dir.to_owned(),
            held: HashMap::new(),
        })
    }

    fn open_file(&self, port: u16) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.dir.join(format!("port-{port}.lock")))
    }

    pub(super) fn try_lock(&mut self, port: u16) -> io::Result<bool> {
        let file = self.open_file(port)?;
        match file.try_lock() {
            Ok(()) => {
                self.held.insert(port, file);
                Ok(true)
            }
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Ends the claim by closing its handle: Windows documents that a lock
    /// ends when its handle closes, and that is the release the process
    /// ending relies on anyway. An explicit unlock would only add an error
    /// nothing can act on (wine 8.0 reports "Lock violation" for it).
    pub(super) fn unlock(&mut self, port: u16) -> io::Result<()> {
        drop(self.held.remove(&port));
        Ok(())
    }

    pub(super) fn is_locked_elsewhere(&mut self, port: u16) -> io::Result<bool> {
        let path = self.dir.join(format!("port-{port}.lock"));
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}
