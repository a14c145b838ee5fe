//! Claims as one locked file per port, `port-N.lock`, for platforms without
//! POSIX record locks (Windows). The lock dies with the handle, so with the
//! process; the files stay behind, unlocked, and never block a port. They are
//! never deleted: deleting a lock file another process has just opened would
//! let a third process lock a new file of the same name.
//!
//! A claim ends by closing its handle, which Windows documents as releasing
//! its locks; nothing relies on what an explicit unlock returns (wine, for
//! one, reports a lock violation for it).

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use super::claim_dir::open_claim_file;

pub(super) struct Locks {
    dir: PathBuf,
    held: HashMap<u16, File>,
}

fn name(port: u16) -> String {
    format!("port-{port}.lock")
}

impl Locks {
    pub(super) fn open(dir: &Path) -> io::Result<Locks> {
        Ok(Locks {
            dir: dir.to_owned(),
            held: HashMap::new(),
        })
    }

    pub(super) fn try_lock(&mut self, port: u16) -> io::Result<bool> {
        // Unusable (another user's file this user may not read): claimed.
        let Some(file) = open_claim_file(&self.dir, &name(port))? else {
            return Ok(false);
        };
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
        // Looking creates nothing: no file, no claim.
        let file = match File::open(self.dir.join(name(port))) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(true),
            Err(e) => return Err(e),
        };
        match file.try_lock_shared() {
            // Released when `file` closes.
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }
}
