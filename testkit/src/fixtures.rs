//! Where the shared fixture configurations (`shared/fixtures/conf/`: varnishkafka's seed,
//! production and 1.1 example files) are, for every test and benchmark that reads them.
//!
//! They are not part of the repository: they live in the `shared/` folder beside it. A checkout
//! next to that folder finds them there; a checkout elsewhere (a fresh clone in a temporary
//! directory, as CI makes) finds them through `EDGESHIP_FIXTURES`, or in this machine's shared
//! folder, `/work/shared`.

use std::path::{Path, PathBuf};

/// This machine's shared folder's fixtures, for checkouts that are not beside it.
const MACHINE_FIXTURES: &str = "/work/shared/fixtures/conf";

/// The directory holding the fixture configurations: `$EDGESHIP_FIXTURES` when set, else
/// `shared/fixtures/conf` beside the checkout when it exists, else this machine's.
pub fn conf_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EDGESHIP_FIXTURES") {
        return PathBuf::from(dir);
    }
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/conf");
    if beside.is_dir() {
        return beside;
    }
    PathBuf::from(MACHINE_FIXTURES)
}

/// The path of the fixture configuration `name` (e.g. `production-webrequest.conf`).
pub fn conf(name: &str) -> PathBuf {
    conf_dir().join(name)
}
