//! The Prometheus metrics server (`edgeship.metrics.address`, off by default): bound at
//! start-up, so an address that cannot be had stops the start with a clear error, then served
//! on its own thread for the life of the process. `exposition` says what the metrics are,
//! `server` speaks HTTP.

pub mod exposition;
pub mod server;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context as _;
use prometheus_client::registry::Registry;

use exposition::Exposition;
pub use exposition::RunInfo;

use crate::shared::Shared;

/// Binds `address`, at start-up, before the run is known (a resumed run is named by its
/// checkpoint once the log is open): [`start`] serves it then.
pub fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).with_context(|| {
        format!("cannot listen for Prometheus on {address} (edgeship.metrics.address)")
    })
}

/// Serves `GET /metrics` on `listener` (from [`bind`]) from `shared` on a thread of its own;
/// returns the address bound (the port chosen, for port 0).
pub fn start(
    listener: TcpListener,
    shared: Arc<Shared>,
    run: RunInfo,
) -> anyhow::Result<SocketAddr> {
    let bound = listener
        .local_addr()
        .context("the metrics server's address")?;
    let mut registry = Registry::with_prefix("edgeship");
    registry.register_collector(Box::new(Exposition::new(shared, run)));
    std::thread::Builder::new()
        .name("edgeship-metrics".to_owned())
        .spawn(move || server::serve(&listener, &registry))
        .context("cannot start the metrics server's thread")?;
    Ok(bound)
}

#[cfg(test)]
mod tests;
