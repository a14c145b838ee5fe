//! The lock file beside the store, which every change holds.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::careful;
use crate::error::{Error, Result};

/// Takes the exclusive lock on `<target>.lock`, waiting at most `timeout`.
///
/// A new lock file gets the store's group and permissions, so that whoever
/// may write the store may take its lock. An existing one is opened for
/// writing (NFS locks need it), else for reading only, which a lock needs
/// on local filesystems: a lock file another member of a shared group made
/// under a narrow umask stays usable.
pub(crate) fn lock(target: &Path, store: Option<&fs::Metadata>, timeout: Duration) -> Result<File> {
    let mut lock_path = target.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = open_lock_file(&lock_path, store)
        .map_err(|e| Error::io_at("failed to open lock file", &lock_path, e))?;
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(Error::io_at(
                    format!(
                        "timed out after {}s waiting for the lock",
                        timeout.as_secs_f64()
                    ),
                    &lock_path,
                    io::Error::from(io::ErrorKind::TimedOut),
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::io_at("failed to lock", &lock_path, e));
            }
        }
    }
}

/// Opens the existing lock file for writing, else for reading.
fn open_existing(path: &Path) -> io::Result<File> {
    match careful(OpenOptions::new().read(true).write(true)).open(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            careful(OpenOptions::new().read(true)).open(path)
        }
        other => other,
    }
}

fn open_lock_file(path: &Path, store: Option<&fs::Metadata>) -> io::Result<File> {
    loop {
        match open_existing(path) {
            Ok(file) if file.metadata()?.is_file() => return Ok(file),
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the lock file is not a regular file",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // create_new: never through a symlink, never over another's file.
        match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => {
                if let Some(store) = store {
                    share_like(&file, store);
                }
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// Gives a new lock file the store's group and read/write permissions
/// (best effort: a lock file this process can use is enough for this
/// process).
#[cfg(unix)]
fn share_like(file: &File, store: &fs::Metadata) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let _ = std::os::unix::fs::fchown(file, None, Some(store.gid()));
    let _ = file.set_permissions(fs::Permissions::from_mode(store.mode() & 0o666));
}

#[cfg(not(unix))]
fn share_like(_file: &File, _store: &fs::Metadata) {}
