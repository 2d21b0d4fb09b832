//! The record interface: what a renderer needs to know about one request transaction.
//!
//! `formats` knows nothing of Varnish's shared memory or of Kafka. A transaction is anything
//! that can show its client-side log records, in log order, as (tag, payload) pairs; the
//! `varnishlog` crate implements [`Transaction`] over the live log, tests over hand-built lists.
//! Everything that does not come from the log (host name, sequence number, run identifier)
//! travels beside it in a [`Context`].

/// The VSL tags the format language reads. Every other tag is [`Tag::Other`] and is skipped.
///
/// The names are Varnish's `SLT_*` names (see `vapi/vsl_int.h` and `tbl/vsl_tags.h`), so an
/// implementation can map Varnish's numeric tags by name once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Tag {
    /// `Begin`: `<type> <vxid> <reason>`; `%{Varnish:xvid}x` reads its 2nd field.
    Begin,
    /// `ReqStart`: `<client ip> <client port> <listener>`; `%h` reads the 1st field.
    ReqStart,
    /// `ReqMethod`: `%m`.
    ReqMethod,
    /// `ReqURL`: `%U` and `%q`.
    ReqUrl,
    /// `ReqProtocol`: `%H`.
    ReqProtocol,
    /// `ReqHeader`: `Name: value`; `%{Name}i`, `%u`, and `Host` for `%r`.
    ReqHeader,
    /// `RespStatus`: `%s`.
    RespStatus,
    /// `RespHeader`: `Name: value`; `%{Name}o`.
    RespHeader,
    /// `ReqAcct`: six byte counts; `%b` reads the 5th.
    ReqAcct,
    /// `Timestamp`: `<label>: <absolute> <since start> <since last>`.
    Timestamp,
    /// `VCL_call`: `%{Varnish:handling}x` (`HIT`, `MISS`, `PASS`).
    VclCall,
    /// `VCL_Log`: `key: value`; `%{VCL_Log:key}x`.
    VclLog,
    /// `VSL`: diagnostics from the log API itself; `%{VSL_API:prefix}x`.
    Vsl,
    /// Any tag the format language does not read.
    Other,
}

impl Tag {
    /// How many distinct values `Tag` has, for tables indexed by tag.
    pub const COUNT: usize = Tag::Other as usize + 1;

    /// Every tag, in `Tag as usize` order (for tests, benches and fuzzing that pick tags).
    pub const ALL: [Tag; Tag::COUNT] = [
        Tag::Begin,
        Tag::ReqStart,
        Tag::ReqMethod,
        Tag::ReqUrl,
        Tag::ReqProtocol,
        Tag::ReqHeader,
        Tag::RespStatus,
        Tag::RespHeader,
        Tag::ReqAcct,
        Tag::Timestamp,
        Tag::VclCall,
        Tag::VclLog,
        Tag::Vsl,
        Tag::Other,
    ];

    /// Maps a Varnish tag name (as in `VSL_tags[]`, e.g. `"ReqHeader"`) to a [`Tag`].
    pub fn from_varnish_name(name: &str) -> Tag {
        match name {
            "Begin" => Tag::Begin,
            "ReqStart" => Tag::ReqStart,
            "ReqMethod" => Tag::ReqMethod,
            "ReqURL" => Tag::ReqUrl,
            "ReqProtocol" => Tag::ReqProtocol,
            "ReqHeader" => Tag::ReqHeader,
            "RespStatus" => Tag::RespStatus,
            "RespHeader" => Tag::RespHeader,
            "ReqAcct" => Tag::ReqAcct,
            "Timestamp" => Tag::Timestamp,
            "VCL_call" => Tag::VclCall,
            "VCL_Log" => Tag::VclLog,
            "VSL" => Tag::Vsl,
            _ => Tag::Other,
        }
    }
}

/// One client request transaction, as the renderer sees it.
pub trait Transaction {
    /// Calls `visit` with every client-side record of the transaction, in log order.
    ///
    /// Payloads are the record's bytes without Varnish's trailing NUL. They borrow from the
    /// transaction (`'a`), so the renderer can keep them until the record is written without
    /// copying.
    fn for_each_record<'a, F>(&'a self, visit: F)
    where
        F: FnMut(Tag, &'a [u8]);
}

/// A transaction built by hand: a list of (tag, payload) pairs. Used by tests, benchmarks and
/// fuzzing; also handy for replaying records that were captured as text.
impl<P: AsRef<[u8]>> Transaction for [(Tag, P)] {
    fn for_each_record<'a, F>(&'a self, mut visit: F)
    where
        F: FnMut(Tag, &'a [u8]),
    {
        for (tag, payload) in self {
            visit(*tag, payload.as_ref());
        }
    }
}

impl<P: AsRef<[u8]>> Transaction for Vec<(Tag, P)> {
    fn for_each_record<'a, F>(&'a self, visit: F)
    where
        F: FnMut(Tag, &'a [u8]),
    {
        self.as_slice().for_each_record(visit);
    }
}

/// What a record's rendering needs besides the log: values the shipper owns.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The host's name, rendered by `%l`.
    pub hostname: &'a [u8],
    /// The record's sequence number, rendered by `%n`.
    pub sequence: u64,
    /// The run identifier of this process start, rendered by `%{Edgeship:run}x`.
    pub run: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_tag_once_in_declaration_order() {
        for (index, tag) in Tag::ALL.iter().enumerate() {
            assert_eq!(*tag as usize, index, "{tag:?}");
        }
    }
}
