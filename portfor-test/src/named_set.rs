//! The ports bound to names in the user's and the system store, which no
//! selection hands out: they are the stable ports of someone's servers
//! (a database's, a dev server's), free only while those are stopped.
//!
//! Read once per process, and again when a store's file changes. Checking
//! for a change costs a `stat` per store, so the files are checked at most
//! every [`RECHECK`]; in between, a name bound by another process is still
//! kept from this one by that process's claim on the port while it runs
//! (a new binding keeps its claim for the rest of the binding process).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::paths;
use crate::range::PortSet;
use crate::store::{self, file::Stamp};

/// How often the stores' files are checked for a change.
pub(crate) const RECHECK: Duration = Duration::from_millis(50);

/// One store file as last read.
struct Seen {
    path: PathBuf,
    stamp: Option<Stamp>,
    ports: PortSet,
}

struct Cache {
    checked: Option<Instant>,
    stores: Vec<Seen>,
    /// `None` until first read.
    union: Option<Arc<PortSet>>,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    checked: None,
    stores: Vec::new(),
    union: None,
});

fn lock() -> MutexGuard<'static, Cache> {
    // Every update replaces whole values: a panic cannot leave it half done.
    CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The stores whose names are kept: the user's and the system store, as
/// the environment names them now.
fn store_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = paths::user_store().into_iter().collect();
    paths.push(paths::system_store());
    paths.dedup();
    paths
}

/// Whether `seen` still matches its file; re-reads it if not.
fn refresh(seen: &mut Seen) -> bool {
    let now = std::fs::metadata(&seen.path).ok().map(|m| Stamp::of(&m));
    if now.is_some() && now == seen.stamp || now.is_none() && seen.stamp.is_none() {
        return false;
    }
    let (stamp, ports) = store::ports_now(&seen.path);
    seen.stamp = stamp;
    seen.ports = ports;
    true
}

/// The ports bound to a name in the user's or the system store.
pub(crate) fn named_ports() -> Arc<PortSet> {
    let mut cache = lock();
    if let (Some(at), Some(union)) = (cache.checked, &cache.union)
        && at.elapsed() < RECHECK
    {
        return union.clone();
    }
    let paths = store_paths();
    let mut changed = cache.union.is_none()
        || cache.stores.len() != paths.len()
        || cache.stores.iter().zip(&paths).any(|(s, p)| s.path != *p);
    if changed {
        cache.stores = paths
            .into_iter()
            .map(|path| Seen {
                path,
                stamp: None,
                ports: PortSet::new(),
            })
            .collect();
        for seen in &mut cache.stores {
            let (stamp, ports) = store::ports_now(&seen.path);
            (seen.stamp, seen.ports) = (stamp, ports);
        }
    } else {
        for seen in &mut cache.stores {
            changed |= refresh(seen);
        }
    }
    let union = match (&cache.union, changed) {
        (Some(union), false) => union.clone(),
        _ => {
            let union = cache
                .stores
                .iter()
                .fold(PortSet::new(), |all, seen| all.union(&seen.ports));
            Arc::new(union)
        }
    };
    cache.union = Some(union.clone());
    cache.checked = Some(Instant::now());
    union
}
