//! librdkafka consumer properties from their three places, in increasing precedence: a file
//! (`--kafka-config`), the environment (`EDGESHIP_AUDIT_KAFKA_<PROPERTY>`) and `-X`.
//!
//! A secret on the command line is visible to every local user (`/proc/*/cmdline`), so a
//! secret-looking property given with `-X` draws a warning naming the other two ways. No
//! error here prints a property's value: a line of the file is named by its number.

use std::ffi::OsString;

use crate::kafka::Property;

/// A property that cannot be read; never shows a property's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertiesError {
    /// A `-X` argument without `=`, by its position (its text may be a secret).
    #[error("-X argument {0}: expected KEY=VALUE")]
    Argument(usize),
    /// The `--kafka-config` file cannot be read or has a line that is not a property.
    #[error("--kafka-config {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why (a line by its number, never its text).
        reason: String,
    },
}

/// The prefix of environment variables that set properties: `EDGESHIP_AUDIT_KAFKA_SASL_PASSWORD`
/// sets `sasl.password` (the rest lowercased, `_` read as `.`).
pub(super) const ENVIRONMENT_PREFIX: &str = "EDGESHIP_AUDIT_KAFKA_";

/// Whether a property's value is a secret: its name mentions a password or a secret, or it is
/// `sasl.oauthbearer.config` (which carries client secrets).
pub(super) fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("secret") || key == "sasl.oauthbearer.config"
}

/// The properties of a `key=value` file: blank lines and lines starting with `#` are skipped,
/// key and value are trimmed.
pub(super) fn from_file(path: &str) -> Result<Vec<Property>, PropertiesError> {
    let text = std::fs::read_to_string(path).map_err(|e| PropertiesError::File {
        path: path.to_string(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let property = split(line).ok_or_else(|| PropertiesError::File {
            path: path.to_string(),
            reason: format!("line {}: expected KEY=VALUE", index + 1),
        })?;
        out.push(property);
    }
    Ok(out)
}

/// The properties set by `EDGESHIP_AUDIT_KAFKA_*` variables of `environment`, sorted by name.
pub(super) fn from_environment(
    environment: impl Iterator<Item = (OsString, OsString)>,
) -> Vec<Property> {
    let mut out: Vec<Property> = environment
        .filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            let rest = name.strip_prefix(ENVIRONMENT_PREFIX)?;
            (!rest.is_empty()).then(|| Property {
                key: rest.to_ascii_lowercase().replace('_', "."),
                value: value.to_string_lossy().into_owned(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// The `-X KEY=VALUE` properties, and a warning for each secret among them. The `n`-th
/// argument without `=` is refused by its position, never by its text (it may be a secret
/// typed without its key).
pub(super) fn from_arguments(
    arguments: &[String],
) -> Result<(Vec<Property>, Vec<String>), PropertiesError> {
    let mut properties = Vec::new();
    let mut warnings = Vec::new();
    for (index, text) in arguments.iter().enumerate() {
        let property = split(text).ok_or(PropertiesError::Argument(index + 1))?;
        if is_secret(&property.key) {
            warnings.push(format!(
                "-X {} puts a secret on the command line, where every local user can read \
                 it; give it in --kafka-config FILE or the environment ({ENVIRONMENT_PREFIX}{})",
                property.key,
                property.key.to_ascii_uppercase().replace('.', "_")
            ));
        }
        properties.push(property);
    }
    Ok((properties, warnings))
}

/// `KEY=VALUE`, both trimmed; `None` without `=` or with an empty key.
fn split(text: &str) -> Option<Property> {
    let (key, value) = text.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()).then(|| Property {
        key: key.to_string(),
        value: value.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_become_property_names() {
        let environment = [
            ("EDGESHIP_AUDIT_KAFKA_SASL_PASSWORD", "pw"),
            ("EDGESHIP_AUDIT_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("EDGESHIP_AUDIT_KAFKA_", "ignored"),
            ("HOME", "/root"),
        ]
        .map(|(n, v)| (OsString::from(n), OsString::from(v)));
        let got = from_environment(environment.into_iter());
        let keys: Vec<&str> = got.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["sasl.password", "security.protocol"]);
        assert_eq!(got[0].value, "pw");
    }

    #[test]
    fn secrets_on_the_command_line_are_warned_about_and_bad_ones_not_echoed() {
        assert!(is_secret("sasl.password") && is_secret("ssl.key.password"));
        assert!(
            is_secret("sasl.oauthbearer.client.secret") && is_secret("sasl.oauthbearer.config")
        );
        assert!(!is_secret("security.protocol"));
        let (properties, warnings) =
            from_arguments(&["sasl.password=hunter2".into(), "client.id=x".into()]).expect("ok");
        assert_eq!(properties.len(), 2);
        assert_eq!(warnings.len(), 1);
        assert!(!warnings[0].contains("hunter2"));
        let refused = from_arguments(&["client.id=x".into(), "hunter2".into()]).unwrap_err();
        assert!(!refused.to_string().contains("hunter2"), "{refused}");
    }
}
