//! Reservations: a port claimed across processes until its guard drops.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::LazyLock;

use socket2::Socket;

use crate::claims::{self, ClaimDir};
use crate::error::{Error, Protocol, Reason, Result};
use crate::probe::{self, Probe};
use crate::select::{self, Builder};

/// A port no other portfor user sharing the claim directory is handed while
/// this guard lives: not in another process, not in another thread.
///
/// Dropping the guard ends the claim; [`keep`](Reservation::keep) keeps it
/// for the rest of the process. The claim also ends when the process dies,
/// however it dies. A claim does not occupy the port: any server can bind
/// it, unless a [kernel hold](Builder::hold) is asked for.
///
/// # Examples
///
/// ```
/// use std::io::Write;
///
/// let reservation = portfor_test::Builder::new().reserve()?;
/// // No window: the listener is bound while the claim still stands.
/// let listener = reservation.tcp_listener()?;
/// let mut client = std::net::TcpStream::connect(reservation.addr())?;
/// client.write_all(b"ping")?;
/// # drop(listener);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Reservation {
    port: u16,
    /// `None` once released or kept.
    claim: Option<ClaimDir>,
    /// The Linux kernel hold: a dual-stack socket bound exclusively, then
    /// given `SO_REUSEADDR`.
    hold: Option<Socket>,
}

// Guards cross threads (a test spawns its server thread with one).
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Reservation>();
};

impl Reservation {
    /// The reserved port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`, the address a test's client connects to.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Whether a kernel hold keeps non-portfor programs off the port.
    pub fn is_held(&self) -> bool {
        self.hold.is_some()
    }

    /// A TCP listener on [`addr`](Reservation::addr), bound while the claim
    /// (and any hold) still stands, so no other process can take the port in
    /// between. The reservation stays in force until it is dropped.
    ///
    /// # Errors
    ///
    /// When the bind fails: for example, a program that ignores portfor took
    /// the port after it was probed and no hold was asked for.
    pub fn tcp_listener(&self) -> io::Result<TcpListener> {
        self.tcp_listener_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// A TCP listener on `ip` and the reserved port: any local address, IPv4
    /// or IPv6, such as `0.0.0.0` for a server other machines reach, or
    /// `::1`. As [`tcp_listener`](Reservation::tcp_listener), it is bound
    /// while the claim stands.
    ///
    /// Whether `[::]` also takes IPv4 connections is the operating system's
    /// default (yes on Linux, no on Windows and the BSDs).
    ///
    /// # Errors
    ///
    /// When the bind fails: `ip` is not an address of this machine, or a
    /// program that ignores portfor took the port on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    ///
    /// let reservation = portfor_test::Builder::new().reserve()?;
    /// if portfor_test::ipv6_available() {
    ///     let listener = reservation.tcp_listener_on(Ipv6Addr::LOCALHOST.into())?;
    ///     std::net::TcpStream::connect((Ipv6Addr::LOCALHOST, reservation.port()))?;
    /// #   drop(listener);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tcp_listener_on(&self, ip: IpAddr) -> io::Result<TcpListener> {
        // std sets SO_REUSEADDR on Unix, which is what lets it bind through
        // the hold.
        TcpListener::bind(SocketAddr::new(ip, self.port))
    }

    /// A UDP socket bound to [`addr`](Reservation::addr); as
    /// [`tcp_listener`](Reservation::tcp_listener).
    ///
    /// # Errors
    ///
    /// When the bind fails.
    pub fn udp_socket(&self) -> io::Result<UdpSocket> {
        UdpSocket::bind(self.addr())
    }

    /// Drops the kernel hold, if any, and keeps the claim: for a server that
    /// does not set `SO_REUSEADDR` and so cannot bind through the hold.
    pub fn release_hold(&mut self) {
        self.hold = None;
    }

    /// Keeps the claim for the rest of the process and returns the port. Any
    /// kernel hold is dropped, so that whatever you hand the port to (a child
    /// process, a configuration file) can bind it.
    #[must_use = "the port is claimed for the rest of the process; use it"]
    pub fn keep(mut self) -> u16 {
        self.hold = None;
        self.claim = None;
        self.port
    }

    /// Ends the claim now, reporting a failure to release it (which `Drop`
    /// ignores).
    ///
    /// # Errors
    ///
    /// When the claim's lock cannot be released; it is released when the
    /// process exits in any case.
    pub fn close(mut self) -> Result<()> {
        self.hold = None;
        match self.claim.take() {
            Some(dir) => claims::release(&dir, self.port),
            None => Ok(()),
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.hold = None;
        if let Some(dir) = self.claim.take() {
            // Nothing to do about a failure here: the kernel drops the lock
            // at exit anyway. `close()` reports it.
            let _ = claims::release(&dir, self.port);
        }
    }
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("port", &self.port)
            .field("held", &self.is_held())
            .finish()
    }
}

/// The default claim directory, resolved once per process.
fn default_claim_dir() -> &'static ClaimDir {
    static DIR: LazyLock<ClaimDir> = LazyLock::new(ClaimDir::from_env);
    &DIR
}

/// The kernel hold: an exclusive bind of the wildcard (dual-stack where the
/// host has IPv6), then `SO_REUSEADDR` on the held socket. Exclusive binds
/// (other programs' probes, servers without `SO_REUSEADDR`), `bind(0)` and
/// outgoing connections all avoid the port; servers that set `SO_REUSEADDR`
/// bind through it on 127.0.0.1, 0.0.0.0, ::1 and `[::]`.
#[cfg(target_os = "linux")]
fn hold(addr: SocketAddr) -> io::Result<Option<Socket>> {
    let socket = probe::bind_exclusive(addr, Protocol::Tcp)?;
    socket.set_reuse_address(true)?;
    Ok(Some(socket))
}

/// No kernel hold outside Linux: `SO_REUSEADDR` means something else on
/// Windows (binding over a live socket) and on the BSDs.
#[cfg(not(target_os = "linux"))]
fn hold(_addr: SocketAddr) -> io::Result<Option<Socket>> {
    Ok(None)
}

impl Builder {
    fn claim_dir_for_reserve(&self) -> ClaimDir {
        match self.claim_dir_path() {
            Some(path) => ClaimDir::explicit(path),
            None => default_claim_dir().clone(),
        }
    }

    /// Claims `port` and probes it; the guard releases the claim if the port
    /// turns out taken.
    fn try_reserve(
        &self,
        dir: &ClaimDir,
        probe: &Probe<'_>,
        port: u16,
    ) -> Result<Result<Reservation, Reason>> {
        if !claims::try_claim(dir, port)? {
            return Ok(Err(Reason::Claimed));
        }
        let mut reservation = Reservation {
            port,
            claim: Some(dir.clone()),
            hold: None,
        };
        if let Some(reason) = probe.check(port)? {
            return Ok(Err(reason));
        }
        if self.wants_hold() {
            let addr = SocketAddr::new(probe::wildcard(), port);
            match hold(addr) {
                Ok(socket) => reservation.hold = socket,
                Err(e) => match probe::taken(&e, addr, Protocol::Tcp) {
                    // Taken between the probe and the hold by a program that
                    // does not use portfor.
                    Some(reason) => return Ok(Err(reason)),
                    None => return Err(Error::io(format!("failed to hold port {port}"), e)),
                },
            }
        }
        Ok(Ok(reservation))
    }

    /// Chooses a port as [`select`](Builder::select) does and claims it
    /// until the returned guard drops.
    ///
    /// Candidates claimed by another portfor user (or by this process) are
    /// skipped without probing; a claimed candidate that probes taken is
    /// released at once.
    ///
    /// # Errors
    ///
    /// As [`select`](Builder::select), and when the claim directory cannot
    /// be created or used.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = portfor_test::Builder::new().reserve()?;
    /// let b = portfor_test::Builder::new().reserve()?;
    /// assert_ne!(a.port(), b.port());
    /// # Ok::<(), portfor_test::Error>(())
    /// ```
    pub fn reserve(&self) -> Result<Reservation> {
        let dir = self.claim_dir_for_reserve();
        self.with_probe(|probe| self.search(|port| self.try_reserve(&dir, probe, port)))
    }

    /// Whether a portfor user sharing this builder's claim directory (this
    /// process included) claims `port` now.
    ///
    /// # Errors
    ///
    /// When the claim directory cannot be created or used.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = portfor_test::Builder::new();
    /// let reservation = builder.reserve()?;
    /// assert!(builder.is_claimed(reservation.port())?);
    /// let port = reservation.port();
    /// drop(reservation);
    /// assert!(!builder.is_claimed(port)?);
    /// # Ok::<(), portfor_test::Error>(())
    /// ```
    pub fn is_claimed(&self, port: u16) -> Result<bool> {
        claims::is_claimed(&self.claim_dir_for_reserve(), port)
    }

    /// Reserves `count` distinct ports, each as [`reserve`](Builder::reserve).
    ///
    /// # Errors
    ///
    /// As [`reserve`](Builder::reserve); the ports reserved before the
    /// failure are released.
    pub fn reserve_many(&self, count: usize) -> Result<Vec<Reservation>> {
        (0..count).map(|_| self.reserve()).collect()
    }

    /// Reserves `count` consecutive ports, `start..start + count`, all
    /// candidates and all free. The guards come in port order.
    ///
    /// # Errors
    ///
    /// When no run of `count` consecutive candidates is left, when every run
    /// tried had a port taken or claimed, or as [`reserve`](Builder::reserve).
    ///
    /// # Examples
    ///
    /// ```
    /// let block = portfor_test::Builder::new().reserve_block(3)?;
    /// assert_eq!(block[2].port(), block[0].port() + 2);
    /// # Ok::<(), portfor_test::Error>(())
    /// ```
    pub fn reserve_block(&self, count: u16) -> Result<Vec<Reservation>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let dir = self.claim_dir_for_reserve();
        let pool = self.candidates()?;
        // The ports a block of `count` can start at.
        let starts: crate::PortSet = pool
            .ranges()
            .iter()
            .filter(|range| range.len() >= u32::from(count))
            .filter_map(|range| crate::PortRange::new(range.start(), range.end() - (count - 1)))
            .collect();
        if starts.is_empty() {
            return Err(Error::no_candidates(format!(
                "no run of {count} consecutive candidate ports"
            )));
        }
        let named = crate::named_set::named_ports();
        self.with_probe(|probe| {
            select::search_in(&starts, self.attempts_limit(), |start| {
                let mut block = Vec::with_capacity(usize::from(count));
                for port in start..=start + (count - 1) {
                    if named.contains(port) {
                        return Ok(Err(Reason::Named));
                    }
                    match self.try_reserve(&dir, probe, port)? {
                        Ok(reservation) => block.push(reservation),
                        // Dropping `block` releases what was claimed.
                        Err(reason) => return Ok(Err(reason)),
                    }
                }
                Ok(Ok(block))
            })
        })
    }
}

/// A free port, claimed for the rest of the process: no other process or
/// thread sharing the claim directory is handed it while this process lives.
/// Any server can bind it.
///
/// The one-liner for tests. It panics with the reason when no port can be
/// found; [`try_free_port`] returns the error instead.
///
/// # Panics
///
/// When [`try_free_port`] fails.
///
/// # Examples
///
/// ```
/// let port = portfor_test::free_port();
/// let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
/// # drop(listener);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn free_port() -> u16 {
    try_free_port().unwrap_or_else(|error| panic!("portfor: {error}"))
}

/// [`free_port`], returning the error instead of panicking.
///
/// # Errors
///
/// As [`Builder::reserve`].
pub fn try_free_port() -> Result<u16> {
    Builder::new().reserve().map(Reservation::keep)
}
