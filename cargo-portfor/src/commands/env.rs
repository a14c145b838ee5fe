//! `cargo portfor env`: every named port of the selected packages as
//! environment variables, `<PREFIX>_<PACKAGE>_<NAME>`, for CI.
//!
//! Declared names that are not bound yet are bound first, as a test's
//! `named_port!` would.

use std::fs::OpenOptions;
use std::io::Write;

use serde_json::{Map, Value, json};

use super::{Context, names};
use crate::cli::EnvFormat;
use crate::error::{CliError, CliResult};
use crate::exit;
use crate::metadata::env_var;

pub(crate) fn run(ctx: &mut Context<'_>, format: EnvFormat) -> CliResult<i32> {
    let workspace = ctx.workspace()?;
    let mut variables: Vec<(String, u16)> = Vec::new();
    for package in workspace.selected() {
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
    // Values are strings, as environment variables are.
    let as_json = || -> Map<String, Value> {
        variables
            .iter()
            .map(|(k, v)| (k.clone(), json!(v.to_string())))
            .collect()
    };
    if ctx.out.json {
        ctx.out.document("env", json!({ "variables": as_json() }))?;
        return Ok(exit::SUCCESS);
    }
    let lines: Vec<String> = match format {
        EnvFormat::Shell => variables
            .iter()
            .map(|(k, v)| format!("export {k}={v}"))
            .collect(),
        EnvFormat::Dotenv | EnvFormat::Github | EnvFormat::Nextest => {
            variables.iter().map(|(k, v)| format!("{k}={v}")).collect()
        }
        EnvFormat::Json => vec![Value::Object(as_json()).to_string()],
    };
    // GitHub Actions and nextest setup scripts read variables from the file
    // their environment names; append there when it is set.
    let target = match format {
        EnvFormat::Github => std::env::var_os("GITHUB_ENV"),
        EnvFormat::Nextest => std::env::var_os("NEXTEST_ENV"),
        _ => None,
    };
    match target.filter(|t| !t.is_empty()) {
        Some(path) => {
            let mut file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|e| {
                    CliError::new(format!("failed to open {}: {e}", path.to_string_lossy()))
                })?;
            for line in &lines {
                writeln!(file, "{line}").map_err(|e| {
                    CliError::new(format!("failed to write {}: {e}", path.to_string_lossy()))
                })?;
            }
        }
        None => {
            for line in &lines {
                ctx.out.line(line)?;
            }
        }
    }
    Ok(exit::SUCCESS)
}
