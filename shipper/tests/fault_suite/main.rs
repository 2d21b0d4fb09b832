//! The end-to-end fault suite (issue 12, deliver 4): for each fault, real processes (testkit's
//! varnishd and tansu, the `edgeship` and `edgeship-audit` binaries), real HTTP traffic with
//! unique URLs, the seed's format (hostname, sequence, dt: no run field) shipped to Kafka, and
//! one check:
//!
//! requests served by varnishd = records in the topic + loss the audit reports or flags,
//!
//! with no loss or duplicates the audit invents and no garbage record (every record's URL is
//! a request the test sent). Every fault runs through the one driver (`scenario.rs`), is
//! counted by `tally.rs`, and prints its row of the table kept in docs/faults.md (run with
//! `--nocapture` to see it).

// clippy.toml lets tests unwrap; the helpers below are test code too.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod scenario;
mod tally;
mod traffic;

use scenario::Scenario;

/// Requests served in each phase of a scenario: a few thousand in all, a few seconds each.
const PHASE: u64 = 1500;

#[test]
fn a_clean_restart_under_traffic_is_audited_exactly_and_its_unread_window_flagged() {
    let mut scenario = Scenario::start("clean-restart", &[]);
    scenario.traffic(PHASE);
    let status = scenario.stop_edgeship();
    assert_eq!(status.code(), Some(0), "a clean stop");
    // Start again at once: what varnishd serves in between is never read.
    scenario.start_edgeship();
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    outcome.check(2);
    // Both runs numbered and delivered everything they read: no sequence loss at all.
    assert_eq!(outcome.audit.lost(), 0, "{outcome:#?}");
    assert!(
        outcome.audit.flagged("unread_window"),
        "the window between the runs is flagged: {outcome:#?}"
    );
    assert!(
        !outcome.audit.flagged("ended_without_final"),
        "a clean stop ends with its final heartbeat: {outcome:#?}"
    );
    assert_ne!(outcome.audit.exit, Some(0), "{outcome:#?}");
}

#[test]
fn a_killed_run_is_flagged_ended_without_a_final_heartbeat_and_audited_exactly() {
    let mut scenario = Scenario::start("sigkill-restart", &[]);
    scenario.traffic(PHASE);
    // Killed while traffic flows and records are on their way (a run that dies before the
    // topic has anything of it leaves nothing to audit).
    scenario.delivered(PHASE as usize / 2);
    scenario.kill_edgeship();
    scenario.start_edgeship();
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    outcome.check(2);
    assert!(
        outcome.audit.flagged("ended_without_final"),
        "the killed run is flagged: {outcome:#?}"
    );
    assert!(
        outcome.audit.flagged("unread_window"),
        "the window between the runs is flagged: {outcome:#?}"
    );
}

#[test]
fn a_stop_during_a_broker_outage_ends_and_what_it_could_not_deliver_is_flagged() {
    // Records time out after 5 s: the stop cannot wait for a broker that is not there.
    let mut scenario =
        Scenario::start("stop-in-outage", &["kafka.topic.message.timeout.ms = 5000"]);
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    scenario.broker_down();
    scenario.traffic(PHASE);
    // The stop ends by itself (the wait is bounded by the test's patience, not asserted).
    scenario.stop_edgeship();
    scenario.broker_up();
    scenario.start_edgeship();
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    outcome.print();

    outcome.assert_accounted();
    outcome.assert_runs_exact();
    assert!(
        outcome.missing >= PHASE,
        "the outage lost records: {outcome:#?}"
    );
    assert!(
        outcome.audit.flagged("ended_without_final"),
        "the first run's final heartbeat never reached the broker: {outcome:#?}"
    );
}

#[test]
fn a_second_signal_during_a_stop_that_waits_for_the_broker_is_flagged() {
    let mut scenario = Scenario::start("second-signal", &[]);
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    scenario.broker_down();
    scenario.traffic(PHASE);
    let status = scenario.stop_edgeship_twice();
    assert_ne!(
        status.code(),
        Some(0),
        "a second signal cuts the stop short"
    );
    scenario.broker_up();
    scenario.start_edgeship();
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    outcome.print();

    outcome.assert_accounted();
    outcome.assert_runs_exact();
    assert!(
        outcome.audit.flagged("ended_without_final"),
        "the first run ended without its final heartbeat: {outcome:#?}"
    );
}

#[test]
fn varnishd_restarted_under_load_loses_nothing_unflagged() {
    let mut scenario = Scenario::start("varnishd-restart", &[]);
    scenario.traffic(PHASE);
    scenario.restart_varnishd();
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    outcome.check(1);
    assert_eq!(
        outcome.missing, 0,
        "every request either varnishd answered is in the topic: {outcome:#?}"
    );
}

#[test]
fn a_ring_wrapped_under_back_pressure_ships_no_garbage_and_the_audit_reports_the_overrun() {
    // The smallest log ring Varnish allows, and a small producer queue that blocks when full:
    // with the broker away the queue fills, the reader stops draining the log, and the
    // traffic wraps the ring under it.
    let mut scenario = Scenario::start_with(
        "ring-wrap",
        &["kafka.queue.buffering.max.messages = 1000"],
        edgeship_testkit::varnishd::Varnishd::builder().param("vsl_space", "1M"),
    );
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    scenario.broker_down();
    scenario.traffic(4 * PHASE);
    // Back well within the records' message timeout (60 s): what was queued is delivered.
    scenario.broker_up();
    scenario.traffic(PHASE);
    // The one-megabyte ring holds a fraction of a second of this traffic: let edgeship catch
    // up before the marker request, or the marker may be lost to a further overrun.
    scenario.caught_up();
    scenario.traffic(PHASE / 10);
    let outcome = scenario.finish();
    outcome.check(1);
    assert!(outcome.missing > 0, "the ring wrapped: {outcome:#?}");
    assert!(
        outcome.audit.shipper_lost > 0,
        "the audit reports the overrun the heartbeats counted: {outcome:#?}"
    );
}

#[test]
fn deliveries_resume_after_the_broker_was_unreachable_for_longer_than_the_message_timeout() {
    // Records time out after 2 s; the broker stays away for longer.
    let mut scenario = Scenario::start("broker-outage", &["kafka.topic.message.timeout.ms = 2000"]);
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    scenario.broker_down();
    scenario.traffic(PHASE);
    // Nothing is delivered while records time out, and no broker is there to say the
    // producer is fenced: it is replaced anyway, while the broker is still away.
    scenario.wait_logged("replacing the Kafka producer");
    scenario.broker_up();
    // The instance created during the outage delivers once the broker is back (records sent
    // while it reconnects may time out too: the first one after this point that lands will do).
    scenario.deliveries_resumed();
    scenario.traffic(PHASE);
    // The same run delivers again: the marker request `finish` waits for is after the outage.
    let outcome = scenario.finish();
    outcome.check(1);
    assert!(outcome.missing > 0, "the outage lost records: {outcome:#?}");
    assert_eq!(
        outcome.audit.lost() + outcome.audit.shipper_lost,
        outcome.missing,
        "what timed out is reported as loss, exactly: {outcome:#?}"
    );
}

/// A scenario with a spool (and `extra` lines) and records that time out after 3 s, its
/// broker cut after a phase of traffic delivered, and a phase of traffic served since.
fn spool_outage(fault: &'static str, extra: &[&str]) -> Scenario {
    spool_outage_timing_out(fault, 3000, extra)
}

/// As [`spool_outage`], records timing out after `message_timeout_ms`.
fn spool_outage_timing_out(
    fault: &'static str,
    message_timeout_ms: u32,
    extra: &[&str],
) -> Scenario {
    let timeout = format!("kafka.topic.message.timeout.ms = {message_timeout_ms}");
    let mut lines = vec![timeout.as_str(), "edgeship.spool.dir = {dir}/spool"];
    lines.extend_from_slice(extra);
    let mut scenario = Scenario::start(fault, &lines);
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    scenario.broker_down();
    scenario.traffic(PHASE);
    scenario
}

/// How long the broker is away in issue 14's acceptance row for the suite.
const SPOOL_OUTAGE: std::time::Duration = std::time::Duration::from_secs(60);
/// The traffic's pause after each burst during and after that outage: about two thousand
/// requests a second instead of several thousand, still traffic throughout.
const SPOOL_OUTAGE_GAP: std::time::Duration = std::time::Duration::from_millis(10);

#[test]
fn with_a_spool_an_outage_longer_than_the_message_timeout_loses_nothing() {
    // Issue 14's figures: records time out after 10 s, the broker stays away for 60 s, and
    // the traffic flows throughout (before, during and after): what times out, and
    // everything read meanwhile, waits in the spool. (benches/outage runs the 10-minute one.)
    let scenario = spool_outage_timing_out("spool-outage", 10_000, &[]);
    // The cut was a phase of traffic ago: the outage lasts a little longer than this.
    let cut = std::time::Instant::now();
    // A slower stream from here on: at full speed a minute's outage is only more records to
    // drain and read.
    scenario.pace_traffic(SPOOL_OUTAGE_GAP);
    let spilled = scenario.wait_statistic("spool_spilled", "records spooled", |n| n > 0);
    std::thread::sleep(SPOOL_OUTAGE.saturating_sub(cut.elapsed()));
    scenario.broker_up();
    scenario.traffic(PHASE);
    scenario.wait_statistic("spool_records", "the spool drained", |n| n == 0);
    let outcome = scenario.finish();
    outcome.check_spooled(1);
    // Issue 14 asks for per-host order too (fails today: see docs/faults.md, spool-outage).
    outcome.assert_in_order();
    assert!(spilled > 0, "the outage went through the spool");
    assert_eq!(
        outcome.missing, 0,
        "every request served is in the topic: {outcome:#?}"
    );
    assert_eq!(
        outcome.audit.lost(),
        0,
        "the audit reports 0 lost: {outcome:#?}"
    );
}

#[test]
fn a_full_spool_that_drops_the_newest_counts_exactly_what_the_audit_misses() {
    // The smallest spool allowed, and an outage that lasts until it has dropped records.
    let extra = [
        "edgeship.spool.max.bytes = 1048576",
        "edgeship.spool.when_full = drop_newest",
    ];
    let scenario = spool_outage("spool-full-drop", &extra);
    scenario.wait_statistic("spool_dropped", "the spool full and dropping", |n| n > 0);
    scenario.broker_up();
    scenario.traffic(PHASE);
    scenario.wait_statistic("spool_records", "the spool drained", |n| n == 0);
    let dropped = scenario
        .statistic("spool_dropped")
        .expect("the statistics say what was dropped");
    let outcome = scenario.finish();
    outcome.check_spooled(1);
    assert!(dropped > 0, "the spool was full");
    assert_eq!(
        outcome.missing, dropped,
        "what is missing is what the spool dropped: {outcome:#?}"
    );
    assert_eq!(
        outcome.audit.lost(),
        dropped,
        "the audit's loss equals the drop counter: {outcome:#?}"
    );
    assert_eq!(
        outcome.audit.shipper_lost, dropped,
        "and the heartbeats' spool_dropped reaches the audit: {outcome:#?}"
    );
}

#[test]
fn a_stop_in_an_outage_spools_what_librdkafka_held_and_a_damaged_block_is_exactly_the_loss() {
    let mut scenario = spool_outage("spool-stop-damaged", &[]);
    // The stop purges what librdkafka still holds into the spool, rather than losing it.
    assert!(scenario.stop_edgeship().success(), "a clean stop");
    // A byte of the spool's last block flipped while no edgeship runs: its records are lost.
    let damaged = damage_last_block(&scenario.dir().join("spool"));
    scenario.broker_up();
    scenario.start_edgeship();
    scenario.traffic(PHASE);
    let lost = scenario.wait_statistic("spool_lost", "the damaged block counted", |n| n > 0);
    scenario.wait_statistic("spool_records", "the spool drained", |n| n == 0);
    let outcome = scenario.finish();
    outcome.check_spooled(2);
    assert_eq!(
        lost, damaged,
        "spool_lost counts the damaged block's records"
    );
    // The last block's numbers lie after the first run's last heartbeat that reached the
    // broker: no sequence gap shows them, the heartbeats' spool_lost does, exactly.
    assert_eq!(
        outcome.audit.shipper_lost, damaged,
        "the audit reports exactly the damaged block's records lost: {outcome:#?}"
    );
    assert_eq!(
        outcome.audit.lost(),
        0,
        "and no sequence loss: {outcome:#?}"
    );
    assert!(
        outcome.audit.flagged("ended_without_final"),
        "the first run's final heartbeat never reached the broker: {outcome:#?}"
    );
}

#[test]
fn a_full_spool_that_blocks_stops_the_reader_and_the_audit_reports_the_overrun() {
    // The smallest spool and log ring allowed: with the spool full the reader waits, and the
    // traffic wraps the ring under it.
    let mut scenario = Scenario::start_with(
        "spool-full-block",
        &[
            "kafka.topic.message.timeout.ms = 3000",
            "edgeship.spool.dir = {dir}/spool",
            "edgeship.spool.max.bytes = 1048576",
            "edgeship.spool.when_full = block",
        ],
        edgeship_testkit::varnishd::Varnishd::builder().param("vsl_space", "1M"),
    );
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    scenario.broker_down();
    // The wait is logged; no statistics are written while the rendering thread waits.
    scenario.wait_logged("spool full: waiting for room");
    scenario.traffic(4 * PHASE);
    scenario.broker_up();
    scenario.traffic(PHASE);
    scenario.caught_up();
    scenario.traffic(PHASE / 10);
    let waits = scenario.wait_statistic("spool_full_waits", "the wait counted", |n| n > 0);
    let dropped = scenario.statistic("spool_dropped");
    let outcome = scenario.finish();
    outcome.check_spooled(1);
    assert!(waits > 0, "the spool filled up");
    assert_eq!(dropped, Some(0), "nothing was dropped");
    assert!(outcome.missing > 0, "the ring wrapped: {outcome:#?}");
    assert!(
        outcome.audit.shipper_lost > 0,
        "the audit reports the overrun the heartbeats counted: {outcome:#?}"
    );
}

/// Flips a byte in the payload of the last block of the last segment in `spool` (the block
/// format is the spool crate's documented frame); returns the block's record count. The last
/// block holds records read during the outage and never sent: the first blocks may hold
/// records whose delivery timed out in flight when the broker was cut, which the broker may
/// have written (they are then in the topic, not lost).
fn damage_last_block(spool: &std::path::Path) -> u64 {
    let mut segments: Vec<_> = std::fs::read_dir(spool)
        .expect("the spool directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "spool"))
        .collect();
    segments.sort();
    let last = segments.last().expect("the stop left a spool segment");
    let mut bytes = std::fs::read(last).expect("read the segment");
    let field = |bytes: &[u8], at: usize, len: usize| {
        let mut value = [0_u8; 8];
        value[..len].copy_from_slice(&bytes[at..at + len]);
        u64::from_le_bytes(value)
    };
    let mut start = 0;
    let (payload, compressed, count) = loop {
        let block = &bytes[start..];
        assert_eq!(&block[..4], b"ESPB", "a block at {start}");
        let run = field(block, 6, 2) as usize;
        let compressed = field(block, 12, 4) as usize;
        let payload = start + 40 + run + 4;
        if payload + compressed >= bytes.len() {
            break (payload, compressed, field(block, 8, 4));
        }
        start = payload + compressed;
    };
    bytes[payload + compressed / 2] ^= 0xff;
    std::fs::write(last, bytes).expect("write the damaged segment");
    count
}

#[test]
fn a_capture_cut_mid_record_ships_what_it_holds_and_its_run_ends_saying_so() {
    let mut scenario = Scenario::start_without_edgeship("truncated-capture", &[]);
    scenario.traffic(PHASE);
    let capture = scenario.cut_capture();
    let (status, log) = scenario.ship_capture(&capture.file);
    assert_eq!(status.code(), Some(1), "the cut is a reader error:\n{log}");
    assert!(
        log.contains("reading the Varnish log"),
        "the cut is logged:\n{log}"
    );
    let last = scenario.final_heartbeat(1);
    assert_eq!(
        last["reader_errors"], 1,
        "the final heartbeat says so: {last}"
    );
    let outcome = scenario.finish_capture(capture);
    outcome.check(1);
    assert_eq!(
        outcome.missing, 0,
        "every request the cut capture holds, complete or cut, is in the topic: {outcome:#?}"
    );
    assert!(
        !outcome.audit.flagged("ended_without_final"),
        "the audit sees the run end: {outcome:#?}"
    );
}

#[test]
fn a_statistics_file_made_unwritable_mid_run_is_logged_and_counted_while_shipping_goes_on() {
    let mut scenario = Scenario::start("statistics-unwritable", &[]);
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    // The statistics directory is removed, then logrotate's SIGHUP asks for a reopen.
    std::fs::remove_dir_all(scenario.dir().join("statistics")).expect("remove the directory");
    scenario.reopen_signal();
    scenario.wait_logged("cannot reopen the statistics file");
    scenario.traffic(PHASE);
    // Every later write is tried, fails, and is counted in the line that logs it.
    scenario.wait_logged("failed writes so far");
    let outcome = scenario.finish();
    outcome.check(1);
    assert_eq!(
        outcome.missing, 0,
        "shipping went on: every request is in the topic: {outcome:#?}"
    );
}

#[test]
fn a_reader_error_ships_what_was_read_and_ends_its_run_with_a_final_heartbeat_and_exit_1() {
    // No live log fails on purpose: the test hook makes the reader fail after 400 reads.
    let hook = ("EDGESHIP_TEST_READER_ERROR_AFTER_READS", "400");
    let mut scenario = Scenario::start_with_env("reader-error", &[], &[hook]);
    scenario.traffic(PHASE);
    let (status, log) = scenario.wait_edgeship_exit();
    assert_eq!(status.code(), Some(1), "a reader failure:\n{log}");
    assert!(
        log.contains("EDGESHIP_TEST_READER_ERROR_AFTER_READS reached"),
        "{log}"
    );
    let last = scenario.final_heartbeat(1);
    assert_eq!(
        last["reader_errors"], 1,
        "the final heartbeat says so: {last}"
    );
    // Started again, as a supervisor would (systemd's Restart=on-failure).
    scenario.start_edgeship();
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    outcome.check(2);
    assert_eq!(
        outcome.audit.lost(),
        0,
        "everything the failed run read was shipped: {outcome:#?}"
    );
    assert!(
        !outcome.audit.flagged("ended_without_final"),
        "the failed run ended with its final heartbeat: {outcome:#?}"
    );
    assert!(
        outcome.audit.flagged("unread_window"),
        "what was served until the restart is flagged: {outcome:#?}"
    );
}

/// The line that keeps a restart checkpoint in the scenario's directory.
const STATE_DIR: &str = "edgeship.state.dir = {dir}/state";

/// The checks of a restart that resumed from the log: every served request is in the topic,
/// in one run, and the audit reports that run with no loss and exactly the duplicates the
/// topic holds.
fn assert_one_continuing_run(outcome: &tally::Outcome) {
    outcome.print();
    let topic = (outcome.garbage, outcome.missing, outcome.by_run.len());
    assert_eq!(
        topic,
        (0, 0, 1),
        "the topic (garbage, served but missing, runs): {outcome:#?}"
    );
    let audit = &outcome.audit;
    let records = outcome.in_topic + outcome.unanswered_in_topic + outcome.duplicates;
    let audited = [
        audit.runs.len() as u64,
        audit.lost(),
        audit.shipper_lost,
        audit.duplicates(),
        audit.bad_input,
        audit.actual(),
    ];
    assert_eq!(
        audited,
        [1, 0, 0, outcome.duplicates, 0, records],
        "the audit (runs, sequence loss, shipper-counted loss, duplicates, bad input, \
         records): {outcome:#?}"
    );
    let flags = audit.flags();
    assert_eq!(
        (flags.is_empty(), audit.exit),
        (true, Some(0)),
        "nothing flagged (no unread window, no ended run): {flags:?} {outcome:#?}"
    );
}

/// After the first process of a run stopped: more traffic while nothing reads the log (the
/// next process reads it from the ring), a second process that resumes the run, traffic, and
/// the end, checked as one continuing run.
fn resume_and_finish(mut scenario: Scenario) -> tally::Outcome {
    scenario.traffic(PHASE / 2);
    scenario.start_edgeship();
    scenario.wait_logged("resuming run");
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    assert_one_continuing_run(&outcome);
    outcome
}

#[test]
fn with_a_state_dir_a_clean_restart_under_traffic_continues_the_run_and_misses_nothing() {
    let mut scenario = Scenario::start("clean-restart-resume", &[STATE_DIR]);
    scenario.traffic(PHASE);
    let status = scenario.stop_edgeship();
    assert_eq!(status.code(), Some(0), "a clean stop");
    let outcome = resume_and_finish(scenario);
    // A clean stop checkpoints what it delivered last: nothing is read twice.
    assert_eq!(outcome.duplicates, 0, "{outcome:#?}");
}

#[test]
fn with_a_state_dir_a_killed_run_continues_after_a_restart_and_misses_nothing() {
    let mut scenario = Scenario::start("sigkill-restart-resume", &[STATE_DIR]);
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    // Killed once a checkpoint exists.
    wait_for_checkpoint(&scenario);
    scenario.traffic(PHASE / 2);
    scenario.kill_edgeship();
    // What was delivered after the last checkpoint is read and delivered again, under the
    // same numbers: duplicates, which the audit counts as such (checked in there).
    resume_and_finish(scenario);
}

#[test]
fn with_a_state_dir_a_restarted_varnishd_or_from_tail_starts_a_new_run() {
    let mut scenario = Scenario::start("varnishd-restart-resume", &[STATE_DIR]);
    scenario.traffic(PHASE);
    assert_eq!(scenario.stop_edgeship().code(), Some(0), "a clean stop");
    // The checkpoint names the old child's log; the new child's is read from its head
    // (testkit's probe, served before the next edgeship starts, is in it).
    scenario.restart_varnishd();
    scenario.traffic(PHASE / 2);
    scenario.start_edgeship();
    scenario.wait_logged("varnishd or its child restarted");
    scenario.wait_logged("a new run starts (resume_failed 1)");
    scenario.traffic(PHASE);
    assert_eq!(scenario.stop_edgeship().code(), Some(0), "a clean stop");
    // A checkpoint of this child, which --from-tail does not resume.
    scenario.start_edgeship_with_args(&["--from-tail"]);
    scenario.wait_logged("--from-tail: not resuming run");
    scenario.traffic(PHASE);
    let outcome = scenario.finish();
    outcome.check(3);
    assert_eq!(outcome.audit.lost(), 0, "{outcome:#?}");
    assert!(
        outcome.audit.flagged("unread_window"),
        "what the old varnishd served after the first stop, and what the third run's tail \
         start left out, was never read: {outcome:#?}"
    );
}

#[test]
fn with_a_spool_and_a_state_dir_a_kill_during_an_outage_loses_at_most_what_was_not_fsynced() {
    // Issue 14: SIGKILL during an outage longer than the message timeout, a restart with the
    // same configuration (it resumes the run from the checkpoint and replays the spool), the
    // broker back. The checkpoint counts a record done once it is delivered or fsynced in the
    // spool, so at most what the last fsync interval appended can be lost, and what is lost is
    // reported as such; the resumed reader reads again what was not durable while the log
    // still holds it (here it does: the loss is 0).
    let mut scenario = Scenario::start(
        "spool-kill-in-outage",
        &[
            "kafka.topic.message.timeout.ms = 3000",
            "edgeship.spool.dir = {dir}/spool",
            "edgeship.spool.fsync.interval = 1",
            STATE_DIR,
        ],
    );
    scenario.traffic(PHASE);
    scenario.delivered(PHASE as usize / 2);
    wait_for_checkpoint(&scenario);
    scenario.broker_down();
    scenario.traffic(PHASE);
    // Past the message timeout: records wait in the spool, and more than one fsync interval
    // has passed since the first of them.
    scenario.wait_statistic("spool_spilled", "records spooled", |n| n > 0);
    std::thread::sleep(std::time::Duration::from_secs(2));
    scenario.traffic(PHASE);
    scenario.kill_edgeship();
    // Traffic while nothing reads the log; the next process reads it from the ring.
    scenario.traffic(PHASE / 2);
    scenario.start_edgeship();
    scenario.wait_logged("resuming run");
    scenario.traffic(PHASE);
    scenario.broker_up();
    scenario.traffic(PHASE);
    scenario.wait_statistic("spool_records", "the spool drained", |n| n == 0);
    let outcome = scenario.finish();
    outcome.assert_accounted_with_duplicates();
    outcome.assert_runs_exact();
    let audit = &outcome.audit;
    assert_eq!(
        outcome.missing,
        audit.lost() + audit.shipper_lost,
        "what is missing is exactly what the audit reports lost: {outcome:#?}"
    );
    // The log still held what was not durable when the process was killed: read again, so
    // nothing is missing; the records read twice are duplicates, counted as such.
    assert_one_continuing_run(&outcome);
}

/// Waits (a minute at most) until the scenario's edgeship has written its first checkpoint
/// (a run killed before its first one starts over).
fn wait_for_checkpoint(scenario: &Scenario) {
    let checkpoint = scenario.dir().join("state/checkpoint");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !checkpoint.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint written"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
