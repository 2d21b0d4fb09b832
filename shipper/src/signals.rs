//! Signal handling: the first SIGTERM or SIGINT asks for a clean shutdown; a second one
//! exits at once; SIGHUP asks for the statistics file to be reopened.

use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;

use crate::pipeline::Flags;

/// The exit code when a second signal cuts shutdown short.
pub const EXIT_IMMEDIATE: i32 = 130;

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
