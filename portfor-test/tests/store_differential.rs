//! The store read by portfor and by the real port-for 1.1.1, file for file.
//!
//! A generator makes store files: port-for's own output, configparser's
//! variants, and mutations (every line ending, Unicode whitespace classes,
//! sections, comments, duplicates, continuation lines, interpolation, the
//! ways `int()` reads a number, invalid UTF-8, huge lines). For each file:
//!
//! - where port-for lists pairs, portfor lists the same pairs, or refuses
//!   with one of its documented deliberate refusals (a message ending in
//!   "port-for would read it, but portfor refuses");
//! - where port-for fails, portfor refuses too;
//! - where both read it, a binding added and a binding removed by portfor
//!   read back in port-for exactly as intended (or portfor refuses the
//!   edit, changing nothing).
//!
//! CI runs 3,000 files with a fixed seed. For more:
//!
//! ```sh
//! PORTFOR_DIFF_CASES=100000 PORTFOR_DIFF_SEED=random \
//!     cargo test --release -p portfor-test --test store_differential -- --nocapture
//! ```
//!
//! The seed is printed, so that a failure can be replayed.

#![allow(clippy::print_stderr)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, SystemTime};

use portfor_test::{Builder, Store};
use serde_json::{Value, json};

// --- A small, seeded generator ---

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// Characters that are whitespace to Python (`str.isspace`), and two that
/// look like it but are not.
const SPACES: &[&str] = &[
    " ", " ", " ", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\u{85}", "\u{a0}",
    "\u{1680}", "\u{2000}", "\u{2009}", "\u{2028}", "\u{2029}", "\u{202f}", "\u{205f}", "\u{3000}",
    "\u{feff}", "\u{200b}",
];

const NAMES: &[&str] = &[
    "foo",
    "bar",
    "Foo",
    "FOO",
    "baz",
    "a b",
    "x]y",
    "pct%x",
    "DEFAULT",
    "default",
    "Ünïcode",
    "ünïcode",
    "example.com/apache",
    "web/db@1a2b3c4d",
    "ΟΔΟΣ",
    "οδος",
    "ΑΣ'Α",
    "İstanbul",
    "straße",
    "STRASSE",
    "ǅemal",
    "ⅷ",
    "Ⅷ",
    "Ａｂｃ",
    "\u{2C2F}x",
    "\u{A7C0}",
    "\u{10570}",
    "\u{1C89}",
    "ꭰ",
    "Ꭰ",
    "a\u{2028}b",
    "x\u{85}y",
    "tab\tin",
    "#hash",
    ";semi",
    "[sec",
    "[sec]x",
    "",
    "a\u{feff}",
    "n1",
    "n2",
    "n3",
    "a%(b)s",
    "%",
    "\u{1F600}",
];

/// Names port-for and portfor both take, in several letter cases.
const NICE_NAMES: &[&str] = &[
    "foo",
    "bar",
    "Foo",
    "baz",
    "a b",
    "x]y",
    "pct%x",
    "DEFAULT",
    "Ünïcode",
    "ΟΔΟΣ",
    "İstanbul",
    "example.com/apache",
    "n1",
    "n2",
    "n3",
];

const VALUES: &[&str] = &[
    "20000",
    "20001",
    "80",
    "65535",
    "1",
    "0",
    "-1",
    "-0",
    "65536",
    "70000",
    "+80",
    "0080",
    "8_0",
    "8__0",
    "_80",
    "80_",
    "٨٠",
    "８０",
    "abc",
    "",
    "8 0",
    "0x50",
    "%(foo)s",
    "%(FOO)s",
    "%(bar)s",
    "%(missing)s",
    "8%%0",
    "%%",
    "%",
    "50%",
    "%(foo)d",
    "2%(n1)s",
    "\u{1c}80",
    "80\u{a0}",
    "99999999999999999999999",
];

const HEADERS: &[&str] = &[
    "[DEFAULT]",
    "[DEFAULT]",
    "[DEFAULT] junk",
    "[other]",
    "[Other]",
    "[portfor.checkouts]",
    "[ DEFAULT ]",
    "[default]",
    "[]",
    "[]]",
    "[a]b]",
    "[x",
];

const CONTINUATIONS: &[&str] = &["80", "x = y", "[sec]", "more text", "# not a comment?", ""];

const COMMENTS: &[&str] = &["# comment", "; comment", "#", ";", "#[DEFAULT]", "# a = 1"];

fn space(rng: &mut Rng) -> String {
    let count = rng.below(3);
    (0..count).map(|_| rng.pick(SPACES)).collect()
}

/// Values `int()` reads as ports, with or without interpolation.
const GOOD_VALUES: &[&str] = &[
    "20000", "20001", "80", "65535", "+80", "0080", "8_0", "%(foo)s",
];

/// One line, without its ending; `clean` lines are mostly ones port-for
/// reads.
fn line(rng: &mut Rng, clean: bool, out: &mut String) {
    let kind = if clean {
        [3, 12, 14, 16, 19][rng.below(5)]
    } else {
        rng.below(20)
    };
    match kind {
        0..=2 => out.push_str(rng.pick(HEADERS)),
        3..=11 => {
            let name = if clean && rng.chance(80) {
                rng.pick(NICE_NAMES)
            } else {
                rng.pick(NAMES)
            };
            let delimiter = if rng.chance(80) { "=" } else { ":" };
            let value = if clean && rng.chance(90) {
                rng.pick(GOOD_VALUES)
            } else {
                rng.pick(VALUES)
            };
            out.push_str(&format!(
                "{name}{}{delimiter}{}{value}{}",
                space(rng),
                space(rng),
                space(rng)
            ));
        }
        12 | 13 => {
            out.push_str(&space(rng));
            out.push(' ');
            out.push_str(rng.pick(CONTINUATIONS));
        }
        14 | 15 => out.push_str(rng.pick(COMMENTS)),
        16 | 17 => out.push_str(&space(rng)),
        18 => out.push_str(rng.pick(&["junk", "=5", ":", "name only", "a=b=c", "a:b = 5"])),
        _ => {
            let name = rng.pick(NAMES);
            out.push_str(&format!("{name} = {}", 20000 + rng.below(100)));
        }
    }
}

/// A store file: mostly well-formed, often not.
fn store_file(rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    if rng.chance(85) {
        text.push_str("[DEFAULT]");
        text.push_str(rng.pick(&["\n", "\r\n", "\r"]));
    }
    let endings: &[&str] = match rng.below(4) {
        0 => &["\n"],
        1 => &["\r\n"],
        2 => &["\r"],
        _ => &["\n", "\r\n", "\r"],
    };
    let clean = rng.chance(50);
    for _ in 0..rng.below(12) {
        if rng.chance(10) {
            text.push_str(&space(rng));
        }
        line(rng, clean, &mut text);
        text.push_str(rng.pick(endings));
    }
    if rng.chance(10) {
        // No ending on the last line.
        text.truncate(text.trim_end_matches(['\n', '\r']).len());
    }
    let mut bytes = text.into_bytes();
    mutate(rng, &mut bytes);
    bytes
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if rng.chance(4) {
        let at = rng.below(bytes.len() + 1);
        let bad: &[u8] = rng.pick(&[&b"\xff"[..], b"\x80", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]);
        bytes.splice(at..at, bad.iter().copied());
    }
    if rng.chance(2) {
        bytes.splice(0..0, "\u{feff}".bytes());
    }
    if rng.chance(2) {
        let at = rng.below(bytes.len() + 1);
        bytes.insert(at, 0);
    }
    if rng.chance(1) {
        // A huge line: a 100,000-character name.
        let huge = format!("{} = 20050\n", "n".repeat(100_000));
        bytes.extend_from_slice(huge.as_bytes());
    }
}

/// port-for's own output: names bound by its `bind_port`.
fn port_for_binds(rng: &mut Rng) -> Vec<(String, String)> {
    let names = [
        "foo",
        "Bar",
        "baz",
        "a b",
        "pct%x",
        "Ünïcode",
        "ΟΔΟΣ",
        "x]y",
        "example.com/apache",
    ];
    let mut binds: Vec<(String, String)> = Vec::new();
    for _ in 0..1 + rng.below(6) {
        let name = names[rng.below(names.len())].to_owned();
        if binds
            .iter()
            .any(|(n, _)| n.to_lowercase() == name.to_lowercase())
        {
            continue;
        }
        binds.push((name, (20000 + binds.len()).to_string()));
    }
    binds
}

// --- The real port-for, in one Python process ---

struct PortFor {
    child: Child,
    /// `None` once closed, which ends the harness.
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Drop for PortFor {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.wait();
    }
}

const HARNESS: &str = r#"
import sys, json
from port_for import PortStore
for line in sys.stdin:
    request = json.loads(line)
    store = PortStore(request["path"])
    try:
        if request["op"] == "bind":
            for name, port in request["binds"]:
                store.bind_port(name, port)
        pairs = store.bound_ports()
        reply = {"ok": [[name, str(port)] for name, port in pairs]}
    except Exception as e:
        reply = {"err": type(e).__name__ + ": " + str(e)[:300]}
    print(json.dumps(reply), flush=True)
"#;

impl PortFor {
    fn start() -> PortFor {
        let mut child = Command::new(common::port_for_python())
            .args(["-c", HARNESS])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("failed to start python");
        PortFor {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    fn ask(&mut self, request: Value) -> Result<Vec<(String, String)>, String> {
        writeln!(self.stdin.as_mut().unwrap(), "{request}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let reply: Value = serde_json::from_str(&line).expect("python died");
        match reply.get("ok") {
            Some(pairs) => Ok(serde_json::from_value(pairs.clone()).unwrap()),
            None => Err(reply["err"].as_str().unwrap().to_owned()),
        }
    }

    fn list(&mut self, path: &Path) -> Result<Vec<(String, String)>, String> {
        self.ask(json!({ "op": "list", "path": path }))
    }
}

// --- The comparison ---

/// What happened, by kind, for the closing report.
#[derive(Default)]
struct Counts(BTreeMap<String, usize>);

impl Counts {
    fn add(&mut self, what: &str) {
        *self.0.entry(what.to_owned()).or_default() += 1;
    }
}

fn ours(pairs: Vec<(String, u16)>) -> Vec<(String, String)> {
    pairs.into_iter().map(|(n, p)| (n, p.to_string())).collect()
}

/// The deliberate refusals, as documented on `Store`.
fn refusal_kind(message: &str) -> Option<&'static str> {
    if !message.contains("port-for would read it, but portfor refuses") {
        return None;
    }
    Some(if message.contains("depends on the Python version") {
        "refused: lower-case form depends on the Python version"
    } else if message.contains("digits other than ASCII") {
        "refused: port in non-ASCII digits"
    } else if message.contains("not a port (1-65535)") {
        "refused: number outside 1-65535"
    } else {
        "refused: other (undocumented!)"
    })
}

/// Writes `bytes` to `path`, dated an hour back: a store at rest, not one
/// being rewritten (which readers wait out).
fn write_at_rest(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap();
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

struct Case<'a> {
    index: usize,
    path: &'a Path,
    bytes: &'a [u8],
}

impl Case<'_> {
    fn fail(&self, what: &str) -> ! {
        let _ = fs::write(format!("{}.failed", self.path.display()), self.bytes);
        panic!(
            "case {}: {what}\nfile: {:?}",
            self.index,
            String::from_utf8_lossy(self.bytes)
        );
    }
}

fn compare_reading(
    case: &Case<'_>,
    python: &Result<Vec<(String, String)>, String>,
    counts: &mut Counts,
) -> Option<Vec<(String, String)>> {
    let store = Store::open(case.path);
    match (python, store.list()) {
        (Ok(theirs), Ok(mine)) => {
            let mine = ours(mine);
            if *theirs != mine {
                case.fail(&format!("port-for lists {theirs:?}, portfor {mine:?}"));
            }
            counts.add("read alike");
            Some(mine)
        }
        (Ok(theirs), Err(e)) => match refusal_kind(&e.to_string()) {
            Some(kind) => {
                counts.add(kind);
                None
            }
            None => case.fail(&format!("port-for lists {theirs:?}, portfor refuses: {e}")),
        },
        (Err(theirs), Ok(mine)) => case.fail(&format!(
            "port-for fails ({theirs}), portfor lists {mine:?}"
        )),
        (Err(theirs), Err(_)) => {
            let class = theirs.split(':').next().unwrap_or("");
            counts.add(&format!("refused by both (port-for: {class})"));
            None
        }
    }
}

/// A binding added, then the first one removed: port-for must read each
/// result as intended.
fn compare_edits(
    case: &Case<'_>,
    pairs: Vec<(String, String)>,
    port_for: &mut PortFor,
    rng: &mut Rng,
    counts: &mut Counts,
) {
    let store = Store::open(case.path);
    let builder = Builder::new();
    let name = ["new", "Neu", "n e w", "ñew", "new%"][rng.below(5)];
    let port = (20100..).find(|p| !pairs.iter().any(|(_, q)| *q == p.to_string()));
    let port = port.unwrap();
    let mut expected = pairs.clone();
    if pairs.iter().all(|(n, _)| *n != name.to_lowercase()) {
        match store.bind_with(name, Some(port), &builder) {
            Ok(_) => {
                expected.push((name.to_lowercase(), port.to_string()));
                match port_for.list(case.path) {
                    Ok(theirs) if theirs == expected => counts.add("binding added, read alike"),
                    other => case.fail(&format!("after adding {name}: port-for reads {other:?}")),
                }
            }
            Err(e) => {
                counts.add("binding refused");
                if !e
                    .to_string()
                    .contains("without changing how port-for reads")
                {
                    case.fail(&format!("binding refused for another reason: {e}"));
                }
                if fs::read(case.path).unwrap() != case.bytes {
                    case.fail(&format!("refused ({e}) but changed the file"));
                }
            }
        }
    }
    let Some((first, _)) = expected.first().cloned() else {
        return;
    };
    let before = fs::read(case.path).unwrap();
    match store.unbind(&first) {
        Ok(_) => {
            expected.retain(|(n, _)| *n != first);
            match port_for.list(case.path) {
                Ok(theirs) if theirs == expected => counts.add("binding removed, read alike"),
                other => case.fail(&format!(
                    "after removing {first:?}: port-for reads {other:?}"
                )),
            }
        }
        Err(e) => {
            let message = e.to_string();
            if message.contains("would leave a store port-for cannot read") {
                counts.add("removal refused: another binding refers to it");
            } else if message.contains("invalid name") {
                // A name in the file that bind would refuse, and so unbind.
                counts.add("removal refused: invalid name");
            } else {
                case.fail(&format!("removal refused for another reason: {e}"));
            }
            if fs::read(case.path).unwrap() != before {
                case.fail(&format!("removal refused ({e}) but changed the file"));
            }
        }
    }
}

#[test]
fn portfor_reads_every_store_as_port_for_does() {
    let cases: usize = std::env::var("PORTFOR_DIFF_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3000);
    let seed = match std::env::var("PORTFOR_DIFF_SEED").as_deref() {
        Ok("random") => SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
        Ok(seed) => seed
            .parse()
            .expect("PORTFOR_DIFF_SEED: a number or `random`"),
        Err(_) => 20261130,
    };
    eprintln!("store differential: {cases} files, seed {seed}");
    let mut rng = Rng(seed);
    let mut port_for = PortFor::start();
    // In memory where there is /dev/shm: the edits sync their files, which
    // on a disk would take most of the run.
    let dir = match Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").unwrap(),
        false => tempfile::tempdir().unwrap(),
    };
    let mut counts = Counts::default();
    for index in 0..cases {
        let path = dir.path().join(format!("case-{index}.conf"));
        let python = if rng.chance(10) {
            // port-for writes the file itself.
            let binds = port_for_binds(&mut rng);
            port_for.ask(json!({ "op": "bind", "path": path, "binds": binds }))
        } else {
            write_at_rest(&path, &store_file(&mut rng));
            port_for.list(&path)
        };
        write_at_rest(&path, &fs::read(&path).unwrap());
        let bytes = fs::read(&path).unwrap();
        let case = Case {
            index,
            path: &path,
            bytes: &bytes,
        };
        if let Some(pairs) = compare_reading(&case, &python, &mut counts) {
            compare_edits(&case, pairs, &mut port_for, &mut rng, &mut counts);
        }
        let _ = fs::remove_file(&path);
    }
    for (what, count) in &counts.0 {
        eprintln!("  {count:>6}  {what}");
    }
    assert!(
        !counts.0.contains_key("refused: other (undocumented!)"),
        "undocumented refusals"
    );
    // The generator must reach every outcome, or it tests less than it says.
    for needed in [
        "read alike",
        "refused by both (port-for: ParsingError)",
        "refused by both (port-for: DuplicateOptionError)",
        "refused by both (port-for: MissingSectionHeaderError)",
        "refused by both (port-for: UnicodeDecodeError)",
        "refused by both (port-for: ValueError)",
        "binding added, read alike",
        "binding removed, read alike",
        "refused: number outside 1-65535",
        "refused: lower-case form depends on the Python version",
        "refused: port in non-ASCII digits",
    ] {
        assert!(counts.0.contains_key(needed), "no case was {needed:?}");
    }
}
