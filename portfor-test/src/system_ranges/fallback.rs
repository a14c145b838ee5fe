//! Platforms portfor cannot read port ranges on.

use super::SystemPortRanges;
use crate::error::{Error, Result};

pub(super) fn detect() -> Result<SystemPortRanges> {
    Err(Error::invalid(
        "detecting the ephemeral port range is not supported on this platform",
    ))
}
