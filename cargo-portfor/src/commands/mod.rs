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
mod why;

use portfor_test::{NamedPorts, Store};

use crate::cli::{Command, PortforArgs, WorkspaceArgs};
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

    pub(crate) fn workspace(&self, args: &WorkspaceArgs) -> CliResult<Workspace> {
        metadata::load(args)
    }

    /// Whether `package` can be served: false when its metadata (or the
    /// workspace's) is invalid, which is then reported, every problem at
    /// once; the command goes on with the other packages and exits 2.
    pub(crate) fn serves(&mut self, package: &Package) -> CliResult<bool> {
        for table in &package.invalid {
            self.out.error(&table.to_error())?;
        }
        Ok(package.invalid.is_empty())
    }

    pub(crate) fn named(&self, package: &Package) -> CliResult<NamedPorts> {
        Ok(NamedPorts::package(&package.name, &package.dir).store(self.store()?))
    }
}

/// `target`, then the user's and the system store when they are other
/// files: every store a port may be bound to a name in.
pub(crate) fn stores(target: &Store) -> Vec<Store> {
    let mut stores = vec![target.clone()];
    let others = [Store::user().ok(), Some(Store::system())];
    for store in others.into_iter().flatten() {
        if stores.iter().all(|s| s.path() != store.path()) {
            stores.push(store);
        }
    }
    stores
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
    // A copy of the shared reference, so that `ctx` stays free to lend.
    let args = ctx.args;
    match &args.command {
        Command::List { workspace } => list::run(ctx, workspace),
        Command::Get { name, workspace } => get::run(ctx, workspace, name),
        Command::Bind {
            name,
            port,
            force,
            workspace,
        } => bind::run(ctx, workspace, name, port.as_deref(), *force),
        Command::Unbind { name, workspace } => unbind::run(ctx, workspace, name),
        Command::Free { count } => free::run(ctx, *count),
        Command::Env { format, workspace } => env::run(ctx, workspace, *format),
        Command::Check { workspace } => check::run(ctx, workspace),
        Command::Doctor => doctor::run(ctx),
        Command::Why { port } => why::run(ctx, port),
    }
}
