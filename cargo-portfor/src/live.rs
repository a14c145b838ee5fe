//! Is a port in use now, and by which process?
//!
//! An exclusive bind probe (TCP and UDP, every default address) says whether
//! a port is free, in microseconds. Only for a port that is taken, on Linux,
//! are the TCP listeners read from `/proc/net/tcp` and `/proc/net/tcp6`, and
//! their owners from the `socket:[inode]` links under `/proc/<pid>/fd` (the
//! processes this user may inspect): reading those files walks the kernel's
//! whole socket hash table, about 2 ms a read here, which a `list` of free
//! ports should not pay. Elsewhere a taken port is "in use", without owner.

use std::collections::HashMap;

use portfor_test::{Builder, Protocol, SocketOwner};
use serde::Serialize;

/// The live state of a port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub(crate) enum Status {
    /// Nothing holds it.
    Free,
    /// A TCP listener, with its process where it can be seen.
    Listening {
        pid: Option<u32>,
        process: Option<String>,
    },
    /// Held some other way, or by a process that cannot be seen.
    InUse,
}

impl Status {
    pub(crate) fn describe(&self) -> String {
        match self {
            Status::Free => "free".to_owned(),
            Status::Listening {
                pid: Some(pid),
                process,
            } => format!(
                "listening (pid {pid}{})",
                process
                    .as_ref()
                    .map(|p| format!(", {p}"))
                    .unwrap_or_default()
            ),
            Status::Listening { .. } => "listening".to_owned(),
            Status::InUse => "in use".to_owned(),
        }
    }
}

/// The machine's TCP listeners, read when first needed.
#[derive(Default)]
pub(crate) struct Live {
    /// Port -> socket inodes listening on it.
    listeners: Option<HashMap<u16, Vec<u64>>>,
    /// Socket inode -> its process, filled on first need.
    owners: Option<HashMap<u64, SocketOwner>>,
}

impl Live {
    fn listeners(&mut self) -> &HashMap<u16, Vec<u64>> {
        self.listeners.get_or_insert_with(|| {
            let mut listeners: HashMap<u16, Vec<u64>> = HashMap::new();
            // Not Linux, or /proc unreadable: no owners to show, and a taken
            // port is "in use".
            let sockets = portfor_test::proc_sockets(Protocol::Tcp).unwrap_or_default();
            for socket in sockets.iter().filter(|s| s.is_listening()) {
                listeners
                    .entry(socket.local_addr().port())
                    .or_default()
                    .push(socket.inode());
            }
            listeners
        })
    }

    fn owners(&mut self) -> &HashMap<u64, SocketOwner> {
        self.owners
            .get_or_insert_with(|| portfor_test::socket_owners().unwrap_or_default())
    }

    /// The status of `port` now.
    pub(crate) fn status(&mut self, port: u16) -> Status {
        if let Ok(None) = Builder::new().udp(true).check(port) {
            return Status::Free;
        }
        // Taken (or a probe failed for another reason, which says nothing
        // about the port: reporting it in use is the cautious answer).
        match self.listeners().get(&port).cloned() {
            Some(inodes) => {
                let owner = inodes
                    .iter()
                    .find_map(|inode| self.owners().get(inode).cloned());
                Status::Listening {
                    pid: owner.as_ref().map(SocketOwner::pid),
                    process: owner.map(|o| o.name().to_owned()),
                }
            }
            None => Status::InUse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_listener_of_this_process_is_seen_with_its_pid() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Live::default().status(port);
        assert_eq!(
            status,
            Status::Listening {
                pid: Some(std::process::id()),
                process: std::fs::read_to_string("/proc/self/comm")
                    .ok()
                    .map(|s| s.trim().to_owned()),
            }
        );
        drop(listener);
        assert_eq!(Live::default().status(port), Status::Free);
    }
}
