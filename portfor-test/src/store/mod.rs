//! Named ports in a store file: port-for's `/etc/port-for.conf` format.

mod ini;

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::paths;
use crate::select::Builder;

pub(crate) use ini::parse_port;

/// The section where named ports record the directory of each checkout tag,
/// so that `cargo portfor check` can tell a binding whose package is gone.
/// port-for ignores and keeps other sections.
pub const CHECKOUTS_SECTION: &str = "portfor.checkouts";

/// How long a change waits for another process's change to the same store.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A store of named ports: a file in port-for's format, `name = port` lines
/// in a `[DEFAULT]` section, which the Python `port-for` and portfor read
/// identically.
///
/// Reading never creates or locks the file: a missing file is an empty
/// store. Every change holds an exclusive lock on `<file>.lock` beside it
/// (waiting at most [`LOCK_TIMEOUT`]), re-reads the file, and replaces it
/// atomically (a temporary file in the same directory, synced, renamed over
/// it, with the old file's permissions), so readers see the old file or the
/// new one, never a part. A file that does not parse is an error naming the
/// file and line, and is never rewritten.
///
/// # Examples
///
/// ```
/// use portfor_test::Store;
///
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path().join("ports.conf"));
/// let port = store.bind("web", None)?;
/// assert_eq!(store.get("WEB")?, Some(port), "names are case-insensitive");
/// assert_eq!(store.list()?, [("web".to_owned(), port)]);
/// assert!(store.unbind("web")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    path: PathBuf,
    /// Stores whose ports a new binding must not take.
    avoid: Vec<PathBuf>,
    lock_timeout: Duration,
}

/// Checks that `name` survives the store format unchanged: the rules that
/// port-for does not check and configparser then misreads.
///
/// # Errors
///
/// When `name` is empty; contains `=`, `:`, a line break or another control
/// character; starts or ends with whitespace; or starts with `#`, `;` or `[`.
pub fn validate_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("a name cannot be empty")
    } else if name.contains(['=', ':']) {
        Some("a name cannot contain '=' or ':', which separate the name from the port")
    } else if name.chars().any(char::is_control) {
        Some("a name cannot contain line breaks or other control characters")
    } else if name.trim() != name {
        Some("a name cannot start or end with whitespace")
    } else if name.starts_with(['#', ';']) {
        Some("a name cannot start with '#' or ';', which start a comment")
    } else if name.starts_with('[') {
        Some("a name cannot start with '[', which starts a section")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(Error::invalid(format!("invalid name {name:?}: {problem}"))),
        None => Ok(()),
    }
}

/// Parses a port given as text, as `port-for -p` takes it.
///
/// # Errors
///
/// When `text` is not a decimal number from 1 to 65535.
pub fn parse_port_arg(text: &str) -> Result<u16> {
    parse_port(text).ok_or_else(|| {
        Error::invalid(format!(
            "invalid port {text:?}: a port is a decimal number from 1 to 65535"
        ))
    })
}

impl Store {
    /// The store at `path`. Nothing is read or created until it is used.
    pub fn open(path: impl Into<PathBuf>) -> Store {
        Store {
            path: path.into(),
            avoid: Vec::new(),
            lock_timeout: LOCK_TIMEOUT,
        }
    }

    /// The system store shared with the Python port-for:
    /// `/etc/port-for.conf`, or `$PORTFOR_SYSTEM_STORE`. New bindings avoid
    /// the ports of the user's store too, where it is known.
    pub fn system() -> Store {
        let store = Store::open(paths::system_store());
        match paths::user_store() {
            Ok(user) => store.avoid(&Store::open(user)),
            Err(_) => store,
        }
    }

    /// This user's store, which needs no root: `$PORTFOR_USER_STORE`, else
    /// `ports.conf` in the user's state directory (see
    /// [`user_store`](crate::user_store)). New bindings avoid the ports of
    /// the system store too.
    ///
    /// # Errors
    ///
    /// When the user's home directory is unknown.
    pub fn user() -> Result<Store> {
        Ok(Store::open(paths::user_store()?).avoid(&Store::open(paths::system_store())))
    }

    /// New bindings here also avoid the ports bound in `other` (read-only;
    /// a missing or unreadable `other` avoids nothing).
    pub fn avoid(mut self, other: &Store) -> Store {
        if other.path != self.path && !self.avoid.contains(&other.path) {
            self.avoid.push(other.path.clone());
        }
        self
    }

    /// Wait at most `timeout` for another process's change (default
    /// [`LOCK_TIMEOUT`]).
    pub fn lock_timeout(mut self, timeout: Duration) -> Store {
        self.lock_timeout = timeout;
        self
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads and parses the file; a missing file is an empty store.
    fn read(&self) -> Result<ini::Document> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io_at("failed to read store", &self.path, e)),
        };
        ini::Document::parse(text)
            .map_err(|e| Error::invalid(format!("malformed store {}: {e}", self.path.display())))
    }

    /// The port bound to `name` (case-insensitive), if any.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or does not parse.
    pub fn get(&self, name: &str) -> Result<Option<u16>> {
        Ok(self.read()?.get(&name.to_lowercase()))
    }

    /// Every binding as `(lower-cased name, port)`, in file order.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or does not parse.
    pub fn list(&self) -> Result<Vec<(String, u16)>> {
        Ok(self
            .read()?
            .entries()
            .map(|(name, port)| (name.to_owned(), port))
            .collect())
    }

    /// Binds `name` to `port`, or to a new free port when `port` is `None`,
    /// and returns the port; port-for's `bind_port`.
    ///
    /// If `name` is bound already, its port is returned (and nothing is
    /// written) when `port` is `None` or the same port. A new port is chosen
    /// like [`Builder::reserve`]: free, not claimed, and not bound to another
    /// name in this store or the stores it [avoids](Store::avoid); its claim
    /// is kept for the rest of the process.
    ///
    /// # Errors
    ///
    /// When `name` is invalid ([`validate_name`]); when `name` is bound to
    /// another port, or `port` to another name; when the file does not
    /// parse, cannot be written or its lock not taken in time; or when no
    /// free port is found. The file is unchanged in every case.
    pub fn bind(&self, name: &str, port: Option<u16>) -> Result<u16> {
        self.bind_with(name, port, &Builder::new())
    }

    /// [`bind`](Store::bind), choosing a new port with `builder`: its
    /// candidates, probes and claim directory.
    ///
    /// # Errors
    ///
    /// As [`bind`](Store::bind).
    pub fn bind_with(&self, name: &str, port: Option<u16>, builder: &Builder) -> Result<u16> {
        self.bind_recording(name, port, builder, None)
    }

    /// The checkouts named ports recorded: (tag, package directory), from
    /// the `[portfor.checkouts]` section.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or does not parse.
    pub fn checkouts(&self) -> Result<Vec<(String, PathBuf)>> {
        Ok(self
            .read()?
            .section(CHECKOUTS_SECTION)
            .map(|(tag, dir)| (tag.to_owned(), PathBuf::from(dir)))
            .collect())
    }

    /// [`bind_with`](Store::bind_with), also recording `checkout` (tag and
    /// package directory) when a new binding is written.
    pub(crate) fn bind_recording(
        &self,
        name: &str,
        port: Option<u16>,
        builder: &Builder,
        checkout: Option<(&str, &Path)>,
    ) -> Result<u16> {
        validate_name(name)?;
        if port == Some(0) {
            return Err(parse_port_arg("0").unwrap_err());
        }
        let key = name.to_lowercase();
        // Fast path without the lock: already bound as asked.
        let doc = self.read()?;
        if let Some(bound) = doc.get(&key) {
            return check_rebind(name, port, bound);
        }
        if port.is_none() {
            // Detect the system's port ranges (once per process) before
            // taking the lock, not under it: on Windows that starts netsh,
            // and every other writer would wait for it.
            crate::system_ranges::cached();
        }
        self.change(|doc| {
            if let Some(bound) = doc.get(&key) {
                return check_rebind(name, port, bound).map(|p| (p, false));
            }
            let port = match port {
                Some(port) => {
                    if let Some((other, _)) = doc.entries().find(|&(_, p)| p == port) {
                        return Err(Error::invalid(format!(
                            "port {port} is already bound to {other:?}"
                        )));
                    }
                    port
                }
                None => {
                    let mut builder = builder.clone();
                    builder.exclude_ports(doc.entries().map(|(_, port)| port));
                    for other in &self.avoid {
                        if let Ok(other) = Store::open(other).read() {
                            builder.exclude_ports(other.entries().map(|(_, port)| port));
                        }
                    }
                    builder.reserve()?.keep()
                }
            };
            doc.insert(&key, port);
            if let Some((tag, dir)) = checkout
                && let Some(dir) = dir.to_str().filter(|d| !d.chars().any(char::is_control))
            {
                doc.set_in_section(CHECKOUTS_SECTION, tag, dir);
            }
            Ok((port, true))
        })
    }

    /// Removes the binding of `name`; false when it was not bound (and then
    /// nothing is written, so no write access is needed).
    ///
    /// # Errors
    ///
    /// When the file does not parse, cannot be written or its lock not
    /// taken in time.
    pub fn unbind(&self, name: &str) -> Result<bool> {
        let key = name.to_lowercase();
        if self.read()?.get(&key).is_none() {
            return Ok(false);
        }
        self.change(|doc| Ok((doc.remove(&key), true)))
    }

    /// Runs `edit` on the current file under the store's lock and writes
    /// the result when `edit` says so.
    fn change<T>(&self, edit: impl FnOnce(&mut ini::Document) -> Result<(T, bool)>) -> Result<T> {
        let target = self.resolved_path()?;
        let _lock = self.lock(&target)?;
        let mut doc = Store::open(&target).read()?;
        let (value, write) = edit(&mut doc)?;
        if write {
            replace(&target, doc.text().as_bytes())?;
        }
        Ok(value)
    }

    /// The file to replace: the final target of a symlink (which may not
    /// exist yet), so that renaming over it does not turn the link into a
    /// plain file.
    fn resolved_path(&self) -> Result<PathBuf> {
        let mut path = self.path.clone();
        // As many hops as Linux follows (MAXSYMLINKS).
        for _ in 0..40 {
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = fs::read_link(&path)
                        .map_err(|e| Error::io_at("failed to resolve store", &path, e))?;
                    path = match path.parent() {
                        Some(dir) => dir.join(target),
                        None => target,
                    };
                }
                _ => return Ok(path),
            }
        }
        Err(Error::invalid(format!(
            "store {} is a loop of symbolic links",
            self.path.display()
        )))
    }

    /// Takes the exclusive lock on `<file>.lock`, waiting at most
    /// [`LOCK_TIMEOUT`].
    fn lock(&self, target: &Path) -> Result<File> {
        let mut lock_path = target.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| Error::io_at("failed to create", dir, e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io_at("failed to open lock file", &lock_path, e))?;
        let deadline = Instant::now() + self.lock_timeout;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(Error::io_at(
                        format!(
                            "timed out after {}s waiting for the lock",
                            LOCK_TIMEOUT.as_secs()
                        ),
                        &lock_path,
                        io::Error::from(io::ErrorKind::TimedOut),
                    ));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io_at("failed to lock", &lock_path, e));
                }
            }
        }
    }
}

fn check_rebind(name: &str, asked: Option<u16>, bound: u16) -> Result<u16> {
    match asked {
        None => Ok(bound),
        Some(port) if port == bound => Ok(bound),
        Some(port) => Err(Error::invalid(format!(
            "cannot bind {name:?} to port {port}: it is bound to port {bound}"
        ))),
    }
}

/// Replaces `target` with `contents` atomically: a temporary file beside it,
/// written, synced, given the old file's permissions, renamed over it; then
/// the directory synced, so that the rename survives a crash.
fn replace(target: &Path, contents: &[u8]) -> Result<()> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.portfor-tmp-");
    // The lock is held, so temporary files left here are from writers that
    // died mid-write.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let temp = dir.join(format!("{prefix}{}", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| Error::io_at("failed to create", &temp, e))?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io_at("failed to write", &temp, e))?;
        match fs::metadata(target) {
            Ok(meta) => fs::set_permissions(&temp, meta.permissions())
                .map_err(|e| Error::io_at("failed to set permissions of", &temp, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io_at("failed to inspect", target, e)),
        }
        rename_over(&temp, target).map_err(|e| Error::io_at("failed to replace", target, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        // Best effort: some filesystems refuse to sync a directory.
        let _ = dir.sync_all();
    }
    Ok(())
}

/// How long a replacement waits for readers that keep Windows from
/// replacing the file.
#[cfg(windows)]
const REPLACE_WAIT: Duration = Duration::from_secs(2);

/// `fs::rename`, over a file that others may be reading.
///
/// Windows refuses to replace a file that another process has open without
/// delete sharing (Python's `open()` on any volume; std's own readers where
/// renames lack POSIX semantics: FAT volumes, shares, wine). Readers hold
/// the store for a moment, so "access denied" is retried for a while.
fn rename_over(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(windows)]
    {
        let deadline = Instant::now() + REPLACE_WAIT;
        let mut pause = Duration::from_millis(1);
        loop {
            match fs::rename(from, to) {
                Err(e)
                    if e.kind() == io::ErrorKind::PermissionDenied && Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                result => return result,
            }
        }
    }
    #[cfg(not(windows))]
    fs::rename(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_format_cannot_hold_are_rejected() {
        for bad in [
            "", "a=b", "a:b", "a\nb", "a\tb", "a\u{7f}", " lead", "trail ", "#hash", ";semi",
            "[sec",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "foo",
            "a b",
            "x]y",
            "pct%x",
            "DEFAULT",
            "Ünïcode",
            "example.com/apache",
        ] {
            validate_name(good).unwrap();
        }
    }

    #[test]
    fn port_arguments_are_decimal_1_to_65535() {
        assert_eq!(parse_port_arg("8000").unwrap(), 8000);
        for bad in ["", "abc", "0", "65536", "-3", "+5", " 80", "8e3"] {
            assert!(parse_port_arg(bad).is_err(), "{bad:?} accepted");
        }
    }
}
