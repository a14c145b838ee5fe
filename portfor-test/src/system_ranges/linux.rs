//! Linux: the per-network-namespace sysctls under `/proc/sys/net/ipv4`.

use std::fs;
use std::path::Path;

use super::{SystemPortRanges, parse, parse_error};
use crate::error::{Error, Result};

const PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
const RESERVED: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";

fn read(path: &str) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io_at("failed to read", Path::new(path), e))
}

pub(super) fn detect() -> Result<SystemPortRanges> {
    let ephemeral =
        parse::linux_port_range(&read(PORT_RANGE)?).map_err(|e| parse_error(PORT_RANGE, e))?;
    // Kernels before 2.6.35 have no reserved ports file: nothing is reserved.
    let reserved = match fs::read_to_string(RESERVED) {
        Ok(text) => parse::linux_reserved_ports(&text).map_err(|e| parse_error(RESERVED, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io_at("failed to read", Path::new(RESERVED), e)),
    };
    Ok(SystemPortRanges::new(
        [ephemeral],
        reserved,
        "/proc/sys/net/ipv4",
    ))
}
