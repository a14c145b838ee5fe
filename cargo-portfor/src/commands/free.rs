//! `cargo portfor free [-n N]`: free ports for shell use.
//!
//! The ports are candidates (as `free_port()` chooses them) that are free,
//! not claimed by a portfor process and not bound to a name in the store or
//! the system store when printed; nothing holds them after the command
//! exits. N is checked against the candidates first, so an impossible N
//! fails at once instead of probing the whole range.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use portfor_test::{Builder, PortSet};
use serde_json::json;

use super::Context;
use crate::error::{CliError, CliResult};
use crate::exit;

pub(crate) fn run(ctx: &mut Context<'_>, count: u16) -> CliResult<i32> {
    let builder = Builder::new();
    let candidates = builder.candidates()?;
    // Every store's names: the target store must be readable; another
    // (the system store may be another user's file) is a warning.
    let target = ctx.store()?;
    let mut named: Vec<u16> = Vec::new();
    for store in super::stores(&target) {
        match store.list() {
            Ok(entries) => named.extend(entries.into_iter().map(|(_, p)| p)),
            Err(e) if store.path() == target.path() => return Err(e.into()),
            Err(e) => ctx
                .out
                .warning(&format!("{e:#}; its names were not avoided"))?,
        }
    }
    let pool = candidates.difference(&PortSet::from_ports(named));
    let wanted = u32::from(count);
    if wanted > pool.len() {
        let bound = candidates.len() - pool.len();
        return Err(CliError::new(format!(
            "cannot find {count} free ports: there are only {} candidate ports{} \
             (see `cargo portfor doctor` for why)",
            pool.len(),
            if bound > 0 {
                format!(" not bound to a name ({bound} more are)")
            } else {
                String::new()
            }
        )));
    }
    let mut ports = Vec::with_capacity(usize::from(count));
    for index in shuffled(pool.len()) {
        let port = pool.nth(index).expect("index below the pool size");
        if !builder.is_claimed(port)? && builder.check(port)?.is_none() {
            ports.push(port);
            if ports.len() == usize::from(count) {
                break;
            }
        }
    }
    if ports.len() < usize::from(count) {
        return Err(CliError::new(format!(
            "cannot find {count} free ports: only {} of the {} candidate ports are free and \
             unclaimed now",
            ports.len(),
            pool.len()
        )));
    }
    if ctx.out.json {
        ctx.out.document("free", json!({ "ports": ports }))?;
    } else {
        for port in ports {
            ctx.out.line(&port.to_string())?;
        }
    }
    Ok(exit::SUCCESS)
}

/// `0..len` in random order (Fisher-Yates with xorshift64*, seeded by std's
/// per-process random hasher keys): parallel runs do not print the same
/// ports first.
fn shuffled(len: u32) -> Vec<u32> {
    let mut state = RandomState::new().hash_one(std::process::id()) | 1;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut indexes: Vec<u32> = (0..len).collect();
    for i in (1..indexes.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        indexes.swap(i, j);
    }
    indexes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shuffle_is_a_permutation() {
        let mut order = shuffled(1000);
        assert_ne!(order, (0..1000).collect::<Vec<u32>>());
        order.sort_unstable();
        assert_eq!(order, (0..1000).collect::<Vec<u32>>());
        assert!(shuffled(0).is_empty());
    }
}
