//! `varnish.arg.<letter>` keys that edgeship does not take: options removed from Varnish since
//! varnishkafka's early configurations were written, and options that make no sense for a
//! shipper. Each gets a message saying what to do instead. Varnish 3's `-m TAG:REGEX` is
//! accepted: [`translate_m`] turns it into the equivalent VSL query.

/// The `varnish.arg` letters edgeship accepts, for messages.
pub(crate) const SUPPORTED_LETTERS: &str = "q, m, n, T, L, g, r";

/// The message for `varnish.arg.<letter>` when the letter is not one edgeship takes.
pub(crate) fn unsupported_option(letter: &str) -> String {
    let key = format!("varnish.arg.{letter}");
    match letter {
        "N" => format!(
            "{key} (-N VSM file) no longer exists in Varnish 7; name the varnishd working \
             directory instead: varnish.arg.n = <dir>"
        ),
        "o" => format!(
            "{key} (Varnish 3's -o, group by request) no longer exists; records are always \
             grouped into transactions (see varnish.arg.g)"
        ),
        "C" => format!(
            "{key} (-C caseless matching) is not supported; write (?i) in the regular \
             expressions of varnish.arg.q instead"
        ),
        "c" => format!(
            "{key} (-c client records only) is not needed: edgeship reads only client \
             requests; remove the line"
        ),
        "b" => format!(
            "{key} (-b backend records only) is not supported: edgeship renders client \
             requests only"
        ),
        "E" => format!(
            "{key} (-E include ESI sub-requests) is not supported: ESI sub-requests are never \
             rendered, as in varnishkafka"
        ),
        "i" | "I" | "x" | "X" => format!(
            "{key} (-{letter} tag filter) is not supported: it would hide records the format \
             needs; select transactions with varnish.arg.q instead"
        ),
        "R" => format!(
            "{key} (-R rate limit) is not supported: it would drop records without counting \
             them"
        ),
        "Q" => {
            format!("{key} (-Q query file) is not supported; put the query itself in varnish.arg.q")
        }
        "D" => format!("{key} (-D) is not supported; use daemonize = true"),
        _ => format!(
            "{key} is not supported by edgeship (supported: varnish.arg. followed by one of \
             {SUPPORTED_LETTERS})"
        ),
    }
}

/// Varnish 3 client-side tag names and their Varnish 4+ equivalents. On the client side of a
/// Varnish 3 log, `Rx` records came from the client (the request) and `Tx` records went to it
/// (the response); varnishkafka only ever rendered client transactions, so that is the side
/// the translation assumes.
const TAG_RENAMES: &[(&str, &str)] = &[
    ("RxRequest", "ReqMethod"),
    ("RxURL", "ReqURL"),
    ("RxProtocol", "ReqProtocol"),
    ("RxHeader", "ReqHeader"),
    ("RxLostHeader", "LostHeader"),
    ("TxStatus", "RespStatus"),
    ("TxResponse", "RespReason"),
    ("TxProtocol", "RespProtocol"),
    ("TxHeader", "RespHeader"),
    ("TxLostHeader", "LostHeader"),
    ("ReqStart", "ReqStart"),
    ("VCL_call", "VCL_call"),
    ("VCL_return", "VCL_return"),
    ("VCL_Log", "VCL_Log"),
    ("Hash", "Hash"),
];

/// Translates a Varnish 3 `-m TAG:REGEX` into the VSL query that keeps the same
/// transactions: one where some record of the tag matches the regex, which is exactly what a
/// query comparison `Tag ~ "regex"` means (vsl-query(7)). The regex is kept as written (Varnish
/// 7's PCRE2 reads Varnish 3's PCRE syntax) and quoted for the query lexer. Varnish 3 matched
/// tag names case-insensitively, so this does too. The error says why there is no translation.
pub(crate) fn translate_m(value: &str) -> Result<String, String> {
    let Some((tag, regex)) = value.split_once(':') else {
        return Err(format!("{value:?} is not TAG:REGEX (Varnish 3's -m)"));
    };
    let tag = tag.trim();
    let Some((_, new_tag)) = TAG_RENAMES
        .iter()
        .find(|(old, _)| old.eq_ignore_ascii_case(tag))
    else {
        return Err(format!(
            "Varnish 3 tag {tag:?} has no Varnish 7 equivalent edgeship can translate; write a \
             VSL query instead: varnish.arg.q = <query> (see vsl-query(7))"
        ));
    };
    if regex.is_empty() {
        return Err(format!("{value:?} has no regex after the tag"));
    }
    Ok(format!("{new_tag} ~ {}", vsl_string(regex)))
}

/// A VSL query string literal: the query lexer drops a backslash and keeps the next character,
/// so backslashes and quotes are escaped with one.
fn vsl_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A warning for a query with a backslash inside a quoted operand that escapes nothing, which
/// Varnish's query lexer drops (so does edgeship's): `"^/a\\?"` is the regex `^/a?`, not a
/// literal question mark. Real configurations were written as if the backslash reached the
/// regex. A doubled backslash (one reaches the regex) and an escaped quote are meant.
pub(crate) fn dropped_backslash(query: &str) -> Option<String> {
    let bytes = query.as_bytes();
    let mut quote = None;
    let mut offset = 0;
    while let Some(&byte) = bytes.get(offset) {
        match quote {
            None if byte == b'"' || byte == b'\'' => quote = Some(byte),
            Some(open) if byte == open => quote = None,
            Some(open) if byte == b'\\' => {
                let next = bytes.get(offset + 1).copied();
                if next != Some(b'\\') && next != Some(open) {
                    return Some(format!(
                        "column {}: Varnish's query lexer drops a backslash inside a quoted \
                         operand, and edgeship reads the query as Varnish does: the character \
                         after it is taken as it is (in a regex, \\? is ?); for a literal \
                         character write a class such as [?], or double the backslash",
                        offset + 1
                    ));
                }
                offset += 1;
            }
            _ => {}
        }
        offset += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_backslash_inside_quotes_is_pointed_out_with_its_column() {
        let notice = super::dropped_backslash(r#"ReqURL ~ "^/beacon/statsv\?""#).unwrap();
        assert!(notice.starts_with("column 26: "), "{notice}");
        assert_eq!(
            super::dropped_backslash(r#"ReqURL ~ "^/beacon/statsv[?]""#),
            None
        );
        assert_eq!(
            super::dropped_backslash(r#"ReqURL ~ '/a' or ReqURL eq "b""#),
            None
        );
        // Meant: one backslash reaches the regex; an escaped quote.
        assert_eq!(super::dropped_backslash(r#"ReqURL ~ "^/a\\?""#), None);
        assert_eq!(super::dropped_backslash(r#"ReqURL ~ "say \"hi\"""#), None);
    }

    use super::*;

    #[test]
    fn m_translations() {
        let cases: &[(&str, &str)] = &[
            ("RxRequest:^(?!PURGE$)", r#"ReqMethod ~ "^(?!PURGE$)""#),
            ("rxrequest:^GET$", r#"ReqMethod ~ "^GET$""#),
            ("RxURL:^/wiki/", r#"ReqURL ~ "^/wiki/""#),
            (
                "RxHeader:^Host: en\\.wikipedia",
                r#"ReqHeader ~ "^Host: en\\.wikipedia""#,
            ),
            ("TxStatus:^5", r#"RespStatus ~ "^5""#),
            ("TxHeader:say \"hi\"", r#"RespHeader ~ "say \"hi\"""#),
        ];
        for (input, expected) in cases {
            assert_eq!(
                translate_m(input).as_deref(),
                Ok(*expected),
                "input {input:?}"
            );
            // The query lexer gives the regex back exactly as written.
            let query = edgeship_query::Query::new(expected);
            assert!(query.is_ok(), "{expected}: {query:?}");
        }
        for refused in ["Backend_health:x", "RxRequest:", "no colon"] {
            assert!(translate_m(refused).is_err(), "input {refused:?}");
        }
        assert!(translate_m("Backend_health:x")
            .expect_err("no equivalent")
            .contains("varnish.arg.q = <query>"));
    }

    #[test]
    fn removed_letters_say_what_to_use() {
        assert!(unsupported_option("N").contains("varnish.arg.n = <dir>"));
        assert!(unsupported_option("C").contains("(?i)"));
        assert!(unsupported_option("k").contains("supported: varnish.arg."));
    }
}
