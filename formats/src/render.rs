//! Rendering: one pass over a transaction's records captures each field's value (borrowed
//! from the record, not copied), then the fields are written in format order into the
//! caller's buffer.
//!
//! Invariant: after the first few records have grown the renderer's scratch buffers and the
//! caller's output buffer, rendering allocates nothing (tested in `tests/no_alloc.rs`).

use crate::escape::{is_usable_json_number, json_string, varnish_escape};
use crate::parse::{FormatKind, Item, Keep, Listener, Matcher, Plan, Value};
use crate::record::{Context, Tag, Transaction};
use crate::time::{TimeFormat, Timestamp};

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
    /// The plan's listeners regrouped for lookup, indexed by `Tag as usize`.
    by_tag: [TagListeners; Tag::COUNT],
    /// The last text each `%t` field rendered, indexed by field (unused for other fields).
    times: Vec<RenderedTime>,
    /// Whether any field reads the log. A plan that does not (a message key of `%l`, say)
    /// renders from the context alone, without walking the transaction's records; it then
    /// cuts and counts no `tag.size.max` truncations either, having read nothing.
    reads_log: bool,
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

/// One tag's listeners, arranged so that a header record the format does not read costs one
/// table look-up and one branch that is nearly always "no". A realistic transaction has
/// sixty-odd header records and the production format reads sixteen headers; trying each
/// header against each name cost most of the rendering time, mostly in mispredicted branches.
#[derive(Debug)]
struct TagListeners {
    /// `Name: value` listeners.
    named: Vec<NamedListener>,
    /// Candidates among the first 64 of `named` (bit `i` for `named[i]`), by
    /// [`prefix_bucket`] of the record's first four bytes. A record whose name is one of them
    /// has the same four first bytes up to ASCII case (the name's own, or a three-byte name and
    /// its colon), so it always finds its listener here; other records mostly find 0.
    by_prefix: [u64; PREFIX_BUCKETS],
    /// Indices into `named` the table cannot hold (names under three bytes, and listeners
    /// past the 64th), tried on every record of the tag.
    unbucketed: Vec<usize>,
    /// Every other listener of the tag.
    others: Vec<Listener>,
}

const PREFIX_BUCKETS: usize = 64;

/// A record's (or a name's) first four bytes with ASCII case folded away (`| 0x20` on each
/// byte: two bytes equal ignoring ASCII case stay equal), hashed to a bucket. Collisions only
/// add candidates, which `may_match` and `extract` then refuse.
fn prefix_bucket(head: &[u8]) -> usize {
    let mut bytes = [0_u8; 4];
    bytes.copy_from_slice(&head[..4]);
    let folded = u32::from_le_bytes(bytes) | 0x2020_2020;
    (folded.wrapping_mul(0x9e37_79b1) >> (32 - PREFIX_BUCKETS.trailing_zeros())) as usize
}

/// What rules a record out for a `Name: value` listener before its name is compared: a colon
/// must follow the name, and the name's first and last bytes must match (ASCII case ignored).
/// That rejects nearly every other header with three byte comparisons.
#[derive(Debug)]
struct NamedListener {
    listener: Listener,
    length: usize,
    /// The name's first and last bytes in lower case (unused for an empty name).
    first: u8,
    last: u8,
}

impl NamedListener {
    fn may_match(&self, payload: &[u8]) -> bool {
        payload.get(self.length) == Some(&b':')
            && (self.length == 0
                || (payload[0].to_ascii_lowercase() == self.first
                    && payload[self.length - 1].to_ascii_lowercase() == self.last))
    }
}

impl TagListeners {
    fn of(listeners: &[Listener]) -> TagListeners {
        let mut grouped = TagListeners {
            named: Vec::new(),
            by_prefix: [0; PREFIX_BUCKETS],
            unbucketed: Vec::new(),
            others: Vec::new(),
        };
        for listener in listeners {
            let Matcher::Named { name, .. } = &listener.matcher else {
                grouped.others.push(listener.clone());
                continue;
            };
            let index = grouped.named.len();
            // The four bytes a matching record starts with: the name's, or its colon's too.
            let mut head = name.clone();
            head.push(b':');
            if index < 64 && head.len() >= 4 {
                grouped.by_prefix[prefix_bucket(&head)] |= 1 << index;
            } else {
                grouped.unbucketed.push(index);
            }
            grouped.named.push(NamedListener {
                length: name.len(),
                first: name.first().map_or(0, u8::to_ascii_lowercase),
                last: name.last().map_or(0, u8::to_ascii_lowercase),
                listener: listener.clone(),
            });
        }
        grouped
    }
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
        let reads_log = plan.listeners.iter().any(|listeners| !listeners.is_empty());
        let by_tag = std::array::from_fn(|tag| TagListeners::of(&plan.listeners[tag]));
        let times = plan
            .fields
            .iter()
            .map(|field| RenderedTime {
                uses_fraction: matches!(&field.value, Value::Time(format) if format.uses_fraction()),
                ..RenderedTime::default()
            })
            .collect();
        Renderer {
            plan,
            slots,
            derived: Vec::with_capacity(256),
            escaped: Vec::with_capacity(256),
            by_tag,
            times,
            reads_log,
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
            by_tag,
            times,
            reads_log,
        } = self;
        let mut stats = RenderStats::default();
        let mut captured = recycle(std::mem::take(slots));
        captured.resize(plan.fields.len(), None);

        let max_tag_size = plan.max_tag_size;
        if *reads_log {
            transaction.for_each_record(|tag, payload| {
                let payload = if payload.len() > max_tag_size {
                    stats.truncated_tags += 1;
                    &payload[..max_tag_size]
                } else {
                    payload
                };
                let grouped = &by_tag[tag as usize];
                let mut capture = |listener: &Listener| {
                    let slot = &mut captured[listener.field];
                    // A field that keeps its first match has nothing more to learn from this tag.
                    if listener.keep == Keep::First && slot.is_some() {
                        return;
                    }
                    // An empty value never counts as a match, so a later record can still fill the
                    // field (varnishkafka skips empty values the same way).
                    if let Some(value) =
                        extract(&listener.matcher, payload).filter(|v| !v.is_empty())
                    {
                        *slot = Some(value);
                    }
                };
                // `extract` decides; the table and `may_match` only skip records it would refuse.
                let mut candidates = payload
                    .get(..4)
                    .map_or(0, |head| grouped.by_prefix[prefix_bucket(head)]);
                while candidates != 0 {
                    let named = &grouped.named[candidates.trailing_zeros() as usize];
                    candidates &= candidates - 1;
                    if named.may_match(payload) {
                        capture(&named.listener);
                    }
                }
                for &index in &grouped.unbucketed {
                    let named = &grouped.named[index];
                    if named.may_match(payload) {
                        capture(&named.listener);
                    }
                }
                for listener in &grouped.others {
                    capture(listener);
                }
            });
        }

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
                    let value = match &field.value {
                        // Most fields print what they captured; spare them the call.
                        Value::Captured => captured[*index],
                        Value::Time(format) => {
                            rendered_time(format, captured[*index], &mut times[*index])
                        }
                        other => value_text(other, captured[*index], context, derived),
                    }
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
            // The record's name is everything before its first colon. Rather than search for
            // that colon in every header for every field that reads headers, look where it
            // must be if the name is ours: one byte rejects nearly every other header. A name
            // with a colon in it can never equal the text before the first colon.
            let colon = name.len();
            if payload.get(colon) != Some(&b':')
                || !eq_ignore_ascii_case(&payload[..colon], name)
                || name.contains(&b':')
            {
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

/// `a == b` ignoring ASCII case, as `<[u8]>::eq_ignore_ascii_case`, eight bytes at a time: it
/// runs for every header whose name might be one the format reads.
fn eq_ignore_ascii_case(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a_words = a.chunks_exact(8);
    let mut b_words = b.chunks_exact(8);
    for (a_word, b_word) in a_words.by_ref().zip(b_words.by_ref()) {
        if lower_ascii_word(a_word) != lower_ascii_word(b_word) {
            return false;
        }
    }
    a_words
        .remainder()
        .iter()
        .zip(b_words.remainder())
        .all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// Eight bytes (`bytes.len() == 8`) as a word with `A`..=`Z` lowered. Per byte, with `h` the
/// byte's low seven bits: `h + (0x7f - b'Z')` sets the high bit exactly when `h > b'Z'`, and
/// `h + (0x80 - b'A')` when `h >= b'A'`; neither sum carries into the next byte. A byte is an
/// upper-case letter when the second is set, the first is not and its own high bit is clear;
/// then its 0x20 bit is set.
fn lower_ascii_word(bytes: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut array = [0_u8; 8];
    array.copy_from_slice(bytes);
    let word = u64::from_le_bytes(array);
    let heptets = word & !HIGH_BITS;
    let above_z = heptets + ONES * u64::from(0x7f - b'Z');
    let from_a = heptets + ONES * u64::from(0x80 - b'A');
    let upper = from_a & !above_z & !word & HIGH_BITS;
    word | (upper >> 2)
}

/// The n-th (1-based) space-separated column, runs of spaces counting as one separator.
fn column(payload: &[u8], number: u8) -> Option<&[u8]> {
    let mut remaining = number.checked_sub(1)?;
    let mut index = 0;
    loop {
        while payload.get(index) == Some(&b' ') {
            index += 1;
        }
        if index == payload.len() {
            return None;
        }
        let start = index;
        while index < payload.len() && payload[index] != b' ' {
            index += 1;
        }
        if remaining == 0 {
            return Some(&payload[start..index]);
        }
        remaining -= 1;
    }
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
    fn named_records_match_on_the_text_before_their_first_colon() {
        // The definition, written the slow way: the name is what precedes the first colon.
        let by_definition = |name: &[u8], payload: &'static [u8]| -> Option<&'static [u8]> {
            let colon = payload.iter().position(|&b| b == b':')?;
            let value = &payload[colon + 1..];
            let spaces = value.iter().take_while(|&&b| b == b' ').count();
            payload[..colon]
                .eq_ignore_ascii_case(name)
                .then_some(&value[spaces..])
        };
        let names: &[&[u8]] = &[b"Host", b"host", b"X-A:b", b"X-A", b"A", b"Ab", b""];
        let payloads: &[&[u8]] = &[
            b"Host: x",
            b"HOST:y",
            b"Hostx: z",
            b"Hos: t",
            b"Host",
            b"Host:",
            b"X-A:b: c",
            b"X-A: b: c",
            b":",
            b"A:",
            b"a:b:c",
            b"Ab:",
            b"",
            b"x-a:B:c",
        ];
        for name in names {
            let matcher = Matcher::Named {
                name: name.to_vec(),
                column: None,
            };
            for payload in payloads {
                assert_eq!(
                    extract(&matcher, payload),
                    by_definition(name, payload),
                    "name {name:?}, payload {payload:?}"
                );
            }
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
    fn word_at_a_time_case_folding_agrees_with_the_standard_library() {
        // Every byte value against its neighbours and the letters' other case, at each
        // position of a two-word string with a tail.
        let mut checked = 0;
        for byte in 0..=255_u8 {
            for other in [
                byte,
                byte ^ 0x20,
                byte.wrapping_add(1),
                byte.wrapping_sub(1),
                byte ^ 0x80,
            ] {
                for position in 0..19 {
                    let mut a = *b"Accept-Language-x1Z";
                    let mut b = *b"aCCEPT-lANGUAGE-X1z";
                    a[position] = byte;
                    b[position] = other;
                    assert_eq!(
                        eq_ignore_ascii_case(&a, &b),
                        a.eq_ignore_ascii_case(&b),
                        "{byte:#x} vs {other:#x} at {position}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 256 * 5 * 19);
        assert!(!eq_ignore_ascii_case(b"Host", b"Hos"));
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
