//! What a reader is asked to do: where the log comes from, how records are grouped, which
//! implementation reads it, and Varnish's `-T`/`-L` settings ([`Options`]), and which of the
//! two paths those choices call for.

use std::path::PathBuf;
use std::time::Duration;

use edgeship_formats::Tag;

use crate::error::Error;

/// Where the log comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A running varnishd, by instance name or work directory (`-n`); `None` is the default
    /// instance.
    Live(Option<String>),
    /// A binary log written by `varnishlog -w` (`-r`); `-` is standard input.
    File(PathBuf),
}

/// How records are grouped into transactions (`-g`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One transaction per vxid (varnishkafka's default).
    Vxid,
    /// A client request with its backend and ESI children (VSLQ path only).
    Request,
}

/// Which implementation reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathChoice {
    /// The fast path when it can honour the options (vxid grouping, no query), else VSLQ.
    Auto,
    /// The fast path; options it cannot honour are an error.
    Fast,
    /// Varnish's own `VSLQ` grouping.
    Vslq,
}

/// The implementation a reader uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Rust grouping over the raw cursor.
    Fast,
    /// `VSLQ_Dispatch`.
    Vslq,
}

/// Reader options, mirroring varnishkafka's `-n`/`-r`, `-g`, `-q`, `-T` and `-L`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to read.
    pub source: Source,
    /// `-g`.
    pub grouping: Grouping,
    /// `-q`: a VSL query; forces the VSLQ path.
    pub query: Option<String>,
    /// `-T`: how long a transaction may stay incomplete before it is forced complete.
    pub timeout: Duration,
    /// `-L`: how many incomplete transactions are kept before the oldest is forced complete.
    pub limit: u32,
    /// Which implementation to use.
    pub path: PathChoice,
    /// Live logs: start at the tail (only new records, like varnishkafka) when true, or at
    /// the oldest records still safely in the ring when false. Applies to the first attach
    /// and to reattaching after an overrun; after an abandon (varnishd restarted) the reader
    /// always reattaches at the head of the new log, since all of it is new to the reader.
    pub tail: bool,
    /// First wait before reattaching after the log was abandoned; doubles up to
    /// `reattach_backoff_max`.
    pub reattach_backoff: Duration,
    /// Longest wait between reattach attempts.
    pub reattach_backoff_max: Duration,
    /// When set, yielded transactions hold only the records whose tag is listed (as
    /// `formats::Tag`; [`Tag::Other`] stands for every tag the format language does not read),
    /// including the synthetic `VSL` and `End` records of a forced transaction. Grouping still
    /// sees every record. A caller that reads a few tags (a format reads a third of a request's
    /// records) saves the reader keeping, and itself walking, the rest. `None` keeps all.
    pub only_tags: Option<Vec<Tag>>,
}

impl Options {
    /// Options for a live instance (name or directory; `None` for the default) with
    /// Varnish's defaults: vxid grouping, `-T 120`, `-L 1000`, reading from the tail.
    pub fn live(instance: Option<&str>) -> Options {
        Options::with_source(Source::Live(instance.map(str::to_owned)))
    }

    /// Options for a file written by `varnishlog -w`, with Varnish's defaults.
    pub fn file(path: impl Into<PathBuf>) -> Options {
        Options::with_source(Source::File(path.into()))
    }

    /// The implementation these options call for, or why they cannot be honoured.
    pub(crate) fn read_path(&self) -> Result<ReadPath, Error> {
        let fast_possible = self.grouping == Grouping::Vxid && self.query.is_none();
        let path = match self.path {
            PathChoice::Auto if fast_possible => ReadPath::Fast,
            PathChoice::Auto => ReadPath::Vslq,
            PathChoice::Fast if fast_possible => ReadPath::Fast,
            PathChoice::Fast => {
                return Err(Error::Options(
                    "the fast path groups by vxid without a query; use the VSLQ path for -g \
                     request or -q"
                        .to_owned(),
                ))
            }
            PathChoice::Vslq => ReadPath::Vslq,
        };
        if self.limit == 0 {
            return Err(Error::Options("-L must be at least 1".to_owned()));
        }
        Ok(path)
    }

    fn with_source(source: Source) -> Options {
        Options {
            source,
            grouping: Grouping::Vxid,
            query: None,
            timeout: Duration::from_secs(120),
            limit: 1000,
            path: PathChoice::Auto,
            tail: true,
            reattach_backoff: Duration::from_millis(100),
            reattach_backoff_max: Duration::from_secs(2),
            only_tags: None,
        }
    }
}
