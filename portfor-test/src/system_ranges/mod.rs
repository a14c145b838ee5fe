//! The operating system's ephemeral and reserved port ranges.
//!
//! One public function, [`system_port_ranges`], over per-OS backends with the
//! same signature (`detect() -> Result<SystemPortRanges>`).

mod parse;

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod backend;

#[cfg(any(
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "openbsd",
    target_os = "netbsd"
))]
#[path = "bsd.rs"]
mod backend;

#[cfg(windows)]
#[path = "windows.rs"]
mod backend;

#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "dragonfly",
    target_os = "openbsd",
    target_os = "netbsd",
    windows
)))]
#[path = "fallback.rs"]
mod backend;

use std::sync::LazyLock;

use crate::error::{Error, Result};
use crate::range::{PortRange, PortSet};

/// The range assumed when detection is unsupported or fails: port-for's
/// fallback `32768-65535`, which covers Linux's default and IANA's dynamic
/// range `49152-65535`.
pub const DEFAULT_EPHEMERAL_RANGE: PortRange = match PortRange::new(32768, 65535) {
    Some(range) => range,
    None => unreachable!(),
};

/// The ports the operating system hands out on its own, which a long-lived
/// server should not use.
///
/// *Ephemeral* ports are what the kernel picks for `bind(0)` and for the
/// local end of outgoing connections, so one may be taken at any moment by a
/// client while the server that wanted it is down. *Reserved* ports are kept
/// out of that automatic assignment by the administrator (Linux
/// `ip_local_reserved_ports`) or cannot be bound at all (Windows excluded port
/// ranges, which fail with `WSAEACCES`); either way they belong to someone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemPortRanges {
    ephemeral: PortSet,
    reserved: PortSet,
    source: &'static str,
}

impl SystemPortRanges {
    /// Ranges from explicit values; `source` says where they came from.
    pub(crate) fn new(
        ephemeral: impl IntoIterator<Item = PortRange>,
        reserved: impl IntoIterator<Item = PortRange>,
        source: &'static str,
    ) -> SystemPortRanges {
        SystemPortRanges {
            ephemeral: PortSet::from_ranges(ephemeral),
            reserved: PortSet::from_ranges(reserved),
            source,
        }
    }

    /// What portfor assumes when it cannot detect the ranges:
    /// [`DEFAULT_EPHEMERAL_RANGE`] and no reserved ports.
    pub fn fallback() -> SystemPortRanges {
        SystemPortRanges::new([DEFAULT_EPHEMERAL_RANGE], [], "fallback")
    }

    /// The ephemeral (dynamic) port ranges.
    pub fn ephemeral(&self) -> &PortSet {
        &self.ephemeral
    }

    /// Ports reserved by the administrator or excluded by the system.
    pub fn reserved(&self) -> &PortSet {
        &self.reserved
    }

    /// Where the ranges were read, e.g. `/proc/sys/net/ipv4` or `fallback`.
    pub fn source(&self) -> &str {
        self.source
    }
}

/// Reads the operating system's ephemeral and reserved port ranges now.
///
/// Selection reads them once per process and caches them; this function
/// always reads afresh.
///
/// # Platform-specific behavior
///
/// - **Linux**: `/proc/sys/net/ipv4/ip_local_port_range` and
///   `ip_local_reserved_ports`. Both belong to the calling process's network
///   namespace, and apply to IPv6 too.
/// - **macOS, iOS, FreeBSD, DragonFly**: `sysctl net.inet.ip.portrange`,
///   taking the `first`/`last`, `lowfirst`/`lowlast` and `hifirst`/`hilast`
///   pairs (an inverted pair, such as macOS's privileged `1023`-`600`, is
///   skipped). FreeBSD's default range, 10000-65535, leaves 121 candidate
///   ports.
/// - **NetBSD**: `sysctl net.inet.ip.anonportmin net.inet.ip.anonportmax`
///   (NetBSD has no `portrange`).
/// - **OpenBSD**: `sysctl net.inet.ip.portfirst net.inet.ip.portlast
///   net.inet.ip.porthifirst net.inet.ip.porthilast`. Its default
///   `1024-49151` covers every unassigned port, so selection asks you to
///   [allow ephemeral ports](crate::Builder::allow_ephemeral).
/// - **Windows**: `netsh int ipv4 show dynamicport tcp` for the dynamic
///   range and `netsh int ipv4 show excludedportrange protocol=tcp` for the
///   excluded ranges (Hyper-V, WinNAT, WSL and Docker carve these out; they
///   move on reboot), reported as reserved. Two short-lived processes, run
///   once per process that selects a port.
/// - **Elsewhere**: an error.
///
/// Whenever this fails (no `netsh` or `sysctl`, output not understood, as
/// with wine's `netsh`, which prints nothing), selection assumes
/// [`SystemPortRanges::fallback`], and `cargo portfor doctor` says so and
/// why.
///
/// None of these need privileges. Nothing is printed: the tools' stderr is
/// captured.
///
/// # Errors
///
/// When the source cannot be read or its content is not understood.
///
/// # Examples
///
/// ```
/// use portfor_test::{SystemPortRanges, system_port_ranges};
///
/// // What selection assumes when the system's answer cannot be read.
/// let ranges = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
/// println!("ephemeral ports: {} (from {})", ranges.ephemeral(), ranges.source());
/// ```
pub fn system_port_ranges() -> Result<SystemPortRanges> {
    backend::detect()
}

/// The ranges of this process, detected once; the fallback when detection
/// fails (`cargo portfor doctor` reports why).
pub(crate) fn cached() -> &'static SystemPortRanges {
    static CACHE: LazyLock<SystemPortRanges> =
        LazyLock::new(|| system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback()));
    &CACHE
}

/// Converts a parser's complaint into an [`Error`] naming the source.
// Unused by the fallback backend only.
#[allow(dead_code)]
fn parse_error(source: &str, error: parse::ParseError) -> Error {
    Error::invalid(format!("failed to parse {source}: {}", error.0))
}

/// Runs a system tool and returns its stdout. stderr is captured, never
/// shown (port-for leaked sysctl's "unknown oid" to the terminal).
// Used by the BSD and Windows backends only.
#[allow(dead_code)]
fn run(program: &str, args: &[&str]) -> Result<String> {
    use std::process::{Command, Stdio};

    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null());
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        // CREATE_NO_WINDOW: no console flashes up from a GUI test runner.
        command.creation_flags(0x0800_0000);
    }
    let line = format!("{program} {}", args.join(" "));
    let output = command
        .output()
        .map_err(|e| Error::io(format!("failed to run `{line}`"), e))?;
    if !output.status.success() {
        return Err(Error::invalid(format!(
            "`{line}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
