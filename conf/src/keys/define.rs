//! The `own_keys!` macro: it turns the one list of own keys in `keys.rs` into the key table,
//! the `Draft` the file's lines fill in, and the draft's defaults, so that a key is one entry.
//!
//! The expansion names `OwnKey`, `Fallback`, `Draft` and `Sourced`, which resolve where the
//! macro is used; this file itself depends on nothing.

/// Turns the list of own keys into three things, so that a key is one entry: the
/// `OwnKey` table, the `Draft` struct with one field per key, and `Draft::with_defaults`.
///
/// Each entry is `field: Type { name, aliases, value, default, parse }`. `parse` is a
/// `fn(&str) -> Result<Type, String>` (a function or a closure). A key with a default
/// (`Fallback::Value` or `Fallback::Named`) has a `Sourced<Type>` field that holds the
/// default, with no line, until a line sets it; a key without one (`Fallback::Unset`) has an
/// `Option<Sourced<Type>>` field.
macro_rules! own_keys {
    ($(
        $field:ident: $type:ty {
            name: $name:literal,
            aliases: [$($alias:literal),*],
            value: $value:literal,
            default: $default:ident $default_args:tt,
            parse: $parse:expr $(,)?
        }
    )*) => {
        /// Own keys as the file sets them, on top of their defaults: a key with a default holds
        /// it (with no line) until a line sets it; a key without one is `None` until then.
        #[derive(Debug)]
        pub(crate) struct Draft {
            $(pub(crate) $field: own_keys!(@slot $default $type),)*
        }

        impl Draft {
            /// Every key at its default. Fails only if a default in the table does not parse,
            /// which the table's tests rule out.
            pub(crate) fn with_defaults() -> Result<Draft, String> {
                Ok(Draft {
                    $($field: own_keys!(@initial $name, $type, $parse, $default $default_args),)*
                })
            }
        }

        /// Every key edgeship interprets itself, one entry each.
        pub(crate) static OWN_KEYS: &[OwnKey] = &[$(
            OwnKey {
                name: $name,
                aliases: &[$($alias),*],
                value: $value,
                default: Fallback::$default $default_args,
                apply: |draft, value, line| {
                    let parse: fn(&str) -> Result<$type, String> = $parse;
                    let sourced = Sourced::at(parse(value)?, line);
                    own_keys!(@set $default, draft.$field, sourced);
                    Ok(())
                },
            },
        )*];
    };

    (@slot Unset $type:ty) => { Option<Sourced<$type>> };
    (@slot $default:ident $type:ty) => { Sourced<$type> };

    (@initial $name:literal, $type:ty, $parse:expr, Unset $shown:tt) => { None };
    (@initial $name:literal, $type:ty, $parse:expr, Value($text:expr)) => {
        own_keys!(@parse_default $name, $type, $parse, $text)
    };
    (@initial $name:literal, $type:ty, $parse:expr,
        Named { value: $text:expr, shown: $shown:expr $(,)? }) => {
        own_keys!(@parse_default $name, $type, $parse, $text)
    };
    (@parse_default $name:literal, $type:ty, $parse:expr, $text:expr) => {{
        let parse: fn(&str) -> Result<$type, String> = $parse;
        let value = parse($text)
            .map_err(|reason| format!("the default {} = {}: {reason}", $name, $text))?;
        Sourced::default_value(value)
    }};

    (@set Unset, $slot:expr, $sourced:expr) => { $slot = Some($sourced) };
    (@set $default:ident, $slot:expr, $sourced:expr) => { $slot = $sourced };
}

pub(crate) use own_keys;
