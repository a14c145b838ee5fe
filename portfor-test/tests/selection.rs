//! Probing and selection through the public API, against real sockets.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use portfor_test::{
    Builder, Protocol, Reason, SystemPortRanges, ipv6_available, system_port_ranges,
};
use socket2::{Domain, Socket, Type};

/// A builder choosing among exactly `port` (an OS-assigned port is in the
/// ephemeral range, hence `allow_ephemeral`).
fn only(port: u16) -> Builder {
    let mut builder = Builder::new();
    builder.include(port..=port).allow_ephemeral(true);
    builder
}

/// A port no socket uses, claimed by this test in the machine-wide claim
/// directory (no other test is handed it) and outside the ephemeral range
/// (no outgoing connection takes it): a test binds it on one address only
/// and expects the others free.
fn claimed_port() -> portfor_test::Reservation {
    Builder::new().udp(true).reserve().unwrap()
}

fn local_port(socket: &Socket) -> u16 {
    socket.local_addr().unwrap().as_socket().unwrap().port()
}

/// A TCP listener on `addr` with IPV6_V6ONLY set as given (for `[::]`).
fn listen_v6(addr: &str, only_v6: bool) -> Socket {
    let addr: SocketAddr = addr.parse().unwrap();
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
    socket.set_only_v6(only_v6).unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(8).unwrap();
    socket
}

#[track_caller]
fn assert_taken(port: u16, udp: bool) -> Reason {
    let reason = Builder::new()
        .udp(udp)
        .check(port)
        .unwrap()
        .unwrap_or_else(|| panic!("port {port} reported free"));
    let error = only(port).udp(udp).select().unwrap_err();
    assert_eq!(error.rejections().len(), 1, "{error}");
    assert_eq!(error.rejections()[0].port(), port);
    reason
}

#[test]
fn a_listener_on_ipv4_loopback_only_is_seen() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reason = assert_taken(port, false);
    assert!(
        matches!(
            reason,
            Reason::InUse {
                protocol: Protocol::Tcp,
                ..
            }
        ),
        "{reason:?}"
    );
}

#[test]
fn a_listener_on_ipv6_loopback_only_is_seen() {
    if !ipv6_available() {
        return;
    }
    // A port `bind(0)` chose for `::1` could be in use on 127.0.0.1 (by a
    // connection), which the probe would name first.
    let claimed = claimed_port();
    let port = claimed.port();
    let _listener = listen_v6(&format!("[::1]:{port}"), true);
    let reason = assert_taken(port, false);
    // Named precisely: the address a server would fail on.
    assert_eq!(
        reason,
        Reason::InUse {
            addr: format!("[::1]:{port}").parse().unwrap(),
            protocol: Protocol::Tcp
        }
    );
}

#[test]
fn a_v6_only_wildcard_listener_is_seen() {
    if !ipv6_available() {
        return;
    }
    let listener = listen_v6("[::]:0", true);
    let port = local_port(&listener);
    assert_taken(port, false);
}

#[test]
fn a_udp_socket_is_seen_when_udp_is_asked_for() {
    let claimed = claimed_port();
    let port = claimed.port();
    let _socket = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    assert_eq!(
        Builder::new().check(port).unwrap(),
        None,
        "TCP only by default"
    );
    let reason = assert_taken(port, true);
    assert_eq!(
        reason,
        Reason::InUse {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            protocol: Protocol::Udp
        }
    );
}

#[test]
#[cfg_attr(
    any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ),
    ignore = "lo0 has 127.0.0.1 only, not all of 127.0.0.0/8 (binding 127.0.0.2 fails)"
)]
fn a_listener_on_another_loopback_address_is_seen() {
    // A server on 0.0.0.0 or [::] could not bind while this is held.
    let listener = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_taken(port, false);
}

#[test]
fn a_selected_port_is_a_candidate_outside_the_system_ranges() {
    let candidates = Builder::new().candidates().unwrap();
    // The ranges the system reports, or, where it reports nothing usable
    // (wine's netsh prints nothing), the documented fallback.
    let system = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
    for _ in 0..200 {
        let port = Builder::new().select().unwrap();
        assert!(candidates.contains(port), "{port}");
        assert!(!system.ephemeral().contains(port), "{port}");
        assert!(!system.reserved().contains(port), "{port}");
        assert!(port > 1024, "{port}");
    }
}

#[test]
fn the_selected_port_can_be_bound_on_every_default_address() {
    // Reserved (selected, then claimed), so that no other test is handed it
    // while this one binds it.
    let reservation = Builder::new().udp(true).reserve().unwrap();
    let port = reservation.port();
    drop(TcpListener::bind(("127.0.0.1", port)).unwrap());
    drop(TcpListener::bind(("0.0.0.0", port)).unwrap());
    drop(UdpSocket::bind(("127.0.0.1", port)).unwrap());
    if ipv6_available() {
        drop(TcpListener::bind(("::1", port)).unwrap());
        drop(listen_v6(&format!("[::]:{port}"), false));
    }
}

#[test]
fn candidates_are_tried_in_random_order() {
    // A scan from a fixed base would return the same free port every time.
    let ports: BTreeSet<u16> = (0..100).map(|_| Builder::new().select().unwrap()).collect();
    assert!(
        ports.len() > 50,
        "only {} distinct ports in 100 picks",
        ports.len()
    );
}

#[test]
fn include_and_exclude_are_honoured() {
    let mut builder = Builder::new();
    builder
        .include(61000..=61009)
        .exclude(61000..61005)
        .exclude_ports([61007])
        // Above 60999: neither candidates nor Linux's default ephemeral
        // ports, so no other test holds them meanwhile.
        .allow_ephemeral(true);
    let ports: BTreeSet<u16> = (0..50).map(|_| builder.select().unwrap()).collect();
    assert!(
        ports.is_subset(&BTreeSet::from([61005, 61006, 61008, 61009])),
        "{ports:?}"
    );
    assert_eq!(
        builder.candidates().unwrap().to_string(),
        "61005-61006,61008-61009"
    );
}

#[test]
fn attempts_are_bounded_and_each_rejection_is_reported() {
    let held: Vec<TcpListener> = (0..40)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut builder = Builder::new();
    builder.allow_ephemeral(true).attempts(7);
    for listener in &held {
        let port = listener.local_addr().unwrap().port();
        builder.include(port..=port);
    }
    let error = builder.select().unwrap_err();
    assert_eq!(error.rejections().len(), 7, "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with("no free port: of 40 candidates")
            && message.contains("7 in use")
            && message.contains("the rest left untried at the limit of 7 probes"),
        "{message}"
    );
    // Without a limit, every candidate is tried before giving up.
    let mut unlimited = Builder::new();
    unlimited.allow_ephemeral(true);
    for listener in &held {
        let port = listener.local_addr().unwrap().port();
        unlimited.include(port..=port);
    }
    let error = unlimited.select().unwrap_err();
    assert_eq!(error.rejections().len(), 40, "{error}");
    assert!(error.to_string().contains("40 in use"), "{error}");
}

#[test]
fn empty_or_fully_excluded_candidates_are_an_error_not_a_panic() {
    let error = Builder::new().include(5000..5000).select().unwrap_err();
    assert!(error.is_exhausted(), "{error}");
    let error = Builder::new().exclude(..).select().unwrap_err();
    assert!(error.to_string().contains("excluded"), "{error}");
}
