//! Byte-level writers: JSON strings that are valid whatever the input, varnishkafka's
//! `!escape` text rule, and the JSON number check behind `!num`.
//!
//! Header bytes come from any client on the internet, so nothing here assumes UTF-8 or
//! printable input.

use crate::words::{bytes_equal, first_marked, load, HIGH_BITS, ONES};

/// The UTF-8 encoding of U+FFFD REPLACEMENT CHARACTER.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Writes `bytes` as a quoted JSON string.
///
/// Valid UTF-8 passes through; `"` and `\` are backslashed; `\b \f \n \r \t` use their short
/// forms and other control bytes `\u00XX` (upper-case hex, as yajl wrote them for
/// varnishkafka). Each invalid UTF-8 sequence becomes U+FFFD (the same rule as
/// `String::from_utf8_lossy`), where varnishkafka wrote the raw bytes and produced JSON that
/// strict parsers refuse.
pub fn json_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    json_string_rest(bytes, out);
}

/// [`json_string`] without its opening quote: the escaped text and the closing quote, for a
/// caller that wrote the quote with the text before it.
///
/// Most values are plain ASCII that needs no escape. They are scanned and copied eight bytes
/// at a time, always eight bytes to `out` (then cut back): a copy of a fixed size is a couple
/// of instructions, where a copy of a length known only at run time is a call into `memcpy`.
/// The last few bytes are read as the value's last eight (overlapping what was scanned), or
/// gathered when the value is shorter than a word, and the closing quote rides in the same
/// word. At the first byte that needs more (an escape, or any byte from 0x80 up, which needs
/// the UTF-8 check) the rest goes to [`json_string_slow`]; the prefix copied so far ends on
/// an ASCII boundary, so the rest is valid UTF-8 exactly when the whole was.
#[inline(always)]
pub(crate) fn json_string_rest(bytes: &[u8], out: &mut Vec<u8>) {
    let mut index = 0;
    while let Some(chunk) = bytes.get(index..index + 8) {
        let word = load(chunk);
        let stops = escape_stops(word, HIGH_BITS);
        if stops != 0 {
            let plain = first_marked(stops);
            push_word_prefix(word, plain, out);
            json_string_slow(&bytes[index + plain..], out);
            return;
        }
        out.extend_from_slice(&word.to_le_bytes());
        index += 8;
    }
    let left = bytes.len() - index;
    if left == 0 {
        out.push(b'"');
        return;
    }
    let tail = match bytes.len().checked_sub(8) {
        // The last eight bytes, shifted so that the unscanned ones come first.
        Some(last) => load(&bytes[last..]) >> (8 * (8 - left)),
        None => bytes
            .iter()
            .enumerate()
            .fold(0, |word, (at, &byte)| word | u64::from(byte) << (8 * at)),
    };
    // The bytes past the value are filled with a letter, which never stops the scan.
    let padding = (ONES * u64::from(b'a')) & (u64::MAX << (8 * left));
    let stops = escape_stops(tail | padding, HIGH_BITS);
    if stops == 0 {
        push_word_prefix(tail | u64::from(b'"') << (8 * left), left + 1, out);
        return;
    }
    let plain = first_marked(stops);
    push_word_prefix(tail, plain, out);
    json_string_slow(&bytes[index + plain..], out);
}

/// The rest of a JSON string from its first byte that is not plain ASCII, and the closing
/// quote: valid UTF-8 is escaped where JSON requires it, each invalid sequence becomes U+FFFD.
#[cold]
#[inline(never)]
fn json_string_slow(mut rest: &[u8], out: &mut Vec<u8>) {
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                json_escape_valid(valid.as_bytes(), out);
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                json_escape_valid(valid, out);
                out.extend_from_slice(REPLACEMENT);
                match error.error_len() {
                    Some(length) => rest = &after[length..],
                    // A sequence cut short by the end of the value.
                    None => break,
                }
            }
        }
    }
    out.push(b'"');
}

/// Appends the first `length` (at most 8) bytes of `word` to `out`.
#[inline(always)]
fn push_word_prefix(word: u64, length: usize, out: &mut Vec<u8>) {
    let end = out.len() + length;
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(end);
}

/// The high bit of each byte of `word` that JSON needs escaped (control characters, `"` and
/// `\`), and of each byte from 0x80 up when `stop_at_high` is [`HIGH_BITS`] (not 0).
///
/// `(w - 0x01..01 * 0x20) & !w & 0x80..80` marks bytes below 0x20, [`bytes_equal`] the
/// quotes and backslashes (see [`crate::words`]: the lowest mark is always exact). Bytes from
/// 0x80 up trigger neither test, so UTF-8 text passes unless asked to stop.
#[inline(always)]
fn escape_stops(word: u64, stop_at_high: u64) -> u64 {
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
    control | bytes_equal(word, b'"') | bytes_equal(word, b'\\') | (word & stop_at_high)
}

/// Escapes already-valid UTF-8; only ASCII bytes ever need it, so multi-byte characters are
/// copied in runs with the plain text around them.
fn json_escape_valid(bytes: &[u8], out: &mut Vec<u8>) {
    let mut run_start = 0;
    let mut index = 0;
    loop {
        index = plain_json_run_end(bytes, index, 0);
        let Some(&byte) = bytes.get(index) else {
            break;
        };
        out.extend_from_slice(&bytes[run_start..index]);
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX_UPPER[usize::from(byte >> 4)]);
                out.push(HEX_UPPER[usize::from(byte & 0x0f)]);
            }
        }
        index += 1;
        run_start = index;
    }
    out.extend_from_slice(&bytes[run_start..]);
}

/// Whether JSON needs `byte` escaped: control characters, `"` and `\`.
fn needs_json_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The index of the first byte at or after `from` that JSON needs escaped, or `bytes.len()`.
/// With `stop_at_high` set to [`HIGH_BITS`] (not 0), bytes from 0x80 up stop the run too.
/// Eight bytes at a time (see [`escape_stops`]), then byte by byte for the last few.
fn plain_json_run_end(bytes: &[u8], from: usize, stop_at_high: u64) -> usize {
    let mut index = from;
    while let Some(chunk) = bytes.get(index..index + 8) {
        let stops = escape_stops(load(chunk), stop_at_high);
        if stops != 0 {
            return index + first_marked(stops);
        }
        index += 8;
    }
    let stop_high = stop_at_high != 0;
    while index < bytes.len()
        && !needs_json_escape(bytes[index])
        && !(stop_high && bytes[index] >= 0x80)
    {
        index += 1;
    }
    index
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// varnishkafka's `!escape`: `\t \n \r \v \f` and `"` backslashed, a space written as `\ `,
/// other control bytes (below 0x20, and 0x7f) as a backslash and three octal digits.
///
/// This is the rule varnishkafka documents. Its code wrote control bytes as four octal digits
/// without the backslash plus a NUL byte, and could abort on an empty value; edgeship writes
/// what the documentation promised. The backslash itself is not escaped (as in varnishkafka),
/// and bytes from 0x80 up pass through unchanged (JSON output then applies its UTF-8 rule).
pub fn varnish_escape(bytes: &[u8], out: &mut Vec<u8>) {
    let mut run_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0x0b => b"\\v",
            0x0c => b"\\f",
            b'"' => b"\\\"",
            b' ' => b"\\ ",
            0x00..=0x1f | 0x7f => {
                out.extend_from_slice(&bytes[run_start..index]);
                out.push(b'\\');
                out.push(b'0' + (byte >> 6));
                out.push(b'0' + ((byte >> 3) & 7));
                out.push(b'0' + (byte & 7));
                run_start = index + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run_start..index]);
        out.extend_from_slice(escaped);
        run_start = index + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
}

/// Whether `bytes` is a number that JSON consumers can read: JSON's grammar, and a finite
/// value as a double (`1e400` is grammatical but most parsers refuse it).
pub fn is_usable_json_number(bytes: &[u8]) -> bool {
    match json_number_shape(bytes) {
        None => false,
        // Short plain numbers always fit; only long ones or exponents need the slower check.
        Some(false) if bytes.len() <= 15 => true,
        Some(_) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<f64>().ok())
            .is_some_and(f64::is_finite),
    }
}

/// Whether `bytes` is a number in JSON's grammar: `-? (0 | [1-9][0-9]*) (.[0-9]+)?
/// ([eE][+-]?[0-9]+)?`. Varnish writes durations like `0.000141` and counts like `512`, which
/// pass; `-`, `abc`, `+1`, `01`, `.5`, `inf` do not.
pub fn is_json_number(bytes: &[u8]) -> bool {
    json_number_shape(bytes).is_some()
}

/// `Some(has_exponent)` when `bytes` is a number in JSON's grammar (see [`is_json_number`]),
/// in one pass.
fn json_number_shape(bytes: &[u8]) -> Option<bool> {
    let digits_from = |mut index: usize| {
        while matches!(bytes.get(index), Some(b'0'..=b'9')) {
            index += 1;
        }
        index
    };
    let mut index = usize::from(bytes.first() == Some(&b'-'));
    index = match bytes.get(index) {
        Some(b'0') => index + 1,
        Some(b'1'..=b'9') => digits_from(index + 1),
        _ => return None,
    };
    if bytes.get(index) == Some(&b'.') {
        let end = digits_from(index + 1);
        if end == index + 1 {
            return None;
        }
        index = end;
    }
    let mut exponent = false;
    if matches!(bytes.get(index), Some(b'e' | b'E')) {
        exponent = true;
        index += 1;
        if matches!(bytes.get(index), Some(b'+' | b'-')) {
            index += 1;
        }
        let end = digits_from(index);
        if end == index {
            return None;
        }
        index = end;
    }
    (index == bytes.len()).then_some(exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        json_string(bytes, &mut out);
        String::from_utf8(out).expect("json_string writes UTF-8")
    }

    fn escape(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varnish_escape(bytes, &mut out);
        out
    }

    #[test]
    fn json_strings_escape_like_yajl() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain", r#""plain""#),
            (b"", r#""""#),
            (b"a\"b\\c/d", r#""a\"b\\c/d""#),
            (b"\n\r\t\x08\x0c", r#""\n\r\t\b\f""#),
            (b"\x00\x01\x1f\x7f", "\"\\u0000\\u0001\\u001F\x7f\""),
            ("caf\u{e9} \u{1F600}".as_bytes(), "\"caf\u{e9} \u{1F600}\""),
        ];
        for (input, expected) in cases {
            assert_eq!(json(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn the_word_at_a_time_scan_finds_the_first_escape() {
        // Neighbours of the special bytes (0x20, 0x21, 0x23, 0x5b, 0x5d) and high bytes are
        // where a wrong bit trick would misfire; every position crosses word boundaries.
        let with_high = [b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xdc, 0xff, b'a'];
        let ascii = [b' ', b'!', b'#', b'[', b']', 0x7f, b'a', b'~'];
        for (filler, special) in [&with_high[..], &ascii]
            .into_iter()
            .flat_map(|filler| [0x00, 0x08, 0x1f, b'"', b'\\', b'\n', 0xc3].map(|s| (filler, s)))
        {
            for length in 0..=27 {
                for position in 0..=length {
                    let mut bytes: Vec<u8> = (0..length)
                        .map(|i| filler[(i + position) % filler.len()])
                        .collect();
                    if position < length {
                        bytes[position] = special;
                    }
                    for from in [0, 1, 7, 9].into_iter().filter(|&from| from <= length) {
                        let first = |stop: fn(u8) -> bool| {
                            bytes[from..]
                                .iter()
                                .position(|&b| stop(b))
                                .map_or(length, |offset| from + offset)
                        };
                        assert_eq!(
                            plain_json_run_end(&bytes, from, 0),
                            first(needs_json_escape),
                            "{bytes:?} from {from}"
                        );
                        assert_eq!(
                            plain_json_run_end(&bytes, from, HIGH_BITS),
                            first(|b| needs_json_escape(b) || b >= 0x80),
                            "{bytes:?} from {from}, stopping at high bytes"
                        );
                        // The word-at-a-time writer against the byte-by-byte one alone.
                        let mut fast = b"before".to_vec();
                        json_string(&bytes[from..], &mut fast);
                        let mut slow = b"before\"".to_vec();
                        json_string_slow(&bytes[from..], &mut slow);
                        assert_eq!(fast, slow, "{bytes:?} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let cases: &[(&[u8], &str)] = &[
            (b"caf\xe9", "\"caf\u{FFFD}\""),
            (b"\xff\xfe", "\"\u{FFFD}\u{FFFD}\""),
            (b"a\xe2\x82", "\"a\u{FFFD}\""),
            (b"\xe2\x82a\"", "\"\u{FFFD}a\\\"\""),
            (b"\xc0\xaf", "\"\u{FFFD}\u{FFFD}\""),
        ];
        for (input, expected) in cases {
            assert_eq!(json(input), *expected, "input {input:?}");
            assert_eq!(
                serde_json::from_str::<String>(&json(input)).expect("valid JSON"),
                String::from_utf8_lossy(input),
                "the same reading as from_utf8_lossy for {input:?}"
            );
        }
    }

    #[test]
    fn varnish_escape_follows_the_documented_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"Mozilla/5.0 (X11)", br"Mozilla/5.0\ (X11)"),
            (b"\t\n\r\x0b\x0c\"", br#"\t\n\r\v\f\""#),
            (b"\x01\x1b\x7f", br"\001\033\177"),
            (br"back\slash", br"back\slash"),
            (b"caf\xc3\xa9", b"caf\xc3\xa9"),
            (b"", b""),
        ];
        for (input, expected) in cases {
            assert_eq!(escape(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn usable_numbers_fit_a_double() {
        assert!(is_usable_json_number(b"1e300"));
        assert!(is_usable_json_number(b"123456789012345678901234567890"));
        assert!(!is_usable_json_number(b"1e400"));
        assert!(!is_usable_json_number(&[b'9'; 400]));
    }

    #[test]
    fn json_numbers() {
        for yes in ["0", "512", "-1", "0.000141", "1e9", "1.5E-3", "-0.0"] {
            assert!(is_json_number(yes.as_bytes()), "{yes} is a number");
        }
        for no in [
            "", "-", "abc", "+1", "01", ".5", "1.", "1e", "inf", "nan", "1 ", " 1", "0x10",
        ] {
            assert!(!is_json_number(no.as_bytes()), "{no:?} is not a number");
        }
    }
}
