//! Rendering for people (aligned text, optional color) or machines (one JSON
//! document on stdout, shape version [`JSON_VERSION`]).

use std::io::{self, Write};

use serde_json::{Map, Value};

/// The version of the JSON shape. Every document carries it as `"version"`,
/// with the subcommand as `"command"`; a change that removes or retypes a
/// field bumps it.
pub(crate) const JSON_VERSION: u32 = 1;

#[derive(Clone, Copy)]
pub(crate) enum Style {
    Good,
    Warn,
    Bad,
    Dim,
    Bold,
}

pub(crate) struct Output<'a> {
    pub(crate) json: bool,
    color: bool,
    out: &'a mut dyn Write,
}

impl<'a> Output<'a> {
    pub(crate) fn new(json: bool, color: bool, out: &'a mut dyn Write) -> Output<'a> {
        Output { json, color, out }
    }

    /// `text` in `style` when coloring.
    pub(crate) fn paint(&self, text: &str, style: Style) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match style {
            Style::Good => "32",
            Style::Warn => "33",
            Style::Bad => "31",
            Style::Dim => "2",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    pub(crate) fn line(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// Prints the JSON document of `command`: `body`'s fields after
    /// `version` and `command`.
    pub(crate) fn document(&mut self, command: &str, body: Value) -> io::Result<()> {
        let mut doc = Map::new();
        doc.insert("version".into(), JSON_VERSION.into());
        doc.insert("command".into(), command.into());
        if let Value::Object(fields) = body {
            doc.extend(fields);
        }
        serde_json::to_writer(&mut *self.out, &Value::Object(doc))?;
        writeln!(self.out)
    }

    /// Rows of cells, columns padded to their widest cell (ignoring color
    /// codes), each row indented by `indent`.
    pub(crate) fn table(
        &mut self,
        indent: &str,
        rows: &[Vec<(String, Option<Style>)>],
    ) -> io::Result<()> {
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .map(|(t, _)| t.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in rows {
            let mut line = String::from(indent);
            for (c, (text, style)) in row.iter().enumerate() {
                let painted = match style {
                    Some(style) => self.paint(text, *style),
                    None => text.clone(),
                };
                line.push_str(&painted);
                if c + 1 < row.len() {
                    let pad = widths[c] - text.chars().count() + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            self.line(line.trim_end())?;
        }
        Ok(())
    }
}
