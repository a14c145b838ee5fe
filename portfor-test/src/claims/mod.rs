//! Cross-process port claims.
//!
//! A claim is a lock the operating system holds for this process and drops
//! when the process ends, however it ends (SIGKILL included): no lease, no
//! timeout, no cleanup. Claims live in a claim directory shared by every
//! process of every user that must not be handed the same port (see
//! [`claim_dir`] for why it is one directory for the machine and what
//! other users can and cannot do to it).
//!
//! Two backends with the same interface:
//!
//! - `range_locks` (Linux, Android, macOS and the BSDs): a lock on one byte
//!   per port (byte *N* for port *N*) of a shard file, one file per 512
//!   ports: POSIX record locks, open-file-description locks on Linux.
//!   However many ports a process claims, it holds at most 128 file
//!   descriptors (96 for the candidate ports, which end at 49150), so 5,000
//!   claims fit under `ulimit -n 1024`; and each file's lock list stays
//!   short, so a claim costs about the same with 5,000 held.
//! - `lock_files` (Windows and other platforms): one lock file per port,
//!   `port-N.lock`, locked with `File::try_lock`. One handle per claim;
//!   Windows allows millions.
//!
//! Within the process a bitmap of claimed ports keeps threads apart (the
//! operating system's locks belong to the process, so its threads never
//! conflict with one another) and makes a repeated candidate cost no system
//! call. The bitmap and the lock change together under one mutex.

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
))]
#[path = "range_locks.rs"]
mod backend;

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "netbsd",
    target_os = "openbsd"
)))]
#[path = "lock_files.rs"]
mod backend;

pub(crate) mod claim_dir;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::paths;

/// The claims this process holds in one claim directory.
struct DirClaims {
    dir: PathBuf,
    locks: backend::Locks,
    /// Bit `port` is set while this process claims `port`.
    held: Box<[u64; 1024]>,
}

impl DirClaims {
    fn is_held(&self, port: u16) -> bool {
        self.held[usize::from(port / 64)] & (1 << (port % 64)) != 0
    }

    fn set_held(&mut self, port: u16, held: bool) {
        let word = &mut self.held[usize::from(port / 64)];
        if held {
            *word |= 1 << (port % 64);
        } else {
            *word &= !(1 << (port % 64));
        }
    }
}

/// Every claim directory this process has used (nearly always one).
static CLAIMS: Mutex<Vec<DirClaims>> = Mutex::new(Vec::new());

fn lock_claims() -> MutexGuard<'static, Vec<DirClaims>> {
    // A panic while the lock was held cannot leave the bitmap and the locks
    // disagreeing (each update is one assignment after the system call), so
    // a poisoned mutex is safe to use.
    CLAIMS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where claims go: the directory, and whether it is the machine-wide
/// default (which is checked more strictly: see [`claim_dir`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClaimDir {
    path: PathBuf,
    default: bool,
}

impl ClaimDir {
    /// `$PORTFOR_CLAIM_DIR`, else the machine-wide default.
    pub(crate) fn from_env() -> ClaimDir {
        let explicit = std::env::var_os(paths::CLAIM_DIR_ENV).is_some_and(|d| !d.is_empty());
        ClaimDir {
            path: paths::claim_dir(),
            default: !explicit,
        }
    }

    /// A directory chosen in code.
    pub(crate) fn explicit(path: &Path) -> ClaimDir {
        ClaimDir {
            path: path.to_owned(),
            default: false,
        }
    }
}

fn with_dir<T>(dir: &ClaimDir, f: impl FnOnce(&mut DirClaims) -> Result<T>) -> Result<T> {
    let mut claims = lock_claims();
    let index = match claims.iter().position(|c| c.dir == dir.path) {
        Some(index) => index,
        None => {
            claim_dir::prepare(&dir.path, dir.default)?;
            let locks = backend::Locks::open(&dir.path)
                .map_err(|e| Error::io_at("failed to open the claims in", &dir.path, e))?;
            claims.push(DirClaims {
                dir: dir.path.clone(),
                locks,
                held: Box::new([0; 1024]),
            });
            claims.len() - 1
        }
    };
    f(&mut claims[index])
}

/// Claims `port` in `dir` for this process. `Ok(false)` when this process
/// or another already claims it.
pub(crate) fn try_claim(dir: &ClaimDir, port: u16) -> Result<bool> {
    with_dir(dir, |claims| {
        if claims.is_held(port) {
            return Ok(false);
        }
        let claimed = claims
            .locks
            .try_lock(port)
            .map_err(|e| Error::io_at(format!("failed to claim port {port} in"), &claims.dir, e))?;
        if claimed {
            claims.set_held(port, true);
        }
        Ok(claimed)
    })
}

/// Ends this process's claim on `port` in `dir`.
pub(crate) fn release(dir: &ClaimDir, port: u16) -> Result<()> {
    with_dir(dir, |claims| {
        if !claims.is_held(port) {
            return Ok(());
        }
        // Unlock before clearing the bit, both under the mutex: another thread
        // must not claim the port (setting the lock) between the two, or this
        // unlock would drop that thread's claim.
        let result = claims.locks.unlock(port);
        claims.set_held(port, false);
        result
            .map_err(|e| Error::io_at(format!("failed to release port {port} in"), &claims.dir, e))
    })
}

/// Whether any process (this one included) claims `port` in `dir`.
pub(crate) fn is_claimed(dir: &ClaimDir, port: u16) -> Result<bool> {
    with_dir(dir, |claims| {
        if claims.is_held(port) {
            return Ok(true);
        }
        claims
            .locks
            .is_locked_elsewhere(port)
            .map_err(|e| Error::io_at(format!("failed to inspect port {port} in"), &claims.dir, e))
    })
}
