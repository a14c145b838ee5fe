//! What people and tools see: cargo's colours for `error:` and `warning:`,
//! status colours that tell the declared process from another, notes that
//! stay next to their status, the two JSON shapes of `env`, and the exit
//! codes in `--help`.

mod common;

use std::fs;
use std::net::TcpListener;

use common::{Fixture, Run};
use serde_json::Value;

const ERROR: &str = "\x1b[1m\x1b[31merror\x1b[0m\x1b[1m:\x1b[0m ";
const WARNING: &str = "\x1b[1m\x1b[33mwarning\x1b[0m\x1b[1m:\x1b[0m ";

#[test]
fn errors_are_bold_red_when_colour_is_asked_for() {
    let f = Fixture::workspace("shop");
    let bad = ["list", "-p", "nosuch"];
    let with = |extra: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = bad.iter().chain(extra).copied().collect();
        f.cargo_portfor_env(&args, env).code(2).stderr()
    };
    assert!(with(&["--color", "always"], &[]).starts_with(ERROR));
    assert!(with(&[], &[("CARGO_TERM_COLOR", "always")]).starts_with(ERROR));
    // The flag beats the environment, and NO_COLOR does not beat the flag.
    assert!(with(&["--color", "never"], &[("CARGO_TERM_COLOR", "always")]).starts_with("error: "));
    assert!(with(&["--color=always"], &[("NO_COLOR", "1")]).starts_with(ERROR));
    // Not a terminal: no colour by default.
    assert!(with(&[], &[]).starts_with("error: "));
    // Usage errors (clap's) too.
    let run = f.cargo_portfor(&["frobnicate", "--color", "always"]);
    assert!(
        run.code(2).stderr().starts_with("\x1b[1m\x1b[31merror"),
        "{:?}",
        run.stderr()
    );
}

/// Runs `cargo-portfor portfor <args>` on a pseudo-terminal (Python's `pty`,
/// which CI has), returning what the terminal showed.
fn on_a_terminal(f: &Fixture, args: &[&str], env: &[(&str, &str)]) -> String {
    let script = "import pty, sys; pty.spawn(sys.argv[1:])";
    let mut full = vec!["-c", script, env!("CARGO_BIN_EXE_cargo-portfor"), "portfor"];
    full.extend_from_slice(args);
    let python = std::env::var("PORTFOR_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut command = f.other(&python, &full);
    command.env_remove("NO_COLOR").envs(env.iter().copied());
    Run::of(command).stdout()
}

#[test]
#[cfg_attr(not(unix), ignore = "pseudo-terminals (Python's pty) are Unix only")]
fn on_a_terminal_colour_is_automatic_unless_no_color() {
    let f = Fixture::workspace("shop");
    let shown = on_a_terminal(&f, &["list", "-p", "nosuch"], &[]);
    assert!(shown.starts_with(ERROR), "{shown:?}");
    let shown = on_a_terminal(&f, &["list", "-p", "nosuch"], &[("NO_COLOR", "1")]);
    assert!(shown.starts_with("error: "), "{shown:?}");
}

#[test]
fn warnings_are_bold_yellow() {
    let f = Fixture::workspace("shop");
    // A system store that cannot be read: `bind --port` warns that its
    // names were not checked, and binds.
    fs::create_dir(f.system_store()).unwrap();
    let run = f.cargo_portfor(&[
        "bind", "http", "-p", "api", "--port", "20000", "--color", "always",
    ]);
    let stderr = run.ok().stderr();
    assert!(stderr.starts_with(WARNING), "{stderr:?}");
    assert!(stderr.contains("its names were not checked"), "{stderr:?}");
}

/// This test process's name, as `/proc/<pid>/comm` shows it.
#[cfg(target_os = "linux")]
fn own_process_name() -> String {
    fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_owned()
}

#[cfg(target_os = "linux")]
#[test]
fn status_colours_tell_the_declared_process_from_another() {
    let f = Fixture::workspace("shop");
    // web's db expects this test process; http declares none.
    let web = f.root.join("web/Cargo.toml");
    let manifest = fs::read_to_string(&web).unwrap();
    let manifest = manifest.replace("\"postgres\"", &format!("{:?}", own_process_name()));
    fs::write(&web, manifest).unwrap();
    let (db, http) = (f.bind("db", "web"), f.bind("http", "web"));
    f.cargo_portfor(&["bind", "metrics", "-p", "web"]).ok();
    let _db = TcpListener::bind(("127.0.0.1", db)).unwrap();
    let _http = TcpListener::bind(("127.0.0.1", http)).unwrap();

    let out = f
        .cargo_portfor(&["list", "-p", "web", "--color", "always"])
        .ok()
        .stdout();
    let pid = std::process::id();
    let name = own_process_name();
    let expected = format!("\x1b[32mlistening (pid {pid}, {name})\x1b[0m");
    let unexpected = format!("\x1b[31mlistening (pid {pid}, {name})\x1b[0m");
    let line = |n: &str| out.lines().find(|l| l.contains(n)).unwrap().to_owned();
    assert!(line("db ").contains(&expected), "{out}");
    assert!(line("http ").contains(&unexpected), "{out}");
    // Free is plain: nothing runs there, which is neither right nor wrong.
    assert!(line("metrics").ends_with("  free"), "{out}");
    // Held some other way (UDP only): who holds it is not known, yellow.
    let metrics: u16 = line("metrics")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let _udp = std::net::UdpSocket::bind(("127.0.0.1", metrics)).unwrap();
    let out = f
        .cargo_portfor(&["list", "-p", "web", "--color", "always"])
        .ok()
        .stdout();
    let metrics_line = out.lines().find(|l| l.contains("metrics")).unwrap();
    assert!(metrics_line.ends_with("\x1b[33min use\x1b[0m"), "{out}");

    // The same facts for tools, in JSON.
    let doc = f
        .cargo_portfor(&["list", "-p", "web", "--message-format", "json"])
        .ok()
        .json();
    let ports = doc["packages"][0]["ports"].as_array().unwrap();
    let db_entry = ports.iter().find(|p| p["name"] == "db").unwrap();
    assert_eq!(db_entry["expected_process"], name.as_str());
    assert_eq!(db_entry["status"]["process"], name.as_str());
}

#[test]
fn notes_stay_next_to_their_status() {
    let f = Fixture::workspace("shop");
    let http = f.bind("http", "api");
    // A name only in the store gets a note; a listener a long status.
    let extra = f
        .cargo_portfor(&["bind", "extra", "-p", "api"])
        .ok()
        .stdout()
        .trim()
        .to_owned();
    let _listener = TcpListener::bind(("127.0.0.1", http)).unwrap();
    let out = f.cargo_portfor(&["list", "-p", "api"]).ok().stdout();
    let extra_line = out.lines().find(|l| l.contains("extra")).unwrap();
    assert_eq!(
        extra_line,
        format!("    extra    {extra}  free  (not declared in Cargo.toml)"),
        "{out}"
    );
}

#[test]
fn env_has_two_json_shapes_documented_side_by_side() {
    let f = Fixture::workspace("shop");
    let help = f.cargo_portfor(&["env", "--help"]).ok().stdout();
    for documented in [
        "--format json            one flat object of variables",
        "--message-format json    the versioned document every subcommand prints",
        "With both, --message-format json wins.",
    ] {
        assert!(
            help.contains(documented),
            "{documented:?} missing from:\n{help}"
        );
    }
    let flat: Value = serde_json::from_str(
        &f.cargo_portfor(&["env", "-p", "web", "--format", "json"])
            .ok()
            .stdout(),
    )
    .unwrap();
    assert!(flat["SHOP_WEB_DB"].is_string(), "{flat}");
    assert!(flat.get("version").is_none(), "{flat}");
    let doc = f
        .cargo_portfor(&["env", "-p", "web", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(doc["variables"], flat);
    let both = f
        .cargo_portfor(&[
            "env",
            "-p",
            "web",
            "--format",
            "json",
            "--message-format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(both, doc);
}

#[test]
fn help_documents_the_exit_codes() {
    let f = Fixture::empty();
    let help = f.cargo_portfor(&["--help"]).ok().stdout();
    for line in [
        "0  success (`why`: the port is usable)",
        "1  `check` found problems; `why`: the port is not usable",
        "2  error (bad usage, bad input, or a failed operation)",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
    assert_eq!(cargo_portfor::exit::PROBLEMS, 1);
    assert_eq!(cargo_portfor::exit::NOT_USABLE, 1);
    assert_eq!(cargo_portfor::exit::ERROR, 2);
    // A subcommand's own help reaches its own flags only.
    let free = f.cargo_portfor(&["free", "--help"]).ok().stdout();
    assert!(!free.contains("--package"), "{free}");
}
