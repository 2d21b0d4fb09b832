//! Signal handling: the first SIGTERM or SIGINT asks for a clean shutdown; a second one
//! exits at once; SIGHUP asks for the statistics file to be reopened. The handlers set the
//! [`Flags`] defined here; the pipeline only reads them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;

/// The exit code when a second signal cuts shutdown short.
pub const EXIT_IMMEDIATE: i32 = 130;

/// What the signal handlers have asked for.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// SIGTERM or SIGINT: shut down cleanly.
    terminate: Arc<AtomicBool>,
    /// SIGHUP: reopen the statistics file.
    reopen: Arc<AtomicBool>,
}

impl Flags {
    /// Whether a clean shutdown was asked for (it stays asked for).
    pub fn terminate_requested(&self) -> bool {
        self.terminate.load(Ordering::Relaxed)
    }

    /// Whether the statistics file should be reopened; answering clears the request.
    pub fn take_reopen(&self) -> bool {
        self.reopen.swap(false, Ordering::Relaxed)
    }
}

/// Installs the handlers and returns the flags they set.
pub fn install() -> std::io::Result<Flags> {
    let flags = Flags::default();
    for signal in [SIGTERM, SIGINT] {
        // Registered first, so it sees the flag as it was before this signal: already set
        // means this is the second signal.
        flag::register_conditional_shutdown(signal, EXIT_IMMEDIATE, Arc::clone(&flags.terminate))?;
        flag::register(signal, Arc::clone(&flags.terminate))?;
    }
    flag::register(SIGHUP, Arc::clone(&flags.reopen))?;
    Ok(flags)
}
