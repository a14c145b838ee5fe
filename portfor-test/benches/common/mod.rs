//! A tiny timing harness for `cargo bench`: medians of single calls, with
//! peers measured in interleaved rounds of the same run so that load on a
//! shared machine hits both sides alike.

#![allow(dead_code, clippy::print_stdout)]

use std::time::{Duration, Instant};

/// Median of `samples` (sorted in place).
pub(crate) fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Times `rounds` rounds of `per_round` single calls of each function, the
/// functions taking turns each round, and returns each one's median call.
pub(crate) fn interleaved(
    rounds: usize,
    per_round: usize,
    fns: &mut [&mut dyn FnMut()],
) -> Vec<Duration> {
    // Warm-up: caches, lazy statics, branch predictors.
    for f in fns.iter_mut() {
        for _ in 0..per_round {
            f();
        }
    }
    let mut samples = vec![Vec::with_capacity(rounds * per_round); fns.len()];
    for _ in 0..rounds {
        for (f, samples) in fns.iter_mut().zip(&mut samples) {
            for _ in 0..per_round {
                let start = Instant::now();
                f();
                samples.push(start.elapsed());
            }
        }
    }
    samples.iter_mut().map(|s| median(s)).collect()
}

/// Prints one result line.
pub(crate) fn row(label: &str, value: Duration) {
    println!("  {label:<44} {:>10.1} µs", value.as_secs_f64() * 1e6);
}

/// Prints a ratio line with its target.
pub(crate) fn ratio(label: &str, value: f64, target: &str) {
    println!("  {label:<44} {value:>10.2}    (target: {target})");
}
