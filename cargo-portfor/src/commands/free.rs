//! `cargo portfor free [-n N]`: free ports for shell use.
//!
//! The ports are free when printed; nothing holds them after the command
//! exits (a claim lasts as long as its process).

use portfor_test::Builder;
use serde_json::json;

use super::Context;
use crate::error::CliResult;
use crate::exit;

pub(crate) fn run(ctx: &mut Context<'_>, count: u16) -> CliResult<i32> {
    let mut builder = Builder::new();
    let mut ports = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let port = builder.select()?;
        builder.exclude_ports([port]);
        ports.push(port);
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
