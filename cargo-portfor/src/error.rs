//! The error `cargo portfor` reports, and how.

use std::fmt;
use std::io::{self, Write};

/// An error to report as `error: <message>`, then its details (one
/// indented line each: every problem of a manifest), then one `Caused by:`
/// line per cause; exit code 2.
#[derive(Debug)]
pub(crate) struct CliError {
    message: String,
    details: Vec<String>,
    causes: Vec<String>,
}

impl CliError {
    pub(crate) fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            details: Vec::new(),
            causes: Vec::new(),
        }
    }

    /// An error whose message is followed by `details`, one a line.
    pub(crate) fn with_details(message: impl Into<String>, details: Vec<String>) -> CliError {
        CliError {
            details,
            ..CliError::new(message)
        }
    }

    /// Writes the error the way cargo does.
    pub(crate) fn report(&self, err: &mut (impl Write + ?Sized), color: bool) -> io::Result<()> {
        use crate::output::escape_controls as escape;
        writeln!(
            err,
            "{} {}",
            crate::output::label("error", color),
            escape(&self.message)
        )?;
        for detail in &self.details {
            writeln!(err, "  {}", escape(detail))?;
        }
        if !self.causes.is_empty() {
            writeln!(err, "\nCaused by:")?;
            for cause in &self.causes {
                writeln!(err, "  {}", escape(cause))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn causes(mut source: Option<&(dyn std::error::Error + 'static)>) -> Vec<String> {
    let mut causes = Vec::new();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes
}

impl From<portfor_test::Error> for CliError {
    fn from(error: portfor_test::Error) -> Self {
        CliError {
            message: error.to_string(),
            details: Vec::new(),
            causes: causes(std::error::Error::source(&error)),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(error: io::Error) -> Self {
        CliError::new(format!("failed to write output: {error}"))
    }
}

impl From<cargo_metadata::Error> for CliError {
    fn from(error: cargo_metadata::Error) -> Self {
        let mut causes = causes(std::error::Error::source(&error));
        // `cargo metadata`'s own message is the useful part.
        if let cargo_metadata::Error::CargoMetadata { stderr } = &error {
            causes = stderr
                .lines()
                .map(|l| l.trim_start_matches("error: ").to_owned())
                .filter(|l| !l.trim().is_empty())
                .collect();
        }
        CliError {
            message: "failed to read the workspace with `cargo metadata`".to_owned(),
            details: Vec::new(),
            causes,
        }
    }
}

pub(crate) type CliResult<T> = Result<T, CliError>;
