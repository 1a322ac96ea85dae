//! `/proc/meminfo`: RAM use (`system.ram`), memory available to
//! applications (`mem.available`) and committed memory (`mem.committed`),
//! collected in KiB and stored in MiB.
//!
//! `system.ram` splits `MemTotal` the way netdata 1.37 does:
//! `cached = Cached + SReclaimable − Shmem` and
//! `used = MemTotal − MemFree − cached − Buffers`.

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::parse::{lines, parse_i64, words};
use super::source::SourceFile;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/meminfo";

const SYSTEM_RAM: ChartSpec = ChartSpec {
    type_: "system",
    id: "ram",
    family: "ram",
    context: None,
    title: "System RAM",
    units: "MiB",
    chart_type: ChartType::Stacked,
    priority: 200,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const RAM_DIMS: [DimSpec; 4] = [
    DimSpec::absolute("free", 1, 1024),
    DimSpec::absolute("used", 1, 1024),
    DimSpec::absolute("cached", 1, 1024),
    DimSpec::absolute("buffers", 1, 1024),
];

const MEM_AVAILABLE: ChartSpec = ChartSpec {
    type_: "mem",
    id: "available",
    family: "system",
    context: None,
    title: "Available RAM for applications",
    units: "MiB",
    chart_type: ChartType::Area,
    priority: 1010,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const AVAILABLE_DIMS: [DimSpec; 1] = [DimSpec::absolute("MemAvailable", 1, 1024).named("avail")];

const MEM_COMMITTED: ChartSpec = ChartSpec {
    type_: "mem",
    id: "committed",
    family: "system",
    context: None,
    title: "Committed (Allocated) Memory",
    units: "MiB",
    chart_type: ChartType::Area,
    priority: 1030,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const COMMITTED_DIMS: [DimSpec; 1] = [DimSpec::absolute("Committed_AS", 1, 1024)];

/// The meminfo fields the charts use, in KiB.
#[derive(Debug, Default, PartialEq, Eq)]
struct MemInfo {
    total: Option<i64>,
    free: Option<i64>,
    available: Option<i64>,
    buffers: Option<i64>,
    cached: Option<i64>,
    shmem: Option<i64>,
    slab_reclaimable: Option<i64>,
    committed: Option<i64>,
}

impl MemInfo {
    fn parse(data: &[u8]) -> MemInfo {
        let mut info = MemInfo::default();
        for line in lines(data) {
            let mut w = words(line);
            let (Some(key), Some(value)) = (w.next(), w.next()) else {
                continue;
            };
            let slot = match key.strip_suffix(b":").unwrap_or(key) {
                b"MemTotal" => &mut info.total,
                b"MemFree" => &mut info.free,
                b"MemAvailable" => &mut info.available,
                b"Buffers" => &mut info.buffers,
                b"Cached" => &mut info.cached,
                b"Shmem" => &mut info.shmem,
                b"SReclaimable" => &mut info.slab_reclaimable,
                b"Committed_AS" => &mut info.committed,
                _ => continue,
            };
            if slot.is_none() {
                *slot = parse_i64(value);
            }
        }
        info
    }

    /// free, used, cached, buffers (KiB), or `None` without total and free.
    fn ram(&self) -> Option<[Option<i64>; 4]> {
        let (total, free) = (self.total?, self.free?);
        let buffers = self.buffers.unwrap_or(0);
        let cached = self
            .cached
            .unwrap_or(0)
            .saturating_add(self.slab_reclaimable.unwrap_or(0))
            .saturating_sub(self.shmem.unwrap_or(0));
        let used = total
            .saturating_sub(free)
            .saturating_sub(cached)
            .saturating_sub(buffers);
        Some([Some(free), Some(used), Some(cached), Some(buffers)])
    }
}

/// Collects `/proc/meminfo`.
pub struct MeminfoCollector {
    file: SourceFile,
    update_every: u32,
    ram: Option<ChartHandle>,
    available: Option<ChartHandle>,
    committed: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl MeminfoCollector {
    pub fn new(root: &Path, update_every: u32) -> MeminfoCollector {
        MeminfoCollector {
            file: SourceFile::new(root, "/proc/meminfo"),
            update_every: update_every.max(1),
            ram: None,
            available: None,
            committed: None,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for MeminfoCollector {
    fn name(&self) -> &str {
        "proc:meminfo"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            super::chart_handle::mark_all_obsolete([
                &mut self.ram,
                &mut self.available,
                &mut self.committed,
            ]);
            return Ok(());
        };
        let info = MemInfo::parse(data);
        let update_every = self.update_every;
        let mut cycle = Cycle::new(now_ut);

        if let Some(ram) = info.ram() {
            self.ram
                .get_or_insert_with(|| {
                    ChartHandle::create(host, SYSTEM_RAM.def(update_every), &RAM_DIMS)
                })
                .update(&mut cycle, &ram);
        }
        if info.available.is_some() {
            self.available
                .get_or_insert_with(|| {
                    ChartHandle::create(host, MEM_AVAILABLE.def(update_every), &AVAILABLE_DIMS)
                })
                .update(&mut cycle, &[info.available]);
        }
        if info.committed.is_some() {
            self.committed
                .get_or_insert_with(|| {
                    ChartHandle::create(host, MEM_COMMITTED.def(update_every), &COMMITTED_DIMS)
                })
                .update(&mut cycle, &[info.committed]);
        }

        self.refused.settle("proc:meminfo", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_split_follows_netdata() {
        let info = MemInfo::parse(
            b"MemTotal: 1000 kB\nMemFree: 400 kB\nBuffers: 50 kB\nCached: 200 kB\n\
              Shmem: 20 kB\nSReclaimable: 30 kB\nCommitted_AS: 77 kB\n",
        );
        // cached = 200 + 30 - 20 = 210; used = 1000 - 400 - 210 - 50 = 340
        assert_eq!(
            info.ram(),
            Some([Some(400), Some(340), Some(210), Some(50)])
        );
        assert_eq!(info.committed, Some(77));
        assert_eq!(info.available, None);
    }

    #[test]
    fn odd_lines_are_skipped() {
        let info = MemInfo::parse(b"MemTotal:\nMemFree: x kB\nMemTotal: 10 kB\nweird\n\n");
        assert_eq!(info.total, Some(10));
        assert_eq!(info.free, None);
        assert_eq!(info.ram(), None);
    }
}
