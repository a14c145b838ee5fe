//! `cargo portfor check`: report what would make a named port of the
//! selected packages fail.
//!
//! Problems, all about the selected packages: one of their ports bound to
//! another name too (in the store, or in the system store); one of their
//! ports inside the ephemeral or reserved ranges; one of their ports in use
//! by a process other than the one declared (`process = "..."`), or by any
//! process when none is declared; and bindings left by a selected package's
//! directory under another package name, or, when the whole workspace is
//! selected, by a directory of the workspace that holds no package any more.
//! Names that belong to no selected package are not judged: a CI gate on
//! `check` fails for the workspace's reasons only. Nor is a listener whose
//! process this user cannot see (another user's, without root) judged
//! against the declared process: that is a warning, not a problem.

use std::collections::BTreeMap;

use portfor_test::{
    NamedPorts, Store, SystemPortRanges, checkout_tag, parse_key, system_port_ranges,
};
use serde::Serialize;
use serde_json::json;

use super::{Context, names};
use crate::cli::WorkspaceArgs;
use crate::error::CliResult;
use crate::exit;
use crate::live::{Live, Status};
use crate::metadata::{Package, Workspace};
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

/// The selected packages whose metadata is valid, with their named ports.
type Served<'w> = Vec<(&'w Package, NamedPorts)>;

pub(crate) fn run(ctx: &mut Context<'_>, args: &WorkspaceArgs) -> CliResult<i32> {
    let workspace = ctx.workspace(args)?;
    let store = ctx.store()?;
    let mut served: Served<'_> = Vec::new();
    for package in workspace.selected() {
        if ctx.serves(package)? {
            served.push((package, ctx.named(package)?));
        }
    }
    let mut problems = shared_ports(&store, &served)?;
    let ranges = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
    let mut live = Live::default();
    let mut unseen = Vec::new();
    for (package, named) in &served {
        package_problems(
            package,
            named,
            &ranges,
            &mut live,
            &mut problems,
            &mut unseen,
        )?;
    }
    for warning in &unseen {
        ctx.out.warning(warning)?;
    }
    problems.extend(stale_bindings(&workspace, &store)?);
    report(ctx, &problems)
}

/// A selected package and one of its names.
type Owner<'a> = (&'a Package, String);

/// The key's package and name when it belongs to a served package.
fn owner<'a>(served: &'a Served<'_>, key: &str) -> Option<Owner<'a>> {
    let parsed = parse_key(key)?;
    served
        .iter()
        .find(|(package, named)| {
            package.name.to_lowercase() == parsed.package && named.checkout() == parsed.checkout
        })
        .map(|(package, _)| (*package, parsed.name.to_owned()))
}

/// Ports bound to two or more names, across the store and the system
/// store, where one of the names belongs to a selected package.
fn shared_ports(store: &Store, served: &Served<'_>) -> CliResult<Vec<Problem>> {
    // port -> every name on it, with its owner among the selected packages.
    let mut names_of: BTreeMap<u16, Vec<(String, Option<Owner<'_>>)>> = BTreeMap::new();
    for (key, port) in store.list()? {
        let ours = owner(served, &key);
        names_of.entry(port).or_default().push((key, ours));
    }
    let system = Store::system();
    // An unreadable system store has no names to share a port with.
    if system.path() != store.path()
        && let Ok(entries) = system.list()
    {
        for (name, port) in entries {
            let label = format!("{name} (in {})", system.path().display());
            names_of.entry(port).or_default().push((label, None));
        }
    }
    let mut problems = Vec::new();
    for (port, names) in names_of {
        let Some((package, name)) = names.iter().find_map(|(_, ours)| ours.clone()) else {
            continue;
        };
        if names.len() < 2 {
            continue;
        }
        let labels: Vec<&str> = names.iter().map(|(label, _)| label.as_str()).collect();
        problems.push(Problem {
            kind: "shared-port",
            port,
            package: Some(package.name.clone()),
            message: format!(
                "{} `{name}`: port {port} is bound to {} names: {}",
                package.name,
                names.len(),
                labels.join(", ")
            ),
            name: Some(name),
        });
    }
    Ok(problems)
}

/// A package's bound ports: inside system ranges, or in use by a process
/// other than the declared one. A listener whose process this user cannot
/// see is not judged against the declared one: that is a warning (in
/// `unseen`), not a problem.
fn package_problems(
    package: &Package,
    named: &NamedPorts,
    ranges: &SystemPortRanges,
    live: &mut Live,
    problems: &mut Vec<Problem>,
    unseen: &mut Vec<String>,
) -> CliResult<()> {
    for (name, port, _) in names(package, named)? {
        let Some(port) = port else { continue };
        let mut found = range_problems(port, ranges);
        match listener_problem(package, &name, port, live) {
            Listener::Fine => {}
            Listener::Unseen(note) => unseen.push(note),
            Listener::Problem(message) => found.push(("in-use", message)),
        }
        for (kind, message) in found {
            problems.push(Problem {
                kind,
                port,
                package: Some(package.name.clone()),
                name: Some(name.clone()),
                message: format!("{} `{name}`: {message}", package.name),
            });
        }
    }
    Ok(())
}

/// A bound port inside the system's ephemeral or reserved ranges.
fn range_problems(port: u16, ranges: &SystemPortRanges) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    if ranges.ephemeral().contains(port) {
        found.push((
            "ephemeral",
            format!(
                "port {port} is in the ephemeral range ({}), where any outgoing connection may take it; rebind it",
                ranges.ephemeral()
            ),
        ));
    }
    if ranges.reserved().contains(port) {
        found.push((
            "reserved",
            format!(
                "port {port} is reserved by the system ({})",
                ranges.reserved()
            ),
        ));
    }
    found
}

/// What the listener on a bound port says about it.
enum Listener {
    Fine,
    /// A listener whose process cannot be seen: a warning, not a problem.
    Unseen(String),
    Problem(String),
}

fn listener_problem(package: &Package, name: &str, port: u16, live: &mut Live) -> Listener {
    let expected = package.expected_process(name);
    let status = live.status(port);
    let unseen_listener = matches!(status, Status::Listening { process: None, .. });
    match (status.is_expected(expected), expected) {
        _ if status == Status::Free => Listener::Fine,
        (Some(true), _) => Listener::Fine,
        (_, Some(expected)) if unseen_listener => Listener::Unseen(format!(
            "{} `{name}`: port {port} is {}, so it was not checked against `{expected}`",
            package.name,
            status.describe()
        )),
        (_, Some(expected)) => Listener::Problem(format!(
            "port {port} is {}, not by the expected process `{expected}`",
            status.describe()
        )),
        (_, None) => Listener::Problem(format!(
            "port {port} is {} (declare `process = \"...\"` for it in [package.metadata.portfor] if that is expected)",
            status.describe()
        )),
    }
}

/// Bindings whose package is gone: the package in a selected directory has
/// another name now; or, when the whole workspace is selected, a directory
/// of the workspace holds no package any more.
fn stale_bindings(workspace: &Workspace, store: &Store) -> CliResult<Vec<Problem>> {
    let checkouts = store.checkouts()?;
    let mut problems = Vec::new();
    for (key, port) in store.list()? {
        let Some(parsed) = parse_key(&key) else {
            continue;
        };
        let dir = checkouts
            .iter()
            .find(|(tag, _)| tag == parsed.checkout)
            .map(|(_, dir)| dir.clone());
        let selected_with_tag = workspace
            .selected()
            .find(|p| checkout_tag(&p.dir) == parsed.checkout);
        let gone = match (&dir, selected_with_tag) {
            (_, Some(member)) => member.name.to_lowercase() != parsed.package,
            (Some(dir), None) => {
                workspace.whole()
                    && dir.starts_with(&workspace.root)
                    && !workspace.members.iter().any(|p| p.dir == *dir)
            }
            (None, None) => false,
        };
        if !gone {
            continue;
        }
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
    Ok(problems)
}

fn report(ctx: &mut Context<'_>, problems: &[Problem]) -> CliResult<i32> {
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
        for problem in problems {
            let label = ctx.out.paint("problem", Style::Bad);
            let message = crate::output::escape_controls(&problem.message);
            ctx.out.line(&format!("{label}: {message}"))?;
        }
        ctx.out.line(&format!(
            "{} problem{} found",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ))?;
    }
    Ok(code)
}
