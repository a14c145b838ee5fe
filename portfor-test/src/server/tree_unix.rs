//! Unix: the server runs in a process group of its own, which its
//! descendants join unless they leave it on purpose (`setsid`, daemons).
//!
//! Stopping it: `SIGTERM` to the group, a grace period for the group to
//! exit, `SIGKILL` to whatever is left, reap the child, and wait (bounded)
//! until no process of the group is alive, so that their sockets are closed
//! before the claim on the port ends. Signals go to the group while the
//! child is still unreaped whenever possible: its pid, the group's id,
//! cannot be reused until then.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long to wait for killed processes to disappear: `SIGKILL` cannot be
/// ignored, but a process in uninterruptible sleep dies when it wakes.
const KILLED_WAIT: Duration = Duration::from_secs(2);

/// Between two looks at the group.
const PAUSE: Duration = Duration::from_millis(10);

/// Puts the command's child in a new process group, whose id is its pid.
pub(super) fn prepare(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    command.process_group(0);
}

/// The child's process group.
#[derive(Debug)]
pub(super) struct ProcessTree {
    group: Pid,
}

impl ProcessTree {
    /// The group `prepare` made the child lead. Infallible here.
    pub(super) fn adopt(child: &Child) -> io::Result<ProcessTree> {
        let pid = i32::try_from(child.id()).map_err(io::Error::other)?;
        Ok(ProcessTree {
            group: Pid::from_raw(pid),
        })
    }

    /// Stops the group: `SIGTERM`, up to `grace` for it to exit, then
    /// `SIGKILL` (at once when `grace` is zero); returns the child's exit
    /// status once it is reaped and the group is gone.
    pub(super) fn stop(&mut self, child: &mut Child, grace: Duration) -> io::Result<ExitStatus> {
        if !grace.is_zero() && !self.is_gone(child)? {
            self.signal(child, Signal::SIGTERM);
            self.wait_gone(child, grace)?;
        }
        if !self.is_gone(child)? {
            self.signal(child, Signal::SIGKILL);
        }
        let status = child.wait()?;
        self.wait_gone(child, KILLED_WAIT)?;
        Ok(status)
    }

    fn signal(&self, child: &mut Child, signal: Signal) {
        // ESRCH: nobody left. EPERM: what is left changed its user; nothing
        // this process can do about it.
        let _ = killpg(self.group, signal);
        // The child itself, should it have left the group (`setsid`): its
        // pid stays its own until it is reaped here.
        if let Ok(None) = child.try_wait() {
            let _ = kill(self.group, signal);
        }
    }

    fn wait_gone(&self, child: &mut Child, limit: Duration) -> io::Result<()> {
        let deadline = Instant::now() + limit;
        while !self.is_gone(child)? && Instant::now() < deadline {
            sleep(PAUSE);
        }
        Ok(())
    }

    /// Whether the child has exited and no process of its group is alive.
    /// Reaps the child if it has exited, so that its zombie does not count.
    fn is_gone(&self, child: &mut Child) -> io::Result<bool> {
        Ok(child.try_wait()?.is_some() && group_is_empty(self.group))
    }
}

/// Linux: no process of the group in `/proc` but zombies, which hold no
/// sockets. (A zombie counts for `kill`, and in a container whose init does
/// not reap orphans, a killed grandchild stays a zombie for good.)
#[cfg(target_os = "linux")]
fn group_is_empty(group: Pid) -> bool {
    let group = group.as_raw().unsigned_abs();
    match crate::procfs::processes() {
        Ok(processes) => !processes.iter().any(|p| p.pgrp == group && !p.has_exited()),
        Err(_) => killpg_finds_nobody(Pid::from_raw(group as i32)),
    }
}

#[cfg(not(target_os = "linux"))]
fn group_is_empty(group: Pid) -> bool {
    killpg_finds_nobody(group)
}

fn killpg_finds_nobody(group: Pid) -> bool {
    killpg(group, None) == Err(Errno::ESRCH)
}
