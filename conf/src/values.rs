//! Value parsers shared by every key: booleans as varnishkafka reads them (with one deliberate
//! difference), strictly checked numbers, and the command-line helpers that apply the same rules.
//!
//! Each parser returns the reason without the key's name; the caller prefixes `key: ` so every
//! message names the key as it was written.

use crate::error::ValueError;

/// Reads a boolean as varnishkafka's `conf_tof` does, except that unrecognised words are refused.
///
/// varnishkafka first tries `strtoul(value, NULL, 0)`: if that consumes at least one digit, the
/// result decides (`0` false; `1`, `-1`, `0x1`, `2abc` true). Otherwise `yes`, `true` and `on`
/// (any case) are true, and anything else, including typos such as `ture`, is silently false.
/// edgeship keeps the numeric rule and the three true words, accepts `no`, `false` and `off` as
/// false, and reports anything else: a typo in `log.kafka.msg.error` must not quietly turn
/// delivery-error logging off.
pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    if let Some(nonzero) = strtoul_prefix_is_nonzero(value) {
        return Ok(nonzero);
    }
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        _ => Err(format!(
            "bad boolean {value:?} (expected true/false, yes/no, on/off or a number; \
             varnishkafka silently read this as false)"
        )),
    }
}

/// Mirrors what `strtoul(value, NULL, 0)` would consume: `None` when it converts no digit at all,
/// otherwise whether the converted number is nonzero. Overflow and a minus sign do not matter:
/// `strtoul` returns a nonzero value for both, and only zero versus nonzero is asked.
fn strtoul_prefix_is_nonzero(value: &str) -> Option<bool> {
    let bytes = value.trim_start_matches(is_c_space).as_bytes();
    let unsigned = match bytes.first() {
        Some(b'+') | Some(b'-') => &bytes[1..],
        _ => bytes,
    };
    let first = *unsigned.first()?;
    if !first.is_ascii_digit() {
        return None;
    }
    let is_hex_prefix = first == b'0'
        && matches!(unsigned.get(1), Some(b'x') | Some(b'X'))
        && unsigned.get(2).is_some_and(u8::is_ascii_hexdigit);
    let nonzero = if is_hex_prefix {
        unsigned[2..]
            .iter()
            .take_while(|byte| byte.is_ascii_hexdigit())
            .any(|&byte| byte != b'0')
    } else if first == b'0' {
        // Base 0 reads a leading zero as octal, so "09" converts just the "0": false.
        unsigned
            .iter()
            .take_while(|byte| (b'0'..=b'7').contains(byte))
            .any(|&byte| byte != b'0')
    } else {
        true
    };
    Some(nonzero)
}

/// The characters C's `isspace` accepts in the "C" locale; varnishkafka trims exactly these.
pub(crate) fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// A strictly decimal whole number (optional leading `+`) in `min..=max`.
///
/// varnishkafka used `atoi`, which reads `12x` as 12 and `x` as 0; both are refused here.
pub(crate) fn parse_whole(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let expected = format!("a whole number{}", describe_range(min, max));
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!("bad number {value:?} (expected {expected})"));
    }
    digits
        .parse::<u64>()
        .ok()
        .filter(|number| (min..=max).contains(number))
        .ok_or_else(|| format!("{value} is out of range (expected {expected})"))
}

fn describe_range(min: u64, max: u64) -> String {
    // The upper bounds used are the integer types' own limits; naming 4294967295 helps nobody.
    if max >= u64::from(u32::MAX) {
        format!(" of at least {min}")
    } else {
        format!(" from {min} to {max}")
    }
}

/// An unsigned number read as `strtoull(value, NULL, 0)` reads it (`0x` hex, leading-`0` octal,
/// decimal), but with the whole value required to be the number: no trailing text, no sign
/// other than `+`.
pub(crate) fn parse_c_unsigned(value: &str) -> Option<u64> {
    let text = value.strip_prefix('+').unwrap_or(value);
    let (digits, radix) =
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (hex, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    // from_str_radix would accept a second sign; the digits alone must remain.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// The longest `-T` accepted, in seconds (about 136 years): far beyond any useful timeout, and
/// far below what a `Duration` holds, so the reader can never fail to represent it.
pub const MAX_TIMEOUT_SECONDS: f64 = u32::MAX as f64;

/// `varnish.arg.T` / `-T`: the VSL transaction timeout in seconds, a non-negative decimal number
/// as Varnish's `VNUM` reads it (fractions and exponents allowed, `inf`/`nan` not), at most
/// [`MAX_TIMEOUT_SECONDS`]. Varnish itself takes any finite number, but a value such as `1e20`
/// does not fit a `Duration`; it is refused here, where `--check-config` sees it, rather than
/// failing when the reader starts.
pub fn parse_timeout(value: &str) -> Result<f64, ValueError> {
    let looks_numeric = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    match value.parse::<f64>() {
        Ok(seconds) if looks_numeric && (0.0..=MAX_TIMEOUT_SECONDS).contains(&seconds) => {
            Ok(seconds)
        }
        Ok(seconds) if looks_numeric && seconds > MAX_TIMEOUT_SECONDS => Err(ValueError(format!(
            "{value} is out of range (expected seconds, at most {MAX_TIMEOUT_SECONDS})"
        ))),
        Ok(_) if looks_numeric => Err(ValueError(format!(
            "{value} is out of range (expected seconds, at least 0)"
        ))),
        _ => Err(ValueError(format!(
            "bad number {value:?} (expected seconds, e.g. 120 or 1.5)"
        ))),
    }
}

/// `varnish.arg.L` / `-L`: the limit of incomplete transactions, `1..=2147483647` as Varnish
/// accepts it (`strtol` base 0, so `0x400` works too).
pub fn parse_limit(value: &str) -> Result<u32, ValueError> {
    const MAX: u64 = i32::MAX as u64;
    match parse_c_unsigned(value) {
        Some(limit @ 1..=MAX) => u32::try_from(limit).map_err(|_| out_of_range_limit(value)),
        Some(_) => Err(out_of_range_limit(value)),
        None => Err(ValueError(format!(
            "bad number {value:?} (expected a whole number from 1 to {MAX})"
        ))),
    }
}

fn out_of_range_limit(value: &str) -> ValueError {
    ValueError(format!(
        "{value} is out of range (expected 1 to {})",
        i32::MAX
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// varnishkafka's conf_tof cases, plus edgeship's refusal of unknown words.
    #[test]
    fn booleans_follow_conf_tof() {
        let cases: &[(&str, Option<bool>)] = &[
            ("1", Some(true)),
            ("0", Some(false)),
            ("-1", Some(true)),
            ("0x1", Some(true)),
            ("0x0", Some(false)),
            ("0xg", Some(false)), // strtoul converts just the "0"
            ("2abc", Some(true)),
            ("09", Some(false)), // octal: only the "0" is converted
            ("007", Some(true)),
            ("99999999999999999999999", Some(true)), // overflow is ULONG_MAX, nonzero
            ("true", Some(true)),
            ("YES", Some(true)),
            ("On", Some(true)),
            ("false", Some(false)),
            ("No", Some(false)),
            ("OFF", Some(false)),
            ("ture", None),
            ("", None),
            ("enabled", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_bool(input).ok(), *expected, "input {input:?}");
        }
        let message = parse_bool("ture").expect_err("ture is not a boolean");
        assert!(message.contains("silently read this as false"), "{message}");
    }

    #[test]
    fn whole_numbers_are_strict() {
        assert_eq!(parse_whole("42", 0, 100), Ok(42));
        assert_eq!(parse_whole("+7", 1, 7), Ok(7));
        assert_eq!(
            parse_whole("12x", 0, 100),
            Err("bad number \"12x\" (expected a whole number from 0 to 100)".to_owned())
        );
        assert_eq!(
            parse_whole("8", 1, 7),
            Err("8 is out of range (expected a whole number from 1 to 7)".to_owned())
        );
        assert!(parse_whole("-1", 0, 100).is_err());
        assert!(parse_whole(" 1", 0, 100).is_err());
        assert!(parse_whole("99999999999999999999999", 0, u64::MAX).is_err());
    }

    #[test]
    fn c_unsigned_reads_bases_like_strtoull() {
        assert_eq!(parse_c_unsigned("0"), Some(0));
        assert_eq!(parse_c_unsigned("1234"), Some(1234));
        assert_eq!(parse_c_unsigned("0x10"), Some(16));
        assert_eq!(parse_c_unsigned("0X1f"), Some(31));
        assert_eq!(parse_c_unsigned("010"), Some(8));
        assert_eq!(parse_c_unsigned("+5"), Some(5));
        assert_eq!(parse_c_unsigned("08"), None);
        assert_eq!(parse_c_unsigned("0x"), None);
        assert_eq!(parse_c_unsigned("0x+1"), None);
        assert_eq!(parse_c_unsigned("-1"), None);
        assert_eq!(parse_c_unsigned("12abc"), None);
        assert_eq!(parse_c_unsigned(""), None);
    }

    #[test]
    fn timeout_and_limit_follow_varnish() {
        assert_eq!(parse_timeout("120"), Ok(120.0));
        assert_eq!(parse_timeout("1.5"), Ok(1.5));
        assert_eq!(parse_timeout("0"), Ok(0.0));
        assert!(parse_timeout("-1").is_err());
        assert!(parse_timeout("inf").is_err());
        assert!(parse_timeout("nan").is_err());
        assert!(parse_timeout("10s").is_err());
        assert_eq!(parse_timeout("4294967295"), Ok(4294967295.0));
        assert_eq!(
            parse_timeout("1e20").map_err(|error| error.to_string()),
            Err("1e20 is out of range (expected seconds, at most 4294967295)".to_owned())
        );
        assert_eq!(parse_limit("1000"), Ok(1000));
        assert_eq!(parse_limit("0x400"), Ok(1024));
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("2147483648").is_err());
        assert!(parse_limit("many").is_err());
    }
}
