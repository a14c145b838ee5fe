//! `cargo portfor why PORT`: who has a port and why, checked against real
//! listeners, claims held by this test, names in both stores, the kernel's
//! ranges (in a private network namespace) and the registry data; exit 0
//! when the port is usable, 1 when not.

// A skipped check says so on stderr.
#![allow(clippy::print_stderr)]

mod common;

use std::net::{TcpListener, UdpSocket};

use common::{Fixture, Run};
use portfor_test::{Builder, SystemPortRanges, system_port_ranges};
use serde_json::Value;

fn why(f: &Fixture, port: u16) -> Run {
    f.cargo_portfor(&["why", &port.to_string(), "--message-format", "json"])
}

fn obstacle_kinds(doc: &Value) -> Vec<&str> {
    doc["free_port"]["obstacles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn a_free_candidate_is_usable_and_free_port_could_hand_it_out() {
    let f = Fixture::empty();
    // A portfor user elsewhere may claim the port in between: try a few.
    let clean = (0..5).find_map(|_| {
        let port = Builder::new().select().unwrap();
        let run = why(&f, port);
        (run.output.status.code() == Some(0)).then(|| (port, run.json()))
    });
    let (port, doc) = clean.expect("no selected port was usable");
    assert_eq!(doc["command"], "why");
    assert_eq!(doc["port"], port);
    assert_eq!(doc["usable"], true);
    assert_eq!(doc["reasons"], Value::Array(vec![]));
    assert_eq!(doc["in_use"]["probe"]["state"], "free");
    assert_eq!(doc["claimed"], false);
    assert_eq!(doc["registry"]["candidate"], true);
    assert_eq!(doc["registry"]["assigned_or_well_known"], false);
    assert_eq!(doc["free_port"]["could_hand_out"], true, "{doc}");
    let human = f.cargo_portfor(&["why", &port.to_string()]);
    let text = human.stdout();
    assert!(
        text.starts_with(&format!("port {port}: usable\n")),
        "{text}"
    );
    assert!(text.contains("free_port()  could hand it out"), "{text}");
}

#[test]
fn a_listener_is_shown_with_address_protocol_and_process() {
    let f = Fixture::empty();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let doc = why(&f, port).code(1).json();
    assert_eq!(doc["usable"], false);
    assert_eq!(doc["in_use"]["probe"]["state"], "in-use");
    assert!(obstacle_kinds(&doc).contains(&"taken"), "{doc}");
    if cfg!(target_os = "linux") {
        let sockets = doc["in_use"]["sockets"].as_array().unwrap();
        let listening = sockets
            .iter()
            .find(|s| s["state"] == "listen")
            .unwrap_or_else(|| panic!("no listener in {doc}"));
        assert_eq!(listening["protocol"], "tcp");
        assert_eq!(listening["address"], "127.0.0.1");
        assert_eq!(listening["pid"], std::process::id());
        let human = f.cargo_portfor(&["why", &port.to_string()]);
        let text = human.code(1).stdout();
        assert!(
            text.contains(&format!(
                "tcp 127.0.0.1:{port} listening, pid {}",
                std::process::id()
            )),
            "{text}"
        );
    }
}

#[test]
fn a_udp_socket_alone_makes_a_port_unusable() {
    let f = Fixture::empty();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let doc = why(&f, port).code(1).json();
    assert_eq!(doc["in_use"]["probe"]["protocol"], "udp", "{doc}");
    if cfg!(target_os = "linux") {
        let sockets = doc["in_use"]["sockets"].as_array().unwrap();
        assert!(
            sockets
                .iter()
                .any(|s| s["protocol"] == "udp" && s["pid"] == std::process::id()),
            "{doc}"
        );
    }
}

#[test]
fn names_in_both_stores_are_shown_with_their_package() {
    let f = Fixture::workspace("shop");
    let port = f.bind("db", "web");
    f.write_system_store(&format!("[DEFAULT]\nlegacy = {port}\n"));
    let doc = why(&f, port).code(1).json();
    let names = doc["names"].as_array().unwrap();
    assert_eq!(names.len(), 2, "{doc}");
    assert_eq!(names[0]["store"], f.user_store().to_str().unwrap());
    assert_eq!(names[0]["package"], "web");
    assert_eq!(names[0]["name"], "db");
    assert_eq!(
        names[0]["checkout_dir"],
        f.root.join("web").to_str().unwrap()
    );
    assert_eq!(names[1]["store"], f.system_store().to_str().unwrap());
    assert_eq!(names[1]["key"], "legacy");
    assert_eq!(names[1]["package"], Value::Null);
    assert_eq!(
        obstacle_kinds(&doc)
            .iter()
            .filter(|k| **k == "named")
            .count(),
        2,
        "{doc}"
    );
    let text = f
        .cargo_portfor(&["why", &port.to_string()])
        .code(1)
        .stdout();
    assert!(
        text.contains(&format!(
            "(package web in {})",
            f.root.join("web").display()
        )),
        "{text}"
    );
}

#[test]
fn a_claim_of_a_portfor_process_is_shown() {
    let f = Fixture::empty();
    // This test process claims a port in the fixture's claim directory.
    let reservation = Builder::new()
        .claim_dir(f.dir.path().join("claims"))
        .reserve()
        .unwrap();
    let doc = why(&f, reservation.port()).code(1).json();
    assert_eq!(doc["claimed"], true, "{doc}");
    assert!(obstacle_kinds(&doc).contains(&"claimed"), "{doc}");
    assert!(
        doc["reasons"]
            .as_array()
            .unwrap()
            .contains(&Value::from("a portfor process claims it")),
        "{doc}"
    );
    let port = reservation.port();
    drop(reservation);
    assert_eq!(why(&f, port).json()["claimed"], false);
}

#[test]
fn an_ephemeral_port_is_not_usable() {
    let f = Fixture::empty();
    // What selection uses: the detected ranges, or the fallback where
    // detection fails (wine's netsh prints nothing).
    let ranges = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
    let port = ranges.ephemeral().last().unwrap();
    let doc = why(&f, port).code(1).json();
    assert_eq!(doc["ranges"]["ephemeral"], true);
    assert!(obstacle_kinds(&doc).contains(&"ephemeral"), "{doc}");
    assert!(
        doc["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("it is in the ephemeral range")),
        "{doc}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_reserved_port_is_not_usable() {
    let f = Fixture::empty();
    let Some(run) = f.cargo_portfor_in_netns(
        "echo 20000-20010 > /proc/sys/net/ipv4/ip_local_reserved_ports",
        &["why", "20003", "--message-format", "json"],
    ) else {
        return;
    };
    let doc = run.code(1).json();
    assert_eq!(doc["ranges"]["reserved"], true);
    assert_eq!(doc["ranges"]["reserved_ranges"][0], "20000-20010");
    assert!(obstacle_kinds(&doc).contains(&"reserved"), "{doc}");
}

#[test]
fn registry_facts_come_from_the_snapshot_and_the_fetch_standard() {
    let f = Fixture::empty();
    let doc = why(&f, 8080).json();
    let registry = &doc["registry"];
    assert_eq!(registry["iana_range"], "user");
    assert_eq!(registry["iana_services"][0]["service"], "http-alt");
    assert_eq!(registry["assigned_or_well_known"], true);
    assert_eq!(registry["candidate"], false);
    assert_eq!(registry["browsers_refuse"], false);
    assert_eq!(obstacle_kinds(&doc)[0], "assigned-or-well-known");
    // Registry facts inform; they do not make a port unusable.
    let usable = doc["in_use"]["probe"]["state"] == "free"
        && doc["claimed"] == false
        && doc["names"].as_array().unwrap().is_empty();
    assert_eq!(doc["usable"], usable, "{doc}");

    let doc = why(&f, 6000).json();
    assert_eq!(doc["registry"]["browsers_refuse"], true);
    assert!(obstacle_kinds(&doc).contains(&"browser-refused"), "{doc}");
    assert_eq!(why(&f, 50000).json()["registry"]["iana_range"], "dynamic");
    let doc = why(&f, 143).json();
    assert_eq!(doc["registry"]["iana_range"], "system");
    assert_eq!(
        doc["registry"]["iana_services"],
        serde_json::json!([
            {"protocol": "tcp", "service": "imap"},
            {"protocol": "udp", "service": "Reserved"}
        ])
    );
}

#[test]
fn bad_ports_are_an_error() {
    let f = Fixture::empty();
    for bad in ["0", "abc", "70000", "+80", " 80"] {
        f.cargo_portfor(&["why", bad])
            .code(2)
            .error(&format!("invalid port {bad:?}"));
    }
    // clap takes "-1" for a flag, as cargo would.
    f.cargo_portfor(&["why", "-1"])
        .code(2)
        .error("unexpected argument '-1'");
}

/// As another user (uid 65534), a port below `ip_unprivileged_port_start`
/// cannot be bound: not usable, and said so. Needs root to switch users.
#[cfg(target_os = "linux")]
#[test]
fn a_privileged_port_is_not_usable_for_another_user() {
    use std::os::unix::fs::PermissionsExt;
    if !common::running_as_root() {
        eprintln!("skipped: switching to uid 65534 needs root");
        return;
    }
    let start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if start <= 80 {
        eprintln!("skipped: ip_unprivileged_port_start is {start}, so port 80 is open to all");
        return;
    }
    let f = Fixture::empty();
    // Stores and claims in a directory uid 65534 may use.
    std::fs::set_permissions(f.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut command = f.other(
        "setpriv",
        &[
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_cargo-portfor"),
            "portfor",
            "why",
            "80",
            "--message-format",
            "json",
        ],
    );
    command.env("HOME", f.dir.path());
    let run = Run::of(command);
    let doc = run.code(1).json();
    assert_eq!(doc["in_use"]["probe"]["state"], "forbidden", "{doc}");
    assert!(
        doc["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("binding it is not permitted on"),
        "{doc}"
    );
}
