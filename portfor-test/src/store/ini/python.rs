//! Python's string rules, as configparser and `int()` apply them to a
//! store: whitespace, lower-casing, and reading a number.

use std::borrow::Cow;

/// `str.isspace()`, which `str.strip()` and configparser's indentation
/// use: Unicode White_Space (Rust's `char::is_whitespace`) plus the four
/// ASCII information separators `\x1c`-`\x1f`.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// [`is_space`] of an ASCII byte: `\t\n\x0b\x0c\r`, `\x1c`-`\x1f`, space.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

/// `str.lstrip()`: bytes at a time while they are ASCII.
pub(crate) fn lstrip(text: &str) -> &str {
    let ascii = text.bytes().take_while(|&b| is_ascii_space(b)).count();
    let rest = &text[ascii..];
    match rest.bytes().next() {
        Some(b) if b >= 0x80 => rest.trim_start_matches(is_space),
        _ => rest,
    }
}

/// `str.rstrip()`: bytes at a time while they are ASCII.
pub(crate) fn rstrip(text: &str) -> &str {
    let ascii = text
        .bytes()
        .rev()
        .take_while(|&b| is_ascii_space(b))
        .count();
    let rest = &text[..text.len() - ascii];
    match rest.bytes().last() {
        Some(b) if b >= 0x80 => rest.trim_end_matches(is_space),
        _ => rest,
    }
}

/// `str.strip()`.
pub(crate) fn strip(text: &str) -> &str {
    rstrip(lstrip(text))
}

/// The indentation configparser measures: the number of characters before
/// the first that is not whitespace.
pub(crate) fn indent(line: &str) -> usize {
    let ascii = line.bytes().take_while(|&b| is_ascii_space(b)).count();
    match line.as_bytes().get(ascii) {
        Some(&b) if b >= 0x80 => ascii + line[ascii..].chars().take_while(|&c| is_space(c)).count(),
        _ => ascii,
    }
}

/// Upper-case and title-case characters outside ASCII whose lower-case form
/// every Python that port-for 1.1.1 runs on (3.10, Unicode 13, and later)
/// and every Rust this crate builds with (1.89, Unicode 16, and later)
/// agree on: those of Python 3.11's Unicode 14 tables, less the letters
/// Unicode 14 added (Python 3.10 leaves them as they are). As
/// `(first, last, step)` runs. Generated with Python 3.11 (`c.lower() != c`
/// for every code point), checked against Rust's `to_lowercase` below and
/// against Python by `tests/store_differential.rs`.
const STABLE_UPPER: &[(u32, u32, u32)] = &[
    (0x00C0, 0x00D6, 1),
    (0x00D8, 0x00DE, 1),
    (0x0100, 0x0136, 2),
    (0x0139, 0x0147, 2),
    (0x014A, 0x0178, 2),
    (0x0179, 0x017D, 2),
    (0x0181, 0x0182, 1),
    (0x0184, 0x0186, 2),
    (0x0187, 0x0189, 2),
    (0x018A, 0x018B, 1),
    (0x018E, 0x0191, 1),
    (0x0193, 0x0194, 1),
    (0x0196, 0x0198, 1),
    (0x019C, 0x019D, 1),
    (0x019F, 0x01A0, 1),
    (0x01A2, 0x01A6, 2),
    (0x01A7, 0x01A9, 2),
    (0x01AC, 0x01AE, 2),
    (0x01AF, 0x01B1, 2),
    (0x01B2, 0x01B3, 1),
    (0x01B5, 0x01B7, 2),
    (0x01B8, 0x01B8, 1),
    (0x01BC, 0x01BC, 1),
    (0x01C4, 0x01C5, 1),
    (0x01C7, 0x01C8, 1),
    (0x01CA, 0x01CB, 1),
    (0x01CD, 0x01DB, 2),
    (0x01DE, 0x01EE, 2),
    (0x01F1, 0x01F2, 1),
    (0x01F4, 0x01F6, 2),
    (0x01F7, 0x01F8, 1),
    (0x01FA, 0x0232, 2),
    (0x023A, 0x023B, 1),
    (0x023D, 0x023E, 1),
    (0x0241, 0x0243, 2),
    (0x0244, 0x0246, 1),
    (0x0248, 0x024E, 2),
    (0x0370, 0x0372, 2),
    (0x0376, 0x0376, 1),
    (0x037F, 0x037F, 1),
    (0x0386, 0x0388, 2),
    (0x0389, 0x038A, 1),
    (0x038C, 0x038E, 2),
    (0x038F, 0x0391, 2),
    (0x0392, 0x03A1, 1),
    (0x03A3, 0x03AB, 1),
    (0x03CF, 0x03CF, 1),
    (0x03D8, 0x03EE, 2),
    (0x03F4, 0x03F4, 1),
    (0x03F7, 0x03F9, 2),
    (0x03FA, 0x03FA, 1),
    (0x03FD, 0x042F, 1),
    (0x0460, 0x0480, 2),
    (0x048A, 0x04C0, 2),
    (0x04C1, 0x04CD, 2),
    (0x04D0, 0x052E, 2),
    (0x0531, 0x0556, 1),
    (0x10A0, 0x10C5, 1),
    (0x10C7, 0x10C7, 1),
    (0x10CD, 0x10CD, 1),
    (0x13A0, 0x13F5, 1),
    (0x1C90, 0x1CBA, 1),
    (0x1CBD, 0x1CBF, 1),
    (0x1E00, 0x1E94, 2),
    (0x1E9E, 0x1EFE, 2),
    (0x1F08, 0x1F0F, 1),
    (0x1F18, 0x1F1D, 1),
    (0x1F28, 0x1F2F, 1),
    (0x1F38, 0x1F3F, 1),
    (0x1F48, 0x1F4D, 1),
    (0x1F59, 0x1F5F, 2),
    (0x1F68, 0x1F6F, 1),
    (0x1F88, 0x1F8F, 1),
    (0x1F98, 0x1F9F, 1),
    (0x1FA8, 0x1FAF, 1),
    (0x1FB8, 0x1FBC, 1),
    (0x1FC8, 0x1FCC, 1),
    (0x1FD8, 0x1FDB, 1),
    (0x1FE8, 0x1FEC, 1),
    (0x1FF8, 0x1FFC, 1),
    (0x2126, 0x2126, 1),
    (0x212A, 0x212B, 1),
    (0x2132, 0x2132, 1),
    (0x2160, 0x216F, 1),
    (0x2183, 0x2183, 1),
    (0x24B6, 0x24CF, 1),
    (0x2C00, 0x2C2E, 1),
    (0x2C60, 0x2C62, 2),
    (0x2C63, 0x2C64, 1),
    (0x2C67, 0x2C6D, 2),
    (0x2C6E, 0x2C70, 1),
    (0x2C72, 0x2C72, 1),
    (0x2C75, 0x2C75, 1),
    (0x2C7E, 0x2C80, 1),
    (0x2C82, 0x2CE2, 2),
    (0x2CEB, 0x2CED, 2),
    (0x2CF2, 0x2CF2, 1),
    (0xA640, 0xA66C, 2),
    (0xA680, 0xA69A, 2),
    (0xA722, 0xA72E, 2),
    (0xA732, 0xA76E, 2),
    (0xA779, 0xA77D, 2),
    (0xA77E, 0xA786, 2),
    (0xA78B, 0xA78D, 2),
    (0xA790, 0xA792, 2),
    (0xA796, 0xA7AA, 2),
    (0xA7AB, 0xA7AE, 1),
    (0xA7B0, 0xA7B4, 1),
    (0xA7B6, 0xA7BE, 2),
    (0xA7C2, 0xA7C4, 2),
    (0xA7C5, 0xA7C7, 1),
    (0xA7C9, 0xA7C9, 1),
    (0xA7F5, 0xA7F5, 1),
    (0xFF21, 0xFF3A, 1),
    (0x10400, 0x10427, 1),
    (0x104B0, 0x104D3, 1),
    (0x10C80, 0x10CB2, 1),
    (0x118A0, 0x118BF, 1),
    (0x16E40, 0x16E5F, 1),
    (0x1E900, 0x1E921, 1),
];

/// Letters given a lower-case form after Unicode 13 that the oldest Rust
/// this crate builds with (Unicode 16) may not know yet: refused whatever
/// this build's tables say.
const NEWER_UPPER: &[(u32, u32)] = &[
    (0x1C89, 0x1C89),
    (0x2C2F, 0x2C2F),
    (0xA7C0, 0xA7C0),
    (0xA7CB, 0xA7CE),
    (0xA7D0, 0xA7D0),
    (0xA7D2, 0xA7DC),
    (0x10570, 0x10595),
    (0x10D50, 0x10D65),
    (0x16EA0, 0x16EB8),
];

fn in_runs(c: char) -> bool {
    let c = u32::from(c);
    let index = STABLE_UPPER.partition_point(|&(_, last, _)| last < c);
    STABLE_UPPER
        .get(index)
        .is_some_and(|&(first, _, step)| c >= first && (c - first) % step == 0)
}

/// Whether Python and Rust lower-case `c` alike, in every version either
/// may be.
fn lowers_alike(c: char) -> bool {
    if c.is_ascii() || in_runs(c) {
        return true;
    }
    let code = u32::from(c);
    let newer = NEWER_UPPER
        .iter()
        .any(|&(first, last)| (first..=last).contains(&code));
    // Not upper-case in any version known: `lower()` leaves it alone.
    !newer && c.to_lowercase().eq([c])
}

/// Characters whose neighbours decide a final sigma the same way in every
/// Unicode version Python and Rust use: ASCII, Greek, and the combining
/// marks. (Elsewhere, whether a letter is cased or case-ignorable, which
/// decides between `σ` and `ς`, changed between versions: `aΣʕ` lowers to
/// `aσʕ` in Python 3.11 and to `aςʕ` in Rust.)
fn sigma_context_stable(c: char) -> bool {
    c.is_ascii() || ('\u{0300}'..='\u{03FF}').contains(&c) || ('\u{1F00}'..='\u{1FFF}').contains(&c)
}

/// `str.lower()`, as configparser applies it to option names; `Err` with
/// the first character whose lower-case form depends on the Python (or
/// Unicode) version.
pub(crate) fn lower(text: &str) -> Result<Cow<'_, str>, char> {
    if text.is_ascii() {
        return Ok(match text.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(text.to_ascii_lowercase()),
            false => Cow::Borrowed(text),
        });
    }
    if let Some(c) = text.chars().find(|&c| !lowers_alike(c)) {
        return Err(c);
    }
    if text.contains('\u{3A3}')
        && let Some(c) = text.chars().find(|&c| !sigma_context_stable(c))
    {
        return Err(c);
    }
    if text.chars().any(|c| c.to_lowercase().ne([c])) {
        // std implements the final-sigma rule as Python does; its context
        // is checked above.
        Ok(Cow::Owned(text.to_lowercase()))
    } else {
        Ok(Cow::Borrowed(text))
    }
}

/// What `int(text)` makes of a port.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Int {
    /// A number from 1 to 65535.
    Port(u16),
    /// A number `int()` reads that is not a port (0, negative, too large).
    NotAPort,
    /// Digits other than ASCII, which `int()` reads with the Unicode tables
    /// of its Python version.
    NonAsciiDigits,
    /// Not a number: `int()` raises `ValueError`.
    Invalid,
}

/// The zeros of the decimal digits (Unicode category Nd) outside ASCII, each
/// followed by its nine other digits, as Python 3.11's `unicodedata` has
/// them; `int()` reads these, and no other character, as digits.
const DECIMAL_ZEROS: &[u32] = &[
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
    0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50,
    0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
];

/// Whether `c` is a decimal digit outside ASCII.
fn is_other_decimal(c: char) -> bool {
    let code = u32::from(c);
    let index = DECIMAL_ZEROS.partition_point(|&zero| zero <= code);
    index > 0 && code - DECIMAL_ZEROS[index - 1] < 10
}

/// CPython's `sys.int_info.default_max_str_digits`: longer numbers raise.
const MAX_STR_DIGITS: usize = 4300;

/// `int(text)` with base 10: surrounding whitespace (ASCII's six, and any
/// other Unicode White_Space; not `\x1c`-`\x1f`), a sign, digits with
/// single underscores between them, leading zeros allowed.
pub(crate) fn int(text: &str) -> Int {
    // The common case: a port in plain digits.
    if (1..=5).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
        let value = text.bytes().fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
        return match value {
            1..=65535 => Int::Port(value as u16),
            _ => Int::NotAPort,
        };
    }
    let text = text.trim_matches(char::is_whitespace);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut non_ascii = digits.chars().filter(|c| !c.is_ascii()).peekable();
    if non_ascii.peek().is_some() {
        // Only digits (and underscores) make a number.
        let digits_only = digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_' || is_other_decimal(c));
        return match digits_only {
            true => Int::NonAsciiDigits,
            false => Int::Invalid,
        };
    }
    let bytes = digits.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes[0].is_ascii_digit()
        && bytes[bytes.len() - 1].is_ascii_digit()
        && bytes.iter().all(|&b| b.is_ascii_digit() || b == b'_')
        && !digits.contains("__");
    let count = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if !well_formed || count > MAX_STR_DIGITS {
        return Int::Invalid;
    }
    let significant = digits.trim_start_matches(['0', '_']);
    let value: Option<u32> = if significant.len() > 6 {
        None
    } else {
        significant
            .bytes()
            .filter(u8::is_ascii_digit)
            .try_fold(0u32, |n, b| Some(n * 10 + u32::from(b - b'0')))
    };
    match value {
        Some(port @ 1..=65535) if !negative => Int::Port(port as u16),
        _ => Int::NotAPort,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_pythons() {
        for c in [
            '\t', '\n', '\x0b', '\x0c', '\r', '\x1c', '\x1f', ' ', '\u{85}', '\u{a0}',
        ] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['\u{3000}', '\u{2028}', '\u{202f}'] {
            assert!(is_space(c), "{c:?}");
        }
        for c in ['\u{feff}', '\u{200b}', 'x', '\0', '\x1b'] {
            assert!(!is_space(c), "{c:?}");
        }
        assert_eq!(strip("\x1c foo \u{3000}"), "foo");
        assert_eq!(strip(" \u{3000} \x1cfoo\u{85}\t"), "foo");
        assert_eq!(strip("\u{feff}foo "), "\u{feff}foo");
        assert_eq!(indent("\t \u{3000}\x1c x"), 5);
        assert_eq!(indent("x"), 0);
        assert_eq!(indent(" \u{feff}x"), 1);
    }

    #[test]
    fn every_stable_letter_changes_under_lowercasing() {
        for &(first, last, step) in STABLE_UPPER {
            assert!(first <= last && (last - first) % step == 0);
            for code in (first..=last).step_by(step as usize) {
                let c = char::from_u32(code).unwrap();
                assert!(c.to_lowercase().ne([c]), "U+{code:04X} does not change");
            }
        }
        assert!(STABLE_UPPER.windows(2).all(|w| w[0].1 < w[1].0));
    }

    #[test]
    fn lowercasing_refuses_what_depends_on_the_version() {
        assert_eq!(lower("Foo").unwrap(), "foo");
        assert_eq!(lower("ÜNÏCODE").unwrap(), "ünïcode");
        // Final sigma, as Python's `str.lower()` writes it.
        assert_eq!(lower("ΟΔΟΣ").unwrap(), "\u{3bf}\u{3b4}\u{3bf}\u{3c2}");
        assert_eq!(lower("İ").unwrap(), "i\u{307}");
        assert!(matches!(lower("already lower"), Ok(Cow::Borrowed(_))));
        // A final sigma next to a letter whose properties changed.
        assert_eq!(lower("a\u{3A3}\u{295}"), Err('\u{295}'));
        assert_eq!(
            lower("\u{391}\u{3A3}'\u{391}").unwrap(),
            "\u{3b1}\u{3c3}'\u{3b1}"
        );
        for c in ['\u{2C2F}', '\u{A7C0}', '\u{10570}', '\u{1C89}', '\u{16EA0}'] {
            assert_eq!(lower(&format!("a{c}")), Err(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn int_reads_ports_as_python_does() {
        for (text, expected) in [
            ("80", Int::Port(80)),
            ("+80", Int::Port(80)),
            ("0080", Int::Port(80)),
            ("8_0", Int::Port(80)),
            ("0_0_80", Int::Port(80)),
            (" 80\n", Int::Port(80)),
            ("\n80", Int::Port(80)),
            ("80\u{a0}", Int::Port(80)),
            ("65535", Int::Port(65535)),
            ("0", Int::NotAPort),
            ("-0", Int::NotAPort),
            ("-80", Int::NotAPort),
            ("65536", Int::NotAPort),
            ("99999999999999999999", Int::NotAPort),
            ("\u{668}\u{660}", Int::NonAsciiDigits),
            ("\u{1D7CE}\u{1D7CF}", Int::NonAsciiDigits),
            ("8\u{b2}", Int::Invalid),
            ("\u{2167}", Int::Invalid),
            ("\u{b9}8", Int::Invalid),
            ("", Int::Invalid),
            ("8__0", Int::Invalid),
            ("_80", Int::Invalid),
            ("80_", Int::Invalid),
            ("+_80", Int::Invalid),
            ("- 80", Int::Invalid),
            ("8 0", Int::Invalid),
            ("\x1c80", Int::Invalid),
            ("\u{200b}80", Int::Invalid),
            ("0x50", Int::Invalid),
            ("8e1", Int::Invalid),
        ] {
            assert_eq!(int(text), expected, "{text:?}");
        }
        let long = format!("{}80", "0".repeat(4298));
        assert_eq!(int(&long), Int::Port(80));
        assert_eq!(int(&format!("0{long}")), Int::Invalid, "over 4300 digits");
        assert_eq!(int(&format!("{}_8", "0".repeat(4299))), Int::Port(8));
    }
}
