//! The options of a [`Server`], and starting one.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::Server;
use super::activation::Activation;
use super::capture::Capture;
use super::command::{self, Parts};
use super::ready::{self, Outcome};
use super::tree::{self, ProcessTree};
use crate::error::{Error, Protocol, Result};
use crate::reservation::Reservation;
use crate::select::Builder;

/// How long [`Server::spawn`] waits for the server to listen, by default.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping server's processes get to exit after `SIGTERM`
/// before `SIGKILL`, by default (Unix).
pub const SERVER_GRACE_PERIOD: Duration = Duration::from_secs(1);

/// What becomes of a server's stdout or stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildOutput {
    /// Read by a thread of this process, which keeps the last 64 KiB
    /// ([`Server::captured_stderr`]) and puts the end of stderr in start
    /// errors. The default.
    #[default]
    Capture,
    /// The test process's own stdout or stderr. The test harness does not
    /// capture a child's output: it shows even for passing tests.
    Inherit,
    /// Discarded.
    Null,
}

impl ChildOutput {
    fn stdio(self) -> Stdio {
        match self {
            ChildOutput::Capture => Stdio::piped(),
            ChildOutput::Inherit => Stdio::inherit(),
            ChildOutput::Null => Stdio::null(),
        }
    }
}

/// Options for starting a [`Server`].
///
/// # Examples
///
/// Python's `http.server` as the server (`tests/server.rs` runs this for
/// real; it is only compiled here, as some platforms have no `python3`):
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::process::Command;
/// use std::time::Duration;
///
/// use portfor_test::{ChildOutput, ServerBuilder};
///
/// // A server that reads its port from HTTP_PORT.
/// let mut command = Command::new("python3");
/// command.args([
///     "-c",
///     "import http.server, os\n\
///      port = int(os.environ['HTTP_PORT'])\n\
///      http.server.HTTPServer(('127.0.0.1', port), http.server.SimpleHTTPRequestHandler).serve_forever()",
/// ]);
/// let server = ServerBuilder::new()
///     .port_env("HTTP_PORT")
///     .timeout(Duration::from_secs(60))
///     .stdout(ChildOutput::Null)
///     .spawn(command)?;
/// std::net::TcpStream::connect(server.addr())?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    ports: Builder,
    timeout: Duration,
    grace: Duration,
    port_env: OsString,
    address: IpAddr,
    udp: bool,
    hold: bool,
    stdout: ChildOutput,
    stderr: ChildOutput,
    socket_activation: bool,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            ports: Builder::new(),
            timeout: SERVER_START_TIMEOUT,
            grace: SERVER_GRACE_PERIOD,
            port_env: OsString::from("PORT"),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            udp: false,
            hold: false,
            stdout: ChildOutput::Capture,
            stderr: ChildOutput::Capture,
            socket_activation: false,
        }
    }
}

impl ServerBuilder {
    /// The default options: a TCP server on 127.0.0.1, the port also in
    /// `PORT`, 30 s to start, 1 s to stop, stdout and stderr captured.
    pub fn new() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Choose the port with these options (claim directory, ranges, ...)
    /// instead of the defaults. [`udp`](ServerBuilder::udp) and
    /// [`hold`](ServerBuilder::hold) add to them.
    pub fn ports(&mut self, ports: &Builder) -> &mut Self {
        self.ports = ports.clone();
        self
    }

    /// How long to wait for the server to listen (default 30 s).
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// On Unix, how long the server's processes get to exit after `SIGTERM`
    /// when it is stopped, before `SIGKILL` (default 1 s; zero kills at
    /// once). Windows always terminates at once.
    pub fn grace_period(&mut self, grace: Duration) -> &mut Self {
        self.grace = grace;
        self
    }

    /// The environment variable that holds the port (default `PORT`).
    pub fn port_env(&mut self, name: impl Into<OsString>) -> &mut Self {
        self.port_env = name.into();
        self
    }

    /// The address the server listens on (default 127.0.0.1): readiness
    /// wants a socket that serves it, a socket-activated server gets a
    /// socket bound to it, and [`Server::addr`] reports it (with loopback
    /// for `0.0.0.0` or `[::]`). The child learns it from you: put it in
    /// its command line.
    pub fn address(&mut self, address: IpAddr) -> &mut Self {
        self.address = address;
        self
    }

    /// The server serves UDP instead of TCP: the port is reserved free on
    /// both, and the server is ready when it has a UDP socket on the port.
    pub fn udp(&mut self, udp: bool) -> &mut Self {
        self.udp = udp;
        self
    }

    /// Hold the port in the kernel until the server is stopped
    /// ([`Builder::hold`]; Linux): other programs cannot take it while the
    /// server starts. The server must set `SO_REUSEADDR` to bind through the
    /// hold, as Rust's std and tokio, Go, Node.js and Python's
    /// `http.server` do.
    pub fn hold(&mut self, hold: bool) -> &mut Self {
        self.hold = hold;
        self
    }

    /// What becomes of the server's stdout (default: captured).
    pub fn stdout(&mut self, output: ChildOutput) -> &mut Self {
        self.stdout = output;
        self
    }

    /// What becomes of the server's stderr (default: captured, and the end
    /// of it in start errors).
    pub fn stderr(&mut self, output: ChildOutput) -> &mut Self {
        self.stderr = output;
        self
    }

    /// Socket activation (Unix): bind the socket here, a TCP listener (or a
    /// UDP socket) on the address and port, and hand it to the child as file
    /// descriptor 3 with `LISTEN_FDS=1` and `LISTEN_PID` set to the child's
    /// pid, the protocol of systemd's `sd_listen_fds`. No moment passes
    /// between choosing the port and serving on it; [`Server::spawn`]
    /// returns at once.
    ///
    /// The command runs through `/bin/sh`, which sets `LISTEN_PID` and
    /// `exec`s it; its stdin is `/dev/null`. A command that cannot be run
    /// exits with status 127 ([`Server::stop`] reports it), and connections
    /// to the port are refused from then on.
    pub fn socket_activation(&mut self, activation: bool) -> &mut Self {
        self.socket_activation = activation;
        self
    }

    fn protocol(&self) -> Protocol {
        if self.udp {
            Protocol::Udp
        } else {
            Protocol::Tcp
        }
    }

    /// Reserves a port and starts `command` on it as a [`Server`], returning
    /// once it listens (see [`Server::spawn`]).
    ///
    /// # Errors
    ///
    /// When no port can be reserved, the socket for socket activation cannot
    /// be bound (or socket activation is asked for on Windows), the command
    /// cannot be started, it exits before it listens, or it does not listen
    /// within the timeout: see [Readiness](Server#readiness).
    pub fn spawn(&self, command: Command) -> Result<Server> {
        let (reservation, activation) = self.reserve()?;
        let parts = Parts::of(&command, reservation.port());
        let shown = parts.display();
        let child_command = self.child_command(&command, &parts, &reservation, activation);
        let (mut child, tree) = start(child_command, &shown)?;
        let server = Server {
            stdout: child.stdout.take().map(Capture::start),
            stderr: child.stderr.take().map(Capture::start),
            child,
            tree,
            listen: SocketAddr::new(self.address, reservation.port()),
            protocol: self.protocol(),
            grace: self.grace,
            command: shown,
            reservation: Some(reservation),
            status: None,
        };
        if self.socket_activation {
            return Ok(server);
        }
        self.wait_ready(server)
    }

    /// Reserves a port and, for socket activation, binds its socket. A port
    /// found taken at that bind (by a program that ignores portfor, or by a
    /// copy of a probe socket in a child that other code of this process is
    /// starting) is given up for another, up to [`BIND_ATTEMPTS`] times.
    fn reserve(&self) -> Result<(Reservation, Option<Activation>)> {
        let mut ports = self.ports.clone();
        if self.udp {
            ports.udp(true);
        }
        if self.hold {
            ports.hold(true);
        }
        let mut attempts = 1;
        loop {
            let reservation = ports.reserve()?;
            if !self.socket_activation {
                return Ok((reservation, None));
            }
            match Activation::bind(&reservation, self.address, self.protocol()) {
                Ok(activation) => return Ok((reservation, Some(activation))),
                Err(e) if attempts < BIND_ATTEMPTS && is_addr_in_use(&e) => attempts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// The command the child runs: the caller's `parts`, through the
    /// activation wrapper if asked, with the port in its environment, the
    /// output options, and a process group of its own.
    fn child_command(
        &self,
        command: &Command,
        parts: &Parts,
        reservation: &Reservation,
        activation: Option<Activation>,
    ) -> Command {
        let mut child_command = match &activation {
            Some(activation) => activation.command(parts),
            None => {
                let mut plain = Command::new(&parts.program);
                plain.args(&parts.args);
                plain
            }
        };
        command::carry_over(
            command,
            &mut child_command,
            &self.port_env,
            reservation.port(),
        );
        child_command
            .stdout(self.stdout.stdio())
            .stderr(self.stderr.stdio());
        if let Some(activation) = activation {
            activation.hand_over(&mut child_command);
        }
        tree::prepare(&mut child_command);
        child_command
    }

    fn wait_ready(&self, mut server: Server) -> Result<Server> {
        // On an error, dropping the server stops it.
        match ready::wait(
            &mut server.child,
            server.listen,
            server.protocol,
            self.timeout,
        )? {
            Outcome::Ready => Ok(server),
            Outcome::Exited(status) => Err(server.fail(|s| Error::server_exited(s, status))),
            Outcome::TimedOut(seen) => {
                let waited = self.timeout;
                Err(server.fail(|s| Error::server_timeout(s, waited, seen.to_string())))
            }
        }
    }
}

/// How many ports a socket-activated server tries to bind.
const BIND_ATTEMPTS: u32 = 3;

fn is_addr_in_use(error: &Error) -> bool {
    error
        .io_error()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse)
}

/// Spawns `child_command` and gives the child a process tree of its own
/// (a job object on Windows), killing it if that fails.
fn start(mut child_command: Command, shown: &str) -> Result<(Child, ProcessTree)> {
    let spawned = {
        let _spawning = crate::spawn_lock::spawning();
        child_command.spawn()
    };
    // Closes this process's copy of an activation socket.
    drop(child_command);
    let mut child =
        spawned.map_err(|e| Error::io(format!("failed to start server `{shown}`"), e))?;
    match ProcessTree::adopt(&child) {
        Ok(tree) => Ok((child, tree)),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::io(
                format!("failed to give server `{shown}` a process tree of its own"),
                e,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults the documentation and the README state.
    #[test]
    fn defaults_are_the_documented_ones() {
        let builder = ServerBuilder::new();
        assert_eq!(builder.timeout, Duration::from_secs(30));
        assert_eq!(builder.grace, Duration::from_secs(1));
        assert_eq!(builder.port_env, "PORT");
        assert_eq!(builder.address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(builder.protocol(), Protocol::Tcp);
        assert!(!builder.hold && !builder.socket_activation);
        assert_eq!(
            (builder.stdout, builder.stderr),
            (ChildOutput::Capture, ChildOutput::Capture)
        );
    }
}
