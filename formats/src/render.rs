//! Rendering: one pass over a transaction's records captures each field's value (borrowed
//! from the record, not copied), then the fields are written in format order into the
//! caller's buffer.
//!
//! Invariant: after the first few records have grown the renderer's scratch buffers and the
//! caller's output buffer, rendering allocates nothing (tested in `tests/no_alloc.rs`).

use crate::escape::{is_usable_json_number, json_string, varnish_escape};
use crate::parse::{FormatKind, Item, Keep, Matcher, Plan, Value};
use crate::record::{Context, Transaction};
use crate::time::Timestamp;

/// What rendering one record noticed that the operator must be able to count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RenderStats {
    /// Records of the transaction longer than `tag.size.max`, cut before matching.
    pub truncated_tags: u32,
    /// `!num` values that were not JSON numbers, replaced by the default (or `null`).
    pub invalid_numbers: u32,
}

impl std::ops::AddAssign for RenderStats {
    fn add_assign(&mut self, other: RenderStats) {
        self.truncated_tags += other.truncated_tags;
        self.invalid_numbers += other.invalid_numbers;
    }
}

/// Renders records with one [`Plan`], reusing its scratch space from record to record.
#[derive(Debug)]
pub struct Renderer {
    plan: Plan,
    /// Per-field captured values. Stored empty between calls; see [`recycle`].
    slots: Vec<Option<&'static [u8]>>,
    /// Values computed from a capture (`%D`, `%t`, `%u`, `%n`).
    derived: Vec<u8>,
    /// `!escape` output in JSON mode, before JSON escaping.
    escaped: Vec<u8>,
}

/// Empties a vector of borrowed slices and hands back its allocation for slices of another
/// lifetime. Collecting a vector's own `into_iter()` through a `map` to an element of the same
/// size reuses the allocation (the standard library's in-place iteration), so the per-record
/// slots cost no allocation; `tests/no_alloc.rs` checks that this holds.
fn recycle<'to>(mut slots: Vec<Option<&[u8]>>) -> Vec<Option<&'to [u8]>> {
    slots.clear();
    slots.into_iter().map(|_| None).collect()
}

impl Renderer {
    /// A renderer for `plan`.
    pub fn new(plan: Plan) -> Renderer {
        let slots = Vec::with_capacity(plan.fields.len());
        Renderer {
            plan,
            slots,
            derived: Vec::with_capacity(256),
            escaped: Vec::with_capacity(256),
        }
    }

    /// The plan this renderer uses.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Appends one rendered record to `out` (no trailing newline) and reports what it had to
    /// count. JSON output is always a valid JSON object, whatever bytes the records hold.
    pub fn render<T: Transaction + ?Sized>(
        &mut self,
        transaction: &T,
        context: &Context<'_>,
        out: &mut Vec<u8>,
    ) -> RenderStats {
        let Renderer {
            plan,
            slots,
            derived,
            escaped,
        } = self;
        let mut stats = RenderStats::default();
        let mut captured = recycle(std::mem::take(slots));
        captured.resize(plan.fields.len(), None);

        let max_tag_size = plan.max_tag_size;
        transaction.for_each_record(|tag, payload| {
            let payload = if payload.len() > max_tag_size {
                stats.truncated_tags += 1;
                &payload[..max_tag_size]
            } else {
                payload
            };
            for listener in &plan.listeners[tag as usize] {
                let Some(value) = extract(&listener.matcher, payload) else {
                    continue;
                };
                // An empty value never counts as a match, so a later record can still fill the
                // field (varnishkafka skips empty values the same way).
                if value.is_empty() {
                    continue;
                }
                let slot = &mut captured[listener.field];
                if listener.keep == Keep::Last || slot.is_none() {
                    *slot = Some(value);
                }
            }
        });

        let json = plan.kind == FormatKind::Json;
        if json {
            out.push(b'{');
        }
        let mut first_member = true;
        for item in &plan.items {
            match item {
                Item::Literal(text) => {
                    if !json {
                        out.extend_from_slice(text);
                    }
                }
                Item::Field(index) => {
                    let field = &plan.fields[*index];
                    if json {
                        if !first_member {
                            out.push(b',');
                        }
                        first_member = false;
                        out.extend_from_slice(&field.json_key);
                    }
                    derived.clear();
                    let value = value_text(&field.value, captured[*index], context, derived)
                        .filter(|text| !text.is_empty());
                    let (text, is_default) = match value {
                        Some(text) => (text, false),
                        None => (field.default.as_slice(), true),
                    };
                    let escape = field.escape && !is_default;
                    if !json {
                        if escape {
                            varnish_escape(text, out);
                        } else {
                            out.extend_from_slice(text);
                        }
                    } else if field.num {
                        write_number(text, is_default, &field.default, out, &mut stats);
                    } else if escape {
                        escaped.clear();
                        varnish_escape(text, escaped);
                        json_string(escaped, out);
                    } else {
                        json_string(text, out);
                    }
                }
            }
        }
        if json {
            out.push(b'}');
        }
        *slots = recycle(captured);
        stats
    }
}

/// `!num` in JSON: the value if it is a JSON number that fits a double, `null` for `nan` (as varnishkafka), else
/// the default if that is a number, else `null`. A non-number that was captured (not a
/// default) is counted: varnishkafka wrote it raw and broke the JSON.
fn write_number(
    text: &[u8],
    is_default: bool,
    default: &[u8],
    out: &mut Vec<u8>,
    stats: &mut RenderStats,
) {
    if is_usable_json_number(text) {
        out.extend_from_slice(text);
    } else if text.eq_ignore_ascii_case(b"nan") {
        out.extend_from_slice(b"null");
    } else {
        if !is_default {
            stats.invalid_numbers += 1;
        }
        if is_usable_json_number(default) {
            out.extend_from_slice(default);
        } else {
            out.extend_from_slice(b"null");
        }
    }
}

/// The text a field renders before defaults and escaping, or `None` when nothing matched.
fn value_text<'v>(
    value: &Value,
    captured: Option<&'v [u8]>,
    context: &Context<'v>,
    derived: &'v mut Vec<u8>,
) -> Option<&'v [u8]> {
    match value {
        Value::Captured => captured,
        Value::Microseconds | Value::Seconds => {
            let duration = Timestamp::parse(captured?)?;
            // varnishkafka leaves a zero duration unset, so it renders the default.
            if duration.seconds <= 0 && duration.micros == 0 {
                return None;
            }
            if *value == Value::Microseconds {
                let micros =
                    duration.seconds.unsigned_abs() * 1_000_000 + u64::from(duration.micros);
                push_decimal(micros, derived);
            } else {
                push_decimal(duration.seconds.unsigned_abs(), derived);
                derived.push(b'.');
                let mut fraction = [b'0'; 6];
                let mut remaining = duration.micros;
                for digit in fraction.iter_mut().rev() {
                    *digit = b'0' + (remaining % 10) as u8;
                    remaining /= 10;
                }
                derived.extend_from_slice(&fraction);
            }
            Some(derived.as_slice())
        }
        Value::Time(format) => {
            let time = Timestamp::parse(captured?)?;
            format.render(time, derived);
            Some(derived.as_slice())
        }
        Value::BasicUser => basic_user(captured?, derived),
        Value::Hostname => Some(context.hostname),
        Value::Sequence => {
            push_decimal(context.sequence, derived);
            Some(derived.as_slice())
        }
        Value::Run => Some(context.run),
        Value::Constant => None,
    }
}

fn push_decimal(mut value: u64, out: &mut Vec<u8>) {
    let mut digits = [0_u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// Cuts a field's value out of one record's payload.
fn extract<'a>(matcher: &Matcher, payload: &'a [u8]) -> Option<&'a [u8]> {
    match matcher {
        Matcher::Whole => Some(payload),
        Matcher::Column(number) => column(payload, *number),
        Matcher::Named { name, column: at } => {
            let colon = payload.iter().position(|&b| b == b':')?;
            if !payload[..colon].eq_ignore_ascii_case(name) {
                return None;
            }
            let value = &payload[colon + 1..];
            let spaces = value.iter().take_while(|&&b| b == b' ').count();
            let value = &value[spaces..];
            match at {
                Some(number) => column(value, *number),
                None => Some(value),
            }
        }
        Matcher::Prefix(prefix) => payload.starts_with(prefix).then_some(payload),
        Matcher::Handling => matches!(payload, b"HIT" | b"MISS" | b"PASS").then_some(payload),
        Matcher::UrlPath => Some(match payload.iter().position(|&b| b == b'?') {
            Some(question) => &payload[..question],
            None => payload,
        }),
        Matcher::UrlQuery => {
            let question = payload.iter().position(|&b| b == b'?')?;
            Some(&payload[question..])
        }
    }
}

/// The n-th (1-based) space-separated column, runs of spaces counting as one separator.
fn column(payload: &[u8], number: u8) -> Option<&[u8]> {
    payload
        .split(|&b| b == b' ')
        .filter(|part| !part.is_empty())
        .nth(usize::from(number).checked_sub(1)?)
}

/// The user of an `Authorization: Basic <base64 user:password>` value, decoded into
/// `scratch`. Anything else (another scheme, bad base64) is no match, so the default renders.
fn basic_user<'s>(value: &[u8], scratch: &'s mut Vec<u8>) -> Option<&'s [u8]> {
    const SCHEME: &[u8] = b"basic ";
    if value.len() <= SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let encoded = &value[SCHEME.len()..];
    let encoded = match encoded.iter().position(|&b| b == b'=') {
        // Padding only at the end, at most two characters of it.
        Some(padding)
            if encoded[padding..].iter().all(|&b| b == b'=') && encoded.len() - padding <= 2 =>
        {
            &encoded[..padding]
        }
        Some(_) => return None,
        None => encoded,
    };
    let mut accumulator: u32 = 0;
    let mut bits = 0;
    for &byte in encoded {
        let sextet = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        accumulator = (accumulator << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            scratch.push((accumulator >> bits) as u8);
            accumulator &= (1 << bits) - 1;
        }
    }
    let decoded = scratch.as_slice();
    let end = decoded
        .iter()
        .position(|&b| b == b':' || b == 0)
        .unwrap_or(decoded.len());
    Some(&decoded[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_collapse_runs_of_spaces() {
        assert_eq!(column(b"a  b c", 2), Some(&b"b"[..]));
        assert_eq!(column(b" a b", 1), Some(&b"a"[..]));
        assert_eq!(column(b"a b", 3), None);
        assert_eq!(column(b"a b", 0), None);
    }

    #[test]
    fn basic_user_decoding() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"Basic dXNlcjpwYXNz", Some(b"user")),
            (b"basic dXNlcjpwYXNz", Some(b"user")),
            (b"Basic YWxhZGRpbjpvcGVuc2VzYW1l", Some(b"aladdin")),
            (b"Basic YQ==", Some(b"a")),
            (b"Basic OnNlY3JldA==", Some(b"")),
            (b"Bearer dXNlcjpwYXNz", None),
            (b"Basic ", None),
            (b"Basic d*Nl", None),
            (b"Basic YQ=a", None),
        ];
        for (value, expected) in cases {
            let mut scratch = Vec::new();
            assert_eq!(
                basic_user(value, &mut scratch),
                *expected,
                "value {value:?}"
            );
        }
    }
}
