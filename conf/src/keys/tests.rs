//! Unit tests of the own keys: their defaults parse, the crate documentation's table says what
//! the entries say, and the parsers of `kafka.partition` and `kafka.topic`.

use super::*;

/// Every default parses, both where the draft starts from it and applied as a line would
/// write it.
#[test]
fn every_default_parses() {
    let mut draft = match Draft::with_defaults() {
        Ok(draft) => draft,
        Err(reason) => panic!("a default in the key table does not parse: {reason}"),
    };
    for key in OWN_KEYS {
        let (Fallback::Value(value) | Fallback::Named { value, .. }) = key.default else {
            continue;
        };
        assert_eq!((key.apply)(&mut draft, value, 1), Ok(()), "{}", key.name);
    }
}

#[test]
fn names_and_older_spellings_are_unique() {
    let mut names: Vec<&str> = OWN_KEYS
        .iter()
        .flat_map(|key| std::iter::once(key.name).chain(key.aliases.iter().copied()))
        .collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        count,
        "a name or alias appears twice in OWN_KEYS"
    );
}

/// The crate documentation's row for `key`: the name (with the command-line flag of a
/// `varnish.arg.*` key, which `Overrides` sets, and the older spellings), the value and the
/// default.
fn documented_row(key: &OwnKey) -> String {
    let mut name = format!("`{}`", key.name);
    // `varnish.arg.m` has no command-line flag: it exists for old configuration files.
    if let Some(letter) = key.name.strip_prefix("varnish.arg.").filter(|l| *l != "m") {
        name.push_str(&format!(" / `-{letter}`"));
    }
    if !key.aliases.is_empty() {
        let aliases: Vec<String> = key
            .aliases
            .iter()
            .map(|alias| format!("`{alias}`"))
            .collect();
        name.push_str(&format!(" (older: {})", aliases.join(", ")));
    }
    let default = match key.default {
        Fallback::Value(value) => format!("`{value}`"),
        Fallback::Named { shown, .. } | Fallback::Unset(shown) => shown.to_owned(),
    };
    format!("| {name} | {} | {default} |", key.value)
}

/// The crate documentation's key table lists exactly the own keys, in table order, as the
/// table describes them (the passthrough rows, `kafka.<prop>` and `kafka.topic.<prop>`, aside).
#[test]
fn crate_documentation_lists_every_key_as_the_table_says() {
    let documented: Vec<&str> = include_str!("../lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("//! "))
        .filter(|row| row.starts_with("| `") && !row.contains("<prop>"))
        .collect();
    let expected: Vec<String> = OWN_KEYS.iter().map(documented_row).collect();
    assert_eq!(
        documented,
        expected,
        "the key table in conf/src/lib.rs has drifted from OWN_KEYS; its rows should read:\n{}",
        expected
            .iter()
            .map(|row| format!("//! {row}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn partitions() {
    assert_eq!(partition("%l"), Ok(PartitionSetting::ByHostName));
    assert_eq!(partition("-1"), Ok(PartitionSetting::Partitioner));
    assert_eq!(partition("0"), Ok(PartitionSetting::Fixed(0)));
    assert_eq!(
        partition("2147483647"),
        Ok(PartitionSetting::Fixed(i32::MAX))
    );
    for bad in ["-2", "2147483648", "%h", "x", "-", "1.5"] {
        assert!(partition(bad).is_err(), "{bad}");
    }
}

#[test]
fn topic_names() {
    assert!(topic_name("webrequest_text").is_ok());
    assert!(topic_name("a.b-c").is_ok());
    assert!(topic_name("web request").is_err());
    assert!(topic_name("..").is_err());
    assert!(topic_name(&"x".repeat(250)).is_err());
}
