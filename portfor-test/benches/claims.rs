//! Claims: `free_port()` against `portpicker::pick_unused_port()`, the cost
//! with 1 and with 5,000 claims held, and the duplicates of 16 processes
//! picking 50 ports each at the same moment.
//!
//! Run with `cargo bench -p portfor-test --bench claims`. The benchmark
//! re-runs itself with `PORTFOR_CLAIM_DIR` set to a temporary directory, so
//! it never uses the real per-user claim directory.

#![allow(missing_docs, clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{interleaved, ratio, row};
use portfor_test::{Builder, CLAIM_DIR_ENV, free_port};

const ROLE_ENV: &str = "PORTFOR_BENCH_ROLE";
const START_ENV: &str = "PORTFOR_BENCH_START_AT";

fn millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn main() {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("portfor") | Ok("portpicker") => return collision_child(),
        _ => {}
    }
    if std::env::var_os(CLAIM_DIR_ENV).is_none() {
        // Re-run with a private claim directory.
        let dir = std::env::temp_dir().join(format!("portfor-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new(std::env::current_exe().unwrap())
            .args(std::env::args_os().skip(1))
            .env(CLAIM_DIR_ENV, &dir)
            .status()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        std::process::exit(status.code().unwrap_or(1));
    }
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, per_round) = if quick { (2, 5) } else { (40, 50) };

    println!(
        "claims: free_port() (median of {} calls each, interleaved)",
        rounds * per_round
    );
    let mut portfor = || {
        black_box(free_port());
    };
    let mut portpicker = || {
        black_box(portpicker::pick_unused_port().expect("portpicker found no port"));
    };
    let mut floor = floor::Floor::new();
    let mut floor = || floor.step();
    let medians = interleaved(
        rounds,
        per_round,
        &mut [&mut portfor, &mut portpicker, &mut floor],
    );
    row("portfor free_port() (claim + probe)", medians[0]);
    row("portpicker::pick_unused_port() (probe only)", medians[1]);
    row("floor: one byte lock + one exclusive [::] bind", medians[2]);
    ratio(
        "ratio portfor / portpicker",
        medians[0].as_secs_f64() / medians[1].as_secs_f64(),
        "<= 2.0",
    );
    ratio(
        "ratio portfor / floor",
        medians[0].as_secs_f64() / medians[2].as_secs_f64(),
        "<= 1.3",
    );

    // Reserve-and-drop keeps the number of claims held constant while it is
    // measured; the claims held are `reserve_many` guards in a fresh directory.
    println!("claims: reserve-and-drop with claims already held");
    let dir = std::env::temp_dir().join(format!("portfor-bench-held-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut builder = Builder::new();
    builder.claim_dir(&dir);
    let one = builder.reserve_many(1).unwrap();
    let mut reserve = || {
        black_box(builder.reserve().unwrap());
    };
    let with_one = interleaved(rounds, per_round, &mut [&mut reserve])[0];
    let many = builder.reserve_many(if quick { 50 } else { 4999 }).unwrap();
    let held = one.len() + many.len();
    let mut reserve = || {
        black_box(builder.reserve().unwrap());
    };
    let with_many = interleaved(rounds, per_round, &mut [&mut reserve])[0];
    row("Builder::reserve() + drop, 1 claim held", with_one);
    row(
        &format!("Builder::reserve() + drop, {held} claims held"),
        with_many,
    );
    ratio(
        &format!("ratio {held} held / 1 held"),
        with_many.as_secs_f64() / with_one.as_secs_f64(),
        "<= 1.3",
    );
    drop((one, many));
    let _ = std::fs::remove_dir_all(&dir);

    let runs = if quick { 1 } else { 3 };
    println!(
        "collisions: 16 processes x 50 picks at the same moment, ports handed to two processes"
    );
    for tool in ["portfor", "portpicker"] {
        let counts: Vec<String> = (0..runs).map(|_| collision_run(tool).to_string()).collect();
        println!("  {tool:<44} {:>10}    (runs: {})", counts.join(", "), runs);
    }
}

/// 16 children pick 50 ports each at one instant and hold them (portfor
/// claims; portpicker has nothing to hold) until all are done.
fn collision_run(tool: &str) -> usize {
    let start = (millis_now() + 500).to_string();
    let mut children: Vec<_> = (0..16)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .env(ROLE_ENV, tool)
                .env(START_ENV, &start)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut owners: BTreeMap<u16, usize> = BTreeMap::new();
    for child in &mut children {
        let stdout = child.stdout.as_mut().unwrap();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line == "DONE" {
                break;
            }
            *owners.entry(line.parse().unwrap()).or_default() += 1;
        }
    }
    for mut child in children {
        drop(child.stdin.take());
        child.wait().unwrap();
    }
    owners.values().filter(|&&n| n > 1).count()
}

/// The least a claim can cost: one byte-range lock (and its release), as
/// a claim takes, and one exclusive bind of the dual-stack wildcard, as the
/// probe makes, on the next of the candidates.
mod floor {
    use std::hint::black_box;
    use std::net::{Ipv6Addr, SocketAddr};

    use socket2::{Domain, Socket, Type};

    pub(super) struct Floor {
        ports: Vec<u16>,
        next: usize,
        #[cfg(unix)]
        file: std::fs::File,
    }

    impl Floor {
        pub(super) fn new() -> Floor {
            let candidates = portfor_test::Builder::new().candidates().unwrap();
            Floor {
                ports: candidates.iter().collect(),
                next: 0,
                #[cfg(unix)]
                file: tempfile::tempfile().unwrap(),
            }
        }

        pub(super) fn step(&mut self) {
            let port = self.ports[self.next % self.ports.len()];
            self.next += 1;
            #[cfg(unix)]
            lock(&self.file, port, true);
            let socket = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
            socket.set_only_v6(false).unwrap();
            let _ = black_box(socket.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into()));
            #[cfg(unix)]
            lock(&self.file, port, false);
        }
    }

    #[cfg(unix)]
    fn lock(file: &std::fs::File, port: u16, on: bool) {
        use nix::fcntl::{FcntlArg, fcntl};
        use nix::libc;
        let kind = if on { libc::F_WRLCK } else { libc::F_UNLCK };
        let lock = libc::flock {
            l_type: kind as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: libc::off_t::from(port),
            l_len: 1,
            l_pid: 0,
            #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
            l_sysid: 0,
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let arg = FcntlArg::F_OFD_SETLK(&lock);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let arg = FcntlArg::F_SETLK(&lock);
        black_box(fcntl(file, arg).unwrap());
    }
}

fn collision_child() {
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    while millis_now() < start {
        std::hint::spin_loop();
    }
    let portfor = std::env::var(ROLE_ENV).unwrap() == "portfor";
    let ports: Vec<u16> = (0..50)
        .map(|_| {
            if portfor {
                free_port()
            } else {
                portpicker::pick_unused_port().unwrap()
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for port in ports {
        writeln!(out, "{port}").unwrap();
    }
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
    drop(out);
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
