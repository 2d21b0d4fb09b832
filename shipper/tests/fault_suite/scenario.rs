//! The one scenario driver every fault shares: a private varnishd and tansu broker, the seed's
//! format shipped to Kafka, real traffic with unique URLs, and steps to start, stop, kill or
//! disturb edgeship while the traffic flows; at the end the topic is read back independently,
//! audited by the real `edgeship-audit`, and both are tallied against what varnishd served.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitStatus;

use edgeship_testkit::proxy::Proxy;
use edgeship_testkit::scratch::ScratchDir;
use edgeship_testkit::tansu::Tansu;
use edgeship_testkit::varnishd::Varnishd;
use serde_json::Value;

use crate::audit::audit_topic;
use crate::common::capture::{capture, requests_in};
use crate::common::{config_text, kafka_lines, seed_format, Edgeship, Landed, TopicReader};
use crate::tally::{Outcome, Requests, PROBE};
use crate::traffic::{get_once, Sent, Traffic};

/// The topic every scenario writes (each has its own broker).
const TOPIC: &str = "webrequest_faults";

/// A cut capture of varnishd's log and the requests it holds, as varnishlog reads it.
pub(crate) struct Capture {
    /// The cut file.
    pub(crate) file: PathBuf,
    /// The traffic's requests in it, complete or cut (all answered by varnishd).
    held: Sent,
    /// testkit's probe requests in it.
    probes: u64,
}

/// One fault's processes and what they did.
pub(crate) struct Scenario {
    /// The fault's name: the table's first column and the URLs' prefix.
    pub(crate) fault: &'static str,
    /// The test's files: configuration, edgeship's output, statistics.
    pub(crate) dir: ScratchDir,
    /// The varnishd whose log is shipped.
    pub(crate) varnishd: Varnishd,
    /// The broker, behind `proxy`.
    pub(crate) tansu: Tansu,
    /// The loopback proxy every client reaches the broker through (paused: broker outage).
    proxy: Proxy,
    config: PathBuf,
    edgeship: Option<Edgeship>,
    /// How many edgeship processes were started (each is a run).
    runs: usize,
    traffic: Option<Traffic>,
    /// The topic, read back independently the whole time.
    reader: TopicReader,
    /// Probe requests varnishd served while edgeship read its log (one per restart).
    probes: u64,
    /// Standard error of every edgeship so far, for failure messages.
    logs: Vec<String>,
}

impl Scenario {
    /// Starts varnishd, tansu (with the topic), traffic, and a first edgeship attached to the
    /// log; `extra` configuration lines are appended to the seed's settings (`{dir}` in them
    /// is the scenario's directory). The statistics
    /// file is `statistics/stats.json` in the scenario's directory.
    pub(crate) fn start(fault: &'static str, extra: &[&str]) -> Scenario {
        Scenario::start_with(fault, extra, Varnishd::builder())
    }

    /// As [`Scenario::start`], with varnishd started from `varnishd` (e.g. a small log).
    pub(crate) fn start_with(
        fault: &'static str,
        extra: &[&str],
        varnishd: edgeship_testkit::varnishd::Builder,
    ) -> Scenario {
        let mut scenario = Scenario::prepare(fault, extra, varnishd);
        scenario.start_edgeship();
        scenario.begin_traffic();
        scenario
    }

    /// As [`Scenario::start`], the first edgeship with the environment `env` (a test hook).
    pub(crate) fn start_with_env(
        fault: &'static str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Scenario {
        let mut scenario = Scenario::prepare(fault, extra, Varnishd::builder());
        scenario.start_edgeship_with_env(env);
        scenario.begin_traffic();
        scenario
    }

    /// varnishd, tansu and traffic, and no edgeship: a capture of the log is shipped later
    /// (see [`Scenario::cut_capture`]).
    pub(crate) fn start_without_edgeship(fault: &'static str, extra: &[&str]) -> Scenario {
        let mut scenario = Scenario::prepare(fault, extra, Varnishd::builder());
        scenario.begin_traffic();
        scenario
    }

    /// varnishd, tansu with the topic, the configuration and the topic's reader.
    fn prepare(
        fault: &'static str,
        extra: &[&str],
        varnishd: edgeship_testkit::varnishd::Builder,
    ) -> Scenario {
        let varnishd = varnishd.start().expect("start varnishd");
        let proxy = Proxy::bind().expect("a proxy for the broker");
        let tansu =
            Tansu::start_behind(&proxy).expect("start tansu (run scripts/setup if it is missing)");
        tansu.create_topic(TOPIC, 1).expect("create the topic");
        let dir = ScratchDir::new(&format!("faults-{fault}")).expect("a scratch directory");
        // The statistics file is kept in a directory of its own, which a scenario may take
        // away mid-run.
        let statistics = dir.path().join("statistics");
        std::fs::create_dir(&statistics).expect("a statistics directory");
        let mut lines = kafka_lines(&tansu.bootstrap(), TOPIC);
        // Heartbeats every second: a few seconds of traffic still have several.
        lines.push("edgeship.heartbeat.interval = 1".to_owned());
        lines.push("log.statistics.interval = 1".to_owned());
        // `{dir}` in an extra line stands for the scenario's directory.
        let dir_text = dir.path().display().to_string();
        lines.extend(extra.iter().map(|line| line.replace("{dir}", &dir_text)));
        let text = config_text(&dir, &seed_format(), &lines).replace(
            &dir.path().join("stats.json").display().to_string(),
            &statistics.join("stats.json").display().to_string(),
        );
        let config = dir
            .write("edgeship.conf", text)
            .expect("write the configuration");
        let reader = TopicReader::new(&tansu.bootstrap(), TOPIC);
        Scenario {
            fault,
            dir,
            varnishd,
            tansu,
            proxy,
            config,
            edgeship: None,
            runs: 0,
            traffic: None,
            reader,
            probes: 0,
            logs: Vec::new(),
        }
    }

    fn begin_traffic(&mut self) {
        self.traffic = Some(Traffic::start(self.varnishd.addr(), self.fault));
    }

    /// Starts a new edgeship (a new run) and waits until it reads the log.
    pub(crate) fn start_edgeship(&mut self) {
        self.start_edgeship_with_env(&[]);
    }

    /// As [`Scenario::start_edgeship`], with the environment `env`.
    pub(crate) fn start_edgeship_with_env(&mut self, env: &[(&str, &str)]) {
        self.start_edgeship_with(&[], env);
    }

    /// As [`Scenario::start_edgeship`], with more command-line arguments.
    pub(crate) fn start_edgeship_with_args(&mut self, args: &[&str]) {
        self.start_edgeship_with(args, &[]);
    }

    fn start_edgeship_with(&mut self, args: &[&str], env: &[(&str, &str)]) {
        assert!(self.edgeship.is_none(), "one edgeship at a time");
        self.runs += 1;
        let label = format!("run{}", self.runs);
        self.edgeship = Some(Edgeship::start_live_with_env(
            &self.dir,
            &label,
            &self.config,
            self.varnishd.workdir(),
            args,
            env,
        ));
    }

    /// Waits for edgeship to exit by itself (a failure ends it); returns its exit status and
    /// its log.
    pub(crate) fn wait_edgeship_exit(&mut self) -> (ExitStatus, String) {
        let mut edgeship = self.edgeship.take().expect("edgeship is running");
        let status = edgeship.wait();
        let log = edgeship.stderr();
        self.logs.push(log.clone());
        (status, log)
    }

    /// Sends SIGHUP to edgeship: it reopens its statistics file, as after logrotate.
    pub(crate) fn reopen_signal(&self) {
        self.edgeship
            .as_ref()
            .expect("edgeship is running")
            .signal("-HUP");
    }

    /// The scenario's scratch directory (configuration, logs, statistics).
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Reads the topic until the final heartbeat of the `run`-th run (counted from 1 in the
    /// order runs first appear) is there, and returns it.
    pub(crate) fn final_heartbeat(&mut self, run: usize) -> Value {
        let logs = self.logs.join("\n");
        self.reader.read_until_or(
            &format!("the final heartbeat of run {run}"),
            |messages| final_of(messages, run).is_some(),
            || logs.clone(),
        );
        final_of(&self.reader.messages, run)
            .cloned()
            .expect("it was read")
    }

    /// The current value of edgeship's counter `name` in the statistics file's latest
    /// `edgeship` line, if one was written.
    pub(crate) fn statistic(&self, name: &str) -> Option<u64> {
        let text = std::fs::read_to_string(self.dir().join("statistics/stats.json")).ok()?;
        let line = text
            .lines()
            .rev()
            .find(|line| line.starts_with("{\"edgeship\":"))?;
        let json: Value = serde_json::from_str(line).ok()?;
        json["edgeship"][name].as_u64()
    }

    /// Waits (bounded by the test's patience) until the statistics say `what`: `holds` is
    /// true of the counter `name`; returns its value then.
    pub(crate) fn wait_statistic(
        &self,
        name: &str,
        what: &str,
        holds: impl Fn(u64) -> bool,
    ) -> u64 {
        let started = std::time::Instant::now();
        loop {
            if let Some(value) = self.statistic(name).filter(|value| holds(*value)) {
                return value;
            }
            assert!(
                started.elapsed() < crate::common::PATIENCE,
                "waited {:?} for {what} ({name} = {:?}):\n{}",
                crate::common::PATIENCE,
                self.statistic(name),
                log_of(self.edgeship.as_ref())
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Lets `requests` more requests be served.
    pub(crate) fn traffic(&self, requests: u64) {
        self.traffic
            .as_ref()
            .expect("traffic is running")
            .wait_served(requests);
    }

    /// Slows the traffic down from now on (see [`Traffic::pace`]).
    pub(crate) fn pace_traffic(&self, gap: std::time::Duration) {
        self.traffic.as_ref().expect("traffic is running").pace(gap);
    }

    /// Waits until the current run has delivered `records` request records to the topic (its
    /// records are those after its start heartbeat), so that a fault hits a run the topic
    /// knows, with more in flight behind them.
    pub(crate) fn delivered(&mut self, records: usize) {
        let logs = || log_of(self.edgeship.as_ref());
        let runs = self.runs;
        self.reader.read_until_or(
            &format!("{records} records of run {runs}"),
            |messages| records_of_latest_run(messages, runs) >= records,
            logs,
        );
    }

    /// Holds the traffic until edgeship has caught up with the log: two heartbeats of the
    /// current run in a row that show nothing more produced and everything delivered. After
    /// a fault that left edgeship behind (a backlog draining into the broker), traffic at full
    /// speed can keep lapping a small log ring under it, so a request answered meanwhile (the
    /// marker `finish` waits for, say) may be lost to an overrun like the rest: a loss the
    /// heartbeats count, but one that would leave `finish` waiting for a record that never
    /// comes.
    pub(crate) fn caught_up(&mut self) {
        let traffic = self.traffic.as_ref().expect("traffic is running");
        traffic.pause();
        let logs = || log_of(self.edgeship.as_ref());
        self.reader
            .read_until_or("edgeship to catch up with the log", settled, logs);
        self.traffic.as_ref().expect("traffic is running").resume();
    }

    /// Waits until the current edgeship's log says `needle` (bounded by the test's patience).
    pub(crate) fn wait_logged(&mut self, needle: &str) {
        self.edgeship
            .as_mut()
            .expect("edgeship is running")
            .wait_for_stderr(needle);
    }

    /// Waits, with the traffic running, until a request sent after this call is in the topic:
    /// the current run delivers again (after a broker outage). Requests sent right after the
    /// broker is back may still time out while the producer reconnects, so the first
    /// delivered one is awaited rather than a particular one.
    pub(crate) fn deliveries_resumed(&mut self) {
        let after = self.traffic.as_ref().expect("traffic is running").next_id();
        let prefix = format!("/f/{}/", self.fault);
        let logs = || log_of(self.edgeship.as_ref());
        self.reader.read_until_or(
            &format!("a record of a request sent after id {after}"),
            |messages| {
                crate::common::records(messages).any(|m| {
                    m.json["uri_path"]
                        .as_str()
                        .and_then(|path| path.strip_prefix(&prefix))
                        .and_then(|id| id.parse::<u64>().ok())
                        .is_some_and(|id| id >= after)
                })
            },
            logs,
        );
    }

    /// Restarts varnishd under the running edgeship and traffic (a new shared-memory log).
    ///
    /// The traffic is held across the restart itself: Varnish writes a request's log records
    /// after it has answered, so a request answered in the instant varnishd is stopped may
    /// never reach its log, a loss inside varnishd that no reader can see (most likely the one
    /// request a CI run of 2026-12-04 missed, unflagged). Traffic runs right up to and right
    /// after the restart.
    pub(crate) fn restart_varnishd(&mut self) {
        let traffic = self.traffic.as_ref().expect("traffic is running");
        traffic.pause();
        // Time for the last answered requests' records to be written to the old log.
        std::thread::sleep(std::time::Duration::from_millis(300));
        self.varnishd.restart().expect("restart varnishd");
        self.traffic.as_ref().expect("traffic is running").resume();
        // testkit waits for its probe request to be in the new log: one more request served.
        self.probes += 1;
    }

    /// Cuts the broker off (every connection to it dropped, new ones closed at once).
    pub(crate) fn broker_down(&self) {
        self.proxy.pause();
    }

    /// Lets clients reach the broker again.
    pub(crate) fn broker_up(&self) {
        self.proxy.resume();
    }

    /// Stops edgeship with SIGTERM and waits for it; returns its exit status.
    pub(crate) fn stop_edgeship(&mut self) -> ExitStatus {
        let mut edgeship = self.edgeship.take().expect("edgeship is running");
        let status = edgeship.terminate();
        self.logs.push(edgeship.stderr());
        status
    }

    /// Sends SIGTERM twice, the second while the first stop is under way (the caller makes it
    /// long: a broker outage), and waits for the exit; returns its exit status.
    pub(crate) fn stop_edgeship_twice(&mut self) -> ExitStatus {
        let mut edgeship = self.edgeship.take().expect("edgeship is running");
        edgeship.signal("-TERM");
        // Time for the first signal to start the stop (nothing is logged when it arrives);
        // callers make the stop long (a broker outage), so the second finds it under way.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(edgeship.is_running(), "the first stop is still under way");
        edgeship.signal("-TERM");
        let status = edgeship.wait();
        self.logs.push(edgeship.stderr());
        status
    }

    /// Kills edgeship with SIGKILL and reaps it.
    pub(crate) fn kill_edgeship(&mut self) {
        let mut edgeship = self.edgeship.take().expect("edgeship is running");
        edgeship.signal("-KILL");
        edgeship.wait();
        self.logs.push(edgeship.stderr());
    }

    /// Stops the traffic and writes varnishd's log to a file cut inside a record, at about two
    /// thirds of it: a `-r` capture truncated mid-record. The cut moves back a word at a time
    /// until every request the cut file holds still has its URL (a request cut before its URL
    /// would be shipped without one, which the tally could not tell from garbage).
    pub(crate) fn cut_capture(&mut self) -> Capture {
        let _ = self.traffic.take().expect("traffic is running").stop();
        let whole = self.dir.path().join("whole.vsl");
        capture(&self.varnishd, &whole);
        let bytes = std::fs::read(&whole).expect("read the capture");
        let file = self.dir.path().join("cut.vsl");
        let prefix = format!("/f/{}/", self.fault);
        let mut at = (bytes.len() * 2 / 3) & !3;
        loop {
            // Two bytes into a word: inside a record.
            std::fs::write(&file, &bytes[..at + 2]).expect("write the cut capture");
            let requests = requests_in(&file);
            let urls: Option<Vec<String>> = requests.into_values().map(|(url, _)| url).collect();
            if let Some(urls) = urls.filter(|urls| !urls.is_empty()) {
                let probes = urls.iter().filter(|url| *url == PROBE).count() as u64;
                let answered = urls
                    .iter()
                    .filter_map(|url| url.strip_prefix(&prefix)?.parse().ok())
                    .collect();
                let held = Sent {
                    answered,
                    unanswered: BTreeSet::new(),
                };
                return Capture { file, held, probes };
            }
            assert!(at > 4, "no cut point leaves every request its URL");
            at -= 4;
        }
    }

    /// Ships `file` with `edgeship -r` (a run of its own) and waits until it ends; returns
    /// its exit status and log.
    pub(crate) fn ship_capture(&mut self, file: &std::path::Path) -> (ExitStatus, String) {
        assert!(self.edgeship.is_none(), "one edgeship at a time");
        self.runs += 1;
        let label = format!("run{}", self.runs);
        let path = file.to_str().expect("a UTF-8 path");
        self.edgeship = Some(Edgeship::start(
            &self.dir,
            &label,
            &self.config,
            &["-r", path],
        ));
        self.wait_edgeship_exit()
    }

    /// Ends a scenario that shipped a capture: reads the topic to its end, audits it, and
    /// tallies it against the requests the capture held (the traffic after the capture was
    /// never in it).
    pub(crate) fn finish_capture(mut self, capture: Capture) -> Outcome {
        self.reader.read_to_end(self.runs);
        let audit = audit_topic(&self.tansu.bootstrap(), TOPIC);
        let requests = Requests {
            sent: capture.held,
            marker: None,
            probes: capture.probes,
        };
        Outcome::tally(self.fault, &requests, &self.reader.messages, audit)
    }

    /// Ends the scenario: stops the traffic, sends a last marker request and waits until it
    /// is in the topic (so whatever the last edgeship could read has been read), stops that
    /// edgeship cleanly, reads the topic to its end, audits it and tallies everything.
    pub(crate) fn finish(mut self) -> Outcome {
        let sent = self.traffic.take().expect("traffic is running").stop();
        let marker = format!("/f/{}/end", self.fault);
        get_once(self.varnishd.addr(), &marker).expect("the marker request");
        let logs = || log_of(self.edgeship.as_ref());
        self.reader.read_until_or(
            "the marker request",
            |messages| {
                crate::common::records(messages)
                    .any(|m| m.json["uri_path"].as_str() == Some(marker.as_str()))
            },
            logs,
        );
        let status = self.stop_edgeship();
        assert!(
            status.success(),
            "the last edgeship stops cleanly:\n{}",
            self.logs.join("\n")
        );
        // The last run's final heartbeat is the last message; every earlier one came before
        // the marker.
        self.reader.read_until_or(
            "the last run's final heartbeat",
            |messages| {
                let last_run = crate::common::heartbeats(messages)
                    .last()
                    .map(|m| &m.json["run"]);
                crate::common::heartbeats(messages)
                    .any(|m| m.json["final"] == true && Some(&m.json["run"]) == last_run)
            },
            || self.logs.join("\n"),
        );
        self.reader.read_to_end(0);
        let audit = audit_topic(&self.tansu.bootstrap(), TOPIC);
        let requests = Requests {
            sent,
            marker: Some(marker),
            probes: self.probes,
        };
        Outcome::tally(self.fault, &requests, &self.reader.messages, audit)
    }
}

/// The log of `edgeship` so far, if one runs (for failure messages).
fn log_of(edgeship: Option<&Edgeship>) -> String {
    edgeship.map(Edgeship::stderr).unwrap_or_default()
}

/// The final heartbeat of the `run`-th run (from 1, in the order runs first appear).
fn final_of(messages: &[Landed], run: usize) -> Option<&Value> {
    let mut seen: Vec<&Value> = Vec::new();
    for message in crate::common::heartbeats(messages) {
        let id = &message.json["run"];
        if !seen.contains(&id) {
            seen.push(id);
        }
        if seen.get(run - 1) == Some(&id) && message.json["final"] == true {
            return Some(&message.json);
        }
    }
    None
}

/// How many request records follow the first heartbeat of the `runs`-th run in the topic
/// (messages in arrival order: one partition, read in offset order; a run's start heartbeat
/// comes before its records).
fn records_of_latest_run(messages: &[Landed], runs: usize) -> usize {
    let mut seen: Vec<&Value> = Vec::new();
    let mut count = 0;
    for message in messages {
        if message.is_heartbeat() {
            if !seen.contains(&&message.json["run"]) {
                seen.push(&message.json["run"]);
            }
        } else if seen.len() == runs {
            count += 1;
        }
    }
    count
}

/// Whether the last two heartbeats are of one run, show the same records produced, and all of
/// them delivered: nothing was read between them and nothing is in flight.
fn settled(messages: &[Landed]) -> bool {
    let mut last = messages.iter().rev().filter(|m| m.is_heartbeat());
    let (Some(newer), Some(older)) = (last.next(), last.next()) else {
        return false;
    };
    let field = |message: &Landed, name: &str| message.json[name].clone();
    field(newer, "run") == field(older, "run")
        && field(newer, "records_produced") == field(older, "records_produced")
        && field(newer, "records_delivered") == field(newer, "records_produced")
}
