//! `cargo portfor list`: each selected package's named ports.

use serde_json::json;

use super::{Context, names};
use crate::cli::WorkspaceArgs;
use crate::error::CliResult;
use crate::exit;
use crate::live::{Live, Status};
use crate::metadata::Package;
use crate::output::{Cell, Style};

/// One name of a package: its port if bound, whether `Cargo.toml` declares
/// it, and who listens on it.
struct Row {
    name: String,
    port: Option<u16>,
    declared: bool,
    status: Option<Status>,
    /// The declared `process`, if any.
    expected: Option<String>,
}

pub(crate) fn run(ctx: &mut Context<'_>, args: &WorkspaceArgs) -> CliResult<i32> {
    let workspace = ctx.workspace(args)?;
    let store = ctx.store()?;
    let mut live = Live::default();
    let mut packages = Vec::new();
    for package in workspace.selected() {
        if !ctx.serves(package)? {
            continue;
        }
        let named = ctx.named(package)?;
        let rows: Vec<Row> = names(package, &named)?
            .into_iter()
            .map(|(name, port, declared)| Row {
                status: port.map(|p| live.status(p)),
                expected: package.expected_process(&name).map(str::to_owned),
                name,
                port,
                declared,
            })
            .collect();
        packages.push((package, named, rows));
    }

    if ctx.out.json {
        let packages: Vec<_> = packages
            .iter()
            .map(|(package, named, rows)| {
                json!({
                    "name": package.name,
                    "version": package.version,
                    "manifest_path": package.manifest_path,
                    "checkout": named.checkout(),
                    "ports": rows.iter().map(|row| json!({
                        "name": row.name,
                        "key": named.key(&row.name),
                        "port": row.port,
                        "declared": row.declared,
                        "store": store.path(),
                        "status": row.status.clone().map_or(json!({"state": "unbound"}), |s| json!(s)),
                        "expected_process": row.expected,
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
    for (package, _, rows) in &packages {
        print_package(ctx, package, rows)?;
    }
    Ok(exit::SUCCESS)
}

fn print_package(ctx: &mut Context<'_>, package: &Package, rows: &[Row]) -> CliResult<()> {
    let title = format!("{} v{}", package.name, package.version);
    let title = format!(
        "{} ({})",
        ctx.out.paint(&title, Style::Bold),
        package.dir.display()
    );
    ctx.out.line(&title)?;
    if rows.is_empty() {
        ctx.out.line("    no named ports")?;
        return Ok(());
    }
    let rows: Vec<Vec<Cell>> = rows
        .iter()
        .map(|row| {
            let mut cells = vec![
                (row.name.clone(), None),
                (row.port.map_or("-".to_owned(), |p| p.to_string()), None),
                status_cell(row.status.as_ref(), row.expected.as_deref()),
            ];
            if !row.declared {
                cells.push(("(not declared in Cargo.toml)".to_owned(), Some(Style::Dim)));
            }
            cells
        })
        .collect();
    ctx.out.table("    ", 2, &rows)?;
    Ok(())
}

/// The status, coloured by what it means: green for the declared process,
/// red for another process, yellow when the owner cannot be seen, plain
/// when free, dim when not bound.
fn status_cell(status: Option<&Status>, expected: Option<&str>) -> Cell {
    let Some(status) = status else {
        return ("not bound".to_owned(), Some(Style::Dim));
    };
    let style = match (status, status.is_expected(expected)) {
        (Status::Free, _) => None,
        (_, Some(true)) => Some(Style::Good),
        (_, Some(false)) => Some(Style::Bad),
        (_, None) => Some(Style::Warn),
    };
    let mut text = status.describe();
    if let (Some(expected), Some(false)) = (expected, status.is_expected(expected)) {
        text.push_str(&format!(", expected {expected}"));
    }
    (text, style)
}
