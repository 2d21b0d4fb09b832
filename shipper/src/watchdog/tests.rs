//! The watchdog's judgement over counter snapshots: each clause of "progress" in the module
//! documentation, and the cases that must not restart a healthy shipper.

use super::*;

/// A snapshot after steady shipping: 1000 read and produced, 990 delivered, 5 failed.
fn shipping() -> Snapshot {
    Snapshot {
        transactions_read: 1000,
        records_produced: 1000,
        records_delivered: 990,
        delivery_failed: 5,
        ..Snapshot::default()
    }
}

#[test]
fn reading_and_delivering_in_the_window_is_progress() {
    let before = shipping();
    let after = Snapshot {
        transactions_read: 1100,
        records_produced: 1100,
        records_delivered: 1080,
        ..before
    };
    assert_eq!(
        judge(&before, &after, Acknowledged::ByDeliveryReport),
        Verdict::Progress
    );
}

#[test]
fn an_idle_log_with_nothing_waiting_is_progress() {
    let before = Snapshot {
        records_delivered: 995,
        ..shipping()
    };
    assert_eq!(waiting(&before), 0);
    assert_eq!(
        judge(&before, &before, Acknowledged::ByDeliveryReport),
        Verdict::Progress
    );
}

#[test]
fn records_waiting_with_no_delivery_in_the_window_is_a_delivery_stall() {
    // The broker is gone: the reader keeps reading, nothing is acknowledged.
    let before = shipping();
    let after = Snapshot {
        transactions_read: 1500,
        records_produced: 1500,
        ..before
    };
    assert_eq!(
        judge(&before, &after, Acknowledged::ByDeliveryReport),
        Verdict::DeliveryStalled { waiting: 505 }
    );
    // And with the traffic stopped too: what waits still waits.
    assert_eq!(
        judge(&after, &after, Acknowledged::ByDeliveryReport),
        Verdict::DeliveryStalled { waiting: 505 }
    );
}

#[test]
fn failures_end_a_wait_but_are_not_deliveries() {
    let before = shipping();
    // Everything left failed in the window: nothing waits, so no stall (an alert, no restart).
    let all_failed = Snapshot {
        delivery_failed: 7,
        delivery_failed_maybe_persisted: 3,
        ..before
    };
    assert_eq!(
        judge(&before, &all_failed, Acknowledged::ByDeliveryReport),
        Verdict::Progress
    );
    // Some failed, the rest still wait, none delivered: a stall.
    let some_failed = Snapshot {
        delivery_failed: 8,
        ..before
    };
    assert_eq!(
        judge(&before, &some_failed, Acknowledged::ByDeliveryReport),
        Verdict::DeliveryStalled { waiting: 2 }
    );
}

#[test]
fn one_delivery_in_the_window_is_progress_even_with_records_waiting() {
    let before = shipping();
    let after = Snapshot {
        transactions_read: 5000,
        records_produced: 5000,
        records_delivered: 991,
        ..before
    };
    assert_eq!(
        judge(&before, &after, Acknowledged::ByDeliveryReport),
        Verdict::Progress
    );
}

#[test]
fn a_log_that_overruns_or_loses_while_nothing_is_read_is_a_reader_stall() {
    let before = Snapshot {
        records_delivered: 995,
        ..shipping()
    };
    for after in [
        Snapshot {
            log_overruns: 1,
            ..before
        },
        Snapshot {
            transactions_lost: 40,
            ..before
        },
    ] {
        assert_eq!(
            judge(&before, &after, Acknowledged::ByDeliveryReport),
            Verdict::ReaderStalled
        );
        assert_eq!(
            judge(&before, &after, Acknowledged::OnProduce),
            Verdict::ReaderStalled,
            "whatever the output"
        );
    }
}

#[test]
fn an_overrun_the_reader_recovers_from_in_the_window_is_progress() {
    let before = Snapshot {
        records_delivered: 995,
        ..shipping()
    };
    let after = Snapshot {
        log_overruns: 1,
        transactions_lost: 40,
        transactions_read: 1200,
        records_produced: 1200,
        records_delivered: 1190,
        ..before
    };
    assert_eq!(
        judge(&before, &after, Acknowledged::ByDeliveryReport),
        Verdict::Progress
    );
}

#[test]
fn requests_left_out_by_the_query_or_skipped_count_as_reading() {
    let before = Snapshot {
        records_delivered: 995,
        ..shipping()
    };
    for after in [
        Snapshot {
            log_overruns: 1,
            transactions_unselected: 10,
            ..before
        },
        Snapshot {
            log_overruns: 1,
            esi_skipped: 3,
            ..before
        },
    ] {
        assert_eq!(
            judge(&before, &after, Acknowledged::ByDeliveryReport),
            Verdict::Progress
        );
    }
}

#[test]
fn outputs_without_delivery_reports_never_wait() {
    // Standard output counts records produced and never delivered.
    let before = Snapshot {
        transactions_read: 10,
        records_produced: 10,
        ..Snapshot::default()
    };
    assert_eq!(
        judge(&before, &before, Acknowledged::OnProduce),
        Verdict::Progress
    );
    assert_eq!(
        judge(&before, &before, Acknowledged::ByDeliveryReport),
        Verdict::DeliveryStalled { waiting: 10 },
        "the same counters under Kafka are a stall"
    );
}

#[test]
fn the_status_line_names_the_stall_and_the_totals() {
    let counters = shipping();
    assert_eq!(
        status(Verdict::Progress, &counters),
        "shipping: 1000 read, 990 delivered, 5 waiting"
    );
    assert!(status(Verdict::DeliveryStalled { waiting: 5 }, &counters)
        .starts_with("stalled: records wait"));
    assert!(status(Verdict::ReaderStalled, &counters).starts_with("stalled: the log overran"));
}
