//! The command line of `cargo portfor`: clap's surface only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (`why`: the port is usable)
  1  `check` found problems; `why`: the port is not usable
  2  error (bad usage, bad input, or a failed operation)

Environment:
  PORTFOR_USER_STORE    the store of named ports (default: ports.conf in the user's state directory)
  PORTFOR_SYSTEM_STORE  port-for's store (default: /etc/port-for.conf)
  PORTFOR_CLAIM_DIR     the claim directory shared by processes that must not get the same port
  CARGO_TERM_COLOR      default for --color
  NO_COLOR              no colour unless --color always (or CARGO_TERM_COLOR=always)";

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

/// cargo's package selection and manifest flags, spelled as cargo spells
/// them; only on the subcommands that act on packages.
#[derive(Debug, Args)]
pub(crate) struct WorkspaceArgs {
    /// Path to Cargo.toml
    #[arg(long, value_name = "PATH", help_heading = "Manifest Options")]
    pub(crate) manifest_path: Option<PathBuf>,

    /// Package to act on (see `cargo help pkgid`)
    #[arg(
        short,
        long = "package",
        value_name = "SPEC",
        help_heading = "Package Selection"
    )]
    pub(crate) packages: Vec<String>,

    /// Act on all packages in the workspace
    #[arg(long, help_heading = "Package Selection")]
    pub(crate) workspace: bool,

    /// Exclude packages from the selection (with --workspace)
    #[arg(long, value_name = "SPEC", help_heading = "Package Selection")]
    pub(crate) exclude: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List each package's named ports: port, store, and live status
    List {
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Print the port bound to NAME
    Get {
        /// The port's name, as in `[package.metadata.portfor] ports`
        name: String,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Bind NAME to a new free port, or to --port
    Bind {
        /// The port's name
        name: String,
        /// This port instead of a new free one; refused when it is below 1024,
        /// ephemeral, reserved or bound to another name, unless --force
        #[arg(long, value_name = "PORT")]
        port: Option<String>,
        /// Bind --port even when it is below 1024, ephemeral, reserved or bound
        /// to a name in another store (never to two names of one store)
        #[arg(long, requires = "port")]
        force: bool,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Remove the binding of NAME
    Unbind {
        /// The port's name
        name: String,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Print free ports, one per line (not bound to a name, not claimed)
    Free {
        /// How many distinct ports
        #[arg(short = 'n', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        count: u16,
    },
    /// Print every named port of the selected packages as environment variables
    #[command(after_help = ENV_JSON)]
    Env {
        /// shell (export lines), dotenv, json (one flat object, see below),
        /// github (lines for $GITHUB_ENV, appended to it when set), nextest
        /// (lines for a setup script's $NEXTEST_ENV, appended to it when set)
        #[arg(long, value_enum, value_name = "FORMAT", default_value_t = EnvFormat::Shell)]
        format: EnvFormat,
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Report problems of the selected packages' named ports: shared ports,
    /// ports in system ranges, unexpected listeners, stale bindings
    Check {
        #[command(flatten)]
        workspace: WorkspaceArgs,
    },
    /// Show what portfor sees on this machine
    Doctor,
    /// All that is known about one port: who has it, its names, ranges and
    /// registry entries, and whether free_port() could hand it out
    #[command(
        after_help = "Exit codes: 0 when the port is usable (free, not claimed, not bound to a name, \
outside the ephemeral and reserved ranges), 1 when not, 2 on error."
    )]
    Why {
        /// The port, 1 to 65535
        port: String,
    },
}

/// How `env --format json` and `--message-format json` differ.
const ENV_JSON: &str = "\
Two JSON shapes:
  --format json            one flat object of variables, for tools that load it as is:
                           {\"SHOP_WEB_DB\":\"20416\"}
  --message-format json    the versioned document every subcommand prints:
                           {\"version\":1,\"command\":\"env\",\"variables\":{\"SHOP_WEB_DB\":\"20416\"}}
  With both, --message-format json wins. Values are strings, as environment variables are.";

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
