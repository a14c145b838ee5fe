//! macOS and the BSDs: the `net.inet.ip` port range sysctls, read through the
//! `sysctl` tool (no unsafe FFI for a once-per-process read).

use super::{SystemPortRanges, parse, parse_error, run};
use crate::error::Result;

#[cfg(target_os = "openbsd")]
const KEYS: &[&str] = &[
    "net.inet.ip.portfirst",
    "net.inet.ip.portlast",
    "net.inet.ip.porthifirst",
    "net.inet.ip.porthilast",
];

/// NetBSD has no `portrange` node: its ephemeral range is
/// `anonportmin`-`anonportmax` (and `lowportmin`-`lowportmax` for
/// privileged ports, below the candidates anyway).
#[cfg(target_os = "netbsd")]
const KEYS: &[&str] = &["net.inet.ip.anonportmin", "net.inet.ip.anonportmax"];

/// macOS, iOS, FreeBSD and DragonFly: `portrange.{first,last,hifirst,...}`.
#[cfg(not(any(target_os = "openbsd", target_os = "netbsd")))]
const KEYS: &[&str] = &["net.inet.ip.portrange"];

/// `sysctl` lives in /usr/sbin on macOS and /sbin on the BSDs, which a test
/// runner's PATH may lack.
const SYSCTL: &[&str] = &["sysctl", "/usr/sbin/sysctl", "/sbin/sysctl"];

pub(super) fn detect() -> Result<SystemPortRanges> {
    let mut output = run(SYSCTL[0], KEYS);
    for fallback in &SYSCTL[1..] {
        if output.as_ref().is_err_and(|e| e.io_error().is_some()) {
            output = run(fallback, KEYS);
        }
    }
    let ranges = parse::bsd_sysctl(&output?).map_err(|e| parse_error("sysctl output", e))?;
    Ok(SystemPortRanges::new(ranges, [], "sysctl net.inet.ip"))
}
