//! Named ports: a lookup that hits in a store of 1,000 names, and a new
//! binding (locked, synced and renamed), against port-for's `PortStore` on
//! the same file when a Python with port-for is at hand (`PORTFOR_PYTHON`,
//! as `.ci/run` sets it).
//!
//! Run with `cargo bench -p portfor-test --bench store`.

#![allow(missing_docs, clippy::print_stdout)]

mod common;

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use common::{interleaved, median, ratio, row};
use portfor_test::{Builder, NamedPorts, Store};

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, per_round) = if quick { (2, 5) } else { (20, 50) };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("ports.conf"));
    let mut builder = Builder::new();
    builder.claim_dir(dir.path().join("claims"));

    // 1,000 names, written the way port-for writes them.
    let mut text = String::from("[DEFAULT]\n");
    let candidates = builder.candidates().unwrap();
    let named = NamedPorts::package("bench", "/src/bench")
        .store(store.clone())
        .builder(builder.clone());
    for (i, port) in candidates.iter().step_by(15).take(1000).enumerate() {
        let name = if i == 500 {
            named.key("db")
        } else {
            format!("app{i}")
        };
        text.push_str(&format!("{name} = {port}\n"));
    }
    text.push('\n');
    std::fs::write(store.path(), &text).unwrap();
    assert_eq!(store.list().unwrap().len(), 1000);

    println!(
        "store: named-port lookup that hits, 1,000 names (median of {} calls)",
        rounds * per_round
    );
    let mut lookup = || {
        black_box(named.port("db").unwrap());
    };
    let hit = interleaved(rounds, per_round, &mut [&mut lookup])[0];
    row("NamedPorts::port(\"db\") (read + parse + find)", hit);
    ratio("lookup / 100 µs", hit.as_secs_f64() / 100e-6, "< 1.0");
    if let Some(python) = python_lookup(store.path()) {
        row("port-for PortStore.bind_port(existing), Python", python);
        ratio(
            "ratio portfor / port-for",
            hit.as_secs_f64() / python.as_secs_f64(),
            "lower is faster",
        );
    } else {
        println!("  (set PORTFOR_PYTHON to a Python with port-for 1.1.1 to measure it too)");
    }

    let binds = if quick { 5 } else { 200 };
    println!(
        "store: new binding, 1,000+ names (median of {binds} binds, each locked, synced, renamed)"
    );
    let mut samples: Vec<Duration> = (0..binds)
        .map(|i| {
            let start = std::time::Instant::now();
            black_box(store.bind_with(&format!("new{i}"), None, &builder).unwrap());
            start.elapsed()
        })
        .collect();
    let bind = median(&mut samples);
    row("Store::bind(new name, None)", bind);
    ratio("bind / 2 ms", bind.as_secs_f64() / 2e-3, "< 1.0");
}

/// Median of port-for's lookup of an existing name, timed inside Python.
fn python_lookup(store: &std::path::Path) -> Option<Duration> {
    let python = std::env::var_os("PORTFOR_PYTHON")?;
    let script = "import sys, timeit, statistics\n\
                  from port_for import PortStore\n\
                  s = PortStore(sys.argv[1])\n\
                  t = timeit.repeat(lambda: s.bind_port('app1'), number=1, repeat=200)\n\
                  print(statistics.median(t))";
    let output = Command::new(python)
        .args(["-c", script])
        .arg(store)
        .output()
        .ok()?;
    let seconds: f64 = String::from_utf8(output.stdout).ok()?.trim().parse().ok()?;
    Some(Duration::from_secs_f64(seconds))
}
