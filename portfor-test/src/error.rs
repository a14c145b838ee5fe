//! The crate's one error type.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use crate::range::PortSet;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from portfor-test.
///
/// The message names the action, what it acted on, and the operating
/// system's cause when there is one ("failed to claim port 20001 in
/// /tmp/portfor-claims: Permission denied (os error 13)"), so that a panic
/// or a one-line report says everything; [`io_error`](Error::io_error)
/// gives the cause itself. Converting to [`io::Error`] keeps a fitting
/// [`io::ErrorKind`].
pub struct Error {
    // Boxed: one pointer keeps `Result<T>` small on the hot path.
    kind: Box<ErrorKind>,
}

#[derive(Debug)]
enum ErrorKind {
    /// An I/O operation failed; `action` says which, e.g. "failed to probe".
    Io {
        action: String,
        path: Option<PathBuf>,
        source: io::Error,
    },
    /// Every candidate port lies in the ephemeral or reserved ranges.
    NoSafePorts {
        base: PortSet,
        ephemeral: PortSet,
        reserved: PortSet,
    },
    /// The candidate set is empty for a reason other than system ranges.
    NoCandidates { why: String },
    /// Each candidate tried was taken.
    NoFreePort {
        candidates: PortSet,
        rejections: Vec<Rejection>,
        /// Whether the search stopped at its limit of probes, with
        /// candidates left untried.
        limited: bool,
    },
    /// The input could not be understood.
    Invalid { what: String },
    /// A server's child process exited before it listened.
    ServerExited {
        server: ServerFailure,
        status: ExitStatus,
    },
    /// A server's child process did not listen within the timeout.
    ServerTimeout {
        server: ServerFailure,
        waited: Duration,
        seen: String,
    },
}

/// What every server start failure reports.
#[derive(Debug)]
pub(crate) struct ServerFailure {
    /// The command, as [`Server`](crate::Server) shows it.
    pub(crate) command: String,
    /// Where it was to listen.
    pub(crate) addr: SocketAddr,
    pub(crate) protocol: Protocol,
    /// The end of its stderr; `None` when stderr was not captured.
    pub(crate) stderr: Option<String>,
}

/// Why a candidate port was not handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    port: u16,
    reason: Reason,
}

/// What made a port unavailable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// An exclusive bind failed with "address in use".
    InUse {
        /// The address the probe bound.
        addr: SocketAddr,
        /// The protocol of the probe.
        protocol: Protocol,
    },
    /// An exclusive bind failed with "permission denied": a privileged port,
    /// or on Windows a port in an excluded range (WSAEACCES).
    Forbidden {
        /// The address the probe bound.
        addr: SocketAddr,
        /// The protocol of the probe.
        protocol: Protocol,
    },
    /// Another portfor user sharing the claim directory holds it, or this
    /// process does (or another user made its claim file unusable).
    Claimed,
    /// Bound to a name in the user's or the system store: the stable port
    /// of someone's server, not to be handed out.
    Named,
}

/// A transport protocol a port can be probed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

impl Rejection {
    pub(crate) fn new(port: u16, reason: Reason) -> Rejection {
        Rejection { port, reason }
    }

    /// The port that was rejected.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Why it was rejected.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Reason::InUse { addr, protocol } => {
                write!(f, "{}: in use on {} ({protocol})", self.port, addr.ip())
            }
            Reason::Forbidden { addr, protocol } => write!(
                f,
                "{}: permission denied on {} ({protocol})",
                self.port,
                addr.ip()
            ),
            Reason::Claimed => write!(f, "{}: claimed by a portfor user", self.port),
            Reason::Named => write!(f, "{}: bound to a name", self.port),
        }
    }
}

impl Error {
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Error {
        Error {
            kind: Box::new(ErrorKind::Io {
                action: action.into(),
                path: None,
                source,
            }),
        }
    }

    pub(crate) fn io_at(action: impl Into<String>, path: &Path, source: io::Error) -> Error {
        Error {
            kind: Box::new(ErrorKind::Io {
                action: action.into(),
                path: Some(path.to_owned()),
                source,
            }),
        }
    }

    pub(crate) fn no_safe_ports(base: PortSet, ephemeral: PortSet, reserved: PortSet) -> Error {
        Error {
            kind: Box::new(ErrorKind::NoSafePorts {
                base,
                ephemeral,
                reserved,
            }),
        }
    }

    pub(crate) fn no_candidates(why: impl Into<String>) -> Error {
        Error {
            kind: Box::new(ErrorKind::NoCandidates { why: why.into() }),
        }
    }

    pub(crate) fn no_free_port(
        candidates: PortSet,
        rejections: Vec<Rejection>,
        limited: bool,
    ) -> Error {
        Error {
            kind: Box::new(ErrorKind::NoFreePort {
                candidates,
                rejections,
                limited,
            }),
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Error {
        Error {
            kind: Box::new(ErrorKind::Invalid { what: what.into() }),
        }
    }

    pub(crate) fn server_exited(server: ServerFailure, status: ExitStatus) -> Error {
        Error {
            kind: Box::new(ErrorKind::ServerExited { server, status }),
        }
    }

    pub(crate) fn server_timeout(server: ServerFailure, waited: Duration, seen: String) -> Error {
        Error {
            kind: Box::new(ErrorKind::ServerTimeout {
                server,
                waited,
                seen,
            }),
        }
    }

    /// The file the failed operation was on, if any.
    pub fn path(&self) -> Option<&Path> {
        match &*self.kind {
            ErrorKind::Io { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// The underlying I/O error, if this error came from one.
    pub fn io_error(&self) -> Option<&io::Error> {
        match &*self.kind {
            ErrorKind::Io { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The candidates tried and why each was rejected, when no free port was
    /// found among them.
    pub fn rejections(&self) -> &[Rejection] {
        match &*self.kind {
            ErrorKind::NoFreePort { rejections, .. } => rejections,
            _ => &[],
        }
    }

    /// Whether the error means no port could be selected: the candidates were
    /// all taken, or none were left after excluding system ranges.
    pub fn is_exhausted(&self) -> bool {
        matches!(
            *self.kind,
            ErrorKind::NoFreePort { .. }
                | ErrorKind::NoSafePorts { .. }
                | ErrorKind::NoCandidates { .. }
        )
    }

    /// The exit status of a server's child process that exited before it
    /// listened ([`Server::spawn`](crate::Server::spawn)).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        match &*self.kind {
            ErrorKind::ServerExited { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The end of what a server's child process wrote to stderr, when it
    /// failed to start and its stderr was captured.
    pub fn server_stderr(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::ServerExited { server, .. } | ErrorKind::ServerTimeout { server, .. } => {
                server.stderr.as_deref()
            }
            _ => None,
        }
    }

    /// Whether a server did not listen within its timeout
    /// ([`ServerBuilder::timeout`](crate::ServerBuilder::timeout)).
    pub fn is_server_timeout(&self) -> bool {
        matches!(*self.kind, ErrorKind::ServerTimeout { .. })
    }

    /// Whether the error is [`is_exhausted`](Error::is_exhausted) because the
    /// system's ephemeral (or reserved) port ranges cover every candidate:
    /// port-for issue #12. The message explains the fix.
    pub fn is_ephemeral_conflict(&self) -> bool {
        matches!(*self.kind, ErrorKind::NoSafePorts { .. })
    }
}

/// At most this many ranges or rejections are spelled out in a message.
const LISTED: usize = 8;

fn write_ranges(f: &mut fmt::Formatter<'_>, set: &PortSet) -> fmt::Result {
    let ranges = set.ranges();
    for (i, range) in ranges.iter().take(LISTED).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{range}")?;
    }
    if ranges.len() > LISTED {
        write!(f, " and {} more", ranges.len() - LISTED)?;
    }
    Ok(())
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_message(f)
    }
}

/// How many rejections of each kind, for the exhaustion message.
#[derive(Default)]
struct Tally {
    claimed: usize,
    named: usize,
    in_use: usize,
    forbidden: usize,
}

impl Tally {
    fn of(rejections: &[Rejection]) -> Tally {
        let mut tally = Tally::default();
        for rejection in rejections {
            match rejection.reason {
                Reason::Claimed => tally.claimed += 1,
                Reason::Named => tally.named += 1,
                Reason::InUse { .. } => tally.in_use += 1,
                Reason::Forbidden { .. } => tally.forbidden += 1,
            }
        }
        tally
    }
}

fn write_no_safe_ports(
    f: &mut fmt::Formatter<'_>,
    base: &PortSet,
    ephemeral: &PortSet,
    reserved: &PortSet,
) -> fmt::Result {
    write!(
        f,
        "no port is safe to hand out: the {} candidate ports lie in the \
         operating system's ephemeral port range (",
        base.len()
    )?;
    write_ranges(f, ephemeral)?;
    f.write_str(")")?;
    if !reserved.is_empty() {
        f.write_str(" or its reserved ports (")?;
        write_ranges(f, reserved)?;
        f.write_str(")")?;
    }
    f.write_str(
        ", which it may give to any outgoing connection at any moment; \
         narrow the ephemeral range (Linux: sysctl -w \
         net.ipv4.ip_local_port_range=\"32768 60999\"; Windows: netsh int ipv4 \
         set dynamicport tcp start=49152 num=16384), or set \
         PORTFOR_ALLOW_EPHEMERAL=1 (Builder::allow_ephemeral) to pick from \
         the ephemeral range anyway",
    )
}

fn write_no_free_port(
    f: &mut fmt::Formatter<'_>,
    candidates: &PortSet,
    rejections: &[Rejection],
    limited: bool,
) -> fmt::Result {
    let tally = Tally::of(rejections);
    write!(
        f,
        "no free port: of {} candidates in {} ranges (",
        candidates.len(),
        candidates.ranges().len()
    )?;
    write_ranges(f, candidates)?;
    write!(
        f,
        "), {} claimed by portfor users, {} bound to names, {} in use, {} forbidden",
        tally.claimed, tally.named, tally.in_use, tally.forbidden
    )?;
    if limited {
        write!(
            f,
            ", and the rest left untried at the limit of {} probes",
            tally.in_use + tally.forbidden
        )?;
    }
    write_probed(f, rejections)
}

/// The first probed rejections (in use, forbidden), which say where.
fn write_probed(f: &mut fmt::Formatter<'_>, rejections: &[Rejection]) -> fmt::Result {
    let probed = rejections
        .iter()
        .filter(|r| matches!(r.reason, Reason::InUse { .. } | Reason::Forbidden { .. }));
    for (i, rejection) in probed.take(LISTED).enumerate() {
        f.write_str(if i == 0 { "; " } else { ", " })?;
        write!(f, "{rejection}")?;
    }
    Ok(())
}

impl Error {
    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            ErrorKind::Io {
                action,
                path: Some(path),
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            ErrorKind::Io { action, source, .. } => write!(f, "{action}: {source}"),
            ErrorKind::NoSafePorts {
                base,
                ephemeral,
                reserved,
            } => write_no_safe_ports(f, base, ephemeral, reserved),
            ErrorKind::NoCandidates { why } => write!(f, "no candidate ports: {why}"),
            ErrorKind::NoFreePort {
                candidates,
                rejections,
                limited,
            } => write_no_free_port(f, candidates, rejections, *limited),
            ErrorKind::Invalid { what } => f.write_str(what),
            ErrorKind::ServerExited { server, status } => {
                write!(
                    f,
                    "server `{}` exited before listening on {} ({}): {status}",
                    server.command, server.addr, server.protocol
                )?;
                write_stderr(f, server.stderr.as_deref())
            }
            ErrorKind::ServerTimeout {
                server,
                waited,
                seen,
            } => {
                write!(
                    f,
                    "server `{}` was not listening on {} ({}) after {waited:?}: {seen}",
                    server.command, server.addr, server.protocol
                )?;
                write_stderr(f, server.stderr.as_deref())
            }
        }
    }
}

/// The end of a server's stderr, on lines of its own after the message.
fn write_stderr(f: &mut fmt::Formatter<'_>, stderr: Option<&str>) -> fmt::Result {
    match stderr.map(str::trim_end) {
        None => f.write_str("; its stderr was not captured"),
        Some("") => f.write_str("; it wrote nothing to stderr"),
        Some(text) => write!(f, "; its stderr ended with:\n{text}"),
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Display form reads better in `unwrap()` panics than the raw enum.
        write!(f, "Error({self})")
    }
}

/// No `source()`: the cause is part of the message already, and a report
/// that walked the chain would print it twice.
impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        let kind = match &*error.kind {
            ErrorKind::Io { source, .. } => source.kind(),
            ErrorKind::NoSafePorts { .. }
            | ErrorKind::NoCandidates { .. }
            | ErrorKind::NoFreePort { .. } => io::ErrorKind::AddrInUse,
            ErrorKind::Invalid { .. } => io::ErrorKind::InvalidInput,
            ErrorKind::ServerExited { .. } => io::ErrorKind::Other,
            ErrorKind::ServerTimeout { .. } => io::ErrorKind::TimedOut,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::range::PortRange;

    #[test]
    fn io_errors_say_their_cause_and_keep_their_kind_and_path() {
        let source = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        let error = Error::io_at("failed to read", Path::new("/x/y"), source);
        assert_eq!(error.to_string(), "failed to read /x/y: denied");
        assert_eq!(format!("{error:?}"), "Error(failed to read /x/y: denied)");
        assert_eq!(error.path(), Some(Path::new("/x/y")));
        assert_eq!(error.io_error().unwrap().to_string(), "denied");
        assert!(std::error::Error::source(&error).is_none(), "said once");
        let io: io::Error = error.into();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn no_safe_ports_message_names_ranges_and_fix() {
        let base = PortSet::from_ranges([PortRange::new(2000, 3000).unwrap()]);
        let eph = PortSet::from_ranges([PortRange::new(1024, 65535).unwrap()]);
        let error = Error::no_safe_ports(base, eph, PortSet::new());
        let text = error.to_string();
        assert!(text.contains("1024-65535"), "{text}");
        assert!(text.contains("ip_local_port_range"), "{text}");
        assert!(text.contains("PORTFOR_ALLOW_EPHEMERAL"), "{text}");
        assert!(error.is_exhausted() && error.is_ephemeral_conflict());
    }

    #[cfg(unix)]
    #[test]
    fn server_errors_name_the_command_the_status_and_stderr() {
        use std::os::unix::process::ExitStatusExt;
        let failure = |stderr: Option<&str>| ServerFailure {
            command: "srv --port 4000".into(),
            addr: "127.0.0.1:4000".parse().unwrap(),
            protocol: Protocol::Tcp,
            stderr: stderr.map(Into::into),
        };
        let exited = Error::server_exited(failure(Some("boom\n")), ExitStatus::from_raw(3 << 8));
        assert_eq!(
            exited.to_string(),
            "server `srv --port 4000` exited before listening on 127.0.0.1:4000 (tcp): \
             exit status: 3; its stderr ended with:\nboom"
        );
        assert_eq!(exited.exit_status().unwrap().code(), Some(3));
        assert_eq!(exited.server_stderr(), Some("boom\n"));
        assert!(!exited.is_server_timeout());
        assert_eq!(io::Error::from(exited).kind(), io::ErrorKind::Other);

        let timeout = Error::server_timeout(
            failure(Some("")),
            Duration::from_secs(30),
            "no socket was listening on port 4000 (tcp)".into(),
        );
        assert_eq!(
            timeout.to_string(),
            "server `srv --port 4000` was not listening on 127.0.0.1:4000 (tcp) after 30s: \
             no socket was listening on port 4000 (tcp); it wrote nothing to stderr"
        );
        assert!(timeout.is_server_timeout() && timeout.exit_status().is_none());
        assert_eq!(io::Error::from(timeout).kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn no_free_port_lists_rejections() {
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let rejections = vec![Rejection::new(
            4000,
            Reason::InUse {
                addr,
                protocol: Protocol::Tcp,
            },
        )];
        let candidates = PortSet::from_ports([4000, 4001, 4002]);
        let mut rejections = rejections;
        rejections.push(Rejection::new(4001, Reason::Claimed));
        rejections.push(Rejection::new(4002, Reason::Named));
        let error = Error::no_free_port(candidates, rejections, false);
        assert_eq!(
            error.to_string(),
            "no free port: of 3 candidates in 1 ranges (4000-4002), 1 claimed by portfor users, \
             1 bound to names, 1 in use, 0 forbidden; 4000: in use on 127.0.0.1 (tcp)"
        );
        assert_eq!(error.rejections()[0].port(), 4000);
    }
}
