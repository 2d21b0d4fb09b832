//! Evaluation in one pass over a transaction's records. Each comparison is a leaf meaning
//! "some record of the transaction passes this test" (how `vslq_test` evaluates it: the first
//! passing record decides), so a transaction is evaluated by showing each record once to the
//! leaves that read its tag, remembering which leaves have passed, and evaluating the
//! boolean tree over those bits at the end (`vslq_exec`'s `and`, `or`, `not`).

use crate::number::{at, is_c_space, parse_decimal, parse_number};
use crate::parse::{Expr, Leaf, Test};

/// The boolean tree over leaf numbers.
#[derive(Debug)]
pub(crate) enum Node {
    /// Leaf number.
    Leaf(usize),
    /// `not`.
    Not(Box<Node>),
    /// All of.
    And(Box<[Node]>),
    /// Any of.
    Or(Box<[Node]>),
}

/// Moves the leaves of `expr` into `leaves` and returns the tree over their numbers.
pub(crate) fn flatten(expr: Expr, leaves: &mut Vec<Leaf>) -> Node {
    match expr {
        Expr::Leaf(leaf) => {
            leaves.push(*leaf);
            Node::Leaf(leaves.len() - 1)
        }
        Expr::Not(inner) => Node::Not(Box::new(flatten(*inner, leaves))),
        Expr::And(terms) => Node::And(terms.into_iter().map(|t| flatten(t, leaves)).collect()),
        Expr::Or(terms) => Node::Or(terms.into_iter().map(|t| flatten(t, leaves)).collect()),
    }
}

impl Node {
    /// The tree's value when the leaves in `satisfied` (bit per leaf) hold.
    pub(crate) fn holds(&self, satisfied: u64) -> bool {
        match self {
            Node::Leaf(i) => *i < 64 && satisfied & (1 << i) != 0,
            Node::Not(inner) => !inner.holds(satisfied),
            Node::And(terms) => terms.iter().all(|t| t.holds(satisfied)),
            Node::Or(terms) => terms.iter().any(|t| t.holds(satisfied)),
        }
    }
}

/// Whether the record `payload` (without its trailing NUL) of a tag the leaf reads passes
/// the leaf's test, as `vslq_test_rec` decides it. The payload is read as the C code reads
/// it: a NUL byte inside it ends the string for prefix, field and number parsing.
pub(crate) fn record_passes(leaf: &Leaf, payload: &[u8]) -> bool {
    let mut b = 0;
    let mut e = payload.len();
    if let Some(prefix) = &leaf.prefix {
        if payload.len() < prefix.len()
            || !payload[..prefix.len()].eq_ignore_ascii_case(prefix)
            || at(payload, prefix.len()) != b':'
        {
            return false;
        }
        b = prefix.len() + 1;
        while at(payload, b) != 0 && is_c_space(at(payload, b)) {
            b += 1;
        }
    }
    if leaf.field > 0 {
        match field(payload, b, leaf.field) {
            Some((start, end)) => (b, e) = (start, end),
            None => return false,
        }
    }
    match &leaf.test {
        Test::Exists => true,
        Test::Int(cmp, rhs) => {
            if at(payload, b) == 0 {
                return false;
            }
            // The C code casts the parsed double to long long, truncating toward zero.
            parse_number(&payload[b..]).is_some_and(|(lhs, _)| cmp.holds(lhs as i64, *rhs))
        }
        Test::Float(cmp, rhs) => {
            at(payload, b) != 0
                && parse_decimal(&payload[b..]).is_some_and(|lhs| cmp.holds(lhs, *rhs))
        }
        Test::Str { negated, value } => (payload[b..e] == **value) != *negated,
        Test::Regex { negated, regex } => {
            // An empty subject is passed with length 0, which PCRE2 reads as "up to the NUL":
            // after an empty quoted field that is the rest of the record.
            let subject = if b == e {
                let rest = &payload[b..];
                &rest[..rest.iter().position(|&c| c == 0).unwrap_or(rest.len())]
            } else {
                &payload[b..e]
            };
            // A match error (a resource limit) is not "no match" for Varnish, so `~` passes.
            let matched = regex.is_match(subject).unwrap_or(true);
            matched != *negated
        }
    }
}

/// The bounds of field `n` (1-based) of `payload` from offset `b`: fields are separated by
/// whitespace, and a field starting with `"` runs to the next `"` (quotes excluded) and must
/// be followed by whitespace or the end. `None` when the field is missing or malformed.
/// Asking for a field after an empty quoted one (`"" x`, field 2) trips an assertion in
/// `vsl_query.c` and varnishlog aborts; here the scan goes on past the closing quote.
fn field(payload: &[u8], mut b: usize, n: usize) -> Option<(usize, usize)> {
    let mut e = b;
    let mut i = 0;
    let mut quoted = false;
    while at(payload, e) != 0 && i < n {
        if quoted {
            e += 1;
            if at(payload, e) == 0 {
                break;
            }
            if !is_c_space(at(payload, e)) {
                return None;
            }
        }
        b = e;
        while at(payload, b) != 0 && is_c_space(at(payload, b)) {
            b += 1;
        }
        quoted = at(payload, b) == b'"';
        if quoted {
            b += 1;
        }
        e = b;
        if quoted {
            while at(payload, e) != 0 && at(payload, e) != b'"' {
                e += 1;
            }
            if at(payload, e) != b'"' {
                return None;
            }
        } else {
            while at(payload, e) != 0 && !is_c_space(at(payload, e)) {
                e += 1;
            }
        }
        i += 1;
    }
    if at(payload, b) == 0 || i < n {
        return None;
    }
    Some((b, e))
}
