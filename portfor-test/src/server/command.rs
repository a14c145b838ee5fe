//! The command a server runs: the caller's, given its port.
//!
//! `std::process::Command` cannot change an argument in place, so the
//! command is rebuilt from what it exposes: program, arguments (each
//! `{port}` replaced), environment changes and working directory. What it
//! does not expose (`env_clear`, stdio, and platform settings such as uid or
//! `pre_exec`) cannot be carried over; stdio is the server's to set anyway.

use std::ffi::{OsStr, OsString};
use std::process::{Command, Stdio};

/// Replaced by the port in every argument.
pub(super) const PORT_PLACEHOLDER: &str = "{port}";

/// `arg` with every `{port}` replaced by `port`.
pub(super) fn substitute(arg: &OsStr, port: &str) -> OsString {
    if let Some(text) = arg.to_str() {
        return text.replace(PORT_PLACEHOLDER, port).into();
    }
    substitute_raw(arg, port)
}

/// An argument that is not UTF-8, replaced in its raw form.
#[cfg(unix)]
fn substitute_raw(arg: &OsStr, port: &str) -> OsString {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    OsString::from_vec(replace(
        arg.as_bytes(),
        PORT_PLACEHOLDER.as_bytes(),
        port.as_bytes(),
    ))
}

#[cfg(windows)]
fn substitute_raw(arg: &OsStr, port: &str) -> OsString {
    use std::os::windows::ffi::{OsStrExt, OsStringExt};
    let wide = |s: &str| OsStr::new(s).encode_wide().collect::<Vec<u16>>();
    let arg: Vec<u16> = arg.encode_wide().collect();
    OsString::from_wide(&replace(&arg, &wide(PORT_PLACEHOLDER), &wide(port)))
}

#[cfg(not(any(unix, windows)))]
fn substitute_raw(arg: &OsStr, _port: &str) -> OsString {
    arg.to_owned()
}

/// `haystack` with every `needle` replaced by `with`.
#[cfg(any(unix, windows))]
fn replace<T: Copy + PartialEq>(haystack: &[T], needle: &[T], with: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while !rest.is_empty() {
        if rest.starts_with(needle) {
            out.extend_from_slice(with);
            rest = &rest[needle.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// The parts of the caller's command that carry over, with `{port}`
/// replaced in the arguments.
pub(super) struct Parts {
    pub(super) program: OsString,
    pub(super) args: Vec<OsString>,
}

impl Parts {
    pub(super) fn of(command: &Command, port: u16) -> Parts {
        let port = port.to_string();
        Parts {
            program: command.get_program().to_owned(),
            args: command
                .get_args()
                .map(|arg| substitute(arg, &port))
                .collect(),
        }
    }
}

/// `to` gets `from`'s environment changes and working directory, then
/// `port_env` set to the port, and stdin from /dev/null.
pub(super) fn carry_over(from: &Command, to: &mut Command, port_env: &OsStr, port: u16) {
    for (name, value) in from.get_envs() {
        match value {
            Some(value) => to.env(name, value),
            None => to.env_remove(name),
        };
    }
    if let Some(dir) = from.get_current_dir() {
        to.current_dir(dir);
    }
    to.env(port_env, port.to_string()).stdin(Stdio::null());
}

/// At most this many characters of a command are shown in messages.
const SHOWN_CHARS: usize = 200;

impl Parts {
    /// The command as messages show it: program and arguments, separated by
    /// spaces, those with spaces or quotes (or empty) in double quotes; cut
    /// after 200 characters.
    pub(super) fn display(&self) -> String {
        let words = std::iter::once(&self.program).chain(&self.args);
        let mut shown = String::new();
        for (i, word) in words.enumerate() {
            if i > 0 {
                shown.push(' ');
            }
            let word = word.to_string_lossy();
            if word.is_empty() || word.contains([' ', '\t', '\n', '"', '\'']) {
                shown.push_str(&format!("{word:?}"));
            } else {
                shown.push_str(&word);
            }
        }
        match shown.char_indices().nth(SHOWN_CHARS) {
            Some((cut, _)) => format!("{}...", &shown[..cut]),
            None => shown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_replaced() {
        assert_eq!(
            substitute(OsStr::new("--listen=127.0.0.1:{port},{port}"), "8080"),
            "--listen=127.0.0.1:8080,8080"
        );
        assert_eq!(substitute(OsStr::new("{por}{port"), "1"), "{por}{port");
    }

    #[cfg(unix)]
    #[test]
    fn arguments_that_are_not_utf8_are_replaced_too() {
        use std::os::unix::ffi::OsStrExt;
        let arg = OsStr::from_bytes(b"\xff{port}\xfe");
        assert_eq!(substitute(arg, "42").as_bytes(), b"\xff42\xfe");
    }

    #[test]
    fn parts_and_environment_carry_over() {
        let mut command = Command::new("server");
        command
            .args(["--port", "{port}"])
            .env("KEEP", "1")
            .env_remove("DROP")
            .current_dir("/somewhere");
        let parts = Parts::of(&command, 4242);
        assert_eq!(parts.program, "server");
        assert_eq!(parts.args, ["--port", "4242"]);
        let mut rebuilt = Command::new(&parts.program);
        carry_over(&command, &mut rebuilt, OsStr::new("HTTP_PORT"), 4242);
        let envs: Vec<_> = rebuilt.get_envs().collect();
        assert!(envs.contains(&(OsStr::new("KEEP"), Some(OsStr::new("1")))));
        assert!(envs.contains(&(OsStr::new("DROP"), None)));
        assert!(envs.contains(&(OsStr::new("HTTP_PORT"), Some(OsStr::new("4242")))));
        assert_eq!(
            rebuilt.get_current_dir(),
            Some(std::path::Path::new("/somewhere"))
        );
    }

    #[test]
    fn display_quotes_and_cuts() {
        let mut command = Command::new("python3");
        command.args(["-c", "print('hi')", ""]);
        assert_eq!(
            Parts::of(&command, 1).display(),
            r#"python3 -c "print('hi')" """#
        );
        let mut long = Command::new("x");
        long.arg("y".repeat(500));
        let shown = Parts::of(&long, 1).display();
        assert!(shown.ends_with("...") && shown.chars().count() == SHOWN_CHARS + 3);
    }
}
