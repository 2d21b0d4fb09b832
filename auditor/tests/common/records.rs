//! Synthetic edgeship records and heartbeats, shaped like production webrequest lines.
//!
//! Shared by the tests (which build small streams with known loss) and the `gen-records`
//! example (which writes the benchmark's millions of lines). Heartbeats follow
//! `docs/records.md`; records carry the fields the shipper's webrequest format renders.

use std::fmt::Write as _;

use edgeship_audit::time::{days_from_civil, format_time, DAY, HOUR};
use edgeship_testkit::random::SplitMix64;

/// 2025-06-01T12:00:00Z: a fixed past time, so that Kafka windows over it are closed.
pub fn base_time() -> i64 {
    days_from_civil(2025, 6, 1) * DAY + 12 * HOUR
}

/// A minimal record: host, sequence, time and (when given) run.
pub fn record(host: &str, run: Option<&str>, sequence: u64, time: i64) -> String {
    let mut line = format!(
        r#"{{"hostname":"{host}","sequence":{sequence},"dt":"{}","http_status":"200""#,
        format_time(time)
    );
    if let Some(run) = run {
        let _ = write!(line, r#","run":"{run}""#);
    }
    line.push('}');
    line
}

/// A heartbeat as the shipper writes it (`sequence_last` `None` before the first record).
pub fn heartbeat(
    host: &str,
    run: &str,
    time: i64,
    start: u64,
    last: Option<u64>,
    is_final: bool,
) -> String {
    let last_text = last.map_or("null".to_string(), |l| l.to_string());
    let produced = last.map_or(0, |l| l + 1 - start);
    format!(
        r#"{{"heartbeat":true,"hostname":"{host}","run":"{run}","dt":"{}","final":{is_final},"sequence_start":{start},"sequence_last":{last_text},"records_produced":{produced},"records_delivered":{produced},"log_overruns":0,"transactions_incomplete":0,"queue_full_waits":0,"queue_full_drops":0,"delivery_failed":0,"delivery_failed_maybe_persisted":0}}"#,
        format_time(time)
    )
}

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

/// A production-like webrequest record (about 900 bytes): long user agent, query string,
/// X-Analytics and the other string fields the audit skips.
pub fn realistic(
    rng: &mut SplitMix64,
    host: &str,
    run: Option<&str>,
    sequence: u64,
    time: i64,
    out: &mut String,
) {
    let ua = USER_AGENTS[rng.below(USER_AGENTS.len() as u64) as usize];
    let path = PATHS[rng.below(PATHS.len() as u64) as usize];
    let page = rng.next_u64();
    let ip = rng.next_u64();
    let _ = write!(
        out,
        r#"{{"hostname":"{host}","sequence":{sequence},"dt":"{dt}","time_firstbyte":0.000{tfb},"ip":"10.{a}.{b}.{c}","cache_status":"hit-front","http_status":"200","response_size":{size},"http_method":"GET","uri_host":"en.wikipedia.org","uri_path":"{path}","uri_query":"?search=Article_{page:x}&title=Special%3ASearch&profile=default&fulltext=1&ns0=1","content_type":"text/html; charset=UTF-8","referer":"https://en.wikipedia.org/wiki/Article_{page:x}?oldid={old}","x_forwarded_for":"-","user_agent":"{ua}","accept_language":"en-US,en;q=0.9,de;q=0.8,fr;q=0.7","x_analytics":"ns=0;page_id={pid};rev_id={old};loggedIn=0;WMF-Last-Access=23-Nov-2026;WMF-Last-Access-Global=23-Nov-2026;https=1;client_port={port}","range":"-","x_cache":"cp{cp} miss, cp{cp} hit/{hits}","accept":"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8","backend":"ATS/9.2.5","tls":"vers=TLSv1.3;keyx=UNKNOWN;auth=ECDSA;ciph=AES-256-GCM-SHA384;prot=h2;sess=new""#,
        dt = format_time(time),
        tfb = rng.below(900_000),
        a = ip & 0xff,
        b = (ip >> 8) & 0xff,
        c = (ip >> 16) & 0xff,
        size = rng.below(200_000),
        old = page % 1_000_000_000,
        pid = page % 70_000_000,
        port = rng.below(65_536),
        cp = 1000 + rng.below(100),
        hits = rng.below(50),
    );
    if let Some(run) = run {
        let _ = write!(out, r#","run":"{run}""#);
    }
    out.push('}');
}
