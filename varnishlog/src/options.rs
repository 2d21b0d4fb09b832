//! What a reader is asked to do: where the log comes from, how records are grouped, which
//! implementation reads it, and Varnish's `-T`/`-L` settings ([`Options`]), and which of the
//! two paths those choices call for.

use std::path::PathBuf;
use std::time::Duration;

use edgeship_formats::Tag;
use edgeship_query::Query;

use crate::error::Error;
use crate::position::Resume;

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
    /// The fast path when it can honour the options (vxid grouping, and a query edgeship can
    /// evaluate with Varnish's semantics, or none), else VSLQ.
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

/// The implementation a reader uses, why, and (fast path) the query it evaluates.
pub(crate) struct Choice {
    pub(crate) path: ReadPath,
    pub(crate) query: Option<Query>,
    pub(crate) reason: String,
}

/// Reader options, mirroring varnishkafka's `-n`/`-r`, `-g`, `-q`, `-T` and `-L`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to read.
    pub source: Source,
    /// `-g`.
    pub grouping: Grouping,
    /// `-q`: a VSL query. The fast path evaluates it itself (`edgeship_query`) in vxid
    /// grouping; with `-g request`, or a query it cannot evaluate exactly, VSLQ does.
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
    /// Live logs, fast path: start with positions known (see [`Resume`]): after a position
    /// where an earlier process stopped (from its
    /// [`RequestTransaction::end_position`](crate::RequestTransaction::end_position)), or
    /// from now. The first cursor then starts at the oldest records still safely in the ring
    /// (so transactions that began before the start are grouped from their first records),
    /// and client requests that completed before the start are not handed out
    /// (`transactions_before_resume`). [`Reader::resume_check`](crate::Reader::resume_check)
    /// says whether a position was still in the ring. A position must be of this varnishd
    /// child's log (see [`instance_identity`](crate::instance_identity)).
    pub resume: Option<Resume>,
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

    /// The implementation these options call for and why, with the query compiled for the
    /// fast path; or why they cannot be honoured. A query that does not parse is refused
    /// here, whichever path would read it.
    pub(crate) fn choose(&self) -> Result<Choice, Error> {
        if self.limit == 0 {
            return Err(Error::Options("-L must be at least 1".to_owned()));
        }
        let query = self.query.as_deref().map(Query::new).transpose()?;
        let fast = match (self.grouping, &query) {
            (Grouping::Request, _) => Err("-g request groups a request with its children, \
                                           which only VSLQ does"
                .to_owned()),
            (Grouping::Vxid, Some(query)) => query.fast_path().map_err(|why| why.to_string()),
            (Grouping::Vxid, None) => Ok(()),
        };
        let (path, reason) = match (self.path, fast) {
            (PathChoice::Vslq, _) => (ReadPath::Vslq, "the VSLQ path was asked for".to_owned()),
            (_, Ok(())) if query.is_some() => (
                ReadPath::Fast,
                "vxid grouping; edgeship evaluates the query".to_owned(),
            ),
            (_, Ok(())) => (ReadPath::Fast, "vxid grouping, no query".to_owned()),
            (PathChoice::Auto, Err(why)) => (ReadPath::Vslq, why),
            (PathChoice::Fast, Err(why)) => {
                return Err(Error::Options(format!(
                    "the fast path cannot read this: {why}"
                )))
            }
        };
        Ok(Choice {
            query: query.filter(|_| path == ReadPath::Fast),
            path,
            reason,
        })
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
            resume: None,
        }
    }
}
