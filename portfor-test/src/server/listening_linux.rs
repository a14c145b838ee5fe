//! Linux: the server is ready when a socket on the port, listening (TCP) or
//! bound unconnected (UDP), on an address that serves the one asked for, is
//! held by the child or one of its descendants, as `/proc` shows them.
//!
//! Descendants are the processes whose parent chain leads to the child, and
//! the members of the child's process group (which keeps a grandchild whose
//! parent has exited). A socket of any other process does not count, however
//! well it answers connections.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;

use super::{Check, Seen, serves};
use crate::error::{Protocol, Result};
use crate::procfs::{self, ProcSocket};

pub(super) fn check(child: u32, addr: SocketAddr, protocol: Protocol) -> Result<Check> {
    let on_port: Vec<ProcSocket> = procfs::proc_sockets(protocol)?
        .into_iter()
        .filter(|s| s.is_listening() && s.local_addr().port() == addr.port())
        .collect();
    // The usual case while a server starts: nothing yet, and no need to
    // look at processes.
    let Some(first) = on_port.first() else {
        return Ok(Check::NotYet(Seen::Nothing {
            port: addr.port(),
            protocol,
        }));
    };
    let mut inodes = HashSet::new();
    let mut unreadable = None;
    for pid in tree(child)? {
        match procfs::socket_inodes(pid) {
            Ok(held) => inodes.extend(held),
            // Exited since the process list was read.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => unreadable = Some((pid, e)),
        }
    }
    let ours: Vec<&ProcSocket> = on_port
        .iter()
        .filter(|s| inodes.contains(&s.inode()))
        .collect();
    if ours.iter().any(|s| serves(s.local_addr().ip(), addr.ip())) {
        return Ok(Check::Ready);
    }
    Ok(Check::NotYet(if let Some(socket) = ours.first() {
        Seen::OtherAddress(socket.local_addr())
    } else if let Some((pid, error)) = unreadable {
        Seen::Unreadable {
            pid,
            error: error.to_string(),
        }
    } else {
        Seen::Foreign {
            addr: first.local_addr(),
            inode: first.inode(),
            owner: None,
        }
    }))
}

/// The child and its living descendants: by parent, and by process group.
fn tree(child: u32) -> Result<Vec<u32>> {
    let processes: Vec<_> = procfs::processes()?
        .into_iter()
        .filter(|p| !p.has_exited())
        .collect();
    let mut members = vec![child];
    members.extend(processes.iter().filter(|p| p.pgrp == child).map(|p| p.pid));
    // Parent links, to a fixed point: a process list is not in tree order.
    let mut i = 0;
    while i < members.len() {
        let parent = members[i];
        for process in &processes {
            if process.ppid == parent && !members.contains(&process.pid) {
                members.push(process.pid);
            }
        }
        i += 1;
    }
    members.sort_unstable();
    members.dedup();
    Ok(members)
}
