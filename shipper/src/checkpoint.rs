//! The restart checkpoint: a small file in `edgeship.state.dir` saying which varnishd child's
//! log was read, the run, and the point below which every record of the run has a final
//! delivery report, with the log position of the last of those records. A restarted process
//! that finds it valid for the same varnishd child continues the run from there (see
//! `resume`).
//!
//! The file is written whole to a temporary name, synced, and renamed over the old one (then
//! the directory is synced), so a crash at any moment leaves the old checkpoint or the new
//! one, never a mix. Its format is a few `name value` lines, the first naming the format:
//!
//! ```text
//! edgeship-checkpoint 1
//! instance 4242 1764880000
//! run 20261204T210000Z-1a2b3c4d
//! sequence_start 0
//! next_sequence 123456
//! segment 8812
//! ends 17
//! ```

use std::io::Write as _;
use std::path::Path;

use edgeship_varnishlog::Position;

/// The file's name in the state directory.
const FILE_NAME: &str = "checkpoint";
/// The temporary name it is written under before the rename.
const TEMPORARY_NAME: &str = "checkpoint.tmp";
/// The first line: the format and its version.
const HEADER: &str = "edgeship-checkpoint 1";

/// What a checkpoint promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The varnishd child whose log the position is in (`instance_identity`).
    pub instance: String,
    /// The run.
    pub run: String,
    /// The run's first sequence number (what its heartbeats say).
    pub sequence_start: u64,
    /// Every record numbered below this is done (delivered or failed and counted, or fsynced
    /// in the spool: `resume`).
    pub next_sequence: u64,
    /// Where the transaction of record `next_sequence - 1` ended in the log.
    pub position: Position,
}

impl Checkpoint {
    /// The checkpoint in `dir`, `None` when there is none (a first start).
    pub fn read(dir: &Path) -> anyhow::Result<Option<Checkpoint>> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => anyhow::bail!("cannot read {}: {error}", path.display()),
        };
        match Checkpoint::parse(&text) {
            Ok(checkpoint) => Ok(Some(checkpoint)),
            Err(what) => anyhow::bail!(
                "{} is not a checkpoint edgeship reads ({what})",
                path.display()
            ),
        }
    }

    /// Writes it to `dir`, replacing the previous one atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let temporary = dir.join(TEMPORARY_NAME);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temporary)?;
        file.write_all(self.render().as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, dir.join(FILE_NAME))?;
        // The rename is durable once the directory is.
        std::fs::File::open(dir)?.sync_all()
    }

    fn render(&self) -> String {
        format!(
            "{HEADER}\ninstance {}\nrun {}\nsequence_start {}\nnext_sequence {}\nsegment {}\n\
             ends {}\n",
            self.instance,
            self.run,
            self.sequence_start,
            self.next_sequence,
            self.position.segment,
            self.position.ends
        )
    }

    fn parse(text: &str) -> Result<Checkpoint, &'static str> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err("no `edgeship-checkpoint 1` first line");
        }
        let mut field = |name: &str| -> Result<&str, &'static str> {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or("a line missing or out of order")
        };
        let number = |text: &str| {
            text.parse::<u64>()
                .map_err(|_| "a number that does not parse")
        };
        let instance = field("instance")?.to_owned();
        let run = field("run")?.to_owned();
        let sequence_start = number(field("sequence_start")?)?;
        let next_sequence = number(field("next_sequence")?)?;
        let segment = field("segment")?.parse().map_err(|_| "a bad segment")?;
        let ends = field("ends")?.parse().map_err(|_| "a bad end count")?;
        if run.is_empty() || instance.is_empty() {
            return Err("an empty run or instance");
        }
        Ok(Checkpoint {
            instance,
            run,
            sequence_start,
            next_sequence,
            position: Position { segment, ends },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            instance: "4242 1764880000".to_owned(),
            run: "20261204T210000Z-1a2b3c4d".to_owned(),
            sequence_start: 7,
            next_sequence: 123_456,
            position: Position {
                segment: 8812,
                ends: 17,
            },
        }
    }

    #[test]
    fn a_written_checkpoint_reads_back_and_replaces_the_last() {
        let dir = edgeship_testkit::scratch::ScratchDir::new("checkpoint").expect("scratch");
        assert!(Checkpoint::read(dir.path())
            .expect("no file is fine")
            .is_none());
        let mut checkpoint = sample();
        checkpoint.write(dir.path()).expect("write");
        checkpoint.next_sequence += 10;
        checkpoint.write(dir.path()).expect("rewrite");
        assert_eq!(
            Checkpoint::read(dir.path()).expect("read"),
            Some(checkpoint)
        );
        assert!(!dir.path().join(TEMPORARY_NAME).exists());
    }

    #[test]
    fn damaged_checkpoints_are_refused() {
        let good = sample().render();
        let cases = [
            String::new(),
            good.replace("edgeship-checkpoint 1", "edgeship-checkpoint 2"),
            good.replace("next_sequence 123456", "next_sequence x"),
            good.replace("segment 8812\n", ""),
            good.replace("run 20261204T210000Z-1a2b3c4d", "run "),
            good.lines().take(4).collect::<Vec<_>>().join("\n"),
        ];
        for text in cases {
            assert!(Checkpoint::parse(&text).is_err(), "{text:?}");
        }
        assert_eq!(Checkpoint::parse(&good), Ok(sample()));
    }
}
