//! A loopback TCP proxy that can cut a connection's far end on demand: the broker outage of
//! the fault tests, without stopping the broker (whose memory storage would lose the topic).
//!
//! [`Proxy::bind`] listens on 127.0.0.1 with an ephemeral port; [`Proxy::forward_to`] names
//! the address it forwards to (set once the broker behind it is up: see
//! `Tansu::start_behind`). [`Proxy::pause`] drops every open connection and then accepts and
//! closes new ones at once, as a broker that went away would; [`Proxy::resume`] forwards again.
//! The connections cut by a pause stay cut: clients reconnect after the resume, as they must
//! after a real broker's restart. (A network partition, where packets vanish and connections
//! hang until the client's own timeouts, is a different fault this proxy does not model.)
//! Clients must be told the proxy's address, not the broker's (the broker advertises it), or
//! they reconnect around the cut.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// What the accepting thread and the guard share.
#[derive(Debug, Default)]
struct State {
    /// Where connections go (unset: they are closed at once).
    target: Mutex<Option<SocketAddr>>,
    /// While set, nothing is forwarded.
    paused: AtomicBool,
    /// Set when the guard is dropped: the accepting thread ends.
    closed: AtomicBool,
    /// Both ends of every forwarded connection, so a pause can cut them.
    open: Mutex<Vec<TcpStream>>,
}

impl State {
    fn target(&self) -> Option<SocketAddr> {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cut_all(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for stream in open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A running proxy; stops accepting and cuts every connection when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on a free loopback port; nothing is forwarded until [`Proxy::forward_to`].
    pub fn bind() -> io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let acceptor = std::thread::spawn(move || accept(&listener, &shared));
        Ok(Proxy {
            addr,
            state,
            acceptor: Some(acceptor),
        })
    }

    /// The proxy's own address: what clients (and the broker's advertised listener) use.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forwards new connections to `target`.
    pub fn forward_to(&self, target: SocketAddr) {
        *self
            .state
            .target
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(target);
    }

    /// Cuts every open connection and closes new ones at once until [`Proxy::resume`].
    pub fn pause(&self) {
        self.state.paused.store(true, Ordering::SeqCst);
        self.state.cut_all();
    }

    /// Forwards new connections again.
    pub fn resume(&self) {
        self.state.paused.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.state.cut_all();
        // Wake the accepting thread so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(listener: &TcpListener, state: &Arc<State>) {
    for client in listener.incoming() {
        if state.closed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if state.paused.load(Ordering::SeqCst) {
            continue; // dropped: closed at once
        }
        let Some(target) = state.target() else {
            continue;
        };
        let Ok(server) = TcpStream::connect(target) else {
            continue;
        };
        let _ = forward(client, server, state);
    }
}

/// Copies both ways on two threads, registering every end so a pause can cut it.
fn forward(client: TcpStream, server: TcpStream, state: &State) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    {
        let mut open = state.open.lock().unwrap_or_else(PoisonError::into_inner);
        // A pause between the accepting thread's look at the flag and here would miss this
        // connection and let it forward through the outage. `pause` sets the flag before it
        // takes this lock to cut, so looking again while holding the lock closes the gap.
        if state.paused.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return Ok(());
        }
        open.push(client.try_clone()?);
        open.push(server.try_clone()?);
    }
    let (client_in, server_out) = (client.try_clone()?, server.try_clone()?);
    std::thread::spawn(move || pipe(client_in, server_out));
    std::thread::spawn(move || pipe(server, client));
    Ok(())
}

/// Copies until either side ends, then ends both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Duration;

    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let addr = listener.local_addr().expect("an address");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = stream.try_clone().expect("clone");
                    let mut writer = stream;
                    let _ = io::copy(&mut reader, &mut writer);
                });
            }
        });
        addr
    }

    fn round_trip(addr: SocketAddr) -> io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"ping")?;
        let mut answer = vec![0; 4];
        stream.read_exact(&mut answer)?;
        Ok(answer)
    }

    #[test]
    fn forwards_cuts_while_paused_and_forwards_again() {
        let proxy = Proxy::bind().expect("a proxy");
        proxy.forward_to(echo_server());
        assert_eq!(round_trip(proxy.addr()).expect("forwarded"), b"ping");

        let mut open = TcpStream::connect(proxy.addr()).expect("connect");
        open.write_all(b"ping").expect("send");
        let mut answer = [0; 4];
        open.read_exact(&mut answer).expect("an answer");
        proxy.pause();
        let mut rest = Vec::new();
        assert!(
            matches!(open.read_to_end(&mut rest), Ok(0) | Err(_)),
            "an open connection is cut"
        );
        assert!(round_trip(proxy.addr()).is_err(), "new ones are closed");

        proxy.resume();
        assert_eq!(round_trip(proxy.addr()).expect("forwarded again"), b"ping");
    }
}
