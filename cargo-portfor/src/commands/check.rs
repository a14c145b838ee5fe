//! `cargo portfor check`: report what would make a named port fail.
//!
//! Problems: one port bound to two names (in the store, or across the store
//! and the system store); a bound port inside the ephemeral or reserved
//! ranges; a bound port in use by a process other than the one declared
//! (`process = "..."`), or by any process when none is declared; and
//! bindings of this workspace whose package no longer exists.

use std::collections::BTreeMap;

use portfor_test::{Store, parse_key, system_port_ranges};
use serde::Serialize;
use serde_json::json;

use super::{Context, names};
use crate::error::CliResult;
use crate::exit;
use crate::live::{Live, Status};
use crate::output::Style;

#[derive(Serialize)]
struct Problem {
    kind: &'static str,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    message: String,
}

pub(crate) fn run(ctx: &mut Context<'_>) -> CliResult<i32> {
    let workspace = ctx.workspace()?;
    let store = ctx.store()?;
    let mut problems: Vec<Problem> = Vec::new();

    // Shared ports, across this store and the system store.
    let mut owners: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for (name, port) in store.list()? {
        owners.entry(port).or_default().push(name);
    }
    let system = Store::system();
    if system.path() != store.path()
        && let Ok(entries) = system.list()
    {
        for (name, port) in entries {
            owners
                .entry(port)
                .or_default()
                .push(format!("{name} (in {})", system.path().display()));
        }
    }
    for (port, names) in &owners {
        if names.len() > 1 {
            problems.push(Problem {
                kind: "shared-port",
                port: *port,
                package: None,
                name: None,
                message: format!(
                    "port {port} is bound to {} names: {}",
                    names.len(),
                    names.join(", ")
                ),
            });
        }
    }

    // The selected packages' ports: system ranges, and who listens.
    let ranges =
        system_port_ranges().unwrap_or_else(|_| portfor_test::SystemPortRanges::fallback());
    let mut live = Live::default();
    for package in workspace.selected() {
        let named = ctx.named(package)?;
        for (name, port, _) in names(package, &named)? {
            let Some(port) = port else { continue };
            let mut report = |kind, message: String| {
                problems.push(Problem {
                    kind,
                    port,
                    package: Some(package.name.clone()),
                    name: Some(name.clone()),
                    message: format!("{} `{name}`: {message}", package.name),
                });
            };
            if ranges.ephemeral().contains(port) {
                report(
                    "ephemeral",
                    format!(
                        "port {port} is in the ephemeral range ({}), where any outgoing connection may take it; rebind it",
                        ranges.ephemeral()
                    ),
                );
            }
            if ranges.reserved().contains(port) {
                report(
                    "reserved",
                    format!(
                        "port {port} is reserved by the system ({})",
                        ranges.reserved()
                    ),
                );
            }
            let expected = package
                .ports
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(&name))
                .and_then(|d| d.process.clone());
            match (live.status(port), expected) {
                (Status::Free, _) => {}
                (
                    Status::Listening {
                        process: Some(process),
                        ..
                    },
                    Some(expected),
                ) if process == expected => {}
                (status, Some(expected)) => report(
                    "in-use",
                    format!(
                        "port {port} is {}, not by the expected process `{expected}`",
                        status.describe()
                    ),
                ),
                (status, None) => report(
                    "in-use",
                    format!(
                        "port {port} is {} (declare `process = \"...\"` for it in [package.metadata.portfor] if that is expected)",
                        status.describe()
                    ),
                ),
            }
        }
    }

    // Bindings of this workspace whose package is gone.
    let checkouts = store.checkouts()?;
    for (key, port) in store.list()? {
        let Some(parsed) = parse_key(&key) else {
            continue;
        };
        let dir = checkouts
            .iter()
            .find(|(tag, _)| tag == parsed.checkout)
            .map(|(_, dir)| dir.clone());
        let member_at = |dir: &std::path::Path| workspace.members.iter().find(|p| p.dir == dir);
        let member_with_tag = workspace
            .members
            .iter()
            .find(|p| portfor_test::checkout_tag(&p.dir) == parsed.checkout);
        let gone = match (&dir, member_with_tag) {
            // The package in that directory has another name now.
            (_, Some(member)) => member.name.to_lowercase() != parsed.package,
            // A directory of this workspace that holds no package any more.
            (Some(dir), None) => dir.starts_with(&workspace.root) && member_at(dir).is_none(),
            (None, None) => false,
        };
        if gone {
            let place = dir
                .map(|d| format!(" in {}", d.display()))
                .unwrap_or_default();
            problems.push(Problem {
                kind: "stale",
                port,
                package: Some(parsed.package.to_owned()),
                name: Some(parsed.name.to_owned()),
                message: format!(
                    "`{key}` = {port} belongs to package `{}`{place}, which is no longer in this workspace; \
                     remove it with `port-for --store {} --unbind '{key}'`",
                    parsed.package,
                    store.path().display()
                ),
            });
        }
    }

    let code = if problems.is_empty() {
        exit::SUCCESS
    } else {
        exit::PROBLEMS
    };
    if ctx.out.json {
        ctx.out.document("check", json!({ "problems": problems }))?;
    } else if problems.is_empty() {
        let ok = ctx.out.paint("no problems found", Style::Good);
        ctx.out.line(&ok)?;
    } else {
        for problem in &problems {
            let label = ctx.out.paint("problem", Style::Bad);
            ctx.out.line(&format!("{label}: {}", problem.message))?;
        }
        let summary = format!(
            "{} problem{} found",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        ctx.out.line(&summary)?;
    }
    Ok(code)
}
