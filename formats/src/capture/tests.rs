//! The capturer's matching against its definitions, and aliases against capturing alone.

use super::*;
use crate::parse::FormatKind;

#[test]
fn a_field_listening_as_an_earlier_one_is_copied_not_matched_again() {
    let compile = |format| Plan::compile(format, FormatKind::String).expect("compiles");
    let record = compile("%{Host}i %{end:%s}t");
    let key = compile("%{end:%s}t %{Host}i %{User-Agent}i %{Host}o");
    let both = Capturer::new(&[&record, &key]);
    assert_eq!(
        both.aliases,
        vec![(2, 1), (3, 0)],
        "end time and Host: once each"
    );
    let transaction: &[(Tag, &[u8])] = &[
        (Tag::ReqHeader, b"Host: a.example"),
        (Tag::ReqHeader, b"User-Agent: t"),
        (Tag::Timestamp, b"Start: 1764880000.0 0.0 0.0"),
        (Tag::Timestamp, b"Resp: 1764880000.250000 0.249999 0.000010"),
        (Tag::RespHeader, b"Host: b.example"),
    ];
    let mut slots = vec![None; both.field_count()];
    both.capture(transaction, &mut slots);
    let alone = |plan: &Plan| {
        let mut slots = vec![None; plan.fields.len()];
        Capturer::new(&[plan]).capture(transaction, &mut slots);
        slots
    };
    let expected = [alone(&record), alone(&key)].concat();
    assert_eq!(slots, expected, "as each plan alone captures");
    assert_eq!(slots[2], Some(&b"1764880000.250000"[..]));
}

#[test]
fn columns_collapse_runs_of_spaces() {
    assert_eq!(column(b"a  b c", 2), Some(&b"b"[..]));
    assert_eq!(column(b" a b", 1), Some(&b"a"[..]));
    assert_eq!(column(b"a b", 3), None);
    assert_eq!(column(b"a b", 0), None);
}

#[test]
fn named_records_match_on_the_text_before_their_first_colon() {
    // The definition, written the slow way: the name is what precedes the first colon.
    let by_definition = |name: &[u8], payload: &'static [u8]| -> Option<&'static [u8]> {
        let colon = payload.iter().position(|&b| b == b':')?;
        let value = &payload[colon + 1..];
        let spaces = value.iter().take_while(|&&b| b == b' ').count();
        payload[..colon]
            .eq_ignore_ascii_case(name)
            .then_some(&value[spaces..])
    };
    let names: &[&[u8]] = &[b"Host", b"host", b"X-A:b", b"X-A", b"A", b"Ab", b""];
    let payloads: &[&[u8]] = &[
        b"Host: x",
        b"HOST:y",
        b"Hostx: z",
        b"Hos: t",
        b"Host",
        b"Host:",
        b"X-A:b: c",
        b"X-A: b: c",
        b":",
        b"A:",
        b"a:b:c",
        b"Ab:",
        b"",
        b"x-a:B:c",
    ];
    for name in names {
        let matcher = Matcher::Named {
            name: name.to_vec(),
            column: None,
        };
        for payload in payloads {
            assert_eq!(
                extract(&matcher, payload),
                by_definition(name, payload),
                "name {name:?}, payload {payload:?}"
            );
        }
    }
}

#[test]
fn word_at_a_time_case_folding_agrees_with_the_standard_library() {
    // Every byte value against its neighbours and the letters' other case, at each
    // position of a two-word string with a tail.
    let mut checked = 0;
    for byte in 0..=255_u8 {
        for other in [
            byte,
            byte ^ 0x20,
            byte.wrapping_add(1),
            byte.wrapping_sub(1),
            byte ^ 0x80,
        ] {
            for position in 0..19 {
                let mut a = *b"Accept-Language-x1Z";
                let mut b = *b"aCCEPT-lANGUAGE-X1z";
                a[position] = byte;
                b[position] = other;
                assert_eq!(
                    eq_lower(&a, &b.to_ascii_lowercase()),
                    a.eq_ignore_ascii_case(&b),
                    "{byte:#x} vs {other:#x} at {position}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 256 * 5 * 19);
    assert!(!eq_lower(b"Host", b"hos"));
}

#[test]
fn lower_case_name_comparison_agrees_with_the_standard_library() {
    // Every length from empty to past two words, with one byte changed at each position
    // to its other case, a neighbour, or a high byte.
    let name = b"Accept-Language-X1";
    let mut checked = 0;
    for length in 0..=name.len() {
        let lower = name[..length].to_ascii_lowercase();
        for position in 0..length {
            for change in [0x20_u8, 0x01, 0x80, 0x00] {
                let mut record = name[..length].to_vec();
                record[position] ^= change;
                assert_eq!(
                    eq_lower(&record, &lower),
                    record.eq_ignore_ascii_case(&lower),
                    "{record:?} vs {lower:?}"
                );
                checked += 1;
            }
        }
        assert!(eq_lower(&name[..length], &lower));
        assert!(!eq_lower(&name[..length], &name[..length.saturating_sub(1)]) || length == 0);
    }
    assert!(checked > 600);
}

#[test]
fn the_next_space_is_found_at_every_position() {
    for length in 0..=20 {
        for at in 0..=length {
            let mut bytes = vec![b'x'; length];
            if at < length {
                bytes[at] = b' ';
            }
            // Neighbours of the space's value that a wrong bit trick would take for it.
            for filler in [b'!', 0x1f, 0xa0] {
                let mut bytes = bytes.clone();
                for byte in bytes.iter_mut().filter(|b| **b != b' ') {
                    *byte = filler;
                }
                for from in 0..=at.min(length) {
                    assert_eq!(next_space(&bytes, from), at, "{bytes:?} from {from}");
                }
            }
        }
    }
}
