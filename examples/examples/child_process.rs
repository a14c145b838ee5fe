//! Start a server program as a child process with `Server::spawn`: it gets
//! a reserved port on its command line, and `spawn` returns once it listens.
//!
//! Run with `cargo run -p portfor-examples --example child_process`. The
//! child here is this same program started with `serve <port>`; in a real
//! test it is the server binary (a database, a dev server, ...).
//!
//! No handshake and no retry loop: the parent keeps the claim on the port
//! while the child runs, so no other portfor user is handed it, and
//! dropping the `Server` stops the child (and anything it started) before
//! the claim ends.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

/// The server: greets every connection.
fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    for stream in listener.incoming() {
        // Outside Linux, `spawn` checks readiness with a connection that
        // sends nothing: a server should not stop after its first client.
        let _ = stream?.write_all(b"hello from the child\n");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, port] = &args[..]
        && command == "serve"
    {
        return Ok(serve(port.parse()?)?);
    }

    let mut command = Command::new(std::env::current_exe()?);
    // `{port}` becomes the reserved port; `PORT` holds it too.
    command.args(["serve", "{port}"]);
    let server = portfor_test::Server::spawn(command)?;

    let mut reply = String::new();
    BufReader::new(TcpStream::connect(server.addr())?).read_line(&mut reply)?;
    assert_eq!(reply, "hello from the child\n");
    writeln!(
        std::io::stdout(),
        "child (pid {}) served on port {}",
        server.id(),
        server.port()
    )?;
    // Dropping the server stops the child, reaps it, then ends the claim.
    Ok(())
}
