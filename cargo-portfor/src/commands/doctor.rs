//! `cargo portfor doctor`: what portfor sees on this machine.

use portfor_test::{
    Builder, Store, SystemPortRanges, claim_dir, ipv6_available, system_port_ranges,
};
use serde_json::json;

use super::Context;
use crate::error::CliResult;
use crate::exit;

pub(crate) fn run(ctx: &mut Context<'_>) -> CliResult<i32> {
    let (ranges, detection_error) = match system_port_ranges() {
        Ok(ranges) => (ranges, None),
        Err(e) => (SystemPortRanges::fallback(), Some(e.to_string())),
    };
    let candidates = Builder::new().candidates();
    let store = ctx.store()?;
    let stored = store.list().map(|l| l.len());
    let system = Store::system();
    let claims = claim_dir();
    // Claims are counted over the candidate ports, where portfor makes them.
    let live_claims = match &candidates {
        Ok(set) => {
            let builder = Builder::new();
            let mut count = 0;
            for port in set.iter() {
                if builder.is_claimed(port)? {
                    count += 1;
                }
            }
            Some(count)
        }
        Err(_) => None,
    };
    let ipv6 = ipv6_available();

    if ctx.out.json {
        ctx.out.document(
            "doctor",
            json!({
                "ranges": {
                    "source": ranges.source(),
                    "detection_error": detection_error,
                    "ephemeral": ranges.ephemeral().ranges().iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "reserved": ranges.reserved().ranges().iter().map(ToString::to_string).collect::<Vec<_>>(),
                },
                "candidates": match &candidates {
                    Ok(set) => json!({ "ports": set.len(), "ranges": set.ranges().len() }),
                    Err(e) => json!({ "ports": 0, "ranges": 0, "error": e.to_string() }),
                },
                "ipv6": ipv6,
                "store": { "path": store.path(), "exists": store.path().exists(), "names": stored.as_ref().ok() },
                "system_store": { "path": system.path(), "exists": system.path().exists() },
                "claim_dir": claims,
                "live_claims": live_claims,
            }),
        )?;
        return Ok(exit::SUCCESS);
    }
    let none = |s: String| if s.is_empty() { "none".to_owned() } else { s };
    let lines = [
        format!(
            "ranges read from:  {}{}",
            ranges.source(),
            detection_error
                .map(|e| format!(" (detection failed: {e})"))
                .unwrap_or_default()
        ),
        format!(
            "ephemeral ports:   {}",
            none(ranges.ephemeral().to_string())
        ),
        format!("reserved ports:    {}", none(ranges.reserved().to_string())),
        match &candidates {
            Ok(set) => format!(
                "candidate ports:   {} in {} ranges",
                set.len(),
                set.ranges().len()
            ),
            Err(e) => format!("candidate ports:   none: {e}"),
        },
        format!(
            "IPv6:              {}",
            if ipv6 { "available" } else { "not available" }
        ),
        format!(
            "store:             {} ({})",
            store.path().display(),
            match &stored {
                Ok(0) if !store.path().exists() => "not created yet".to_owned(),
                Ok(n) => format!("{n} names"),
                Err(e) => format!("unreadable: {e}"),
            }
        ),
        format!(
            "system store:      {} ({})",
            system.path().display(),
            if system.path().exists() {
                "exists"
            } else {
                "not created"
            }
        ),
        format!("claim directory:   {}", claims.display()),
        format!(
            "live claims:       {}",
            live_claims.map_or("unknown".to_owned(), |n| n.to_string())
        ),
    ];
    for line in lines {
        ctx.out.line(&line)?;
    }
    Ok(exit::SUCCESS)
}
