//! Replacing the store's file, if nobody changed it since it was read.
//!
//! The way that survives a crash is a new file, written and synced beside
//! the old one, renamed over it: readers see the old file or the new one,
//! never a part. It keeps the old file's owner (where this process may set
//! it), group and mode. Where a new file cannot keep what makes the old one
//! shared, the file is rewritten in place instead, as port-for rewrites it:
//! someone else's file (its owner, and any ACL, stay), a file with an ACL,
//! a file with several hard links, a file mounted over (a container's
//! `/etc/port-for.conf`), a directory this process may not write.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Snapshot, Stamp, careful, not_regular, parent};
use crate::error::{Error, Result};

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

/// The sub-millisecond part of the modification time portfor gives the
/// files it writes: readers need not wait for such a file to settle. Whole
/// microseconds, so that it survives filesystems that keep no finer time;
/// another writer's time ends so once in a thousand writes at worst, and
/// then a reader merely skips one wait.
const MARK_MICROS: u32 = 777;

/// A time just before now that carries the mark.
fn marked_now() -> SystemTime {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let millis = Duration::from_millis(now.as_millis() as u64);
    UNIX_EPOCH
        + millis.saturating_sub(Duration::from_millis(1))
        + Duration::from_micros(u64::from(MARK_MICROS))
}

/// Whether portfor wrote the file, complete (see [`MARK_MICROS`]).
pub(crate) fn is_marked(meta: &fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .is_some_and(|m| m.subsec_micros() % 1000 == MARK_MICROS && m.subsec_nanos() % 1000 == 0)
}

/// Replaces `target` with `contents`, if it is still as `snapshot` read
/// it.
pub(crate) fn replace(
    target: &Path,
    contents: &[u8],
    snapshot: &Snapshot,
) -> std::result::Result<(), ReplaceError> {
    if snapshot.meta.as_ref().is_some_and(must_stay) || acl_at(target) {
        return in_place(target, contents, snapshot);
    }
    match by_rename(target, contents, snapshot) {
        Err(ReplaceError::Failed(e)) if e.io_error().is_some_and(rename_cannot) => {
            in_place(target, contents, snapshot)
        }
        other => other,
    }
}

/// Whether the file must be rewritten in place to stay what it is.
#[cfg(unix)]
fn must_stay(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    // Root can give a new file any owner; anyone else would take it over.
    (meta.uid() != me && me != 0) || meta.nlink() > 1
}

#[cfg(not(unix))]
fn must_stay(_meta: &fs::Metadata) -> bool {
    false
}

/// Errors of the rename path that writing in place avoids: a directory
/// this process may not write or whose sticky bit protects the old file, a
/// file mounted over, a group this process may not give.
fn rename_cannot(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        use nix::libc;
        if matches!(error.raw_os_error(), Some(libc::EBUSY | libc::EXDEV)) {
            return true;
        }
    }
    error.kind() == io::ErrorKind::PermissionDenied
}

/// A POSIX ACL on the file: a new file would not have it.
#[cfg(target_os = "linux")]
fn acl_at(target: &Path) -> bool {
    File::open(target)
        .is_ok_and(|f| rustix::fs::fgetxattr_query(&f, "system.posix_acl_access").is_ok())
}

#[cfg(not(target_os = "linux"))]
fn acl_at(_target: &Path) -> bool {
    false
}

fn by_rename(
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
        rename_over(&temp, target).map_err(|e| Error::io_at("failed to replace", target, e).into())
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

/// How long a replacement waits for readers that keep Windows from
/// replacing the file, before it writes the file in place instead.
#[cfg(windows)]
const REPLACE_WAIT: Duration = Duration::from_secs(2);

/// `fs::rename`, over a file that others may be reading.
///
/// Windows refuses to replace a file that another process has open without
/// delete sharing (Python's `open()` on any volume; std's own readers where
/// renames lack POSIX semantics: FAT volumes, shares, wine). Readers hold
/// the store for a moment, so "access denied" is retried for a while.
fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        let deadline = std::time::Instant::now() + REPLACE_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            match fs::rename(from, to) {
                Err(e)
                    if e.kind() == io::ErrorKind::PermissionDenied
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                result => return result,
            }
        }
    }
    #[cfg(not(windows))]
    fs::rename(from, to)
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
        .and_then(|()| file.set_modified(marked_now()))
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io_at("failed to write", temp, e))?;
    if let Some(old) = &snapshot.meta {
        keep_ownership(&file, temp, old)?;
    }
    Ok(())
}

/// Gives `file` the owner, group and mode of `old` where this process may;
/// an error (which makes the caller write in place) when the group, which
/// decides who else may write the store, cannot be kept.
#[cfg(unix)]
fn keep_ownership(file: &File, path: &Path, old: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, fchown};
    let current = file
        .metadata()
        .map_err(|e| Error::io_at("failed to inspect", path, e))?;
    if (current.uid() != old.uid() || current.gid() != old.gid())
        && fchown(file, Some(old.uid()), Some(old.gid())).is_err()
    {
        // The owner too where permitted (root); else the group alone.
        fchown(file, None, Some(old.gid()))
            .map_err(|e| Error::io_at("failed to give the store's group to", path, e))?;
    }
    file.set_permissions(fs::Permissions::from_mode(old.mode() & 0o7777))
        .map_err(|e| Error::io_at("failed to set permissions of", path, e))
}

#[cfg(not(unix))]
fn keep_ownership(file: &File, path: &Path, old: &fs::Metadata) -> Result<()> {
    file.set_permissions(old.permissions())
        .map_err(|e| Error::io_at("failed to set permissions of", path, e))
}

/// Rewrites `target` in place, if it is still as `snapshot` read it: the
/// new content over the old, then cut to length (so that a reader never
/// sees it empty), synced.
fn in_place(
    target: &Path,
    contents: &[u8],
    snapshot: &Snapshot,
) -> std::result::Result<(), ReplaceError> {
    let failed = |e| ReplaceError::Failed(Error::io_at("failed to rewrite", target, e));
    let mut file = careful(OpenOptions::new().write(true))
        .open(target)
        .map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    if !meta.is_file() {
        return Err(not_regular(target, &meta).into());
    }
    if Some(Stamp::of(&meta)) != snapshot.stamp {
        return Err(ReplaceError::Changed);
    }
    file.write_all(contents)
        .and_then(|()| file.set_len(contents.len() as u64))
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    // Only the owner may set the time; readers of others' writes wait a
    // moment longer.
    let _ = file.set_modified(marked_now());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_is_recognised_and_rarely_made_by_chance() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        let marked = marked_now();
        file.set_modified(marked).unwrap();
        let kept = fs::metadata(&path).unwrap().modified().unwrap();
        // Where the filesystem keeps the time as set (not FAT's 2 s, say;
        // there no file is marked and readers wait a moment longer).
        if kept == marked {
            assert!(is_marked(&fs::metadata(&path).unwrap()));
        }
        assert!(marked_now() <= SystemTime::now());
        file.set_modified(UNIX_EPOCH + Duration::from_nanos(1_000_778_000))
            .unwrap();
        assert!(!is_marked(&fs::metadata(&path).unwrap()));
    }
}
