//! Unit tests of timestamp parsing, the civil calendar and strftime rendering.

use super::*;

fn render(format: &str, text: &str) -> String {
    let time = Timestamp::parse(text.as_bytes()).expect("valid timestamp");
    let mut out = Vec::new();
    TimeFormat::compile(format)
        .expect("valid format")
        .render(time, &mut out);
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn parses_varnish_timestamps() {
    let cases: &[(&str, Option<(i64, u32)>)] = &[
        ("1700000000.123456", Some((1_700_000_000, 123_456))),
        ("1700000000", Some((1_700_000_000, 0))),
        ("1700000000.5", Some((1_700_000_000, 500_000))),
        ("1700000000.123456789", Some((1_700_000_000, 123_456))),
        ("-1.25", Some((-2, 750_000))),
        ("", None),
        ("abc", None),
        ("17.", None),
        ("1.2.3", None),
        ("1e9", None),
    ];
    for (text, expected) in cases {
        let parsed = Timestamp::parse(text.as_bytes()).map(|t| (t.seconds, t.micros));
        assert_eq!(parsed, *expected, "parsing {text:?}");
    }
}

/// The definition: split at the first '.', 1 to 15 whole digits, 1 to 9 fraction digits.
fn by_definition(text: &[u8]) -> Option<(bool, i64, u32)> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    if whole.is_empty() || whole.len() > 15 || !whole.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let seconds = whole.iter().fold(0, |n, &b| n * 10 + i64::from(b - b'0'));
    let mut micros = 0;
    if let Some(fraction) = fraction {
        if fraction.is_empty() || fraction.len() > 9 || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for position in 0..6 {
            micros = micros * 10 + fraction.get(position).map_or(0, |&b| u32::from(b - b'0'));
        }
    }
    Some((negative, seconds, micros))
}

/// Checks [`Timestamp::parse`] against [`by_definition`] on `text`.
fn assert_parses_as_defined(text: &[u8]) {
    let expected =
        by_definition(text).map(|(negative, seconds, micros)| match (negative, micros) {
            (false, _) => (seconds, micros),
            (true, 0) => (-seconds, 0),
            (true, _) => (-seconds - 1, 1_000_000 - micros),
        });
    let parsed = Timestamp::parse(text).map(|t| (t.seconds, t.micros));
    assert_eq!(parsed, expected, "{:?}", String::from_utf8_lossy(text));
}

#[test]
fn parsing_agrees_with_the_split_and_check_definition() {
    let pieces: [&[u8]; 9] = [b"", b"-", b"1", b"17", b".", b"5", b"x", b"123456789", b" "];
    let mut checked = 0;
    for a in pieces {
        for b in pieces {
            for c in pieces {
                for d in pieces {
                    assert_parses_as_defined(&[a, b, c, d].concat());
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 9 * 9 * 9 * 9);
}

#[test]
fn the_eight_bytes_at_a_time_shape_agrees_with_the_definition() {
    // Every byte value at every position of the shape Varnish logs, around several
    // values (digits at their extremes, where a wrong conversion or check shows).
    let mut checked = 0;
    for base in [
        b"1763871956.123456",
        b"0000000000.000000",
        b"9999999999.999999",
        b"1234567890.098765",
    ] {
        assert_parses_as_defined(base);
        assert!(
            parse_canonical(base).is_some(),
            "{base:?} takes the fast path"
        );
        for position in 0..base.len() {
            for byte in 0..=255 {
                let mut text = *base;
                text[position] = byte;
                assert_parses_as_defined(&text);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * 17 * 256);
    // Every eight-digit number's text converts back to it, in steps that cross every digit.
    for value in (0..100_000_000_u64).step_by(9_973).chain([99_999_999]) {
        let text = format!("{value:08}");
        assert_eq!(eight_digits(load(text.as_bytes())), value, "{text}");
        assert!(all_digits(load(text.as_bytes())));
    }
}

#[test]
fn renders_common_formats_in_utc() {
    // 1700000000 is 2023-11-14T22:13:20Z, a Tuesday.
    let cases: &[(&str, &str)] = &[
        ("%FT%TZ", "2023-11-14T22:13:20Z"),
        ("%FT%T", "2023-11-14T22:13:20"),
        (TimeFormat::DEFAULT, "[14/Nov/2023:22:13:20 +0000]"),
        ("%Y%m%d%H%M%S", "20231114221320"),
        ("%a %A %b %B %e %j", "Tue Tuesday Nov November 14 318"),
        ("%I:%M %p %l", "10:13 PM 10"),
        ("%s", "1700000000"),
        ("%u %w %U %W %V %G %g", "2 2 46 46 46 2023 23"),
        ("%c", "Tue Nov 14 22:13:20 2023"),
        ("%D %R %y %C %Z", "11/14/23 22:13 23 20 UTC"),
        ("100%% %n%t", "100% \n\t"),
        ("%FT%T.%3NZ", "2023-11-14T22:13:20.123Z"),
        ("%6N|%N|%1N", "123456|123456000|1"),
    ];
    for (format, expected) in cases {
        assert_eq!(
            render(format, "1700000000.123456"),
            *expected,
            "format {format:?}"
        );
    }
}

#[test]
fn zero_fields_keep_their_width() {
    // 1699920000 is 2023-11-14T00:00:00Z: hour, minute and second are all zero.
    let cases: &[(&str, &str, &str)] = &[
        ("%FT%TZ", "1699920000.000000", "2023-11-14T00:00:00Z"),
        ("%H|%M|%S|%I", "1699920000.000000", "00|00|00|12"),
        ("%s", "0.000000", "0"),
        ("%3N|%N", "1699920000.000000", "000|000000000"),
        ("%S", "1699920005.000000", "05"),
    ];
    for (format, time, expected) in cases {
        assert_eq!(
            render(format, time),
            *expected,
            "format {format:?} at {time}"
        );
    }
}

#[test]
fn civil_conversion_round_trips_across_centuries() {
    // Every day from 1900 to 2200, checked against an independent day-by-day walk.
    let mut days = days_from_civil(1900, 1, 1);
    for year in 1900..2200_i64 {
        for month in 1..=12_u32 {
            let length = match month {
                2 if is_leap(year) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            for day in 1..=length {
                assert_eq!(civil_from_days(days), (year, month, day));
                assert_eq!(days_from_civil(year, month, day), days);
                days += 1;
            }
        }
    }
}

#[test]
fn iso_weeks_at_year_edges() {
    // 2021-01-01 (Friday) is in ISO week 53 of 2020; 2024-12-30 (Monday) is week 1 of 2025.
    let cases = [
        (days_from_civil(2021, 1, 1), "2020-W53"),
        (days_from_civil(2024, 12, 30), "2025-W01"),
        (days_from_civil(2026, 11, 23), "2026-W48"),
    ];
    for (days, expected) in cases {
        let time = Timestamp {
            seconds: days * 86_400,
            micros: 0,
        };
        let mut out = Vec::new();
        TimeFormat::compile("%G-W%V")
            .expect("valid")
            .render(time, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), expected);
    }
}

#[test]
fn refuses_unknown_conversions_with_offset() {
    let error = TimeFormat::compile("%Y-%Q").expect_err("unknown %Q");
    assert_eq!(error.offset, 3);
    assert!(error.reason.contains("%Q"), "{}", error.reason);
    let error = TimeFormat::compile("abc%").expect_err("dangling %");
    assert_eq!(error.offset, 3);
    let error = TimeFormat::compile("%12N").expect_err("too wide");
    assert!(error.reason.contains("1 to 9"));
}
