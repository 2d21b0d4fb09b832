//! One comparison: the record selection on its left (`vxp_expr_lhs`), the operator, and the
//! operand on its right, read as `vxp_expr_num`, `vxp_expr_str` and `vxp_expr_regex` read it.

use super::{Cmp, Leaf, Level, Parser, Test};
use crate::lex::Tok;
use crate::number::{is_c_space, strtol_int, strtoll, vnum};
use crate::tags::{glob_to_tags, GlobError, TagSet};
use crate::QueryError;

/// The operator after a selection, before its operand is read.
enum Op {
    Num(Cmp),
    Str(bool),
    Regex(bool),
}

impl Parser<'_> {
    /// A comparison: selection, then an operator and operand unless the selection stands alone
    /// (followed by the end, `and`, `or` or `)`).
    pub(super) fn comparison(&mut self) -> Result<Leaf, QueryError> {
        let mut leaf = self.selection()?;
        let op = match self.peek() {
            Tok::NumEq => Op::Num(Cmp::Eq),
            Tok::NumNe => Op::Num(Cmp::Ne),
            Tok::Lt => Op::Num(Cmp::Lt),
            Tok::Le => Op::Num(Cmp::Le),
            Tok::Gt => Op::Num(Cmp::Gt),
            Tok::Ge => Op::Num(Cmp::Ge),
            Tok::StrEq | Tok::StrNe if leaf.vxid => return Err(self.unexpected("a vxid operator")),
            Tok::Match | Tok::NoMatch if leaf.vxid => {
                return Err(self.unexpected("a vxid operator"))
            }
            Tok::StrEq => Op::Str(false),
            Tok::StrNe => Op::Str(true),
            Tok::Match => Op::Regex(false),
            Tok::NoMatch => Op::Regex(true),
            _ if leaf.vxid => return Err(self.unexpected("a vxid operator")),
            Tok::End | Tok::And | Tok::Or | Tok::Punct(b')') => return Ok(leaf),
            _ => return Err(self.unexpected("an operator")),
        };
        self.advance();
        leaf.test = match op {
            Op::Num(cmp) => self.number(cmp, leaf.vxid)?,
            Op::Str(negated) => {
                let (value, _) = self.value("a string")?;
                Test::Str {
                    negated,
                    value: value.into_bytes().into_boxed_slice(),
                }
            }
            Op::Regex(negated) => self.regex(negated)?,
        };
        Ok(leaf)
    }

    /// The selection: `{level}`, tags (or `vxid`), `:prefix`, `[field]`.
    fn selection(&mut self) -> Result<Leaf, QueryError> {
        let mut leaf = Leaf {
            tags: TagSet::default(),
            prefix: None,
            field: 0,
            level: None,
            vxid: false,
            test: Test::Exists,
        };
        if self.peek() == &Tok::Punct(b'{') {
            self.advance();
            leaf.level = Some(self.level()?);
            self.expect(b'}')?;
        }
        let (mut vxids, mut tag_lists) = (0, 0);
        loop {
            if self.peek() == &Tok::Vxid {
                vxids += 1;
                self.advance();
            } else {
                let (glob, at) = self.value("a VSL tag name")?;
                tag_lists += 1;
                glob_to_tags(glob.as_bytes(), &mut leaf.tags).map_err(|error| {
                    let message = match error {
                        GlobError::NoMatch => format!("tag name {glob:?} matches no tag"),
                        GlobError::Ambiguous => format!("tag name {glob:?} is ambiguous"),
                        GlobError::Syntax => format!("tag glob {glob:?} has more than one '*'"),
                    };
                    QueryError::new(at, message)
                })?;
            }
            if self.peek() != &Tok::Punct(b',') {
                break;
            }
            self.advance();
        }
        if self.peek() == &Tok::Punct(b':') {
            self.advance();
            let (prefix, _) = self.value("a record prefix")?;
            leaf.prefix = Some(prefix.into_bytes().into_boxed_slice());
        }
        if self.peek() == &Tok::Punct(b'[') {
            self.advance();
            let (text, at) = self.value("a field number")?;
            let (field, end) = strtol_int(text.as_bytes());
            if end != text.len() || field <= 0 {
                return Err(QueryError::new(
                    at,
                    format!("field {text:?} is not a positive integer"),
                ));
            }
            leaf.field = field as usize;
            self.expect(b']')?;
        }
        if vxids > 0 {
            let has_prefix = leaf.prefix.as_ref().is_some_and(|p| !p.is_empty());
            if vxids > 1 || leaf.level.is_some() || leaf.field > 0 || has_prefix || tag_lists > 0 {
                return Err(self.error("vxid takes no tags, level, prefix or field".to_owned()));
            }
            leaf.vxid = true;
        }
        Ok(leaf)
    }

    /// The inside of `{...}`: a non-negative integer, then optionally `+` or `-`.
    fn level(&mut self) -> Result<Level, QueryError> {
        let (text, at) = self.value("a level")?;
        let (level, end) = strtol_int(text.as_bytes());
        if level < 0 {
            return Err(QueryError::new(at, format!("level {text:?} is negative")));
        }
        match &text.as_bytes()[end..] {
            b"" => Ok(Level::Exactly(level)),
            b"+" => Ok(Level::AtLeast(level)),
            b"-" => Ok(Level::AtMost(level)),
            _ => Err(QueryError::new(
                at,
                format!("level {text:?} is not N, N+ or N-"),
            )),
        }
    }

    /// A numeric operand: a float when it contains '.', else an integer in C's notation
    /// (`0x1f`, `017`); a vxid takes integers only.
    fn number(&mut self, cmp: Cmp, vxid: bool) -> Result<Test, QueryError> {
        let (text, at) = self.value("a number")?;
        if text.contains('.') {
            let Some(value) = vnum(text.as_bytes()) else {
                return Err(QueryError::new(at, format!("{text:?} is not a number")));
            };
            if vxid {
                return Err(QueryError::new(
                    at,
                    format!("vxid needs an integer, got {text:?}"),
                ));
            }
            return Ok(Test::Float(cmp, value));
        }
        let (value, end) = strtoll(text.as_bytes());
        if !text.as_bytes()[end..].iter().all(|&c| is_c_space(c)) {
            return Err(QueryError::new(at, format!("{text:?} is not an integer")));
        }
        Ok(Test::Int(cmp, value))
    }

    /// A regular expression operand, compiled as Varnish compiles query regexes: PCRE2 with no
    /// options (case-sensitive, not UTF), JIT-compiled when the library has a JIT.
    fn regex(&mut self, negated: bool) -> Result<Test, QueryError> {
        let (pattern, at) = self.value("a regular expression")?;
        let regex = pcre2::bytes::RegexBuilder::new()
            .jit_if_available(true)
            .build(&pattern)
            .map_err(|error| QueryError::new(at, format!("regular expression error: {error}")))?;
        Ok(Test::Regex {
            negated,
            regex: Box::new(regex),
        })
    }
}
