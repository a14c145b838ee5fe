//! One file per subcommand; each runs with a [`Context`] and returns the
//! exit code.

mod bind;
mod check;
mod doctor;
mod env;
mod free;
mod get;
mod list;
mod unbind;

use portfor_test::{NamedPorts, Store};

use crate::cli::{Command, PortforArgs};
use crate::error::CliResult;
use crate::metadata::{self, Package, Workspace};
use crate::output::Output;

pub(crate) struct Context<'a> {
    pub(crate) args: &'a PortforArgs,
    pub(crate) out: Output<'a>,
}

impl Context<'_> {
    /// The store of named ports: `--store`, else the user's store. New
    /// bindings avoid the system store's ports either way.
    pub(crate) fn store(&self) -> CliResult<Store> {
        Ok(match &self.args.store {
            Some(path) => Store::open(path).avoid(&Store::system()),
            None => Store::user()?,
        })
    }

    pub(crate) fn workspace(&self) -> CliResult<Workspace> {
        metadata::load(&self.args.workspace)
    }

    pub(crate) fn named(&self, package: &Package) -> CliResult<NamedPorts> {
        Ok(NamedPorts::package(&package.name, &package.dir).store(self.store()?))
    }
}

/// The names of `package`: declared first, in order, then those only in the
/// store.
pub(crate) fn names(
    package: &Package,
    named: &NamedPorts,
) -> CliResult<Vec<(String, Option<u16>, bool)>> {
    let stored = named.list()?;
    let mut names: Vec<(String, Option<u16>, bool)> = package
        .ports
        .iter()
        .map(|decl| {
            let name = decl.name.to_lowercase();
            let port = stored.iter().find(|(n, _)| *n == name).map(|&(_, p)| p);
            (name, port, true)
        })
        .collect();
    for (name, port) in stored {
        if !names.iter().any(|(n, _, _)| *n == name) {
            names.push((name, Some(port), false));
        }
    }
    Ok(names)
}

pub(crate) fn run(ctx: &mut Context<'_>) -> CliResult<i32> {
    match &ctx.args.command {
        Command::List => list::run(ctx),
        Command::Get { name } => get::run(ctx, name),
        Command::Bind { name, port } => bind::run(ctx, name, port.as_deref()),
        Command::Unbind { name } => unbind::run(ctx, name),
        Command::Free { count } => free::run(ctx, *count),
        Command::Env { format } => env::run(ctx, *format),
        Command::Check => check::run(ctx),
        Command::Doctor => doctor::run(ctx),
    }
}
