//! The format-string parser: varnishkafka's `%X` / `%{NAME?DEFAULT@FIELD!OPTION}X` language
//! compiled into a [`Plan`], with errors that name the column and the reason.
//!
//! The plan is built once at start-up. It lists the output items in format order and, for each
//! VSL tag, the fields that read it, so rendering is one pass over a transaction's records.

use crate::record::Tag;
use crate::time::{TimeFormat, TimeFormatError};

/// Whether records are rendered as a JSON object or as text (`format.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    /// One JSON object per record; literal text in the format is ignored.
    Json,
    /// The format's text with each formatter replaced by its value.
    String,
}

/// A format string that cannot be compiled.
///
/// Displays as `format col 17: unknown option !foo (expected !escape or !num)`, so a caller
/// that knows where the format came from can prefix `path:line: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format col {column}: {reason}")]
pub struct FormatError {
    /// 1-based character column in the format string.
    pub column: usize,
    /// What is wrong there.
    pub reason: String,
}

/// A format that compiles but does not do what it seems to; the shipper logs these at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatWarning {
    /// 1-based character column of the formatter.
    pub column: usize,
    /// What the formatter will do.
    pub message: String,
}

impl std::fmt::Display for FormatWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "format col {}: {}", self.column, self.message)
    }
}

/// Which occurrence of a matching record a field keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// The first non-empty match (most formatters).
    First,
    /// The last non-empty match (`%i`, `%o`, `%s`, as in varnishkafka).
    Last,
}

/// How a field's value is cut out of a record's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Matcher {
    /// The whole payload.
    Whole,
    /// The n-th (1-based) space-separated column; runs of spaces count as one separator.
    Column(u8),
    /// A `Name: value` record whose name equals `name` ignoring ASCII case; the value after
    /// the colon and any spaces, or its n-th column when `column` is set.
    Named { name: Vec<u8>, column: Option<u8> },
    /// A payload starting with `prefix` (case-sensitive); an empty prefix matches any.
    Prefix(Vec<u8>),
    /// `VCL_call` payloads that are exactly `HIT`, `MISS` or `PASS`.
    Handling,
    /// `ReqURL` up to the first `?`.
    UrlPath,
    /// `ReqURL` from the first `?` on, including it; no `?` is no match.
    UrlQuery,
}

/// A field's interest in one tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listener {
    pub(crate) field: usize,
    pub(crate) matcher: Matcher,
    pub(crate) keep: Keep,
}

/// How a field turns what it captured (if anything) into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// The captured bytes as they are.
    Captured,
    /// Captured seconds (`0.004594`) as integer microseconds (`%D`).
    Microseconds,
    /// Captured seconds as seconds with six decimals (`%T`).
    Seconds,
    /// A captured absolute timestamp, formatted (`%t`).
    Time(TimeFormat),
    /// The user name from a captured `Basic` authorization value (`%u`).
    BasicUser,
    /// The context's host name (`%l`).
    Hostname,
    /// The context's sequence number (`%n`).
    Sequence,
    /// The context's run identifier (`%{Edgeship:run}x`).
    Run,
    /// Nothing: the field always renders its default (`%{anything}x`).
    Constant,
}

/// One formatter of the format, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) value: Value,
    pub(crate) default: Vec<u8>,
    /// The JSON member prefix, already escaped: `"name":`.
    pub(crate) json_key: Vec<u8>,
    pub(crate) escape: bool,
    pub(crate) num: bool,
}

/// An output item, in format order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// Text copied as is (string mode only).
    Literal(Vec<u8>),
    /// The field with this index.
    Field(usize),
}

/// A compiled format: what to capture from each tag and how to write the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub(crate) kind: FormatKind,
    pub(crate) items: Vec<Item>,
    pub(crate) fields: Vec<Field>,
    /// Indexed by `Tag as usize`.
    pub(crate) listeners: Vec<Vec<Listener>>,
    pub(crate) max_tag_size: usize,
    warnings: Vec<FormatWarning>,
}

/// `%r`, as varnishkafka defines it.
const REQUEST_LINE: &str = "%m http://%{Host?localhost}i%U%q %H";

impl Plan {
    /// varnishkafka's `tag.size.max` default: payloads longer than this are cut (and counted).
    pub const DEFAULT_MAX_TAG_SIZE: usize = 2048;

    /// Compiles `format` for `kind` output.
    pub fn compile(format: &str, kind: FormatKind) -> Result<Plan, FormatError> {
        let mut plan = Plan {
            kind,
            items: Vec::new(),
            fields: Vec::new(),
            listeners: vec![Vec::new(); Tag::COUNT],
            max_tag_size: Plan::DEFAULT_MAX_TAG_SIZE,
            warnings: Vec::new(),
        };
        if format.trim().is_empty() {
            return Err(FormatError {
                column: 1,
                reason: "the format is empty".to_string(),
            });
        }
        Parser {
            format,
            plan: &mut plan,
        }
        .parse()?;
        if plan.fields.is_empty() {
            return Err(FormatError {
                column: 1,
                reason: "the format has no %-formatters, only text".to_string(),
            });
        }
        Ok(plan)
    }

    /// Sets `tag.size.max`: longer payloads are cut to this many bytes before matching, and
    /// each cut is counted in [`crate::RenderStats::truncated_tags`].
    pub fn with_max_tag_size(mut self, bytes: usize) -> Plan {
        self.max_tag_size = bytes;
        self
    }

    /// The output kind this plan renders.
    pub fn kind(&self) -> FormatKind {
        self.kind
    }

    /// Formatters that compile but always render their default, and similar surprises.
    pub fn warnings(&self) -> &[FormatWarning] {
        &self.warnings
    }

    /// The JSON member names in output order (the `@field` names, or formatter letters).
    pub fn field_names(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.items.iter().filter_map(move |item| match item {
            // The stored key is `"name":`; strip the quotes and colon.
            Item::Field(index) => {
                let key = &self.fields[*index].json_key;
                Some(&key[1..key.len() - 2])
            }
            Item::Literal(_) => None,
        })
    }
}

/// The parts of one `%{...}X` formatter.
#[derive(Debug, Default)]
struct Spec<'f> {
    name: Option<&'f str>,
    default: Option<&'f str>,
    field: Option<&'f str>,
    escape: bool,
    num: bool,
}

struct Parser<'f, 'p> {
    /// The whole format, for column numbers.
    format: &'f str,
    plan: &'p mut Plan,
}

impl<'f> Parser<'f, '_> {
    /// 1-based character column of byte offset `at` of the whole format.
    fn column(&self, at: usize) -> usize {
        self.format[..at].chars().count() + 1
    }

    fn error(&self, at: usize, reason: impl Into<String>) -> FormatError {
        FormatError {
            column: self.column(at),
            reason: reason.into(),
        }
    }

    fn literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.plan.items.last_mut() {
            Some(Item::Literal(existing)) => existing.extend_from_slice(text.as_bytes()),
            _ => self
                .plan
                .items
                .push(Item::Literal(text.as_bytes().to_vec())),
        }
    }

    fn parse(&mut self) -> Result<(), FormatError> {
        let text = self.format;
        let bytes = text.as_bytes();
        let mut index = 0;
        let mut literal_start = 0;
        while index < bytes.len() {
            if bytes[index] != b'%' {
                index += 1;
                continue;
            }
            self.literal(&text[literal_start..index]);
            let position = index;
            index += 1;
            let Some(&next) = bytes.get(index) else {
                return Err(self.error(position, "the format ends with a lone '%'"));
            };
            let mut spec = Spec::default();
            let mut spec_at = position;
            if next == b'{' {
                let open = index;
                let Some(length) = bytes[open + 1..].iter().position(|&b| b == b'}') else {
                    return Err(self.error(position, "'{' without a closing '}'"));
                };
                let close = open + 1 + length;
                let inner = &text[open + 1..close];
                if inner.is_empty() {
                    return Err(self.error(position, "empty {} (expected a name or options)"));
                }
                spec_at = open + 1;
                spec = self.options(inner, spec_at)?;
                index = close + 1;
            }
            let Some(letter) = text[index..].chars().next() else {
                return Err(self.error(position, "no formatter letter after '}'"));
            };
            index += letter.len_utf8();
            literal_start = index;
            if letter == '%' && next == b'%' {
                // `%%` is a literal percent sign; varnishkafka refused it, so no existing
                // format depends on either reading.
                self.literal("%");
                continue;
            }
            if letter == 'r' {
                if next == b'{' {
                    return Err(self.error(
                        position,
                        "%r takes no {...}: it is shorthand for %m http://%{Host?localhost}i%U%q %H",
                    ));
                }
                self.expand_request_line(position)?;
                continue;
            }
            self.formatter(letter, spec, position, spec_at)?;
        }
        self.literal(&text[literal_start..]);
        Ok(())
    }

    fn expand_request_line(&mut self, position: usize) -> Result<(), FormatError> {
        // Compile the expansion on its own and graft its items, so columns in its (impossible)
        // errors would not point into text the operator never wrote.
        let expansion = Plan::compile(REQUEST_LINE, self.plan.kind).map_err(|mut error| {
            error.column = self.column(position);
            error
        })?;
        let offset = self.plan.fields.len();
        for item in expansion.items {
            match item {
                Item::Literal(text) => {
                    // Literal text is valid UTF-8: it is cut from a &str at ASCII boundaries.
                    self.literal(&String::from_utf8_lossy(&text));
                }
                Item::Field(index) => self.plan.items.push(Item::Field(index + offset)),
            }
        }
        self.plan.fields.extend(expansion.fields);
        for (tag, listeners) in expansion.listeners.into_iter().enumerate() {
            for mut listener in listeners {
                listener.field += offset;
                self.plan.listeners[tag].push(listener);
            }
        }
        Ok(())
    }

    /// Splits `NAME?DEFAULT@FIELD!OPTION...` (segments in any order after the name).
    fn options(&self, inner: &'f str, at: usize) -> Result<Spec<'f>, FormatError> {
        let mut spec = Spec::default();
        let sigil = |b: u8| matches!(b, b'?' | b'@' | b'!');
        let bytes = inner.as_bytes();
        let name_end = bytes.iter().position(|&b| sigil(b)).unwrap_or(bytes.len());
        if name_end > 0 {
            spec.name = Some(&inner[..name_end]);
        }
        let mut index = name_end;
        while index < bytes.len() {
            let kind = bytes[index];
            let start = index + 1;
            let end = bytes[start..]
                .iter()
                .position(|&b| sigil(b))
                .map_or(bytes.len(), |length| start + length);
            let value = &inner[start..end];
            match kind {
                b'?' => spec.default = Some(value),
                b'@' => spec.field = Some(value),
                _ => {
                    // varnishkafka compares options case-insensitively by prefix (`!esc`,
                    // `!N`); keep accepting what it accepted, except the empty option, which
                    // it read as escape but which is a typo in every case we can think of.
                    let lowered = value.to_ascii_lowercase();
                    if lowered.is_empty() {
                        return Err(self.error(
                            at + index,
                            "empty option after '!' (expected !escape or !num)",
                        ));
                    } else if "escape".starts_with(&lowered) {
                        spec.escape = true;
                    } else if "num".starts_with(&lowered) {
                        spec.num = true;
                    } else {
                        return Err(self.error(
                            at + index,
                            format!("unknown option !{value} (expected !escape or !num)"),
                        ));
                    }
                }
            }
            index = end;
        }
        Ok(spec)
    }

    fn warn(&mut self, at: usize, message: String) {
        let column = self.column(at);
        self.plan.warnings.push(FormatWarning { column, message });
    }

    fn listen(&mut self, tag: Tag, matcher: Matcher, keep: Keep) {
        let field = self.plan.fields.len();
        self.plan.listeners[tag as usize].push(Listener {
            field,
            matcher,
            keep,
        });
    }

    // A table-like dispatch (one arm per formatter letter), kept whole on purpose.
    fn formatter(
        &mut self,
        letter: char,
        spec: Spec<'f>,
        position: usize,
        spec_at: usize,
    ) -> Result<(), FormatError> {
        let name = spec.name;
        let mut default_default = "-";
        let mut value = Value::Captured;
        // A name on a formatter that reads a fixed tag replaces the label varnishkafka looks
        // for, so the field can never match: keep that behaviour, and say so at start-up.
        let fixed = |parser: &mut Self, tag: Tag, matcher: Matcher, keep: Keep| {
            if let Some(name) = name {
                parser.warn(
                    position,
                    format!(
                        "%{{{name}}}{letter}: %{letter} takes no name, so (as in varnishkafka) \
                         it never matches and always renders its default"
                    ),
                );
            } else {
                parser.listen(tag, matcher, keep);
            }
        };
        match letter {
            'b' => fixed(self, Tag::ReqAcct, Matcher::Column(5), Keep::First),
            'H' => {
                default_default = "HTTP/1.0";
                fixed(self, Tag::ReqProtocol, Matcher::Whole, Keep::First);
            }
            'h' => fixed(self, Tag::ReqStart, Matcher::Column(1), Keep::First),
            'm' => fixed(self, Tag::ReqMethod, Matcher::Whole, Keep::First),
            'q' => {
                default_default = "";
                fixed(self, Tag::ReqUrl, Matcher::UrlQuery, Keep::First);
            }
            'U' => fixed(self, Tag::ReqUrl, Matcher::UrlPath, Keep::First),
            's' => fixed(self, Tag::RespStatus, Matcher::Whole, Keep::Last),
            'i' | 'o' => {
                let tag = if letter == 'i' {
                    Tag::ReqHeader
                } else {
                    Tag::RespHeader
                };
                let matcher = match name {
                    Some(name) => Matcher::Named {
                        name: name.as_bytes().to_vec(),
                        column: None,
                    },
                    // Without a name varnishkafka renders the whole last header line.
                    None => Matcher::Whole,
                };
                self.listen(tag, matcher, Keep::Last);
            }
            'D' | 'T' => {
                let label = name.unwrap_or("Resp");
                self.listen(
                    Tag::Timestamp,
                    Matcher::Named {
                        name: label.as_bytes().to_vec(),
                        column: Some(2),
                    },
                    Keep::First,
                );
                value = if letter == 'D' {
                    Value::Microseconds
                } else {
                    Value::Seconds
                };
            }
            't' => {
                let (label, time_format) = match name {
                    Some(name) => match name.strip_prefix("end:") {
                        Some(rest) => ("Resp", rest),
                        None => ("Start", name),
                    },
                    None => ("Start", ""),
                };
                let time_format = if time_format.is_empty() {
                    TimeFormat::DEFAULT
                } else {
                    time_format
                };
                let compiled = TimeFormat::compile(time_format).map_err(
                    |TimeFormatError { offset, reason }| {
                        // Point at the offending conversion inside the braces.
                        let prefix = if label == "Resp" { "end:".len() } else { 0 };
                        let at = if name.is_some() {
                            spec_at + prefix + offset
                        } else {
                            position
                        };
                        self.error(at, format!("in the time format: {reason}"))
                    },
                )?;
                self.listen(
                    Tag::Timestamp,
                    Matcher::Named {
                        name: label.as_bytes().to_vec(),
                        column: Some(1),
                    },
                    Keep::First,
                );
                value = Value::Time(compiled);
            }
            'u' => {
                let header = name.unwrap_or("Authorization");
                self.listen(
                    Tag::ReqHeader,
                    Matcher::Named {
                        name: header.as_bytes().to_vec(),
                        column: None,
                    },
                    Keep::First,
                );
                value = Value::BasicUser;
            }
            'l' => value = Value::Hostname,
            'n' => value = Value::Sequence,
            'x' => value = self.extension(name, position),
            other => {
                return Err(self.error(
                    position,
                    format!(
                        "unknown formatter %{other} (expected one of \
                         %b %D %T %H %h %i %o %l %m %n %q %r %s %t %U %u %x)"
                    ),
                ))
            }
        }
        let default = match spec.default {
            Some(default) => default,
            None if spec.num => "0",
            None => default_default,
        };
        if value == Value::Hostname && spec.default.is_some() {
            // An explicit default always wins in varnishkafka, `%l` included: production
            // configurations inject a constant host name this way.
            value = Value::Constant;
        }
        let key = spec
            .field
            .map_or_else(|| letter.to_string(), str::to_string);
        let mut json_key = Vec::with_capacity(key.len() + 3);
        crate::escape::json_string(key.as_bytes(), &mut json_key);
        json_key.push(b':');
        self.plan.items.push(Item::Field(self.plan.fields.len()));
        self.plan.fields.push(Field {
            value,
            default: default.as_bytes().to_vec(),
            json_key,
            escape: spec.escape,
            num: spec.num,
        });
        Ok(())
    }

    /// `%{...}x`: Varnish variables, `VCL_Log` keys, `VSL` diagnostics, the run identifier, or
    /// (any other name) a constant that always renders the default.
    fn extension(&mut self, name: Option<&str>, position: usize) -> Value {
        let name = name.unwrap_or("");
        match name {
            "Varnish:time_firstbyte" => self.listen(
                Tag::Timestamp,
                Matcher::Named {
                    name: b"Process".to_vec(),
                    column: Some(2),
                },
                Keep::First,
            ),
            "Varnish:handling" => self.listen(Tag::VclCall, Matcher::Handling, Keep::First),
            "Varnish:xvid" => self.listen(Tag::Begin, Matcher::Column(2), Keep::First),
            "Edgeship:run" => return Value::Run,
            _ => {
                if let Some(key) = name.strip_prefix("VCL_Log:").filter(|key| !key.is_empty()) {
                    self.listen(
                        Tag::VclLog,
                        Matcher::Named {
                            name: key.as_bytes().to_vec(),
                            column: None,
                        },
                        Keep::First,
                    );
                } else if let Some(prefix) =
                    name.strip_prefix("VSL_API:").filter(|key| !key.is_empty())
                {
                    let prefix = if prefix == "*" { "" } else { prefix };
                    self.listen(
                        Tag::Vsl,
                        Matcher::Prefix(prefix.as_bytes().to_vec()),
                        Keep::First,
                    );
                } else {
                    let looks_meant = ["Varnish:", "VCL_Log:", "VSL_API:", "Edgeship:"]
                        .iter()
                        .any(|prefix| name.starts_with(prefix));
                    if looks_meant {
                        self.warn(
                            position,
                            format!(
                                "%{{{name}}}x is not a known variable, so it always renders \
                                 its default (known: Varnish:time_firstbyte, Varnish:handling, \
                                 Varnish:xvid, VCL_Log:<key>, VSL_API:<prefix>, Edgeship:run)"
                            ),
                        );
                    }
                    return Value::Constant;
                }
            }
        }
        Value::Captured
    }
}
