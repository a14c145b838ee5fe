//! `cargo portfor doctor`: what portfor sees on this machine.

use std::path::PathBuf;

use portfor_test::{
    Builder, PortSet, Store, SystemPortRanges, claim_dir, ipv6_available, system_port_ranges,
};
use serde_json::{Value, json};

use super::Context;
use crate::error::CliResult;
use crate::exit;

/// What doctor reports, gathered once for either output.
struct Findings {
    ranges: SystemPortRanges,
    detection_error: Option<String>,
    candidates: Result<PortSet, String>,
    ipv6: bool,
    store: Store,
    stored: Result<usize, String>,
    system: Store,
    claims: PathBuf,
    /// Claims over the candidate ports, where portfor makes them.
    live_claims: Option<usize>,
}

fn gather(ctx: &Context<'_>) -> CliResult<Findings> {
    let (ranges, detection_error) = match system_port_ranges() {
        Ok(ranges) => (ranges, None),
        Err(e) => (SystemPortRanges::fallback(), Some(e.to_string())),
    };
    let candidates = Builder::new().candidates().map_err(|e| e.to_string());
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
    let store = ctx.store()?;
    Ok(Findings {
        ranges,
        detection_error,
        candidates,
        ipv6: ipv6_available(),
        stored: store.list().map(|l| l.len()).map_err(|e| e.to_string()),
        store,
        system: Store::system(),
        claims: claim_dir(),
        live_claims,
    })
}

fn as_json(found: &Findings) -> Value {
    let ranges =
        |set: &PortSet| -> Vec<String> { set.ranges().iter().map(ToString::to_string).collect() };
    json!({
        "ranges": {
            "source": found.ranges.source(),
            "detection_error": found.detection_error,
            "ephemeral": ranges(found.ranges.ephemeral()),
            "reserved": ranges(found.ranges.reserved()),
        },
        "candidates": match &found.candidates {
            Ok(set) => json!({ "ports": set.len(), "ranges": set.ranges().len() }),
            Err(e) => json!({ "ports": 0, "ranges": 0, "error": e }),
        },
        "ipv6": found.ipv6,
        "store": {
            "path": found.store.path(),
            "exists": found.store.path().exists(),
            "names": found.stored.as_ref().ok(),
        },
        "system_store": { "path": found.system.path(), "exists": found.system.path().exists() },
        "claim_dir": found.claims,
        "live_claims": found.live_claims,
    })
}

fn as_lines(found: &Findings) -> Vec<String> {
    let none = |s: String| if s.is_empty() { "none".to_owned() } else { s };
    let failed = found
        .detection_error
        .as_ref()
        .map(|e| format!(" (detection failed: {e})"))
        .unwrap_or_default();
    let candidates = match &found.candidates {
        Ok(set) => format!("{} in {} ranges", set.len(), set.ranges().len()),
        Err(e) => format!("none: {e}"),
    };
    let stored = match &found.stored {
        Ok(0) if !found.store.path().exists() => "not created yet".to_owned(),
        Ok(n) => format!("{n} names"),
        Err(e) => format!("unreadable: {e}"),
    };
    let system = match found.system.path().exists() {
        true => "exists",
        false => "not created",
    };
    vec![
        format!("ranges read from:  {}{failed}", found.ranges.source()),
        format!(
            "ephemeral ports:   {}",
            none(found.ranges.ephemeral().to_string())
        ),
        format!(
            "reserved ports:    {}",
            none(found.ranges.reserved().to_string())
        ),
        format!("candidate ports:   {candidates}"),
        format!(
            "IPv6:              {}",
            if found.ipv6 {
                "available"
            } else {
                "not available"
            }
        ),
        format!(
            "store:             {} ({stored})",
            found.store.path().display()
        ),
        format!(
            "system store:      {} ({system})",
            found.system.path().display()
        ),
        format!("claim directory:   {}", found.claims.display()),
        format!(
            "live claims:       {}",
            found
                .live_claims
                .map_or("unknown".to_owned(), |n| n.to_string())
        ),
    ]
}

pub(crate) fn run(ctx: &mut Context<'_>) -> CliResult<i32> {
    let found = gather(ctx)?;
    if ctx.out.json {
        ctx.out.document("doctor", as_json(&found))?;
    } else {
        for line in as_lines(&found) {
            ctx.out.line(&line)?;
        }
    }
    Ok(exit::SUCCESS)
}
