//! `cargo portfor list`: each selected package's named ports.

use serde_json::json;

use super::{Context, names};
use crate::error::CliResult;
use crate::exit;
use crate::live::{Live, Status};
use crate::output::Style;

pub(crate) fn run(ctx: &mut Context<'_>) -> CliResult<i32> {
    let workspace = ctx.workspace()?;
    let store = ctx.store()?;
    let mut live = Live::default();
    let mut packages = Vec::new();
    for package in workspace.selected() {
        let named = ctx.named(package)?;
        let ports: Vec<_> = names(package, &named)?
            .into_iter()
            .map(|(name, port, declared)| {
                let status = port.map(|p| live.status(p));
                (name, port, declared, status)
            })
            .collect();
        packages.push((package, named, ports));
    }

    if ctx.out.json {
        let packages: Vec<_> = packages
            .iter()
            .map(|(package, named, ports)| {
                json!({
                    "name": package.name,
                    "version": package.version,
                    "manifest_path": package.manifest_path,
                    "checkout": named.checkout(),
                    "ports": ports.iter().map(|(name, port, declared, status)| json!({
                        "name": name,
                        "key": named.key(name),
                        "port": port,
                        "declared": declared,
                        "store": store.path(),
                        "status": status.clone().map_or(json!({"state": "unbound"}), |s| json!(s)),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        ctx.out.document(
            "list",
            json!({ "store": store.path(), "packages": packages }),
        )?;
        return Ok(exit::SUCCESS);
    }

    let header = format!("store: {}", store.path().display());
    let header = ctx.out.paint(&header, Style::Dim);
    ctx.out.line(&header)?;
    for (package, _, ports) in &packages {
        let title = format!("{} v{}", package.name, package.version);
        let title = format!(
            "{} ({})",
            ctx.out.paint(&title, Style::Bold),
            package.dir.display()
        );
        ctx.out.line(&title)?;
        if ports.is_empty() {
            ctx.out.line("    no named ports")?;
            continue;
        }
        let rows: Vec<_> = ports
            .iter()
            .map(|(name, port, declared, status)| {
                let (state, style) = match status {
                    None => ("not bound".to_owned(), Style::Dim),
                    Some(Status::Free) => ("free".to_owned(), Style::Good),
                    Some(other) => (other.describe(), Style::Warn),
                };
                let mut row = vec![
                    (name.clone(), None),
                    (port.map_or("-".to_owned(), |p| p.to_string()), None),
                    (state, Some(style)),
                ];
                if !declared {
                    row.push(("(not declared in Cargo.toml)".to_owned(), Some(Style::Dim)));
                }
                row
            })
            .collect();
        ctx.out.table("    ", &rows)?;
    }
    Ok(exit::SUCCESS)
}
