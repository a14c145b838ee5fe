//! Platforms without `/proc` (macOS, the BSDs, Windows): the best check
//! available without unsafe code, which cannot tell whose socket it sees.
//!
//! - TCP: a connection to the address succeeds (and is closed at once; the
//!   server sees one connection that sends nothing). The wildcard address is
//!   reached through loopback.
//! - UDP: an exclusive bind of the address fails with "address in use".
//!
//! The caller has checked that the child is still running; a port a portfor
//! user claims is not handed to anyone else, but a program that ignores
//! portfor and listens on it would be taken for the server.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{Check, Seen, client_addr};
use crate::error::{Protocol, Result};
use crate::probe;

/// A connection to a local port is refused or accepted at once; this bounds
/// a firewall that drops it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) fn check(_child: u32, addr: SocketAddr, protocol: Protocol) -> Result<Check> {
    match protocol {
        Protocol::Tcp => {
            let target = client_addr(addr);
            Ok(match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
                Ok(_) => Check::Ready,
                Err(e) => Check::NotYet(Seen::Refused {
                    addr: target,
                    error: e.to_string(),
                }),
            })
        }
        Protocol::Udp => Ok(match probe_udp(addr) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => Check::Ready,
            _ => Check::NotYet(Seen::Nothing {
                port: addr.port(),
                protocol,
            }),
        }),
    }
}

/// An exclusive UDP bind of `addr`, closed at once, while no server spawn
/// can copy it (see `spawn_lock`).
fn probe_udp(addr: SocketAddr) -> io::Result<()> {
    let _probing = crate::spawn_lock::probing();
    probe::bind_exclusive(addr, Protocol::Udp).map(drop)
}
