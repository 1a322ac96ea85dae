//! `Spool`: an instance's undelivered backlog on disk across a restart.
//!
//! The store lives in memory, so after a restart positions alone rebuild
//! nothing. When an instance stops (SIGTERM) with batches its receiver has
//! not acknowledged, it writes them, oldest first, to `DIR/NAME.spool`
//! (`spool directory`, default `[directories] lib`/`exporting-spool`):
//! the ring's unacknowledged bytes, then the windows it had not built yet
//! (built from the store now). At start it reads the file back and sends
//! those batches before anything new; the file is removed once all of
//! them are back in the ring.
//!
//! Bounds: at most `spool max bytes` are kept (beyond that the oldest
//! batches are dropped and counted as lost); writing stops at a deadline
//! (the windows not built by then are counted as lost) so stopping stays
//! prompt. The file is written to `NAME.spool.tmp`, synced and renamed, so
//! a crash while writing leaves the previous state. A file that is
//! corrupt, truncated, from another format version, or unreadable gives a
//! clear log line and a fresh start (it is removed when possible); a
//! directory that cannot be written (read-only, full) gives a log line and
//! the backlog is lost, as without a spool.
//!
//! # File format (version 1, little-endian)
//!
//! `BHSPOOL\n`, version `u32`, then records: `at_s i64`, `metrics u32`,
//! `len u32`, `crc32 u32` (of the bytes), `len` bytes. Nothing after the
//! last record.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::batch::Batch;

const MAGIC: &[u8; 8] = b"BHSPOOL\n";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
const RECORD_HEAD: usize = 8 + 4 + 4 + 4;

/// Why a spool file cannot be used or written.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path} is not a backhaul spool file (bad magic)")]
    NotASpool { path: PathBuf },
    #[error("{path} was written by a backhaul with spool format version {found}; this one reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("{path} is corrupt at byte {at}: {what}")]
    Corrupt {
        path: PathBuf,
        at: u64,
        what: &'static str,
    },
}

/// What a spool held at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub batches: VecDeque<Batch>,
    /// Batches left out because the file held more than `max bytes`.
    pub dropped: Dropped,
}

/// Batches left out (oldest first) to stay within a bound.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub batches: u64,
    pub metrics: u64,
    pub bytes: u64,
}

/// The batches to write, kept within `max_bytes` by dropping the oldest.
#[derive(Debug)]
pub struct Backlog {
    batches: VecDeque<Batch>,
    bytes: usize,
    max_bytes: usize,
    pub dropped: Dropped,
}

impl Backlog {
    pub fn new(max_bytes: usize) -> Backlog {
        Backlog {
            batches: VecDeque::new(),
            bytes: 0,
            max_bytes,
            dropped: Dropped::default(),
        }
    }

    /// Adds a newer batch, dropping the oldest while over the bound.
    pub fn push(&mut self, batch: Batch) {
        if batch.bytes.is_empty() {
            return;
        }
        self.bytes += batch.bytes.len();
        self.batches.push_back(batch);
        while self.bytes > self.max_bytes {
            let Some(old) = self.batches.pop_front() else {
                break;
            };
            self.bytes -= old.bytes.len();
            self.dropped.batches += 1;
            self.dropped.metrics += old.metrics as u64;
            self.dropped.bytes += old.bytes.len() as u64;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn metrics(&self) -> u64 {
        self.batches.iter().map(|b| b.metrics as u64).sum()
    }
}

/// One instance's spool file.
#[derive(Debug, Clone)]
pub struct Spool {
    path: PathBuf,
    max_bytes: usize,
}

impl Spool {
    /// The spool of instance `name` in `dir` (the name made safe for a
    /// file name), keeping at most `max_bytes`.
    pub fn new(dir: &Path, name: &str, max_bytes: usize) -> Spool {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Spool {
            path: dir.join(format!("{safe}.spool")),
            max_bytes,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Reads the spool, if there is one (`Ok(None)`: none). Memory is
    /// bounded by `max bytes` (the oldest batches beyond it are dropped).
    pub fn load(&self) -> Result<Option<Loaded>, SpoolError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SpoolError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let read_err = |source| SpoolError::Read {
            path: self.path.clone(),
            source,
        };
        let corrupt = |at: u64, what| SpoolError::Corrupt {
            path: self.path.clone(),
            at,
            what,
        };
        let mut r = BufReader::new(file);
        let mut head = [0u8; 12];
        match read_full(&mut r, &mut head).map_err(read_err)? {
            12 => {}
            _ => return Err(corrupt(0, "shorter than its header")),
        }
        if &head[..8] != MAGIC {
            return Err(SpoolError::NotASpool {
                path: self.path.clone(),
            });
        }
        let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if version != VERSION {
            return Err(SpoolError::Version {
                path: self.path.clone(),
                found: version,
            });
        }
        let mut backlog = Backlog::new(self.max_bytes);
        let mut at = 12u64;
        loop {
            let mut rh = [0u8; RECORD_HEAD];
            match read_full(&mut r, &mut rh).map_err(read_err)? {
                0 => break,
                RECORD_HEAD => {}
                _ => return Err(corrupt(at, "a record head is cut short")),
            }
            let word = |i: usize| u32::from_le_bytes([rh[i], rh[i + 1], rh[i + 2], rh[i + 3]]);
            let at_s = i64::from_le_bytes(rh[..8].try_into().unwrap_or([0; 8]));
            let metrics = word(8) as usize;
            let len = word(12) as usize;
            let crc = word(16);
            if len == 0 || len > self.max_bytes.max(1) * 2 + (64 << 20) {
                return Err(corrupt(at, "a record length is out of range"));
            }
            let mut bytes = vec![0u8; len];
            if read_full(&mut r, &mut bytes).map_err(read_err)? != len {
                return Err(corrupt(at, "a record is cut short"));
            }
            if crc32fast::hash(&bytes) != crc || bytes.last() != Some(&b'\n') {
                return Err(corrupt(at, "a record's checksum does not match"));
            }
            at += (RECORD_HEAD + len) as u64;
            backlog.push(Batch::new(bytes, metrics).at(at_s));
        }
        Ok(Some(Loaded {
            dropped: backlog.dropped,
            batches: backlog.batches,
        }))
    }

    /// Writes `backlog` (oldest first), replacing the spool; an empty
    /// backlog removes it. Stops at `deadline` (what was not written by
    /// then is returned as dropped, newest first).
    pub fn write(&self, backlog: &Backlog, deadline: Instant) -> Result<Dropped, SpoolError> {
        if backlog.is_empty() {
            self.remove()?;
            return Ok(Dropped::default());
        }
        let tmp = self.path.with_extension("spool.tmp");
        let write_err = |source| SpoolError::Write {
            path: tmp.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(|source| SpoolError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let file = File::create(&tmp).map_err(write_err)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let mut late = Dropped::default();
        let result = (|| {
            w.write_all(MAGIC)?;
            w.write_all(&VERSION.to_le_bytes())?;
            for b in &backlog.batches {
                if Instant::now() >= deadline {
                    late.batches += 1;
                    late.metrics += b.metrics as u64;
                    late.bytes += b.bytes.len() as u64;
                    continue;
                }
                w.write_all(&b.at_s.to_le_bytes())?;
                w.write_all(&(b.metrics as u32).to_le_bytes())?;
                w.write_all(&(b.bytes.len() as u32).to_le_bytes())?;
                w.write_all(&crc32fast::hash(&b.bytes).to_le_bytes())?;
                w.write_all(&b.bytes)?;
            }
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        })();
        if let Err(source) = result {
            let _ = fs::remove_file(&tmp);
            return Err(write_err(source));
        }
        fs::rename(&tmp, &self.path).map_err(|source| {
            let _ = fs::remove_file(&tmp);
            SpoolError::Write {
                path: self.path.clone(),
                source,
            }
        })?;
        Ok(late)
    }

    /// Removes the spool (a missing file is fine).
    pub fn remove(&self) -> Result<(), SpoolError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SpoolError::Write {
                path: self.path.clone(),
                source,
            }),
        }
    }
}

/// Reads until `buf` is full or the end; returns how many bytes were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "backhaul-spool-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn batch(text: &str, at: i64) -> Batch {
        Batch::new(text.as_bytes().to_vec(), text.lines().count()).at(at)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn round_trip_oldest_first_and_removed_when_empty() {
        let d = dir("rt");
        let spool = Spool::new(&d, "my/inst", 1 << 20);
        assert!(spool.path().ends_with("my_inst.spool"));
        assert!(spool.load().unwrap().is_none());
        let mut backlog = Backlog::new(1 << 20);
        backlog.push(batch("a 1 1\nb 2 1\n", 1));
        backlog.push(batch("c 3 2\n", 2));
        assert_eq!(spool.write(&backlog, later()).unwrap(), Dropped::default());
        let loaded = spool.load().unwrap().unwrap();
        let got: Vec<(Vec<u8>, usize, i64)> = loaded
            .batches
            .into_iter()
            .map(|b| (b.bytes, b.metrics, b.at_s))
            .collect();
        assert_eq!(
            got,
            [
                (b"a 1 1\nb 2 1\n".to_vec(), 2, 1),
                (b"c 3 2\n".to_vec(), 1, 2)
            ]
        );
        spool.write(&Backlog::new(1), later()).unwrap();
        assert!(!spool.path().exists());
        let _ = fs::remove_dir_all(d);
    }

    #[test]
    fn the_oldest_batches_beyond_the_bound_are_dropped_and_counted() {
        let mut backlog = Backlog::new(12);
        backlog.push(batch("a 1 1\n", 1));
        backlog.push(batch("b 1 2\n", 2));
        backlog.push(batch("c 1 3\n", 3));
        assert_eq!(backlog.len(), 2);
        assert_eq!(
            backlog.dropped,
            Dropped {
                batches: 1,
                metrics: 1,
                bytes: 6
            }
        );
        // A deadline already passed writes a valid, empty spool and says
        // what it left out.
        let d = dir("late");
        let spool = Spool::new(&d, "i", 12);
        let late = spool.write(&backlog, Instant::now()).unwrap();
        assert_eq!(late.batches, 2);
        assert!(spool.load().unwrap().unwrap().batches.is_empty());
        let _ = fs::remove_dir_all(d);
    }

    #[test]
    fn corrupt_truncated_foreign_and_future_files_are_refused_with_a_reason() {
        let d = dir("bad");
        let spool = Spool::new(&d, "i", 1 << 20);
        let mut backlog = Backlog::new(1 << 20);
        backlog.push(batch("a 1 1\n", 1));
        spool.write(&backlog, later()).unwrap();
        let good = fs::read(spool.path()).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                good[..good.len() - 2].to_vec(),
                "is corrupt at byte 12: a record is cut short",
            ),
            (
                {
                    let mut b = good.clone();
                    let last = b.len() - 2;
                    b[last] ^= 1;
                    b
                },
                "checksum does not match",
            ),
            (b"GARBAGE!\x01\0\0\0".to_vec(), "not a backhaul spool file"),
            (
                {
                    let mut b = good.clone();
                    b[8] = 2;
                    b
                },
                "spool format version 2; this one reads version 1",
            ),
            (good[..5].to_vec(), "shorter than its header"),
        ];
        for (bytes, want) in cases {
            fs::write(spool.path(), &bytes).unwrap();
            let error = spool.load().expect_err(want).to_string();
            assert!(error.contains(want), "{error} should say {want}");
            assert!(error.contains(&spool.path().display().to_string()));
        }
        let _ = fs::remove_dir_all(d);
    }

    proptest::proptest! {
        /// Whatever the batches, what is written is read back the same
        /// (within the bound, oldest dropped first).
        #[test]
        fn what_is_written_reads_back(
            lines in proptest::collection::vec(("[a-z .0-9]{0,40}", 0i64..1_000_000), 0..30),
            max in 1usize..2000,
        ) {
            let d = dir("prop");
            let spool = Spool::new(&d, "p", max);
            let mut backlog = Backlog::new(max);
            let mut all = Vec::new();
            for (text, at) in &lines {
                let b = batch(&format!("{text}\n"), *at);
                all.push((b.bytes.clone(), *at));
                backlog.push(b);
            }
            spool.write(&backlog, later()).unwrap();
            let got: Vec<(Vec<u8>, i64)> = spool
                .load()
                .unwrap()
                .map(|l| l.batches.into_iter().map(|b| (b.bytes, b.at_s)).collect())
                .unwrap_or_default();
            let kept = all.len() - backlog.dropped.batches as usize;
            proptest::prop_assert_eq!(&got[..], &all[all.len() - kept..]);
            let _ = fs::remove_dir_all(d);
        }
    }
}
