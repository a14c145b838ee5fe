//! Waiting until a server listens: the child, or a descendant, has a socket
//! on the port, the child has exited, or the time is up.
//!
//! Two backends with one signature, `check(child, addr, protocol)`:
//! `listening_linux` asks `/proc` whether the listener belongs to the child's
//! process tree; `listening_other` does the best the other platforms allow
//! without unsafe code (a connection, or a bind that fails) and cannot tell
//! the child's listener from another process's.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Child, ExitStatus};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{Error, Protocol, Result};

#[cfg(target_os = "linux")]
#[path = "listening_linux.rs"]
mod backend;

#[cfg(not(target_os = "linux"))]
#[path = "listening_other.rs"]
mod backend;

/// The first pause between two checks, doubled after each up to
/// [`MAX_PAUSE`]: a child that exits is seen within that.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// What one check found.
#[derive(Debug)]
pub(super) enum Check {
    Ready,
    NotYet(Seen),
}

/// What was seen on the port when the server was not (yet) listening, for
/// the timeout's message.
#[derive(Debug)]
pub(super) enum Seen {
    /// No socket on the port.
    Nothing { port: u16, protocol: Protocol },
    /// The server's socket is on an address that does not serve the one
    /// asked for (`::1` for 127.0.0.1, say).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    OtherAddress(SocketAddr),
    /// A socket on the port that is not the server's.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Foreign {
        addr: SocketAddr,
        inode: u64,
        /// Who holds it: `(pid, name)`, looked up only for the message.
        owner: Option<(u32, String)>,
    },
    /// A process of the server's tree whose sockets cannot be read.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Unreadable { pid: u32, error: String },
    /// A connection attempt failed (where no `/proc` tells more).
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    Refused { addr: SocketAddr, error: String },
}

impl Seen {
    /// Looks up who holds a foreign socket, which costs a scan of every
    /// process: done once, for the message.
    fn with_owner(mut self) -> Seen {
        if let Seen::Foreign { inode, owner, .. } = &mut self
            && let Ok(owners) = crate::procfs::socket_owners()
        {
            *owner = owners.get(inode).map(|o| (o.pid(), o.name().to_owned()));
        }
        self
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seen::Nothing { port, protocol } => {
                write!(f, "no socket was listening on port {port} ({protocol})")
            }
            Seen::OtherAddress(addr) => {
                write!(
                    f,
                    "the server was listening on {addr}, which does not serve it"
                )
            }
            Seen::Foreign { addr, owner, .. } => {
                write!(
                    f,
                    "{addr} was held by a process outside the server's process tree"
                )?;
                match owner {
                    Some((pid, name)) => write!(f, " (pid {pid}, {name})"),
                    None => Ok(()),
                }
            }
            Seen::Unreadable { pid, error } => write!(
                f,
                "the sockets of the server's process {pid} could not be read: {error}"
            ),
            Seen::Refused { addr, error } => write!(f, "connecting to {addr} failed: {error}"),
        }
    }
}

/// How the wait ended.
#[derive(Debug)]
pub(super) enum Outcome {
    Ready,
    Exited(ExitStatus),
    TimedOut(Seen),
}

/// Checks until the server listens on `addr`, the child exits, or `timeout`
/// has passed.
pub(super) fn wait(
    child: &mut Child,
    addr: SocketAddr,
    protocol: Protocol,
    timeout: Duration,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        // Exit first: a child that listened and died is not ready.
        let exited = child
            .try_wait()
            .map_err(|e| Error::io("failed to check on the server's process", e))?;
        if let Some(status) = exited {
            return Ok(Outcome::Exited(status));
        }
        let seen = match backend::check(child.id(), addr, protocol)? {
            Check::Ready => return Ok(Outcome::Ready),
            Check::NotYet(seen) => seen,
        };
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Ok(Outcome::TimedOut(seen.with_owner()));
        }
        sleep(pause.min(timeout - elapsed));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Where a client connects to reach a server listening on `addr`: `addr`,
/// with loopback for a wildcard address.
pub(super) fn client_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Whether a socket bound to `bound` takes connections (or datagrams) sent
/// to `wanted`: the same address, or the wildcard of its family, or the IPv6
/// wildcard for IPv4 (dual-stack, Linux's default; a v6-only `[::]`, which
/// `/proc` does not tell apart, is taken for dual-stack too).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(super) fn serves(bound: IpAddr, wanted: IpAddr) -> bool {
    if bound == wanted {
        return true;
    }
    match (bound, wanted) {
        (IpAddr::V4(bound), IpAddr::V4(_)) => bound.is_unspecified(),
        (IpAddr::V6(bound), IpAddr::V6(_)) => bound.is_unspecified(),
        (IpAddr::V6(bound), IpAddr::V4(wanted)) => {
            bound.is_unspecified() || bound.to_ipv4_mapped() == Some(wanted)
        }
        (IpAddr::V4(_), IpAddr::V6(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn which_bound_address_serves_which() {
        let cases = [
            ("127.0.0.1", "127.0.0.1", true),
            ("0.0.0.0", "127.0.0.1", true),
            ("::", "127.0.0.1", true),
            ("::ffff:127.0.0.1", "127.0.0.1", true),
            ("::1", "127.0.0.1", false),
            ("127.0.0.2", "127.0.0.1", false),
            ("127.0.0.1", "0.0.0.0", false),
            ("0.0.0.0", "0.0.0.0", true),
            ("::", "0.0.0.0", true),
            ("::", "::1", true),
            ("::1", "::1", true),
            ("0.0.0.0", "::1", false),
            ("127.0.0.1", "::1", false),
        ];
        for (bound, wanted, serves_it) in cases {
            assert_eq!(
                serves(ip(bound), ip(wanted)),
                serves_it,
                "{bound} for {wanted}"
            );
        }
    }

    #[test]
    fn what_was_seen_reads_well() {
        let seen = Seen::Foreign {
            addr: "127.0.0.1:4000".parse().unwrap(),
            inode: 1,
            owner: Some((42, "nginx".into())),
        };
        assert_eq!(
            seen.to_string(),
            "127.0.0.1:4000 was held by a process outside the server's process tree \
             (pid 42, nginx)"
        );
    }
}
