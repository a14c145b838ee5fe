//! The store against hostile surroundings: a port-for rewriting the file
//! in place at the same moment, special files where the store should be,
//! odd paths, and a store shared by the members of a group.
//!
//! Every store is a file in a temporary directory; no test touches
//! `/etc/port-for.conf` or the user's store.

// Skipped tests say why on stderr.
#![allow(clippy::print_stderr)]

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::port_for_python;
use portfor_test::{Builder, Store};

fn temp_store() -> (tempfile::TempDir, Store, Builder) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("port-for.conf"));
    let mut builder = Builder::new();
    builder.claim_dir(dir.path().join("claims"));
    (dir, store, builder)
}

/// What every round starts from: bindings, a comment, another section.
const EARLIER: &str =
    "# written by hand\n[DEFAULT]\nfoo = 20001\nbar = 20002\n\n[other]\nkey = value\n";

// --- A port-for writing at the same moment ---

/// Starts a Python process that rewrites `store` in place the way
/// port-for's `_save` does (`open(path, "w")`, which empties it, then a
/// write), but holds the emptied file for `hold` before writing back what
/// it read. Returns once the file is empty.
fn python_rewriting_in_place(store: &Path, hold: Duration) -> std::process::Child {
    let script = "
import sys, time
path = sys.argv[1]
text = open(path).read()
with open(path, 'w') as f:
    print('emptied', flush=True)
    time.sleep(float(sys.argv[2]))
    f.write(text)
";
    let mut child = Command::new(port_for_python())
        .args(["-c", script])
        .arg(store)
        .arg(hold.as_secs_f64().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("failed to run python");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "emptied", "python did not start its write");
    assert_eq!(fs::read(store).unwrap(), b"", "the file is not empty");
    child
}

/// The bindings and the other section of [`EARLIER`] are in `store`, as
/// port-for reads it.
fn assert_earlier_bindings_kept(store: &Store) {
    let text = fs::read_to_string(store.path()).unwrap();
    let list = store.list().unwrap();
    for (name, port) in [("foo", 20001), ("bar", 20002)] {
        assert!(
            list.contains(&(name.to_owned(), port)),
            "{name} lost:\n{text}"
        );
    }
    let other = common::python_port_store(
        store.path(),
        "print(store._get_parser()['other']['key'])",
        &[],
    );
    assert_eq!(other.trim(), "value", "the other section was lost:\n{text}");
}

#[test]
fn a_bind_while_python_holds_the_emptied_file_loses_nothing() {
    // 20 rounds at once, each with its own store: Python empties the file
    // and holds it empty for two seconds; portfor binds meanwhile. It must
    // wait for Python's write and add its binding to what Python wrote.
    let rounds: Vec<_> = (0..20)
        .map(|round| {
            let (dir, store, builder) = temp_store();
            fs::write(store.path(), EARLIER).unwrap();
            // Written some time before it is rewritten, as a real store is.
            std::thread::sleep(Duration::from_millis(20));
            // Two seconds: time enough to see the file empty on a loaded
            // machine, well within the five that a rewrite is waited for.
            let python = python_rewriting_in_place(store.path(), Duration::from_secs(2));
            let bind = {
                let store = store.clone();
                std::thread::spawn(move || store.bind_with("rs", Some(20004), &builder))
            };
            (round, dir, store, python, bind)
        })
        .collect();
    // Every line kept, the binding added, and an empty line at the end, as
    // port-for ends its files.
    let expected = EARLIER.replace("bar = 20002\n", "bar = 20002\nrs = 20004\n") + "\n";
    for (round, _dir, store, mut python, bind) in rounds {
        assert_eq!(bind.join().unwrap().unwrap(), 20004, "round {round}");
        assert!(python.wait().unwrap().success(), "round {round}");
        assert_eq!(
            fs::read_to_string(store.path()).unwrap(),
            expected,
            "round {round}"
        );
    }
}

#[test]
fn portfor_binders_next_to_a_port_for_rewriting_in_place_never_lose_earlier_content() {
    // One port-for binding name after name, each write held for 0-30 ms,
    // and ten portfor binders: whatever port-for loses of the others' new
    // names (its own unlocked read-modify-write), nothing written before
    // may be lost, and the file always reads.
    // PORTFOR_STORE_STRESS_ROUNDS=100 for a longer run.
    let rounds: u32 = std::env::var("PORTFOR_STORE_STRESS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    for round in 0..rounds {
        let (_dir, store, builder) = temp_store();
        fs::write(store.path(), EARLIER).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let script = "
import sys, time, random
from port_for import PortStore
random.seed(int(sys.argv[2]))
class Slow(PortStore):
    def _save(self, parser):
        with open(self._config, 'w') as f:
            time.sleep(random.random() * 0.03)
            parser.write(f)
store = Slow(sys.argv[1])
for i in range(10):
    store.bind_port('py%d' % i, str(21000 + i))
";
        let mut python = Command::new(port_for_python())
            .args(["-c", script])
            .arg(store.path())
            .arg(round.to_string())
            .spawn()
            .unwrap();
        let binders: Vec<_> = (0..10u16)
            .map(|i| {
                let (store, builder) = (store.clone(), builder.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(u64::from(i) * 7));
                    store.bind_with(&format!("rs{i}"), Some(22000 + i), &builder)
                })
            })
            .collect();
        for binder in binders {
            binder.join().unwrap().unwrap();
        }
        assert!(python.wait().unwrap().success());
        assert_earlier_bindings_kept(&store);
    }
}

// --- Special files where the store should be ---

#[cfg(unix)]
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs `f` on another thread; panics if it takes longer than `limit`
/// (a hang is what is being tested, and would otherwise never end).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || send.send(f()));
    receive
        .recv_timeout(limit)
        .expect("the store operation hung")
}

/// Every store operation on `path` fails with `expected`, and `path` is
/// left as it was (same kind of file).
#[track_caller]
fn assert_refused(path: &Path, builder: &Builder, expected: &str) {
    let kind = |path: &Path| fs::symlink_metadata(path).unwrap().file_type();
    let before = kind(path);
    let store = Store::open(path);
    type Operation = Box<dyn Fn(&Store) -> portfor_test::Result<()> + Send>;
    let operations: [(&str, Operation); 4] = [
        ("list", Box::new(|s| s.list().map(drop))),
        ("get", Box::new(|s| s.get("foo").map(drop))),
        ("bind", {
            let builder = builder.clone();
            Box::new(move |s| s.bind_with("foo", None, &builder).map(drop))
        }),
        ("unbind", Box::new(|s| s.unbind("foo").map(drop))),
    ];
    for (what, operation) in operations {
        let store = store.clone();
        let error = within(Duration::from_secs(10), move || {
            operation(&store).map_err(|e| e.to_string())
        })
        .expect_err(what);
        assert!(error.contains(expected), "{what}: {error}");
        assert_eq!(kind(path), before, "{what} replaced {}", path.display());
    }
}

#[test]
fn a_directory_is_not_a_store() {
    let (dir, _, builder) = temp_store();
    let path = dir.path().join("a-directory");
    fs::create_dir(&path).unwrap();
    assert_refused(&path, &builder, "is a directory");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_at_once_never_waited_on() {
    let (dir, _, builder) = temp_store();
    let path = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap()
            .success()
    );
    assert_refused(&path, &builder, "is a FIFO");
    // Through a symlink too.
    let link = dir.path().join("link-to-fifo");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert_refused(&link, &builder, "is a FIFO");
}

#[cfg(unix)]
#[test]
fn a_socket_is_not_a_store() {
    let (dir, _, builder) = temp_store();
    let path = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    assert_refused(&path, &builder, "is a socket");
}

#[cfg(unix)]
#[test]
fn a_device_node_is_never_replaced() {
    if !running_as_root() {
        eprintln!("skipped: mknod needs root");
        return;
    }
    let (dir, _, builder) = temp_store();
    // A character device with /dev/null's numbers, made in the temporary
    // directory: what a store path resolving to /dev/null would be.
    let device = dir.path().join("null");
    let made = Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(made.success(), "mknod failed");
    assert_refused(&device, &builder, "is a character device");
    let link = dir.path().join("store-link");
    std::os::unix::fs::symlink(&device, &link).unwrap();
    assert_refused(&link, &builder, "is a character device");
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&device).unwrap().file_type().is_char_device());
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_regular_file_is_written_through() {
    let (dir, store, builder) = temp_store();
    let real = dir.path().join("real.conf");
    fs::write(&real, EARLIER).unwrap();
    std::os::unix::fs::symlink(&real, store.path()).unwrap();
    store.bind_with("baz", Some(20005), &builder).unwrap();
    assert!(
        fs::symlink_metadata(store.path())
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(fs::read_to_string(&real).unwrap().contains("baz = 20005"));
}

// --- Paths ---

#[test]
fn an_empty_store_path_is_an_error_that_creates_nothing() {
    let (dir, _, builder) = temp_store();
    let store = Store::open("");
    let error = store.bind_with("foo", Some(20006), &builder).unwrap_err();
    assert!(error.to_string().contains("store path is empty"), "{error}");
    assert!(store.list().is_err());
    assert!(!PathBuf::from(".lock").exists(), "a stray .lock");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_store_in_a_missing_directory_is_an_error_that_creates_nothing() {
    let (dir, _, builder) = temp_store();
    let store = Store::open(dir.path().join("missing").join("deeper").join("ports.conf"));
    assert_eq!(store.list().unwrap(), [], "reading a missing store is fine");
    let error = store.bind_with("foo", Some(20006), &builder).unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn unbind_validates_names_as_bind_does() {
    let (_dir, store, builder) = temp_store();
    store.bind_with("keep", Some(20007), &builder).unwrap();
    let before = fs::read(store.path()).unwrap();
    for name in ["", "a=b", "a:b", "#hash", "[sec", " lead", "a\nb"] {
        let error = store.unbind(name).unwrap_err();
        assert!(
            error.to_string().contains("invalid name"),
            "{name:?}: {error}"
        );
        assert!(store.get(name).is_err(), "{name:?}");
    }
    assert_eq!(fs::read(store.path()).unwrap(), before);
}

// --- Ownership and modes ---

#[cfg(unix)]
#[test]
fn a_rewrite_keeps_owner_group_and_mode() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (_dir, store, builder) = temp_store();
    fs::write(store.path(), EARLIER).unwrap();
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).unwrap();
    let before = fs::metadata(store.path()).unwrap();
    if running_as_root() {
        // Another owner and group, which only root may give.
        std::os::unix::fs::chown(store.path(), Some(4243), Some(4242)).unwrap();
    }
    let before_ids = {
        let meta = fs::metadata(store.path()).unwrap();
        (meta.uid(), meta.gid())
    };
    store.bind_with("baz", Some(20008), &builder).unwrap();
    let after = fs::metadata(store.path()).unwrap();
    assert_ne!(
        after.ino(),
        before.ino(),
        "replaced, not rewritten in place"
    );
    store.unbind("foo").unwrap();
    for after in [after, fs::metadata(store.path()).unwrap()] {
        assert_eq!(after.mode() & 0o7777, 0o640);
        assert_eq!((after.uid(), after.gid()), before_ids);
    }
}

#[test]
fn a_path_ending_in_a_separator_names_no_file() {
    let (dir, _, builder) = temp_store();
    let path = format!("{}/x/", dir.path().display());
    let error = Store::open(&path)
        .bind_with("foo", Some(20006), &builder)
        .unwrap_err();
    assert!(error.to_string().contains("names a directory"), "{error}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

// --- A large store, which port-for writes in pieces ---

/// A store of 2,000 bindings (about 40 KB), which port-for writes in
/// pieces of 8 KiB.
fn large_store() -> String {
    let mut text = String::from("[DEFAULT]\n");
    for i in 0..2000 {
        text.push_str(&format!("name{i:04} = {}\n", 30000 + i));
    }
    text + "\n[other]\nkey = value\n\n"
}

#[test]
fn a_large_store_port_for_is_writing_in_pieces_is_waited_for() {
    let (_dir, store, builder) = temp_store();
    fs::write(store.path(), large_store()).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // Python rewrites the store in place as port-for does, but stops for two
    // seconds after its first piece (time to see it cut off on a loaded
    // machine, within the five seconds a rewrite is waited for).
    let script = "
import sys, time
path = sys.argv[1]
text = open(path).read()
with open(path, 'w', buffering=1 << 20) as f:
    f.write(text[:8192])
    f.flush()
    print('written', flush=True)
    time.sleep(2)
    f.write(text[8192:])
";
    let mut python = Command::new(port_for_python())
        .args(["-c", script])
        .arg(store.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(python.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "written");
    assert_eq!(
        fs::metadata(store.path()).unwrap().len(),
        8192,
        "not cut off"
    );
    // A reader waits for the whole file; so does a change.
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 2000, "a cut-off store was read");
    store.bind_with("rs", Some(20010), &builder).unwrap();
    assert!(python.wait().unwrap().success());
    let listed = store.list().unwrap();
    assert_eq!(listed.len(), 2001, "bindings lost");
    let other = common::python_port_store(
        store.path(),
        "print(store._get_parser()['other']['key'])",
        &[],
    );
    assert_eq!(other.trim(), "value", "the other section was lost");
}

// --- Stores that must be rewritten in place to stay what they are ---

#[test]
#[cfg_attr(
    not(unix),
    ignore = "std tells no hard-link count on Windows: a linked store is replaced there"
)]
fn a_store_with_two_hard_links_stays_one_file() {
    let (dir, store, builder) = temp_store();
    fs::write(store.path(), EARLIER).unwrap();
    let other = dir.path().join("other-name.conf");
    fs::hard_link(store.path(), &other).unwrap();
    store.bind_with("baz", Some(20011), &builder).unwrap();
    assert_eq!(
        fs::read(store.path()).unwrap(),
        fs::read(&other).unwrap(),
        "the links were split"
    );
    assert_eq!(Store::open(&other).get("baz").unwrap(), Some(20011));
}

/// The store a child of these tests binds in: `PORTFOR_TEST_STORE`.
#[cfg(unix)]
fn child_binds(name: &str, port: u16) {
    let store = Store::open(std::env::var_os("PORTFOR_TEST_STORE").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut builder = Builder::new();
    builder.claim_dir(dir.path());
    store.bind_with(name, Some(port), &builder).unwrap();
}

#[cfg(unix)]
#[test]
fn a_store_mounted_over_is_rewritten_in_place() {
    const TEST: &str = "a_store_mounted_over_is_rewritten_in_place";
    if common::is_child(TEST) {
        return child_binds("baz", 20012);
    }
    if !running_as_root() {
        eprintln!("skipped: a mount namespace needs root");
        return;
    }
    // A container's /etc/port-for.conf, bind-mounted from the host: it
    // cannot be renamed over.
    let (dir, _, _) = temp_store();
    let host = dir.path().join("host.conf");
    let inside = dir.path().join("port-for.conf");
    fs::write(&host, EARLIER).unwrap();
    fs::write(&inside, "").unwrap();
    let script = format!(
        "mount --bind {} {} && exec \"$0\" \"$@\"",
        host.display(),
        inside.display()
    );
    let mut command = common::child_command(TEST, &["unshare", "-m", "sh", "-c", &script]);
    command.env("PORTFOR_TEST_STORE", &inside);
    common::assert_child_passed(command);
    assert_eq!(Store::open(&host).get("baz").unwrap(), Some(20012));
    assert_earlier_bindings_kept(&Store::open(&host));
}

#[cfg(unix)]
#[test]
fn a_store_of_another_user_keeps_its_owner_and_acl() {
    const TEST: &str = "a_store_of_another_user_keeps_its_owner_and_acl";
    if common::is_child(TEST) {
        return child_binds(&std::env::var("PORTFOR_TEST_NAME").unwrap(), {
            std::env::var("PORTFOR_TEST_PORT").unwrap().parse().unwrap()
        });
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !running_as_root() {
        eprintln!("skipped: stores of other users need root to set up");
        return;
    }
    let (dir, store, builder) = temp_store();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    fs::write(store.path(), EARLIER).unwrap();
    let as_nobody = |name: &str, port: &str| {
        let mut command = common::child_command(TEST, common::AS_NOBODY);
        command
            .env("PORTFOR_TEST_STORE", store.path())
            .env("PORTFOR_TEST_NAME", name)
            .env("PORTFOR_TEST_PORT", port);
        common::assert_child_passed(command);
    };
    // Root's store, writable by all: nobody binds, root still owns it.
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o666)).unwrap();
    as_nobody("nobodys", "20013");
    let meta = fs::metadata(store.path()).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o666));
    // Root's store, shared with nobody by an ACL: root binds (the ACL
    // stays), then nobody binds again.
    let has_setfacl = Command::new("setfacl").arg("--version").output().is_ok();
    if !has_setfacl {
        eprintln!("skipped the ACL part: no setfacl (Debian's acl package)");
        return;
    }
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
    let set = Command::new("setfacl")
        .args(["-m", "u:65534:rw"])
        .arg(store.path())
        .status()
        .unwrap();
    assert!(set.success());
    store.bind_with("roots", Some(20014), &builder).unwrap();
    let acl = Command::new("getfacl").arg(store.path()).output().unwrap();
    let acl = String::from_utf8_lossy(&acl.stdout);
    assert!(
        acl.contains("user:nobody:rw-") || acl.contains("user:65534:rw-"),
        "{acl}"
    );
    as_nobody("nobody2", "20015");
    let list = store.list().unwrap();
    for name in ["nobodys", "roots", "nobody2"] {
        assert!(list.iter().any(|(n, _)| n == name), "{name} missing");
    }
    assert_earlier_bindings_kept(&store);
}
