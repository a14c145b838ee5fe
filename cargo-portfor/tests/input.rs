//! Input refused the way users expect, before anything is written: one rule
//! for names, `bind --port` refusing ports a server should not use, and
//! `free -n` checked against the candidates first.

mod common;

use std::fs;

use common::Fixture;
use portfor_test::{Builder, SystemPortRanges, system_port_ranges};

#[test]
fn one_rule_for_names_wherever_a_name_is_taken() {
    let f = Fixture::workspace("shop");
    for name in ["x/y", "x@y", "a=b", "#x"] {
        for command in ["bind", "get", "unbind"] {
            f.cargo_portfor(&[command, name, "-p", "web"])
                .code(2)
                .error(&format!("invalid name {name:?}"));
        }
    }
    f.cargo_portfor(&["bind", "x/y", "-p", "web"])
        .error("a name cannot contain '/' or '@'");
    assert!(!f.user_store().exists(), "a refused name wrote the store");
    // The same names in metadata are refused with the same words.
    let web = f.root.join("web/Cargo.toml");
    fs::write(
        &web,
        fs::read_to_string(&web)
            .unwrap()
            .replace("ports = [\"http\"", "ports = [\"x@y\""),
    )
    .unwrap();
    f.cargo_portfor(&["list", "-p", "web"])
        .code(2)
        .error("`ports[0]`: invalid name \"x@y\": a name cannot contain '/' or '@'");
}

#[test]
fn bind_refuses_a_port_below_1024_with_the_reason_unless_forced() {
    let f = Fixture::workspace("shop");
    f.cargo_portfor(&["bind", "http", "-p", "api", "--port", "80"])
        .code(2)
        .error("refusing to bind `http` to port 80: it is below 1024, where binding needs root (or CAP_NET_BIND_SERVICE); pass --force to bind it anyway");
    assert!(!f.user_store().exists(), "a refused port wrote the store");
    let bound = f
        .cargo_portfor(&["bind", "http", "-p", "api", "--port", "80", "--force"])
        .ok()
        .stdout();
    assert_eq!(bound, "80\n");
    // Binding it again to the same port needs no force: nothing changes.
    f.cargo_portfor(&["bind", "http", "-p", "api", "--port", "80"])
        .ok();
}

#[test]
fn bind_refuses_an_ephemeral_port() {
    let f = Fixture::workspace("shop");
    // What selection uses: the detected ranges, or the fallback where
    // detection fails (wine's netsh prints nothing).
    let ranges = system_port_ranges().unwrap_or_else(|_| SystemPortRanges::fallback());
    let port = ranges.ephemeral().last().unwrap().to_string();
    f.cargo_portfor(&["bind", "http", "-p", "api", "--port", &port])
        .code(2)
        .error(&format!(
            "it is in the ephemeral range ({}), where any outgoing connection may take it; pass --force",
            ranges.ephemeral()
        ));
    f.cargo_portfor(&["bind", "http", "-p", "api", "--port", &port, "--force"])
        .ok();
}

#[cfg(target_os = "linux")]
#[test]
fn bind_refuses_a_reserved_port() {
    let f = Fixture::workspace("shop");
    let reserve = "echo 20000-20010 > /proc/sys/net/ipv4/ip_local_reserved_ports";
    let Some(run) =
        f.cargo_portfor_in_netns(reserve, &["bind", "http", "-p", "api", "--port", "20005"])
    else {
        return;
    };
    run.code(2)
        .error("the system reserves it (reserved ports: 20000-20010); pass --force");
    f.cargo_portfor_in_netns(
        reserve,
        &["bind", "http", "-p", "api", "--port", "20005", "--force"],
    )
    .unwrap()
    .ok();
}

#[test]
fn bind_refuses_a_port_bound_to_another_name() {
    let f = Fixture::workspace("shop");
    f.write_system_store("[DEFAULT]\nlegacy = 20000\n");
    let before = fs::read_to_string(f.system_store()).unwrap();
    f.cargo_portfor(&["bind", "http", "-p", "api", "--port", "20000"])
        .code(2)
        .error(&format!(
            "refusing to bind `http` to port 20000: it is bound to \"legacy\" in {}; pass --force",
            f.system_store().display()
        ));
    assert!(!f.user_store().exists());
    // Forced: the system store is another file, so this is the user's call.
    f.cargo_portfor(&["bind", "http", "-p", "api", "--port", "20000", "--force"])
        .ok();
    assert_eq!(fs::read_to_string(f.system_store()).unwrap(), before);
    // Two names of one store on one port: never, not even forced.
    let store_before = fs::read_to_string(f.user_store()).unwrap();
    f.cargo_portfor(&["bind", "http", "-p", "web", "--port", "20000"])
        .code(2)
        .error("unbind the other name first, or choose another port");
    f.cargo_portfor(&["bind", "http", "-p", "web", "--port", "20000", "--force"])
        .code(2)
        .error("unbind the other name first, or choose another port");
    assert_eq!(fs::read_to_string(f.user_store()).unwrap(), store_before);
}

#[test]
fn free_checks_the_count_against_the_candidates_at_once() {
    let f = Fixture::empty();
    let candidates = Builder::new().candidates().unwrap();
    let doc = f
        .cargo_portfor(&["doctor", "--message-format", "json"])
        .ok()
        .json();
    assert_eq!(doc["candidates"]["ports"], candidates.len());

    let too_many = (candidates.len() + 1).to_string();
    let run = f.cargo_portfor(&["free", "-n", &too_many]);
    run.code(2).error_line(
        "error: ",
        &format!(
            "cannot find {too_many} free ports: there are only {} candidate ports (see `cargo portfor doctor` for why)",
            candidates.len()
        ),
    );
    assert_eq!(run.stdout(), "");
    // Ports bound to names are not candidates for `free`.
    let named: Vec<u16> = candidates.iter().take(3).collect();
    let store: String = named
        .iter()
        .enumerate()
        .map(|(i, port)| format!("name{i} = {port}\n"))
        .collect();
    f.write_system_store(&format!("[DEFAULT]\n{store}"));
    let all = candidates.len().to_string();
    f.cargo_portfor(&["free", "-n", &all])
        .code(2)
        .error(&format!(
            "there are only {} candidate ports not bound to a name (3 more are)",
            candidates.len() - 3
        ));
}

/// In a private network namespace nothing else holds a port, so every
/// candidate is free: `free` then prints exactly the unclaimed candidates.
#[cfg(target_os = "linux")]
#[test]
fn free_skips_ports_a_portfor_process_claims() {
    let f = Fixture::empty();
    let range = "echo '10000 65535' > /proc/sys/net/ipv4/ip_local_port_range";
    let Some(doctor) = f.cargo_portfor_in_netns(range, &["doctor", "--message-format", "json"])
    else {
        return;
    };
    let count = doctor.ok().json()["candidates"]["ports"].as_u64().unwrap();
    assert!(count > 100, "{count}");
    // This process claims one of those candidates in the fixture's claim
    // directory, which `free` in the namespace shares. A reservation probes
    // the port here, outside the namespace, where another test may hold
    // it: the first of 20 that is free here will do.
    let some = f
        .cargo_portfor_in_netns(range, &["free", "-n", "20"])
        .unwrap()
        .ok()
        .stdout();
    let claim = some
        .split_whitespace()
        .find_map(|port| {
            let port: u16 = port.parse().unwrap();
            Builder::new()
                .claim_dir(f.dir.path().join("claims"))
                .include(port..=port)
                .reserve()
                .ok()
        })
        .expect("none of 20 candidates is free outside the namespace");
    let all = count.to_string();
    f.cargo_portfor_in_netns(range, &["free", "-n", &all])
        .unwrap()
        .code(2)
        .error(&format!(
            "cannot find {count} free ports: only {} of the {count} candidate ports are free and unclaimed now",
            count - 1
        ));
    let but_one = (count - 1).to_string();
    let run = f
        .cargo_portfor_in_netns(range, &["free", "-n", &but_one, "--message-format", "json"])
        .unwrap();
    let ports: Vec<u64> = run.ok().json()["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(ports.len() as u64, count - 1);
    assert!(
        !ports.contains(&u64::from(claim.port())),
        "{} printed",
        claim.port()
    );
}
