//! The command line of `cargo portfor`: clap's surface only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  `check` found problems
  2  error (bad usage, bad input, or a failed operation)

Environment:
  PORTFOR_USER_STORE    the store of named ports (default: ports.conf in the user's state directory)
  PORTFOR_SYSTEM_STORE  port-for's store (default: /etc/port-for.conf)
  PORTFOR_CLAIM_DIR     the claim directory shared by processes that must not get the same port
  CARGO_TERM_COLOR      default for --color";

/// `cargo`, whose one subcommand here is `portfor`, so that both
/// `cargo portfor ...` and `cargo-portfor portfor ...` work.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap::builder::Styles::styled())]
pub(crate) enum Cargo {
    /// Ports for tests and local development, per workspace package
    Portfor(PortforArgs),
}

#[derive(Debug, Args)]
#[command(version, about = "Ports for tests and local development, per workspace package", after_help = EXIT_CODES)]
pub(crate) struct PortforArgs {
    #[command(flatten)]
    pub(crate) workspace: WorkspaceArgs,

    /// Output: human-readable text, or one JSON document (shape version 1)
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human, global = true, help_heading = "Display Options")]
    pub(crate) message_format: MessageFormat,

    /// Coloring: auto, always, never
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        env = "CARGO_TERM_COLOR",
        global = true,
        help_heading = "Display Options"
    )]
    pub(crate) color: Option<ColorChoice>,

    /// The store of named ports [default: $PORTFOR_USER_STORE, else ports.conf in the user's state directory]
    #[arg(
        long,
        value_name = "PATH",
        global = true,
        help_heading = "Store Options"
    )]
    pub(crate) store: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// cargo's package selection and manifest flags, spelled as cargo spells them.
#[derive(Debug, Args)]
pub(crate) struct WorkspaceArgs {
    /// Path to Cargo.toml
    #[arg(
        long,
        value_name = "PATH",
        global = true,
        help_heading = "Manifest Options"
    )]
    pub(crate) manifest_path: Option<PathBuf>,

    /// Package to act on (see `cargo help pkgid`)
    #[arg(
        short,
        long = "package",
        value_name = "SPEC",
        global = true,
        help_heading = "Package Selection"
    )]
    pub(crate) packages: Vec<String>,

    /// Act on all packages in the workspace
    #[arg(long, global = true, help_heading = "Package Selection")]
    pub(crate) workspace: bool,

    /// Exclude packages from the selection (with --workspace)
    #[arg(
        long,
        value_name = "SPEC",
        global = true,
        help_heading = "Package Selection"
    )]
    pub(crate) exclude: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List each package's named ports: port, store, and live status
    List,
    /// Print the port bound to NAME
    Get {
        /// The port's name, as in `[package.metadata.portfor] ports`
        name: String,
    },
    /// Bind NAME to a new free port, or to --port
    Bind {
        /// The port's name
        name: String,
        /// This port instead of a new free one
        #[arg(long, value_name = "PORT")]
        port: Option<String>,
    },
    /// Remove the binding of NAME
    Unbind {
        /// The port's name
        name: String,
    },
    /// Print free ports, one per line
    Free {
        /// How many distinct ports
        #[arg(short = 'n', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        count: u16,
    },
    /// Print every named port of the selected packages as environment variables
    Env {
        /// shell (export lines), dotenv, json, github (lines for $GITHUB_ENV,
        /// appended to it when set), nextest (lines for a setup script's
        /// $NEXTEST_ENV, appended to it when set)
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = EnvFormat::Shell)]
        format: EnvFormat,
    },
    /// Report problems: shared ports, ports in system ranges, unexpected listeners, stale bindings
    Check,
    /// Show what portfor sees on this machine
    Doctor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum EnvFormat {
    Shell,
    Dotenv,
    Json,
    Github,
    Nextest,
}
