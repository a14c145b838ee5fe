//! `cargo portfor get NAME`: the port bound to a name.

use serde_json::json;

use super::Context;
use crate::error::{CliError, CliResult};
use crate::exit;

pub(crate) fn run(ctx: &mut Context<'_>, name: &str) -> CliResult<i32> {
    let workspace = ctx.workspace()?;
    let package = workspace.single()?;
    let named = ctx.named(package)?;
    portfor_test::validate_name(name)?;
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
