//! Linux: `/proc/net/*` for sockets, `/proc/<pid>/{fd,stat,comm}` for
//! processes.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

use super::SocketOwner;
use super::parse::{self, ProcSocket, ProcStat};
use crate::error::{Error, Protocol, Result};

/// Reads a `/proc` file in as few `read` calls as possible: each call makes
/// the kernel walk its socket tables again.
fn read_table(path: &str) -> io::Result<String> {
    let mut text = String::with_capacity(1 << 16);
    fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

pub(super) fn sockets(protocol: Protocol) -> Result<Vec<ProcSocket>> {
    let tables: [&str; 2] = match protocol {
        Protocol::Tcp => ["/proc/net/tcp", "/proc/net/tcp6"],
        Protocol::Udp => ["/proc/net/udp", "/proc/net/udp6"],
    };
    let mut sockets = Vec::new();
    for (i, path) in tables.into_iter().enumerate() {
        let text = match read_table(path) {
            Ok(text) => text,
            // No IPv6 in this kernel: no IPv6 sockets.
            Err(e) if i == 1 && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io_at("failed to read", Path::new(path), e)),
        };
        let parsed = parse::proc_net(&text, protocol)
            .map_err(|why| Error::invalid(format!("failed to parse {path}: {why}")))?;
        sockets.extend(parsed);
    }
    Ok(sockets)
}

pub(super) fn socket_inodes(pid: u32) -> io::Result<Vec<u64>> {
    let mut inodes = Vec::new();
    for fd in fs::read_dir(format!("/proc/{pid}/fd"))? {
        // An fd closed while we list them is simply not there any more.
        let Ok(target) = fs::read_link(fd?.path()) else {
            continue;
        };
        inodes.extend(target.to_str().and_then(parse::socket_link));
    }
    Ok(inodes)
}

/// The pids in `/proc`, ascending.
fn pids() -> Result<Vec<u32>> {
    let entries =
        fs::read_dir("/proc").map_err(|e| Error::io_at("failed to list", Path::new("/proc"), e))?;
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

pub(super) fn socket_owners() -> Result<HashMap<u64, SocketOwner>> {
    let mut owners = HashMap::new();
    for pid in pids()? {
        // Another user's process, or one that just exited.
        let Ok(inodes) = socket_inodes(pid) else {
            continue;
        };
        if inodes.is_empty() {
            continue;
        }
        let name = fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_default();
        for inode in inodes {
            owners.entry(inode).or_insert_with(|| SocketOwner {
                pid,
                name: name.clone(),
            });
        }
    }
    Ok(owners)
}

pub(super) fn processes() -> Result<Vec<ProcStat>> {
    Ok(pids()?
        .into_iter()
        // A process that exits while we list them is simply not there.
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|text| parse::proc_stat(&text))
        .collect())
}
