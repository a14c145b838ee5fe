//! Stable ports by name, scoped to the package that asks.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::select::Builder;
use crate::store::{Store, validate_name};

/// The named ports of one package of one checkout.
///
/// A name such as `db` is stored as `<package>/<name>@<checkout>`, where
/// `<checkout>` is 8 hex digits of a hash of the package's directory: two
/// packages, or two checkouts of one package, that both say `db` get
/// different ports; one package gets the same port every run, in every
/// process. A new binding also records the directory of its checkout tag in
/// the store's `[portfor.checkouts]` section, so that bindings of packages
/// that are gone can be found (`cargo portfor check`). Made by [`named_ports!`](crate::named_ports) for the calling
/// package.
///
/// # Examples
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let store = portfor_test::Store::open(dir.path().join("ports.conf"));
/// let ports = portfor_test::named_ports!().store(store);
/// let db = ports.port("db")?;
/// assert_eq!(ports.port("db")?, db, "stable");
/// assert_ne!(ports.port("cache")?, db);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct NamedPorts {
    package: String,
    manifest_dir: PathBuf,
    checkout: String,
    store: Option<Store>,
    builder: Builder,
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike std's
/// hashers, so that keys stay the same from one toolchain to the next.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The checkout tag of a package directory: 8 hex digits.
pub fn checkout_tag(manifest_dir: &Path) -> String {
    format!(
        "{:08x}",
        fnv1a(manifest_dir.to_string_lossy().as_bytes()) as u32
    )
}

impl NamedPorts {
    /// The named ports of `package` whose `Cargo.toml` is in `manifest_dir`,
    /// in the user's store.
    pub fn package(package: &str, manifest_dir: impl AsRef<Path>) -> NamedPorts {
        NamedPorts {
            package: package.to_lowercase(),
            manifest_dir: manifest_dir.as_ref().to_owned(),
            checkout: checkout_tag(manifest_dir.as_ref()),
            store: None,
            builder: Builder::new(),
        }
    }

    /// Use `store` instead of the user's store.
    pub fn store(mut self, store: Store) -> NamedPorts {
        self.store = Some(store);
        self
    }

    /// Choose new ports with `builder` (its candidates, probes and claim
    /// directory).
    pub fn builder(mut self, builder: Builder) -> NamedPorts {
        self.builder = builder;
        self
    }

    /// The store key of `name`: `<package>/<name>@<checkout>`, lower-cased.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{}@{}", self.package, name.to_lowercase(), self.checkout)
    }

    fn the_store(&self) -> Result<Store> {
        match &self.store {
            Some(store) => Ok(store.clone()),
            None => Store::user(),
        }
    }

    /// The port of `name`, bound on first use to a new free port that no
    /// other name in the user's or the system store has.
    ///
    /// # Errors
    ///
    /// When `name` is invalid ([`validate_name`]), or as [`Store::bind`].
    pub fn port(&self, name: &str) -> Result<u16> {
        self.bind(name, None)
    }

    /// Binds `name` to `port`, or to a new free port when `port` is `None`;
    /// as [`Store::bind`], with the package's key.
    ///
    /// # Errors
    ///
    /// When `name` is invalid ([`validate_name`]), or as [`Store::bind`].
    pub fn bind(&self, name: &str, port: Option<u16>) -> Result<u16> {
        validate_name(name)?;
        self.the_store()?.bind_recording(
            &self.key(name),
            port,
            &self.builder,
            Some((&self.checkout, &self.manifest_dir)),
        )
    }

    /// Removes the binding of `name`; false when it was not bound.
    ///
    /// # Errors
    ///
    /// When `name` is invalid ([`validate_name`]), or as [`Store::unbind`].
    pub fn unbind(&self, name: &str) -> Result<bool> {
        validate_name(name)?;
        self.the_store()?.unbind(&self.key(name))
    }

    /// The names this package has bound, with their ports, in store order.
    ///
    /// # Errors
    ///
    /// As [`Store::list`].
    pub fn list(&self) -> Result<Vec<(String, u16)>> {
        Ok(self
            .the_store()?
            .list()?
            .into_iter()
            .filter_map(|(key, port)| {
                let parsed = parse_key(&key)?;
                (parsed.package == self.package && parsed.checkout == self.checkout)
                    .then(|| (parsed.name.to_owned(), port))
            })
            .collect())
    }

    /// The checkout tag of this package's directory.
    pub fn checkout(&self) -> &str {
        &self.checkout
    }

    /// The port of `name` if it is bound, without binding it.
    ///
    /// # Errors
    ///
    /// When `name` is invalid ([`validate_name`]), or as [`Store::get`].
    pub fn get(&self, name: &str) -> Result<Option<u16>> {
        validate_name(name)?;
        self.the_store()?.get(&self.key(name))
    }
}

/// A store key of a named port, split: `<package>/<name>@<checkout>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamedKey<'a> {
    /// The package name (lower-case).
    pub package: &'a str,
    /// The port's name (lower-case).
    pub name: &'a str,
    /// The checkout tag (8 hex digits).
    pub checkout: &'a str,
}

/// Splits a store key made by [`NamedPorts::key`]; `None` for other keys
/// (such as names bound with the `port-for` command).
pub fn parse_key(key: &str) -> Option<NamedKey<'_>> {
    let (rest, checkout) = key.rsplit_once('@')?;
    let (package, name) = rest.split_once('/')?;
    let hex = checkout.len() == 8 && checkout.bytes().all(|b| b.is_ascii_hexdigit());
    (hex && !package.is_empty() && !name.is_empty()).then_some(NamedKey {
        package,
        name,
        checkout,
    })
}

/// The [`NamedPorts`] of the calling package, in the user's store.
///
/// ```
/// let ports = portfor_test::named_ports!();
/// assert!(ports.key("db").starts_with("portfor-test/db@"));
/// ```
#[macro_export]
macro_rules! named_ports {
    () => {
        $crate::NamedPorts::package(env!("CARGO_PKG_NAME"), env!("CARGO_MANIFEST_DIR"))
    };
}

/// The stable port of a name for the calling package: the same in every run
/// and every process, different from other names' and other packages'.
/// Bound on first use in the user's store; panics with the reason on error.
///
/// ```no_run
/// let port = portfor_test::named_port!("db");
/// ```
#[macro_export]
macro_rules! named_port {
    ($name:expr) => {
        $crate::named_ports!()
            .port($name)
            .unwrap_or_else(|error| panic!("portfor: named port {:?}: {error}", $name))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_by_package_and_checkout() {
        let a = NamedPorts::package("Web", "/src/one/web");
        let b = NamedPorts::package("web", "/src/two/web");
        assert_eq!(
            a.key("DB"),
            format!("web/db@{}", checkout_tag(Path::new("/src/one/web")))
        );
        assert_ne!(a.key("db"), b.key("db"));
        assert_eq!(
            a.key("db"),
            NamedPorts::package("web", "/src/one/web").key("db")
        );
        validate_name(&a.key("db")).unwrap();
    }

    #[test]
    fn keys_split_back_into_their_parts() {
        let ports = NamedPorts::package("web", "/src/one/web");
        let key = ports.key("api/v2");
        let parsed = parse_key(&key).unwrap();
        assert_eq!((parsed.package, parsed.name), ("web", "api/v2"));
        assert_eq!(parsed.checkout, ports.checkout());
        for other in [
            "foo",
            "example.com/apache",
            "a/b@zz",
            "a/b@123",
            "/b@12345678",
        ] {
            assert_eq!(parse_key(other), None, "{other}");
        }
    }

    #[test]
    fn the_checkout_tag_is_stable() {
        // FNV-1a of "/src/one/web", low 32 bits: fixed forever, or every
        // user's named ports move.
        assert_eq!(
            checkout_tag(Path::new("/src/one/web")),
            format!("{:08x}", fnv1a(b"/src/one/web") as u32)
        );
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
