//! port-for's library API, in Rust.
//!
//! The functions of Python's `port_for` module under the same names, typed,
//! for code and people moving from it. New code should prefer
//! [`Builder`].
//!
//! # Differences from port-for 1.1.1
//!
//! Deliberate, each covered by a test that says so:
//!
//! - **Probing** ([`port_is_used`]) binds without connecting, on the given
//!   host *and* on 127.0.0.1, 0.0.0.0, ::1 and `[::]`: port-for connects to the
//!   port (a real connection to any live service, with no timeout) and binds
//!   IPv4 only, so it misses listeners on `::1` and v6-only `[::]`, and raises
//!   on IPv6 hosts.
//! - **Data**: the candidate table is port-for's 2017 table minus ports IANA
//!   has assigned since and minus browsers' bad ports (fewer ports). The 2017
//!   table itself is [`unassigned_ranges`]. Ports in Linux
//!   `ip_local_reserved_ports` and Windows excluded ranges are never
//!   available; port-for ignores them.
//! - **Bounds**: [`available_ports`]'s `low` and `high` are inclusive;
//!   port-for excludes both ends (`low=5016` skips 5016).
//! - **No mutation**: [`select_random`] does not remove `exclude_ports` from
//!   the caller's set (port-for mutates it in place).
//! - **Typed inputs**: [`get_port`] takes a [`PortSpec`]; strings inside
//!   lists are parsed instead of silently ignored, malformed input is an
//!   error instead of a `TypeError`/`IndexError`, and a single explicit port
//!   that is also in `exclude_ports` is an error (port-for ignores
//!   `exclude_ports` then).
//! - **Errors** are [`Error`]s, never panics; "Can't select a
//!   port" becomes an error naming the ports tried and why each was taken.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::probe::{self, Probe};
use crate::range::{PortRange, PortSet};
use crate::select::{self, Builder, PORT_FOR_ATTEMPTS};
use crate::system_ranges;
use crate::table;

/// The privileged ports, never available: `0..=1024` as in port-for
/// (which also leaves out 1024).
pub const SYSTEM_PORT_RANGE: PortRange = match PortRange::new(0, 1024) {
    Some(range) => range,
    None => unreachable!(),
};

/// port-for's `UNASSIGNED_RANGES`, verbatim: 686 ranges, 39,517 ports, from
/// IANA and Wikipedia on 2017-07-19.
pub fn unassigned_ranges() -> &'static [PortRange] {
    table::PORT_FOR_UNASSIGNED
}

/// port-for's `ephemeral.port_ranges()`: the system's ephemeral ranges, or
/// [`DEFAULT_EPHEMERAL_RANGE`](crate::DEFAULT_EPHEMERAL_RANGE) when they
/// cannot be read. Cached per process.
pub fn ephemeral_port_ranges() -> Vec<PortRange> {
    system_ranges::cached().ephemeral().ranges().to_vec()
}

/// port-for's `available_ports(low, high, exclude_ranges)`: candidate ports
/// in `low..=high` (inclusive, unlike port-for) outside the ephemeral and
/// reserved ranges, the privileged ports and `exclude_ranges`.
///
/// port-for's defaults are `low = 1024`, `high = 65535`.
///
/// # Examples
///
/// ```
/// use portfor_test::compat::available_ports;
///
/// let ports = available_ports(1024, 65535, &[]);
/// assert!(!ports.contains(80) && !ports.contains(1024));
/// ```
pub fn available_ports(low: u16, high: u16, exclude_ranges: &[PortRange]) -> PortSet {
    let system = system_ranges::cached();
    let Some(bounds) = PortRange::new(low.max(SYSTEM_PORT_RANGE.end() + 1), high) else {
        return PortSet::new();
    };
    select::registry_candidates()
        .clamp(bounds)
        .difference(system.ephemeral())
        .difference(system.reserved())
        .difference(&PortSet::from_ranges(exclude_ranges.iter().copied()))
}

/// port-for's `good_port_ranges(ports, min_range_len, border)`: the runs of
/// `ports` (default: [`available_ports`] with its defaults) at least
/// `min_range_len + 2 * border + 1` long, shrunk by `border` at each end,
/// longest first (ties: the higher range first), as port-for orders them.
///
/// port-for's defaults are `min_range_len = 20`, `border = 3`.
pub fn good_port_ranges(
    ports: Option<&PortSet>,
    min_range_len: u16,
    border: u16,
) -> Vec<PortRange> {
    let default;
    let ports = match ports {
        Some(ports) => ports,
        None => {
            default = available_ports(1024, 65535, &[]);
            &default
        }
    };
    let mut ranges = ports.good_ranges(min_range_len, border).ranges().to_vec();
    ranges.sort_by(|a, b| (b.len(), b).cmp(&(a.len(), a)));
    ranges
}

/// port-for's `available_good_ports(min_range_len, border)`: the ports of
/// [`good_port_ranges`] over the default available ports.
pub fn available_good_ports(min_range_len: u16, border: u16) -> PortSet {
    available_ports(1024, 65535, &[]).good_ranges(min_range_len, border)
}

/// port-for's `port_is_used(port, host)`: whether an exclusive TCP bind of
/// `port` fails on any address of `host` or on 127.0.0.1, 0.0.0.0, ::1 or
/// `[::]`. It never connects.
///
/// # Errors
///
/// When `host` does not resolve, or a bind fails for a reason that says
/// nothing about the port (such as an address that is not local).
///
/// # Examples
///
/// ```
/// use portfor_test::compat::port_is_used;
///
/// let listener = std::net::TcpListener::bind("[::1]:0")?;
/// let port = listener.local_addr()?.port();
/// // port-for 1.1.1 answers False here: it only looks at IPv4.
/// assert!(port_is_used(port, "127.0.0.1")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn port_is_used(port: u16, host: &str) -> Result<bool> {
    let resolved = (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::io(format!("failed to resolve {host:?}"), e))?;
    let mut addresses: Vec<IpAddr> = probe::default_addresses().to_vec();
    for addr in resolved {
        if !addresses.contains(&addr.ip()) {
            addresses.push(addr.ip());
        }
    }
    Ok(Probe::with_addresses(&addresses, false)
        .check(port)?
        .is_some())
}

/// port-for's `is_available(port)`: whether `port` is an available port (see
/// [`available_ports`]) that is not in use.
///
/// # Errors
///
/// As [`port_is_used`].
pub fn is_available(port: u16) -> Result<bool> {
    Ok(available_ports(1024, 65535, &[]).contains(port) && !port_is_used(port, "127.0.0.1")?)
}

/// port-for's `select_random(ports, exclude_ports)`: a random port of
/// `ports` (default: [`available_good_ports`]) minus `exclude_ports` that is
/// not in use, trying at most 100 candidates.
///
/// # Errors
///
/// When no candidate is left or all those tried are in use; the error
/// lists them with the reason for each.
pub fn select_random(
    ports: Option<&PortSet>,
    exclude_ports: impl IntoIterator<Item = u16>,
) -> Result<u16> {
    let excluded = PortSet::from_ports(exclude_ports);
    let probe = Probe::new(false);
    let check = |port| probe.try_port(port);
    match ports {
        // port-for's default pool is the good ports: the builder's default.
        None => Builder::new()
            .exclude_ports(excluded.iter())
            .attempts(PORT_FOR_ATTEMPTS)
            .search(check),
        Some(ports) => {
            select::search_in(&ports.difference(&excluded), Some(PORT_FOR_ATTEMPTS), check)
        }
    }
}

/// What [`get_port`] should return: port-for's `PortType`, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    /// Any good port: port-for's `None`, `0` and empty values.
    Any,
    /// No port at all: port-for's `-1`.
    Disabled,
    /// This port, returned without checking it.
    Port(u16),
    /// A free port from these: port-for's tuples, sets and lists.
    Ports(PortSet),
}

impl PortSpec {
    /// The union of several specs, as port-for's lists: single ports become
    /// candidates like the rest; `Any` and `Disabled` add nothing.
    pub fn union(specs: impl IntoIterator<Item = PortSpec>) -> PortSpec {
        let mut ranges = Vec::new();
        for spec in specs {
            match spec {
                PortSpec::Port(port) => ranges.push(PortRange::single(port)),
                PortSpec::Ports(set) => ranges.extend_from_slice(set.ranges()),
                PortSpec::Any | PortSpec::Disabled => {}
            }
        }
        PortSpec::Ports(PortSet::from_ranges(ranges))
    }
}

impl From<u16> for PortSpec {
    /// `0` means any port, as in port-for (and as in `bind(0)`).
    fn from(port: u16) -> Self {
        if port == 0 {
            PortSpec::Any
        } else {
            PortSpec::Port(port)
        }
    }
}

impl From<Option<u16>> for PortSpec {
    fn from(port: Option<u16>) -> Self {
        port.map_or(PortSpec::Any, PortSpec::from)
    }
}

impl From<(u16, u16)> for PortSpec {
    /// An inclusive range; an inverted one is empty, as in port-for.
    fn from((start, end): (u16, u16)) -> Self {
        PortSpec::Ports(PortSet::from_ranges(PortRange::new(start, end)))
    }
}

impl From<RangeInclusive<u16>> for PortSpec {
    fn from(range: RangeInclusive<u16>) -> Self {
        PortSpec::from((*range.start(), *range.end()))
    }
}

impl From<PortRange> for PortSpec {
    fn from(range: PortRange) -> Self {
        PortSpec::Ports(PortSet::from_ranges([range]))
    }
}

impl From<PortSet> for PortSpec {
    fn from(set: PortSet) -> Self {
        PortSpec::Ports(set)
    }
}

impl From<BTreeSet<u16>> for PortSpec {
    fn from(set: BTreeSet<u16>) -> Self {
        PortSpec::Ports(PortSet::from_ports(set))
    }
}

impl From<HashSet<u16>> for PortSpec {
    fn from(set: HashSet<u16>) -> Self {
        PortSpec::Ports(PortSet::from_ports(set))
    }
}

impl<T: Into<PortSpec>> From<Vec<T>> for PortSpec {
    /// A list, as [`PortSpec::union`].
    fn from(items: Vec<T>) -> Self {
        PortSpec::union(items.into_iter().map(Into::into))
    }
}

impl FromStr for PortSpec {
    type Err = Error;

    /// `""` or `"0"` is any port, `"-1"` none, `"8000"` that port, and a
    /// comma-separated list of ports and `low-high` ranges a choice among
    /// them (`"2000-3000,4001"`). Surrounding spaces are ignored.
    fn from_str(s: &str) -> Result<Self> {
        let text = s.trim();
        match text {
            "" | "0" => return Ok(PortSpec::Any),
            "-1" => return Ok(PortSpec::Disabled),
            _ => {}
        }
        let invalid =
            |e: &dyn fmt::Display| Error::invalid(format!("invalid port spec {s:?}: {e}"));
        if !text.contains([',', '-']) {
            let range: PortRange = text.parse().map_err(|e| invalid(&e))?;
            return Ok(PortSpec::from(range.start()));
        }
        let ranges = text
            .split(',')
            .map(|item| item.parse::<PortRange>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(&e))?;
        Ok(PortSpec::Ports(PortSet::from_ranges(ranges)))
    }
}

/// port-for's `get_port(ports, exclude_ports)`.
///
/// - [`PortSpec::Disabled`] (`-1`): `Ok(None)`.
/// - [`PortSpec::Any`]: [`select_random`] over the good ports.
/// - [`PortSpec::Port`]: that port, unchecked (the caller chose it).
/// - [`PortSpec::Ports`]: [`select_random`] over them, taken as given (no
///   registry or ephemeral filtering, as in port-for).
///
/// # Errors
///
/// When a single port is also in `exclude_ports`, or as [`select_random`].
///
/// # Examples
///
/// ```
/// use portfor_test::compat::{get_port, PortSpec};
///
/// assert_eq!(get_port(PortSpec::Disabled, [])?, None);
/// assert_eq!(get_port(1234, [])?, Some(1234));
/// let port = get_port((8000, 8010), [8000, 8001])?.unwrap();
/// assert!((8002..=8010).contains(&port));
/// # Ok::<(), portfor_test::Error>(())
/// ```
pub fn get_port(
    ports: impl Into<PortSpec>,
    exclude_ports: impl IntoIterator<Item = u16>,
) -> Result<Option<u16>> {
    match ports.into() {
        PortSpec::Disabled => Ok(None),
        PortSpec::Any => select_random(None, exclude_ports).map(Some),
        PortSpec::Port(port) => {
            if exclude_ports.into_iter().any(|p| p == port) {
                return Err(Error::invalid(format!(
                    "port {port} was asked for and excluded at once"
                )));
            }
            Ok(Some(port))
        }
        PortSpec::Ports(set) => select_random(Some(&set), exclude_ports).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_spec_parses_port_for_strings() {
        assert_eq!("".parse::<PortSpec>().unwrap(), PortSpec::Any);
        assert_eq!(" 80 ".parse::<PortSpec>().unwrap(), PortSpec::Port(80));
        assert_eq!("-1".parse::<PortSpec>().unwrap(), PortSpec::Disabled);
        assert_eq!(
            "2000-2002,4001".parse::<PortSpec>().unwrap(),
            PortSpec::Ports(PortSet::from_ports([2000, 2001, 2002, 4001]))
        );
        for bad in ["abc", "70000", "-5", "3000-2000", "1,,2", "5.7"] {
            assert!(bad.parse::<PortSpec>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn good_port_ranges_orders_longest_then_highest_first() {
        let ports = PortSet::from_ranges(
            [(10, 15), (100, 200), (220, 245), (300, 330), (440, 495)]
                .map(|(a, b)| PortRange::new(a, b).unwrap()),
        );
        let ranges = good_port_ranges(Some(&ports), 20, 3);
        let pairs: Vec<(u16, u16)> = ranges.iter().map(|r| (r.start(), r.end())).collect();
        assert_eq!(pairs, [(103, 197), (443, 492), (303, 327)]);
        // Ties: the higher range first.
        let tie = PortSet::from_ranges([
            PortRange::new(0, 9).unwrap(),
            PortRange::new(20, 29).unwrap(),
        ]);
        let pairs: Vec<u16> = good_port_ranges(Some(&tie), 0, 0)
            .iter()
            .map(PortRange::start)
            .collect();
        assert_eq!(pairs, [20, 0]);
    }
}
