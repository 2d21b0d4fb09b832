//! Fuzz target: arbitrary record sequences (vxids, tags, sides, payloads drawn from what the
//! queries look at, or any bytes) laid out as a `varnishlog -w` log with
//! `edgeship_varnishlog::synthetic::log_file`, read (through a FIFO, see `fifo`) by both
//! paths with a fixed set of queries (the production ones and one of each kind of test).
//! Never a panic; without a query both paths yield the same requests; with one, the VSLQ
//! path yields a subset of what it yields without, and the query crate (`edgeship_query`),
//! shown each request's records, selects exactly that subset, as does the fast path, which
//! evaluates the queries itself.
#![no_main]
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use edgeship_query::Query;
use edgeship_varnishlog::synthetic::{log_file, SyntheticRecord, TAG_BEGIN, TAG_END};
use edgeship_varnishlog::{
    Error, Options, Outcome, PathChoice, Reader, RequestTransaction, Visitor,
};
use libfuzzer_sys::fuzz_target;

#[path = "common/records.rs"]
mod records;

/// Varnish 7.1's numbers (`enum VSL_tag_e`) of the tags the queries read, each with payloads
/// that make the queries' tests true or false.
///
/// `Begin` payloads are all well formed, as varnishd writes them: one of `req` alone (no
/// parent, no reason) is a request to the fast path's grouping, which reads the first field,
/// and a transaction of unknown type to VSLQ, which cannot parse it, so the paths disagree
/// on it without any query (found by this target; left to the grouping's owners).
const TAGGED: &[(u8, &[&[u8]])] = &[
    (
        TAG_BEGIN,
        &[
            b"req 1 rxreq",
            b"req 1 esi",
            b"req 1 restart",
            b"sess 0 HTTP/1",
            b"bereq 2 fetch",
        ],
    ),
    (15, &[b"GET", b"PURGE", b"purge", b"POST", b""]),
    (
        16,
        &[
            b"/beacon/statsv?x=1",
            b"/event.gif?a",
            b"/beacon/event?b",
            b"/wiki",
            b"",
        ],
    ),
    (
        20,
        &[
            b"Upgrade: websocket",
            b"upgrade: WebSocket",
            b"X-Num: 12abc",
            b"X-Num: -7",
            b"X-Num:",
            b"Host: a",
        ],
    ),
    (
        80,
        &[
            b"Pipe: 1.0 0.0 0.0",
            b"Restart: 1.5 0.1 0.1",
            b"Resp: 2.0 0.5 0.25",
            b"Resp: x",
        ],
    ),
    (9, &[b"GET%00", b""]),
    (72, &[b"restarting", b"num: 3.5", b"num"]),
    (26, &[b"200", b"404", b"12abc", b"-1"]),
    (75, &[b"req 5 restart", b"bereq 6 fetch"]),
    (TAG_END, &[b""]),
];

/// The queries every input is read with.
const QUERIES: &[&str] = &[
    r#"ReqMethod ne "PURGE" and not Timestamp:Pipe and not Timestamp:Restart and not ReqHeader:Upgrade ~ "[wW]ebsocket" and not HttpGarbage"#,
    r#"ReqURL ~ "^/beacon/statsv\?""#,
    r#"ReqURL ~ "^/(beacon/)?event(\.gif)?\?""#,
    r#"ReqMethod ~ "^(?!PURGE$)""#,
    "ReqHeader:X-Num > 3",
    "ReqHeader:X-Num[1] == -7.0",
    "not ReqURL",
    "Timestamp:Resp[2] > 0.3",
    r#"RespStatus >= 400 or VCL_Log ~ "^restart""#,
    r#"{1}ReqMethod eq "GET""#,
    r#"Req* ~ "(?i)websocket" and not Begin[3] eq "esi""#,
    "vxid < 5",
];

#[derive(Debug)]
struct Input<'a> {
    records: Vec<SyntheticRecord<'a>>,
}

impl<'a> Arbitrary<'a> for Input<'a> {
    fn arbitrary(input: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let mut records = Vec::new();
        while !input.is_empty() {
            let control = u8::arbitrary(input)?;
            let vxid = records::vxid(control, input)?;
            let side = records::side(control);
            let (tag, payload): (u8, &[u8]) = if control & 0x40 != 0 {
                // Any tag but Varnish's bogus (0) and batch (255) markers, which a file
                // never holds, and `Begin`, whose payload varnishd always writes whole (see
                // TAGGED). Any payload.
                let tag = match u8::arbitrary(input)?.clamp(1, 254) {
                    TAG_BEGIN => TAG_END,
                    tag => tag,
                };
                let length = usize::from(u8::arbitrary(input)?).min(input.len());
                (tag, input.bytes(length)?)
            } else {
                let (tag, payloads) = TAGGED[usize::from(control >> 2 & 0xf) % TAGGED.len()];
                (
                    tag,
                    payloads[usize::from(u8::arbitrary(input)?) % payloads.len()],
                )
            };
            records.push(SyntheticRecord {
                vxid,
                tag,
                side,
                payload,
                advance: std::time::Duration::ZERO,
            });
        }
        Ok(Input { records })
    }
}

/// A request as yielded: its vxid and, when kept, its records (tag number, payload).
type Request = (u32, Vec<(u8, Vec<u8>)>);

/// Collects the requests yielded, in order, with their records when `records` is set.
#[derive(Default)]
struct Collect {
    records: bool,
    requests: Vec<Request>,
}

impl Visitor for Collect {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        let records = if self.records {
            transaction
                .records()
                .map(|record| (record.varnish_tag, record.payload.to_vec()))
                .collect()
        } else {
            Vec::new()
        };
        self.requests.push((transaction.vxid(), records));
    }
}

/// [`QUERIES`], compiled by the query crate once per process.
fn compiled() -> &'static [Query] {
    static COMPILED: OnceLock<Vec<Query>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        QUERIES
            .iter()
            .map(|query| Query::new(query).unwrap_or_else(|error| panic!("{query}: {error}")))
            .collect()
    })
}

/// The FIFO every input is fed through, made once per fuzzing process (`mkfifo`; std has no
/// call for it) in its own directory under the temporary directory.
///
/// Not a regular file: libvarnishapi 7.1 maps a regular file and never closes its descriptor
/// (fixed in Varnish 7.3, "vslc: Plug mmap file descriptor leak"), so every `Reader::open` of
/// one leaks a descriptor and a fuzzing run exhausts them after a few hundred inputs. A
/// stream is read through the file cursor, which closes what it opened; both paths read it
/// (the fast path then copies records instead of mapping the file).
fn fifo() -> &'static Path {
    static FIFO: OnceLock<PathBuf> = OnceLock::new();
    FIFO.get_or_init(|| {
        remove_stale_fifos();
        let dir = std::env::temp_dir().join(format!("{FIFO_PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the FIFO's directory");
        let fifo = dir.join("log.fifo");
        let _ = std::fs::remove_file(&fifo);
        let status = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("run mkfifo");
        assert!(status.success(), "mkfifo {}: {status}", fifo.display());
        fifo
    })
}

/// The FIFO directories' names: this, then the fuzzing process's id.
const FIFO_PREFIX: &str = "edgeship-fuzz-vsl-query-records-";

/// Removes the FIFO directories of fuzzing processes that are gone: libFuzzer ends a run
/// with `exit`, so a process never removes its own.
fn remove_stale_fifos() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(FIFO_PREFIX))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Panics unless `Reader::open` accepts `query` on `path`: options and query are judged
/// before the log is opened, so with a missing file an accepted query fails at the cursor.
fn options_accepted(path: PathChoice, query: Option<&str>) {
    let mut options = Options::file("/nonexistent/edgeship-fuzz.vsl");
    options.path = path;
    options.query = query.map(str::to_owned);
    match Reader::open(options) {
        Err(Error::Varnish {
            call: "VSL_CursorFile",
            ..
        }) => {}
        Err(error) => panic!("{query:?} on {path:?}: {error}"),
        Ok(_) => panic!("a missing file opened"),
    }
}

/// The requests `path` yields for the log `bytes` with `query`, sorted by vxid (with their
/// records when `records` is set); fed through [`fifo`] by a thread, since opening a FIFO
/// for writing waits for its reader. [`options_accepted`] first, so that a refusal panics
/// before the writer waits for a reader that never comes.
fn select(bytes: &[u8], path: PathChoice, query: Option<&str>, records: bool) -> Vec<Request> {
    options_accepted(path, query);
    let fifo = fifo();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // The reader may stop early only by failing, which panics below.
            if let Ok(mut writer) = std::fs::OpenOptions::new().write(true).open(fifo) {
                let _ = writer.write_all(bytes);
            }
        });
        let mut options = Options::file(fifo);
        options.path = path;
        options.query = query.map(str::to_owned);
        let mut reader =
            Reader::open(options).unwrap_or_else(|error| panic!("{query:?} on {path:?}: {error}"));
        let mut collect = Collect {
            records,
            requests: Vec::new(),
        };
        loop {
            match reader.read(&mut collect, 1000) {
                Ok(Outcome::EndOfFile) => break,
                Ok(_) => {}
                Err(error) => panic!("reading on {path:?} with {query:?}: {error}"),
            }
        }
        // Compared sorted: a vxid begun twice may be yielded twice, and both sides must agree
        // on that too; the order of completion is not compared.
        collect.requests.sort_by_key(|request| request.0);
        collect.requests
    })
}

/// The vxids of `requests`, in order.
fn vxids(requests: &[Request]) -> Vec<u32> {
    requests.iter().map(|request| request.0).collect()
}

fuzz_target!(|input: Input<'_>| {
    let bytes = log_file(&input.records);
    let everything = select(&bytes, PathChoice::Vslq, None, true);
    let all = vxids(&everything);
    let fast = vxids(&select(&bytes, PathChoice::Fast, None, false));
    assert_eq!(fast, all, "the paths differ without a query");
    let within: BTreeSet<u32> = all.iter().copied().collect();
    for (text, query) in QUERIES.iter().zip(compiled()) {
        let selected = vxids(&select(&bytes, PathChoice::Vslq, Some(text), false));
        assert!(
            selected.iter().all(|vxid| within.contains(vxid)),
            "{text} selected {selected:?}, beyond {all:?}"
        );
        // The query crate, shown every request's records, selects what VSLQ selects.
        let evaluated: Vec<u32> = everything
            .iter()
            .filter(|(vxid, records)| {
                let records = records
                    .iter()
                    .map(|(tag, payload)| (*tag, payload.as_slice()));
                query.selects_records(*vxid, 1, records)
            })
            .map(|request| request.0)
            .collect();
        assert_eq!(
            evaluated, selected,
            "{text}: the query crate differs from VSLQ"
        );
        assert_eq!(
            vxids(&select(&bytes, PathChoice::Fast, Some(text), false)),
            selected,
            "{text}: the fast path's selection differs from the VSLQ path's"
        );
    }
});
