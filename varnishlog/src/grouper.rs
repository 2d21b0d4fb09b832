//! The fast path's grouping: files raw log records under their vxid's transaction in Rust,
//! with Varnish's timeout (`-T`) and limit (`-L`) semantics, instead of going through `VSLQ`.
//!
//! # What it mirrors from `vsl_dispatch.c` (Varnish 7.1, vxid grouping)
//! - A transaction starts at its `Begin` record; records of a vxid whose `Begin` was not seen
//!   (e.g. when reading starts at the tail of a live log) are skipped and counted, as `VSLQ`
//!   drops them. Records with vxid 0 are not part of any transaction.
//! - Every transaction (session, request, backend request) is tracked so that the `-L` count
//!   of incomplete transactions is the one Varnish keeps; only client requests keep records.
//! - A transaction completes at `End`. After each unit read from the cursor (a record, or a
//!   batch on a live log), incomplete transactions older than `-T` are forced complete with
//!   reason `timeout`, then while more than `-L` are incomplete the oldest is forced complete
//!   with reason `store overflow`. A forced transaction gets a synthetic `VSL` record whose
//!   payload is the reason and a synthetic `End` record with payload `synth`, like Varnish's.
//! - On overrun or abandon, incomplete transactions are flushed (reason `flush`), as `VUT`
//!   does with `VSLQ_Flush`.
//! - A query (`-q`, compiled by `edgeship_query`) sees each record of a client request as it
//!   is filed, in the same walk (its tags are marked in the tag table, so records it does
//!   not read cost nothing more), and the forced transactions' synthetic records; at
//!   completion a request it does not select is dropped and counted
//!   (`transactions_unselected`), as `VSLQ` never dispatches it. Every transaction is a group
//!   of its own at level 1, as in `-g vxid`.
//!
//! Two deliberate differences, neither visible on files of normal size: the clock used for
//! `-T` is read every 256 units rather than every unit (reading it per record would cost more
//! than the grouping), and timeouts are also checked when the live log is idle, where `VSLQ`
//! waits for the next record.
//!
//! # Where record bytes live, and when they are copied
//! Records are referenced where the cursor found them, never copied, when that memory stays
//! put until the transaction is handed out:
//! - a regular file, once libvarnishapi has opened and checked it (`VSL_Check` says valid),
//!   is mapped by the fast path itself and walked record by record (the `mapped` module), as
//!   a batch from the ring is: references into that mapping are stable for the reader's
//!   lifetime, so nothing is copied, and no library call is made per record;
//! - a live log is a ring that varnishd keeps overwriting. Like `VSLQ` (its shm reference
//!   list and `vtx_buffer`), each transaction holding references into the ring is queued in
//!   the order of its oldest reference; after every unit the oldest is checked with
//!   `VSL_Check`, and when the writer has come close (anything but "valid") that
//!   transaction's referenced records are copied into its own reused word buffer. Most
//!   transactions complete long before that and are never copied;
//! - a stream that is not a regular file (`-r -`) is read through one buffer the cursor
//!   reuses for every record (`VSL_Check` "not supported"): every record of a client request
//!   is copied into the transaction's buffer as it arrives.
//!
//! On a live log every `End` record is counted per writer segment (the `ends` module), so a
//! client request handed out carries where it ended (a `Position`), and a reader asked to
//! resume skips (and counts) the client requests that completed before its start.
//!
//! Slots, their record lists and copy buffers are reused, so the steady state allocates
//! nothing per record or transaction.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use edgeship_query::{Matches, Query};

use crate::ends::EndCount;
use crate::ffi::{self, sys};
use crate::handle::{Contents, Cursor, Next, Unit, Validity};
use crate::mapped::{MappedLog, Walk};
use crate::position::Resume;
use crate::record::{ForceReason, Location, Reason, RequestTransaction, TagTable, SYNTH_END};
use crate::visit::Delivery;
use crate::vxid_map::VxidMap;

/// How record memory behaves for the current cursor (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CopyPolicy {
    /// Records stay where they are for the cursor's lifetime (mapped file).
    Stable,
    /// Records live in the ring; check with `VSL_Check` and copy when the writer nears.
    Checked,
    /// The cursor reuses its buffer: copy every kept record at once.
    Always,
}

/// No vxid: [`ffi::vsl_id`] masks vxids to 30 bits, so no record carries this one.
const NO_VXID: u32 = u32::MAX;

/// One transaction being assembled (or a free slot waiting for reuse).
struct Slot {
    vxid: u32,
    /// Incarnation number; 0 when free. Queue entries naming another value are stale.
    seq: u64,
    started: Instant,
    /// A client request: its records are kept and it is handed out at completion.
    keep: bool,
    reason: Reason,
    records: Vec<Location>,
    copies: Vec<u32>,
    /// The oldest record still referenced in the ring (policy `Checked`).
    oldest_in_log: Option<sys::VSLC_ptr>,
    /// What the query has seen of a client request's records so far (with a query only).
    matches: Matches,
}

impl Slot {
    fn new(now: Instant) -> Slot {
        Slot {
            vxid: 0,
            seq: 0,
            started: now,
            keep: false,
            reason: Reason::Unknown,
            records: Vec::new(),
            copies: Vec::new(),
            oldest_in_log: None,
            matches: Matches::default(),
        }
    }

    /// Copies every record still referenced in the log into the slot's buffer.
    fn copy_out(&mut self) -> u64 {
        let mut copied = 0;
        for location in &mut self.records {
            if let Location::Log(ptr) = *location {
                // SAFETY: `ptr` was handed out by the cursor for a complete record and the
                // caller copies before `VSL_Check` declares it invalid (or while the mapped
                // file is alive), so the record's words are readable.
                let words = unsafe {
                    let count = ffi::vsl_next_words(*ptr);
                    std::slice::from_raw_parts(ptr, count)
                };
                let offset = self.copies.len() as u32;
                self.copies.extend_from_slice(words);
                *location = Location::Copied(offset);
                copied += 1;
            }
        }
        self.oldest_in_log = None;
        copied
    }
}

/// The fast path's state: incomplete transactions by vxid, oldest first.
pub(crate) struct Grouper {
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_vxid: VxidMap,
    /// (slot, seq) in creation order; stale entries are skipped lazily.
    incomplete: VecDeque<(u32, u64)>,
    outstanding: usize,
    /// (slot, seq) of transactions holding ring references, oldest reference first.
    in_log: VecDeque<(u32, u64)>,
    next_seq: u64,
    /// The last vxid looked up ([`NO_VXID`] when none) and its slot: consecutive records
    /// mostly share a vxid.
    last_vxid: u32,
    last_slot: u32,
    timeout: Duration,
    limit: usize,
    now: Instant,
    /// Units read, modulo 256: the clock is read (and `-T` applied) each time it wraps.
    units: u8,
    policy: CopyPolicy,
    /// `-q`, evaluated as records are filed: client requests it does not select are not
    /// handed out.
    query: Option<Query>,
    /// Where reading is in the live log, and what a resume skips.
    ends: EndCount,
}

impl Grouper {
    /// A grouper with `-T`, `-L` and the query (`-q`) to evaluate, if any.
    pub(crate) fn new(timeout: Duration, limit: usize, query: Option<Query>) -> Grouper {
        Grouper {
            slots: Vec::new(),
            free: Vec::new(),
            by_vxid: VxidMap::default(),
            incomplete: VecDeque::new(),
            outstanding: 0,
            in_log: VecDeque::new(),
            next_seq: 1,
            last_vxid: NO_VXID,
            last_slot: 0,
            timeout,
            limit,
            now: Instant::now(),
            units: 0,
            policy: CopyPolicy::Stable,
            query,
            ends: EndCount::new(),
        }
    }

    /// A new cursor (at open, or a reattach): whether its first unit starts a segment.
    pub(crate) fn new_cursor(&mut self, starts_a_segment: bool) {
        self.ends.new_cursor(starts_a_segment);
    }

    /// Hands out only the client requests that complete after the start `resume` names;
    /// the others are counted as `transactions_before_resume`.
    pub(crate) fn resume(&mut self, resume: Resume) {
        self.ends.resume(resume);
    }

    /// Sets how record memory behaves for a new cursor. Must only change while nothing is
    /// incomplete (after a flush), since existing references follow the old policy.
    pub(crate) fn set_policy(&mut self, policy: CopyPolicy) {
        debug_assert_eq!(self.outstanding, 0);
        self.policy = policy;
    }

    /// How many transactions are incomplete.
    pub(crate) fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Processes one unit the cursor returned: a record, or (live log) a batch of records.
    /// Returns `false` when a record an incomplete transaction still references in the ring
    /// was already overwritten: that is an overrun (what `VSLQ` reports in the same case).
    #[inline]
    pub(crate) fn unit(&mut self, unit: Unit<'_>, out: &mut Delivery<'_>) -> bool {
        let log_priv = unit.position().priv_;
        self.ends.unit(log_priv);
        match unit.contents() {
            Contents::Batch(records) => {
                for record in records {
                    let yielded = out.yielded;
                    // SAFETY: a batch's records are complete and readable where the ring
                    // holds them, as long as the writer has not come round again: the cursor
                    // said so when it returned the batch, and the only time that can pass
                    // while we walk it is a visitor call (which must not block, see
                    // `Visitor`), after which the batch is checked again below.
                    unsafe { self.record(record, log_priv, self.policy, out) };
                    // A transaction was handed out: should the visitor have taken long
                    // anyway, the rest of the batch may have been overwritten meanwhile and
                    // must not be parsed. `VSL_Check` only compares segment numbers, and this
                    // runs once per transaction, not per record.
                    if out.yielded != yielded && unit.check() == Validity::Invalid {
                        return false;
                    }
                }
            }
            // Without batch mode a batch header is followed by its records one by one.
            Contents::BatchHeader => {}
            Contents::Record(ptr) => {
                if self.policy == CopyPolicy::Stable {
                    prefetch_ahead(ptr);
                }
                // SAFETY: the cursor's current record is complete and readable.
                unsafe { self.record(ptr, log_priv, self.policy, out) };
            }
        }
        self.after_unit(unit.cursor(), out)
    }

    /// Files one record under its transaction. `policy` is the grouper's own, passed in so
    /// that a caller that knows it (the mapped-file loop) has the others compiled away.
    ///
    /// Returns whether the record began or completed a transaction: only then can the count
    /// of incomplete transactions (`-L`) or of those handed out have changed.
    ///
    /// # Safety
    /// `ptr` must point at a complete record returned by the cursor.
    #[inline(always)]
    unsafe fn record(
        &mut self,
        ptr: *const u32,
        log_priv: u32,
        policy: CopyPolicy,
        out: &mut Delivery<'_>,
    ) -> bool {
        debug_assert_eq!(policy, self.policy);
        // SAFETY: the header words are readable per the caller.
        let (word0, word1) = unsafe { (*ptr, *ptr.add(1)) };
        let vxid = ffi::vsl_id(word1);
        let tag = ffi::vsl_tag(word0);
        // Most records belong to the transaction of the record before them.
        let (slot, began) = if vxid == self.last_vxid {
            (self.last_slot, false)
        } else {
            let outstanding = self.outstanding;
            // SAFETY: as above.
            match unsafe { self.look_up(vxid, tag, ptr, word0, out) } {
                Some(slot) => (slot, self.outstanding != outstanding),
                None => {
                    // Its transaction is unknown, but its `End` still counts in positions.
                    if tag == ffi::SLT_END {
                        self.ends.end_seen(log_priv);
                    }
                    return false;
                }
            }
        };
        // The tag first: a table every record hits, and it rules out most records the
        // formats and the query do not read before the slot is looked at.
        let flags = out.tags.flags(tag);
        if flags != 0 && self.slots[slot as usize].keep {
            if flags & TagTable::KEEP != 0 {
                self.keep(slot, ptr, log_priv, word0, policy);
            }
            if flags & TagTable::QUERY != 0 {
                // SAFETY: the record is complete and readable (per the caller), and the
                // payload is only read during this call.
                self.observe(slot, tag, unsafe { payload_of(ptr, word0) });
            }
        }
        if tag == ffi::SLT_END {
            self.ends.end_seen(log_priv);
            self.complete(slot, None, out);
            return true;
        }
        began
    }

    /// The slot of a record's transaction when it is not the last one looked up: found, or
    /// started at its `Begin`. `None` for records of no transaction (vxid 0: CLI, backend
    /// health) and for those whose `Begin` was never seen (counted).
    ///
    /// # Safety
    /// `ptr` must point at a complete record whose first word is `word0`.
    #[inline(never)]
    unsafe fn look_up(
        &mut self,
        vxid: u32,
        tag: u8,
        ptr: *const u32,
        word0: u32,
        out: &mut Delivery<'_>,
    ) -> Option<u32> {
        if vxid == 0 {
            return None;
        }
        let slot = match self.by_vxid.get(&vxid).copied() {
            Some(slot) => slot,
            None if tag == ffi::SLT_BEGIN => {
                // SAFETY: the record is complete; only its payload is read.
                let payload = unsafe { payload_of(ptr, word0) };
                self.begin(vxid, payload)
            }
            None => {
                out.counters.records_skipped += 1;
                return None;
            }
        };
        self.last_vxid = vxid;
        self.last_slot = slot;
        Some(slot)
    }

    fn begin(&mut self, vxid: u32, payload: &[u8]) -> u32 {
        let mut fields = payload
            .split(|&byte| byte == b' ')
            .filter(|f| !f.is_empty());
        let kind = fields.next().unwrap_or_default();
        let _parent = fields.next();
        let reason = Reason::from_begin_field(fields.next().unwrap_or_default());
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot::new(self.now));
                (self.slots.len() - 1) as u32
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = &mut self.slots[index as usize];
        slot.vxid = vxid;
        slot.seq = seq;
        slot.started = self.now;
        slot.keep = kind == b"req";
        slot.reason = reason;
        // In vxid grouping every transaction is a group of its own, at level 1.
        slot.matches = match &self.query {
            Some(query) if slot.keep => query.start(vxid, 1),
            _ => Matches::default(),
        };
        debug_assert!(slot.records.is_empty() && slot.copies.is_empty());
        self.by_vxid.insert(vxid, index);
        self.incomplete.push_back((index, seq));
        self.outstanding += 1;
        index
    }

    /// Shows a client request's record to the query (only called with one).
    #[inline]
    fn observe(&mut self, index: u32, tag: u8, payload: &[u8]) {
        if let Some(query) = &self.query {
            query.observe(&mut self.slots[index as usize].matches, tag, payload);
        }
    }

    #[inline(always)]
    fn keep(&mut self, index: u32, ptr: *const u32, log_priv: u32, word0: u32, policy: CopyPolicy) {
        let slot = &mut self.slots[index as usize];
        match policy {
            CopyPolicy::Stable => slot.records.push(Location::Log(ptr)),
            CopyPolicy::Checked => {
                slot.records.push(Location::Log(ptr));
                if slot.oldest_in_log.is_none() {
                    slot.oldest_in_log = Some(sys::VSLC_ptr {
                        ptr,
                        priv_: log_priv,
                    });
                    self.in_log.push_back((index, slot.seq));
                }
            }
            CopyPolicy::Always => {
                // SAFETY: the cursor's buffer holds the complete record until its next
                // `VSL_Next`; we copy it now.
                let words = unsafe { std::slice::from_raw_parts(ptr, ffi::vsl_next_words(word0)) };
                let offset = slot.copies.len() as u32;
                slot.copies.extend_from_slice(words);
                slot.records.push(Location::Copied(offset));
            }
        }
    }

    /// Reads a capture file through edgeship's own mapping of it (see the `mapped` module)
    /// until the file ends (`Next::Eof`), a record runs past its end (`Next::Io`), or `budget`
    /// transactions have been yielded (`Next::More`): [`Grouper::unit`]'s work for a file,
    /// without a library call per record, and with everything that cannot change for a file
    /// decided outside the loop. This loop runs for every record of a capture.
    pub(crate) fn read_mapped(
        &mut self,
        log: &mut MappedLog,
        out: &mut Delivery<'_>,
        budget: usize,
    ) -> Next {
        debug_assert_eq!(self.policy, CopyPolicy::Stable);
        loop {
            let ptr = match log.next() {
                Walk::Record(ptr) => ptr,
                Walk::End => return Next::Eof,
                Walk::Truncated => return Next::Io,
            };
            // SAFETY: `MappedLog` hands out complete records inside its mapping.
            let word0 = unsafe { *ptr };
            let mut changed = false;
            // A batch header (a capture of batches) is followed by its records one by one.
            if ffi::vsl_tag(word0) != ffi::SLT_BATCH {
                prefetch_ahead(ptr);
                // SAFETY: the record is complete and stays mapped as long as the log, which
                // outlives every transaction that references it.
                changed = unsafe { self.record(ptr, 0, CopyPolicy::Stable, out) };
            }
            changed |= self.count_unit(out);
            // The limit and the budget can only be crossed when a transaction began or ended.
            if changed {
                self.enforce_limit(out);
                if out.yielded >= budget {
                    return Next::More;
                }
            }
        }
    }

    /// Counts a unit read; every 256 units, reads the clock and applies `-T`. Returns whether
    /// it did (transactions may then have been forced complete).
    #[inline(always)]
    fn count_unit(&mut self, out: &mut Delivery<'_>) -> bool {
        // A byte wraps every 256 units.
        self.units = self.units.wrapping_add(1);
        if self.units != 0 {
            return false;
        }
        self.now = Instant::now();
        self.expire(out);
        true
    }

    /// Timeouts, the incomplete limit, and ring references the writer is closing in on.
    /// Returns `false` when a reference was already overwritten.
    #[inline]
    fn after_unit(&mut self, cursor: &Cursor, out: &mut Delivery<'_>) -> bool {
        self.count_unit(out);
        self.enforce_limit(out);
        if self.policy == CopyPolicy::Checked {
            return self.secure_references(cursor, out);
        }
        true
    }

    /// While more than `-L` transactions are incomplete, forces the oldest complete.
    #[inline]
    fn enforce_limit(&mut self, out: &mut Delivery<'_>) {
        while self.outstanding > self.limit {
            match self.oldest_incomplete() {
                Some(index) => self.complete(index, Some(ForceReason::StoreOverflow), out),
                None => break,
            }
        }
    }

    /// Files one record of a synthetic log (see the `synthetic` module) with the clock at
    /// `now`, then applies `-T` and `-L` as after a unit from a cursor. The clock is the
    /// caller's, so tests and the fuzzer drive timeouts without sleeping; it is checked at
    /// every record rather than every 256 units, since reading it costs nothing here.
    ///
    /// # Safety
    /// `ptr` must point at a complete record (header and payload words) that stays readable
    /// and unmodified until its transaction has been handed out or flushed, which is what the
    /// `Stable` copy policy (the only one a synthetic log uses) relies on.
    pub(crate) unsafe fn synthetic_record(
        &mut self,
        ptr: *const u32,
        now: Instant,
        out: &mut Delivery<'_>,
    ) {
        debug_assert_eq!(self.policy, CopyPolicy::Stable);
        self.now = now;
        // SAFETY: the record is complete and readable, per the caller.
        unsafe { self.record(ptr, 0, CopyPolicy::Stable, out) };
        self.expire(out);
        self.enforce_limit(out);
    }

    /// Before reading on after the reader's caller had control (between read calls, when it
    /// may have waited, e.g. for room downstream): the transactions still incomplete hold
    /// references into the ring, which the writer may have overwritten meanwhile. Secures
    /// them as after every unit; `false` when one is already gone (an overrun: nothing more
    /// may be read from them, and the flush that follows counts them as lost).
    pub(crate) fn revalidate(&mut self, cursor: &Cursor, out: &mut Delivery<'_>) -> bool {
        self.policy != CopyPolicy::Checked || self.secure_references(cursor, out)
    }

    /// Copies out the records of transactions whose oldest ring reference is no longer
    /// comfortably ahead of the writer (the `VSLQ` shm reference check). Returns `false`
    /// when the writer already overwrote one (the reader was away too long): copying it
    /// would copy garbage, so the caller handles it as an overrun.
    fn secure_references(&mut self, cursor: &Cursor, out: &mut Delivery<'_>) -> bool {
        while let Some(&(index, seq)) = self.in_log.front() {
            let slot = &mut self.slots[index as usize];
            let Some(oldest) = slot.oldest_in_log.filter(|_| slot.seq == seq) else {
                self.in_log.pop_front();
                continue;
            };
            match cursor.check(&oldest) {
                Validity::Valid => break,
                Validity::Invalid => return false,
                Validity::Warning | Validity::NotSupported => {
                    out.counters.records_copied += slot.copy_out();
                    self.in_log.pop_front();
                }
            }
        }
        true
    }

    /// Forces complete every transaction incomplete for `-T` or longer.
    fn expire(&mut self, out: &mut Delivery<'_>) {
        while let Some(index) = self.oldest_incomplete() {
            let started = self.slots[index as usize].started;
            if self.now.saturating_duration_since(started) < self.timeout {
                break;
            }
            self.complete(index, Some(ForceReason::Timeout), out);
        }
    }

    /// Called when a live log has nothing new: applies `-T` with a fresh clock.
    pub(crate) fn idle(&mut self, out: &mut Delivery<'_>) {
        self.ends.caught_up();
        self.now = Instant::now();
        self.expire(out);
    }

    fn oldest_incomplete(&mut self) -> Option<u32> {
        while let Some(&(index, seq)) = self.incomplete.front() {
            if self.slots[index as usize].seq == seq {
                return Some(index);
            }
            self.incomplete.pop_front();
        }
        None
    }

    /// Completes (or forces complete) a transaction, hands it out if it is a client
    /// request, and frees its slot.
    fn complete(&mut self, index: u32, forced: Option<ForceReason>, out: &mut Delivery<'_>) {
        let by_end = forced.is_none();
        let live = self.policy == CopyPolicy::Checked;
        let position = self.ends.position_now(by_end).filter(|_| live);
        let skip =
            live && self.slots[index as usize].keep && self.ends.before_start(position, by_end);
        let slot = &mut self.slots[index as usize];
        if skip {
            out.counters.transactions_before_resume += 1;
        } else if slot.keep && !selected(self.query.as_ref(), slot, forced) {
            out.counters.transactions_unselected += 1;
        } else if slot.keep {
            if let Some(reason) = forced {
                if out.tags.wanted(ffi::SLT_VSL) {
                    slot.records.push(Location::Forced(reason));
                }
                if out.tags.wanted(ffi::SLT_END) {
                    slot.records.push(Location::SynthEnd);
                }
                out.forced(slot.vxid, reason);
            }
            let transaction = RequestTransaction {
                vxid: slot.vxid,
                reason: slot.reason,
                forced,
                records: &slot.records,
                copies: &slot.copies,
                tags: out.tags,
                position,
            };
            out.transaction(&transaction);
        }
        let vxid = slot.vxid;
        slot.seq = 0;
        slot.records.clear();
        slot.copies.clear();
        slot.oldest_in_log = None;
        self.by_vxid.remove(&vxid);
        if self.last_vxid != NO_VXID && self.last_slot == index {
            self.last_vxid = NO_VXID;
        }
        self.outstanding -= 1;
        self.free.push(index);
    }

    /// Forces complete every incomplete transaction, oldest first (the log was overrun or
    /// abandoned, or the caller asked). A transaction whose ring records were already
    /// overwritten cannot be handed out: it is dropped and counted.
    pub(crate) fn flush(&mut self, cursor: Option<&Cursor>, out: &mut Delivery<'_>) {
        while let Some(index) = self.oldest_incomplete() {
            let slot = &self.slots[index as usize];
            let lost = match (self.policy, slot.oldest_in_log, cursor) {
                (CopyPolicy::Checked, Some(oldest), Some(cursor)) => {
                    cursor.check(&oldest) == Validity::Invalid
                }
                _ => false,
            };
            if lost {
                if slot.keep {
                    out.counters.transactions_lost += 1;
                }
                // Complete it without handing it out.
                let slot = &mut self.slots[index as usize];
                slot.keep = false;
            }
            self.complete(index, Some(ForceReason::Flush), out);
        }
        self.incomplete.clear();
        self.in_log.clear();
        self.last_vxid = NO_VXID;
    }
}

/// How far ahead of the current record a mapped file is prefetched, in bytes: a page, some
/// hundred records, so the next page is in cache (and its address translated) by the time the
/// cursor gets there.
const PREFETCH_DISTANCE: usize = 4096;

/// Asks the CPU to start loading the log `PREFETCH_DISTANCE` bytes ahead of `ptr`. A mapped
/// file is read front to back, one record at a time, and each new page otherwise stalls the
/// reader on memory (the hottest instruction of the whole read loop, measured). A prefetch
/// never faults, so an address past the end of the mapping is harmless.
#[inline(always)]
fn prefetch_ahead(ptr: *const u32) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let ahead = ptr.cast::<i8>().wrapping_add(PREFETCH_DISTANCE);
        // SAFETY: a prefetch is a hint that never dereferences or faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// The payload bytes of a record, without the trailing NUL.
///
/// # Safety
/// `ptr` must point at a complete, readable record whose first word is `word0`.
#[inline]
unsafe fn payload_of<'a>(ptr: *const u32, word0: u32) -> &'a [u8] {
    let len = ffi::vsl_len(word0) as usize;
    // SAFETY: the payload follows the header within the record.
    let payload =
        unsafe { std::slice::from_raw_parts(ptr.add(ffi::VSL_OVERHEAD).cast::<u8>(), len) };
    match payload {
        [rest @ .., 0] => rest,
        other => other,
    }
}

/// Whether the query (if any) selects a completed client request. A forced transaction
/// ends with the synthetic `VSL` and `End` records Varnish gives it, which its query sees.
fn selected(query: Option<&Query>, slot: &mut Slot, forced: Option<ForceReason>) -> bool {
    let Some(query) = query else {
        return true;
    };
    if let Some(reason) = forced {
        query.observe(&mut slot.matches, ffi::SLT_VSL, reason.payload());
        query.observe(&mut slot.matches, ffi::SLT_END, SYNTH_END);
    }
    query.selects(&slot.matches)
}
