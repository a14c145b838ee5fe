//! Children of a test that claim ports at one instant and report them: how
//! the tests count ports handed to two processes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Stdio};

use portfor_test::CLAIM_DIR_ENV;

use super::child_command;

/// A child running `test` with claims in `dir`, stdin and stdout piped.
pub fn spawn_child(test: &str, dir: Option<&Path>, envs: &[(&str, String)]) -> Child {
    let mut command = child_command(test, &[]);
    match dir {
        Some(dir) => command.env(CLAIM_DIR_ENV, dir),
        None => command.env_remove(CLAIM_DIR_ENV),
    };
    command
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("failed to start child")
}

/// Reads `PORT n` lines up to `DONE`; panics with the child's stderr if the
/// child ends first.
pub fn read_ports(child: &mut Child) -> Vec<u16> {
    let stdout = child.stdout.as_mut().unwrap();
    let mut ports = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line == "DONE" {
            return ports;
        }
        // The first line may follow libtest's "test name ... " on one line.
        if let Some((_, port)) = line.split_once("PORT ") {
            ports.push(port.parse().unwrap());
        }
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    panic!("child ended ({status}) before DONE:\n{stderr}");
}

/// In a child: report `ports`, then hold everything until the parent closes
/// stdin (so that all children hold their claims at the same time).
pub fn report_and_wait(ports: &[u16]) {
    let mut out = std::io::stdout().lock();
    for port in ports {
        writeln!(out, "PORT {port}").unwrap();
    }
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
    drop(out);
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut rest);
}

pub const PROCESSES: usize = 16;
pub const PER_PROCESS: usize = 50;

/// Starts 16 children of `test` at once, collects their ports while they all
/// still hold them, and returns how many ports two processes were handed.
///
/// With `private`, the children claim in a directory of their own; else in
/// the machine-wide one every portfor user shares.
pub fn collision_run(test: &str, private: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let start = super::start_at(500);
    let mut children: Vec<Child> = (0..PROCESSES)
        .map(|_| {
            spawn_child(
                test,
                private.then(|| dir.path()),
                &[(super::START_AT_ENV, start.clone())],
            )
        })
        .collect();
    let mut owners: BTreeMap<u16, usize> = BTreeMap::new();
    for child in &mut children {
        let ports = read_ports(child);
        assert_eq!(ports.len(), PER_PROCESS);
        for port in ports {
            *owners.entry(port).or_default() += 1;
        }
    }
    for mut child in children {
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }
    owners.values().filter(|&&n| n > 1).count()
}
