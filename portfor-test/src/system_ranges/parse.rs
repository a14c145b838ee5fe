//! Pure parsers of what each operating system reports about its port ranges.
//!
//! They compile on every platform so their unit tests, run against the
//! samples in `data/os/`, run everywhere.

// Each parser is used by one platform's backend only.
#![cfg_attr(not(test), allow(dead_code))]

use crate::range::PortRange;

/// Why a parser rejected its input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParseError(pub(crate) String);

type Parsed<T> = Result<T, ParseError>;

fn port(text: &str, what: &str) -> Parsed<u16> {
    text.trim()
        .parse()
        .map_err(|_| ParseError(format!("{what}: {:?} is not a port number", text.trim())))
}

fn range(start: u16, end: u16, what: &str) -> Parsed<PortRange> {
    PortRange::new(start, end).ok_or_else(|| ParseError(format!("{what}: {start} is above {end}")))
}

/// Linux `/proc/sys/net/ipv4/ip_local_port_range`: `"32768\t60999\n"`.
///
/// Only the first line counts, as in port-for (a musl-era fix).
pub(crate) fn linux_port_range(text: &str) -> Parsed<PortRange> {
    let what = "ip_local_port_range";
    let line = text.lines().next().unwrap_or("");
    let mut fields = line.split_whitespace();
    match (fields.next(), fields.next(), fields.next()) {
        (Some(low), Some(high), None) => range(port(low, what)?, port(high, what)?, what),
        _ => Err(ParseError(format!(
            "{what}: expected two numbers, found {line:?}"
        ))),
    }
}

/// Linux `/proc/sys/net/ipv4/ip_local_reserved_ports`: a comma-separated
/// list of ports and `low-high` ranges, or an empty line.
pub(crate) fn linux_reserved_ports(text: &str) -> Parsed<Vec<PortRange>> {
    let what = "ip_local_reserved_ports";
    text.trim()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('-') {
            Some((low, high)) => range(port(low, what)?, port(high, what)?, what),
            None => Ok(PortRange::single(port(item, what)?)),
        })
        .collect()
}

/// The key pairs read from BSD sysctls: port-for's, in its order (macOS,
/// FreeBSD and DragonFly name them `net.inet.ip.portrange.{first,last,...}`,
/// OpenBSD `net.inet.ip.{portfirst,portlast,porthifirst,porthilast}`), then
/// NetBSD's `net.inet.ip.{anonportmin,anonportmax}`, which port-for lacks.
const SYSCTL_PAIRS: [(&str, &str); 6] = [
    ("first", "last"),
    ("lowfirst", "lowlast"),
    ("hifirst", "hilast"),
    ("portfirst", "portlast"),
    ("porthifirst", "porthilast"),
    ("anonportmin", "anonportmax"),
];

/// The output of `sysctl net.inet.ip.portrange` (macOS, FreeBSD: `key: value`
/// lines), of `sysctl net.inet.ip.portfirst ...` (OpenBSD: `key=value`) or of
/// `sysctl net.inet.ip.anonportmin net.inet.ip.anonportmax` (NetBSD:
/// `key = value`).
///
/// Returns every pair of [`SYSCTL_PAIRS`] present with `first <= last`. The
/// inverted `lowfirst`/`lowlast` pair (1023 down to 600, the privileged range
/// allocated downwards) is dropped, as port-for drops it. Lines with other
/// keys are ignored.
pub(crate) fn bsd_sysctl(text: &str) -> Parsed<Vec<PortRange>> {
    let mut values = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once([':', '=']) else {
            return Err(ParseError(format!("sysctl: unexpected line {line:?}")));
        };
        let key = key.trim().rsplit('.').next().unwrap_or("");
        if SYSCTL_PAIRS.iter().any(|&(a, b)| key == a || key == b) {
            values.push((key.to_owned(), port(value, key)?));
        }
    }
    let get = |name: &str| values.iter().find(|(k, _)| k == name).map(|&(_, v)| v);
    let ranges: Vec<PortRange> = SYSCTL_PAIRS
        .iter()
        .filter_map(|&(first, last)| PortRange::new(get(first)?, get(last)?))
        .collect();
    if ranges.is_empty() {
        return Err(ParseError(
            "sysctl: no port range keys in the output".into(),
        ));
    }
    Ok(ranges)
}

/// The integer after the first `:` on each line that has one, in order.
/// Labels are localized on Windows, so they are not matched.
fn numbers_after_colons(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .filter_map(|(_, value)| value.trim().parse().ok())
        .collect()
}

/// `netsh int ipv4 show dynamicport tcp`: a start port and a number of ports.
pub(crate) fn windows_dynamic_port(text: &str) -> Parsed<PortRange> {
    let what = "netsh dynamicport";
    match numbers_after_colons(text)[..] {
        [start, count, ..] if count > 0 && start <= 65535 => {
            let end = (start + count - 1).min(65535);
            range(start as u16, end as u16, what)
        }
        _ => Err(ParseError(format!(
            "{what}: no start port and number of ports in {text:?}"
        ))),
    }
}

/// `netsh int ipv4 show excludedportrange protocol=tcp`: table rows of a
/// start and an end port, administered ones marked with a trailing `*`.
pub(crate) fn windows_excluded_ranges(text: &str) -> Parsed<Vec<PortRange>> {
    let what = "netsh excludedportrange";
    let mut ranges = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(start), Some(end)) = (fields.next(), fields.next()) else {
            continue;
        };
        // Header, separator and footnote lines do not start with two numbers.
        let (Ok(start), Ok(end)) = (start.parse::<u16>(), end.parse::<u16>()) else {
            continue;
        };
        ranges.push(range(start, end, what)?);
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u16, end: u16) -> PortRange {
        PortRange::new(start, end).unwrap()
    }

    macro_rules! sample {
        ($name:literal) => {
            include_str!(concat!("../../../data/os/", $name))
        };
    }

    #[test]
    fn linux_samples() {
        assert_eq!(
            linux_port_range(sample!("linux-ip_local_port_range.txt")),
            Ok(r(32768, 60999))
        );
        assert_eq!(
            linux_port_range(sample!("linux-ip_local_port_range-wide.txt")),
            Ok(r(1024, 65535))
        );
        assert_eq!(
            linux_reserved_ports(sample!("linux-ip_local_reserved_ports.txt")),
            Ok(vec![r(8000, 9000), r(12345, 12345), r(40000, 40010)])
        );
        assert_eq!(
            linux_reserved_ports(sample!("linux-ip_local_reserved_ports-empty.txt")),
            Ok(vec![])
        );
    }

    #[test]
    fn linux_rejects_malformed_input() {
        for bad in [
            "",
            "32768",
            "a b",
            "32768 60999 1",
            "60999 32768",
            "0 70000",
        ] {
            assert!(linux_port_range(bad).is_err(), "{bad:?}");
        }
        for bad in ["8000-", "x", "9000-8000", "1,,70000"] {
            assert!(linux_reserved_ports(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bsd_samples() {
        // macOS: the inverted low pair is dropped; first/last and hifirst/hilast stay.
        assert_eq!(
            bsd_sysctl(sample!("macos-sysctl-portrange.txt")),
            Ok(vec![r(49152, 65535), r(49152, 65535)])
        );
        // FreeBSD: ephemeral ports start at 10000 (IPPORT_EPHEMERALFIRST).
        assert_eq!(
            bsd_sysctl(sample!("freebsd-sysctl-portrange.txt")),
            Ok(vec![r(10000, 65535), r(49152, 65535)])
        );
        // OpenBSD: `=` separators and its own key names, which port-for never matches.
        assert_eq!(
            bsd_sysctl(sample!("openbsd-sysctl-ports.txt")),
            Ok(vec![r(1024, 49151), r(49152, 65535)])
        );
    }

    #[test]
    fn netbsd_names_its_range_anonport() {
        // `key = value`, and names port-for does not know.
        assert_eq!(
            bsd_sysctl(sample!("netbsd-sysctl-anonport.txt")),
            Ok(vec![r(49152, 65535)])
        );
        // What asking NetBSD for port-for's `portrange` gets: an error line,
        // which is no range (the fallback applies).
        assert!(bsd_sysctl(sample!("netbsd-sysctl-portrange-invalid.txt")).is_err());
    }

    #[test]
    fn bsd_rejects_output_without_ranges() {
        assert!(bsd_sysctl("sysctl: unknown oid 'net.inet.ip.portrange'").is_err());
        assert!(bsd_sysctl("").is_err());
        assert!(bsd_sysctl("net.inet.ip.portrange.first: lots").is_err());
        // An inverted pair alone (macOS's privileged range) is no range.
        assert!(
            bsd_sysctl("net.inet.ip.portrange.lowfirst: 1023\nnet.inet.ip.portrange.lowlast: 600")
                .is_err()
        );
        // A first without its last is no range either.
        assert!(bsd_sysctl("net.inet.ip.portrange.first: 49152").is_err());
    }

    #[test]
    fn windows_samples() {
        assert_eq!(
            windows_dynamic_port(sample!("windows-netsh-dynamicport-tcp.txt")),
            Ok(r(49152, 65535))
        );
        assert_eq!(
            windows_dynamic_port(sample!("windows-netsh-dynamicport-tcp-visual-studio.txt")),
            Ok(r(1024, 65534))
        );
        assert_eq!(
            windows_excluded_ranges(sample!("windows-netsh-excludedportrange-tcp.txt")),
            Ok(vec![
                r(1080, 1179),
                r(2869, 2869),
                r(5357, 5357),
                r(50000, 50059)
            ])
        );
        assert!(windows_dynamic_port("Das System kann die Datei nicht finden.").is_err());
    }

    /// netsh writes in the console's OEM code page (850 for German or
    /// French), which the backend decodes lossily as UTF-8, as here.
    fn oem(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn windows_localized_samples_parse_by_position_not_label() {
        assert_eq!(
            windows_dynamic_port(sample!("windows-netsh-dynamicport-tcp-german.txt")),
            Ok(r(49152, 65535))
        );
        let french = oem(include_bytes!(
            "../../../data/os/windows-netsh-dynamicport-tcp-french-cp850.txt"
        ));
        assert!(french.contains('\u{FFFD}'), "the sample holds a CP850 byte");
        assert_eq!(windows_dynamic_port(&french), Ok(r(50000, 65535)));
        let german = oem(include_bytes!(
            "../../../data/os/windows-netsh-excludedportrange-tcp-german-cp850.txt"
        ));
        assert_eq!(
            windows_excluded_ranges(&german),
            Ok(vec![r(5357, 5357), r(50000, 50059)])
        );
    }

    #[test]
    fn windows_unexpected_output_is_an_error_so_the_fallback_applies() {
        // wine 8.0's netsh prints nothing and exits 0.
        let wine = sample!("windows-netsh-dynamicport-tcp-wine.txt");
        assert_eq!(wine, "");
        let error = windows_dynamic_port(wine).unwrap_err();
        assert_eq!(
            error.0,
            "netsh dynamicport: no start port and number of ports in \"\""
        );
        // A netsh without the `int ipv4` context.
        assert!(
            windows_dynamic_port(sample!("windows-netsh-dynamicport-tcp-not-found.txt")).is_err()
        );
        // Hostile: zero ports, a start past 65535, one number only.
        assert!(
            windows_dynamic_port(sample!("windows-netsh-dynamicport-tcp-zero-ports.txt")).is_err()
        );
        assert!(windows_dynamic_port("Start Port : 70000\r\nNumber of Ports : 10\r\n").is_err());
        assert!(windows_dynamic_port("Start Port : 49152\r\n").is_err());
        // A table row whose end is below its start.
        assert!(windows_excluded_ranges("      5000        4000\r\n").is_err());
        // The range is clamped at 65535, never wrapped.
        assert_eq!(
            windows_dynamic_port("Start Port : 65000\r\nNumber of Ports : 16384\r\n"),
            Ok(r(65000, 65535))
        );
    }
}
