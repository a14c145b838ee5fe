//! The real port-for 1.1.1, in a Python virtual environment, for the
//! interoperability tests of both crates (included by `#[path]`).

#![allow(dead_code, unreachable_pub)]

use std::process::Command;

/// Set to a Python interpreter that has `port-for==1.1.1` installed; `.ci/run`
/// sets it. Without it the tests make a virtual environment in the target
/// directory once (Python 3 with pip and access to PyPI needed).
pub const PYTHON_ENV: &str = "PORTFOR_PYTHON";

/// The Python interpreter with the real port-for 1.1.1.
pub fn port_for_python() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(python) = std::env::var_os(PYTHON_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(python);
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("port-for-1.1.1-venv");
    let python = venv.join(if cfg!(windows) {
        "Scripts/python.exe"
    } else {
        "bin/python"
    });
    let ready = venv.join("ready");
    if ready.exists() {
        return python;
    }
    // One test process makes it; the others wait on the lock.
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    if !ready.exists() {
        let run = |program: &std::path::Path, args: &[&str]| {
            let output = Command::new(program).args(args).output();
            match output {
                Ok(o) if o.status.success() => {}
                other => panic!(
                    "cannot set up port-for 1.1.1 ({program:?} {args:?}: {other:?}); \
                     set {PYTHON_ENV} to a Python that has it, as .ci/run does"
                ),
            }
        };
        run("python3".as_ref(), &["-m", "venv", venv.to_str().unwrap()]);
        run(
            &python,
            &["-m", "pip", "install", "--quiet", "port-for==1.1.1"],
        );
        std::fs::write(&ready, "").unwrap();
    }
    python
}

/// Runs `script` with the real port-for's `PortStore` on `store`; `args`
/// follow the store path in `sys.argv`. Returns stdout; panics on failure.
#[track_caller]
pub fn python_port_store(store: &std::path::Path, script: &str, args: &[&str]) -> String {
    let program = format!(
        "import sys, json\nfrom port_for import PortStore\nstore = PortStore(sys.argv[1])\n{script}\n"
    );
    let output = Command::new(port_for_python())
        .arg("-c")
        .arg(program)
        .arg(store)
        .args(args)
        .output()
        .expect("failed to run python");
    assert!(
        output.status.success(),
        "python failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}
