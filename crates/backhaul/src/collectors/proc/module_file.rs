//! [`ModuleFile`]: a kernel file that a network module needs.
//!
//! * It is opened once and read again from offset 0 every cycle (`pread`),
//!   as netdata's procfile does: no open, close or size probe per cycle.
//!   A file unlinked meanwhile (its link count is 0) or whose read fails
//!   is opened afresh at the next cycle.
//! * When it is not there at the first collection, the module's use of it
//!   is off for good, with one log line (as netdata disables a module whose
//!   file it cannot open: a kernel without IPv6 or netfilter will not grow
//!   the file later).
//! * A file that was there and then fails is logged once (a warning), and
//!   once more when it is readable again; its charts go obsolete meanwhile.
//!
//! [`KeptOpen`] is the reading part alone, for the small `/sys` files read
//! every cycle.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::source::{host_path, Trouble};

/// A file kept open and read whole from offset 0 on every call, into a
/// buffer that keeps its size: a steady read allocates nothing.
pub(crate) struct KeptOpen {
    file: Option<File>,
    buffer: Vec<u8>,
}

impl KeptOpen {
    pub(crate) fn new(initial: usize) -> KeptOpen {
        KeptOpen {
            file: None,
            buffer: vec![0; initial.max(16)],
        }
    }

    /// The whole content of `path` (the same file each call).
    pub(crate) fn read(&mut self, path: &Path) -> io::Result<&[u8]> {
        if let Some(file) = &self.file {
            // Unlinked since it was opened (a test's fixture replaced, a
            // file rotated): open the new one.
            if file.metadata().map_or(true, |m| m.nlink() == 0) {
                self.file = None;
            }
        }
        let file = match &self.file {
            Some(file) => file,
            None => self.file.insert(File::open(path)?),
        };
        let mut len = 0;
        loop {
            if len == self.buffer.len() {
                let grown = self.buffer.len() * 2;
                self.buffer.resize(grown, 0);
            }
            match file.read_at(&mut self.buffer[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.file = None;
                    return Err(error);
                }
            }
        }
        Ok(&self.buffer[..len])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    Unknown,
    Present,
    Absent,
}

/// A kernel file below the host root that may be absent on this system.
pub(crate) struct ModuleFile {
    path: PathBuf,
    reader: KeptOpen,
    presence: Presence,
    trouble: Trouble,
}

impl ModuleFile {
    pub(crate) fn new(root: &Path, absolute: &str) -> ModuleFile {
        ModuleFile {
            path: host_path(root, absolute),
            reader: KeptOpen::new(4096),
            presence: Presence::Unknown,
            trouble: Trouble::default(),
        }
    }

    /// Whether the file was missing at the first read (the module's use
    /// of it is off).
    pub(crate) fn is_absent(&self) -> bool {
        self.presence == Presence::Absent
    }

    /// The file's content; `None` when it cannot be read or is empty, and
    /// for good when it was missing at the first read.
    pub(crate) fn read(&mut self, collector: &str) -> Option<&[u8]> {
        match self.presence {
            Presence::Absent => return None,
            Presence::Present => {}
            Presence::Unknown => {
                if !self.path.exists() {
                    self.presence = Presence::Absent;
                    tracing::info!(
                        collector,
                        path = %self.path.display(),
                        "not present on this system; not collected"
                    );
                    return None;
                }
                self.presence = Presence::Present;
            }
        }
        let result = match self.reader.read(&self.path) {
            Ok([]) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is empty",
            )),
            other => other,
        };
        match result {
            Ok(data) => {
                if self.trouble.recover() {
                    tracing::info!(collector, path = %self.path.display(), "readable again; collecting its charts");
                }
                Some(data)
            }
            Err(error) => {
                if self.trouble.fail() {
                    tracing::warn!(
                        collector,
                        path = %self.path.display(),
                        %error,
                        "cannot read; its charts are obsolete until it comes back"
                    );
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_at_start_stays_off_present_recovers() {
        let dir = std::env::temp_dir().join(format!("backhaul-modfile-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        let mut missing = ModuleFile::new(&dir, "/proc/none");
        assert!(missing.read("t").is_none());
        assert!(missing.is_absent());
        std::fs::write(dir.join("proc/none"), b"1\n").unwrap();
        assert!(missing.read("t").is_none(), "stays off");

        let mut there = ModuleFile::new(&dir, "/proc/none");
        assert_eq!(there.read("t"), Some(&b"1\n"[..]));
        // Rewritten in place: the open file shows the new content.
        std::fs::write(dir.join("proc/none"), b"22\n").unwrap();
        assert_eq!(there.read("t"), Some(&b"22\n"[..]));
        std::fs::remove_file(dir.join("proc/none")).unwrap();
        assert!(there.read("t").is_none());
        assert!(!there.is_absent());
        std::fs::write(dir.join("proc/none"), b"2\n").unwrap();
        assert_eq!(there.read("t"), Some(&b"2\n"[..]));
        std::fs::write(dir.join("proc/none"), b"").unwrap();
        assert!(there.read("t").is_none(), "empty");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn kept_open_grows_its_buffer() {
        let dir = std::env::temp_dir().join(format!("backhaul-keptopen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big");
        let big = vec![b'x'; 100_000];
        std::fs::write(&path, &big).unwrap();
        let mut reader = KeptOpen::new(16);
        assert_eq!(reader.read(&path).unwrap().len(), 100_000);
        std::fs::write(&path, b"short").unwrap();
        assert_eq!(reader.read(&path).unwrap(), b"short");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
