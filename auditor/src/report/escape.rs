//! Host and run names as the table and CSV print them. Anyone who can produce to the topic
//! chooses those names, so they are printed escaped: a name must not be able to move the
//! cursor, clear the operator's terminal or hide text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `name` with every character a terminal could act on escaped: ASCII control characters
/// and DEL as `\xNN`, other control and invisible formatting characters (C1 controls, zero
/// width and bidirectional marks, line and paragraph separators, the byte order mark) as
/// `\u{XXXX}`, and the backslash itself as `\\`, so that the escaping is unambiguous.
/// Borrowed when there is nothing to escape (the usual case).
pub fn escape_name(name: &str) -> Cow<'_, str> {
    if !name.chars().any(needs_escape) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` is printed escaped.
pub(super) fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_escaped_and_plain_names_borrowed() {
        assert!(matches!(escape_name("cp1001.eqiad"), Cow::Borrowed(_)));
        assert_eq!(escape_name("cp\u{1b}[2J1"), "cp\\x1b[2J1");
        assert_eq!(escape_name("a\tb\u{7f}"), "a\\x09b\\x7f");
        assert_eq!(escape_name("x\u{9b}31m"), "x\\u{009b}31m");
        assert_eq!(escape_name("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(escape_name("back\\slash"), "back\\\\slash");
        assert_eq!(escape_name("héllo"), "héllo");
    }
}
