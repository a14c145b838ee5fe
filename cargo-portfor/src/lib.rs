//! `cargo portfor`: list and manage ports per workspace package, for people
//! and CI; and `port-for`, a drop-in for the Python port-for script.
//!
//! The binaries are thin: `cargo-portfor` calls [`main`], `port-for` calls
//! [`port_for::main`].

mod cli;
mod commands;
mod error;
mod iana;
mod live;
mod metadata;
mod names;
mod output;
pub mod port_for;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};

use clap::{Parser, ValueEnum};

use crate::cli::{Cargo, ColorChoice, MessageFormat};
use crate::commands::Context;
use crate::output::Output;

/// The exit codes of `cargo portfor`.
pub mod exit {
    /// Success; for `why`, the port is usable.
    pub const SUCCESS: i32 = 0;
    /// `check` found problems.
    pub const PROBLEMS: i32 = 1;
    /// `why`: the port is not usable.
    pub const NOT_USABLE: i32 = 1;
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
    let Cargo::Portfor(args) = match Cargo::try_parse_from(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let (code, to_stderr) = if e.use_stderr() {
                (exit::ERROR, true)
            } else {
                (exit::SUCCESS, false)
            };
            let (color, err_color) = colors(color_before_parsing(&args));
            let text = e.render();
            let _ = match (to_stderr, if to_stderr { err_color } else { color }) {
                (true, true) => write!(err, "{}", text.ansi()),
                (true, false) => write!(err, "{text}"),
                (false, true) => write!(out, "{}", text.ansi()),
                (false, false) => write!(out, "{text}"),
            };
            return code;
        }
    };
    let json = args.message_format == MessageFormat::Json;
    let mut ctx = Context {
        args: &args,
        out: Output::new(json, colors(args.color), out, err),
    };
    let code = match commands::run(&mut ctx) {
        Ok(code) => code,
        Err(error) => {
            let _ = ctx.out.error(&error);
            exit::ERROR
        }
    };
    // An error reported along the way (a package whose metadata is
    // invalid) fails the command, after the other packages were served.
    if ctx.out.failed() { exit::ERROR } else { code }
}

/// Whether to colour stdout and stderr: `--color always` and `never` decide;
/// `auto` colours a terminal unless `NO_COLOR` is set (and not empty), as
/// cargo does.
fn colors(choice: Option<ColorChoice>) -> (bool, bool) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice.unwrap_or(ColorChoice::Auto) {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto => (
            io::stdout().is_terminal() && !no_color,
            io::stderr().is_terminal() && !no_color,
        ),
    }
}

/// The `--color` choice when the arguments do not parse: the last
/// `--color WHEN` or `--color=WHEN`, else `CARGO_TERM_COLOR`.
fn color_before_parsing(args: &[OsString]) -> Option<ColorChoice> {
    let parse = |value: &str| ColorChoice::from_str(value, true).ok();
    let mut choice = std::env::var("CARGO_TERM_COLOR")
        .ok()
        .and_then(|v| parse(&v));
    for (i, arg) in args.iter().enumerate() {
        let arg = arg.to_string_lossy();
        if let Some(value) = arg.strip_prefix("--color=") {
            choice = parse(value).or(choice);
        } else if arg == "--color"
            && let Some(value) = args.get(i + 1)
        {
            choice = parse(&value.to_string_lossy()).or(choice);
        }
    }
    choice
}
