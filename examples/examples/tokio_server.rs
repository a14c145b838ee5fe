//! A tokio server on a reserved port, with the `tokio` feature of
//! portfor-test: `tokio_listener()` hands over a bound, non-blocking
//! `tokio::net::TcpListener`, with no moment between choosing the port and
//! binding it.
//!
//! Run with `cargo run -p portfor-examples --example tokio_server`. In a
//! test crate: `portfor-test = { version = "0.1", features = ["tokio"] }`
//! under `[dev-dependencies]`, and the body of `main` in a `#[tokio::test]`.

use std::io::Write;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let reservation = portfor_test::Builder::new().reserve()?;
    let listener = reservation.tokio_listener()?;

    // A line-echo server, standing in for the server under test.
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let (reader, mut writer) = stream.into_split();
        let mut line = String::new();
        BufReader::new(reader).read_line(&mut line).await?;
        writer.write_all(line.to_uppercase().as_bytes()).await
    });

    let stream = TcpStream::connect(reservation.addr()).await?;
    let (reader, mut writer) = stream.into_split();
    writer.write_all(b"hello\n").await?;
    let mut reply = String::new();
    BufReader::new(reader).read_line(&mut reply).await?;
    assert_eq!(reply, "HELLO\n");
    server.await??;
    writeln!(
        std::io::stdout(),
        "tokio server on port {} answered {reply:?}",
        reservation.port()
    )?;
    Ok(())
}
