//! `varnish.arg.<letter>` keys that edgeship does not take: options removed from Varnish since
//! varnishkafka's early configurations were written, and options that make no sense for a
//! shipper. Each gets a message saying what to do instead, and `-m` gets a concrete VSL query.

/// The `varnish.arg` letters edgeship accepts, for messages.
pub(crate) const SUPPORTED_LETTERS: &str = "q, n, T, L, g, r";

/// The message for `varnish.arg.<letter> = value` when the letter is not one edgeship takes.
pub(crate) fn unsupported_option(letter: &str, value: &str) -> String {
    let key = format!("varnish.arg.{letter}");
    match letter {
        "m" => match translate_m(value) {
            Some(query) => format!(
                "{key} (-m tag:regex) no longer exists in Varnish 7; use a VSL query instead: \
                 varnish.arg.q = {query}"
            ),
            None => format!(
                "{key} (-m tag:regex) no longer exists in Varnish 7; use a VSL query instead: \
                 varnish.arg.q = <query> (see vsl-query(7))"
            ),
        },
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

/// Translates a Varnish 3 `-m tag:regex` into a VSL query, when the tag has an equivalent.
///
/// `^(?!X$)` (everything but the literal X) becomes `Tag ne "X"`, `^X$` becomes `Tag eq "X"`,
/// and any other regex is kept as `Tag ~ "regex"` (Varnish 7's PCRE2 reads the same syntax).
/// Varnish 3 matched tag names case-insensitively, so this does too.
pub(crate) fn translate_m(value: &str) -> Option<String> {
    let (tag, regex) = value.split_once(':')?;
    let tag = tag.trim();
    let (_, new_tag) = TAG_RENAMES
        .iter()
        .find(|(old, _)| old.eq_ignore_ascii_case(tag))?;
    if regex.is_empty() {
        return None;
    }
    let negated_literal = regex
        .strip_prefix("^(?!")
        .and_then(|rest| rest.strip_suffix("$)"))
        .filter(|literal| is_regex_literal(literal));
    if let Some(literal) = negated_literal {
        return Some(format!("{new_tag} ne {}", vsl_string(literal)));
    }
    let anchored_literal = regex
        .strip_prefix('^')
        .and_then(|rest| rest.strip_suffix('$'))
        .filter(|literal| is_regex_literal(literal));
    if let Some(literal) = anchored_literal {
        return Some(format!("{new_tag} eq {}", vsl_string(literal)));
    }
    Some(format!("{new_tag} ~ {}", vsl_string(regex)))
}

/// Whether a regex matches exactly its own text (no metacharacters), so `eq`/`ne` can replace it.
fn is_regex_literal(text: &str) -> bool {
    !text.is_empty()
        && !text.chars().any(|c| {
            matches!(
                c,
                '\\' | '.' | '^' | '$' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}'
            )
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m_translations() {
        let cases: &[(&str, Option<&str>)] = &[
            ("RxRequest:^(?!PURGE$)", Some(r#"ReqMethod ne "PURGE""#)),
            ("rxrequest:^GET$", Some(r#"ReqMethod eq "GET""#)),
            ("RxURL:^/wiki/", Some(r#"ReqURL ~ "^/wiki/""#)),
            (
                "RxHeader:^Host: en\\.wikipedia",
                Some(r#"ReqHeader ~ "^Host: en\\.wikipedia""#),
            ),
            ("TxStatus:^5", Some(r#"RespStatus ~ "^5""#)),
            ("TxHeader:say \"hi\"", Some(r#"RespHeader ~ "say \"hi\"""#)),
            (
                "RxRequest:^(?!PU.GE$)",
                Some(r#"ReqMethod ~ "^(?!PU.GE$)""#),
            ),
            ("Backend_health:x", None),
            ("RxRequest:", None),
            ("no colon", None),
        ];
        for (input, expected) in cases {
            assert_eq!(translate_m(input).as_deref(), *expected, "input {input:?}");
        }
    }

    #[test]
    fn removed_letters_say_what_to_use() {
        let message = unsupported_option("m", "RxRequest:^(?!PURGE$)");
        assert_eq!(
            message,
            "varnish.arg.m (-m tag:regex) no longer exists in Varnish 7; use a VSL query \
             instead: varnish.arg.q = ReqMethod ne \"PURGE\""
        );
        assert!(unsupported_option("m", "Foo:bar")
            .ends_with("varnish.arg.q = <query> (see vsl-query(7))"));
        assert!(unsupported_option("N", "/x").contains("varnish.arg.n = <dir>"));
        assert!(unsupported_option("C", "true").contains("(?i)"));
        assert!(unsupported_option("k", "5").contains("supported: varnish.arg."));
    }
}
