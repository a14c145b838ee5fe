//! Where portfor keeps its per-user state, and the environment overrides.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Environment variable naming the claim directory, overriding the per-user
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
/// the per-user default.
///
/// # Platform-specific behavior
///
/// The default is derived from the user id, never from `TMPDIR` (which test
/// harnesses such as Bazel change per test, and which would silently split
/// the processes that must coordinate):
///
/// - **Linux**: `/run/user/<uid>/portfor` when `/run/user/<uid>` exists (a
///   per-user tmpfs), else `/tmp/portfor-<uid>`.
/// - **Other Unix**: `/tmp/portfor-<uid>`.
/// - **Windows**: `portfor-claims` in the user's temporary directory.
///
/// # Errors
///
/// On Unix when `/run/user/<uid>` cannot be inspected.
pub fn claim_dir() -> Result<PathBuf> {
    match std::env::var_os(CLAIM_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => default_claim_dir(),
    }
}

#[cfg(unix)]
fn default_claim_dir() -> Result<PathBuf> {
    let uid = nix::unistd::geteuid();
    if cfg!(target_os = "linux") {
        let runtime = PathBuf::from(format!("/run/user/{uid}"));
        match fs::metadata(&runtime) {
            Ok(meta) if meta.is_dir() => return Ok(runtime.join("portfor")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io_at("failed to inspect", &runtime, e)),
        }
    }
    Ok(PathBuf::from(format!("/tmp/portfor-{uid}")))
}

#[cfg(not(unix))]
fn default_claim_dir() -> Result<PathBuf> {
    Ok(std::env::temp_dir().join("portfor-claims"))
}

/// Creates `dir` if needed. The per-user default (`private`) is created with
/// mode 0700 and must be a real directory owned by this user and closed to
/// others, so that nothing in a shared `/tmp` can be swapped in under it. A
/// directory named by `PORTFOR_CLAIM_DIR` is the user's choice, may be shared,
/// and only has to be a directory.
pub(crate) fn prepare_dir(dir: &Path, private: bool) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(!private);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io_at("failed to create claim directory", dir, e)),
    }
    // lstat: a symlink planted in /tmp is refused, not followed.
    let meta = fs::symlink_metadata(dir)
        .map_err(|e| Error::io_at("failed to inspect claim directory", dir, e))?;
    if !meta.is_dir() {
        return Err(Error::invalid(format!(
            "claim directory {} is not a directory",
            dir.display()
        )));
    }
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::MetadataExt;
        let uid = nix::unistd::geteuid().as_raw();
        if meta.uid() != uid {
            return Err(Error::invalid(format!(
                "claim directory {} belongs to uid {}, not to this user (uid {uid}); \
                 remove it or set {CLAIM_DIR_ENV}",
                dir.display(),
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(Error::invalid(format!(
                "claim directory {} is open to other users (mode {:o}); \
                 run `chmod 700` on it or set {CLAIM_DIR_ENV}",
                dir.display(),
                meta.mode() & 0o7777
            )));
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_dir_is_created_0700() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("claims");
        prepare_dir(&dir, true).unwrap();
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Preparing it again is fine.
        prepare_dir(&dir, true).unwrap();
    }

    #[test]
    fn a_private_dir_open_to_others_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("claims");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let error = prepare_dir(&dir, true).unwrap_err();
        assert!(error.to_string().contains("open to other users"), "{error}");
        // A directory the user chose may be shared.
        prepare_dir(&dir, false).unwrap();
    }

    #[test]
    fn a_symlink_in_place_of_the_dir_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("elsewhere");
        fs::create_dir(&target).unwrap();
        let dir = parent.path().join("claims");
        std::os::unix::fs::symlink(&target, &dir).unwrap();
        let error = prepare_dir(&dir, true).unwrap_err();
        assert!(error.to_string().contains("not a directory"), "{error}");
    }
}
