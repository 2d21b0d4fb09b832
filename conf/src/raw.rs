//! The raw layer: varnishkafka's line syntax turned into `(name, value, line)` entries, with
//! nothing interpreted yet.
//!
//! The syntax, as varnishkafka's `conf_file_read` reads it:
//! - one `name = value` per line, split at the FIRST `=`; whitespace (C `isspace`) around the
//!   name and the value is trimmed, so values may contain `=` and inner spaces;
//! - blank lines are skipped, and a line whose first non-blank character is `#` is a comment;
//! - a `#` anywhere else is part of the value: `format = %h # client` keeps `# client` in the
//!   format, exactly as varnishkafka did (there is no quoting and no line continuation);
//! - an empty value is kept as `""`; whether that is allowed is the key's business.
//!
//! Deliberate differences: varnishkafka read lines through a 4096-byte buffer and parsed the
//! rest of a longer line as a new line; edgeship reads whole lines. varnishkafka only warned
//! about a line without `=` and ignored it; edgeship reports it, because a typo must not be
//! ignored. varnishkafka also ignored one-character names (a quirk of its `trim`); edgeship
//! treats them like any other name. A line that is not UTF-8 is reported.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{ConfigError, LineError};
use crate::values::is_c_space;

/// One `name = value` line as written, trimmed but otherwise uninterpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The key as written (e.g. `topic` or `kafka.topic`).
    pub name: String,
    /// The value, trimmed; may be empty.
    pub value: String,
    /// 1-based line number.
    pub line: usize,
}

/// A configuration file read line by line: its entries in file order, and the lines that are
/// not `name = value` at all.
///
/// Syntax problems are kept rather than returned at once so that [`RawConfig::resolve`] can
/// report them together with every other bad line, in line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawConfig {
    pub(crate) source: String,
    pub(crate) entries: Vec<RawEntry>,
    pub(crate) problems: Vec<LineError>,
}

/// What one physical line holds.
#[derive(Debug, PartialEq, Eq)]
enum LineSyntax<'a> {
    /// Blank or comment.
    Nothing,
    Entry {
        name: &'a str,
        value: &'a str,
    },
    Problem(&'static str),
}

fn classify_line(text: &str) -> LineSyntax<'_> {
    let text = text.trim_matches(is_c_space);
    if text.is_empty() || text.starts_with('#') {
        return LineSyntax::Nothing;
    }
    let Some((name, value)) = text.split_once('=') else {
        return LineSyntax::Problem("missing '=' (expected name = value)");
    };
    let name = name.trim_matches(is_c_space);
    if name.is_empty() {
        return LineSyntax::Problem("missing name before '=' (expected name = value)");
    }
    LineSyntax::Entry {
        name,
        value: value.trim_matches(is_c_space),
    }
}

impl RawConfig {
    /// Reads a configuration from any reader. `source` labels it in every message (normally the
    /// file's path). Fails only when reading fails; bad lines are recorded for
    /// [`resolve`](Self::resolve) to report.
    pub fn parse<R: Read>(reader: R, source: impl Into<String>) -> Result<Self, ConfigError> {
        let source = source.into();
        let mut reader = BufReader::new(reader);
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        let mut bytes = Vec::new();
        let mut line = 0;
        loop {
            bytes.clear();
            let read = reader
                .read_until(b'\n', &mut bytes)
                .map_err(|error| ConfigError::Io {
                    path: source.clone(),
                    source: error,
                })?;
            if read == 0 {
                break;
            }
            line += 1;
            let Ok(text) = std::str::from_utf8(&bytes) else {
                problems.push(LineError::new(
                    &source,
                    Some(line),
                    "line is not valid UTF-8",
                ));
                continue;
            };
            match classify_line(text) {
                LineSyntax::Nothing => {}
                LineSyntax::Entry { name, value } => entries.push(RawEntry {
                    name: name.to_owned(),
                    value: value.to_owned(),
                    line,
                }),
                LineSyntax::Problem(message) => {
                    problems.push(LineError::new(&source, Some(line), message));
                }
            }
        }
        Ok(RawConfig {
            source,
            entries,
            problems,
        })
    }

    /// Reads the configuration file at `path`, labelled with the path as given.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        match File::open(path) {
            Ok(file) => Self::parse(file, label),
            Err(error) => Err(ConfigError::Io {
                path: label,
                source: error,
            }),
        }
    }

    /// The label used in messages (the path as given to [`read`](Self::read)).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The `name = value` entries in file order.
    pub fn entries(&self) -> &[RawEntry] {
        &self.entries
    }

    /// Lines that are not `name = value` (missing `=`, missing name, not UTF-8), in line order.
    pub fn problems(&self) -> &[LineError] {
        &self.problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_equals_and_trim() {
        assert_eq!(
            classify_line("  format = %h a=b\t\r\n"),
            LineSyntax::Entry {
                name: "format",
                value: "%h a=b"
            }
        );
        assert_eq!(
            classify_line("output=stdout"),
            LineSyntax::Entry {
                name: "output",
                value: "stdout"
            }
        );
        assert_eq!(
            classify_line("format = %h # not a comment"),
            LineSyntax::Entry {
                name: "format",
                value: "%h # not a comment"
            }
        );
        assert_eq!(
            classify_line("topic ="),
            LineSyntax::Entry {
                name: "topic",
                value: ""
            }
        );
    }

    #[test]
    fn comments_and_blank_lines_hold_nothing() {
        assert_eq!(classify_line("# output = stdout"), LineSyntax::Nothing);
        assert_eq!(
            classify_line("   \t# indented comment"),
            LineSyntax::Nothing
        );
        assert_eq!(classify_line(" \t \r\n"), LineSyntax::Nothing);
        assert_eq!(classify_line(""), LineSyntax::Nothing);
    }

    #[test]
    fn lines_without_name_or_equals_are_problems() {
        assert_eq!(
            classify_line("output stdout"),
            LineSyntax::Problem("missing '=' (expected name = value)")
        );
        assert_eq!(
            classify_line(" = stdout"),
            LineSyntax::Problem("missing name before '=' (expected name = value)")
        );
    }

    #[test]
    fn parse_numbers_lines_and_keeps_problems() {
        let text = b"# comment\n\noutput = stdout\nbroken line\n\xff = x\r\nlog.level=7";
        let raw = RawConfig::parse(&text[..], "t.conf").expect("reading a slice cannot fail");
        assert_eq!(raw.source(), "t.conf");
        let entries: Vec<_> = raw
            .entries()
            .iter()
            .map(|entry| (entry.name.as_str(), entry.value.as_str(), entry.line))
            .collect();
        assert_eq!(entries, [("output", "stdout", 3), ("log.level", "7", 6)]);
        let problems: Vec<_> = raw.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "t.conf:4: missing '=' (expected name = value)",
                "t.conf:5: line is not valid UTF-8",
            ]
        );
    }
}
