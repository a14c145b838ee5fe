//! `cargo portfor unbind NAME`: remove a binding.

use serde_json::json;

use super::Context;
use crate::cli::WorkspaceArgs;
use crate::error::CliResult;
use crate::{exit, names};

pub(crate) fn run(ctx: &mut Context<'_>, args: &WorkspaceArgs, name: &str) -> CliResult<i32> {
    // The same rule as `bind` and `get`: a name `bind` refuses is never bound.
    names::validate(name)?;
    let workspace = ctx.workspace(args)?;
    let package = workspace.single()?;
    if !ctx.serves(package)? {
        return Ok(exit::ERROR);
    }
    let named = ctx.named(package)?;
    let port = named.get(name)?;
    let removed = named.unbind(name)?;
    if ctx.out.json {
        ctx.out.document(
            "unbind",
            json!({ "package": package.name, "name": name.to_lowercase(), "removed": removed, "port": port }),
        )?;
    } else if let (true, Some(port)) = (removed, port) {
        ctx.out
            .line(&format!("unbound {} (was {port})", name.to_lowercase()))?;
    } else {
        ctx.out
            .line(&format!("{} was not bound", name.to_lowercase()))?;
    }
    Ok(exit::SUCCESS)
}
