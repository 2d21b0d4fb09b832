//! The query corpus: the hand-written files under `tests/query_corpus/` and the queries
//! generated here, systematically (every operator with every left-hand-side form and every
//! kind of operand) and by combination (`not`, `and`, `or`, parentheses, seeded).

use std::path::PathBuf;

use edgeship_testkit::random::SplitMix64;

/// The queries of a corpus file: one per line, blank lines and `#` comment lines left out.
pub(crate) fn file(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/query_corpus")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// A left-hand side and an operand of each kind that means something for it on the
/// capture (so that comparisons select some requests and not others).
struct Lhs {
    text: &'static str,
    int: &'static str,
    float: &'static str,
    string: &'static str,
    regex: &'static str,
}

const fn lhs(
    text: &'static str,
    int: &'static str,
    float: &'static str,
    string: &'static str,
    regex: &'static str,
) -> Lhs {
    Lhs {
        text,
        int,
        float,
        string,
        regex,
    }
}

/// Every form of record selection: tag, tag list, glob, prefix, field, prefix and field,
/// levels, and `vxid`; some select records no request has, or fields past a record's end.
const LHS: &[Lhs] = &[
    // Tags.
    lhs("ReqMethod", "0", "0.5", "\"PURGE\"", "\"^(?!PURGE$)\""),
    lhs(
        "ReqURL",
        "5",
        "1.5",
        "\"/esi/page\"",
        "\"^/beacon/statsv\\?\"",
    ),
    lhs("RespStatus", "404", "199.5", "\"200\"", "\"^[45]\""),
    lhs("HttpGarbage", "0", "0.0", "\"GET\"", "\"^GARBAGE\""),
    lhs("VCL_Log", "1", "1.0", "\"restarting\"", "\"^num: -\""),
    lhs("BerespStatus", "200", "200.0", "\"200\"", "\"2\""),
    // Tag lists.
    lhs(
        "ReqURL,BereqURL",
        "0",
        "0.1",
        "\"/esi/fragment\"",
        "\"^/(esi|pass)/\"",
    ),
    lhs(
        "RespStatus,BerespStatus",
        "503",
        "404.5",
        "\"204\"",
        "\"^50\"",
    ),
    // Globs.
    lhs("Req*", "3", "3.5", "\"GET\"", "\"(?i)websocket\""),
    lhs("*Status", "200", "300.0", "\"404\"", "\"^20[04]$\""),
    lhs("*", "42", "-7.0", "\"restarting\"", "\"^upgrade: \""),
    lhs("Resp*", "204", "12.0", "\"Purged\"", "\"(?i)^x-varnish\""),
    // Record prefixes (case-insensitive), including one no request has.
    lhs(
        "ReqHeader:X-Num",
        "12",
        "3.5",
        "\"12abc\"",
        "\"^-?[0-9]+$\"",
    ),
    lhs("ReqHeader:x-foo", "0", "0.0", "\"b\"", "\"^[A-Z]$\""),
    lhs(
        "ReqHeader:Upgrade",
        "0",
        "0.0",
        "\"websocket\"",
        "\"[wW]ebsocket\"",
    ),
    lhs("Timestamp:Resp", "1", "0.5", "\"x\"", "\"^[0-9]+\\.\""),
    lhs("ReqHeader:X-Absent", "1", "1.0", "\"\"", "\"\""),
    // Fields, including one past every record's end.
    lhs("ReqAcct[5]", "13", "14.5", "\"0\"", "\"^1[0-9]$\""),
    lhs("Begin[3]", "0", "0.0", "\"restart\"", "\"^(esi|restart)$\""),
    lhs("ReqStart[2]", "1024", "1024.5", "\"a0\"", "\"^[0-9]+$\""),
    lhs("ReqURL[9]", "0", "0.0", "\"x\"", "\".\""),
    // Prefix and field.
    lhs(
        "Timestamp:Process[2]",
        "0",
        "0.0005",
        "\"0.000000\"",
        "\"^0\\.0\"",
    ),
    lhs("ReqHeader:X-Num[2]", "8", "8.0", "\"8\"", "\"^[0-9]\""),
    lhs("VCL_Log:num[1]", "12", "-0.25", "\"3.5\"", "\"abc\""),
    // Levels: in vxid grouping each transaction is its own group.
    lhs("{0}ReqMethod", "0", "0.0", "\"GET\"", "\"^P\""),
    lhs("{1}ReqMethod", "0", "0.0", "\"GET\"", "\"^P\""),
    lhs("{1+}RespStatus", "200", "200.5", "\"404\"", "\"^5\""),
    lhs("{2-}ReqURL", "0", "0.0", "\"/old\"", "\"^/num/\""),
    lhs("{2}ReqURL", "0", "0.0", "\"/old\"", "\"^/\""),
    lhs(
        "{2+}ReqHeader:Upgrade",
        "0",
        "0.0",
        "\"h2c\"",
        "\"(?i)websocket\"",
    ),
    // The transaction's own id.
    lhs("vxid", "32770", "10.5", "\"5\"", "\"5\""),
];

/// Comparison operators and which operand kind each takes first.
const NUMERIC: &[&str] = &["==", "!=", "<", "<=", ">", ">="];
const STRING: &[&str] = &["eq", "ne"];
const REGEX: &[&str] = &["~", "!~"];

/// Every operator with every left-hand side and every operand kind (int, float, string,
/// regex, and none: the existence test). Operators given an operand of another kind are
/// kept: Varnish refuses some (those land in the refusal comparison) and reads others.
pub(crate) fn systematic() -> Vec<String> {
    let mut queries = Vec::new();
    for lhs in LHS {
        queries.push(lhs.text.to_owned());
        for op in NUMERIC.iter().chain(STRING).chain(REGEX) {
            for operand in [lhs.int, lhs.float, lhs.string, lhs.regex] {
                queries.push(format!("{} {op} {operand}", lhs.text));
            }
        }
    }
    queries
}

/// Simple tests the combinations are built from: each selects a different part of the
/// capture.
const ATOMS: &[&str] = &[
    "ReqMethod eq \"PURGE\"",
    "Timestamp:Restart",
    "Timestamp:Pipe",
    "HttpGarbage",
    "ReqHeader:Upgrade ~ \"[wW]ebsocket\"",
    "ReqHeader:X-Foo",
    "ReqHeader:X-Num > 5",
    "ReqHeader:X-Num",
    "RespStatus >= 400",
    "ReqURL ~ \"^/num/\"",
    "ReqURL ~ \"^/beacon/\"",
    "VCL_Log ~ \"restart\"",
    "Begin[3] eq \"esi\"",
    "Begin[3] eq \"restart\"",
    "ReqHeader:X-Internal",
    "vxid > 20",
    "ReqURL[9]",
];

/// Shapes of combinations; `A`, `B` and `C` stand for atoms.
const SHAPES: &[&str] = &[
    "not A",
    "A and B",
    "A or B",
    "not A and B",
    "A and not B",
    "not (A and B)",
    "not (A or B)",
    "A or B and C",
    "(A or B) and C",
    "A and B or C",
    "A and (B or C)",
    "not A or not B",
    "not (A or B) and not C",
    "(A) or (not B and C)",
];

/// `count` seeded combinations of [`ATOMS`] in the [`SHAPES`], every shape used.
pub(crate) fn combinations(count: usize) -> Vec<String> {
    let mut random = SplitMix64::new(0x5eed_0013);
    (0..count)
        .map(|index| {
            let shape = SHAPES[index % SHAPES.len()];
            let mut query = String::new();
            for c in shape.chars() {
                match c {
                    'A' | 'B' | 'C' => query.push_str(random.pick::<&str>(ATOMS)),
                    other => query.push(other),
                }
            }
            query
        })
        .collect()
}
