//! The free-space reserve: statvfs through rustix (no unsafe code of ours).

use std::path::Path;

use crate::error::Error;

/// Bytes available to unprivileged users on the file system holding `dir`.
pub(crate) fn available(dir: &Path) -> Result<u64, Error> {
    let stats = rustix::fs::statvfs(dir).map_err(|errno| Error::io(dir, errno.into()))?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}
