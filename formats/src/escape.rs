//! Byte-level writers: JSON strings that are valid whatever the input, varnishkafka's
//! `!escape` text rule, and the JSON number check behind `!num`.
//!
//! Header bytes come from any client on the internet, so nothing here assumes UTF-8 or
//! printable input.

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
    let mut rest = bytes;
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

/// Escapes already-valid UTF-8; only ASCII bytes ever need it, so multi-byte characters are
/// copied in runs with the plain text around them.
fn json_escape_valid(bytes: &[u8], out: &mut Vec<u8>) {
    let mut run_start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escaped: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[run_start..index]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX_UPPER[usize::from(byte >> 4)]);
                out.push(HEX_UPPER[usize::from(byte & 0x0f)]);
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
    if !is_json_number(bytes) {
        return false;
    }
    // Short plain numbers always fit; only long ones or exponents need the slower check.
    if bytes.len() <= 15 && !bytes.iter().any(|&b| b == b'e' || b == b'E') {
        return true;
    }
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .is_some_and(f64::is_finite)
}

/// Whether `bytes` is a number in JSON's grammar: `-? (0 | [1-9][0-9]*) (.[0-9]+)?
/// ([eE][+-]?[0-9]+)?`. Varnish writes durations like `0.000141` and counts like `512`, which
/// pass; `-`, `abc`, `+1`, `01`, `.5`, `inf` do not.
pub fn is_json_number(bytes: &[u8]) -> bool {
    let mut index = 0;
    let at = |index: usize| bytes.get(index).copied();
    if at(index) == Some(b'-') {
        index += 1;
    }
    match at(index) {
        Some(b'0') => index += 1,
        Some(b'1'..=b'9') => {
            while matches!(at(index), Some(b'0'..=b'9')) {
                index += 1;
            }
        }
        _ => return false,
    }
    if at(index) == Some(b'.') {
        index += 1;
        if !matches!(at(index), Some(b'0'..=b'9')) {
            return false;
        }
        while matches!(at(index), Some(b'0'..=b'9')) {
            index += 1;
        }
    }
    if matches!(at(index), Some(b'e' | b'E')) {
        index += 1;
        if matches!(at(index), Some(b'+' | b'-')) {
            index += 1;
        }
        if !matches!(at(index), Some(b'0'..=b'9')) {
            return false;
        }
        while matches!(at(index), Some(b'0'..=b'9')) {
            index += 1;
        }
    }
    index == bytes.len()
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
