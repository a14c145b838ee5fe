//! port-for's store format: Python `configparser` INI, bindings in
//! `[DEFAULT]` as `name = port`.
//!
//! The reader follows configparser's rules (full-line `#`/`;` comments, `=`
//! or `:` delimiters, names lower-cased, indented lines continuing the
//! previous value), and rejects what configparser rejects or would misread
//! (a missing section header, duplicate sections or names, a value that is
//! not a port), naming the line. The writer edits lines in place: binding
//! adds one `name = port` line to `[DEFAULT]`, unbinding removes one, and
//! every other line (comments, other sections) stays byte for byte.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

/// What is wrong with a store file, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A binding of `[DEFAULT]`: its name (lower-cased), port, and line index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: Name,
    port: u16,
    line: usize,
}

/// A name as the file has it (a byte span, when it is already lower-case),
/// or lower-cased: most names need no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Span(Range<usize>),
    Lowered(String),
}

/// A section other than `[DEFAULT]`: its header line and its options as
/// (lower-cased name, first line of the value, line index).
#[derive(Debug, Clone, Default)]
struct Section {
    name: String,
    header: usize,
    options: Vec<(String, String, usize)>,
}

/// A parsed store file that can be edited and written back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    text: String,
    /// Byte ranges of the lines, each with its line ending.
    lines: Vec<Range<usize>>,
    /// The bindings of `[DEFAULT]`, in file order.
    entries: Vec<Entry>,
    /// Index of the `[DEFAULT]` header line, if there is one.
    default_header: Option<usize>,
    /// The other sections, in file order.
    sections: Vec<Section>,
}

const DEFAULT: &str = "DEFAULT";

/// Parses a port as the store holds it: decimal digits, 1 to 65535.
pub(crate) fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&port| port != 0)
}

/// A section header per configparser: `[` then at least one character up
/// to the last `]` of the line.
fn section_name(stripped: &str) -> Option<&str> {
    let rest = stripped.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// The byte offset of `part` (a subslice) within `whole`.
fn offset_in(whole: &str, part: &str) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

impl Document {
    /// Parses `text`. Every rule configparser enforces is enforced, and
    /// every `[DEFAULT]` value must be a port.
    pub(crate) fn parse(text: String) -> Result<Document, SyntaxError> {
        let mut lines = Vec::new();
        let mut entries: Vec<Entry> = Vec::new();
        let mut sections: Vec<&str> = Vec::new();
        let mut section: Option<&str> = None;
        let mut default_header = None;
        // The indent of the current option line, while a value may continue.
        let mut option_indent: Option<usize> = None;
        let mut other_names: HashSet<String> = HashSet::new();
        let mut others: Vec<Section> = Vec::new();

        for (index, raw) in text.split_inclusive('\n').enumerate() {
            let start = offset_in(&text, raw);
            lines.push(start..start + raw.len());
            let number = index + 1;
            let error = |message: String| SyntaxError {
                line: number,
                message,
            };
            let line = raw.trim_end_matches(['\n', '\r']);
            let stripped = line.trim();
            if stripped.starts_with('#') || stripped.starts_with(';') || stripped.is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if let Some(option_indent) = option_indent
                && indent > option_indent
            {
                // configparser appends this line to the previous value.
                if section == Some(DEFAULT) {
                    let last = entries.last().expect("an option precedes");
                    let name = Document::name_in(&text, &last.name);
                    return Err(error(format!(
                        "indented line continues the value of {name:?}, which must be one port \
                         (a name with leading whitespace corrupts the previous binding)"
                    )));
                }
                continue;
            }
            if let Some(name) = section_name(stripped) {
                if sections.contains(&name) {
                    return Err(error(format!("section [{name}] appears twice")));
                }
                sections.push(name);
                if name == DEFAULT {
                    default_header = Some(index);
                } else {
                    others.push(Section {
                        name: name.to_owned(),
                        header: index,
                        options: Vec::new(),
                    });
                }
                section = Some(name);
                option_indent = None;
                other_names.clear();
                continue;
            }
            let Some(current) = section else {
                return Err(error(
                    "no section header before this line; a store starts with [DEFAULT]".into(),
                ));
            };
            let Some(split) = stripped.find(['=', ':']) else {
                return Err(error(format!("expected `name = port`, found {stripped:?}")));
            };
            let raw_name = stripped[..split].trim_end();
            let value = stripped[split + 1..].trim();
            if raw_name.is_empty() {
                return Err(error("a binding without a name".into()));
            }
            option_indent = Some(indent);
            if current == DEFAULT {
                let name = if raw_name.chars().any(|c| c.to_lowercase().ne([c])) {
                    Name::Lowered(raw_name.to_lowercase())
                } else {
                    let at = offset_in(&text, raw_name);
                    Name::Span(at..at + raw_name.len())
                };
                let port = parse_port(value).ok_or_else(|| {
                    error(format!(
                        "{:?} is bound to {value:?}, which is not a port (1-65535)",
                        Document::name_in(&text, &name)
                    ))
                })?;
                entries.push(Entry {
                    name,
                    port,
                    line: index,
                });
            } else {
                let name = raw_name.to_lowercase();
                if !other_names.insert(name.clone()) {
                    return Err(error(format!("{name:?} appears twice in [{current}]")));
                }
                if let Some(section) = others.last_mut() {
                    section.options.push((name, value.to_owned(), index));
                }
            }
        }
        // Duplicate names, found once all are read: one hash per name.
        let mut seen: HashSet<&str> = HashSet::with_capacity(entries.len());
        for entry in &entries {
            let name = Document::name_in(&text, &entry.name);
            if !seen.insert(name) {
                return Err(SyntaxError {
                    line: entry.line + 1,
                    message: format!("{name:?} is bound twice"),
                });
            }
        }
        Ok(Document {
            text,
            lines,
            entries,
            default_header,
            sections: others,
        })
    }

    /// The options of section `name` as (lower-cased name, value).
    pub(crate) fn section(&self, name: &str) -> impl Iterator<Item = (&str, &str)> {
        self.sections
            .iter()
            .filter(move |s| s.name == name)
            .flat_map(|s| s.options.iter().map(|(k, v, _)| (k.as_str(), v.as_str())))
    }

    /// Sets `key = value` in section `name` (not `[DEFAULT]`), adding the
    /// section at the end of the file when it is missing. `key` is
    /// lower-case and valid; `value` is one line.
    pub(crate) fn set_in_section(&mut self, name: &str, key: &str, value: &str) {
        let line = format!("{key} = {value}\n");
        let Some(section) = self.sections.iter().find(|s| s.name == name) else {
            let mut text = self.text.clone();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            if !text.is_empty() && !text.ends_with("\n\n") {
                text.push('\n');
            }
            text.push_str(&format!("[{name}]\n{line}\n"));
            return self.replace_text(text);
        };
        let mut text = self.text.clone();
        match section.options.iter().find(|(k, _, _)| k == key) {
            Some((_, old, _)) if old == value => return,
            Some((_, _, at)) => text.replace_range(self.lines[*at].clone(), &line),
            None => {
                let after = section
                    .options
                    .last()
                    .map_or(section.header, |(_, _, l)| *l);
                let at = self.lines[after].end;
                if !text[..at].ends_with('\n') {
                    text.insert(at, '\n');
                    text.insert_str(at + 1, &line);
                } else {
                    text.insert_str(at, &line);
                }
            }
        }
        self.replace_text(text);
    }

    fn name_in<'a>(text: &'a str, name: &'a Name) -> &'a str {
        match name {
            Name::Span(span) => &text[span.clone()],
            Name::Lowered(name) => name,
        }
    }

    /// The bindings as (lower-cased name, port), in file order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, u16)> {
        self.entries
            .iter()
            .map(|e| (Document::name_in(&self.text, &e.name), e.port))
    }

    /// The port bound to `name` (already lower-cased).
    pub(crate) fn get(&self, name: &str) -> Option<u16> {
        self.entries()
            .find(|&(n, _)| n == name)
            .map(|(_, port)| port)
    }

    /// Adds `name = port` (name lower-cased, not yet bound) at the end of
    /// `[DEFAULT]`, creating the section at the top when it is missing.
    pub(crate) fn insert(&mut self, name: &str, port: u16) {
        let line = format!("{name} = {port}\n");
        let at = match (self.entries.last(), self.default_header) {
            (Some(last), _) => self.lines[last.line].end,
            (None, Some(header)) => self.lines[header].end,
            // What configparser writes: the section, its bindings, a blank
            // line; then whatever the file held.
            (None, None) => {
                let text = format!("[{DEFAULT}]\n{line}\n{}", self.text);
                return self.replace_text(text);
            }
        };
        let mut text = String::with_capacity(self.text.len() + line.len() + 1);
        text.push_str(&self.text[..at]);
        // The line before may lack its newline (a file not ending in one).
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line);
        text.push_str(&self.text[at..]);
        self.replace_text(text);
    }

    /// Removes the binding of `name`; false when there is none.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        let Some(entry) = self
            .entries
            .iter()
            .find(|e| Document::name_in(&self.text, &e.name) == name)
        else {
            return false;
        };
        let span = self.lines[entry.line].clone();
        let mut text = self.text.clone();
        text.replace_range(span, "");
        self.replace_text(text);
        // Nothing but an empty [DEFAULT] left: the empty file configparser
        // writes.
        let only_blank_besides_header =
            self.lines.iter().enumerate().all(|(i, l)| {
                Some(i) == self.default_header || self.text[l.clone()].trim().is_empty()
            });
        if self.entries.is_empty() && only_blank_besides_header {
            self.replace_text(String::new());
        }
        true
    }

    /// Adopts an edited text, which the edits above keep valid.
    fn replace_text(&mut self, text: String) {
        *self = Document::parse(text).expect("an edit produced an invalid store");
    }

    /// The file's text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(doc: &Document) -> Vec<(&str, u16)> {
        doc.entries().collect()
    }

    fn parse(text: &str) -> Result<Document, SyntaxError> {
        Document::parse(text.to_owned())
    }

    #[test]
    fn reads_what_port_for_writes() {
        let doc = parse("[DEFAULT]\nfoo = 22357\nbar = 32602\nbaz = 12345\n\n").unwrap();
        assert_eq!(
            names(&doc),
            [("foo", 22357), ("bar", 32602), ("baz", 12345)]
        );
    }

    #[test]
    fn reads_configparser_variants() {
        let text = "# comment\n[DEFAULT]\n  ; indented comment\nFoo: 1234\nbar=80\n\
                    example.com/apache = 35456\n[other]\nkey = value\n  continued\n";
        let doc = parse(text).unwrap();
        assert_eq!(
            names(&doc),
            [("foo", 1234), ("bar", 80), ("example.com/apache", 35456)]
        );
        assert_eq!(doc.text(), text);
    }

    #[test]
    fn an_empty_file_is_an_empty_store() {
        assert!(parse("").unwrap().entries().next().is_none());
        assert!(parse("\n\n").unwrap().entries().next().is_none());
    }

    #[test]
    fn rejects_what_configparser_rejects_or_misreads() {
        let cases = [
            ("foo = 1\n", 1, "no section header"),
            ("[DEFAULT]\nfoo = 1\nfoo = 2\n", 3, "bound twice"),
            ("[DEFAULT]\nfoo = 1\nFOO = 2\n", 3, "bound twice"),
            ("[DEFAULT]\n[a]\n[a]\n", 3, "appears twice"),
            ("[DEFAULT]\nfoo = abc\n", 2, "not a port"),
            ("[DEFAULT]\nfoo = \n", 2, "not a port"),
            ("[DEFAULT]\nfoo = 70000\n", 2, "not a port"),
            ("[DEFAULT]\nfoo = 0\n", 2, "not a port"),
            (
                "[DEFAULT]\nfoo = 22357\n lead = 25498\n",
                3,
                "continues the value",
            ),
            ("[DEFAULT]\nfoo\n", 2, "expected `name = port`"),
            ("[DEFAULT]\n= 5\n", 2, "without a name"),
            ("[a]\nk = 1\nk = 2\n", 3, "appears twice in [a]"),
        ];
        for (text, line, message) in cases {
            let error = parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
            assert!(error.message.contains(message), "{text:?}: {error}");
        }
    }

    #[test]
    fn insert_writes_what_configparser_writes_into_an_empty_file() {
        let mut doc = parse("").unwrap();
        doc.insert("foo", 22357);
        assert_eq!(doc.text(), "[DEFAULT]\nfoo = 22357\n\n");
        doc.insert("bar", 32602);
        assert_eq!(doc.text(), "[DEFAULT]\nfoo = 22357\nbar = 32602\n\n");
        assert_eq!(parse(doc.text()).unwrap().get("bar"), Some(32602));
    }

    #[test]
    fn insert_keeps_every_other_line() {
        let text = "# ports\n[DEFAULT]\nfoo = 1\n# after foo\n\n[other]\nx = y\n";
        let mut doc = parse(text).unwrap();
        doc.insert("bar", 2);
        assert_eq!(
            doc.text(),
            "# ports\n[DEFAULT]\nfoo = 1\nbar = 2\n# after foo\n\n[other]\nx = y\n"
        );
        // A store with other sections but no [DEFAULT] gets one on top.
        let mut doc = parse("[other]\nx = y").unwrap();
        doc.insert("foo", 3);
        assert_eq!(doc.text(), "[DEFAULT]\nfoo = 3\n\n[other]\nx = y");
        assert_eq!(parse(doc.text()).unwrap().get("foo"), Some(3));
        // A last line without a newline gets one before the new line.
        let mut doc = parse("[DEFAULT]\nfoo = 1").unwrap();
        doc.insert("bar", 2);
        assert_eq!(doc.text(), "[DEFAULT]\nfoo = 1\nbar = 2\n");
    }

    #[test]
    fn other_sections_are_read_and_edited_in_place() {
        let mut doc = parse("[DEFAULT]\nfoo = 1\n").unwrap();
        doc.set_in_section("portfor.checkouts", "abcd", "/src/web");
        assert_eq!(
            doc.text(),
            "[DEFAULT]\nfoo = 1\n\n[portfor.checkouts]\nabcd = /src/web\n\n"
        );
        doc.set_in_section("portfor.checkouts", "ef01", "/src/api");
        doc.set_in_section("portfor.checkouts", "abcd", "/src/web");
        assert_eq!(
            doc.section("portfor.checkouts").collect::<Vec<_>>(),
            [("abcd", "/src/web"), ("ef01", "/src/api")]
        );
        doc.insert("bar", 2);
        assert_eq!(
            doc.text(),
            "[DEFAULT]\nfoo = 1\nbar = 2\n\n[portfor.checkouts]\nabcd = /src/web\nef01 = /src/api\n\n"
        );
        doc.set_in_section("portfor.checkouts", "abcd", "/moved");
        assert_eq!(
            doc.section("portfor.checkouts").next(),
            Some(("abcd", "/moved"))
        );
    }

    #[test]
    fn remove_deletes_one_line_and_empties_an_empty_store() {
        let mut doc = parse("[DEFAULT]\nfoo = 1\nbar = 2\n\n").unwrap();
        assert!(doc.remove("foo"));
        assert!(!doc.remove("foo"));
        assert_eq!(doc.text(), "[DEFAULT]\nbar = 2\n\n");
        doc.insert("baz", 3);
        assert_eq!(doc.text(), "[DEFAULT]\nbar = 2\nbaz = 3\n\n");
        assert!(doc.remove("bar") && doc.remove("baz"));
        assert_eq!(doc.text(), "", "port-for leaves an empty file");
        let mut doc = parse("[DEFAULT]\nfoo = 1\n[other]\nx = y\n").unwrap();
        doc.remove("foo");
        assert_eq!(doc.text(), "[DEFAULT]\n[other]\nx = y\n");
    }
}
