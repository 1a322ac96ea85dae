//! Reading kernel files: [`SourceFile`] (a file below the host root, read
//! whole into a buffer kept across cycles, its failures logged once) and
//! [`Trouble`] (the log-once bookkeeping behind it, reused for other
//! repeated failures).

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// `root` joined with an absolute kernel path such as `/proc/stat`.
pub(crate) fn host_path(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.trim_start_matches('/'))
}

/// Whether a failure is ongoing, so that it is reported once when it starts
/// and once when it ends rather than every cycle.
#[derive(Debug, Default)]
pub(crate) struct Trouble {
    ongoing: bool,
}

impl Trouble {
    /// Records a failure; true when it is a new one (worth a log line).
    pub(crate) fn fail(&mut self) -> bool {
        !std::mem::replace(&mut self.ongoing, true)
    }

    /// Records a success; true when it ends a failure (worth a log line).
    pub(crate) fn recover(&mut self) -> bool {
        std::mem::replace(&mut self.ongoing, false)
    }

    pub(crate) fn is_ongoing(&self) -> bool {
        self.ongoing
    }
}

/// A kernel file read whole every cycle into a buffer that keeps its
/// capacity, so a steady-state read allocates nothing.
///
/// The file stays open and is read again from its start each cycle (as
/// netdata does: opening a `/proc` file costs about as much as reading
/// it). A file that was removed (no links left) or failed to read is
/// closed and opened again on the next read, so a file that disappears is
/// noticed at once and one that comes back is picked up.
///
/// A file that was never readable (the machine has no such thing: no md
/// arrays, no KSM) is tried again only every [`ABSENT_RETRY_READS`] reads,
/// as netdata disables such a module: the charts come if it appears later,
/// without a failing `open` every second meanwhile.
pub(crate) struct SourceFile {
    path: PathBuf,
    file: Option<File>,
    buffer: Vec<u8>,
    trouble: Trouble,
    /// Read successfully at least once.
    ever_read: bool,
    /// Reads left to skip before trying a never-read file again.
    skip: u32,
}

/// How often a file never readable is tried again, in reads (a minute at
/// one read a second).
pub(crate) const ABSENT_RETRY_READS: u32 = 60;

impl SourceFile {
    /// The file at kernel path `absolute` (such as `/proc/stat`) below `root`.
    pub(crate) fn new(root: &Path, absolute: &str) -> SourceFile {
        SourceFile {
            path: host_path(root, absolute),
            file: None,
            buffer: vec![0; 4096],
            trouble: Trouble::default(),
            ever_read: false,
            skip: 0,
        }
    }

    /// Whether the last read failed.
    pub(crate) fn is_failing(&self) -> bool {
        self.trouble.is_ongoing()
    }

    /// The file's whole content, or `None` when it is missing, unreadable or
    /// empty. The first failure is logged (a warning when the file was read
    /// before, information when it never was), the recovery as
    /// information; failures in between are silent.
    pub(crate) fn read(&mut self) -> Option<&[u8]> {
        if self.skip > 0 {
            self.skip -= 1;
            return None;
        }
        match self.read_whole() {
            Ok(filled) => {
                self.ever_read = true;
                if self.trouble.recover() {
                    tracing::info!(path = %self.path.display(), "readable again; collecting its charts");
                }
                Some(&self.buffer[..filled])
            }
            Err(error) => {
                self.file = None;
                if !self.ever_read {
                    self.skip = ABSENT_RETRY_READS - 1;
                }
                if self.trouble.fail() {
                    if self.ever_read {
                        tracing::warn!(
                            path = %self.path.display(),
                            %error,
                            "cannot read; its charts are obsolete until it comes back"
                        );
                    } else {
                        // The machine has no such thing (no md arrays, no
                        // pressure accounting): worth a line, not a warning.
                        tracing::info!(
                            path = %self.path.display(),
                            %error,
                            "cannot read; its charts are off, tried again every {ABSENT_RETRY_READS} collections"
                        );
                    }
                }
                None
            }
        }
    }
}

impl SourceFile {
    /// Reads the whole file from its start into the buffer, growing it as
    /// needed; the number of bytes read.
    fn read_whole(&mut self) -> io::Result<usize> {
        if let Some(file) = &self.file {
            // Removed (or replaced by a rename): read the new one.
            if file.metadata()?.nlink() == 0 {
                self.file = None;
            }
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(File::open(&self.path)?),
        };
        let mut filled = 0;
        loop {
            if filled == self.buffer.len() {
                let grown = (self.buffer.len() * 2).max(4096);
                self.buffer.resize(grown, 0);
            }
            let n = file.read_at(&mut self.buffer[filled..], filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is empty",
            ));
        }
        Ok(filled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trouble_reports_edges_only() {
        let mut t = Trouble::default();
        assert!(!t.recover());
        assert!(t.fail());
        assert!(!t.fail());
        assert!(t.is_ongoing());
        assert!(t.recover());
        assert!(!t.recover());
    }

    #[test]
    fn host_path_keeps_the_root() {
        assert_eq!(
            host_path(Path::new("/tmp/x"), "/proc/stat"),
            PathBuf::from("/tmp/x/proc/stat")
        );
        assert_eq!(
            host_path(Path::new("/"), "/proc/stat"),
            PathBuf::from("/proc/stat")
        );
    }

    #[test]
    fn missing_and_empty_files_are_failures() {
        let dir = std::env::temp_dir().join(format!("backhaul-source-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        let mut file = SourceFile::new(&dir, "/proc/thing");
        assert!(file.read().is_none());
        assert!(file.is_failing());
        // Never read: the next tries are skipped for a while.
        std::fs::write(dir.join("proc/thing"), b"a 1\n").unwrap();
        for _ in 1..ABSENT_RETRY_READS {
            assert!(file.read().is_none());
        }
        assert_eq!(file.read(), Some(&b"a 1\n"[..]));
        // Once read, every failure is retried at once.
        std::fs::write(dir.join("proc/thing"), b"").unwrap();
        assert!(file.read().is_none());
        std::fs::write(dir.join("proc/thing"), b"a 1\n").unwrap();
        assert_eq!(file.read(), Some(&b"a 1\n"[..]));
        assert!(!file.is_failing());
        // Rewritten in place: the open file shows the new content.
        std::fs::write(dir.join("proc/thing"), b"b 22\n").unwrap();
        assert_eq!(file.read(), Some(&b"b 22\n"[..]));
        // Replaced by a rename: the new file is read.
        std::fs::write(dir.join("proc/other"), b"c 333\n").unwrap();
        std::fs::rename(dir.join("proc/other"), dir.join("proc/thing")).unwrap();
        assert_eq!(file.read(), Some(&b"c 333\n"[..]));
        // Removed: a failure.
        std::fs::remove_file(dir.join("proc/thing")).unwrap();
        assert!(file.read().is_none());
        // Larger than the buffer.
        let big = vec![b'x'; 10_000];
        std::fs::write(dir.join("proc/thing"), &big).unwrap();
        assert_eq!(file.read().map(<[u8]>::len), Some(10_000));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
