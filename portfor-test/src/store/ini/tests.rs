//! Unit tests of reading and editing; the differential test against the
//! real port-for is `tests/store_differential.rs`.

use super::*;

fn parse(text: &str) -> Result<Document, SyntaxError> {
    Document::parse(text.as_bytes().to_vec())
}

fn names(doc: &Document) -> Vec<(&str, u16)> {
    doc.entries().collect()
}

fn pairs(text: &str) -> Vec<(String, u16)> {
    let doc = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    doc.entries().map(|(n, p)| (n.to_owned(), p)).collect()
}

fn pair(name: &str, port: u16) -> (String, u16) {
    (name.to_owned(), port)
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
    assert_eq!(
        doc.section("other").collect::<Vec<_>>(),
        [("key", "value\ncontinued")]
    );
    assert_eq!(doc.text(), text);
}

#[test]
fn every_universal_newline_ends_a_line() {
    for eol in ["\n", "\r\n", "\r"] {
        let text = format!("[DEFAULT]{eol}foo = 1{eol}bar = 2{eol}");
        assert_eq!(pairs(&text), [pair("foo", 1), pair("bar", 2)], "{eol:?}");
    }
    assert_eq!(
        pairs("[DEFAULT]\rfoo = 1\r\nbar = 2\n"),
        [pair("foo", 1), pair("bar", 2)]
    );
    // Other Unicode line separators are not line breaks to configparser.
    let error = parse("[DEFAULT]\nfoo = 1\u{2028}bar = 2\n").unwrap_err();
    assert!(error.message.contains("not a number"), "{error}");
}

#[test]
fn whitespace_and_indentation_are_pythons() {
    // \x1c-\x1f are whitespace to str.strip().
    assert_eq!(pairs("[DEFAULT]\n\x1cfoo = 5\x1f\n"), [pair("foo", 5)]);
    // Indentation counts characters, not bytes: U+3000 is one character
    // (three bytes) of indentation.
    assert_eq!(
        pairs("[DEFAULT]\n foo = 1\n\u{3000}bar = 2\n"),
        [pair("foo", 1), pair("bar", 2)]
    );
    for text in [
        "[DEFAULT]\n\u{3000}foo = 1\n  bar = 2\n",
        "[DEFAULT]\nfoo = 1\n\u{3000}bar = 2",
    ] {
        let error = parse(text).unwrap_err();
        assert!(error.message.contains("not a number"), "{text:?}: {error}");
    }
    // A BOM is not whitespace: no section header.
    let error = parse("\u{feff}[DEFAULT]\nfoo = 1\n").unwrap_err();
    assert!(error.message.contains("no section header"), "{error}");
}

#[test]
fn continuation_lines_join_as_configparser_joins_them() {
    // A value on the next line: "\n80", which int() reads.
    assert_eq!(pairs("[DEFAULT]\nfoo =\n  80\n"), [pair("foo", 80)]);
    // Empty lines inside a value stay in it.
    let error = parse("[DEFAULT]\nfoo = 1\n\n  2\n").unwrap_err();
    assert!(error.message.contains("not a number"), "{error}");
    // Trailing empty lines do not.
    assert_eq!(pairs("[DEFAULT]\nfoo = 1\n\n\n"), [pair("foo", 1)]);
    // A comment line never continues a value.
    assert_eq!(pairs("[DEFAULT]\nfoo = 1\n  # note\nbar = 2\n").len(), 2);
    // port-for's leading-space corruption.
    let error = parse("[DEFAULT]\nfoo = 22357\n lead = 25498\n").unwrap_err();
    assert_eq!(error.line, 2);
}

#[test]
fn sections_follow_configparser() {
    // "[DEFAULT] junk" is a [DEFAULT] header, and a second one is accepted.
    assert_eq!(
        pairs("[DEFAULT] junk\nfoo = 1\n[a]\nx = y\n[DEFAULT]\nbar = 2\n"),
        [pair("foo", 1), pair("bar", 2)]
    );
    // Duplicates count across [DEFAULT] headers.
    let error = parse("[DEFAULT]\nfoo = 1\n[DEFAULT]\nFOO = 2\n").unwrap_err();
    assert_eq!(error.line, 4);
    // Section names are case-sensitive; [default] is another section.
    assert_eq!(
        pairs("[DEFAULT]\nfoo = 1\n[default]\nfoo = 2\n"),
        [pair("foo", 1)]
    );
}

#[test]
fn values_are_interpolated_as_items_does() {
    assert_eq!(
        pairs("[DEFAULT]\nbase = 8000\nweb = %(BASE)s\n"),
        [pair("base", 8000), pair("web", 8000)]
    );
    assert_eq!(
        pairs("[DEFAULT]\na = 8%(b)s\nb = 10\n"),
        [pair("a", 810), pair("b", 10)]
    );
    for text in [
        "[DEFAULT]\na = 50%\n",
        "[DEFAULT]\na = %(missing)s\n",
        "[DEFAULT]\na = %(b)d\nb = 1\n",
        "[DEFAULT]\na = %(a)s\n",
        "[DEFAULT]\na = 8%%0\n",
    ] {
        let error = parse(text).unwrap_err();
        assert!(error.message.contains("cannot read"), "{text:?}: {error}");
    }
}

#[test]
fn ports_are_read_as_int_reads_them() {
    assert_eq!(
        pairs("[DEFAULT]\na = +80\nb = 0081\nc = 8_2\n"),
        [pair("a", 80), pair("b", 81), pair("c", 82)]
    );
    for (text, phrase) in [
        ("[DEFAULT]\nfoo = 0\n", "portfor refuses"),
        ("[DEFAULT]\nfoo = -80\n", "portfor refuses"),
        ("[DEFAULT]\nfoo = 70000\n", "portfor refuses"),
        ("[DEFAULT]\nfoo = \u{668}\u{660}\n", "portfor refuses"),
        ("[DEFAULT]\nfoo = abc\n", "cannot read"),
        ("[DEFAULT]\nfoo = \n", "cannot read"),
        ("[DEFAULT]\nfoo = 8 0\n", "cannot read"),
    ] {
        let error = parse(text).unwrap_err();
        assert_eq!(error.line, 2, "{text:?}");
        assert!(error.message.contains(phrase), "{text:?}: {error}");
    }
}

#[test]
fn an_empty_file_is_an_empty_store() {
    assert!(parse("").unwrap().entries().next().is_none());
    assert!(parse("\n\n").unwrap().entries().next().is_none());
}

#[test]
fn rejects_what_configparser_rejects_naming_its_line() {
    let cases = [
        ("foo = 1\n", 1, "no section header"),
        ("[DEFAULT]\nfoo = 1\nfoo = 2\n", 3, "appears twice"),
        ("[DEFAULT]\nfoo = 1\nFOO = 2\n", 3, "appears twice"),
        ("[DEFAULT]\n[a]\n[a]\n", 3, "appears twice"),
        ("[DEFAULT]\nfoo\n", 2, "expected `name = port`"),
        ("[DEFAULT]\n= 5\n", 2, "without a name"),
        ("[a]\nk = 1\nk = 2\n", 3, "appears twice in section \"a\""),
        // Errors raised at once come before the ones raised at the end.
        ("[DEFAULT]\nbad\nfoo = 1\nfoo = 2\n", 4, "appears twice"),
        ("[DEFAULT]\nbad\nworse\n", 2, "expected"),
        ("[DEFAULT]\n= 1\n= 2\n", 3, "appears twice"),
    ];
    for (text, line, message) in cases {
        let error = Document::parse(text.as_bytes().to_vec()).unwrap_err();
        assert_eq!(error.line, line, "{text:?}: {error}");
        assert!(error.message.contains(message), "{text:?}: {error}");
        assert!(error.message.contains("cannot read"), "{text:?}: {error}");
    }
}

#[test]
fn bytes_that_are_not_utf8_are_refused_naming_their_line() {
    for (bytes, line) in [
        (&b"[DEFAULT]\nfoo = 1\n\xff\n"[..], 3),
        (b"[DEFAULT]\rfoo = \xe2\x82\n", 2),
        (b"\xed\xa0\x80", 1),
    ] {
        let error = Document::parse(bytes.to_vec()).unwrap_err();
        assert_eq!(error.line, line, "{bytes:?}: {error}");
        assert!(error.message.contains("UTF-8"), "{error}");
    }
}

#[test]
fn names_whose_case_depends_on_the_python_version_are_refused() {
    let error = parse("[DEFAULT]\nx\u{2C2F} = 80\n").unwrap_err();
    assert!(error.message.contains("depends on the Python"), "{error}");
    assert!(error.message.contains("portfor refuses"), "{error}");
    assert_eq!(pairs("[DEFAULT]\nÜNÏ = 80\n"), [pair("ünï", 80)]);
}

#[test]
fn control_characters_in_messages_are_escaped() {
    let error = parse("[DEFAULT]\n\x1b[31mred = x\n").unwrap_err();
    assert!(!error.to_string().contains('\x1b'), "{error}");
    let error = parse("[a\x07]\n[a\x07]\n").unwrap_err();
    assert!(!error.to_string().contains('\x07'), "{error}");
}

#[test]
fn insert_writes_what_configparser_writes_into_an_empty_file() {
    let mut doc = parse("").unwrap();
    doc.insert("foo", 22357).unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\nfoo = 22357\n\n");
    doc.insert("bar", 32602).unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\nfoo = 22357\nbar = 32602\n\n");
}

#[test]
fn insert_keeps_every_other_line() {
    let text = "# ports\n[DEFAULT]\nfoo = 1\n# after foo\n\n[other]\nx = y\n";
    let mut doc = parse(text).unwrap();
    doc.insert("bar", 2).unwrap();
    assert_eq!(
        doc.text(),
        "# ports\n[DEFAULT]\nfoo = 1\nbar = 2\n# after foo\n\n[other]\nx = y\n\n"
    );
    // A store with other sections but no [DEFAULT] gets one on top.
    let mut doc = parse("[other]\nx = y").unwrap();
    doc.insert("foo", 3).unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\nfoo = 3\n\n[other]\nx = y\n\n");
    // A last line without a newline gets one before the new line.
    let mut doc = parse("[DEFAULT]\nfoo = 1").unwrap();
    doc.insert("bar", 2).unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\nfoo = 1\nbar = 2\n\n");
    // The file's line endings are kept.
    let mut doc = parse("[DEFAULT]\r\nfoo = 1\r\n").unwrap();
    doc.insert("bar", 2).unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\r\nfoo = 1\r\nbar = 2\r\n\r\n");
}

#[test]
fn insert_after_a_multi_line_value_goes_after_its_last_line() {
    let mut doc = parse("[DEFAULT]\nfoo =\n  80\n").unwrap();
    doc.insert("bar", 2).unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\nfoo =\n  80\nbar = 2\n\n");
}

#[test]
fn insert_never_changes_how_the_lines_after_it_read() {
    // On top, the new binding would swallow the indented header as a
    // continuation line: the new section goes to the end instead.
    let mut doc = parse(" [other]\nx = y\n").unwrap();
    doc.insert("newname", 20000).unwrap();
    assert_eq!(
        doc.text(),
        " [other]\nx = y\n\n[DEFAULT]\nnewname = 20000\n\n"
    );
    assert_eq!(doc.section("other").collect::<Vec<_>>(), [("x", "y")]);
    // After the last binding, an indented line that follows would continue
    // the new one.
    let text = "[DEFAULT]\n  foo = 1\n [a]\nk = v\n";
    let mut doc = parse(text).unwrap();
    doc.insert("bar", 2).unwrap();
    assert_eq!(names(&doc), [("foo", 1), ("bar", 2)]);
    assert_eq!(doc.section("a").collect::<Vec<_>>(), [("k", "v")]);
}

#[test]
fn other_sections_are_read_and_edited_in_place() {
    let mut doc = parse("[DEFAULT]\nfoo = 1\n").unwrap();
    assert!(doc.set_in_section("portfor.checkouts", "abcd", "/src/web"));
    assert_eq!(
        doc.text(),
        "[DEFAULT]\nfoo = 1\n\n[portfor.checkouts]\nabcd = /src/web\n\n"
    );
    assert!(doc.set_in_section("portfor.checkouts", "ef01", "/src/api"));
    assert!(doc.set_in_section("portfor.checkouts", "abcd", "/src/web"));
    assert_eq!(
        doc.section("portfor.checkouts").collect::<Vec<_>>(),
        [("abcd", "/src/web"), ("ef01", "/src/api")]
    );
    doc.insert("bar", 2).unwrap();
    assert_eq!(
        doc.text(),
        "[DEFAULT]\nfoo = 1\nbar = 2\n\n[portfor.checkouts]\nabcd = /src/web\nef01 = /src/api\n\n"
    );
    assert!(doc.set_in_section("portfor.checkouts", "abcd", "/moved"));
    assert_eq!(
        doc.section("portfor.checkouts").next(),
        Some(("abcd", "/moved"))
    );
    // A value the format cannot hold is not written.
    let before = doc.text().to_owned();
    assert!(!doc.set_in_section("portfor.checkouts", "abcd", " /lead"));
    assert_eq!(doc.text(), before);
}

#[test]
fn remove_deletes_one_binding_and_empties_an_empty_store() {
    let mut doc = parse("[DEFAULT]\nfoo = 1\nbar = 2\n\n").unwrap();
    assert!(doc.remove("foo").unwrap());
    assert!(!doc.remove("foo").unwrap());
    assert_eq!(doc.text(), "[DEFAULT]\nbar = 2\n\n");
    doc.insert("baz", 3).unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\nbar = 2\nbaz = 3\n\n");
    assert!(doc.remove("bar").unwrap() && doc.remove("baz").unwrap());
    assert_eq!(
        doc.text(),
        "[DEFAULT]\n\n",
        "never an empty file (port-for leaves one)"
    );
    let mut doc = parse("[DEFAULT]\nfoo = 1\n[other]\nx = y\n").unwrap();
    doc.remove("foo").unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\n[other]\nx = y\n\n");
    // A multi-line binding goes with all its lines.
    let mut doc = parse("[DEFAULT]\na = 1\nfoo =\n  80\nb = 2\n").unwrap();
    doc.remove("foo").unwrap();
    assert_eq!(doc.text(), "[DEFAULT]\na = 1\nb = 2\n\n");
}

#[test]
fn remove_refuses_what_would_break_another_binding() {
    let text = "[DEFAULT]\nbase = 8000\nweb = %(base)s\n";
    let mut doc = parse(text).unwrap();
    let error = doc.remove("base").unwrap_err();
    assert!(error.0.contains("cannot read"), "{error}");
    assert_eq!(doc.text(), text);
}

/// Arbitrary bytes, biased towards the ones the format gives meaning to:
/// the parser and every edit return, never panic, and an edit that
/// succeeds leaves a file that reads as intended.
#[test]
fn arbitrary_bytes_never_panic_the_parser_or_the_editor() {
    const PIECES: &[&[u8]] = &[
        b"[",
        b"]",
        b"=",
        b":",
        b"#",
        b";",
        b" ",
        b"\t",
        b"\r",
        b"\n",
        b"\r\n",
        b"%",
        b"(",
        b")s",
        b"%%",
        b"DEFAULT",
        b"[DEFAULT]\n",
        b"a",
        b"B",
        b"0",
        b"8",
        b"65535",
        b"_",
        b"+",
        b"-",
        b"\xff",
        b"\xc3",
        b"\xc3\x9c",
        b"\xe3\x80\x80",
        b"\x1c",
        b"\xef\xbb\xbf",
        b"\xce\xa3",
        b"\xe2\xb0\xaf",
        b"\0",
    ];
    let mut state: u64 = 0x5eed;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    let mut parsed = 0;
    for _ in 0..200_000 {
        let mut bytes = Vec::new();
        for _ in 0..next(40) {
            bytes.extend_from_slice(PIECES[next(PIECES.len())]);
        }
        let Ok(doc) = Document::parse(bytes) else {
            continue;
        };
        parsed += 1;
        let mut edited = doc.clone();
        if edited.insert("new name", 20000).is_ok() {
            let reread = Document::parse(edited.text().as_bytes().to_vec()).unwrap();
            assert_eq!(reread.get("new name"), Some(20000));
            assert_eq!(reread.entries().count(), doc.entries().count() + 1);
        }
        let first = doc.entries().next().map(|(n, _)| n.to_owned());
        let mut edited = doc.clone();
        if let Some(first) = first
            && edited.remove(&first).is_ok()
        {
            let reread = Document::parse(edited.text().as_bytes().to_vec()).unwrap();
            assert_eq!(reread.get(&first), None);
        }
        let mut edited = doc.clone();
        if edited.set_in_section("portfor.checkouts", "abcd1234", "/src/x") {
            let reread = Document::parse(edited.text().as_bytes().to_vec()).unwrap();
            assert_eq!(
                reread.section("portfor.checkouts").last(),
                Some(("abcd1234", "/src/x"))
            );
        }
    }
    assert!(
        parsed > 1000,
        "only {parsed} inputs parsed: the generator tests little"
    );
}

/// Forty references nine levels deep: configparser runs until memory runs
/// out; portfor refuses at once.
#[test]
fn interpolation_that_explodes_is_refused() {
    let mut text = String::from("[DEFAULT]\na0 = %%\n");
    for k in 1..10 {
        text.push_str(&format!(
            "a{k} = {}\n",
            format!("%(a{})s", k - 1).repeat(40)
        ));
    }
    let error = parse(&text).unwrap_err();
    assert!(error.message.contains("longer than"), "{error}");
}

/// Sections and continuation lines by the hundred thousand read, and the
/// error names the value they make. (The reader is linear in both; a
/// quadratic one took 20 s on this.)
#[test]
fn many_sections_and_continuation_lines_read() {
    let mut text = String::from("[DEFAULT]\nfoo =\n");
    text.push_str(&" 1\n".repeat(100_000));
    for i in 0..100_000 {
        text.push_str(&format!("[s{i}]\n"));
    }
    let error = parse(&text).unwrap_err();
    assert!(error.message.contains("not a number"), "{}", error.line);
}
