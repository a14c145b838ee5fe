//! The store's file on disk, next to writers that take no lock.
//!
//! The Python port-for rewrites its file in place with no lock: it opens it
//! for writing, which empties it, then writes it in pieces of about 8 KiB
//! (a millisecond or so apart). A reader in between would take an empty or
//! half-written file for the store, and a writer would rename its result
//! over port-for's, losing everything. So ([`snapshot`]):
//!
//! - a file that changes while it is read is read again;
//! - an empty file modified less than
//!   [`REWRITE_SETTLE`](super::REWRITE_SETTLE) ago is waited for: it is a
//!   rewrite in progress (portfor never leaves a store empty);
//! - a file of a page or more (which port-for writes in several pieces)
//!   that does not end as port-for and portfor end every file they write,
//!   with an empty line (a file cut off mid-write almost never does), is
//!   waited for likewise: a rewrite in progress, or a file edited by hand
//!   just now;
//! - a file of a page or more that does end so, modified less than
//!   [`QUIET`] ago, is waited for until it has been left alone that long;
//! - files portfor renamed into place are never waited for: it marks them
//!   (see [`replace`]);
//! - just before the file is replaced, it must be exactly as read (device,
//!   inode, size, modification and change times); if not, the change is
//!   made again on the new content.
//!
//! A file is replaced by renaming a new one over it when that keeps
//! everything about it; else it is rewritten in place, as port-for does
//! ([`replace`]). Changes hold a lock file beside the store ([`lock`]).

mod lock;
mod replace;
mod snapshot;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

pub(crate) use lock::lock;
pub(crate) use replace::{ReplaceError, replace};
pub(crate) use snapshot::{Snapshot, Stamp, read};

/// How long a file that looks complete must have been left alone before it
/// is taken as written: longer than the pauses between port-for's writes.
pub(crate) const QUIET: Duration = Duration::from_millis(100);

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

/// Options that never block on a FIFO or take a terminal, for files that
/// another user may have swapped for one.
fn careful(options: &mut fs::OpenOptions) -> &mut fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY);
    }
    options
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
