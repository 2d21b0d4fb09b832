//! Varnish's VSL query language (vsl-query(7) of Varnish 7.1), parsed with the grammar and
//! error cases of libvarnishapi's `vxp_*.c` and evaluated with `vsl_query.c`'s semantics, in
//! one pass over a transaction's records so a log reader can evaluate it while it walks them.
//!
//! ```
//! use edgeship_query::Query;
//!
//! let query = Query::new(r#"ReqMethod ne "PURGE" and not ReqHeader:Upgrade ~ "[wW]ebsocket""#)?;
//! let mut matches = query.start(1001, 1);
//! for (tag, payload) in [(15u8, &b"GET"[..]), (20, b"Host: example.org")] {
//!     if query.tags()[usize::from(tag)] {
//!         query.observe(&mut matches, tag, payload);
//!     }
//! }
//! assert!(query.selects(&matches));
//! # Ok::<(), edgeship_query::QueryError>(())
//! ```
//!
//! Regular expressions are PCRE2 (the system libpcre2-8, as varnishd links it), compiled with
//! the options Varnish gives query regexes: none (case-sensitive, bytes rather than UTF-8),
//! JIT when available, PCRE2's default match limits. Varnish's `-C` (caseless) is not offered.
//!
//! Deliberate differences from Varnish: parentheses and `not` nest at most 64 deep (a parse
//! error beyond); a query with no expression at all (empty, blanks, comments) is an error with
//! a message (Varnish refuses it with an empty one).

mod eval;
mod lex;
mod number;
mod parse;
mod tags;

pub use tags::TAG_NAMES;

/// The number of the tag with exactly this name (as [`TAG_NAMES`] spells it), if any.
pub fn tag_number(name: &str) -> Option<u8> {
    let number = TAG_NAMES.iter().position(|tag| *tag == Some(name))?;
    u8::try_from(number).ok()
}

use eval::Node;
use parse::Leaf;

/// A query that does not parse: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct QueryError {
    /// 1-based byte column of the offending token in the query text (lines joined by newlines
    /// count as one text).
    pub column: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl QueryError {
    fn new(offset: usize, message: String) -> QueryError {
        QueryError {
            column: offset + 1,
            message,
        }
    }
}

/// One of several queries (see [`Query::parse_all`]) does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("query {}: {error}", index + 1)]
pub struct CombineError {
    /// Which query, 0-based, in the order given.
    pub index: usize,
    /// Its error.
    pub error: QueryError,
}

/// Why the fast path (`-g vxid`, one transaction per group) cannot evaluate a query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotFast {
    /// [`Matches`] holds 64 leaves; the query has more comparisons.
    #[error("the query has {0} comparisons; the fast path evaluates at most 64")]
    TooManyLeaves(usize),
}

/// The most comparisons [`Matches`] tracks.
pub const MAX_FAST_LEAVES: usize = 64;

/// A compiled query.
#[derive(Debug)]
pub struct Query {
    leaves: Vec<Leaf>,
    tree: Node,
    /// For each tag, the leaves (bit per leaf) that read its records.
    by_tag: Box<[u64; 256]>,
    tags: [bool; 256],
    /// Per leaf with a `:prefix`, its first byte as (case bit, byte with that bit set): a
    /// record whose first byte differs cannot pass, and most records of a read tag (the
    /// sixty-odd headers of a request against `ReqHeader:Upgrade`) are ruled out by it
    /// without the call into the full test.
    heads: Vec<Option<(u8, u8)>>,
}

/// What one transaction has shown so far: which leaves passed, and which are decided (passed,
/// or never tested for this transaction: vxid tests and level limits are decided at
/// [`Query::start`]). Small and `Copy`; start a new one per transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Matches {
    passed: u64,
    decided: u64,
}

impl Query {
    /// Parses one `-q` query (which may hold several lines: they are ORed, as Varnish does).
    pub fn new(query: &str) -> Result<Query, QueryError> {
        let tokens = lex::lex(query)?;
        let expr = parse::parse(&tokens)?
            .ok_or_else(|| QueryError::new(0, "the query is empty".to_owned()))?;
        let mut leaves = Vec::new();
        let tree = eval::flatten(expr, &mut leaves);
        let mut by_tag = Box::new([0u64; 256]);
        let mut tags = [false; 256];
        for (i, leaf) in leaves.iter().enumerate() {
            for tag in leaf.tags.iter() {
                tags[usize::from(tag)] = true;
                if i < MAX_FAST_LEAVES {
                    by_tag[usize::from(tag)] |= 1 << i;
                }
            }
        }
        let heads = leaves.iter().map(prefix_head).collect();
        Ok(Query {
            leaves,
            tree,
            by_tag,
            tags,
            heads,
        })
    }

    /// Several `-q` options as varnishlog 7.1 combines them: joined by newlines into one
    /// query, so a transaction is selected when any of them selects it. Each is first parsed
    /// alone, so an error names the query it is in and a column within it.
    pub fn parse_all(queries: &[&str]) -> Result<Query, CombineError> {
        for (index, query) in queries.iter().enumerate() {
            Query::new(query).map_err(|error| CombineError { index, error })?;
        }
        Query::new(&queries.join("\n")).map_err(|error| CombineError { index: 0, error })
    }

    /// Whether the fast path can evaluate this query with Varnish's exact semantics. In vxid
    /// grouping every transaction is alone at level 1, so vxid tests and every level limit are
    /// exact; the only limit is the number of comparisons [`Matches`] tracks.
    pub fn fast_path(&self) -> Result<(), NotFast> {
        if self.leaves.len() > MAX_FAST_LEAVES {
            return Err(NotFast::TooManyLeaves(self.leaves.len()));
        }
        Ok(())
    }

    /// The tags whose records the query reads, by tag number: [`Query::observe`] needs to see
    /// only those.
    pub fn tags(&self) -> &[bool; 256] {
        &self.tags
    }

    /// The state for a new transaction with this vxid at this level (1 in vxid grouping).
    pub fn start(&self, vxid: u32, level: u32) -> Matches {
        let mut matches = Matches::default();
        for (i, leaf) in self.leaves.iter().take(MAX_FAST_LEAVES).enumerate() {
            let bit = 1u64 << i;
            if leaf.vxid {
                matches.decided |= bit;
                if let parse::Test::Int(cmp, value) = leaf.test {
                    if cmp.holds(i64::from(vxid), value) {
                        matches.passed |= bit;
                    }
                }
            } else if leaf.level.is_some_and(|limit| !limit.admits(level)) {
                matches.decided |= bit;
            }
        }
        matches
    }

    /// Shows one record of the transaction (numeric tag, payload without the trailing NUL) to
    /// the leaves that read its tag and have not passed yet. Allocates nothing and takes no
    /// lock on the thread that matched first (the `pcre2` crate keeps match scratch space per
    /// regex, lock-free for the first thread that uses it; other threads take a mutex).
    pub fn observe(&self, matches: &mut Matches, tag: u8, payload: &[u8]) {
        let mut todo = self.by_tag[usize::from(tag)] & !matches.decided;
        while todo != 0 {
            let i = todo.trailing_zeros() as usize;
            let bit = 1u64 << i;
            todo &= !bit;
            if let Some((fold, head)) = self.heads[i] {
                if payload.first().is_none_or(|&first| first | fold != head) {
                    continue;
                }
            }
            if eval::record_passes(&self.leaves[i], payload) {
                matches.passed |= bit;
                matches.decided |= bit;
            }
        }
    }

    /// Whether the transaction whose records were observed is selected.
    pub fn selects(&self, matches: &Matches) -> bool {
        self.tree.holds(matches.passed)
    }

    /// Convenience for tests and tools: evaluates a whole transaction's records at once.
    pub fn selects_records<'r>(
        &self,
        vxid: u32,
        level: u32,
        records: impl IntoIterator<Item = (u8, &'r [u8])>,
    ) -> bool {
        let mut matches = self.start(vxid, level);
        for (tag, payload) in records {
            self.observe(&mut matches, tag, payload);
        }
        self.selects(&matches)
    }
}

/// The quick-reject byte of a leaf's prefix (see `Query::heads`): Varnish compares prefixes
/// without regard to ASCII case, so a letter is compared with its case bit set on both sides.
fn prefix_head(leaf: &Leaf) -> Option<(u8, u8)> {
    let first = *leaf.prefix.as_ref()?.first()?;
    let fold = if first.is_ascii_alphabetic() { 0x20 } else { 0 };
    Some((fold, first | fold))
}
