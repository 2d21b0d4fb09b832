//! The key a line's run is interned by: its host and run names in one reused buffer.

/// The host name, a NUL (never in a host name), then a byte that tells "no run field" (0)
/// from a run (1, followed by its name, which may be empty).
#[derive(Debug, Clone)]
pub(crate) struct RunKey {
    bytes: Vec<u8>,
}

impl RunKey {
    /// An empty key with room for typical names.
    pub(crate) fn new() -> Self {
        Self {
            bytes: Vec::with_capacity(128),
        }
    }

    /// Starts the key of a new line with its host name.
    #[inline]
    pub(crate) fn set_host(&mut self, host: &[u8]) {
        self.bytes.clear();
        self.bytes.extend_from_slice(host);
        self.bytes.push(0);
    }

    /// Ends the key with the line's run name.
    #[inline]
    pub(crate) fn set_run(&mut self, run: &[u8]) {
        self.bytes.push(1);
        self.bytes.extend_from_slice(run);
    }

    /// Ends the key of a line without a run (no run field, or null).
    #[inline]
    pub(crate) fn set_no_run(&mut self) {
        self.bytes.push(0);
    }

    /// The whole key.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Makes this key a copy of `other`, reusing its buffer.
    #[inline]
    pub(crate) fn copy_from(&mut self, other: &RunKey) {
        self.bytes.clear();
        self.bytes.extend_from_slice(&other.bytes);
    }

    fn split(&self) -> usize {
        self.bytes
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.bytes.len())
    }

    /// The host name's bytes.
    pub(crate) fn host(&self) -> &[u8] {
        &self.bytes[..self.split()]
    }

    /// The run name's bytes, `None` when the line had no run.
    pub(crate) fn run(&self) -> Option<&[u8]> {
        match self.bytes.get(self.split() + 1..) {
            Some([1, name @ ..]) => Some(name),
            _ => None,
        }
    }
}
