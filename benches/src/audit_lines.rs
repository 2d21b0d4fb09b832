//! The auditor benchmark's input: JSON lines as the shipper writes them, rendered from the
//! realistic transactions with the production webrequest format, spread over several hosts,
//! with a little loss and duplication and a closing heartbeat per host (`docs/records.md`).
//!
//! This is deliberately not `edgeship_testkit::records` (the generator of the auditor's tests
//! and `gen-records`): those lines have the production fields but hand-written ASCII values,
//! while these are rendered by `edgeship-formats` from the realistic transactions, so the
//! criterion group measures the auditor on exactly the bytes the shipper writes (non-ASCII
//! text, replaced Latin-1 bytes, escapes).

use edgeship_formats::{Context, FormatKind, Plan, Renderer};

use crate::{fixtures, records, CONTEXT};

/// The host name the production format renders (its `hostname` field has a fixed default),
/// replaced by each generated host's own name.
const RENDERED_HOST: &[u8] = b"\"hostname\":\"cp1001.eqiad.wmnet\"";

/// What [`lines`] produced.
#[derive(Debug, Clone)]
pub struct AuditLines {
    /// Newline-terminated lines.
    pub bytes: Vec<u8>,
    /// Request records among them (heartbeats and duplicates excluded).
    pub records: u64,
    /// All lines, heartbeats and duplicates included.
    pub lines: u64,
}

/// `count` numbered records over `hosts` hosts (each its own run of sequence numbers from 0),
/// in bursts of 64 per host as a Kafka consumer reads them, with one number in 1,000 lost and
/// one record in 2,000 delivered twice; then one final heartbeat per host. The same for the
/// same arguments.
pub fn lines(count: usize, hosts: usize, seed: u64) -> std::io::Result<AuditLines> {
    let hosts = hosts.max(1);
    let format = fixtures::format(fixtures::PRODUCTION).map_err(std::io::Error::other)?;
    let plan = Plan::compile(&format, FormatKind::Json)
        .map_err(|error| std::io::Error::other(format!("{}: {error}", fixtures::PRODUCTION)))?;
    let mut renderer = Renderer::new(plan);
    let transactions = records::realistic(512, seed);
    let names: Vec<Vec<u8>> = (0..hosts)
        .map(|host| format!("\"hostname\":\"cp{}.eqiad.wmnet\"", 3001 + host).into_bytes())
        .collect();
    let mut next_sequence = vec![0u64; hosts];
    let mut last_dt: Vec<Vec<u8>> = vec![b"-".to_vec(); hosts];
    let mut out = AuditLines {
        bytes: Vec::with_capacity(count * 1100),
        records: 0,
        lines: 0,
    };
    let mut line = Vec::with_capacity(2048);
    for index in 0..count {
        let host = (index / 64) % hosts;
        let sequence = next_sequence[host];
        next_sequence[host] += 1;
        // A fixed pattern rather than randomness: the same loss on every run and machine.
        if sequence % 1000 == 999 {
            continue;
        }
        line.clear();
        let context = Context {
            sequence,
            ..CONTEXT
        };
        renderer.render(
            &transactions[index % transactions.len()],
            &context,
            &mut line,
        );
        if let Some(at) = find(&line, RENDERED_HOST) {
            line.splice(at..at + RENDERED_HOST.len(), names[host].iter().copied());
        }
        if let Some(dt) = field(&line, b"\"dt\":\"") {
            last_dt[host] = dt.to_vec();
        }
        let copies = if index % 2000 == 1999 { 2 } else { 1 };
        for _ in 0..copies {
            out.bytes.extend_from_slice(&line);
            out.bytes.push(b'\n');
            out.lines += 1;
        }
        out.records += 1;
    }
    for host in 0..hosts {
        let last = match next_sequence[host] {
            0 => "null".to_string(),
            next => (next - 1).to_string(),
        };
        out.bytes.extend_from_slice(
            format!(
                "{{\"heartbeat\":true,{},\"dt\":\"{}\",\"final\":true,\"sequence_start\":0,\
                 \"sequence_last\":{last}}}\n",
                String::from_utf8_lossy(&names[host]),
                String::from_utf8_lossy(&last_dt[host]),
            )
            .as_bytes(),
        );
        out.lines += 1;
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The string value after `key` (which ends with the opening quote), up to the closing quote.
fn field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = find(line, key)? + key.len();
    let length = line[start..].iter().position(|&byte| byte == b'"')?;
    Some(&line[start..start + length])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_objects_with_each_host_its_own_numbers() {
        let generated = lines(3300, 3, 7).expect("fixtures readable");
        let mut distinct = std::collections::BTreeSet::new();
        let mut records = 0u64;
        let mut numbered = 0;
        let mut hosts = std::collections::BTreeSet::new();
        for line in generated
            .bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let value: serde_json::Value = serde_json::from_slice(line).expect("a JSON line");
            let host = value["hostname"].as_str().expect("a host").to_string();
            hosts.insert(host.clone());
            if value["heartbeat"] == serde_json::Value::Bool(true) {
                numbered += value["sequence_last"].as_u64().expect("a number") + 1;
            } else {
                let sequence = value["sequence"].as_u64().expect("a number");
                assert_ne!(value["dt"], "-", "{value}");
                distinct.insert((host, sequence));
                records += 1;
            }
        }
        assert_eq!(hosts.len(), 3);
        // Every one of the 3,300 numbers is accounted for by the heartbeats; 3 are lost (one
        // per host: in bursts of 64 each gets between 1,000 and 1,999), one is there twice.
        assert_eq!(numbered, 3300);
        assert_eq!(distinct.len() as u64, generated.records);
        assert_eq!(generated.records, 3297);
        assert_eq!(records, 3298);
        assert_eq!(generated.lines, 3301);
    }
}
