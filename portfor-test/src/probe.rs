//! Probing a port: is it free on every address a test server may bind?
//!
//! A probe is an *exclusive* bind: a fresh socket, no `SO_REUSEADDR` (a probe
//! with it would succeed next to sockets that hold the port, and on Windows
//! it would hijack them), bound and closed at once, never listening and never
//! connecting. So a probe cannot reach a live service, unlike port-for's
//! connect probe, which opens a real connection to whatever listens.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use socket2::{Domain, Socket, Type};

use crate::error::{Error, Protocol, Reason, Result};

/// The addresses a test server is likely to bind: IPv4 loopback and wildcard,
/// and their IPv6 twins where the host has IPv6.
pub(crate) fn default_addresses() -> &'static [IpAddr] {
    static ADDRESSES: OnceLock<Vec<IpAddr>> = OnceLock::new();
    ADDRESSES.get_or_init(|| {
        let mut addresses = vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ];
        if ipv6_available() {
            addresses.extend([
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ]);
        }
        addresses
    })
}

/// Whether this host can bind IPv6 loopback: false when the kernel has no
/// IPv6 (`EAFNOSUPPORT`) or `::1` is not configured (`EADDRNOTAVAIL`, e.g.
/// `disable_ipv6=1` on `lo`). Checked once per process.
pub fn ipv6_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let addr = SocketAddr::from((Ipv6Addr::LOCALHOST, 0));
        Socket::new(Domain::IPV6, Type::STREAM, None)
            .and_then(|socket| socket.bind(&addr.into()))
            .is_ok()
    })
}

/// The wildcard address that covers the most: dual-stack `[::]` where the
/// host has IPv6, else `0.0.0.0`.
pub(crate) fn wildcard() -> IpAddr {
    if ipv6_available() {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// Binds `addr` exclusively with a fresh socket of `protocol`, then closes it.
///
/// On `[::]` the socket is dual-stack (`IPV6_V6ONLY` off), so it also fails
/// when an IPv4 socket holds the port: stricter than a v6-only server needs,
/// and exactly what a dual-stack server needs.
pub(crate) fn bind_exclusive(addr: SocketAddr, protocol: Protocol) -> io::Result<Socket> {
    let ty = match protocol {
        Protocol::Tcp => Type::STREAM,
        Protocol::Udp => Type::DGRAM,
    };
    let socket = Socket::new(Domain::for_address(addr), ty, None)?;
    if let SocketAddr::V6(v6) = addr
        && v6.ip().is_unspecified()
    {
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// What a probe checks: which addresses, on which protocols.
#[derive(Clone, Debug)]
pub(crate) struct Probe<'a> {
    addresses: &'a [IpAddr],
    udp: bool,
    /// Whether one wildcard bind may stand for all the addresses (Linux).
    wildcard_covers: bool,
}

impl<'a> Probe<'a> {
    /// Probes the default addresses.
    pub(crate) fn new(udp: bool) -> Probe<'static> {
        Probe {
            addresses: default_addresses(),
            udp,
            wildcard_covers: cfg!(target_os = "linux"),
        }
    }

    /// Probes exactly `addresses`.
    pub(crate) fn with_addresses(addresses: &'a [IpAddr], udp: bool) -> Probe<'a> {
        Probe {
            addresses,
            udp,
            wildcard_covers: false,
        }
    }

    /// [`check`](Probe::check) as a search step: the port when it is free,
    /// else why it is not.
    pub(crate) fn try_port(&self, port: u16) -> Result<Result<u16, Reason>> {
        Ok(self.check(port)?.map_or(Ok(port), Err))
    }

    /// `Ok(None)` when every bind succeeds, `Ok(Some(reason))` for the first
    /// that fails because the port is taken or forbidden, and an error for
    /// any other failure (such as running out of file descriptors), which
    /// says nothing about the port.
    pub(crate) fn check(&self, port: u16) -> Result<Option<Reason>> {
        // No child of this library is forked while the probe sockets exist.
        let _probing = crate::spawn_lock::probing();
        let protocols: &[Protocol] = if self.udp {
            &[Protocol::Tcp, Protocol::Udp]
        } else {
            &[Protocol::Tcp]
        };
        for &protocol in protocols {
            // On Linux an exclusive bind of the wildcard conflicts with every
            // socket bound to the port on any address of the family (and the
            // dual-stack `[::]` with both families): one bind proves all of
            // 127.0.0.1, 0.0.0.0, ::1 and `[::]` free. Only when it fails are
            // the addresses probed one by one, to name the one that is taken.
            let mut wildcard_reason = None;
            if self.wildcard_covers {
                let addr = SocketAddr::new(wildcard(), port);
                match bind_exclusive(addr, protocol) {
                    Ok(_socket) => continue,
                    Err(e) => match taken(&e, addr, protocol) {
                        Some(reason) => wildcard_reason = Some(reason),
                        None => {
                            return Err(Error::io(
                                format!("failed to probe {addr} ({protocol})"),
                                e,
                            ));
                        }
                    },
                }
            }
            for &ip in self.addresses {
                let addr = SocketAddr::new(ip, port);
                match bind_exclusive(addr, protocol) {
                    Ok(_socket) => {}
                    Err(e) => {
                        if let Some(reason) = taken(&e, addr, protocol) {
                            return Ok(Some(reason));
                        }
                        return Err(Error::io(format!("failed to probe {addr} ({protocol})"), e));
                    }
                }
            }
            // Taken on an address outside the list (say 127.0.0.2), which
            // blocks the wildcard all the same.
            if let Some(reason) = wildcard_reason {
                return Ok(Some(reason));
            }
        }
        Ok(None)
    }
}

/// Whether a bind error means "someone has this port": in use, or (as for
/// privileged ports, and for Windows excluded ranges) permission denied.
pub(crate) fn taken(error: &io::Error, addr: SocketAddr, protocol: Protocol) -> Option<Reason> {
    match error.kind() {
        io::ErrorKind::AddrInUse => Some(Reason::InUse { addr, protocol }),
        io::ErrorKind::PermissionDenied => Some(Reason::Forbidden { addr, protocol }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_both_loopbacks_and_wildcards() {
        let addresses = default_addresses();
        assert!(addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(addresses.contains(&IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert_eq!(
            addresses.contains(&IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ipv6_available()
        );
    }

    #[test]
    fn a_held_port_is_reported_with_address_and_protocol() {
        // A reserved port, not one `bind(0)` chose: an outgoing TCP
        // connection may hold the same number in the ephemeral range.
        let reservation = crate::Builder::new().udp(true).reserve().unwrap();
        let port = reservation.port();
        let _held = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
        let probe = |udp| Probe::with_addresses(&[IpAddr::V4(Ipv4Addr::LOCALHOST)], udp);
        assert_eq!(probe(false).check(port).unwrap(), None);
        assert_eq!(
            probe(true).check(port).unwrap(),
            Some(Reason::InUse {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                protocol: Protocol::Udp
            })
        );
    }
}

#[cfg(all(test, target_os = "linux"))]
mod linux_tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    /// The wildcard shortcut must never call a port free that a probe of
    /// each address calls taken.
    #[test]
    fn wildcard_shortcut_agrees_with_probing_each_address() {
        let addresses = default_addresses();
        let exhaustive = |port, udp| Probe::with_addresses(addresses, udp).check(port).unwrap();
        let shortcut = |port, udp| Probe::new(udp).check(port).unwrap();

        let v6 = |addr: &str| -> Option<Socket> {
            let addr: SocketAddr = addr.parse().unwrap();
            let socket = Socket::new(Domain::IPV6, Type::STREAM, None).ok()?;
            socket.set_only_v6(true).ok()?;
            socket.bind(&addr.into()).ok()?;
            socket.listen(1).ok()?;
            Some(socket)
        };
        let mut holders: Vec<(Box<dyn std::any::Any>, u16, bool)> = Vec::new();
        for addr in ["127.0.0.1:0", "0.0.0.0:0", "127.0.0.2:0"] {
            let listener = TcpListener::bind(addr).unwrap();
            let port = listener.local_addr().unwrap().port();
            holders.push((Box::new(listener), port, false));
        }
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        holders.push((Box::new(udp), udp_port, true));
        if ipv6_available() {
            for addr in ["[::1]:0", "[::]:0"] {
                let socket = v6(addr).unwrap();
                let port = socket.local_addr().unwrap().as_socket().unwrap().port();
                holders.push((Box::new(socket), port, false));
            }
        }
        for (_, port, udp) in &holders {
            assert!(
                shortcut(*port, *udp).is_some(),
                "port {port} held but called free"
            );
            if *port != holders[2].1 {
                // Held on a listed address: both name a reason.
                assert!(exhaustive(*port, *udp).is_some(), "port {port}");
            }
        }
    }
}
