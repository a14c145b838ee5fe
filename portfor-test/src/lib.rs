//! Ports for tests and local development, chosen the way
//! [port-for](https://github.com/fizyk/port-for) chooses them, without its
//! blind spots.
//!
//! Use this crate when:
//!
//! - a test starts a server that needs a port number and cannot simply bind
//!   port 0 and report back: [`Builder::select`] picks a port that is free
//!   now on every address a server is likely to bind;
//! - you need port-for's API in Rust: see [`compat`];
//! - you need to know what the operating system keeps for itself:
//!   [`system_port_ranges`].
//!
//! # Design
//!
//! A port is chosen from a table generated from the IANA registry (the ports
//! nobody is assigned, minus ports well known without an assignment and ports
//! browsers refuse), minus the system's **ephemeral range** (where the kernel
//! picks ports for outgoing connections and `bind(0)`, so a port there can be
//! taken at any moment) and its **reserved ports**, keeping only long runs of
//! such ports and staying 3 ports away from their ends. The candidate set is
//! built once per process; candidates are tried in random order, so parallel
//! test processes do not all try the same ports first.
//!
//! A candidate is **free** when an exclusive bind (no `SO_REUSEADDR`)
//! succeeds on 127.0.0.1, 0.0.0.0, and where the host has IPv6 on ::1 and
//! `[::]`, for TCP, and for UDP when asked. A bind that fails with "permission
//! denied" (privileged ports, Windows excluded ranges) counts as taken.
//! Probes never connect, so they never reach a live service.
//!
//! # Races and guarantees
//!
//! [`Builder::select`] returns a port that was free when it was probed. It
//! does not hold it: another process can bind it before you do.
//!
//! # Platform support
//!
//! Linux, macOS, the BSDs and Windows; see [`system_port_ranges`] for how
//! each reports its ranges. Elsewhere the ranges fall back to
//! [`DEFAULT_EPHEMERAL_RANGE`].
//!
//! # Environment
//!
//! - `PORTFOR_ALLOW_EPHEMERAL=1`: choose from the ephemeral range when
//!   nothing else is left (see [`Builder::allow_ephemeral`]).

mod claims;
mod error;
mod paths;
mod probe;
mod range;
mod reservation;
mod rng;
mod select;
mod system_ranges;
mod table;

pub mod compat;

pub use error::{Error, Protocol, Reason, Rejection, Result};
pub use paths::{CLAIM_DIR_ENV, claim_dir};
pub use probe::ipv6_available;
pub use range::{ParseRangeError, PortRange, PortSet};
pub use reservation::{Reservation, free_port, try_free_port};
pub use select::{
    ALLOW_EPHEMERAL_ENV, Builder, DEFAULT_ATTEMPTS, GOOD_RANGE_BORDER, GOOD_RANGE_MIN_LEN,
};
pub use system_ranges::{DEFAULT_EPHEMERAL_RANGE, SystemPortRanges, system_port_ranges};
