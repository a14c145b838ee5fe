//! `cargo portfor why PORT`: all that is known about one port, and whether
//! it is usable.
//!
//! A port is usable when a new server could take it and keep it: free on
//! every address a server binds (TCP and UDP), not claimed by a portfor
//! process, not bound to a name in any store, and outside the ephemeral and
//! reserved ranges. Exit 0 when usable, 1 when not. The rest (registry
//! entries, browsers, whether `free_port()` could hand it out) is
//! information: a port IANA assigns can still be a fine dev-server port.

use std::path::PathBuf;

use portfor_test::{
    Builder, Obstacle, Protocol, Reason, Store, SystemPortRanges, browsers_refuse,
    free_port_obstacles, parse_key, system_port_ranges,
};
use serde_json::{Value, json};

use super::Context;
use crate::error::CliResult;
use crate::exit;
use crate::iana::SERVICES;
use crate::live::{Live, Socket};
use crate::output::{Cell, Style};

/// A socket on the port, with its process where this user can see it.
struct Held {
    socket: Socket,
    owner: Option<(u32, String)>,
}

/// A name bound to the port.
struct Binding {
    store: PathBuf,
    key: String,
    /// For a named port's key: its package, name and checkout directory.
    package: Option<(String, String, Option<PathBuf>)>,
}

/// Everything known about one port.
struct Facts {
    port: u16,
    probe: Option<Reason>,
    sockets: Vec<Held>,
    claimed: bool,
    names: Vec<Binding>,
    ranges: SystemPortRanges,
    ranges_error: Option<String>,
    services: Vec<(Protocol, &'static str)>,
    obstacles: Vec<Obstacle>,
    candidate: bool,
}

pub(crate) fn run(ctx: &mut Context<'_>, port: &str) -> CliResult<i32> {
    let port = portfor_test::parse_port_arg(port)?;
    let facts = gather(ctx, port)?;
    let reasons = facts.unusable_reasons();
    if ctx.out.json {
        ctx.out.document("why", facts.to_json(&reasons))?;
    } else {
        print(ctx, &facts, &reasons)?;
    }
    Ok(if reasons.is_empty() {
        exit::SUCCESS
    } else {
        exit::NOT_USABLE
    })
}

fn gather(ctx: &mut Context<'_>, port: u16) -> CliResult<Facts> {
    let builder = Builder::new();
    let probe = builder.clone().udp(true).check(port)?;
    let mut live = Live::default();
    let sockets = live
        .sockets_on(port)
        .into_iter()
        .map(|socket| Held {
            owner: live.owner(socket.inode),
            socket,
        })
        .collect();
    let (names, readable) = bindings(ctx, port)?;
    let (ranges, ranges_error) = match system_port_ranges() {
        Ok(ranges) => (ranges, None),
        Err(e) => (SystemPortRanges::fallback(), Some(format!("{e:#}"))),
    };
    Ok(Facts {
        port,
        probe,
        sockets,
        claimed: builder.is_claimed(port)?,
        names,
        ranges,
        ranges_error,
        services: services(port),
        obstacles: free_port_obstacles(port, &readable)?,
        candidate: builder.candidates().is_ok_and(|c| c.contains(port)),
    })
}

/// The names bound to `port` in every store, and the stores that could be
/// read (an unreadable one is a warning: the rest is still worth knowing).
fn bindings(ctx: &mut Context<'_>, port: u16) -> CliResult<(Vec<Binding>, Vec<Store>)> {
    let mut names = Vec::new();
    let mut readable = Vec::new();
    for store in super::stores(&ctx.store()?) {
        let (entries, checkouts) = match (store.list(), store.checkouts()) {
            (Ok(entries), Ok(checkouts)) => (entries, checkouts),
            (Err(e), _) | (_, Err(e)) => {
                ctx.out
                    .warning(&format!("{e:#}; its names are not shown"))?;
                continue;
            }
        };
        for (key, _) in entries.into_iter().filter(|&(_, p)| p == port) {
            let package = parse_key(&key).map(|parsed| {
                let dir = checkouts
                    .iter()
                    .find(|(tag, _)| tag == parsed.checkout)
                    .map(|(_, dir)| dir.clone());
                (parsed.package.to_owned(), parsed.name.to_owned(), dir)
            });
            names.push(Binding {
                store: store.path().to_owned(),
                key,
                package,
            });
        }
        readable.push(store);
    }
    Ok((names, readable))
}

/// What the IANA snapshot lists for `port`, per protocol.
fn services(port: u16) -> Vec<(Protocol, &'static str)> {
    let Ok(i) = SERVICES.binary_search_by_key(&port, |&(p, _, _)| p) else {
        return Vec::new();
    };
    let (_, tcp, udp) = SERVICES[i];
    let udp = if udp == "=" { tcp } else { udp };
    [(Protocol::Tcp, tcp), (Protocol::Udp, udp)]
        .into_iter()
        .filter(|(_, service)| !service.is_empty())
        .collect()
}

/// IANA's name for the part of the port space `port` is in.
fn iana_range(port: u16) -> &'static str {
    match port {
        0..=1023 => "system",
        1024..=49151 => "user",
        _ => "dynamic",
    }
}

fn obstacle_kind(obstacle: &Obstacle) -> &'static str {
    match obstacle {
        Obstacle::System => "system",
        Obstacle::Dynamic => "dynamic",
        Obstacle::AssignedOrWellKnown => "assigned-or-well-known",
        Obstacle::AssignedSince2017 => "assigned-since-2017",
        Obstacle::BrowserRefused => "browser-refused",
        Obstacle::Ephemeral => "ephemeral",
        Obstacle::Reserved => "reserved",
        Obstacle::ShortRun => "short-run",
        Obstacle::Named { .. } => "named",
        Obstacle::Claimed => "claimed",
        Obstacle::Taken(_) => "taken",
        _ => "other",
    }
}

impl Facts {
    /// Why the port is not usable; empty when it is.
    fn unusable_reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        match &self.probe {
            None => {}
            Some(Reason::Forbidden { addr, protocol }) => reasons.push(format!(
                "binding it is not permitted on {} ({protocol})",
                addr.ip()
            )),
            Some(reason) => reasons.push(format!("it is in use ({})", describe_probe(reason))),
        }
        if self.claimed {
            reasons.push("a portfor process claims it".to_owned());
        }
        for name in &self.names {
            reasons.push(format!(
                "it is bound to {:?} in {}",
                name.key,
                name.store.display()
            ));
        }
        reasons.extend(super::bind::range_reasons(self.port, &self.ranges));
        reasons
    }

    fn assigned_or_well_known(&self) -> bool {
        !self.services.is_empty()
            || self.obstacles.iter().any(|o| {
                matches!(
                    o,
                    Obstacle::AssignedOrWellKnown | Obstacle::AssignedSince2017
                )
            })
    }

    /// The probe's answer and the sockets on the port.
    fn in_use_json(&self) -> Value {
        let probe = match &self.probe {
            None => json!({ "state": "free" }),
            Some(Reason::InUse { addr, protocol }) => {
                json!({ "state": "in-use", "address": addr.ip(), "protocol": protocol.to_string() })
            }
            Some(Reason::Forbidden { addr, protocol }) => {
                json!({ "state": "forbidden", "address": addr.ip(), "protocol": protocol.to_string() })
            }
            Some(_) => json!({ "state": "in-use" }),
        };
        let sockets: Vec<Value> = self
            .sockets
            .iter()
            .map(|held| {
                json!({
                    "protocol": held.socket.protocol.to_string(),
                    "address": held.socket.address,
                    "state": held.socket.state,
                    "uid": held.socket.uid,
                    "pid": held.owner.as_ref().map(|(pid, _)| pid),
                    "process": held.owner.as_ref().map(|(_, name)| name),
                })
            })
            .collect();
        json!({ "probe": probe, "sockets": sockets })
    }

    fn names_json(&self) -> Vec<Value> {
        self.names
            .iter()
            .map(|b| {
                let (package, name, dir) = match &b.package {
                    Some((package, name, dir)) => (Some(package), Some(name), dir.as_ref()),
                    None => (None, None, None),
                };
                json!({ "store": b.store, "key": b.key, "package": package, "name": name, "checkout_dir": dir })
            })
            .collect()
    }

    fn to_json(&self, reasons: &[String]) -> Value {
        let ranges = &self.ranges;
        let list = |set: &portfor_test::PortSet| -> Vec<String> {
            set.ranges().iter().map(ToString::to_string).collect()
        };
        json!({
            "port": self.port,
            "usable": reasons.is_empty(),
            "reasons": reasons,
            "in_use": self.in_use_json(),
            "claimed": self.claimed,
            "names": self.names_json(),
            "ranges": {
                "source": ranges.source(),
                "detection_error": self.ranges_error,
                "ephemeral": ranges.ephemeral().contains(self.port),
                "reserved": ranges.reserved().contains(self.port),
                "ephemeral_ranges": list(ranges.ephemeral()),
                "reserved_ranges": list(ranges.reserved()),
            },
            "registry": {
                "iana_range": iana_range(self.port),
                "iana_services": self.services.iter().map(|(protocol, service)| json!({ "protocol": protocol.to_string(), "service": service })).collect::<Vec<_>>(),
                "assigned_or_well_known": self.assigned_or_well_known(),
                "browsers_refuse": browsers_refuse(self.port),
                "candidate": self.candidate,
            },
            "free_port": {
                "could_hand_out": self.obstacles.is_empty(),
                "obstacles": self.obstacles.iter().map(|o| json!({ "kind": obstacle_kind(o), "message": o.to_string() })).collect::<Vec<_>>(),
            },
        })
    }
}

fn describe_probe(reason: &Reason) -> String {
    match reason {
        Reason::InUse { addr, protocol } => format!("on {} ({protocol})", addr.ip()),
        Reason::Forbidden { addr, protocol } => {
            format!("permission denied on {} ({protocol})", addr.ip())
        }
        _ => "claimed".to_owned(),
    }
}

fn describe_socket(held: &Held) -> String {
    let socket = &held.socket;
    let owner = match &held.owner {
        Some((pid, process)) => format!("pid {pid} ({process})"),
        None if socket.inode == 0 => "no process (closing)".to_owned(),
        None => format!("uid {}, process not visible to this user", socket.uid),
    };
    let state = match socket.state {
        "listen" => "listening",
        other => other,
    };
    let address = std::net::SocketAddr::new(socket.address, socket.port);
    format!("{} {address} {state}, {owner}", socket.protocol)
}

fn print(ctx: &mut Context<'_>, facts: &Facts, reasons: &[String]) -> CliResult<()> {
    let verdict = if reasons.is_empty() {
        ctx.out.paint("usable", Style::Good)
    } else {
        ctx.out.paint("not usable", Style::Bad)
    };
    ctx.out.line(&format!("port {}: {verdict}", facts.port))?;
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut add = |label: &str, lines: Vec<(String, Option<Style>)>| {
        for (i, line) in lines.into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            rows.push(vec![(label.to_owned(), None), line]);
        }
    };
    add("in use", in_use_lines(facts));
    add(
        "claimed",
        vec![yes_no(facts.claimed, "yes, by a portfor process", "no")],
    );
    add("names", name_lines(facts));
    add("ranges", range_lines(facts));
    add("registry", registry_lines(facts));
    add("free_port()", free_port_lines(facts));
    ctx.out.table("  ", 1, &rows)?;
    Ok(())
}

fn yes_no(bad: bool, yes: &str, no: &str) -> (String, Option<Style>) {
    if bad {
        (yes.to_owned(), Some(Style::Bad))
    } else {
        (no.to_owned(), None)
    }
}

fn in_use_lines(facts: &Facts) -> Vec<(String, Option<Style>)> {
    let mut lines = match &facts.probe {
        None => vec![("no: free on every address (tcp and udp)".to_owned(), None)],
        Some(reason @ Reason::Forbidden { .. }) => {
            vec![(
                format!("cannot bind: {}", describe_probe(reason)),
                Some(Style::Bad),
            )]
        }
        Some(reason) => vec![(
            format!("yes: in use {}", describe_probe(reason)),
            Some(Style::Bad),
        )],
    };
    lines.extend(
        facts
            .sockets
            .iter()
            .map(|held| (describe_socket(held), None)),
    );
    lines
}

fn name_lines(facts: &Facts) -> Vec<(String, Option<Style>)> {
    if facts.names.is_empty() {
        return vec![("none".to_owned(), None)];
    }
    facts
        .names
        .iter()
        .map(|b| {
            let owner = match &b.package {
                Some((package, _, Some(dir))) => {
                    format!(" (package {package} in {})", dir.display())
                }
                Some((package, _, None)) => format!(" (package {package})"),
                None => String::new(),
            };
            (
                format!("{} in {}{owner}", b.key, b.store.display()),
                Some(Style::Bad),
            )
        })
        .collect()
}

fn range_lines(facts: &Facts) -> Vec<(String, Option<Style>)> {
    let ranges = &facts.ranges;
    let none = |s: String| if s.is_empty() { "none".to_owned() } else { s };
    let ephemeral = ranges.ephemeral().contains(facts.port);
    let reserved = ranges.reserved().contains(facts.port);
    let mut lines = vec![
        yes_no(
            ephemeral,
            &format!("ephemeral (range {})", ranges.ephemeral()),
            &format!(
                "not ephemeral (range {})",
                none(ranges.ephemeral().to_string())
            ),
        ),
        yes_no(
            reserved,
            &format!(
                "reserved ({} {})",
                super::bind::reserved_word(),
                ranges.reserved()
            ),
            &format!(
                "not reserved ({} {})",
                super::bind::reserved_word(),
                none(ranges.reserved().to_string())
            ),
        ),
    ];
    if let Some(error) = &facts.ranges_error {
        lines.push((
            format!("(detection failed, assumed: {error})"),
            Some(Style::Warn),
        ));
    }
    lines
}

fn registry_lines(facts: &Facts) -> Vec<(String, Option<Style>)> {
    let iana = match &facts.services[..] {
        [] => "IANA: not assigned".to_owned(),
        [(_, tcp), (_, udp)] if tcp == udp => format!("IANA: {tcp} (tcp, udp)"),
        services => format!(
            "IANA: {}",
            services
                .iter()
                .map(|(protocol, service)| format!("{service} ({protocol})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut lines = vec![(
        format!("{iana}; in IANA's {} ports", iana_range(facts.port)),
        None,
    )];
    if facts.services.is_empty() && facts.obstacles.contains(&Obstacle::AssignedOrWellKnown) {
        lines.push((
            "well known or in an IANA range: port-for's 2017 table leaves it out".to_owned(),
            None,
        ));
    }
    lines.push(if browsers_refuse(facts.port) {
        (
            "browsers refuse to connect to it".to_owned(),
            Some(Style::Warn),
        )
    } else {
        ("browsers connect to it".to_owned(), None)
    });
    lines
}

fn free_port_lines(facts: &Facts) -> Vec<(String, Option<Style>)> {
    if facts.obstacles.is_empty() {
        return vec![("could hand it out".to_owned(), Some(Style::Good))];
    }
    let mut lines = vec![("would not hand it out:".to_owned(), None)];
    lines.extend(facts.obstacles.iter().map(|o| (format!("- {o}"), None)));
    lines
}
