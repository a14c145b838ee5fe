//! `cargo portfor`, run as a real process against fixture workspaces copied
//! from `data/fixtures/`, with temporary stores and claim directory.

// A skipped check says so on stderr.
#![allow(clippy::print_stderr)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;

use common::{Fixture, Run};
use serde_json::{Value, json};

/// The names and ports of one package in a `list` document.
fn ports_of<'a>(list: &'a Value, package: &str) -> &'a Vec<Value> {
    list["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == package)
        .unwrap_or_else(|| panic!("no package {package} in {list}"))["ports"]
        .as_array()
        .unwrap()
}

#[test]
fn list_shows_declared_names_unbound_then_bound() {
    let f = Fixture::workspace("shop");
    let list = f
        .cargo_portfor(&["list", "--workspace", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(list["command"], "list");
    let names: Vec<&str> = list["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "web", "worker"]);
    let web = ports_of(&list, "web");
    let web_names: Vec<&str> = web.iter().map(|p| p["name"].as_str().unwrap()).collect();
    // The workspace's `metrics`, then the package's own.
    assert_eq!(web_names, ["metrics", "http", "db"]);
    assert!(
        web.iter()
            .all(|p| p["port"].is_null() && p["status"]["state"] == "unbound")
    );
    assert!(!f.user_store().exists(), "list wrote the store");

    let port = f.bind("http", "web");
    let list = f
        .cargo_portfor(&["list", "-p", "web", "--message-format=json"])
        .ok()
        .json();
    let http = &ports_of(&list, "web")[1];
    assert_eq!(http["port"], port);
    assert_eq!(http["status"]["state"], "free");
    assert_eq!(http["declared"], true);
    assert_eq!(http["store"], f.user_store().to_str().unwrap());
    assert!(http["key"].as_str().unwrap().starts_with("web/http@"));
}

#[test]
fn list_shows_a_listener_with_its_process() {
    let f = Fixture::workspace("shop");
    let port = f.bind("http", "api");
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let list = f
        .cargo_portfor(&["list", "-p", "api", "--message-format", "json"])
        .ok()
        .json();
    let status = &ports_of(&list, "api")[1]["status"];
    if cfg!(target_os = "linux") {
        assert_eq!(status["state"], "listening", "{list}");
        assert_eq!(status["pid"], std::process::id());
    } else {
        // Listeners and their owners are read from /proc, on Linux only;
        // elsewhere the probe sees the port taken, as documented.
        assert_eq!(status["state"], "in-use", "{list}");
    }
    drop(listener);
    let human = f.cargo_portfor(&["list", "-p", "api"]).ok().stdout();
    assert!(human.contains(&format!("http     {port}  free")), "{human}");
}

#[test]
fn get_bind_unbind() {
    let f = Fixture::workspace("shop");
    f.cargo_portfor(&["get", "db", "-p", "web"])
        .code(2)
        .error("`db` is not bound for package `web`");
    let bound = f
        .cargo_portfor(&["bind", "db", "-p", "web", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(bound["created"], true);
    let port = bound["port"].as_u64().unwrap();
    let again = f
        .cargo_portfor(&["bind", "DB", "-p", "web", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(
        (again["created"].clone(), again["port"].as_u64()),
        (Value::Bool(false), Some(port))
    );
    assert_eq!(
        f.cargo_portfor(&["get", "db", "-p", "web"]).ok().stdout(),
        format!("{port}\n")
    );
    // Run from inside the package, the package is selected as cargo would.
    let mut from_web = f.other(
        env!("CARGO_BIN_EXE_cargo-portfor"),
        &["portfor", "get", "db"],
    );
    from_web.current_dir(f.root.join("web"));
    assert_eq!(Run::of(from_web).ok().stdout(), format!("{port}\n"));
    // An explicit port, and its conflicts.
    assert_eq!(
        f.cargo_portfor(&["bind", "http", "-p", "api", "--port", "20000"])
            .ok()
            .stdout(),
        "20000\n"
    );
    f.cargo_portfor(&["bind", "http", "-p", "web", "--port", "20000"])
        .code(2)
        .error("refusing to bind `http` to port 20000: it is bound to \"api/http@");
    let removed = f
        .cargo_portfor(&["unbind", "db", "-p", "web", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(
        (removed["removed"].clone(), removed["port"].as_u64()),
        (Value::Bool(true), Some(port))
    );
    assert_eq!(
        f.cargo_portfor(&["unbind", "db", "-p", "web"])
            .ok()
            .stdout(),
        "db was not bound\n"
    );
    // Commands on one package refuse several.
    f.cargo_portfor(&["get", "db", "--workspace"])
        .code(2)
        .error("acts on one package, and 3 are selected");
}

#[test]
fn free_prints_distinct_ports() {
    let f = Fixture::empty();
    let out = f.cargo_portfor(&["free", "-n", "5"]).ok().stdout();
    let ports: BTreeSet<u16> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(ports.len(), 5);
    let json = f
        .cargo_portfor(&["free", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(json["ports"].as_array().unwrap().len(), 1);
    f.cargo_portfor(&["free", "-n", "0"]).code(2);
}

#[test]
fn env_exports_every_named_port_in_each_format() {
    let f = Fixture::workspace("shop");
    let shell = f.cargo_portfor(&["env", "--workspace"]).ok().stdout();
    let names: Vec<&str> = shell
        .lines()
        .map(|l| {
            l.strip_prefix("export ")
                .unwrap()
                .split('=')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        names,
        [
            "SHOP_API_METRICS",
            "SHOP_API_HTTP",
            "SHOP_WEB_METRICS",
            "SHOP_WEB_HTTP",
            "SHOP_WEB_DB",
            "SHOP_WORKER_METRICS"
        ]
    );
    // Declared names were bound on the way, and stay as they are.
    let dotenv = f
        .cargo_portfor(&["env", "--workspace", "--format", "dotenv"])
        .ok()
        .stdout();
    assert_eq!(dotenv, shell.replace("export ", ""));
    let json: Value = serde_json::from_str(
        &f.cargo_portfor(&["env", "--workspace", "--format", "json"])
            .ok()
            .stdout(),
    )
    .unwrap();
    let web_db = json["SHOP_WEB_DB"].as_str().unwrap();
    assert!(shell.contains(&format!("SHOP_WEB_DB={web_db}\n")));
    let doc = f
        .cargo_portfor(&["env", "-p", "web", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(doc["variables"]["SHOP_WEB_DB"], web_db);
    assert_eq!(doc["variables"].as_object().unwrap().len(), 3);
    // GitHub Actions and nextest: appended to the file their variable names.
    for (format, variable) in [("github", "GITHUB_ENV"), ("nextest", "NEXTEST_ENV")] {
        let file = f.dir.path().join(format!("{format}.env"));
        fs::write(&file, "EARLIER=1\n").unwrap();
        let mut command = f.other(
            env!("CARGO_BIN_EXE_cargo-portfor"),
            &["portfor", "env", "-p", "web", "--format", format],
        );
        command.env(variable, &file);
        assert_eq!(Run::of(command).ok().stdout(), "");
        let written = fs::read_to_string(&file).unwrap();
        assert!(
            written.starts_with("EARLIER=1\nSHOP_WEB_METRICS="),
            "{written}"
        );
        assert!(
            written.contains(&format!("SHOP_WEB_DB={web_db}\n")),
            "{written}"
        );
    }
}

#[test]
fn check_is_clean_on_a_fresh_workspace() {
    let f = Fixture::workspace("shop");
    f.cargo_portfor(&["env", "--workspace"]).ok();
    assert_eq!(
        f.cargo_portfor(&["check", "--workspace"]).ok().stdout(),
        "no problems found\n"
    );
    let doc = f
        .cargo_portfor(&["check", "--workspace", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(doc["problems"], Value::Array(vec![]));
}

#[test]
fn check_reports_each_kind_of_problem_with_exit_1() {
    let f = Fixture::workspace("shop");
    // A port in the ephemeral range (Linux's default starts at 32768),
    // which `bind` refuses unless forced.
    f.cargo_portfor(&["bind", "http", "-p", "api", "--port", "40000", "--force"])
        .ok();
    // A port in use, by this test: no `process` is declared for api's metrics.
    let metrics = f.bind("metrics", "api");
    let _listener = TcpListener::bind(("127.0.0.1", metrics)).unwrap();
    // web's db expects postgres; this test is not postgres.
    let db = f.bind("db", "web");
    let _db_listener = TcpListener::bind(("127.0.0.1", db)).unwrap();
    // Two names on one port, added by hand.
    let mut text = fs::read_to_string(f.user_store()).unwrap();
    text = text.replacen("[DEFAULT]\n", &format!("[DEFAULT]\nhand-made = {db}\n"), 1);
    fs::write(f.user_store(), text).unwrap();
    // A package that is gone: worker binds, then is renamed.
    f.cargo_portfor(&["bind", "metrics", "-p", "worker"]).ok();
    let manifest = f.root.join("worker/Cargo.toml");
    fs::write(
        &manifest,
        fs::read_to_string(&manifest)
            .unwrap()
            .replace("name = \"worker\"", "name = \"jobs\""),
    )
    .unwrap();

    let run = f.cargo_portfor(&["check", "--workspace", "--message-format", "json"]);
    let doc = run.code(1).json();
    let kinds: BTreeSet<String> = doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = ["ephemeral", "in-use", "shared-port", "stale"]
        .map(String::from)
        .into();
    if cfg!(target_os = "linux") {
        assert_eq!(kinds, expected, "{doc}");
        // Port 40000 is in the ephemeral range, where a connection of
        // another program may hold it: only the two listeners count here.
        let in_use: Vec<&Value> = doc["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["kind"] == "in-use"
                    && [u64::from(metrics), u64::from(db)].contains(&p["port"].as_u64().unwrap())
            })
            .collect();
        assert_eq!(in_use.len(), 2, "{doc}");
        assert!(in_use.iter().any(|p| {
            p["message"]
                .as_str()
                .unwrap()
                .contains("not by the expected process `postgres`")
        }));
    }
    let human = f.cargo_portfor(&["check", "--workspace"]);
    assert!(
        human.code(1).stdout().contains("problems found"),
        "{}",
        human.stdout()
    );
}

#[test]
fn bad_input_is_an_error_with_exit_2() {
    let f = Fixture::workspace("shop");
    f.cargo_portfor(&["list", "-p", "nope"])
        .code(2)
        .error("package ID specification `nope` did not match any packages");
    f.cargo_portfor(&["bind", "x", "-p", "web", "--port", "abc"])
        .code(2)
        .error("invalid port \"abc\"");
    f.cargo_portfor(&["bind", "x", "-p", "web", "--port", "0"])
        .code(2)
        .error("invalid port \"0\"");
    f.cargo_portfor(&["bind", "a=b", "-p", "web"])
        .code(2)
        .error("invalid name \"a=b\"");
    f.cargo_portfor(&["list", "--exclude", "web"])
        .code(2)
        .error("--exclude can only be used together with --workspace");
    f.cargo_portfor(&["frobnicate"]).code(2);
    // An unreadable store, and a malformed one.
    let dir = f.dir.path().join("a-directory");
    fs::create_dir(&dir).unwrap();
    f.cargo_portfor(&["list", "--store", dir.to_str().unwrap()])
        .code(2)
        .error("is a directory; a store must be a regular file");
    fs::write(f.user_store(), "no section\n").unwrap();
    f.cargo_portfor(&["list", "-p", "web"])
        .code(2)
        .error("line 1");
    // Nothing was printed on stdout for these.
    assert_eq!(
        f.cargo_portfor(&["list", "-p", "web", "--message-format", "json"])
            .code(2)
            .stdout(),
        ""
    );
}

#[test]
fn malformed_metadata_names_the_manifest_and_the_key() {
    let f = Fixture::workspace("bad-metadata");
    let manifest = f.root.join("app").join("Cargo.toml");
    f.cargo_portfor(&["list"])
        .code(2)
        .error(&format!("invalid [package.metadata.portfor] in {}: `ports[1]`: expected a name or a table, found a number", manifest.display()));
    // Not a Cargo workspace at all.
    let empty = Fixture::empty();
    let run = empty.cargo_portfor(&["list"]);
    run.code(2)
        .error("failed to read the workspace with `cargo metadata`");
    assert!(run.stderr().contains("Caused by:"), "{}", run.stderr());
}

#[test]
fn doctor_reports_ranges_stores_and_claims() {
    let f = Fixture::empty();
    let doc = f
        .cargo_portfor(&["doctor", "--message-format", "json"])
        .ok()
        .json();
    assert!(doc["candidates"]["ports"].as_u64().unwrap() > 1000, "{doc}");
    assert_eq!(doc["store"]["path"], f.user_store().to_str().unwrap());
    assert_eq!(
        doc["system_store"]["path"],
        f.system_store().to_str().unwrap()
    );
    assert_eq!(
        doc["claim_dir"],
        f.dir.path().join("claims").to_str().unwrap()
    );
    assert_eq!(doc["live_claims"], 0);
    if cfg!(target_os = "linux") {
        assert_eq!(doc["ranges"]["source"], "/proc/sys/net/ipv4");
    }
    let human = f.cargo_portfor(&["doctor"]).ok().stdout();
    assert!(human.contains("candidate ports:"), "{human}");
}

/// What `doctor` says about the ranges is what the library detects here;
/// where detection fails (wine's `netsh` prints nothing), the documented
/// fallback and the reason.
#[test]
fn doctor_reports_the_detected_ranges_or_the_fallback_and_why() {
    let f = Fixture::empty();
    let doc = f
        .cargo_portfor(&["doctor", "--message-format", "json"])
        .ok()
        .json();
    let human = f.cargo_portfor(&["doctor"]).ok().stdout();
    let strings = |set: &portfor_test::PortSet| -> Vec<String> {
        set.ranges().iter().map(ToString::to_string).collect()
    };
    let ranges = &doc["ranges"];
    let (expected, first_line) = match portfor_test::system_port_ranges() {
        Ok(detected) => {
            assert!(ranges["detection_error"].is_null(), "{doc}");
            let line = format!("ranges read from:  {}\n", detected.source());
            (detected, line)
        }
        Err(error) => {
            assert_eq!(ranges["detection_error"], error.to_string(), "{doc}");
            let line = format!("ranges read from:  fallback (detection failed: {error})\n");
            (portfor_test::SystemPortRanges::fallback(), line)
        }
    };
    assert_eq!(ranges["source"], expected.source(), "{doc}");
    assert_eq!(ranges["ephemeral"], json!(strings(expected.ephemeral())));
    assert_eq!(ranges["reserved"], json!(strings(expected.reserved())));
    assert!(human.starts_with(&first_line), "{human}");
    if expected.source() == "fallback" {
        assert_eq!(ranges["ephemeral"], json!(["32768-65535"]));
        assert!(
            human.contains("\nephemeral ports:   32768-65535\n"),
            "{human}"
        );
        assert!(human.contains("\nreserved ports:    none\n"), "{human}");
    }
}

/// `doctor` with `/proc/sys/net/ipv4` changed by the shell commands `setup`
/// in a private mount namespace; None when skipped (see
/// `library::netns_available`).
fn doctor_in_mount_namespace(f: &Fixture, setup: &str) -> Option<Value> {
    if !common::library::netns_available() {
        return None;
    }
    let script = format!("set -e; {setup}; exec \"$0\" \"$@\"");
    let exe = env!("CARGO_BIN_EXE_cargo-portfor");
    let args = ["-rm", "sh", "-c", &script, exe, "portfor", "doctor"];
    let mut json_args = args.to_vec();
    json_args.extend(["--message-format", "json"]);
    let json = Run::of(f.other("unshare", &json_args)).ok().json();
    let human = Run::of(f.other("unshare", &args)).ok().stdout();
    let error = json["ranges"]["detection_error"].as_str().unwrap();
    assert!(
        human.starts_with(&format!(
            "ranges read from:  fallback (detection failed: {error})\n"
        )),
        "{human}"
    );
    assert!(
        human.contains("\nephemeral ports:   32768-65535\n"),
        "{human}"
    );
    Some(json)
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "hides /proc/sys/net/ipv4 in a Linux mount namespace (unshare -rm)"
)]
fn doctor_reports_the_fallback_when_the_ranges_are_missing_or_garbled() {
    let f = Fixture::empty();
    let missing = "mount -t tmpfs none /proc/sys/net/ipv4";
    let garbled = "f=$(mktemp); echo 'not a port range' > \"$f\"; \
                   mount --bind \"$f\" /proc/sys/net/ipv4/ip_local_port_range; rm \"$f\"";
    let cases = [
        (
            missing,
            "failed to read /proc/sys/net/ipv4/ip_local_port_range",
        ),
        (
            garbled,
            "failed to parse /proc/sys/net/ipv4/ip_local_port_range: \
             ip_local_port_range: expected two numbers, found \"not a port range\"",
        ),
    ];
    for (setup, expected) in cases {
        let Some(doc) = doctor_in_mount_namespace(&f, setup) else {
            return;
        };
        let ranges = &doc["ranges"];
        assert_eq!(ranges["source"], "fallback", "{doc}");
        let error = ranges["detection_error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{error}");
        assert_eq!(ranges["ephemeral"], json!(["32768-65535"]));
        assert_eq!(ranges["reserved"], json!([]));
        assert!(doc["candidates"]["ports"].as_u64().unwrap() > 1000, "{doc}");
    }
}

#[test]
fn works_as_a_cargo_subcommand() {
    let f = Fixture::workspace("shop");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_cargo-portfor"))
        .parent()
        .unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = f.other(
        &cargo,
        &["portfor", "list", "-p", "web", "--message-format", "json"],
    );
    command.env("PATH", path);
    let doc = Run::of(command).ok().json();
    assert_eq!(doc["packages"][0]["name"], "web");
    // Run directly, the `portfor` word may be left out.
    let mut direct = f.other(
        env!("CARGO_BIN_EXE_cargo-portfor"),
        &["doctor", "--message-format", "json"],
    );
    direct.current_dir(&f.root);
    assert_eq!(Run::of(direct).ok().json()["command"], "doctor");
}

/// `cargo portfor <args>` in a PID namespace of its own, with its own
/// `/proc`: it sees the host's sockets but none of its processes.
#[cfg(target_os = "linux")]
fn in_own_pid_namespace(f: &Fixture, args: &[&str]) -> Run {
    let mut full = vec![
        "-r",
        "-p",
        "-f",
        "--mount-proc",
        env!("CARGO_BIN_EXE_cargo-portfor"),
        "portfor",
    ];
    full.extend_from_slice(args);
    Run::of(f.other("unshare", &full))
}

/// A listener whose process `check` cannot see (here: `check` runs in a
/// private PID namespace, `unshare -r -p -f --mount-proc`, which shares the
/// network but shows none of this test's processes, as another user's are
/// hidden) is not judged against the declared process: a warning, not a
/// problem.
#[cfg(target_os = "linux")]
#[test]
fn check_warns_about_a_listener_it_cannot_see() {
    if !common::netns_available() {
        return;
    }
    let f = Fixture::workspace("shop");
    let db = f.bind("db", "web");
    let _listener = TcpListener::bind(("127.0.0.1", db)).unwrap();
    let hidden = in_own_pid_namespace(&f, &["check", "-p", "web"]);
    assert_eq!(hidden.ok().stdout(), "no problems found\n");
    hidden.error_line(
        "warning: ",
        &format!(
            "web `db`: port {db} is listening (process not visible to this user), so it was not checked against `postgres`"
        ),
    );
    // `list` shows it in yellow: who listens cannot be told.
    let list = in_own_pid_namespace(&f, &["list", "-p", "web", "--color", "always"]);
    let out = list.ok().stdout();
    assert!(
        out.contains("\x1b[33mlistening (process not visible to this user)\x1b[0m"),
        "{out}"
    );
    // Seen, the process is this test, not postgres: a problem.
    let seen = f.cargo_portfor(&["check", "-p", "web"]);
    assert!(
        seen.code(1)
            .stdout()
            .contains("not by the expected process `postgres`"),
        "{}",
        seen.stdout()
    );
}
