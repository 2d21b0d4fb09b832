//! The number readers the query language uses, each as its C original behaves: `strtol` and
//! `strtoll` with base 0 (for levels, fields and integer operands: `0x` hex, leading-zero
//! octal, clamping on overflow), Varnish's `SF_Parse_Number` in its lenient mode (for record
//! fields: at most 15 integer digits, at most 3 fraction digits counted, trailing bytes
//! ignored) and `VNUM` (for float operands: the same, with nothing after the number).
//! Every reader takes bytes and treats the end of the slice as the C string's NUL.

/// The byte at `i`, or 0 past the end (the C string's terminator).
pub(crate) fn at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// C's `isspace` in the C locale.
pub(crate) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `strtoll(text, &end, 0)`: the value (clamped to the i64 range) and the offset of `end`.
pub(crate) fn strtoll(text: &[u8]) -> (i64, usize) {
    let mut p = 0;
    while is_c_space(at(text, p)) {
        p += 1;
    }
    let negative = at(text, p) == b'-';
    if matches!(at(text, p), b'-' | b'+') {
        p += 1;
    }
    let (base, digits_at) = if at(text, p) == b'0'
        && matches!(at(text, p + 1), b'x' | b'X')
        && at(text, p + 2).is_ascii_hexdigit()
    {
        (16, p + 2)
    } else if at(text, p) == b'0' {
        (8, p)
    } else {
        (10, p)
    };
    let mut q = digits_at;
    let mut magnitude: u128 = 0;
    while let Some(digit) = char::from(at(text, q)).to_digit(base) {
        magnitude = (magnitude * u128::from(base) + u128::from(digit)).min(1 << 64);
        q += 1;
    }
    if q == digits_at {
        // No digits: the value is 0 and `end` is the start of the text.
        return (0, 0);
    }
    let value = if negative {
        i64::try_from(-(magnitude.min(1 << 63) as i128)).unwrap_or(i64::MIN)
    } else {
        i64::try_from(magnitude).unwrap_or(i64::MAX)
    };
    (value, q)
}

/// `(int)strtol(text, &end, 0)` on a 64-bit system: the clamped long truncated to 32 bits.
pub(crate) fn strtol_int(text: &[u8]) -> (i32, usize) {
    let (value, end) = strtoll(text);
    (value as i32, end)
}

/// Optional whitespace in Varnish's sense (`vct_isows`): space and tab.
fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The largest magnitude of a VCL decimal (`VRT_DECIMAL_MAX`).
pub(crate) const DECIMAL_MAX: f64 = 999_999_999_999.999;

/// `SF_Parse_Number(&p, 0, &err)` from `text`: `Some((value, end))` when errno would be 0,
/// `None` when it reports an error.
pub(crate) fn parse_number(text: &[u8]) -> Option<(f64, usize)> {
    let mut p = 0;
    while is_ows(at(text, p)) {
        p += 1;
    }
    let sign = if at(text, p) == b'-' {
        p += 1;
        -1.0
    } else {
        1.0
    };
    let mut value = 0.0f64;
    let mut digits = 0;
    let mut failed = false;
    while at(text, p).is_ascii_digit() {
        digits += 1;
        if digits > 15 {
            // Too many digits: errno is set and the next byte is a digit, not '.'.
            return None;
        }
        value = value * 10.0 + f64::from(at(text, p) - b'0');
        p += 1;
    }
    if digits == 0 {
        failed = true;
    } else {
        while is_ows(at(text, p)) {
            p += 1;
        }
    }
    if at(text, p) != b'.' {
        return (!failed).then_some((value * sign, p));
    }
    if value > DECIMAL_MAX || (failed && !at(text, p + 1).is_ascii_digit()) {
        return None;
    }
    p += 1;
    let mut scale = 1.0f64;
    for _ in 0..3 {
        scale *= 0.1;
        if !at(text, p).is_ascii_digit() {
            break;
        }
        value += scale * f64::from(at(text, p) - b'0');
        p += 1;
    }
    while at(text, p).is_ascii_digit() {
        p += 1;
    }
    while is_ows(at(text, p)) {
        p += 1;
    }
    Some((value * sign, p))
}

/// `SF_Parse_Decimal(&p, 0, &err)`: [`parse_number`] within the VCL decimal range.
pub(crate) fn parse_decimal(text: &[u8]) -> Option<f64> {
    let (value, _) = parse_number(text)?;
    (-DECIMAL_MAX..=DECIMAL_MAX)
        .contains(&value)
        .then_some(value)
}

/// `VNUM(text)`: the number when `text` is one number and nothing else, else `None` (NaN).
pub(crate) fn vnum(text: &[u8]) -> Option<f64> {
    let (value, end) = parse_number(text)?;
    (at(text, end) == 0).then_some(value)
}
