//! Socket activation: the test binds the listener and the server inherits it
//! as file descriptor 3 (`LISTEN_FDS=1`, `LISTEN_PID`), the protocol of
//! systemd's `sd_listen_fds`. No moment passes between choosing the port
//! and serving on it, and `spawn` returns at once.
//!
//! Run with `cargo run -p portfor-examples --example socket_activation`
//! (Unix). The child is this same program started with `serve`; it takes the
//! listener with the `listenfd` crate, which, like systemd's own library,
//! accepts the socket only if `LISTEN_PID` is its own pid.

#[cfg(unix)]
fn serve() -> std::io::Result<()> {
    use std::io::Write;
    let listener = listenfd::ListenFd::from_env()
        .take_tcp_listener(0)?
        .ok_or_else(|| std::io::Error::other("no listener on file descriptor 3"))?;
    for stream in listener.incoming() {
        let _ = writeln!(stream?, "served by pid {}", std::process::id());
    }
    Ok(())
}

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{BufRead, BufReader, Write};

    if std::env::args().nth(1).as_deref() == Some("serve") {
        return Ok(serve()?);
    }

    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.arg("serve");
    let server = portfor_test::ServerBuilder::new()
        .socket_activation(true)
        .spawn(command)?;

    // The listener was bound before the child started: connecting cannot
    // fail, and the connection waits in the backlog until the child accepts.
    let mut reply = String::new();
    BufReader::new(std::net::TcpStream::connect(server.addr())?).read_line(&mut reply)?;
    assert_eq!(reply, format!("served by pid {}\n", server.id()));
    writeln!(
        std::io::stdout(),
        "socket-activated child (pid {}) served on port {}",
        server.id(),
        server.port()
    )?;
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    // Socket activation hands over a Unix file descriptor.
}
