//! The fast path's map from a vxid to its transaction's slot, with a hash suited to vxids.

use std::collections::hash_map::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A cheap hash for vxids (they are already well spread; the multiply mixes the high bits
/// hashbrown uses for its control bytes).
#[derive(Default)]
pub(crate) struct VxidHasher(u64);

impl Hasher for VxidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.0 = u64::from(value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Slots by vxid.
pub(crate) type VxidMap = HashMap<u32, u32, BuildHasherDefault<VxidHasher>>;
