//! `/proc/diskstats`: per disk bandwidth (`disk.DEV`, KiB/s), completed
//! operations (`disk_ops.DEV`), and netdata's other per-disk charts:
//! operations in flight (`disk_qops`), backlog, busy time and utilization
//! (`disk_backlog`, `disk_busy`, `disk_util`), merged operations
//! (`disk_mops`), time spent (`disk_iotime`), the per-operation averages
//! (`disk_await`, `disk_avgsz`, `disk_svctm`), and their discard/flush
//! counterparts (`disk_ext.DEV`, `disk_ext_*`); and the bandwidth of all
//! physical disks together (`system.io`).
//!
//! As in netdata:
//! * a disk is physical when `/sys/block/DEV` exists, a partition when
//!   `/sys/dev/block/MAJOR:MINOR/partition` exists, virtual when
//!   `/sys/devices/virtual/block/DEV` exists or it has slaves;
//! * `loop*` and `ram*` devices, and partitions, get no charts; a disk's
//!   charts appear once its counters are not all zero;
//! * only physical disks add up into `system.io`, each as
//!   `sectors × 512 / 1024` KiB;
//! * sectors are 512 bytes (the kernel's unit, whatever the hardware's);
//! * the chart is named after the disk's `/dev/mapper` or
//!   `/dev/disk/by-label` name when it has one, and its family is its
//!   mount point (else that name);
//! * writes are negative.
//!
//! A disk that leaves the file has its charts marked obsolete.
//!
//! The switches: `[plugin:proc:/proc/diskstats]`'s `enable new disks
//! detected at runtime`, `performance metrics for ...` and `... for all
//! disks`, then each disk's own section `[plugin:proc:/proc/diskstats:DEV]`
//! (its kernel name): `enable`, `enable performance metrics`, `bandwidth`,
//! `operations`, `merged operations`, `i/o time`, `queued operations`,
//! `utilization percentage`, `extended operations`, `backlog`, with
//! netdata's defaults and precedence.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rrd::{ChartDef, ChartType, Host};
use wire::simple_pattern::SimplePattern;

use super::chart_handle::{auto_label, ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::mountinfo::{parse_mountinfo, Mount};
use super::ondemand::{no_chart_switches, on_demand, ChartSwitches, OnDemand};
use super::parse::{lines, netdata_chart_id, parse_u64, words};
use super::source::{host_path, SourceFile};
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/diskstats";

/// netdata's `exclude disks`.
pub const EXCLUDED_DISKS: &str = "loop* ram*";

/// The kernel counts sectors of 512 bytes.
const SECTOR_SIZE: i64 = 512;

const SYSTEM_IO: ChartSpec = ChartSpec {
    type_: "system",
    id: "io",
    family: "disk",
    context: None,
    title: "Disk I/O",
    units: "KiB/s",
    chart_type: ChartType::Area,
    priority: 150,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const SYSTEM_IO_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("in", 1, 1),
    DimSpec::incremental("out", -1, 1),
];

const IO_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("reads", SECTOR_SIZE, 1024),
    DimSpec::incremental("writes", -SECTOR_SIZE, 1024),
];
const IO_PRIORITY: i64 = 2000;

const OPS_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("reads", 1, 1),
    DimSpec::incremental("writes", -1, 1),
];
const OPS_PRIORITY: i64 = 2010;

/// A per-disk chart beyond bandwidth and operations.
struct ExtChart {
    type_: &'static str,
    context: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
    dims: &'static [DimSpec],
}

/// Indexes into [`EXT_CHARTS`].
#[derive(Clone, Copy)]
enum Ext {
    Io,
    Ops,
    Qops,
    Backlog,
    Busy,
    Util,
    Mops,
    DiscardMops,
    Iotime,
    DiscardIotime,
    Await,
    DiscardAwait,
    Avgsz,
    DiscardAvgsz,
    Svctm,
}

const fn ext(
    type_: &'static str,
    context: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
    dims: &'static [DimSpec],
) -> ExtChart {
    ExtChart {
        type_,
        context,
        title,
        units,
        chart_type,
        priority,
        dims,
    }
}

const EXT_CHARTS: [ExtChart; 15] = [
    ext(
        "disk_ext",
        "disk_ext.io",
        "Amount of Discarded Data",
        "KiB/s",
        ChartType::Area,
        2001,
        &[DimSpec::incremental("discards", SECTOR_SIZE, 1024)],
    ),
    ext(
        "disk_ext_ops",
        "disk_ext.ops",
        "Disk Completed Extended I/O Operations",
        "operations/s",
        ChartType::Line,
        2011,
        &[
            DimSpec::incremental("discards", 1, 1),
            DimSpec::incremental("flushes", 1, 1),
        ],
    ),
    ext(
        "disk_qops",
        "disk.qops",
        "Disk Current I/O Operations",
        "operations",
        ChartType::Line,
        2015,
        &[DimSpec::absolute("operations", 1, 1)],
    ),
    ext(
        "disk_backlog",
        "disk.backlog",
        "Disk Backlog",
        "milliseconds",
        ChartType::Area,
        2020,
        &[DimSpec::incremental("backlog", 1, 1)],
    ),
    ext(
        "disk_busy",
        "disk.busy",
        "Disk Busy Time",
        "milliseconds",
        ChartType::Area,
        2030,
        &[DimSpec::incremental("busy", 1, 1)],
    ),
    ext(
        "disk_util",
        "disk.util",
        "Disk Utilization Time",
        "% of time working",
        ChartType::Area,
        2040,
        &[DimSpec::absolute("utilization", 1, 1)],
    ),
    ext(
        "disk_mops",
        "disk.mops",
        "Disk Merged Operations",
        "merged operations/s",
        ChartType::Line,
        2080,
        &[
            DimSpec::incremental("reads", 1, 1),
            DimSpec::incremental("writes", -1, 1),
        ],
    ),
    ext(
        "disk_ext_mops",
        "disk_ext.mops",
        "Disk Merged Discard Operations",
        "merged operations/s",
        ChartType::Line,
        2081,
        &[DimSpec::incremental("discards", 1, 1)],
    ),
    ext(
        "disk_iotime",
        "disk.iotime",
        "Disk Total I/O Time",
        "milliseconds/s",
        ChartType::Line,
        2090,
        &[
            DimSpec::incremental("reads", 1, 1),
            DimSpec::incremental("writes", -1, 1),
        ],
    ),
    ext(
        "disk_ext_iotime",
        "disk_ext.iotime",
        "Disk Total I/O Time for Extended Operations",
        "milliseconds/s",
        ChartType::Line,
        2091,
        &[
            DimSpec::incremental("discards", 1, 1),
            DimSpec::incremental("flushes", 1, 1),
        ],
    ),
    ext(
        "disk_await",
        "disk.await",
        "Average Completed I/O Operation Time",
        "milliseconds/operation",
        ChartType::Line,
        2050,
        &[
            DimSpec::absolute("reads", 1, 1),
            DimSpec::absolute("writes", -1, 1),
        ],
    ),
    ext(
        "disk_ext_await",
        "disk_ext.await",
        "Average Completed Extended I/O Operation Time",
        "milliseconds/operation",
        ChartType::Line,
        2051,
        &[
            DimSpec::absolute("discards", 1, 1),
            DimSpec::absolute("flushes", 1, 1),
        ],
    ),
    ext(
        "disk_avgsz",
        "disk.avgsz",
        "Average Completed I/O Operation Bandwidth",
        "KiB/operation",
        ChartType::Area,
        2060,
        &[
            DimSpec::absolute("reads", SECTOR_SIZE, 1024),
            DimSpec::absolute("writes", -SECTOR_SIZE, 1024),
        ],
    ),
    ext(
        "disk_ext_avgsz",
        "disk_ext.avgsz",
        "Average Amount of Discarded Data",
        "KiB/operation",
        ChartType::Area,
        2060,
        &[DimSpec::absolute("discards", SECTOR_SIZE, 1024)],
    ),
    ext(
        "disk_svctm",
        "disk.svctm",
        "Average Service Time",
        "milliseconds/operation",
        ChartType::Line,
        2070,
        &[DimSpec::absolute("svctm", 1, 1)],
    ),
];

/// netdata's per-disk chart switches, in the order of
/// [`GLOBAL_SWITCH_KEYS`]: bandwidth, operations, merged operations, i/o
/// time, queued operations, utilization, extended operations, backlog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DiskSwitches([OnDemand; 8]);

const IO: usize = 0;
const OPS: usize = 1;
const MOPS: usize = 2;
const IOTIME: usize = 3;
const QOPS: usize = 4;
const UTIL: usize = 5;
const EXT: usize = 6;
const BACKLOG: usize = 7;

/// The `[plugin:proc:/proc/diskstats]` keys of [`DiskSwitches`] (all
/// `auto` by default).
pub(crate) const GLOBAL_SWITCH_KEYS: [&str; 8] = [
    "bandwidth for all disks",
    "operations for all disks",
    "merged operations for all disks",
    "i/o time for all disks",
    "queued operations for all disks",
    "utilization percentage for all disks",
    "extended operations for all disks",
    "backlog for all disks",
];

/// The keys of a disk's own `[plugin:proc:/proc/diskstats:DEV]` section for
/// its chart switches, in the order of [`GLOBAL_SWITCH_KEYS`].
pub(crate) const DISK_SWITCH_KEYS: [&str; 8] = [
    "bandwidth",
    "operations",
    "merged operations",
    "i/o time",
    "queued operations",
    "utilization percentage",
    "extended operations",
    "backlog",
];

/// A disk's own switches: `(kernel name, key)` → the value set in its
/// `[plugin:proc:/proc/diskstats:DEV]` section. Kept by the collector, since
/// disks come and go while it runs.
pub type DiskSectionSwitches = std::sync::Arc<dyn Fn(&str, &str) -> Option<OnDemand> + Send + Sync>;

/// No disk has a section of its own.
pub fn no_disk_sections() -> DiskSectionSwitches {
    std::sync::Arc::new(|_, _| None)
}

/// The `[plugin:proc:/proc/diskstats]` keys for performance charts by
/// kind of disk, and netdata's defaults.
const PERFORMANCE_KEYS: [(&str, OnDemand); 3] = [
    ("performance metrics for physical disks", OnDemand::Auto),
    ("performance metrics for virtual disks", OnDemand::Auto),
    ("performance metrics for partitions", OnDemand::No),
];

/// What kind of block device a disk is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DiskKind {
    Unknown,
    Physical,
    Partition,
    Virtual,
}

impl DiskKind {
    fn label(self) -> &'static str {
        match self {
            DiskKind::Unknown => "unknown",
            DiskKind::Physical => "physical",
            DiskKind::Partition => "partition",
            DiskKind::Virtual => "virtual",
        }
    }
}

/// The counters of one diskstats line that the charts use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct DiskLine<'a> {
    major: u32,
    minor: u32,
    device: &'a [u8],
    reads: Option<u64>,
    read_sectors: Option<u64>,
    writes: Option<u64>,
    write_sectors: Option<u64>,
    discards: Option<u64>,
    discard_sectors: Option<u64>,
    flushes: Option<u64>,
    /// The counters of the extended charts.
    more: Counters,
    /// The kernel reports discards (4.18 and later) and flushes (5.5).
    has_discards: bool,
    has_flushes: bool,
}

/// Every counter of a diskstats line, zero when missing (as netdata reads
/// them), for the charts derived from two reads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counters {
    reads: u64,
    merged_reads: u64,
    read_sectors: u64,
    read_ms: u64,
    writes: u64,
    merged_writes: u64,
    write_sectors: u64,
    write_ms: u64,
    in_flight: u64,
    busy_ms: u64,
    backlog_ms: u64,
    discards: u64,
    merged_discards: u64,
    discard_sectors: u64,
    discard_ms: u64,
    flushes: u64,
    flush_ms: u64,
}

/// A diskstats line, or `None` when it has fewer than 14 fields or no
/// usable device numbers.
fn parse_line(line: &[u8]) -> Option<DiskLine<'_>> {
    let mut fields: [&[u8]; 20] = [b""; 20];
    let mut count = 0;
    for (slot, word) in fields.iter_mut().zip(words(line)) {
        *slot = word;
        count += 1;
    }
    if count < 14 {
        return None;
    }
    let number = |i: usize| parse_u64(fields[i]);
    let optional = |i: usize| if i < count { number(i) } else { Some(0) };
    let zero = |i: usize| optional(i).unwrap_or(0);
    let more = Counters {
        reads: zero(3),
        merged_reads: zero(4),
        read_sectors: zero(5),
        read_ms: zero(6),
        writes: zero(7),
        merged_writes: zero(8),
        write_sectors: zero(9),
        write_ms: zero(10),
        in_flight: zero(11),
        busy_ms: zero(12),
        backlog_ms: zero(13),
        discards: zero(14),
        merged_discards: zero(15),
        discard_sectors: zero(16),
        discard_ms: zero(17),
        flushes: zero(18),
        flush_ms: zero(19),
    };
    Some(DiskLine {
        more,
        has_discards: count > 17,
        has_flushes: count > 19,
        major: u32::try_from(number(0)?).ok()?,
        minor: u32::try_from(number(1)?).ok()?,
        device: fields[2],
        reads: number(3),
        read_sectors: number(5),
        writes: number(7),
        write_sectors: number(9),
        discards: optional(14),
        discard_sectors: optional(16),
        flushes: optional(18),
    })
}

fn nonzero(values: &[Option<u64>]) -> bool {
    values.iter().any(|v| v.unwrap_or(0) != 0)
}

fn as_collected(value: Option<u64>) -> Option<i64> {
    value.and_then(|v| i64::try_from(v).ok())
}

/// `major` and `minor` of a Linux `dev_t` (glibc's encoding).
fn dev_major_minor(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major, minor)
}

/// The name of an entry of `dir` (such as `/dev/mapper`) that is, or links
/// to, the block device `major:minor` whose file is named `device`.
fn name_in_directory(dir: &Path, major: u32, minor: u32, device: &str) -> Option<String> {
    let entries = fs::read_dir(dir).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        // Follows the link (`/dev/mapper/root -> ../dm-0`).
        let Ok(target) = fs::canonicalize(&path) else {
            continue;
        };
        let Ok(meta) = fs::metadata(&target) else {
            continue;
        };
        if !meta.file_type().is_block_device() {
            continue;
        }
        let same_name = target.file_name().is_some_and(|n| n == device);
        if same_name && dev_major_minor(meta.rdev()) == (u64::from(major), u64::from(minor)) {
            return Some(entry.file_name().to_string_lossy().into_owned());
        }
    }
    None
}

/// Everything the collector learns about a disk when it first sees it.
struct Disk {
    major: u32,
    minor: u32,
    /// The kernel's name (`sda`, `dm-0`).
    device: String,
    /// netdata's name for it: its device-mapper or label name, else the
    /// kernel's, made fit for a chart name.
    name: String,
    /// `device`, or `dm-N-UUID` for LVM volumes.
    chart_id: String,
    kind: DiskKind,
    mount_point: Option<String>,
    /// Its chart switches (all `no` for an excluded disk, or when
    /// performance metrics are off for its kind: partitions by default).
    switches: DiskSwitches,
    seen: bool,
    io: Option<ChartHandle>,
    ops: Option<ChartHandle>,
    /// The other performance charts, by [`Ext`].
    ext: [Option<ChartHandle>; EXT_CHARTS.len()],
    /// The counters of the previous read (netdata's `last_*`).
    previous: Option<Counters>,
}

impl Disk {
    fn chart(&self, type_: &str, context: &str, title: &str, units: &str) -> ChartDef {
        let family = self.mount_point.as_deref().unwrap_or(&self.name);
        let mut def = ChartDef::new(type_, self.chart_id.as_str())
            .name(self.name.as_str())
            .family(family)
            .context(context)
            .title(title)
            .units(units)
            .label(auto_label("device", &self.name))
            .label(auto_label(
                "mount_point",
                self.mount_point.as_deref().unwrap_or("[none]"),
            ))
            .label(auto_label("device_type", self.kind.label()));
        def.plugin = PROC_PLUGIN.to_string();
        def.module = MODULE.to_string();
        def
    }

    fn mark_obsolete(&mut self) {
        super::chart_handle::mark_all_obsolete([&mut self.io, &mut self.ops]);
        super::chart_handle::mark_all_obsolete(self.ext.iter_mut());
    }

    /// Completes a round of chart `which`, creating it first.
    fn ext_update(
        &mut self,
        which: Ext,
        host: &Host,
        update_every: u32,
        cycle: &mut Cycle,
        values: &[Option<i64>],
    ) {
        let spec = &EXT_CHARTS[which as usize];
        if self.ext[which as usize].is_none() {
            let def = self
                .chart(spec.type_, spec.context, spec.title, spec.units)
                .chart_type(spec.chart_type)
                .priority(spec.priority)
                .update_every(update_every);
            let dims = &spec.dims[..values.len().min(spec.dims.len())];
            self.ext[which as usize] = Some(ChartHandle::create(host, def, dims));
        }
        if let Some(chart) = &mut self.ext[which as usize] {
            chart.update(cycle, values);
        }
    }

    /// Whether switch `which` is on this round, given whether its values
    /// are not all zero (`auto` latches on).
    fn wants(&mut self, which: usize, nonzero: bool) -> bool {
        self.switches.0[which].wants(nonzero)
    }

    /// Whether switch `which` is on (`yes`, or `auto` latched).
    fn on(&self, which: usize) -> bool {
        self.switches.0[which] == OnDemand::Yes
    }

    /// Whether the discard/flush charts may follow their base chart.
    fn ext_allowed(&self) -> bool {
        self.switches.0[EXT] != OnDemand::No
    }

    /// The charts beyond bandwidth and operations, with netdata 1.37's
    /// rules: each appears once its counters are not all zero; the
    /// discard/flush ones (`disk_ext*`) with their base chart, when the
    /// kernel counts discards; the per-operation averages (await, avgsz,
    /// svctm) and utilization from the second read on, as differences
    /// between two reads divided in integers.
    fn extended(&mut self, line: &DiskLine<'_>, host: &Host, update_every: u32, cycle: &mut Cycle) {
        let now = line.more;
        let dc = line.has_discards;
        let fl = line.has_flushes;
        let n = |v: u64| i64::try_from(v).ok();
        let io_on = self.on(IO);
        let ops_on = self.on(OPS);
        let ext = dc && self.ext_allowed();

        if ext && io_on {
            self.ext_update(
                Ext::Io,
                host,
                update_every,
                cycle,
                &[n(now.discard_sectors)],
            );
        }
        if ext && ops_on {
            let values = [n(now.discards), n(now.flushes)];
            let values = if fl { &values[..] } else { &values[..1] };
            self.ext_update(Ext::Ops, host, update_every, cycle, values);
        }
        if self.wants(QOPS, now.in_flight != 0) {
            self.ext_update(Ext::Qops, host, update_every, cycle, &[n(now.in_flight)]);
        }
        if self.wants(BACKLOG, now.backlog_ms != 0) {
            self.ext_update(
                Ext::Backlog,
                host,
                update_every,
                cycle,
                &[n(now.backlog_ms)],
            );
        }
        let previous = self.previous.replace(now);
        let delta = |f: fn(&Counters) -> u64| previous.map(|p| f(&now).wrapping_sub(f(&p)));
        if self.wants(UTIL, now.busy_ms != 0) {
            self.ext_update(Ext::Busy, host, update_every, cycle, &[n(now.busy_ms)]);
            let utilization =
                delta(|c| c.busy_ms).map(|busy| (busy / (10 * u64::from(update_every))).min(100));
            self.ext_update(
                Ext::Util,
                host,
                update_every,
                cycle,
                &[utilization.and_then(n)],
            );
        }
        let merged = now.merged_reads != 0 || now.merged_writes != 0 || now.merged_discards != 0;
        if self.wants(MOPS, merged) {
            self.ext_update(
                Ext::Mops,
                host,
                update_every,
                cycle,
                &[n(now.merged_reads), n(now.merged_writes)],
            );
            if ext {
                self.ext_update(
                    Ext::DiscardMops,
                    host,
                    update_every,
                    cycle,
                    &[n(now.merged_discards)],
                );
            }
        }
        let time =
            now.read_ms != 0 || now.write_ms != 0 || now.discard_ms != 0 || now.flush_ms != 0;
        if self.wants(IOTIME, time) {
            self.ext_update(
                Ext::Iotime,
                host,
                update_every,
                cycle,
                &[n(now.read_ms), n(now.write_ms)],
            );
            if ext {
                let values = [n(now.discard_ms), n(now.flush_ms)];
                let values = if fl { &values[..] } else { &values[..1] };
                self.ext_update(Ext::DiscardIotime, host, update_every, cycle, values);
            }
        }
        if previous.is_none() {
            return;
        }
        // Per completed operation: `Δtime / Δops`, 0 without operations.
        let per = |amount: Option<u64>, ops: Option<u64>| -> Option<i64> {
            let (amount, ops) = (amount?, ops?);
            n(amount.checked_div(ops).unwrap_or(0))
        };
        let reads = delta(|c| c.reads);
        let writes = delta(|c| c.writes);
        let discards = delta(|c| c.discards);
        let flushes = delta(|c| c.flushes);
        if self.on(IOTIME) && ops_on {
            self.ext_update(
                Ext::Await,
                host,
                update_every,
                cycle,
                &[
                    per(delta(|c| c.read_ms), reads),
                    per(delta(|c| c.write_ms), writes),
                ],
            );
            if ext {
                let values = [
                    per(delta(|c| c.discard_ms), discards),
                    per(delta(|c| c.flush_ms), flushes),
                ];
                let values = if fl { &values[..] } else { &values[..1] };
                self.ext_update(Ext::DiscardAwait, host, update_every, cycle, values);
            }
        }
        if io_on && ops_on {
            self.ext_update(
                Ext::Avgsz,
                host,
                update_every,
                cycle,
                &[
                    per(delta(|c| c.read_sectors), reads),
                    per(delta(|c| c.write_sectors), writes),
                ],
            );
            if ext {
                self.ext_update(
                    Ext::DiscardAvgsz,
                    host,
                    update_every,
                    cycle,
                    &[per(delta(|c| c.discard_sectors), discards)],
                );
            }
        }
        if self.on(UTIL) && ops_on {
            let operations = reads.zip(writes).map(|(r, w)| r.wrapping_add(w));
            self.ext_update(
                Ext::Svctm,
                host,
                update_every,
                cycle,
                &[per(delta(|c| c.busy_ms), operations)],
            );
        }
    }
}

/// Where the collector looks things up, below the host root.
struct SysPaths {
    block: PathBuf,
    dev_block: PathBuf,
    virtual_block: PathBuf,
    device_mapper: PathBuf,
    by_label: PathBuf,
    mountinfo: PathBuf,
}

impl SysPaths {
    fn new(root: &Path) -> SysPaths {
        SysPaths {
            block: host_path(root, "/sys/block"),
            dev_block: host_path(root, "/sys/dev/block"),
            virtual_block: host_path(root, "/sys/devices/virtual/block"),
            device_mapper: host_path(root, "/dev/mapper"),
            by_label: host_path(root, "/dev/disk/by-label"),
            mountinfo: host_path(root, "/proc/self/mountinfo"),
        }
    }

    fn kind(&self, device: &str, major: u32, minor: u32) -> DiskKind {
        let numbers = self.dev_block.join(format!("{major}:{minor}"));
        let mut kind = DiskKind::Unknown;
        if self.block.join(device).exists() {
            kind = DiskKind::Physical;
        }
        if numbers.join("partition").exists() {
            DiskKind::Partition
        } else if self.virtual_block.join(device).exists()
            || fs::read_dir(numbers.join("slaves")).is_ok_and(|mut d| d.next().is_some())
        {
            DiskKind::Virtual
        } else {
            kind
        }
    }

    fn chart_id(&self, device: &str) -> String {
        if device.starts_with("dm-") {
            let uuid_file = self.virtual_block.join(device).join("dm/uuid");
            if let Ok(uuid) = fs::read_to_string(uuid_file) {
                if let Some(lvm) = uuid.trim().strip_prefix("LVM-") {
                    return format!("{device}-{lvm}");
                }
            }
        }
        device.to_string()
    }

    fn name(&self, device: &str, major: u32, minor: u32) -> String {
        let found = name_in_directory(&self.device_mapper, major, minor, device)
            .or_else(|| name_in_directory(&self.by_label, major, minor, device));
        netdata_chart_id(found.as_deref().unwrap_or(device))
    }
}

/// Collects `/proc/diskstats`.
pub struct DiskstatsCollector {
    file: SourceFile,
    update_every: u32,
    state: DiskstatsState,
    refused: RefusedRounds,
}

/// Everything but the file, so that the file's bytes can be parsed while
/// this changes.
struct DiskstatsState {
    paths: SysPaths,
    excluded: SimplePattern,
    /// By kernel device name.
    disks: HashMap<Vec<u8>, Disk>,
    system_io: Option<ChartHandle>,
    /// The `... for all disks` switches.
    globals: DiskSwitches,
    /// The performance switches of physical disks, virtual disks,
    /// partitions.
    performance: [OnDemand; 3],
    /// `enable new disks detected at runtime` (yes).
    enable_new_disks: bool,
    /// The disks' own sections.
    disk_sections: DiskSectionSwitches,
}

impl DiskstatsCollector {
    pub fn new(root: &Path, update_every: u32) -> DiskstatsCollector {
        DiskstatsCollector::configured(root, update_every, &no_chart_switches)
    }

    /// With the switches of `[plugin:proc:/proc/diskstats]` (the `... for
    /// all disks` and `performance metrics for ...` keys; not the per-disk
    /// sections).
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> DiskstatsCollector {
        DiskstatsCollector::with_disk_sections(root, update_every, switches, no_disk_sections())
    }

    /// [`DiskstatsCollector::configured`], with the disks' own sections.
    pub fn with_disk_sections(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
        disk_sections: DiskSectionSwitches,
    ) -> DiskstatsCollector {
        DiskstatsCollector {
            file: SourceFile::new(root, "/proc/diskstats"),
            update_every: update_every.max(1),
            state: DiskstatsState {
                paths: SysPaths::new(root),
                excluded: SimplePattern::new(EXCLUDED_DISKS),
                disks: HashMap::new(),
                system_io: None,
                globals: DiskSwitches(
                    GLOBAL_SWITCH_KEYS.map(|key| on_demand(switches, MODULE, key, OnDemand::Auto)),
                ),
                performance: PERFORMANCE_KEYS
                    .map(|(key, default)| on_demand(switches, MODULE, key, default)),
                enable_new_disks: switches(MODULE, "enable new disks detected at runtime")
                    != Some(OnDemand::No),
                disk_sections,
            },
            refused: RefusedRounds::default(),
        }
    }

    /// With `exclude disks` set (a netdata simple pattern).
    pub fn excluding_disks(mut self, pattern: &str) -> DiskstatsCollector {
        self.state.excluded = SimplePattern::new(pattern);
        self
    }
}

impl Collector for DiskstatsCollector {
    fn name(&self) -> &str {
        "proc:diskstats"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            self.state.mark_all_obsolete();
            return Ok(());
        };
        let mut cycle = Cycle::new(now_ut);
        self.state
            .process(data, host, self.update_every, &mut cycle);
        self.refused.settle("proc:diskstats", cycle);
        Ok(())
    }
}

impl DiskstatsState {
    fn mark_all_obsolete(&mut self) {
        for disk in self.disks.values_mut() {
            disk.mark_obsolete();
        }
        if let Some(chart) = &mut self.system_io {
            chart.mark_obsolete();
        }
    }

    /// A new disk's switches, as netdata decides them: none when the disk
    /// is not enabled (its section's `enable`, by default `enable new disks
    /// detected at runtime`, and no for an excluded disk); else each chart's
    /// from its section, by default the `... for all disks` one, or none
    /// when performance metrics are off for the disk (its section's `enable
    /// performance metrics`, by default its kind's).
    fn switches_for(&self, device: &str, excluded: bool, kind: DiskKind) -> DiskSwitches {
        let own = |key: &str| (self.disk_sections)(device, key);
        let enable_default = if self.enable_new_disks && !excluded {
            OnDemand::Yes
        } else {
            OnDemand::No
        };
        if own("enable").unwrap_or(enable_default) == OnDemand::No {
            return DiskSwitches([OnDemand::No; 8]);
        }
        let kind_performance = match kind {
            DiskKind::Physical => self.performance[0],
            DiskKind::Virtual => self.performance[1],
            DiskKind::Partition => self.performance[2],
            DiskKind::Unknown => OnDemand::Auto,
        };
        let performance = own("enable performance metrics").unwrap_or(kind_performance);
        let mut switches = DiskSwitches([OnDemand::No; 8]);
        for (i, key) in DISK_SWITCH_KEYS.iter().enumerate() {
            let default = if performance == OnDemand::No {
                OnDemand::No
            } else {
                self.globals.0[i]
            };
            switches.0[i] = own(key).unwrap_or(default);
        }
        switches
    }

    fn new_disk(&self, line: &DiskLine<'_>, mounts: &mut Option<Vec<Mount>>) -> Disk {
        let device = String::from_utf8_lossy(line.device).into_owned();
        let kind = self.paths.kind(&device, line.major, line.minor);
        let name = self.paths.name(&device, line.major, line.minor);
        let mounts = mounts.get_or_insert_with(|| {
            fs::read(&self.paths.mountinfo)
                .map(|data| parse_mountinfo(&data))
                .unwrap_or_default()
        });
        let mount_point = mounts
            .iter()
            .find(|m| m.major == line.major && m.minor == line.minor && m.source_name() == device)
            .map(|m| m.mount_point.clone());
        let excluded = self.excluded.matches(&device) || self.excluded.matches(&name);
        Disk {
            major: line.major,
            minor: line.minor,
            chart_id: self.paths.chart_id(&device),
            switches: self.switches_for(&device, excluded, kind),
            device,
            name,
            kind,
            mount_point,
            seen: false,
            io: None,
            ops: None,
            ext: Default::default(),
            previous: None,
        }
    }

    fn process(&mut self, data: &[u8], host: &Host, update_every: u32, cycle: &mut Cycle) {
        let mut mounts: Option<Vec<Mount>> = None;
        let mut system_read_kib: u64 = 0;
        let mut system_write_kib: u64 = 0;

        for line in lines(data) {
            let Some(stats) = parse_line(line) else {
                continue;
            };
            let same_device = |disk: &Disk| disk.major == stats.major && disk.minor == stats.minor;
            if !self.disks.get(stats.device).is_some_and(same_device) {
                // New, or the name now belongs to other device numbers.
                let disk = self.new_disk(&stats, &mut mounts);
                if let Some(mut old) = self.disks.insert(stats.device.to_vec(), disk) {
                    old.mark_obsolete();
                }
            }
            let Some(disk) = self.disks.get_mut(stats.device) else {
                continue;
            };
            disk.seen = true;

            if disk.kind == DiskKind::Physical {
                let kib = |sectors: Option<u64>| {
                    sectors.unwrap_or(0).saturating_mul(SECTOR_SIZE as u64) / 1024
                };
                system_read_kib = system_read_kib.wrapping_add(kib(stats.read_sectors));
                system_write_kib = system_write_kib.wrapping_add(kib(stats.write_sectors));
            }

            let bandwidth = nonzero(&[
                stats.read_sectors,
                stats.write_sectors,
                stats.discard_sectors,
            ]);
            if disk.wants(IO, bandwidth) && disk.io.is_none() {
                let def = disk
                    .chart("disk", "disk.io", "Disk I/O Bandwidth", "KiB/s")
                    .chart_type(ChartType::Area)
                    .priority(IO_PRIORITY)
                    .update_every(update_every);
                disk.io = Some(ChartHandle::create(host, def, &IO_DIMS));
            }
            if let Some(chart) = &mut disk.io {
                chart.update(
                    cycle,
                    &[
                        as_collected(stats.read_sectors),
                        as_collected(stats.write_sectors),
                    ],
                );
            }

            let operations = nonzero(&[stats.reads, stats.writes, stats.discards, stats.flushes]);
            if disk.wants(OPS, operations) && disk.ops.is_none() {
                let def = disk
                    .chart(
                        "disk_ops",
                        "disk.ops",
                        "Disk Completed I/O Operations",
                        "operations/s",
                    )
                    .chart_type(ChartType::Line)
                    .priority(OPS_PRIORITY)
                    .update_every(update_every);
                disk.ops = Some(ChartHandle::create(host, def, &OPS_DIMS));
            }
            if let Some(chart) = &mut disk.ops {
                chart.update(
                    cycle,
                    &[as_collected(stats.reads), as_collected(stats.writes)],
                );
            }
            disk.extended(&stats, host, update_every, cycle);
        }

        // Disks that left the file.
        self.disks.retain(|_, disk| {
            let keep = std::mem::replace(&mut disk.seen, false);
            if !keep {
                tracing::debug!(device = %disk.device, "disk removed; its charts are obsolete");
                disk.mark_obsolete();
            }
            keep
        });

        if self.system_io.is_none() && (system_read_kib != 0 || system_write_kib != 0) {
            self.system_io = Some(ChartHandle::create(
                host,
                SYSTEM_IO.def(update_every),
                &SYSTEM_IO_DIMS,
            ));
        }
        if let Some(chart) = &mut self.system_io {
            chart.update(
                cycle,
                &[
                    as_collected(Some(system_read_kib)),
                    as_collected(Some(system_write_kib)),
                ],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_lines_of_all_ages() {
        let line = parse_line(
            b" 254       0 vda 7798 5927 3859474 31880 4142 22331 5121024 30906 0 7804 63491 5095 6 382016 703 35 1",
        )
        .unwrap();
        assert_eq!((line.major, line.minor, line.device), (254, 0, &b"vda"[..]));
        assert_eq!(line.reads, Some(7798));
        assert_eq!(line.read_sectors, Some(3_859_474));
        assert_eq!(line.writes, Some(4142));
        assert_eq!(line.write_sectors, Some(5_121_024));
        assert_eq!(line.discards, Some(5095));
        assert_eq!(line.discard_sectors, Some(382_016));
        assert_eq!(line.flushes, Some(35));

        // Before 4.18: 14 fields, no discards or flushes.
        let old = parse_line(b"8 0 sda 1 2 3 4 5 6 7 8 9 10 11").unwrap();
        assert_eq!((old.discards, old.flushes), (Some(0), Some(0)));

        assert!(parse_line(b"8 0 sda 1 2 3").is_none());
        assert!(parse_line(b"x 0 sda 1 2 3 4 5 6 7 8 9 10 11").is_none());
        let odd = parse_line(b"8 0 sda 1 2 x 4 5 6 7 8 9 10 11").unwrap();
        assert_eq!(odd.read_sectors, None);
    }

    #[test]
    fn dev_t_decoding() {
        // makedev(254, 0) and makedev(259, 65536) in glibc's encoding.
        assert_eq!(dev_major_minor(0xfe00), (254, 0));
        let (major, minor) = (259u64, 65536u64);
        let dev = ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & !0xff) << 12);
        assert_eq!(dev_major_minor(dev), (259, 65536));
    }

    #[test]
    fn kinds_from_sysfs() {
        let root = std::env::temp_dir().join(format!("backhaul-diskkind-{}", std::process::id()));
        let mk = |p: &str| fs::create_dir_all(root.join(p)).unwrap();
        mk("sys/block/sda");
        mk("sys/block/loop0");
        mk("sys/devices/virtual/block/loop0");
        mk("sys/dev/block/8:1/partition");
        mk("sys/dev/block/253:0/slaves/sda2");
        let paths = SysPaths::new(&root);
        assert_eq!(paths.kind("sda", 8, 0), DiskKind::Physical);
        assert_eq!(paths.kind("loop0", 7, 0), DiskKind::Virtual);
        assert_eq!(paths.kind("sda1", 8, 1), DiskKind::Partition);
        assert_eq!(paths.kind("dm-0", 253, 0), DiskKind::Virtual);
        assert_eq!(paths.kind("nbd0", 43, 0), DiskKind::Unknown);
        fs::create_dir_all(root.join("sys/devices/virtual/block/dm-1/dm")).unwrap();
        fs::write(
            root.join("sys/devices/virtual/block/dm-1/dm/uuid"),
            "LVM-abc123\n",
        )
        .unwrap();
        assert_eq!(paths.chart_id("dm-1"), "dm-1-abc123");
        assert_eq!(paths.chart_id("sda"), "sda");
        assert_eq!(paths.name("Weird!Disk", 8, 0), "weird_disk");
        fs::remove_dir_all(&root).unwrap();
    }
}
