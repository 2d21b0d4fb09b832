//! One owner per libvarnishapi handle: `VSL_data`, `vsm`, `VSL_cursor` and `VSLQ`, each freed
//! by its `Drop`. Raw pointers stay inside these types and the crate.

use std::ffi::{c_int, CString};
use std::ptr::NonNull;

use crate::error::{c_message, check, check_ptr, Error, Success};
use crate::ffi::{self, sys};

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
pub(crate) struct Cursor {
    ptr: NonNull<sys::VSL_cursor>,
    /// Over the live ring, opened with `VSL_COPT_BATCH` (its units are batches), rather than
    /// over a file (its units are single records).
    live: bool,
    /// Over the live ring from its oldest safe records, which start a segment
    /// (`vslc_vsm_reset`), rather than from the tail (somewhere inside the writer's segment).
    from_head: bool,
}

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
        cursor.map(|ptr| Self {
            ptr,
            live: true,
            from_head: !tail,
        })
    }

    /// A cursor over a file written by `varnishlog -w`.
    pub(crate) fn file(vsl: &VslData, path: &std::path::Path) -> Result<Self, Error> {
        let name = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::NulInOption { what: "-r" })?;
        // SAFETY: the context is alive; the name is only read during the call.
        let ptr = unsafe { sys::VSL_CursorFile(vsl.as_ptr(), name.as_ptr(), 0) };
        check_ptr("VSL_CursorFile", ptr, || vsl.error()).map(|ptr| Self {
            ptr,
            live: false,
            from_head: false,
        })
    }

    /// Whether the cursor reads the live ring (in batch mode) rather than a file.
    pub(crate) fn is_live(&self) -> bool {
        self.live
    }

    /// Whether the cursor reads the live ring from its oldest safe records: its first record
    /// is then the first of a segment.
    pub(crate) fn starts_a_segment(&self) -> bool {
        self.from_head
    }

    /// Advances to the next record (or batch): the [`Unit`] the cursor now points at, or why
    /// there is none.
    #[inline]
    pub(crate) fn advance(&mut self) -> Result<Advance<'_>, Error> {
        // SAFETY: we own the cursor.
        let status = unsafe { sys::VSL_Next(self.ptr.as_ptr()) };
        match Next::from_status("VSL_Next", status)? {
            Next::More => {
                // SAFETY: we own the cursor; `rec` is a plain field of the public struct, and
                // after `vsl_more` it points at a complete record (or batch).
                let rec = unsafe { (*self.ptr.as_ptr()).rec };
                Ok(Advance::Unit(Unit { cursor: self, rec }))
            }
            stop => Ok(Advance::Stop(stop)),
        }
    }

    /// `VSL_Check` for a pointer this cursor handed out.
    pub(crate) fn check(&self, ptr: &sys::VSLC_ptr) -> Validity {
        // SAFETY: we own the cursor; VSL_Check only compares the pointer with the log head.
        let verdict = unsafe { sys::VSL_Check(self.ptr.as_ptr(), ptr) };
        match verdict {
            sys::vsl_check::vsl_check_valid => Validity::Valid,
            sys::vsl_check::vsl_check_warn => Validity::Warning,
            sys::vsl_check::vsl_check_e_notsupp => Validity::NotSupported,
            _ => Validity::Invalid,
        }
    }

    /// Hands the cursor to C (`VSLQ_New` / `VSLQ_SetCursor` take ownership).
    pub(crate) fn into_raw(self) -> *mut sys::VSL_cursor {
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        ptr
    }
}

impl Drop for Cursor {
    fn drop(&mut self) {
        // SAFETY: we own the cursor (it was not handed to a VSLQ).
        unsafe { sys::VSL_DeleteCursor(self.ptr.as_ptr()) }
    }
}

/// What [`Cursor::advance`] found.
pub(crate) enum Advance<'c> {
    /// The cursor points at a record (or, on the live ring, a batch).
    Unit(Unit<'c>),
    /// Anything else `VSL_Next` reported (never [`Next::More`]).
    Stop(Next),
}

/// The record, or on the live ring the batch of records, a cursor points at after `VSL_Next`
/// reported more. Only [`Cursor::advance`] makes one, and it borrows the cursor, which
/// therefore cannot move on while the unit is held: what the unit points at is complete and
/// readable for its whole lifetime, and whether it may be a batch is the cursor's to say.
#[derive(Clone, Copy)]
pub(crate) struct Unit<'c> {
    cursor: &'c Cursor,
    rec: sys::VSLC_ptr,
}

/// What a [`Unit`] holds.
pub(crate) enum Contents {
    /// One record, by its first header word.
    Record(*const u32),
    /// The records of a batch from the live ring.
    Batch(BatchRecords),
    /// A batch header read from a file: its records follow one by one, as units of their own.
    BatchHeader,
}

impl<'c> Unit<'c> {
    /// The cursor the unit came from.
    #[inline(always)]
    pub(crate) fn cursor(&self) -> &'c Cursor {
        self.cursor
    }

    /// The unit's position in the log, as `VSL_Check` takes it.
    #[inline(always)]
    pub(crate) fn position(&self) -> sys::VSLC_ptr {
        self.rec
    }

    /// `VSL_Check` for this unit's position.
    pub(crate) fn check(&self) -> Validity {
        self.cursor.check(&self.rec)
    }

    /// What the unit holds: a record, the records of a batch, or a batch header alone.
    #[inline(always)]
    pub(crate) fn contents(&self) -> Contents {
        let ptr = self.rec.ptr;
        // SAFETY: a unit's header word is readable (see the type).
        let word0 = unsafe { *ptr };
        if ffi::vsl_tag(word0) != ffi::SLT_BATCH {
            Contents::Record(ptr)
        } else if self.cursor.live {
            // SAFETY: on the live ring (batch mode) a batch unit is the whole batch, readable
            // where the cursor found it.
            unsafe { Contents::Batch(BatchRecords::new(ptr)) }
        } else {
            Contents::BatchHeader
        }
    }

    /// The bytes of the record the unit points at (of a batch, its header), header words
    /// included.
    pub(crate) fn record_bytes(&self) -> &'c [u8] {
        let ptr = self.rec.ptr;
        // SAFETY: the record is complete and readable while the unit borrows the cursor
        // ('c); its length comes from its own header word.
        unsafe {
            let words = ffi::vsl_next_words(*ptr);
            std::slice::from_raw_parts(ptr.cast::<u8>(), words * std::mem::size_of::<u32>())
        }
    }
}

/// The records of a batch from the live ring, front to back, by their first header words
/// (`vsl_int.h`: a batch header, whose second word is the enclosed byte length, then the
/// enclosed records one after the other).
pub(crate) struct BatchRecords {
    /// The next record's first word.
    next: *const u32,
    /// One past the batch's last word.
    end: *const u32,
}

impl BatchRecords {
    /// The records of the batch whose header is at `batch`.
    ///
    /// # Safety
    /// `batch` must point at a complete batch record, readable as long as the walk is used.
    #[inline(always)]
    unsafe fn new(batch: *const u32) -> BatchRecords {
        // SAFETY: a batch record's second word is its enclosed byte length, the enclosed
        // records start right after the header, and the whole batch is readable (per the
        // caller).
        unsafe {
            BatchRecords {
                next: batch.add(ffi::VSL_OVERHEAD),
                end: batch.add(ffi::vsl_batch_words(*batch.add(1))),
            }
        }
    }
}

impl Iterator for BatchRecords {
    type Item = *const u32;

    #[inline(always)]
    fn next(&mut self) -> Option<*const u32> {
        if self.next >= self.end {
            return None;
        }
        let record = self.next;
        // SAFETY: `record` is within the batch and starts a complete record, so the next one
        // starts within the batch or at its end.
        self.next = unsafe { record.add(ffi::vsl_next_words(*record)) };
        Some(record)
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

    /// Gives the query a cursor to read (it takes ownership).
    pub(crate) fn set_cursor(&mut self, cursor: Cursor) {
        let mut raw = cursor.into_raw();
        // SAFETY: we own the query; VSLQ_SetCursor takes the cursor (deleting any previous
        // one) and sets `raw` to NULL.
        unsafe { sys::VSLQ_SetCursor(self.0.as_ptr(), &mut raw) }
    }

    /// Deletes the query's cursor.
    pub(crate) fn clear_cursor(&mut self) {
        // SAFETY: we own the query; with NULL, VSLQ_SetCursor just deletes the current cursor.
        unsafe { sys::VSLQ_SetCursor(self.0.as_ptr(), std::ptr::null_mut()) }
    }
}

impl Drop for Vslq {
    fn drop(&mut self) {
        let mut ptr = self.0.as_ptr();
        // SAFETY: we own the query; it deletes the cursor it owns.
        unsafe { sys::VSLQ_Delete(&mut ptr) }
    }
}
