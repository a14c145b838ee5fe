//! Reading a store as port-for 1.1.1 reads it: CPython 3.11's
//! `ConfigParser.read` (`_read`, `_join_multiline_values`), then
//! `items("DEFAULT")` with basic interpolation, then `int()` of each value.
//!
//! The state machine below follows `_read` line for line, so that every
//! file reads as configparser reads it, or is refused where configparser
//! raises, naming the line configparser names.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use super::python::{self, Int};
use super::{Document, Item, Section, SyntaxError, Text};

/// configparser's `MAX_INTERPOLATION_DEPTH`.
const MAX_INTERPOLATION_DEPTH: usize = 10;

/// The longest value interpolation may make. References within the depth
/// limit can still multiply a value's length beyond memory (forty
/// references nine levels deep): configparser then runs until it runs out,
/// portfor refuses.
const MAX_INTERPOLATED_LEN: usize = 1 << 16;

const DEFAULT: &str = "DEFAULT";

/// The byte spans of the lines of `text`, each with its ending: text-mode
/// universal newlines, where `\n`, `\r\n` and a lone `\r` all end a line.
fn split_lines(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(start..i + 1);
                start = i + 1;
            }
            b'\r' => {
                let end = if bytes.get(i + 1) == Some(&b'\n') {
                    i + 2
                } else {
                    i + 1
                };
                lines.push(start..end);
                start = end;
                i = end - 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(start..bytes.len());
    }
    lines
}

/// A section header per configparser's `\[(?P<header>.+)\]`, matched at the
/// start of the stripped line: from the first `[` to the last `]`, at least
/// one character between.
pub(super) fn section_header(stripped: &str) -> Option<&str> {
    let rest = stripped.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// The byte offset of `part` (a subslice) within `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// FNV-1a: names are short, and a collision only costs a comparison.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(bytes);
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Where options go: `[DEFAULT]`, or one of the other sections.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Default,
    Section(usize),
}

/// The state of `_read` between lines.
struct Reader<'a> {
    text: &'a str,
    lines: Vec<Range<usize>>,
    defaults: Vec<Item>,
    sections: Vec<Section>,
    default_headers: Vec<usize>,
    cursect: Option<Target>,
    /// The current option (index into its section's items), while a value
    /// may continue; `None` also for configparser's falsy empty name.
    optname: Option<usize>,
    indent_level: usize,
    /// Empty lines since the current option's last line: part of its value
    /// if a continuation line follows.
    pending_blank: usize,
    /// Hashes of the names of each section (`[DEFAULT]` first), so that a
    /// name found twice costs no scan of the names before it.
    seen: Vec<HashSet<u64, BuildHasherDefault<Identity>>>,
    /// The names of the sections other than `[DEFAULT]`.
    section_names: HashSet<String>,
    /// The first line `_read` reports at the end (`ParsingError`).
    deferred: Option<SyntaxError>,
}

impl<'a> Reader<'a> {
    fn items(&mut self, target: Target) -> &mut Vec<Item> {
        match target {
            Target::Default => &mut self.defaults,
            Target::Section(i) => &mut self.sections[i].items,
        }
    }

    /// Appends a continuation line to the value of the current option,
    /// after the empty lines before it (`'\n'.join` of configparser's list).
    fn continue_value(&mut self, index: usize, part: &str) {
        let (Some(target), Some(option)) = (self.cursect, self.optname) else {
            return;
        };
        let text = self.text;
        let blank = std::mem::take(&mut self.pending_blank);
        let item = &mut self.items(target)[option];
        if let Text::Span(span) = &item.value {
            item.value = Text::Owned(text[span.clone()].to_owned());
        }
        if let Text::Owned(value) = &mut item.value {
            value.extend(std::iter::repeat_n('\n', blank + 1));
            value.push_str(part);
        }
        item.lines.end = index + 1;
    }

    /// A new current option (or none): empty lines no longer continue the
    /// last one.
    fn set_option(&mut self, option: Option<usize>) {
        self.optname = option;
        self.pending_blank = 0;
    }

    /// Whether `name` is a name of `target` already; records it if not.
    fn is_duplicate(&mut self, target: Target, name: &str) -> bool {
        let slot = match target {
            Target::Default => 0,
            Target::Section(i) => i + 1,
        };
        if self.seen.len() <= slot {
            self.seen.resize_with(slot + 1, HashSet::default);
        }
        if self.seen[slot].insert(fnv1a(name.as_bytes())) {
            return false;
        }
        // Same hash: compare for real.
        let text = self.text;
        self.items(target)
            .iter()
            .any(|item| item.name.as_str(text) == name)
    }

    fn defer(&mut self, error: SyntaxError) {
        self.deferred.get_or_insert(error);
    }

    /// One line of `_read`; `Err` for the errors configparser raises at once.
    fn line(&mut self, index: usize) -> Result<(), SyntaxError> {
        let number = index + 1;
        let raw = &self.text[self.lines[index].clone()];
        let stripped = python::strip(raw);
        if stripped.starts_with(['#', ';']) {
            return Ok(());
        }
        if stripped.is_empty() {
            if self.cursect.is_some() && self.optname.is_some() {
                self.pending_blank += 1;
            }
            return Ok(());
        }
        let cur_indent = python::indent(raw);
        if self.cursect.is_some() && self.optname.is_some() && cur_indent > self.indent_level {
            self.continue_value(index, stripped);
            return Ok(());
        }
        self.indent_level = cur_indent;
        if let Some(header) = section_header(stripped) {
            self.set_option(None);
            if header == DEFAULT {
                self.default_headers.push(index);
                self.cursect = Some(Target::Default);
            } else if !self.section_names.insert(header.to_owned()) {
                return Err(SyntaxError::fails(
                    number,
                    format!("section {header:?} appears twice"),
                ));
            } else {
                self.sections.push(Section {
                    name: header.to_owned(),
                    header: index,
                    items: Vec::new(),
                });
                self.cursect = Some(Target::Section(self.sections.len() - 1));
            }
            return Ok(());
        }
        let Some(target) = self.cursect else {
            return Err(SyntaxError::fails(
                number,
                "no section header before this line; a store starts with [DEFAULT]".into(),
            ));
        };
        self.option(index, target, stripped)
    }

    /// An option line, `name = value` or `name: value`.
    fn option(&mut self, index: usize, target: Target, stripped: &str) -> Result<(), SyntaxError> {
        let number = index + 1;
        let Some(split) = stripped.bytes().position(|b| b == b'=' || b == b':') else {
            // configparser carries on and raises at the end; the current
            // option stays current.
            self.defer(SyntaxError::fails(
                number,
                format!("expected `name = port`, found {stripped:?}"),
            ));
            return Ok(());
        };
        let raw_name = python::rstrip(&stripped[..split]);
        if raw_name.is_empty() {
            self.defer(SyntaxError::fails(
                number,
                "a binding without a name".into(),
            ));
        }
        let name = match python::lower(raw_name) {
            Ok(Cow::Borrowed(name)) => {
                let at = offset_in(self.text, name);
                Text::Span(at..at + name.len())
            }
            Ok(Cow::Owned(name)) => Text::Owned(name),
            Err(c) => return Err(SyntaxError::version_dependent(number, raw_name, c)),
        };
        let value = python::strip(&stripped[split + 1..]);
        let at = offset_in(self.text, value);
        let text = self.text;
        if self.is_duplicate(target, name.as_str(text)) {
            let section = match target {
                Target::Default => DEFAULT,
                Target::Section(i) => &self.sections[i].name,
            };
            return Err(SyntaxError::fails(
                number,
                format!(
                    "{:?} appears twice in section {section:?}",
                    name.as_str(text)
                ),
            ));
        }
        let empty_name = name.as_str(text).is_empty();
        let items = self.items(target);
        items.push(Item {
            name,
            value: Text::Span(at..at + value.len()),
            port: 0,
            lines: index..index + 1,
        });
        // configparser's `optname` is falsy for an empty name: no value
        // continues it.
        let option = (!empty_name).then(|| items.len() - 1);
        self.set_option(option);
        Ok(())
    }
}

/// Runs `_read` over every line, then `_join_multiline_values`.
fn parse_lines(text: &str, lines: Vec<Range<usize>>) -> Result<Reader<'_>, SyntaxError> {
    // Nearly every line of a store is a binding.
    let mut seen = HashSet::default();
    seen.reserve(lines.len());
    let mut reader = Reader {
        text,
        defaults: Vec::with_capacity(lines.len()),
        lines,
        sections: Vec::new(),
        default_headers: Vec::new(),
        cursect: None,
        optname: None,
        indent_level: 0,
        pending_blank: 0,
        seen: vec![seen],
        section_names: HashSet::new(),
        deferred: None,
    };
    for index in 0..reader.lines.len() {
        reader.line(index)?;
    }
    if let Some(error) = reader.deferred.take() {
        return Err(error);
    }
    // `_join_multiline_values`: `'\n'.join(lines).rstrip()`.
    for item in reader
        .defaults
        .iter_mut()
        .chain(reader.sections.iter_mut().flat_map(|s| s.items.iter_mut()))
    {
        if let Text::Owned(value) = &mut item.value {
            let kept = python::rstrip(value).len();
            value.truncate(kept);
        }
    }
    Ok(reader)
}

/// Why a value could not be interpolated.
enum Interpolation {
    /// configparser raises.
    Fails(String),
    /// A `%(name)s` whose lower-case form depends on the Python version.
    VersionDependent(char),
}

/// `BasicInterpolation.before_get` of one `[DEFAULT]` value, as
/// `items("DEFAULT")` calls it: `%(name)s` is the value of option `name`,
/// `%%` is `%`, any other `%` an error.
fn interpolate(
    value: &str,
    map: &HashMap<&str, &str>,
    depth: usize,
    out: &mut String,
) -> Result<(), Interpolation> {
    if depth > MAX_INTERPOLATION_DEPTH {
        return Err(Interpolation::Fails(
            "interpolation nests deeper than 10 levels".into(),
        ));
    }
    let mut rest = value;
    while let Some(p) = rest.find('%') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let after = &rest[1..];
        if after.starts_with('%') {
            out.push('%');
            rest = &rest[2..];
        } else if let Some(inner) = after.strip_prefix('(') {
            // `%\(([^)]+)\)s`
            let end = inner
                .find(')')
                .filter(|&end| end > 0 && inner[end + 1..].starts_with('s'));
            let Some(end) = end else {
                return Err(Interpolation::Fails(format!(
                    "bad interpolation reference {rest:?}"
                )));
            };
            let name = python::lower(&inner[..end]).map_err(Interpolation::VersionDependent)?;
            rest = &inner[end + 2..];
            let Some(&referenced) = map.get(&*name) else {
                return Err(Interpolation::Fails(format!(
                    "refers to {name:?}, which is not bound"
                )));
            };
            if referenced.contains('%') {
                interpolate(referenced, map, depth + 1, out)?;
            } else {
                out.push_str(referenced);
            }
            if out.len() > MAX_INTERPOLATED_LEN {
                return Err(Interpolation::Fails(format!(
                    "interpolation makes a value longer than {MAX_INTERPOLATED_LEN} bytes"
                )));
            }
        } else {
            return Err(Interpolation::Fails(format!(
                "'%' must be followed by '%' or '(', found {rest:?}"
            )));
        }
    }
    out.push_str(rest);
    Ok(())
}

/// The `[DEFAULT]` values as `items("DEFAULT")` returns them.
fn interpolated<'t>(text: &'t str, defaults: &'t [Item]) -> Result<Vec<Cow<'t, str>>, SyntaxError> {
    let raw = || defaults.iter().map(|i| i.value.as_str(text));
    if !raw().any(|value| value.contains('%')) {
        return Ok(raw().map(Cow::Borrowed).collect());
    }
    let map: HashMap<&str, &str> = defaults
        .iter()
        .map(|i| (i.name.as_str(text), i.value.as_str(text)))
        .collect();
    let mut values = Vec::with_capacity(defaults.len());
    for item in defaults {
        let line = item.lines.start + 1;
        let name = item.name.as_str(text);
        let mut out = String::new();
        match interpolate(item.value.as_str(text), &map, 1, &mut out) {
            Ok(()) => values.push(Cow::Owned(out)),
            Err(Interpolation::Fails(message)) => {
                return Err(SyntaxError::fails(line, format!("{name:?}: {message}")));
            }
            Err(Interpolation::VersionDependent(c)) => {
                return Err(SyntaxError::version_dependent(line, name, c));
            }
        }
    }
    Ok(values)
}

/// `int()` of each value, as port-for's `bound_ports` does after
/// `items("DEFAULT")`; every port is stored in its item.
fn read_ports(text: &str, defaults: &mut [Item]) -> Result<(), SyntaxError> {
    let values = interpolated(text, defaults)?;
    let mut ports = Vec::with_capacity(defaults.len());
    for (item, value) in defaults.iter().zip(&values) {
        let line = item.lines.start + 1;
        let name = item.name.as_str(text);
        ports.push(match python::int(value) {
            Int::Port(port) => port,
            Int::NotAPort => {
                return Err(SyntaxError::refused(
                    line,
                    format!("{name:?} is bound to {value:?}, which is not a port (1-65535)"),
                ));
            }
            Int::NonAsciiDigits => {
                return Err(SyntaxError::refused(
                    line,
                    format!(
                        "{name:?} is bound to {value:?}, a port in digits other than ASCII, \
                         which Python reads according to its Unicode version"
                    ),
                ));
            }
            Int::Invalid => {
                let continued = match item.lines.len() {
                    1 => String::new(),
                    2 => format!(" (indented, line {} continues the value)", line + 1),
                    _ => format!(
                        " (indented, lines {} to {} continue the value)",
                        line + 1,
                        item.lines.end
                    ),
                };
                return Err(SyntaxError::fails(
                    line,
                    format!("{name:?} is bound to {value:?}, which is not a number{continued}"),
                ));
            }
        });
    }
    drop(values);
    for (item, port) in defaults.iter_mut().zip(ports) {
        item.port = port;
    }
    Ok(())
}

/// The line (1-based) of byte `at`, as [`split_lines`] counts lines.
fn line_of_byte(bytes: &[u8], at: usize) -> usize {
    let before = &bytes[..at];
    let breaks = before
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count();
    breaks + 1
}

/// Reads `bytes` as port-for reads a store.
pub(super) fn parse(bytes: Vec<u8>) -> Result<Document, SyntaxError> {
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        SyntaxError::fails(
            line_of_byte(e.as_bytes(), at),
            format!("not valid UTF-8 (byte {})", at + 1),
        )
    })?;
    let lines = split_lines(&text);
    let reader = parse_lines(&text, lines)?;
    let Reader {
        lines,
        mut defaults,
        sections,
        default_headers,
        ..
    } = reader;
    read_ports(&text, &mut defaults)?;
    Ok(Document {
        text,
        lines,
        defaults,
        sections,
        default_headers,
    })
}
