//! Errors of the log reader, and the one helper every libvarnishapi return code goes through.

use std::ffi::{c_char, c_int, CStr};
use std::path::PathBuf;

/// What can go wrong opening or reading the log. Log overruns and abandons are not errors:
/// they are [`crate::Event`]s and the reader recovers from them by itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A libvarnishapi call failed; `message` is the library's own diagnostic.
    #[error("{call} failed: {message}")]
    Varnish {
        /// The C function that failed.
        call: &'static str,
        /// Its diagnostic (`VSL_Error`, `VSM_Error`), or the return code when it had none.
        message: String,
    },
    /// The options cannot be honoured (e.g. the fast path with a query it cannot evaluate).
    #[error("invalid reader options: {0}")]
    Options(String),
    /// The VSL query (`-q`) does not parse.
    #[error("-q: {0}")]
    Query(#[from] edgeship_query::QueryError),
    /// A string option contains a NUL byte and cannot be handed to C.
    #[error("option {what} contains a NUL byte")]
    NulInOption {
        /// Which option.
        what: &'static str,
    },
    /// Reading a log file failed.
    #[error("cannot read the log file {path}: I/O error")]
    FileRead {
        /// The file given with `-r`.
        path: PathBuf,
    },
    /// libvarnishapi returned a status this crate does not know.
    #[error("{call} returned unexpected status {status}")]
    UnexpectedStatus {
        /// The C function.
        call: &'static str,
        /// Its return value.
        status: i32,
    },
}

/// How a libvarnishapi function reports success in its return value.
#[derive(Clone, Copy)]
pub(crate) enum Success {
    /// Zero or more is success (`VSM_Attach`, `VSQL_Dispatch`-style codes handled elsewhere).
    NonNegative,
    /// Exactly one is success (`VSM_Arg`, `VSL_Arg` "handled").
    One,
}

/// The one place a libvarnishapi integer return code is judged. `diagnostic` fetches the
/// library's error string (from the handle the call was made on) only when the call failed.
pub(crate) fn check(
    call: &'static str,
    rc: c_int,
    success: Success,
    diagnostic: impl FnOnce() -> Option<String>,
) -> Result<c_int, Error> {
    let ok = match success {
        Success::NonNegative => rc >= 0,
        Success::One => rc == 1,
    };
    if ok {
        return Ok(rc);
    }
    Err(Error::Varnish {
        call,
        message: diagnostic().unwrap_or_else(|| format!("returned {rc}")),
    })
}

/// The same judgement for calls that return a pointer, NULL meaning failure.
pub(crate) fn check_ptr<T>(
    call: &'static str,
    ptr: *mut T,
    diagnostic: impl FnOnce() -> Option<String>,
) -> Result<std::ptr::NonNull<T>, Error> {
    let rc = if ptr.is_null() { -1 } else { 0 };
    check(call, rc, Success::NonNegative, diagnostic)?;
    std::ptr::NonNull::new(ptr).ok_or(Error::Varnish {
        call,
        message: "returned NULL".to_owned(),
    })
}

/// Copies a C diagnostic string, trimming the newline libvarnishapi ends them with.
pub(crate) fn c_message(message: *const c_char) -> Option<String> {
    if message.is_null() {
        return None;
    }
    // SAFETY: libvarnishapi's error getters return a NUL-terminated string owned by the
    // handle, valid until the next call on it; we copy it out at once.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    let text = text.trim_end();
    if text.is_empty() {
        None
    } else {
        Some(text.to_owned())
    }
}
