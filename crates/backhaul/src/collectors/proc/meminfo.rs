//! `/proc/meminfo`: RAM use (`system.ram`), memory available to
//! applications (`mem.available`), committed memory (`mem.committed`),
//! swap (`system.swap`), ECC-corrupted memory (`mem.hwcorrupt`), writeback
//! (`mem.writeback`), kernel memory (`mem.kernel`, `mem.slab`) and huge
//! pages (`mem.hugepages`, `mem.transparent_hugepages`), collected in KiB
//! and stored in MiB.
//!
//! As in netdata 1.37, `system.swap`, `mem.hwcorrupt`, `mem.hugepages` and
//! `mem.transparent_hugepages` are `auto` charts: created once their values
//! are non-zero (swap configured, a corrupted page seen, huge pages
//! reserved or used); the others are always there. Each follows its
//! `[plugin:proc:/proc/meminfo]` switch (`system swap`, `hugepages`, ...).
//!
//! `system.ram` splits `MemTotal` the way netdata 1.37 does:
//! `cached = Cached + SReclaimable − Shmem` and
//! `used = MemTotal − MemFree − cached − Buffers`.

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{
    mark_all_obsolete, ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds,
};
use super::ondemand::{enabled, no_chart_switches, on_demand, ChartSwitches, OnDemand};
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

const SYSTEM_SWAP: ChartSpec = ChartSpec {
    type_: "system",
    id: "swap",
    family: "swap",
    context: None,
    title: "System Swap",
    units: "MiB",
    chart_type: ChartType::Stacked,
    priority: 201,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const SWAP_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("free", 1, 1024),
    DimSpec::absolute("used", 1, 1024),
];

const MEM_HWCORRUPT: ChartSpec = ChartSpec {
    type_: "mem",
    id: "hwcorrupt",
    family: "ecc",
    context: None,
    title: "Corrupted Memory, detected by ECC",
    units: "MiB",
    chart_type: ChartType::Line,
    priority: 1500,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const HWCORRUPT_DIMS: [DimSpec; 1] = [DimSpec::absolute("HardwareCorrupted", 1, 1024)];

const MEM_WRITEBACK: ChartSpec = ChartSpec {
    type_: "mem",
    id: "writeback",
    family: "kernel",
    context: None,
    title: "Writeback Memory",
    units: "MiB",
    chart_type: ChartType::Line,
    priority: 1100,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const WRITEBACK_DIMS: [DimSpec; 5] = [
    DimSpec::absolute("Dirty", 1, 1024),
    DimSpec::absolute("Writeback", 1, 1024),
    DimSpec::absolute("FuseWriteback", 1, 1024),
    DimSpec::absolute("NfsWriteback", 1, 1024),
    DimSpec::absolute("Bounce", 1, 1024),
];

const MEM_KERNEL: ChartSpec = ChartSpec {
    type_: "mem",
    id: "kernel",
    family: "kernel",
    context: None,
    title: "Memory Used by Kernel",
    units: "MiB",
    chart_type: ChartType::Stacked,
    priority: 1101,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
/// `Percpu` last, and only when the kernel has that line.
const KERNEL_DIMS: [DimSpec; 5] = [
    DimSpec::absolute("Slab", 1, 1024),
    DimSpec::absolute("KernelStack", 1, 1024),
    DimSpec::absolute("PageTables", 1, 1024),
    DimSpec::absolute("VmallocUsed", 1, 1024),
    DimSpec::absolute("Percpu", 1, 1024),
];

const MEM_SLAB: ChartSpec = ChartSpec {
    type_: "mem",
    id: "slab",
    family: "slab",
    context: None,
    title: "Reclaimable Kernel Memory",
    units: "MiB",
    chart_type: ChartType::Stacked,
    priority: 1200,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const SLAB_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("reclaimable", 1, 1024),
    DimSpec::absolute("unreclaimable", 1, 1024),
];

const MEM_HUGEPAGES: ChartSpec = ChartSpec {
    type_: "mem",
    id: "hugepages",
    family: "hugepages",
    context: None,
    title: "Dedicated HugePages Memory",
    units: "MiB",
    chart_type: ChartType::Stacked,
    priority: 1251,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
/// free, used, surplus, reserved: page counts, times the huge page size
/// (KiB) as the multiplier.
fn hugepages_dims(page_kib: i64) -> [DimSpec; 4] {
    [
        DimSpec::absolute("free", page_kib, 1024),
        DimSpec::absolute("used", page_kib, 1024),
        DimSpec::absolute("surplus", page_kib, 1024),
        DimSpec::absolute("reserved", page_kib, 1024),
    ]
}

const MEM_TRANSPARENT_HUGEPAGES: ChartSpec = ChartSpec {
    type_: "mem",
    id: "transparent_hugepages",
    family: "hugepages",
    context: None,
    title: "Transparent HugePages Memory",
    units: "MiB",
    chart_type: ChartType::Stacked,
    priority: 1250,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const TRANSPARENT_HUGEPAGES_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("anonymous", 1, 1024),
    DimSpec::absolute("shmem", 1, 1024),
];

/// The meminfo lines the charts use, in the order of [`Field`].
const FIELD_NAMES: [&[u8]; 29] = [
    b"MemTotal",
    b"MemFree",
    b"MemAvailable",
    b"Buffers",
    b"Cached",
    b"Shmem",
    b"SReclaimable",
    b"Committed_AS",
    b"SwapTotal",
    b"SwapFree",
    b"HardwareCorrupted",
    b"Dirty",
    b"Writeback",
    b"WritebackTmp",
    b"NFS_Unstable",
    b"Bounce",
    b"Slab",
    b"KernelStack",
    b"PageTables",
    b"VmallocUsed",
    b"Percpu",
    b"SUnreclaim",
    b"HugePages_Total",
    b"HugePages_Free",
    b"HugePages_Rsvd",
    b"HugePages_Surp",
    b"Hugepagesize",
    b"AnonHugePages",
    b"ShmemHugePages",
];

/// Indexes into [`FIELD_NAMES`] and [`MemInfo::values`].
#[derive(Clone, Copy)]
enum Field {
    MemTotal,
    MemFree,
    MemAvailable,
    Buffers,
    Cached,
    Shmem,
    SReclaimable,
    CommittedAs,
    SwapTotal,
    SwapFree,
    HardwareCorrupted,
    Dirty,
    Writeback,
    WritebackTmp,
    NfsUnstable,
    Bounce,
    Slab,
    KernelStack,
    PageTables,
    VmallocUsed,
    Percpu,
    SUnreclaim,
    HugePagesTotal,
    HugePagesFree,
    HugePagesRsvd,
    HugePagesSurp,
    Hugepagesize,
    AnonHugePages,
    ShmemHugePages,
}

/// The meminfo fields the charts use (KiB, or pages for `HugePages_*`);
/// `None` for a line the file does not have.
#[derive(Debug, Default, PartialEq, Eq)]
struct MemInfo {
    values: [Option<i64>; FIELD_NAMES.len()],
}

impl MemInfo {
    fn parse(data: &[u8]) -> MemInfo {
        let mut info = MemInfo::default();
        for line in lines(data) {
            let mut w = words(line);
            let (Some(key), Some(value)) = (w.next(), w.next()) else {
                continue;
            };
            let key = key.strip_suffix(b":").unwrap_or(key);
            let Some(index) = FIELD_NAMES.iter().position(|&name| name == key) else {
                continue;
            };
            let slot = &mut info.values[index];
            if slot.is_none() {
                *slot = parse_i64(value);
            }
        }
        info
    }

    fn get(&self, field: Field) -> Option<i64> {
        self.values[field as usize]
    }

    /// A field, zero when missing (netdata's counters start at zero).
    fn zero(&self, field: Field) -> i64 {
        self.get(field).unwrap_or(0)
    }

    /// free, used, cached, buffers (KiB), or `None` without total and free.
    fn ram(&self) -> Option<[Option<i64>; 4]> {
        let (total, free) = (self.get(Field::MemTotal)?, self.get(Field::MemFree)?);
        let buffers = self.zero(Field::Buffers);
        let cached = self
            .zero(Field::Cached)
            .saturating_add(self.zero(Field::SReclaimable))
            .saturating_sub(self.zero(Field::Shmem));
        let used = total
            .saturating_sub(free)
            .saturating_sub(cached)
            .saturating_sub(buffers);
        Some([Some(free), Some(used), Some(cached), Some(buffers)])
    }

    /// Swap free and used (KiB).
    fn swap(&self) -> [Option<i64>; 2] {
        let (total, free) = (self.zero(Field::SwapTotal), self.zero(Field::SwapFree));
        [Some(free), Some(total.saturating_sub(free))]
    }

    fn writeback(&self) -> [Option<i64>; 5] {
        [
            Field::Dirty,
            Field::Writeback,
            Field::WritebackTmp,
            Field::NfsUnstable,
            Field::Bounce,
        ]
        .map(|f| Some(self.zero(f)))
    }

    fn kernel(&self) -> [Option<i64>; 5] {
        [
            Field::Slab,
            Field::KernelStack,
            Field::PageTables,
            Field::VmallocUsed,
            Field::Percpu,
        ]
        .map(|f| Some(self.zero(f)))
    }

    fn slab(&self) -> [Option<i64>; 2] {
        [Field::SReclaimable, Field::SUnreclaim].map(|f| Some(self.zero(f)))
    }

    /// free, used (total − free − reserved), surplus, reserved: pages.
    fn hugepages(&self) -> [Option<i64>; 4] {
        let free = self.zero(Field::HugePagesFree);
        let reserved = self.zero(Field::HugePagesRsvd);
        let used = self
            .zero(Field::HugePagesTotal)
            .saturating_sub(free)
            .saturating_sub(reserved);
        [
            Some(free),
            Some(used),
            Some(self.zero(Field::HugePagesSurp)),
            Some(reserved),
        ]
    }

    fn transparent_hugepages(&self) -> [Option<i64>; 2] {
        [Field::AnonHugePages, Field::ShmemHugePages].map(|f| Some(self.zero(f)))
    }
}

/// Collects `/proc/meminfo`.
pub struct MeminfoCollector {
    file: SourceFile,
    update_every: u32,
    do_ram: bool,
    do_committed: bool,
    do_writeback: bool,
    do_kernel: bool,
    do_slab: bool,
    do_swap: OnDemand,
    do_hwcorrupt: OnDemand,
    do_hugepages: OnDemand,
    do_transparent_hugepages: OnDemand,
    /// Whether `mem.kernel` has a `Percpu` dimension (decided on the first
    /// read, as netdata does).
    has_percpu: Option<bool>,
    ram: Option<ChartHandle>,
    available: Option<ChartHandle>,
    committed: Option<ChartHandle>,
    swap: Option<ChartHandle>,
    hwcorrupt: Option<ChartHandle>,
    writeback: Option<ChartHandle>,
    kernel: Option<ChartHandle>,
    slab: Option<ChartHandle>,
    hugepages: Option<ChartHandle>,
    transparent_hugepages: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl MeminfoCollector {
    pub fn new(root: &Path, update_every: u32) -> MeminfoCollector {
        MeminfoCollector::configured(root, update_every, &no_chart_switches)
    }

    /// With the per-chart switches of `[plugin:proc:/proc/meminfo]`.
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> MeminfoCollector {
        let on = |key| enabled(switches, MODULE, key);
        let auto = |key| on_demand(switches, MODULE, key, OnDemand::Auto);
        MeminfoCollector {
            file: SourceFile::new(root, "/proc/meminfo"),
            update_every: update_every.max(1),
            do_ram: on("system ram"),
            do_committed: on("committed memory"),
            do_writeback: on("writeback memory"),
            do_kernel: on("kernel memory"),
            do_slab: on("slab memory"),
            do_swap: auto("system swap"),
            do_hwcorrupt: auto("hardware corrupted ECC"),
            do_hugepages: auto("hugepages"),
            do_transparent_hugepages: auto("transparent hugepages"),
            has_percpu: None,
            ram: None,
            available: None,
            committed: None,
            swap: None,
            hwcorrupt: None,
            writeback: None,
            kernel: None,
            slab: None,
            hugepages: None,
            transparent_hugepages: None,
            refused: RefusedRounds::default(),
        }
    }
}

/// Creates the chart on first use and completes a round of `values`.
fn update(
    handle: &mut Option<ChartHandle>,
    cycle: &mut Cycle,
    make: impl FnOnce() -> ChartHandle,
    values: &[Option<i64>],
) {
    handle.get_or_insert_with(make).update(cycle, values);
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
            mark_all_obsolete([
                &mut self.ram,
                &mut self.available,
                &mut self.committed,
                &mut self.swap,
                &mut self.hwcorrupt,
                &mut self.writeback,
                &mut self.kernel,
                &mut self.slab,
                &mut self.hugepages,
                &mut self.transparent_hugepages,
            ]);
            return Ok(());
        };
        let info = MemInfo::parse(data);
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        let has_percpu = *self
            .has_percpu
            .get_or_insert(info.get(Field::Percpu).is_some());

        if let Some(ram) = info.ram().filter(|_| self.do_ram) {
            self.ram
                .get_or_insert_with(|| ChartHandle::create(host, SYSTEM_RAM.def(ue), &RAM_DIMS))
                .update(&mut cycle, &ram);
        }
        if self.do_ram && info.get(Field::MemAvailable).is_some() {
            self.available
                .get_or_insert_with(|| {
                    ChartHandle::create(host, MEM_AVAILABLE.def(ue), &AVAILABLE_DIMS)
                })
                .update(&mut cycle, &[info.get(Field::MemAvailable)]);
        }
        if self.do_committed && info.get(Field::CommittedAs).is_some() {
            self.committed
                .get_or_insert_with(|| {
                    ChartHandle::create(host, MEM_COMMITTED.def(ue), &COMMITTED_DIMS)
                })
                .update(&mut cycle, &[info.get(Field::CommittedAs)]);
        }
        let swap_configured = info.zero(Field::SwapTotal) != 0 || info.zero(Field::SwapFree) != 0;
        if self.do_swap.wants(swap_configured) {
            let values = info.swap();
            update(
                &mut self.swap,
                &mut cycle,
                || ChartHandle::create(host, SYSTEM_SWAP.def(ue), &SWAP_DIMS),
                &values,
            );
        }
        if let Some(corrupted) = info.get(Field::HardwareCorrupted) {
            if self.do_hwcorrupt.wants(corrupted > 0) {
                update(
                    &mut self.hwcorrupt,
                    &mut cycle,
                    || ChartHandle::create(host, MEM_HWCORRUPT.def(ue), &HWCORRUPT_DIMS),
                    &[Some(corrupted)],
                );
            }
        }
        if self.do_writeback {
            update(
                &mut self.writeback,
                &mut cycle,
                || ChartHandle::create(host, MEM_WRITEBACK.def(ue), &WRITEBACK_DIMS),
                &info.writeback(),
            );
        }
        let kernel_dims = if has_percpu {
            &KERNEL_DIMS[..]
        } else {
            &KERNEL_DIMS[..4]
        };
        let kernel = info.kernel();
        if self.do_kernel {
            update(
                &mut self.kernel,
                &mut cycle,
                || ChartHandle::create(host, MEM_KERNEL.def(ue), kernel_dims),
                &kernel[..kernel_dims.len()],
            );
        }
        if self.do_slab {
            update(
                &mut self.slab,
                &mut cycle,
                || ChartHandle::create(host, MEM_SLAB.def(ue), &SLAB_DIMS),
                &info.slab(),
            );
        }
        let page_kib = info.zero(Field::Hugepagesize);
        if self
            .do_hugepages
            .wants(page_kib != 0 && info.zero(Field::HugePagesTotal) != 0)
        {
            update(
                &mut self.hugepages,
                &mut cycle,
                || ChartHandle::create(host, MEM_HUGEPAGES.def(ue), &hugepages_dims(page_kib)),
                &info.hugepages(),
            );
        }
        let thp = info.transparent_hugepages();
        if self
            .do_transparent_hugepages
            .wants(super::ondemand::any_nonzero(&thp))
        {
            update(
                &mut self.transparent_hugepages,
                &mut cycle,
                || {
                    ChartHandle::create(
                        host,
                        MEM_TRANSPARENT_HUGEPAGES.def(ue),
                        &TRANSPARENT_HUGEPAGES_DIMS,
                    )
                },
                &thp,
            );
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
        assert_eq!(info.get(Field::CommittedAs), Some(77));
        assert_eq!(info.get(Field::MemAvailable), None);
    }

    #[test]
    fn swap_and_hugepages_follow_netdata() {
        let info = MemInfo::parse(
            b"SwapTotal: 1000 kB\nSwapFree: 300 kB\nHugePages_Total: 10\n\
              HugePages_Free: 4\nHugePages_Rsvd: 1\nHugePages_Surp: 2\n",
        );
        assert_eq!(info.swap(), [Some(300), Some(700)]);
        // used = 10 - 4 - 1 = 5
        assert_eq!(info.hugepages(), [Some(4), Some(5), Some(2), Some(1)]);
    }

    #[test]
    fn odd_lines_are_skipped() {
        let info = MemInfo::parse(b"MemTotal:\nMemFree: x kB\nMemTotal: 10 kB\nweird\n\n");
        assert_eq!(info.get(Field::MemTotal), Some(10));
        assert_eq!(info.get(Field::MemFree), None);
        assert_eq!(info.ram(), None);
    }
}
