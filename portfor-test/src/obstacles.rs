//! Why [`free_port()`](crate::free_port) would not hand out a given port:
//! the answer to "why not this port?", for tools such as `cargo portfor why`.

use std::fmt;
use std::path::PathBuf;

use crate::compat::SYSTEM_PORT_RANGE;
use crate::error::{Reason, Result};
use crate::select::{self, Builder};
use crate::store::Store;
use crate::system_ranges;
use crate::table;

/// The ports browsers refuse to connect to: the Fetch standard's "bad
/// ports" (`data/fetch/bad-ports.txt`; a test checks that the two agree).
const BROWSER_REFUSED: &[u16] = &[
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
    102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427,
    465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990,
    993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667,
    6668, 6669, 6679, 6697, 10080,
];

/// The first port of IANA's dynamic (private) range, which IANA never
/// assigns.
const IANA_DYNAMIC_START: u16 = 49152;

/// Whether browsers refuse to connect to `port` (the Fetch standard's "bad
/// ports", such as 6000 and 10080): a web server there is unreachable from
/// a browser.
///
/// # Examples
///
/// ```
/// assert!(portfor_test::browsers_refuse(6000));
/// assert!(!portfor_test::browsers_refuse(8080));
/// ```
pub fn browsers_refuse(port: u16) -> bool {
    BROWSER_REFUSED.binary_search(&port).is_ok()
}

/// One reason why [`free_port()`](crate::free_port) would not hand out a
/// port. See [`free_port_obstacles`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Obstacle {
    /// Ports 0-1024: privileged on most systems, and IANA's system ports
    /// (port-for never chooses 1024 either).
    System,
    /// Ports 49152-65535: IANA's dynamic range, which it never assigns and
    /// operating systems use for outgoing connections.
    Dynamic,
    /// Left out of port-for's table of unassigned ports (2017): IANA had
    /// assigned or reserved it (alone or in a range), or it was a well-known
    /// port without an assignment (Wikipedia's list).
    AssignedOrWellKnown,
    /// In port-for's 2017 table, but IANA has assigned or reserved it since
    /// (registry snapshot 8.0.35).
    AssignedSince2017,
    /// Browsers refuse to connect to it ([`browsers_refuse`]).
    BrowserRefused,
    /// Inside the system's ephemeral range, where the kernel picks ports for
    /// outgoing connections and `bind(0)` (unless ephemeral ports are
    /// allowed: [`Builder::allow_ephemeral`]).
    Ephemeral,
    /// Reserved by the system: Linux `ip_local_reserved_ports`, Windows
    /// excluded port ranges.
    Reserved,
    /// A registry candidate, but in a run of fewer than 27 candidates or
    /// within 3 ports of its run's end (port-for's good-ranges rule).
    ShortRun,
    /// Bound to a name in a store.
    Named {
        /// The store's file.
        store: PathBuf,
        /// The name (store key) it is bound to.
        name: String,
    },
    /// A portfor process of any user (this process included) claims it, in
    /// the claim directory this process uses.
    Claimed,
    /// Something holds it now, or this process may not bind it.
    Taken(Reason),
}

impl fmt::Display for Obstacle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Obstacle::System => f.write_str("it is a system port (0-1024)"),
            Obstacle::Dynamic => f.write_str("it is in IANA's dynamic range (49152-65535)"),
            Obstacle::AssignedOrWellKnown => f.write_str(
                "it was assigned by IANA or well known in 2017 (not in port-for's table)",
            ),
            Obstacle::AssignedSince2017 => f.write_str("IANA has assigned it since 2017"),
            Obstacle::BrowserRefused => f.write_str("browsers refuse to connect to it"),
            Obstacle::Ephemeral => f.write_str("it is in the system's ephemeral range"),
            Obstacle::Reserved => f.write_str("the system reserves it"),
            Obstacle::ShortRun => f.write_str(
                "its run of candidates is shorter than 27 ports, or it is within 3 ports of the run's end",
            ),
            Obstacle::Named { store, name } => {
                write!(f, "it is bound to {name:?} in {}", store.display())
            }
            Obstacle::Claimed => f.write_str("a portfor process claims it"),
            Obstacle::Taken(Reason::InUse { addr, protocol }) => {
                write!(f, "it is in use on {} ({protocol})", addr.ip())
            }
            Obstacle::Taken(Reason::Forbidden { addr, protocol }) => {
                write!(
                    f,
                    "binding it is not permitted on {} ({protocol})",
                    addr.ip()
                )
            }
            Obstacle::Taken(Reason::Claimed) => f.write_str("a portfor process claims it"),
            Obstacle::Taken(Reason::Named) => f.write_str("it is bound to a name"),
        }
    }
}

/// Why the registry table or the system's ranges leave `port` out of the
/// default candidates; empty for a candidate.
fn candidate_obstacles(port: u16, candidates: Option<&crate::PortSet>) -> Vec<Obstacle> {
    if candidates.is_some_and(|set| set.contains(port)) {
        return Vec::new();
    }
    let mut found = Vec::new();
    let in_port_for_table = table::PORT_FOR_UNASSIGNED
        .iter()
        .any(|range| range.contains(port));
    let registry = select::registry_candidates().contains(port);
    if SYSTEM_PORT_RANGE.contains(port) {
        found.push(Obstacle::System);
    } else if port >= IANA_DYNAMIC_START {
        found.push(Obstacle::Dynamic);
    } else if !in_port_for_table {
        found.push(Obstacle::AssignedOrWellKnown);
    } else if !registry && !browsers_refuse(port) {
        found.push(Obstacle::AssignedSince2017);
    }
    if browsers_refuse(port) {
        found.push(Obstacle::BrowserRefused);
    }
    let system = system_ranges::cached();
    if system.ephemeral().contains(port) && !Builder::new().allows_ephemeral() {
        found.push(Obstacle::Ephemeral);
    }
    if system.reserved().contains(port) {
        found.push(Obstacle::Reserved);
    }
    if found.is_empty() {
        // A registry port outside the system's ranges: only the good-ranges
        // rule leaves a port like that out.
        found.push(Obstacle::ShortRun);
    }
    found
}

/// Every reason why [`free_port()`](crate::free_port) would not hand out
/// `port` now: empty when it could (if its random draw chose it).
///
/// The reasons come in this order: the registry table and the system's
/// ranges ([`Builder::candidates`] with the default options, honouring
/// `PORTFOR_ALLOW_EPHEMERAL`); names bound to `port` in `named_in`; a claim
/// in the default claim directory; then a probe as `free_port()` probes
/// (TCP on 127.0.0.1, 0.0.0.0, ::1 and `[::]`). Unlike `free_port()`, which
/// stops at the first, every check runs, so a port that is not a candidate
/// is still reported in use when it is.
///
/// `named_in` is the stores whose names to report: `free_port()` never takes
/// a port bound to a name in the user's or the system store
/// ([`Store::user`], [`Store::system`]); pass those, and any other store
/// the caller cares about.
///
/// # Errors
///
/// When a store in `named_in` cannot be read or does not parse, when the
/// claim directory cannot be used, or when the probe fails for a reason
/// that says nothing about the port (such as too many open files).
///
/// # Examples
///
/// ```
/// use portfor_test::{Obstacle, free_port_obstacles};
///
/// let obstacles = free_port_obstacles(80, &[])?;
/// assert!(obstacles.contains(&Obstacle::System));
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// assert!(matches!(
///     free_port_obstacles(port, &[])?.last(),
///     Some(Obstacle::Taken(_))
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn free_port_obstacles(port: u16, named_in: &[Store]) -> Result<Vec<Obstacle>> {
    let builder = Builder::new();
    let candidates = builder.candidates().ok();
    let mut found = candidate_obstacles(port, candidates.as_ref());
    for store in named_in {
        for (name, _) in store.list()?.into_iter().filter(|&(_, p)| p == port) {
            found.push(Obstacle::Named {
                store: store.path().to_owned(),
                name,
            });
        }
    }
    if builder.is_claimed(port)? {
        found.push(Obstacle::Claimed);
    }
    if let Some(reason) = builder.check(port)? {
        found.push(Obstacle::Taken(reason));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_list_is_sorted_for_binary_search() {
        assert!(BROWSER_REFUSED.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn each_registry_fact_is_named() {
        let none = crate::PortSet::new();
        assert_eq!(candidate_obstacles(80, Some(&none))[0], Obstacle::System);
        assert_eq!(candidate_obstacles(1024, Some(&none))[0], Obstacle::System);
        assert_eq!(
            candidate_obstacles(8080, Some(&none))[0],
            Obstacle::AssignedOrWellKnown
        );
        // In port-for's table (2259), assigned by IANA since.
        assert_eq!(
            candidate_obstacles(2259, Some(&none))[0],
            Obstacle::AssignedSince2017
        );
        assert!(candidate_obstacles(6000, Some(&none)).contains(&Obstacle::BrowserRefused));
        assert!(candidate_obstacles(50000, Some(&none)).contains(&Obstacle::Dynamic));
        let candidates = crate::PortSet::from_ports([20000]);
        assert!(candidate_obstacles(20000, Some(&candidates)).is_empty());
    }
}
