//! Restarts that resume from the log (`edgeship.state.dir`): at start, whether the saved
//! checkpoint lets this process continue the run it names, reading the log from the
//! checkpointed position ([`State`]); while running, the checkpoint kept up to date
//! ([`Checkpointer`]).
//!
//! The decision at start:
//! - no state directory, or a `-r` file: nothing here, the old behaviour;
//! - no checkpoint yet (a first start), or `--from-tail`: a new run, read from the tail;
//! - a checkpoint of another varnishd child (varnishd or its child restarted since): a new
//!   run, read from the head of the new child's log (all of it is new to edgeship), counted
//!   in `resume_failed` with the reason logged;
//! - a checkpoint that cannot be read: a new run from the tail, counted and logged;
//! - a checkpoint of this child: the reader resumes after its position. If the position is
//!   still in the ring, the SAME run continues with the checkpoint's next sequence number;
//!   if the ring has moved past it (or the reader cannot resume: a query only VSLQ
//!   evaluates, `-g request`), a new run starts, counted and logged: what varnishd logged
//!   between the position and the oldest record still in the ring was not read.
//!
//! What a checkpoint promises: every record of its run numbered below `next_sequence` is
//! done: it has a final delivery report (delivered, or failed and counted), or it is in the
//! spool and fsynced, or its loss was counted; and the transaction of record
//! `next_sequence - 1` ended at `position` in the log of varnishd child `instance` (see
//! `frontier` and `done`). A resumed reader hands out exactly
//! the client requests that completed after that position, in log order, so when they are
//! read in the same order as before (same log, same grouping; a transaction forced complete
//! by `-T` or `-L` may complete at another point on the second reading) each gets the
//! sequence number it had: those the earlier process delivered after its last checkpoint
//! arrive twice, as duplicates the audit counts, and nothing is renumbered. The checkpoint
//! pairs the position with the child identity read when it is written: should varnishd's
//! child restart under a running edgeship, for about a checkpoint interval a checkpoint may
//! pair the new identity with a position in the old log (then a restart in that window may
//! skip the new log's first requests).

use std::path::PathBuf;

use edgeship_conf::{Config, Output};
use edgeship_varnishlog::{instance_identity, Options, Position, Resume, ResumeCheck};

use crate::checkpoint::Checkpoint;
use crate::done::WINDOW;
use crate::frontier::Frontier;
use crate::identity::Identity;
use crate::shared::Shared;

/// Where a process starts reading when it has a state directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Where the checkpoint says, when it can (the default).
    Checkpoint,
    /// The log's tail, whatever the checkpoint says (`--from-tail`).
    Tail,
}

/// What start-up found in the state directory.
pub struct State {
    dir: PathBuf,
    /// The `-n` instance, to read its child's identity again at every checkpoint.
    instance_name: Option<String>,
    /// The checkpoint to continue from (its varnishd child is the one running).
    continuing: Option<Checkpoint>,
    /// Why a checkpoint present was not used, when that is a failure to count.
    refused: Option<String>,
    /// Read the new child's log from its head (the checkpoint was of another child).
    from_head: bool,
}

impl State {
    /// Reads the state directory's checkpoint, if the configuration keeps one and the log
    /// is live.
    pub fn open(config: &Config, start_at: StartAt, shared: &Shared) -> Option<State> {
        let dir = config.edgeship.state_dir.clone()?;
        if config.varnish.file.is_some() {
            return None;
        }
        if let Err(error) = std::fs::create_dir_all(&dir) {
            shared.log.error(
                "checkpoint",
                &format!(
                    "cannot create the state directory {}: {error}",
                    dir.display()
                ),
            );
        }
        let instance_name = config.varnish.instance.clone();
        let mut state = State {
            dir,
            instance_name,
            continuing: None,
            refused: None,
            from_head: false,
        };
        let checkpoint = match Checkpoint::read(&state.dir) {
            Ok(checkpoint) => checkpoint,
            Err(error) => {
                state.refused = Some(format!("{error:#}"));
                return Some(state);
            }
        };
        let Some(checkpoint) = checkpoint else {
            return Some(state);
        };
        if start_at == StartAt::Tail {
            shared.log.info(&format!(
                "--from-tail: not resuming run {} from its checkpoint",
                checkpoint.run
            ));
            return Some(state);
        }
        match instance_identity(state.instance_name.as_deref()) {
            Some(now) if now == checkpoint.instance => state.continuing = Some(checkpoint),
            now => {
                state.refused = Some(format!(
                    "the checkpoint of run {} is of varnishd child \"{}\", the log now is {}",
                    checkpoint.run,
                    checkpoint.instance,
                    now.map_or(
                        "of a child whose identity cannot be read".to_owned(),
                        |now| { format!("child \"{now}\"'s: varnishd or its child restarted") }
                    )
                ));
                state.from_head = true;
            }
        }
        Some(state)
    }

    /// Sets where the reader starts.
    pub fn prepare(&self, options: &mut Options) {
        options.resume = match &self.continuing {
            Some(checkpoint) => Some(Resume::After(checkpoint.position)),
            // The new child's log is all new: read it from its head, positions and all.
            None if self.from_head => {
                options.tail = false;
                None
            }
            // Where the tail would start, but with positions known from the first record
            // handed out, so that checkpoints start at once.
            None => Some(Resume::FromNow),
        };
    }

    /// The run's identity once the reader has opened (`check`: what came of the resume):
    /// the checkpoint's run continued, or `fresh`, a new one (a failure counted and logged).
    pub fn identity(&self, check: ResumeCheck, fresh: Identity, shared: &Shared) -> Identity {
        let failure = match (&self.continuing, check) {
            (Some(checkpoint), ResumeCheck::Resumed) => {
                shared.log.info(&format!(
                    "resuming run {} at sequence {} after log segment {} (its End record {})",
                    checkpoint.run,
                    checkpoint.next_sequence,
                    checkpoint.position.segment,
                    checkpoint.position.ends
                ));
                return Identity {
                    run: checkpoint.run.clone(),
                    sequence_start: checkpoint.sequence_start,
                    resumed_at: Some(checkpoint.next_sequence),
                    ..fresh
                };
            }
            (Some(checkpoint), ResumeCheck::Overwritten { oldest }) => format!(
                "the log position of run {}'s checkpoint (segment {}) was overwritten: the \
                 oldest segment in the ring is {oldest}; what varnishd logged in between was \
                 not read",
                checkpoint.run, checkpoint.position.segment
            ),
            (Some(checkpoint), _) => format!(
                "the reader cannot resume run {} (its read path tells no log positions)",
                checkpoint.run
            ),
            (None, _) => match &self.refused {
                Some(reason) => reason.clone(),
                None => return fresh,
            },
        };
        shared.log.counted_error(
            "resume-failed",
            &shared.counters.resume_failed,
            1,
            |total| format!("not resuming from the log ({failure}); a new run starts (resume_failed {total})"),
        );
        fresh
    }

    /// What keeps the checkpoint of the run `identity` names up to date.
    pub fn checkpointer(self, identity: &Identity, output: Output) -> Checkpointer {
        Checkpointer {
            dir: self.dir,
            instance_name: self.instance_name,
            run: identity.run.clone(),
            sequence_start: identity.sequence_start,
            marked_by_output: output == Output::Kafka,
            frontier: Frontier::default(),
            written: None,
            failing: false,
            stopped_logged: false,
        }
    }
}

/// Keeps the checkpoint: notes each numbered record, and writes the frontier of done records
/// when asked (every second, and at shutdown).
pub struct Checkpointer {
    dir: PathBuf,
    instance_name: Option<String>,
    run: String,
    sequence_start: u64,
    /// Kafka's output marks the records it took done (`done.rs`); standard output and
    /// nothing are done with a record when they take it.
    marked_by_output: bool,
    frontier: Frontier,
    /// The next sequence number of the last checkpoint written.
    written: Option<u64>,
    /// The last write failed (logged once until one succeeds again).
    failing: bool,
    /// The frontier's stop was logged.
    stopped_logged: bool,
}

impl Checkpointer {
    /// Notes a record just numbered: its sequence, where its transaction ended, and whether
    /// the output took it (then Kafka's output marks it done later; the others are done with
    /// it as they take it).
    // hot path: one push into a queue that keeps its capacity.
    #[inline]
    pub fn numbered(&mut self, sequence: u64, position: Option<Position>, taken: bool) {
        let waits = taken && self.marked_by_output;
        self.frontier.numbered(sequence, position, waits);
    }

    /// Writes the checkpoint if the frontier of done records moved.
    pub fn write(&mut self, shared: &Shared) {
        let Some(marks) = &shared.done else {
            return;
        };
        let advanced = self.frontier.advance(marks);
        if self.frontier.stopped() && !self.stopped_logged {
            self.stopped_logged = true;
            shared.log.error(
                "checkpoint",
                &format!(
                    "more than {WINDOW} records were waiting for delivery or the spool at once: \
                     this process writes no further checkpoint (a restart resumes from the last \
                     one and sends again what followed it)"
                ),
            );
        }
        let Some((sequence, Some(position))) = advanced else {
            return;
        };
        let next_sequence = sequence.wrapping_add(1);
        if self.written == Some(next_sequence) {
            return;
        }
        let Some(instance) = instance_identity(self.instance_name.as_deref()) else {
            return;
        };
        let checkpoint = Checkpoint {
            instance,
            run: self.run.clone(),
            sequence_start: self.sequence_start,
            next_sequence,
            position,
        };
        match checkpoint.write(&self.dir) {
            Ok(()) => {
                self.written = Some(next_sequence);
                self.failing = false;
            }
            Err(error) if !self.failing => {
                self.failing = true;
                shared.log.error(
                    "checkpoint",
                    &format!(
                        "cannot write the checkpoint in {}: {error}; a restart will not resume \
                         from the log until it can",
                        self.dir.display()
                    ),
                );
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
