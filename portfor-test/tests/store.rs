//! The named-port store: port-for's own store tests, validation, crash
//! safety, concurrency, and interoperability with the real port-for 1.1.1.
//!
//! Every store here is a file in a temporary directory, and every claim goes
//! to a temporary claim directory: no test touches `/etc/port-for.conf` or
//! the user's store.

// Child processes report to the parent on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{child_command, is_child, python_port_store};
use portfor_test::{Builder, CLAIM_DIR_ENV, NamedPorts, Store, compat, parse_port_arg};

/// A store in a fresh temporary directory, choosing ports with claims in
/// that directory too.
struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    builder: Builder,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("port-for.conf"));
        let mut builder = Builder::new();
        builder.claim_dir(dir.path().join("claims"));
        Fixture {
            dir,
            store,
            builder,
        }
    }

    fn bind(&self, name: &str, port: Option<u16>) -> portfor_test::Result<u16> {
        self.store.bind_with(name, port, &self.builder)
    }

    fn path(&self) -> &Path {
        self.store.path()
    }

    fn bytes(&self) -> Vec<u8> {
        fs::read(self.path()).unwrap()
    }
}

// --- port-for's tests/test_store.py ---

#[test]
fn test_store() {
    let f = Fixture::new();
    assert_eq!(f.store.list().unwrap(), []);
    let port = f.bind("foo", None).unwrap();
    assert!(port > 0);
    assert_eq!(f.store.list().unwrap(), [("foo".to_owned(), port)]);
    assert_eq!(f.bind("foo", None).unwrap(), port);
    let port2 = f.bind("aar", None).unwrap();
    assert_ne!(port, port2);
    assert_eq!(
        f.store.list().unwrap(),
        [("foo".to_owned(), port), ("aar".to_owned(), port2)]
    );
    f.store.unbind("aar").unwrap();
    assert_eq!(f.store.list().unwrap(), [("foo".to_owned(), port)]);
}

#[test]
fn test_rebind() {
    let f = Fixture::new();
    let port = f.bind("foo", None).unwrap();
    assert!(f.bind("baz", Some(port)).is_err());
}

#[test]
fn test_change_port() {
    let f = Fixture::new();
    let port = f.bind("foo", None).unwrap();
    let other = compat::select_random(None, [port]).unwrap();
    assert_ne!(other, port);
    assert!(f.bind("foo", Some(other)).is_err());
}

#[test]
fn test_bind_unavailable() {
    let f = Fixture::new();
    assert_eq!(f.bind("foo", Some(80)).unwrap(), 80);
    assert_eq!(f.store.list().unwrap(), [("foo".to_owned(), 80)]);
}

#[test]
fn test_bind_non_auto() {
    let f = Fixture::new();
    let port = compat::select_random(None, []).unwrap();
    assert_eq!(f.bind("foo", Some(port)).unwrap(), port);
}

// --- Reading never writes ---

#[test]
fn reading_a_missing_store_creates_nothing() {
    let f = Fixture::new();
    assert_eq!(f.store.get("foo").unwrap(), None);
    assert_eq!(f.store.list().unwrap(), []);
    assert!(!f.store.unbind("foo").unwrap());
    let left: Vec<_> = fs::read_dir(f.dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files created: {left:?}");
}

#[test]
fn names_are_case_insensitive_and_stored_lower_cased() {
    let f = Fixture::new();
    let port = f.bind("Foo", None).unwrap();
    assert_eq!(f.bind("FOO", None).unwrap(), port);
    assert_eq!(f.store.get("fOo").unwrap(), Some(port));
    assert_eq!(
        f.bytes(),
        format!("[DEFAULT]\nfoo = {port}\n\n").into_bytes()
    );
}

// --- Bad input is an error and changes nothing ---

#[track_caller]
fn assert_rejected_unchanged(f: &Fixture, result: portfor_test::Result<u16>, expected: &str) {
    let before = f.bytes();
    let error = result.expect_err("accepted");
    assert!(error.to_string().contains(expected), "{error}");
    assert_eq!(f.bytes(), before, "the file changed");
}

#[test]
fn rejected_names_leave_the_file_byte_for_byte_unchanged() {
    let f = Fixture::new();
    f.bind("keep", Some(20000)).unwrap();
    let before = f.bytes();
    let cases = [
        ("", "cannot be empty"),
        ("a=b", "'=' or ':'"),
        ("a:b", "'=' or ':'"),
        ("a\nb", "control characters"),
        ("a\u{7}b", "control characters"),
        (" lead", "whitespace"),
        ("trail ", "whitespace"),
        ("#hash", "comment"),
        (";semi", "comment"),
        ("[sec]", "section"),
    ];
    for (name, expected) in cases {
        let result = f.bind(name, None);
        assert_rejected_unchanged(&f, result, expected);
        let result = f.bind(name, Some(20001));
        assert_rejected_unchanged(&f, result, expected);
    }
    assert_eq!(f.bytes(), before);
}

#[test]
fn rejected_ports_leave_the_file_byte_for_byte_unchanged() {
    let f = Fixture::new();
    f.bind("keep", Some(20000)).unwrap();
    // Not decimal, or outside 1-65535: refused before the store is touched.
    for text in ["abc", "", "0", "65536", "70000", "-3", "8e3", " 80"] {
        let error = parse_port_arg(text).unwrap_err();
        assert!(error.to_string().contains("1 to 65535"), "{error}");
    }
    let result = f.bind("new", Some(0));
    assert_rejected_unchanged(&f, result, "1 to 65535");
    // A port bound to another name, and a name bound to another port.
    let result = f.bind("other", Some(20000));
    assert_rejected_unchanged(&f, result, "already bound to \"keep\"");
    let result = f.bind("keep", Some(20002));
    assert_rejected_unchanged(&f, result, "bound to port 20000");
}

#[test]
fn a_malformed_store_is_an_error_naming_file_and_line_and_is_never_rewritten() {
    let f = Fixture::new();
    let cases = [
        "foo = 1\n",                               // no section header
        "[DEFAULT]\nfoo = 22357\n lead = 25498\n", // port-for's leading-space corruption
        "[DEFAULT]\nnew = abc\n",                  // port-for's `-p abc` poisoning
        "[DEFAULT]\nfoo = 1\nfoo = 2\n",
    ];
    for text in cases {
        fs::write(f.path(), text).unwrap();
        for result in [
            f.store.get("foo").map(|_| 0),
            f.store.list().map(|_| 0),
            f.bind("bar", None),
            f.store.unbind("foo").map(|_| 0),
        ] {
            let error = result.expect_err(text);
            let message = error.to_string();
            assert!(
                message.contains(&f.path().display().to_string()),
                "{message}"
            );
            assert!(message.contains("line "), "{message}");
        }
        assert_eq!(fs::read_to_string(f.path()).unwrap(), text);
    }
}

// --- Writing ---

#[test]
#[cfg_attr(not(unix), ignore = "Unix file modes (Windows has ACLs instead)")]
fn a_rewrite_keeps_the_files_permissions() {
    let f = Fixture::new();
    f.bind("a", Some(20000)).unwrap();
    unix::set_mode(f.path(), 0o640);
    f.bind("b", Some(20001)).unwrap();
    f.store.unbind("a").unwrap();
    assert_eq!(unix::mode(f.path()), 0o640);
}

#[test]
#[cfg_attr(
    not(unix),
    ignore = "a symbolic link needs a privilege on Windows (administrator or Developer Mode)"
)]
fn a_symlinked_store_is_written_through_the_link() {
    let f = Fixture::new();
    let real = f.dir.path().join("real.conf");
    unix::symlink(&real, f.path());
    f.bind("a", Some(20000)).unwrap();
    assert!(
        fs::symlink_metadata(f.path())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::read_to_string(&real).unwrap(),
        "[DEFAULT]\na = 20000\n\n"
    );
}

/// File modes and symbolic links, for the tests ignored elsewhere.
#[cfg(unix)]
mod unix {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    pub(super) fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    pub(super) fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    pub(super) fn symlink(target: &Path, link: &Path) {
        std::os::unix::fs::symlink(target, link).unwrap();
    }
}

#[cfg(not(unix))]
mod unix {
    use std::path::Path;

    const IGNORED: &str = "Unix only; the tests using it are ignored on this platform";

    pub(super) fn set_mode(_: &Path, _: u32) {
        unreachable!("{IGNORED}");
    }

    pub(super) fn mode(_: &Path) -> u32 {
        unreachable!("{IGNORED}");
    }

    pub(super) fn symlink(_: &Path, _: &Path) {
        unreachable!("{IGNORED}");
    }
}

#[test]
fn comments_and_other_sections_survive_a_change() {
    let f = Fixture::new();
    let text = "# managed by hand\n[DEFAULT]\nfoo = 20000\n\n[other]\nx = y\n";
    fs::write(f.path(), text).unwrap();
    f.bind("bar", Some(20001)).unwrap();
    f.store.unbind("bar").unwrap();
    // Every line kept; an empty line added at the end, as port-for ends
    // its files (readers take a file that does not for one cut off).
    assert_eq!(fs::read_to_string(f.path()).unwrap(), format!("{text}\n"));
}

/// Opens `path` for reading as Python's `open()` does: on Windows without
/// delete sharing, which keeps Windows from replacing the file meanwhile.
fn open_like_python(path: &Path) -> fs::File {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_SHARE_READ: u32 = 1;
        const FILE_SHARE_WRITE: u32 = 2;
        options.share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE);
    }
    options.open(path).unwrap()
}

#[test]
fn a_store_being_read_is_changed_once_the_reader_closes_it() {
    let f = Fixture::new();
    f.bind("a", Some(20000)).unwrap();
    let reader = open_like_python(f.path());
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(reader);
    });
    f.bind("b", Some(20001)).unwrap();
    closer.join().unwrap();
    assert_eq!(
        f.store.list().unwrap(),
        [("a".to_owned(), 20000), ("b".to_owned(), 20001)]
    );
}

#[test]
fn a_lock_held_too_long_is_a_timeout_naming_the_lock_file() {
    let f = Fixture::new();
    let lock_path = f.dir.path().join("port-for.conf.lock");
    let held = fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    let store = f.store.clone().lock_timeout(Duration::from_millis(200));
    let error = store.bind_with("a", Some(20000), &f.builder).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("timed out"), "{message}");
    assert!(
        message.contains(&lock_path.display().to_string()),
        "{message}"
    );
    assert!(!f.path().exists());
}

#[test]
fn a_new_binding_avoids_ports_of_the_other_store() {
    let f = Fixture::new();
    let system = Store::open(f.dir.path().join("system.conf"));
    // Bind every candidate but a handful in the "system" store.
    let candidates = f.builder.candidates().unwrap();
    let keep: BTreeSet<u16> = candidates.iter().step_by(1000).collect();
    let mut text = String::from("[DEFAULT]\n");
    for port in candidates.iter().filter(|p| !keep.contains(p)) {
        text.push_str(&format!("s{port} = {port}\n"));
    }
    fs::write(system.path(), text).unwrap();
    let store = f.store.clone().avoid(&system);
    for i in 0..keep.len().min(5) {
        let port = store.bind_with(&format!("n{i}"), None, &f.builder).unwrap();
        assert!(keep.contains(&port), "{port} is bound in the other store");
    }
}

// --- Many processes, and processes killed mid-write ---

fn spawn_store_child(test: &str, store: &Path, claims: &Path, envs: &[(&str, String)]) -> Child {
    let mut command = child_command(test, &[]);
    command
        .env("PORTFOR_TEST_STORE", store)
        .env(CLAIM_DIR_ENV, claims)
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.spawn().unwrap()
}

/// The store of the children; 64 of them queue for its lock, each writing
/// and syncing in turn, so they wait longer than the default 10 s for it on
/// a slow disk.
fn child_store() -> Store {
    Store::open(std::env::var_os("PORTFOR_TEST_STORE").unwrap())
        .lock_timeout(std::time::Duration::from_secs(60))
}

#[test]
fn sixty_four_processes_binding_at_once_lose_nothing() {
    const TEST: &str = "sixty_four_processes_binding_at_once_lose_nothing";
    if is_child(TEST) {
        let name = std::env::var("PORTFOR_TEST_NAME").unwrap();
        common::wait_for_start();
        let port = child_store().bind(&name, None).unwrap();
        println!("BOUND {name} {port}");
        return;
    }
    let f = Fixture::new();
    let start = common::start_at(1000);
    let claims = f.dir.path().join("claims");
    let children: Vec<Child> = (0..64)
        .map(|i| {
            spawn_store_child(
                TEST,
                f.path(),
                &claims,
                &[
                    ("PORTFOR_TEST_NAME", format!("app{i}")),
                    (common::START_AT_ENV, start.clone()),
                ],
            )
        })
        .collect();
    let mut reported = BTreeMap::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (_, rest) = stdout.split_once("BOUND ").expect("no BOUND line");
        let mut words = rest.split_whitespace();
        let name = words.next().unwrap().to_owned();
        let port: u16 = words.next().unwrap().parse().unwrap();
        reported.insert(name, port);
    }
    let stored: BTreeMap<String, u16> = f.store.list().unwrap().into_iter().collect();
    assert_eq!(stored.len(), 64, "entries lost: {stored:?}");
    assert_eq!(stored, reported);
    let ports: BTreeSet<u16> = stored.values().copied().collect();
    assert_eq!(ports.len(), 64, "two names share a port");
}

#[test]
fn a_process_killed_while_binding_never_corrupts_the_store() {
    const TEST: &str = "a_process_killed_while_binding_never_corrupts_the_store";
    if is_child(TEST) {
        let store = child_store();
        let prefix = std::env::var("PORTFOR_TEST_NAME").unwrap();
        for i in 0.. {
            let name = format!("{prefix}-{i}");
            let port = store.bind(&name, None).unwrap();
            println!("BOUND {name} {port}");
        }
        return;
    }
    let f = Fixture::new();
    let claims = f.dir.path().join("claims");
    let mut done: BTreeMap<String, u16> = BTreeMap::new();
    for round in 0..200u64 {
        let mut child = spawn_store_child(
            TEST,
            f.path(),
            &claims,
            &[("PORTFOR_TEST_NAME", format!("r{round}"))],
        );
        // A different moment each round: 0 to 29 ms after the first bind
        // (libtest's "running 1 test" comes before it).
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines
            .by_ref()
            .map(|line| line.expect("child output"))
            .find(|line| line.contains("BOUND "))
            .expect("child ended before its first bind");
        std::thread::sleep(Duration::from_micros((round * 7919) % 30_000));
        child.kill().unwrap();
        child.wait().unwrap();
        for line in std::iter::once(first).chain(lines.map_while(Result::ok)) {
            if let Some((_, rest)) = line.split_once("BOUND ") {
                let (name, port) = rest.split_once(' ').unwrap();
                done.insert(name.to_owned(), port.parse().unwrap());
            }
        }
        // The file parses, and holds every binding reported done.
        let stored: BTreeMap<String, u16> = f
            .store
            .list()
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .into_iter()
            .collect();
        for (name, port) in &done {
            assert_eq!(stored.get(name), Some(port), "round {round}: {name} lost");
        }
    }
    assert!(done.len() >= 200);
}

// --- Named ports ---

fn named_in(f: &Fixture, package: &str, dir: &str) -> NamedPorts {
    NamedPorts::package(package, dir)
        .store(f.store.clone())
        .builder(f.builder.clone())
}

#[test]
fn named_ports_are_stable_and_scoped_by_package_and_checkout() {
    let f = Fixture::new();
    let web = named_in(&f, "web", "/src/one/web");
    let db = web.port("db").unwrap();
    assert_eq!(web.port("db").unwrap(), db);
    assert_eq!(web.port("DB").unwrap(), db);
    assert_eq!(web.get("db").unwrap(), Some(db));
    let cache = web.port("cache").unwrap();
    let other_package = named_in(&f, "api", "/src/one/api").port("db").unwrap();
    let other_checkout = named_in(&f, "web", "/src/two/web").port("db").unwrap();
    let ports: BTreeSet<u16> = [db, cache, other_package, other_checkout].into();
    assert_eq!(ports.len(), 4);
    // Each checkout's directory is recorded once, for `cargo portfor check`.
    let checkouts = f.store.checkouts().unwrap();
    assert_eq!(checkouts.len(), 3, "{checkouts:?}");
    assert!(checkouts.contains(&(web.checkout().to_owned(), "/src/one/web".into())));
    assert!(named_in(&f, "web", "/src/one/web").port("a=b").is_err());
}

#[test]
fn a_named_port_is_the_same_in_another_process() {
    const TEST: &str = "a_named_port_is_the_same_in_another_process";
    if is_child(TEST) {
        let port = portfor_test::named_ports!()
            .store(child_store())
            .port("db")
            .unwrap();
        println!("BOUND db {port}");
        return;
    }
    let f = Fixture::new();
    let claims = f.dir.path().join("claims");
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            let output = spawn_store_child(TEST, f.path(), &claims, &[])
                .wait_with_output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let stdout = String::from_utf8(output.stdout).unwrap();
            stdout
                .split_once("BOUND db ")
                .unwrap()
                .1
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(ports[0], ports[1]);
    let key = portfor_test::named_ports!().key("db");
    assert_eq!(f.store.get(&key).unwrap(), Some(ports[0]));
}

// --- Interoperability with the real port-for 1.1.1 ---

fn python_list(store: &Path) -> Vec<(String, u16)> {
    let json = python_port_store(store, "print(json.dumps(store.bound_ports()))", &[]);
    let pairs: Vec<(String, u16)> = serde_json::from_str(&json).unwrap();
    pairs
}

#[test]
fn python_reads_a_store_with_named_ports_and_checkouts() {
    let f = Fixture::new();
    named_in(&f, "web", "/src/one/web").port("db").unwrap();
    named_in(&f, "api", "/src/one/api").port("db").unwrap();
    assert_eq!(f.store.checkouts().unwrap().len(), 2);
    // port-for reads the names and ignores the checkouts section.
    assert_eq!(python_list(f.path()), f.store.list().unwrap());
}

#[test]
fn names_bound_by_python_are_read_by_portfor() {
    let f = Fixture::new();
    for (name, port) in [
        ("foo", None),
        ("Bar", None),
        ("baz", Some("12345")),
        ("example.com/apache", None),
    ] {
        let args: Vec<&str> = std::iter::once(name).chain(port).collect();
        python_port_store(f.path(), "print(store.bind_port(*sys.argv[2:]))", &args);
    }
    let python = python_list(f.path());
    assert_eq!(python.len(), 4);
    assert_eq!(f.store.list().unwrap(), python);
    assert_eq!(f.store.get("BAR").unwrap(), Some(python[1].1));
    assert_eq!(f.store.get("baz").unwrap(), Some(12345));
}

#[test]
fn names_bound_by_portfor_are_read_by_python() {
    let f = Fixture::new();
    f.bind("Foo", None).unwrap();
    f.bind("Ünïcode", None).unwrap();
    f.bind("a b", Some(20000)).unwrap();
    f.bind("pct%x", None).unwrap();
    assert_eq!(python_list(f.path()), f.store.list().unwrap());
    // Python sees the same port for a name in any letter case.
    let port = python_port_store(f.path(), "print(store.bind_port('FOO'))", &[]);
    assert_eq!(
        port.trim().parse::<u16>().unwrap(),
        f.store.get("foo").unwrap().unwrap()
    );
}

#[test]
fn both_tools_writing_one_store_keep_it_valid_for_both() {
    let f = Fixture::new();
    fs::write(f.path(), "[DEFAULT]\n\n[other]\nkey = value\n").unwrap();
    python_port_store(f.path(), "store.bind_port('py1')", &[]);
    f.bind("rs1", None).unwrap();
    python_port_store(f.path(), "store.bind_port('py2')", &[]);
    f.bind("rs2", None).unwrap();
    python_port_store(f.path(), "store.unbind_port('rs1')", &[]);
    f.store.unbind("py1").unwrap();
    let names: Vec<String> = f
        .store
        .list()
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["py2", "rs2"]);
    assert_eq!(python_list(f.path()), f.store.list().unwrap());
    let other = python_port_store(f.path(), "print(store._get_parser()['other']['key'])", &[]);
    assert_eq!(other.trim(), "value", "the other section survived");
}

#[test]
fn both_tools_write_the_same_bytes() {
    let python = Fixture::new();
    let ours = Fixture::new();
    for (name, port) in [("foo", "22357"), ("bar", "32602"), ("baz", "12345")] {
        python_port_store(
            python.path(),
            "store.bind_port(sys.argv[2], sys.argv[3])",
            &[name, port],
        );
        ours.bind(name, Some(port.parse().unwrap())).unwrap();
    }
    assert_eq!(ours.bytes(), python.bytes());
    assert_eq!(
        ours.bytes(),
        b"[DEFAULT]\nfoo = 22357\nbar = 32602\nbaz = 12345\n\n"
    );
    for name in ["foo", "bar"] {
        python_port_store(python.path(), "store.unbind_port(sys.argv[2])", &[name]);
        ours.store.unbind(name).unwrap();
        assert_eq!(ours.bytes(), python.bytes(), "after unbinding {name}");
    }
    // The one deliberate difference: port-for empties the file, portfor
    // leaves the header (an empty file is what port-for's store looks like
    // mid-rewrite, which readers wait out). Both read either as empty.
    python_port_store(python.path(), "store.unbind_port('baz')", &[]);
    ours.store.unbind("baz").unwrap();
    assert_eq!(python.bytes(), b"");
    assert_eq!(ours.bytes(), b"[DEFAULT]\n\n");
    assert_eq!(python_list(ours.path()), []);
}
