//! The VSLQ path: Varnish's own grouping and query evaluation (`VSLQ_Dispatch`) as an engine,
//! with a C callback that hands client request transactions to the visitor.
//!
//! Records are borrowed exactly as `VSLQ` lends them: pointers into the ring or into its own
//! transaction buffers, valid until the callback returns. The callback catches panics, parks
//! them, stops the dispatch, and the panic is resumed after the C call has returned.

use std::any::Any;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::engine::Engine;
use crate::error::Error;
use crate::ffi::{self, sys};
use crate::handle::{Cursor, Next, VslData, Vslq};
use crate::options::{Grouping, Options, ReadPath};
use crate::position::Resume;
use crate::record::{decode, ForceReason, Location, Reason, RequestTransaction, SYNTH_END};
use crate::visit::Delivery;

/// Returned by the callback after a panic: distinct from 0 ("continue") and from every
/// `vsl_status` value, so `VSLQ_Dispatch` passes it back unchanged.
const PANICKED: c_int = 0x7e57;

/// What the callback needs; lives on the stack of [`VslqPath::call`] for one C call.
struct Context<'o, 'v> {
    out: &'o mut Delivery<'v>,
    records: &'o mut Vec<Location>,
    panic: Option<Box<dyn Any + Send + 'static>>,
}

/// `VSLQ_Dispatch` and `VSLQ_Flush`, which take the same arguments.
type DispatchFn = unsafe extern "C" fn(*mut sys::VSLQ, sys::VSLQ_dispatch_f, *mut c_void) -> c_int;

/// The VSLQ path's state. One per reader, built once.
pub(crate) struct VslqPath {
    /// Owns its cursor once attached.
    vslq: Vslq,
    attached: bool,
    /// The lent transaction's kept records, reused.
    records: Vec<Location>,
}

impl VslqPath {
    /// Sets `-T` and `-L` on the reader's VSL context and compiles the query with the
    /// options' grouping.
    pub(crate) fn new(vsl: &VslData, options: &Options) -> Result<VslqPath, Error> {
        vsl.arg(b'T', &format!("{}", options.timeout.as_secs_f64()))?;
        vsl.arg(b'L', &options.limit.to_string())?;
        let grouping = match options.grouping {
            Grouping::Vxid => sys::VSL_grouping_e::VSL_g_vxid,
            Grouping::Request => sys::VSL_grouping_e::VSL_g_request,
        };
        Ok(VslqPath {
            vslq: Vslq::new(vsl, grouping, options.query.as_deref())?,
            attached: false,
            records: Vec::new(),
        })
    }

    /// Runs `function` (`VSLQ_Dispatch` or `VSLQ_Flush`) once with the callback, and resumes
    /// a panic the callback caught.
    fn call(&mut self, out: &mut Delivery<'_>, function: DispatchFn) -> c_int {
        let mut context = Context {
            out,
            records: &mut self.records,
            panic: None,
        };
        let context_ptr: *mut Context<'_, '_> = &mut context;
        // SAFETY: we own the query; `context` outlives the call and is only reached through
        // the callback's `priv` argument during it.
        let status = unsafe {
            function(
                self.vslq.as_ptr(),
                Some(callback),
                context_ptr.cast::<c_void>(),
            )
        };
        if let Some(panic) = context.panic.take() {
            std::panic::resume_unwind(panic);
        }
        status
    }
}

impl Engine for VslqPath {
    fn path(&self) -> ReadPath {
        ReadPath::Vslq
    }

    fn attached(&self) -> bool {
        self.attached
    }

    fn install(&mut self, cursor: Cursor) {
        self.vslq.set_cursor(cursor);
        self.attached = true;
    }

    fn step(&mut self, out: &mut Delivery<'_>, budget: usize) -> Result<Next, Error> {
        let status = loop {
            let status = self.call(out, sys::VSLQ_Dispatch);
            if status != sys::vsl_status::vsl_more || out.yielded >= budget {
                break status;
            }
        };
        match status {
            sys::vsl_status::vsl_more => Ok(Next::More),
            sys::vsl_status::vsl_end => Ok(Next::End),
            other => Next::from_status("VSLQ_Dispatch", other),
        }
    }

    fn flush(&mut self, out: &mut Delivery<'_>) {
        let _status = self.call(out, sys::VSLQ_Flush);
    }

    fn resume(&mut self, _resume: Resume) -> bool {
        // VSLQ lends no segment numbers with its transactions.
        false
    }

    fn detach(&mut self) {
        self.vslq.clear_cursor();
        self.attached = false;
    }
}

/// The `VSLQ_dispatch_f` callback.
unsafe extern "C" fn callback(
    _vsl: *mut sys::VSL_data,
    transactions: *const *mut sys::VSL_transaction,
    context: *mut c_void,
) -> c_int {
    // SAFETY: `context` is the `Context` that `VslqPath::call` passed, alive for the whole C call,
    // and nothing else touches it meanwhile.
    let context = unsafe { &mut *context.cast::<Context<'_, '_>>() };
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: VSLQ passes a NULL-terminated array of transactions valid for this call.
        unsafe { handle(context, transactions) }
    }));
    match result {
        Ok(()) => 0,
        Err(panic) => {
            context.panic = Some(panic);
            PANICKED
        }
    }
}

/// Hands every client request transaction of the set to the visitor.
///
/// # Safety
/// `transactions` must be the NULL-terminated array VSLQ passes to a dispatch callback.
unsafe fn handle(context: &mut Context<'_, '_>, transactions: *const *mut sys::VSL_transaction) {
    let mut index = 0;
    loop {
        // SAFETY: the array is NULL-terminated; we stop at the NULL.
        let transaction = unsafe { *transactions.add(index) };
        if transaction.is_null() {
            break;
        }
        index += 1;
        // SAFETY: non-NULL entries point at transactions valid for this call.
        let transaction = unsafe { &*transaction };
        if transaction.type_ != sys::VSL_transaction_e::VSL_t_req {
            continue;
        }
        context.records.clear();
        // The last two records, kept or not: a forced transaction ends with Varnish's `VSL`
        // diagnostic and an `End synth`, whatever the caller keeps.
        let mut tail: [Option<*const u32>; 2] = [None, None];
        loop {
            // SAFETY: the transaction's cursor is valid for this call.
            let status = unsafe { sys::VSL_Next(transaction.c) };
            if status != sys::vsl_status::vsl_more {
                break;
            }
            // SAFETY: after `vsl_more` the cursor's `rec` points at a complete record, kept
            // by VSLQ until the callback returns.
            let ptr = unsafe { (*transaction.c).rec.ptr };
            tail = [tail[1], Some(ptr)];
            // SAFETY: as above, the record's header word is readable.
            if context.out.tags.wanted(ffi::vsl_tag(unsafe { *ptr })) {
                context.records.push(Location::Log(ptr));
            }
        }
        let forced = match tail {
            [Some(diagnostic), Some(end)] => {
                // SAFETY: as above; both records are alive for this call.
                let (diagnostic, end) = unsafe {
                    (
                        decode(diagnostic, context.out.tags),
                        decode(end, context.out.tags),
                    )
                };
                // vsl_dispatch.c closes a forced transaction with `VSL <reason>` and
                // `End synth`.
                if end.varnish_tag == ffi::SLT_END
                    && end.payload == SYNTH_END
                    && diagnostic.varnish_tag == ffi::SLT_VSL
                {
                    ForceReason::from_payload(diagnostic.payload)
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(reason) = forced {
            context.out.forced(transaction.vxid, reason);
        }
        let lent = RequestTransaction {
            vxid: transaction.vxid,
            reason: Reason::from_vsl(transaction.reason),
            forced,
            records: context.records,
            copies: &[],
            tags: context.out.tags,
            position: None,
        };
        context.out.transaction(&lent);
    }
}
