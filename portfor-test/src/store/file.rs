//! The store's file on disk: read only when it is a regular file that is
//! not being rewritten, replaced atomically (keeping its owner, group and
//! mode) only if it did not change since it was read, and the lock file
//! beside it.
//!
//! The Python port-for rewrites its file in place with no lock: it opens it
//! for writing, which empties it, then writes. A reader that came in
//! between would take the empty (or half-written) file for the store, and a
//! writer would rename its result over port-for's, losing everything. So:
//!
//! - a file that changes while it is read is read again;
//! - an empty file modified less than [`SETTLE`] ago is waited for:
//!   port-for writes right after it empties the file, so content soon
//!   follows (portfor itself never leaves a store empty, see
//!   `ini::Document::remove`, so its own files are never waited for);
//! - just before the rename, the file must be exactly as read (device,
//!   inode, size, modification and change times); if not, the change is
//!   made again on the new content. (A read caught between two of a
//!   writer's `write` calls, which follow one another within microseconds,
//!   is caught here: the check comes milliseconds later, after the new file
//!   is written and synced.)

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

use super::REWRITE_SETTLE as SETTLE;

/// What identifies one state of a file: if any of it differs, the file
/// changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl Stamp {
    pub(crate) fn of(meta: &fs::Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            unix: (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The file as read: its bytes, and its stamp (`None`: it does not exist).
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) bytes: Vec<u8>,
    pub(crate) stamp: Option<Stamp>,
    /// The file's metadata, for its owner, group and mode.
    pub(crate) meta: Option<fs::Metadata>,
}

/// How a file's kind reads in an error.
fn kind_of(meta: &fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

fn not_regular(path: &Path, meta: &fs::Metadata) -> Error {
    Error::invalid(format!(
        "store {} is {}; a store must be a regular file",
        path.display(),
        kind_of(meta)
    ))
}

/// Opens `path` for reading if it is a regular file (through symlinks);
/// `None` when it does not exist. Never blocks: a FIFO is refused before it
/// is opened, and opened non-blocking in case one was swapped in.
fn open_regular(path: &Path) -> Result<Option<(File, fs::Metadata)>> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(meta) => return Err(not_regular(path, &meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io_at("failed to inspect store", path, e)),
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io_at("failed to read store", path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io_at("failed to inspect store", path, e))?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    Ok(Some((file, meta)))
}

/// How long ago the file was modified (zero for a time in the future).
fn age(meta: &fs::Metadata) -> Duration {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or(Duration::ZERO)
}

/// Reads the file once: its bytes between two identical stamps, else
/// `None` (it changed while being read).
fn read_once(path: &Path) -> Result<Option<Snapshot>> {
    let Some((mut file, before)) = open_regular(path)? else {
        return Ok(Some(Snapshot {
            bytes: Vec::new(),
            stamp: None,
            meta: None,
        }));
    };
    let mut bytes = Vec::with_capacity(before.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io_at("failed to read store", path, e))?;
    let after = file
        .metadata()
        .map_err(|e| Error::io_at("failed to inspect store", path, e))?;
    if Stamp::of(&before) != Stamp::of(&after) || bytes.len() as u64 != after.len() {
        return Ok(None);
    }
    Ok(Some(Snapshot {
        bytes,
        stamp: Some(Stamp::of(&after)),
        meta: Some(after),
    }))
}

/// Reads the store's file, waiting (at most [`SETTLE`]) while another
/// program is rewriting it in place. With `wait` false, takes the file as
/// it is, for readers that can afford a stale view.
pub(crate) fn read(path: &Path, wait: bool) -> Result<Snapshot> {
    let deadline = Instant::now() + SETTLE;
    let mut pause = Duration::from_millis(1);
    loop {
        let snapshot = read_once(path)?;
        let settled = match (&snapshot, wait) {
            (None, _) => false,
            (Some(_), false) => true,
            (Some(s), true) => match &s.meta {
                Some(meta) if s.bytes.is_empty() => age(meta) >= SETTLE,
                _ => true,
            },
        };
        match snapshot {
            Some(snapshot) if settled || Instant::now() >= deadline => return Ok(snapshot),
            Some(_) => {}
            None if Instant::now() >= deadline => {
                return Err(Error::invalid(format!(
                    "store {} kept changing while it was read for {}s",
                    path.display(),
                    SETTLE.as_secs()
                )));
            }
            None => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The store's file when it is a symlink: its final target (which may not
/// exist yet), so that renaming over it does not turn the link into a
/// plain file.
pub(crate) fn resolve(path: &Path) -> Result<PathBuf> {
    let mut path = path.to_owned();
    // As many hops as Linux follows (MAXSYMLINKS).
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)
                    .map_err(|e| Error::io_at("failed to resolve store", &path, e))?;
                path = match path.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(Error::invalid(format!(
        "store {} is a loop of symbolic links",
        path.display()
    )))
}

/// The directory `path` is in (`.` for a bare file name).
pub(crate) fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Takes the exclusive lock on `<target>.lock`, waiting at most `timeout`.
///
/// The lock file is opened for reading only (a lock needs no more), so a
/// lock file another member of a shared group created stays usable; a new
/// one gets the store's group and permissions, so that whoever may write
/// the store may take its lock.
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

fn open_lock_file(path: &Path, store: Option<&fs::Metadata>) -> io::Result<File> {
    loop {
        let mut existing = OpenOptions::new();
        existing.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            existing.custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY);
        }
        match existing.open(path) {
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

/// Gives `file` the owner, group and mode of `old` where this process may;
/// an error when the group (which decides who else may write the store)
/// cannot be kept.
#[cfg(unix)]
fn keep_ownership(file: &File, path: &Path, old: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, fchown};
    let current = file
        .metadata()
        .map_err(|e| Error::io_at("failed to inspect", path, e))?;
    if current.uid() != old.uid() || current.gid() != old.gid() {
        // The owner too where permitted (root); else the group alone.
        if fchown(file, Some(old.uid()), Some(old.gid())).is_err() {
            fchown(file, None, Some(old.gid())).map_err(|e| {
                Error::io_at(
                    format!(
                        "cannot keep group {} of the store: failed to set the group of",
                        old.gid()
                    ),
                    path,
                    e,
                )
            })?;
        }
    }
    file.set_permissions(fs::Permissions::from_mode(old.mode() & 0o7777))
        .map_err(|e| Error::io_at("failed to set permissions of", path, e))
}

#[cfg(not(unix))]
fn keep_ownership(file: &File, path: &Path, old: &fs::Metadata) -> Result<()> {
    file.set_permissions(old.permissions())
        .map_err(|e| Error::io_at("failed to set permissions of", path, e))
}

/// Why [`replace`] did not replace the file.
#[derive(Debug)]
pub(crate) enum ReplaceError {
    /// The file is not as it was read: read it again and redo the change.
    Changed,
    Failed(Error),
}

impl From<Error> for ReplaceError {
    fn from(e: Error) -> Self {
        ReplaceError::Failed(e)
    }
}

/// Replaces `target` with `contents` atomically, if it is still as
/// `snapshot` read it: a temporary file beside it, written, synced, given
/// the old file's owner, group and mode, renamed over it; then the
/// directory synced, so that the rename survives a crash.
pub(crate) fn replace(
    target: &Path,
    contents: &[u8],
    snapshot: &Snapshot,
) -> std::result::Result<(), ReplaceError> {
    let dir = parent(target);
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.portfor-tmp-");
    remove_leftovers(dir, &prefix);
    let temp = dir.join(format!("{prefix}{}", std::process::id()));
    let result = write_temp(&temp, contents, snapshot).and_then(|()| {
        let now = match fs::metadata(target) {
            Ok(meta) => Some(Stamp::of(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io_at("failed to inspect", target, e).into()),
        };
        if now != snapshot.stamp {
            return Err(ReplaceError::Changed);
        }
        fs::rename(&temp, target).map_err(|e| Error::io_at("failed to replace", target, e).into())
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        // Best effort: some filesystems refuse to sync a directory.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Temporary files of writers that died mid-write (the lock is held, so no
/// live writer owns one).
fn remove_leftovers(dir: &Path, prefix: &str) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn write_temp(
    temp: &Path,
    contents: &[u8],
    snapshot: &Snapshot,
) -> std::result::Result<(), ReplaceError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Private until it has its final owner and mode.
        options.mode(if snapshot.meta.is_some() {
            0o600
        } else {
            0o666
        });
    }
    let mut file = options
        .open(temp)
        .map_err(|e| Error::io_at("failed to create", temp, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io_at("failed to write", temp, e))?;
    if let Some(old) = &snapshot.meta {
        keep_ownership(&file, temp, old)?;
    }
    Ok(())
}
