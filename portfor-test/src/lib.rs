//! Ports for tests and local development that no two processes are handed
//! at once, chosen the way [port-for](https://github.com/fizyk/port-for)
//! chooses them, without its blind spots.
//!
//! Use:
//!
//! - [`free_port()`] when a test needs a port number for a server: it is
//!   free, and no other test is handed it while this process lives, under
//!   `cargo test` (threads) and `cargo nextest` (a process per test) alike;
//! - [`Builder::reserve`] for a [`Reservation`] guard: the claim ends when it
//!   drops, it hands over a bound [`TcpListener`](std::net::TcpListener) with
//!   no window, and on Linux it can also hold the port in the kernel;
//! - [`Server::spawn`] when a test runs a server as a child process: it
//!   reserves a port, hands it to the command (`{port}` in its arguments,
//!   `PORT` in its environment), returns once the child listens on it, and
//!   stops the child and its descendants on drop; [`ServerBuilder`] for
//!   socket activation and other options;
//! - [`Reservation::tcp_listener_on`] for a listener on any local address,
//!   and, with the `tokio` feature, `Reservation::tokio_listener` for a
//!   ready `tokio::net::TcpListener`;
//! - [`Builder::reserve_many`] and [`Builder::reserve_block`] for several
//!   ports, or a run of consecutive ones;
//! - [`named_port!`] for a port that is the same every run (a dev server's, a
//!   database's), stored by name for the calling package; [`Store`] to
//!   manage a store of named ports, such as port-for's `/etc/port-for.conf`;
//! - [`Builder::select`] for a port that is free now, without a claim;
//! - [`compat`] for port-for's API in Rust;
//! - [`system_port_ranges`] to see what the operating system keeps for
//!   itself, [`free_port_obstacles`] to see why a port is not handed
//!   out, and [`proc_sockets`] and [`socket_owners`] (Linux) for who
//!   listens on a port.
//!
//! ```
//! let port = portfor_test::free_port();
//! let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
//! # drop(listener);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Design
//!
//! **Candidates.** A port is chosen from a table generated from the IANA
//! registry (ports nobody is assigned, minus ports well known without an
//! assignment and ports browsers refuse), minus the system's **ephemeral
//! range** (where the kernel picks ports for outgoing connections and
//! `bind(0)`, so a port there can be taken at any moment) and its **reserved
//! ports**, keeping only long runs of such ports and staying 3 ports away from
//! their ends. The set is built once per process (about 13 µs); candidates
//! are tried in random order, so parallel processes do not all try the same
//! ports first.
//!
//! **Probes.** A candidate is free when an exclusive bind (no
//! `SO_REUSEADDR`) succeeds on 127.0.0.1, 0.0.0.0, and where the host has
//! IPv6 on ::1 and `[::]`, for TCP, and for UDP when asked. "Permission
//! denied" (privileged ports, Windows excluded ranges) counts as taken.
//! Probes never connect, so they never reach a live service. On Linux one
//! dual-stack bind of `[::]` stands for all four addresses (it conflicts with
//! a socket on any of them); the addresses are probed one by one only to name
//! the one that is taken.
//!
//! **Claims.** Before a candidate is probed, it is claimed: a lock on byte
//! *N* of a file in the claim directory for port *N* (POSIX record locks;
//! open-file-description locks on Linux; one lock file per port on Windows).
//! The operating system holds the lock for the process and drops it when the
//! process ends, by exit, panic, abort or SIGKILL: no lease, no timeout, and
//! nothing left behind blocks a port. The claim directory is one for the
//! whole machine (`/tmp/portfor-claims`), because ports belong to the
//! network namespace, not to a user: every process of every user sees every
//! claim (see [`claim_dir`]). A claimed candidate, or one bound to a name in
//! the user's or the system store, is skipped without a probe, and a search
//! tries every candidate once, in random order, before it gives up. The
//! claims of one process share at most 128 file descriptors (one file per
//! 512 ports), so a process can hold thousands (5,000 under `ulimit -n
//! 1024` is tested), and since each file's lock list stays short, a claim
//! costs about the same with 5,000 held as with one. Within the process, a
//! bitmap keeps threads apart.
//!
//! # Races and guarantees
//!
//! - **Other portfor users, in any process of any user** on the machine:
//!   never handed a port this process claims, for as long as the claim
//!   stands. This is the guarantee `portpicker`, `bind(0)` and port-for lack
//!   (measured: 24-42 of 800 picks handed to two processes by portpicker at
//!   16 processes, 0 by portfor; root and another user taking 300 ports
//!   each at the same instant: 0 shared).
//! - **Named ports**: [`free_port()`], reservations and
//!   [`select`](Builder::select) never hand out a port bound to a name in
//!   the user's store or the system store. The stores are read once per
//!   process and again when their files change (checked at most every
//!   50 ms; a name bound meanwhile by a process still running is kept off
//!   by that process's claim).
//! - **Other programs** (anything not using portfor, or using it with another
//!   claim directory): a claim does not stop them. The probe makes sure the
//!   port was free when claimed; a program that binds it after that wins,
//!   and your server's bind fails loudly (it never silently shares a port).
//!   To close that window, hand over a bound listener
//!   ([`Reservation::tcp_listener`]) or, on Linux, ask for a
//!   [kernel hold](Builder::hold), which keeps off every program that does
//!   not set `SO_REUSEADDR`, while servers that do set it (Rust std and
//!   tokio, Go, Node.js) bind through it.
//! - **Other local users** cannot make portfor follow a link or create a
//!   file where they choose, in the shared claim directory; they can make
//!   ports look claimed (as binding them would), and, having created the
//!   directory or a claim file, delete it, after which processes that start
//!   later do not see the claims made before: a bind of such a port may
//!   then fail, as if they had bound it themselves. Set `PORTFOR_CLAIM_DIR`
//!   to a directory of your own where that matters.
//! - **Not guaranteed**: that a server started with the port is still the
//!   one listening on it later; that ports stay free across reboots;
//!   anything across machines, or across claim directories (containers
//!   with their own `/tmp` on one network namespace need
//!   `PORTFOR_CLAIM_DIR` on a shared volume).
//!
//! # Platform support
//!
//! Linux, macOS, the BSDs and Windows. Claims use POSIX record locks on
//! Linux (OFD), macOS and the BSDs, and lock files on Windows; the kernel
//! hold is Linux only. A [`Server`] is told from other listeners through
//! `/proc` on Linux only, stopped with its process group on Unix and its job
//! object on Windows, and socket activation is Unix only (see [`Server`]).
//! See [`system_port_ranges`] for how each platform reports its ranges;
//! where that fails, and elsewhere, they fall back to
//! [`DEFAULT_EPHEMERAL_RANGE`].
//!
//! **What ran where.** This project's CI (`.ci/run`) runs every test on
//! Linux, and runs the Windows build's tests under wine 8.0 (Debian), one
//! at a time per test binary, where all pass but those ignored for the
//! platform (Linux namespaces, Unix file modes, users, symbolic links and
//! `ulimit`, the kernel hold) and the ones that need the Python port-for
//! (no Windows Python there). wine is not Windows: its file locks, renames
//! and sockets are Linux's underneath, and its `netsh` prints nothing, so
//! there the ranges are the fallback. macOS, FreeBSD and NetBSD builds,
//! tests included, are only compile-checked, and the parsers of their
//! `sysctl` output are unit-tested (on Linux) with samples transcribed from
//! their sources and documentation (`data/os/`, `data/README.md`): none of
//! their code has run; OpenBSD and DragonFly (no prebuilt std) are not
//! even compiled. `.github/workflows/ci.yml` runs the tests on macOS,
//! Windows and FreeBSD once the repository is published.
//!
//! **Differences known from reading** (macOS and the BSDs):
//!
//! - No open-file-description locks: claims are classic POSIX record locks,
//!   which any `close` of the claim file in the process releases; only the
//!   claims module opens those files.
//! - BSD bind semantics: with `SO_REUSEADDR`, which Rust's std sets on Unix,
//!   a server's bind of a specific address succeeds while another socket
//!   holds the wildcard address on that port. Probes bind without it, each
//!   default address in turn (Linux's single dual-stack wildcard bind is not
//!   used there), so they still see such a port taken.
//! - The loopback interface carries 127.0.0.1 only, not all of 127.0.0.0/8.
//! - The port range `sysctl` names: `net.inet.ip.portrange.*` (macOS,
//!   FreeBSD, DragonFly), `net.inet.ip.port{first,last,hifirst,hilast}`
//!   (OpenBSD), `net.inet.ip.anonport{min,max}` (NetBSD).
//!
//! **Named ports.** A store is a file in port-for's format (`name = port`
//! in a `[DEFAULT]` section), read exactly as port-for 1.1.1 reads it
//! (Python's configparser, interpolation and `int()`, checked against the
//! real port-for on thousands of generated files) or refused with the file
//! and line. Reading takes no lock and creates nothing; every change holds a
//! lock file beside the store, re-reads it, edits its lines in place (kept
//! only if the result reads as intended), and replaces it atomically
//! (temporary file, fsync, rename) with its owner, group and mode, and only
//! if nobody, port-for included, changed it since it was read. Only regular
//! files are stores. See [`Store`] for what is and is not guaranteed next to
//! port-for, which takes no lock.
//!
//! # Environment
//!
//! - `PORTFOR_CLAIM_DIR`: the claim directory (see [`claim_dir`]).
//! - `PORTFOR_USER_STORE`, `PORTFOR_SYSTEM_STORE`: the store files, whose
//!   ports selection never hands out (see
//!   [`user_store`], [`system_store`]).
//! - `PORTFOR_ALLOW_EPHEMERAL=1`: choose from the ephemeral range when
//!   nothing else is left (see [`Builder::allow_ephemeral`]).

mod claims;
mod error;
mod named;
mod named_set;
mod obstacles;
mod paths;
mod probe;
mod procfs;
mod range;
mod reservation;
mod rng;
mod select;
mod server;
mod spawn_lock;
mod store;
mod system_ranges;
mod table;
#[cfg(feature = "tokio")]
mod tokio_listener;

pub mod compat;

pub use error::{Error, Protocol, Reason, Rejection, Result};
pub use named::{NamedKey, NamedPorts, checkout_tag, parse_key};
pub use obstacles::{Obstacle, browsers_refuse, free_port_obstacles};
pub use paths::{
    CLAIM_DIR_ENV, SYSTEM_STORE_ENV, USER_STORE_ENV, claim_dir, system_store, user_store,
};
pub use probe::ipv6_available;
pub use procfs::{ProcSocket, SocketOwner, proc_sockets, socket_owners};
pub use range::{ParseRangeError, PortRange, PortSet};
pub use reservation::{Reservation, free_port, try_free_port};
pub use select::{
    ALLOW_EPHEMERAL_ENV, Builder, GOOD_RANGE_BORDER, GOOD_RANGE_MIN_LEN, PORT_FOR_ATTEMPTS,
};
pub use server::{ChildOutput, SERVER_GRACE_PERIOD, SERVER_START_TIMEOUT, Server, ServerBuilder};
pub use store::{
    CHECKOUTS_SECTION, LOCK_TIMEOUT, REWRITE_SETTLE, Store, parse_port_arg, validate_name,
};
pub use system_ranges::{DEFAULT_EPHEMERAL_RANGE, SystemPortRanges, system_port_ranges};
