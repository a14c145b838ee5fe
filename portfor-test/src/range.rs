//! Inclusive port ranges and sets of ports kept as sorted ranges.
//!
//! Everything port-for calls a "range" is an inclusive `(low, high)` pair, and
//! so is [`PortRange`]. A [`PortSet`] stores disjoint, non-adjacent ranges in
//! ascending order, so the set arithmetic selection needs (table minus
//! ephemeral minus reserved ranges) costs microseconds instead of building
//! 40,000-element hash sets on every call as port-for does.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// An inclusive range of ports, `start..=end`, never empty.
///
/// Parses from and displays as `N` or `N-M`, the notation of
/// `ip_local_reserved_ports` and of `cargo portfor`.
///
/// # Examples
///
/// ```
/// use portfor_test::PortRange;
///
/// let range: PortRange = "8000-8010".parse()?;
/// assert_eq!((range.start(), range.end(), range.len()), (8000, 8010, 11));
/// assert!(range.contains(8005));
/// assert_eq!(PortRange::single(80).to_string(), "80");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    start: u16,
    end: u16,
}

impl PortRange {
    /// The range `start..=end`, or `None` when `start > end`.
    pub const fn new(start: u16, end: u16) -> Option<PortRange> {
        if start <= end {
            Some(PortRange { start, end })
        } else {
            None
        }
    }

    /// The range holding just `port`.
    pub const fn single(port: u16) -> PortRange {
        PortRange {
            start: port,
            end: port,
        }
    }

    /// The first port of the range.
    pub const fn start(&self) -> u16 {
        self.start
    }

    /// The last port of the range (inclusive).
    pub const fn end(&self) -> u16 {
        self.end
    }

    /// The number of ports in the range, at least 1.
    // A range is never empty, so `is_empty` would always be false.
    #[allow(clippy::len_without_is_empty)]
    pub const fn len(&self) -> u32 {
        self.end as u32 - self.start as u32 + 1
    }

    /// Whether `port` lies in the range.
    pub const fn contains(&self, port: u16) -> bool {
        self.start <= port && port <= self.end
    }

    /// The ports of the range, in ascending order.
    pub fn iter(&self) -> RangeInclusive<u16> {
        self.start..=self.end
    }
}

impl From<u16> for PortRange {
    fn from(port: u16) -> Self {
        PortRange::single(port)
    }
}

impl TryFrom<RangeInclusive<u16>> for PortRange {
    type Error = ParseRangeError;

    fn try_from(range: RangeInclusive<u16>) -> Result<Self, Self::Error> {
        PortRange::new(*range.start(), *range.end()).ok_or_else(|| ParseRangeError {
            input: format!("{}-{}", range.start(), range.end()),
            reason: "the start is above the end",
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

impl FromStr for PortRange {
    type Err = ParseRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason| ParseRangeError {
            input: s.to_owned(),
            reason,
        };
        let parse_port = |text: &str| {
            let text = text.trim();
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error("a port is a decimal number"));
            }
            text.parse::<u16>()
                .map_err(|_| error("a port is at most 65535"))
        };
        let (start, end) = match s.split_once('-') {
            Some((start, end)) => (parse_port(start)?, parse_port(end)?),
            None => {
                let port = parse_port(s)?;
                (port, port)
            }
        };
        PortRange::new(start, end).ok_or_else(|| error("the start is above the end"))
    }
}

/// The error of parsing a [`PortRange`] from text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseRangeError {
    input: String,
    reason: &'static str,
}

impl fmt::Display for ParseRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid port range {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for ParseRangeError {}

/// A set of ports stored as sorted, disjoint, non-adjacent [`PortRange`]s.
///
/// Counting, membership and "the n-th port" are `O(log ranges)`, so picking a
/// uniformly random member needs no per-port allocation.
///
/// # Examples
///
/// ```
/// use portfor_test::{PortRange, PortSet};
///
/// let set = PortSet::from_ranges([PortRange::new(10, 20).unwrap(), PortRange::single(30)]);
/// let without = set.difference(&PortSet::from_ranges([PortRange::new(15, 30).unwrap()]));
/// assert_eq!(without.to_string(), "10-14");
/// assert_eq!(without.len(), 5);
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct PortSet {
    ranges: Vec<PortRange>,
    /// `cumulative[i]` is the number of ports in `ranges[..i]`.
    cumulative: Vec<u32>,
}

impl PortSet {
    /// The empty set.
    pub const fn new() -> PortSet {
        PortSet {
            ranges: Vec::new(),
            cumulative: Vec::new(),
        }
    }

    /// The union of `ranges`, in any order, overlapping or not.
    pub fn from_ranges(ranges: impl IntoIterator<Item = PortRange>) -> PortSet {
        let mut ranges: Vec<PortRange> = ranges.into_iter().collect();
        ranges.sort_unstable();
        let mut merged: Vec<PortRange> = Vec::with_capacity(ranges.len());
        for range in ranges {
            match merged.last_mut() {
                // Overlapping or adjacent: extend the previous range.
                Some(last) if u32::from(range.start) <= u32::from(last.end) + 1 => {
                    last.end = last.end.max(range.end);
                }
                _ => merged.push(range),
            }
        }
        PortSet::from_sorted(merged)
    }

    /// The set of the given ports.
    pub fn from_ports(ports: impl IntoIterator<Item = u16>) -> PortSet {
        PortSet::from_ranges(ports.into_iter().map(PortRange::single))
    }

    /// Builds the set from ranges already sorted, disjoint and non-adjacent.
    fn from_sorted(ranges: Vec<PortRange>) -> PortSet {
        let mut cumulative = Vec::with_capacity(ranges.len());
        let mut total = 0;
        for range in &ranges {
            cumulative.push(total);
            total += range.len();
        }
        PortSet { ranges, cumulative }
    }

    /// The ranges of the set, ascending, disjoint and non-adjacent.
    pub fn ranges(&self) -> &[PortRange] {
        &self.ranges
    }

    /// The number of ports in the set.
    pub fn len(&self) -> u32 {
        match (self.ranges.last(), self.cumulative.last()) {
            (Some(range), Some(before)) => before + range.len(),
            _ => 0,
        }
    }

    /// Whether the set has no ports.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        let index = self.ranges.partition_point(|range| range.end < port);
        self.ranges
            .get(index)
            .is_some_and(|range| range.contains(port))
    }

    /// The `index`-th smallest port of the set, or `None` past the end.
    pub fn nth(&self, index: u32) -> Option<u16> {
        if index >= self.len() {
            return None;
        }
        // The last range whose first port has an index <= `index`.
        let slot = self.cumulative.partition_point(|&before| before <= index) - 1;
        let offset = index - self.cumulative[slot];
        Some(self.ranges[slot].start + offset as u16)
    }

    /// The smallest port of the set.
    pub fn first(&self) -> Option<u16> {
        self.ranges.first().map(PortRange::start)
    }

    /// The largest port of the set.
    pub fn last(&self) -> Option<u16> {
        self.ranges.last().map(PortRange::end)
    }

    /// The ports of the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(PortRange::iter)
    }

    /// The ports of `self`, and those of `other`.
    pub fn union(&self, other: &PortSet) -> PortSet {
        PortSet::from_ranges(self.ranges.iter().chain(&other.ranges).copied())
    }

    /// The ports of `self` that are not in `other`.
    pub fn difference(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::with_capacity(self.ranges.len() + other.ranges.len());
        let mut cut = other.ranges.iter().peekable();
        for &range in &self.ranges {
            let mut start = u32::from(range.start);
            let end = u32::from(range.end);
            // Skip the cuts wholly before this range; they cannot touch later ones.
            while cut.peek().is_some_and(|c| u32::from(c.end) < start) {
                cut.next();
            }
            let mut pending = cut.clone();
            while let Some(c) = pending.peek() {
                let (c_start, c_end) = (u32::from(c.start), u32::from(c.end));
                if c_start > end {
                    break;
                }
                if c_start > start {
                    out.push(PortRange {
                        start: start as u16,
                        end: (c_start - 1) as u16,
                    });
                }
                start = start.max(c_end + 1);
                pending.next();
            }
            if start <= end {
                out.push(PortRange {
                    start: start as u16,
                    end: end as u16,
                });
            }
        }
        PortSet::from_sorted(out)
    }

    /// The ports in both `self` and `other`.
    pub fn intersection(&self, other: &PortSet) -> PortSet {
        let mut out = Vec::new();
        let (mut a, mut b) = (0, 0);
        while a < self.ranges.len() && b < other.ranges.len() {
            let (x, y) = (self.ranges[a], other.ranges[b]);
            let start = x.start.max(y.start);
            let end = x.end.min(y.end);
            if start <= end {
                out.push(PortRange { start, end });
            }
            if x.end < y.end {
                a += 1;
            } else {
                b += 1;
            }
        }
        PortSet::from_sorted(out)
    }

    /// The ports of `self` that are in `range`.
    pub fn clamp(&self, range: PortRange) -> PortSet {
        self.intersection(&PortSet::from_sorted(vec![range]))
    }

    /// port-for's "good ranges" rule: keep each run of consecutive ports at
    /// least `min_len + 2 * border + 1` long, shrunk by `border` at both ends.
    ///
    /// With port-for's defaults (`min_len` 20, `border` 3) a run needs 27
    /// ports, and the 3 ports nearest an assigned (or ephemeral) port are
    /// never handed out.
    pub fn good_ranges(&self, min_len: u16, border: u16) -> PortSet {
        let need = u32::from(min_len) + 2 * u32::from(border);
        let kept = self
            .ranges
            .iter()
            .filter(|range| u32::from(range.end - range.start) >= need)
            .map(|range| PortRange {
                start: range.start + border,
                end: range.end - border,
            })
            .collect();
        PortSet::from_sorted(kept)
    }
}

impl FromIterator<PortRange> for PortSet {
    fn from_iter<I: IntoIterator<Item = PortRange>>(iter: I) -> Self {
        PortSet::from_ranges(iter)
    }
}

impl FromIterator<u16> for PortSet {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> Self {
        PortSet::from_ports(iter)
    }
}

impl fmt::Display for PortSet {
    /// Comma-separated ranges, as in `ip_local_reserved_ports`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, range) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{range}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortSet({} ports: {self})", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn r(start: u16, end: u16) -> PortRange {
        PortRange::new(start, end).unwrap()
    }

    fn set(ranges: &[(u16, u16)]) -> PortSet {
        PortSet::from_ranges(ranges.iter().map(|&(a, b)| r(a, b)))
    }

    fn naive(set: &PortSet) -> BTreeSet<u16> {
        set.iter().collect()
    }

    #[test]
    fn parses_and_displays_ranges() {
        assert_eq!("80".parse::<PortRange>().unwrap(), PortRange::single(80));
        assert_eq!(" 8000 - 8010 ".parse::<PortRange>().unwrap(), r(8000, 8010));
        assert_eq!(r(1, 65535).to_string(), "1-65535");
        for bad in ["", "-", "abc", "10-", "65536", "-5", "20-10", "1.5", "+3"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?} parsed");
        }
        assert!(PortRange::new(5, 4).is_none());
        assert_eq!(r(0, 65535).len(), 65536);
    }

    #[test]
    fn from_ranges_sorts_and_merges_overlapping_and_adjacent() {
        let s = set(&[(30, 40), (1, 3), (4, 6), (35, 50), (60, 60)]);
        assert_eq!(s.ranges(), &[r(1, 6), r(30, 50), r(60, 60)]);
        assert_eq!(s.len(), 6 + 21 + 1);
        let full = set(&[(0, 65535), (65535, 65535)]);
        assert_eq!(full.len(), 65536);
    }

    #[test]
    fn nth_and_contains_agree_with_iteration() {
        let s = set(&[(10, 15), (100, 200), (220, 245), (65530, 65535)]);
        let ports: Vec<u16> = s.iter().collect();
        assert_eq!(ports.len() as u32, s.len());
        for (i, &port) in ports.iter().enumerate() {
            assert_eq!(s.nth(i as u32), Some(port));
            assert!(s.contains(port));
        }
        assert_eq!(s.nth(s.len()), None);
        for port in [0, 9, 16, 99, 201, 219, 246, 65529] {
            assert!(!s.contains(port), "{port}");
        }
        assert_eq!(PortSet::new().nth(0), None);
    }

    #[test]
    fn difference_and_intersection_match_naive_sets() {
        // A deterministic spread of shapes: touching, covering, inside, edges.
        let cases = [
            (vec![(10, 20)], vec![(15, 30)]),
            (vec![(10, 20)], vec![(0, 9), (21, 30)]),
            (vec![(10, 20)], vec![(10, 10), (20, 20), (15, 15)]),
            (vec![(0, 65535)], vec![(1, 1023), (32768, 60999)]),
            (
                vec![(1, 5), (7, 9), (11, 40)],
                vec![(3, 8), (12, 12), (40, 65535)],
            ),
            (vec![(100, 200)], vec![]),
            (vec![], vec![(1, 2)]),
            (vec![(5, 6), (8, 9)], vec![(0, 65535)]),
        ];
        for (a, b) in cases {
            let (sa, sb) = (set(&a), set(&b));
            let (na, nb) = (naive(&sa), naive(&sb));
            let diff: BTreeSet<u16> = na.difference(&nb).copied().collect();
            let inter: BTreeSet<u16> = na.intersection(&nb).copied().collect();
            assert_eq!(naive(&sa.difference(&sb)), diff, "{a:?} - {b:?}");
            assert_eq!(naive(&sa.intersection(&sb)), inter, "{a:?} & {b:?}");
            assert_eq!(sa.difference(&sb).len() as usize, diff.len());
        }
    }

    #[test]
    fn good_ranges_follow_port_for_rule() {
        // port-for's own test case (tests/test_cases.py::test_good_port_ranges).
        let s = set(&[(10, 15), (100, 200), (220, 245), (300, 330), (440, 495)]);
        let good = s.good_ranges(20, 3);
        assert_eq!(good.ranges(), &[r(103, 197), r(303, 327), r(443, 492)]);
        // With no border and no minimum, single ports survive.
        assert_eq!(s.good_ranges(0, 0), s);
    }

    #[test]
    fn display_lists_ranges_like_reserved_ports() {
        assert_eq!(
            set(&[(8000, 9000), (12345, 12345)]).to_string(),
            "8000-9000,12345"
        );
        assert_eq!(PortSet::new().to_string(), "");
    }
}
