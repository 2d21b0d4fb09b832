//! Integration tests of the log reader against real varnishd instances (started by testkit on
//! loopback with private work directories), their live logs and `varnishlog -w` captures.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgeship_formats::{Tag, Transaction};
use edgeship_testkit::http;
use edgeship_testkit::varnishd::Varnishd;
use edgeship_varnishlog::{
    Error, Event, ForceReason, Grouping, Options, Outcome, PathChoice, Position, ReadPath, Reader,
    Reason, RequestTransaction, Resume, ResumeCheck, Side, Visitor,
};

/// How long a test waits for something the log should show; a bound, not a measurement.
const PATIENCE: Duration = Duration::from_secs(30);

/// An owned copy of a yielded transaction, for comparisons after the visitor call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    vxid: u32,
    reason: Reason,
    forced: Option<ForceReason>,
    records: Vec<(Tag, u8, Side, u32, Vec<u8>)>,
    /// What `formats::Transaction` shows of it.
    client_records: Vec<(Tag, Vec<u8>)>,
    /// Where it ended in the live log, if known.
    position: Option<Position>,
}

impl Owned {
    fn of(transaction: &RequestTransaction<'_>) -> Owned {
        let mut client_records = Vec::new();
        transaction.for_each_record(|tag, payload| client_records.push((tag, payload.to_vec())));
        Owned {
            vxid: transaction.vxid(),
            reason: transaction.reason(),
            forced: transaction.forced(),
            records: transaction
                .records()
                .map(|r| (r.tag, r.varnish_tag, r.side, r.vxid, r.payload.to_vec()))
                .collect(),
            client_records,
            position: transaction.end_position(),
        }
    }

    fn first(&self, tag: Tag) -> Option<&[u8]> {
        self.client_records
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, p)| p.as_slice())
    }

    fn all(&self, tag: Tag) -> Vec<&[u8]> {
        self.client_records
            .iter()
            .filter(|(t, _)| *t == tag)
            .map(|(_, p)| p.as_slice())
            .collect()
    }

    fn header(&self, name: &str) -> Vec<&[u8]> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.all(Tag::ReqHeader)
            .into_iter()
            .filter(|h| h.to_ascii_lowercase().starts_with(prefix.as_bytes()))
            .map(|h| h[prefix.len()..].trim_ascii())
            .collect()
    }

    fn request_id(&self) -> Option<String> {
        self.header("X-Request-Id")
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The absolute time of a `Timestamp` record with this label.
    fn timestamp(&self, label: &str) -> Option<f64> {
        let prefix = format!("{label}: ");
        self.all(Tag::Timestamp).into_iter().find_map(|t| {
            let rest = t.strip_prefix(prefix.as_bytes())?;
            std::str::from_utf8(rest)
                .ok()?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
    }
}

/// The payloads of the last two records when they are Varnish's `VSL` diagnostic and an
/// `End`, as appended to a forced transaction.
fn synthetic_tail(t: &Owned) -> Option<(&[u8], &[u8])> {
    match t.records.as_slice() {
        // 77 is SLT_End in Varnish 7.1.
        [.., vsl, end] if vsl.0 == Tag::Vsl && end.1 == 77 => Some((&vsl.4, &end.4)),
        _ => None,
    }
}

/// Collects transactions and events.
#[derive(Default)]
struct Collect {
    transactions: Vec<Owned>,
    events: Vec<Event>,
}

impl Visitor for Collect {
    fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
        self.transactions.push(Owned::of(transaction));
    }

    fn event(&mut self, event: &Event) {
        self.events.push(event.clone());
    }
}

impl Collect {
    fn by_request_id(&self) -> BTreeMap<String, Vec<&Owned>> {
        let mut map: BTreeMap<String, Vec<&Owned>> = BTreeMap::new();
        for t in &self.transactions {
            if let Some(id) = t.request_id() {
                map.entry(id).or_default().push(t);
            }
        }
        map
    }
}

/// Reads until `done` holds or patience runs out; returns whether `done` held.
fn read_until(reader: &mut Reader, collect: &mut Collect, done: impl Fn(&Collect) -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if done(collect) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        match reader.read(collect, 1000) {
            Ok(Outcome::Idle) => std::thread::sleep(Duration::from_millis(10)),
            Ok(Outcome::Budget) => {}
            Ok(Outcome::EndOfFile) => return done(collect),
            Err(error) => panic!("read failed: {error}"),
        }
    }
}

/// Asserts two transaction lists are equal, field by field, reporting the first difference
/// briefly rather than dumping both lists.
fn assert_same(fast: &[Owned], vslq: &[Owned], context: &str) {
    let summary = |t: &Owned| (t.vxid, t.reason, t.forced, t.records.len());
    for (index, (a, b)) in fast.iter().zip(vslq).enumerate() {
        if a != b {
            let first_record = a.records.iter().zip(&b.records).position(|(x, y)| x != y);
            panic!(
                "{context}: transaction {index} differs: fast {:?} vslq {:?}, first differing record {first_record:?}",
                summary(a),
                summary(b)
            );
        }
    }
    assert_eq!(
        fast.len(),
        vslq.len(),
        "{context}: fast path yielded {} transactions, VSLQ {}; next: fast {:?} vslq {:?}",
        fast.len(),
        vslq.len(),
        fast.get(vslq.len()).map(summary),
        vslq.get(fast.len()).map(summary)
    );
}

/// Reads whatever arrives during `how_long`.
fn read_for(reader: &mut Reader, collect: &mut Collect, how_long: Duration) {
    let until = Instant::now() + how_long;
    while Instant::now() < until {
        if reader.read(collect, 1000).expect("read") == Outcome::Idle {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads a whole file with the given path.
fn read_file(file: &Path, path: PathChoice, limit: u32) -> (Collect, ReadPath) {
    read_file_keeping(file, path, limit, None)
}

/// Reads a whole file with the given path, keeping only records of these tags.
fn read_file_keeping(
    file: &Path,
    path: PathChoice,
    limit: u32,
    only_tags: Option<&[Tag]>,
) -> (Collect, ReadPath) {
    let mut options = Options::file(file);
    options.path = path;
    options.limit = limit;
    options.only_tags = only_tags.map(<[Tag]>::to_vec);
    let mut reader = Reader::open(options).expect("open capture");
    let mut collect = Collect::default();
    while reader.read(&mut collect, 500).expect("read capture") != Outcome::EndOfFile {}
    (collect, reader.path())
}

fn live_reader(varnishd: &Varnishd, path: PathChoice) -> Reader {
    let mut options = Options::live(Some(varnishd.workdir().to_str().expect("utf-8 workdir")));
    options.path = path;
    let reader = Reader::open(options).expect("attach to varnishd's log");
    let expected = match path {
        PathChoice::Vslq => ReadPath::Vslq,
        _ => ReadPath::Fast,
    };
    assert_eq!(reader.path(), expected);
    reader
}

/// Sends one raw HTTP/1.1 request (so any bytes can go into headers; it must ask for
/// `Connection: close`) and returns the status.
fn send(addr: SocketAddr, request: &[u8]) -> u16 {
    let answer = http::exchange(addr, request, Duration::from_secs(20)).expect("an answer");
    http::status(&answer).expect("a status line")
}

/// A simple marked GET.
fn get(addr: SocketAddr, url: &str, id: &str) -> u16 {
    send(
        addr,
        format!(
            "GET {url} HTTP/1.1\r\nHost: test\r\nX-Request-Id: {id}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
}

/// One request the acceptance test sends, and what the log must show for it.
struct Case {
    id: &'static str,
    method: &'static str,
    url: &'static str,
    extra: &'static [u8],
    body: &'static [u8],
    status: &'static str,
}

const CASES: &[Case] = &[
    Case {
        id: "get-query",
        method: "GET",
        url: "/articles/1?lang=en&page=2",
        extra: b"User-Agent: edgeship-test\r\nX-Repeated: one\r\nX-Repeated: two\r\n",
        body: b"",
        status: "200",
    },
    Case {
        id: "non-ascii",
        method: "GET",
        url: "/caf%C3%A9?q=%E2%82%AC",
        extra: b"X-Name: caf\xe9\r\nReferer: http://example.invalid/\r\n",
        body: b"",
        status: "200",
    },
    Case {
        id: "post",
        method: "POST",
        url: "/submit",
        extra: b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n",
        body: b"a=1&b=2",
        status: "200",
    },
    Case {
        id: "put",
        method: "PUT",
        url: "/items/7",
        extra: b"Content-Length: 2\r\n",
        body: b"{}",
        status: "200",
    },
    Case {
        id: "delete",
        method: "DELETE",
        url: "/items/7?force=1",
        extra: b"",
        body: b"",
        status: "200",
    },
    Case {
        id: "not-found",
        method: "GET",
        url: "/status/404/missing",
        extra: b"Accept: text/html\r\n",
        body: b"",
        status: "404",
    },
];

fn send_case(addr: SocketAddr, case: &Case) -> u16 {
    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: test.example\r\nX-Request-Id: {}\r\nConnection: close\r\n",
        case.method, case.url, case.id
    )
    .into_bytes();
    request.extend_from_slice(case.extra);
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(case.body);
    send(addr, &request)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Checks one transaction against the request that produced it.
fn assert_matches_case(t: &Owned, case: &Case, sent_from: f64, sent_until: f64) {
    let id = case.id;
    assert_eq!(t.reason, Reason::RxReq, "{id}");
    assert_eq!(t.forced, None, "{id}");
    assert_eq!(
        t.first(Tag::ReqMethod),
        Some(case.method.as_bytes()),
        "{id}"
    );
    assert_eq!(t.first(Tag::ReqUrl), Some(case.url.as_bytes()), "{id}");
    assert_eq!(t.first(Tag::ReqProtocol), Some(&b"HTTP/1.1"[..]), "{id}");
    assert_eq!(t.all(Tag::RespStatus), vec![case.status.as_bytes()], "{id}");
    assert_eq!(t.header("Host"), vec![&b"test.example"[..]], "{id}");
    // Every header line sent appears, in order, with its bytes untouched.
    for line in case.extra.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(
            t.all(Tag::ReqHeader).contains(&line),
            "{id}: header {:?} missing",
            String::from_utf8_lossy(line)
        );
    }
    let begin = t.first(Tag::Begin).expect("Begin");
    assert!(
        begin.starts_with(b"req ") && begin.ends_with(b" rxreq"),
        "{id}"
    );
    assert_eq!(
        t.first(Tag::ReqStart)
            .and_then(|s| s.split(|&b| b == b' ').next()),
        Some(&b"127.0.0.1"[..]),
        "{id}"
    );
    let start = t.timestamp("Start").expect("Timestamp Start");
    let resp = t.timestamp("Resp").expect("Timestamp Resp");
    assert!(
        start >= sent_from - 1.0 && start <= sent_until + 1.0,
        "{id}: start {start}"
    );
    assert!(
        resp >= start && resp <= sent_until + 1.0,
        "{id}: resp {resp}"
    );
    // All records of a request are client-side records of its own vxid.
    assert!(
        t.records
            .iter()
            .all(|r| r.2 == Side::Client && r.3 == t.vxid),
        "{id}"
    );
    assert_eq!(t.client_records.len(), t.records.len(), "{id}");
    assert_eq!(
        t.records.last().map(|r| r.0),
        Some(Tag::Other),
        "{id}: ends with End"
    );
}

/// Writes what is still in varnishd's log ring to `file` with `varnishlog -d -w`.
fn capture(varnishd: &Varnishd, file: &Path, grouping: &str) {
    let status = Command::new("varnishlog")
        .arg("-n")
        .arg(varnishd.workdir())
        .args(["-d", "-g", grouping, "-w"])
        .arg(file)
        .status()
        .expect("run varnishlog");
    assert!(status.success(), "varnishlog -w failed: {status}");
}

#[test]
fn live_requests_yield_one_transaction_each_on_both_paths_and_in_captures() {
    // The smallest VSL buffer makes varnishd write each transaction in several pieces, so
    // concurrent transactions interleave in the log the way they do under real load.
    let varnishd = Varnishd::builder()
        .param("vsl_buffer", "267")
        .start()
        .expect("start varnishd");
    let mut fast = live_reader(&varnishd, PathChoice::Auto);
    let mut vslq = live_reader(&varnishd, PathChoice::Vslq);

    let sent_from = unix_now();
    for case in CASES {
        let status = send_case(varnishd.addr(), case);
        assert_eq!(status.to_string(), case.status, "{}", case.id);
    }
    let sent_until = unix_now();

    let mut seen = Vec::new();
    for reader in [&mut fast, &mut vslq] {
        let mut collect = Collect::default();
        let all_seen = read_until(reader, &mut collect, |c| {
            c.transactions.len() >= CASES.len()
        });
        assert!(all_seen, "only {} transactions", collect.transactions.len());
        // Give a late duplicate the chance to show up before counting.
        let _ = reader.read(&mut collect, usize::MAX).expect("read");
        assert_eq!(
            collect.transactions.len(),
            CASES.len(),
            "exactly one per request"
        );
        let by_id = collect.by_request_id();
        for case in CASES {
            let found = by_id.get(case.id).map_or(0, Vec::len);
            assert_eq!(found, 1, "{}: {found} transactions", case.id);
            assert_matches_case(by_id[case.id][0], case, sent_from, sent_until);
        }
        assert_eq!(reader.counters().transactions, CASES.len() as u64);
        assert_eq!(reader.counters().overruns, 0);
        seen.push(collect.transactions);
    }
    // The two paths saw the same transactions, field by field.
    assert_same(&seen[0], &seen[1], "live");

    // Concurrent keep-alive traffic, so that the capture holds interleaved transactions, and
    // a request that stays incomplete (the VCL sleeps 3 s on /sleep) while the others run,
    // so that a small -L must force it complete.
    let addr = varnishd.addr();
    let slow = std::thread::spawn(move || get(addr, "/sleep", "slow"));
    std::thread::sleep(Duration::from_millis(300));
    burst(addr, 4, 50);
    assert_eq!(slow.join().expect("slow request"), 200);

    // A capture of the same log, read back from the file, yields the same transactions, and
    // the fast path and the VSLQ path agree on it: with log-order records (-g raw) and with
    // records already grouped by varnishlog (-g vxid), with the default -L and with a tiny
    // -L that forces transactions complete ("store overflow") on both paths alike.
    let dir = varnishd.workdir().join("captures");
    std::fs::create_dir_all(&dir).expect("capture dir");
    for grouping in ["raw", "vxid"] {
        let file = dir.join(format!("{grouping}.vsl"));
        capture(&varnishd, &file, grouping);
        let (from_file, path) = read_file(&file, PathChoice::Auto, 1000);
        assert_eq!(path, ReadPath::Fast);
        let by_id = from_file.by_request_id();
        for (case, live) in CASES
            .iter()
            .zip(seen[0].iter().filter(|t| t.request_id().is_some()))
        {
            let in_file = by_id.get(case.id).expect("request in capture");
            assert_eq!(in_file.len(), 1, "{grouping} {}", case.id);
            let live = seen[0]
                .iter()
                .find(|t| t.request_id().as_deref() == Some(case.id))
                .unwrap_or(live);
            assert_eq!(in_file[0], live, "{grouping} {}", case.id);
        }
        for limit in [1000, 2] {
            let (fast_file, fast_path) = read_file(&file, PathChoice::Fast, limit);
            let (vslq_file, vslq_path) = read_file(&file, PathChoice::Vslq, limit);
            assert_eq!((fast_path, vslq_path), (ReadPath::Fast, ReadPath::Vslq));
            assert!(
                fast_file.transactions.len() >= CASES.len(),
                "{grouping} -L {limit}"
            );
            assert_same(
                &fast_file.transactions,
                &vslq_file.transactions,
                &format!("{grouping} -L {limit}"),
            );
            assert_eq!(fast_file.events, vslq_file.events, "{grouping} -L {limit}");
        }
    }
    // With -L 2 the slow request, incomplete while the burst ran, must have been forced
    // complete (on both paths alike, as compared above), or the comparison proved nothing
    // about the limit.
    let (limited, _) = read_file(&dir.join("raw.vsl"), PathChoice::Fast, 2);
    let slow: Vec<&Owned> = limited
        .transactions
        .iter()
        .filter(|t| t.first(Tag::ReqUrl) == Some(&b"/sleep"[..]))
        .collect();
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].forced, Some(ForceReason::StoreOverflow));
    assert_eq!(
        synthetic_tail(slow[0]),
        Some((&b"store overflow"[..], &b"synth"[..]))
    );

    // Keeping only some tags yields, on both paths, the same transactions with exactly the
    // records of those tags (synthetic ones of forced transactions included), and nothing
    // else changes: grouping, forcing and events are those of the full read.
    for only in [
        &[Tag::ReqUrl, Tag::Timestamp, Tag::Vsl][..],
        &[Tag::Other],
        &[],
    ] {
        let expected: Vec<Owned> = limited
            .transactions
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.records.retain(|r| only.contains(&r.0));
                t.client_records.retain(|r| only.contains(&r.0));
                t
            })
            .collect();
        for path in [PathChoice::Fast, PathChoice::Vslq] {
            let (kept, _) = read_file_keeping(&dir.join("raw.vsl"), path, 2, Some(only));
            assert_same(
                &kept.transactions,
                &expected,
                &format!("{path:?} keeping {only:?}"),
            );
            assert_eq!(kept.events, limited.events, "{path:?} keeping {only:?}");
        }
    }
    assert!(
        limited
            .transactions
            .iter()
            .any(|t| t.records.iter().any(|r| r.0 == Tag::Other)),
        "the full read has records the filter leaves out"
    );
}

#[test]
fn restart_is_reported_as_abandon_and_the_reader_reattaches() {
    let mut varnishd = Varnishd::start().expect("start varnishd");
    let mut readers = [
        live_reader(&varnishd, PathChoice::Fast),
        live_reader(&varnishd, PathChoice::Vslq),
    ];
    let mut collects = [Collect::default(), Collect::default()];

    for i in 0..3 {
        assert_eq!(get(varnishd.addr(), "/before", &format!("before-{i}")), 200);
    }
    for (reader, collect) in readers.iter_mut().zip(collects.iter_mut()) {
        assert!(read_until(reader, collect, |c| c.transactions.len() >= 3));
    }

    varnishd.restart().expect("restart varnishd");

    for (reader, collect) in readers.iter_mut().zip(collects.iter_mut()) {
        let reattached = read_until(reader, collect, |c| {
            c.events
                .iter()
                .any(|e| matches!(e, Event::Reattached { .. }))
        });
        assert!(reattached, "no reattach; events {:?}", collect.events);
        let abandon_at = collect
            .events
            .iter()
            .position(|e| matches!(e, Event::Abandoned { .. }))
            .expect("abandon reported");
        let reattach_at = collect
            .events
            .iter()
            .position(|e| matches!(e, Event::Reattached { .. }))
            .expect("reattach reported");
        assert!(abandon_at < reattach_at);
        assert!(reader.counters().abandons >= 1);
        assert!(reader.counters().reattaches >= 1);
    }

    for i in 0..3 {
        assert_eq!(get(varnishd.addr(), "/after", &format!("after-{i}")), 200);
    }
    for (reader, collect) in readers.iter_mut().zip(collects.iter_mut()) {
        let all = read_until(reader, collect, |c| {
            (0..3).all(|i| c.by_request_id().contains_key(&format!("after-{i}")))
        });
        assert!(
            all,
            "requests after the restart not seen: {:?}",
            collect.by_request_id().keys()
        );
        let by_id = collect.by_request_id();
        for i in 0..3 {
            assert_eq!(by_id[&format!("before-{i}")].len(), 1);
            assert_eq!(by_id[&format!("after-{i}")].len(), 1);
        }
    }
}

#[test]
fn after_a_restart_the_reader_reattaches_at_the_head_of_the_new_log() {
    let mut varnishd = Varnishd::start().expect("start varnishd");
    // A long first backoff, so that the reattach certainly comes after the requests below.
    let mut readers = [PathChoice::Fast, PathChoice::Vslq].map(|path| {
        let mut options = Options::live(Some(varnishd.workdir().to_str().expect("utf-8")));
        options.path = path;
        options.reattach_backoff = Duration::from_secs(4);
        options.reattach_backoff_max = Duration::from_secs(4);
        Reader::open(options).expect("attach to varnishd's log")
    });
    varnishd.restart().expect("restart varnishd");
    // Served and logged by the new varnishd before either reader noticed the restart.
    for i in 0..5 {
        assert_eq!(get(varnishd.addr(), "/new", &format!("new-{i}")), 200);
    }
    for reader in &mut readers {
        let mut collect = Collect::default();
        let all = read_until(reader, &mut collect, |c| {
            (0..5).all(|i| c.by_request_id().contains_key(&format!("new-{i}")))
        });
        assert!(
            all,
            "{:?}: requests the new varnishd logged before the reattach were skipped: {:?}, events {:?}",
            reader.path(),
            collect.by_request_id().keys(),
            collect.events
        );
        assert!(matches!(
            collect.events.first(),
            Some(Event::Abandoned { .. })
        ));
        for i in 0..5 {
            assert_eq!(collect.by_request_id()[&format!("new-{i}")].len(), 1);
        }
    }
}

/// `connections` concurrent keep-alive connections sending `requests` GETs each.
fn burst(addr: SocketAddr, connections: usize, requests: usize) {
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).expect("connect");
                let mut buffer = vec![0u8; 4096];
                for i in 0..requests {
                    let request = format!(
                        "GET /load/{worker}/{i} HTTP/1.1\r\nHost: load\r\nUser-Agent: edgeship-load\r\n\r\n"
                    );
                    stream.write_all(request.as_bytes()).expect("send");
                    // Synthetic answers are small: one read holds the whole response.
                    let n = stream.read(&mut buffer).expect("answer");
                    assert!(buffer[..n].starts_with(b"HTTP/1.1 200"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("load worker");
    }
}

#[test]
fn overrun_is_reported_with_a_count_and_reading_continues() {
    // The smallest ring Varnish allows, and readers that do not read while the load runs.
    let varnishd = Varnishd::builder()
        .param("vsl_space", "1M")
        .start()
        .expect("start varnishd");
    let mut readers = [
        live_reader(&varnishd, PathChoice::Fast),
        live_reader(&varnishd, PathChoice::Vslq),
    ];
    // About 1.3 KB of log per request: 4,000 requests write several times the ring.
    let addr = varnishd.addr();
    burst(addr, 4, 1000);

    for reader in &mut readers {
        let mut collect = Collect::default();
        let overrun = read_until(reader, &mut collect, |c| {
            c.events.iter().any(|e| matches!(e, Event::Overrun { .. }))
        });
        assert!(overrun, "no overrun reported; events {:?}", collect.events);
        assert!(collect.events.contains(&Event::Overrun { total: 1 }));
        assert!(reader.counters().overruns >= 1);
        // The reader goes on: requests sent once it is back at the tail are read.
        let back = read_until(reader, &mut collect, |c| {
            c.events
                .iter()
                .any(|e| matches!(e, Event::Reattached { .. }))
        });
        assert!(back, "did not reattach after the overrun");
        while reader.read(&mut collect, usize::MAX).expect("read") != Outcome::Idle {}
        let marker = format!("after-overrun-{:?}", reader.path());
        assert_eq!(get(addr, "/after", &marker), 200);
        let seen = read_until(reader, &mut collect, |c| {
            c.by_request_id().contains_key(&marker)
        });
        assert!(seen, "request after the overrun not seen");
        assert_eq!(collect.by_request_id()[&marker].len(), 1);
    }
}

#[test]
fn timeout_forces_an_incomplete_request_complete() {
    // The smallest VSL buffer makes varnishd write a request's first records to the log
    // while the request is still running (the VCL sleeps 3 s on /sleep), so the reader sees
    // a transaction that stays incomplete for longer than -T 1.
    let varnishd = Varnishd::builder()
        .param("vsl_buffer", "267")
        .start()
        .expect("start varnishd");
    let mut options = Options::live(Some(varnishd.workdir().to_str().expect("utf-8")));
    options.timeout = Duration::from_secs(1);
    let mut reader = Reader::open(options).expect("open");
    let addr = varnishd.addr();
    let padding = "p".repeat(400);
    let slow = std::thread::spawn(move || {
        send(
            addr,
            format!(
                "GET /sleep HTTP/1.1\r\nHost: test\r\nX-Request-Id: slow\r\n\
                 X-Padding: {padding}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
    });
    let mut collect = Collect::default();
    let forced = read_until(&mut reader, &mut collect, |c| {
        c.events
            .iter()
            .any(|e| matches!(e, Event::ForcedComplete { .. }))
    });
    assert_eq!(slow.join().expect("slow request"), 200);
    assert!(forced, "nothing forced; events {:?}", collect.events);
    // The rest of the request's records (with its End) arrive after it was forced: they
    // belong to no transaction any more and are skipped, not yielded a second time.
    read_for(&mut reader, &mut collect, Duration::from_secs(1));
    let slow = &collect.by_request_id()["slow"];
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].forced, Some(ForceReason::Timeout));
    assert_eq!(slow[0].first(Tag::ReqUrl), Some(&b"/sleep"[..]));
    assert_eq!(
        synthetic_tail(slow[0]),
        Some((&b"timeout"[..], &b"synth"[..]))
    );
    assert_eq!(
        collect.events,
        vec![Event::ForcedComplete {
            vxid: slow[0].vxid,
            reason: ForceReason::Timeout
        }]
    );
    assert_eq!(reader.counters().forced_timeout, 1);
    assert!(reader.counters().records_skipped > 0);
}

#[test]
fn options_the_fast_path_cannot_honour_are_refused() {
    // Request grouping is VSLQ's alone; a query is not (the fast path evaluates it).
    let mut options = Options::file("/nonexistent.vsl");
    options.path = PathChoice::Fast;
    options.grouping = Grouping::Request;
    let error = Reader::open(options).err().expect("refused");
    assert!(matches!(error, Error::Options(_)), "{error}");
    let mut queried = Options::file("/nonexistent.vsl");
    queried.path = PathChoice::Fast;
    queried.query = Some("ReqURL ~ \"/x\"".to_owned());
    let error = Reader::open(queried).err().expect("no such file");
    assert!(matches!(error, Error::Varnish { .. }), "{error}");

    let missing = Reader::open(Options::file("/nonexistent/edgeship.vsl"))
        .err()
        .expect("missing file");
    match missing {
        Error::Varnish { call, message } => {
            assert_eq!(call, "VSL_CursorFile");
            assert!(message.contains("/nonexistent/edgeship.vsl"), "{message}");
        }
        other => panic!("unexpected error {other}"),
    }

    // A query that does not parse is refused with its column, whichever path would read it.
    for path in [PathChoice::Auto, PathChoice::Vslq] {
        let mut bad_query = Options::file("/nonexistent.vsl");
        bad_query.path = path;
        bad_query.query = Some("ReqURL ~~ (".to_owned());
        let error = Reader::open(bad_query).err().expect("bad query refused");
        match error {
            Error::Query(error) => assert_eq!(error.column, 9, "{error}"),
            other => panic!("unexpected error {other}"),
        }
    }
}

#[test]
fn a_panic_in_the_visitor_crosses_the_vslq_callback_safely() {
    let varnishd = Varnishd::start().expect("start varnishd");
    assert_eq!(get(varnishd.addr(), "/panic", "panic"), 200);
    let file = varnishd.workdir().join("panic.vsl");
    capture(&varnishd, &file, "raw");

    struct Panicky;
    impl Visitor for Panicky {
        fn transaction(&mut self, transaction: &RequestTransaction<'_>) {
            panic!("visitor panicked at vxid {}", transaction.vxid());
        }
    }
    for path in [PathChoice::Vslq, PathChoice::Fast] {
        let mut options = Options::file(&file);
        options.path = path;
        let mut reader = Reader::open(options).expect("open capture");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            reader.read(&mut Panicky, usize::MAX)
        }));
        let payload = caught.expect_err("the panic reaches the caller");
        let message = payload
            .downcast_ref::<String>()
            .expect("panic message is a String");
        assert!(
            message.starts_with("visitor panicked at vxid "),
            "{message}"
        );
    }
}

/// A VCL that makes varnishd its own backend, so that a page with an ESI include produces
/// an ESI sub-request. Requests varnishd sends to itself carry `X-Origin`.
const ESI_VCL: &str = r#"vcl 4.1;

backend self {
    .host = "127.0.0.1";
    .port = "${PORT}";
}

sub vcl_recv {
    if (req.http.X-Origin) {
        return (synth(200));
    }
    if (req.url ~ "^/esi/") {
        return (pass);
    }
    return (synth(200));
}

sub vcl_backend_fetch {
    set bereq.http.X-Origin = "1";
}

sub vcl_backend_response {
    if (bereq.url == "/esi/page") {
        set beresp.do_esi = true;
    }
}

sub vcl_synth {
    if (req.url == "/esi/page") {
        set resp.body = {"<html><esi:include src="/esi/fragment"/></html>"};
    } else {
        set resp.body = "fragment";
    }
    return (deliver);
}
"#;

#[test]
fn esi_sub_requests_are_yielded_and_marked_on_both_paths_and_groupings() {
    let varnishd = Varnishd::builder()
        .vcl(ESI_VCL)
        .start()
        .expect("start varnishd");
    let workdir = varnishd.workdir().to_str().expect("utf-8").to_owned();
    let mut fast = live_reader(&varnishd, PathChoice::Fast);
    let mut grouped = {
        let mut options = Options::live(Some(&workdir));
        options.grouping = edgeship_varnishlog::Grouping::Request;
        let reader = Reader::open(options).expect("open with -g request");
        assert_eq!(reader.path(), ReadPath::Vslq);
        reader
    };

    let mut stream = TcpStream::connect(varnishd.addr()).expect("connect");
    stream
        .write_all(b"GET /esi/page HTTP/1.1\r\nHost: test\r\nX-Request-Id: esi-top\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer");
    let answer = String::from_utf8_lossy(&answer);
    // The body comes chunked: `<html>`, then the fragment, then `</html>`.
    assert!(
        answer.contains("fragment") && !answer.contains("esi:include"),
        "ESI was not processed: {answer}"
    );

    // The client request, the ESI sub-request, and the two requests varnishd sent to itself.
    let mut summaries = Vec::new();
    for reader in [&mut fast, &mut grouped] {
        let mut collect = Collect::default();
        assert!(read_until(reader, &mut collect, |c| c.transactions.len() >= 4));
        read_for(reader, &mut collect, Duration::from_millis(200));
        assert_eq!(
            collect.transactions.len(),
            4,
            "{:#?}",
            collect
                .transactions
                .iter()
                .map(|t| (
                    t.vxid,
                    t.reason,
                    t.first(Tag::ReqUrl).map(String::from_utf8_lossy),
                    t.records.len()
                ))
                .collect::<Vec<_>>()
        );
        let esi: Vec<&Owned> = collect
            .transactions
            .iter()
            .filter(|t| t.reason == Reason::Esi)
            .collect();
        assert_eq!(esi.len(), 1);
        assert_eq!(esi[0].first(Tag::ReqUrl), Some(&b"/esi/fragment"[..]));
        let top: Vec<&Owned> = collect
            .transactions
            .iter()
            .filter(|t| t.reason == Reason::RxReq && t.header("X-Origin").is_empty())
            .collect();
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].first(Tag::ReqUrl), Some(&b"/esi/page"[..]));
        let mut summary: Vec<(u32, Reason, Vec<u8>)> = collect
            .transactions
            .iter()
            .map(|t| {
                (
                    t.vxid,
                    t.reason,
                    t.first(Tag::ReqUrl).unwrap_or_default().to_vec(),
                )
            })
            .collect();
        summary.sort_by_key(|(vxid, _, _)| *vxid);
        summaries.push(summary);
    }
    assert_eq!(summaries[0], summaries[1]);
}

#[test]
fn a_stream_read_through_a_reused_buffer_is_copied_and_reads_the_same() {
    let varnishd = Varnishd::builder()
        .param("vsl_buffer", "267")
        .start()
        .expect("start varnishd");
    for case in CASES {
        send_case(varnishd.addr(), case);
    }
    burst(varnishd.addr(), 3, 30);
    let file = varnishd.workdir().join("stream.vsl");
    capture(&varnishd, &file, "raw");
    let (from_file, _) = read_file(&file, PathChoice::Fast, 1000);
    let (from_vslq, _) = read_file(&file, PathChoice::Vslq, 1000);
    assert_same(&from_file.transactions, &from_vslq.transactions, "file");
    assert!(from_file.transactions.len() > CASES.len() + 90);

    // A FIFO is not a regular file: libvarnishapi reads it record by record into one buffer
    // it reuses, so the fast path must copy what it keeps.
    let fifo = varnishd.workdir().join("stream.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    for path in [PathChoice::Fast, PathChoice::Vslq] {
        // Opening a FIFO for writing waits for the reader, so feed it from another thread.
        let writer = {
            let (file, fifo) = (file.clone(), fifo.clone());
            std::thread::spawn(move || std::fs::copy(file, fifo).expect("feed the FIFO"))
        };
        let (from_fifo, _) = read_file(&fifo, path, 1000);
        writer.join().expect("FIFO writer");
        assert_same(
            &from_fifo.transactions,
            &from_file.transactions,
            &format!("{path:?} FIFO"),
        );
    }

    // A capture cut short, in the middle of a record or of a record's header: the fast path
    // (which walks a regular file in its own mapping) and the VSLQ path (libvarnishapi's
    // cursor) both hand out what they completed before the cut and then report a read error
    // for the file; a cut on a record boundary is just a shorter capture.
    let bytes = std::fs::read(&file).expect("read the capture");
    // Records are whole 4-byte words: a cut that is not a multiple of 4 is inside a record.
    let word = |at: usize| at - at % 4;
    for cut in [
        bytes.len() - 3,
        word(bytes.len() / 2) + 1,
        word(bytes.len() / 3) + 2,
        word(bytes.len() / 4) + 3,
    ] {
        let cut_file = varnishd.workdir().join(format!("cut-{cut}.vsl"));
        std::fs::write(&cut_file, &bytes[..cut]).expect("write the cut capture");
        let mut seen = Vec::new();
        for path in [PathChoice::Fast, PathChoice::Vslq] {
            let mut options = Options::file(&cut_file);
            options.path = path;
            let mut reader = Reader::open(options).expect("open the cut capture");
            let mut collect = Collect::default();
            let error = loop {
                match reader.read(&mut collect, 500) {
                    Ok(Outcome::EndOfFile) => panic!("{path:?}: a cut at {cut} read to the end"),
                    Ok(_) => {}
                    Err(error) => break error,
                }
            };
            assert!(
                matches!(&error, Error::FileRead { path } if *path == cut_file),
                "{path:?}: {error}"
            );
            assert!(!collect.transactions.is_empty(), "{path:?} cut at {cut}");
            seen.push(collect.transactions);
        }
        assert_same(&seen[0], &seen[1], &format!("cut at {cut}"));
    }
}

/// A reader of `varnishd`'s log that starts as `resume` says, on `path`.
fn resuming_reader(varnishd: &Varnishd, resume: Resume, path: PathChoice) -> Reader {
    let mut options = Options::live(Some(varnishd.workdir().to_str().expect("utf-8")));
    options.resume = Some(resume);
    options.path = path;
    Reader::open(options).expect("attach to varnishd's log")
}

/// The request ids of `collect`'s transactions, in the order they were handed out.
fn ids_in_order(collect: &Collect) -> Vec<String> {
    collect
        .transactions
        .iter()
        .filter_map(Owned::request_id)
        .collect()
}

#[test]
fn a_reader_resumes_after_a_position_another_reader_handed_out() {
    let varnishd = Varnishd::start().expect("start varnishd");
    for i in 0..20 {
        assert_eq!(get(varnishd.addr(), "/before", &format!("before-{i}")), 200);
    }
    // Varnish writes a request's log records after it has answered: give the last answer's
    // records time to reach the log, or the reader may catch up with the writer before them
    // and count that request as new (a fresh-clone CI run saw "before-19" handed out).
    std::thread::sleep(Duration::from_millis(300));
    // From now: the backlog is read (and grouped) but not handed out.
    let mut first = resuming_reader(&varnishd, Resume::FromNow, PathChoice::Auto);
    assert_eq!(first.resume_check(), ResumeCheck::Resumed);
    let mut seen = Collect::default();
    read_for(&mut first, &mut seen, Duration::from_millis(300));
    assert!(ids_in_order(&seen).is_empty(), "{:?}", ids_in_order(&seen));
    assert!(first.counters().transactions_before_resume >= 20);
    for i in 0..10 {
        assert_eq!(get(varnishd.addr(), "/after", &format!("after-{i}")), 200);
    }
    assert!(read_until(&mut first, &mut seen, |c| c
        .by_request_id()
        .len()
        == 10));
    let order = ids_in_order(&seen);
    assert!(
        seen.transactions.iter().all(|t| t.position.is_some()),
        "every transaction handed out has its position: {:?}",
        seen.transactions
            .iter()
            .map(|t| t.position)
            .collect::<Vec<_>>()
    );
    let positions: Vec<Position> = seen
        .transactions
        .iter()
        .filter_map(|t| t.position)
        .collect();
    assert!(
        positions
            .windows(2)
            .all(|pair| pair[1].covers(pair[0], true) && pair[0] != pair[1]),
        "positions grow in reading order: {positions:?}"
    );
    // A second reader resumes after the fifth: it hands out exactly the five after it.
    let mut second = resuming_reader(&varnishd, Resume::After(positions[4]), PathChoice::Auto);
    assert_eq!(second.resume_check(), ResumeCheck::Resumed);
    let mut resumed = Collect::default();
    assert!(read_until(&mut second, &mut resumed, |c| c
        .by_request_id()
        .contains_key(&order[9])));
    read_for(&mut second, &mut resumed, Duration::from_millis(200));
    assert_eq!(ids_in_order(&resumed), order[5..].to_vec());
    let before: Vec<Option<Position>> = resumed.transactions.iter().map(|t| t.position).collect();
    assert_eq!(
        before,
        positions[5..].iter().copied().map(Some).collect::<Vec<_>>()
    );
    assert!(second.counters().transactions_before_resume >= 25);
}

#[test]
fn a_position_the_ring_no_longer_holds_or_a_path_without_positions_is_reported() {
    let varnishd = Varnishd::start().expect("start varnishd");
    assert_eq!(get(varnishd.addr(), "/x", "x-0"), 200);
    // Segment numbers start at 0 with the child: one "before" 0 is long overwritten.
    let gone = Position {
        segment: u32::MAX - 10,
        ends: 1,
    };
    let reader = resuming_reader(&varnishd, Resume::After(gone), PathChoice::Auto);
    assert!(
        matches!(reader.resume_check(), ResumeCheck::Overwritten { .. }),
        "{:?}",
        reader.resume_check()
    );
    let reader = resuming_reader(&varnishd, Resume::FromNow, PathChoice::Vslq);
    assert_eq!(reader.resume_check(), ResumeCheck::Unsupported);
}
