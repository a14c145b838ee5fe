//! Platforms with neither process groups nor job objects: only the child
//! itself is stopped.

use std::io;
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

pub(super) fn prepare(_command: &mut Command) {}

#[derive(Debug)]
pub(super) struct ProcessTree;

impl ProcessTree {
    pub(super) fn adopt(_child: &Child) -> io::Result<ProcessTree> {
        Ok(ProcessTree)
    }

    pub(super) fn stop(&mut self, child: &mut Child, _grace: Duration) -> io::Result<ExitStatus> {
        if child.try_wait()?.is_none() {
            child.kill()?;
        }
        child.wait()
    }
}
