//! Helpers shared by the integration tests: re-running this test binary as a
//! child process, in a private network namespace or as another user.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::process::{Command, Output};

/// Set in a child to the name of the test it should run for real.
const CHILD_ENV: &str = "PORTFOR_TEST_CHILD";

/// Set to `1` to skip the network-namespace tests where `unshare -rn` is not
/// permitted (they fail otherwise, saying so).
pub const SKIP_NETNS_ENV: &str = "PORTFOR_TEST_SKIP_NETNS";

/// Whether this process is the child started for `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
}

/// This test binary, asked to run exactly `test` with output shown, in a
/// child marked by [`is_child`]; `wrapper` (e.g. `unshare -rn ...`) runs it.
pub fn child_command(test: &str, wrapper: &[&str]) -> Command {
    let exe = std::env::current_exe().expect("no current_exe");
    let mut command = Command::new(
        wrapper
            .first()
            .copied()
            .unwrap_or_else(|| exe.to_str().unwrap()),
    );
    if !wrapper.is_empty() {
        command.args(&wrapper[1..]).arg(&exe);
    }
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, test);
    command
}

/// Runs `command` and panics with everything it printed unless it succeeded
/// and ran exactly one test.
#[track_caller]
pub fn assert_child_passed(mut command: Command) -> Output {
    let output = command.output().expect("failed to start the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ran_one = stdout.contains("1 passed");
    if !output.status.success() || !ran_one {
        panic!(
            "child failed: {command:?}\nstatus: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            output.status
        );
    }
    output
}

/// Whether `unshare -rn` works here. When it does not and
/// `PORTFOR_TEST_SKIP_NETNS=1` is set, returns false so the caller can skip;
/// when it does not and the variable is unset, panics with the reason.
pub fn netns_available() -> bool {
    let probe = Command::new("unshare").args(["-rn", "true"]).output();
    let failure = match probe {
        Ok(output) if output.status.success() => return true,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(e) => format!("cannot run unshare: {e}"),
    };
    if std::env::var(SKIP_NETNS_ENV).is_ok_and(|v| v == "1") {
        eprintln!("skipped: unshare -rn is not permitted here ({failure})");
        return false;
    }
    panic!(
        "this test needs a private network namespace, and `unshare -rn true` failed: \
         {failure}; set {SKIP_NETNS_ENV}=1 to skip it"
    );
}

/// Runs `test` again in a private network namespace (own loopback, own
/// `ip_local_port_range`) after the shell commands `setup`, and asserts that
/// it passed. Returns false when skipped (see [`netns_available`]).
#[track_caller]
pub fn run_in_netns(test: &str, setup: &str) -> bool {
    if !netns_available() {
        return false;
    }
    let script = format!("set -e; ip link set lo up; {setup}; exec \"$0\" \"$@\"");
    assert_child_passed(child_command(
        test,
        &["unshare", "-rn", "sh", "-c", &script],
    ));
    true
}

/// Set to a Python interpreter that has `port-for==1.1.1` installed; `.ci/run`
/// sets it. Without it the tests make a virtual environment in the target
/// directory once (Python 3 with pip and access to PyPI needed).
pub const PYTHON_ENV: &str = "PORTFOR_PYTHON";

/// The Python interpreter with the real port-for 1.1.1.
pub fn port_for_python() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(python) = std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("port-for-1.1.1-venv");
    let python = venv.join(if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    });
    let ready = venv.join("ready");
    if ready.exists() {
        return python;
    }
    // One test process makes it; the others wait on the lock.
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    if !ready.exists() {
        let run = |program: &std::path::Path, args: &[&str]| {
            let output = Command::new(program).args(args).output();
            match output {
                Ok(o) if o.status.success() => {}
                other => panic!(
                    "cannot set up port-for 1.1.1 ({program:?} {args:?}: {other:?}); \
                     set {PYTHON_ENV} to a Python that has it, as .ci/run does"
                ),
            }
        };
        run("python3".as_ref(), &["-m", "venv", venv.to_str().unwrap()]);
        run(
            &python,
            &["-m", "pip", "install", "--quiet", "port-for==1.1.1"],
        );
        std::fs::write(&ready, "").unwrap();
    }
    python
}

/// Runs `script` with the real port-for's `PortStore` on `store`; `args`
/// follow the store path in `sys.argv`. Returns stdout; panics on failure.
#[track_caller]
pub fn python_port_store(store: &std::path::Path, script: &str, args: &[&str]) -> String {
    let program = format!(
        "import sys, json\nfrom port_for import PortStore\nstore = PortStore(sys.argv[1])\n{script}\n"
    );
    let output = Command::new(port_for_python())
        .arg("-c")
        .arg(program)
        .arg(store)
        .args(args)
        .output()
        .expect("failed to run python");
    assert!(
        output.status.success(),
        "python failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
