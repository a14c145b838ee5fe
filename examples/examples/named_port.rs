//! A dev server on a named port: the same port every time it starts, kept
//! for this package in the user's store (`cargo portfor list` shows it).
//!
//! Run with `cargo run -p portfor-examples --example named_port`; the first
//! run binds `dev-server` to a free port, later runs get the same one.

use std::io::Write;
use std::net::TcpListener;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ports = portfor_test::named_ports!();
    let port = ports.port("dev-server")?;
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    writeln!(
        std::io::stdout(),
        "dev server would listen on http://{} (stored as {})",
        listener.local_addr()?,
        ports.key("dev-server")
    )?;
    Ok(())
}
