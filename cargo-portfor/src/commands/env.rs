//! `cargo portfor env`: every named port of the selected packages as
//! environment variables, `<PREFIX>_<PACKAGE>_<NAME>`, for CI.
//!
//! Declared names that are not bound yet are bound first, as a test's
//! `named_port!` would.
//!
//! Two JSON shapes, documented side by side in `env --help` and the README:
//! `--format json` is one flat object of variables (what tools that load a
//! JSON environment expect), `--message-format json` the versioned document
//! of every subcommand, which wins when both are given.

use std::fs::OpenOptions;
use std::io::Write;

use serde_json::{Map, Value, json};

use super::{Context, names};
use crate::cli::{EnvFormat, WorkspaceArgs};
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::metadata::env_var;

pub(crate) fn run(
    ctx: &mut Context<'_>,
    args: &WorkspaceArgs,
    format: EnvFormat,
) -> CliResult<i32> {
    let workspace = ctx.workspace(args)?;
    let mut variables: Vec<(String, u16)> = Vec::new();
    for package in workspace.selected() {
        if !ctx.serves(package)? {
            continue;
        }
        let named = ctx.named(package)?;
        for (name, port, _) in names(package, &named)? {
            let port = match port {
                Some(port) => port,
                None => named.port(&name)?,
            };
            let var = env_var(package, &name);
            if let Some((_, other)) = variables.iter().find(|(v, _)| *v == var) {
                return Err(CliError::new(format!(
                    "two named ports map to the variable {var} (ports {other} and {port}); rename one"
                )));
            }
            variables.push((var, port));
        }
    }
    if ctx.out.json {
        ctx.out
            .document("env", json!({ "variables": as_json(&variables) }))?;
    } else {
        write(ctx, format, &variables)?;
    }
    Ok(exit::SUCCESS)
}

/// The variables as one JSON object; values are strings, as environment
/// variables are.
fn as_json(variables: &[(String, u16)]) -> Map<String, Value> {
    variables
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.to_string())))
        .collect()
}

/// Writes the variables in `format`: to stdout, or appended to the file
/// GitHub Actions (`$GITHUB_ENV`) or a nextest setup script
/// (`$NEXTEST_ENV`) reads variables from, when it is set.
fn write(ctx: &mut Context<'_>, format: EnvFormat, variables: &[(String, u16)]) -> CliResult<()> {
    let lines: Vec<String> = match format {
        EnvFormat::Shell => variables
            .iter()
            .map(|(k, v)| format!("export {k}={v}"))
            .collect(),
        EnvFormat::Dotenv | EnvFormat::Github | EnvFormat::Nextest => {
            variables.iter().map(|(k, v)| format!("{k}={v}")).collect()
        }
        EnvFormat::Json => vec![Value::Object(as_json(variables)).to_string()],
    };
    let target = match format {
        EnvFormat::Github => std::env::var_os("GITHUB_ENV"),
        EnvFormat::Nextest => std::env::var_os("NEXTEST_ENV"),
        _ => None,
    };
    let Some(path) = target.filter(|t| !t.is_empty()) else {
        for line in &lines {
            ctx.out.line(line)?;
        }
        return Ok(());
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| CliError::new(format!("failed to open {}: {e}", path.to_string_lossy())))?;
    for line in &lines {
        writeln!(file, "{line}").map_err(|e| {
            CliError::new(format!("failed to write {}: {e}", path.to_string_lossy()))
        })?;
    }
    Ok(())
}
