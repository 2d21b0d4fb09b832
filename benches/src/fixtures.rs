//! The shared fixture configurations (`shared/fixtures/conf/`): where they are and the format
//! each one declares.

use std::path::PathBuf;

/// The 2013 varnishkafka configuration edgeship was first measured against ("the seed format").
pub const SEED: &str = "seed-2013-varnishkafka.conf";
/// Today's production webrequest configuration, 22 JSON fields.
pub const PRODUCTION: &str = "production-webrequest.conf";
/// varnishkafka 1.1's example configuration: a text (`format.type = string`) format.
pub const EXAMPLE: &str = "varnishkafka-1.1-example.conf";
/// Every fixture configuration, for seeding fuzz corpora.
pub const ALL: [&str; 3] = [SEED, PRODUCTION, EXAMPLE];

/// The path of a fixture configuration (see [`edgeship_testkit::fixtures`] for where the
/// fixtures are looked for).
pub fn path(name: &str) -> PathBuf {
    edgeship_testkit::fixtures::conf(name)
}

/// The value of the last uncommented `format = ` line of a fixture (the last one wins, as in
/// varnishkafka).
///
/// This is a deliberately small reader, not `edgeship-conf`: the benchmarks measure rendering,
/// and must not change when the configuration reader's validation does.
pub fn format(name: &str) -> std::io::Result<String> {
    let path = path(name);
    let text = std::fs::read_to_string(&path)?;
    format_line(&text).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: no `format = ` line", path.display()),
        )
    })
}

fn format_line(text: &str) -> Option<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| key.trim() == "format")
        .map(|(_, value)| value.trim().to_string())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_uncommented_format_line_wins() {
        let text = "format = %a\n# format = %b\nformat.type = json\n  format =  %c %d \nx = 1\n";
        assert_eq!(format_line(text).as_deref(), Some("%c %d"));
        assert_eq!(format_line("format.type = json\n"), None);
    }

    #[test]
    fn every_fixture_declares_a_format() {
        for name in ALL {
            let format = format(name).unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(format.contains('%'), "{name}: {format}");
        }
    }
}
