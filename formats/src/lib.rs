//! edgeship-formats: varnishkafka's format language, compiled once into a [`Plan`] and rendered
//! per record by a [`Renderer`] into a caller-provided buffer.
//!
//! ```
//! use edgeship_formats::{Context, FormatKind, Plan, Renderer, Tag};
//!
//! let plan = Plan::compile("%{@host}l %{@status!num}s %{User-Agent@agent}i", FormatKind::Json)?;
//! let mut renderer = Renderer::new(plan);
//! let transaction = vec![
//!     (Tag::ReqHeader, &b"User-Agent: curl/8.0"[..]),
//!     (Tag::RespStatus, &b"200"[..]),
//! ];
//! let context = Context { hostname: b"cp1001", sequence: 7, run: b"r1" };
//! let mut out = Vec::new();
//! renderer.render(&transaction, &context, &mut out);
//! assert_eq!(out, br#"{"host":"cp1001","status":200,"agent":"curl/8.0"}"#);
//! # Ok::<(), edgeship_formats::FormatError>(())
//! ```
//!
//! The language is varnishkafka's (see `shared/docs/compat.md`); where edgeship differs on
//! purpose, the difference is documented where it is implemented:
//! - JSON output is valid whatever the input bytes ([`escape::json_string`]); a `!num` value
//!   that is not a number renders the default or `null` and is counted ([`RenderStats`]).
//! - Time is UTC, and sub-second digits are available as `%3N`, `%6N`, `%N` ([`time`]).
//! - No 8 KiB truncation of text records; `tag.size.max` cuts are counted.
//! - `%%` is a literal percent; `%{Edgeship:run}x` renders the shipper's run identifier.
//! - `!escape` writes what varnishkafka documented, not its buggy octal output.
#![forbid(unsafe_code)]

mod capture;
pub mod decimal;
pub mod escape;
mod parse;
pub mod record;
mod render;
pub mod time;
mod words;

pub use capture::{CaptureStats, Capturer};
pub use parse::{FormatError, FormatKind, FormatWarning, Plan};
pub use record::{Context, Tag, Transaction};
pub use render::{RenderStats, Renderer};
