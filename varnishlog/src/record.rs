//! Completed transactions as the caller sees them: records borrowed from the log (or from the
//! reader's reused copy buffers), with their Varnish tag mapped to `formats::Tag`.

use std::ffi::CStr;

use edgeship_formats::{Tag, Transaction};

use crate::ffi::{self, sys};
use crate::position::Position;

/// The kind of transaction (`enum VSL_transaction_e`). The reader yields only
/// [`TransactionType::Request`] (client requests, including ESI sub-requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// A client session (`sess`).
    Session,
    /// A client request (`req`).
    Request,
    /// A backend request (`bereq`).
    BackendRequest,
    /// Not known (no `Begin` seen).
    Unknown,
}

/// Why the transaction started (`enum VSL_reason_e`, the 3rd field of `Begin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `HTTP/1`: a session on HTTP/1.
    Http1,
    /// `rxreq`: a request received from a client.
    RxReq,
    /// `esi`: an ESI sub-request. varnishkafka skips these.
    Esi,
    /// `restart`: a request restarted from VCL.
    Restart,
    /// `pass`: a backend fetch for a pass.
    Pass,
    /// `fetch`: a backend fetch.
    Fetch,
    /// `bgfetch`: a background fetch.
    BgFetch,
    /// `pipe`: a piped request.
    Pipe,
    /// Anything else.
    Unknown,
}

impl Reason {
    pub(crate) fn from_begin_field(field: &[u8]) -> Reason {
        match field {
            b"HTTP/1" => Reason::Http1,
            b"rxreq" => Reason::RxReq,
            b"esi" => Reason::Esi,
            b"restart" => Reason::Restart,
            b"pass" => Reason::Pass,
            b"fetch" => Reason::Fetch,
            b"bgfetch" => Reason::BgFetch,
            b"pipe" => Reason::Pipe,
            _ => Reason::Unknown,
        }
    }

    pub(crate) fn from_vsl(reason: sys::VSL_reason_e::Type) -> Reason {
        use sys::VSL_reason_e as r;
        match reason {
            r::VSL_r_http_1 => Reason::Http1,
            r::VSL_r_rxreq => Reason::RxReq,
            r::VSL_r_esi => Reason::Esi,
            r::VSL_r_restart => Reason::Restart,
            r::VSL_r_pass => Reason::Pass,
            r::VSL_r_fetch => Reason::Fetch,
            r::VSL_r_bgfetch => Reason::BgFetch,
            r::VSL_r_pipe => Reason::Pipe,
            _ => Reason::Unknown,
        }
    }
}

/// The payload of the `End` record Varnish synthesizes for a forced transaction.
pub(crate) const SYNTH_END: &[u8] = b"synth";

/// Why Varnish (or the fast path, with the same rules) completed a transaction that never
/// logged its `End`. The reason is also the payload of the synthetic `VSL` record appended to
/// the transaction, followed by a synthetic `End` record with payload `synth`, exactly as
/// `vsl_dispatch.c` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForceReason {
    /// Incomplete for longer than `-T`.
    Timeout,
    /// Pushed out because more than `-L` transactions were incomplete.
    StoreOverflow,
    /// Flushed when the log was overrun or abandoned (what `VUT` does).
    Flush,
}

impl ForceReason {
    /// The payload of the synthetic `VSL` record, as Varnish writes it.
    pub fn payload(self) -> &'static [u8] {
        match self {
            ForceReason::Timeout => b"timeout",
            ForceReason::StoreOverflow => b"store overflow",
            ForceReason::Flush => b"flush",
        }
    }

    pub(crate) fn from_payload(payload: &[u8]) -> Option<ForceReason> {
        [
            ForceReason::Timeout,
            ForceReason::StoreOverflow,
            ForceReason::Flush,
        ]
        .into_iter()
        .find(|reason| reason.payload() == payload)
    }
}

/// Which side of Varnish wrote a record (`VSL_CLIENT` / `VSL_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Client side (sessions and requests).
    Client,
    /// Backend side.
    Backend,
    /// Neither marker (non-transactional records).
    None,
}

/// One log record of a transaction, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The tag as `formats` knows it ([`Tag::Other`] for tags the format language ignores).
    pub tag: Tag,
    /// Varnish's numeric tag (`enum VSL_tag_e`).
    pub varnish_tag: u8,
    /// Client or backend side.
    pub side: Side,
    /// The vxid the record was logged under.
    pub vxid: u32,
    /// The payload without Varnish's trailing NUL.
    pub payload: &'a [u8],
}

/// Where a record of a pending or completed transaction lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location {
    /// In the log itself: shared memory, or a file mapped for the cursor's lifetime. The
    /// pointer is to the record's first header word. Kept valid by the owner (see `grouper`).
    Log(*const u32),
    /// Copied into the owner's word buffer at this word offset.
    Copied(u32),
    /// The synthetic `VSL` record stating why the transaction was forced complete.
    Forced(ForceReason),
    /// The synthetic `End` record (payload `synth`) that closes a forced transaction.
    SynthEnd,
}

/// Maps Varnish's numeric tags to [`Tag`] once, from `VSL_tags[]`, and says which the caller
/// wants kept in yielded transactions (all, unless [`crate::Options::only_tags`] is set) and
/// which a query evaluated on the fast path reads: one table, so the grouper's per-record
/// decision is one load.
#[derive(Debug, Clone)]
pub(crate) struct TagTable {
    tags: [Tag; 256],
    names: [Option<&'static str>; 256],
    /// [`TagTable::KEEP`] and [`TagTable::QUERY`] bits per tag.
    flags: [u8; 256],
}

impl TagTable {
    pub(crate) fn from_varnish() -> TagTable {
        let mut tags = [Tag::Other; 256];
        let mut names = [None; 256];
        for (index, slot) in tags.iter_mut().enumerate() {
            // SAFETY: VSL_tags is a constant table of SLT__MAX (256) entries in
            // libvarnishapi, each NULL or a static NUL-terminated name.
            let name = unsafe { sys::VSL_tags[index] };
            if name.is_null() {
                continue;
            }
            // SAFETY: non-NULL entries are static C strings that live as long as the library.
            let name: &'static CStr = unsafe { CStr::from_ptr(name) };
            if let Ok(name) = name.to_str() {
                *slot = Tag::from_varnish_name(name);
                names[index] = Some(name);
            }
        }
        TagTable {
            tags,
            names,
            flags: [TagTable::KEEP; 256],
        }
    }

    /// Flag: records of the tag are kept in yielded transactions.
    pub(crate) const KEEP: u8 = 1;
    /// Flag: the fast path's query reads records of the tag.
    pub(crate) const QUERY: u8 = 2;

    /// Keeps only records whose [`Tag`] is in `only` (every record when `None`).
    pub(crate) fn keep_only(&mut self, only: Option<&[Tag]>) {
        for (index, flags) in self.flags.iter_mut().enumerate() {
            let keep = only.is_none_or(|only| only.contains(&self.tags[index]));
            *flags = (*flags & !TagTable::KEEP) | if keep { TagTable::KEEP } else { 0 };
        }
    }

    /// Marks the tags a query reads (`reads`, by tag number).
    pub(crate) fn query_reads(&mut self, reads: &[bool; 256]) {
        for (flags, read) in self.flags.iter_mut().zip(reads) {
            if *read {
                *flags |= TagTable::QUERY;
            }
        }
    }

    /// Whether libvarnishapi numbers its tags as `names` does (the query crate's table of
    /// Varnish 7.1's tags): a query compiled against those numbers reads these records.
    pub(crate) fn numbered_as(&self, names: &[Option<&str>; 256]) -> bool {
        self.names
            .iter()
            .zip(names)
            .all(|(ours, theirs)| ours == theirs)
    }

    /// Whether records of this Varnish tag are kept in yielded transactions.
    #[inline]
    pub(crate) fn wanted(&self, varnish_tag: u8) -> bool {
        self.flags[usize::from(varnish_tag)] & TagTable::KEEP != 0
    }

    /// Both flags of a tag ([`TagTable::KEEP`], [`TagTable::QUERY`]).
    #[inline(always)]
    pub(crate) fn flags(&self, varnish_tag: u8) -> u8 {
        self.flags[usize::from(varnish_tag)]
    }

    #[inline]
    pub(crate) fn tag(&self, varnish_tag: u8) -> Tag {
        self.tags[usize::from(varnish_tag)]
    }

    /// Varnish's name of a numeric tag.
    pub(crate) fn name(&self, varnish_tag: u8) -> Option<&'static str> {
        self.names[usize::from(varnish_tag)]
    }
}

/// Decodes the record whose header starts at `ptr`.
///
/// # Safety
/// `ptr` must point at a complete record (header and payload words) that stays readable and
/// unmodified for `'a`.
#[inline]
pub(crate) unsafe fn decode<'a>(ptr: *const u32, tags: &TagTable) -> Record<'a> {
    // SAFETY: the caller guarantees the header words are readable.
    let (word0, word1) = unsafe { (*ptr, *ptr.add(1)) };
    let len = ffi::vsl_len(word0) as usize;
    // SAFETY: the payload follows the two header words and spans `len` bytes within the
    // record's VSL_WORDS(len) words, readable for 'a per the caller.
    let mut payload: &'a [u8] =
        unsafe { std::slice::from_raw_parts(ptr.add(ffi::VSL_OVERHEAD).cast::<u8>(), len) };
    if let [rest @ .., 0] = payload {
        payload = rest;
    }
    let varnish_tag = ffi::vsl_tag(word0);
    Record {
        tag: tags.tag(varnish_tag),
        varnish_tag,
        side: side_of(word1),
        vxid: ffi::vsl_id(word1),
        payload,
    }
}

#[inline]
pub(crate) fn side_of(word1: u32) -> Side {
    if word1 & ffi::VSL_CLIENTMARKER != 0 {
        Side::Client
    } else if word1 & ffi::VSL_BACKENDMARKER != 0 {
        Side::Backend
    } else {
        Side::None
    }
}

/// A completed client request transaction, borrowed from the reader for the duration of the
/// visitor call. Implements [`edgeship_formats::Transaction`].
pub struct RequestTransaction<'a> {
    pub(crate) vxid: u32,
    pub(crate) reason: Reason,
    pub(crate) forced: Option<ForceReason>,
    pub(crate) records: &'a [Location],
    pub(crate) copies: &'a [u32],
    pub(crate) tags: &'a TagTable,
    /// Where it ended in a live log (fast path only).
    pub(crate) position: Option<Position>,
}

impl<'a> RequestTransaction<'a> {
    /// Where the transaction ended in the live log, a position a later process can resume
    /// from ([`Options::resume`](crate::Options::resume)); `None` on a file and on the VSLQ
    /// path, where it means nothing or is not known.
    pub fn end_position(&self) -> Option<Position> {
        self.position
    }

    /// The transaction's vxid.
    pub fn vxid(&self) -> u32 {
        self.vxid
    }

    /// Always [`TransactionType::Request`]: the reader yields client requests only.
    pub fn transaction_type(&self) -> TransactionType {
        TransactionType::Request
    }

    /// Why it started; [`Reason::Esi`] marks ESI sub-requests.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Whether it is an ESI sub-request (varnishkafka skips those).
    pub fn is_esi(&self) -> bool {
        self.reason == Reason::Esi
    }

    /// `Some(reason)` when the transaction never logged `End` and was forced complete.
    pub fn forced(&self) -> Option<ForceReason> {
        self.forced
    }

    /// How many records it has (including a synthetic `VSL` record when forced).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it has no records at all.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Its records in log order.
    pub fn records(&self) -> impl Iterator<Item = Record<'a>> + '_ {
        let records = self.records;
        let copies = self.copies;
        let tags = self.tags;
        let vxid = self.vxid;
        records.iter().map(move |location| match *location {
            // SAFETY: the reader keeps every `Log` location readable until the visitor call
            // that lent this transaction returns ('a); see the `grouper` and `vslq` modules.
            // In the live ring that holds because the reader checked the references with
            // `VSL_Check` just before the call and visitors do not block (the `Visitor`
            // contract): the writer cannot come round the ring within one short call.
            Location::Log(ptr) => unsafe { decode(ptr, tags) },
            Location::Copied(offset) => {
                let start = offset as usize;
                debug_assert!(start + ffi::VSL_OVERHEAD <= copies.len());
                // SAFETY: the reader copies whole records (header and payload words) into
                // `copies`, so the record at `start` is complete and lives for 'a.
                unsafe { decode(copies.as_ptr().add(start), tags) }
            }
            Location::Forced(reason) => Record {
                tag: Tag::Vsl,
                varnish_tag: ffi::SLT_VSL,
                side: Side::Client,
                vxid,
                payload: reason.payload(),
            },
            Location::SynthEnd => Record {
                tag: tags.tag(ffi::SLT_END),
                varnish_tag: ffi::SLT_END,
                side: Side::Client,
                vxid,
                payload: SYNTH_END,
            },
        })
    }

    /// Varnish's name for a numeric tag (from `VSL_tags[]`), e.g. for diagnostics.
    pub fn tag_name(&self, varnish_tag: u8) -> Option<&'static str> {
        self.tags.name(varnish_tag)
    }
}

impl std::fmt::Debug for RequestTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestTransaction")
            .field("vxid", &self.vxid)
            .field("reason", &self.reason)
            .field("forced", &self.forced)
            .field("records", &self.records.len())
            .finish()
    }
}

impl Transaction for RequestTransaction<'_> {
    fn for_each_record<'b, F>(&'b self, mut visit: F)
    where
        F: FnMut(Tag, &'b [u8]),
    {
        for record in self.records() {
            if record.side == Side::Client {
                visit(record.tag, record.payload);
            }
        }
    }
}
