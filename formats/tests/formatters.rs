//! Table tests: every formatter and option of compat.md, rendered for hand-built transactions,
//! input and expected output side by side.

mod common;

use common::{cache_hit, render, render_with_stats, timed_out, with, without};
use edgeship_formats::{FormatKind, Tag};

use FormatKind::{Json, String as Text};

#[test]
fn every_formatter_in_string_mode() {
    // (format, expected) over `cache_hit()`; each row cites the rule it pins.
    let cases: &[(&str, &str)] = &[
        ("%b", "1024"),       // ReqAcct 5th field
        ("%D", "4194"),       // Timestamp Resp 2nd field, microseconds
        ("%T", "0.004194"),   // the same, seconds with 6 decimals
        ("%H", "HTTP/1.1"),   // ReqProtocol
        ("%h", "192.0.2.10"), // ReqStart 1st field
        ("%{User-Agent}i", "Mozilla/5.0 (X11; Linux x86_64)"),
        ("%{user-agent}i", "Mozilla/5.0 (X11; Linux x86_64)"), // names ignore case
        ("%{X-Dup}i", "second"),                               // last occurrence wins for %i
        ("%{X-Cache}o", "cp1001 hit/2"),                       // last occurrence wins for %o
        ("%{Content-Type}o", "text/html; charset=UTF-8"),
        ("%l", "cp1001.eqiad.wmnet"), // the context's host name
        ("%{?cp9999}l", "cp9999"),    // an explicit default wins, even for %l
        ("%m", "GET"),
        ("%q", "?action=raw&x=1"), // from the ? on, including it
        ("%U", "/wiki/Main_Page"), // up to the ?
        ("%s", "200"),
        ("%t", "[14/Nov/2023:22:13:20 +0000]"), // Start, default format, UTC
        ("%{%FT%T}t", "2023-11-14T22:13:20"),
        ("%{end:%FT%TZ}t", "2023-11-14T22:13:21Z"), // Resp instead of Start
        ("%{%FT%T.%3NZ}t", "2023-11-14T22:13:20.998Z"), // sub-second precision
        ("%{end:}t", "[14/Nov/2023:22:13:21 +0000]"),
        ("%u", "user"), // Basic auth user, password stripped
        ("%n", "41"),   // the context's sequence number
        ("%{Varnish:time_firstbyte}x", "0.000141"), // Timestamp Process 2nd field
        ("%{Varnish:handling}x", "HIT"), // the VCL_call that is HIT, MISS or PASS
        ("%{Varnish:xvid}x", "32770"), // Begin 2nd field
        ("%{VCL_Log:tls}x", "vers=TLSv1.3;cipher=AES256"),
        ("%{VCL_Log:missing}x", "-"),
        ("%{fake_tag0?cp1001}x", "cp1001"), // any other name: the default, a constant
        ("%x", "-"),
        ("%{Edgeship:run}x", "20261123T140312Z-9f3a02c7"),
        (
            "%r",
            "GET http://en.wikipedia.org/wiki/Main_Page?action=raw&x=1 HTTP/1.1",
        ),
        ("100%% %s", "100% 200"), // %% is a literal percent
        ("[%m] %U%q", "[GET] /wiki/Main_Page?action=raw&x=1"), // text copied as is
        (
            "%{User-Agent!escape}i",
            r"Mozilla/5.0\ (X11;\ Linux\ x86_64)",
        ),
        ("%{User-Agent!ESC}i", r"Mozilla/5.0\ (X11;\ Linux\ x86_64)"), // prefix, any case
        ("%{Missing}i", "-"),                                          // the default default
        ("%{Missing?none}i", "none"),
        ("%{Missing?}i", ""),              // an empty default
        ("%{Missing!num}i", "0"),          // !num makes the default 0
        ("%{Missing!escape?a b}i", "a b"), // defaults are not escaped
        ("%{?x@y!escape}b", "1024"),       // options in any order, without a name
    ];
    for (format, expected) in cases {
        assert_eq!(
            render(format, Text, &cache_hit()),
            *expected,
            "format {format:?}"
        );
    }
}

#[test]
fn defaults_when_tags_are_missing() {
    // A forced-complete transaction has almost nothing: every formatter takes its default.
    let cases: &[(&str, &str)] = &[
        ("%b", "-"),
        ("%D %T", "- -"),
        ("%H", "HTTP/1.0"), // %H's own default
        ("%h", "-"),
        ("%q", ""), // %q's own default: empty
        ("%U", "/upload"),
        ("%s", "-"),
        ("%t", "-"),
        ("%u", "-"),
        ("%{?nouser}u", "nouser"),
        ("%{Varnish:handling}x", "-"),
        ("%{Varnish:xvid}x", "40001"),
        ("%{VSL_API:timeout}x", "timeout"),
        ("%{VSL_API:*}x", "timeout"),
        ("%{VSL_API:overflow}x", "-"),
        ("%r", "POST http://localhost/upload HTTP/1.0"), // %r's Host default
    ];
    for (format, expected) in cases {
        assert_eq!(
            render(format, Text, &timed_out()),
            *expected,
            "format {format:?}"
        );
    }
}

#[test]
fn occurrence_rules() {
    let two_statuses = with(cache_hit(), &[(Tag::RespStatus, b"503")]);
    assert_eq!(
        render("%s", Text, &two_statuses),
        "503",
        "last RespStatus wins"
    );

    let two_urls = with(cache_hit(), &[(Tag::ReqUrl, b"/rewritten?y=2")]);
    assert_eq!(
        render("%U %q", Text, &two_urls),
        "/wiki/Main_Page ?action=raw&x=1",
        "first URL"
    );

    // A first URL without `?` leaves %q unmatched, so a later one with a query fills it.
    let no_query_then_query = with(
        without(cache_hit(), Tag::ReqUrl),
        &[(Tag::ReqUrl, b"/plain"), (Tag::ReqUrl, b"/after?q=1")],
    );
    assert_eq!(render("%U %q", Text, &no_query_then_query), "/plain ?q=1");

    let two_logs = with(cache_hit(), &[(Tag::VclLog, b"tls: second")]);
    assert_eq!(
        render("%{VCL_Log:tls}x", Text, &two_logs),
        "vers=TLSv1.3;cipher=AES256"
    );

    // An empty header value does not count as a match: the earlier value stays.
    let empty_last = with(cache_hit(), &[(Tag::ReqHeader, b"X-Dup:")]);
    assert_eq!(render("%{X-Dup}i", Text, &empty_last), "second");

    // Without a name, %i renders the whole last request header line.
    assert_eq!(
        render("%i", Text, &cache_hit()),
        "Authorization: Basic dXNlcjpwYXNz"
    );

    // A name must match the whole header name, not a prefix of it.
    assert_eq!(
        render("%{X-Du}i %{Host}i", Text, &cache_hit()),
        "- en.wikipedia.org"
    );

    // MISS and PASS count as handling too; other VCL_call values never do.
    let miss = vec![
        (Tag::VclCall, b"RECV".to_vec()),
        (Tag::VclCall, b"MISS".to_vec()),
    ];
    assert_eq!(render("%{Varnish:handling}x", Text, &miss), "MISS");
    let pass = vec![
        (Tag::VclCall, b"PASS".to_vec()),
        (Tag::VclCall, b"HIT".to_vec()),
    ];
    assert_eq!(render("%{Varnish:handling}x", Text, &pass), "PASS");
}

#[test]
fn durations_follow_varnishkafka() {
    let zero = with(
        without(cache_hit(), Tag::Timestamp),
        &[(Tag::Timestamp, b"Resp: 1700000001.000000 0.000000 0.000000")],
    );
    // varnishkafka never assigns a zero duration, so %D and %T show the default.
    assert_eq!(render("%D|%T", Text, &zero), "-|-");
    let long = with(
        without(cache_hit(), Tag::Timestamp),
        &[(Tag::Timestamp, b"Resp: 1700000012.5 12.5 12.5")],
    );
    assert_eq!(render("%D|%T", Text, &long), "12500000|12.500000");
    let negative = with(
        without(cache_hit(), Tag::Timestamp),
        &[(Tag::Timestamp, b"Resp: 1700000001.0 -1.25 0.0")],
    );
    assert_eq!(
        render("%D|%T", Text, &negative),
        "-|-",
        "a negative duration is garbled"
    );
    // %{Label}D reads another timestamp label.
    assert_eq!(render("%{Process}D", Text, &cache_hit()), "141");
}

#[test]
fn basic_auth_user() {
    let basic = |value: &[u8]| {
        with(
            without(cache_hit(), Tag::ReqHeader),
            &[(Tag::ReqHeader, value)],
        )
    };
    let cases: &[(&[u8], &str)] = &[
        (b"Authorization: Basic dXNlcjpwYXNz", "user"),
        (b"authorization: basic YWxhZGRpbjpvcGVuc2VzYW1l", "aladdin"),
        (b"Authorization: Bearer abc.def", "-"), // not Basic: the default
        (b"Authorization: Basic !!!", "-"),      // not base64: the default
        (b"Cookie: a=b", "-"),                   // no Authorization at all
    ];
    for (header, expected) in cases {
        assert_eq!(
            render("%u", Text, &basic(header)),
            *expected,
            "header {header:?}"
        );
    }
    let proxy = basic(b"Proxy-Authorization: Basic cHJveHk6eA==");
    assert_eq!(render("%{Proxy-Authorization}u", Text, &proxy), "proxy");
}

#[test]
fn json_mode_fields_keys_and_numbers() {
    let cases: &[(&str, &str)] = &[
        // Keys: @field, or the formatter letter; literal text is ignored.
        (
            "%{@status}s %{Host}i",
            r#"{"status":"200","i":"en.wikipedia.org"}"#,
        ),
        ("text %m more", r#"{"m":"GET"}"#),
        // !num: numbers unquoted.
        (
            "%{@bytes!num}b %{Varnish:time_firstbyte@ttfb!num}x",
            r#"{"bytes":1024,"ttfb":0.000141}"#,
        ),
        ("%{@seq!num}n %{@d!num}D", r#"{"seq":41,"d":4194}"#),
        // !num on a non-number: the default if numeric, else null.
        ("%{@method!num}m", r#"{"method":0}"#),
        ("%{@method!num?none}m", r#"{"method":null}"#),
        ("%{@method!num?-1.5}m", r#"{"method":-1.5}"#),
        // A missing !num value is the default.
        ("%{X-None@none!num?7}i", r#"{"none":7}"#),
        // !escape then JSON escaping, as varnishkafka did (the backslash doubles).
        (
            "%{User-Agent@ua!escape}i",
            r#"{"ua":"Mozilla/5.0\\ (X11;\\ Linux\\ x86_64)"}"#,
        ),
        // %r expands to five fields with their letters as keys.
        (
            "%r",
            r#"{"m":"GET","i":"en.wikipedia.org","U":"/wiki/Main_Page","q":"?action=raw&x=1","H":"HTTP/1.1"}"#,
        ),
        // A duplicated key is written twice, as varnishkafka did.
        ("%{@a}m %{@a}s", r#"{"a":"GET","a":"200"}"#),
        ("%{fake@hostname?cp1001}x", r#"{"hostname":"cp1001"}"#),
        (
            "%{Edgeship:run@run}x",
            r#"{"run":"20261123T140312Z-9f3a02c7"}"#,
        ),
        ("%{@q}q", r#"{"q":"?action=raw&x=1"}"#),
    ];
    for (format, expected) in cases {
        assert_eq!(
            render(format, Json, &cache_hit()),
            *expected,
            "format {format:?}"
        );
    }
}

#[test]
fn json_num_edge_cases_are_counted_and_valid() {
    let odd = |value: &[u8]| with(cache_hit(), &[(Tag::ReqHeader, value)]);
    let cases: &[(&[u8], &str, u32)] = &[
        (b"X-Num: 12", r#"{"n":12}"#, 0),
        (b"X-Num: nan", r#"{"n":null}"#, 0), // nan is null, as in varnishkafka
        (b"X-Num: NaN", r#"{"n":null}"#, 0),
        (b"X-Num: 12abc", r#"{"n":0}"#, 1), // varnishkafka wrote 12abc: broken JSON
        (b"X-Num: 0x10", r#"{"n":0}"#, 1),
        (b"X-Num: 1e300", r#"{"n":1e300}"#, 0),
        (b"X-Num: 1e400", r#"{"n":0}"#, 1), // grammatical, but no double holds it
    ];
    for (header, expected, invalid) in cases {
        let (out, stats) = render_with_stats("%{X-Num@n!num}i", Json, &odd(header));
        let out = String::from_utf8(out).expect("utf-8");
        assert_eq!(out, *expected, "header {header:?}");
        assert_eq!(stats.invalid_numbers, *invalid, "header {header:?}");
        serde_json::from_str::<serde_json::Value>(&out).expect("valid JSON");
    }
}

#[test]
fn tag_size_max_truncates_and_counts() {
    let long_agent = format!("User-Agent: {}", "x".repeat(5000));
    let records = with(cache_hit(), &[(Tag::ReqHeader, long_agent.as_bytes())]);
    let plan = edgeship_formats::Plan::compile("%{User-Agent}i", Text)
        .expect("compiles")
        .with_max_tag_size(100);
    let mut renderer = edgeship_formats::Renderer::new(plan);
    let mut out = Vec::new();
    let stats = renderer.render(&records, &common::CONTEXT, &mut out);
    // The payload (name included) is cut to 100 bytes, then the name is matched.
    assert_eq!(out.len(), 100 - "User-Agent: ".len());
    assert_eq!(stats.truncated_tags, 1);

    // Without a limit hit, nothing is cut: no 8 KiB ceiling on text output.
    let (out, stats) = render_with_stats(
        "%{User-Agent}i",
        Text,
        &with(
            cache_hit(),
            &[(
                Tag::ReqHeader,
                format!("User-Agent: {}", "y".repeat(2000)).as_bytes(),
            )],
        ),
    );
    assert_eq!(out.len(), 2000);
    assert_eq!(stats.truncated_tags, 0);
    let many = "%{User-Agent}i ".repeat(10);
    let (out, _) = render_with_stats(
        &many,
        Text,
        &with(
            cache_hit(),
            &[(
                Tag::ReqHeader,
                format!("User-Agent: {}", "z".repeat(2000)).as_bytes(),
            )],
        ),
    );
    assert_eq!(
        out.len(),
        10 * 2001,
        "20 KB of text output, not cut at 8 KiB"
    );
}
