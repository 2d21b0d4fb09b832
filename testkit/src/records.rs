//! Synthetic edgeship records and heartbeats as JSON lines, shaped like production webrequest
//! lines, for the auditor's tests (small streams with known loss) and its `gen-records`
//! example (the benchmark's millions of lines).
//!
//! Heartbeats follow `docs/records.md`; records carry the fields the shipper's webrequest
//! format renders. Times are written with the auditor's own `dt` format
//! (`edgeship_audit::time`), so the generated lines are what the auditor reads. (The criterion
//! `auditor` group renders its lines through `edgeship-formats` instead: it measures the
//! bytes the shipper writes, escaped and non-ASCII text included.)

use std::fmt::Write as _;

use edgeship_audit::time::{days_from_civil, format_time, DAY, HOUR};

use crate::random::SplitMix64;

/// 2025-06-01T12:00:00Z: a fixed past time, so that Kafka windows over it are closed.
pub fn base_time() -> i64 {
    days_from_civil(2025, 6, 1) * DAY + 12 * HOUR
}

/// What the audit reads of a request record: who wrote it, its number and its time.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The host name.
    pub host: &'a str,
    /// The shipper's run identifier; `None` for a record as varnishkafka wrote it (no run).
    pub run: Option<&'a str>,
    /// The sequence number.
    pub sequence: u64,
    /// The request time, in seconds since the epoch.
    pub time: i64,
}

impl Record<'_> {
    /// A minimal record: host, sequence, time, a status and (when given) run.
    pub fn line(&self) -> String {
        let mut line = format!(
            r#"{{"hostname":"{}","sequence":{},"dt":"{}","http_status":"200""#,
            self.host,
            self.sequence,
            format_time(self.time)
        );
        self.close(&mut line);
        line
    }

    /// Appends a production-like webrequest record (about 900 bytes) to `out`: long user
    /// agent, query string, X-Analytics and the other string fields the audit skips, varied
    /// by `random`.
    pub fn write_realistic(&self, random: &mut SplitMix64, out: &mut String) {
        let ua = *random.pick(&USER_AGENTS);
        let path = *random.pick(&PATHS);
        let page = random.next_u64();
        let ip = random.next_u64();
        let _ = write!(
            out,
            r#"{{"hostname":"{host}","sequence":{sequence},"dt":"{dt}","time_firstbyte":0.000{tfb},"ip":"10.{a}.{b}.{c}","cache_status":"hit-front","http_status":"200","response_size":{size},"http_method":"GET","uri_host":"en.wikipedia.org","uri_path":"{path}","uri_query":"?search=Article_{page:x}&title=Special%3ASearch&profile=default&fulltext=1&ns0=1","content_type":"text/html; charset=UTF-8","referer":"https://en.wikipedia.org/wiki/Article_{page:x}?oldid={old}","x_forwarded_for":"-","user_agent":"{ua}","accept_language":"en-US,en;q=0.9,de;q=0.8,fr;q=0.7","x_analytics":"ns=0;page_id={pid};rev_id={old};loggedIn=0;WMF-Last-Access=23-Nov-2026;WMF-Last-Access-Global=23-Nov-2026;https=1;client_port={port}","range":"-","x_cache":"cp{cp} miss, cp{cp} hit/{hits}","accept":"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8","backend":"ATS/9.2.5","tls":"vers=TLSv1.3;keyx=UNKNOWN;auth=ECDSA;ciph=AES-256-GCM-SHA384;prot=h2;sess=new""#,
            host = self.host,
            sequence = self.sequence,
            dt = format_time(self.time),
            tfb = random.below(900_000),
            a = ip & 0xff,
            b = (ip >> 8) & 0xff,
            c = (ip >> 16) & 0xff,
            size = random.below(200_000),
            old = page % 1_000_000_000,
            pid = page % 70_000_000,
            port = random.below(65_536),
            cp = 1000 + random.below(100),
            hits = random.below(50),
        );
        self.close(out);
    }

    /// Appends the run (when there is one) and closes the object.
    fn close(&self, line: &mut String) {
        if let Some(run) = self.run {
            let _ = write!(line, r#","run":"{run}""#);
        }
        line.push('}');
    }
}

/// A minimal record (see [`Record::line`]).
pub fn record(host: &str, run: Option<&str>, sequence: u64, time: i64) -> String {
    Record {
        host,
        run,
        sequence,
        time,
    }
    .line()
}

/// A periodic heartbeat as the shipper writes it (`"final": false`) for a run numbered from 0:
/// `last` is the last number assigned by `time` (`None` before the first record), and every
/// delivery counter is consistent with it.
pub fn heartbeat(host: &str, run: &str, time: i64, last: Option<u64>) -> String {
    let last_text = last.map_or("null".to_string(), |l| l.to_string());
    let produced = last.map_or(0, |l| l + 1);
    format!(
        r#"{{"heartbeat":true,"hostname":"{host}","run":"{run}","dt":"{}",{NOT_FINAL},"sequence_start":0,"sequence_last":{last_text},"records_produced":{produced},"records_delivered":{produced},"log_overruns":0,"transactions_incomplete":0,"queue_full_waits":0,"queue_full_drops":0,"delivery_failed":0,"delivery_failed_maybe_persisted":0}}"#,
        format_time(time)
    )
}

/// The run's final heartbeat (`"final": true`), written at a clean stop; otherwise as
/// [`heartbeat`].
pub fn final_heartbeat(host: &str, run: &str, time: i64, last: Option<u64>) -> String {
    heartbeat(host, run, time, last).replacen(NOT_FINAL, r#""final":true"#, 1)
}

/// The member that tells a periodic heartbeat from the final one.
const NOT_FINAL: &str = r#""final":false"#;

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "WikipediaApp/7.5.3.2451 (Android 14; Phone) Google Play Version/7.5.3 \\\"beta\\\" build",
];
const PATHS: [&str; 4] = [
    "/wiki/Special:Search",
    "/w/api.php",
    "/wiki/Main_Page",
    "/w/load.php",
];
