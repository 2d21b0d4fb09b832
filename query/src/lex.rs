//! The query lexer, with `vxp_lexer.c`'s rules: blanks and `#` comments are skipped, a
//! backslash before a newline joins lines, a newline ends one query and starts the next,
//! operators and keywords are fixed tokens (a keyword only when no word character follows it),
//! quoted strings (`"` or `'`) lose their quotes and every escaping backslash, and anything
//! else made of word characters is a bare value.

use crate::QueryError;

/// A fixed token or a value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A quoted string or bare word, decoded.
    Val(String),
    /// The end of one query (a newline) or of the input.
    End,
    /// `==`
    NumEq,
    /// `!=`
    NumNe,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `eq`
    StrEq,
    /// `ne`
    StrNe,
    /// `~`
    Match,
    /// `!~`
    NoMatch,
    /// `and`
    And,
    /// `or`
    Or,
    /// `not`
    Not,
    /// `vxid`
    Vxid,
    /// One of `[]{}():,`.
    Punct(u8),
}

/// A token and the byte offset of its first character in the query.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    /// What the token is.
    pub(crate) tok: Tok,
    /// Byte offset of its start.
    pub(crate) at: usize,
    /// Its text as written (for messages).
    pub(crate) text: String,
}

/// Characters that make up bare words (`isword` of `vxp.h`).
pub(crate) fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'+' | b'.' | b'*')
}

/// The fixed tokens, longest first for each initial, as the generated recogniser tries them.
const FIXED: &[(&str, Tok)] = &[
    ("==", Tok::NumEq),
    ("!=", Tok::NumNe),
    ("!~", Tok::NoMatch),
    ("<=", Tok::Le),
    (">=", Tok::Ge),
    ("<", Tok::Lt),
    (">", Tok::Gt),
    ("~", Tok::Match),
    ("eq", Tok::StrEq),
    ("ne", Tok::StrNe),
    ("and", Tok::And),
    ("or", Tok::Or),
    ("not", Tok::Not),
    ("vxid", Tok::Vxid),
    ("[", Tok::Punct(b'[')),
    ("]", Tok::Punct(b']')),
    ("{", Tok::Punct(b'{')),
    ("}", Tok::Punct(b'}')),
    ("(", Tok::Punct(b'(')),
    (")", Tok::Punct(b')')),
    (":", Tok::Punct(b':')),
    (",", Tok::Punct(b',')),
];

/// The fixed token at the start of `rest`, and its length. A token ending in a word character
/// (`and`, `eq`) only counts when no word character follows it (`andy` is a value).
fn fixed_token(rest: &[u8]) -> Option<(Tok, usize)> {
    FIXED.iter().find_map(|(text, tok)| {
        let text = text.as_bytes();
        let last = text[text.len() - 1];
        let next = rest.get(text.len()).copied().unwrap_or(0);
        (rest.starts_with(text) && !(is_word(last) && is_word(next)))
            .then(|| (tok.clone(), text.len()))
    })
}

/// Splits `query` into tokens, ending with [`Tok::End`]. Like the C lexer, which reads a C
/// string, it stops at a NUL byte.
pub(crate) fn lex(query: &str) -> Result<Vec<Token>, QueryError> {
    let bytes = query.as_bytes();
    let bytes = &bytes[..bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len())];
    let mut tokens = Vec::new();
    let mut p = 0;
    let push = |tokens: &mut Vec<Token>, tok: Tok, at: usize, end: usize| {
        let text = String::from_utf8_lossy(&bytes[at..end]).into_owned();
        tokens.push(Token { tok, at, text });
    };
    while p < bytes.len() {
        let c = bytes[p];
        if c == b' ' || c == b'\t' {
            p += 1;
        } else if c == b'\\' && bytes.get(p + 1) == Some(&b'\n') {
            p += 2;
        } else if c == b'#' {
            while p < bytes.len() && bytes[p] != b'\n' {
                p += 1;
            }
        } else if let Some((tok, len)) = fixed_token(&bytes[p..]) {
            push(&mut tokens, tok, p, p + len);
            p += len;
        } else if c == b'"' || c == b'\'' {
            let end = quoted(bytes, p)?;
            let decoded = unescape(&bytes[p + 1..end - 1]);
            push(&mut tokens, Tok::Val(decoded), p, end);
            p = end;
        } else if is_word(c) {
            let end = p + bytes[p..].iter().take_while(|&&c| is_word(c)).count();
            let word = String::from_utf8_lossy(&bytes[p..end]).into_owned();
            push(&mut tokens, Tok::Val(word), p, end);
            p = end;
        } else if c == b'\n' {
            push(&mut tokens, Tok::End, p, p + 1);
            p += 1;
        } else {
            // Every earlier token ended on an ASCII byte, so `p` is a character boundary.
            let shown = query
                .get(p..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or('?');
            return Err(QueryError::new(p, format!("syntax error at {shown:?}")));
        }
    }
    push(&mut tokens, Tok::End, bytes.len(), bytes.len());
    Ok(tokens)
}

/// The end (one past the closing quote) of the quoted string starting at `start`. A backslash
/// escapes the next character; a newline or the end of input before the closing quote is an
/// error.
fn quoted(bytes: &[u8], start: usize) -> Result<usize, QueryError> {
    let quote = bytes[start];
    let mut q = start + 1;
    while q < bytes.len() {
        match bytes[q] {
            b'\\' => {
                q += 1;
                if q == bytes.len() || bytes[q] == b'\n' {
                    break;
                }
            }
            b'\n' => break,
            c if c == quote => return Ok(q + 1),
            _ => {}
        }
        q += 1;
    }
    Err(QueryError::new(start, "unterminated string".to_owned()))
}

/// The string between the quotes with each escaping backslash removed (the character after
/// it is kept, whatever it is: `\d` is `d`, `\\` is `\`).
fn unescape(inner: &[u8]) -> String {
    let mut out = Vec::with_capacity(inner.len());
    let mut escaped = false;
    for &c in inner {
        if !escaped && c == b'\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    // The input was a &str and only ASCII backslashes were removed, so this is still UTF-8.
    String::from_utf8(out).unwrap_or_default()
}
