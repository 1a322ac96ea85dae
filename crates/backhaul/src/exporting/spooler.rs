//! `Spooler`: the segments of one instance's spool on disk, what they hold
//! and what has been read back from them. The instance decides what goes
//! in (see `instance.rs`); the spooler appends it as a new segment, hands
//! the segments back oldest first, and removes each once it is delivered.
//!
//! Every batch is written once: a segment holds the batches newer than
//! everything already on disk (`on_disk_through`, the newest `at_s`
//! written), so the cost of a periodic write is what is new since the last
//! one. Memory: a summary per segment, and one segment's batches while it
//! is read back.

use std::collections::VecDeque;
use std::time::Instant;

use super::batch::Batch;
use super::spool::{Spool, SpoolError};

/// A write is cut into segments of at most this many bytes of batches (a
/// batch larger than that is a segment of its own): a slow disk still gets
/// the oldest part on disk by the deadline, and reading a segment back, or
/// rewriting it at stop, holds at most that in memory.
pub const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// One segment file on disk.
#[derive(Debug, Clone)]
struct Segment {
    seq: u64,
    oldest_at_s: i64,
    newest_at_s: i64,
    bytes: u64,
    metrics: u64,
}

/// What the segments found at start hold.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SpoolSummary {
    pub segments: usize,
    pub batches: usize,
    pub metrics: u64,
    pub bytes: u64,
}

/// An instance's spool: its segments on disk and the positions in them.
#[derive(Debug)]
pub struct Spooler {
    base: Spool,
    /// `spool every secs`: 0 writes only when the instance stops.
    every_s: i64,
    segments: VecDeque<Segment>,
    next_seq: u64,
    disk_bytes: u64,
    on_disk_through: i64,
    /// The newest `at_s` handed back by [`Self::read_next`].
    read_through: i64,
    /// The interval of the last periodic write.
    pub(super) last_write: Option<i64>,
    /// The last write failed: nothing more is built for the spool until
    /// one succeeds (memory stays bounded).
    pub(super) failing: bool,
    /// The spool is full (`spool max bytes`): logged once until it has
    /// room again.
    pub(super) full_logged: bool,
}

impl Spooler {
    /// Opens the spool of `base`: reads what every segment on disk holds
    /// (and keeps only its summary). A segment that cannot be used is
    /// logged and set aside (see [`Spool::load`]); beyond `spool max bytes`
    /// the oldest segments are removed, logged.
    pub fn open(base: Spool, every_s: u32, instance: &str) -> (Spooler, SpoolSummary) {
        let mut spooler = Spooler {
            base,
            every_s: i64::from(every_s),
            segments: VecDeque::new(),
            next_seq: 1,
            disk_bytes: 0,
            on_disk_through: i64::MIN,
            read_through: i64::MIN,
            last_write: None,
            failing: false,
            full_logged: false,
        };
        let seqs = match spooler.base.segments() {
            Ok(seqs) => seqs,
            Err(error) => {
                tracing::error!(instance, %error, "cannot list the spool directory; starting without the spool's backlog");
                Vec::new()
            }
        };
        for seq in seqs {
            spooler.next_seq = spooler.next_seq.max(seq + 1);
            let spool = spooler.base.segment(seq);
            let loaded = spool.load();
            if let Some(problem) = &loaded.problem {
                tracing::error!(instance, error = %problem, "a spool segment cannot be used whole; starting with what could be read");
            }
            if loaded.skipped > 0 {
                tracing::warn!(instance, path = %spool.path().display(), skipped_batches = loaded.skipped, "a spool segment holds more than spool max bytes: its oldest batches are left out");
            }
            let (Some(oldest), Some(newest)) = (loaded.batches.first(), loaded.batches.last())
            else {
                let _ = spool.clear();
                continue;
            };
            let segment = Segment {
                seq,
                oldest_at_s: oldest.at_s,
                newest_at_s: newest.at_s,
                bytes: loaded.batches.iter().map(|b| b.bytes.len() as u64).sum(),
                metrics: loaded.batches.iter().map(|b| b.metrics as u64).sum(),
            };
            spooler.disk_bytes += segment.bytes;
            spooler.on_disk_through = spooler.on_disk_through.max(segment.newest_at_s);
            spooler.segments.push_back(segment);
        }
        let lost = spooler.make_room(0);
        if lost > 0 {
            tracing::warn!(
                instance,
                lost_metrics = lost,
                max_bytes = spooler.base.max_bytes(),
                "the spool holds more than spool max bytes: its oldest segments are removed"
            );
        }
        let summary = SpoolSummary {
            segments: spooler.segments.len(),
            batches: 0,
            metrics: spooler.segments.iter().map(|s| s.metrics).sum(),
            bytes: spooler.disk_bytes,
        };
        (spooler, summary)
    }

    /// The spool's directory, for logs.
    /// The oldest batch time still on disk, if any.
    pub fn oldest_at_s(&self) -> Option<i64> {
        self.segments.iter().map(|s| s.oldest_at_s).min()
    }

    /// See [`Spool::positions_path`].
    pub fn positions_path(&self) -> std::path::PathBuf {
        self.base.positions_path()
    }

    pub fn dir(&self) -> std::path::PathBuf {
        self.base.dir()
    }

    pub fn every_s(&self) -> i64 {
        self.every_s
    }

    pub fn max_bytes(&self) -> u64 {
        self.base.max_bytes()
    }

    /// The newest `at_s` on disk (`i64::MIN`: none).
    pub fn on_disk_through(&self) -> i64 {
        self.on_disk_through
    }

    /// Bytes that still fit within `spool max bytes`.
    pub fn room(&self) -> u64 {
        self.base.max_bytes().saturating_sub(self.disk_bytes)
    }

    pub fn disk_bytes(&self) -> u64 {
        self.disk_bytes
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The oldest `at_s` not read back yet and newer than `after`.
    pub fn unread_since(&self, after: i64) -> Option<i64> {
        let after = after.max(self.read_through);
        self.segments
            .iter()
            .find(|s| s.newest_at_s > after)
            .map(|s| s.oldest_at_s.max(after.saturating_add(1)))
    }

    /// The batches of the oldest segment holding any newer than `after`
    /// (and than what was read before), only those, oldest first; `None`
    /// when no segment holds any.
    pub fn read_next(&mut self, after: i64, instance: &str) -> Option<Vec<Batch>> {
        loop {
            let after = after.max(self.read_through);
            let segment = self
                .segments
                .iter()
                .find(|s| s.newest_at_s > after)?
                .clone();
            self.read_through = segment.newest_at_s;
            let loaded = self.base.segment(segment.seq).load();
            if let Some(problem) = &loaded.problem {
                tracing::error!(instance, error = %problem, "a spool segment changed since the start; sending what could be read");
            }
            let batches: Vec<Batch> = loaded
                .batches
                .into_iter()
                .filter(|b| b.at_s > after)
                .collect();
            if !batches.is_empty() {
                return Some(batches);
            }
        }
    }

    /// Writes `batches` (oldest first, all newer than what is on disk) as
    /// new segments of at most [`SEGMENT_BYTES`], oldest first, until
    /// `deadline`; returns how many were written (a prefix: the rest waits
    /// for the next write), or the error that stopped it.
    pub fn append_all(
        &mut self,
        batches: &[&Batch],
        deadline: Instant,
    ) -> (usize, Result<(), SpoolError>) {
        let mut done = 0;
        while done < batches.len() && Instant::now() < deadline {
            let mut end = done + 1;
            let mut bytes = batches[done].bytes.len() as u64;
            while end < batches.len() && bytes + batches[end].bytes.len() as u64 <= SEGMENT_BYTES {
                bytes += batches[end].bytes.len() as u64;
                end += 1;
            }
            if let Err(error) = self.append(&batches[done..end], deadline) {
                return (done, Err(error));
            }
            done = end;
        }
        (done, Ok(()))
    }

    /// Writes `batches` (oldest first, all newer than what is on disk) as
    /// one new segment, all or nothing, by `deadline`.
    pub fn append(&mut self, batches: &[&Batch], deadline: Instant) -> Result<(), SpoolError> {
        let (Some(first), Some(last)) = (batches.first(), batches.last()) else {
            return Ok(());
        };
        let dir = self.base.dir();
        std::fs::create_dir_all(&dir).map_err(|source| SpoolError::Io {
            path: dir.clone(),
            source,
        })?;
        let seq = self.next_seq;
        let spool = self.base.segment(seq);
        let stored = spool.store(batches, deadline)?;
        if stored.dropped_batches > 0 {
            // Cut by its deadline (or a batch too large): a partial
            // segment would break "everything up to on_disk_through is on
            // disk"; none is kept.
            let _ = spool.clear();
            return Err(SpoolError::Io {
                path: spool.path().to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "{} of {} batches not written in time",
                        stored.dropped_batches,
                        batches.len()
                    ),
                ),
            });
        }
        self.next_seq += 1;
        self.disk_bytes += stored.bytes;
        self.on_disk_through = self.on_disk_through.max(last.at_s);
        self.segments.push_back(Segment {
            seq,
            oldest_at_s: first.at_s,
            newest_at_s: last.at_s,
            bytes: stored.bytes,
            metrics: batches.iter().map(|b| b.metrics as u64).sum(),
        });
        Ok(())
    }

    /// Removes the segments whose batches are all delivered: every
    /// `at_s` up to `through`. True when one was removed.
    pub fn remove_delivered(&mut self, through: i64, instance: &str) -> bool {
        let mut removed = false;
        while let Some(front) = self.segments.front() {
            if front.newest_at_s > through {
                break;
            }
            let spool = self.base.segment(front.seq);
            if let Err(error) = spool.clear() {
                tracing::error!(instance, %error, "cannot remove a delivered spool segment; it may be sent again at the next start");
            }
            self.disk_bytes -= front.bytes;
            self.segments.pop_front();
            removed = true;
        }
        removed
    }

    /// Rewrites the segment holding `front.at_s` (the oldest batch not
    /// acknowledged whole, `front` its unacknowledged part) so that it
    /// starts with `front`: what the receiver has is not sent again after
    /// a clean restart. Bounded: one segment of at most [`SEGMENT_BYTES`]
    /// (a larger one, of the first format, is left as it is).
    pub fn trim_to(&mut self, front: &Batch) -> Result<(), SpoolError> {
        let Some(index) = self
            .segments
            .iter()
            .position(|s| s.oldest_at_s <= front.at_s && front.at_s <= s.newest_at_s)
        else {
            return Ok(());
        };
        let segment = self.segments[index].clone();
        if segment.bytes > SEGMENT_BYTES {
            // A segment of the first format (one file): not rewritten, so
            // stopping stays bounded; its delivered lines may be sent again.
            return Ok(());
        }
        let spool = self.base.segment(segment.seq);
        let loaded = spool.load();
        let mut kept: Vec<Batch> = loaded
            .batches
            .into_iter()
            .filter(|b| b.at_s > front.at_s)
            .collect();
        kept.insert(
            0,
            Batch::new(front.bytes.clone(), front.metrics).at(front.at_s),
        );
        let refs: Vec<&Batch> = kept.iter().collect();
        // No deadline: a segment cut at its oldest records would lose the
        // batch being trimmed; it is at most SEGMENT_BYTES.
        let stored = spool.store(&refs, Instant::now() + std::time::Duration::from_secs(3600))?;
        let entry = &mut self.segments[index];
        self.disk_bytes = self.disk_bytes - entry.bytes + stored.bytes;
        entry.bytes = stored.bytes;
        entry.oldest_at_s = front.at_s;
        entry.metrics = kept.iter().map(|b| b.metrics as u64).sum();
        Ok(())
    }

    /// Removes the oldest segments until `bytes` more fit within `spool
    /// max bytes`; returns the metrics they held.
    pub fn make_room(&mut self, bytes: u64) -> u64 {
        let mut lost = 0;
        while self.disk_bytes + bytes > self.base.max_bytes() {
            let Some(front) = self.segments.pop_front() else {
                break;
            };
            let _ = self.base.segment(front.seq).clear();
            self.disk_bytes -= front.bytes;
            lost += front.metrics;
        }
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporting::spool::SpoolSettings;
    use std::time::Duration;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    fn batch(at: i64) -> Batch {
        Batch::new(format!("a.b {at} {at}\n").into_bytes(), 1).at(at)
    }

    fn base(dir: &std::path::Path, max_bytes: u64) -> Spool {
        Spool::new(
            &SpoolSettings {
                dir: dir.to_path_buf(),
                max_bytes,
            },
            "g",
            "graphite",
        )
    }

    fn times(batches: &[Batch]) -> Vec<i64> {
        batches.iter().map(|b| b.at_s).collect()
    }

    #[test]
    fn segments_are_appended_read_back_in_order_and_removed_once_delivered() {
        let dir = std::env::temp_dir().join(format!("backhaul-spooler-{}", rand::random::<u32>()));
        let (mut spooler, summary) = Spooler::open(base(&dir, 1 << 20), 5, "g");
        assert_eq!(summary.segments, 0);
        let first: Vec<Batch> = (1..=3).map(batch).collect();
        let second: Vec<Batch> = (4..=5).map(batch).collect();
        spooler
            .append(&first.iter().collect::<Vec<_>>(), later())
            .unwrap();
        spooler
            .append(&second.iter().collect::<Vec<_>>(), later())
            .unwrap();
        assert_eq!(spooler.on_disk_through(), 5);
        assert_eq!(base(&dir, 1 << 20).segments().unwrap(), vec![1, 2]);

        // A new process finds both, reads them back oldest first.
        let (mut again, summary) = Spooler::open(base(&dir, 1 << 20), 5, "g");
        assert_eq!((summary.segments, summary.metrics), (2, 5));
        assert_eq!(again.unread_since(i64::MIN), Some(1));
        assert_eq!(times(&again.read_next(2, "g").unwrap()), vec![3]);
        assert_eq!(times(&again.read_next(3, "g").unwrap()), vec![4, 5]);
        assert!(again.read_next(5, "g").is_none());
        // Delivered through 3: the first segment goes, the second stays.
        assert!(again.remove_delivered(3, "g"));
        assert_eq!(base(&dir, 1 << 20).segments().unwrap(), vec![2]);
        // The next segment continues the numbering.
        again.append(&[&batch(6)], later()).unwrap();
        assert_eq!(base(&dir, 1 << 20).segments().unwrap(), vec![2, 3]);
        again.remove_delivered(6, "g");
        assert!(base(&dir, 1 << 20).segments().unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn trimming_drops_what_the_receiver_has_and_room_drops_the_oldest() {
        let dir = std::env::temp_dir().join(format!("backhaul-spooler-{}", rand::random::<u32>()));
        let one = batch(1).bytes.len() as u64;
        let (mut spooler, _) = Spooler::open(base(&dir, 4 * one), 5, "g");
        let batches: Vec<Batch> = (1..=3).map(batch).collect();
        spooler
            .append(&batches.iter().collect::<Vec<_>>(), later())
            .unwrap();
        let half = Batch::new(b"x\n".to_vec(), 1).at(2);
        spooler.trim_to(&half).unwrap();
        let (mut again, _) = Spooler::open(base(&dir, 4 * one), 5, "g");
        let read = again.read_next(i64::MIN, "g").unwrap();
        assert_eq!(times(&read), vec![2, 3]);
        assert_eq!(read[0].bytes, b"x\n");
        assert_eq!(again.make_room(4 * one), 2);
        assert_eq!(again.segment_count(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_write_is_cut_into_segments_of_bounded_size_and_stops_at_its_deadline() {
        let dir = std::env::temp_dir().join(format!("backhaul-spooler-{}", rand::random::<u32>()));
        let (mut spooler, _) = Spooler::open(base(&dir, 1 << 30), 5, "g");
        let third = (SEGMENT_BYTES / 3 + 1) as usize;
        let batches: Vec<Batch> = (1..=4)
            .map(|at| Batch::new(vec![b'\n'; third], third).at(at))
            .collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        // Past its deadline: nothing written, nothing lost from memory.
        let (done, result) = spooler.append_all(&refs, Instant::now());
        assert_eq!((done, result.is_ok()), (0, true));
        let (done, result) = spooler.append_all(&refs, later());
        assert_eq!(done, 4);
        result.unwrap();
        // Two of a third of SEGMENT_BYTES fit a segment, three do not.
        assert_eq!(base(&dir, 1 << 30).segments().unwrap(), vec![1, 2]);
        let (mut again, summary) = Spooler::open(base(&dir, 1 << 30), 5, "g");
        assert_eq!(summary.segments, 2);
        assert_eq!(times(&again.read_next(i64::MIN, "g").unwrap()), vec![1, 2]);
        assert_eq!(times(&again.read_next(2, "g").unwrap()), vec![3, 4]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
