//! `cargo portfor bind NAME [--port N] [--force]`: bind a name to a port.

use portfor_test::{NamedPorts, SystemPortRanges, system_port_ranges};
use serde_json::json;

use super::Context;
use crate::cli::WorkspaceArgs;
use crate::error::{CliError, CliResult};
use crate::{exit, names};

pub(crate) fn run(
    ctx: &mut Context<'_>,
    args: &WorkspaceArgs,
    name: &str,
    port: Option<&str>,
    force: bool,
) -> CliResult<i32> {
    // Bad input is refused before anything is read or written.
    names::validate(name)?;
    let port = port.map(portfor_test::parse_port_arg).transpose()?;
    let workspace = ctx.workspace(args)?;
    let package = workspace.single()?;
    if !ctx.serves(package)? {
        return Ok(exit::ERROR);
    }
    let named = ctx.named(package)?;
    let existing = named.get(name)?;
    if let Some(port) = port
        && existing != Some(port)
    {
        check_explicit_port(ctx, &named, name, port, force)?;
    }
    let port = named.bind(name, port)?;
    if ctx.out.json {
        ctx.out.document(
            "bind",
            json!({
                "package": package.name,
                "name": name.to_lowercase(),
                "key": named.key(name),
                "port": port,
                "created": existing.is_none(),
            }),
        )?;
    } else {
        ctx.out.line(&port.to_string())?;
    }
    Ok(exit::SUCCESS)
}

/// Refuses `--port` when it is below 1024, in the ephemeral or reserved
/// ranges, or bound to another name, unless `force` (which cannot bind one
/// port to two names of one store: the store refuses that itself).
fn check_explicit_port(
    ctx: &mut Context<'_>,
    named: &NamedPorts,
    name: &str,
    port: u16,
    force: bool,
) -> CliResult<()> {
    let ranges = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
    let mut reasons = Vec::new();
    if port < 1024 {
        reasons.push(
            "it is below 1024, where binding needs root (or CAP_NET_BIND_SERVICE)".to_owned(),
        );
    }
    reasons.extend(range_reasons(port, &ranges));
    let target = ctx.store()?;
    let key = named.key(name);
    let mut same_store = false;
    for store in super::stores(&target) {
        let entries = match store.list() {
            Ok(entries) => entries,
            Err(e) if store.path() == target.path() => return Err(e.into()),
            Err(e) => {
                ctx.out
                    .warning(&format!("{e:#}; its names were not checked"))?;
                continue;
            }
        };
        for (other, _) in entries.iter().filter(|(k, p)| *p == port && *k != key) {
            same_store |= store.path() == target.path();
            reasons.push(format!(
                "it is bound to {other:?} in {}",
                store.path().display()
            ));
        }
    }
    if reasons.is_empty() || (force && !same_store) {
        return Ok(());
    }
    let hint = if same_store {
        "; unbind the other name first, or choose another port"
    } else {
        "; pass --force to bind it anyway"
    };
    Err(CliError::new(format!(
        "refusing to bind `{}` to port {port}: {}{hint}",
        name.to_lowercase(),
        reasons.join("; ")
    )))
}

/// Why the system's ranges make `port` a bad choice for a server's port.
pub(crate) fn range_reasons(port: u16, ranges: &SystemPortRanges) -> Vec<String> {
    let mut reasons = Vec::new();
    if ranges.ephemeral().contains(port) {
        reasons.push(format!(
            "it is in the ephemeral range ({}), where any outgoing connection may take it",
            ranges.ephemeral()
        ));
    }
    if ranges.reserved().contains(port) {
        reasons.push(format!(
            "the system reserves it ({} {})",
            reserved_word(),
            ranges.reserved()
        ));
    }
    reasons
}

/// What the system calls its reserved ports.
pub(crate) fn reserved_word() -> &'static str {
    if cfg!(windows) {
        "excluded port ranges:"
    } else {
        "reserved ports:"
    }
}
