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

use portfor_test::Builder;
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
    /// Socket inode -> (pid, process name), filled on first need.
    owners: Option<HashMap<u64, (u32, String)>>,
}

/// Parses `/proc/net/tcp` or `tcp6`: the listening sockets as (port, inode).
fn parse_proc_net_tcp(text: &str) -> Vec<(u16, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
            if fields.get(3) != Some(&"0A") {
                return None;
            }
            let port = u16::from_str_radix(fields.get(1)?.rsplit_once(':')?.1, 16).ok()?;
            let inode = fields.get(9)?.parse().ok()?;
            Some((port, inode))
        })
        .collect()
}

/// Reads a `/proc` file in as few `read` calls as possible: each call makes
/// the kernel walk its socket tables again.
fn read_proc(path: &str) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::with_capacity(1 << 20);
    file.read_to_end(&mut bytes).ok()?;
    String::from_utf8(bytes).ok()
}

impl Live {
    fn listeners(&mut self) -> &HashMap<u16, Vec<u64>> {
        self.listeners.get_or_insert_with(|| {
            let mut listeners: HashMap<u16, Vec<u64>> = HashMap::new();
            if cfg!(target_os = "linux") {
                for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
                    for (port, inode) in read_proc(file)
                        .as_deref()
                        .map(parse_proc_net_tcp)
                        .unwrap_or_default()
                    {
                        listeners.entry(port).or_default().push(inode);
                    }
                }
            }
            listeners
        })
    }

    fn owners(&mut self) -> &HashMap<u64, (u32, String)> {
        self.owners.get_or_insert_with(|| {
            let mut owners = HashMap::new();
            let Ok(procs) = std::fs::read_dir("/proc") else {
                return owners;
            };
            for entry in procs.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
                    continue;
                };
                let name = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default();
                for fd in fds.flatten() {
                    let Ok(link) = std::fs::read_link(fd.path()) else {
                        continue;
                    };
                    let link = link.to_string_lossy();
                    if let Some(inode) = link
                        .strip_prefix("socket:[")
                        .and_then(|s| s.strip_suffix(']'))
                        .and_then(|s| s.parse::<u64>().ok())
                    {
                        owners.entry(inode).or_insert_with(|| (pid, name.clone()));
                    }
                }
            }
            owners
        })
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
                    pid: owner.as_ref().map(|(pid, _)| *pid),
                    process: owner.map(|(_, name)| name),
                }
            }
            None => Status::InUse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_read_from_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                    \x20  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
                    \x20  1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 67890 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(parse_proc_net_tcp(text), [(8080, 12345)]);
    }

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
