//! Sweep checkpoints: a running sweep's finished combinations, kept so that a sweep a
//! crash interrupted resumes where it was instead of starting again.
//!
//! `CHECKPOINT` in the job's result folder is a log of records, each a little-endian `u32`
//! length and a postcard-encoded [`Record`]: every delivered combination's statistics (the
//! floats as their exact bits), then, once a chunk of the sweep is wholly delivered, a
//! `Done` marker with the number of combinations finished. A resumed sweep replays the
//! combinations before the last marker (their parameters are rebuilt from the sweep's own
//! order) and runs from there; anything after the marker (a chunk a crash cut short) is
//! run again. Appends are written through at each marker, so a killed process loses at
//! most the chunk in flight.

use std::io::{BufReader, Read, Write};
use std::path::Path;

use anyhow::{Context as _, Result};
use backtide_core::stats::{Stats, VbtStats};
use backtide_core::sweep::overfitting::ReturnProfile;
use backtide_core::sweep::{ComboResult, SweepSpec};

/// The longest record there can be (a combination's statistics and return profile are a
/// few kilobytes); a longer length is damage, not a record.
const MAX_RECORD: usize = 1 << 20;

/// The checkpoint's file name in a result folder.
pub(crate) const CHECKPOINT: &str = "CHECKPOINT";

#[derive(serde::Serialize, serde::Deserialize)]
enum Record {
    Combo {
        index: u64,
        stats: Box<Stats>,
        vbt: Option<Box<VbtStats>>,
        profile: Option<ReturnProfile>,
    },
    Done {
        next: u64,
    },
}

/// Appends to a sweep's checkpoint.
pub(crate) struct Writer {
    file: std::fs::File,
    pending: Vec<u8>,
    /// Bytes of whole records on disk: a failed write is cut back to it.
    written: u64,
}

impl Writer {
    /// Opens (or creates) the checkpoint in `dir` for appending after its first `keep`
    /// bytes (the end of its last marker, see [`resume_point`]): what a crash left after
    /// the marker is run again, so it goes.
    pub(crate) fn open(dir: &Path, keep: u64) -> Result<Writer> {
        let path = dir.join(CHECKPOINT);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        file.set_len(keep)
            .with_context(|| format!("cutting {} back to its last marker", path.display()))?;
        Ok(Writer {
            file,
            pending: Vec::new(),
            written: keep,
        })
    }

    fn push(&mut self, r: &Record) -> Result<()> {
        let bytes = postcard::to_stdvec(r).context("encoding a checkpoint record")?;
        self.pending
            .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.pending.extend_from_slice(&bytes);
        Ok(())
    }

    /// Records a delivered combination (written with the next marker).
    pub(crate) fn combo(&mut self, c: &ComboResult) -> Result<()> {
        self.push(&Record::Combo {
            index: c.index as u64,
            stats: Box::new(c.stats.clone()),
            vbt: c.vbt.clone().map(Box::new),
            profile: c.profile.clone(),
        })
    }

    /// Marks the first `next` combinations as finished and writes everything through.
    pub(crate) fn done(&mut self, next: usize) -> Result<()> {
        self.push(&Record::Done { next: next as u64 })?;
        let wrote = self.file.write_all(&self.pending);
        let len = self.pending.len() as u64;
        self.pending.clear();
        match wrote {
            Ok(()) => {
                self.written += len;
                Ok(())
            }
            Err(e) => {
                // A partial write must not leave half a record for later ones to follow:
                // back to the last whole marker (this chunk is run again on a resume).
                let _ = self.file.set_len(self.written);
                Err(e).context("writing the sweep checkpoint")
            }
        }
    }
}

/// Calls `f` with each whole record of the checkpoint in `dir` and the byte offset after
/// it, in order; stops at the end or at a record a crash cut short. No checkpoint is no
/// records.
fn each_record(dir: &Path, mut f: impl FnMut(Record, u64) -> Result<()>) -> Result<()> {
    let file = match std::fs::File::open(dir.join(CHECKPOINT)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context("opening the sweep checkpoint"),
    };
    let mut r = BufReader::new(file);
    let mut buf = Vec::new();
    let mut at = 0u64;
    loop {
        let mut len = [0u8; 4];
        if r.read_exact(&mut len).is_err() {
            return Ok(());
        }
        let len = u32::from_le_bytes(len) as usize;
        if len > MAX_RECORD {
            // A damaged length: what came before it stands.
            return Ok(());
        }
        buf.resize(len, 0);
        if r.read_exact(&mut buf).is_err() {
            return Ok(());
        }
        at += 4 + buf.len() as u64;
        match postcard::from_bytes::<Record>(&buf) {
            Ok(rec) => f(rec, at)?,
            // A damaged tail: what came before it stands.
            Err(_) => return Ok(()),
        }
    }
}

/// Where a sweep resumes: how many combinations the checkpoint in `dir` holds as finished
/// and the byte length up to its last marker ((0, 0) without a checkpoint).
pub(crate) fn resume_point(dir: &Path) -> Result<(usize, u64)> {
    let mut point = (0, 0);
    each_record(dir, |r, at| {
        if let Record::Done { next } = r {
            point = (next as usize, at);
        }
        Ok(())
    })?;
    Ok(point)
}

/// Replays the combinations finished before `upto` (see [`resume_point`]) to `sink`, in
/// order, with their parameters rebuilt from `spec`'s combination order.
pub(crate) fn replay(
    dir: &Path,
    spec: &SweepSpec,
    upto: usize,
    sink: &mut dyn FnMut(&ComboResult) -> Result<()>,
) -> Result<()> {
    let mut order = spec.stream()?.enumerate();
    each_record(dir, |r, _| {
        let Record::Combo {
            index,
            stats,
            vbt,
            profile,
        } = r
        else {
            return Ok(());
        };
        let index = index as usize;
        if index >= upto {
            return Ok(());
        }
        let values = order
            .by_ref()
            .find(|(i, _)| *i == index)
            .map(|(_, v)| v)
            .context("the checkpoint names a combination the sweep does not have")?;
        let params = spec.params_for(&values)?;
        sink(&ComboResult {
            index,
            values,
            params,
            stats: *stats,
            vbt: vbt.map(|v| *v),
            profile,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::strategy::builtin;
    use backtide_core::sweep::{Axis, Method, SweepStrategy};

    fn spec() -> SweepSpec {
        let info = builtin::find("sma_cross").unwrap();
        let axis = |name: &str, text: &str| {
            let p = info.params.iter().find(|p| p.name == name).unwrap();
            Axis::parse(p, text).unwrap()
        };
        SweepSpec {
            strategy: SweepStrategy::from(info),
            fixed: vec![],
            axes: vec![axis("fast", "2:6:1"), axis("slow", "10,20")],
            constraint: None,
            method: Method::Grid,
        }
    }

    fn combo(spec: &SweepSpec, index: usize) -> ComboResult {
        let values = spec.stream().unwrap().nth(index).unwrap();
        ComboResult {
            index,
            params: spec.params_for(&values).unwrap(),
            values,
            stats: Stats {
                sharpe_ratio: if index == 3 {
                    f64::NAN
                } else {
                    index as f64 / 3.0
                },
                profit_factor: f64::INFINITY,
                ..Stats::default()
            },
            vbt: None,
            profile: None,
        }
    }

    #[test]
    fn a_resumed_sweep_replays_exactly_what_was_finished() {
        let d = tempfile::tempdir().unwrap();
        let spec = spec();
        let mut w = Writer::open(d.path(), 0).unwrap();
        for i in 0..4 {
            w.combo(&combo(&spec, i)).unwrap();
        }
        w.done(4).unwrap();
        // A chunk cut short: delivered combinations without their marker, then a torn record.
        w.combo(&combo(&spec, 5)).unwrap();
        w.done(6).unwrap();
        let mut bytes = std::fs::read(d.path().join(CHECKPOINT)).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(d.path().join(CHECKPOINT), &bytes).unwrap();
        let (next, keep) = resume_point(d.path()).unwrap();
        assert_eq!(next, 4);
        let mut seen = Vec::new();
        replay(d.path(), &spec, next, &mut |c| {
            seen.push(c.clone());
            Ok(())
        })
        .unwrap();
        let expected: Vec<ComboResult> = (0..4).map(|i| combo(&spec, i)).collect();
        assert_eq!(seen.len(), 4);
        for (a, b) in seen.iter().zip(&expected) {
            assert_eq!(
                (a.index, &a.values, &a.params),
                (b.index, &b.values, &b.params)
            );
            assert_eq!(
                a.stats.sharpe_ratio.to_bits(),
                b.stats.sharpe_ratio.to_bits()
            );
            assert_eq!(a.stats.profit_factor, f64::INFINITY);
        }
        // Appending after the marker drops the cut-short tail.
        let mut w = Writer::open(d.path(), keep).unwrap();
        w.combo(&combo(&spec, 4)).unwrap();
        w.done(5).unwrap();
        let (next, _) = resume_point(d.path()).unwrap();
        assert_eq!(next, 5);
        let mut n = 0;
        replay(d.path(), &spec, next, &mut |c| {
            assert_eq!(c.index, n);
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(resume_point(&d.path().join("none")).unwrap(), (0, 0));
    }
}
