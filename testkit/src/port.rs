//! Free loopback ports for the processes the guards start.

use std::io;
use std::net::TcpListener;

/// A port the kernel just handed out as free on 127.0.0.1. Another process can take it before
/// ours binds it, so the guards that use it retry a start that fails.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}
