//! Windows: the server runs in a job object marked
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, which every process it starts joins.
//! Closing the job's handle ends them all: when the `Server` is stopped, and
//! when this process dies, however it dies.
//!
//! The child joins the job just after it starts (std does not expose the
//! suspended start that would close that gap): a process it starts in its
//! first instants could escape the job. There is no `SIGTERM`: stopping
//! terminates at once, whatever the grace period.

use std::io;
use std::os::windows::io::AsRawHandle;
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use win32job::Job;

pub(super) fn prepare(_command: &mut Command) {}

/// The child's job object; `None` once closed.
#[derive(Debug)]
pub(super) struct ProcessTree {
    job: Option<Job>,
}

impl ProcessTree {
    /// Puts `child` in a new job that kills its processes when closed.
    pub(super) fn adopt(child: &Child) -> io::Result<ProcessTree> {
        let job = Job::create().map_err(io::Error::other)?;
        let mut limits = job.query_extended_limit_info().map_err(io::Error::other)?;
        limits.limit_kill_on_job_close();
        job.set_extended_limit_info(&limits)
            .map_err(io::Error::other)?;
        job.assign_process(child.as_raw_handle() as isize)
            .map_err(io::Error::other)?;
        Ok(ProcessTree { job: Some(job) })
    }

    /// Closes the job, which terminates every process in it, and reaps the
    /// child.
    pub(super) fn stop(&mut self, child: &mut Child, _grace: Duration) -> io::Result<ExitStatus> {
        drop(self.job.take());
        child.wait()
    }
}
