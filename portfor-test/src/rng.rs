//! A small per-thread random number generator for candidate order.
//!
//! Not cryptographic, and it needs not be: it only has to differ between
//! processes started at the same instant, so that parallel test processes do
//! not all try the same ports first (pravega#1383: every process scanning from
//! one base picks the same ports). Seeded from std's per-process random
//! `RandomState` keys, the process id, the thread and the clock.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::SystemTime;

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    std::process::id().hash(&mut hasher);
    std::thread::current().id().hash(&mut hasher);
    SystemTime::now().hash(&mut hasher);
    hasher.finish()
}

/// SplitMix64: one add and a few multiplies per number, full 2^64 period.
fn next_u64() -> u64 {
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// A uniform number in `0..bound` (`bound > 0`). The multiply-shift bias is
/// below 2^-32 for the bounds used here (at most 65,536).
pub(crate) fn below(bound: u32) -> u32 {
    debug_assert!(bound > 0);
    (((next_u64() >> 32) * u64::from(bound)) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_bounds_and_covers_them() {
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let n = below(7);
            assert!(n < 7);
            seen[n as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
        assert_eq!(below(1), 0);
    }
}
