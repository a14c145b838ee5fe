//! Platforms without Linux's `/proc`.

use std::collections::HashMap;
use std::io;

use super::SocketOwner;
use super::parse::{ProcSocket, ProcStat};
use crate::error::{Error, Protocol, Result};

const UNSUPPORTED: &str = "reading sockets and processes from /proc is supported on Linux only";

pub(super) fn sockets(_protocol: Protocol) -> Result<Vec<ProcSocket>> {
    Err(Error::invalid(UNSUPPORTED))
}

pub(super) fn socket_inodes(_pid: u32) -> io::Result<Vec<u64>> {
    Err(io::Error::new(io::ErrorKind::Unsupported, UNSUPPORTED))
}

pub(super) fn socket_owners() -> Result<HashMap<u64, SocketOwner>> {
    Err(Error::invalid(UNSUPPORTED))
}

pub(super) fn processes() -> Result<Vec<ProcStat>> {
    Err(Error::invalid(UNSUPPORTED))
}
