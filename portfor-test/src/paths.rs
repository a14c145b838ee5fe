//! Where portfor keeps its state (the claim directory, the stores), and the
//! environment overrides.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Environment variable naming the claim directory, overriding the
/// default. Processes that share one directory never hand out the same
/// port: point containers or users that share one network at one directory.
pub const CLAIM_DIR_ENV: &str = "PORTFOR_CLAIM_DIR";

/// Environment variable naming the system store file, instead of
/// `/etc/port-for.conf`.
pub const SYSTEM_STORE_ENV: &str = "PORTFOR_SYSTEM_STORE";

/// Environment variable naming the per-user store file, instead of the
/// default in the user's state directory.
pub const USER_STORE_ENV: &str = "PORTFOR_USER_STORE";

/// The system store shared with the Python port-for: `$PORTFOR_SYSTEM_STORE`
/// if set, else `/etc/port-for.conf` (port-for's fixed path, on every
/// platform).
pub fn system_store() -> PathBuf {
    match std::env::var_os(SYSTEM_STORE_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("/etc/port-for.conf"),
    }
}

/// This user's store of named ports: `$PORTFOR_USER_STORE` if set, else
/// `portfor/ports.conf` in the user's state directory.
///
/// # Platform-specific behavior
///
/// - **Linux and the BSDs**: `$XDG_STATE_HOME`, else `~/.local/state`.
/// - **macOS**: `~/Library/Application Support`.
/// - **Windows**: `%LOCALAPPDATA%`.
///
/// # Errors
///
/// When the variables above are unset and the home directory is unknown.
pub fn user_store() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(USER_STORE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let env_dir = |name| {
        std::env::var_os(name)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    let home = || {
        std::env::home_dir().ok_or_else(|| {
            Error::invalid(format!(
                "cannot find the home directory for the user store; set {USER_STORE_ENV}"
            ))
        })
    };
    let state = if cfg!(windows) {
        match env_dir("LOCALAPPDATA") {
            Some(dir) => dir,
            None => home()?.join("AppData").join("Local"),
        }
    } else if cfg!(target_os = "macos") {
        home()?.join("Library").join("Application Support")
    } else {
        match env_dir("XDG_STATE_HOME") {
            Some(dir) => dir,
            None => home()?.join(".local").join("state"),
        }
    };
    Ok(state.join("portfor").join("ports.conf"))
}

/// The claim directory this process uses: `$PORTFOR_CLAIM_DIR` if set, else
/// the one directory every user of the machine shares, so that no process
/// of any user is handed a port that a process of another user claims.
///
/// # Platform-specific behavior
///
/// - **Unix**: `/tmp/portfor-claims` (mode 1777, as `/tmp`), never
///   `$TMPDIR`, which test harnesses such as Bazel change per test.
/// - **Windows**: `portfor\claims` in `%ProgramData%`.
///
/// What another local user can and cannot do to it is in the crate docs
/// ("Races and guarantees").
pub fn claim_dir() -> PathBuf {
    match std::env::var_os(CLAIM_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => crate::claims::claim_dir::default_dir(),
    }
}
