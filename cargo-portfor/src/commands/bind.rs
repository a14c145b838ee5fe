//! `cargo portfor bind NAME [--port N]`: bind a name to a port.

use serde_json::json;

use super::Context;
use crate::error::CliResult;
use crate::exit;

pub(crate) fn run(ctx: &mut Context<'_>, name: &str, port: Option<&str>) -> CliResult<i32> {
    // Bad input is refused before anything is read or written.
    portfor_test::validate_name(name)?;
    let port = port.map(portfor_test::parse_port_arg).transpose()?;
    let workspace = ctx.workspace()?;
    let package = workspace.single()?;
    let named = ctx.named(package)?;
    let existed = named.get(name)?.is_some();
    let port = named.bind(name, port)?;
    if ctx.out.json {
        ctx.out.document(
            "bind",
            json!({
                "package": package.name,
                "name": name.to_lowercase(),
                "key": named.key(name),
                "port": port,
                "created": !existed,
            }),
        )?;
    } else {
        ctx.out.line(&port.to_string())?;
    }
    Ok(exit::SUCCESS)
}
