//! port-for's own test suite (tests/test_cases.py and tests/test_select_port.py
//! at v1.0.0-1.1.1), ported case by case. The five cases of
//! tests/test_store.py belong with the named-port store.
//!
//! Where portfor deliberately differs from port-for, the test says so.
//! `test_binding`, which starts a child process, is in `compat_privileged.rs`
//! (see there why).

use std::collections::BTreeSet;
use std::net::{TcpListener, UdpSocket};

use portfor_test::compat::{
    PortSpec, available_good_ports, available_ports, get_port, good_port_ranges, is_available,
    port_is_used, select_random,
};
use portfor_test::{Builder, PortRange, PortSet, Reservation};

/// Listeners on ports chosen by the OS, held for the test.
fn held_ports(count: usize) -> (Vec<TcpListener>, Vec<u16>) {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    (listeners, ports)
}

/// Free ports that stay free for the test: claimed in the machine-wide
/// claim directory (no other test is handed them) and outside the ephemeral
/// range (no outgoing connection takes them), unlike a port `bind(0)` chose.
fn free_ports(count: usize) -> (Vec<Reservation>, Vec<u16>) {
    let reservations = Builder::new().udp(true).reserve_many(count).unwrap();
    let ports = reservations.iter().map(Reservation::port).collect();
    (reservations, ports)
}

// --- tests/test_cases.py ---

#[test]
fn test_common_ports() {
    assert!(!is_available(80).unwrap());
    assert!(!is_available(11211).unwrap());
}

#[test]
fn test_good_port_ranges() {
    let ports = PortSet::from_ranges(
        [(10, 15), (100, 200), (220, 245), (300, 330), (440, 495)]
            .map(|(a, b)| PortRange::new(a, b).unwrap()),
    );
    let ranges: Vec<(u16, u16)> = good_port_ranges(Some(&ports), 20, 3)
        .iter()
        .map(|r| (r.start(), r.end()))
        .collect();
    assert_eq!(ranges, [(103, 197), (443, 492), (303, 327)]);
}

#[test]
fn test_something_works() {
    assert!(good_port_ranges(None, 20, 3).len() > 10);
    assert!(available_good_ports(20, 3).len() > 1000);
}

#[test]
fn test_binding_high() {
    let socket = TcpListener::bind("0.0.0.0:1025").unwrap();
    assert!(port_is_used(1025, "127.0.0.1").unwrap());
    drop(socket);
    assert!(!port_is_used(1025, "127.0.0.1").unwrap());
}

#[test]
fn test_get_port_random() {
    let port = get_port(PortSpec::Any, []).unwrap();
    assert!(port.is_some_and(|p| p > 0));
}

#[test]
fn test_get_port_none() {
    assert_eq!(get_port(PortSpec::Disabled, []).unwrap(), None);
    assert_eq!(
        get_port("-1".parse::<PortSpec>().unwrap(), []).unwrap(),
        None
    );
}

#[test]
fn test_get_port_exclude() {
    let exclude = [8000, 8001].into_iter().chain(8003..=8010);
    assert_eq!(get_port((8000, 8010), exclude).unwrap(), Some(8002));
}

#[test]
fn test_get_port_specific_1234_0() {
    assert_eq!(get_port(1234, []).unwrap(), Some(1234));
}

#[test]
fn test_get_port_specific_1234_1() {
    assert_eq!(
        get_port("1234".parse::<PortSpec>().unwrap(), []).unwrap(),
        Some(1234)
    );
}

#[test]
fn test_get_port_from_range_port_range0() {
    let port = get_port(vec![(2000, 3000)], []).unwrap().unwrap();
    assert!((2000..=3000).contains(&port));
}

#[test]
fn test_get_port_from_range_port_range1() {
    let port = get_port((2000, 3000), []).unwrap().unwrap();
    assert!((2000..=3000).contains(&port));
}

#[test]
fn test_get_port_from_set_port_set0() {
    let set = BTreeSet::from([4001, 4002, 4003]);
    let port = get_port(vec![set.clone()], []).unwrap().unwrap();
    assert!(set.contains(&port));
}

#[test]
fn test_get_port_from_set_port_set1() {
    let set = BTreeSet::from([4001, 4002, 4003]);
    let port = get_port(set.clone(), []).unwrap().unwrap();
    assert!(set.contains(&port));
}

#[test]
fn test_port_mix() {
    let spec = PortSpec::union([
        PortSpec::from((2000, 3000)),
        PortSpec::from(BTreeSet::from([4001, 4002, 4003])),
    ]);
    let port = get_port(spec, []).unwrap().unwrap();
    assert!((2000..=3000).contains(&port) || [4001, 4002, 4003].contains(&port));
}

// --- tests/test_select_port.py ---

/// port-for monkeypatches `port_is_used` to always answer True and expects
/// "Can't select a port". Here every candidate really is in use.
#[test]
fn test_all_used() {
    let (_held, ports) = held_ports(5);
    let error = select_random(Some(&PortSet::from_ports(ports.iter().copied())), []).unwrap_err();
    assert!(error.is_exhausted());
    let rejected: BTreeSet<u16> = error.rejections().iter().map(|r| r.port()).collect();
    assert_eq!(rejected, ports.into_iter().collect());
    assert!(error.to_string().contains("in use on"), "{error}");
}

/// port-for: with ports 1 and 3 used and 2 free, `select_random({1,2,3})`
/// returns 2 every one of 100 times. Here with real listeners.
#[test]
fn test_random_port() {
    let (_held, used) = held_ports(2);
    let (_claimed, free) = free_ports(1);
    let free = free[0];
    let set = PortSet::from_ports([used[0], free, used[1]]);
    for _ in 0..100 {
        assert_eq!(select_random(Some(&set), []).unwrap(), free);
    }
}

// --- Deliberate differences from port-for ---

/// port-for's `low` and `high` are exclusive; portfor's are inclusive.
#[test]
fn difference_available_ports_bounds_are_inclusive() {
    let port = available_ports(1024, 65535, &[]).first().unwrap();
    assert_eq!(
        available_ports(port, port, &[]),
        PortSet::from_ports([port])
    );
    assert!(
        available_ports(1024, 1024, &[]).is_empty(),
        "1024 is never available"
    );
}

/// port-for removes `exclude_ports` from the caller's set in place.
#[test]
fn difference_select_random_does_not_touch_its_arguments() {
    let (_claimed, free) = free_ports(2);
    let set = PortSet::from_ports(free.iter().copied());
    let before = set.clone();
    let port = select_random(Some(&set), [free[0]]).unwrap();
    assert_eq!(port, free[1]);
    assert_eq!(set, before);
}

/// port-for returns 8000 for `get_port(8000, exclude_ports=[8000])`.
#[test]
fn difference_an_excluded_explicit_port_is_an_error() {
    let error = get_port(8000, [8000]).unwrap_err();
    assert!(error.to_string().contains("8000"), "{error}");
}

/// port-for misses IPv6 listeners and raises on IPv6 hosts.
#[test]
fn difference_port_is_used_sees_ipv6() {
    if !portfor_test::ipv6_available() {
        return;
    }
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert!(port_is_used(port, "127.0.0.1").unwrap());
    assert!(port_is_used(port, "::1").unwrap());
    drop(listener);
    assert!(!port_is_used(port, "::1").unwrap());
}

/// port-for's probe connects: the service sees a real connection. portfor's
/// only binds.
#[test]
fn difference_port_is_used_never_connects() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    assert!(port_is_used(port, "127.0.0.1").unwrap());
    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept();
    assert!(
        accepted
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "the probe connected: {accepted:?}"
    );
}

/// port-for's list form silently ignores strings; portfor parses them.
#[test]
fn difference_strings_are_parsed_not_ignored() {
    let spec: PortSpec = "8000,8001".parse().unwrap();
    let port = get_port(spec, []).unwrap().unwrap();
    assert!([8000, 8001].contains(&port));
    assert!("abc".parse::<PortSpec>().is_err());
}

/// UDP is not port-for's concern: `port_is_used` probes TCP, as port-for.
#[test]
fn port_is_used_is_tcp_only_like_port_for() {
    let (_claimed, port) = free_ports(1);
    let _udp = UdpSocket::bind(("127.0.0.1", port[0])).unwrap();
    assert!(!port_is_used(port[0], "127.0.0.1").unwrap());
}
