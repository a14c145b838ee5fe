//! `cargo portfor get NAME`: the port bound to a name.

use serde_json::json;

use super::Context;
use crate::cli::WorkspaceArgs;
use crate::error::{CliError, CliResult};
use crate::{exit, names};

pub(crate) fn run(ctx: &mut Context<'_>, args: &WorkspaceArgs, name: &str) -> CliResult<i32> {
    // Bad input is refused before anything is read.
    names::validate(name)?;
    let workspace = ctx.workspace(args)?;
    let package = workspace.single()?;
    if !ctx.serves(package)? {
        return Ok(exit::ERROR);
    }
    let named = ctx.named(package)?;
    let Some(port) = named.get(name)? else {
        return Err(CliError::new(format!(
            "`{name}` is not bound for package `{}`; bind it with `cargo portfor bind {name} -p {}`",
            package.name, package.name
        )));
    };
    if ctx.out.json {
        ctx.out.document(
            "get",
            json!({ "package": package.name, "name": name.to_lowercase(), "key": named.key(name), "port": port }),
        )?;
    } else {
        ctx.out.line(&port.to_string())?;
    }
    Ok(exit::SUCCESS)
}
