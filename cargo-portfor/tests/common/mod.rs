//! Helpers for running the real binaries against fixture workspaces copied
//! into a temporary directory, with temporary stores and claim directory.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::cell::RefCell;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use portfor_test::{Builder, Reservation, Store};

/// A temporary directory with a copy of a fixture workspace (or none), the
/// user and system stores and the claim directory inside it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    /// The ports of the user store, claimed by this test process in the
    /// machine-wide claim directory (see [`Fixture::hold_stored_ports`]).
    held: RefCell<Vec<Reservation>>,
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl Fixture {
    /// A copy of `data/fixtures/<name>`.
    pub fn workspace(name: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data/fixtures")
            .join(name);
        let root = dir.path().join(name);
        copy_dir(&source, &root);
        Fixture::new(dir, root)
    }

    fn new(dir: tempfile::TempDir, root: PathBuf) -> Fixture {
        Fixture {
            dir,
            root,
            held: RefCell::default(),
        }
    }

    /// No workspace, just the stores.
    pub fn empty() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        Fixture::new(dir, root)
    }

    pub fn user_store(&self) -> PathBuf {
        self.dir.path().join("user-ports.conf")
    }

    pub fn system_store(&self) -> PathBuf {
        self.dir.path().join("port-for.conf")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(&self.root)
            .env("PORTFOR_USER_STORE", self.user_store())
            .env("PORTFOR_SYSTEM_STORE", self.system_store())
            .env("PORTFOR_CLAIM_DIR", self.dir.path().join("claims"))
            .env_remove("CARGO_TERM_COLOR")
            .env_remove("GITHUB_ENV")
            .env_remove("NEXTEST_ENV");
        command
    }

    /// `cargo-portfor portfor <args>`.
    pub fn cargo_portfor(&self, args: &[&str]) -> Run {
        self.cargo_portfor_env(args, &[])
    }

    /// `cargo-portfor portfor <args>` with extra environment variables.
    pub fn cargo_portfor_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut full = vec!["portfor"];
        full.extend_from_slice(args);
        let mut command = self.command(env!("CARGO_BIN_EXE_cargo-portfor"), &full);
        command.envs(env.iter().copied());
        let run = Run::of(command);
        self.hold_stored_ports();
        run
    }

    /// `cargo portfor bind NAME -p PACKAGE`, which must succeed: the port.
    pub fn bind(&self, name: &str, package: &str) -> u16 {
        let run = self.cargo_portfor(&["bind", name, "-p", package]);
        run.ok().stdout().trim().parse().unwrap()
    }

    /// Claims every port of the user store that this fixture does not hold
    /// yet, in the machine-wide claim directory, for the fixture's life.
    ///
    /// `bind` claims the port it chooses only while it runs, and in the
    /// fixture's claim directory; a test that then listens on the port, or
    /// expects it free, must not find it handed to another test meanwhile.
    /// A port that cannot be claimed (in use, privileged, an unreadable
    /// store) is left alone: the test is about it.
    fn hold_stored_ports(&self) {
        let Ok(pairs) = Store::open(self.user_store()).list() else {
            return;
        };
        let mut held = self.held.borrow_mut();
        for (_, port) in pairs {
            if held.iter().any(|r| r.port() == port) {
                continue;
            }
            let mut only = Builder::new();
            only.include(port..=port).allow_ephemeral(true);
            if let Ok(reservation) = only.reserve() {
                held.push(reservation);
            }
        }
    }

    /// `cargo-portfor portfor <args>` in a private network namespace, after
    /// the shell commands `setup`; `None` when `unshare -rn` is not
    /// permitted and `PORTFOR_TEST_SKIP_NETNS=1` says to skip (printed).
    pub fn cargo_portfor_in_netns(&self, setup: &str, args: &[&str]) -> Option<Run> {
        if !netns_available() {
            return None;
        }
        let script = format!("set -e; ip link set lo up; {setup}; exec \"$0\" portfor \"$@\"");
        let mut full = vec![
            "-rn",
            "sh",
            "-c",
            &script,
            env!("CARGO_BIN_EXE_cargo-portfor"),
        ];
        full.extend_from_slice(args);
        Some(Run::of(self.command("unshare", &full)))
    }

    /// Writes the system store.
    pub fn write_system_store(&self, text: &str) {
        fs::write(self.system_store(), text).unwrap();
    }

    /// `port-for <args>`.
    pub fn port_for(&self, args: &[&str]) -> Run {
        Run::of(self.command(env!("CARGO_BIN_EXE_port-for"), args))
    }

    /// A command with this fixture's environment, for other programs.
    pub fn other(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Command {
        let mut command = self.command(program.as_ref().to_str().unwrap(), args);
        command.current_dir(&self.root);
        command
    }
}

/// A finished run: what was run, and what it did.
pub struct Run {
    pub command: String,
    pub output: Output,
}

impl Run {
    pub fn of(mut command: Command) -> Run {
        let description = format!("{command:?}");
        let output = command.output().expect("failed to start");
        Run {
            command: description,
            output,
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn dump(&self) -> String {
        format!(
            "command: {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    /// Asserts the exit code, dumping everything on failure.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(self.output.status.code(), Some(expected), "{}", self.dump());
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        self.code(0)
    }

    /// Stdout parsed as one JSON document, checked for the shape version.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        let value: serde_json::Value = serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.dump()));
        assert_eq!(value["version"], 1, "{}", self.dump());
        value
    }

    /// Asserts stderr is exactly one line starting with `prefix` and
    /// containing `text`.
    #[track_caller]
    pub fn error_line(&self, prefix: &str, text: &str) -> &Run {
        let stderr = self.stderr();
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with(prefix) && lines[0].contains(text),
            "expected one `{prefix}` line with {text:?}\n{}",
            self.dump()
        );
        self
    }

    /// Asserts stderr starts with `error: ` and contains `text`.
    #[track_caller]
    pub fn error(&self, text: &str) -> &Run {
        let stderr = self.stderr();
        assert!(
            stderr.starts_with("error: ") && stderr.contains(text),
            "expected `error: ...{text}...`\n{}",
            self.dump()
        );
        assert!(!stderr.contains("panicked"), "{}", self.dump());
        self
    }
}

/// Whether `unshare -rn` works here. When it does not and
/// `PORTFOR_TEST_SKIP_NETNS=1` is set, prints why and returns false; when it
/// does not and the variable is unset, panics with the reason.
pub fn netns_available() -> bool {
    let probe = Command::new("unshare").args(["-rn", "true"]).output();
    let failure = match probe {
        Ok(output) if output.status.success() => return true,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(e) => format!("cannot run unshare: {e}"),
    };
    if std::env::var("PORTFOR_TEST_SKIP_NETNS").is_ok_and(|v| v == "1") {
        eprintln!("skipped: unshare -rn is not permitted here ({failure})");
        return false;
    }
    panic!(
        "this test needs a private network namespace, and `unshare -rn true` failed: \
         {failure}; set PORTFOR_TEST_SKIP_NETNS=1 to skip it"
    );
}

/// Whether this process runs as root.
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// The library tests' helpers: the real port-for and private namespaces.
#[path = "../../../portfor-test/tests/common/mod.rs"]
pub mod library;
#[allow(unused_imports)]
pub use library::python::port_for_python;
