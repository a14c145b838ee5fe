//! The workspace, from `cargo metadata --no-deps`, and its typed
//! `[package.metadata.portfor]` / `[workspace.metadata.portfor]` tables.

use std::path::{Path, PathBuf};

use cargo_metadata::MetadataCommand;
use serde_json::Value;

use crate::cli::WorkspaceArgs;
use crate::error::{CliError, CliResult};

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

/// Parses a `portfor` table; `place` names it ("[package.metadata.portfor]
/// in /x/Cargo.toml") in every error.
fn parse_table(value: Option<&Value>, place: &str) -> CliResult<Table> {
    let error =
        |key: &str, message: String| CliError::new(format!("invalid {place}: `{key}`: {message}"));
    let Some(value) = value else {
        return Ok(Table::default());
    };
    let Value::Object(table) = value else {
        return Err(CliError::new(format!(
            "invalid {place}: expected a table, found {}",
            type_name(value)
        )));
    };
    let mut parsed = Table::default();
    for (key, value) in table {
        match key.as_str() {
            "ports" => {
                let Value::Array(items) = value else {
                    return Err(error(
                        key,
                        format!("expected an array, found {}", type_name(value)),
                    ));
                };
                let mut ports: Vec<PortDecl> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let key = format!("ports[{i}]");
                    let decl = match item {
                        Value::String(name) => PortDecl {
                            name: name.clone(),
                            process: None,
                        },
                        Value::Object(fields) => {
                            let mut name = None;
                            let mut process = None;
                            for (field, value) in fields {
                                let text = value.as_str().ok_or_else(|| {
                                    error(
                                        &format!("{key}.{field}"),
                                        format!("expected a string, found {}", type_name(value)),
                                    )
                                })?;
                                match field.as_str() {
                                    "name" => name = Some(text.to_owned()),
                                    "process" => process = Some(text.to_owned()),
                                    other => {
                                        return Err(error(
                                            &format!("{key}.{other}"),
                                            "unknown key (expected `name` or `process`)".into(),
                                        ));
                                    }
                                }
                            }
                            let name = name.ok_or_else(|| error(&key, "missing `name`".into()))?;
                            PortDecl { name, process }
                        }
                        other => {
                            return Err(error(
                                &key,
                                format!("expected a name or a table, found {}", type_name(other)),
                            ));
                        }
                    };
                    portfor_test::validate_name(&decl.name)
                        .map_err(|e| error(&key, e.to_string()))?;
                    if decl.name.contains(['/', '@']) {
                        return Err(error(
                            &key,
                            format!(
                                "invalid name {:?}: '/' and '@' are reserved for store keys",
                                decl.name
                            ),
                        ));
                    }
                    if ports
                        .iter()
                        .any(|p| p.name.eq_ignore_ascii_case(&decl.name))
                    {
                        return Err(error(&key, format!("{:?} is declared twice", decl.name)));
                    }
                    ports.push(decl);
                }
                parsed.ports = Some(ports);
            }
            "env-prefix" => {
                let Value::String(prefix) = value else {
                    return Err(error(
                        key,
                        format!("expected a string, found {}", type_name(value)),
                    ));
                };
                let valid = prefix
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && prefix
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(error(
                        key,
                        format!("{prefix:?} is not a variable name (letters, digits, '_')"),
                    ));
                }
                parsed.env_prefix = Some(prefix.clone());
            }
            other => {
                return Err(error(
                    other,
                    "unknown key (expected `ports` or `env-prefix`)".into(),
                ));
            }
        }
    }
    Ok(parsed)
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
pub(crate) fn load(args: &WorkspaceArgs) -> CliResult<Workspace> {
    let mut command = MetadataCommand::new();
    command.no_deps();
    if let Some(path) = &args.manifest_path {
        command.manifest_path(path);
    }
    let metadata = command.exec()?;
    let root = metadata.workspace_root.clone().into_std_path_buf();
    let root_manifest = root.join("Cargo.toml");
    let shared = parse_table(
        metadata.workspace_metadata.get("portfor"),
        &format!(
            "[workspace.metadata.portfor] in {}",
            root_manifest.display()
        ),
    )?;

    let mut members = Vec::new();
    for id in &metadata.workspace_members {
        let package = &metadata[id];
        let manifest_path = package.manifest_path.clone().into_std_path_buf();
        let own = parse_table(
            package.metadata.get("portfor"),
            &format!("[package.metadata.portfor] in {}", manifest_path.display()),
        )?;
        let mut ports = shared.ports.clone().unwrap_or_default();
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
                .or_else(|| shared.env_prefix.clone())
                .unwrap_or_else(|| DEFAULT_ENV_PREFIX.to_owned()),
        });
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));

    if !args.exclude.is_empty() && !args.workspace {
        return Err(CliError::new(
            "--exclude can only be used together with --workspace",
        ));
    }
    let member_names = || {
        members
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let selected: Vec<usize> = if args.workspace {
        for spec in &args.exclude {
            if !members.iter().any(|p| matches_spec(p, spec)) {
                return Err(CliError::new(format!(
                    "excluded package `{spec}` is not in the workspace (members: {})",
                    member_names()
                )));
            }
        }
        (0..members.len())
            .filter(|&i| {
                !args
                    .exclude
                    .iter()
                    .any(|spec| matches_spec(&members[i], spec))
            })
            .collect()
    } else if !args.packages.is_empty() {
        let mut selected = Vec::new();
        for spec in &args.packages {
            let found: Vec<usize> = (0..members.len())
                .filter(|&i| matches_spec(&members[i], spec))
                .collect();
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
        selected
    } else {
        // As cargo: the package whose manifest was given or found, else the
        // default members.
        let manifest = args.manifest_path.clone().or_else(discovered_manifest);
        let own =
            manifest.and_then(|m| members.iter().position(|p| same_file(&p.manifest_path, &m)));
        match own {
            Some(i) => vec![i],
            None => {
                let defaults: Vec<&str> = metadata
                    .workspace_default_members
                    .iter()
                    .map(|id| metadata[id].name.as_str())
                    .collect();
                (0..members.len())
                    .filter(|&i| {
                        defaults.is_empty() || defaults.contains(&members[i].name.as_str())
                    })
                    .collect()
            }
        }
    };
    Ok(Workspace {
        root,
        members,
        selected,
    })
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

    fn parse(value: Value) -> CliResult<Table> {
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
            let message = parse(value.clone()).unwrap_err().to_string();
            assert!(
                message.contains("[package.metadata.portfor] in /x/Cargo.toml"),
                "{message}"
            );
            assert!(message.contains(expected), "{value}: {message}");
        }
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
        };
        assert_eq!(env_var(&package, "db.main"), "PORTFOR_MY_WEB_DB_MAIN");
    }
}
