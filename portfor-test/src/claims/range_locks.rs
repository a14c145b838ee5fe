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

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

/// Ports per shard file.
const SHARD_PORTS: usize = 512;

/// The shard files of one claim directory, opened on first use.
pub(super) struct Locks {
    dir: PathBuf,
    private: bool,
    shards: Vec<Option<File>>,
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
    pub(super) fn open(dir: &Path, private: bool) -> io::Result<Locks> {
        Ok(Locks {
            dir: dir.to_owned(),
            private,
            shards: (0..65536 / SHARD_PORTS).map(|_| None).collect(),
        })
    }

    fn shard(&mut self, port: u16) -> io::Result<&File> {
        let index = usize::from(port) / SHARD_PORTS;
        if self.shards[index].is_none() {
            let mut options = OpenOptions::new();
            options.read(true).write(true).create(true).truncate(false);
            {
                use std::os::unix::fs::OpenOptionsExt;
                // A shared directory (PORTFOR_CLAIM_DIR) needs files others
                // may open for writing too; the umask still applies.
                options.mode(if self.private { 0o600 } else { 0o666 });
            }
            let file = options.open(self.dir.join(format!("claims-{index}")))?;
            self.shards[index] = Some(file);
        }
        Ok(self.shards[index].as_ref().expect("opened above"))
    }

    /// Locks byte `port`; `Ok(false)` if another process holds it.
    pub(super) fn try_lock(&mut self, port: u16) -> io::Result<bool> {
        match set_lock(self.shard(port)?, &flock(WRITE_LOCK, port)) {
            Ok(_) => Ok(true),
            // POSIX allows either for "held by someone else".
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(errno) => Err(errno.into()),
        }
    }

    pub(super) fn unlock(&mut self, port: u16) -> io::Result<()> {
        set_lock(self.shard(port)?, &flock(UNLOCK, port))
            .map(drop)
            .map_err(Into::into)
    }

    /// Whether another process holds byte `port`.
    pub(super) fn is_locked_elsewhere(&mut self, port: u16) -> io::Result<bool> {
        let mut lock = flock(WRITE_LOCK, port);
        get_lock(self.shard(port)?, &mut lock)?;
        Ok(lock.l_type != UNLOCK)
    }
}
