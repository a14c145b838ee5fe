//! What tests using portfor look like: copy from here.
//!
//! Each test gets its own port, under `cargo test` (threads) and under
//! `cargo nextest run` (one process per test) alike.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn echo_once(listener: TcpListener) -> std::thread::JoinHandle<std::io::Result<()>> {
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept()?;
        let mut buf = [0; 5];
        stream.read_exact(&mut buf)?;
        stream.write_all(&buf)
    })
}

fn roundtrip(port: u16) -> std::io::Result<[u8; 5]> {
    let mut client = TcpStream::connect(("127.0.0.1", port))?;
    client.write_all(b"hello")?;
    let mut reply = [0; 5];
    client.read_exact(&mut reply)?;
    Ok(reply)
}

/// The one-liner: a port number for a server that takes one.
#[test]
fn server_on_free_port() {
    let port = portfor_test::free_port();
    let server = echo_once(TcpListener::bind(("127.0.0.1", port)).unwrap());
    assert_eq!(&roundtrip(port).unwrap(), b"hello");
    server.join().unwrap().unwrap();
}

/// A server that accepts a bound listener: no window between choosing the
/// port and binding it, and the claim ends with the test.
#[test]
fn server_on_a_reserved_listener() {
    let reservation = portfor_test::Builder::new().reserve().unwrap();
    let server = echo_once(reservation.tcp_listener().unwrap());
    assert_eq!(&roundtrip(reservation.port()).unwrap(), b"hello");
    server.join().unwrap().unwrap();
}

/// Several servers (a small cluster) on distinct ports.
#[test]
fn a_cluster_on_distinct_ports() {
    let reservations = portfor_test::Builder::new().reserve_many(3).unwrap();
    let servers: Vec<_> = reservations
        .iter()
        .map(|r| echo_once(r.tcp_listener().unwrap()))
        .collect();
    for reservation in &reservations {
        assert_eq!(&roundtrip(reservation.port()).unwrap(), b"hello");
    }
    for server in servers {
        server.join().unwrap().unwrap();
    }
}

/// A server program (here Python's `http.server`) started by the test on a
/// port of its own: it listens when `spawn` returns, and stops when the
/// `Server` drops.
#[test]
fn a_server_program_started_by_the_test() {
    let mut command = std::process::Command::new("python3");
    command.args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"]);
    let server = portfor_test::Server::spawn(command).unwrap();
    let mut client = TcpStream::connect(server.addr()).unwrap();
    client.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
}
