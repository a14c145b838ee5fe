//! Commands act on the packages selected, and only on them: `check` judges
//! the selected packages' ports, one package's bad metadata leaves the
//! others working, and a subcommand refuses selection flags it would ignore.

mod common;

use std::fs;

use common::Fixture;
use serde_json::Value;

fn kinds(doc: &Value) -> Vec<String> {
    doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn check_ignores_names_of_other_programs_in_the_stores() {
    let f = Fixture::workspace("plain");
    // Two unrelated names on port 80 in the system store, two more sharing
    // a port in the user's store: none of them is this workspace's.
    f.write_system_store("[DEFAULT]\nnginx = 80\napache = 80\n");
    fs::write(f.user_store(), "[DEFAULT]\nold-a = 20000\nold-b = 20000\n").unwrap();
    assert_eq!(
        f.cargo_portfor(&["check", "--workspace"]).ok().stdout(),
        "no problems found\n"
    );
}

#[test]
fn check_reports_a_selected_package_sharing_a_port_with_the_system_store() {
    let f = Fixture::workspace("shop");
    let db = f
        .cargo_portfor(&["bind", "db", "-p", "web"])
        .ok()
        .stdout()
        .trim()
        .to_owned();
    f.cargo_portfor(&["env", "--workspace"]).ok();
    f.write_system_store(&format!(
        "[DEFAULT]\nlegacy = {db}\nnginx = 80\napache = 80\n"
    ));

    let doc = f
        .cargo_portfor(&["check", "-p", "web", "--message-format", "json"])
        .code(1)
        .json();
    assert_eq!(kinds(&doc), ["shared-port"], "{doc}");
    let problem = &doc["problems"][0];
    assert_eq!(
        (problem["package"].as_str(), problem["name"].as_str()),
        (Some("web"), Some("db"))
    );
    let message = problem["message"].as_str().unwrap();
    let system = f.system_store();
    assert!(
        message.contains(&format!("legacy (in {})", system.display())),
        "{message}"
    );
    // api's ports share nothing, and port 80's two names are not api's.
    f.cargo_portfor(&["check", "-p", "api"]).ok();
    // The whole workspace: web's conflict only.
    let doc = f
        .cargo_portfor(&["check", "--workspace", "--message-format", "json"])
        .code(1)
        .json();
    assert_eq!(kinds(&doc), ["shared-port"], "{doc}");
}

#[test]
fn stale_bindings_of_unselected_directories_are_not_judged() {
    let f = Fixture::workspace("shop");
    f.cargo_portfor(&["bind", "metrics", "-p", "worker"]).ok();
    // worker's directory is gone from the workspace.
    let root = f.root.join("Cargo.toml");
    fs::write(
        &root,
        fs::read_to_string(&root).unwrap().replace(
            r#"members = ["web", "api", "worker"]"#,
            r#"members = ["web", "api"]"#,
        ),
    )
    .unwrap();
    // Judging web alone, worker's old binding is none of its business...
    f.cargo_portfor(&["check", "-p", "web"]).ok();
    // ...while the whole workspace owns the directory it was in.
    let doc = f
        .cargo_portfor(&["check", "--workspace", "--message-format", "json"])
        .code(1)
        .json();
    assert_eq!(kinds(&doc), ["stale"], "{doc}");
    assert!(
        doc["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("belongs to package `worker`"),
        "{doc}"
    );
}

#[test]
fn a_package_with_bad_metadata_leaves_the_others_working() {
    let f = Fixture::workspace("mixed-metadata");
    let bad = f.root.join("bad").join("Cargo.toml");
    let header = format!(
        "error: invalid [package.metadata.portfor] in {}: 4 problems\n",
        bad.display()
    );
    let problems = "  `env-prefix`: \"1X\" is not a variable name (letters, digits, '_')\n  \
         `ports[1]`: \"DB\" is declared twice\n  \
         `ports[2]`: invalid name \"api/v2\": a name cannot contain '/' or '@', which separate the package, the name and the checkout in store keys\n  \
         `ports[3]`: expected a name or a table, found a number\n";

    // Selecting the good package: nothing about the bad one.
    let run = f.cargo_portfor(&["list", "-p", "good"]);
    assert!(
        run.ok().stdout().contains("good v0.1.0"),
        "{}",
        run.stdout()
    );
    assert_eq!(run.stderr(), "");

    // Both: the good one is listed, every problem of the bad one reported
    // at once, and the command fails.
    let run = f.cargo_portfor(&["list", "--workspace"]);
    run.code(2);
    assert!(run.stdout().contains("good v0.1.0"), "{}", run.stdout());
    assert!(!run.stdout().contains("bad v0.1.0"), "{}", run.stdout());
    assert_eq!(run.stderr(), format!("{header}{problems}"));

    // The same for the other commands over several packages, JSON included.
    let run = f.cargo_portfor(&["env", "--workspace"]);
    assert!(
        run.code(2)
            .stdout()
            .starts_with("export PORTFOR_GOOD_HTTP="),
        "{}",
        run.stdout()
    );
    assert!(run.stderr().starts_with(&header), "{}", run.stderr());
    let run = f.cargo_portfor(&["check", "--workspace", "--message-format", "json"]);
    assert_eq!(run.code(2).json()["problems"], Value::Array(vec![]));
    let run = f.cargo_portfor(&["list", "--workspace", "--message-format", "json"]);
    let doc = run.code(2).json();
    assert_eq!(doc["packages"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["packages"][0]["name"], "good");

    // A command on the bad package alone fails with its problems.
    let run = f.cargo_portfor(&["get", "db", "-p", "bad"]);
    assert_eq!(run.code(2).stderr(), format!("{header}{problems}"));
}

#[test]
fn a_bad_workspace_table_is_reported_once() {
    let f = Fixture::workspace("shop");
    let root = f.root.join("Cargo.toml");
    fs::write(
        &root,
        fs::read_to_string(&root)
            .unwrap()
            .replace("ports = [\"metrics\"]", "ports = [\"metrics\", \"x@y\"]"),
    )
    .unwrap();
    let run = f.cargo_portfor(&["list", "--workspace"]);
    let expected = format!(
        "error: invalid [workspace.metadata.portfor] in {}: `ports[1]`: invalid name \"x@y\"",
        root.display()
    );
    assert_eq!(
        run.code(2).stderr().matches(&expected).count(),
        1,
        "{}",
        run.stderr()
    );
    assert_eq!(run.stderr().lines().count(), 1, "{}", run.stderr());
}

#[test]
fn subcommands_refuse_selection_flags_they_would_ignore() {
    let f = Fixture::workspace("shop");
    for args in [
        &["free", "-p", "nosuch"][..],
        &["free", "--workspace"],
        &["doctor", "--exclude", "web"],
        &["doctor", "--manifest-path", "Cargo.toml"],
        &["why", "20000", "-p", "web"],
    ] {
        let run = f.cargo_portfor(args);
        run.code(2).error("unexpected argument");
        assert_eq!(run.stdout(), "", "{args:?}");
    }
    // The subcommands that act on packages take them.
    f.cargo_portfor(&["list", "-p", "web"]).ok();
    f.cargo_portfor(&["check", "--workspace", "--exclude", "web"])
        .ok();
    f.cargo_portfor(&["env", "--manifest-path", "web/Cargo.toml"])
        .ok();
}
