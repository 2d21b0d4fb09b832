//! The arithmetic every fault is checked by: requests served by varnishd, records in the topic
//! (read back independently, heartbeats excluded, each known by its unique URL), and what the
//! audit reported or flagged; and the table row that shows them.

use std::collections::{BTreeMap, BTreeSet};

use crate::audit::Audit;
use crate::common::Landed;
use crate::traffic::Sent;

/// How many runs of consecutive first arrivals an outcome keeps to show.
const ARRIVAL_SHOWN: usize = 16;

/// The marker request's id (the traffic's ids count up from 0).
const MARKER: u64 = u64::MAX;

/// testkit's probe, which a restarted varnishd serves (and logs) before it is handed back.
pub(crate) const PROBE: &str = "/edgeship-probe";

/// Every request the test made varnishd serve.
pub(crate) struct Requests {
    /// The traffic's requests.
    pub(crate) sent: Sent,
    /// The marker request's URL, served last (none when a capture was shipped).
    pub(crate) marker: Option<String>,
    /// How many probe requests varnishd served while edgeship was reading (one per restart).
    pub(crate) probes: u64,
}

/// What one fault scenario ended with.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The fault's name.
    pub(crate) fault: &'static str,
    /// Requests varnishd answered (the marker included).
    pub(crate) served: u64,
    /// Requests sent without an answer (a connection failed under them): not served, but
    /// their records are not garbage either.
    pub(crate) unanswered: u64,
    /// Served requests whose record is in the topic.
    pub(crate) in_topic: u64,
    /// Records of requests sent without an answer that are in the topic anyway.
    pub(crate) unanswered_in_topic: u64,
    /// Served requests whose record is not in the topic.
    pub(crate) missing: u64,
    /// Records beyond the first for the same request.
    pub(crate) duplicates: u64,
    /// Records that are no request the test sent.
    pub(crate) garbage: u64,
    /// Records that arrived (first, duplicates aside) after a higher sequence number of the
    /// same host's run: breaks of per-host order.
    pub(crate) out_of_order: u64,
    /// The first arrivals in arrival order, as runs of consecutive sequence numbers (the
    /// first few; one when everything arrived in order).
    pub(crate) arrival: Vec<(u64, u64)>,
    /// Records per run, the run told by the heartbeat before them in the partition (each run
    /// starts with a heartbeat, sent before any of its records).
    pub(crate) by_run: BTreeMap<String, u64>,
    /// The audit of the topic.
    pub(crate) audit: Audit,
}

impl Outcome {
    /// Counts `messages` (the whole topic) against what the traffic `sent`.
    pub(crate) fn tally(
        fault: &'static str,
        requests: &Requests,
        messages: &[Landed],
        audit: Audit,
    ) -> Outcome {
        let Requests {
            sent,
            marker,
            probes,
        } = requests;
        let prefix = format!("/f/{fault}/");
        let mut ordered: Vec<&Landed> = messages.iter().collect();
        ordered.sort_by_key(|m| (m.partition, m.offset));
        let mut seen = BTreeSet::new();
        let mut outcome = Outcome {
            fault,
            served: sent.answered.len() as u64 + u64::from(marker.is_some()) + probes,
            unanswered: sent.unanswered.len() as u64,
            in_topic: 0,
            unanswered_in_topic: 0,
            missing: 0,
            duplicates: 0,
            garbage: 0,
            out_of_order: 0,
            arrival: Vec::new(),
            by_run: BTreeMap::new(),
            audit,
        };
        let mut order = Order::default();
        let mut run = String::from("(before any heartbeat)");
        let mut probes_seen = 0;
        for message in ordered {
            if message.is_heartbeat() {
                run = message.json["run"].as_str().unwrap_or_default().to_owned();
                continue;
            }
            // A record names its run in its header; one replayed from a spool lands after the
            // next run's heartbeats, so arrival order alone would give it the wrong run.
            let run = message
                .header("edgeship.run")
                .unwrap_or_else(|| run.clone());
            if !order.arrived(message, &run) {
                outcome.out_of_order += 1;
            }
            let path = message.json["uri_path"].as_str().unwrap_or_default();
            if path == PROBE && probes_seen < *probes {
                probes_seen += 1;
                outcome.in_topic += 1;
                *outcome.by_run.entry(run.clone()).or_default() += 1;
                continue;
            }
            let id = if marker.as_deref() == Some(path) {
                Some(MARKER)
            } else {
                path.strip_prefix(&prefix).and_then(|id| id.parse().ok())
            };
            let known = id.filter(|id| {
                *id == MARKER || sent.answered.contains(id) || sent.unanswered.contains(id)
            });
            let Some(id) = known else {
                outcome.garbage += 1;
                continue;
            };
            *outcome.by_run.entry(run.clone()).or_default() += 1;
            if !seen.insert(id) {
                outcome.duplicates += 1;
            } else if sent.unanswered.contains(&id) {
                outcome.unanswered_in_topic += 1;
            } else {
                outcome.in_topic += 1;
            }
        }
        outcome.missing = outcome.served - outcome.in_topic;
        outcome.arrival = order.segments.into_iter().take(ARRIVAL_SHOWN).collect();
        outcome
    }

    /// Every record arrived in per-host order: the first copy of each sequence number of a
    /// host's run after the first copies of all lower ones (a duplicate, sent again after its
    /// first copy landed, is counted as one, not as an order break).
    pub(crate) fn assert_in_order(&self) {
        assert_eq!(
            self.out_of_order, 0,
            "records arrived after a higher sequence number of their host's run: {self:#?}"
        );
    }

    /// Loss the audit reported that is not really missing.
    pub(crate) fn invented_loss(&self) -> u64 {
        self.audit.lost().saturating_sub(self.missing)
    }

    /// The checks every fault must pass: every served request is in the topic or in the
    /// audit's reported or flagged loss; no invented loss or duplicates; no garbage.
    pub(crate) fn assert_accounted(&self) {
        assert_eq!(self.duplicates, 0, "duplicates in the topic: {self:#?}");
        self.assert_accounted_with_duplicates();
    }

    /// As [`Outcome::assert_accounted`], but duplicates may be in the topic (a record whose
    /// delivery timed out in flight, sent again from the spool after the broker had written
    /// it): the audit must count exactly them.
    pub(crate) fn assert_accounted_with_duplicates(&self) {
        let audit = &self.audit;
        assert_eq!(self.garbage, 0, "garbage records in the topic: {self:#?}");
        assert_eq!(
            audit.duplicates(),
            self.duplicates,
            "the audit counts exactly the duplicates in the topic: {self:#?}"
        );
        assert_eq!(audit.bad_input, 0, "the audit read bad input: {self:#?}");
        // The audit's actual count includes the duplicates; the topic's counts are distinct.
        assert_eq!(
            audit.actual(),
            self.in_topic + self.unanswered_in_topic + self.duplicates,
            "the audit counted every record in the topic: {self:#?}"
        );
        assert_eq!(
            self.invented_loss(),
            0,
            "the audit invented loss: {self:#?}"
        );
        if self.missing > audit.lost() + audit.shipper_lost {
            assert!(
                !audit.flags().is_empty(),
                "{} served requests are missing, the audit reported {} and flagged nothing: \
                 {self:#?}",
                self.missing,
                audit.lost() + audit.shipper_lost
            );
        }
        if self.missing > 0 || !audit.flags().is_empty() {
            assert_ne!(audit.exit, Some(0), "loss or a flag, and exit 0: {self:#?}");
        }
    }

    /// The audit attributed every run's records exactly as they are in the topic.
    pub(crate) fn assert_runs_exact(&self) {
        let audited: BTreeMap<String, u64> = self
            .audit
            .runs
            .iter()
            .map(|(run, totals)| (run.clone(), totals.actual))
            .filter(|(_, actual)| *actual > 0)
            .collect();
        assert_eq!(
            audited, self.by_run,
            "records per run, audit vs topic: {self:#?}"
        );
    }

    /// Prints the row and runs the checks every fault must pass ([`Outcome::assert_accounted`],
    /// [`Outcome::assert_runs_exact`]), with `runs` runs in the topic.
    pub(crate) fn check(&self, runs: usize) {
        self.print();
        self.assert_accounted();
        self.assert_runs_exact();
        assert_eq!(self.by_run.len(), runs, "runs in the topic: {self:#?}");
    }

    /// As [`Outcome::check`], for a run with a spool: duplicates may be in the topic and the
    /// audit must count exactly them ([`Outcome::assert_accounted_with_duplicates`]).
    pub(crate) fn check_spooled(&self, runs: usize) {
        self.print();
        self.assert_accounted_with_duplicates();
        self.assert_runs_exact();
        assert_eq!(self.by_run.len(), runs, "runs in the topic: {self:#?}");
    }

    /// The table's header.
    pub(crate) fn header() -> String {
        "| fault | served | in topic | audit loss reported | flagged (what) | invented loss | \
         duplicates | garbage |\n|---|---|---|---|---|---|---|---|"
            .to_owned()
    }

    /// This fault's row of the table.
    pub(crate) fn row(&self) -> String {
        let audit = &self.audit;
        let mut flags: Vec<&str> = audit.flags();
        flags.dedup();
        let flagged = if flags.is_empty() {
            "-".to_owned()
        } else {
            format!("{} (exit {})", flags.join(", "), audit.exit.unwrap_or(-1))
        };
        format!(
            "| {} | {} | {} | {} sequence + {} shipper-counted | {flagged} | {} | {} | {} |",
            self.fault,
            self.served,
            self.in_topic,
            audit.lost(),
            audit.shipper_lost,
            self.invented_loss(),
            self.duplicates + audit.duplicates(),
            self.garbage
        )
    }

    /// Prints the row (with the header, and the unanswered requests when there were some)
    /// for `--nocapture` runs: docs/faults.md is made of these.
    // The table is this suite's report: printing it is the point.
    #[allow(clippy::print_stdout)]
    pub(crate) fn print(&self) {
        println!("{}\n{}", Outcome::header(), self.row());
        if self.out_of_order > 0 {
            println!(
                "({}: {} records arrived after a higher sequence number of their host's run; \
                 arrival order: {:?})",
                self.fault, self.out_of_order, self.arrival
            );
        }
        if self.unanswered > 0 {
            println!(
                "({}: {} requests sent without an answer, {} of them in the topic)",
                self.fault, self.unanswered, self.unanswered_in_topic
            );
        }
    }
}

/// Per host and run: the sequence numbers that arrived, and the highest one so far.
#[derive(Default)]
struct Order {
    runs: BTreeMap<(String, String), (BTreeSet<u64>, u64)>,
    /// Arrival order as runs of consecutive first arrivals (first, last), hosts and runs
    /// interleaved as they arrived: where the order broke, for the failure message.
    segments: Vec<(u64, u64)>,
}

impl Order {
    /// Notes `message` (a record of `run`, in partition order); returns false when its
    /// sequence number arrives for the first time after a higher one of its host's run.
    fn arrived(&mut self, message: &Landed, run: &str) -> bool {
        let (Some(host), Some(sequence)) = (
            message.json["hostname"].as_str(),
            message.json["sequence"].as_u64(),
        ) else {
            return true;
        };
        let (seen, highest) = self
            .runs
            .entry((host.to_owned(), run.to_owned()))
            .or_default();
        if !seen.insert(sequence) {
            return true;
        }
        let in_order = seen.len() == 1 || sequence > *highest;
        *highest = (*highest).max(sequence);
        match self.segments.last_mut() {
            Some((_, last)) if sequence == *last + 1 => *last = sequence,
            _ => self.segments.push((sequence, sequence)),
        }
        in_order
    }
}
