//! The watchdog's judgement over counter snapshots: each clause of "progress" in the module
//! documentation, and the cases that must not restart a healthy shipper, as one table of
//! windows (counters before, counters after, output, verdict).

use super::*;

use Acknowledged::{ByDeliveryReport as Kafka, OnProduce as Stdout};

/// After steady shipping: 1000 read and produced, 990 delivered, 5 failed, 5 waiting.
fn shipping() -> Snapshot {
    Snapshot {
        transactions_read: 1000,
        records_produced: 1000,
        records_delivered: 990,
        delivery_failed: 5,
        ..Snapshot::default()
    }
}

/// [`shipping`] with every record delivered: nothing waits.
fn settled() -> Snapshot {
    Snapshot {
        records_delivered: 995,
        ..shipping()
    }
}

/// One window: what it shows, the counters at its start and end, the output, the verdict.
struct Case {
    what: &'static str,
    before: Snapshot,
    after: Snapshot,
    acknowledged: Acknowledged,
    verdict: Verdict,
}

/// The delivery clause's windows, each with the verdict it must get.
fn delivery_cases() -> Vec<Case> {
    let (shipping, settled) = (shipping(), settled());
    vec![
        Case {
            what: "reading and delivering",
            before: shipping,
            after: Snapshot {
                transactions_read: 1100,
                records_produced: 1100,
                records_delivered: 1080,
                ..shipping
            },
            acknowledged: Kafka,
            verdict: Verdict::Progress,
        },
        Case {
            what: "an idle log with nothing waiting",
            before: settled,
            after: settled,
            acknowledged: Kafka,
            verdict: Verdict::Progress,
        },
        Case {
            what: "the broker gone: reading goes on, nothing is acknowledged",
            before: shipping,
            after: Snapshot {
                transactions_read: 1500,
                records_produced: 1500,
                ..shipping
            },
            acknowledged: Kafka,
            verdict: Verdict::DeliveryStalled { waiting: 505 },
        },
        Case {
            what: "the broker gone and the traffic stopped: what waits still waits",
            before: shipping,
            after: shipping,
            acknowledged: Kafka,
            verdict: Verdict::DeliveryStalled { waiting: 5 },
        },
        Case {
            what: "everything left failed: nothing waits (an alert, not a restart)",
            before: shipping,
            after: Snapshot {
                delivery_failed: 7,
                delivery_failed_maybe_persisted: 3,
                ..shipping
            },
            acknowledged: Kafka,
            verdict: Verdict::Progress,
        },
        Case {
            what: "some failed, the rest wait, none delivered: failures are not deliveries",
            before: shipping,
            after: Snapshot {
                delivery_failed: 8,
                ..shipping
            },
            acknowledged: Kafka,
            verdict: Verdict::DeliveryStalled { waiting: 2 },
        },
        Case {
            what: "one delivery in the window, many waiting",
            before: shipping,
            after: Snapshot {
                transactions_read: 5000,
                records_produced: 5000,
                records_delivered: 991,
                ..shipping
            },
            acknowledged: Kafka,
            verdict: Verdict::Progress,
        },
    ]
}

/// The reading clause's windows, and the outputs without delivery reports.
fn reading_cases() -> Vec<Case> {
    let settled = settled();
    // Ten records written and no delivery report (none comes for standard output).
    let written = Snapshot {
        transactions_read: 10,
        records_produced: 10,
        ..Snapshot::default()
    };
    vec![
        Case {
            what: "an overrun and nothing read",
            before: settled,
            after: Snapshot {
                log_overruns: 1,
                ..settled
            },
            acknowledged: Kafka,
            verdict: Verdict::ReaderStalled,
        },
        Case {
            what: "transactions lost and nothing read, whatever the output",
            before: settled,
            after: Snapshot {
                transactions_lost: 40,
                ..settled
            },
            acknowledged: Stdout,
            verdict: Verdict::ReaderStalled,
        },
        Case {
            what: "an overrun the reader recovered from in the window",
            before: settled,
            after: Snapshot {
                log_overruns: 1,
                transactions_lost: 40,
                transactions_read: 1200,
                records_produced: 1200,
                records_delivered: 1190,
                ..settled
            },
            acknowledged: Kafka,
            verdict: Verdict::Progress,
        },
        Case {
            what: "requests the query left out are reading",
            before: settled,
            after: Snapshot {
                log_overruns: 1,
                transactions_unselected: 10,
                ..settled
            },
            acknowledged: Kafka,
            verdict: Verdict::Progress,
        },
        Case {
            what: "ESI sub-requests skipped are reading",
            before: settled,
            after: Snapshot {
                log_overruns: 1,
                esi_skipped: 3,
                ..settled
            },
            acknowledged: Kafka,
            verdict: Verdict::Progress,
        },
        Case {
            what: "standard output: produced and never delivered is done",
            before: written,
            after: written,
            acknowledged: Stdout,
            verdict: Verdict::Progress,
        },
        Case {
            what: "the same counters under Kafka wait for delivery reports",
            before: written,
            after: written,
            acknowledged: Kafka,
            verdict: Verdict::DeliveryStalled { waiting: 10 },
        },
    ]
}

#[test]
fn each_window_gets_its_verdict() {
    for case in delivery_cases().into_iter().chain(reading_cases()) {
        assert_eq!(
            judge(&case.before, &case.after, case.acknowledged),
            case.verdict,
            "{}",
            case.what
        );
    }
}

#[test]
fn waiting_is_produced_minus_every_delivery_report() {
    assert_eq!(waiting(&shipping()), 5);
    assert_eq!(waiting(&settled()), 0);
    let over_reported = Snapshot {
        records_delivered: 1001,
        ..shipping()
    };
    assert_eq!(waiting(&over_reported), 0, "never below zero");
}

#[test]
fn the_status_line_names_the_stall_and_the_totals() {
    assert_eq!(
        status(Verdict::Progress, &shipping()),
        "shipping: 1000 read, 990 delivered, 5 waiting"
    );
    assert!(status(Verdict::DeliveryStalled { waiting: 5 }, &shipping())
        .starts_with("stalled: records wait"));
    assert!(status(Verdict::ReaderStalled, &shipping()).starts_with("stalled: the log overran"));
}
