//! `cargo portfor`: ports per workspace package, for people and CI.
//!
//! This first version has two subcommands: `doctor` (what portfor sees on
//! this machine) and `free` (free ports for shell use). The workspace
//! commands (`list`, `get`, `bind`, `env`, `check`) come with the named-port
//! store.

use std::io::{self, Write};

use portfor_test::{Builder, DEFAULT_EPHEMERAL_RANGE, Error, system_port_ranges};

/// The command succeeded.
pub const EXIT_SUCCESS: i32 = 0;
/// A check found problems.
pub const EXIT_PROBLEMS: i32 = 1;
/// An error: bad usage, bad input, or a failed operation.
pub const EXIT_ERROR: i32 = 2;

const USAGE: &str = "\
Ports for tests and local development

Usage: cargo portfor <COMMAND>

Commands:
  doctor     Show the ephemeral and reserved port ranges and the candidate ports
  free       Print free ports, one per line [-n <N>: how many, default 1]

Options:
  -h, --help     Print help
  -V, --version  Print version

Exit codes: 0 success, 1 a check found problems, 2 error.
";

/// Runs `cargo portfor` with the process arguments and returns the exit code.
pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo portfor x` runs `cargo-portfor portfor x`.
    let args = match args.first().map(String::as_str) {
        Some("portfor") => &args[1..],
        _ => &args[..],
    };
    let mut out = io::stdout().lock();
    let result = run(args, &mut out);
    match result {
        Ok(code) => code,
        // A closed pipe (`cargo portfor free | head -1`) is not an error.
        Err(CliError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_SUCCESS,
        Err(error) => {
            let _ = writeln!(io::stderr(), "error: {error}");
            if let CliError::Portfor(e) = &error {
                let mut source = std::error::Error::source(e);
                while let Some(cause) = source {
                    let _ = writeln!(io::stderr(), "\nCaused by:\n  {cause}");
                    source = cause.source();
                }
            }
            EXIT_ERROR
        }
    }
}

enum CliError {
    Usage(String),
    Portfor(Error),
    Io(io::Error),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Usage(message) => write!(f, "{message}\n\n{USAGE}"),
            CliError::Portfor(e) => write!(f, "{e}"),
            CliError::Io(e) => write!(f, "failed to write output: {e}"),
        }
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Portfor(e)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Io(e)
    }
}

fn run(args: &[String], out: &mut impl Write) -> Result<i32, CliError> {
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            out.write_all(USAGE.as_bytes())?;
            Ok(EXIT_SUCCESS)
        }
        Some("-V" | "--version") => {
            writeln!(out, "cargo-portfor {}", env!("CARGO_PKG_VERSION"))?;
            Ok(EXIT_SUCCESS)
        }
        Some("doctor") if args.len() == 1 => doctor(out),
        Some("free") => free(&args[1..], out),
        Some(other) => Err(CliError::Usage(format!(
            "unrecognized subcommand or arguments '{other}'"
        ))),
    }
}

fn doctor(out: &mut impl Write) -> Result<i32, CliError> {
    let (ranges, note) = match system_port_ranges() {
        Ok(ranges) => (ranges, String::new()),
        Err(e) => (
            portfor_test::SystemPortRanges::fallback(),
            format!(" (detection failed: {e}; assuming {DEFAULT_EPHEMERAL_RANGE})"),
        ),
    };
    let reserved = ranges.reserved().to_string();
    writeln!(out, "ranges read from:  {}{note}", ranges.source())?;
    writeln!(out, "ephemeral ports:   {}", ranges.ephemeral())?;
    writeln!(
        out,
        "reserved ports:    {}",
        if reserved.is_empty() {
            "none"
        } else {
            &reserved
        }
    )?;
    match Builder::new().candidates() {
        Ok(candidates) => writeln!(
            out,
            "candidate ports:   {} in {} ranges",
            candidates.len(),
            candidates.ranges().len()
        )?,
        Err(e) => writeln!(out, "candidate ports:   none: {e}")?,
    }
    writeln!(
        out,
        "IPv6:              {}",
        if portfor_test::ipv6_available() {
            "available"
        } else {
            "not available"
        }
    )?;
    Ok(EXIT_SUCCESS)
}

fn free(args: &[String], out: &mut impl Write) -> Result<i32, CliError> {
    let count = match args {
        [] => 1,
        [flag, n] if flag == "-n" => n.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(|| {
            CliError::Usage(format!("invalid count '{n}' for -n: expected 1-65535"))
        })?,
        _ => {
            return Err(CliError::Usage(format!(
                "unexpected arguments to free: {}",
                args.join(" ")
            )));
        }
    };
    let mut given = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let port = Builder::new()
            .exclude_ports(given.iter().copied())
            .select()?;
        given.push(port);
        writeln!(out, "{port}")?;
    }
    Ok(EXIT_SUCCESS)
}
