//! Editing a store in place. Each edit tries the most natural change first
//! (a line added after the last binding), then a safe fallback (a new
//! section at the end of the file, where no line follows that it could
//! change); a candidate is kept only if it reads exactly as intended, so
//! no edit changes how port-for reads any other line.

use std::fmt;

use super::{Document, Item, read};

const DEFAULT: &str = "DEFAULT";

/// Why an edit was not made; the document is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditError(pub(crate) String);

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a store means to port-for: the bindings, and every other section's
/// options, in order.
#[derive(Debug, PartialEq, Eq)]
struct Meaning<'a> {
    defaults: Vec<(&'a str, u16)>,
    sections: Vec<(&'a str, Vec<(&'a str, &'a str)>)>,
}

fn ends_line(text: &str) -> bool {
    text.ends_with(['\n', '\r'])
}

/// `text` ending with an empty line, as port-for ends every file it
/// writes: a reader takes a file that does not for one cut off in the
/// middle of a write (see `store::file`).
fn terminated(mut text: String, eol: &str) -> String {
    if text.is_empty() {
        return text;
    }
    if !ends_line(&text) {
        text.push_str(eol);
    }
    let last = if text.ends_with("\r\n") {
        "\r\n"
    } else if text.ends_with('\r') {
        "\r"
    } else {
        "\n"
    };
    if !text[..text.len() - last.len()].ends_with(last) {
        text.push_str(last);
    }
    text
}

impl Document {
    fn meaning(&self) -> Meaning<'_> {
        Meaning {
            defaults: self.entries().collect(),
            sections: self
                .sections
                .iter()
                .map(|s| (s.name.as_str(), self.options(&s.items)))
                .collect(),
        }
    }

    fn options<'a>(&'a self, items: &'a [Item]) -> Vec<(&'a str, &'a str)> {
        items
            .iter()
            .map(|i| (i.name.as_str(&self.text), i.value.as_str(&self.text)))
            .collect()
    }

    /// The line ending of the file's first line, for the lines an edit
    /// adds (`\n` for a file without one).
    fn eol(&self) -> &'static str {
        let first = self.lines.first().map_or("", |l| &self.text[l.clone()]);
        if first.ends_with("\r\n") {
            "\r\n"
        } else if first.ends_with('\r') {
            "\r"
        } else {
            "\n"
        }
    }

    /// The text with `line` added after line `index`.
    fn with_line_after(&self, index: usize, line: &str) -> String {
        let at = self.lines[index].end;
        let eol = self.eol();
        let mut text = String::with_capacity(self.text.len() + line.len() + 2 * eol.len());
        text.push_str(&self.text[..at]);
        if !ends_line(&text) {
            text.push_str(eol);
        }
        text.push_str(line);
        text.push_str(eol);
        text.push_str(&self.text[at..]);
        text
    }

    /// The text with a new section holding `line` at its end.
    fn with_section_at_end(&self, section: &str, line: &str) -> String {
        let eol = self.eol();
        let mut text = self.text.clone();
        if !text.is_empty() {
            if !ends_line(&text) {
                text.push_str(eol);
            }
            let last = self.lines.last().map_or("", |l| &self.text[l.clone()]);
            if !last.trim().is_empty() {
                text.push_str(eol);
            }
        }
        text.push_str(&format!("[{section}]{eol}{line}{eol}"));
        text
    }

    /// The first candidate that parses and means `expected`.
    fn first_meaning(
        &self,
        candidates: impl IntoIterator<Item = String>,
        expected: &Meaning<'_>,
    ) -> Option<Document> {
        let eol = self.eol();
        candidates
            .into_iter()
            .filter_map(|text| read::parse(terminated(text, eol).into_bytes()).ok())
            .find(|doc| doc.meaning() == *expected)
    }

    /// Adds `name = port` (`name` lower-case, valid, not yet bound) after
    /// the last binding, or in a new `[DEFAULT]` section (on top of an
    /// empty store, as configparser writes it; else at the end).
    pub(crate) fn insert(&mut self, name: &str, port: u16) -> Result<(), EditError> {
        let line = format!("{name} = {port}");
        let in_place = match (
            self.defaults.iter().map(|i| i.lines.end).max(),
            self.default_headers.last(),
        ) {
            (Some(end), _) => self.with_line_after(end - 1, &line),
            (None, Some(&header)) => self.with_line_after(header, &line),
            (None, None) => {
                let eol = self.eol();
                format!("[{DEFAULT}]{eol}{line}{eol}{eol}{}", self.text)
            }
        };
        let at_end = self.with_section_at_end(DEFAULT, &line);
        let mut expected = self.meaning();
        expected.defaults.push((name, port));
        match self.first_meaning([in_place, at_end], &expected) {
            Some(doc) => {
                *self = doc;
                Ok(())
            }
            None => Err(EditError(format!(
                "cannot add {name:?} without changing how port-for reads the rest of the store"
            ))),
        }
    }

    /// Removes the binding of `name` (lower-case) with its continuation
    /// lines; false when there is none. Nothing but empty `[DEFAULT]`
    /// headers left: one `[DEFAULT]` line. (configparser writes an empty
    /// file; but an empty file is what port-for's store looks like while
    /// port-for rewrites it, which readers wait out, so portfor never
    /// leaves one.)
    pub(crate) fn remove(&mut self, name: &str) -> Result<bool, EditError> {
        let text = &self.text;
        let Some(item) = self.defaults.iter().find(|i| i.name.as_str(text) == name) else {
            return Ok(false);
        };
        let span = self.lines[item.lines.start].start..self.lines[item.lines.end - 1].end;
        let mut edited = String::with_capacity(text.len());
        edited.push_str(&text[..span.start]);
        edited.push_str(&text[span.end..]);
        let edited = terminated(edited, self.eol());
        let mut expected = self.meaning();
        expected.defaults.retain(|&(n, _)| n != name);
        let mut doc = match read::parse(edited.into_bytes()) {
            Ok(doc) if doc.meaning() == expected => doc,
            Ok(_) => {
                return Err(EditError(format!(
                    "removing {name:?} would change how port-for reads the rest of the store"
                )));
            }
            Err(e) => {
                return Err(EditError(format!(
                    "removing {name:?} would leave a store port-for cannot read ({e})"
                )));
            }
        };
        let only_headers = doc.defaults.is_empty()
            && doc.sections.is_empty()
            && doc.lines.iter().enumerate().all(|(i, l)| {
                doc.default_headers.binary_search(&i).is_ok()
                    || doc.text[l.clone()].trim().is_empty()
            });
        if only_headers {
            let eol = doc.eol();
            doc = read::parse(format!("[{DEFAULT}]{eol}{eol}").into_bytes())
                .expect("a lone [DEFAULT] header reads");
        }
        *self = doc;
        Ok(true)
    }

    /// Sets `key = value` in section `name` (not `[DEFAULT]`), adding the
    /// section at the end of the file when it is missing. Returns false,
    /// changing nothing, when the file cannot hold it so that it reads back
    /// (a value with surrounding whitespace, an indented line after it).
    pub(crate) fn set_in_section(&mut self, name: &str, key: &str, value: &str) -> bool {
        let line = format!("{key} = {value}");
        let mut expected = self.meaning();
        let text = &self.text;
        let candidate = match self.sections.iter().position(|s| s.name == name) {
            None => {
                expected.sections.push((name, vec![(key, value)]));
                self.with_section_at_end(name, &line)
            }
            Some(index) => {
                let section = &self.sections[index];
                let options = &mut expected.sections[index].1;
                match section
                    .items
                    .iter()
                    .position(|i| i.name.as_str(text) == key)
                {
                    Some(at) if options[at].1 == value => return true,
                    Some(at) => {
                        options[at].1 = value;
                        let lines = &section.items[at].lines;
                        let span = self.lines[lines.start].start..self.lines[lines.end - 1].end;
                        let mut edited = text.clone();
                        edited.replace_range(span, &format!("{line}{}", self.eol()));
                        edited
                    }
                    None => {
                        options.push((key, value));
                        let after = section
                            .items
                            .iter()
                            .map(|i| i.lines.end - 1)
                            .max()
                            .unwrap_or(section.header);
                        self.with_line_after(after, &line)
                    }
                }
            }
        };
        match self.first_meaning([candidate], &expected) {
            Some(doc) => {
                *self = doc;
                true
            }
            None => false,
        }
    }
}
