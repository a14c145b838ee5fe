//! Sixteen processes that each bind every port right after `free_port()`
//! hands it over: no port goes to two of them, and every bind succeeds.
//!
//! This test runs alone, and that is part of what it measures. It is the
//! only test of its binary (`cargo test` runs binaries one after another),
//! and `.config/nextest.toml` gives it every test thread. A program outside
//! portfor's claims that probes a port with an exclusive bind (such as
//! portpicker, or a test of this suite claiming in a directory of its own)
//! makes a bind fail if its probe socket exists at the instant the claimant
//! binds: with 2,400 binds on a loaded machine, about one run in a hundred
//! met one of the other tests' probes (`AddrInUse`, seen in CI). Claims keep
//! portfor users off each other's ports; only the kernel hold
//! (`Builder::hold`) keeps other programs' probes off, and this test is not
//! about those.

mod common;

use std::net::TcpListener;

use common::at_once::{PER_PROCESS, collision_run, report_and_wait};
use common::{is_child, wait_for_start};
use portfor_test::free_port;

#[test]
fn sixteen_processes_binding_right_after_the_claim_share_no_port() {
    const TEST: &str = "sixteen_processes_binding_right_after_the_claim_share_no_port";
    if is_child(TEST) {
        wait_for_start();
        let mut listeners = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..PER_PROCESS {
            let port = free_port();
            let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
                panic!(
                    "bind 127.0.0.1:{port} right after the claim: {e}\n{}",
                    common::tcp_sockets_on(port)
                )
            });
            listeners.push(listener);
            ports.push(port);
        }
        report_and_wait(&ports);
        return;
    }
    // The machine-wide claim directory, which every portfor user shares.
    for run in 0..3 {
        assert_eq!(collision_run(TEST, false), 0, "run {run}");
    }
}
