//! Servers started as child processes, on a reserved port, ready when
//! [`Server::spawn`] returns, stopped with their descendants on drop.
//!
//! One concept per file: `builder` (the options, and spawning), `command`
//! (the child's command line and environment), `activation` (socket
//! activation), `ready` with `listening_*` (readiness), `tree_*` (the
//! process group or job object, and teardown), `capture` (stdout and stderr).

mod activation;
mod builder;
mod capture;
mod command;
mod ready;

#[cfg(unix)]
#[path = "tree_unix.rs"]
mod tree;

#[cfg(windows)]
#[path = "tree_windows.rs"]
mod tree;

#[cfg(not(any(unix, windows)))]
#[path = "tree_other.rs"]
mod tree;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::process::{Child, ExitStatus};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Protocol, Result, ServerFailure};
use crate::reservation::Reservation;

pub use builder::{ChildOutput, SERVER_GRACE_PERIOD, SERVER_START_TIMEOUT, ServerBuilder};

use capture::Capture;
use tree::ProcessTree;

/// At most this much of a failed server's stderr goes into the error.
const STDERR_IN_ERRORS: usize = 4096;

/// How long a failed server's stderr may take to reach its end once its
/// processes are stopped (a process that left the group may still hold it).
const STDERR_DRAIN: Duration = Duration::from_secs(1);

/// A server running as a child process on a reserved port.
///
/// [`Server::spawn`] reserves a port, starts the command with it (every
/// `{port}` in its arguments replaced, and `PORT` set in its environment),
/// and returns once the child, or a process it started, listens on the
/// port. Dropping the `Server` stops the child and its descendants, reaps
/// the child, and only then ends the claim on the port. [`ServerBuilder`]
/// has the options: timeout, variable name, address, UDP, kernel hold,
/// stdout and stderr, socket activation.
///
/// # Readiness
///
/// - **Linux**: a socket on the port, listening (TCP) or bound (UDP), held
///   by the child or one of its descendants (its parent chain or its
///   process group), on an address that serves [`addr`](Server::addr), as
///   `/proc` shows them. Another process listening on the port does not
///   count, however well it answers.
/// - **Elsewhere**: for TCP, a connection to the address succeeds while the
///   child runs (the server sees that connection, which sends nothing); for
///   UDP, binding the address fails with "address in use". Neither can tell
///   the child's socket from another program's.
/// - With **socket activation** ([`ServerBuilder::socket_activation`]), the
///   socket listens before the child starts, so `spawn` returns at once;
///   connections wait in the backlog until the child accepts them.
///
/// A child that exits before it is ready fails `spawn` within about 100 ms
/// of its exit, with its exit status and the end of its stderr
/// ([`Error::exit_status`], [`Error::server_stderr`]); one that is not ready
/// within the timeout (30 s by default) fails with what was seen on the port
/// ([`Error::is_server_timeout`]). Either way its processes are stopped first.
///
/// # Stopping
///
/// - **Unix**: the child leads a process group of its own, which its
///   descendants join. Dropping the `Server` sends `SIGTERM` to the group,
///   waits up to the grace period (1 s by default) for every process of it
///   to exit, sends `SIGKILL` to what is left, reaps the child and waits for
///   the killed processes to be gone. A descendant that leaves the group
///   (`setsid`, as daemons do) is not stopped. Because the group is not the
///   terminal's, Ctrl-C on the test run does not reach the server, and a
///   test process that dies without running destructors (Ctrl-C, `SIGKILL`,
///   `panic = "abort"`) leaves it running.
/// - **Windows**: the child runs in a job object with
///   `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`; stopping closes it, which
///   terminates every process in the job at once (there is no grace
///   period), and so does the death of the test process. A process the child
///   starts in its first instants, before it joins the job, can escape it.
///
/// # Examples
///
/// Python's `http.server` as the server (`tests/server.rs` runs this for
/// real; it is only compiled here, as some platforms have no `python3`):
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::{Read, Write};
/// use std::process::Command;
///
/// let mut command = Command::new("python3");
/// command.args(["-m", "http.server", "--bind", "127.0.0.1", "{port}"]);
/// let server = portfor_test::Server::spawn(command)?;
/// // Listening: no retry loop needed.
/// let mut client = std::net::TcpStream::connect(server.addr())?;
/// client.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.0 200"));
/// # Ok(())
/// # }
/// ```
pub struct Server {
    child: Child,
    tree: ProcessTree,
    /// The address the server was asked to listen on.
    listen: SocketAddr,
    protocol: Protocol,
    stdout: Option<Arc<Capture>>,
    stderr: Option<Arc<Capture>>,
    grace: Duration,
    /// The command as messages show it.
    command: String,
    /// `Some` until the child's processes are stopped.
    reservation: Option<Reservation>,
    /// The child's exit status, once stopped.
    status: Option<ExitStatus>,
}

// A test hands its server to other threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Server>();
};

impl Server {
    /// Starts `command` as a server on a reserved port with the default
    /// options ([`ServerBuilder::new`]), and returns once it listens.
    ///
    /// The child gets the port as every `{port}` in its arguments and as the
    /// environment variable `PORT`, stdin from `/dev/null` (or `NUL`), and
    /// its stdout and stderr captured. Of `command`, the program, arguments,
    /// environment changes and working directory are used; settings
    /// `std::process::Command` does not expose (`env_clear`, stdio, uid,
    /// `pre_exec`, ...) are not.
    ///
    /// # Errors
    ///
    /// When no port can be reserved, the command cannot be started, it
    /// exits before it listens, or it does not listen within 30 s: see
    /// [Readiness](Server#readiness).
    pub fn spawn(command: std::process::Command) -> Result<Server> {
        ServerBuilder::new().spawn(command)
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.listen.port()
    }

    /// The address a client connects to: the address the server listens on
    /// (127.0.0.1 by default), with loopback for a wildcard address.
    pub fn addr(&self) -> SocketAddr {
        ready::client_addr(self.listen)
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child process. Its stdout and stderr are `None` when captured.
    pub fn child(&self) -> &Child {
        &self.child
    }

    /// The child process, to signal it or wait for it. Dropping the `Server`
    /// still stops its process group (or job).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The end of what the child's processes wrote to stdout so far (the
    /// last 64 KiB, invalid UTF-8 replaced); `None` unless captured.
    pub fn captured_stdout(&self) -> Option<String> {
        self.stdout.as_ref().map(|c| c.text())
    }

    /// As [`captured_stdout`](Server::captured_stdout), for stderr.
    pub fn captured_stderr(&self) -> Option<String> {
        self.stderr.as_ref().map(|c| c.text())
    }

    /// Stops the server as dropping it does, and reports what `Drop`
    /// ignores: the child's exit status (on Unix, killed by `SIGTERM` when
    /// it did not handle it), and failures to stop it or to end the claim.
    ///
    /// # Errors
    ///
    /// When waiting for the child fails (the claim is then kept until this
    /// process exits, since the server may still hold the port), or when the
    /// claim cannot be released.
    pub fn stop(mut self) -> Result<ExitStatus> {
        let status = self
            .shutdown()
            .map_err(|e| Error::io(format!("failed to stop server `{}`", self.command), e))?;
        match self.reservation.take() {
            Some(reservation) => reservation.close().map(|()| status),
            None => Ok(status),
        }
    }

    /// Stops the child's processes and reaps it, once; keeps the claim if
    /// that fails, for the processes may still hold the port.
    fn shutdown(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        match self.tree.stop(&mut self.child, self.grace) {
            Ok(status) => {
                self.status = Some(status);
                Ok(status)
            }
            Err(e) => {
                if let Some(reservation) = self.reservation.take() {
                    let _ = reservation.keep();
                }
                Err(e)
            }
        }
    }

    /// Stops a server that failed to start, and describes it for the error
    /// `make` builds.
    fn fail(mut self, make: impl FnOnce(ServerFailure) -> Error) -> Error {
        if let Err(e) = self.shutdown() {
            return Error::io(format!("failed to stop server `{}`", self.command), e);
        }
        let stderr = self.stderr.as_ref().map(|capture| {
            capture.wait_finished(STDERR_DRAIN);
            capture.tail(STDERR_IN_ERRORS)
        });
        make(ServerFailure {
            command: std::mem::take(&mut self.command),
            addr: self.listen,
            protocol: self.protocol,
            stderr,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `stop()` reports a failure; the claim is kept then.
        if self.shutdown().is_ok() {
            drop(self.reservation.take());
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("command", &self.command)
            .field("addr", &self.listen)
            .field("protocol", &self.protocol)
            .field("pid", &self.child.id())
            .finish()
    }
}
