//! Timestamps: Varnish's `seconds.micros` text parsed without floats, and strftime formats
//! compiled once and rendered in UTC without allocating.
//!
//! varnishkafka hands its format to the C library's `strftime`, in the host's time zone. edgeship
//! renders in UTC always (compat.md, "Where edgeship deliberately differs") and implements the
//! conversions itself, so rendering never touches the time-zone database or the heap.
//!
//! Sub-second precision: `%N` is nanoseconds (9 digits, as GNU `date`), and `%3N`, `%6N` (any
//! width 1 to 9) truncate it to that many digits. Varnish logs microseconds, so digits past the
//! sixth are always zero. Example: `%FT%T.%3NZ` renders `2026-11-23T14:03:22.123Z`.

use crate::words::{load, ONES};

/// A point in time as Varnish logs it: whole seconds since the epoch plus microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (negative before it).
    pub seconds: i64,
    /// Microseconds within the second, `0..1_000_000`.
    pub micros: u32,
}

impl Timestamp {
    /// Parses Varnish's `1700000000.123456` form (fraction optional, up to 9 digits of which
    /// the first 6 are kept). Returns `None` for anything else, so a garbled log field falls
    /// back to the formatter's default instead of a wrong date.
    pub fn parse(text: &[u8]) -> Option<Timestamp> {
        parse_canonical(text).or_else(|| Timestamp::parse_any(text))
    }

    /// [`Timestamp::parse`] for every shape, a byte at a time.
    fn parse_any(text: &[u8]) -> Option<Timestamp> {
        let (negative, digits) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            _ => (false, text),
        };
        // One pass: whole seconds up to an optional '.', then up to 9 fraction digits.
        let mut seconds: i64 = 0;
        let mut index = 0;
        while let Some(&byte) = digits.get(index) {
            if !byte.is_ascii_digit() {
                break;
            }
            if index == 15 {
                return None;
            }
            seconds = seconds * 10 + i64::from(byte - b'0');
            index += 1;
        }
        if index == 0 {
            return None;
        }
        let mut micros: u32 = 0;
        match digits.get(index) {
            None => {}
            Some(b'.') => {
                let fraction = &digits[index + 1..];
                if fraction.is_empty()
                    || fraction.len() > 9
                    || !fraction.iter().all(u8::is_ascii_digit)
                {
                    return None;
                }
                for position in 0..6 {
                    let digit = fraction.get(position).map_or(0, |&b| u32::from(b - b'0'));
                    micros = micros * 10 + digit;
                }
            }
            Some(_) => return None,
        }
        if negative {
            // -1.25 is 1.25 s before the epoch: -2 s plus 0.75 s.
            if micros == 0 {
                seconds = -seconds;
            } else {
                seconds = -seconds - 1;
                micros = 1_000_000 - micros;
            }
        }
        Some(Timestamp { seconds, micros })
    }
}

/// The shape Varnish logs every timestamp in until the year 2286, ten whole digits, a dot and
/// six fraction digits (`1763871956.123456`), read eight bytes at a time: two word loads, two
/// digit checks and two conversions, where the byte loop costs a few instructions per byte.
/// `None` when the text has another shape or a byte out of place; [`Timestamp::parse_any`]
/// then decides (so this only has to be right when it answers).
#[inline]
fn parse_canonical(text: &[u8]) -> Option<Timestamp> {
    let bytes: &[u8; 17] = text.try_into().ok()?;
    let high = load(&bytes[..8]);
    // Bytes 8 to 15: the last two whole digits, the dot, the first five fraction digits. With
    // the dot turned into a `0`, the word is all digits exactly when the text is well formed.
    let low = load(&bytes[8..16]);
    if bytes[10] != b'.' || !bytes[16].is_ascii_digit() {
        return None;
    }
    let low = low ^ (u64::from(b'.' ^ b'0') << 16);
    if !all_digits(high) || !all_digits(low) {
        return None;
    }
    let digit = |at: usize| u64::from(bytes[at] - b'0');
    let seconds = eight_digits(high) * 100 + digit(8) * 10 + digit(9);
    // The five fraction digits in the word's top bytes, under three `0`s.
    let fraction = eight_digits((low & !0xff_ffff) | 0x30_3030);
    let micros = fraction * 10 + digit(16);
    Some(Timestamp {
        seconds: seconds as i64,
        micros: micros as u32,
    })
}

/// Whether every byte of `word` is an ASCII digit: its high nibble is 3, and adding 6 leaves
/// it 3 (a low nibble above 9 carries into it; no byte carries into the next).
#[inline(always)]
fn all_digits(word: u64) -> bool {
    const HIGH_NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = ONES * 0x30;
    word & HIGH_NIBBLES == THREES && word.wrapping_add(ONES * 6) & HIGH_NIBBLES == THREES
}

/// The number eight ASCII digits spell (first digit in the lowest byte, as loaded from text).
/// Each step halves the number of parts: digits into pairs (each byte becomes ten times itself
/// plus its upper neighbour; the even bytes hold the pairs), then pairs into one number by two
/// multiplications whose upper halves add up to it.
#[inline(always)]
fn eight_digits(word: u64) -> u64 {
    let digits = word - ONES * u64::from(b'0');
    let pairs = digits * 10 + (digits >> 8);
    const EVERY_FOURTH: u64 = 0x0000_00ff_0000_00ff;
    let first_and_third = (pairs & EVERY_FOURTH).wrapping_mul(100 + (1_000_000 << 32));
    let second_and_fourth = ((pairs >> 16) & EVERY_FOURTH).wrapping_mul(1 + (10_000 << 32));
    first_and_third.wrapping_add(second_and_fourth) >> 32
}

/// A calendar breakdown of a [`Timestamp`] in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,   // 1..=12
    day: u32,     // 1..=31
    hour: u32,    // 0..=23
    minute: u32,  // 0..=59
    second: u32,  // 0..=59
    weekday: u32, // 0 = Sunday
    yearday: u32, // 0..=365
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl Civil {
    fn from_timestamp(time: Timestamp) -> Civil {
        let days = time.seconds.div_euclid(86_400);
        let second_of_day = time.seconds.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: second_of_day / 3600,
            minute: second_of_day / 60 % 60,
            second: second_of_day % 60,
            weekday: (days + 4).rem_euclid(7) as u32,
            yearday: (days - days_from_civil(year, 1, 1)) as u32,
        }
    }

    /// ISO 8601 week-based year and week number (`%G`, `%V`).
    fn iso_week(&self) -> (i64, u32) {
        // Monday-based weekday 1..=7.
        let weekday = if self.weekday == 0 { 7 } else { self.weekday };
        let week = (i64::from(self.yearday) + 1 - i64::from(weekday) + 10) / 7;
        if week < 1 {
            let previous = self.year - 1;
            (previous, weeks_in_iso_year(previous))
        } else if week as u32 > weeks_in_iso_year(self.year) {
            (self.year + 1, 1)
        } else {
            (self.year, week as u32)
        }
    }
}

fn weeks_in_iso_year(year: i64) -> u32 {
    // A year has 53 ISO weeks when it starts on a Thursday, or on a Wednesday in a leap year.
    let january_first = (days_from_civil(year, 1, 1) + 4).rem_euclid(7);
    if january_first == 4 || (january_first == 3 && is_leap(year)) {
        53
    } else {
        52
    }
}

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// One compiled piece of a strftime format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Year,
    Century,
    YearTwoDigits,
    IsoYear,
    IsoYearTwoDigits,
    Month,
    MonthName,
    MonthAbbreviation,
    Day,
    DaySpacePadded,
    YearDay,
    Hour,
    HourSpacePadded,
    Hour12,
    Hour12SpacePadded,
    AmPm,
    Minute,
    Second,
    Fraction(u8),
    EpochSeconds,
    WeekdayName,
    WeekdayAbbreviation,
    WeekdayMondayOne,
    WeekdaySundayZero,
    WeekSunday,
    WeekMonday,
    IsoWeek,
    ZoneOffset,
    ZoneName,
}

/// Why a strftime format was refused; `offset` is the byte offset in the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {reason}")]
pub struct TimeFormatError {
    /// Byte offset of the offending `%` within the time format.
    pub offset: usize,
    /// What is wrong there.
    pub reason: String,
}

/// A strftime format compiled once; [`TimeFormat::render`] writes a timestamp with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeFormat {
    pieces: Vec<Piece>,
}

impl TimeFormat {
    /// varnishkafka's `%t` default, Apache's common log format time: `[%d/%b/%Y:%T %z]`.
    pub const DEFAULT: &'static str = "[%d/%b/%Y:%T %z]";

    /// Compiles a strftime format. Composite conversions (`%F`, `%T`, `%D`, `%R`, `%c`, `%x`,
    /// `%X`, `%r`) expand to their POSIX-locale definitions; an unknown conversion is refused.
    pub fn compile(format: &str) -> Result<TimeFormat, TimeFormatError> {
        let mut pieces = Vec::new();
        compile_into(format.as_bytes(), 0, &mut pieces)?;
        Ok(TimeFormat { pieces })
    }

    /// Whether the output depends on the sub-second part of the time (`%N`). Without it, every
    /// timestamp of the same second renders the same text, which the renderer caches.
    pub(crate) fn uses_fraction(&self) -> bool {
        self.pieces
            .iter()
            .any(|piece| matches!(piece, Piece::Fraction(_)))
    }

    /// Writes `time` in UTC to `out`.
    pub fn render(&self, time: Timestamp, out: &mut Vec<u8>) {
        let civil = Civil::from_timestamp(time);
        for piece in &self.pieces {
            render_piece(piece, time, &civil, out);
        }
    }
}

// A table-like dispatch (one arm per strftime letter), kept whole on purpose.
fn compile_into(
    format: &[u8],
    base_offset: usize,
    pieces: &mut Vec<Piece>,
) -> Result<(), TimeFormatError> {
    let mut index = 0;
    while index < format.len() {
        let byte = format[index];
        if byte != b'%' {
            match pieces.last_mut() {
                Some(Piece::Literal(text)) => text.push(byte),
                _ => pieces.push(Piece::Literal(vec![byte])),
            }
            index += 1;
            continue;
        }
        let start = index;
        index += 1;
        // GNU extensions: a width before N (`%3N`), and the `-`/`_`/`0`/`E`/`O` modifiers,
        // which we accept and ignore except for N's width, since POSIX output is what
        // varnishkafka's users relied on.
        let mut width: Option<u8> = None;
        while let Some(&modifier) = format.get(index) {
            match modifier {
                b'0'..=b'9' => {
                    width = Some(
                        width
                            .unwrap_or(0)
                            .saturating_mul(10)
                            .saturating_add(modifier - b'0'),
                    );
                    index += 1;
                }
                b'E' | b'O' | b'-' | b'_' | b'^' | b'#' => index += 1,
                _ => break,
            }
        }
        let Some(&conversion) = format.get(index) else {
            return Err(TimeFormatError {
                offset: base_offset + start,
                reason: "time format ends with an unfinished '%'".to_string(),
            });
        };
        index += 1;
        let expand = |text: &str, pieces: &mut Vec<Piece>| {
            compile_into(text.as_bytes(), base_offset + start, pieces)
        };
        let piece = match conversion {
            b'%' => Piece::Literal(b"%".to_vec()),
            b'n' => Piece::Literal(b"\n".to_vec()),
            b't' => Piece::Literal(b"\t".to_vec()),
            b'Y' => Piece::Year,
            b'C' => Piece::Century,
            b'y' => Piece::YearTwoDigits,
            b'G' => Piece::IsoYear,
            b'g' => Piece::IsoYearTwoDigits,
            b'm' => Piece::Month,
            b'B' => Piece::MonthName,
            b'b' | b'h' => Piece::MonthAbbreviation,
            b'd' => Piece::Day,
            b'e' => Piece::DaySpacePadded,
            b'j' => Piece::YearDay,
            b'H' => Piece::Hour,
            b'k' => Piece::HourSpacePadded,
            b'I' => Piece::Hour12,
            b'l' => Piece::Hour12SpacePadded,
            b'p' => Piece::AmPm,
            b'M' => Piece::Minute,
            b'S' => Piece::Second,
            b'N' => {
                let digits = width.unwrap_or(9);
                if !(1..=9).contains(&digits) {
                    return Err(TimeFormatError {
                        offset: base_offset + start,
                        reason: format!("%{digits}N: fraction width must be 1 to 9"),
                    });
                }
                Piece::Fraction(digits)
            }
            b's' => Piece::EpochSeconds,
            b'A' => Piece::WeekdayName,
            b'a' => Piece::WeekdayAbbreviation,
            b'u' => Piece::WeekdayMondayOne,
            b'w' => Piece::WeekdaySundayZero,
            b'U' => Piece::WeekSunday,
            b'W' => Piece::WeekMonday,
            b'V' => Piece::IsoWeek,
            b'z' => Piece::ZoneOffset,
            b'Z' => Piece::ZoneName,
            b'F' => {
                expand("%Y-%m-%d", pieces)?;
                continue;
            }
            b'T' | b'X' => {
                expand("%H:%M:%S", pieces)?;
                continue;
            }
            b'D' | b'x' => {
                expand("%m/%d/%y", pieces)?;
                continue;
            }
            b'R' => {
                expand("%H:%M", pieces)?;
                continue;
            }
            b'r' => {
                expand("%I:%M:%S %p", pieces)?;
                continue;
            }
            b'c' => {
                expand("%a %b %e %H:%M:%S %Y", pieces)?;
                continue;
            }
            other => {
                return Err(TimeFormatError {
                    offset: base_offset + start,
                    reason: format!(
                        "unknown time conversion %{}",
                        char::from(other).escape_default()
                    ),
                })
            }
        };
        // Merge literals so rendering copies runs of text at once.
        match (pieces.last_mut(), piece) {
            (Some(Piece::Literal(text)), Piece::Literal(more)) => text.extend_from_slice(&more),
            (_, piece) => pieces.push(piece),
        }
    }
    Ok(())
}

/// Writes `value` zero-padded to `width` digits (more if it needs them), without going through
/// `fmt` machinery: this runs several times per record.
fn push_padded(out: &mut Vec<u8>, value: i64, width: usize) {
    if value < 0 {
        out.push(b'-');
    }
    let mut magnitude = value.unsigned_abs();
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    // At least one digit, so zero is "0" and padding counts it (":00", not ":000").
    loop {
        start -= 1;
        digits[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    let used = digits.len() - start;
    let sign = usize::from(value < 0);
    for _ in used + sign..width {
        out.push(b'0');
    }
    out.extend_from_slice(&digits[start..]);
}

fn push_space_padded(out: &mut Vec<u8>, value: u32) {
    if value < 10 {
        out.push(b' ');
    }
    push_padded(out, i64::from(value), 1);
}

fn render_piece(piece: &Piece, time: Timestamp, civil: &Civil, out: &mut Vec<u8>) {
    match piece {
        Piece::Literal(text) => out.extend_from_slice(text),
        Piece::Year => push_padded(out, civil.year, 4),
        Piece::Century => push_padded(out, civil.year.div_euclid(100), 2),
        Piece::YearTwoDigits => push_padded(out, civil.year.rem_euclid(100), 2),
        Piece::IsoYear => push_padded(out, civil.iso_week().0, 4),
        Piece::IsoYearTwoDigits => push_padded(out, civil.iso_week().0.rem_euclid(100), 2),
        Piece::Month => push_padded(out, i64::from(civil.month), 2),
        Piece::MonthName => out.extend_from_slice(MONTHS[civil.month as usize - 1].as_bytes()),
        Piece::MonthAbbreviation => {
            out.extend_from_slice(&MONTHS[civil.month as usize - 1].as_bytes()[..3])
        }
        Piece::Day => push_padded(out, i64::from(civil.day), 2),
        Piece::DaySpacePadded => push_space_padded(out, civil.day),
        Piece::YearDay => push_padded(out, i64::from(civil.yearday + 1), 3),
        Piece::Hour => push_padded(out, i64::from(civil.hour), 2),
        Piece::HourSpacePadded => push_space_padded(out, civil.hour),
        Piece::Hour12 => push_padded(out, i64::from(twelve_hour(civil.hour)), 2),
        Piece::Hour12SpacePadded => push_space_padded(out, twelve_hour(civil.hour)),
        Piece::AmPm => out.extend_from_slice(if civil.hour < 12 { b"AM" } else { b"PM" }),
        Piece::Minute => push_padded(out, i64::from(civil.minute), 2),
        Piece::Second => push_padded(out, i64::from(civil.second), 2),
        Piece::Fraction(digits) => {
            let nanos = i64::from(time.micros) * 1000;
            let divisor = 10_i64.pow(9 - u32::from(*digits));
            push_padded(out, nanos / divisor, usize::from(*digits));
        }
        Piece::EpochSeconds => push_padded(out, time.seconds, 1),
        Piece::WeekdayName => out.extend_from_slice(WEEKDAYS[civil.weekday as usize].as_bytes()),
        Piece::WeekdayAbbreviation => {
            out.extend_from_slice(&WEEKDAYS[civil.weekday as usize].as_bytes()[..3])
        }
        Piece::WeekdayMondayOne => push_padded(
            out,
            i64::from(if civil.weekday == 0 { 7 } else { civil.weekday }),
            1,
        ),
        Piece::WeekdaySundayZero => push_padded(out, i64::from(civil.weekday), 1),
        Piece::WeekSunday => {
            push_padded(out, i64::from((civil.yearday + 7 - civil.weekday) / 7), 2)
        }
        Piece::WeekMonday => push_padded(
            out,
            i64::from((civil.yearday + 7 - (civil.weekday + 6) % 7) / 7),
            2,
        ),
        Piece::IsoWeek => push_padded(out, i64::from(civil.iso_week().1), 2),
        Piece::ZoneOffset => out.extend_from_slice(b"+0000"),
        Piece::ZoneName => out.extend_from_slice(b"UTC"),
    }
}

fn twelve_hour(hour: u32) -> u32 {
    match hour % 12 {
        0 => 12,
        other => other,
    }
}

#[cfg(test)]
mod tests;
