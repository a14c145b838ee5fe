//! What Linux's `/proc` says about sockets and processes: who listens on a
//! port, and which processes descend from a child.
//!
//! One set of functions over two backends with the same signatures: `linux`
//! reads `/proc`; `fallback`, for every other platform, returns a clear "not
//! supported" error.

mod parse;

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod backend;

#[cfg(not(target_os = "linux"))]
#[path = "fallback.rs"]
mod backend;

use std::collections::HashMap;

use crate::error::{Protocol, Result};

pub use parse::ProcSocket;
#[cfg_attr(not(target_os = "linux"), allow(unused_imports))]
pub(crate) use parse::ProcStat;

/// The process holding a socket, as `/proc/<pid>` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOwner {
    pid: u32,
    name: String,
}

impl SocketOwner {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The process name (`/proc/<pid>/comm`: at most 15 bytes), empty when
    /// it could not be read.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The sockets of `protocol`, IPv4 and IPv6, in this process's network
/// namespace, as Linux's socket tables list them.
///
/// Each read walks the kernel's socket tables (about 2 ms with a few
/// thousand sockets): read once, then look up what you need.
///
/// # Platform-specific behavior
///
/// Linux reads `/proc/net/tcp` and `/proc/net/tcp6` (or `udp`, `udp6`); a
/// missing IPv6 table (a kernel without IPv6) counts as empty. Other
/// platforms return an error saying this is not supported.
///
/// # Errors
///
/// When a table cannot be read, or holds a line that is not a socket.
///
/// # Examples
///
/// ```
/// # if cfg!(target_os = "linux") {
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// let sockets = portfor_test::proc_sockets(portfor_test::Protocol::Tcp)?;
/// assert!(sockets.iter().any(|s| s.local_addr().port() == port && s.is_listening()));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn proc_sockets(protocol: Protocol) -> Result<Vec<ProcSocket>> {
    backend::sockets(protocol)
}

/// The owner of every socket of the processes this user may inspect, by
/// socket inode ([`ProcSocket::inode`]). A socket shared by several
/// processes is listed under the one with the lowest pid.
///
/// Scans every `/proc/<pid>/fd`: tens of milliseconds on a busy machine.
/// Processes of other users are skipped unless this is root.
///
/// # Platform-specific behavior
///
/// Linux only; other platforms return an error saying this is not
/// supported.
///
/// # Errors
///
/// When `/proc` cannot be listed.
pub fn socket_owners() -> Result<HashMap<u64, SocketOwner>> {
    backend::socket_owners()
}

/// The socket inodes `pid` holds open; an error when `/proc/<pid>/fd`
/// cannot be read (the process is gone, or belongs to another user).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn socket_inodes(pid: u32) -> std::io::Result<Vec<u64>> {
    backend::socket_inodes(pid)
}

/// Every process in `/proc` (its pid, state, parent and process group).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn processes() -> Result<Vec<ProcStat>> {
    backend::processes()
}
