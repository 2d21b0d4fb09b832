//! Realistic client transactions, as Varnish 7 logs them for a busy Wikimedia-style text and
//! upload cache: long browser and app user agents, thirty-odd request headers and twenty
//! response headers (cookies, client hints, security policies), non-ASCII URLs and headers,
//! and the occasional Latin-1 byte a client sends where UTF-8 was expected.
//!
//! Generation is deterministic (testkit's seeded SplitMix64), so every run and every machine measures
//! the same bytes. The shapes follow what Varnish logs in a client transaction; the
//! proportions (hits, misses, status codes) are plausible, not measured.

use edgeship_formats::Tag;
use edgeship_testkit::random::SplitMix64;

/// One transaction's records in log order, as (tag, payload) pairs.
pub type Records = Vec<(Tag, Vec<u8>)>;

/// `count` different transactions, the same for the same `seed`.
pub fn realistic(count: usize, seed: u64) -> Vec<Records> {
    let mut random = SplitMix64::new(seed);
    // Requests start 10 to 90 µs apart, about 20,000 a second: a busy cache host, where many
    // records share a second (which matters to formats that print the time).
    let mut clock_micros = 1_795_000_000 * 1_000_000;
    (0..count)
        .map(|index| {
            clock_micros += 10 + random.below(80);
            transaction(&mut random, index as u64, clock_micros)
        })
        .collect()
}

/// The bytes the records hold, payloads only: what a plain copy of the record moves.
pub fn payload_bytes<P: AsRef<[u8]>>(records: &[(Tag, P)]) -> usize {
    records
        .iter()
        .map(|(_, payload)| payload.as_ref().len())
        .sum()
}

/// Transactions laid out the way Varnish's log holds them: every record in one buffer, in
/// order, each an 8-byte header, the payload, a NUL, padding to a 4-byte boundary. Rendering
/// reads payloads where the log has them, so a benchmark over separately allocated payloads
/// would measure the allocator's scattering rather than the renderer.
pub struct PackedLog {
    bytes: Vec<u8>,
    transactions: Vec<Vec<(Tag, std::ops::Range<usize>)>>,
}

impl PackedLog {
    /// Packs `transactions` one after the other.
    pub fn pack(transactions: &[Records]) -> PackedLog {
        let mut bytes = Vec::new();
        let transactions = transactions
            .iter()
            .map(|records| {
                records
                    .iter()
                    .map(|(tag, payload)| {
                        bytes.extend_from_slice(&[0; 8]);
                        let start = bytes.len();
                        bytes.extend_from_slice(payload);
                        bytes.push(0);
                        bytes.resize(bytes.len().next_multiple_of(4), 0);
                        (*tag, start..start + payload.len())
                    })
                    .collect()
            })
            .collect();
        PackedLog {
            bytes,
            transactions,
        }
    }

    /// The transactions, their payloads borrowed from the packed log.
    pub fn transactions(&self) -> Vec<Vec<(Tag, &[u8])>> {
        self.transactions
            .iter()
            .map(|records| {
                records
                    .iter()
                    .map(|(tag, range)| (*tag, &self.bytes[range.clone()]))
                    .collect()
            })
            .collect()
    }
}

/// Records under construction; `push` takes text or bytes.
struct Log(Records);

impl Log {
    fn push(&mut self, tag: Tag, payload: impl Into<Vec<u8>>) {
        self.0.push((tag, payload.into()));
    }
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
     Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 \
     (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B Build/UP1A.231005.007; wv) AppleWebKit/537.36 \
     (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 \
     [FB_IAB/FB4A;FBAV/460.0.0.48.109;]",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
     Version/17.4.1 Safari/605.1.15",
    "WikipediaApp/7.5.3 (iOS 17.4.1; Phone) \u{2013} Wikip\u{e9}dia en fran\u{e7}ais",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 13; Redmi Note 12 Pro+ 5G) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/123.0.6312.118 Mobile Safari/537.36 OPR/81.1.4292.78682",
    "\u{41e}\u{431}\u{43d}\u{43e}\u{432}\u{43b}\u{435}\u{43d}\u{438}\u{435}Bot/3.2 \
     (https://ru.wikipedia.org/wiki/\u{423}\u{447}\u{430}\u{441}\u{442}\u{43d}\u{438}\u{43a}:Bot; \
     operator@example.org) pywikibot/9.1.2 requests/2.31.0 Python/3.11.2",
    "python-requests/2.31.0",
];

/// (host, path, query or ""), with raw UTF-8 and percent-encoded titles mixed, as clients send
/// both.
const PAGES: &[(&str, &str, &str)] = &[
    ("en.wikipedia.org", "/wiki/Main_Page", ""),
    (
        "de.wikipedia.org",
        "/wiki/Stra%C3%9Fenbahn_M%C3%BCnchen",
        "",
    ),
    (
        "ru.wikipedia.org",
        "/wiki/\u{41c}\u{43e}\u{441}\u{43a}\u{432}\u{430}",
        "",
    ),
    ("ja.wikipedia.org", "/wiki/\u{6771}\u{4eac}\u{90fd}", ""),
    (
        "el.wikipedia.org",
        "/wiki/\u{395}\u{3bb}\u{3bb}\u{3ac}\u{3b4}\u{3b1}",
        "?oldid=123456",
    ),
    (
        "commons.wikimedia.org",
        "/w/index.php",
        "?title=Special:Search&search=caf%C3%A9+de+flore&fulltext=1&ns6=1",
    ),
    (
        "upload.wikimedia.org",
        "/wikipedia/commons/thumb/a/a9/Example.jpg/320px-Example.jpg",
        "",
    ),
    (
        "en.wikipedia.org",
        "/w/api.php",
        "?action=query&format=json&prop=extracts%7Cpageimages&titles=Albert_Einstein\
         &exintro=1&explaintext=1&piprop=thumbnail&pithumbsize=640&formatversion=2",
    ),
    (
        "en.m.wikipedia.org",
        "/wiki/Special:Search",
        "?search=zo\u{eb}+salda\u{f1}a&title=Special%3ASearch&ns0=1",
    ),
    ("www.wikidata.org", "/wiki/Q42", ""),
];

const ACCEPT_LANGUAGES: &[&str] = &[
    "en-US,en;q=0.9",
    "de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7",
    "ja,en-US;q=0.9,en;q=0.8",
    "ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7",
    "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5",
    "zh-CN,zh;q=0.9",
];

const CLIENT_IPS: &[&str] = &[
    "198.51.100.23",
    "203.0.113.77",
    "2001:db8:85a3::8a2e:370:7334",
    "192.0.2.201",
    "2001:db8:4006:812::200e",
];

/// The choices that shape one transaction, drawn before any record is written so that every
/// step below agrees on them (a MISS has a backend link, the Age header matches the accounting).
struct Shape {
    vxid: u64,
    /// The start time, in seconds.
    start: f64,
    host: &'static str,
    path: &'static str,
    query: &'static str,
    client_ip: &'static str,
    user_agent: &'static str,
    handling: &'static str,
    status: &'static str,
    method: &'static str,
    /// Seconds from the start to the first byte, and to the end of the response.
    first_byte: f64,
    total: f64,
    /// Response body and request header sizes, in bytes.
    body: u64,
    header_bytes: u64,
}

impl Shape {
    fn draw(random: &mut SplitMix64, index: u64, start_micros: u64) -> Shape {
        let (host, path, query) = *random.pick(PAGES);
        let client_ip = *random.pick(CLIENT_IPS);
        let user_agent = *random.pick(USER_AGENTS);
        let handling = *random.by_percent(&[(60, "HIT"), (25, "MISS"), (15, "PASS")]);
        let status =
            *random.by_percent(&[(80, "200"), (8, "304"), (4, "404"), (4, "301"), (4, "206")]);
        let method = *random.by_percent(&[(92, "GET"), (5, "POST"), (3, "HEAD")]);
        let first_byte = 0.000_05 + random.below(40_000) as f64 / 1e6;
        let total = first_byte + random.below(9_000) as f64 / 1e6;
        let body = 512 + random.below(180_000);
        let header_bytes = 600 + random.below(900);
        Shape {
            vxid: 1_000_000 + index * 3,
            start: start_micros as f64 / 1e6,
            host,
            path,
            query,
            client_ip,
            user_agent,
            handling,
            status,
            method,
            first_byte,
            total,
            body,
            header_bytes,
        }
    }
}

/// One transaction, record by record in Varnish's log order: the request as received, the
/// client's headers, the headers the VCL adds, the VCL's processing and the status, the
/// response headers, and the closing timestamp and accounting.
fn transaction(random: &mut SplitMix64, index: u64, start_micros: u64) -> Records {
    let shape = Shape::draw(random, index, start_micros);
    let mut log = Log(Records::with_capacity(96));
    request_line(&mut log, &shape, random);
    client_headers(&mut log, &shape, random);
    vcl_request_headers(&mut log, &shape, random);
    processing(&mut log, &shape);
    let age = response_headers(&mut log, &shape, random);
    closing(&mut log, &shape, age);
    log.0
}

/// Begin, the start and request timestamps, the client's address and the request line.
fn request_line(log: &mut Log, shape: &Shape, random: &mut SplitMix64) {
    let Shape {
        vxid,
        start,
        client_ip,
        ..
    } = *shape;
    log.push(Tag::Begin, format!("req {vxid} rxreq"));
    log.push(
        Tag::Timestamp,
        format!("Start: {start:.6} 0.000000 0.000000"),
    );
    log.push(
        Tag::ReqStart,
        format!("{client_ip} {} a0", 1024 + random.below(60_000)),
    );
    log.push(
        Tag::Timestamp,
        format!("Req: {:.6} 0.000012 0.000012", start + 0.000_012),
    );
    log.push(Tag::Other, "1 32768 0"); // Varnish's ReqStart neighbours: not read by formats
    log.push(Tag::ReqMethod, shape.method);
    log.push(Tag::ReqUrl, format!("{}{}", shape.path, shape.query));
    log.push(
        Tag::ReqProtocol,
        if random.percent(70) {
            "HTTP/2.0"
        } else {
            "HTTP/1.1"
        },
    );
}

/// The headers a browser sends: host, agent, the accept family, a referer most of the time,
/// cookies, client hints, and now and then a forwarded address, a conditional request or
/// credentials.
fn client_headers(log: &mut Log, shape: &Shape, random: &mut SplitMix64) {
    log.push(Tag::ReqHeader, format!("host: {}", shape.host));
    log.push(Tag::ReqHeader, format!("user-agent: {}", shape.user_agent));
    log.push(
        Tag::ReqHeader,
        "accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,\
         image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    );
    log.push(
        Tag::ReqHeader,
        format!("accept-language: {}", random.pick(ACCEPT_LANGUAGES)),
    );
    log.push(Tag::ReqHeader, "accept-encoding: gzip, deflate, br, zstd");
    if random.percent(70) {
        let (referer_host, referer_path, _) = *random.pick(PAGES);
        let referer = format!("referer: https://{referer_host}{referer_path}");
        let mut referer = referer.into_bytes();
        if random.percent(3) {
            // A client that sends Latin-1 where UTF-8 was expected: rendering must replace the
            // byte, not break the JSON.
            referer.extend_from_slice(b"?q=caf\xe9");
        }
        log.push(Tag::ReqHeader, referer);
    }
    log.push(Tag::ReqHeader, cookie(random));
    for hint in [
        "sec-ch-ua: \"Chromium\";v=\"124\", \"Microsoft Edge\";v=\"124\", \"Not-A.Brand\";v=\"99\"",
        "sec-ch-ua-mobile: ?0",
        "sec-ch-ua-platform: \"Windows\"",
        "sec-fetch-dest: document",
        "sec-fetch-mode: navigate",
        "sec-fetch-site: same-origin",
        "sec-fetch-user: ?1",
        "upgrade-insecure-requests: 1",
        "priority: u=0, i",
    ] {
        log.push(Tag::ReqHeader, hint);
    }
    if random.percent(30) {
        log.push(
            Tag::ReqHeader,
            format!(
                "X-Forwarded-For: {}, 10.20.0.{}",
                shape.client_ip,
                random.below(255)
            ),
        );
    }
    if random.percent(20) {
        log.push(
            Tag::ReqHeader,
            "if-modified-since: Sun, 22 Nov 2026 10:14:07 GMT",
        );
    }
    if random.percent(5) {
        log.push(Tag::ReqHeader, "authorization: Basic YWxpY2U6czNjcjN0");
    }
}

/// A cookie header with up to five session pairs of random hex identifiers.
fn cookie(random: &mut SplitMix64) -> String {
    let mut cookie = String::from("cookie: WMF-Last-Access=23-Nov-2026; ");
    cookie
        .push_str("WMF-Last-Access-Global=23-Nov-2026; GeoIP=DE:BY:M\u{fc}nchen:48.14:11.58:v4; ");
    for _ in 0..random.below(6) {
        cookie.push_str("enwikimwuser-sessionId=");
        random.hex(20, &mut cookie);
        cookie.push_str("; NetworkProbeLimit=0.001; centralauth_Session=");
        random.hex(32, &mut cookie);
        cookie.push_str("; ");
    }
    cookie.push_str("enwikiwmE-sessionTickTickCount=12");
    cookie
}

/// Headers the VCL adds or rewrites, logged after the client's own.
fn vcl_request_headers(log: &mut Log, shape: &Shape, random: &mut SplitMix64) {
    log.push(
        Tag::Other,
        "ReqUnset: accept-encoding: gzip, deflate, br, zstd",
    );
    log.push(Tag::ReqHeader, "Accept-Encoding: gzip");
    log.push(Tag::ReqHeader, format!("X-Client-IP: {}", shape.client_ip));
    log.push(Tag::ReqHeader, "X-Forwarded-Proto: https");
    log.push(
        Tag::ReqHeader,
        "X-Connection-Properties: H2=1; SSR=0; SSL=TLSv1.3; C=TLS_AES_256_GCM_SHA384; EC=X25519;",
    );
    let mut request_id = String::from("X-Request-Id: ");
    random.hex(32, &mut request_id);
    log.push(Tag::ReqHeader, request_id);
    log.push(Tag::ReqHeader, format!("X-Varnish: {}", shape.vxid));
}

/// The VCL's calls and returns, the cache hit or the backend fetch, the processing timestamp
/// and the response's protocol, status and reason.
fn processing(log: &mut Log, shape: &Shape) {
    let Shape {
        vxid,
        start,
        handling,
        first_byte,
        ..
    } = *shape;
    log.push(Tag::VclCall, "RECV");
    log.push(
        Tag::VclLog,
        "tls: vers=TLSv1.3;keyx=X25519;auth=ECDSA;ciph=AES-256-GCM-SHA384;prot=h2;sess=new",
    );
    log.push(Tag::Other, "hash"); // VCL_return
    log.push(Tag::VclCall, "HASH");
    log.push(Tag::Other, "lookup");
    if handling == "HIT" {
        log.push(
            Tag::Other,
            format!("{} 86211.341 10.000 0.000", vxid - 1_000),
        ); // Hit
    }
    log.push(Tag::VclCall, handling);
    log.push(Tag::Other, "deliver");
    if handling != "HIT" {
        log.push(Tag::Other, format!("{} fetch", vxid + 1)); // Link to the backend request
        log.push(
            Tag::Timestamp,
            format!(
                "Fetch: {:.6} {first_byte:.6} {first_byte:.6}",
                start + first_byte
            ),
        );
    }
    log.push(
        Tag::Timestamp,
        format!(
            "Process: {:.6} {first_byte:.6} {:.6}",
            start + first_byte,
            first_byte - 0.000_012
        ),
    );
    log.push(Tag::Other, "HTTP/1.1"); // RespProtocol
    log.push(Tag::RespStatus, shape.status);
    log.push(Tag::Other, "OK"); // RespReason
}

/// Twenty-odd response headers as a Wikimedia cache sends them (cache status, security
/// policies, reporting endpoints), the X-Analytics header and sometimes a cookie. Returns the
/// object's age, drawn here for the Age header, which the closing accounting repeats.
fn response_headers(log: &mut Log, shape: &Shape, random: &mut SplitMix64) -> u64 {
    let Shape {
        host,
        path,
        handling,
        body,
        client_ip,
        ..
    } = *shape;
    let content_type = if host.starts_with("upload") {
        "image/jpeg"
    } else if path.ends_with("api.php") {
        "application/json; charset=utf-8"
    } else {
        "text/html; charset=UTF-8"
    };
    let age = random.below(86_400);
    for header in [
        "date: Mon, 23 Nov 2026 14:03:22 GMT".to_string(),
        "server: mw1452.eqiad.wmnet".to_string(),
        format!("content-type: {content_type}"),
        format!("content-length: {body}"),
        "content-encoding: gzip".to_string(),
        "content-language: en".to_string(),
        "vary: Accept-Encoding,Cookie,Authorization".to_string(),
        "last-modified: Sun, 22 Nov 2026 10:14:07 GMT".to_string(),
        "cache-control: private, s-maxage=0, max-age=0, must-revalidate, no-transform".to_string(),
        format!("age: {age}"),
        format!("x-cache: cp1102 {}, cp3066 {}/{}", "miss", handling.to_ascii_lowercase(), 1 + age % 9),
        format!("x-cache-status: {}-front", handling.to_ascii_lowercase()),
        format!(
            "server-timing: cache;desc=\"{}-front\", host;desc=\"cp3066\"",
            handling.to_ascii_lowercase()
        ),
        "strict-transport-security: max-age=106384710; includeSubDomains; preload".to_string(),
        "report-to: { \"group\": \"wm_nel\", \"max_age\": 604800, \"endpoints\": \
         [{ \"url\": \"https://intake-logging.wikimedia.org/v1/events?stream=w3c.reportingapi.network_error&schema_uri=/w3c/reportingapi/network_error/1.0.0\" }] }"
            .to_string(),
        "nel: { \"report_to\": \"wm_nel\", \"max_age\": 604800, \"failure_fraction\": 0.05, \
         \"success_fraction\": 0.0}"
            .to_string(),
        "permissions-policy: interest-cohort=(),ch-ua-arch=(self \"intake-analytics.wikimedia.org\")"
            .to_string(),
        format!("x-client-ip: {client_ip}"),
        "x-content-type-options: nosniff".to_string(),
        "accept-ranges: bytes".to_string(),
    ] {
        log.push(Tag::RespHeader, header);
    }
    log.push(Tag::RespHeader, analytics(random));
    if random.percent(10) {
        log.push(
            Tag::RespHeader,
            "set-cookie: WMF-Last-Access=23-Nov-2026;Path=/;HttpOnly;secure;Expires=Fri, 25 Dec 2026 12:00:00 GMT"
                .to_string(),
        );
    }
    age
}

/// The X-Analytics header, with a non-ASCII value one time in ten.
fn analytics(random: &mut SplitMix64) -> String {
    let mut analytics = format!(
        "X-Analytics: ns=0;page_id={};rev_id={};WMF-Last-Access=23-Nov-2026;https=1;client_port={}",
        random.below(70_000_000),
        random.below(1_200_000_000),
        1024 + random.below(60_000)
    );
    if random.percent(10) {
        analytics.push_str(";translationengine=\u{5d2}\u{5d5}\u{5d2}\u{5dc}");
    }
    analytics
}

/// The response timestamp, the byte accounting (response headers sized by the object's `age`,
/// as the Age and X-Cache headers were) and End.
fn closing(log: &mut Log, shape: &Shape, age: u64) {
    let Shape {
        start,
        first_byte,
        total,
        body,
        header_bytes,
        ..
    } = *shape;
    log.push(
        Tag::Timestamp,
        format!(
            "Resp: {:.6} {total:.6} {:.6}",
            start + total,
            total - first_byte
        ),
    );
    log.push(
        Tag::ReqAcct,
        format!(
            "{header_bytes} 0 {header_bytes} {} {body} {}",
            380 + age % 300,
            body + 380 + age % 300
        ),
    );
    log.push(Tag::Other, String::new()); // End
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_keeps_every_record_and_aligns_like_the_log() {
        let transactions = realistic(8, 3);
        let packed = PackedLog::pack(&transactions);
        let borrowed = packed.transactions();
        assert_eq!(borrowed.len(), transactions.len());
        for (owned, borrowed) in transactions.iter().zip(&borrowed) {
            assert_eq!(owned.len(), borrowed.len());
            for ((tag, payload), (packed_tag, packed_payload)) in owned.iter().zip(borrowed) {
                assert_eq!((tag, payload.as_slice()), (packed_tag, *packed_payload));
                let offset = packed_payload.as_ptr() as usize - packed.bytes.as_ptr() as usize;
                assert_eq!(offset % 4, 0, "payloads start on a 4-byte boundary");
            }
        }
    }

    #[test]
    fn generation_is_deterministic_and_varied() {
        let first = realistic(64, 7);
        assert_eq!(first, realistic(64, 7));
        assert_ne!(first, realistic(64, 8));
        let distinct_urls: std::collections::HashSet<&[u8]> = first
            .iter()
            .flat_map(|records| records.iter())
            .filter(|(tag, _)| *tag == Tag::ReqUrl)
            .map(|(_, payload)| payload.as_slice())
            .collect();
        assert!(distinct_urls.len() > 5, "{distinct_urls:?}");
    }
}
