//! Is a port in use now, and by which process?
//!
//! An exclusive bind probe (TCP and UDP, every default address) says whether
//! a port is free, in microseconds. Only for a port that is taken, on Linux,
//! are the sockets read from `/proc/net/{tcp,tcp6,udp,udp6}`, and their
//! owners from the `socket:[inode]` links under `/proc/<pid>/fd` (the
//! processes this user may inspect), both by the library
//! ([`proc_sockets`], [`socket_owners`]): reading those files walks the
//! kernel's whole socket hash table, about 2 ms a read here, which a `list`
//! of free ports should not pay. Elsewhere a taken port is "in use", without
//! owner.

use std::collections::HashMap;
use std::net::IpAddr;

use portfor_test::{Builder, ProcSocket, Protocol, SocketOwner, proc_sockets, socket_owners};
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
            Status::Listening { .. } => "listening (process not visible to this user)".to_owned(),
            Status::InUse => "in use".to_owned(),
        }
    }

    /// Whether the listener is `expected` (the declared process): `None`
    /// when there is no listener, or its process cannot be seen.
    pub(crate) fn is_expected(&self, expected: Option<&str>) -> Option<bool> {
        match self {
            Status::Listening {
                process: Some(process),
                ..
            } => Some(expected.is_some_and(|e| e == process)),
            _ => None,
        }
    }
}

/// A socket on this machine, from `/proc/net/*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Socket {
    pub(crate) protocol: Protocol,
    pub(crate) address: IpAddr,
    pub(crate) port: u16,
    /// `listen`, `established`, `time-wait`, ...; for UDP `bound` or
    /// `connected`.
    pub(crate) state: &'static str,
    pub(crate) uid: u32,
    /// 0 for sockets no process holds (TIME_WAIT).
    pub(crate) inode: u64,
}

impl From<&ProcSocket> for Socket {
    fn from(socket: &ProcSocket) -> Socket {
        Socket {
            protocol: socket.protocol(),
            address: socket.local_addr().ip(),
            port: socket.local_addr().port(),
            state: socket.state(),
            uid: socket.uid(),
            inode: socket.inode(),
        }
    }
}

/// The machine's sockets and their owners, read when first needed.
#[derive(Default)]
pub(crate) struct Live {
    sockets: Option<Vec<Socket>>,
    /// Socket inode -> its process, filled on first need.
    owners: Option<HashMap<u64, SocketOwner>>,
}

impl Live {
    fn sockets(&mut self) -> &[Socket] {
        self.sockets.get_or_insert_with(|| {
            // Not Linux, or a table that cannot be read: no sockets to show
            // (a taken port is then "in use").
            [Protocol::Tcp, Protocol::Udp]
                .into_iter()
                .flat_map(|protocol| proc_sockets(protocol).unwrap_or_default())
                .map(|socket| Socket::from(&socket))
                .collect()
        })
    }

    fn owners(&mut self) -> &HashMap<u64, SocketOwner> {
        self.owners
            .get_or_insert_with(|| socket_owners().unwrap_or_default())
    }

    /// The process holding the socket `inode`, where this user can see it.
    pub(crate) fn owner(&mut self, inode: u64) -> Option<(u32, String)> {
        if inode == 0 {
            return None;
        }
        self.owners()
            .get(&inode)
            .map(|owner| (owner.pid(), owner.name().to_owned()))
    }

    /// Every socket whose local port is `port` (Linux; elsewhere none).
    pub(crate) fn sockets_on(&mut self, port: u16) -> Vec<Socket> {
        self.sockets()
            .iter()
            .filter(|s| s.port == port)
            .cloned()
            .collect()
    }

    /// The status of `port` now.
    pub(crate) fn status(&mut self, port: u16) -> Status {
        if let Ok(None) = Builder::new().udp(true).check(port) {
            return Status::Free;
        }
        // Taken (or a probe failed for another reason, which says nothing
        // about the port: reporting it in use is the cautious answer).
        let listeners: Vec<u64> = self
            .sockets_on(port)
            .iter()
            .filter(|s| s.protocol == Protocol::Tcp && s.state == "listen")
            .map(|s| s.inode)
            .collect();
        if listeners.is_empty() {
            return Status::InUse;
        }
        let owner = listeners.iter().find_map(|&inode| self.owner(inode));
        Status::Listening {
            pid: owner.as_ref().map(|(pid, _)| *pid),
            process: owner.map(|(_, name)| name),
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

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
