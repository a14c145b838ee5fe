//! The workspace, from `cargo metadata --no-deps`, and its typed
//! `[package.metadata.portfor]` / `[workspace.metadata.portfor]` tables.

use std::path::{Path, PathBuf};

use cargo_metadata::{Metadata, MetadataCommand};
use serde_json::Value;

use crate::cli::WorkspaceArgs;
use crate::error::{CliError, CliResult};
use crate::names;

/// The variable prefix when no `env-prefix` is set.
pub(crate) const DEFAULT_ENV_PREFIX: &str = "PORTFOR";

/// A named port a package declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PortDecl {
    pub(crate) name: String,
    /// The process expected to listen on it (`check` reports any other).
    pub(crate) process: Option<String>,
}

/// One `portfor` metadata table, every key optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Table {
    ports: Option<Vec<PortDecl>>,
    env_prefix: Option<String>,
}

/// The problems of one invalid `portfor` table: all of them, so that one
/// run shows everything to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InvalidTable {
    /// "[package.metadata.portfor] in /x/Cargo.toml"
    place: String,
    /// "`key`: what is wrong", one per problem.
    problems: Vec<String>,
}

impl InvalidTable {
    /// One line for one problem; a line per problem after the message for
    /// several.
    pub(crate) fn to_error(&self) -> CliError {
        match &self.problems[..] {
            [one] => CliError::new(format!("invalid {}: {one}", self.place)),
            many => CliError::with_details(
                format!("invalid {}: {} problems", self.place, many.len()),
                many.to_vec(),
            ),
        }
    }
}

/// A workspace member.
#[derive(Clone, Debug)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) manifest_path: PathBuf,
    pub(crate) dir: PathBuf,
    /// Declared names: the workspace's, then the package's own.
    pub(crate) ports: Vec<PortDecl>,
    pub(crate) env_prefix: String,
    /// The invalid tables among the workspace's and the package's own: the
    /// package cannot be served while there is one; the others can.
    pub(crate) invalid: Vec<InvalidTable>,
}

impl Package {
    /// The process declared for `name` (`process = "..."`), if any.
    pub(crate) fn expected_process(&self, name: &str) -> Option<&str> {
        self.ports
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(name))
            .and_then(|d| d.process.as_deref())
    }
}

/// The workspace and the packages selected on the command line.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) root: PathBuf,
    pub(crate) members: Vec<Package>,
    pub(crate) selected: Vec<usize>,
}

impl Workspace {
    pub(crate) fn selected(&self) -> impl Iterator<Item = &Package> {
        self.selected.iter().map(|&i| &self.members[i])
    }

    /// Whether every member is selected.
    pub(crate) fn whole(&self) -> bool {
        self.selected.len() == self.members.len()
    }

    /// The one selected package, for commands that act on one.
    pub(crate) fn single(&self) -> CliResult<&Package> {
        match &self.selected[..] {
            [one] => Ok(&self.members[*one]),
            many => Err(CliError::new(format!(
                "this command acts on one package, and {} are selected ({}); choose one with -p",
                many.len(),
                many.iter()
                    .map(|&i| self.members[i].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

/// Collects a table's problems as "`key`: message".
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, key: &str, message: impl std::fmt::Display) {
        self.0.push(format!("`{key}`: {message}"));
    }
}

/// Parses a `portfor` table; `place` names it ("[package.metadata.portfor]
/// in /x/Cargo.toml"). Every problem is reported, not only the first.
fn parse_table(value: Option<&Value>, place: &str) -> Result<Table, InvalidTable> {
    let invalid = |problems: Vec<String>| InvalidTable {
        place: place.to_owned(),
        problems,
    };
    let Some(value) = value else {
        return Ok(Table::default());
    };
    let Value::Object(table) = value else {
        return Err(invalid(vec![format!(
            "expected a table, found {}",
            type_name(value)
        )]));
    };
    let mut parsed = Table::default();
    let mut problems = Problems::default();
    for (key, value) in table {
        match key.as_str() {
            "ports" => parsed.ports = parse_ports(value, &mut problems),
            "env-prefix" => parsed.env_prefix = parse_env_prefix(value, &mut problems),
            other => problems.add(other, "unknown key (expected `ports` or `env-prefix`)"),
        }
    }
    if problems.0.is_empty() {
        Ok(parsed)
    } else {
        Err(invalid(problems.0))
    }
}

/// `ports = [...]`: names, or `{ name, process }` tables.
fn parse_ports(value: &Value, problems: &mut Problems) -> Option<Vec<PortDecl>> {
    let Value::Array(items) = value else {
        problems.add(
            "ports",
            format!("expected an array, found {}", type_name(value)),
        );
        return None;
    };
    let mut ports: Vec<PortDecl> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("ports[{i}]");
        let Some(decl) = parse_port_decl(&key, item, problems) else {
            continue;
        };
        if let Err(e) = names::validate(&decl.name) {
            problems.add(&key, e);
        } else if ports
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(&decl.name))
        {
            problems.add(&key, format!("{:?} is declared twice", decl.name));
        } else {
            ports.push(decl);
        }
    }
    Some(ports)
}

fn parse_port_decl(key: &str, item: &Value, problems: &mut Problems) -> Option<PortDecl> {
    let fields = match item {
        Value::String(name) => {
            return Some(PortDecl {
                name: name.clone(),
                process: None,
            });
        }
        Value::Object(fields) => fields,
        other => {
            problems.add(
                key,
                format!("expected a name or a table, found {}", type_name(other)),
            );
            return None;
        }
    };
    let (mut name, mut process, mut ok) = (None, None, true);
    for (field, value) in fields {
        let slot = match field.as_str() {
            "name" => &mut name,
            "process" => &mut process,
            other => {
                problems.add(
                    &format!("{key}.{other}"),
                    "unknown key (expected `name` or `process`)",
                );
                ok = false;
                continue;
            }
        };
        match value.as_str() {
            Some(text) => *slot = Some(text.to_owned()),
            None => {
                problems.add(
                    &format!("{key}.{field}"),
                    format!("expected a string, found {}", type_name(value)),
                );
                ok = false;
            }
        }
    }
    match name {
        Some(name) if ok => Some(PortDecl { name, process }),
        Some(_) => None,
        None => {
            problems.add(key, "missing `name`");
            None
        }
    }
}

fn parse_env_prefix(value: &Value, problems: &mut Problems) -> Option<String> {
    let Value::String(prefix) = value else {
        problems.add(
            "env-prefix",
            format!("expected a string, found {}", type_name(value)),
        );
        return None;
    };
    let valid = prefix
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        problems.add(
            "env-prefix",
            format!("{prefix:?} is not a variable name (letters, digits, '_')"),
        );
        return None;
    }
    Some(prefix.clone())
}

/// The nearest `Cargo.toml` from the current directory up, as cargo finds it.
fn discovered_manifest() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|dir| dir.join("Cargo.toml"))
        .find(|path| path.is_file())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Matches a package ID spec as cargo's `-p` does for the common forms:
/// `name` and `name@version`.
fn matches_spec(package: &Package, spec: &str) -> bool {
    match spec.split_once('@') {
        Some((name, version)) => package.name == name && package.version == version,
        None => package.name == spec,
    }
}

/// Runs `cargo metadata --no-deps` and selects packages as cargo would.
/// Invalid `portfor` tables do not fail the load: each package carries its
/// own (see [`Package::invalid`]).
pub(crate) fn load(args: &WorkspaceArgs) -> CliResult<Workspace> {
    if !args.exclude.is_empty() && !args.workspace {
        return Err(CliError::new(
            "--exclude can only be used together with --workspace",
        ));
    }
    let mut command = MetadataCommand::new();
    command.no_deps();
    if let Some(path) = &args.manifest_path {
        command.manifest_path(path);
    }
    let metadata = command.exec()?;
    let root = metadata.workspace_root.clone().into_std_path_buf();
    let members = members(&metadata, &root);
    let selected = select(args, &members, &metadata)?;
    Ok(Workspace {
        root,
        members,
        selected,
    })
}

/// The workspace members with their `portfor` tables, sorted by name.
fn members(metadata: &Metadata, root: &Path) -> Vec<Package> {
    let shared = parse_table(
        metadata.workspace_metadata.get("portfor"),
        &format!(
            "[workspace.metadata.portfor] in {}",
            root.join("Cargo.toml").display()
        ),
    );
    let mut members = Vec::new();
    for id in &metadata.workspace_members {
        let package = &metadata[id];
        let manifest_path = package.manifest_path.clone().into_std_path_buf();
        let own = parse_table(
            package.metadata.get("portfor"),
            &format!("[package.metadata.portfor] in {}", manifest_path.display()),
        );
        let invalid: Vec<InvalidTable> = [&shared, &own]
            .into_iter()
            .filter_map(|t| t.as_ref().err().cloned())
            .collect();
        let (shared, own) = (shared.clone().unwrap_or_default(), own.unwrap_or_default());
        let mut ports = shared.ports.unwrap_or_default();
        for decl in own.ports.unwrap_or_default() {
            ports.retain(|p| !p.name.eq_ignore_ascii_case(&decl.name));
            ports.push(decl);
        }
        members.push(Package {
            name: package.name.to_string(),
            version: package.version.to_string(),
            dir: manifest_path.parent().unwrap_or(Path::new(".")).to_owned(),
            manifest_path,
            ports,
            env_prefix: own
                .env_prefix
                .or(shared.env_prefix)
                .unwrap_or_else(|| DEFAULT_ENV_PREFIX.to_owned()),
            invalid,
        });
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));
    members
}

/// The indexes of the packages `args` select, as cargo selects them.
fn select(args: &WorkspaceArgs, members: &[Package], metadata: &Metadata) -> CliResult<Vec<usize>> {
    let member_names = || {
        members
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let matching = |spec: &str| -> Vec<usize> {
        (0..members.len())
            .filter(|&i| matches_spec(&members[i], spec))
            .collect()
    };
    if args.workspace {
        for spec in &args.exclude {
            if matching(spec).is_empty() {
                return Err(CliError::new(format!(
                    "excluded package `{spec}` is not in the workspace (members: {})",
                    member_names()
                )));
            }
        }
        return Ok((0..members.len())
            .filter(|&i| {
                !args
                    .exclude
                    .iter()
                    .any(|spec| matches_spec(&members[i], spec))
            })
            .collect());
    }
    if !args.packages.is_empty() {
        let mut selected = Vec::new();
        for spec in &args.packages {
            let found = matching(spec);
            if found.is_empty() {
                return Err(CliError::new(format!(
                    "package ID specification `{spec}` did not match any packages in the workspace (members: {})",
                    member_names()
                )));
            }
            for i in found {
                if !selected.contains(&i) {
                    selected.push(i);
                }
            }
        }
        return Ok(selected);
    }
    Ok(default_selection(args, members, metadata))
}

/// As cargo without `-p` or `--workspace`: the package whose manifest was
/// given or found, else the default members.
fn default_selection(args: &WorkspaceArgs, members: &[Package], metadata: &Metadata) -> Vec<usize> {
    let manifest = args.manifest_path.clone().or_else(discovered_manifest);
    if let Some(i) =
        manifest.and_then(|m| members.iter().position(|p| same_file(&p.manifest_path, &m)))
    {
        return vec![i];
    }
    let defaults: Vec<&str> = metadata
        .workspace_default_members
        .iter()
        .map(|id| metadata[id].name.as_str())
        .collect();
    (0..members.len())
        .filter(|&i| defaults.is_empty() || defaults.contains(&members[i].name.as_str()))
        .collect()
}

/// The environment variable of `name` in `package`: `<PREFIX>_<PACKAGE>_<NAME>`,
/// upper-cased, every character but ASCII letters and digits made `_`.
pub(crate) fn env_var(package: &Package, name: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "{}_{}_{}",
        package.env_prefix,
        clean(&package.name),
        clean(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Table, InvalidTable> {
        parse_table(Some(&value), "[package.metadata.portfor] in /x/Cargo.toml")
    }

    #[test]
    fn tables_parse_names_and_details() {
        let table = parse(json!({
            "ports": ["web", {"name": "db", "process": "postgres"}],
            "env-prefix": "SHOP",
        }))
        .unwrap();
        assert_eq!(
            table.ports.unwrap(),
            [
                PortDecl {
                    name: "web".into(),
                    process: None
                },
                PortDecl {
                    name: "db".into(),
                    process: Some("postgres".into())
                },
            ]
        );
        assert_eq!(table.env_prefix.as_deref(), Some("SHOP"));
    }

    #[test]
    fn errors_name_the_manifest_and_key() {
        let cases = [
            (
                json!({"ports": "web"}),
                "`ports`: expected an array, found a string",
            ),
            (
                json!({"ports": [5]}),
                "`ports[0]`: expected a name or a table, found a number",
            ),
            (json!({"ports": ["a=b"]}), "`ports[0]`: invalid name"),
            (
                json!({"ports": ["db", "DB"]}),
                "`ports[1]`: \"DB\" is declared twice",
            ),
            (
                json!({"ports": [{"process": "x"}]}),
                "`ports[0]`: missing `name`",
            ),
            (
                json!({"ports": [{"name": "x", "pid": 1}]}),
                "`ports[0].pid`",
            ),
            (json!({"prots": []}), "`prots`: unknown key"),
            (json!({"env-prefix": "1X"}), "`env-prefix`"),
            (json!(["ports"]), "expected a table, found an array"),
        ];
        for (value, expected) in cases {
            let message = parse(value.clone()).unwrap_err().to_error().to_string();
            assert!(
                message.contains("[package.metadata.portfor] in /x/Cargo.toml"),
                "{message}"
            );
            assert!(message.contains(expected), "{value}: {message}");
        }
    }

    #[test]
    fn every_problem_of_a_table_is_reported_at_once() {
        let invalid = parse(json!({
            "ports": ["db", "x/y", 5, "DB", {"name": "a@b"}, {"name": "ok", "pid": 1}],
            "env-prefix": "1X",
            "prots": [],
        }))
        .unwrap_err();
        assert_eq!(
            invalid.problems,
            [
                "`env-prefix`: \"1X\" is not a variable name (letters, digits, '_')",
                "`ports[1]`: invalid name \"x/y\": a name cannot contain '/' or '@', which separate the package, the name and the checkout in store keys",
                "`ports[2]`: expected a name or a table, found a number",
                "`ports[3]`: \"DB\" is declared twice",
                "`ports[4]`: invalid name \"a@b\": a name cannot contain '/' or '@', which separate the package, the name and the checkout in store keys",
                "`ports[5].pid`: unknown key (expected `name` or `process`)",
                "`prots`: unknown key (expected `ports` or `env-prefix`)",
            ]
        );
        let error = invalid.to_error();
        assert_eq!(
            error.to_string(),
            "invalid [package.metadata.portfor] in /x/Cargo.toml: 7 problems"
        );
    }

    #[test]
    fn variable_names_are_shell_safe() {
        let package = Package {
            name: "my-web".into(),
            version: "0.1.0".into(),
            manifest_path: "/x/Cargo.toml".into(),
            dir: "/x".into(),
            ports: Vec::new(),
            env_prefix: DEFAULT_ENV_PREFIX.into(),
            invalid: Vec::new(),
        };
        assert_eq!(env_var(&package, "db.main"), "PORTFOR_MY_WEB_DB_MAIN");
    }
}
