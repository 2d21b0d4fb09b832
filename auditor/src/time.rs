//! UTC timestamps as the records spell them, turned into seconds and hours cheaply.
//!
//! The auditor parses one `dt` per record, so this avoids a general date library: the civil
//! calendar arithmetic is a few integer operations, and callers cache the day of the previous
//! record so most lines only parse the time of day.

/// Seconds in one hour.
pub const HOUR: i64 = 3600;
/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (no range checks beyond the caller's).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Shift the year so that it starts in March: the leap day is then the last day of the year
    // and the month lengths repeat in a regular 153-day pattern.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A date of the proleptic Gregorian calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilDate {
    /// The year (astronomical: 0 is 1 BC).
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, from 1.
    pub day: u32,
}

/// The calendar date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> CivilDate {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    CivilDate { year, month, day }
}

/// The hour number (hours since the epoch) of a time in seconds.
pub fn hour_of(seconds: i64) -> i64 {
    seconds.div_euclid(HOUR)
}

/// Formats an hour number the way reports name hours: `2026-11-23T14`.
pub fn format_hour(hour: i64) -> String {
    let CivilDate { year, month, day } = civil_from_days((hour * HOUR).div_euclid(DAY));
    format!("{year:04}-{month:02}-{day:02}T{:02}", hour.rem_euclid(24))
}

/// Formats a time in seconds as `2026-11-23T14:03:22Z`.
pub fn format_time(seconds: i64) -> String {
    let CivilDate { year, month, day } = civil_from_days(seconds.div_euclid(DAY));
    let in_day = seconds.rem_euclid(DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// The start time edgeship's run identifier begins with (`20261123T140312Z-9f3a02c7`, see
/// `docs/records.md`), or `None` for a run named otherwise.
pub fn run_start(run: &str) -> Option<i64> {
    let b = run.as_bytes();
    if b.len() < 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let mut text = [0u8; 20];
    text[..4].copy_from_slice(&b[..4]);
    text[5..7].copy_from_slice(&b[4..6]);
    text[8..10].copy_from_slice(&b[6..8]);
    text[11..13].copy_from_slice(&b[9..11]);
    text[14..16].copy_from_slice(&b[11..13]);
    text[17..19].copy_from_slice(&b[13..15]);
    text[4] = b'-';
    text[7] = b'-';
    text[10] = b'T';
    text[13] = b':';
    text[16] = b':';
    text[19] = b'Z';
    TimeParser::new().parse(&text)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for &b in bytes {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + u32::from(d);
    }
    Some(value)
}

/// Parses a date `YYYY-MM-DD` to days since the epoch.
fn parse_date(bytes: &[u8]) -> Option<i64> {
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = digits(&bytes[0..4])?;
    let month = digits(&bytes[5..7])?;
    let day = digits(&bytes[8..10])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(i64::from(year), month, day))
}

/// Parses the zone suffix after the seconds: nothing (the seed format, UTC by contract), `Z`,
/// or `+hh:mm` / `-hh:mm`; an optional fraction of a second before it is ignored.
fn parse_zone(mut rest: &[u8]) -> Option<i64> {
    if let Some((&b'.', fraction)) = rest.split_first() {
        let n = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    match rest {
        [] | [b'Z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let offset =
                i64::from(digits(&[*h1, *h2])?) * HOUR + i64::from(digits(&[*m1, *m2])?) * 60;
            Some(if *sign == b'+' { -offset } else { offset })
        }
        _ => None,
    }
}

fn parse_clock(bytes: &[u8]) -> Option<i64> {
    // HH:MM:SS
    if bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    let h = digits(&bytes[0..2])?;
    let m = digits(&bytes[3..5])?;
    let s = digits(&bytes[6..8])?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some(i64::from(h) * HOUR + i64::from(m) * 60 + i64::from(s))
}

/// Parses record timestamps, remembering the last date seen so that consecutive records of the
/// same day skip the calendar arithmetic.
#[derive(Debug, Default)]
pub struct TimeParser {
    cached_date: [u8; 10],
    cached_days: i64,
}

impl TimeParser {
    /// A parser with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff][Z|±hh:mm]` (a space is accepted
    /// in place of the `T`), or `None` when the text is not such a timestamp.
    pub fn parse(&mut self, bytes: &[u8]) -> Option<i64> {
        if bytes.len() < 19 || !matches!(bytes[10], b'T' | b' ') {
            return None;
        }
        let date = &bytes[0..10];
        let days = if date == self.cached_date {
            self.cached_days
        } else {
            let days = parse_date(date)?;
            self.cached_date.copy_from_slice(date);
            self.cached_days = days;
            days
        };
        let clock = parse_clock(&bytes[11..19])?;
        let zone = parse_zone(&bytes[19..])?;
        Some(days * DAY + clock + zone)
    }
}

/// Parses a window bound given on the command line: a full timestamp as records carry it, or
/// a prefix of one (`2026-11-23T14`, `2026-11-23T14:30`, `2026-11-23`), always UTC.
pub fn parse_bound(text: &str) -> Option<i64> {
    let bytes = text.trim().as_bytes();
    match bytes.len() {
        10 => Some(parse_date(bytes)? * DAY),
        13 | 14 if matches!(bytes[10], b'T' | b' ') => {
            let rest = &bytes[13..];
            if !(rest.is_empty() || rest == b"Z") {
                return None;
            }
            let h = digits(&bytes[11..13])?;
            (h <= 23).then_some(())?;
            Some(parse_date(&bytes[..10])? * DAY + i64::from(h) * HOUR)
        }
        16 | 17 if matches!(bytes[10], b'T' | b' ') && bytes[13] == b':' => {
            let rest = &bytes[16..];
            if !(rest.is_empty() || rest == b"Z") {
                return None;
            }
            let h = digits(&bytes[11..13])?;
            let m = digits(&bytes[14..16])?;
            (h <= 23 && m <= 59).then_some(())?;
            Some(parse_date(&bytes[..10])? * DAY + i64::from(h) * HOUR + i64::from(m) * 60)
        }
        _ => TimeParser::new().parse(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_of_an_edgeship_run_identifier() {
        assert_eq!(
            run_start("20261123T140312Z-9f3a02c7"),
            parse_bound("2026-11-23T14:03:12Z")
        );
        assert_eq!(run_start("r1"), None);
        assert_eq!(run_start("2026112XT140312Z-9f3a02c7"), None);
    }

    #[test]
    fn civil_round_trip_covers_leap_years_and_month_ends() {
        for days in -800_000..800_000i64 {
            let CivilDate {
                year: y,
                month: m,
                day: d,
            } = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
    }

    #[test]
    fn record_timestamps_in_every_accepted_spelling() {
        let base = days_from_civil(2026, 11, 23) * DAY + 14 * HOUR + 3 * 60 + 22;
        let mut p = TimeParser::new();
        for (text, expected) in [
            ("2026-11-23T14:03:22Z", Some(base)),
            ("2026-11-23T14:03:22", Some(base)),
            ("2026-11-23 14:03:22", Some(base)),
            ("2026-11-23T14:03:22.123456Z", Some(base)),
            ("2026-11-23T16:03:22+02:00", Some(base)),
            ("2026-11-23T13:03:22-01:00", Some(base)),
            ("2026-11-23T14:03:2", None),
            ("2026-11-23T24:03:22Z", None),
            ("2026-13-23T14:03:22Z", None),
            ("2026-11-23T14:03:22Q", None),
            ("2026-11-23T14:03:22.Z", None),
            ("-", None),
            ("", None),
        ] {
            assert_eq!(p.parse(text.as_bytes()), expected, "{text}");
        }
    }

    #[test]
    fn window_bounds_accept_prefixes() {
        let day = days_from_civil(2026, 11, 23) * DAY;
        assert_eq!(parse_bound("2026-11-23"), Some(day));
        assert_eq!(parse_bound("2026-11-23T14"), Some(day + 14 * HOUR));
        assert_eq!(parse_bound("2026-11-23T14Z"), Some(day + 14 * HOUR));
        assert_eq!(
            parse_bound("2026-11-23T14:30"),
            Some(day + 14 * HOUR + 1800)
        );
        assert_eq!(
            parse_bound("2026-11-23T14:30:05Z"),
            Some(day + 14 * HOUR + 1805)
        );
        assert_eq!(parse_bound("2026-11-23T25"), None);
        assert_eq!(parse_bound("yesterday"), None);
    }

    #[test]
    fn hours_format_as_reports_name_them() {
        let t = days_from_civil(2026, 11, 23) * DAY + 14 * HOUR + 59 * 60 + 59;
        assert_eq!(format_hour(hour_of(t)), "2026-11-23T14");
        assert_eq!(format_time(t), "2026-11-23T14:59:59Z");
        assert_eq!(format_hour(hour_of(t + 1)), "2026-11-23T15");
    }
}
