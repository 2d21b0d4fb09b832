//! Capturing: one pass over a transaction's records finds each field's value (borrowed from
//! the record, not copied), for one plan or several at once.
//!
//! Capturing is the half of rendering that reads the log; [`crate::Renderer`] does the other
//! half (writing the fields in format order). They are separate so that a program can capture
//! where the records are (the shipper's reader thread, with the log's bytes still in its cache)
//! and hand over only the captured values, which are a fraction of the records' bytes.
//!
//! Several plans (a record format and a message key format, say) share one [`Capturer`]: their
//! fields are numbered one after the other, plan by plan, so one walk over the records serves
//! them all.

use crate::parse::{Keep, Listener, Matcher, Plan};
use crate::record::{Tag, Transaction};
use crate::words::{bytes_equal, first_marked, load, HIGH_BITS, ONES};

/// Finds the values of every field of one or more plans in a transaction's records.
#[derive(Debug, Clone)]
pub struct Capturer {
    /// The plans' listeners regrouped for lookup, indexed by `Tag as usize`; their field
    /// numbers are offset by the plan's first field (see [`Capturer::first_field`]).
    by_tag: [TagListeners; Tag::COUNT],
    /// Where each plan's fields start, and (last entry) how many fields there are in all.
    starts: Vec<usize>,
    /// Whether any field reads the log. Without one, capturing does not walk the records.
    reads_log: bool,
    /// Fields that listen exactly as an earlier field does (same tags, matchers, occurrence
    /// and `tag.size.max`), as `(field, earlier field)`: they are not matched again, their
    /// value is copied once the walk is over.
    aliases: Vec<(usize, usize)>,
    /// Scratch slots for [`Capturer::capture_with`], stored empty between calls (see
    /// [`recycle`]).
    scratch: Vec<Option<&'static [u8]>>,
}

/// What capturing noticed that the operator must be able to count.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaptureStats {
    /// Records of the transaction longer than `tag.size.max`, cut before matching (records of
    /// tags no field reads are neither cut nor counted).
    pub truncated_tags: u32,
}

/// A listener with the `tag.size.max` of its plan.
#[derive(Debug, Clone)]
struct Limited {
    listener: Listener,
    limit: usize,
}

/// One tag's listeners, arranged so that a header record the format does not read costs one
/// table look-up and one branch that is nearly always "no". A realistic transaction has
/// sixty-odd header records and the production format reads sixteen headers; trying each
/// header against each name cost most of the rendering time, mostly in mispredicted branches.
#[derive(Debug, Clone)]
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
    others: Vec<Limited>,
    /// The smallest `tag.size.max` of the plans that read the tag: a longer record is cut for
    /// at least one field, and counted once.
    smallest_limit: usize,
    /// Which of the lists above are in use, kept up to date by [`TagListeners::add`] so that
    /// the capture loop makes one decision per record instead of one per list.
    shape: Shape,
}

/// What a tag's listeners look like, for [`Capturer::capture`]'s dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No field reads the tag.
    Idle,
    /// Only `Name: value` listeners, all in the prefix table.
    Bucketed,
    /// Anything else.
    Mixed,
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
#[derive(Debug, Clone)]
struct NamedListener {
    limited: Limited,
    /// The name in ASCII lower case (never with a colon: such a name cannot match, and
    /// [`TagListeners::add`] does not file it).
    lower: Vec<u8>,
    /// `column` of the `Named` matcher.
    column: Option<u8>,
    /// The name's first and last bytes in lower case (unused for an empty name).
    first: u8,
    last: u8,
}

impl NamedListener {
    fn may_match(&self, payload: &[u8]) -> bool {
        let length = self.lower.len();
        payload.get(length) == Some(&b':')
            && (length == 0
                || (payload[0].to_ascii_lowercase() == self.first
                    && payload[length - 1].to_ascii_lowercase() == self.last))
    }

    /// What `extract` returns for this listener's `Named` matcher, for a record that passed
    /// [`NamedListener::may_match`] (so a colon follows the name's length), without looking at
    /// the matcher again: the name is compared in words against its lower-case copy.
    #[inline]
    fn value<'a>(&self, payload: &'a [u8]) -> Option<&'a [u8]> {
        let length = self.lower.len();
        if !eq_lower(&payload[..length], &self.lower) {
            return None;
        }
        let value = skip_spaces(&payload[length + 1..]);
        match self.column {
            Some(number) => column(value, number),
            None => Some(value),
        }
    }
}

impl TagListeners {
    fn new() -> TagListeners {
        TagListeners {
            named: Vec::new(),
            by_prefix: [0; PREFIX_BUCKETS],
            unbucketed: Vec::new(),
            others: Vec::new(),
            smallest_limit: usize::MAX,
            shape: Shape::Idle,
        }
    }

    /// Offers a record to the listeners its first four bytes make candidates.
    #[inline(always)]
    fn capture_bucketed<'a>(&self, payload: &'a [u8], slots: &mut [Option<&'a [u8]>]) {
        let mut candidates = payload
            .get(..4)
            .map_or(0, |head| self.by_prefix[prefix_bucket(head)]);
        while candidates != 0 {
            let named = &self.named[candidates.trailing_zeros() as usize];
            candidates &= candidates - 1;
            capture_named(named, payload, slots);
        }
    }

    /// Whether no field reads the tag.
    fn is_idle(&self) -> bool {
        self.named.is_empty() && self.others.is_empty()
    }

    fn add(&mut self, limited: Limited) {
        self.add_listener(limited);
        self.shape = if self.is_idle() {
            Shape::Idle
        } else if self.others.is_empty() && self.unbucketed.is_empty() {
            Shape::Bucketed
        } else {
            Shape::Mixed
        };
    }

    fn add_listener(&mut self, limited: Limited) {
        self.smallest_limit = self.smallest_limit.min(limited.limit);
        let Matcher::Named { name, column } = &limited.listener.matcher else {
            self.others.push(limited);
            return;
        };
        if name.contains(&b':') {
            // The name of a record is what precedes its first colon: this one never matches.
            return;
        }
        let index = self.named.len();
        // The four bytes a matching record starts with: the name's, or its colon's too.
        let mut head = name.clone();
        head.push(b':');
        if index < 64 && head.len() >= 4 {
            self.by_prefix[prefix_bucket(&head)] |= 1 << index;
        } else {
            self.unbucketed.push(index);
        }
        self.named.push(NamedListener {
            lower: name.to_ascii_lowercase(),
            column: *column,
            first: name.first().map_or(0, u8::to_ascii_lowercase),
            last: name.last().map_or(0, u8::to_ascii_lowercase),
            limited,
        });
    }
}

impl Capturer {
    /// A capturer for the fields of `plans`, numbered plan after plan.
    pub fn new(plans: &[&Plan]) -> Capturer {
        let mut by_tag: [TagListeners; Tag::COUNT] = std::array::from_fn(|_| TagListeners::new());
        let mut starts = Vec::with_capacity(plans.len() + 1);
        let mut next = 0;
        let mut reads_log = false;
        let mut interests: Vec<(Interest<'_>, usize)> = Vec::new();
        let mut aliases = Vec::new();
        for plan in plans {
            starts.push(next);
            let mut alias = vec![false; plan.fields.len()];
            for (field, interest) in interests_of(plan).into_iter().enumerate() {
                if interest.listens.is_empty() {
                    continue;
                }
                let earlier = interests.iter().find(|(seen, _)| *seen == interest);
                match earlier {
                    Some(&(_, earlier)) => {
                        aliases.push((next + field, earlier));
                        alias[field] = true;
                    }
                    None => interests.push((interest, next + field)),
                }
            }
            for (tag, listeners) in plan.listeners.iter().enumerate() {
                for listener in listeners
                    .iter()
                    .filter(|l| alias.get(l.field) != Some(&true))
                {
                    let mut listener = listener.clone();
                    listener.field += next;
                    by_tag[tag].add(Limited {
                        listener,
                        limit: plan.max_tag_size,
                    });
                    reads_log = true;
                }
            }
            next += plan.fields.len();
        }
        starts.push(next);
        Capturer {
            by_tag,
            starts,
            reads_log,
            aliases,
            scratch: Vec::with_capacity(next),
        }
    }

    /// How many fields the plans have in all: the length [`Capturer::capture`] needs.
    pub fn field_count(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// Where the fields of the `plan`-th plan given to [`Capturer::new`] start (the total
    /// field count past the last plan).
    pub fn first_field(&self, plan: usize) -> usize {
        self.starts
            .get(plan)
            .copied()
            .unwrap_or_else(|| self.field_count())
    }

    /// The tags some field reads, in `Tag as usize` order: records of other tags cannot change
    /// what [`Capturer::capture`] finds (nor what it counts), so a caller may leave them out.
    pub fn tags(&self) -> Vec<Tag> {
        Tag::ALL
            .into_iter()
            .filter(|&tag| !self.by_tag[tag as usize].is_idle())
            .collect()
    }

    /// Whether any field reads the log. When none does (a message key of `%l`, say),
    /// [`Capturer::capture`] does not walk the records, and so cuts and counts nothing.
    pub fn reads_log(&self) -> bool {
        self.reads_log
    }

    /// Fills `slots` (one per field, see [`Capturer::field_count`]; extra slots are left
    /// alone, missing ones are not captured) with each field's value in `transaction`, or
    /// `None` where nothing matched. Values borrow from the transaction.
    pub fn capture<'a, T: Transaction + ?Sized>(
        &self,
        transaction: &'a T,
        slots: &mut [Option<&'a [u8]>],
    ) -> CaptureStats {
        let count = self.field_count().min(slots.len());
        slots[..count].fill(None);
        self.capture_into_empty(transaction, &mut slots[..count])
    }

    /// [`Capturer::capture`] into slots already all `None`, at most one per field.
    #[inline(never)]
    fn capture_into_empty<'a, T: Transaction + ?Sized>(
        &self,
        transaction: &'a T,
        slots: &mut [Option<&'a [u8]>],
    ) -> CaptureStats {
        let mut stats = CaptureStats::default();
        if !self.reads_log {
            return stats;
        }
        transaction.for_each_record(|tag, payload| {
            let grouped = &self.by_tag[tag as usize];
            let shape = grouped.shape;
            if shape == Shape::Idle {
                // No field reads the tag: nothing to find, nothing cut.
                return;
            }
            if payload.len() > grouped.smallest_limit {
                stats.truncated_tags += 1;
            }
            // The table and `may_match` only skip records `NamedListener::value` would refuse;
            // that, in turn, agrees with `extract`, the definition (tested).
            if shape == Shape::Bucketed {
                // The usual header tag: every listener is in the prefix table.
                grouped.capture_bucketed(payload, slots);
                return;
            }
            if !grouped.named.is_empty() {
                grouped.capture_bucketed(payload, slots);
                for &index in &grouped.unbucketed {
                    capture_named(&grouped.named[index], payload, slots);
                }
            }
            for limited in &grouped.others {
                capture_one(limited, payload, slots);
            }
        });
        for &(field, earlier) in &self.aliases {
            if let (Some(&value), true) = (slots.get(earlier), field < slots.len()) {
                slots[field] = value;
            }
        }
        stats
    }
}

/// Everything that decides a field's captured value: its listeners (tag, matcher, occurrence)
/// in the plan's order, and the plan's `tag.size.max`.
#[derive(PartialEq)]
struct Interest<'p> {
    listens: Vec<(usize, &'p Matcher, Keep)>,
    limit: usize,
}

/// Each field's [`Interest`] in `plan`, by field number.
fn interests_of(plan: &Plan) -> Vec<Interest<'_>> {
    let mut interests: Vec<Interest<'_>> = (0..plan.fields.len())
        .map(|_| Interest {
            listens: Vec::new(),
            limit: plan.max_tag_size,
        })
        .collect();
    for (tag, listeners) in plan.listeners.iter().enumerate() {
        for listener in listeners {
            if let Some(interest) = interests.get_mut(listener.field) {
                interest
                    .listens
                    .push((tag, &listener.matcher, listener.keep));
            }
        }
    }
    interests
}

impl Capturer {
    /// Captures `transaction` into the capturer's own reused slots (one per field, see
    /// [`Capturer::field_count`]) and calls `then` with them: for callers that have nowhere to
    /// keep slots borrowing from each transaction. Allocates nothing once the slots have grown.
    pub fn capture_with<'a, T, R>(
        &mut self,
        transaction: &'a T,
        then: impl FnOnce(&[Option<&'a [u8]>], CaptureStats) -> R,
    ) -> R
    where
        T: Transaction + ?Sized,
    {
        let mut slots = recycle(std::mem::take(&mut self.scratch));
        slots.resize(self.field_count(), None);
        let stats = self.capture_into_empty(transaction, &mut slots);
        let result = then(&slots, stats);
        self.scratch = recycle(slots);
        result
    }
}

/// Empties a vector of borrowed slices and hands back its allocation for slices of another
/// lifetime. Collecting a vector's own `into_iter()` through a `map` to an element of the same
/// size reuses the allocation (the standard library's in-place iteration), so per-record slots
/// cost no allocation; `tests/no_alloc.rs` checks that this holds.
fn recycle<'to>(mut slots: Vec<Option<&[u8]>>) -> Vec<Option<&'to [u8]>> {
    slots.clear();
    slots.into_iter().map(|_| None).collect()
}

/// Offers one record to one `Name: value` listener. Inlined: it runs for most header records
/// of every transaction, and a call costs as much as its usual work (a rejection).
#[inline(always)]
fn capture_named<'a>(named: &NamedListener, payload: &'a [u8], slots: &mut [Option<&'a [u8]>]) {
    let listener = &named.limited.listener;
    let Some(slot) = slots.get_mut(listener.field) else {
        return;
    };
    if listener.keep == Keep::First && slot.is_some() {
        return;
    }
    let payload = payload.get(..named.limited.limit).unwrap_or(payload);
    if !named.may_match(payload) {
        return;
    }
    if let Some(value) = named.value(payload).filter(|v| !v.is_empty()) {
        *slot = Some(value);
    }
}

/// Offers one record to one listener.
#[inline(always)]
fn capture_one<'a>(limited: &Limited, payload: &'a [u8], slots: &mut [Option<&'a [u8]>]) {
    let listener = &limited.listener;
    let Some(slot) = slots.get_mut(listener.field) else {
        return;
    };
    // A field that keeps its first match has nothing more to learn from this tag.
    if listener.keep == Keep::First && slot.is_some() {
        return;
    }
    let payload = payload.get(..limited.limit).unwrap_or(payload);
    // An empty value never counts as a match, so a later record can still fill the field
    // (varnishkafka skips empty values the same way).
    if let Some(value) = extract(&listener.matcher, payload).filter(|v| !v.is_empty()) {
        *slot = Some(value);
    }
}

/// Cuts a field's value out of one record's payload.
#[inline]
pub(crate) fn extract<'a>(matcher: &Matcher, payload: &'a [u8]) -> Option<&'a [u8]> {
    match matcher {
        Matcher::Whole => Some(payload),
        Matcher::Column(number) => column(payload, *number),
        // The capture loop takes `Name: value` listeners by a faster route
        // (`NamedListener::value`); this arm is the definition it is tested against.
        Matcher::Named { name, column: at } => {
            // The record's name is everything before its first colon. Rather than search for
            // that colon in every header for every field that reads headers, look where it
            // must be if the name is ours: one byte rejects nearly every other header. A name
            // with a colon in it can never equal the text before the first colon.
            let colon = name.len();
            if payload.get(colon) != Some(&b':')
                || !payload[..colon].eq_ignore_ascii_case(name)
                || name.contains(&b':')
            {
                return None;
            }
            let value = skip_spaces(&payload[colon + 1..]);
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

/// `bytes` without its leading spaces.
#[inline]
fn skip_spaces(bytes: &[u8]) -> &[u8] {
    let mut start = 0;
    while bytes.get(start) == Some(&b' ') {
        start += 1;
    }
    &bytes[start..]
}

/// `a == lower` ignoring ASCII case, where `lower` is already in lower case and as long as
/// `a`: a word at a time, the last word overlapping the one before rather than finishing byte
/// by byte (names are short: most are one or two words and a few bytes).
#[inline]
fn eq_lower(a: &[u8], lower: &[u8]) -> bool {
    let length = a.len();
    if length != lower.len() {
        return false;
    }
    // The four bytes at `at`, as the low half of a word.
    let half = |bytes: &[u8], at: usize| {
        u64::from(u32::from_le_bytes([
            bytes[at],
            bytes[at + 1],
            bytes[at + 2],
            bytes[at + 3],
        ]))
    };
    match length {
        0..=3 => a
            .iter()
            .zip(lower)
            .all(|(x, y)| x.to_ascii_lowercase() == *y),
        4..=7 => {
            let last = length - 4;
            lower_ascii(half(a, 0)) == half(lower, 0)
                && lower_ascii(half(a, last)) == half(lower, last)
        }
        _ => {
            let mut at = 0;
            while at + 8 <= length {
                if lower_ascii(load(&a[at..at + 8])) != load(&lower[at..at + 8]) {
                    return false;
                }
                at += 8;
            }
            let last = length - 8;
            at == length || lower_ascii(load(&a[last..])) == load(&lower[last..])
        }
    }
}

/// A word with the `A`..=`Z` among its bytes lowered. Per byte, with `h` the byte's low
/// seven bits: `h + (0x7f - b'Z')` sets the high bit exactly when `h > b'Z'`, and
/// `h + (0x80 - b'A')` when `h >= b'A'`; neither sum carries into the next byte. A byte is an
/// upper-case letter when the second is set, the first is not and its own high bit is clear;
/// then its 0x20 bit is set.
#[inline(always)]
fn lower_ascii(word: u64) -> u64 {
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
        index = next_space(payload, index);
        if remaining == 0 {
            return Some(&payload[start..index]);
        }
        remaining -= 1;
    }
}

/// The index of the first space at or after `from`, or `bytes.len()`: eight bytes at a time
/// ([`bytes_equal`]), then byte by byte.
/// Timestamps are read by column, and their columns are ten to twenty bytes long.
fn next_space(bytes: &[u8], from: usize) -> usize {
    let mut index = from;
    while let Some(chunk) = bytes.get(index..index + 8) {
        let spaces = bytes_equal(load(chunk), b' ');
        if spaces != 0 {
            return index + first_marked(spaces);
        }
        index += 8;
    }
    while index < bytes.len() && bytes[index] != b' ' {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests;
