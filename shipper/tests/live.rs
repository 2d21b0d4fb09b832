//! Live, real-process tests of the `edgeship` daemon (issue 4): Debian's varnishd serving
//! real HTTP requests, the real binary reading its shared-memory log (or a `varnishlog -w`
//! capture), a real Kafka-protocol broker (tansu), and an independent consumer checking what
//! landed: counts, partitions, keys, order, sequence numbers, every field against what the
//! request carried, run identifiers and heartbeats across a restart, `--check-config` on the
//! fixtures and broken variants, and bad input that must never stop the daemon.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    config_text, fixture, heartbeats, kafka_lines, last_statistics, line_of,
    offline_config as broken_variant, partition_of, raw_exchange, read_response, records,
    run_edgeship, seed_format, send_all, Edgeship, Landed, Request, Response, TopicReader, HOST,
};
use edgeship_testkit::random::SplitMix64;
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::tansu::Tansu;
use edgeship_testkit::varnishd::Varnishd;
use serde_json::{Map, Value};

/// Partitions of every test topic: more than one, so "all in the partition of the host's
/// key" means something.
const PARTITIONS: i32 = 3;

/// Requests `first..first + count`, varied in method, host, path, query, status asked for,
/// and headers, each carrying its id as the first query parameter.
fn varied_requests(first: u64, count: u64) -> Vec<Request> {
    // Seeded from `first`, so that each batch of requests differs but every run sends the same.
    let mut dice =
        SplitMix64::new(0x9E37_79B9_7F4A_7C15 ^ first.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let hosts = [
        "en.wikipedia.org",
        "de.wikipedia.org",
        "upload.wikimedia.org",
        "www.example.org",
        "cp-test.internal:8080",
    ];
    let agents = [
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "curl/8.5.0",
        // Quotes and backslashes must survive JSON rendering unchanged.
        r#"Bot "quoted" \ backslash/1.0"#,
        "WikipediaApp/7.5 (Android 14; Phone) Grün café ☃",
        "python-requests/2.31",
    ];
    let languages = ["en-US,en;q=0.9", "de-DE", "fr;q=0.8, *;q=0.1", "ja"];
    let statuses = [201, 403, 404, 410, 500, 503];
    (first..first + count)
        .map(|id| {
            let method = *dice.pick(&["GET", "GET", "GET", "POST", "PUT", "DELETE"]);
            let path = match dice.below(5) {
                0 => format!("/status/{}/r{id}", dice.pick(&statuses)),
                1 => format!("/wiki/Page_{}", dice.below(1000)),
                2 => "/w/index.php".to_owned(),
                3 => format!("/static/images/{}/{}.png", dice.below(16), dice.below(5000)),
                _ => format!("/api/rest_v1/page/summary/Item%20{}", dice.below(100)),
            };
            let query = match dice.below(3) {
                0 => format!("?id={id}"),
                1 => format!("?id={id}&title=Special:Search&search=a+b%20c&go=Go"),
                _ => format!(
                    "?id={id}&x={}&empty=&flag",
                    "q".repeat(dice.below(200) as usize)
                ),
            };
            let mut headers = vec![("Host".to_owned(), dice.pick(&hosts).to_string())];
            if dice.below(8) != 0 {
                headers.push(("User-Agent".to_owned(), dice.pick(&agents).to_string()));
            }
            if dice.below(2) == 0 {
                headers.push((
                    "Referer".to_owned(),
                    format!("https://en.wikipedia.org/wiki/From_{}", dice.below(500)),
                ));
            }
            if dice.below(3) == 0 {
                headers.push((
                    "Accept-Language".to_owned(),
                    dice.pick(&languages).to_string(),
                ));
            }
            if dice.below(4) == 0 {
                headers.push((
                    "X-Forwarded-For".to_owned(),
                    format!("203.0.113.{}", dice.below(255)),
                ));
            }
            let body = if method == "GET" {
                Vec::new()
            } else {
                format!("body of request {id}").into_bytes()
            };
            Request {
                id,
                method,
                path,
                query,
                headers,
                body,
            }
        })
        .collect()
}

/// The record the seed format must render for `request` answered by `response`, minus the
/// fields no request carries (`sequence`, `dt`, `time_firstbyte`, checked on their own).
fn expected_seed_record(request: &Request, response: &Response) -> Map<String, Value> {
    let text = |value: Option<&str>| Value::String(value.unwrap_or("-").to_owned());
    // varnishd adds the client address to X-Forwarded-For (appending to one the client
    // sent); `%{X-Forwarded-For}i` takes the last occurrence, the one varnishd wrote.
    let forwarded = match request.header("X-Forwarded-For") {
        Some(sent) => format!("{sent}, 127.0.0.1"),
        None => "127.0.0.1".to_owned(),
    };
    let mut map = Map::new();
    map.insert("hostname".into(), Value::String(HOST.into()));
    map.insert("ip".into(), Value::String("127.0.0.1".into()));
    // Every answer is synthetic (made in vcl_recv): no hit, miss or pass to report.
    map.insert("cache_status".into(), Value::String("-".into()));
    map.insert(
        "http_status".into(),
        Value::String(response.status.to_string()),
    );
    map.insert("response_size".into(), Value::from(response.body_len));
    map.insert("http_method".into(), Value::String(request.method.into()));
    map.insert("uri_host".into(), text(request.header("Host")));
    map.insert("uri_path".into(), Value::String(request.path.clone()));
    map.insert("uri_query".into(), Value::String(request.query.clone()));
    map.insert(
        "content_type".into(),
        text(response.headers.get("content-type").map(String::as_str)),
    );
    map.insert("referer".into(), text(request.header("Referer")));
    map.insert("x_forwarded_for".into(), Value::String(forwarded));
    map.insert("user_agent".into(), text(request.header("User-Agent")));
    map.insert(
        "accept_language".into(),
        text(request.header("Accept-Language")),
    );
    map.insert(
        "x_analytics".into(),
        text(response.headers.get("x-analytics").map(String::as_str)),
    );
    map
}

/// The JSON field names a format declares (`@name`), in format order.
fn format_fields(format: &str) -> Vec<String> {
    format
        .split('@')
        .skip(1)
        .map(|rest| {
            rest.split(['!', '?', '}'])
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Whether the payload's keys appear in `fields` order (serde_json's map does not keep it).
fn keys_in_order(payload: &[u8], fields: &[String]) -> bool {
    let text = String::from_utf8_lossy(payload);
    let mut from = 0;
    fields
        .iter()
        .all(|field| match text[from..].find(&format!("\"{field}\":")) {
            Some(at) => {
                from += at + field.len();
                true
            }
            None => false,
        })
}

/// The request id a record carries in its query string (`?id=N...`).
fn record_id(record: &Value) -> Option<u64> {
    let query = record.get("uri_query")?.as_str()?;
    let rest = query.strip_prefix("?id=")?;
    rest.split('&').next()?.parse().ok()
}

/// UTC now as `%FT%T`, to bound the records' `dt`.
fn utc_now() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let days = (seconds / 86_400) as i64;
    let in_day = seconds % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian), independent of the
    // formats crate under test.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// A `%FT%T` timestamp: `YYYY-MM-DDTHH:MM:SS`, digits where digits belong.
fn is_iso_seconds(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 19
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        })
}

/// A run identifier as docs/records.md defines it: `YYYYMMDDTHHMMSSZ-xxxxxxxx`.
fn is_run_identifier(text: &str) -> bool {
    let Some((time, random)) = text.split_once('-') else {
        return false;
    };
    let time = time.as_bytes();
    time.len() == 16
        && time.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'T',
            15 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
        && random.len() == 8
        && random
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn u64_field(message: &Landed, name: &str) -> u64 {
    message.json[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} is not a number in {}", message.json))
}

/// A varnishd whose log records are as long as Varnish allows (`vsl_reclen`, 255 bytes by
/// default): varnishd cuts longer ones itself, silently, before any reader sees them, and
/// these tests compare fields with what the requests carried.
fn live_varnishd() -> Varnishd {
    Varnishd::builder()
        .param("vsl_reclen", "4084")
        .start()
        .expect("start varnishd")
}

/// Starts a broker with the test topic.
fn broker(topic: &str) -> Tansu {
    let tansu = Tansu::start().expect("start tansu (scripts/setup builds it)");
    tansu
        .create_topic(topic, PARTITIONS as u32)
        .expect("create the topic");
    tansu
}

#[test]
fn twenty_thousand_requests_land_once_each_in_order_in_the_hosts_partition() {
    const COUNT: u64 = 20_000;
    const TOPIC: &str = "webrequest_live";
    let varnishd = live_varnishd();
    let tansu = broker(TOPIC);
    let dir = ScratchDir::new("shipper-test-twenty-thousand").expect("a scratch directory");
    let mut lines = kafka_lines(&tansu.bootstrap(), TOPIC);
    lines.push("edgeship.heartbeat.interval = 2".to_owned());
    let config = dir
        .write("seed.conf", config_text(&dir, &seed_format(), &lines))
        .expect("write a test file");
    let mut edgeship = Edgeship::start_live(&dir, "edgeship", &config, varnishd.workdir(), &[]);

    let requests = varied_requests(0, COUNT);
    let before = utc_now();
    let responses = send_all(varnishd.addr(), &requests, 4);
    let after = utc_now();
    assert_eq!(responses.len() as u64, COUNT, "every request was answered");

    let mut reader = TopicReader::new(&tansu.bootstrap(), TOPIC);
    // Everything must have been read from the log before the stop: the reader stops reading
    // at SIGTERM, by design.
    reader.read_until_or(
        "all records",
        |m| records(m).count() as u64 >= COUNT,
        || {
            format!(
                "edgeship:\n{}\ntansu:\n{}",
                edgeship.stderr(),
                tansu.log_tail()
            )
        },
    );
    let status = edgeship.terminate();
    assert_eq!(status.code(), Some(0), "clean stop:\n{}", edgeship.stderr());
    reader.read_to_end(1);

    let expected_partition = partition_of(HOST, reader.partitions());
    assert_ne!(
        expected_partition, 0,
        "the host name is chosen so its partition is not the default partition 0"
    );
    for message in &reader.messages {
        assert_eq!(
            message.partition, expected_partition,
            "every message (records and heartbeats) in the partition of the key {HOST:?}: {}",
            message.json
        );
        assert_eq!(
            message.key.as_deref(),
            Some(HOST.as_bytes()),
            "keyed by host"
        );
        assert!(
            message.json.is_object(),
            "valid JSON: {:?}",
            message.payload
        );
    }

    let mut landed: Vec<&Landed> = records(&reader.messages).collect();
    landed.sort_by_key(|m| m.offset);
    assert_eq!(landed.len() as u64, COUNT, "exactly {COUNT} records");
    let sequences: Vec<u64> = landed.iter().map(|m| u64_field(m, "sequence")).collect();
    assert!(
        sequences.iter().copied().eq(0..COUNT),
        "sequence numbers contiguous from 0 and in offset order (first out of place at {:?})",
        sequences.iter().enumerate().find(|(i, s)| **s != *i as u64)
    );

    let by_id: BTreeMap<u64, &Request> = requests.iter().map(|r| (r.id, r)).collect();
    let fields = format_fields(&seed_format());
    assert_eq!(fields.len(), 18, "the seed names 18 fields: {fields:?}");
    let mut seen = BTreeSet::new();
    for message in &landed {
        let record = &message.json;
        assert!(
            keys_in_order(&message.payload, &fields),
            "fields in format order: {}",
            String::from_utf8_lossy(&message.payload)
        );
        let id = record_id(record).unwrap_or_else(|| panic!("no id in {record}"));
        assert!(seen.insert(id), "request {id} landed twice");
        let request = by_id[&id];
        let response = &responses[&id];
        let mut actual = record.as_object().expect("an object").clone();
        let dt = actual.remove("dt").expect("dt");
        let dt = dt.as_str().expect("dt is a string");
        assert!(
            is_iso_seconds(dt) && before.as_str() <= dt && dt <= after.as_str(),
            "dt {dt:?} is a %FT%T time between {before} and {after}"
        );
        let firstbyte = actual.remove("time_firstbyte").expect("time_firstbyte");
        assert!(
            firstbyte.as_f64().is_some_and(|t| t >= 0.0),
            "time_firstbyte is a number: {firstbyte}"
        );
        actual.remove("sequence");
        assert_eq!(
            Value::Object(actual),
            Value::Object(expected_seed_record(request, response)),
            "record of request {id}"
        );
        if let Some(asked) = request.path.strip_prefix("/status/") {
            assert_eq!(
                &asked[..3],
                response.status.to_string(),
                "varnishd answered as asked"
            );
        }
    }
    assert_eq!(seen.len() as u64, COUNT, "every request id once");

    // Heartbeats: the start one and the final one at least, same key and partition (checked
    // above), the final one accounting for everything.
    let beats: Vec<&Landed> = heartbeats(&reader.messages).collect();
    assert!(
        beats.len() >= 2,
        "start and final heartbeats: {}",
        beats.len()
    );
    let last = beats.iter().max_by_key(|m| m.offset).expect("a heartbeat");
    assert_eq!(last.json["final"], Value::Bool(true), "{}", last.json);
    assert!(last.offset > landed.last().expect("records").offset);
    assert_eq!(u64_field(last, "sequence_last"), COUNT - 1);
    assert_eq!(u64_field(last, "records_delivered"), COUNT);
    assert_eq!(u64_field(last, "undelivered_at_exit"), 0);
    drop(varnishd);
}

/// Sends varied requests over one keep-alive connection until `stop` is set; returns them.
fn keep_sending(addr: SocketAddr, first: u64, stop: &AtomicBool) -> Vec<Request> {
    let stream = TcpStream::connect(addr).expect("connect to varnishd");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a read timeout");
    stream.set_nodelay(true).expect("set TCP_NODELAY");
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut writer = stream;
    let mut sent = Vec::new();
    let mut next = first;
    while !stop.load(Ordering::Relaxed) {
        for request in varied_requests(next, 10) {
            let mut request = request;
            // Keep this connection open: no methods with bodies, no status that closes.
            request.method = "GET";
            request.body.clear();
            if request.path.starts_with("/status/") {
                request.path = format!("/steady/{}", request.id);
            }
            writer
                .write_all(&request.to_bytes())
                .expect("send a request");
            let response = read_response(&mut reader);
            assert_eq!(response.status, 200);
            sent.push(request);
        }
        next += 10;
        // A steady trickle rather than a flood: the point is traffic during the restart.
        std::thread::sleep(Duration::from_millis(5));
    }
    sent
}

#[test]
fn a_restart_mid_traffic_is_a_new_run_and_the_first_run_ends_with_its_final_heartbeat() {
    const TOPIC: &str = "webrequest_restart";
    const PER_RUN: usize = 300;
    let varnishd = live_varnishd();
    let tansu = broker(TOPIC);
    let dir = ScratchDir::new("shipper-test-restart").expect("a scratch directory");
    let format = format!("{} %{{Edgeship:run@run}}x", seed_format());
    let mut lines = kafka_lines(&tansu.bootstrap(), TOPIC);
    lines.push("edgeship.heartbeat.interval = 1".to_owned());
    let config = dir
        .write("run.conf", config_text(&dir, &format, &lines))
        .expect("write a test file");
    let mut reader = TopicReader::new(&tansu.bootstrap(), TOPIC);
    let stop = AtomicBool::new(false);

    let sent = std::thread::scope(|scope| {
        let mut first = Edgeship::start_live(&dir, "first", &config, varnishd.workdir(), &[]);
        let traffic = scope.spawn(|| keep_sending(varnishd.addr(), 0, &stop));
        reader.read_until("records of the first run", |m| {
            records(m).count() >= PER_RUN
        });
        // SIGTERM while requests keep arriving.
        let status = first.terminate();
        assert_eq!(status.code(), Some(0), "clean stop:\n{}", first.stderr());
        let first_run = records(&reader.messages)
            .next()
            .map(|m| m.json["run"].clone())
            .expect("a first-run record");

        let mut second = Edgeship::start_live(&dir, "second", &config, varnishd.workdir(), &[]);
        reader.read_until("records of the second run", |m| {
            records(m).filter(|r| r.json["run"] != first_run).count() >= PER_RUN
        });
        stop.store(true, Ordering::Relaxed);
        let sent = traffic.join().expect("the traffic thread");
        let status = second.terminate();
        assert_eq!(status.code(), Some(0), "clean stop:\n{}", second.stderr());
        sent
    });
    reader.read_to_end(2);

    let mut messages: Vec<&Landed> = reader.messages.iter().collect();
    messages.sort_by_key(|m| (m.partition, m.offset));
    let expected_partition = partition_of(HOST, reader.partitions());
    assert!(messages
        .iter()
        .all(|m| m.partition == expected_partition && m.key.as_deref() == Some(HOST.as_bytes())));

    // Runs in order of appearance in the partition.
    let mut runs: Vec<String> = Vec::new();
    for message in &messages {
        let run = message.json["run"].as_str().expect("a run").to_owned();
        if !runs.contains(&run) {
            runs.push(run);
        }
    }
    assert_eq!(runs.len(), 2, "two runs: {runs:?}");
    assert_ne!(runs[0], runs[1]);
    for run in &runs {
        assert!(is_run_identifier(run), "run identifier shape: {run}");
    }
    assert!(
        runs[0][..16] <= runs[1][..16],
        "run identifiers sort by start time"
    );

    let sent_ids: BTreeSet<u64> = sent.iter().map(|r| r.id).collect();
    let mut seen = BTreeSet::new();
    for (index, run) in runs.iter().enumerate() {
        let of_run: Vec<&&Landed> = messages.iter().filter(|m| &m.json["run"] == run).collect();
        let run_records: Vec<&&Landed> = of_run
            .iter()
            .copied()
            .filter(|m| !m.is_heartbeat())
            .collect();
        let run_beats: Vec<&&Landed> = of_run
            .iter()
            .copied()
            .filter(|m| m.is_heartbeat())
            .collect();
        assert!(
            run_records.len() >= PER_RUN,
            "run {index}: {}",
            run_records.len()
        );
        let sequences: Vec<u64> = run_records
            .iter()
            .map(|m| u64_field(m, "sequence"))
            .collect();
        assert!(
            sequences.iter().copied().eq(0..sequences.len() as u64),
            "run {index}: sequences contiguous from 0 in offset order"
        );
        for record in &run_records {
            let id = record_id(&record.json).expect("an id");
            assert!(sent_ids.contains(&id), "request {id} was sent");
            assert!(seen.insert(id), "request {id} landed twice (across runs)");
        }
        assert!(
            run_beats.len() >= 2,
            "run {index}: start and final heartbeats"
        );
        assert_eq!(run_beats[0].json["final"], Value::Bool(false));
        assert_eq!(
            run_beats[0].json["sequence_last"],
            Value::Null,
            "the start heartbeat"
        );
        let last = run_beats.last().expect("a heartbeat");
        assert_eq!(
            last.json["final"],
            Value::Bool(true),
            "run {index}: {}",
            last.json
        );
        assert!(last.offset > run_records.last().expect("records").offset);
        assert_eq!(
            u64_field(last, "sequence_last"),
            *sequences.last().expect("sequences"),
            "run {index}: the final heartbeat carries the last sequence"
        );
        assert_eq!(u64_field(last, "sequence_start"), 0);
        assert_eq!(u64_field(last, "undelivered_at_exit"), 0, "run {index}");
        assert_eq!(
            u64_field(last, "records_delivered"),
            run_records.len() as u64,
            "run {index}"
        );
        assert_eq!(u64_field(last, "delivery_failed"), 0);
        assert_eq!(u64_field(last, "delivery_failed_maybe_persisted"), 0);
        assert!(
            of_run.iter().all(|m| m.json["hostname"] == HOST),
            "run {index}: host"
        );
    }
    // The first run's messages all come before the second's.
    let first_end = messages
        .iter()
        .filter(|m| m.json["run"] == runs[0].as_str())
        .map(|m| m.offset)
        .max();
    let second_start = messages
        .iter()
        .filter(|m| m.json["run"] == runs[1].as_str())
        .map(|m| m.offset)
        .min();
    assert!(first_end < second_start);
    drop(varnishd);
}

/// Runs `edgeship -r FILE` to its end; returns its standard output.
fn replay(dir: &ScratchDir, label: &str, config: &std::path::Path, capture: &str) -> Vec<u8> {
    let mut edgeship = Edgeship::start(dir, label, config, &["-r", capture]);
    let status = edgeship.wait();
    assert_eq!(status.code(), Some(0), "{label}:\n{}", edgeship.stderr());
    edgeship.stdout()
}

#[test]
fn stdout_prints_byte_for_byte_the_records_kafka_gets_from_the_same_capture() {
    const TOPIC: &str = "webrequest_replay";
    const COUNT: u64 = 500;
    let varnishd = live_varnishd();
    let dir = ScratchDir::new("shipper-test-replay").expect("a scratch directory");
    let requests = varied_requests(1_000_000, COUNT);
    let responses = send_all(varnishd.addr(), &requests, 2);
    assert_eq!(responses.len() as u64, COUNT);

    // The capture: `varnishlog -d` dumps the whole log from its head, so nothing depends on
    // attaching in time. A request's last records can reach the log just after its answer,
    // so dump again until varnishlog itself sees every request in the file.
    let capture = dir.path().join("capture.vsl");
    let capture_str = capture.to_str().expect("UTF-8 path").to_owned();
    let deadline = std::time::Instant::now() + common::PATIENCE;
    loop {
        let dumped = Command::new("varnishlog")
            .arg("-d")
            .arg("-n")
            .arg(varnishd.workdir())
            .args(["-w", &capture_str])
            .status()
            .expect("run varnishlog");
        assert!(dumped.success(), "varnishlog -d -w failed");
        let listing = Command::new("varnishlog")
            .args(["-r", &capture_str, "-i", "ReqURL,End"])
            .output()
            .expect("run varnishlog -r");
        let text = String::from_utf8_lossy(&listing.stdout);
        let complete = text
            .lines()
            .filter(|l| l.contains("ReqURL") && l.contains("?id="))
            .count();
        if complete as u64 == COUNT {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the capture holds {complete} of {COUNT} requests"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(varnishd);

    let stdout_config = dir
        .write(
            "stdout.conf",
            config_text(&dir, &seed_format(), &["output = stdout".to_owned()]),
        )
        .expect("write a test file");
    let printed = replay(&dir, "stdout", &stdout_config, &capture_str);
    let printed: Vec<&[u8]> = printed
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter(|line| {
            serde_json::from_slice::<Value>(line)
                .map(|json| json.get("heartbeat") != Some(&Value::Bool(true)))
                .unwrap_or(true)
        })
        .collect();

    let tansu = broker(TOPIC);
    let kafka_config = dir
        .write(
            "kafka.conf",
            config_text(
                &dir,
                &seed_format(),
                &kafka_lines(&tansu.bootstrap(), TOPIC),
            ),
        )
        .expect("write a test file");
    replay(&dir, "kafka", &kafka_config, &capture_str);
    let mut reader = TopicReader::new(&tansu.bootstrap(), TOPIC);
    reader.read_to_end(1);
    let mut landed: Vec<&Landed> = records(&reader.messages).collect();
    landed.sort_by_key(|m| (m.partition, m.offset));
    let produced: Vec<&[u8]> = landed.iter().map(|m| m.payload.as_slice()).collect();

    let with_ids = produced
        .iter()
        .filter_map(|p| serde_json::from_slice::<Value>(p).ok())
        .filter_map(|json| record_id(&json))
        .collect::<BTreeSet<u64>>();
    assert_eq!(with_ids.len() as u64, COUNT, "every request of the capture");
    assert_eq!(printed.len(), produced.len(), "as many lines as messages");
    for (index, (line, message)) in printed.iter().zip(&produced).enumerate() {
        assert_eq!(
            line,
            message,
            "record {index} differs:\n stdout: {}\n kafka:  {}",
            String::from_utf8_lossy(line),
            String::from_utf8_lossy(message)
        );
    }
}

/// `edgeship --check-config -S path`: exit code and standard error.
fn check_config(path: &std::path::Path) -> (Option<i32>, String) {
    run_edgeship(&["--check-config".as_ref(), "-S".as_ref(), path.as_os_str()])
}

#[test]
fn check_config_reports_bad_keys_formats_and_kafka_properties_in_one_run() {
    // Problems found by three different checkers (the configuration reader, the format
    // compiler, librdkafka) come out together, in line order, so one run shows them all.
    let dir = ScratchDir::new("shipper-test-all-together").expect("a scratch directory");
    let text = "\
output = kafka
kafka.topic = webrequest
log.level = 9
format.type = json
format = %{@ok}s %{Host!bogus}i
kafka.compression.codec = zip
daemonize = false
";
    let path = dir.write("all.conf", text).expect("write a test file");
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(2), "{stderr}");
    let reported: Vec<&str> = stderr.lines().collect();
    let prefix = |line: usize| format!("{}:{line}: ", path.display());
    assert_eq!(reported.len(), 3, "{stderr}");
    assert!(
        reported[0].starts_with(&(prefix(3) + "log.level")),
        "{stderr}"
    );
    assert!(
        reported[1].starts_with(&(prefix(5) + "format col 15: unknown option !bogus")),
        "{stderr}"
    );
    assert!(
        reported[2].starts_with(&(prefix(6) + "kafka.compression.codec: librdkafka refused it")),
        "{stderr}"
    );
}

#[test]
fn check_config_accepts_the_production_and_example_fixtures() {
    for name in [
        "production-webrequest.conf",
        "varnishkafka-1.1-example.conf",
    ] {
        let path = fixture(name);
        let (code, stderr) = check_config(&path);
        assert_eq!(code, Some(0), "{name}:\n{stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("{}: configuration is valid", path.display()),
            "{name}"
        );
    }
}

#[test]
fn check_config_accepts_the_seed_and_gives_the_query_its_varnish_3_option_runs_as() {
    let path = fixture("seed-2013-varnishkafka.conf");
    let text = std::fs::read_to_string(&path).expect("read the seed");
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{path}:{line}: varnish.arg.m is Varnish 3's -m TAG:REGEX; it runs as the VSL query \
             ReqMethod ~ \"^(?!PURGE$)\"\n{path}: configuration is valid",
            path = path.display(),
            line = line_of(&text, "varnish.arg.m")
        )
    );
}

#[test]
fn check_config_reports_a_bad_query_with_its_line_and_column() {
    let dir = ScratchDir::new("shipper-test-bad-query").expect("a scratch directory");
    // The query ends after `or`: the column reported is the one just past its end.
    let query = "ReqMethod ne \"PURGE\" and not Timestamp:Pipe or";
    let (path, text) = broken_variant(&dir, "query.conf", &[&format!("varnish.arg.q = {query}")]);
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{}:{}: varnish.arg.q: column {}: expected a VSL tag name, got end of query",
            path.display(),
            line_of(&text, "varnish.arg.q"),
            query.len() + 1
        )
    );
    // On the command line: refused as a bad flag value, with the column.
    let (valid, _) = broken_variant(&dir, "valid.conf", &[]);
    let (code, stderr) = run_edgeship(&[
        "--check-config".as_ref(),
        "-S".as_ref(),
        valid.as_os_str(),
        "-q".as_ref(),
        "ReqURL ~ \"(\"".as_ref(),
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("-q: column 10: regular expression error"),
        "{stderr}"
    );
}

#[test]
fn check_config_reports_each_broken_line_as_path_line_message() {
    let dir = ScratchDir::new("shipper-test-broken").expect("a scratch directory");
    let (valid, _) = broken_variant(&dir, "valid.conf", &[]);
    let (code, stderr) = check_config(&valid);
    assert_eq!(
        code,
        Some(0),
        "the base of the variants is valid:\n{stderr}"
    );

    // (appended lines, the start of the line that must be reported, what the message says)
    let cases: &[(&[&str], &str, &str)] = &[
        (
            &["kafka.bogus.property = 1"],
            "kafka.bogus.property",
            "kafka.bogus.property: librdkafka refused it: No such configuration property: \
             \"bogus.property\"",
        ),
        (
            &["kafka.compression.codec = zip"],
            "kafka.compression.codec = zip",
            "kafka.compression.codec: librdkafka refused it: Invalid value \"(value not shown)\"",
        ),
        (
            // The 2013 unprefixed spelling is reported as written.
            &["compression.codec = zip"],
            "compression.codec",
            "compression.codec: librdkafka refused it: Invalid value \"(value not shown)\"",
        ),
        (
            // Not silently raised to acks=all: refused.
            &[
                "kafka.enable.idempotence = true",
                "kafka.topic.request.required.acks = lots",
            ],
            "kafka.topic.request.required.acks = lots",
            "kafka.topic.request.required.acks: librdkafka refused it",
        ),
        (
            &["kafka.topic.request.required.acks = lots"],
            "kafka.topic.request.required.acks = lots",
            "kafka.topic.request.required.acks: librdkafka refused it",
        ),
        (
            &["format = %{@hostname}l %{@x}Z"],
            "format = %{@hostname}l %{@x}Z",
            "format col 15: unknown formatter %Z",
        ),
        (
            &["format = %{@hostname}l %{Host@host"],
            "format = %{@hostname}l %{Host",
            "format col 15:",
        ),
    ];
    for (index, (broken, reported, message)) in cases.iter().enumerate() {
        // The format variants replace the base's format line (a key set twice with
        // different values is refused on its own).
        let (path, text) = if broken[0].starts_with("format =") {
            let text = config_text(
                &dir,
                broken[0].trim_start_matches("format = "),
                &kafka_lines("127.0.0.1:9", "webrequest_check"),
            );
            (
                dir.write(&format!("variant-{index}.conf"), &text)
                    .expect("write a test file"),
                text,
            )
        } else {
            broken_variant(&dir, &format!("variant-{index}.conf"), broken)
        };
        let (code, stderr) = check_config(&path);
        assert_eq!(code, Some(2), "{broken:?}:\n{stderr}");
        let expected = format!("{}:{}: {message}", path.display(), line_of(&text, reported));
        assert!(
            stderr.lines().count() == 1 && stderr.starts_with(&expected),
            "{broken:?}: expected one line starting with\n{expected}\ngot\n{stderr}"
        );
    }
}

#[test]
fn check_config_reports_several_bad_lines_together_in_line_order() {
    let dir = ScratchDir::new("shipper-test-several").expect("a scratch directory");
    // Problems of the file itself are all reported together.
    let (path, text) = broken_variant(
        &dir,
        "keys.conf",
        &["log.levle = 3", "daemonize = maybe", "tag.size.max = 0"],
    );
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(2), "{stderr}");
    let lines: Vec<String> = ["log.levle", "daemonize = maybe", "tag.size.max"]
        .iter()
        .map(|prefix| format!("{}:{}: ", path.display(), line_of(&text, prefix)))
        .collect();
    let reported: Vec<&str> = stderr.lines().collect();
    assert_eq!(reported.len(), 3, "{stderr}");
    for (got, expected) in reported.iter().zip(&lines) {
        assert!(got.starts_with(expected), "{got} starts with {expected}");
    }

    // A bad format and several bad librdkafka properties are all reported, in line order.
    let text = config_text(
        &dir,
        "%{@hostname}l %{@x}Z",
        &[
            kafka_lines("127.0.0.1:9", "webrequest_check"),
            vec![
                "kafka.bogus.property = 1".to_owned(),
                "kafka.compression.codec = zip".to_owned(),
            ],
        ]
        .concat(),
    );
    let path = dir
        .write("format-and-kafka.conf", &text)
        .expect("write a test file");
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(2), "{stderr}");
    let expected: Vec<String> = [
        ("format = ", "format col 15: unknown formatter %Z"),
        (
            "kafka.bogus.property",
            "kafka.bogus.property: librdkafka refused it",
        ),
        (
            "kafka.compression.codec = zip",
            "kafka.compression.codec: librdkafka refused it",
        ),
    ]
    .iter()
    .map(|(prefix, message)| format!("{}:{}: {message}", path.display(), line_of(&text, prefix)))
    .collect();
    let reported: Vec<&str> = stderr.lines().collect();
    assert_eq!(reported.len(), expected.len(), "{stderr}");
    for (got, expected) in reported.iter().zip(&expected) {
        assert!(
            got.starts_with(expected.as_str()),
            "{got}\nstarts with\n{expected}"
        );
    }
}

#[test]
fn an_invalid_kafka_property_stops_the_daemon_at_start_before_it_reads_the_log() {
    let varnishd = live_varnishd();
    let dir = ScratchDir::new("shipper-test-start-refused").expect("a scratch directory");
    let (path, text) = broken_variant(&dir, "daemon.conf", &["kafka.bogus.property = 1"]);
    let workdir = varnishd.workdir().to_str().expect("UTF-8").to_owned();
    // Not --check-config: the daemon itself, pointed at a live varnishd.
    let mut edgeship = Edgeship::start(&dir, "daemon", &path, &["-n", &workdir]);
    let status = edgeship.wait();
    let stderr = edgeship.stderr();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "{}:{}: kafka.bogus.property: librdkafka refused it",
            path.display(),
            line_of(&text, "kafka.bogus.property")
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("starting") && !stderr.contains("reading the Varnish log"),
        "it never started reading:\n{stderr}"
    );
}

#[test]
fn bad_input_is_shipped_and_counted_and_never_stops_the_daemon() {
    const TOPIC: &str = "webrequest_bad";
    const TAG_SIZE_MAX: usize = 256;
    // Long log records (see `live_varnishd`), and a long idle timeout so that varnishd keeps
    // waiting for a body that never comes.
    let varnishd = Varnishd::builder()
        .param("vsl_reclen", "4084")
        .param("timeout_idle", "60")
        .start()
        .expect("start varnishd");
    let tansu = broker(TOPIC);
    let dir = ScratchDir::new("shipper-test-bad-input").expect("a scratch directory");
    let mut lines = kafka_lines(&tansu.bootstrap(), TOPIC);
    lines.extend([
        format!("tag.size.max = {TAG_SIZE_MAX}"),
        "log.statistics.interval = 1".to_owned(),
        "edgeship.heartbeat.interval = 1".to_owned(),
    ]);
    let config = dir
        .write("bad.conf", config_text(&dir, &seed_format(), &lines))
        .expect("write a test file");
    // -T 1: a transaction open for a second is forced complete.
    let mut edgeship =
        Edgeship::start_live(&dir, "edgeship", &config, varnishd.workdir(), &["-T", "1"]);
    let addr = varnishd.addr();
    let mut reader = TopicReader::new(&tansu.bootstrap(), TOPIC);

    // Bytes 0x80-0xff (not UTF-8) in the URL and in header values: varnishd serves it and
    // logs the bytes as they came.
    let binary_agent = b"\x80\xff\xfe bad \xc3\x28 agent";
    let mut request =
        b"GET /bin\x80\xff/x?id=1&q=\xc3\x28 HTTP/1.1\r\nHost: bad.example\r\n".to_vec();
    request.extend_from_slice(b"User-Agent: ");
    request.extend_from_slice(binary_agent);
    request.extend_from_slice(b"\r\nReferer: tab\there\r\n\r\n");
    assert_eq!(raw_exchange(addr, &request), 200);
    // Control bytes in a header value and a byte >= 0x80 in a header name: varnishd answers
    // 400 and logs the transaction without the request's fields.
    assert_eq!(
        raw_exchange(
            addr,
            b"GET /ctl?id=2 HTTP/1.1\r\nHost: x\r\nUser-Agent: a\x01\x02\x1fb\r\n\r\n"
        ),
        400
    );
    assert_eq!(
        raw_exchange(
            addr,
            b"GET /name?id=3 HTTP/1.1\r\nHost: x\r\nX-\x80\xffBad: 1\r\n\r\n"
        ),
        400
    );
    // Headers far beyond tag.size.max (varnishd logs them whole, up to vsl_reclen).
    let long_referer = "R".repeat(3000);
    let long_agent = "U".repeat(1000);
    let huge = format!(
        "GET /huge?id=4 HTTP/1.1\r\nHost: huge.example\r\nUser-Agent: {long_agent}\r\n\
         Referer: {long_referer}\r\n\r\n"
    );
    assert_eq!(raw_exchange(addr, huge.as_bytes()), 200);
    // A request that never completes: a POST announcing more body than it sends. Its ~20 KB
    // of headers fill varnishd's per-worker log buffer (vsl_buffer, 4 KB) so its first records
    // reach the shared log while varnishd waits for the body; only -T can complete it.
    let mut hanging = TcpStream::connect(addr).expect("connect to varnishd");
    let padding: String = (0..10)
        .map(|i| format!("X-Pad-{i}: {}\r\n", "p".repeat(2000)))
        .collect();
    hanging
        .write_all(
            format!(
                "POST /never-completes?id=5 HTTP/1.1\r\nHost: slow.example\r\n{padding}\
                 Content-Length: 100\r\n\r\nabc"
            )
            .as_bytes(),
        )
        .expect("send the start of a request");

    let has =
        |messages: &[Landed], id: u64| records(messages).any(|m| record_id(&m.json) == Some(id));
    reader.read_until_or(
        "records of every bad request",
        |m| {
            [1, 4, 5].iter().all(|id| has(m, *id))
                && records(m)
                    .filter(|r| r.json["http_status"] == "400")
                    .count()
                    == 2
        },
        || edgeship.stderr(),
    );
    drop(hanging);
    assert!(edgeship.is_running(), "{}", edgeship.stderr());

    // Still running and still shipping.
    let normal = varied_requests(100, 1);
    send_all(addr, &normal, 1);
    reader.read_until("the normal request after the bad ones", |m| has(m, 100));
    assert!(edgeship.is_running(), "{}", edgeship.stderr());
    let status = edgeship.terminate();
    assert_eq!(status.code(), Some(0), "clean stop:\n{}", edgeship.stderr());
    reader.read_to_end(1);

    for message in &reader.messages {
        assert!(
            message.json.is_object(),
            "valid JSON: {:?}",
            message.payload
        );
    }
    let all: Vec<&Landed> = records(&reader.messages).collect();
    assert_eq!(
        all.len(),
        6,
        "one record per request, no more: {:#?}",
        all.iter().map(|m| &m.json).collect::<Vec<_>>()
    );
    let by_id = |id: u64| {
        let found: Vec<&Value> = all
            .iter()
            .filter(|m| record_id(&m.json) == Some(id))
            .map(|m| &m.json)
            .collect();
        assert_eq!(found.len(), 1, "one record for request {id}");
        found[0]
    };

    let binary = by_id(1);
    assert_eq!(binary["http_status"], "200");
    let agent = binary["user_agent"].as_str().expect("a string");
    assert!(
        agent.contains(" bad ") && agent.contains(" agent") && agent != "-",
        "non-UTF-8 bytes are escaped or replaced, the rest kept: {agent:?}"
    );
    assert!(binary["uri_path"]
        .as_str()
        .expect("a string")
        .starts_with("/bin"));
    assert_eq!(binary["referer"], "tab\there");

    for refused in all.iter().filter(|m| m.json["http_status"] == "400") {
        // What varnishd logged: no request line, no headers, so every field its default.
        assert_eq!(refused.json["uri_path"], "-", "{}", refused.json);
        assert_eq!(refused.json["hostname"], HOST);
    }

    let huge = by_id(4);
    for (field, header, sent) in [
        ("referer", "Referer: ", &long_referer),
        ("user_agent", "User-Agent: ", &long_agent),
    ] {
        let value = huge[field].as_str().expect("a string");
        assert!(
            sent.starts_with(value) && header.len() + value.len() == TAG_SIZE_MAX,
            "{field} cut at tag.size.max ({TAG_SIZE_MAX} bytes with its header name): {} bytes",
            value.len()
        );
    }

    let incomplete = by_id(5);
    assert_eq!(incomplete["http_method"], "POST");
    assert_eq!(incomplete["uri_path"], "/never-completes");
    assert_eq!(
        incomplete["http_status"], "-",
        "forced complete before any response"
    );

    let statistics = dir.path().join("stats.json");
    let classic = last_statistics(&statistics, "varnishkafka");
    assert!(classic["trunc"].as_u64() > Some(0), "{classic}");
    let own = last_statistics(&statistics, "edgeship");
    assert!(own["truncated_tags"].as_u64() > Some(0), "{own}");
    assert!(own["transactions_incomplete"].as_u64() > Some(0), "{own}");
    let last = heartbeats(&reader.messages)
        .max_by_key(|m| m.offset)
        .expect("heartbeats");
    assert_eq!(last.json["final"], true);
    assert!(
        last.json["transactions_incomplete"].as_u64() > Some(0),
        "{}",
        last.json
    );
    assert_eq!(u64_field(last, "records_delivered"), 6);
}
