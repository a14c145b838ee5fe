//! A suite of 48 server tests under `cargo nextest`, run again and again,
//! each test taking its port from portfor, from portpicker, or from a
//! `bind(0)` dropped before the server binds: how many test runs fail
//! because two tests were handed one port.
//!
//! The suite is `data/fixtures/servers48` (its own workspace). Run with
//! `cargo bench -p portfor-test --bench suite` (100 runs of the suite per
//! source, 16 tests at a time); `cargo test --benches` runs it once per
//! source. Needs `cargo-nextest`.

#![allow(missing_docs, clippy::print_stdout)]

use std::path::Path;
use std::process::Command;

const SOURCES: [&str; 3] = ["portfor", "portpicker", "bind0"];

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 1 } else { 100 };
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/servers48");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("servers48");
    let claims = tempfile::tempdir().unwrap();
    let nextest = |source: &str, args: &[&str]| {
        Command::new(env!("CARGO"))
            .args(["nextest", "run"])
            .args(args)
            .current_dir(&suite)
            .env("CARGO_TARGET_DIR", &target)
            .env("SUITE_PORTS", source)
            .env("PORTFOR_CLAIM_DIR", claims.path())
            .output()
            .expect("cannot run cargo nextest")
    };
    let built = nextest("portfor", &["--no-run"]);
    let run = ["--no-fail-fast", "--test-threads", "16"];
    assert!(
        built.status.success(),
        "building the suite failed (is cargo-nextest installed?):\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    println!("suite: 48 server tests under cargo nextest, 16 at a time, {runs} runs per source");
    println!(
        "  {:<12} {:>10} {:>12}",
        "ports from", "test runs", "failed runs"
    );
    for source in SOURCES {
        let mut failed = 0;
        for _ in 0..runs {
            failed += failures(&nextest(source, &run));
        }
        println!("  {source:<12} {:>10} {failed:>12}", runs * 48);
    }
}

/// The failed tests of a run, from nextest's summary line
/// (`48 tests run: 47 passed, 1 failed`).
fn failures(output: &std::process::Output) -> usize {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = stderr
        .lines()
        .find(|l| l.contains("tests run:"))
        .unwrap_or_else(|| panic!("no summary from nextest:\n{stderr}"));
    summary
        .split(',')
        .find_map(|part| part.trim().strip_suffix(" failed"))
        .map_or(0, |n| n.trim().parse().unwrap())
}
