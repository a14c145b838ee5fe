//! `port-for`, the drop-in: exact output, exit codes and error lines, run
//! as a real process against temporary stores (`PORTFOR_SYSTEM_STORE`).

// Skipped tests say why on stderr.
#![allow(clippy::print_stderr)]

mod common;

use std::fs;

use common::{Fixture, port_for_python, running_as_root};

const USAGE: &str = "\
usage: port-for [-h] [--bind FOO] [--port PORT] [--unbind FOO] [--list]
                [--version] [--store PATH] [--user]
                [NAME]
";

#[test]
fn bind_prints_the_port_and_keeps_it() {
    let f = Fixture::empty();
    let port = f.port_for(&["foo"]).ok().stdout();
    let number: u16 = port.strip_suffix('\n').unwrap().parse().unwrap();
    assert!(number > 1024);
    // The same port in any letter case, and through --bind.
    assert_eq!(f.port_for(&["FOO"]).ok().stdout(), port);
    assert_eq!(f.port_for(&["--bind", "Foo"]).ok().stdout(), port);
    assert_eq!(f.port_for(&["-b", "foo"]).ok().stdout(), port);
    assert_eq!(
        fs::read_to_string(f.system_store()).unwrap(),
        format!("[DEFAULT]\nfoo = {number}\n\n")
    );
}

#[test]
fn list_unbind_and_explicit_ports() {
    let f = Fixture::empty();
    assert_eq!(
        f.port_for(&["-l"]).ok().stdout(),
        "",
        "an empty store lists nothing"
    );
    assert!(!f.system_store().exists(), "--list created the store");
    assert_eq!(f.port_for(&["bar", "-p", "12345"]).ok().stdout(), "12345\n");
    assert_eq!(
        f.port_for(&["example.com/apache", "--port=35456"])
            .ok()
            .stdout(),
        "35456\n"
    );
    assert_eq!(
        f.port_for(&["--list"]).ok().stdout(),
        "bar: 12345\nexample.com/apache: 35456\n"
    );
    assert_eq!(f.port_for(&["-u", "bar"]).ok().stdout(), "");
    assert_eq!(f.port_for(&["-u", "never-bound"]).ok().stdout(), "");
    assert_eq!(
        f.port_for(&["-l"]).ok().stdout(),
        "example.com/apache: 35456\n"
    );
    // port-for's precedence: NAME before --list.
    assert_eq!(
        f.port_for(&["--list", "new", "-p", "20000"]).ok().stdout(),
        "20000\n"
    );
    // Nothing asked: nothing done, exit 0.
    f.port_for(&[]).ok();
    f.port_for(&["--port", "9999"]).ok();
    f.port_for(&["--bind", ""]).ok();
}

#[test]
fn version_and_help() {
    let f = Fixture::empty();
    assert_eq!(
        f.port_for(&["-v"]).ok().stdout(),
        format!("port-for 1.1.1 (portfor {})\n", env!("CARGO_PKG_VERSION"))
    );
    let help = f.port_for(&["--help"]).ok().stdout();
    assert!(help.starts_with(USAGE), "{help}");
    assert!(
        help.contains("--list, -l            List all associated ports"),
        "{help}"
    );
}

#[test]
fn usage_errors_exit_2_like_argparse() {
    let f = Fixture::empty();
    for (args, message) in [
        (&["foo", "bar"][..], "unrecognized arguments: bar"),
        (&["-p"][..], "argument --port/-p: expected one argument"),
        (
            &["--bind", "-dash"][..],
            "argument --bind/-b: expected one argument",
        ),
        (
            &["--frobnicate"][..],
            "unrecognized arguments: --frobnicate",
        ),
    ] {
        let run = f.port_for(args);
        run.code(2);
        assert_eq!(run.stderr(), format!("{USAGE}port-for: error: {message}\n"));
        assert_eq!(run.stdout(), "");
    }
}

#[test]
fn errors_are_one_line_exit_1_and_change_nothing() {
    let f = Fixture::empty();
    f.port_for(&["keep", "-p", "20000"]).ok();
    let before = fs::read(f.system_store()).unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["new", "-p", "abc"], "invalid port \"abc\""),
        (&["new", "-p", "70000"], "invalid port \"70000\""),
        (&["new", "-p", "-5"], "invalid port \"-5\""),
        (&["a=b"], "invalid name \"a=b\""),
        (&["#hash"], "invalid name \"#hash\""),
        (
            &["other", "-p", "20000"],
            "port 20000 is already bound to \"keep\"",
        ),
        (&["keep", "-p", "20001"], "bound to port 20000"),
    ];
    for (args, message) in cases {
        let run = f.port_for(args);
        run.code(1).error_line("port-for: error: ", message);
        assert_eq!(
            fs::read(f.system_store()).unwrap(),
            before,
            "{args:?} changed the store"
        );
    }
}

#[test]
fn a_malformed_or_unreadable_store_is_an_error_not_a_traceback() {
    let f = Fixture::empty();
    fs::write(f.system_store(), "[DEFAULT]\nfoo = 22357\n lead = 25498\n").unwrap();
    let store = f.system_store().display().to_string();
    for args in [&["-l"][..], &["bar"][..], &["-u", "foo"][..]] {
        f.port_for(args).code(1).error_line(
            "port-for: error: ",
            &format!("malformed store {store}: line 2: \"foo\" is bound to \"22357\\nlead = 25498\", which is not a number (indented, line 3 continues the value)"),
        );
    }
    // A store path that cannot be read as a file.
    let dir = f.dir.path().join("a-directory");
    fs::create_dir(&dir).unwrap();
    f.port_for(&["--store", dir.to_str().unwrap(), "-l"])
        .code(1)
        .error_line(
            "port-for: error: ",
            "is a directory; a store must be a regular file",
        );
}

#[test]
#[cfg_attr(
    not(unix),
    ignore = "needs Unix file modes and setpriv, to run as another Unix user"
)]
fn a_store_needing_root_says_how_to_proceed() {
    if !running_as_root() {
        // Checked below as nobody when root; as a user, the real /etc would
        // be needed, which tests never touch.
        return;
    }
    let f = Fixture::empty();
    f.port_for(&["keep", "-p", "20000"]).ok();
    // Let nobody into the temporary directory, not into the store.
    set_mode(f.dir.path(), 0o755);
    set_mode(&f.system_store(), 0o644);
    let as_nobody = |args: &[&str]| {
        let mut full = vec!["--reuid", "65534", "--regid", "65534", "--clear-groups"];
        full.push(env!("CARGO_BIN_EXE_port-for"));
        full.extend_from_slice(args);
        let mut command = f.other("setpriv", &full);
        command.env("PORTFOR_USER_STORE", f.dir.path().join("nobody.conf"));
        common::Run::of(command)
    };
    as_nobody(&["newname"])
        .code(1)
        .error_line("port-for: error: ", "run with sudo, or add --user");
    // Reading needs no root.
    let run = as_nobody(&["--list"]);
    assert_eq!(run.ok().stdout(), "keep: 20000\n");
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// File modes are Unix only; the one test that uses them is ignored elsewhere.
#[cfg(not(unix))]
fn set_mode(path: &std::path::Path, mode: u32) {
    unreachable!("no Unix file mode {mode:o} for {path:?} on this platform");
}

/// The same store driven by this `port-for` and by the Python port-for
/// 1.1.1's own command line (its `main()`, with the store path it hard-codes
/// pointed at the test's file): identical `--list` output.
#[test]
fn the_python_port_for_and_this_one_agree_on_one_store() {
    let f = Fixture::empty();
    let python = |args: &[&str]| -> String {
        let script = "import sys, port_for.cmd as cmd\n\
                      from port_for import PortStore\n\
                      path = sys.argv.pop(1)\n\
                      cmd.PortStore = lambda: PortStore(path)\n\
                      cmd.main()\n";
        let output = std::process::Command::new(port_for_python())
            .args(["-c", script, f.system_store().to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let a = python(&["alpha"]);
    let b = f.port_for(&["Beta"]).ok().stdout();
    assert_eq!(python(&["BETA"]), b, "Python sees this tool's binding");
    assert_eq!(
        f.port_for(&["alpha"]).ok().stdout(),
        a,
        "and the other way round"
    );
    python(&["gamma", "-p", "12345"]);
    f.port_for(&["delta", "-p", "23456"]).ok();
    python(&["-u", "beta"]);
    let ours = f.port_for(&["--list"]).ok().stdout();
    assert_eq!(ours, python(&["--list"]));
    assert_eq!(ours, format!("alpha: {}gamma: 12345\ndelta: 23456\n", a));
}

/// Store `root:4242 0664` in a setgid `2775` directory of group 4242: two
/// users of that group bind in turn, each after the other, and the store
/// and its lock file stay usable by both (group and mode kept).
#[cfg(unix)]
#[test]
fn a_group_shared_store_keeps_working_for_every_member() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !running_as_root() {
        eprintln!("skipped: making users of one group needs root (setpriv)");
        return;
    }
    let f = Fixture::empty();
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let shared = f.dir.path().join("shared");
    fs::create_dir(&shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(0), Some(4242)).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o2775)).unwrap();
    let store = shared.join("ports.conf");
    fs::write(&store, "[DEFAULT]\nroot = 20000\n\n").unwrap();
    std::os::unix::fs::chown(&store, Some(0), Some(4242)).unwrap();
    fs::set_permissions(&store, fs::Permissions::from_mode(0o664)).unwrap();
    let store_arg = store.to_str().unwrap();
    let as_member = |uid: &str, args: &[&str]| {
        let mut full = vec!["--reuid", uid, "--regid", uid, "--groups", "4242"];
        full.push(env!("CARGO_BIN_EXE_port-for"));
        full.extend_from_slice(&["--store", store_arg]);
        full.extend_from_slice(args);
        // The members' usual umask, which made the lock file 0644.
        let mut command = f.other("sh", &["-c", "umask 022; exec setpriv \"$@\"", "sh"]);
        command.args(&full);
        common::Run::of(command)
    };
    for round in 0..3u16 {
        for (i, uid) in ["4301", "4302"].into_iter().enumerate() {
            let port = 20001 + round * 2 + i as u16;
            let name = format!("u{uid}r{round}");
            as_member(uid, &[&name, "-p", &port.to_string()]).ok();
            let meta = fs::metadata(&store).unwrap();
            assert_eq!(meta.gid(), 4242, "group lost after {name}");
            assert_eq!(meta.mode() & 0o777, 0o664, "mode changed after {name}");
        }
    }
    as_member("4302", &["-u", "u4301r0"]).ok();
    let list = as_member("4301", &["--list"]).ok().stdout();
    assert_eq!(list.lines().count(), 6, "{list}");
    let lock = fs::metadata(shared.join("ports.conf.lock")).unwrap();
    assert_eq!(lock.gid(), 4242);
    assert_eq!(lock.mode() & 0o660, 0o660, "lock not usable by the group");
}

#[test]
fn an_empty_or_missing_store_path_is_an_error_with_no_side_effects() {
    let f = Fixture::empty();
    f.port_for(&["--store", "", "newname"])
        .code(1)
        .error_line("port-for: error: ", "the store path is empty");
    f.port_for(&["--store", "", "-l"]).code(1);
    assert!(!f.root.join(".lock").exists(), "a stray .lock");
    let missing = f.dir.path().join("no").join("such").join("ports.conf");
    f.port_for(&["--store", missing.to_str().unwrap(), "newname"])
        .code(1)
        .error_line("port-for: error: ", "does not exist");
    assert!(!f.dir.path().join("no").exists(), "directories created");
}

#[test]
fn unbind_refuses_names_the_store_cannot_hold() {
    let f = Fixture::empty();
    f.port_for(&["keep", "-p", "20000"]).ok();
    let before = fs::read(f.system_store()).unwrap();
    for name in ["a=b", "#x", "[x", "a:b"] {
        f.port_for(&["-u", name])
            .code(1)
            .error_line("port-for: error: ", "invalid name");
    }
    assert_eq!(fs::read(f.system_store()).unwrap(), before);
}

/// The panic of the issue: an indented header after the spot where the new
/// binding would go.
#[test]
fn a_binding_never_changes_how_the_lines_after_it_read() {
    let f = Fixture::empty();
    fs::write(f.system_store(), " [other]\nx = y\n").unwrap();
    let port = f.port_for(&["newname"]).ok().stdout();
    let list = std::process::Command::new(port_for_python())
        .args([
            "-c",
            "import sys\nfrom port_for import PortStore\n\
             print(PortStore(sys.argv[1]).bound_ports())",
        ])
        .arg(f.system_store())
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert_eq!(list.trim(), format!("[('newname', {})]", port.trim()));
    let other = std::process::Command::new(port_for_python())
        .args([
            "-c",
            "import sys, configparser\n\
             p = configparser.ConfigParser(); p.read(sys.argv[1]); print(p['other']['x'])",
        ])
        .arg(f.system_store())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&other.stdout).trim(), "y");
}

#[test]
fn control_characters_from_the_file_are_escaped_in_messages() {
    let f = Fixture::empty();
    fs::write(
        f.system_store(),
        "[DEFAULT]\n[evil\x1b]2J]\nx = 1\n[evil\x1b]2J]\n",
    )
    .unwrap();
    let run = f.port_for(&["-l"]);
    run.code(1);
    assert!(!run.stderr().contains('\x1b'), "{:?}", run.stderr());
    assert!(run.stderr().contains("\\u{1b}"), "{:?}", run.stderr());
}
