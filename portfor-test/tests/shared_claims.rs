//! Claims every process on the machine honours: processes of other users,
//! with no setting and in a shared directory under any umask; links planted
//! by another user; a nearly full space; ports bound to names.
//!
//! The tests that need two users run as root (root and uid 65534, through
//! `setpriv`) and say they are skipped otherwise. Those that change the
//! ephemeral range run in a private network namespace.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{child_command, is_child};
use portfor_test::{Builder, CLAIM_DIR_ENV, Store, try_free_port};

/// What a child of these tests does: coordinate, or pick ports.
const ROLE_ENV: &str = "PORTFOR_TEST_ROLE";
const COUNT_ENV: &str = "PORTFOR_TEST_COUNT";

fn role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// `chmod`: sharing directories with other users is what these tests do
/// (on Unix; elsewhere they are ignored).
fn chmod(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A picker: waits for the common start, takes `PORTFOR_TEST_COUNT` ports
/// with `try_free_port()` (all it can get when unset), reports `PORT n` and
/// `FAILED message` lines and `DONE`, then holds its claims until stdin
/// closes.
fn picker() {
    common::wait_for_start();
    let count: Option<usize> = std::env::var(COUNT_ENV).ok().map(|c| c.parse().unwrap());
    let mut out = std::io::stdout().lock();
    let mut taken = 0;
    while count.is_none_or(|count| taken < count) {
        match try_free_port() {
            Ok(port) => writeln!(out, "PORT {port}").unwrap(),
            Err(e) => {
                writeln!(out, "FAILED {e}").unwrap();
                if count.is_none() {
                    break;
                }
            }
        }
        taken += 1;
    }
    writeln!(out, "DONE").unwrap();
    out.flush().unwrap();
    drop(out);
    let mut rest = String::new();
    let _ = std::io::stdin().read_to_string(&mut rest);
}

/// What a picker reported.
#[derive(Debug, Default)]
struct Picked {
    ports: Vec<u16>,
    failures: Vec<String>,
}

fn read_picked(child: &mut Child) -> Picked {
    let mut picked = Picked::default();
    for line in BufReader::new(child.stdout.as_mut().unwrap()).lines() {
        let line = line.unwrap();
        if line == "DONE" {
            return picked;
        }
        if let Some((_, port)) = line.split_once("PORT ") {
            picked.ports.push(port.parse().unwrap());
        } else if let Some((_, failure)) = line.split_once("FAILED ") {
            picked.failures.push(failure.to_owned());
        }
    }
    let mut stderr = String::new();
    let _ = child.stderr.as_mut().unwrap().read_to_string(&mut stderr);
    panic!(
        "a picker ended before DONE: {}\n{stderr}",
        child.wait().unwrap()
    );
}

/// Starts a picker of `test`, through `wrapper` (e.g. `setpriv ...`), with
/// `envs`; no claim directory unless `envs` names one.
fn spawn_picker(test: &str, wrapper: &[&str], envs: &[(&str, String)]) -> Child {
    let mut command = child_command(test, wrapper);
    command
        .env(ROLE_ENV, "picker")
        .env_remove(CLAIM_DIR_ENV)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().expect("failed to start a picker")
}

/// Collects every picker's report while all still hold their claims, then
/// lets them go.
fn collect(mut children: Vec<Child>) -> Vec<Picked> {
    let picked: Vec<Picked> = children.iter_mut().map(read_picked).collect();
    for mut child in children {
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }
    picked
}

/// Ports handed to more than one picker.
fn shared_ports(picked: &[Picked]) -> Vec<u16> {
    let mut owners: BTreeMap<u16, usize> = BTreeMap::new();
    for p in picked {
        for &port in &p.ports {
            *owners.entry(port).or_default() += 1;
        }
    }
    owners
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(p, _)| p)
        .collect()
}

// --- Two users, one network namespace ---

/// In the namespace: root and nobody each take 300 ports at one instant;
/// `umask` and `claim_dir` set the scene (no claim directory: the default).
fn two_users_at_once(test: &str, umask: &str, claim_dir: Option<&Path>) {
    let start = common::start_at(700);
    let mut envs = vec![
        (common::START_AT_ENV, start),
        (COUNT_ENV, "300".to_owned()),
        // Names in the real stores would not change the outcome; keep them
        // out all the same.
        ("PORTFOR_USER_STORE", "/nonexistent/user.conf".to_owned()),
        (
            "PORTFOR_SYSTEM_STORE",
            "/nonexistent/system.conf".to_owned(),
        ),
    ];
    if let Some(dir) = claim_dir {
        envs.push((CLAIM_DIR_ENV, dir.display().to_string()));
    }
    let script = format!("umask {umask}; exec \"$0\" \"$@\"");
    let as_root: Vec<&str> = vec!["sh", "-c", &script];
    let mut as_nobody = as_root.clone();
    as_nobody.splice(0..0, common::AS_NOBODY.iter().copied());
    let children = vec![
        spawn_picker(test, &as_root, &envs),
        spawn_picker(test, &as_nobody, &envs),
    ];
    let picked = collect(children);
    for (who, p) in ["root", "nobody"].iter().zip(&picked) {
        assert!(
            p.failures.is_empty(),
            "{who} failed {} times: {:?}",
            p.failures.len(),
            &p.failures[..p.failures.len().min(3)]
        );
        assert_eq!(p.ports.len(), 300, "{who}");
    }
    assert_eq!(shared_ports(&picked), [], "ports handed to both users");
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network namespaces (unshare) and users (setpriv)"
)]
fn two_users_in_one_network_namespace_are_never_handed_one_port() {
    const TEST: &str = "two_users_in_one_network_namespace_are_never_handed_one_port";
    if role().as_deref() == Some("picker") {
        return picker();
    }
    if is_child(TEST) {
        // In the namespace: with no setting, then in a shared directory
        // under the usual and the strictest umask.
        two_users_at_once(TEST, "022", None);
        for umask in ["022", "077"] {
            let dir = tempfile::tempdir().unwrap();
            chmod(dir.path(), 0o1777);
            let shared = dir.path().join("shared");
            two_users_at_once(TEST, umask, Some(&shared));
        }
        return;
    }
    if !running_as_root() {
        eprintln!("skipped: two users (root and uid 65534 through setpriv) need root");
        return;
    }
    let script = "set -e; ip link set lo up; exec \"$0\" \"$@\"";
    common::assert_child_passed(child_command(TEST, &["unshare", "-n", "sh", "-c", script]));
}

// --- Links planted by another user ---

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network namespaces (unshare) and users (setpriv)"
)]
fn links_another_user_plants_are_never_followed() {
    if !running_as_root() {
        eprintln!("skipped: planting links as another user (uid 65534) needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let claims = dir.path().join("claims");
    fs::create_dir(&claims).unwrap();
    chmod(&claims, 0o1777);
    let targets = dir.path().join("targets");
    fs::create_dir(&targets).unwrap();
    chmod(&targets, 0o777);
    // As nobody: a link in place of every claim file of the lower half of
    // the port space, dangling (where a file would be created) or to a
    // file of nobody's; a FIFO in place of one more (ports up to 33791).
    // And a private file: root may lock it (it writes nothing to it).
    let plant = format!(
        "for n in $(seq 0 63); do ln -s {t}/planted-$n {c}/claims-$n; done; \
         echo x > {t}/nobodys; ln -sf {t}/nobodys {c}/claims-64; \
         mkfifo {c}/claims-65; echo x > {c}/claims-66; chmod 600 {c}/claims-66",
        t = targets.display(),
        c = claims.display()
    );
    let mut command = Command::new(common::AS_NOBODY[0]);
    command
        .args(&common::AS_NOBODY[1..])
        .args(["sh", "-c", &plant]);
    assert!(command.status().unwrap().success(), "planting failed");

    let mut builder = Builder::new();
    builder.claim_dir(&claims).allow_ephemeral(true);
    // Ports of the planted files look claimed: never handed out, nothing
    // created through the links.
    let mut planted = builder.clone();
    planted.include(0..=33791);
    let error = planted.reserve().unwrap_err();
    assert!(error.is_exhausted(), "{error}");
    assert!(
        error
            .rejections()
            .iter()
            .all(|r| r.reason() == &portfor_test::Reason::Claimed),
        "{error}"
    );
    // The rest of the space works as usual.
    let mut upper = builder.clone();
    upper.include(33792..=65535);
    let port = upper.reserve().unwrap().port();
    assert!(port >= 33792);
    let created: Vec<_> = fs::read_dir(&targets)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(created, ["nobodys"], "files created through planted links");
    assert_eq!(fs::read_to_string(targets.join("nobodys")).unwrap(), "x\n");
}

// --- A nearly full space ---

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network namespaces (unshare) and users (setpriv)"
)]
fn four_processes_claiming_until_failure_get_every_candidate_once() {
    const TEST: &str = "four_processes_claiming_until_failure_get_every_candidate_once";
    if role().as_deref() == Some("picker") {
        return picker();
    }
    if !is_child(TEST) {
        // An ephemeral range that leaves a few thousand candidates.
        common::run_in_netns(
            TEST,
            "echo '15000 65535' > /proc/sys/net/ipv4/ip_local_port_range",
        );
        return;
    }
    let candidates = Builder::new().candidates().unwrap();
    assert!(
        (500..10_000).contains(&candidates.len()),
        "{} candidates",
        candidates.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let envs = [
        (CLAIM_DIR_ENV, dir.path().display().to_string()),
        ("PORTFOR_USER_STORE", "/nonexistent/user.conf".to_owned()),
        (
            "PORTFOR_SYSTEM_STORE",
            "/nonexistent/system.conf".to_owned(),
        ),
        (common::START_AT_ENV, common::start_at(500)),
    ];
    let children: Vec<Child> = (0..4).map(|_| spawn_picker(TEST, &[], &envs)).collect();
    let picked = collect(children);
    assert_eq!(shared_ports(&picked), [], "a port handed out twice");
    let all: BTreeSet<u16> = picked
        .iter()
        .flat_map(|p| p.ports.iter().copied())
        .collect();
    let expected: BTreeSet<u16> = candidates.iter().collect();
    assert_eq!(
        all, expected,
        "candidates left, or ports that are not candidates"
    );
    for p in &picked {
        assert_eq!(p.failures.len(), 1);
        let failure = &p.failures[0];
        assert!(failure.contains("claimed by portfor users"), "{failure}");
        assert!(failure.contains(" 0 in use"), "{failure}");
    }
    eprintln!(
        "{} candidates, taken {:?}",
        candidates.len(),
        picked.iter().map(|p| p.ports.len()).collect::<Vec<_>>()
    );
}

// --- Named ports ---

/// The child of the named-ports test: one port, then (once told to go on)
/// every port it can get.
fn named_picker() {
    let mut out = std::io::stdout().lock();
    writeln!(out, "PORT {}", try_free_port().unwrap()).unwrap();
    out.flush().unwrap();
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    loop {
        match try_free_port() {
            Ok(port) => writeln!(out, "PORT {port}").unwrap(),
            Err(e) => {
                writeln!(out, "FAILED {e}").unwrap();
                break;
            }
        }
    }
    writeln!(out, "DONE").unwrap();
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "needs Linux network namespaces (unshare) and users (setpriv)"
)]
fn free_port_hands_out_exactly_the_ports_no_name_is_bound_to() {
    const TEST: &str = "free_port_hands_out_exactly_the_ports_no_name_is_bound_to";
    if role().as_deref() == Some("named") {
        return named_picker();
    }
    if !is_child(TEST) {
        // In a private network namespace, where no other program holds a
        // candidate: the outcome is exact.
        common::run_in_netns(TEST, "true");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let candidates = Builder::new().candidates().unwrap();
    // Every candidate bound to a name but 20, the names split between the
    // user's store and the system store.
    let step = candidates.len() as usize / 20;
    let unnamed: BTreeSet<u16> = candidates.iter().step_by(step).take(20).collect();
    let user = dir.path().join("user.conf");
    let system = dir.path().join("system.conf");
    let mut texts = [String::from("[DEFAULT]\n"), String::from("[DEFAULT]\n")];
    for (i, port) in candidates
        .iter()
        .filter(|p| !unnamed.contains(p))
        .enumerate()
    {
        texts[i % 2].push_str(&format!("name{port} = {port}\n"));
    }
    fs::write(&user, &texts[0]).unwrap();
    fs::write(&system, &texts[1]).unwrap();

    let mut command = child_command(TEST, &[]);
    command
        .env(ROLE_ENV, "named")
        .env(CLAIM_DIR_ENV, dir.path().join("claims"))
        .env("PORTFOR_USER_STORE", &user)
        .env("PORTFOR_SYSTEM_STORE", &system)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: u16 = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|l| l.split_once("PORT ").map(|(_, p)| p.parse().unwrap()))
        .unwrap();
    assert!(unnamed.contains(&first), "{first} is bound to a name");
    // Another process binds one more of them, and is gone: the child must
    // see the store change and skip that port too.
    let late = *unnamed.iter().find(|&&p| p != first).unwrap();
    Store::open(&system).bind("late", Some(late)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    let mut got = vec![first];
    let mut failure = String::new();
    for line in lines.map(Result::unwrap) {
        if let Some((_, port)) = line.split_once("PORT ") {
            got.push(port.parse().unwrap());
        } else if let Some((_, message)) = line.split_once("FAILED ") {
            failure = message.to_owned();
        }
    }
    assert!(child.wait().unwrap().success());
    let got_set: BTreeSet<u16> = got.iter().copied().collect();
    assert_eq!(got_set.len(), got.len(), "a port handed out twice");
    let expected: BTreeSet<u16> = unnamed.iter().copied().filter(|&p| p != late).collect();
    assert_eq!(got_set, expected);
    assert!(
        failure.contains(&format!("{} bound to names", candidates.len() - 19)),
        "{failure}"
    );
}

// --- Errors say why ---

#[test]
#[cfg_attr(
    not(unix),
    ignore = "a claim directory under a file fails differently off Unix"
)]
fn a_claim_that_fails_says_the_operating_systems_cause() {
    const TEST: &str = "a_claim_that_fails_says_the_operating_systems_cause";
    if is_child(TEST) {
        // free_port() panics with the message.
        portfor_test::free_port();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    fs::write(&file, "").unwrap();
    let run = |wrapper: &[&str], claim_dir: &Path| {
        let mut command = child_command(TEST, wrapper);
        command.env(CLAIM_DIR_ENV, claim_dir);
        let output = command.output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(&[], &file.join("claims"));
    assert!(
        stderr.contains("portfor: failed to inspect claim directory")
            && stderr.contains("Not a directory (os error 20)"),
        "{stderr}"
    );
    if running_as_root() {
        chmod(dir.path(), 0o755);
        let closed = dir.path().join("closed");
        fs::create_dir(&closed).unwrap();
        chmod(&closed, 0o755);
        let stderr = run(common::AS_NOBODY, &closed);
        assert!(
            stderr.contains("failed to claim port")
                && stderr.contains("Permission denied (os error 13)"),
            "{stderr}"
        );
    }
}
