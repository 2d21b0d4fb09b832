//! Real HTTP traffic for the fault scenarios: keep-alive connections sending GETs with unique
//! URLs (`/f/{fault}/{id}`) until told to stop, remembering which requests varnishd answered.
//!
//! A request that fails (varnishd restarting, a connection reset) is remembered as attempted
//! but not served: its record may or may not be in the log, so it is never garbage, and it is
//! not counted as served either. The client reconnects and goes on with new ids.

use std::collections::BTreeSet;
use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections sending at once.
const CONNECTIONS: u64 = 2;
/// Requests sent back to back before a short pause: a few thousand requests a second, enough
/// to have traffic in every gap without flooding a two-core machine.
const BURST: u64 = 10;
/// The pause after each burst, unless [`Traffic::pace`] says otherwise.
const GAP: Duration = Duration::from_millis(1);

/// What the clients sent.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Requests varnishd answered: the served requests.
    pub(crate) answered: BTreeSet<u64>,
    /// Requests sent without an answer (a connection failed under them).
    pub(crate) unanswered: BTreeSet<u64>,
}

/// Traffic running in the background until [`Traffic::stop`].
pub(crate) struct Traffic {
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    /// Clients between taking a burst and finishing it.
    busy: Arc<AtomicU64>,
    served: Arc<AtomicU64>,
    /// One more than the highest id any client has sent so far.
    issued: Arc<AtomicU64>,
    /// The pause after each burst, in microseconds.
    gap_micros: Arc<AtomicU64>,
    workers: Vec<JoinHandle<Sent>>,
}

impl Traffic {
    /// Starts sending to `addr`, URLs under `/f/{fault}/`.
    pub(crate) fn start(addr: SocketAddr, fault: &str) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(AtomicU64::new(0));
        let served = Arc::new(AtomicU64::new(0));
        let issued = Arc::new(AtomicU64::new(0));
        let gap_micros = Arc::new(AtomicU64::new(GAP.as_micros() as u64));
        let workers = (0..CONNECTIONS)
            .map(|worker| {
                let client = Client {
                    addr,
                    prefix: format!("/f/{fault}/"),
                    stop: Arc::clone(&stop),
                    paused: Arc::clone(&paused),
                    busy: Arc::clone(&busy),
                    served: Arc::clone(&served),
                    issued: Arc::clone(&issued),
                    gap_micros: Arc::clone(&gap_micros),
                    // Ids interleave: worker w sends w, w + CONNECTIONS, ...
                    next: worker,
                };
                std::thread::spawn(move || client.run())
            })
            .collect();
        Traffic {
            stop,
            paused,
            busy,
            served,
            issued,
            gap_micros,
            workers,
        }
    }

    /// Pauses `gap` after every burst from now on: a slower stream, for a scenario whose
    /// fault lasts long (a long outage at full speed is only more records to drain and read).
    pub(crate) fn pace(&self, gap: Duration) {
        self.gap_micros
            .store(gap.as_micros() as u64, Ordering::Relaxed);
    }

    /// Holds every client after its current burst and waits until none is mid-request.
    pub(crate) fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        while self.busy.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Lets the clients go on after [`Traffic::pause`].
    pub(crate) fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    /// How many requests were answered so far.
    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// The lowest id no client has sent yet: every request with this id or above is sent
    /// after this call.
    pub(crate) fn next_id(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    /// Waits until `more` further requests have been answered (bounded by the test's
    /// patience).
    pub(crate) fn wait_served(&self, more: u64) {
        let target = self.served() + more;
        let deadline = std::time::Instant::now() + crate::common::PATIENCE;
        while self.served() < target {
            assert!(
                std::time::Instant::now() < deadline,
                "varnishd answered {} of {target} requests in time",
                self.served()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops every client and returns what they sent.
    pub(crate) fn stop(mut self) -> Sent {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Sent::default();
        for worker in std::mem::take(&mut self.workers) {
            let sent = worker.join().expect("a traffic thread");
            all.answered.extend(sent.answered);
            all.unanswered.extend(sent.unanswered);
        }
        all
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        // A failing test stops its clients too (their threads end at the next request).
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Client {
    addr: SocketAddr,
    prefix: String,
    stop: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    busy: Arc<AtomicU64>,
    served: Arc<AtomicU64>,
    issued: Arc<AtomicU64>,
    gap_micros: Arc<AtomicU64>,
    next: u64,
}

impl Client {
    fn run(mut self) -> Sent {
        let mut sent = Sent::default();
        let mut connection: Option<(TcpStream, BufReader<TcpStream>)> = None;
        while !self.stop.load(Ordering::Relaxed) {
            self.busy.fetch_add(1, Ordering::SeqCst);
            if self.paused.load(Ordering::SeqCst) {
                self.busy.fetch_sub(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            self.burst(&mut connection, &mut sent);
            self.busy.fetch_sub(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_micros(
                self.gap_micros.load(Ordering::Relaxed),
            ));
        }
        sent
    }

    /// One burst of requests on the open connection (opened first if need be).
    fn burst(
        &mut self,
        connection: &mut Option<(TcpStream, BufReader<TcpStream>)>,
        sent: &mut Sent,
    ) {
        let (stream, reader) = match connection.as_mut() {
            Some(open) => open,
            None => match connect(self.addr) {
                Ok(open) => connection.insert(open),
                Err(_) => {
                    // varnishd is restarting: try again shortly.
                    std::thread::sleep(Duration::from_millis(20));
                    return;
                }
            },
        };
        for _ in 0..BURST {
            let id = self.next;
            self.next += CONNECTIONS;
            self.issued.fetch_max(id + 1, Ordering::SeqCst);
            match exchange(stream, reader, &format!("{}{id}", self.prefix)) {
                Ok(()) => {
                    sent.answered.insert(id);
                    self.served.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    sent.unanswered.insert(id);
                    *connection = None;
                    break;
                }
            }
        }
    }
}

fn connect(addr: SocketAddr) -> io::Result<(TcpStream, BufReader<TcpStream>)> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    let reader = BufReader::new(stream.try_clone()?);
    Ok((stream, reader))
}

/// Sends one GET and reads its answer (status 200, a Content-Length body).
fn exchange(
    stream: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    url: &str,
) -> io::Result<()> {
    stream.write_all(format!("GET {url} HTTP/1.1\r\nHost: faults.test\r\n\r\n").as_bytes())?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("HTTP/1.1 200") {
        return Err(io::Error::other(format!("unexpected answer {line:?}")));
    }
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().map_err(io::Error::other)?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)
}

/// One request on a connection of its own (the marker that closes a scenario's traffic).
pub(crate) fn get_once(addr: SocketAddr, url: &str) -> io::Result<()> {
    let (mut stream, mut reader) = connect(addr)?;
    exchange(&mut stream, &mut reader, url)
}
