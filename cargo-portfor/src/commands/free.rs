//! `cargo portfor free [-n N]`: free ports for shell use.
//!
//! The ports are candidates (as `free_port()` chooses them) that are free,
//! not claimed by a portfor process and not bound to a name in the store or
//! the system store when printed; nothing holds them after the command
//! exits. N is checked against the candidates first, so an impossible N
//! fails at once instead of probing the whole range.

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
    let pool = candidates.difference(&PortSet::from_ports(named.iter().copied()));
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
    // The library's search: every candidate once, in random order, claimed
    // and named ones skipped without a probe. The claims last until this
    // command exits, so that parallel runs print different ports.
    let mut builder = builder;
    builder.exclude_ports(named);
    let mut ports = Vec::with_capacity(usize::from(count));
    while ports.len() < usize::from(count) {
        match builder.reserve() {
            Ok(reservation) => ports.push(reservation.keep()),
            Err(e) if e.is_exhausted() => {
                return Err(CliError::new(format!(
                    "cannot find {count} free ports: only {} of the {} candidate ports are free \
                     and unclaimed now",
                    ports.len(),
                    pool.len()
                )));
            }
            Err(e) => return Err(e.into()),
        }
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
