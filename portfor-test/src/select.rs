//! Choosing a port: the candidate set, and a bounded random search over it.

use std::borrow::Cow;
use std::net::IpAddr;
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::LazyLock;

use crate::error::{Error, Reason, Rejection, Result};
use crate::named_set;
use crate::probe::{self, Probe};
use crate::range::{PortRange, PortSet};
use crate::rng;
use crate::system_ranges;
use crate::table;

/// port-for's defaults for [`Builder::good_ranges`].
pub const GOOD_RANGE_MIN_LEN: u16 = 20;
/// port-for's defaults for [`Builder::good_ranges`].
pub const GOOD_RANGE_BORDER: u16 = 3;
/// How many candidates port-for's `select_random` probes before giving up;
/// [`compat`](crate::compat) keeps this limit. [`Builder`] has none by
/// default: it gives up only when every candidate is claimed, bound to a
/// name, or in use.
pub const PORT_FOR_ATTEMPTS: u32 = 100;

/// Set to `1` (or `true`) to let selection use ephemeral ports when no other
/// port is left: the escape hatch for port-for issue #12.
pub const ALLOW_EPHEMERAL_ENV: &str = "PORTFOR_ALLOW_EPHEMERAL";

/// The registry table as a set, built once per process.
pub(crate) fn registry_candidates() -> &'static PortSet {
    static SET: LazyLock<PortSet> =
        LazyLock::new(|| PortSet::from_ranges(table::CANDIDATES.iter().copied()));
    &SET
}

/// Options for choosing a port.
///
/// The defaults choose like port-for, minus its blind spots: a port from the
/// IANA-unassigned table (refreshed, without browsers' bad ports), outside
/// the system's ephemeral and reserved ranges, in a run of at least 27 such
/// ports and 3 away from its ends, in random order, probed free on
/// 127.0.0.1, 0.0.0.0, ::1 and `[::]`.
///
/// # Examples
///
/// ```
/// use portfor_test::Builder;
///
/// // A port free on TCP and UDP, between 20000 and 29999.
/// let port = Builder::new().include(20000..30000).udp(true).select()?;
/// assert!((20000..30000).contains(&port));
/// # Ok::<(), portfor_test::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    /// `None`: the registry table. `Some`: exactly these (maybe none).
    include: Option<Vec<PortRange>>,
    exclude: Vec<PortRange>,
    udp: bool,
    addresses: Option<Vec<IpAddr>>,
    extra_addresses: Vec<IpAddr>,
    allow_ephemeral: Option<bool>,
    good_ranges: (u16, u16),
    attempts: Option<u32>,
    hold: bool,
    claim_dir: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            include: None,
            exclude: Vec::new(),
            udp: false,
            addresses: None,
            extra_addresses: Vec::new(),
            allow_ephemeral: None,
            good_ranges: (GOOD_RANGE_MIN_LEN, GOOD_RANGE_BORDER),
            attempts: None,
            hold: false,
            claim_dir: None,
        }
    }
}

/// Converts any range of `u16` to a [`PortRange`], `None` when empty.
fn to_port_range(range: impl RangeBounds<u16>) -> Option<PortRange> {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e,
        Bound::Excluded(&e) => e.checked_sub(1)?,
        Bound::Unbounded => u16::MAX,
    };
    PortRange::new(start, end)
}

impl Builder {
    /// The default options.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Choose from these ports instead of the registry table. May be called
    /// several times, adding to the choice; an empty range adds nothing (but
    /// still replaces the registry table).
    ///
    /// Explicit ranges are taken as given: the good-ranges rule does not trim
    /// them. Ephemeral and reserved ports are still left out unless
    /// [`allow_ephemeral`](Builder::allow_ephemeral) is set.
    pub fn include(&mut self, ports: impl RangeBounds<u16>) -> &mut Self {
        self.include
            .get_or_insert_with(Vec::new)
            .extend(to_port_range(ports));
        self
    }

    /// Never choose these ports. May be called several times.
    pub fn exclude(&mut self, ports: impl RangeBounds<u16>) -> &mut Self {
        self.exclude.extend(to_port_range(ports));
        self
    }

    /// Never choose any of these ports.
    pub fn exclude_ports(&mut self, ports: impl IntoIterator<Item = u16>) -> &mut Self {
        self.exclude
            .extend(ports.into_iter().map(PortRange::single));
        self
    }

    /// Also require the port to be free for UDP (default: TCP only).
    pub fn udp(&mut self, udp: bool) -> &mut Self {
        self.udp = udp;
        self
    }

    /// Also probe `addr`, besides the default addresses.
    pub fn address(&mut self, addr: IpAddr) -> &mut Self {
        self.extra_addresses.push(addr);
        self
    }

    /// Probe exactly these addresses instead of the defaults (127.0.0.1,
    /// 0.0.0.0, and ::1 and `[::]` where the host has IPv6).
    pub fn addresses(&mut self, addresses: impl IntoIterator<Item = IpAddr>) -> &mut Self {
        self.addresses = Some(addresses.into_iter().collect());
        self
    }

    /// Whether ports in the system's ephemeral range may be chosen.
    ///
    /// Default: no, unless the environment variable `PORTFOR_ALLOW_EPHEMERAL`
    /// is `1` or `true`. An ephemeral port can be taken at any moment by an
    /// outgoing connection (or anyone's `bind(0)`); use this when the range
    /// leaves no other ports (Linux set to `1024 65535`, OpenBSD, Windows
    /// after a Visual Studio install) and you accept that risk. Reserved
    /// ports stay excluded either way.
    pub fn allow_ephemeral(&mut self, allow: bool) -> &mut Self {
        self.allow_ephemeral = Some(allow);
        self
    }

    /// port-for's rule for the registry table: keep only runs of at least
    /// `min_len + 2 * border + 1` consecutive candidates, and never the
    /// `border` ports at either end of a run. Default: 20 and 3, as port-for.
    /// `good_ranges(0, 0)` keeps every candidate.
    pub fn good_ranges(&mut self, min_len: u16, border: u16) -> &mut Self {
        self.good_ranges = (min_len, border);
        self
    }

    /// Probe at most `attempts` candidates (at least 1). Candidates that are
    /// claimed or bound to a name are skipped without a probe and do not
    /// count. Default: no limit, every candidate is tried before giving up.
    pub fn attempts(&mut self, attempts: u32) -> &mut Self {
        self.attempts = Some(attempts.max(1));
        self
    }

    /// Reservations also hold the port in the kernel until the guard drops
    /// or its hold is released (Linux; elsewhere this does nothing and
    /// [`Reservation::is_held`](crate::Reservation::is_held) says so).
    ///
    /// Without a hold, a claim keeps the port from other portfor users only;
    /// a program that ignores portfor could bind it first. With the hold,
    /// servers that do not set `SO_REUSEADDR` cannot bind it, exclusive
    /// probes (port-for, portpicker) see it taken, and `bind(0)` and outgoing
    /// connections never land on it; servers that set `SO_REUSEADDR` (Rust's
    /// std and tokio listeners, Go, Node.js, nginx, Python's `socketserver`
    /// with `allow_reuse_address`) bind it on 127.0.0.1, 0.0.0.0, ::1 or
    /// `[::]` while it is held. For other servers, call
    /// [`Reservation::release_hold`](crate::Reservation::release_hold) just
    /// before they start.
    pub fn hold(&mut self, hold: bool) -> &mut Self {
        self.hold = hold;
        self
    }

    /// Claim ports in `dir` instead of the default claim directory (see
    /// [`claim_dir`](crate::claim_dir)). Processes using different
    /// directories do not see each other's claims.
    pub fn claim_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.claim_dir = Some(dir.into());
        self
    }

    pub(crate) fn claim_dir_path(&self) -> Option<&std::path::Path> {
        self.claim_dir.as_deref()
    }

    pub(crate) fn wants_hold(&self) -> bool {
        self.hold
    }

    pub(crate) fn attempts_limit(&self) -> Option<u32> {
        self.attempts
    }

    pub(crate) fn allows_ephemeral(&self) -> bool {
        self.allow_ephemeral.unwrap_or_else(|| {
            std::env::var(ALLOW_EPHEMERAL_ENV).is_ok_and(|v| v == "1" || v == "true")
        })
    }

    /// Whether the candidate set is the per-process default one.
    fn has_default_candidates(&self) -> bool {
        self.include.is_none()
            && self.exclude.is_empty()
            && self.allow_ephemeral.is_none()
            && self.good_ranges == (GOOD_RANGE_MIN_LEN, GOOD_RANGE_BORDER)
    }

    /// The ports [`select`](Builder::select) chooses from, computed now.
    ///
    /// # Errors
    ///
    /// When no port is left. If the system's ephemeral or reserved ranges
    /// removed them all, [`Error::is_ephemeral_conflict`] is true and the
    /// message explains the cause and the fix.
    ///
    /// # Examples
    ///
    /// ```
    /// let candidates = portfor_test::Builder::new().candidates()?;
    /// assert!(candidates.len() > 1000);
    /// # Ok::<(), portfor_test::Error>(())
    /// ```
    pub fn candidates(&self) -> Result<PortSet> {
        let system = system_ranges::cached();
        let explicit = self.include.is_some();
        let base = match &self.include {
            Some(include) => PortSet::from_ranges(include.iter().copied()),
            None => registry_candidates().clone(),
        };
        let excluded = PortSet::from_ranges(self.exclude.iter().copied());

        let mut pool = base.difference(system.reserved());
        if !self.allows_ephemeral() {
            pool = pool.difference(system.ephemeral());
        }
        if !explicit {
            pool = pool.good_ranges(self.good_ranges.0, self.good_ranges.1);
        }
        let pool = pool.difference(&excluded);
        if !pool.is_empty() {
            return Ok(pool);
        }
        let wanted = base.difference(&excluded);
        if wanted.is_empty() {
            return Err(Error::no_candidates(if explicit {
                "the included ranges are empty or all excluded"
            } else {
                "every port of the registry table is excluded"
            }));
        }
        let lost_to_system = wanted.intersection(system.ephemeral()).len()
            + wanted.intersection(system.reserved()).len();
        if lost_to_system > 0 {
            return Err(Error::no_safe_ports(
                wanted,
                system.ephemeral().clone(),
                system.reserved().clone(),
            ));
        }
        Err(Error::no_candidates(format!(
            "no run of {} or more consecutive candidates is left for the good-ranges rule",
            u32::from(self.good_ranges.0) + 2 * u32::from(self.good_ranges.1) + 1
        )))
    }

    /// The candidate set, from the per-process cache when the options allow.
    fn pool(&self) -> Result<Cow<'static, PortSet>> {
        static DEFAULT: LazyLock<Option<PortSet>> =
            LazyLock::new(|| Builder::new().candidates().ok());
        if self.has_default_candidates()
            && let Some(pool) = DEFAULT.as_ref()
        {
            return Ok(Cow::Borrowed(pool));
        }
        self.candidates().map(Cow::Owned)
    }

    /// Chooses a port that is free now on every probed address.
    ///
    /// The port is not claimed: another process may be handed it too. For a
    /// port no other portfor user is handed at the same time, use
    /// [`reserve`](Builder::reserve) or [`free_port`](crate::free_port).
    ///
    /// # Errors
    ///
    /// When no candidate is left (see [`candidates`](Builder::candidates)),
    /// when every candidate tried was taken (the error lists the ranges and
    /// why each port was rejected), or when probing itself fails (for
    /// example, too many open files).
    ///
    /// # Examples
    ///
    /// ```
    /// let port = portfor_test::Builder::new().select()?;
    /// let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    /// # drop(listener);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn select(&self) -> Result<u16> {
        self.with_probe(|probe| self.search(|port| probe.try_port(port)))
    }

    /// Probes `port` the way [`select`](Builder::select) probes candidates,
    /// whether or not it is a candidate: `None` when it is free on every
    /// probed address and protocol, else why it is not.
    ///
    /// # Errors
    ///
    /// When a bind fails for a reason that says nothing about the port, such
    /// as a probed address that is not local, or too many open files.
    ///
    /// # Examples
    ///
    /// ```
    /// // Reserved: no other portfor user is handed it meanwhile.
    /// let reservation = portfor_test::Builder::new().udp(true).reserve()?;
    /// let port = reservation.port();
    /// let held = std::net::UdpSocket::bind(("127.0.0.1", port))?;
    /// let builder = portfor_test::Builder::new();
    /// assert!(builder.check(port)?.is_none(), "TCP only by default");
    /// assert!(portfor_test::Builder::new().udp(true).check(port)?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, port: u16) -> Result<Option<Reason>> {
        self.with_probe(|probe| probe.check(port))
    }

    pub(crate) fn with_probe<T>(&self, f: impl FnOnce(&Probe<'_>) -> T) -> T {
        match (&self.addresses, self.extra_addresses.is_empty()) {
            // The common case: the process-wide default addresses.
            (None, true) => f(&Probe::new(self.udp)),
            (explicit, _) => {
                let addresses: Vec<IpAddr> = explicit
                    .as_deref()
                    .unwrap_or(probe::default_addresses())
                    .iter()
                    .chain(&self.extra_addresses)
                    .copied()
                    .collect();
                f(&Probe::with_addresses(&addresses, self.udp))
            }
        }
    }

    /// Tries candidates in random order until `try_port` accepts one
    /// (`Ok(Ok(_))`); see [`search_in`]. Ports bound to a name in the
    /// user's or the system store are skipped, without a probe.
    pub(crate) fn search<T>(
        &self,
        mut try_port: impl FnMut(u16) -> Result<Result<T, Reason>>,
    ) -> Result<T> {
        let pool = self.pool()?;
        let named = named_set::named_ports();
        search_in(&pool, self.attempts, |port| {
            if named.contains(port) {
                return Ok(Err(Reason::Named));
            }
            try_port(port)
        })
    }
}

/// Every index below `size` once, in a random order: `(a * i + b) mod size`
/// with `a` coprime to `size`, a full cycle for a random start and stride.
/// No memory for the order, and the usual first-try success costs one
/// draw.
struct RandomWalk {
    size: u64,
    stride: u64,
    start: u64,
    step: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl RandomWalk {
    fn new(size: u32) -> RandomWalk {
        let size = u64::from(size);
        let mut stride = 1;
        if size > 2 {
            // Most random strides are coprime to the size; a few tries do.
            for _ in 0..32 {
                let candidate = 1 + u64::from(rng::below(size as u32 - 1));
                if gcd(candidate, size) == 1 {
                    stride = candidate;
                    break;
                }
            }
        }
        let start = if size > 0 {
            u64::from(rng::below(size as u32))
        } else {
            0
        };
        RandomWalk {
            size,
            stride,
            start,
            step: 0,
        }
    }
}

impl Iterator for RandomWalk {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.step == self.size {
            return None;
        }
        let index = (self.stride * self.step + self.start) % self.size;
        self.step += 1;
        Some(index as u32)
    }
}

/// Tries every candidate of `pool` once, in random order, until `try_port`
/// accepts one (`Ok(Ok(_))`). `Ok(Err(reason))` rejects the port: a port
/// that was probed (in use, forbidden) counts towards `attempts` (no limit
/// when `None`), one skipped as claimed or named does not. `Err` stops the
/// search. The error when none is accepted counts the rejections by reason.
pub(crate) fn search_in<T>(
    pool: &PortSet,
    attempts: Option<u32>,
    mut try_port: impl FnMut(u16) -> Result<Result<T, Reason>>,
) -> Result<T> {
    let mut probes = 0;
    let mut rejections = Vec::new();
    for index in RandomWalk::new(pool.len()) {
        if attempts.is_some_and(|limit| probes >= limit) {
            return Err(Error::no_free_port(pool.clone(), rejections, true));
        }
        let port = pool.nth(index).expect("index below the pool size");
        match try_port(port)? {
            Ok(found) => return Ok(found),
            Err(reason) => {
                if matches!(reason, Reason::InUse { .. } | Reason::Forbidden { .. }) {
                    probes += 1;
                }
                rejections.push(Rejection::new(port, reason));
            }
        }
    }
    Err(Error::no_free_port(pool.clone(), rejections, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_walk_visits_every_index_once() {
        for size in [0, 1, 2, 3, 4, 97, 100, 1024, 19001] {
            for _ in 0..5 {
                let mut seen: Vec<u32> = RandomWalk::new(size).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..size).collect::<Vec<_>>(), "size {size}");
            }
        }
    }

    #[test]
    fn skipped_candidates_cost_no_attempt() {
        let pool = PortSet::from_ports(60000..60100);
        // Every port claimed but the last the walk reaches: found anyway,
        // with an attempt limit of 1.
        let mut seen = 0;
        let found = search_in(&pool, Some(1), |port| {
            seen += 1;
            Ok(if seen < 100 {
                Err(Reason::Claimed)
            } else {
                Ok(port)
            })
        });
        assert!(found.is_ok());
        // Probed and taken: the limit stops the search.
        let addr = "127.0.0.1:1".parse().unwrap();
        let error = search_in(&pool, Some(3), |_| -> Result<Result<u16, Reason>> {
            Ok(Err(Reason::InUse {
                addr,
                protocol: crate::Protocol::Tcp,
            }))
        })
        .unwrap_err();
        assert_eq!(error.rejections().len(), 3);
        assert!(error.to_string().contains("left untried"), "{error}");
    }
}
