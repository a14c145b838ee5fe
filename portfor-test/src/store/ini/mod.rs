//! port-for's store format: Python `configparser` INI, bindings in
//! `[DEFAULT]` as `name = port`.
//!
//! Reading ([`read`]) follows CPython's configparser and `int()` exactly:
//! every file reads as port-for 1.1.1 reads it, or is refused, naming the
//! line, where port-for fails too, or where it reads something that is not
//! a port or that depends on the Python version. Writing ([`edit`]) changes
//! lines in place (binding adds one `name = port` line, unbinding removes
//! one binding's lines, every other line stays byte for byte), and an edit
//! is kept only if the edited file reads exactly as intended.

mod edit;
mod python;
mod read;

use std::fmt;
use std::ops::Range;

pub(crate) use python::{is_space, lower};

/// What is wrong with a store file, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl SyntaxError {
    /// Where configparser or `int()` raises: port-for cannot read the file.
    fn fails(line: usize, message: String) -> SyntaxError {
        SyntaxError {
            line,
            message: format!("{message}; port-for cannot read this file either"),
        }
    }

    /// Where port-for reads the file, but not as a store of ports.
    fn refused(line: usize, message: String) -> SyntaxError {
        SyntaxError {
            line,
            message: format!("{message}; port-for would read it, but portfor refuses"),
        }
    }

    /// A name whose lower-case form depends on the Python version.
    fn version_dependent(line: usize, name: &str, c: char) -> SyntaxError {
        SyntaxError::refused(
            line,
            format!(
                "the lower-case form of {c:?} (U+{:04X}) in {name:?} depends on the Python \
                 version",
                u32::from(c)
            ),
        )
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Text of the file: a byte span of it, or a string made from it (a name
/// lower-cased, a value joined from several lines). Most names and values
/// are spans, so reading a store allocates little.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    Span(Range<usize>),
    Owned(String),
}

impl Text {
    fn as_str<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            Text::Span(span) => &text[span.clone()],
            Text::Owned(owned) => owned,
        }
    }
}

/// An option: its name (lower-cased), value (lines joined, not
/// interpolated), port (in `[DEFAULT]`), and lines (the option line to its
/// last continuation line).
#[derive(Debug, Clone)]
struct Item {
    name: Text,
    value: Text,
    port: u16,
    lines: Range<usize>,
}

/// A section other than `[DEFAULT]`.
#[derive(Debug, Clone)]
struct Section {
    name: String,
    header: usize,
    items: Vec<Item>,
}

/// A parsed store file that can be edited and written back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    text: String,
    /// Byte ranges of the lines, each with its line ending.
    lines: Vec<Range<usize>>,
    /// The bindings of `[DEFAULT]`, in file order.
    defaults: Vec<Item>,
    /// The other sections, in file order.
    sections: Vec<Section>,
    /// The lines of the `[DEFAULT]` headers (configparser accepts several).
    default_headers: Vec<usize>,
}

impl Document {
    /// Reads `bytes` as port-for 1.1.1 reads a store.
    pub(crate) fn parse(bytes: Vec<u8>) -> Result<Document, SyntaxError> {
        read::parse(bytes)
    }

    /// The bindings as (lower-cased name, port), in file order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, u16)> {
        self.defaults
            .iter()
            .map(|item| (item.name.as_str(&self.text), item.port))
    }

    /// The port bound to `name` (already lower-cased).
    pub(crate) fn get(&self, name: &str) -> Option<u16> {
        self.entries()
            .find(|&(n, _)| n == name)
            .map(|(_, port)| port)
    }

    /// The options of section `name` as (lower-cased name, value).
    pub(crate) fn section(&self, name: &str) -> impl Iterator<Item = (&str, &str)> {
        self.sections
            .iter()
            .filter(move |s| s.name == name)
            .flat_map(|s| s.items.iter())
            .map(|item| (item.name.as_str(&self.text), item.value.as_str(&self.text)))
    }

    /// The file's text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests;
