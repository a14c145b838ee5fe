//! tokio listeners from reservations (the `tokio` feature).

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use crate::reservation::Reservation;

impl Reservation {
    /// A [`tokio::net::TcpListener`] on [`addr`](Reservation::addr), bound
    /// while the claim stands, as [`tcp_listener`](Reservation::tcp_listener).
    ///
    /// Needs the `tokio` feature. The listener is set non-blocking before
    /// tokio takes it: given a blocking one,
    /// [`TcpListener::from_std`](tokio::net::TcpListener::from_std) panics in
    /// debug builds (tokio-rs/tokio#7172), and in release builds a runtime
    /// thread stalls in `accept` (tokio-rs/tokio#3001).
    ///
    /// # Errors
    ///
    /// When the bind fails, and when called outside a tokio runtime (instead
    /// of tokio's panic).
    ///
    /// # Panics
    ///
    /// When the runtime was built without I/O (`enable_io`), as tokio does.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_io().build()?.block_on(async {
    /// let reservation = portfor_test::Builder::new().reserve()?;
    /// let listener = reservation.tokio_listener()?;
    /// let client = tokio::net::TcpStream::connect(reservation.addr());
    /// let (accepted, connected) = tokio::join!(listener.accept(), client);
    /// assert_eq!(accepted?.1, connected?.local_addr()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tokio_listener(&self) -> io::Result<tokio::net::TcpListener> {
        self.tokio_listener_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// [`tokio_listener`](Reservation::tokio_listener) on any local address,
    /// as [`tcp_listener_on`](Reservation::tcp_listener_on).
    ///
    /// # Errors
    ///
    /// As [`tokio_listener`](Reservation::tokio_listener).
    ///
    /// # Panics
    ///
    /// As [`tokio_listener`](Reservation::tokio_listener).
    pub fn tokio_listener_on(&self, ip: IpAddr) -> io::Result<tokio::net::TcpListener> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "a tokio listener needs a tokio runtime: call tokio_listener from async code \
                 (or inside Runtime::enter)",
            ));
        }
        let listener = self.tcp_listener_on(ip)?;
        listener.set_nonblocking(true)?;
        tokio::net::TcpListener::from_std(listener)
    }
}
