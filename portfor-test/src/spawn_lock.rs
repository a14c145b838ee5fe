//! Keeping probe sockets out of the children this library starts.
//!
//! Sockets are close-on-exec, but a child forked by another thread holds a
//! copy of every descriptor from the fork until its `exec`: milliseconds on
//! a loaded machine. A probe socket caught in that window keeps its port
//! bound after the probe has closed it, and the server that binds the port
//! next fails with "address in use" (seen with servers started by parallel
//! test threads).
//!
//! So a [`Server`](crate::Server) never forks while a probe holds a socket:
//! probes share this lock, a server's spawn takes it alone. std's
//! `Command::spawn` returns once the child has `exec`'d (it waits for that,
//! to report `exec` errors), so no copy is left when the lock is released.
//! Children started by other code of the process are not covered.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static LOCK: RwLock<()> = RwLock::new(());

/// Held while probe sockets are open.
pub(crate) fn probing() -> RwLockReadGuard<'static, ()> {
    // Guards nothing but time: a panic cannot leave anything inconsistent.
    LOCK.read().unwrap_or_else(|p| p.into_inner())
}

/// Held while a server's child is spawned.
pub(crate) fn spawning() -> RwLockWriteGuard<'static, ()> {
    LOCK.write().unwrap_or_else(|p| p.into_inner())
}
