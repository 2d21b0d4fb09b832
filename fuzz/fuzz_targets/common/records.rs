//! How the record-sequence fuzz targets (`vsl_grouping`, `vsl_query_records`) decode a
//! record's vxid and side from their input: one definition, included by each with
//! `#[path]`, since every fuzz target is its own crate.

use arbitrary::{Arbitrary, Unstructured};
use edgeship_varnishlog::Side;

/// The vxid of a record whose control byte is `control`: few vxids (0 to 7), so records of
/// different transactions interleave and vxids come back; when the control byte's top bit
/// is set, any vxid (0 and the 30-bit mask's edges included).
pub fn vxid(control: u8, input: &mut Unstructured<'_>) -> arbitrary::Result<u32> {
    if control & 0x80 != 0 {
        u32::arbitrary(input)
    } else {
        Ok(u32::from(u8::arbitrary(input)? % 8))
    }
}

/// The side marker of a record, from the control byte's two low bits (client twice as
/// often as the others).
pub fn side(control: u8) -> Side {
    match control & 0x3 {
        0 => Side::Backend,
        1 => Side::None,
        _ => Side::Client,
    }
}
