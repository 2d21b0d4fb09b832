//! The audit arithmetic against generated streams: one test per acceptance line of the issue,
//! plus the edges around them (heads, tails, windows, bad input, memory).
// Helpers here are test code too: a failed unwrap is a test failure with its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{audit, audit_with, lost_by_hour, per_hour, rows_of, stream, sum};
use edgeship_audit::time::{hour_of, HOUR};
use edgeship_audit::{Auditor, BadReason, Config, Origin, RowKind, Status};
use edgeship_testkit::random::SplitMix64;
use edgeship_testkit::records::{base_time, final_heartbeat, heartbeat, record};

const RUN_A: &str = "20250601T115959Z-0a0a0a0a";
const RUN_B: &str = "20250601T123000Z-0b0b0b0b";

fn lines(host: &str, run: Option<&str>, items: &[(u64, i64)]) -> Vec<String> {
    items
        .iter()
        .map(|&(s, t)| record(host, run, s, t))
        .collect()
}

#[test]
fn classic_validation_without_loss_reports_nothing_lost() {
    // 100,000 records over about 2.8 hours, 10 a second: the classic validation set.
    let items = stream(0, 100_000, base_time() + 1234, 10);
    let report = audit(&lines("cp1001", Some(RUN_A), &items));
    let rows = rows_of(&report, "cp1001");
    let expected_hours = per_hour(&items);
    assert_eq!(rows.len(), expected_hours.len());
    for row in &rows {
        assert_eq!(row.count_actual, expected_hours[&row.hour], "{row:?}");
        assert_eq!(row.count_expected, row.count_actual);
        assert_eq!(row.count_lost, 0);
        assert_eq!(row.count_duplicate, 0);
        assert_eq!(row.status, Status::Ok);
    }
    assert_eq!(sum(&rows, |r| r.count_actual), 100_000);
    assert_eq!(report.worst(), Status::Ok);
    assert_eq!(report.totals.bad, 0);
}

/// (sequence, time) pairs.
type Items = Vec<(u64, i64)>;

/// Removes `remove` records at random and returns (kept, removed).
fn remove_random(items: &[(u64, i64)], remove: usize, seed: u64) -> (Items, Items) {
    let mut order: Vec<usize> = (0..items.len()).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let mut gone = vec![false; items.len()];
    for &i in &order[..remove] {
        gone[i] = true;
    }
    let kept = items
        .iter()
        .zip(&gone)
        .filter(|(_, g)| !**g)
        .map(|(x, _)| *x)
        .collect();
    let removed = items
        .iter()
        .zip(&gone)
        .filter(|(_, g)| **g)
        .map(|(x, _)| *x)
        .collect();
    (kept, removed)
}

#[test]
fn classic_validation_with_ten_thousand_removed_reports_exactly_those() {
    let items = stream(0, 100_000, base_time() + 1234, 10);
    let (kept, removed) = remove_random(&items, 10_000, 7);
    let first_time = items[0].1;
    let last = items[items.len() - 1];
    // The shipper's start and final heartbeats bound the run, so removing the very first or
    // last numbers is seen too (the classic check could not see those).
    let mut input = vec![heartbeat("cp1001", RUN_A, first_time, None)];
    input.extend(lines("cp1001", Some(RUN_A), &kept));
    input.push(final_heartbeat("cp1001", RUN_A, last.1, Some(last.0)));
    let report = audit(&input);

    let lost = lost_by_hour(&report, "cp1001");
    assert_eq!(lost.values().sum::<u64>(), 10_000);

    // The true hour of each removed record, and how many removed records sit in a gap whose
    // surviving neighbours lie in different hours: only those can honestly go either way.
    let truth = per_hour(&removed);
    let mut ambiguous: BTreeMap<i64, u64> = BTreeMap::new();
    let mut i = 0;
    while i < items.len() {
        if kept.binary_search_by_key(&items[i].0, |k| k.0).is_ok() {
            i += 1;
            continue;
        }
        let start = i;
        while i < items.len() && kept.binary_search_by_key(&items[i].0, |k| k.0).is_err() {
            i += 1;
        }
        let before = if start == 0 {
            first_time
        } else {
            items[start - 1].1
        };
        let after = if i == items.len() { last.1 } else { items[i].1 };
        if hour_of(before) != hour_of(after) {
            *ambiguous.entry(hour_of(before)).or_default() += (i - start) as u64;
            *ambiguous.entry(hour_of(after)).or_default() += (i - start) as u64;
        }
    }
    for (hour, &true_lost) in &truth {
        let got = lost.get(hour).copied().unwrap_or(0);
        let slack = ambiguous.get(hour).copied().unwrap_or(0);
        assert!(
            got.abs_diff(true_lost) <= slack,
            "hour {hour}: reported {got}, truly {true_lost}, ambiguous {slack}"
        );
    }
    assert!(
        ambiguous.values().sum::<u64>() < 20,
        "the boundary cases are few"
    );
    for row in rows_of(&report, "cp1001") {
        let distinct = row.count_actual - row.count_duplicate;
        assert_eq!(row.count_expected, distinct + row.count_lost);
        // 10 % lost in every hour: an error at the default thresholds.
        assert_eq!(row.status, Status::Error, "{row:?}");
    }
}

#[test]
fn a_restart_in_the_middle_of_an_hour_is_two_groups_and_no_loss() {
    let t0 = base_time();
    let first = stream(0, 18_000, t0, 10); // 12:00 to 12:30
    let second = stream(0, 18_000, t0 + 1800 + 5, 10); // restarted 12:30:05, from 0 again
    let mut input = vec![heartbeat("cp1001", RUN_A, t0, None)];
    input.extend(lines("cp1001", Some(RUN_A), &first));
    input.push(final_heartbeat("cp1001", RUN_A, t0 + 1800, Some(17_999)));
    input.push(heartbeat("cp1001", RUN_B, t0 + 1800 + 5, None));
    input.extend(lines("cp1001", Some(RUN_B), &second));
    let report = audit(&input);
    let rows = rows_of(&report, "cp1001");
    let noon: Vec<_> = rows.iter().filter(|r| r.hour == hour_of(t0)).collect();
    assert_eq!(noon.len(), 2, "{rows:?}");
    let runs: Vec<_> = noon.iter().map(|r| r.run.as_deref()).collect();
    assert_eq!(runs, vec![Some(RUN_A), Some(RUN_B)]);
    for row in &rows {
        assert_eq!(
            (row.count_lost, row.count_duplicate, row.status),
            (0, 0, Status::Ok),
            "{row:?}"
        );
    }
    assert_eq!(sum(&rows, |r| r.count_actual), 36_000);

    // The classic grouping (no run field) sees the restart as 18,000 duplicates.
    let mut classic = lines("cp1001", None, &first);
    classic.extend(lines("cp1001", None, &second));
    let report = audit(&classic);
    let rows = rows_of(&report, "cp1001");
    assert!(rows.iter().all(|r| r.run.is_none()));
    assert_eq!(sum(&rows, |r| r.count_duplicate), 18_000);
}

#[test]
fn records_stamped_across_the_hour_boundary_are_not_loss() {
    // Numbered in completion order, stamped by request time: around 13:00 a few higher
    // numbers carry 12:59:59 and a few lower ones 13:00:00.
    let boundary = base_time() + HOUR;
    let mut items = stream(0, 20_000, boundary - 1000, 10);
    for item in items.iter_mut() {
        let offset = item.1 - boundary;
        if offset == -1 && item.0 % 3 == 0 {
            item.1 = boundary; // early numbers stamped in the later hour
        }
        if offset == 0 && item.0 % 4 == 0 {
            item.1 = boundary - 1; // late numbers stamped in the earlier hour
        }
    }
    let report = audit(&lines("cp1001", Some(RUN_A), &items));
    let rows = rows_of(&report, "cp1001");
    assert_eq!(rows.len(), 2);
    let by_hour = per_hour(&items);
    for row in &rows {
        assert_eq!(row.count_lost, 0, "{row:?}");
        assert_eq!(row.count_actual, by_hour[&row.hour]);
        assert_eq!(row.status, Status::Ok);
        // What the classic max - min + 1 - distinct would have called missing in this hour.
        let classic = row.sequence_max.unwrap() - row.sequence_min.unwrap() + 1 - row.count_actual;
        assert!(
            classic > 0,
            "the classic check reports false loss here: {row:?}"
        );
    }
}

#[test]
fn loss_after_the_last_record_is_seen_through_the_heartbeat() {
    let t0 = base_time() + 600;
    let items = stream(0, 1000, t0, 10);
    let mut input = vec![heartbeat("cp1001", RUN_A, t0, None)];
    input.extend(lines("cp1001", Some(RUN_A), &items[..950]));
    input.push(heartbeat("cp1001", RUN_A, items[999].1 + 1, Some(999)));
    let report = audit(&input);
    let rows = rows_of(&report, "cp1001");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].count_lost, 50);
    assert_eq!(rows[0].count_expected, 1000);
    assert_eq!(rows[0].count_actual, 950);
    assert_eq!(rows[0].status, Status::Error);

    // Without the heartbeat the same input looks complete: the classic blind spot.
    let report = audit(&lines("cp1001", Some(RUN_A), &items[..950]));
    assert_eq!(lost_by_hour(&report, "cp1001").values().sum::<u64>(), 0);
}

#[test]
fn loss_before_the_first_record_is_seen_through_the_start_heartbeat() {
    let t0 = base_time() + 600;
    let items = stream(0, 1000, t0, 10);
    let mut input = vec![heartbeat("cp1001", RUN_A, t0, None)];
    input.extend(lines("cp1001", Some(RUN_A), &items[30..]));
    let report = audit(&input);
    assert_eq!(lost_by_hour(&report, "cp1001").values().sum::<u64>(), 30);
}

#[test]
fn a_host_with_heartbeats_that_goes_quiet_is_silent() {
    let t0 = base_time();
    let mut input = Vec::new();
    // cp1001 ships in hour h-1 only; cp1002 keeps shipping into hour h.
    for host in ["cp1001", "cp1002"] {
        input.push(heartbeat(host, RUN_A, t0, None));
    }
    input.extend(lines("cp1001", Some(RUN_A), &stream(0, 3000, t0 + 10, 1)));
    input.push(heartbeat("cp1001", RUN_A, t0 + 3100, Some(2999)));
    input.extend(lines("cp1002", Some(RUN_A), &stream(0, 7000, t0 + 10, 1)));
    for k in 1..=70 {
        input.push(heartbeat(
            "cp1002",
            RUN_A,
            t0 + k * 100,
            Some(k as u64 * 100 - 1),
        ));
    }
    // A varnishkafka-era host (no heartbeats) that stops is absent, not silent: nothing
    // tells us it should be there.
    input.extend(lines("cp9999", None, &stream(0, 100, t0 + 10, 1)));
    let report = audit(&input);
    let h = hour_of(t0) + 1;
    let silent: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::Silent)
        .collect();
    assert_eq!(silent.len(), 1, "{silent:?}");
    assert_eq!(silent[0].hostname.as_deref(), Some("cp1001"));
    assert_eq!(silent[0].run.as_deref(), Some(RUN_A));
    assert_eq!((silent[0].hour, silent[0].status), (h, Status::Silent));
    assert_eq!(report.worst(), Status::Silent);
    let rollup = report.hours.iter().find(|r| r.hour == h).unwrap();
    assert_eq!((rollup.rows_silent, rollup.status), (1, Status::Silent));
    assert!(rows_of(&report, "cp1002")
        .iter()
        .all(|r| r.status == Status::Ok));

    // With a window that ends before hour h, nobody is silent.
    let config = Config {
        to: Some(h * HOUR),
        ..Config::default()
    };
    let report = audit_with(config, &input);
    assert!(report.rows.iter().all(|r| r.kind == RowKind::Group));
}

#[test]
fn duplicates_are_counted_apart_from_loss() {
    let items = stream(0, 20_000, base_time() + 100, 10);
    let (kept, _) = remove_random(&items, 300, 11);
    let single = audit(&lines("cp1001", Some(RUN_A), &kept));
    // Deliver 5,000 of the surviving records a second time, later, as a retry would.
    let mut twice = lines("cp1001", Some(RUN_A), &kept);
    let mut again = kept[2000..7000].to_vec();
    SplitMix64::new(3).shuffle(&mut again);
    twice.extend(lines("cp1001", Some(RUN_A), &again));
    let double = audit(&twice);
    let (a, b) = (rows_of(&single, "cp1001"), rows_of(&double, "cp1001"));
    assert_eq!(sum(&a, |r| r.count_lost), sum(&b, |r| r.count_lost));
    assert_eq!(
        sum(&b, |r| r.count_lost),
        300 - /* removed at the ends cannot be seen */ {
        let first = kept[0].0;
        let last = kept[kept.len() - 1].0;
        first + (19_999 - last)
    }
    );
    assert_eq!(sum(&a, |r| r.count_duplicate), 0);
    assert_eq!(sum(&b, |r| r.count_duplicate), 5000);
    assert_eq!(
        sum(&b, |r| r.count_actual),
        sum(&a, |r| r.count_actual) + 5000
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.hour, x.count_lost, x.count_expected),
            (y.hour, y.count_lost, y.count_expected)
        );
        // Classic count_different nets duplicates against loss; count_lost does not.
        assert_eq!(
            y.count_different,
            y.count_lost as i64 - y.count_duplicate as i64
        );
    }
}

#[test]
fn records_out_of_order_give_the_same_rows() {
    let items = stream(0, 30_000, base_time() + 3000, 10);
    let (kept, _) = remove_random(&items, 500, 5);
    let in_order = audit(&lines("cp1001", Some(RUN_A), &kept));
    let mut shuffled = kept.clone();
    SplitMix64::new(9).shuffle(&mut shuffled);
    let out_of_order = audit(&lines("cp1001", Some(RUN_A), &shuffled));
    assert_eq!(in_order.rows, out_of_order.rows);
    assert!(sum(&rows_of(&in_order, "cp1001"), |r| r.count_lost) > 0);
}

#[test]
fn malformed_lines_are_counted_by_reason_and_never_stop_the_audit() {
    let t0 = base_time();
    let mut input = lines("cp1001", Some(RUN_A), &stream(0, 100, t0, 10));
    let bad = [
        ("this is not json", BadReason::NotJson),
        (r#"{"hostname":"cp1001","sequence":5"#, BadReason::NotJson),
        ("", BadReason::EmptyLine),
        (
            r#"{"hostname":"cp1001","dt":"2025-06-01T12:00:00Z"}"#,
            BadReason::MissingSequence,
        ),
        (
            r#"{"hostname":"cp1001","sequence":"12","dt":"2025-06-01T12:00:00Z"}"#,
            BadReason::SequenceNotNumber,
        ),
        (
            r#"{"hostname":"cp1001","sequence":1.5,"dt":"2025-06-01T12:00:00Z"}"#,
            BadReason::SequenceNotNumber,
        ),
        (
            r#"{"hostname":"cp1001","sequence":-3,"dt":"2025-06-01T12:00:00Z"}"#,
            BadReason::SequenceNotNumber,
        ),
        (
            r#"{"sequence":3,"dt":"2025-06-01T12:00:00Z"}"#,
            BadReason::MissingHostname,
        ),
        (
            r#"{"hostname":7,"sequence":3,"dt":"2025-06-01T12:00:00Z"}"#,
            BadReason::HostnameNotString,
        ),
        (
            r#"{"hostname":"cp1001","sequence":3}"#,
            BadReason::MissingDt,
        ),
        (
            r#"{"hostname":"cp1001","sequence":3,"dt":"yesterday"}"#,
            BadReason::DtNotTimestamp,
        ),
        (
            r#"{"hostname":"cp1001","sequence":3,"dt":"2025-06-01T12:00:00Z","run":5}"#,
            BadReason::RunNotString,
        ),
        (
            r#"{"heartbeat":true,"hostname":"cp1001","run":"x","dt":"2025-06-01T12:00:00Z"}"#,
            BadReason::HeartbeatBadSequence,
        ),
    ];
    // Interleave the bad lines with the good ones.
    for (i, (line, _)) in bad.iter().enumerate() {
        input.insert(i * 7 + 3, line.to_string());
    }
    let report = audit(&input);
    let mut expected: BTreeMap<BadReason, u64> = BTreeMap::new();
    for (_, reason) in &bad {
        *expected.entry(*reason).or_default() += 1;
    }
    let got: BTreeMap<BadReason, u64> = report
        .bad_input
        .iter()
        .map(|b| (b.reason, b.count))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(report.totals.bad, bad.len() as u64);
    assert_eq!(
        report
            .bad_input
            .iter()
            .find(|b| b.reason == BadReason::NotJson)
            .unwrap()
            .first_at,
        "test:4"
    );
    let rows = rows_of(&report, "cp1001");
    assert_eq!(sum(&rows, |r| r.count_actual), 100);
    assert_eq!(sum(&rows, |r| r.count_lost), 0);
}

#[test]
fn null_sequences_and_forced_complete_records_have_their_own_columns() {
    let t0 = base_time() + 100;
    let mut input = lines("cp1001", Some(RUN_A), &stream(0, 50, t0, 10));
    input.push(format!(
        r#"{{"hostname":"cp1001","sequence":null,"dt":"{}","run":"{RUN_A}"}}"#,
        edgeship_audit::time::format_time(t0 + 3)
    ));
    input.push(format!(
        r#"{{"hostname":"cp1001","sequence":50,"dt":"-","run":"{RUN_A}"}}"#
    ));
    input.extend(lines("cp1001", Some(RUN_A), &stream(51, 50, t0 + 6, 10)));
    let report = audit(&input);
    let rows = rows_of(&report, "cp1001");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].count_null_sequence, 1);
    assert_eq!(rows[0].count_incomplete, 1);
    assert_eq!(rows[0].count_actual, 101);
    assert_eq!(rows[0].count_lost, 0);
}

#[test]
fn a_gap_across_the_hour_is_shared_by_its_neighbours_times() {
    // 12:59:50 .. 13:00:10 lost: 200 numbers, half stamped on each side.
    let boundary = base_time() + HOUR;
    let items = stream(0, 2000, boundary - 100, 10);
    let kept: Vec<_> = items
        .iter()
        .copied()
        .filter(|&(_, t)| !(boundary - 10..boundary + 10).contains(&t))
        .collect();
    let lost = lost_by_hour(&audit(&lines("cp1001", Some(RUN_A), &kept)), "cp1001");
    assert_eq!(lost.values().sum::<u64>(), 200);
    // The neighbours are stamped to the second (12:59:49 and 13:00:10), so the split is an
    // estimate: right to within the records of one second (10 here) of the truth, 100 each.
    assert!(lost[&hour_of(boundary - 1)].abs_diff(100) <= 10, "{lost:?}");
    assert!(lost[&hour_of(boundary)].abs_diff(100) <= 10, "{lost:?}");
}

#[test]
fn a_host_whose_records_all_vanish_is_all_loss() {
    // Heartbeats arrive but no record does: 600 numbers assigned, none delivered.
    let t0 = base_time() + 60;
    let mut input = vec![heartbeat("cp1001", RUN_A, t0, None)];
    for k in 1..=6 {
        input.push(heartbeat(
            "cp1001",
            RUN_A,
            t0 + k * 10,
            Some(k as u64 * 100 - 1),
        ));
    }
    let report = audit(&input);
    let rows = rows_of(&report, "cp1001");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].count_lost, rows[0].count_expected, rows[0].status),
        (600, 600, Status::Error)
    );
}

#[test]
fn window_bounds_limit_rows_and_loss_to_the_window() {
    let t0 = base_time();
    let items = stream(0, 3 * 36_000, t0, 10); // 12:00 to 15:00
    let (kept, removed) = remove_random(&items, 3000, 21);
    let input = lines("cp1001", Some(RUN_A), &kept);
    let config = Config {
        from: Some(t0 + HOUR),
        to: Some(t0 + 2 * HOUR),
        ..Config::default()
    };
    let report = audit_with(config, &input);
    let rows = rows_of(&report, "cp1001");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].hour, hour_of(t0) + 1);
    let truth = per_hour(&removed)[&(hour_of(t0) + 1)];
    // Only boundary gaps can move a number across the window edge.
    assert!(
        rows[0].count_lost.abs_diff(truth) <= 3,
        "{} vs {truth}",
        rows[0].count_lost
    );
    assert_eq!(rows[0].count_actual, per_hour(&kept)[&(hour_of(t0) + 1)]);
}

#[test]
fn memory_grows_with_gaps_and_groups_not_records() {
    let mut auditor = Auditor::new(Config::default());
    let source = auditor.add_source("test");
    let t0 = base_time();
    let mut line = String::new();
    for host in 0..3u64 {
        for n in 0..200_000u64 {
            // Ten one-number gaps per host: 7, 20_007, ..., 180_007.
            if n % 20_000 == 7 {
                continue;
            }
            line.clear();
            line.push_str(&record(
                &format!("cp{host}"),
                Some(RUN_A),
                n,
                t0 + (n / 30) as i64,
            ));
            auditor.ingest(
                line.as_bytes(),
                &Origin {
                    source,
                    ..Origin::default()
                },
            );
        }
    }
    let footprint = auditor.footprint();
    assert_eq!(footprint.runs, 3);
    assert_eq!(footprint.spans, 3 * 11);
    assert_eq!(footprint.hours, 3 * 2);
    let report = auditor.finish();
    assert_eq!(report.rows.iter().map(|r| r.count_lost).sum::<u64>(), 30);
}

/// Found by the `audit_record` fuzz target: numbers at the ends of the `u64` range put more
/// numbers between them than the counts can hold. The counts saturate instead of overflowing
/// (a panic in debug builds, nonsense in release ones).
#[test]
fn numbers_at_the_ends_of_the_range_saturate_the_counts() {
    let t0 = base_time();
    for (high, lost, expected, different) in [
        (u64::MAX, u64::MAX - 1, u64::MAX, i64::MAX),
        ((1 << 63) + 5, (1 << 63) + 4, (1 << 63) + 6, i64::MAX),
        (1 << 62, (1 << 62) - 1, (1 << 62) + 1, (1 << 62) - 1),
    ] {
        let report = audit(&lines("cp1001", Some(RUN_A), &[(0, t0), (high, t0 + 1)]));
        let rows = rows_of(&report, "cp1001");
        assert_eq!(rows.len(), 1, "{high}: {rows:?}");
        let row = &rows[0];
        assert_eq!(row.count_actual, 2, "{high}: {row:?}");
        assert_eq!(row.count_lost, lost, "{high}: {row:?}");
        assert_eq!(row.count_expected, expected, "{high}: {row:?}");
        assert_eq!(row.count_different, different, "{high}: {row:?}");
        assert_eq!(row.status, Status::Error, "{high}: {row:?}");
        assert_eq!(report.hours[0].count_lost, lost, "{high}");
    }
}

/// Found by the `audit_record` fuzz target: a second host's heartbeat dated far ahead (here
/// two years) makes the first host silent in every hour in between, one row each. The table,
/// JSON and CSV list every row once under its own hour (writing them used to scan all rows per
/// hour, quadratic in the hours: minutes for a forty-year gap).
#[test]
fn a_far_future_heartbeat_lists_every_silent_hour_once() {
    let t0 = base_time();
    let hours: i64 = 2 * 365 * 24;
    let input = vec![
        heartbeat("cp1001", RUN_A, t0, None),
        heartbeat("cp1002", RUN_B, t0, None),
        heartbeat("cp1002", RUN_B, t0 + hours * HOUR, None),
    ];
    let report = audit(&input);
    let silent: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.kind == RowKind::Silent && r.hostname.as_deref() == Some("cp1001"))
        .collect();
    assert_eq!(
        silent.len() as i64,
        hours,
        "one silent row per hour after the first"
    );
    assert!(silent.windows(2).all(|w| w[1].hour == w[0].hour + 1));

    let mut table = Vec::new();
    report.write_table(&mut table).expect("writing to a Vec");
    let table = String::from_utf8(table).expect("UTF-8");
    let silent_lines = table
        .lines()
        .filter(|line| line.contains("cp1001") && line.contains("SILENT"))
        .count();
    assert_eq!(
        silent_lines,
        report
            .rows
            .iter()
            .filter(|r| r.hostname.as_deref() == Some("cp1001") && r.kind == RowKind::Silent)
            .count()
    );
    assert_eq!(
        table.lines().filter(|line| line.starts_with("== ")).count(),
        report.hours.len()
    );
    // Each hour's rows come right before that hour's roll-up line, with the same hour.
    let mut pending: Vec<&str> = Vec::new();
    let mut rows_seen = 0;
    for line in table.lines() {
        if let Some(rest) = line.strip_prefix("== ") {
            let hour = rest.split(' ').next().expect("an hour");
            assert!(
                pending.iter().all(|row_hour| *row_hour == hour),
                "{hour}: {pending:?}"
            );
            rows_seen += pending.len();
            pending.clear();
        } else if line.contains("cp100") && !line.starts_with("!! ") {
            // Lines starting `!! ` are findings (cp1001's run sent no heartbeat after its
            // first), not rows.
            pending.push(line.split_whitespace().next().expect("an hour column"));
        }
    }
    assert!(
        pending.is_empty(),
        "rows after the last roll-up: {pending:?}"
    );
    assert_eq!(rows_seen, report.rows.len());

    let mut csv = Vec::new();
    report.write_csv(&mut csv).expect("writing to a Vec");
    let csv = String::from_utf8(csv).expect("UTF-8");
    // Findings lines name hosts too; rows are the lines of kind `row`.
    let csv_rows = csv
        .lines()
        .filter(|line| line.contains("cp100") && line.starts_with("row,"))
        .count();
    assert_eq!(csv_rows, report.rows.len(), "one line per row");
}
