//! The capture the differential test reads: a varnishd started for the test with a VCL that
//! makes queries differ (purges answered with synth, restarts, websocket upgrades piped to
//! varnishd itself, synth 404 and 503 answers, ESI, `std.log` lines), raw traffic that
//! exercises it (repeated and oddly cased headers, malformed request lines, numeric-looking
//! headers with garbage, long URLs, the statsv and eventlogging beacons), and the whole log
//! written with `varnishlog -d -g raw -w` into the test's scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use edgeship_testkit::http;
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::varnishd::Varnishd;

/// varnishd is its own backend (`${PORT}`): requests it sends itself carry `X-Internal` and
/// are answered by `vcl_synth` with status 700 turned into 200, so pipes and ESI fetches need
/// no other listener. Everything else is decided by the URL, method and headers.
const VCL: &str = r#"vcl 4.1;
import std;

backend default { .host = "127.0.0.1"; .port = "${PORT}"; }

sub vcl_recv {
    if (req.http.X-Internal) {
        return (synth(700));
    }
    std.log("recv: " + req.url);
    if (req.http.X-Num) {
        std.log("num: " + req.http.X-Num);
    }
    if (req.method == "PURGE") {
        return (synth(204, "Purged"));
    }
    if (req.http.Upgrade ~ "(?i)websocket") {
        return (pipe);
    }
    if (req.url ~ "^/restart" && req.restarts == 0) {
        std.log("restarting");
        return (restart);
    }
    if (req.url ~ "^/missing") {
        return (synth(404));
    }
    if (req.url ~ "^/error") {
        return (synth(503));
    }
    if (req.url ~ "^/(esi|pass)/") {
        return (pass);
    }
    return (synth(200));
}

sub vcl_pipe {
    set bereq.http.X-Internal = "pipe";
    set bereq.http.Connection = "close";
}

sub vcl_backend_fetch {
    set bereq.http.X-Internal = "fetch";
}

sub vcl_backend_response {
    if (bereq.url == "/esi/page") {
        set beresp.do_esi = true;
    }
}

sub vcl_synth {
    if (resp.status == 700) {
        set resp.status = 200;
        if (req.url == "/esi/page") {
            set resp.body = {"<html><esi:include src="/esi/fragment"/></html>"};
        } else {
            set resp.body = "internal " + req.url;
        }
        set resp.http.Connection = "close";
        return (deliver);
    }
    set resp.http.Content-Type = "text/plain";
    set resp.body = "answer " + req.url;
    return (deliver);
}
"#;

/// The URL of the last request sent: once it is in the log, so is the traffic before it.
const LAST_URL: &str = "/edgeship-differential-last";

/// A capture file in its own scratch directory (removed on drop).
pub(crate) struct Capture {
    _dir: ScratchDir,
    /// The `varnishlog -w` file.
    pub(crate) file: PathBuf,
}

/// Starts varnishd, sends [`traffic`], waits until the last request is logged and writes the
/// whole log to a file. varnishd is stopped before this returns.
pub(crate) fn record() -> Capture {
    let varnishd = Varnishd::builder()
        .vcl(VCL)
        .start()
        .expect("start varnishd");
    for request in traffic() {
        // The answer does not matter (the log is what is compared), but every request must
        // have been answered or given up on before the next, so the log holds them all.
        http::exchange(varnishd.addr(), &request, Duration::from_secs(5)).unwrap_or_else(|error| {
            panic!("send {:?}: {error}", String::from_utf8_lossy(&request))
        });
    }
    let dir = ScratchDir::new("query-differential").expect("scratch directory");
    let file = dir.path().join("capture.vsl");
    wait_for_last_request(&varnishd, &file);
    Capture { _dir: dir, file }
}

/// Captures the log until the last request is in it (varnishd answers before it logs), then
/// once more a moment later for the session records that follow it.
fn wait_for_last_request(varnishd: &Varnishd, file: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        write_log(varnishd, file);
        let found = Command::new("varnishlog")
            .arg("-r")
            .arg(file)
            .args(["-g", "vxid", "-q", &format!("ReqURL eq \"{LAST_URL}\"")])
            .output()
            .expect("run varnishlog -r");
        if !found.stdout.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{LAST_URL} never reached the log:\n{}",
            varnishd.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    write_log(varnishd, file);
}

fn write_log(varnishd: &Varnishd, file: &Path) {
    varnishd
        .write_log(file)
        .unwrap_or_else(|error| panic!("capture {}: {error}", file.display()));
}

/// One request with `Connection: close` and these extra header lines.
fn request(method: &str, url: &str, headers: &[&str]) -> Vec<u8> {
    let mut bytes = format!("{method} {url} HTTP/1.1\r\nHost: test.example\r\n").into_bytes();
    for header in headers {
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"Connection: close\r\n\r\n");
    bytes
}

/// The traffic, in sending order. Each entry is one connection's bytes.
fn traffic() -> Vec<Vec<u8>> {
    let mut all = vec![
        request("GET", "/wiki/Main_Page", &["User-Agent: Mozilla/5.0"]),
        request("GET", "/wiki/Special:Search?search=caf%C3%A9&go=Go", &[]),
        request("HEAD", "/static/logo.png", &["Accept: image/*"]),
        request("OPTIONS", "*", &[]),
        request("DELETE", "/items/7?force=1", &[]),
        request("PURGE", "/wiki/Main_Page", &[]),
        request("PURGE", "/static/logo.png", &["X-Num: 3"]),
        // Not a purge to VCL (methods are case-sensitive) nor to `eq "PURGE"`.
        request("purge", "/lowercase", &[]),
        request("PURGEX", "/prefix", &[]),
        request("GET", "/restart/once", &["X-Num: 1"]),
        request("GET", "/restart/twice?x=1", &[]),
        request(
            "GET",
            "/ws/chat",
            &["Upgrade: websocket", "Connection: Upgrade"],
        ),
        request("GET", "/ws/odd", &["upgrade: WebSocket"]),
        request("GET", "/ws/upper", &["UPGRADE: WEBSOCKET"]),
        request("GET", "/h2c", &["Upgrade: h2c"]),
        request("GET", "/missing/page", &["X-Foo: a", "X-Foo: b"]),
        request("GET", "/missing/other", &["x-foo: C", "X-FOO: d", "X-Foo:"]),
        request("GET", "/error/backend", &["X-Num: 503"]),
        request("GET", "/esi/page", &[]),
        request("GET", "/pass/through?a=1", &["Cookie: session=1"]),
        request("GET", "/num/a", &["X-Num: 12abc"]),
        request("GET", "/num/b", &["X-Num: 3.5"]),
        request("GET", "/num/c", &["X-Num: -7"]),
        request("GET", "/num/d", &["X-Num: 42"]),
        request("GET", "/num/e", &["X-Num:  7 8"]),
        request("GET", "/num/f", &["X-Num: 0x10"]),
        request("GET", "/num/g", &["X-Num: 1e3"]),
        request("GET", "/num/h", &["X-Num: abc"]),
        request("GET", "/num/i", &["X-Num: 99999999999999999999999"]),
        request("GET", "/num/j", &["X-Num: -0.25", "X-Num: 12"]),
        request("GET", "/num/k", &["X-Num: .5e1x"]),
        request("GET", "/beacon/statsv?MediaViewer.duration=120ms", &[]),
        request("GET", "/beacon/statsv", &[]),
        request("GET", "/beacon/statsvx?a=1", &[]),
        request("GET", "/beacon/event?%7B%22schema%22%3A1%7D", &[]),
        request("GET", "/event.gif?e=1", &[]),
        request("GET", "/beacon/event.gif?e=2", &[]),
        request("GET", "/event?e=3", &[]),
        request("GET", "/eventXgif?e=4", &[]),
        request("GET", "/beacon/events?e=5", &[]),
        request("GET", "/Beacon/statsv?upper=1", &[]),
        request(
            "POST",
            "/w/api.php",
            &["Content-Type: text/plain", "Content-Length: 0"],
        ),
        request("GET", "/agent", &["User-Agent: Mozilla/5.0 (iPod; CPU)"]),
        request("GET", "/name", &["X-Name: caf\u{e9}", "X-Empty:"]),
        // A request line in HTTP/1.0, and no Host header.
        b"GET /old HTTP/1.0\r\n\r\n".to_vec(),
        // Two requests on one connection (the second closes it).
        b"GET /keepalive/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /keepalive/2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec(),
        // Malformed request lines: HttpGarbage.
        b"GARBAGE\x01 / HTTP/1.1 extra\r\nHost: t\r\n\r\n".to_vec(),
        b"GET  HTTP/1.1\r\n\r\n".to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
    ];
    // Long URLs: one near a record's length limit (vsl_reclen) and one well over it.
    for length in [200, 4000] {
        let url = format!("/long/{}?q={}", "a".repeat(length), "b".repeat(8));
        all.push(request("GET", &url, &["X-Long: yes"]));
    }
    all.push(request("GET", LAST_URL, &[]));
    all
}
