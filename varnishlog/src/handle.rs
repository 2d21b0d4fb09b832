//! One owner per libvarnishapi handle: `VSL_data`, `vsm`, `VSL_cursor` and `VSLQ`, each freed
//! by its `Drop`. Raw pointers stay inside these types and the crate.

use std::ffi::{c_int, CString};
use std::ptr::NonNull;

use crate::error::{c_message, check, check_ptr, Error, Success};
use crate::ffi::sys;

/// Owns a `struct VSL_data` (the log API context: options, diagnostics).
pub(crate) struct VslData(NonNull<sys::VSL_data>);

impl VslData {
    pub(crate) fn new() -> Result<Self, Error> {
        // SAFETY: VSL_New takes no arguments and returns a new context or NULL.
        let ptr = unsafe { sys::VSL_New() };
        check_ptr("VSL_New", ptr, || None).map(Self)
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::VSL_data {
        self.0.as_ptr()
    }

    /// The context's latest diagnostic.
    pub(crate) fn error(&self) -> Option<String> {
        // SAFETY: the context is alive; the returned string is copied at once.
        c_message(unsafe { sys::VSL_Error(self.0.as_ptr()) })
    }

    pub(crate) fn reset_error(&self) {
        // SAFETY: the context is alive.
        unsafe { sys::VSL_ResetError(self.0.as_ptr()) }
    }

    /// `VSL_Arg`: one of the standard log-reader options (`-T`, `-L`, ...).
    pub(crate) fn arg(&self, option: u8, value: &str) -> Result<(), Error> {
        let value = CString::new(value).map_err(|_| Error::NulInOption { what: "VSL_Arg" })?;
        // SAFETY: the context is alive; the value outlives the call (VSL_Arg parses it and
        // keeps no pointer to it).
        let rc = unsafe { sys::VSL_Arg(self.0.as_ptr(), c_int::from(option), value.as_ptr()) };
        check("VSL_Arg", rc, Success::One, || self.error()).map(|_| ())
    }
}

impl Drop for VslData {
    fn drop(&mut self) {
        // SAFETY: we own the context; every cursor and query made from it is dropped first
        // (field order in `Reader`).
        unsafe { sys::VSL_Delete(self.0.as_ptr()) }
    }
}

/// Owns a `struct vsm` (the attachment to a varnishd instance's shared memory).
pub(crate) struct Vsm(NonNull<sys::vsm>);

impl Vsm {
    /// A handle for the instance named `instance` (a name or a directory, like `-n`).
    pub(crate) fn new(instance: Option<&str>) -> Result<Self, Error> {
        // SAFETY: VSM_New takes no arguments and returns a new handle or NULL.
        let ptr = unsafe { sys::VSM_New() };
        let vsm = check_ptr("VSM_New", ptr, || None).map(Self)?;
        if let Some(instance) = instance {
            vsm.arg(b'n', instance)?;
        }
        Ok(vsm)
    }

    fn error(&self) -> Option<String> {
        // SAFETY: the handle is alive; the string is copied at once.
        c_message(unsafe { sys::VSM_Error(self.0.as_ptr()) })
    }

    pub(crate) fn arg(&self, option: u8, value: &str) -> Result<(), Error> {
        let value = CString::new(value).map_err(|_| Error::NulInOption { what: "VSM_Arg" })?;
        // SAFETY: the handle is alive; VSM_Arg copies what it keeps.
        let rc =
            unsafe { sys::VSM_Arg(self.0.as_ptr(), option as std::ffi::c_char, value.as_ptr()) };
        check("VSM_Arg", rc, Success::One, || self.error()).map(|_| ())
    }

    /// `VSM_Attach`: finds the instance's shared memory, waiting up to its `-t` timeout.
    pub(crate) fn attach(&self) -> Result<(), Error> {
        // SAFETY: the handle is alive; -1 means "no progress output".
        let rc = unsafe { sys::VSM_Attach(self.0.as_ptr(), -1) };
        let result = check("VSM_Attach", rc, Success::NonNegative, || self.error()).map(|_| ());
        if result.is_err() {
            // SAFETY: the handle is alive.
            unsafe { sys::VSM_ResetError(self.0.as_ptr()) };
        }
        result
    }

    /// `VSM_Status`: refreshes the view of the instance's segments and reports changes.
    pub(crate) fn status(&self) -> u32 {
        // SAFETY: the handle is alive.
        unsafe { sys::VSM_Status(self.0.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::vsm {
        self.0.as_ptr()
    }
}

impl Drop for Vsm {
    fn drop(&mut self) {
        let mut ptr = self.0.as_ptr();
        // SAFETY: we own the handle; cursors made from it are dropped before it.
        unsafe { sys::VSM_Destroy(&mut ptr) }
    }
}

/// Owns a `struct VSL_cursor` over the live log or a file.
pub(crate) struct Cursor(NonNull<sys::VSL_cursor>);

/// What `VSL_Next` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// The cursor points at a record (or, with batch mode, a batch).
    More,
    /// No more records for now (live log).
    End,
    /// End of the file.
    Eof,
    /// varnishd went away (restart) and the log was abandoned.
    Abandon,
    /// The reader fell behind and the ring was overwritten under it.
    Overrun,
    /// A read error on the file.
    Io,
}

impl Next {
    pub(crate) fn from_status(call: &'static str, status: c_int) -> Result<Next, Error> {
        use sys::vsl_status as s;
        Ok(match status {
            s::vsl_more => Next::More,
            s::vsl_end => Next::End,
            s::vsl_e_eof => Next::Eof,
            s::vsl_e_abandon => Next::Abandon,
            s::vsl_e_overrun => Next::Overrun,
            s::vsl_e_io => Next::Io,
            other => {
                return Err(Error::UnexpectedStatus {
                    call,
                    status: other,
                })
            }
        })
    }
}

/// `VSL_Check`'s verdict on whether a pointer into the log is still safe to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    /// The cursor cannot tell (a file read through a reused buffer).
    NotSupported,
    /// Overwritten, or about to be.
    Invalid,
    /// Still valid, but the writer is getting close.
    Warning,
    /// Safe.
    Valid,
}

impl Cursor {
    /// A cursor over a live instance's log, starting at the tail (newest records) or at the
    /// oldest safe point, returning batches rather than single records.
    pub(crate) fn vsm(vsl: &VslData, vsm: &Vsm, tail: bool) -> Result<Self, Error> {
        let mut options = sys::VSL_COPT_BATCH;
        if tail {
            options |= sys::VSL_COPT_TAIL;
        }
        // SAFETY: both handles are alive; the cursor maps the log segment itself and is
        // dropped before either handle.
        let ptr = unsafe { sys::VSL_CursorVSM(vsl.as_ptr(), vsm.as_ptr(), options) };
        let cursor = check_ptr("VSL_CursorVSM", ptr, || vsl.error());
        if cursor.is_err() {
            vsl.reset_error();
        }
        cursor.map(Self)
    }

    /// A cursor over a file written by `varnishlog -w`.
    pub(crate) fn file(vsl: &VslData, path: &std::path::Path) -> Result<Self, Error> {
        let name = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::NulInOption { what: "-r" })?;
        // SAFETY: the context is alive; the name is only read during the call.
        let ptr = unsafe { sys::VSL_CursorFile(vsl.as_ptr(), name.as_ptr(), 0) };
        check_ptr("VSL_CursorFile", ptr, || vsl.error()).map(Self)
    }

    /// Advances to the next record (or batch).
    #[inline]
    pub(crate) fn next(&mut self) -> Result<Next, Error> {
        // SAFETY: we own the cursor.
        let status = unsafe { sys::VSL_Next(self.0.as_ptr()) };
        Next::from_status("VSL_Next", status)
    }

    /// The record the cursor points at (valid after `next` returned `More`).
    #[inline]
    pub(crate) fn record(&self) -> sys::VSLC_ptr {
        // SAFETY: we own the cursor; `rec` is a plain field of the public struct.
        unsafe { (*self.0.as_ptr()).rec }
    }

    /// `VSL_Check` for a pointer this cursor handed out.
    pub(crate) fn check(&self, ptr: &sys::VSLC_ptr) -> Validity {
        // SAFETY: we own the cursor; VSL_Check only compares the pointer with the log head.
        let verdict = unsafe { sys::VSL_Check(self.0.as_ptr(), ptr) };
        match verdict {
            sys::vsl_check::vsl_check_valid => Validity::Valid,
            sys::vsl_check::vsl_check_warn => Validity::Warning,
            sys::vsl_check::vsl_check_e_notsupp => Validity::NotSupported,
            _ => Validity::Invalid,
        }
    }

    /// Hands the cursor to C (`VSLQ_New` / `VSLQ_SetCursor` take ownership).
    pub(crate) fn into_raw(self) -> *mut sys::VSL_cursor {
        let ptr = self.0.as_ptr();
        std::mem::forget(self);
        ptr
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        // SAFETY: we own the cursor (it was not handed to a VSLQ).
        unsafe { sys::VSL_DeleteCursor(self.0.as_ptr()) }
    }
}

/// Owns a `struct VSLQ` (Varnish's own transaction grouping and query evaluation).
pub(crate) struct Vslq(NonNull<sys::VSLQ>);

impl Vslq {
    pub(crate) fn new(
        vsl: &VslData,
        grouping: sys::VSL_grouping_e::Type,
        query: Option<&str>,
    ) -> Result<Self, Error> {
        let query = query
            .map(CString::new)
            .transpose()
            .map_err(|_| Error::NulInOption { what: "-q" })?;
        let query_ptr = query.as_ref().map_or(std::ptr::null(), |q| q.as_ptr());
        // SAFETY: the context is alive and outlives the query (field order in `Reader`); no
        // cursor yet (set later with `set_cursor`); the query string is compiled during the
        // call and not kept.
        let ptr = unsafe { sys::VSLQ_New(vsl.as_ptr(), std::ptr::null_mut(), grouping, query_ptr) };
        check_ptr("VSLQ_New", ptr, || vsl.error()).map(Self)
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::VSLQ {
        self.0.as_ptr()
    }

    /// Gives the query a cursor to read (it takes ownership), or none.
    pub(crate) fn set_cursor(&mut self, cursor: Option<Cursor>) {
        let mut raw = cursor.map_or(std::ptr::null_mut(), Cursor::into_raw);
        // SAFETY: we own the query; VSLQ_SetCursor takes the cursor (deleting any previous
        // one) and sets `raw` to NULL; with NULL it just drops the current cursor.
        unsafe {
            if raw.is_null() {
                sys::VSLQ_SetCursor(self.0.as_ptr(), std::ptr::null_mut());
            } else {
                sys::VSLQ_SetCursor(self.0.as_ptr(), &mut raw);
            }
        }
    }
}

impl Drop for Vslq {
    fn drop(&mut self) {
        let mut ptr = self.0.as_ptr();
        // SAFETY: we own the query; it deletes the cursor it owns.
        unsafe { sys::VSLQ_Delete(&mut ptr) }
    }
}
