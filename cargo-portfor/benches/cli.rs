//! Whole-process medians of the two binaries against their peers, measured
//! in interleaved rounds of one run:
//!
//! - `port-for --list` against the Python port-for 1.1.1's `port-for
//!   --list` on the same store file (needs `PORTFOR_PYTHON`, a Python with
//!   port-for 1.1.1, as `.ci/run` makes; its command line hard-codes
//!   `/etc/port-for.conf`, so it runs as `python -c` calling its `main()`
//!   with the store pointed at the benchmark's file: the same imports and
//!   code as its console script);
//! - `cargo portfor list --workspace` against `cargo metadata --no-deps
//!   --format-version 1` on the same workspace (a copy of
//!   `data/fixtures/shop` with its ports bound), both run through `cargo` as
//!   users type them, in the workspace's directory, with the built
//!   `cargo-portfor` first on `PATH`; and the `cargo-portfor` binary alone,
//!   for the share of cargo's own start-up.
//!
//! Run with `cargo bench -p cargo-portfor`.

#![allow(missing_docs, clippy::print_stdout)]

// The tests' fixtures: a copy of data/fixtures and temporary stores.
#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};

use common::Fixture;
use std::time::{Duration, Instant};

fn time(command: &mut Command) -> Duration {
    let start = Instant::now();
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("failed to start");
    let elapsed = start.elapsed();
    assert!(status.success(), "{command:?} failed");
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Medians of `commands`, run in turns, `runs` times each after a warm-up.
fn interleaved(runs: usize, commands: &mut [&mut Command]) -> Vec<Duration> {
    for command in commands.iter_mut() {
        time(command);
    }
    let mut samples = vec![Vec::new(); commands.len()];
    for _ in 0..runs {
        for (command, samples) in commands.iter_mut().zip(&mut samples) {
            samples.push(time(command));
        }
    }
    samples.into_iter().map(median).collect()
}

fn ms(d: Duration) -> String {
    format!("{:>8.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 2 } else { 30 };
    let f = Fixture::workspace("shop");
    let command = |program: &str, args: &[&str]| f.other(program, args);

    // A store of 20 names, written by port-for itself.
    let port_for = env!("CARGO_BIN_EXE_port-for");
    for i in 0..20 {
        time(&mut command(port_for, &[&format!("app{i}")]));
    }
    println!("port-for --list, 20 names (median of {runs} whole runs each, interleaved)");
    let mut ours = command(port_for, &["--list"]);
    match std::env::var_os("PORTFOR_PYTHON") {
        Some(python) => {
            let script = "import sys, port_for.cmd as cmd\n\
                          from port_for import PortStore\n\
                          path = sys.argv.pop(1)\n\
                          cmd.PortStore = lambda: PortStore(path)\n\
                          cmd.main()\n";
            let store = f.system_store();
            let mut theirs = Command::new(python);
            theirs.args(["-c", script]).arg(&store).arg("--list");
            let m = interleaved(runs, &mut [&mut ours, &mut theirs]);
            println!("  {:<48} {}", "port-for --list (portfor)", ms(m[0]));
            println!(
                "  {:<48} {}",
                "port-for --list (Python port-for 1.1.1)",
                ms(m[1])
            );
            println!(
                "  {:<48} {:>8.1}x    (target: >= 10x)",
                "speed-up",
                m[1].as_secs_f64() / m[0].as_secs_f64()
            );
        }
        None => {
            let m = interleaved(runs, &mut [&mut ours]);
            println!("  {:<48} {}", "port-for --list (portfor)", ms(m[0]));
            println!("  (set PORTFOR_PYTHON to a Python with port-for 1.1.1 to measure it too)");
        }
    }

    cargo_portfor_list(&f, runs);
}

/// `cargo portfor list --workspace` against `cargo metadata`, through cargo.
fn cargo_portfor_list(f: &Fixture, runs: usize) {
    let cargo_portfor = env!("CARGO_BIN_EXE_cargo-portfor");
    // The shop fixture, with every declared name bound.
    time(&mut f.other(cargo_portfor, &["portfor", "env", "--workspace"]));
    // `cargo portfor` finds `cargo-portfor` on PATH, as after `cargo install`.
    let bin_dir = std::path::Path::new(cargo_portfor).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir.to_owned()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let typed = |args: &[&str]| {
        let mut command = f.other("cargo", args);
        command.env("PATH", &path).env_remove("CARGO");
        command
    };
    println!(
        "cargo portfor list on a 3-package workspace, through cargo (median of {runs} whole runs each, interleaved)"
    );
    let m = interleaved(
        runs,
        &mut [
            &mut typed(&["portfor", "list", "--workspace"]),
            &mut typed(&["metadata", "--no-deps", "--format-version", "1"]),
            &mut f.other(cargo_portfor, &["portfor", "list", "--workspace"]),
        ],
    );
    println!("  {:<48} {}", "cargo portfor list --workspace", ms(m[0]));
    println!(
        "  {:<48} {}",
        "cargo metadata --no-deps --format-version 1",
        ms(m[1])
    );
    println!(
        "  {:<48} {:>8.2}x    (target: <= 1.3x)",
        "ratio",
        m[0].as_secs_f64() / m[1].as_secs_f64()
    );
    println!(
        "  {:<48} {}    ({:.2}x cargo metadata)",
        "the binary alone (cargo-portfor portfor list)",
        ms(m[2]),
        m[2].as_secs_f64() / m[1].as_secs_f64()
    );
}
