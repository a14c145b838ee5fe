//! Named ports in a store file: port-for's `/etc/port-for.conf` format.

pub(crate) mod file;
mod ini;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::paths;
use crate::select::Builder;

/// The section where named ports record the directory of each checkout tag,
/// so that `cargo portfor check` can tell a binding whose package is gone.
/// port-for ignores and keeps other sections.
pub const CHECKOUTS_SECTION: &str = "portfor.checkouts";

/// How long a change waits for another process's change to the same store.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an empty store is taken for a rewrite in progress (port-for
/// empties its file, then writes it): reading it waits until it has
/// content, or has stayed empty this long since it was last modified.
/// port-for writes within milliseconds of emptying; portfor never leaves a
/// store empty (unbinding the last name leaves `[DEFAULT]`), so only a
/// store port-for emptied, within this time, is waited for.
pub const REWRITE_SETTLE: Duration = Duration::from_secs(5);

/// A store of named ports: a file in port-for's format, `name = port` lines
/// in a `[DEFAULT]` section, which the Python `port-for` and portfor read
/// identically.
///
/// **Reading** never creates or locks the file: a missing file is an empty
/// store. The file is read exactly as port-for 1.1.1 reads it (Python's
/// configparser, interpolation, `int()`), or refused with an error naming
/// the file and line: where port-for fails on it too, and where it would
/// read a binding that is not a port (0, negative, above 65535), a port in
/// digits other than ASCII, or a name whose lower-case form depends on the
/// Python version. Only regular files (or symlinks to one) are stores: a
/// directory, device, FIFO or socket is an error at once.
///
/// **Changing** holds an exclusive lock on `<file>.lock` beside it (waiting
/// at most [`LOCK_TIMEOUT`]), re-reads the file, edits its lines in place
/// (an edit is kept only if the result reads exactly as intended), and
/// replaces it atomically: a temporary file in the same directory, synced,
/// given the old file's owner (where permitted), group and mode, renamed
/// over it. Readers see the old file or the new one, never a part; a file
/// that does not parse is never rewritten.
///
/// **Next to port-for**, which rewrites the file in place with no lock: a
/// file that changes while it is read is read again; an empty file that
/// was emptied in place less than [`REWRITE_SETTLE`] ago is waited for (it
/// is port-for between emptying the file and writing it); and just before
/// the rename the file must be exactly as read, or the change is made again
/// on the new content. So that its own files are never taken for that,
/// portfor never leaves a store empty: unbinding the last name leaves
/// `[DEFAULT]` (port-for leaves an empty file; both read either as an empty
/// store). What remains: a port-for write that starts in the
/// moment between that check and the rename is lost, as port-for's own
/// concurrent writes lose each other's; and two port-for processes can
/// still lose each other's bindings, which portfor cannot prevent.
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
    /// Whether a change creates the store's directory (the per-user
    /// default store's own directory only).
    create_dir: bool,
}

/// Checks that `name` survives the store format unchanged: the rules that
/// port-for does not check and configparser then misreads.
///
/// # Errors
///
/// When `name` is empty; contains `=`, `:`, a line break or another control
/// character; starts or ends with whitespace; starts with `#`, `;` or `[`;
/// or has a letter whose lower-case form depends on the Python version.
pub fn validate_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("a name cannot be empty".to_owned())
    } else if name.contains(['=', ':']) {
        Some("a name cannot contain '=' or ':', which separate the name from the port".into())
    } else if name.chars().any(char::is_control) {
        Some("a name cannot contain line breaks or other control characters".into())
    } else if name.starts_with(ini::is_space) || name.ends_with(ini::is_space) {
        Some("a name cannot start or end with whitespace".into())
    } else if name.starts_with(['#', ';']) {
        Some("a name cannot start with '#' or ';', which start a comment".into())
    } else if name.starts_with('[') {
        Some("a name cannot start with '[', which starts a section".into())
    } else {
        ini::lower(name).err().map(|c| {
            format!(
                "the lower-case form of {c:?} (U+{:04X}) depends on the Python version",
                u32::from(c)
            )
        })
    };
    match problem {
        Some(problem) => Err(Error::invalid(format!("invalid name {name:?}: {problem}"))),
        None => Ok(()),
    }
}

/// The store key of a valid name: lower-cased as configparser does.
fn key_of(name: &str) -> Result<String> {
    validate_name(name)?;
    Ok(ini::lower(name)
        .expect("validated names lower-case alike")
        .into_owned())
}

/// Parses a port given as text, as `port-for -p` takes it.
///
/// # Errors
///
/// When `text` is not a decimal number from 1 to 65535.
pub fn parse_port_arg(text: &str) -> Result<u16> {
    let valid = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u16>() {
        Ok(port) if valid && port != 0 => Ok(port),
        _ => Err(Error::invalid(format!(
            "invalid port {text:?}: a port is a decimal number from 1 to 65535"
        ))),
    }
}

impl Store {
    /// The store at `path`. Nothing is read or created until it is used.
    pub fn open(path: impl Into<PathBuf>) -> Store {
        Store {
            path: path.into(),
            avoid: Vec::new(),
            lock_timeout: LOCK_TIMEOUT,
            create_dir: false,
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
    /// [`user_store`](crate::user_store)), whose `portfor` directory the
    /// first change creates. New bindings avoid the ports of the system
    /// store too.
    ///
    /// # Errors
    ///
    /// When the user's home directory is unknown.
    pub fn user() -> Result<Store> {
        let mut store = Store::open(paths::user_store()?);
        store.create_dir = std::env::var_os(paths::USER_STORE_ENV).is_none_or(|p| p.is_empty());
        Ok(store.avoid(&Store::open(paths::system_store())))
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

    /// The path, or an error for an empty one (which names no file).
    fn checked_path(&self) -> Result<&Path> {
        if self.path.as_os_str().is_empty() {
            return Err(Error::invalid("the store path is empty"));
        }
        let text = self.path.as_os_str().to_string_lossy();
        if self.path.file_name().is_none() || text.ends_with(std::path::is_separator) {
            return Err(Error::invalid(format!(
                "store path {} names a directory, not a file",
                self.path.display()
            )));
        }
        Ok(&self.path)
    }

    /// Reads and parses the file at `path` (the store's, or its resolved
    /// target); a missing file is an empty store.
    fn read_at(&self, path: &Path, wait: bool) -> Result<(file::Snapshot, ini::Document)> {
        let mut snapshot = file::read(path, wait)?;
        // The bytes move into the document; a later replace needs only the
        // snapshot's stamp and metadata.
        let doc = ini::Document::parse(std::mem::take(&mut snapshot.bytes))
            .map_err(|e| Error::invalid(format!("malformed store {}: {e}", self.path.display())))?;
        Ok((snapshot, doc))
    }

    fn read(&self) -> Result<ini::Document> {
        Ok(self.read_at(self.checked_path()?, true)?.1)
    }

    /// The port bound to `name` (case-insensitive), if any.
    ///
    /// # Errors
    ///
    /// When `name` is invalid ([`validate_name`]), or when the file cannot
    /// be read or does not parse.
    pub fn get(&self, name: &str) -> Result<Option<u16>> {
        let key = key_of(name)?;
        Ok(self.read()?.get(&key))
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
    /// parse, is not a regular file, cannot be written or its lock not
    /// taken in time; when its directory does not exist; or when no free
    /// port is found. The file is unchanged in every case.
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

    /// A new port for a binding: as `builder` chooses, and bound to no name
    /// in `doc` or the stores this one avoids.
    fn new_port(&self, doc: &ini::Document, builder: &Builder) -> Result<u16> {
        let mut builder = builder.clone();
        builder.exclude_ports(doc.entries().map(|(_, port)| port));
        for other in &self.avoid {
            if let Ok((_, other)) = self.read_at(other, false) {
                builder.exclude_ports(other.entries().map(|(_, port)| port));
            }
        }
        Ok(builder.reserve()?.keep())
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
        let key = key_of(name)?;
        if port == Some(0) {
            return Err(parse_port_arg("0").unwrap_err());
        }
        // Fast path without the lock: already bound as asked.
        if let Some(bound) = self.read()?.get(&key) {
            return check_rebind(name, port, bound);
        }
        if port.is_none() {
            // Detect the system's port ranges (once per process) before
            // taking the lock, not under it: on Windows that starts netsh,
            // and every other writer would wait for it.
            crate::system_ranges::cached();
        }
        // Chosen once: a change made again on new content keeps its port.
        let mut chosen = port;
        self.change(|doc| {
            if let Some(bound) = doc.get(&key) {
                return check_rebind(name, port, bound).map(|p| (p, false));
            }
            let port = match chosen {
                Some(port) => port,
                None => *chosen.insert(self.new_port(doc, builder)?),
            };
            if let Some((other, _)) = doc.entries().find(|&(_, p)| p == port) {
                return Err(Error::invalid(format!(
                    "port {port} is already bound to {other:?}"
                )));
            }
            doc.insert(&key, port).map_err(|e| {
                Error::invalid(format!("cannot bind in {}: {e}", self.path.display()))
            })?;
            if let Some((tag, dir)) = checkout
                && let Some(dir) = dir.to_str().filter(|d| !d.chars().any(char::is_control))
            {
                // Best effort: a directory the format cannot hold is not
                // recorded (`check` then cannot tell whether it is gone).
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
    /// When `name` is invalid ([`validate_name`]); when the file does not
    /// parse, cannot be written or its lock not taken in time; or when
    /// another binding refers to this one (`%(name)s`), so that removing it
    /// would leave a file port-for cannot read.
    pub fn unbind(&self, name: &str) -> Result<bool> {
        let key = key_of(name)?;
        if self.read()?.get(&key).is_none() {
            return Ok(false);
        }
        self.change(|doc| {
            let removed = doc.remove(&key).map_err(|e| {
                Error::invalid(format!("cannot unbind in {}: {e}", self.path.display()))
            })?;
            Ok((removed, removed))
        })
    }

    /// Runs `edit` on the current file under the store's lock and writes
    /// the result when `edit` says so; if the file changed since it was
    /// read (a writer that takes no lock, such as port-for), reads it again
    /// and edits anew.
    fn change<T>(
        &self,
        mut edit: impl FnMut(&mut ini::Document) -> Result<(T, bool)>,
    ) -> Result<T> {
        let target = file::resolve(self.checked_path()?)?;
        self.ensure_dir(file::parent(&target))?;
        let store_meta = fs::metadata(&target).ok();
        let _lock = file::lock(&target, store_meta.as_ref(), self.lock_timeout)?;
        let deadline = std::time::Instant::now() + self.lock_timeout;
        loop {
            let (snapshot, mut doc) = self.read_at(&target, true)?;
            let (value, write) = edit(&mut doc)?;
            if !write {
                return Ok(value);
            }
            match file::replace(&target, doc.text().as_bytes(), &snapshot) {
                Ok(()) => return Ok(value),
                Err(file::ReplaceError::Changed) if std::time::Instant::now() < deadline => {}
                Err(file::ReplaceError::Changed) => {
                    return Err(Error::invalid(format!(
                        "store {} kept changing while it was being changed; try again",
                        self.path.display()
                    )));
                }
                Err(file::ReplaceError::Failed(e)) => return Err(e),
            }
        }
    }

    /// Checks that the store's directory exists; creates it for the
    /// per-user default store.
    fn ensure_dir(&self, dir: &Path) -> Result<()> {
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(Error::invalid(format!(
                "{} (the directory of store {}) is not a directory",
                dir.display(),
                self.path.display()
            ))),
            Err(_) if self.create_dir => fs::create_dir_all(dir)
                .map_err(|e| Error::io_at("failed to create the store directory", dir, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(format!(
                "the directory of store {} does not exist; create it first",
                self.path.display()
            ))),
            Err(e) => Err(Error::io_at("failed to inspect", dir, e)),
        }
    }
}

/// The ports bound to names in the store file at `path`, as it is now
/// (nothing waited for), with the file's stamp; no ports for a missing,
/// unreadable or malformed file.
pub(crate) fn ports_now(path: &Path) -> (Option<file::Stamp>, crate::PortSet) {
    let Ok(snapshot) = file::read(path, false) else {
        return (None, crate::PortSet::new());
    };
    let ports = match ini::Document::parse(snapshot.bytes) {
        Ok(doc) => crate::PortSet::from_ports(doc.entries().map(|(_, port)| port)),
        Err(_) => crate::PortSet::new(),
    };
    (snapshot.stamp, ports)
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
