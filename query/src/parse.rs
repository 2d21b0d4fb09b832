//! The parser, with `vxp_parse.c`'s grammar and precedence: a query is lines ORed together,
//! a line is `or` of `and` of (`not`) terms, a term is a parenthesised query or a comparison,
//! and a comparison is a record selection (`{level}`, tags or `vxid`, `:prefix`, `[field]`)
//! with an optional operator and operand. `not` takes one term, so `not not A` is an error,
//! as in Varnish.

use crate::lex::{Tok, Token};
use crate::tags::TagSet;
use crate::QueryError;

/// Deepest nesting of parentheses and `not` accepted. Varnish has no limit; this one keeps a
/// hostile query from exhausting the stack of the parser and of the evaluator.
pub(crate) const MAX_DEPTH: usize = 64;

/// A numeric comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    /// `lhs OP rhs` for any ordered type (floats compare as C compares them: NaN never
    /// equals, and `!=` is true for it).
    pub(crate) fn holds<T: PartialOrd>(self, lhs: T, rhs: T) -> bool {
        match self {
            Cmp::Eq => lhs == rhs,
            Cmp::Ne => lhs != rhs,
            Cmp::Lt => lhs < rhs,
            Cmp::Le => lhs <= rhs,
            Cmp::Gt => lhs > rhs,
            Cmp::Ge => lhs >= rhs,
        }
    }
}

/// A transaction level limit: `{N}`, `{N+}` or `{N-}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// Exactly this level.
    Exactly(i32),
    /// This level or deeper.
    AtLeast(i32),
    /// This level or shallower.
    AtMost(i32),
}

impl Level {
    /// Whether a transaction at `level` is tested.
    pub(crate) fn admits(self, level: u32) -> bool {
        let level = i64::from(level);
        match self {
            Level::Exactly(n) => level == i64::from(n),
            Level::AtLeast(n) => level >= i64::from(n),
            Level::AtMost(n) => level <= i64::from(n),
        }
    }
}

/// What a comparison tests on a record (or on the vxid).
#[derive(Debug)]
pub(crate) enum Test {
    /// No operator: the selected record (and field) exists.
    Exists,
    /// Numeric comparison with an integer operand: the field is read as a number and truncated.
    Int(Cmp, i64),
    /// Numeric comparison with a float operand.
    Float(Cmp, f64),
    /// `eq` (`negated == false`) or `ne`: the value's bytes against the operand's.
    Str { negated: bool, value: Box<[u8]> },
    /// `~` (`negated == false`) or `!~`.
    Regex {
        negated: bool,
        regex: Box<pcre2::bytes::Regex>,
    },
}

/// One comparison: which records it reads and what it tests on them.
#[derive(Debug)]
pub(crate) struct Leaf {
    /// The tags it reads (empty for `vxid`).
    pub(crate) tags: TagSet,
    /// `:prefix`, as written.
    pub(crate) prefix: Option<Box<[u8]>>,
    /// `[field]`, 1-based; 0 for the whole value.
    pub(crate) field: usize,
    /// `{level}`, if any.
    pub(crate) level: Option<Level>,
    /// Whether it tests the transaction's vxid rather than records.
    pub(crate) vxid: bool,
    /// The test.
    pub(crate) test: Test,
}

/// The expression tree; chains of `and`/`or` are flattened, so depth is only nesting.
#[derive(Debug)]
pub(crate) enum Expr {
    /// A comparison.
    Leaf(Box<Leaf>),
    /// `not`.
    Not(Box<Expr>),
    /// `and` of two or more.
    And(Vec<Expr>),
    /// `or` of two or more.
    Or(Vec<Expr>),
}

/// The parser's position in the token list.
struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
}

/// Parses a lexed query: every non-empty line, ORed. `None` when there is no line at all.
pub(crate) fn parse(tokens: &[Token]) -> Result<Option<Expr>, QueryError> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let mut lines = Vec::new();
    loop {
        while parser.peek() == &Tok::End && parser.pos + 1 < tokens.len() {
            parser.pos += 1;
        }
        if parser.peek() == &Tok::End {
            break;
        }
        lines.push(parser.or()?);
        if parser.peek() != &Tok::End {
            return Err(parser.unexpected("end of query"));
        }
    }
    Ok(match lines.len() {
        0 => None,
        1 => lines.pop(),
        _ => Some(Expr::Or(lines)),
    })
}

impl Parser<'_> {
    fn token(&self) -> &Token {
        // The list always ends with End and the parser never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek(&self) -> &Tok {
        &self.token().tok
    }

    fn advance(&mut self) {
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
    }

    fn error(&self, message: String) -> QueryError {
        QueryError::new(self.token().at, message)
    }

    fn unexpected(&self, wanted: &str) -> QueryError {
        let token = self.token();
        let got = match token.tok {
            Tok::End if token.text.is_empty() => "end of query".to_owned(),
            Tok::End => "end of line".to_owned(),
            _ => format!("'{}'", token.text),
        };
        self.error(format!("expected {wanted}, got {got}"))
    }

    fn expect(&mut self, punct: u8) -> Result<(), QueryError> {
        if self.peek() != &Tok::Punct(punct) {
            return Err(self.unexpected(&format!("'{}'", char::from(punct))));
        }
        self.advance();
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        self.chain(&Tok::Or, Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        self.chain(&Tok::And, Self::not, Expr::And)
    }

    /// `term (op term)*`, flattened into one node when there are several terms.
    fn chain(
        &mut self,
        op: &Tok,
        term: fn(&mut Self) -> Result<Expr, QueryError>,
        node: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, QueryError> {
        let mut terms = vec![term(self)?];
        while self.peek() == op {
            self.advance();
            terms.push(term(self)?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            node(terms)
        })
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn not(&mut self) -> Result<Expr, QueryError> {
        if self.peek() != &Tok::Not {
            return self.group();
        }
        self.advance();
        self.nested(|p| Ok(Expr::Not(Box::new(p.group()?))))
    }

    fn group(&mut self) -> Result<Expr, QueryError> {
        if self.peek() != &Tok::Punct(b'(') {
            return Ok(Expr::Leaf(Box::new(self.comparison()?)));
        }
        self.advance();
        let inner = self.nested(Self::or)?;
        self.expect(b')')?;
        Ok(inner)
    }

    /// A value token's decoded text, or an error naming what was wanted.
    fn value(&mut self, wanted: &str) -> Result<(String, usize), QueryError> {
        match self.peek() {
            Tok::Val(text) => {
                let found = (text.clone(), self.token().at);
                self.advance();
                Ok(found)
            }
            _ => Err(self.unexpected(wanted)),
        }
    }
}

mod comparison;
