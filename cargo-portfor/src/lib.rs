//! `cargo portfor`: list and manage ports per workspace package, for people
//! and CI; and `port-for`, a drop-in for the Python port-for script.
//!
//! The binaries are thin: `cargo-portfor` calls [`main`], `port-for` calls
//! [`port_for::main`].

mod cli;
mod commands;
mod error;
mod live;
mod metadata;
mod output;
pub mod port_for;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};

use clap::Parser;

use crate::cli::{Cargo, ColorChoice, MessageFormat};
use crate::commands::Context;
use crate::output::Output;

/// The exit codes of `cargo portfor`.
pub mod exit {
    /// Success.
    pub const SUCCESS: i32 = 0;
    /// `check` found problems.
    pub const PROBLEMS: i32 = 1;
    /// An error: bad usage, bad input, or a failed operation.
    pub const ERROR: i32 = 2;
}

/// Runs `cargo portfor` with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    run(
        std::env::args_os(),
        &mut io::stdout().lock(),
        &mut io::stderr().lock(),
    )
}

/// Runs `cargo portfor` with `args` (the program name first), writing to
/// `out` and `err`; returns the exit code.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // `cargo-portfor list` (run directly) means `cargo-portfor portfor list`.
    if !args.is_empty() && args.get(1).is_none_or(|a| a != "portfor") {
        args.insert(1, "portfor".into());
    }
    let Cargo::Portfor(args) = match Cargo::try_parse_from(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let code = if e.use_stderr() {
                exit::ERROR
            } else {
                exit::SUCCESS
            };
            let text = e.render();
            let _ = if e.use_stderr() {
                write!(err, "{text}")
            } else {
                write!(out, "{text}")
            };
            return code;
        }
    };
    let color = match args.color.unwrap_or(ColorChoice::Auto) {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let json = args.message_format == MessageFormat::Json;
    let mut ctx = Context {
        args: &args,
        out: Output::new(json, color, out),
    };
    match commands::run(&mut ctx) {
        Ok(code) => code,
        Err(error) => {
            let err_color = color && io::stderr().is_terminal();
            let _ = error.report(err, err_color);
            exit::ERROR
        }
    }
}
