//! The claim directory every user of the machine shares, and how the files
//! in it are opened, so that other local users can at worst make ports look
//! claimed.
//!
//! The default is one directory for the whole machine, because ports belong
//! to the machine's network namespace, not to a user: `/tmp/portfor-claims`
//! on Unix, made sticky and writable by all (mode 1777, like `/tmp`) by
//! whichever user needs it first. Another local user can then:
//!
//! - not make portfor follow a link: the directory is never a symlink, and
//!   claim files are opened with `O_NOFOLLOW`;
//! - not make portfor create a file where they choose: claim files are
//!   created with `O_EXCL` (never through a link, never over a file), and
//!   given mode 0666 with `fchmod`, whatever the umask, so that every user
//!   may lock them;
//! - not make portfor open someone else's file with `O_CREAT`, which
//!   `fs.protected_regular` refuses in a sticky directory: existing files
//!   are opened without it;
//! - make ports look claimed, by making a claim file unusable (a symlink, a
//!   file only they may write, a FIFO): its ports are skipped, as ports
//!   they bind would be;
//! - delete the claim files they created (or, if they created the
//!   directory, any), after which processes that start later do not see
//!   claims made before: the next bind of such a port may fail, as it
//!   would if they had bound the port themselves.
//!
//! `PORTFOR_CLAIM_DIR` (or [`Builder::claim_dir`](crate::Builder::claim_dir))
//! names another directory, for processes that must see each other but do
//! not share `/tmp` (containers on one network namespace). It may be a
//! symlink to a directory; a missing one is created, shared as above; the
//! files in it are opened with the same care.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The machine-wide claim directory.
///
/// # Platform-specific behavior
///
/// - **Unix**: `/tmp/portfor-claims`, never `$TMPDIR` (which test
///   harnesses such as Bazel change per test, and which would silently
///   split processes that must coordinate).
/// - **Windows**: `portfor\claims` in `%ProgramData%`, where every user may
///   create files and read (so lock) the files of others, by Windows'
///   default permissions; the temporary directory if it is unset.
pub(crate) fn default_dir() -> PathBuf {
    if cfg!(windows) {
        match std::env::var_os("ProgramData").filter(|d| !d.is_empty()) {
            Some(data) => PathBuf::from(data).join("portfor").join("claims"),
            None => std::env::temp_dir().join("portfor-claims"),
        }
    } else {
        PathBuf::from("/tmp/portfor-claims")
    }
}

/// Makes `dir` ready for claims: creates it shared if missing; checks that
/// the default one is a real directory others cannot tamper with beyond
/// what the module docs say; follows a symlink only for a directory the
/// user named.
pub(crate) fn prepare(dir: &Path, default: bool) -> Result<()> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return create(dir, default),
        Err(e) => return Err(Error::io_at("failed to inspect claim directory", dir, e)),
    };
    let meta = if meta.file_type().is_symlink() && !default {
        fs::metadata(dir).map_err(|e| Error::io_at("failed to follow claim directory", dir, e))?
    } else {
        meta
    };
    if !meta.is_dir() {
        return Err(Error::invalid(format!(
            "claim directory {} is not a directory{}",
            dir.display(),
            if meta.file_type().is_symlink() {
                " (a symbolic link, which the default claim directory must not be; remove it)"
            } else {
                ""
            }
        )));
    }
    check_shared(dir, &meta, default)
}

fn create(dir: &Path, default: bool) -> Result<()> {
    // The default's parent is `/tmp` on Unix (there already), and
    // `%ProgramData%\portfor` on Windows (made here).
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| Error::io_at("failed to create claim directory", parent, e))?;
    }
    // Not recursive: only the process that made the directory shares it.
    match fs::create_dir(dir) {
        Ok(()) => share(dir),
        // Another process made it meanwhile: check what it made.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => prepare(dir, default),
        Err(e) => Err(Error::io_at("failed to create claim directory", dir, e)),
    }
}

/// Opens a directory this process made to every user, sticky (mode 1777):
/// each may add files, none may remove another's.
#[cfg(unix)]
fn share(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o1777))
        .map_err(|e| Error::io_at("failed to share claim directory", dir, e))
}

#[cfg(not(unix))]
fn share(_dir: &Path) -> Result<()> {
    Ok(())
}

/// The default directory, made by another user, must be sticky and open to
/// all: else that user could swap files in it, or keep others out. One just
/// made by another process is shared a moment after it is made (`mkdir`
/// takes the umask, `chmod` follows): that moment is waited out, for a
/// directory the user named too.
#[cfg(unix)]
fn check_shared(dir: &Path, meta: &fs::Metadata, default: bool) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() == me {
        return match default && meta.mode() & 0o1777 != 0o1777 {
            // Made by this user (an older portfor, or a restrictive umask).
            true => share(dir),
            false => Ok(()),
        };
    }
    let mut meta = meta.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while meta.mode() & 0o1777 != 0o1777 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
        meta = fs::symlink_metadata(dir)
            .map_err(|e| Error::io_at("failed to inspect claim directory", dir, e))?;
    }
    let mode = meta.mode() & 0o7777;
    if !default || mode & 0o1777 == 0o1777 {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "claim directory {} belongs to uid {} and is not shared by every user (mode {mode:o}, \
         not 1777); remove it, or set {}",
        dir.display(),
        meta.uid(),
        crate::paths::CLAIM_DIR_ENV
    )))
}

#[cfg(not(unix))]
fn check_shared(_dir: &Path, _meta: &fs::Metadata, _default: bool) -> Result<()> {
    Ok(())
}

/// Opens claim file `name` in `dir` for locking, creating it if it does not
/// exist; `None` when another user made it unusable (its ports then look
/// claimed). Never follows a symlink, never creates a file through one,
/// never opens an existing file with `O_CREAT`.
#[cfg(unix)]
pub(crate) fn open_claim_file(dir: &Path, name: &str) -> io::Result<Option<File>> {
    use nix::libc;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let path = dir.join(name);
    let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    loop {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags)
            .open(&path)
        {
            Ok(file) => {
                let meta = file.metadata()?;
                // A FIFO or device swapped in, or a hard link to a file
                // elsewhere: not a claim file.
                let usable = meta.is_file() && meta.nlink() == 1;
                return Ok(usable.then_some(file));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if unusable(&e) => return Ok(None),
            Err(e) => return Err(e),
        }
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o666)
            .custom_flags(flags)
            .open(&path)
        {
            Ok(file) => {
                // The umask took bits away; every user must be able to lock.
                file.set_permissions(fs::Permissions::from_mode(0o666))?;
                return Ok(Some(file));
            }
            // Made meanwhile, by another process or user: open that one.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

/// Errors that mean "another user's file, or a link": skip, do not fail.
#[cfg(unix)]
fn unusable(error: &io::Error) -> bool {
    use nix::libc;
    matches!(
        error.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::ELOOP | libc::EMLINK | libc::ENXIO)
    )
}

/// Windows: lock files are opened for reading only when they exist (a lock
/// needs no more, and another user's file may be readable only), created
/// new otherwise.
#[cfg(not(unix))]
pub(crate) fn open_claim_file(dir: &Path, name: &str) -> io::Result<Option<File>> {
    let path = dir.join(name);
    loop {
        match OpenOptions::new().read(true).open(&path) {
            Ok(file) => return Ok(file.metadata()?.is_file().then_some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(None),
            Err(e) => return Err(e),
        }
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_missing_dir_is_created_shared_whatever_the_umask() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("claims");
        prepare(&dir, true).unwrap();
        assert_eq!(mode(&dir), 0o1777);
        prepare(&dir, true).unwrap();
        let named = parent.path().join("a").join("b");
        prepare(&named, false).unwrap();
        assert_eq!(mode(&named), 0o1777);
    }

    #[test]
    fn the_default_dir_is_never_a_symlink_a_named_one_may_be() {
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("elsewhere");
        fs::create_dir(&target).unwrap();
        let dir = parent.path().join("claims");
        std::os::unix::fs::symlink(&target, &dir).unwrap();
        let error = prepare(&dir, true).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        prepare(&dir, false).unwrap();
    }

    #[test]
    fn a_dir_of_mine_that_is_not_shared_is_shared() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("claims");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        prepare(&dir, true).unwrap();
        assert_eq!(mode(&dir), 0o1777);
    }

    #[test]
    fn claim_files_are_created_for_every_user_and_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = open_claim_file(dir.path(), "claims-1").unwrap().unwrap();
        assert_eq!(file.metadata().unwrap().mode() & 0o777, 0o666);
        // Opened again: the same file.
        assert!(open_claim_file(dir.path(), "claims-1").unwrap().is_some());
        // A planted link, dangling or not, is neither followed nor created
        // through.
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, dir.path().join("claims-2")).unwrap();
        assert!(open_claim_file(dir.path(), "claims-2").unwrap().is_none());
        assert!(!target.exists());
        // A FIFO is refused without blocking.
        let fifo = dir.path().join("claims-3");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(open_claim_file(dir.path(), "claims-3").unwrap().is_none());
        // A hard link to a file elsewhere is refused too.
        fs::write(&target, "").unwrap();
        fs::hard_link(&target, dir.path().join("claims-4")).unwrap();
        assert!(open_claim_file(dir.path(), "claims-4").unwrap().is_none());
    }
}
