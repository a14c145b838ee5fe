//! Hand a claimed port to a child process: a server started as a separate
//! program, which takes its port on the command line.
//!
//! Run with `cargo run -p portfor-examples --example child_process`. The
//! child here is this same program started with `serve <port>`; in a real
//! test it is the server binary (a database, a dev server, ...).
//!
//! The parent keeps the claim while the child runs, so no other portfor user
//! is handed the port; the child binds it like any other port.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    // Tell the parent we are listening: one line on stdout.
    writeln!(std::io::stdout(), "listening")?;
    let (stream, _) = listener.accept()?;
    (&stream).write_all(b"hello from the child\n")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, port] = &args[..]
        && command == "serve"
    {
        return Ok(serve(port.parse()?)?);
    }

    // The guard keeps the claim until the end of `main`. `free_port()` would
    // do too, keeping it until the process exits.
    let reservation = portfor_test::Builder::new().reserve()?;
    let port = reservation.port();
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;

    // Wait until the child says it listens, for 30 s at most: a child that
    // dies or hangs must not hang the test.
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) if line.trim() == "listening" => {}
        other => {
            child.kill()?;
            return Err(format!("child did not start: {other:?}").into());
        }
    }

    let mut reply = String::new();
    BufReader::new(TcpStream::connect(("127.0.0.1", port))?).read_line(&mut reply)?;
    assert_eq!(reply, "hello from the child\n");
    assert!(child.wait()?.success());
    writeln!(std::io::stdout(), "child served on port {port}")?;
    drop(reservation);
    Ok(())
}
