//! Socket activation: the server binds the socket itself and the child gets
//! it as file descriptor 3, with `LISTEN_FDS=1` and `LISTEN_PID` set to the
//! child's own pid: the protocol of systemd's `sd_listen_fds`, spoken by the
//! `listenfd` crate, `systemfd`, uvicorn `--fd` and others.
//!
//! No unsafe code and no fd left open in this process: the socket is handed
//! to the child as its stdin, which std's spawn duplicates onto fd 0 in the
//! child only (the socket stays close-on-exec here, so children other
//! threads start meanwhile do not inherit it). A `/bin/sh` wrapper then moves
//! it to fd 3, points stdin at `/dev/null`, sets `LISTEN_PID` to its own pid
//! (`$$`), and `exec`s the command, which keeps that pid.

use std::net::IpAddr;

use crate::error::{Error, Protocol, Result};
use crate::reservation::Reservation;

use super::command::Parts;

/// The wrapper: `$0` is the program, `"$@"` its arguments. The redirections
/// belong to the `exec`'d command, so that shells which make descriptors
/// above 2 close-on-exec after a bare `exec 3<&0` (ksh) keep fd 3 open.
#[cfg_attr(not(unix), allow(dead_code))]
pub(super) const WRAPPER: &str =
    r#"LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@" 3<&0 0</dev/null"#;

/// The socket a socket-activated child gets, bound while the claim stands.
#[cfg(unix)]
pub(super) struct Activation {
    socket: std::os::fd::OwnedFd,
}

#[cfg(unix)]
impl Activation {
    /// Binds the socket: a TCP listener, or a UDP socket, on `ip` and the
    /// reserved port.
    pub(super) fn bind(reservation: &Reservation, ip: IpAddr, protocol: Protocol) -> Result<Self> {
        let addr = std::net::SocketAddr::new(ip, reservation.port());
        let socket = match protocol {
            Protocol::Tcp => reservation.tcp_listener_on(ip).map(Into::into),
            Protocol::Udp => std::net::UdpSocket::bind(addr).map(Into::into),
        }
        .map_err(|e| {
            Error::io(
                format!("failed to bind {addr} ({protocol}) for the server"),
                e,
            )
        })?;
        Ok(Activation { socket })
    }

    /// The command that runs `parts` through the wrapper. The socket goes in
    /// with [`hand_over`](Activation::hand_over).
    pub(super) fn command(&self, parts: &Parts) -> std::process::Command {
        let mut command = std::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(WRAPPER)
            .arg(&parts.program)
            .args(&parts.args)
            .env("LISTEN_FDS", "1")
            // Names of another activation this process may have inherited.
            .env_remove("LISTEN_FDNAMES");
        command
    }

    /// Makes the socket the command's stdin, for the wrapper to move to fd 3.
    /// Call last: it replaces any stdin set before. The command owns the
    /// socket then: dropping it after the spawn closes this process's copy,
    /// so that the child alone holds the socket.
    pub(super) fn hand_over(self, command: &mut std::process::Command) {
        command.stdin(std::process::Stdio::from(self.socket));
    }

    #[cfg(test)]
    pub(super) fn socket(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.socket.as_fd()
    }
}

/// Socket activation needs Unix file descriptors: no value of this type
/// exists elsewhere.
#[cfg(not(unix))]
pub(super) enum Activation {}

#[cfg(not(unix))]
impl Activation {
    pub(super) fn bind(_: &Reservation, _: IpAddr, _: Protocol) -> Result<Self> {
        Err(Error::invalid(
            "socket activation (LISTEN_FDS) is supported on Unix only",
        ))
    }

    pub(super) fn command(&self, _parts: &Parts) -> std::process::Command {
        match *self {}
    }

    pub(super) fn hand_over(self, _command: &mut std::process::Command) {
        match self {}
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};

    /// Other threads spawn children at any moment: the socket must never be
    /// inheritable in this process.
    #[test]
    fn the_socket_is_close_on_exec_here() {
        let reservation = crate::Builder::new().reserve().unwrap();
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            let activation =
                Activation::bind(&reservation, [127, 0, 0, 1].into(), protocol).unwrap();
            let flags = fcntl(activation.socket(), FcntlArg::F_GETFD).unwrap();
            assert!(FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC));
        }
    }
}
