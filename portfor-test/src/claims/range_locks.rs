//! Claims as byte-range locks: byte N of a shard file locked = port N claimed.
//!
//! The kernel keeps the locks of a file in one list and walks it on every
//! lock call, so one file for every claim would make a claim cost grow with
//! the number held (measured: 7.7 µs with 1 held, 45 µs with 5,000). Ports
//! are therefore spread over 128 shard files, `claims-0` to `claims-127`, one
//! per 512 ports, each opened on first use: at most 128 file descriptors
//! however many ports are claimed, and short lists.
//!
//! On Linux these are open-file-description locks (`F_OFD_SETLK`): they
//! belong to this module's open shard file, so no other `open`/`close` of
//! that file in the process can drop them, as closing any descriptor drops
//! classic POSIX locks. Elsewhere they are classic POSIX record locks
//! (`F_SETLK`), and this module is the only code that opens the files.
//!
//! Either way the kernel releases them when the process exits, and they are
//! not inherited by children.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

/// Ports per shard file.
const SHARD_PORTS: usize = 512;

/// A shard file, opened on first use.
enum Shard {
    Unopened,
    Open(File),
    /// Another user made it unusable: its ports look claimed. Tried again
    /// after [`RETRY_UNUSABLE`], as it may be a file just made by another
    /// user and not yet given its mode.
    Unusable(Instant),
}

const RETRY_UNUSABLE: Duration = Duration::from_millis(50);

/// The shard files of one claim directory.
pub(super) struct Locks {
    dir: PathBuf,
    shards: Vec<Shard>,
}

// `c_int` on Linux, `c_short` on the BSDs; `l_type` is `c_short` everywhere.
const WRITE_LOCK: libc::c_short = libc::F_WRLCK as libc::c_short;
const UNLOCK: libc::c_short = libc::F_UNLCK as libc::c_short;

fn flock(kind: libc::c_short, port: u16) -> libc::flock {
    libc::flock {
        l_type: kind,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: libc::off_t::from(port),
        l_len: 1,
        // Must be 0 for open-file-description locks.
        l_pid: 0,
        #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
        l_sysid: 0,
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_lock(file: &File, lock: &libc::flock) -> nix::Result<libc::c_int> {
    fcntl(file, FcntlArg::F_OFD_SETLK(lock))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_lock(file: &File, lock: &libc::flock) -> nix::Result<libc::c_int> {
    fcntl(file, FcntlArg::F_SETLK(lock))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn get_lock(file: &File, lock: &mut libc::flock) -> nix::Result<libc::c_int> {
    fcntl(file, FcntlArg::F_OFD_GETLK(lock))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn get_lock(file: &File, lock: &mut libc::flock) -> nix::Result<libc::c_int> {
    fcntl(file, FcntlArg::F_GETLK(lock))
}

impl Locks {
    pub(super) fn open(dir: &Path) -> io::Result<Locks> {
        Ok(Locks {
            dir: dir.to_owned(),
            shards: (0..65536 / SHARD_PORTS).map(|_| Shard::Unopened).collect(),
        })
    }

    /// The shard file of `port`; `None` when it is unusable.
    fn shard(&mut self, port: u16) -> io::Result<Option<&File>> {
        let index = usize::from(port) / SHARD_PORTS;
        let retry = match self.shards[index] {
            Shard::Unopened => true,
            Shard::Unusable(since) => since.elapsed() >= RETRY_UNUSABLE,
            Shard::Open(_) => false,
        };
        if retry {
            let name = format!("claims-{index}");
            self.shards[index] = match super::claim_dir::open_claim_file(&self.dir, &name)? {
                Some(file) => Shard::Open(file),
                None => Shard::Unusable(Instant::now()),
            };
        }
        Ok(match &self.shards[index] {
            Shard::Open(file) => Some(file),
            _ => None,
        })
    }

    /// Locks byte `port`; `Ok(false)` if another process holds it.
    pub(super) fn try_lock(&mut self, port: u16) -> io::Result<bool> {
        let Some(shard) = self.shard(port)? else {
            return Ok(false);
        };
        match set_lock(shard, &flock(WRITE_LOCK, port)) {
            Ok(_) => Ok(true),
            // POSIX allows either for "held by someone else".
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(errno) => Err(errno.into()),
        }
    }

    pub(super) fn unlock(&mut self, port: u16) -> io::Result<()> {
        match self.shard(port)? {
            Some(shard) => set_lock(shard, &flock(UNLOCK, port))
                .map(drop)
                .map_err(Into::into),
            None => Ok(()),
        }
    }

    /// Whether another process holds byte `port`.
    pub(super) fn is_locked_elsewhere(&mut self, port: u16) -> io::Result<bool> {
        let Some(shard) = self.shard(port)? else {
            return Ok(true);
        };
        let mut lock = flock(WRITE_LOCK, port);
        get_lock(shard, &mut lock)?;
        Ok(lock.l_type != UNLOCK)
    }
}
