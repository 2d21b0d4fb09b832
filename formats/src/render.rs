//! Rendering: each field's value is captured from the transaction's records (see
//! [`crate::capture`], borrowed, not copied), then the fields are written in format order into
//! the caller's buffer. [`Renderer::render`] does both; [`Renderer::render_captured`] writes
//! values someone else captured (the shipper captures on its reader thread).
//!
//! Invariant: after the first few records have grown the renderer's scratch buffers and the
//! caller's output buffer, rendering allocates nothing (tested in `tests/no_alloc.rs`).

use crate::capture::Capturer;
use crate::decimal::Decimal;
use crate::escape::{is_usable_json_number, json_string_rest, varnish_escape};
use crate::parse::{Field, FormatKind, Item, Plan, Value};
use crate::record::{Context, Transaction};
use crate::time::{TimeFormat, Timestamp};

/// What rendering one record noticed that the operator must be able to count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RenderStats {
    /// Records of the transaction longer than `tag.size.max`, cut before matching (records of
    /// tags no field reads are neither cut nor counted).
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
    /// Captures this plan's fields for [`Renderer::render`].
    capturer: Capturer,
    writer: Writer,
}

/// Writes one plan's fields, in format order, from captured values.
#[derive(Debug)]
struct Writer {
    plan: Plan,
    /// Values computed from a capture (`%D`, `%t`, `%u`, `%n`).
    derived: Vec<u8>,
    /// `!escape` output in JSON mode, before JSON escaping.
    escaped: Vec<u8>,
    /// The last text each `%t` field rendered, indexed by field (unused for other fields).
    times: Vec<RenderedTime>,
    /// JSON only: the record's members in format order, each decided once here rather than
    /// per record.
    members: Vec<Member>,
}

/// One JSON member of a record: where its value comes from and how it is written.
#[derive(Debug, Clone)]
struct Member {
    /// The field's index in the plan.
    field: usize,
    /// What precedes the value: a comma (but before the first member), the quoted key, its
    /// colon, and the value's opening quote unless the value is a `!num` (written bare). One
    /// copy per member instead of three.
    opening: Opening,
    how: How,
}

/// How a member's value is written; the common cases get their own short path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// A captured value, written as a JSON string (or the default when nothing matched).
    CapturedString,
    /// The sequence number as a JSON number: edgeship makes it, so it needs no check.
    Sequence,
    /// Anything else: numbers, `!escape`, times, derived values.
    General,
}

/// A JSON member's opening text, kept in a fixed-size array when it fits: a copy of a
/// constant size is a few register moves, where one of a length known only at run time is a
/// call into `memcpy`, and there are twenty-odd members per record.
#[derive(Debug, Clone, Default)]
struct Opening {
    /// The text, padded; valid when `text.len() <= OPENING_BYTES`.
    padded: [u8; OPENING_BYTES],
    text: Vec<u8>,
}

const OPENING_BYTES: usize = 32;

impl Opening {
    fn new(text: Vec<u8>) -> Opening {
        let mut padded = [0; OPENING_BYTES];
        if let Some(prefix) = padded.get_mut(..text.len()) {
            prefix.copy_from_slice(&text);
        }
        Opening { padded, text }
    }

    #[inline(always)]
    fn write(&self, out: &mut Vec<u8>) {
        let length = self.text.len();
        if length <= OPENING_BYTES {
            let end = out.len() + length;
            out.extend_from_slice(&self.padded);
            out.truncate(end);
        } else {
            out.extend_from_slice(&self.text);
        }
    }
}

/// A `%t` field's last rendering. A busy cache host serves thousands of requests in the same
/// second, and a time format without `%N` renders them all alike, so the text is formatted
/// once per second (or per distinct time, with `%N`) and copied after that.
#[derive(Debug, Default)]
struct RenderedTime {
    /// Whether the format shows sub-seconds (`%N`), so that the microseconds are part of the key.
    uses_fraction: bool,
    /// The time `text` was rendered for, with the microseconds zeroed when the format does not
    /// show them.
    key: Option<Timestamp>,
    text: Vec<u8>,
}

impl Renderer {
    /// A renderer for `plan`.
    pub fn new(plan: Plan) -> Renderer {
        let capturer = Capturer::new(&[&plan]);
        let times = plan
            .fields
            .iter()
            .map(|field| RenderedTime {
                uses_fraction: matches!(&field.value, Value::Time(format) if format.uses_fraction()),
                ..RenderedTime::default()
            })
            .collect();
        let mut members = Vec::new();
        for item in &plan.items {
            if let Item::Field(index) = item {
                let field = &plan.fields[*index];
                let mut text = Vec::new();
                if !members.is_empty() {
                    text.push(b',');
                }
                text.extend_from_slice(&field.json_key);
                if !field.num {
                    text.push(b'"');
                }
                let how = match (&field.value, field.num, field.escape) {
                    (Value::Captured, false, false) => How::CapturedString,
                    (Value::Sequence, true, _) => How::Sequence,
                    _ => How::General,
                };
                members.push(Member {
                    field: *index,
                    opening: Opening::new(text),
                    how,
                });
            }
        }
        Renderer {
            capturer,
            writer: Writer {
                plan,
                derived: Vec::with_capacity(256),
                escaped: Vec::with_capacity(256),
                times,
                members,
            },
        }
    }

    /// The plan this renderer uses.
    pub fn plan(&self) -> &Plan {
        &self.writer.plan
    }

    /// Appends one rendered record to `out` (no trailing newline) and reports what it had to
    /// count. JSON output is always a valid JSON object, whatever bytes the records hold.
    ///
    /// A plan that reads nothing from the log (a message key of `%l`, say) renders from the
    /// context alone, without walking the transaction's records.
    pub fn render<T: Transaction + ?Sized>(
        &mut self,
        transaction: &T,
        context: &Context<'_>,
        out: &mut Vec<u8>,
    ) -> RenderStats {
        let Renderer { capturer, writer } = self;
        capturer.capture_with(transaction, |values, capture| {
            let mut stats = writer.write(|field| values[field], context, out);
            stats.truncated_tags += capture.truncated_tags;
            stats
        })
    }

    /// Appends one rendered record to `out` from values captured beforehand: `value(i)` is
    /// what a [`Capturer`] found for this plan's `i`-th field (`None` when nothing matched).
    /// The result is what [`Renderer::render`] writes for the same values; the returned stats
    /// count what rendering saw (`truncated_tags` is the capturer's to count).
    pub fn render_captured<'v, V>(
        &mut self,
        value: V,
        context: &Context<'v>,
        out: &mut Vec<u8>,
    ) -> RenderStats
    where
        V: Fn(usize) -> Option<&'v [u8]>,
    {
        self.writer.write(value, context, out)
    }
}

impl Writer {
    /// See [`Renderer::render_captured`].
    #[inline(never)]
    fn write<'v, V>(&mut self, value: V, context: &Context<'v>, out: &mut Vec<u8>) -> RenderStats
    where
        V: Fn(usize) -> Option<&'v [u8]>,
    {
        let mut stats = RenderStats::default();
        if self.plan.kind == FormatKind::Json {
            out.push(b'{');
            for member in &self.members {
                member.opening.write(out);
                match member.how {
                    How::CapturedString => {
                        let text = value(member.field).filter(|text| !text.is_empty());
                        let text = text.unwrap_or(&self.plan.fields[member.field].default);
                        json_string_rest(text, out);
                    }
                    How::Sequence => push_decimal(context.sequence, out),
                    How::General => {
                        let Writer {
                            plan,
                            derived,
                            escaped,
                            times,
                            ..
                        } = self;
                        let field = &plan.fields[member.field];
                        let captured = value(member.field);
                        let times = &mut times[member.field];
                        let (text, is_default) =
                            field_text(field, captured, context, derived, times);
                        if field.num {
                            write_number(text, is_default, &field.default, out, &mut stats);
                        } else if field.escape && !is_default {
                            escaped.clear();
                            varnish_escape(text, escaped);
                            json_string_rest(escaped, out);
                        } else {
                            json_string_rest(text, out);
                        }
                    }
                }
            }
            out.push(b'}');
            return stats;
        }
        let Writer {
            plan,
            derived,
            times,
            ..
        } = self;
        for item in &plan.items {
            match item {
                Item::Literal(text) => out.extend_from_slice(text),
                Item::Field(index) => {
                    let field = &plan.fields[*index];
                    let (text, is_default) =
                        field_text(field, value(*index), context, derived, &mut times[*index]);
                    if field.escape && !is_default {
                        varnish_escape(text, out);
                    } else {
                        out.extend_from_slice(text);
                    }
                }
            }
        }
        stats
    }
}

/// A field's text before escaping, and whether it is the default (nothing matched, or the
/// value was empty).
#[inline]
fn field_text<'t>(
    field: &'t Field,
    captured: Option<&'t [u8]>,
    context: &Context<'t>,
    derived: &'t mut Vec<u8>,
    time: &'t mut RenderedTime,
) -> (&'t [u8], bool) {
    derived.clear();
    let value = match &field.value {
        // Most fields print what they captured; spare them the call.
        Value::Captured => captured,
        Value::Time(format) => rendered_time(format, captured, time),
        other => value_text(other, captured, context, derived),
    }
    .filter(|text| !text.is_empty());
    match value {
        Some(text) => (text, false),
        None => (field.default.as_slice(), true),
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
            // varnishkafka leaves a zero duration unset, so it renders the default; Varnish never
            // logs a negative one, so one is a garbled field and renders the default too.
            if duration.seconds < 0 || (duration.seconds == 0 && duration.micros == 0) {
                return None;
            }
            if *value == Value::Microseconds {
                // Past u64's 18,446,744,073,709 seconds of microseconds the field is garbled,
                // not a duration: render the default, as for any unreadable value (found by
                // fuzzing; see tests/fuzz_regressions.rs).
                let micros = duration
                    .seconds
                    .unsigned_abs()
                    .checked_mul(1_000_000)?
                    .checked_add(u64::from(duration.micros))?;
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
        // Rendered through the field's cache by `rendered_time`; never asked for here.
        Value::Time(_) => None,
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

/// A `%t` field's text, from `cache` when the last record rendered the same time.
fn rendered_time<'c>(
    format: &TimeFormat,
    captured: Option<&[u8]>,
    cache: &'c mut RenderedTime,
) -> Option<&'c [u8]> {
    let time = Timestamp::parse(captured?)?;
    let key = Timestamp {
        seconds: time.seconds,
        micros: if cache.uses_fraction { time.micros } else { 0 },
    };
    if cache.key != Some(key) {
        cache.text.clear();
        format.render(time, &mut cache.text);
        cache.key = Some(key);
    }
    Some(cache.text.as_slice())
}

/// Appends `value` in decimal.
#[inline]
fn push_decimal(value: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(Decimal::new(value).as_bytes());
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
    use crate::capture::extract;
    use crate::parse::Matcher;

    #[test]
    fn decimals_agree_with_the_standard_library() {
        let mut values: Vec<u64> = (0..=1_000).collect();
        for power in 1..=19 {
            let ten = 10_u64.pow(power);
            values.extend([ten - 1, ten, ten + 1]);
        }
        values.push(u64::MAX);
        for value in values {
            let mut out = b"x".to_vec();
            push_decimal(value, &mut out);
            assert_eq!(out, format!("x{value}").as_bytes());
        }
    }

    #[test]
    fn renderers_pick_the_same_headers_as_the_definition() {
        // The renderer skips records by name length and first and last byte before calling
        // `extract`; that must never skip a record `extract` would accept.
        let names = [
            "Host",
            "X-A:b",
            "X-A",
            "A",
            "Ab",
            "aB",
            "Accept-Language",
            "X-Connection-Properties",
            "X-Connection-Propertie",
        ];
        let payloads: &[&[u8]] = &[
            b"Host: x",
            b"HOST:y",
            b"Hostx: z",
            b"Hos: t",
            b"X-A:b: c",
            b"X-A: b: c",
            b"A:",
            b"a: 1",
            b"ab: 2",
            b"AB:3",
            b"Accept-Encoding: gzip",
            b"accept-language: de",
            b"ACCEPT-LANGUAGE:  fr",
            b":",
            b"",
        ];
        for name in names {
            let matcher = Matcher::Named {
                name: name.as_bytes().to_vec(),
                column: None,
            };
            let plan =
                Plan::compile(&format!("%{{{name}@v}}i"), FormatKind::String).expect("compiles");
            let mut renderer = Renderer::new(plan);
            for payload in payloads {
                let mut out = Vec::new();
                let context = Context {
                    hostname: b"h",
                    sequence: 1,
                    run: b"r",
                };
                renderer.render(&[(crate::Tag::ReqHeader, *payload)][..], &context, &mut out);
                let expected = extract(&matcher, payload)
                    .filter(|value| !value.is_empty())
                    .unwrap_or(b"-");
                assert_eq!(out, expected, "name {name:?}, payload {payload:?}");
            }
        }
    }

    #[test]
    fn more_named_fields_than_the_first_byte_table_holds_still_match() {
        // Past 64 `Name: value` fields on one tag the renderer tries each in turn.
        let format: Vec<String> = (0..70).map(|n| format!("%{{N{n}}}i")).collect();
        let plan = Plan::compile(&format.join("|"), FormatKind::String).expect("compiles");
        let mut renderer = Renderer::new(plan);
        let records: [(crate::Tag, &[u8]); 3] = [
            (crate::Tag::ReqHeader, b"n5: five"),
            (crate::Tag::ReqHeader, b"N69:last"),
            (crate::Tag::ReqHeader, b"N7x: no"),
        ];
        let mut out = Vec::new();
        let context = Context {
            hostname: b"h",
            sequence: 1,
            run: b"r",
        };
        renderer.render(&records[..], &context, &mut out);
        let out = String::from_utf8_lossy(&out);
        let fields: Vec<&str> = out.split('|').collect();
        assert_eq!(fields.len(), 70);
        assert_eq!((fields[5], fields[69], fields[7]), ("five", "last", "-"));
        assert!(fields.iter().filter(|field| **field == "-").count() == 68);
    }

    #[test]
    fn time_renderings_are_reused_only_for_the_same_time() {
        // Same second with different microseconds, then another second, in one renderer: the
        // cache may serve the second record only when the format hides the microseconds.
        let records: [&[u8]; 4] = [
            b"Start: 1700000000.100000 0 0",
            b"Start: 1700000000.200000 0 0",
            b"Start: 1700000001.200000 0 0",
            b"Start: 1700000001.200000 0 0",
        ];
        let cases: [(&str, [&str; 4]); 2] = [
            (
                "%{%T.%3N}t",
                [
                    "22:13:20.100",
                    "22:13:20.200",
                    "22:13:21.200",
                    "22:13:21.200",
                ],
            ),
            ("%{%T}t", ["22:13:20", "22:13:20", "22:13:21", "22:13:21"]),
        ];
        for (format, expected) in cases {
            let mut renderer =
                Renderer::new(Plan::compile(format, FormatKind::String).expect("compiles"));
            for (record, expected) in records.iter().zip(expected) {
                let mut out = Vec::new();
                let context = Context {
                    hostname: b"h",
                    sequence: 1,
                    run: b"r",
                };
                renderer.render(&[(crate::Tag::Timestamp, *record)][..], &context, &mut out);
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    expected,
                    "{format} on {record:?}"
                );
            }
        }
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
