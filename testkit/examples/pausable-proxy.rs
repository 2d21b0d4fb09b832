//! `pausable-proxy`: testkit's pausable loopback proxy ([`Proxy`]) as a process, for scripts
//! that cut a broker off the way the fault suite does (`benches/outage`): every connection
//! dropped and new ones closed at once, the broker itself untouched (its memory storage keeps
//! the topic).
//!
//! Usage: `pausable-proxy TARGET` (e.g. `127.0.0.1:9092`). It listens on a free loopback port
//! and prints `listening 127.0.0.1:PORT` on standard output; then it reads commands from
//! standard input, one a line: `pause`, `resume`. Each is acknowledged with a line
//! (`paused`, `resumed`) once done. End of input stops the proxy.
#![forbid(unsafe_code)]
// A command-line tool: its output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;
use std::process::ExitCode;

use edgeship_testkit::proxy::Proxy;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(target), None) = (args.next(), args.next()) else {
        eprintln!("usage: pausable-proxy TARGET_ADDRESS");
        return ExitCode::from(2);
    };
    let Ok(target) = target.parse::<SocketAddr>() else {
        eprintln!("pausable-proxy: {target:?} is not an address (HOST:PORT)");
        return ExitCode::from(2);
    };
    match run(target) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pausable-proxy: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(target: SocketAddr) -> std::io::Result<()> {
    let proxy = Proxy::bind()?;
    proxy.forward_to(target);
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening {}", proxy.addr())?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        let answer = match line?.trim() {
            "pause" => {
                proxy.pause();
                "paused"
            }
            "resume" => {
                proxy.resume();
                "resumed"
            }
            "" => continue,
            other => {
                eprintln!("pausable-proxy: unknown command {other:?} (pause or resume)");
                continue;
            }
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    // Dropping the proxy cuts every connection and stops accepting.
    Ok(())
}
