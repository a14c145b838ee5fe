//! Selection: one port chosen and probed, against `portpicker`, and the cost
//! of building the candidate set once per process.
//!
//! Run with `cargo bench -p portfor-test --bench selection`.

#![allow(missing_docs, clippy::print_stdout)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{interleaved, median, ratio, row};
use portfor_test::{Builder, system_port_ranges};

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once
    // quickly as a smoke test.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, per_round) = if quick { (2, 5) } else { (40, 50) };

    println!(
        "selection: one select-and-probe call (median of {} calls each, interleaved)",
        rounds * per_round
    );
    let builder = Builder::new();
    let mut portfor = || {
        black_box(builder.select().expect("portfor found no port"));
    };
    let mut portpicker = || {
        black_box(portpicker::pick_unused_port().expect("portpicker found no port"));
    };
    let medians = interleaved(rounds, per_round, &mut [&mut portfor, &mut portpicker]);
    row("portfor Builder::new().select()", medians[0]);
    row("portpicker::pick_unused_port()", medians[1]);
    ratio(
        "ratio portfor / portpicker",
        medians[0].as_secs_f64() / medians[1].as_secs_f64(),
        "<= 1.0",
    );

    println!(
        "candidate set, built once per process (median of {} builds)",
        rounds * per_round
    );
    let mut detect = Vec::new();
    let mut build = Vec::new();
    for _ in 0..rounds * per_round {
        let start = Instant::now();
        black_box(system_port_ranges().expect("no system ranges"));
        detect.push(start.elapsed());
        let start = Instant::now();
        black_box(Builder::new().candidates().expect("no candidates"));
        build.push(start.elapsed());
    }
    let (detect, build) = (median(&mut detect), median(&mut build));
    row("system_port_ranges() (read the OS ranges)", detect);
    row("Builder::candidates() (table minus ranges)", build);
    row("total", detect + build);
    ratio(
        "total / 100 µs",
        (detect + build).as_secs_f64() / 100e-6,
        "< 1.0",
    );
}
