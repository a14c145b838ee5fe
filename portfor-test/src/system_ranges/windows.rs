//! Windows: the dynamic port range and the excluded port ranges, from `netsh`.

use super::{SystemPortRanges, parse, parse_error, run};
use crate::error::Result;

pub(super) fn detect() -> Result<SystemPortRanges> {
    let dynamic = run("netsh", &["int", "ipv4", "show", "dynamicport", "tcp"])?;
    let dynamic =
        parse::windows_dynamic_port(&dynamic).map_err(|e| parse_error("netsh output", e))?;
    let excluded = run(
        "netsh",
        &["int", "ipv4", "show", "excludedportrange", "protocol=tcp"],
    )?;
    let excluded =
        parse::windows_excluded_ranges(&excluded).map_err(|e| parse_error("netsh output", e))?;
    Ok(SystemPortRanges::new([dynamic], excluded, "netsh"))
}
