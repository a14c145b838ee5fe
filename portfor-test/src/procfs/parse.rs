//! Pure parsers of Linux's `/proc/net/{tcp,tcp6,udp,udp6}` and
//! `/proc/<pid>/stat`.
//!
//! They compile on every platform so their unit tests, run against the
//! samples in `data/os/`, run everywhere.

// Used by the Linux backend only.
#![cfg_attr(not(test), allow(dead_code))]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::Protocol;

/// `TCP_LISTEN` in the kernel's `st` column.
const TCP_LISTEN: u8 = 0x0A;
/// `TCP_CLOSE`: what an unconnected UDP socket shows, one that receives
/// from anyone.
const UDP_UNCONNECTED: u8 = 0x07;

/// One socket of Linux's socket tables, `/proc/net/tcp`, `tcp6`, `udp` or
/// `udp6`: the sockets of the reading process's network namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcSocket {
    protocol: Protocol,
    local: SocketAddr,
    state: u8,
    uid: u32,
    inode: u64,
}

impl ProcSocket {
    /// TCP or UDP.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The local address and port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// A TCP socket in the `LISTEN` state, or an unconnected UDP socket (one
    /// that receives datagrams from anyone): a server's socket.
    pub fn is_listening(&self) -> bool {
        match self.protocol {
            Protocol::Tcp => self.state == TCP_LISTEN,
            Protocol::Udp => self.state == UDP_UNCONNECTED,
        }
    }

    /// The state: for TCP the names of the kernel's `tcp_states.h` in lower
    /// case (`listen`, `established`, `time-wait`, ...); for UDP `bound`
    /// (unconnected) or `connected`.
    pub fn state(&self) -> &'static str {
        match (self.protocol, self.state) {
            (Protocol::Tcp, code) => tcp_state(code),
            (Protocol::Udp, 0x01) => "connected",
            (Protocol::Udp, _) => "bound",
        }
    }

    /// The user id that created the socket.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The socket's inode, which `/proc/<pid>/fd/*` links name as
    /// `socket:[inode]`; 0 for a socket no process holds (`time-wait`).
    pub fn inode(&self) -> u64 {
        self.inode
    }
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
        TCP_LISTEN => "listen",
        0x0B => "closing",
        0x0C => "new-syn-recv",
        _ => "unknown",
    }
}

/// Decodes the kernel's hex address: each 32-bit word of the address in
/// network byte order, printed as a host-order integer (`%08X`), so
/// `0100007F` is 127.0.0.1 on a little-endian machine.
fn hex_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| {
        let digits = hex.get(i * 8..i * 8 + 8)?;
        u32::from_str_radix(digits, 16).ok().map(u32::to_ne_bytes)
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

fn parse_line(line: &str, protocol: Protocol) -> Option<ProcSocket> {
    // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode ...
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (ip, port) = fields.get(1)?.split_once(':')?;
    let local = SocketAddr::new(hex_ip(ip)?, u16::from_str_radix(port, 16).ok()?);
    let state = u8::from_str_radix(fields.get(3)?, 16).ok()?;
    let uid = fields.get(7)?.parse().ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    Some(ProcSocket {
        protocol,
        local,
        state,
        uid,
        inode,
    })
}

/// Parses one of `/proc/net/{tcp,tcp6,udp,udp6}`: a header line, then a
/// socket per line. `Err` names the first line that is not a socket.
pub(crate) fn proc_net(text: &str, protocol: Protocol) -> Result<Vec<ProcSocket>, String> {
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            parse_line(line, protocol).ok_or_else(|| format!("unexpected line {:?}", line.trim()))
        })
        .collect()
}

/// The fields of `/proc/<pid>/stat` a process tree needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub(crate) pid: u32,
    /// `R`, `S`, `D`, `Z` (zombie), ...
    pub(crate) state: char,
    pub(crate) ppid: u32,
    pub(crate) pgrp: u32,
}

impl ProcStat {
    /// Whether the process has exited (a zombie waiting to be reaped, or
    /// dead): it holds no file descriptors any more.
    pub(crate) fn has_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses `/proc/<pid>/stat`: `pid (comm) state ppid pgrp ...`. The command
/// name may hold spaces and parentheses, so the fields after it are found
/// from its last `)`.
pub(crate) fn proc_stat(text: &str) -> Option<ProcStat> {
    let (pid, rest) = text.split_once(" (")?;
    let (_comm, rest) = rest.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some(ProcStat {
        pid: pid.trim().parse().ok()?,
        state,
        ppid: fields.next()?.parse().ok()?,
        pgrp: fields.next()?.parse().ok()?,
    })
}

/// The inode of a `/proc/<pid>/fd/*` link's target, `socket:[12345]`.
pub(crate) fn socket_link(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! sample {
        ($name:literal) => {
            include_str!(concat!("../../../data/os/", $name))
        };
    }

    /// Each socket as `protocol address state inode`.
    fn brief(text: &str, protocol: Protocol) -> Vec<String> {
        proc_net(text, protocol)
            .unwrap()
            .iter()
            .map(|s| {
                assert_eq!(s.uid(), 0, "captured as root");
                format!(
                    "{} {} {} {}",
                    s.protocol(),
                    s.local_addr(),
                    s.state(),
                    s.inode()
                )
            })
            .collect()
    }

    // Captured on little-endian x86-64: the words are native-endian.
    #[cfg(target_endian = "little")]
    #[test]
    fn sockets_are_read_from_proc_net() {
        assert_eq!(
            brief(sample!("linux-proc-net-tcp.txt"), Protocol::Tcp),
            [
                "tcp 0.0.0.0:2024 listen 48",
                "tcp 127.0.0.1:45003 listen 105734",
                "tcp 127.0.0.1:33150 time-wait 0",
                "tcp 127.0.0.1:45003 established 105736",
                "tcp 127.0.0.1:42190 established 105735",
            ]
        );
        assert_eq!(
            brief(sample!("linux-proc-net-tcp6.txt"), Protocol::Tcp),
            [
                "tcp [::]:45002 listen 105733",
                "tcp [::1]:45001 listen 105732"
            ]
        );
        assert_eq!(
            brief(sample!("linux-proc-net-udp.txt"), Protocol::Udp),
            ["udp 127.0.0.1:45004 bound 105737"]
        );
        assert_eq!(
            brief(sample!("linux-proc-net-udp6.txt"), Protocol::Udp),
            ["udp [::1]:45005 bound 105738"]
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn listening_means_a_tcp_listener_or_an_unconnected_udp_socket() {
        let tcp = proc_net(sample!("linux-proc-net-tcp.txt"), Protocol::Tcp).unwrap();
        let listening: Vec<u16> = tcp
            .iter()
            .filter(|s| s.is_listening())
            .map(|s| s.local_addr().port())
            .collect();
        assert_eq!(listening, [2024, 45003]);
        let udp = proc_net(sample!("linux-proc-net-udp.txt"), Protocol::Udp).unwrap();
        assert!(udp[0].is_listening());
        let connected = proc_net(
            "header\n   1: 0100007F:AFCC 0100007F:0035 01 0:0 0:0 0 1000 0 7 2 0 0\n",
            Protocol::Udp,
        )
        .unwrap();
        assert_eq!(connected[0].state(), "connected");
        assert_eq!(connected[0].uid(), 1000);
        assert!(!connected[0].is_listening());
    }

    #[test]
    fn a_line_that_is_not_a_socket_is_named() {
        let text = "header\n   0: 0100007F:XYZ0 00000000:0000 0A 0 0 0 0 0 17\n";
        let error = proc_net(text, Protocol::Tcp).unwrap_err();
        assert!(error.contains("XYZ0"), "{error}");
        assert_eq!(proc_net("header only\n", Protocol::Tcp), Ok(vec![]));
    }

    #[test]
    fn stat_sample_and_awkward_names() {
        assert_eq!(
            proc_stat(sample!("linux-proc-pid-stat.txt")),
            Some(ProcStat {
                pid: 22604,
                state: 'R',
                ppid: 22601,
                pgrp: 22601
            })
        );
        // A process may name itself anything, ") Z 1 1" included.
        let tricky = proc_stat("77 (a) Z 1 1 (b) S 5 6 7 8\n").unwrap();
        assert_eq!(
            (tricky.pid, tricky.state, tricky.ppid, tricky.pgrp),
            (77, 'S', 5, 6)
        );
        assert!(proc_stat("garbage").is_none());
        assert!(proc_stat("1 (x) Z 0 0").unwrap().has_exited());
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_link("socket:[103939]"), Some(103939));
        assert_eq!(socket_link("pipe:[5]"), None);
        assert_eq!(socket_link("/dev/null"), None);
    }
}
