//! Selection against the kernel's own port ranges, in private network
//! namespaces (`unshare -rn`) where this test may change them without
//! touching the host's.

mod common;

use common::{is_child, run_in_netns};
use portfor_test::{
    Builder, PortRange, PortSet, SystemPortRanges, ipv6_available, system_port_ranges,
};

const PICKS: usize = 300;

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network and mount namespaces (unshare -rmn)"
)]
fn selected_ports_avoid_a_custom_ephemeral_range() {
    const TEST: &str = "selected_ports_avoid_a_custom_ephemeral_range";
    if !is_child(TEST) {
        run_in_netns(
            TEST,
            "echo '20000 40000' > /proc/sys/net/ipv4/ip_local_port_range",
        );
        return;
    }
    let ranges = system_port_ranges().unwrap();
    let ephemeral = PortRange::new(20000, 40000).unwrap();
    assert_eq!(ranges.ephemeral().ranges(), &[ephemeral]);
    let candidates = Builder::new().candidates().unwrap();
    assert!(
        candidates
            .intersection(&PortSet::from_ranges([ephemeral]))
            .is_empty()
    );
    // Ports between 40001 and 49150 are candidates now, which the default
    // range 32768-60999 would have removed.
    assert!(candidates.last().unwrap() > 40000);
    for _ in 0..PICKS {
        let port = Builder::new().select().unwrap();
        assert!(
            !ephemeral.contains(port),
            "{port} is in the ephemeral range"
        );
    }
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network and mount namespaces (unshare -rmn)"
)]
fn a_range_that_leaves_no_safe_port_gives_a_clear_error() {
    const TEST: &str = "a_range_that_leaves_no_safe_port_gives_a_clear_error";
    if !is_child(TEST) {
        run_in_netns(
            TEST,
            "echo '1024 65535' > /proc/sys/net/ipv4/ip_local_port_range",
        );
        return;
    }
    // port-for issue #12: with this range port-for says "Can't select a port".
    let error = Builder::new().select().unwrap_err();
    assert!(error.is_ephemeral_conflict(), "{error}");
    let message = error.to_string();
    for expected in [
        "ephemeral port range (1024-65535)",
        "ip_local_port_range",
        "PORTFOR_ALLOW_EPHEMERAL=1",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing from: {message}"
        );
    }
    // The documented way to proceed anyway, in code.
    let port = Builder::new().allow_ephemeral(true).select().unwrap();
    assert!(port > 1024);
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network and mount namespaces (unshare -rmn)"
)]
fn the_environment_variable_allows_ephemeral_ports() {
    const TEST: &str = "the_environment_variable_allows_ephemeral_ports";
    if !is_child(TEST) {
        run_in_netns(
            TEST,
            "echo '1024 65535' > /proc/sys/net/ipv4/ip_local_port_range; \
             export PORTFOR_ALLOW_EPHEMERAL=1",
        );
        return;
    }
    let port = Builder::new().select().unwrap();
    assert!(port > 1024);
    // An explicit choice in code wins over the environment.
    assert!(
        Builder::new()
            .allow_ephemeral(false)
            .select()
            .unwrap_err()
            .is_ephemeral_conflict()
    );
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network and mount namespaces (unshare -rmn)"
)]
fn reserved_ports_are_never_selected() {
    const TEST: &str = "reserved_ports_are_never_selected";
    // Reserve most of the candidate space below the ephemeral range, so a
    // selection that ignored the reservation would land there almost always.
    if !is_child(TEST) {
        run_in_netns(
            TEST,
            "echo '1025-25000,26000-32767' > /proc/sys/net/ipv4/ip_local_reserved_ports",
        );
        return;
    }
    let reserved = PortSet::from_ranges([
        PortRange::new(1025, 25000).unwrap(),
        PortRange::new(26000, 32767).unwrap(),
    ]);
    assert_eq!(system_port_ranges().unwrap().reserved(), &reserved);
    for _ in 0..PICKS {
        let port = Builder::new().select().unwrap();
        assert!(!reserved.contains(port), "{port} is reserved");
        assert!((25001..26000).contains(&port), "{port}");
    }
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network and mount namespaces (unshare -rmn)"
)]
fn selection_works_on_a_host_without_ipv6() {
    const TEST: &str = "selection_works_on_a_host_without_ipv6";
    if !is_child(TEST) {
        run_in_netns(
            TEST,
            "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; \
             echo 1 > /proc/sys/net/ipv6/conf/lo/disable_ipv6",
        );
        return;
    }
    assert!(!ipv6_available());
    let port = Builder::new().select().unwrap();
    // IPv4 listeners are still seen.
    let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
    assert!(Builder::new().check(port).unwrap().is_some());
    drop(listener);
    assert!(Builder::new().udp(true).check(port).unwrap().is_none());
}

/// Makes `ip_local_port_range` hold `text` for this mount namespace (a bind
/// mount of a temporary file over it).
fn unreadable_range(text: &str) -> String {
    format!(
        "f=$(mktemp); printf '{text}' > \"$f\"; \
         mount --bind \"$f\" /proc/sys/net/ipv4/ip_local_port_range; rm \"$f\""
    )
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network and mount namespaces (unshare -rmn)"
)]
fn ranges_that_cannot_be_read_fall_back_to_32768_65535() {
    const TEST: &str = "ranges_that_cannot_be_read_fall_back_to_32768_65535";
    // The kernel's range here is 20000-30000; what portfor reads is not a
    // range at all.
    if !is_child(TEST) {
        let setup = format!(
            "echo '20000 30000' > /proc/sys/net/ipv4/ip_local_port_range; {}",
            unreadable_range("not a port range\\n")
        );
        run_in_netns(TEST, &setup);
        return;
    }
    let error = system_port_ranges().unwrap_err();
    assert!(error.to_string().contains("ip_local_port_range"), "{error}");
    let fallback = SystemPortRanges::fallback();
    let candidates = Builder::new().candidates().unwrap();
    assert!(candidates.intersection(fallback.ephemeral()).is_empty());
    // The fallback is what was avoided, not the kernel's range: its ports
    // are candidates.
    let kernel = PortSet::from_ranges([PortRange::new(20000, 30000).unwrap()]);
    assert!(!candidates.intersection(&kernel).is_empty());
    for _ in 0..PICKS {
        let port = Builder::new().select().unwrap();
        assert!(!fallback.ephemeral().contains(port), "{port}");
    }
}
