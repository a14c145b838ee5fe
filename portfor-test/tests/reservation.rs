//! Claims and reservation guards, across threads and real processes.
//!
//! A test that binds the ports it is handed claims them in the machine-wide
//! claim directory, as users' tests do, so that no other test running
//! meanwhile is handed them. A test that asserts what is claimed claims in a
//! temporary directory of its own (children get it through
//! `PORTFOR_CLAIM_DIR`, this process through `Builder::claim_dir`), where only
//! its own claims are, and binds nothing.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;

use common::at_once::{PER_PROCESS, collision_run, read_ports, report_and_wait, spawn_child};
use common::{child_command, is_child, wait_for_start};
use portfor_test::{Builder, CLAIM_DIR_ENV, Reason, free_port, ipv6_available};

fn builder_in(dir: &Path) -> Builder {
    let mut builder = Builder::new();
    builder.claim_dir(dir);
    builder
}

#[test]
fn sixteen_processes_claiming_at_once_share_no_port() {
    const TEST: &str = "sixteen_processes_claiming_at_once_share_no_port";
    if is_child(TEST) {
        wait_for_start();
        let ports: Vec<u16> = (0..PER_PROCESS).map(|_| free_port()).collect();
        report_and_wait(&ports);
        return;
    }
    for run in 0..3 {
        assert_eq!(collision_run(TEST, true), 0, "run {run}");
    }
}

#[test]
fn claims_of_a_killed_process_are_free_at_once() {
    const TEST: &str = "claims_of_a_killed_process_are_free_at_once";
    if is_child(TEST) {
        let ports: Vec<u16> = (0..PER_PROCESS).map(|_| free_port()).collect();
        report_and_wait(&ports);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child(TEST, Some(dir.path()), &[]);
    let ports = read_ports(&mut child);
    let builder = builder_in(dir.path());
    for &port in &ports {
        assert!(builder.is_claimed(port).unwrap(), "{port} not claimed");
        // Another process is refused the port while the child lives.
        let mut only = builder_in(dir.path());
        only.include(port..=port).allow_ephemeral(true);
        let error = only.reserve().unwrap_err();
        assert_eq!(error.rejections()[0].reason(), &Reason::Claimed);
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // No lease, no timeout: free the moment the process is gone.
    for &port in &ports {
        assert!(!builder.is_claimed(port).unwrap(), "{port} still claimed");
        // Handed out again, unless something outside these claims (another
        // test of this suite, say) holds the port at this instant.
        let mut only = builder_in(dir.path());
        only.include(port..=port).allow_ephemeral(true);
        match only.reserve() {
            Ok(reservation) => assert_eq!(reservation.port(), port),
            Err(error) => assert!(
                error
                    .rejections()
                    .iter()
                    .all(|r| r.reason() != &Reason::Claimed),
                "{error}"
            ),
        }
    }
}

#[test]
#[cfg_attr(
    not(unix),
    ignore = "`ulimit -n` is a Unix limit; Windows has no descriptor limit of that kind"
)]
fn five_thousand_claims_fit_under_ulimit_1024() {
    const TEST: &str = "five_thousand_claims_fit_under_ulimit_1024";
    if is_child(TEST) {
        let ports: BTreeSet<u16> = (0..5000).map(|_| free_port()).collect();
        assert_eq!(ports.len(), 5000);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = "ulimit -n 1024 && exec \"$0\" \"$@\"";
    let mut command = child_command(TEST, &["sh", "-c", script]);
    command.env(CLAIM_DIR_ENV, dir.path());
    common::assert_child_passed(command);
}

#[test]
fn threads_never_share_a_port() {
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let builder = builder_in(dir.path());
                    (0..100)
                        .map(|_| builder.reserve().unwrap().keep())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<u16> = ports.iter().copied().collect();
    assert_eq!(distinct.len(), ports.len());
}

#[test]
fn dropping_the_guard_ends_the_claim_and_keep_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let builder = builder_in(dir.path());
    let reservation = builder.reserve().unwrap();
    let port = reservation.port();
    assert!(builder.is_claimed(port).unwrap());
    drop(reservation);
    assert!(!builder.is_claimed(port).unwrap());

    let kept = builder.reserve().unwrap().keep();
    assert!(builder.is_claimed(kept).unwrap());

    let closed = builder.reserve().unwrap();
    let port = closed.port();
    closed.close().unwrap();
    assert!(!builder.is_claimed(port).unwrap());
}

#[test]
fn a_reserved_port_is_handed_to_a_listener_without_a_window() {
    // The machine-wide claim directory: tests running meanwhile that bind
    // their ports never take these.
    let reservation = Builder::new().reserve().unwrap();
    let listener = reservation.tcp_listener().unwrap();
    assert_eq!(listener.local_addr().unwrap(), reservation.addr());
    let udp = Builder::new().udp(true).reserve().unwrap();
    assert_eq!(udp.udp_socket().unwrap().local_addr().unwrap(), udp.addr());
    assert_eq!(
        format!("{reservation:?}"),
        format!(
            "Reservation {{ port: {}, held: false }}",
            reservation.port()
        )
    );
}

#[test]
fn a_listener_on_any_local_address() {
    let reservation = Builder::new().reserve().unwrap();
    let port = reservation.port();
    let wildcard = reservation.tcp_listener_on([0, 0, 0, 0].into()).unwrap();
    assert_eq!(
        wildcard.local_addr().unwrap(),
        SocketAddr::from(([0, 0, 0, 0], port))
    );
    TcpStream::connect(("127.0.0.1", port)).unwrap();
    drop(wildcard);
    if ipv6_available() {
        let v6 = reservation
            .tcp_listener_on(Ipv6Addr::LOCALHOST.into())
            .unwrap();
        assert_eq!(
            v6.local_addr().unwrap(),
            SocketAddr::from((Ipv6Addr::LOCALHOST, port))
        );
        TcpStream::connect((Ipv6Addr::LOCALHOST, port)).unwrap();
    }
    // TEST-NET-1: not an address of this machine.
    let error = reservation
        .tcp_listener_on([192, 0, 2, 1].into())
        .unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AddrNotAvailable);
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "the kernel hold is Linux only (SO_REUSEADDR differs elsewhere)"
)]
fn a_kernel_hold_keeps_other_programs_off_until_released() {
    use socket2::{Domain, Socket, Type};

    let exclusive_bind = |port: u16| {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
    };
    let mut reservation = Builder::new().hold(true).reserve().unwrap();
    let port = reservation.port();
    assert!(reservation.is_held());
    // A program that ignores portfor (no SO_REUSEADDR) cannot take it...
    assert_eq!(
        exclusive_bind(port).unwrap_err().kind(),
        std::io::ErrorKind::AddrInUse
    );
    // ...nor does an exclusive probe see it free...
    assert!(Builder::new().check(port).unwrap().is_some());
    // ...while a server that sets SO_REUSEADDR (Rust std does) binds it.
    let listener = reservation.tcp_listener().unwrap();
    drop(listener);
    reservation.release_hold();
    assert!(!reservation.is_held());
    exclusive_bind(port).unwrap();
}

#[test]
fn several_ports_and_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let builder = builder_in(dir.path());
    let many = builder.reserve_many(20).unwrap();
    let distinct: BTreeSet<u16> = many.iter().map(|r| r.port()).collect();
    assert_eq!(distinct.len(), 20);

    let block = builder.reserve_block(8).unwrap();
    let ports: Vec<u16> = block.iter().map(|r| r.port()).collect();
    let expected: Vec<u16> = (ports[0]..ports[0] + 8).collect();
    assert_eq!(ports, expected);
    for &port in &ports {
        assert!(builder.is_claimed(port).unwrap());
        assert!(!distinct.contains(&port));
    }
    assert!(builder.reserve_block(0).unwrap().is_empty());

    // A block wider than any run of candidates is an error, not a panic.
    let mut narrow = builder_in(dir.path());
    narrow.include(61200..61204).allow_ephemeral(true);
    assert!(narrow.reserve_block(10).unwrap_err().is_exhausted());
}

#[test]
fn a_block_skips_runs_with_a_claimed_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = builder_in(dir.path());
    builder.include(61000..=61005).allow_ephemeral(true);
    let _middle = {
        let mut one = builder_in(dir.path());
        one.include(61002..=61002).allow_ephemeral(true);
        one.reserve().unwrap()
    };
    // 61000-61005 with 61002 claimed: the only block of 3 is 61003-61005.
    // (Ports above 60999 are neither candidates nor in Linux's default
    // ephemeral range: no other test or program picks them meanwhile.)
    let block = builder.reserve_block(3).unwrap();
    assert_eq!(block[0].port(), 61003);
    // Released on failure: no block of 3 is left, and nothing stays claimed.
    assert!(builder.reserve_block(3).is_err());
    for port in [61000, 61001] {
        assert!(!builder.is_claimed(port).unwrap(), "{port} left claimed");
    }
}
