//! `Reservation::tokio_listener` (the `tokio` feature).

#![cfg(feature = "tokio")]
// A test skipped for want of IPv6 says so on stderr.
#![allow(clippy::print_stderr)]

use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A port claimed in the machine-wide claim directory, which every test
/// that binds its ports shares.
fn reserve() -> portfor_test::Reservation {
    portfor_test::Builder::new().reserve().unwrap()
}

#[tokio::test]
async fn a_tokio_listener_serves_on_the_reserved_port() {
    let reservation = reserve();
    let listener = reservation.tokio_listener().unwrap();
    assert_eq!(listener.local_addr().unwrap(), reservation.addr());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0; 4];
        stream.read_exact(&mut request).await.unwrap();
        stream
            .write_all(&request.to_ascii_uppercase())
            .await
            .unwrap();
    });
    let mut client = tokio::net::TcpStream::connect(reservation.addr())
        .await
        .unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut reply = [0; 4];
    client.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"PING");
    server.await.unwrap();
}

/// A blocking listener makes tokio panic in debug builds, and in release
/// builds stalls the one thread of a current-thread runtime in `accept` once
/// no connection is pending (tokio-rs/tokio#3001), so that the second client
/// below never connects. A watchdog fails the test instead of a hang.
#[test]
fn the_listener_never_blocks_the_runtime() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let _ = done.send(runtime.block_on(two_clients_one_thread()));
    });
    let (accepted, connected) = match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(peers) => peers,
        Err(RecvTimeoutError::Timeout) => panic!("the runtime's only thread blocked in accept"),
        Err(RecvTimeoutError::Disconnected) => panic!("the runtime's thread panicked (above)"),
    };
    assert_eq!(accepted, connected);
}

type Peers = (std::net::SocketAddr, std::net::SocketAddr);

async fn two_clients_one_thread() -> (Peers, Peers) {
    let reservation = reserve();
    let listener = reservation.tokio_listener().unwrap();
    let acceptor = tokio::spawn(async move {
        let first = listener.accept().await.unwrap().1;
        let second = listener.accept().await.unwrap().1;
        (first, second)
    });
    let one = tokio::net::TcpStream::connect(reservation.addr())
        .await
        .unwrap();
    // Let the acceptor take the first and start waiting for the second.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let two = tokio::net::TcpStream::connect(reservation.addr())
        .await
        .unwrap();
    let accepted = acceptor.await.unwrap();
    let connected = (one.local_addr().unwrap(), two.local_addr().unwrap());
    (accepted, connected)
}

#[tokio::test]
async fn a_tokio_listener_on_ipv6_loopback() {
    if !portfor_test::ipv6_available() {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    }
    let reservation = reserve();
    let ip = std::net::Ipv6Addr::LOCALHOST.into();
    let listener = reservation.tokio_listener_on(ip).unwrap();
    let client = tokio::net::TcpStream::connect((ip, reservation.port()));
    let (accepted, connected) = tokio::join!(listener.accept(), client);
    assert_eq!(
        accepted.unwrap().1,
        connected.unwrap().local_addr().unwrap()
    );
}

#[test]
fn outside_a_runtime_it_is_an_error_not_a_panic() {
    let reservation = reserve();
    let error = reservation.tokio_listener().unwrap_err();
    assert!(
        error.to_string().contains("needs a tokio runtime"),
        "{error}"
    );
}
