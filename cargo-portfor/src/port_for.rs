//! `port-for`: a drop-in for the Python script of port-for 1.1.1.
//!
//! Same flags, same output, same system store (`/etc/port-for.conf`), same
//! exit codes (2 for usage errors, 1 for other errors), and the same command
//! line parsing as its argparse parser (unique prefixes of long options,
//! `--opt=value`, `-pVALUE`, negative numbers as values), but every failure
//! is one `port-for: error: ...` line instead of a traceback, and nothing is
//! written that the store cannot hold.
//!
//! Extra flags: `--store PATH` (another store file) and `--user` (the
//! per-user store, which needs no root).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

use portfor_test::{Error, Store, parse_port_arg};

/// The port-for version whose interface this reproduces.
const COMPATIBLE_WITH: &str = "1.1.1";

const USAGE: &str = "\
usage: port-for [-h] [--bind FOO] [--port PORT] [--unbind FOO] [--list]
                [--version] [--store PATH] [--user]
                [NAME]
";

const HELP: &str = "\
Command-line utility to manage local TCP port associations.

positional arguments:
  NAME                  Application name to bind a port for

options:
  -h, --help            show this help message and exit
  --bind FOO, -b FOO    Find and return a port for FOO; alias for 'port-for
                        FOO'
  --port PORT, -p PORT  Optional specific port number for the bind command
  --unbind FOO, -u FOO  Remove association for FOO
  --list, -l            List all associated ports
  --version, -v         show program's version number and exit
  --store PATH          Use this store file instead of /etc/port-for.conf
                        (or $PORTFOR_SYSTEM_STORE)
  --user                Use your own store, which needs no root (see
                        'cargo portfor doctor' for its path)

exit codes: 0 success, 1 error, 2 usage error
";

/// Exit code for success.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit code for an error (as port-for's tracebacks).
pub const EXIT_ERROR: i32 = 1;
/// Exit code for a usage error (as argparse's).
pub const EXIT_USAGE: i32 = 2;

#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    name: Option<String>,
    bind: Option<String>,
    port: Option<String>,
    unbind: Option<String>,
    list: bool,
    store: Option<PathBuf>,
    user: bool,
}

/// What parsing decided.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Run(Args),
    Help,
    Version,
    /// An argparse usage error: the message after `port-for: error: `.
    Usage(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    Help,
    Bind,
    Port,
    Unbind,
    List,
    Version,
    Store,
    User,
}

impl Opt {
    const LONG: [(&'static str, Opt); 8] = [
        ("--help", Opt::Help),
        ("--bind", Opt::Bind),
        ("--port", Opt::Port),
        ("--unbind", Opt::Unbind),
        ("--list", Opt::List),
        ("--version", Opt::Version),
        ("--store", Opt::Store),
        ("--user", Opt::User),
    ];

    fn short(c: char) -> Option<Opt> {
        Some(match c {
            'h' => Opt::Help,
            'b' => Opt::Bind,
            'p' => Opt::Port,
            'u' => Opt::Unbind,
            'l' => Opt::List,
            'v' => Opt::Version,
            _ => return None,
        })
    }

    fn takes_value(self) -> bool {
        matches!(self, Opt::Bind | Opt::Port | Opt::Unbind | Opt::Store)
    }

    /// How argparse names the option in its messages.
    fn display(self) -> &'static str {
        match self {
            Opt::Help => "-h/--help",
            Opt::Bind => "--bind/-b",
            Opt::Port => "--port/-p",
            Opt::Unbind => "--unbind/-u",
            Opt::List => "--list/-l",
            Opt::Version => "--version/-v",
            Opt::Store => "--store",
            Opt::User => "--user",
        }
    }
}

/// argparse treats `-5` or `-.5` as a value, not an option, when no option
/// looks like a negative number.
fn is_negative_number(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else {
        return false;
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(rest.contains('.') && frac.is_empty())
}

fn looks_like_option(arg: &str) -> bool {
    arg.starts_with('-') && arg != "-" && !is_negative_number(arg)
}

/// Resolves a long option or a unique prefix of one, as argparse does.
fn long_option(flag: &str) -> Result<Option<Opt>, String> {
    if let Some(&(_, opt)) = Opt::LONG.iter().find(|(name, _)| *name == flag) {
        return Ok(Some(opt));
    }
    let matches: Vec<&str> = Opt::LONG
        .iter()
        .filter(|(name, _)| name.starts_with(flag))
        .map(|(name, _)| *name)
        .collect();
    match matches[..] {
        [] => Ok(None),
        [one] => Ok(Opt::LONG.iter().find(|(n, _)| *n == one).map(|&(_, o)| o)),
        _ => Err(format!(
            "ambiguous option: {flag} could match {}",
            matches.join(", ")
        )),
    }
}

/// Applies `opt` to `parsed`; `attached` is a value given in the same word,
/// else the value is the next word (advancing `i`). `Some` ends parsing.
fn apply(
    parsed: &mut Args,
    args: &[String],
    i: &mut usize,
    opt: Opt,
    attached: Option<String>,
) -> Option<Parsed> {
    let value = if opt.takes_value() {
        match attached {
            Some(value) => Some(value),
            None => match args.get(*i + 1) {
                Some(next) if !looks_like_option(next) => {
                    *i += 1;
                    Some(next.clone())
                }
                _ => {
                    return Some(Parsed::Usage(format!(
                        "argument {}: expected one argument",
                        opt.display()
                    )));
                }
            },
        }
    } else if let Some(value) = attached {
        return Some(Parsed::Usage(format!(
            "argument {}: ignored explicit argument '{value}'",
            opt.display()
        )));
    } else {
        None
    };
    match opt {
        Opt::Help => return Some(Parsed::Help),
        Opt::Version => return Some(Parsed::Version),
        Opt::Bind => parsed.bind = value,
        Opt::Port => parsed.port = value,
        Opt::Unbind => parsed.unbind = value,
        Opt::Store => parsed.store = value.map(PathBuf::from),
        Opt::List => parsed.list = true,
        Opt::User => parsed.user = true,
    }
    None
}

fn parse(args: &[String]) -> Parsed {
    let mut parsed = Args::default();
    let mut unrecognized: Vec<String> = Vec::new();
    let mut only_positionals = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if only_positionals || !looks_like_option(arg) {
            // NAME takes one word (nargs='?'); more are unrecognized.
            if parsed.name.is_none() {
                parsed.name = Some(arg.clone());
            } else {
                unrecognized.push(arg.clone());
            }
        } else if arg == "--" {
            only_positionals = true;
        } else if arg.starts_with("--") {
            let (flag, attached) = match arg.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            match long_option(flag) {
                Ok(Some(opt)) => {
                    if let Some(done) = apply(&mut parsed, args, &mut i, opt, attached) {
                        return done;
                    }
                }
                Ok(None) => unrecognized.push(arg.clone()),
                Err(message) => return Parsed::Usage(message),
            }
        } else {
            // Short options: `-l`, `-lv`, `-pVALUE`, `-p VALUE`.
            for (at, c) in arg[1..].char_indices() {
                let Some(opt) = Opt::short(c) else {
                    unrecognized.push(arg.clone());
                    break;
                };
                let rest = &arg[1 + at + c.len_utf8()..];
                let attached = (opt.takes_value() && !rest.is_empty()).then(|| rest.to_owned());
                if let Some(done) = apply(&mut parsed, args, &mut i, opt, attached) {
                    return done;
                }
                if opt.takes_value() {
                    break;
                }
            }
        }
        i += 1;
    }
    if !unrecognized.is_empty() {
        return Parsed::Usage(format!(
            "unrecognized arguments: {}",
            unrecognized.join(" ")
        ));
    }
    Parsed::Run(parsed)
}

/// Runs `port-for` with `args` (without the program name), writing to
/// `out` and `err`; returns the exit code.
pub fn run(args: &[OsString], out: &mut impl Write, err: &mut impl Write) -> i32 {
    let args: Vec<String> = match args.iter().map(|a| a.clone().into_string()).collect() {
        Ok(args) => args,
        Err(bad) => {
            let _ = write!(err, "{USAGE}");
            let _ = writeln!(err, "port-for: error: argument is not valid UTF-8: {bad:?}");
            return EXIT_USAGE;
        }
    };
    let args = match parse(&args) {
        Parsed::Run(args) => args,
        Parsed::Help => {
            let _ = write!(out, "{USAGE}\n{HELP}");
            return EXIT_SUCCESS;
        }
        Parsed::Version => {
            let _ = writeln!(
                out,
                "port-for {COMPATIBLE_WITH} (portfor {})",
                env!("CARGO_PKG_VERSION")
            );
            return EXIT_SUCCESS;
        }
        Parsed::Usage(message) => {
            let _ = write!(err, "{USAGE}");
            let _ = writeln!(err, "port-for: error: {message}");
            return EXIT_USAGE;
        }
    };
    match execute(&args, out) {
        Ok(()) => EXIT_SUCCESS,
        // `port-for --list | head -1`: a closed pipe is not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_SUCCESS,
        Err(failure) => {
            let _ = writeln!(err, "port-for: error: {}", failure.message(&args));
            EXIT_ERROR
        }
    }
}

enum Failure {
    Portfor(Error),
    Output(io::Error),
}

impl Failure {
    /// One line: the error, its causes, and a hint where one helps.
    fn message(&self, args: &Args) -> String {
        match self {
            Failure::Output(e) => format!("failed to write output: {e}"),
            Failure::Portfor(error) => {
                let mut text = format!("{error:#}");
                let denied = error
                    .io_error()
                    .is_some_and(|e| e.kind() == io::ErrorKind::PermissionDenied);
                if denied && !args.user && args.store.is_none() {
                    text.push_str(
                        " (hint: the system store needs root: run with sudo, or add --user \
                         to use a store of your own)",
                    );
                }
                text
            }
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Portfor(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn store(args: &Args) -> Result<Store, Failure> {
    Ok(match (&args.store, args.user) {
        (Some(path), _) => Store::open(path),
        (None, true) => Store::user()?,
        (None, false) => Store::system(),
    })
}

/// port-for's dispatch order: NAME, then --bind, then --list, then
/// --unbind; an empty name counts as absent, as in Python.
fn execute(args: &Args, out: &mut impl Write) -> Result<(), Failure> {
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    if let Some(name) = non_empty(&args.name).or_else(|| non_empty(&args.bind)) {
        let port = args.port.as_deref().map(parse_port_arg).transpose()?;
        let port = store(args)?.bind(&name, port)?;
        writeln!(out, "{port}")?;
    } else if args.list {
        for (name, port) in store(args)?.list()? {
            writeln!(out, "{name}: {port}")?;
        }
    } else if let Some(name) = non_empty(&args.unbind) {
        store(args)?.unbind(&name)?;
    }
    Ok(())
}

/// The `port-for` binary's entry point; returns the exit code.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    run(&args, &mut io::stdout().lock(), &mut io::stderr().lock())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_words(words: &str) -> Parsed {
        let args: Vec<String> = words.split_whitespace().map(str::to_owned).collect();
        parse(&args)
    }

    fn run_args(args: Args) -> Parsed {
        Parsed::Run(args)
    }

    #[test]
    fn parses_like_argparse() {
        assert_eq!(
            parse_words("foo"),
            run_args(Args {
                name: Some("foo".into()),
                ..Args::default()
            })
        );
        assert_eq!(
            parse_words("-b foo -p 8000"),
            run_args(Args {
                bind: Some("foo".into()),
                port: Some("8000".into()),
                ..Args::default()
            })
        );
        assert_eq!(
            parse_words("--bi=foo -p8000 --li"),
            run_args(Args {
                bind: Some("foo".into()),
                port: Some("8000".into()),
                list: true,
                ..Args::default()
            })
        );
        // A negative number is a value, not an option.
        assert_eq!(
            parse_words("foo -p -5"),
            run_args(Args {
                name: Some("foo".into()),
                port: Some("-5".into()),
                ..Args::default()
            })
        );
        assert_eq!(
            parse_words("-- -x"),
            run_args(Args {
                name: Some("-x".into()),
                ..Args::default()
            })
        );
        assert_eq!(parse_words("-lv"), Parsed::Version);
        assert_eq!(parse_words("--list -h"), Parsed::Help);
    }

    #[test]
    fn usage_errors_read_like_argparse() {
        let usage = |words| match parse_words(words) {
            Parsed::Usage(message) => message,
            other => panic!("{words:?} parsed as {other:?}"),
        };
        assert_eq!(usage("foo bar"), "unrecognized arguments: bar");
        assert_eq!(usage("--port"), "argument --port/-p: expected one argument");
        assert_eq!(
            usage("--bind -dash"),
            "argument --bind/-b: expected one argument"
        );
        assert_eq!(usage("--frob"), "unrecognized arguments: --frob");
        assert_eq!(usage("-x"), "unrecognized arguments: -x");
        assert_eq!(
            usage("--u"),
            "ambiguous option: --u could match --unbind, --user"
        );
        assert_eq!(
            usage("--list=yes"),
            "argument --list/-l: ignored explicit argument 'yes'"
        );
    }
}
