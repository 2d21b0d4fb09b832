//! Error types: one [`LineError`] per bad line, all of them collected in [`Errors`], and
//! [`ConfigError`] for reading a whole file.

use std::fmt;

/// One problem in a configuration file, displayed as `path:line: message`.
///
/// Problems that belong to no single line (a required key that is absent) have no line and
/// display as `path: message`, the GNU convention for file-level diagnostics; editors and
/// `grep`-style tools that jump to `path:line:` locations still find every line-level one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", location(.path, *.line))]
pub struct LineError {
    /// The label of the source: the file's path as given, or the label passed to
    /// [`RawConfig::parse`](crate::RawConfig::parse).
    pub path: String,
    /// 1-based line number; `None` for file-level problems.
    pub line: Option<usize>,
    /// What is wrong, naming the key and the value where there is one.
    pub message: String,
}

impl LineError {
    /// A problem on a given line (or for the whole file when `line` is `None`).
    pub fn new(path: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Self {
        LineError {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

fn location(path: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{path}:{line}"),
        None => path.to_owned(),
    }
}

/// Every problem found in one configuration, in line order (file-level problems last).
///
/// Displays one problem per line, without a trailing newline, so a binary can print it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", join_lines(.0))]
pub struct Errors(Vec<LineError>);

impl Errors {
    /// Collects problems, ordering them by line so the report reads top to bottom (problems
    /// with no line last). Public so a program that finds more problems of its own (the
    /// shipper's librdkafka check) reports them with the file's, in one order.
    pub fn new(mut errors: Vec<LineError>) -> Self {
        // A stable sort keeps the order of several problems found on the same line.
        errors.sort_by_key(|error| (error.line.is_none(), error.line));
        Errors(errors)
    }

    /// The problems, in line order.
    pub fn as_slice(&self) -> &[LineError] {
        &self.0
    }

    /// How many problems there are (never zero for an `Errors` returned by this crate).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no problems at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the problems in line order.
    pub fn iter(&self) -> std::slice::Iter<'_, LineError> {
        self.0.iter()
    }

    /// The problems, by value.
    pub fn into_vec(self) -> Vec<LineError> {
        self.0
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a LineError;
    type IntoIter = std::slice::Iter<'a, LineError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

fn join_lines(errors: &[LineError]) -> String {
    struct Joined<'a>(&'a [LineError]);
    impl fmt::Display for Joined<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (index, error) in self.0.iter().enumerate() {
                if index > 0 {
                    f.write_str("\n")?;
                }
                write!(f, "{error}")?;
            }
            Ok(())
        }
    }
    Joined(errors).to_string()
}

/// Why a configuration could not be turned into a [`Config`](crate::Config).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read the configuration file")]
    Io {
        /// The path (or source label) that failed.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but has problems; every one of them is listed.
    #[error("{0}")]
    Invalid(#[from] Errors),
}

/// A single value that does not parse, for command-line flags that share the file's rules
/// (see [`parse_timeout`](crate::parse_timeout), [`parse_limit`](crate::parse_limit) and
/// [`Grouping`](crate::Grouping)'s `FromStr`). The message names the expectation, not the flag:
/// the command-line parser adds that.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub(crate) String);
