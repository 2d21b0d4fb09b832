//! Every (host, run) seen, by a small id, with host and run names interned: a line's run is
//! found from its key with one comparison when it is the previous line's, one hash lookup
//! otherwise.

use rustc_hash::FxHashMap;

use super::config::{HourSpan, PartitionId};
use super::key::RunKey;
use super::state::RunState;

/// The runs and their names.
#[derive(Debug)]
pub(crate) struct Runs {
    /// Host names, by the index [`RunState::host`] holds.
    hosts: Vec<Box<str>>,
    host_index: FxHashMap<Box<[u8]>, u32>,
    /// By run id; `None` once forgotten (its partition moved to another auditor).
    states: Vec<Option<RunState>>,
    run_index: FxHashMap<Box<[u8]>, u32>,
    /// The key and id of the run looked up last: consecutive lines mostly share it.
    last_key: RunKey,
    last_run: Option<u32>,
}

impl Runs {
    /// No runs.
    pub(crate) fn new() -> Self {
        Self {
            hosts: Vec::new(),
            host_index: FxHashMap::default(),
            states: Vec::new(),
            run_index: FxHashMap::default(),
            last_key: RunKey::new(),
            last_run: None,
        }
    }

    /// The id of the run of `key`, created on first sight.
    #[inline]
    pub(crate) fn id_for(&mut self, key: &RunKey) -> u32 {
        if let Some(run) = self.last_run {
            if key.as_bytes() == self.last_key.as_bytes() {
                return run;
            }
        }
        let run = match self.run_index.get(key.as_bytes()) {
            Some(&run) => run,
            None => self.create(key),
        };
        self.last_key.copy_from(key);
        self.last_run = Some(run);
        run
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
