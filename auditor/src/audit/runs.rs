//! Every (host, run) seen, by a small id, with host and run names interned: a line's run is
//! found from its key with one comparison when it is the previous line's, one hash lookup
//! otherwise.
//!
//! Records without a run (a format with no run field, read from files, which have no
//! headers) are attributed to a run of their host by their times: each run known from
//! heartbeats starts at its run-start heartbeat (the first thing a run sends, before any
//! record), or at the time its identifier begins with, and a record belongs to the latest run
//! started by its time. A sequence reset at a restart is then a run boundary, never loss or
//! duplicates. Records older than every known run stay in the host's run-less group.

use rustc_hash::FxHashMap;

use super::config::{HourSpan, PartitionId};
use super::event::Heartbeat;
use super::key::RunKey;
use super::state::RunState;
use crate::time::run_start;

/// How long before a newer run's start a run-less record may still be that run's. A format
/// whose `dt` is the request's start (`%{%FT%T@dt}t`) stamps a request that began before a
/// restart and ended after it with a time before the new run's start; such a record goes to
/// the newer run when the older one already holds its number and the newer one does not.
pub(crate) const START_SLACK: i64 = 60;

/// The runs of one host known from heartbeats, for attributing its run-less records.
#[derive(Debug, Default, Clone)]
struct HostRuns {
    /// (start time, run id), sorted by start.
    starts: Vec<(i64, u32)>,
    /// The run the host's previous run-less record went to, for records without a time.
    last: Option<u32>,
}

/// The runs and their names.
#[derive(Debug)]
pub(crate) struct Runs {
    /// Host names, by the index [`RunState::host`] holds.
    hosts: Vec<Box<str>>,
    host_index: FxHashMap<Box<[u8]>, u32>,
    /// By host index: the runs run-less records may be attributed to.
    host_runs: Vec<HostRuns>,
    /// By run id; `None` once forgotten (its partition moved to another auditor).
    states: Vec<Option<RunState>>,
    run_index: FxHashMap<Box<[u8]>, u32>,
    /// The key and id of the run looked up last: consecutive lines mostly share it.
    last_key: RunKey,
    last_run: Option<u32>,
    /// Most runs kept (forgotten ones included).
    max_runs: usize,
}

impl Runs {
    /// No runs; at most `max_runs` of them.
    pub(crate) fn new(max_runs: usize) -> Self {
        Self {
            hosts: Vec::new(),
            host_index: FxHashMap::default(),
            host_runs: Vec::new(),
            states: Vec::new(),
            run_index: FxHashMap::default(),
            last_key: RunKey::new(),
            last_run: None,
            max_runs,
        }
    }

    /// The id of the run of `key`, created on first sight; `None` when it is new and there
    /// are already as many runs as the limit allows.
    #[inline]
    pub(crate) fn id_for(&mut self, key: &RunKey) -> Option<u32> {
        if let Some(run) = self.last_run {
            if key.as_bytes() == self.last_key.as_bytes() {
                return Some(run);
            }
        }
        let run = match self.run_index.get(key.as_bytes()) {
            Some(&run) => run,
            None if self.states.len() >= self.max_runs => return None,
            None => self.create(key),
        };
        self.last_key.copy_from(key);
        self.last_run = Some(run);
        Some(run)
    }

    fn create(&mut self, key: &RunKey) -> u32 {
        let host_bytes = key.host();
        let host = match self.host_index.get(host_bytes) {
            Some(&host) => host,
            None => {
                let id = self.hosts.len() as u32;
                self.hosts.push(
                    String::from_utf8_lossy(host_bytes)
                        .into_owned()
                        .into_boxed_str(),
                );
                self.host_index.insert(host_bytes.into(), id);
                self.host_runs.push(HostRuns::default());
                id
            }
        };
        let run = key
            .run()
            .map(|name| String::from_utf8_lossy(name).into_owned().into_boxed_str());
        let id = self.states.len() as u32;
        self.states.push(Some(RunState::new(host, run)));
        self.run_index.insert(key.as_bytes().into(), id);
        id
    }

    /// The state of run `id`, unless it was forgotten.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut RunState> {
        self.states[id as usize].as_mut()
    }

    /// Gives run `id`, on its first heartbeat, the records its host sent without a run before
    /// any run of the host was known: an input that begins in the middle of a run (a window,
    /// an hourly file) has up to a heartbeat interval of them. They are taken when the
    /// heartbeat covers them: it is periodic (a run-start heartbeat precedes its run's
    /// records), its `sequence_last` is at least their highest number, and the run started
    /// (by its identifier) no later than the first of them.
    pub(crate) fn adopt_unattributed(&mut self, id: u32, heartbeat: &Heartbeat) {
        let Some(state) = self.states[id as usize].as_ref() else {
            return;
        };
        let (Some(name), Some(last)) = (state.run.as_deref(), heartbeat.last) else {
            return;
        };
        if state.beats.any() || !state.present.is_empty() {
            return;
        }
        let host = state.host;
        let started = run_start(name);
        let mut key = RunKey::new();
        key.set_host(self.hosts[host as usize].as_bytes());
        key.set_no_run();
        let Some(&group) = self.run_index.get(key.as_bytes()) else {
            return;
        };
        let Some(records) = self.states[group as usize].as_ref() else {
            return;
        };
        let spans = records.present.spans();
        let (Some(first), Some(highest)) = (spans.first(), spans.last()) else {
            return;
        };
        if highest.end > last || started.is_some_and(|s| s > first.start_time) {
            return;
        }
        let mut adopted = self.states[group as usize].replace(RunState::new(host, None));
        if let Some(adopted) = adopted.as_mut() {
            adopted.run = self.states[id as usize].as_mut().and_then(|s| s.run.take());
            adopted.inferred = true;
        }
        self.states[id as usize] = adopted;
        self.last_run = None;
    }

    /// Notes when run `id` started, from one of its heartbeats: the run-start heartbeat's time,
    /// else the time its identifier begins with, else the heartbeat's own time (the earliest
    /// of those seen counts).
    pub(crate) fn note_run_start(&mut self, id: u32, heartbeat: &Heartbeat) {
        let Some(state) = self.states[id as usize].as_ref() else {
            return;
        };
        let Some(name) = state.run.as_deref() else {
            return;
        };
        let start = match heartbeat.last {
            None => heartbeat.time,
            Some(_) => run_start(name).map_or(heartbeat.time, |s| s.min(heartbeat.time)),
        };
        let starts = &mut self.host_runs[state.host as usize].starts;
        match starts.iter().position(|&(_, run)| run == id) {
            Some(at) if starts[at].0 <= start => return,
            Some(at) => starts[at].0 = start,
            None => starts.push((start, id)),
        }
        starts.sort_unstable();
    }

    /// The run a record of group `id` belongs to: `id` itself when the record names its run,
    /// else the run of its host its `time` (and `sequence`) place it in (see the module).
    #[inline]
    pub(crate) fn attribute(&mut self, id: u32, time: Option<i64>, sequence: Option<u64>) -> u32 {
        let Some(state) = self.states[id as usize].as_ref() else {
            return id;
        };
        if state.run.is_some() {
            return id;
        }
        let host = &self.host_runs[state.host as usize];
        if host.starts.is_empty() {
            return id;
        }
        let chosen = match time {
            Some(time) => self.by_time(&host.starts, time, sequence),
            None => host.last,
        };
        let Some(run) = chosen else {
            return id;
        };
        let host = state.host as usize;
        self.host_runs[host].last = Some(run);
        if let Some(state) = self.states[run as usize].as_mut() {
            state.inferred = true;
        }
        run
    }

    /// The run of `starts` a run-less record at `time` belongs to: the latest started by then
    /// (`None` when none had), or the next one when it starts within [`START_SLACK`] and holds the record's number
    /// where the earlier run already does.
    fn by_time(&self, starts: &[(i64, u32)], time: i64, sequence: Option<u64>) -> Option<u32> {
        let at = starts.partition_point(|&(start, _)| start <= time);
        let next = starts
            .get(at)
            .filter(|&&(start, _)| start - time <= START_SLACK)
            .map(|&(_, run)| run);
        // Older than every known run: the records of a run whose heartbeats were not read.
        let current = at.checked_sub(1).map(|i| starts[i].1)?;
        let has = |run: u32, n: u64| {
            self.states[run as usize]
                .as_ref()
                .is_some_and(|s| s.present.contains(n))
        };
        match (next, sequence) {
            (Some(next), Some(n)) if has(current, n) && !has(next, n) => Some(next),
            _ => Some(current),
        }
    }

    /// The state of run `id`, unless it was forgotten.
    pub(crate) fn get(&self, id: u32) -> Option<&RunState> {
        self.states[id as usize].as_ref()
    }

    /// The runs not forgotten, with their ids, in the order they were first seen.
    pub(crate) fn live(&self) -> impl Iterator<Item = (u32, &RunState)> + Clone {
        self.states
            .iter()
            .enumerate()
            .filter_map(|(id, state)| state.as_ref().map(|s| (id as u32, s)))
    }

    /// The name of host index `host`.
    pub(crate) fn host_name(&self, host: u32) -> &str {
        &self.hosts[host as usize]
    }

    /// Forgets every run that took events from `partition`; returns their ids.
    pub(crate) fn forget_partition(&mut self, partition: PartitionId) -> Vec<u32> {
        let mut forgotten = Vec::new();
        for (id, slot) in self.states.iter_mut().enumerate() {
            if slot
                .as_ref()
                .is_some_and(|r| r.origins.contains(&partition))
            {
                *slot = None;
                forgotten.push(id as u32);
            }
        }
        self.run_index.retain(|_, id| !forgotten.contains(id));
        for host in &mut self.host_runs {
            host.starts.retain(|(_, id)| !forgotten.contains(id));
            host.last = host.last.filter(|id| !forgotten.contains(id));
        }
        self.last_run = None;
        forgotten
    }

    /// The earliest and latest hour with an event of any run, if there is one.
    pub(crate) fn event_hours(&self) -> Option<HourSpan> {
        let mut seen: Option<HourSpan> = None;
        for (_, run) in self.live() {
            for h in run.hours.iter().filter(|h| h.events > 0) {
                seen = Some(seen.map_or(
                    HourSpan {
                        first: h.hour,
                        last: h.hour,
                    },
                    |s| s.widened(h.hour),
                ));
            }
        }
        seen
    }
}
