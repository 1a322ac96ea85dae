//! [`ModuleFile`]: a kernel file that a module needs, which turns the
//! module's use of it off for good when it is not there at the first
//! collection (as netdata disables a module whose file it cannot open: a
//! kernel without IPv6 or netfilter will not grow the file later). One log
//! line says so. A file that was there and then fails is a
//! [`SourceFile`] failure: logged once, charts obsolete, picked up again.

use std::path::{Path, PathBuf};

use super::source::{host_path, SourceFile};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    Unknown,
    Present,
    Absent,
}

/// A kernel file below the host root that may be absent on this system.
pub(crate) struct ModuleFile {
    path: PathBuf,
    file: SourceFile,
    presence: Presence,
}

impl ModuleFile {
    pub(crate) fn new(root: &Path, absolute: &str) -> ModuleFile {
        ModuleFile {
            path: host_path(root, absolute),
            file: SourceFile::new(root, absolute),
            presence: Presence::Unknown,
        }
    }

    /// Whether the file was missing at the first read (the module's use
    /// of it is off).
    pub(crate) fn is_absent(&self) -> bool {
        self.presence == Presence::Absent
    }

    /// The file's content, as [`SourceFile::read`]; `None` for good when
    /// the file was missing at the first read.
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
        self.file.read()
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
        std::fs::remove_file(dir.join("proc/none")).unwrap();
        assert!(there.read("t").is_none());
        assert!(!there.is_absent());
        std::fs::write(dir.join("proc/none"), b"2\n").unwrap();
        assert_eq!(there.read("t"), Some(&b"2\n"[..]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
