//! Is a port in use now, and by which process?
//!
//! An exclusive bind probe (TCP and UDP, every default address) says whether
//! a port is free, in microseconds. Only for a port that is taken, on Linux,
//! are the sockets read from `/proc/net/{tcp,tcp6,udp,udp6}`, and their
//! owners from the `socket:[inode]` links under `/proc/<pid>/fd` (the
//! processes this user may inspect): reading those files walks the kernel's
//! whole socket hash table, about 2 ms a read here, which a `list` of free
//! ports should not pay. Elsewhere a taken port is "in use", without owner.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use portfor_test::{Builder, Protocol};
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

/// The state names of `include/net/tcp_states.h`.
fn tcp_state(code: u8) -> &'static str {
    match code {
        0x01 => "established",
        0x02 => "syn-sent",
        0x03 => "syn-recv",
        0x04 => "fin-wait1",
        0x05 => "fin-wait2",
        0x06 => "time-wait",
        0x07 => "close",
        0x08 => "close-wait",
        0x09 => "last-ack",
        0x0A => "listen",
        0x0B => "closing",
        0x0C => "new-syn-recv",
        _ => "unknown",
    }
}

/// An address as `/proc/net` prints it: the raw bytes read as native-endian
/// 32-bit words, each printed as 8 hex digits.
fn parse_address(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let text = hex.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(text, 16).ok()?.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Parses `/proc/net/tcp`, `tcp6`, `udp` or `udp6`: every socket.
pub(crate) fn parse_proc_net(text: &str, protocol: Protocol) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
            let (address, port) = fields.get(1)?.rsplit_once(':')?;
            let code = u8::from_str_radix(fields.get(3)?, 16).ok()?;
            let state = match (protocol, code) {
                (Protocol::Tcp, code) => tcp_state(code),
                (Protocol::Udp, 0x01) => "connected",
                (Protocol::Udp, _) => "bound",
            };
            Some(Socket {
                protocol,
                address: parse_address(address)?,
                port: u16::from_str_radix(port, 16).ok()?,
                state,
                uid: fields.get(7)?.parse().ok()?,
                inode: fields.get(9)?.parse().ok()?,
            })
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

/// The machine's sockets and their owners, read when first needed.
#[derive(Default)]
pub(crate) struct Live {
    sockets: Option<Vec<Socket>>,
    /// Socket inode -> (pid, process name), filled on first need.
    owners: Option<HashMap<u64, (u32, String)>>,
}

impl Live {
    fn sockets(&mut self) -> &[Socket] {
        self.sockets.get_or_insert_with(|| {
            let mut sockets = Vec::new();
            if cfg!(target_os = "linux") {
                for (file, protocol) in [
                    ("/proc/net/tcp", Protocol::Tcp),
                    ("/proc/net/tcp6", Protocol::Tcp),
                    ("/proc/net/udp", Protocol::Udp),
                    ("/proc/net/udp6", Protocol::Udp),
                ] {
                    if let Some(text) = read_proc(file) {
                        sockets.extend(parse_proc_net(&text, protocol));
                    }
                }
            }
            sockets
        })
    }

    fn owners(&mut self) -> &HashMap<u64, (u32, String)> {
        self.owners.get_or_insert_with(read_owners)
    }

    /// The process holding the socket `inode`, where this user can see it.
    pub(crate) fn owner(&mut self, inode: u64) -> Option<(u32, String)> {
        if inode == 0 {
            return None;
        }
        self.owners().get(&inode).cloned()
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

/// Socket inode -> (pid, process name), over the processes this user may
/// inspect.
fn read_owners() -> HashMap<u64, (u32, String)> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> String {
        let path = format!("{}/../data/os/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn brief(sockets: &[Socket]) -> Vec<String> {
        sockets
            .iter()
            .map(|s| {
                format!(
                    "{} {} {} {} {}",
                    s.protocol, s.address, s.port, s.state, s.inode
                )
            })
            .collect()
    }

    // Captured on little-endian x86-64: the words are native-endian.
    #[cfg(target_endian = "little")]
    #[test]
    fn sockets_are_read_from_proc_net() {
        assert_eq!(
            brief(&parse_proc_net(
                &sample("linux-proc-net-tcp.txt"),
                Protocol::Tcp
            )),
            [
                "tcp 0.0.0.0 2024 listen 48",
                "tcp 127.0.0.1 45003 listen 105734",
                "tcp 127.0.0.1 33150 time-wait 0",
                "tcp 127.0.0.1 45003 established 105736",
                "tcp 127.0.0.1 42190 established 105735",
            ]
        );
        assert_eq!(
            brief(&parse_proc_net(
                &sample("linux-proc-net-tcp6.txt"),
                Protocol::Tcp
            )),
            ["tcp :: 45002 listen 105733", "tcp ::1 45001 listen 105732"]
        );
        assert_eq!(
            brief(&parse_proc_net(
                &sample("linux-proc-net-udp.txt"),
                Protocol::Udp
            )),
            ["udp 127.0.0.1 45004 bound 105737"]
        );
        assert_eq!(
            brief(&parse_proc_net(
                &sample("linux-proc-net-udp6.txt"),
                Protocol::Udp
            )),
            ["udp ::1 45005 bound 105738"]
        );
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = "header\n0: zz:1F90 00000000:0000 0A 0 0 0 0 0 1\n\n   1: 0100007F:1F90\n";
        assert!(parse_proc_net(text, Protocol::Tcp).is_empty());
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
