//! The shared fixture configurations (`shared/fixtures/conf/`: varnishkafka's seed,
//! production and 1.1 example files): where they are, and the format each one declares, for
//! every test, benchmark and fuzz target that reads them.
//!
//! They are not part of the repository: they live in the `shared/` folder beside the checkout
//! (the folder that holds the checkout also holds `shared/`). A checkout elsewhere (a fresh
//! clone in a temporary directory, as CI makes) names them with `EDGESHIP_FIXTURES`. Nothing
//! else is guessed: when neither is there, the error says how to set it. `fuzz/seed-corpora`
//! and the `benches/` scripts (`benches/lib.sh`) look in the same order.

use std::path::{Path, PathBuf};

/// The 2013 varnishkafka configuration edgeship was first measured against ("the seed format").
pub const SEED: &str = "seed-2013-varnishkafka.conf";
/// Today's production webrequest configuration, 22 JSON fields.
pub const PRODUCTION: &str = "production-webrequest.conf";
/// varnishkafka 1.1's example configuration: a text (`format.type = string`) format.
pub const EXAMPLE: &str = "varnishkafka-1.1-example.conf";
/// Every fixture configuration, for seeding fuzz corpora.
pub const ALL: [&str; 3] = [SEED, PRODUCTION, EXAMPLE];

/// The environment variable that names the fixture directory.
pub const VARIABLE: &str = "EDGESHIP_FIXTURES";

/// Why a fixture could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// `EDGESHIP_FIXTURES` is set, to something that is not a directory.
    #[error("{VARIABLE}={} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// `EDGESHIP_FIXTURES` is not set and there is no `shared/` beside the checkout.
    #[error(
        "no fixture configurations at {} (the shared/ folder beside the checkout): set \
         {VARIABLE} to the directory that holds them (shared/fixtures/conf)",
        .0.display()
    )]
    NotFound(PathBuf),
    /// The fixture file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        source: std::io::Error,
    },
    /// The fixture has no uncommented `format = ` line.
    #[error("{}: no `format = ` line", .0.display())]
    NoFormat(PathBuf),
}

/// The directory holding the fixture configurations: `$EDGESHIP_FIXTURES` when set, else
/// `shared/fixtures/conf` beside the checkout.
pub fn conf_dir() -> Result<PathBuf, FixtureError> {
    if let Some(dir) = std::env::var_os(VARIABLE) {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(FixtureError::NotADirectory(dir))
        };
    }
    // This crate is `<checkout>/testkit`; `shared/` sits beside `<checkout>`.
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/conf");
    if beside.is_dir() {
        Ok(beside)
    } else {
        Err(FixtureError::NotFound(beside))
    }
}

/// The path of the fixture configuration `name` (e.g. [`PRODUCTION`]).
pub fn conf(name: &str) -> Result<PathBuf, FixtureError> {
    Ok(conf_dir()?.join(name))
}

/// The values of a fixture's uncommented `format = ` lines, in file order.
pub fn formats(name: &str) -> Result<Vec<String>, FixtureError> {
    read_formats(&conf(name)?)
}

/// The format a fixture declares: the value of its last uncommented `format = ` line (the
/// last one wins, as in varnishkafka).
///
/// This is a deliberately small reader, not `edgeship-conf`: the benchmarks measure rendering,
/// and must not change when the configuration reader's validation does.
pub fn format(name: &str) -> Result<String, FixtureError> {
    let path = conf(name)?;
    read_formats(&path)?
        .pop()
        .ok_or(FixtureError::NoFormat(path))
}

fn read_formats(path: &Path) -> Result<Vec<String>, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(format_lines(&text).map(str::to_owned).collect())
}

fn format_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.trim() == "format")
        .map(|(_, value)| value.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_uncommented_format_line_wins() {
        let text = "format = %a\n# format = %b\nformat.type = json\n  format =  %c %d \nx = 1\n";
        assert_eq!(format_lines(text).last(), Some("%c %d"));
        assert_eq!(format_lines("format.type = json\n").last(), None);
    }

    #[test]
    fn every_fixture_declares_a_format() {
        for name in ALL {
            let format = format(name).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(format.contains('%'), "{name}: {format}");
        }
    }
}
