//! The selections compared for one query: Varnish's (`varnishlog -g vxid -q Q -r FILE`, its
//! client request transactions) and edgeship's (the vxids the `Reader` yields for the same
//! file and query on a given path, or those the query crate selects among every request the
//! reader yields), and running many queries over a few threads, since each is a process
//! start or a file read of a few milliseconds.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use edgeship_varnishlog::{
    Options, Outcome, PathChoice, ReadPath, Reader, RequestTransaction, Visitor,
};

/// What one side made of a query: the vxids of the client requests it selected, or its
/// refusal of the query (Varnish's message, or edgeship's error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// The query compiled; these requests matched.
    Selected(BTreeSet<u32>),
    /// The query was refused.
    Refused(String),
}

impl Selection {
    /// The selected set, or `None` for a refusal.
    pub(crate) fn set(&self) -> Option<&BTreeSet<u32>> {
        match self {
            Selection::Selected(set) => Some(set),
            Selection::Refused(_) => None,
        }
    }
}

/// Varnish's selection: the vxids of the `<< Request  >>` transactions `varnishlog` prints.
/// Sessions and backend requests are left out, as edgeship yields client requests only (ESI
/// sub-requests and restarts are requests and count). `None` query: everything.
pub(crate) fn varnish(file: &Path, query: Option<&str>) -> Selection {
    let mut command = Command::new("varnishlog");
    command.arg("-r").arg(file).args(["-g", "vxid"]);
    if let Some(query) = query {
        command.arg("-q").arg(query);
    }
    let output = command.output().expect("run varnishlog");
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        assert!(
            message.contains("Query expression error"),
            "varnishlog failed for {query:?} other than by refusing the query: {message}"
        );
        return Selection::Refused(message);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut set = BTreeSet::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["*", "<<", "Request", ">>", vxid] = words.as_slice() {
            set.insert(vxid.parse().expect("a numeric vxid"));
        }
    }
    Selection::Selected(set)
}

/// Collects the vxids yielded.
#[derive(Default)]
struct Vxids(BTreeSet<u32>);

impl Visitor for Vxids {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        assert!(
            self.0.insert(transaction.vxid()),
            "vxid {} yielded twice",
            transaction.vxid()
        );
    }
}

/// edgeship's selection on `path`: the vxids the reader yields for `file` with `query`.
/// Refusals are errors from `Reader::open` (where the query is compiled; the file itself is
/// known to open, see the baseline comparison); an error while reading fails the test.
pub(crate) fn edgeship(file: &Path, query: Option<&str>, path: PathChoice) -> Selection {
    let mut options = Options::file(file);
    options.query = query.map(str::to_owned);
    options.path = path;
    let mut reader = match Reader::open(options) {
        Ok(reader) => reader,
        Err(error) => return Selection::Refused(error.to_string()),
    };
    let expected = match path {
        PathChoice::Vslq => ReadPath::Vslq,
        PathChoice::Fast => ReadPath::Fast,
        PathChoice::Auto => reader.path(),
    };
    assert_eq!(reader.path(), expected, "{query:?} on {path:?}");
    let mut vxids = Vxids::default();
    loop {
        match reader.read(&mut vxids, 1000) {
            Ok(Outcome::EndOfFile) => break,
            Ok(_) => {}
            Err(error) => panic!("reading for {query:?} on {path:?}: {error}"),
        }
    }
    Selection::Selected(vxids.0)
}

/// A client request's vxid and records (tag number, payload).
type Request = (u32, Vec<(u8, Vec<u8>)>);

/// Every client request of a file with its records, as the reader yields them on the VSLQ
/// path without a query.
pub(crate) struct Requests(Vec<Request>);

/// Keeps every request's records.
#[derive(Default)]
struct Keep(Vec<Request>);

impl Visitor for Keep {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        let records = transaction
            .records()
            .map(|record| (record.varnish_tag, record.payload.to_vec()))
            .collect();
        self.0.push((transaction.vxid(), records));
    }
}

/// Reads every request of `file` (see [`Requests`]).
pub(crate) fn requests(file: &Path) -> Requests {
    let mut options = Options::file(file);
    options.path = PathChoice::Vslq;
    let mut reader = Reader::open(options).expect("open the capture");
    let mut keep = Keep::default();
    while reader.read(&mut keep, 1000).expect("read the capture") != Outcome::EndOfFile {}
    Requests(keep.0)
}

/// The query crate's selection: the requests `edgeship_query::Query::selects_records` selects
/// (each alone at level 1, as in vxid grouping), or its parse error.
pub(crate) fn query_crate(requests: &Requests, query: &str) -> Selection {
    let query = match edgeship_query::Query::new(query) {
        Ok(query) => query,
        Err(error) => return Selection::Refused(error.to_string()),
    };
    Selection::Selected(
        requests
            .0
            .iter()
            .filter(|(vxid, records)| {
                let records = records
                    .iter()
                    .map(|(tag, payload)| (*tag, payload.as_slice()));
                query.selects_records(*vxid, 1, records)
            })
            .map(|(vxid, _)| *vxid)
            .collect(),
    )
}

/// Varnish's selection and edgeship's (`edgeship`) of every query, in the queries' order,
/// computed on `threads` threads.
pub(crate) fn both(
    file: &Path,
    queries: &[String],
    threads: usize,
    edgeship: &(dyn Fn(&str) -> Selection + Sync),
) -> Vec<(Selection, Selection)> {
    let chunk = queries.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = queries
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|query| (varnish(file, Some(query)), edgeship(query)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a comparison thread"))
            .collect()
    })
}
