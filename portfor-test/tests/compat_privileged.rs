//! port-for's `test_binding` case, alone in its test binary.
//!
//! It starts a child process. Between the fork and the exec of a child, the
//! child holds a copy of every file descriptor of the test process (close-on-
//! exec only closes them at the exec), so a socket another test thread has
//! just closed stays bound for that moment. A test next to it that closes a
//! socket and checks the port is free at once (`test_binding_high`) would
//! fail now and then. Test binaries run one after another under `cargo test`
//! and every test is its own process under nextest, so this file keeps them
//! apart.

mod common;

use common::{assert_child_passed, child_command, is_child};
use portfor_test::compat::port_is_used;

/// `port_is_used(10)` is true for a process that may not bind privileged
/// ports. port-for's case assumes a non-root user (as root it fails there);
/// as root, this re-runs itself as `nobody` in a private network namespace
/// where ports below 1024 are privileged.
#[test]
#[cfg_attr(
    windows,
    ignore = "port-for skips it on Windows: ports below 1024 are not privileged"
)]
fn test_binding() {
    const TEST: &str = "test_binding";
    if is_child(TEST) || !running_as_root() {
        assert!(port_is_used(10, "127.0.0.1").unwrap());
        return;
    }
    let script = "set -e; echo 1024 > /proc/sys/net/ipv4/ip_unprivileged_port_start; \
                  ip link set lo up; \
                  exec setpriv --reuid 65534 --regid 65534 --clear-groups \"$0\" \"$@\"";
    assert_child_passed(child_command(TEST, &["unshare", "-n", "sh", "-c", script]));
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
