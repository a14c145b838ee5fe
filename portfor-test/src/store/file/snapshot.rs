//! Reading the store's file as a whole, once nobody is writing it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::{QUIET, careful, not_regular, replace};
use crate::error::{Error, Result};
use crate::store::REWRITE_SETTLE as SETTLE;

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
    let file = match careful(OpenOptions::new().read(true)).open(path) {
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

/// Whether `bytes` end as every file port-for or portfor writes ends: with
/// an empty line. A file cut off in the middle of a write almost never
/// does.
fn ends_complete(bytes: &[u8]) -> bool {
    bytes.ends_with(b"\n\n") || bytes.ends_with(b"\r\n\r\n") || bytes.ends_with(b"\r\r")
}

/// Files smaller than a page are written with one `write` (port-for
/// writes in pieces of 8 KiB), which a reader sees whole or not at all: the
/// only state in between is the empty file.
const ONE_WRITE: usize = 4096;

/// How much longer `snapshot` must be left alone before it is taken as
/// written (see the module docs of [`super`]); zero when it is. `seen_empty`:
/// whether an earlier read found the file empty too.
fn unsettled_for(snapshot: &Snapshot, seen_empty: bool) -> Duration {
    let Some(meta) = &snapshot.meta else {
        return Duration::ZERO;
    };
    let needed = if snapshot.bytes.is_empty() {
        // Never settled by a first look, nor by portfor's mark: a file
        // port-for is emptying can show its size 0 with its old times for a
        // moment (the kernel updates them one after the other).
        if !seen_empty {
            return RECHECK_EMPTY;
        }
        SETTLE
    } else if replace::is_marked(meta) || snapshot.bytes.len() < ONE_WRITE {
        Duration::ZERO
    } else if ends_complete(&snapshot.bytes) {
        QUIET
    } else {
        SETTLE
    };
    needed.saturating_sub(age(meta))
}

/// How soon an empty file is read again.
const RECHECK_EMPTY: Duration = Duration::from_millis(10);

/// Reads the store's file, waiting (at most [`SETTLE`]) while it looks
/// like another program is rewriting it in place. With `wait` false, takes
/// the file as it is, for readers that can afford a stale view.
pub(crate) fn read(path: &Path, wait: bool) -> Result<Snapshot> {
    let deadline = Instant::now() + SETTLE;
    let mut pause = Duration::from_millis(1);
    let mut seen_empty = false;
    loop {
        match read_once(path)? {
            Some(snapshot) => {
                let left = if wait {
                    unsettled_for(&snapshot, seen_empty)
                } else {
                    Duration::ZERO
                };
                if left.is_zero() || Instant::now() >= deadline {
                    return Ok(snapshot);
                }
                seen_empty = snapshot.meta.is_some() && snapshot.bytes.is_empty();
                pause = left.min(Duration::from_millis(50)).max(pause);
            }
            None if Instant::now() >= deadline => {
                return Err(Error::invalid(format!(
                    "store {} kept changing while it was read for {}s",
                    path.display(),
                    SETTLE.as_secs()
                )));
            }
            None => pause = (pause * 2).min(Duration::from_millis(50)),
        }
        std::thread::sleep(pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_ends_complete_with_an_empty_line() {
        assert!(ends_complete(b"[DEFAULT]\nfoo = 1\n\n"));
        assert!(ends_complete(b"[DEFAULT]\r\nfoo = 1\r\n\r\n"));
        assert!(!ends_complete(b"[DEFAULT]\nfoo = 1\n"));
        assert!(!ends_complete(b"[DEFAULT]\nfoo = 1\nbar = 2"));
        assert!(!ends_complete(b""));
    }
}
