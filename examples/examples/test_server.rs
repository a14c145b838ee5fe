//! A test that starts a server on `free_port()`.
//!
//! Run with `cargo run -p portfor-examples --example test_server`. In a real
//! test crate the body of `main` is a `#[test]` function and `portfor-test`
//! a dev-dependency; `examples/tests/server.rs` has the same as real tests.
//!
//! `free_port()` claims the port for the rest of the process: no other test,
//! in this process or another (`cargo nextest` runs each test in its own),
//! is handed it, so the server's bind cannot collide with another test's.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

/// A line-echo server, standing in for the server under test.
fn serve(listener: TcpListener) -> std::io::Result<()> {
    let (stream, _) = listener.accept()?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line)?;
    (&stream).write_all(line.to_uppercase().as_bytes())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = portfor_test::free_port();
    // The server binds the number it was given, as servers that take a port
    // in their configuration do.
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let server = std::thread::spawn(move || serve(listener));

    let mut client = TcpStream::connect(("127.0.0.1", port))?;
    client.write_all(b"hello\n")?;
    let mut reply = String::new();
    BufReader::new(&client).read_line(&mut reply)?;
    assert_eq!(reply, "HELLO\n");
    server.join().expect("server panicked")?;
    writeln!(
        std::io::stdout(),
        "server on port {port} answered {reply:?}"
    )?;
    Ok(())
}
