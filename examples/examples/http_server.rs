//! A server program you did not write, started on a reserved port: Python's
//! `http.server`, with `Server::spawn`.
//!
//! Run with `cargo run -p portfor-examples --example http_server` (needs
//! `python3`). If the server cannot start, `spawn` fails at once with its
//! exit status and the end of its stderr; if it does not listen within 30 s,
//! with what was seen on the port.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use portfor_test::Server;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut command = Command::new("python3");
    command.args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"]);
    let server = Server::spawn(command)?;

    // It listens now: on Linux, `spawn` made sure the listener is Python's
    // (or a process Python started), not another program's.
    let mut client = TcpStream::connect(server.addr())?;
    client.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut response = String::new();
    client.read_to_string(&mut response)?;
    let status = response.lines().next().unwrap_or_default();
    assert_eq!(status, "HTTP/1.0 200 OK");
    writeln!(
        std::io::stdout(),
        "http.server on port {} answered {status:?}",
        server.port()
    )?;
    Ok(())
}
