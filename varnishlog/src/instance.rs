//! Which varnishd child wrote a live log: a cheap identity that changes whenever varnishd or
//! its child restarts, so that a log position saved by one process is only used against the
//! log it was taken from.
//!
//! varnishd's child writes the index of its shared-memory segments, `_.vsm_child/_.index`
//! in the instance's work directory, and starts it with a line `# <pid> <birth>`: the
//! child's process id and the time it created the index. libvarnishapi reads the same line
//! to notice a restart (`VSM_WRK_RESTARTED`). A new child (a crash, `varnishadm stop/start`)
//! or a new varnishd writes another line, and the log ring (with its segment counter) is new
//! with it.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;

/// Where Varnish keeps instances named by a name rather than a path (`VARNISH_STATE_DIR` of
/// the Debian and upstream packages, which libvarnishapi was built with).
const VARNISH_STATE_DIR: &str = "/var/lib/varnish";

/// The work directory an instance name (`-n`) stands for, as libvarnishapi resolves it
/// (`VIN_n_Arg`): a path as given, a name under the state directory, none the default.
fn work_directory(instance: Option<&str>) -> PathBuf {
    match instance {
        None | Some("") => PathBuf::from(VARNISH_STATE_DIR).join("varnishd"),
        Some(path) if path.starts_with('/') => PathBuf::from(path),
        Some(name) => PathBuf::from(VARNISH_STATE_DIR).join(name),
    }
}

/// The identity of the varnishd child currently writing the log of `instance` (as `-n`
/// takes it): its process id and start time, `"<pid> <birth>"`. `None` when it cannot be
/// read (no such instance, no child running, no permission): then no position may be
/// trusted.
pub fn instance_identity(instance: Option<&str>) -> Option<String> {
    let index = work_directory(instance).join("_.vsm_child").join("_.index");
    let file = std::fs::File::open(index).ok()?;
    let mut line = String::new();
    BufReader::new(file).read_line(&mut line).ok()?;
    parse_head(&line)
}

/// The identity from the index's first line, `# <pid> <birth>`.
fn parse_head(line: &str) -> Option<String> {
    let mut words = line.strip_prefix("# ")?.split_whitespace();
    let pid: u64 = words.next()?.parse().ok()?;
    let birth: u64 = words.next()?.parse().ok()?;
    Some(format!("{pid} {birth}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_line_names_the_child() {
        assert_eq!(
            parse_head("# 4242 1764880000\n").as_deref(),
            Some("4242 1764880000")
        );
        for bad in ["", "+ _.Log 0 100 Log", "# 12", "# x 5", "#12 5"] {
            assert_eq!(parse_head(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn instance_names_resolve_as_libvarnishapi_resolves_them() {
        assert_eq!(
            work_directory(None),
            PathBuf::from("/var/lib/varnish/varnishd")
        );
        assert_eq!(work_directory(Some("/tmp/v")), PathBuf::from("/tmp/v"));
        assert_eq!(
            work_directory(Some("edge")),
            PathBuf::from("/var/lib/varnish/edge")
        );
    }
}
