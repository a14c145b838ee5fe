//! Choose a free port the way port-for does and start a server on it.
//!
//! Run with `cargo run -p portfor-examples --example select_port`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = portfor_test::Builder::new().select()?;
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let server = std::thread::spawn(move || -> std::io::Result<String> {
        let (mut stream, _) = listener.accept()?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    });
    TcpStream::connect(("127.0.0.1", port))?.write_all(b"hello")?;
    let received = server.join().expect("server thread panicked")?;
    assert_eq!(received, "hello");
    writeln!(std::io::stdout(), "served on port {port}")?;
    Ok(())
}
