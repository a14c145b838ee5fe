//! Runs the examples as `cargo run --example NAME` would, so that CI runs
//! them: `cargo test` and `cargo nextest run` build every example of the
//! package before they run its tests, into `examples/` beside this test
//! binary's `deps/`.
//!
//! `named_port` is not run: it binds a name in the user's real store.

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("no current_exe");
    // target/<profile>/deps/examples-<hash> -> target/<profile>/examples/
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

#[track_caller]
fn run(name: &str) {
    let path = example(name);
    assert!(
        path.exists(),
        "example {name} is not built at {}: run `cargo test --workspace` \
         (or `cargo build --examples`), which builds the examples",
        path.display()
    );
    // Claims in the machine-wide claim directory, as a user's run does: the
    // examples bind their ports, which no other test may be handed meanwhile.
    let output = Command::new(&path)
        .env_remove("PORTFOR_CLAIM_DIR")
        .output()
        .unwrap_or_else(|e| panic!("failed to run {}: {e}", path.display()));
    assert!(
        output.status.success(),
        "example {name} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn child_process() {
    run("child_process");
}

#[test]
fn http_server() {
    run("http_server");
}

#[test]
fn socket_activation() {
    run("socket_activation");
}

#[test]
fn tokio_server() {
    run("tokio_server");
}

#[test]
fn test_server() {
    run("test_server");
}

#[test]
fn select_port() {
    run("select_port");
}
