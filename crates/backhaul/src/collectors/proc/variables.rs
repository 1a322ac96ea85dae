//! The custom variables the `/proc` modules keep, under netdata 1.37's
//! names, for its alarms (`active_processors`, `tcp_mem_low`, a chart's
//! `pidmax`, ...), and the kernel limit files most of them come from.
//!
//! * [`HostVariable`] and [`ChartVariable`] remember the value they last
//!   gave the store and call it only when it changes: setting a chart
//!   variable formats names (it allocates), and a steady collection must
//!   not.
//! * [`LimitsFile`] is a small `/proc/sys` file (`tcp_mem`, `kernel/sem`):
//!   kept open, read whole, its failures logged once at debug level (a
//!   missing limit only means no variable).
//! * [`Refresh`] says when such a file is due again: at the first
//!   collection, then every so many collections (netdata reads most limits
//!   about once a minute, not every second).

use std::path::{Path, PathBuf};

use rrd::Host;

use super::chart_handle::ChartHandle;
use super::module_file::KeptOpen;
use super::parse::{parse_u64, words};
use super::source::{host_path, Trouble};

/// A whole number with an optional leading `-` (`-1`: "no limit").
pub(crate) fn parse_signed(word: &[u8]) -> Option<i64> {
    let (negative, digits) = match word.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, word),
    };
    let value = i64::try_from(parse_u64(digits)?).ok()?;
    Some(if negative { -value } else { value })
}

/// The last value given to the store, bit for bit (a NaN is no change).
fn changed(last: &mut Option<u64>, value: f64) -> bool {
    let bits = value.to_bits();
    if *last == Some(bits) {
        return false;
    }
    *last = Some(bits);
    true
}

/// A host variable one collector sets.
pub(crate) struct HostVariable {
    name: &'static str,
    last: Option<u64>,
}

impl HostVariable {
    pub(crate) const fn new(name: &'static str) -> HostVariable {
        HostVariable { name, last: None }
    }

    /// Sets it to `value` on `host` unless that is the value it has.
    pub(crate) fn set(&mut self, host: &Host, value: f64) {
        if changed(&mut self.last, value) {
            host.set_variable(self.name, value);
        }
    }
}

/// A variable of one chart a collector keeps (keep it next to the chart's
/// handle: a new handle needs a new one).
pub(crate) struct ChartVariable {
    name: &'static str,
    last: Option<u64>,
}

impl ChartVariable {
    pub(crate) const fn new(name: &'static str) -> ChartVariable {
        ChartVariable { name, last: None }
    }

    /// Sets it to `value` on `chart` (and its copies in `host`'s table)
    /// unless that is the value it has.
    pub(crate) fn set(&mut self, host: &Host, chart: &ChartHandle, value: f64) {
        if changed(&mut self.last, value) {
            host.set_chart_variable(chart.chart(), self.name, value);
        }
    }
}

/// When a limits file is read: at the first collection, then once every
/// `every` collections.
pub(crate) struct Refresh {
    every: u32,
    left: u32,
}

impl Refresh {
    /// Due now, then every `collections` collections (at least 1).
    pub(crate) fn every(collections: u32) -> Refresh {
        Refresh {
            every: collections.max(1),
            left: 0,
        }
    }

    /// Whether this collection reads the file (counts one collection).
    pub(crate) fn due(&mut self) -> bool {
        if self.left == 0 {
            self.left = self.every - 1;
            true
        } else {
            self.left -= 1;
            false
        }
    }
}

/// A small kernel file of limits below the host root, read when a
/// [`Refresh`] says so.
pub(crate) struct LimitsFile {
    path: PathBuf,
    reader: KeptOpen,
    trouble: Trouble,
    ever_read: bool,
}

impl LimitsFile {
    /// The file at kernel path `absolute` (`/proc/sys/net/ipv4/tcp_mem`).
    pub(crate) fn new(root: &Path, absolute: &str) -> LimitsFile {
        LimitsFile {
            path: host_path(root, absolute),
            reader: KeptOpen::new(64),
            trouble: Trouble::default(),
            ever_read: false,
        }
    }

    /// The first `N` whole numbers of the file (a leading `-` allowed), or
    /// `None` when it cannot be read or has fewer. A failure is logged
    /// once, at debug level when the file was never read.
    pub(crate) fn numbers<const N: usize>(&mut self, collector: &str) -> Option<[i64; N]> {
        let parsed = match self.reader.read(&self.path) {
            Ok(data) => {
                let mut numbers = [0i64; N];
                let mut w = words(data);
                numbers
                    .iter_mut()
                    .all(|slot| match w.next().and_then(parse_signed) {
                        Some(n) => {
                            *slot = n;
                            true
                        }
                        None => false,
                    })
                    .then_some(numbers)
                    .ok_or("fewer numbers than expected")
            }
            Err(_) => Err("cannot read"),
        };
        match parsed {
            Ok(numbers) => {
                self.ever_read = true;
                if self.trouble.recover() {
                    tracing::debug!(collector, path = %self.path.display(), "readable again; its variables are set again");
                }
                Some(numbers)
            }
            Err(reason) => {
                if self.trouble.fail() {
                    if self.ever_read {
                        tracing::info!(collector, path = %self.path.display(), reason, "its variables keep their last values");
                    } else {
                        tracing::debug!(collector, path = %self.path.display(), reason, "no variables from it");
                    }
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
    fn signed_numbers() {
        assert_eq!(parse_signed(b"-1"), Some(-1));
        assert_eq!(parse_signed(b"262144"), Some(262144));
        assert_eq!(parse_signed(b"-"), None);
        assert_eq!(parse_signed(b"1-"), None);
        assert_eq!(parse_signed(b"99999999999999999999"), None);
    }

    #[test]
    fn refresh_is_due_first_then_every_n() {
        let mut refresh = Refresh::every(3);
        let due: Vec<bool> = (0..7).map(|_| refresh.due()).collect();
        assert_eq!(due, [true, false, false, true, false, false, true]);
        let mut every_time = Refresh::every(0);
        assert!(every_time.due() && every_time.due());
    }

    #[test]
    fn host_variables_reach_the_store_only_when_changed() {
        let host = Host::new("t", 10);
        let mut var = HostVariable::new("v");
        var.set(&host, 1.0);
        let generation = host.with_variables(|t| t.generation());
        var.set(&host, 1.0);
        assert_eq!(host.with_variables(|t| t.generation()), generation);
        var.set(&host, 2.0);
        assert_eq!(host.with_variables(|t| t.get("v")), Some(2.0));
    }

    #[test]
    fn limits_files_give_their_first_numbers() {
        let dir = std::env::temp_dir().join(format!("backhaul-limits-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        let mut file = LimitsFile::new(&dir, "/proc/limits");
        assert_eq!(file.numbers::<1>("t"), None);
        std::fs::write(dir.join("proc/limits"), "32000\t1024000000\t500\t32000\n").unwrap();
        assert_eq!(
            file.numbers::<4>("t"),
            Some([32000, 1024000000, 500, 32000])
        );
        assert_eq!(file.numbers::<5>("t"), None);
        std::fs::write(dir.join("proc/limits"), "-1\n").unwrap();
        assert_eq!(file.numbers::<1>("t"), Some([-1]));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
