//! Finds the few top-level fields the audit needs in one JSON line, without building a document.
//!
//! Production lines are mostly long strings (user agents, URLs) the audit never looks at, so the
//! scanner walks the top-level object once, compares each key with the wanted names, and skips
//! every other value with `memchr` over its string bytes. It checks the structure it walks (an
//! object of `"key": value` pairs, balanced nested values, well-formed literals), which is what
//! tells a truncated or garbage line from a record; it does not validate escapes or UTF-8 inside
//! values it skips, since no count depends on them.

use memchr::memchr2;

/// The names of the fields the audit reads, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNames {
    /// The host (`hostname`).
    pub hostname: String,
    /// The per-run sequence number (`sequence`).
    pub sequence: String,
    /// The request time (`dt`).
    pub dt: String,
    /// The run identifier (`run`); records without it are audited per host.
    pub run: String,
    /// The top-level marker that makes a line a heartbeat when its value is `true`.
    pub heartbeat: String,
    /// The heartbeat's first number of the run.
    pub sequence_start: String,
    /// The heartbeat's last number assigned so far (`null` before the first record).
    pub sequence_last: String,
}

impl Default for FieldNames {
    fn default() -> Self {
        Self {
            hostname: "hostname".into(),
            sequence: "sequence".into(),
            dt: "dt".into(),
            run: "run".into(),
            heartbeat: "heartbeat".into(),
            sequence_start: "sequence_start".into(),
            sequence_last: "sequence_last".into(),
        }
    }
}

/// Which wanted field a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Hostname = 0,
    Sequence = 1,
    Dt = 2,
    Run = 3,
    Heartbeat = 4,
    SequenceStart = 5,
    SequenceLast = 6,
}

const FIELD_COUNT: usize = 7;

/// A top-level value as the scanner saw it; strings and numbers borrow the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Value<'a> {
    /// The key was not in the object.
    #[default]
    Absent,
    Null,
    True,
    False,
    /// The raw bytes between the quotes, and whether they contain escapes.
    Str(&'a [u8], bool),
    /// The raw number token.
    Num(&'a [u8]),
    /// An object or array.
    Nested,
}

/// The wanted fields of one line.
pub(crate) type Fields<'a> = [Value<'a>; FIELD_COUNT];

/// Why a line is not a JSON object the scanner can walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotJson;

/// A configured key and the index of its slot in the scanned values.
#[derive(Debug, Clone)]
struct WantedKey {
    name: Box<[u8]>,
    slot: usize,
}

/// Matches keys against the configured names.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    names: Vec<WantedKey>,
}

impl Matcher {
    /// The matcher of a record's fields ([`Fields`], indexed by [`Field`]).
    pub(crate) fn new(names: &FieldNames) -> Self {
        Self::of(&[
            (&names.hostname, Field::Hostname as usize),
            (&names.sequence, Field::Sequence as usize),
            (&names.dt, Field::Dt as usize),
            (&names.run, Field::Run as usize),
            (&names.heartbeat, Field::Heartbeat as usize),
            (&names.sequence_start, Field::SequenceStart as usize),
            (&names.sequence_last, Field::SequenceLast as usize),
        ])
    }

    /// A matcher of the given names, each filling the slot of `out` its index says.
    pub(crate) fn of(names: &[(&str, usize)]) -> Self {
        Self {
            names: names
                .iter()
                .map(|&(name, slot)| WantedKey {
                    name: name.as_bytes().into(),
                    slot,
                })
                .collect(),
        }
    }

    #[inline]
    fn lookup(&self, key: &[u8]) -> Option<usize> {
        self.names
            .iter()
            .find(|wanted| wanted.name.len() == key.len() && *wanted.name == *key)
            .map(|wanted| wanted.slot)
    }

    /// Walks `line` and fills `out` with the wanted fields (later duplicates win); every
    /// slot not found is [`Value::Absent`].
    pub(crate) fn scan<'a>(&self, line: &'a [u8], out: &mut [Value<'a>]) -> Result<(), NotJson> {
        out.fill(Value::Absent);
        let mut i = skip_ws(line, 0);
        if line.get(i) != Some(&b'{') {
            return Err(NotJson);
        }
        i = skip_ws(line, i + 1);
        if line.get(i) == Some(&b'}') {
            return end(line, i + 1);
        }
        loop {
            if line.get(i) != Some(&b'"') {
                return Err(NotJson);
            }
            let JsonString {
                raw: key,
                escaped,
                after,
            } = string(line, i + 1)?;
            i = skip_ws(line, after);
            if line.get(i) != Some(&b':') {
                return Err(NotJson);
            }
            i = skip_ws(line, i + 1);
            let field = if escaped {
                let mut decoded = Vec::new();
                unescape(key, &mut decoded).map_err(|_| NotJson)?;
                self.lookup(&decoded)
            } else {
                self.lookup(key)
            };
            let (value, after) = value(line, i)?;
            if let Some(slot) = field.and_then(|slot| out.get_mut(slot)) {
                *slot = value;
            }
            i = skip_ws(line, after);
            match line.get(i) {
                Some(b',') => i = skip_ws(line, i + 1),
                Some(b'}') => return end(line, i + 1),
                _ => return Err(NotJson),
            }
        }
    }
}

#[inline]
fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n') = line.get(i) {
        i += 1;
    }
    i
}

fn end(line: &[u8], i: usize) -> Result<(), NotJson> {
    if skip_ws(line, i) == line.len() {
        Ok(())
    } else {
        Err(NotJson)
    }
}

/// A JSON string as the scanner saw it.
#[derive(Debug, Clone, Copy)]
struct JsonString<'a> {
    /// The bytes between the quotes, escapes undecoded.
    raw: &'a [u8],
    /// Whether `raw` contains escapes.
    escaped: bool,
    /// The index after the closing quote.
    after: usize,
}

/// The string starting after its opening quote at `start`.
#[inline]
fn string(line: &[u8], start: usize) -> Result<JsonString<'_>, NotJson> {
    let mut i = start;
    let mut escaped = false;
    loop {
        let at = i + memchr2(b'"', b'\\', &line[i..]).ok_or(NotJson)?;
        if line[at] == b'"' {
            return Ok(JsonString {
                raw: &line[start..at],
                escaped,
                after: at + 1,
            });
        }
        escaped = true;
        // A backslash escapes the next byte (for `\u` the four hex digits contain no quote).
        i = at + 2;
        if i > line.len() {
            return Err(NotJson);
        }
    }
}

fn literal<'a>(
    line: &[u8],
    i: usize,
    word: &[u8],
    v: Value<'a>,
) -> Result<(Value<'a>, usize), NotJson> {
    if line.get(i..i + word.len()) == Some(word) {
        Ok((v, i + word.len()))
    } else {
        Err(NotJson)
    }
}

#[inline]
fn value(line: &[u8], i: usize) -> Result<(Value<'_>, usize), NotJson> {
    match line.get(i) {
        Some(b'"') => {
            let s = string(line, i + 1)?;
            Ok((Value::Str(s.raw, s.escaped), s.after))
        }
        Some(b'-' | b'0'..=b'9') => {
            let n = line[i..]
                .iter()
                .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                .count();
            Ok((Value::Num(&line[i..i + n]), i + n))
        }
        Some(b't') => literal(line, i, b"true", Value::True),
        Some(b'f') => literal(line, i, b"false", Value::False),
        Some(b'n') => literal(line, i, b"null", Value::Null),
        Some(b'{' | b'[') => Ok((Value::Nested, nested(line, i)?)),
        _ => Err(NotJson),
    }
}

/// Skips a nested object or array, keeping strings opaque so brackets inside them do not count.
fn nested(line: &[u8], start: usize) -> Result<usize, NotJson> {
    let mut depth = 0usize;
    let mut i = start;
    while i < line.len() {
        match line[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            b'"' => {
                i = string(line, i + 1)?.after;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Err(NotJson)
}

/// Decodes JSON escapes; used only for the rare keys and host names that contain them.
pub(crate) fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Result<(), NotJson> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let code = *raw.get(i + 1).ok_or(NotJson)?;
        i += 2;
        let simple = match code {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hex = raw.get(i..i + 4).ok_or(NotJson)?;
                let text = std::str::from_utf8(hex).map_err(|_| NotJson)?;
                let unit = u32::from_str_radix(text, 16).map_err(|_| NotJson)?;
                i += 4;
                // Surrogate pairs are not needed for host names; an unpaired one becomes U+FFFD.
                let c = char::from_u32(unit).unwrap_or('\u{fffd}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            _ => return Err(NotJson),
        };
        out.push(simple);
    }
    Ok(())
}

/// Parses an unsigned integer number token; `None` for signs, fractions, exponents, overflow.
#[inline]
pub(crate) fn unsigned(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 20 {
        return None;
    }
    let mut value = 0u64;
    for &b in token {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(line: &str) -> Result<Vec<Value<'_>>, NotJson> {
        let m = Matcher::new(&FieldNames::default());
        let mut out = Fields::default();
        m.scan(line.as_bytes(), &mut out)?;
        Ok(out.to_vec())
    }

    #[test]
    fn wanted_fields_are_found_whatever_surrounds_them() {
        let line = r#"{"ua":"Mozilla \"x\" {[","hostname":"cp1001","nested":{"a":[1,"}"]},"sequence":42,"dt":"2026-11-23T14:00:00Z","run":"r1","ok":true,"x":null,"y":-1.5e3}"#;
        let v = scan(line).expect("a record");
        assert_eq!(v[Field::Hostname as usize], Value::Str(b"cp1001", false));
        assert_eq!(v[Field::Sequence as usize], Value::Num(b"42"));
        assert_eq!(
            v[Field::Dt as usize],
            Value::Str(b"2026-11-23T14:00:00Z", false)
        );
        assert_eq!(v[Field::Run as usize], Value::Str(b"r1", false));
        assert_eq!(v[Field::Heartbeat as usize], Value::Absent);
    }

    #[test]
    fn whitespace_and_escaped_keys_are_json() {
        let v = scan(" { \"host\\u006eame\" : \"a\\\"b\" ,\"heartbeat\":true } \r").expect("ok");
        assert_eq!(v[Field::Hostname as usize], Value::Str(b"a\\\"b", true));
        assert_eq!(v[Field::Heartbeat as usize], Value::True);
        assert!(scan("{}").is_ok());
    }

    #[test]
    fn broken_lines_are_not_json() {
        for line in [
            "",
            "hello",
            "[1,2]",
            r#"{"a":1"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":tru}"#,
            r#"{"a":{"b":[1,2}"#,
            r#"{"a":1} trailing"#,
            r#"{a:1}"#,
            r#"{"a":"x\"#,
        ] {
            assert_eq!(scan(line), Err(NotJson), "{line:?}");
        }
    }

    #[test]
    fn unsigned_numbers_only() {
        assert_eq!(unsigned(b"0"), Some(0));
        assert_eq!(unsigned(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(unsigned(b"18446744073709551616"), None);
        assert_eq!(unsigned(b"-1"), None);
        assert_eq!(unsigned(b"1.0"), None);
        assert_eq!(unsigned(b"1e3"), None);
        assert_eq!(unsigned(b""), None);
    }

    #[test]
    fn unescape_decodes_the_json_escapes() {
        let mut out = Vec::new();
        unescape(br#"a\"b\\c\/d\n\u00e9"#, &mut out).expect("valid");
        assert_eq!(out, "a\"b\\c/d\né".as_bytes());
        assert_eq!(unescape(br"\q", &mut Vec::new()), Err(NotJson));
    }
}
