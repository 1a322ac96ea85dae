//! The spool: an exporting instance's undelivered batches kept in a file,
//! so that a restart (or a crash, up to the last write) loses nothing the
//! receiver had not acknowledged.
//!
//! An instance's spool is a series of segment files, `DIR/NAME~SEQ.spool`
//! (`SEQ`: ten digits, growing), each written once and whole: into
//! `NAME~SEQ.spool.tmp`, synced, then renamed into place, so a segment on
//! disk is always complete, never half written. A write that fails (a full
//! or read-only disk) leaves no segment and says why. The instance appends a
//! segment with what is new every `spool every secs` while a receiver is
//! down, and one more when it stops; it removes a segment once the receiver
//! has acknowledged all of it (see `instance.rs`). `DIR/NAME.spool`, the one
//! file of the first spool format, is read as the oldest segment.
//!
//! # Format (versions 1 and 2)
//!
//! ```text
//! "BACKHAUL-SPOOL\n"        15 bytes
//! version                   u32 little-endian: 2 for remote write, 1 else
//! identity length, identity u16 LE, bytes: the instance's connector type
//!                           (batches of another format cannot be sent)
//! then records, newest first:
//!   length                  u32 LE: bytes of the batch
//!   crc32                   u32 LE: of the 16 bytes below and the batch
//!   at_s                    i64 LE: the interval end the batch was built for
//!   metrics                 u64 LE: metric lines in it
//!   batch                   `length` bytes
//! ```
//!
//! Version 2 is version 1 whose remote-write records may start with a
//! series key (`#` and 16 hex digits, see `wire::format::remote_write`):
//! a backhaul that reads only version 1 would send that key as part of the
//! metric name, so it sets such a file aside instead (a newer version).
//! This build reads both.
//!
//! Records go newest first so that a write cut short by its deadline keeps
//! the newest batches, and a file damaged at its end loses the oldest: the
//! reader keeps every record before the first one that does not check out.
//!
//! Limits: at most `max_bytes` of batches are written (the oldest beyond
//! that are dropped and counted) and at most `max_bytes` are read back,
//! whatever the file's size, so a foreign or damaged file cannot make the
//! agent allocate without bound. A file that is not a spool, is from a newer
//! version, or belongs to another connector type is renamed aside (kept for
//! inspection, `NAME.spool.unreadable`) and the instance starts afresh.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::batch::Batch;

const MAGIC: &[u8; 15] = b"BACKHAUL-SPOOL\n";
/// The newest format this build reads (and writes for remote write).
pub const SPOOL_VERSION: u32 = 2;
const RECORD_HEADER: usize = 4 + 4 + 8 + 8;
/// Between an instance's file name and a segment's number: never in a
/// name made by `file_name` (it would be escaped there).
const SEGMENT_MARK: char = '~';

/// Why a spool could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("spool {path}: not a backhaul spool file")]
    NotASpool { path: PathBuf },
    #[error("spool {path}: written by a newer backhaul (format {version}; this one reads {SPOOL_VERSION})")]
    FutureVersion { path: PathBuf, version: u32 },
    #[error(
        "spool {path}: holds batches of connector type '{found}', this instance is '{expected}'"
    )]
    OtherConnector {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("spool {path}: damaged at byte {offset} ({reason}); the {kept} newer batches before it are kept")]
    Damaged {
        path: PathBuf,
        offset: u64,
        reason: &'static str,
        kept: usize,
    },
}

/// Where and how much an instance spools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolSettings {
    /// The directory of every instance's spool file.
    pub dir: PathBuf,
    /// At most this many bytes of batches are kept.
    pub max_bytes: u64,
}

/// What [`Spool::load`] found.
#[derive(Debug, Default)]
pub struct LoadedSpool {
    /// The batches, oldest first.
    pub batches: Vec<Batch>,
    /// Why some or all of the file could not be used (already handled: the
    /// file was renamed aside or only its good part kept); for the log.
    pub problem: Option<SpoolError>,
    /// Batches beyond the read limit, not loaded.
    pub skipped: usize,
}

/// What [`Spool::store`] wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoredSpool {
    pub batches: usize,
    pub bytes: u64,
    /// Oldest batches left out: beyond `max bytes`, or not reached before
    /// the deadline.
    pub dropped_batches: usize,
    pub dropped_metrics: u64,
}

/// One instance's spool file.
#[derive(Debug, Clone)]
pub struct Spool {
    path: PathBuf,
    tmp_path: PathBuf,
    identity: String,
    max_bytes: u64,
}

impl Spool {
    /// The spool of instance `instance` (any text: it is made a safe file
    /// name) whose batches are in the format of `connector_type`: its
    /// segment 0 (`NAME.spool`); [`Self::segment`] names the others.
    pub fn new(settings: &SpoolSettings, instance: &str, connector_type: &str) -> Spool {
        let name = file_name(instance);
        Spool {
            path: settings.dir.join(format!("{name}.spool")),
            tmp_path: settings.dir.join(format!("{name}.spool.tmp")),
            identity: connector_type.to_string(),
            max_bytes: settings.max_bytes,
        }
    }

    /// Segment `seq` of the same spool (0 is the spool's own file).
    pub fn segment(&self, seq: u64) -> Spool {
        if seq == 0 {
            return self.clone();
        }
        let name = format!("{}{SEGMENT_MARK}{seq:010}", self.stem());
        let dir = self.dir();
        Spool {
            path: dir.join(format!("{name}.spool")),
            tmp_path: dir.join(format!("{name}.spool.tmp")),
            identity: self.identity.clone(),
            max_bytes: self.max_bytes,
        }
    }

    /// The directory the segments are in.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// The instance's part of the file names.
    fn stem(&self) -> String {
        let file = self
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = file.strip_suffix(".spool").unwrap_or(&file);
        file.split(SEGMENT_MARK)
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// The sequence numbers of the segments on disk, oldest first (0: the
    /// spool's own file). A missing directory has none.
    pub fn segments(&self) -> Result<Vec<u64>, SpoolError> {
        let dir = self.dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(SpoolError::Io { path: dir, source }),
        };
        let stem = self.stem();
        let prefix = format!("{stem}{SEGMENT_MARK}");
        let mut seqs = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(base) = name.strip_suffix(".spool") else {
                continue;
            };
            if base == stem {
                seqs.push(0);
            } else if let Some(seq) = base.strip_prefix(&prefix) {
                // Only the names `segment` makes (ten digits, from 1).
                match seq.parse::<u64>() {
                    Ok(n) if n > 0 && format!("{n:010}") == seq => seqs.push(n),
                    _ => {}
                }
            }
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file of the instance's export positions, beside its spool
    /// (`NAME.positions`): see [`ExportPositions`].
    pub fn positions_path(&self) -> PathBuf {
        self.path.with_extension("positions")
    }

    /// At most this many bytes of batches are kept.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Reads the spool back, oldest batch first. Never fails: a missing file
    /// is an empty spool; an unusable one is renamed aside and reported in
    /// [`LoadedSpool::problem`]; a damaged one gives its good records.
    /// The version this spool's files are written in: 2 for remote write
    /// (records with series keys), 1 for the line formats, which an older
    /// backhaul still reads.
    fn format_version(&self) -> u32 {
        if self.identity.starts_with("prometheus_remote_write") {
            2
        } else {
            1
        }
    }

    pub fn load(&self) -> LoadedSpool {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return LoadedSpool::default(),
            Err(source) => {
                return LoadedSpool {
                    problem: Some(self.io_error(source)),
                    ..LoadedSpool::default()
                }
            }
        };
        // Never more than the header and `max_bytes` of records, plus one
        // record header to see whether more followed.
        let limit = 15 + 4 + 2 + u64::from(u16::MAX) + self.max_bytes + RECORD_HEADER as u64;
        let mut bytes = Vec::new();
        if let Err(source) = file.take(limit).read_to_end(&mut bytes) {
            return LoadedSpool {
                problem: Some(self.io_error(source)),
                ..LoadedSpool::default()
            };
        }
        let mut loaded = match self.parse(&bytes) {
            Ok(loaded) => loaded,
            Err(problem) => {
                let aside = self.path.with_extension("spool.unreadable");
                let _ = fs::rename(&self.path, aside);
                return LoadedSpool {
                    problem: Some(problem),
                    ..LoadedSpool::default()
                };
            }
        };
        loaded.batches.reverse();
        loaded
    }

    /// Header checks, then records newest first until the end, the first
    /// damaged one, or the read limit.
    fn parse(&self, bytes: &[u8]) -> Result<LoadedSpool, SpoolError> {
        let path = || self.path.clone();
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or_else(|| SpoolError::NotASpool { path: path() })?;
        let (version, rest) =
            take_u32(rest).ok_or_else(|| SpoolError::NotASpool { path: path() })?;
        if version > SPOOL_VERSION {
            return Err(SpoolError::FutureVersion {
                path: path(),
                version,
            });
        }
        if version == 0 {
            return Err(SpoolError::NotASpool { path: path() });
        }
        let (identity, mut rest) = take_u16(rest)
            .and_then(|(len, rest)| {
                let len = usize::from(len);
                (rest.len() >= len).then(|| rest.split_at(len))
            })
            .ok_or_else(|| SpoolError::NotASpool { path: path() })?;
        if identity != self.identity.as_bytes() {
            return Err(SpoolError::OtherConnector {
                path: path(),
                found: String::from_utf8_lossy(identity).into_owned(),
                expected: self.identity.clone(),
            });
        }
        let mut loaded = LoadedSpool::default();
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let offset = (bytes.len() - rest.len()) as u64;
            let damaged = |reason| SpoolError::Damaged {
                path: path(),
                offset,
                reason,
                kept: 0,
            };
            let Some(header) = rest.get(..RECORD_HEADER) else {
                loaded.problem = Some(damaged("a record cut short"));
                break;
            };
            let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default()) as usize;
            let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
            let at_s = i64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
            let metrics = u64::from_le_bytes(header[16..24].try_into().unwrap_or_default());
            if total + len as u64 > self.max_bytes {
                // The file was written under a larger limit: the newest
                // batches that fit are kept.
                loaded.skipped += 1;
                break;
            }
            let Some(batch) = rest.get(RECORD_HEADER..RECORD_HEADER + len) else {
                loaded.problem = Some(damaged("a record cut short"));
                break;
            };
            if checksum(&header[8..24], batch) != crc {
                loaded.problem = Some(damaged("checksum mismatch"));
                break;
            }
            total += len as u64;
            let metrics = usize::try_from(metrics).unwrap_or(usize::MAX);
            loaded
                .batches
                .push(Batch::new(batch.to_vec(), metrics).at(at_s));
            rest = &rest[RECORD_HEADER + len..];
        }
        if let Some(SpoolError::Damaged { kept, .. }) = &mut loaded.problem {
            *kept = loaded.batches.len();
        }
        Ok(loaded)
    }

    /// Replaces the spool with `batches` (oldest first), newest first in the
    /// file, keeping at most `max_bytes` of them and stopping at `deadline`;
    /// what was left out is counted. No batches: the file is removed. On an
    /// error the previous file stays as it was.
    pub fn store(&self, batches: &[&Batch], deadline: Instant) -> Result<StoredSpool, SpoolError> {
        if batches.is_empty() {
            self.clear()?;
            return Ok(StoredSpool::default());
        }
        let mut stored = StoredSpool::default();
        let result = self.write_tmp(batches, deadline, &mut stored);
        if let Err(error) = result {
            let _ = fs::remove_file(&self.tmp_path);
            return Err(error);
        }
        fs::rename(&self.tmp_path, &self.path).map_err(|source| self.io_error(source))?;
        if let Some(dir) = self.path.parent() {
            // The rename itself is durable once the directory is synced.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(stored)
    }

    fn write_tmp(
        &self,
        batches: &[&Batch],
        deadline: Instant,
        stored: &mut StoredSpool,
    ) -> Result<(), SpoolError> {
        let tmp_error = |source| SpoolError::Io {
            path: self.tmp_path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.tmp_path)
            .map_err(tmp_error)?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let identity = self.identity.as_bytes();
        let identity = &identity[..identity.len().min(usize::from(u16::MAX))];
        out.write_all(MAGIC).map_err(tmp_error)?;
        out.write_all(&self.format_version().to_le_bytes())
            .map_err(tmp_error)?;
        out.write_all(&(identity.len() as u16).to_le_bytes())
            .map_err(tmp_error)?;
        out.write_all(identity).map_err(tmp_error)?;
        let mut written = 0;
        for batch in batches.iter().rev() {
            let len = batch.bytes.len() as u64;
            if stored.bytes + len > self.max_bytes || len > u64::from(u32::MAX) {
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            let mut fields = [0u8; 16];
            fields[..8].copy_from_slice(&batch.at_s.to_le_bytes());
            fields[8..].copy_from_slice(&(batch.metrics as u64).to_le_bytes());
            out.write_all(&(len as u32).to_le_bytes())
                .map_err(tmp_error)?;
            out.write_all(&checksum(&fields, &batch.bytes).to_le_bytes())
                .map_err(tmp_error)?;
            out.write_all(&fields).map_err(tmp_error)?;
            out.write_all(&batch.bytes).map_err(tmp_error)?;
            stored.bytes += len;
            written += 1;
        }
        stored.batches = written;
        stored.dropped_batches = batches.len() - written;
        stored.dropped_metrics = batches[..batches.len() - written]
            .iter()
            .map(|b| b.metrics as u64)
            .sum();
        let file = out.into_inner().map_err(|e| tmp_error(e.into_error()))?;
        file.sync_all().map_err(tmp_error)?;
        Ok(())
    }

    /// Removes the spool file (everything in it was delivered).
    pub fn clear(&self) -> Result<(), SpoolError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(self.io_error(source)),
        }
    }

    fn io_error(&self, source: io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

fn checksum(fields: &[u8], batch: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(fields);
    hasher.update(batch);
    hasher.finalize()
}

fn take_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}

fn take_u16(bytes: &[u8]) -> Option<(u16, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<2>()?;
    Some((u16::from_le_bytes(*head), rest))
}

/// An instance name as a file name: letters, digits, `-`, `_` and `.` kept,
/// anything else (and a leading dot) as `%` and its byte in hex, so
/// different names stay different files; never empty.
fn file_name(instance: &str) -> String {
    let mut name = String::with_capacity(instance.len());
    for b in instance.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && !name.is_empty()) {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02x}"));
        }
    }
    if name.is_empty() {
        name.push('%');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Dir(PathBuf);
    impl Dir {
        fn new(tag: &str) -> Dir {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("backhaul-spool-{tag}-{}-{n}", std::process::id()));
            fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn spool(dir: &Dir, max_bytes: u64) -> Spool {
        let settings = SpoolSettings {
            dir: dir.0.clone(),
            max_bytes,
        };
        Spool::new(&settings, "graphite:main", "graphite")
    }

    fn batch(i: i64) -> Batch {
        Batch::new(
            format!("a.b {i} {}\nc.d {i} {}\n", 1000 + i, 1000 + i).into_bytes(),
            2,
        )
        .at(1000 + i)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    fn summary(batches: &[Batch]) -> Vec<(i64, usize, String)> {
        batches
            .iter()
            .map(|b| {
                (
                    b.at_s,
                    b.metrics,
                    String::from_utf8_lossy(&b.bytes).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn batches_come_back_oldest_first_and_the_file_goes_when_empty() {
        let dir = Dir::new("roundtrip");
        let spool = spool(&dir, 1 << 20);
        assert!(spool.load().batches.is_empty(), "no file yet");
        let batches: Vec<Batch> = (0..5).map(batch).collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        let stored = spool.store(&refs, later()).unwrap();
        assert_eq!((stored.batches, stored.dropped_batches), (5, 0));
        assert!(spool.path().ends_with("graphite%3amain.spool"));
        let loaded = spool.load();
        assert!(loaded.problem.is_none());
        assert_eq!(summary(&loaded.batches), summary(&batches));
        spool.store(&[], later()).unwrap();
        assert!(!spool.path().exists());
        assert!(!dir.0.join("graphite%3amain.spool.tmp").exists());
    }

    #[test]
    fn remote_write_spools_are_version_2_the_line_formats_stay_version_1() {
        let dir = Dir::new("versions");
        let settings = SpoolSettings {
            dir: dir.0.clone(),
            max_bytes: 1 << 20,
        };
        let batches: Vec<Batch> = (0..2).map(batch).collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        for (connector, version) in [
            ("graphite", 1u32),
            ("prometheus_remote_write", 2),
            ("prometheus_remote_write:https", 2),
        ] {
            let spool = Spool::new(&settings, &format!("{connector}:x"), connector);
            spool.store(&refs, later()).unwrap();
            let bytes = fs::read(spool.path()).unwrap();
            assert_eq!(bytes[15..19], version.to_le_bytes(), "{connector}");
            assert_eq!(
                summary(&spool.load().batches),
                summary(&batches),
                "{connector}"
            );
        }
    }

    #[test]
    fn beyond_max_bytes_the_oldest_are_dropped_and_counted() {
        let dir = Dir::new("limit");
        let batches: Vec<Batch> = (0..10).map(batch).collect();
        let one = batches[0].bytes.len() as u64;
        let spool = spool(&dir, 3 * one);
        let refs: Vec<&Batch> = batches.iter().collect();
        let stored = spool.store(&refs, later()).unwrap();
        assert_eq!(stored.batches, 3);
        assert_eq!((stored.dropped_batches, stored.dropped_metrics), (7, 14));
        assert_eq!(summary(&spool.load().batches), summary(&batches[7..]));
    }

    #[test]
    fn a_write_past_its_deadline_keeps_what_it_wrote_and_never_blocks() {
        let dir = Dir::new("deadline");
        let spool = spool(&dir, 1 << 20);
        let batches: Vec<Batch> = (0..3).map(batch).collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        let stored = spool.store(&refs, Instant::now()).unwrap();
        assert_eq!((stored.batches, stored.dropped_batches), (0, 3));
        assert!(spool.load().batches.is_empty());
    }

    #[test]
    fn a_damaged_file_keeps_its_newer_good_records() {
        let dir = Dir::new("damaged");
        let spool = spool(&dir, 1 << 20);
        let batches: Vec<Batch> = (0..4).map(batch).collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        spool.store(&refs, later()).unwrap();
        let mut bytes = fs::read(spool.path()).unwrap();
        // The last byte belongs to the oldest batch (records go newest first).
        let last = bytes.len() - 2;
        bytes[last] ^= 0x55;
        fs::write(spool.path(), &bytes).unwrap();
        let loaded = spool.load();
        assert_eq!(summary(&loaded.batches), summary(&batches[1..]));
        let problem = loaded.problem.expect("reported").to_string();
        assert!(
            problem.contains("checksum mismatch") && problem.contains("3 newer"),
            "{problem}"
        );

        // Cut short in the middle of the newest record: nothing usable, but
        // still no panic and a reason.
        fs::write(spool.path(), &bytes[..40]).unwrap();
        let loaded = spool.load();
        assert!(loaded.batches.is_empty());
        assert!(loaded.problem.unwrap().to_string().contains("cut short"));
    }

    #[test]
    fn foreign_future_and_other_connector_files_are_set_aside() {
        let dir = Dir::new("aside");
        let spool = spool(&dir, 1 << 20);
        let aside = dir.0.join("graphite%3amain.spool.unreadable");
        for (content, expect) in [
            (b"hello, world\n".to_vec(), "not a backhaul spool"),
            (
                [MAGIC.as_slice(), &3u32.to_le_bytes(), &[0, 0]].concat(),
                "written by a newer backhaul (format 3",
            ),
            (
                [
                    MAGIC.as_slice(),
                    &1u32.to_le_bytes(),
                    &4u16.to_le_bytes(),
                    b"json",
                ]
                .concat(),
                "connector type 'json', this instance is 'graphite'",
            ),
        ] {
            fs::write(spool.path(), &content).unwrap();
            let loaded = spool.load();
            assert!(loaded.batches.is_empty());
            let problem = loaded.problem.expect("reported").to_string();
            assert!(problem.contains(expect), "{problem}");
            assert!(
                problem.contains("graphite%3amain.spool"),
                "names the file: {problem}"
            );
            assert!(!spool.path().exists(), "moved aside");
            assert_eq!(fs::read(&aside).unwrap(), content, "kept for inspection");
        }
    }

    #[test]
    fn reading_is_bounded_by_max_bytes() {
        let dir = Dir::new("readlimit");
        let batches: Vec<Batch> = (0..10).map(batch).collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        spool(&dir, 1 << 20).store(&refs, later()).unwrap();
        let one = batches[0].bytes.len() as u64;
        let loaded = spool(&dir, 2 * one).load();
        assert_eq!(summary(&loaded.batches), summary(&batches[8..]));
        assert_eq!(loaded.skipped, 1);
    }

    #[test]
    fn a_failed_write_leaves_the_previous_spool() {
        let dir = Dir::new("failed");
        let spool = spool(&dir, 1 << 20);
        let batches: Vec<Batch> = (0..2).map(batch).collect();
        let refs: Vec<&Batch> = batches.iter().collect();
        spool.store(&refs, later()).unwrap();
        // The temporary file's name is taken by a directory: the write fails.
        fs::create_dir(dir.0.join("graphite%3amain.spool.tmp")).unwrap();
        let more: Vec<Batch> = (0..5).map(batch).collect();
        let refs: Vec<&Batch> = more.iter().collect();
        let error = spool.store(&refs, later()).unwrap_err().to_string();
        assert!(error.contains("graphite%3amain.spool.tmp"), "{error}");
        assert_eq!(summary(&spool.load().batches), summary(&batches));
    }

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(file_name("graphite:main"), "graphite%3amain");
        assert_eq!(file_name("../x"), "%2e.%2fx");
        assert_eq!(file_name(""), "%");
        assert_ne!(file_name("a:b"), file_name("a%3ab"));
        assert_ne!(file_name("a:b"), file_name("a_b"));
    }

    proptest::proptest! {
        #[test]
        fn any_batches_round_trip(contents in proptest::collection::vec(
            (proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), proptest::prelude::any::<i64>(), 0usize..1000),
            0..20,
        )) {
            let dir = Dir::new("prop");
            let spool = spool(&dir, 1 << 20);
            let batches: Vec<Batch> = contents
                .into_iter()
                .map(|(bytes, at, metrics)| Batch::new(bytes, metrics).at(at))
                .collect();
            let refs: Vec<&Batch> = batches.iter().collect();
            spool.store(&refs, later()).unwrap();
            let loaded = spool.load();
            proptest::prop_assert!(loaded.problem.is_none());
            proptest::prop_assert_eq!(summary(&loaded.batches), summary(&batches));
        }

        #[test]
        fn any_file_loads_without_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let dir = Dir::new("fuzz");
            let spool = spool(&dir, 1 << 10);
            let mut file = MAGIC.to_vec();
            file.extend_from_slice(&1u32.to_le_bytes());
            file.extend_from_slice(&8u16.to_le_bytes());
            file.extend_from_slice(b"graphite");
            file.extend_from_slice(&bytes);
            fs::write(spool.path(), &file).unwrap();
            let loaded = spool.load();
            proptest::prop_assert!(loaded.batches.iter().map(|b| b.bytes.len()).sum::<usize>() <= 1 << 10);
        }
    }
}

/// Where an instance's export stood, kept beside its spool so that a
/// restarted instance goes on from there (see
/// `exporting::exporter::ExportResume`): every interval up to
/// `delivered_through` was delivered, for the hosts listed.
///
/// A small text file, written whole (a temporary file renamed into place):
///
/// ```text
/// backhaul export positions 1
/// delivered_through 1796061900
/// host localhost
/// host 705216b4-ec79-11f1-9d5c-02fc00000001
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportPositions {
    pub delivered_through: i64,
    pub hosts: Vec<String>,
}

const POSITIONS_HEAD: &str = "backhaul export positions 1";

impl ExportPositions {
    /// Writes the file at `path` (through `path.tmp`).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut text = format!(
            "{POSITIONS_HEAD}\ndelivered_through {}\n",
            self.delivered_through
        );
        for host in &self.hosts {
            if !host.contains('\n') {
                text.push_str("host ");
                text.push_str(host);
                text.push('\n');
            }
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("positions.tmp");
        fs::write(&tmp, text)?;
        fs::rename(&tmp, path)
    }

    /// Reads the file at `path`: `Ok(None)` without one, an error naming
    /// what is wrong in one that is not a positions file.
    pub fn load(path: &Path) -> Result<Option<ExportPositions>, String> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut lines = text.lines();
        if lines.next() != Some(POSITIONS_HEAD) {
            return Err(format!(
                "{}: not a positions file of this version",
                path.display()
            ));
        }
        let delivered_through = lines
            .next()
            .and_then(|l| l.strip_prefix("delivered_through "))
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| format!("{}: no delivered_through line", path.display()))?;
        let hosts = lines
            .filter_map(|l| l.strip_prefix("host "))
            .map(str::to_string)
            .collect();
        Ok(Some(ExportPositions {
            delivered_through,
            hosts,
        }))
    }
}

#[cfg(test)]
mod positions_tests {
    use super::*;

    #[test]
    fn positions_are_saved_and_read_back_and_a_foreign_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.positions");
        assert_eq!(ExportPositions::load(&path), Ok(None));
        let positions = ExportPositions {
            delivered_through: 1_796_061_900,
            hosts: vec![
                "localhost".into(),
                "705216b4-ec79-11f1-9d5c-02fc00000001".into(),
            ],
        };
        positions.save(&path).unwrap();
        assert_eq!(ExportPositions::load(&path), Ok(Some(positions)));
        assert!(!dir.path().join("x.positions.tmp").exists());
        fs::write(&path, "something else\n").unwrap();
        assert!(ExportPositions::load(&path)
            .unwrap_err()
            .contains("not a positions file"));
        fs::write(&path, format!("{POSITIONS_HEAD}\ndelivered_through soon\n")).unwrap();
        assert!(ExportPositions::load(&path)
            .unwrap_err()
            .contains("delivered_through"));
    }
}
