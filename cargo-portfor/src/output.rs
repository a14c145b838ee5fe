//! Rendering for people (aligned text, optional colour) or machines (one JSON
//! document on stdout, shape version [`JSON_VERSION`]); errors and warnings
//! on stderr, coloured as cargo colours them.

use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::error::CliError;

/// The version of the JSON shape. Every document carries it as `"version"`,
/// with the subcommand as `"command"`; a change that removes or retypes a
/// field bumps it.
pub(crate) const JSON_VERSION: u32 = 1;

/// Colours with a meaning, as cargo uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// As expected: the declared process listens, a port is usable.
    Good,
    /// Cannot tell, or worth a look.
    Warn,
    /// Wrong: an unexpected listener, a port that is not usable.
    Bad,
    Dim,
    Bold,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Good => "\x1b[32m",
            Style::Warn => "\x1b[33m",
            Style::Bad => "\x1b[31m",
            Style::Dim => "\x1b[2m",
            Style::Bold => "\x1b[1m",
        }
    }
}

/// A table cell: text, and its style when colouring.
pub(crate) type Cell = (String, Option<Style>);

/// `error:` in bold red and `warning:` in bold yellow, the colon bold, as
/// cargo writes them.
/// `text` with control characters written as escapes (`\u{1b}`): names
/// and process names come from files and other users, and must not reach a
/// terminal as escape sequences.
pub(crate) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect::<String>()
        .into()
}

pub(crate) fn label(name: &str, color: bool) -> String {
    if !color {
        return format!("{name}:");
    }
    let colour = if name == "error" { "31" } else { "33" };
    format!("\x1b[1m\x1b[{colour}m{name}\x1b[0m\x1b[1m:\x1b[0m")
}

pub(crate) struct Output<'a> {
    pub(crate) json: bool,
    color: bool,
    err_color: bool,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    /// The messages of the errors reported so far: each is written once.
    reported: Vec<String>,
}

impl<'a> Output<'a> {
    pub(crate) fn new(
        json: bool,
        (color, err_color): (bool, bool),
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Output<'a> {
        Output {
            json,
            color,
            err_color,
            out,
            err,
            reported: Vec::new(),
        }
    }

    /// A `warning:` line on stderr.
    pub(crate) fn warning(&mut self, message: &str) -> io::Result<()> {
        let message = escape_controls(message);
        writeln!(self.err, "{} {message}", label("warning", self.err_color))
    }

    /// `text` in `style` when colouring stdout.
    pub(crate) fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            format!("{}{text}\x1b[0m", style.code())
        } else {
            text.to_owned()
        }
    }

    pub(crate) fn line(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// Reports `error` on stderr now, once however often it is reported,
    /// and remembers that the command failed (see [`Output::failed`]).
    pub(crate) fn error(&mut self, error: &CliError) -> io::Result<()> {
        let message = error.to_string();
        if self.reported.contains(&message) {
            return Ok(());
        }
        self.reported.push(message);
        error.report(&mut *self.err, self.err_color)
    }

    /// Whether an error was reported (the command then exits 2).
    pub(crate) fn failed(&self) -> bool {
        !self.reported.is_empty()
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

    /// Rows of cells, each row indented by `indent`. The first `aligned`
    /// columns are padded to their widest cell (ignoring colour codes); the
    /// rest follow two spaces apart, so that one long cell there (a status)
    /// does not push the cells after it (notes) to the right on every row.
    pub(crate) fn table(
        &mut self,
        indent: &str,
        aligned: usize,
        rows: &[Vec<Cell>],
    ) -> io::Result<()> {
        // Escaped first: widths are those of what is printed.
        let rows: Vec<Vec<(std::borrow::Cow<'_, str>, Option<Style>)>> = rows
            .iter()
            .map(|row| row.iter().map(|(t, s)| (escape_controls(t), *s)).collect())
            .collect();
        let widths: Vec<usize> = (0..aligned)
            .map(|c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .map(|(t, _)| t.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &rows {
            let mut line = String::from(indent);
            for (c, (text, style)) in row.iter().enumerate() {
                match style {
                    Some(style) => line.push_str(&self.paint(text, *style)),
                    None => line.push_str(text),
                }
                if c + 1 < row.len() {
                    let pad = widths.get(c).map_or(0, |w| w - text.chars().count());
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            self.line(line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(rows: &[Vec<Cell>], aligned: usize) -> String {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        Output::new(false, (false, false), &mut out, &mut err)
            .table("  ", aligned, rows)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_long_status_does_not_push_the_notes_of_other_rows() {
        let cell = |s: &str| (s.to_owned(), None);
        let rows = [
            vec![
                cell("http"),
                cell("20000"),
                cell("listening (pid 12345, a-very-long-process-name)"),
            ],
            vec![
                cell("db"),
                cell("20001"),
                cell("free"),
                cell("(not declared in Cargo.toml)"),
            ],
        ];
        assert_eq!(
            render(&rows, 2),
            "  http  20000  listening (pid 12345, a-very-long-process-name)\n  \
             db    20001  free  (not declared in Cargo.toml)\n"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\x1b[2Jb\n"), "a\\u{1b}[2Jb\\n");
        let out = render(
            &[vec![("evil\x1b]0;x\x07".into(), None), ("x".into(), None)]],
            1,
        );
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    }

    #[test]
    fn labels_are_bold_and_coloured_as_cargo_writes_them() {
        assert_eq!(label("error", false), "error:");
        assert_eq!(
            label("error", true),
            "\x1b[1m\x1b[31merror\x1b[0m\x1b[1m:\x1b[0m"
        );
        assert_eq!(
            label("warning", true),
            "\x1b[1m\x1b[33mwarning\x1b[0m\x1b[1m:\x1b[0m"
        );
    }
}
