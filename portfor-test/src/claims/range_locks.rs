//! Claims as byte-range locks on one file: byte N locked = port N claimed.
//!
//! On Linux these are open-file-description locks (`F_OFD_SETLK`): they
//! belong to the one open `claims` file, so no other `open`/`close` of that
//! file in the process can drop them, as closing any descriptor drops classic
//! POSIX locks. Elsewhere they are classic POSIX record locks (`F_SETLK`),
//! and this module is the only code that opens the file.
//!
//! Either way the kernel releases them when the process exits, and they are
//! not inherited by children.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, fcntl};
use nix::libc;

/// The open `claims` file of one claim directory.
pub(super) struct Locks {
    file: File,
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
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        {
            use std::os::unix::fs::OpenOptionsExt;
            // A shared directory (PORTFOR_CLAIM_DIR) needs a file others may
            // open for writing too; the umask still applies.
            options.mode(if private { 0o600 } else { 0o666 });
        }
        let file = options.open(dir.join("claims"))?;
        Ok(Locks { file })
    }

    /// Locks byte `port`; `Ok(false)` if another process holds it.
    pub(super) fn try_lock(&self, port: u16) -> io::Result<bool> {
        match set_lock(&self.file, &flock(WRITE_LOCK, port)) {
            Ok(_) => Ok(true),
            // POSIX allows either for "held by someone else".
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(errno) => Err(errno.into()),
        }
    }

    pub(super) fn unlock(&self, port: u16) -> io::Result<()> {
        set_lock(&self.file, &flock(UNLOCK, port))
            .map(drop)
            .map_err(Into::into)
    }

    /// Whether another process holds byte `port`.
    pub(super) fn is_locked_elsewhere(&self, port: u16) -> io::Result<bool> {
        let mut lock = flock(WRITE_LOCK, port);
        get_lock(&self.file, &mut lock)?;
        Ok(lock.l_type != UNLOCK)
    }
}
