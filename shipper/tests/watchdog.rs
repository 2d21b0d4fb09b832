//! systemd's supervision of the real `edgeship` binary, with a fake service manager: a Unix
//! datagram socket bound in a scratch directory and passed as `NOTIFY_SOCKET`, the way
//! sd_notify(3) clients are tested, and `WATCHDOG_USEC` set to a short interval. A real
//! varnishd serves traffic the whole time; edgeship ships it to tansu behind testkit's
//! pausable proxy, which cuts the broker off.
//!
//! The acceptance line of issue 15 is a time bound (the watchdog stops within the configured
//! interval of the cut), so this test asserts one: it is the interval itself, while the
//! judgement runs every half interval, which leaves half an interval for a loaded machine.

// clippy.toml lets tests unwrap; the helpers below are test code too.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{
    config_text, kafka_lines, raw_exchange, seed_format, Edgeship, TopicReader, PATIENCE,
};
use edgeship_testkit::proxy::Proxy;
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::tansu::Tansu;
use edgeship_testkit::varnishd::Varnishd;

const TOPIC: &str = "webrequest_watchdog";

/// `WatchdogSec=` as the test's service manager sets it.
const INTERVAL: Duration = Duration::from_secs(2);

/// The fake service manager's end: every notification received, with the time it arrived.
struct Manager {
    socket: UnixDatagram,
    received: Vec<(Instant, String)>,
}

impl Manager {
    fn bind(dir: &ScratchDir) -> (Manager, String) {
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a read timeout");
        let manager = Manager {
            socket,
            received: Vec::new(),
        };
        (manager, path.to_str().expect("a UTF-8 path").to_owned())
    }

    /// Receives until `until`; returns how many notifications were received before.
    fn receive_until(&mut self, until: Instant) -> usize {
        let start = self.received.len();
        let mut buffer = [0_u8; 4096];
        while Instant::now() < until {
            if let Ok(length) = self.socket.recv(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..length]).into_owned();
                self.received.push((Instant::now(), text));
            }
        }
        start
    }

    /// Receives until a notification after index `from` contains `assignment`; fails after
    /// [`PATIENCE`].
    fn wait_for(&mut self, from: usize, assignment: &str, edgeship: &Edgeship) {
        let deadline = Instant::now() + PATIENCE;
        while !self.has(from, assignment) {
            assert!(
                Instant::now() < deadline,
                "no {assignment} within {PATIENCE:?}; received {:#?}\n{}",
                self.texts(from),
                edgeship.stderr()
            );
            self.receive_until(Instant::now() + Duration::from_millis(200));
        }
    }

    fn has(&self, from: usize, assignment: &str) -> bool {
        self.count(from, assignment) > 0
    }

    /// Notifications from index `from` on that carry `assignment` as one of their lines.
    fn count(&self, from: usize, assignment: &str) -> usize {
        self.received[from..]
            .iter()
            .filter(|(_, text)| text.lines().any(|line| line == assignment))
            .count()
    }

    fn texts(&self, from: usize) -> Vec<&str> {
        self.received[from..]
            .iter()
            .map(|(_, text)| text.as_str())
            .collect()
    }
}

/// Requests to varnishd, one every 20 ms, until dropped.
struct Traffic {
    running: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(varnishd: &Varnishd) -> Traffic {
        let addr = varnishd.addr();
        let running = Arc::new(AtomicBool::new(true));
        let sent = Arc::new(AtomicU64::new(0));
        let (flag, count) = (Arc::clone(&running), Arc::clone(&sent));
        let thread = std::thread::spawn(move || {
            while flag.load(Ordering::Relaxed) {
                let id = count.fetch_add(1, Ordering::Relaxed);
                let request = format!("GET /watchdog?id={id} HTTP/1.1\r\nHost: test\r\n\r\n");
                raw_exchange(addr, request.as_bytes());
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Traffic {
            running,
            sent,
            thread: Some(thread),
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn the_watchdog_is_fed_while_records_are_delivered_and_starves_when_the_broker_is_cut() {
    let dir = ScratchDir::new("watchdog").unwrap();
    let varnishd = Varnishd::start().expect("start varnishd");
    let proxy = Proxy::bind().expect("a proxy for the broker");
    let tansu = Tansu::start_behind(&proxy).expect("start tansu (run scripts/setup)");
    tansu.create_topic(TOPIC, 1).expect("create the topic");
    let config = dir
        .write(
            "watchdog.conf",
            config_text(
                &dir,
                &seed_format(),
                &kafka_lines(&tansu.bootstrap(), TOPIC),
            ),
        )
        .unwrap();
    let (mut manager, notify_socket) = Manager::bind(&dir);
    let watchdog_usec = INTERVAL.as_micros().to_string();
    let mut edgeship = Edgeship::start_live_with_env(
        &dir,
        "edgeship",
        &config,
        varnishd.workdir(),
        &[],
        &[
            ("NOTIFY_SOCKET", notify_socket.as_str()),
            ("WATCHDOG_USEC", watchdog_usec.as_str()),
        ],
    );
    manager.wait_for(0, "READY=1", &edgeship);
    let traffic = Traffic::start(&varnishd);

    // Broker up: records land, and the watchdog is fed every half interval.
    let mut topic = TopicReader::new(&tansu.bootstrap(), TOPIC);
    topic.read_until("records while the broker is up", |landed| {
        common::records(landed).count() >= 20
    });
    let up = manager.receive_until(Instant::now() + 3 * INTERVAL);
    let fed = manager.count(up, "WATCHDOG=1");
    assert!(
        fed >= 2,
        "WATCHDOG=1 every half interval while shipping; received {:#?}",
        manager.texts(up)
    );

    // Broker cut, traffic still flowing: after at most one interval, no WATCHDOG=1 at all.
    let sent_at_cut = traffic.sent();
    proxy.pause();
    let cut = Instant::now();
    let after_grace = manager.receive_until(cut + INTERVAL);
    let starving = manager.receive_until(cut + 4 * INTERVAL);
    assert_eq!(
        manager.count(starving, "WATCHDOG=1"),
        0,
        "no WATCHDOG=1 from one interval after the cut on; received {:#?}",
        manager.texts(after_grace)
    );
    assert!(
        manager
            .texts(starving)
            .iter()
            .any(|text| text.contains("STATUS=stalled: records wait")),
        "the process is alive and says why it starves the watchdog; received {:#?}\n{}",
        manager.texts(starving),
        edgeship.stderr()
    );
    assert!(
        traffic.sent() > sent_at_cut + 50,
        "traffic kept flowing during the cut"
    );
    assert!(edgeship.is_running(), "{}", edgeship.stderr());

    // Broker back: deliveries resume and so does the watchdog.
    proxy.resume();
    manager.wait_for(starving, "WATCHDOG=1", &edgeship);

    drop(traffic);
    let stopping = manager.received.len();
    let status = edgeship.terminate();
    assert_eq!(status.code(), Some(0), "{}", edgeship.stderr());
    manager.receive_until(Instant::now() + Duration::from_millis(300));
    assert!(
        manager.has(stopping, "STOPPING=1"),
        "STOPPING=1 at shutdown; received {:#?}",
        manager.texts(stopping)
    );
    assert_eq!(manager.count(0, "READY=1"), 1, "READY=1 exactly once");
}

#[test]
fn daemonizing_under_systemd_is_refused_at_start() {
    let dir = ScratchDir::new("watchdog-daemonize").unwrap();
    let (config, _) = common::offline_config(&dir, "daemonize.conf", &[]);
    let (_manager, notify_socket) = Manager::bind(&dir);
    let output = std::process::Command::new(common::edgeship_binary())
        .arg("-S")
        .arg(&config)
        .arg("-D")
        .env("NOTIFY_SOCKET", &notify_socket)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run edgeship");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("under systemd (NOTIFY_SOCKET is set)"),
        "{stderr}"
    );
}
