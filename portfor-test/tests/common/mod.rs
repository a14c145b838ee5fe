//! Helpers shared by the integration tests: re-running this test binary as a
//! child process, in a private network namespace or as another user.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::process::{Command, Output};

/// Set in a child to the name of the test it should run for real.
const CHILD_ENV: &str = "PORTFOR_TEST_CHILD";

/// Set to `1` to skip the namespace tests where `unshare -rmn` is not
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

/// Whether `unshare -rmn` works here (private user, mount and network
/// namespaces). When it does not and `PORTFOR_TEST_SKIP_NETNS=1` is set,
/// returns false so the caller can skip; when it does not and the variable
/// is unset, panics with the reason.
pub fn netns_available() -> bool {
    let probe = Command::new("unshare").args(["-rmn", "true"]).output();
    let failure = match probe {
        Ok(output) if output.status.success() => return true,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(e) => format!("cannot run unshare: {e}"),
    };
    if std::env::var(SKIP_NETNS_ENV).is_ok_and(|v| v == "1") {
        eprintln!("skipped: unshare -rmn is not permitted here ({failure})");
        return false;
    }
    panic!(
        "this test needs private namespaces, and `unshare -rmn true` failed: \
         {failure}; set {SKIP_NETNS_ENV}=1 to skip it"
    );
}

/// Runs `test` again in a private network namespace (own loopback, own
/// `ip_local_port_range`) and mount namespace (so `setup` may mount over
/// files) after the shell commands `setup`, and asserts that it passed.
/// Returns false when skipped (see [`netns_available`]).
#[track_caller]
pub fn run_in_netns(test: &str, setup: &str) -> bool {
    if !netns_available() {
        return false;
    }
    let script = format!("set -e; ip link set lo up; {setup}; exec \"$0\" \"$@\"");
    assert_child_passed(child_command(
        test,
        &["unshare", "-rmn", "sh", "-c", &script],
    ));
    true
}

/// A wrapper running a command as uid and gid 65534 (`nobody`) with no
/// supplementary groups: another user of the machine.
pub const AS_NOBODY: &[&str] = &[
    "setpriv",
    "--reuid",
    "65534",
    "--regid",
    "65534",
    "--clear-groups",
];

/// Set in children to the instant (milliseconds since the Unix epoch) at
/// which they should all act: see [`start_at`] and [`wait_for_start`].
pub const START_AT_ENV: &str = "PORTFOR_TEST_START_AT";

/// Milliseconds since the Unix epoch.
pub fn millis_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The value of [`START_AT_ENV`] for children that should act together
/// `delay_ms` from now (time enough for all of them to start).
pub fn start_at(delay_ms: u64) -> String {
    (millis_now() + delay_ms).to_string()
}

/// In a child: returns at the instant [`START_AT_ENV`] names (at once when
/// unset), as exactly as the scheduler allows, so that children started one
/// after another act at one instant. Sleeps until a few milliseconds
/// before, then spins: sixteen or more children spinning the whole time
/// would starve every other test on a 2-core machine.
pub fn wait_for_start() {
    let Ok(start) = std::env::var(START_AT_ENV) else {
        return;
    };
    let start: u64 = start.parse().unwrap();
    let early = start.saturating_sub(5);
    while millis_now() < early {
        std::thread::sleep(std::time::Duration::from_millis(early - millis_now()));
    }
    while millis_now() < start {
        std::hint::spin_loop();
    }
}

/// Who has a TCP socket on `port`, for failure messages: read from `/proc`
/// on Linux; elsewhere nothing is found.
pub fn tcp_sockets_on(port: u16) -> String {
    let sockets = portfor_test::proc_sockets(portfor_test::Protocol::Tcp).unwrap_or_default();
    let owners = portfor_test::socket_owners().unwrap_or_default();
    let found: Vec<String> = sockets
        .iter()
        .filter(|s| s.local_addr().port() == port)
        .map(|s| {
            let owner = owners.get(&s.inode()).map(|o| (o.pid(), o.name()));
            format!(
                "{} listening {} owner {owner:?}",
                s.local_addr(),
                s.is_listening()
            )
        })
        .collect();
    format!(
        "sockets on port {port}: {found:?} (this process: {})",
        std::process::id()
    )
}

pub mod at_once;
pub mod python;
#[allow(unused_imports)]
pub use python::{port_for_python, python_port_store};
