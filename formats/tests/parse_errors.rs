//! Format strings that must be refused, each with the column and the reason, and formats that
//! compile with a warning because they cannot do what they seem to.

use edgeship_formats::{FormatKind, Plan};

#[test]
fn refused_formats_name_the_column_and_reason() {
    // (format, column, words the reason must contain)
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "empty"),
        ("   ", 1, "empty"),
        ("just text", 1, "no %-formatters"),
        ("%m %Z", 4, "unknown formatter %Z"),
        ("%m %", 4, "lone '%'"),
        ("%{User-Agent", 1, "without a closing '}'"),
        ("%m %{}i", 4, "empty {}"),
        ("%m %{Host}", 4, "no formatter letter"),
        ("%s %{Host!bogus}i", 10, "unknown option !bogus"), // points at the option
        ("%{Host!}i", 7, "empty option"),
        ("%{@x}r", 1, "%r takes no"),
        ("%{%Y-%Q}t", 6, "unknown time conversion %Q"),
        ("%m %{end:%F %K}t", 13, "unknown time conversion %K"),
        ("%{%3}t", 3, "unfinished"),
        ("é%Z", 2, "unknown formatter %Z"), // columns count characters, not bytes
    ];
    for (format, column, reason) in cases {
        let error = Plan::compile(format, FormatKind::Json).expect_err(format);
        assert_eq!(error.column, *column, "column for {format:?}: {error}");
        assert!(
            error.reason.contains(reason),
            "reason for {format:?}: {error}"
        );
        assert!(error
            .to_string()
            .starts_with(&format!("format col {column}: ")));
    }
}

#[test]
fn names_that_never_match_compile_with_a_warning() {
    let plan = Plan::compile(
        "%{foo}b %{Varnish:nosuch}x %{fake@hostname?cp1}x",
        FormatKind::Json,
    )
    .expect("compiles, as varnishkafka accepted it");
    let warnings: Vec<String> = plan.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("format col 1: %{foo}b"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].starts_with("format col 9: %{Varnish:nosuch}x"),
        "{warnings:?}"
    );
    // Injected constants are normal and get no warning.
    assert!(!warnings.iter().any(|w| w.contains("fake")));
}

#[test]
fn field_names_list_the_json_members_in_order() {
    let plan = Plan::compile("%{@a}m x %{Host}i %r", FormatKind::Json).expect("compiles");
    let names: Vec<&[u8]> = plan.field_names().collect();
    assert_eq!(names, [&b"a"[..], b"i", b"m", b"i", b"U", b"q", b"H"]);
}
