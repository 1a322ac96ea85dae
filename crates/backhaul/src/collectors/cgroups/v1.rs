//! One cgroup of the v1 hierarchies: its files in the `cpuacct`, `cpuset`,
//! `memory` and `blkio` controllers' trees (`cpuacct.stat`,
//! `cpuacct.usage_percpu`, `cpu.stat` and `cpu.shares` and the CFS quota
//! under the cpuacct mount as netdata looks for them, `cpuset.cpus`,
//! `memory.stat`, `memory.usage_in_bytes`, `memory.memsw.usage_in_bytes`,
//! `memory.failcnt`, the limits, and the six `blkio` files, the
//! `_recursive` ones first), and the `cgroup_NAME.*` charts netdata 1.37
//! makes from them, in its order and with its `auto` rules.

use std::path::{Path, PathBuf};

use rrd::{Algorithm, DimensionDef, Host};

use super::unified::{
    as_value, keyed_numbers, limit_percent, page_size, read_number, spec, ChartNaming, CpuLimit,
    CpuRound, LimitFile, Machine, ServiceReading, Spec, CPU, DURATION_DIMS, IO, IO_DIMS, MEM,
    MEM_USAGE, MEM_USAGE_DIMS, MEM_USAGE_LIMIT, MEM_USAGE_LIMIT_DIMS, MEM_UTILIZATION,
    MEM_UTILIZATION_DIMS, MIB, OPS_DIMS, PGFAULTS, SERVICED_OPS, SHARES, SHARES_DIMS, THROTTLED,
    THROTTLED_DIMS, THROTTLED_DURATION, WRITEBACK,
};
use super::CgroupSwitches;
use crate::collectors::proc::chart_handle::{ChartHandle, Cycle, DimSpec};
use crate::collectors::proc::parse::{lines, parse_u64, words};
use crate::collectors::proc::source::SourceFile;
use crate::config::ChartSwitch;
use rrd::ChartType;

const CPU_PER_CORE: Spec = spec(
    "cpu_per_core",
    "cpu",
    "cpu_per_core",
    "CPU Usage (100% = 1 core) Per Core",
    "percentage",
    ChartType::Stacked,
    100,
);
const MEM_ACTIVITY: Spec = spec(
    "mem_activity",
    "mem",
    "mem_activity",
    "Memory Activity",
    "MiB/s",
    ChartType::Line,
    400,
);
const MEM_FAILCNT: Spec = spec(
    "mem_failcnt",
    "mem",
    "mem_failcnt",
    "Memory Limit Failures",
    "count",
    ChartType::Line,
    250,
);
const THROTTLE_IO: Spec = spec(
    "throttle_io",
    "disk",
    "throttle_io",
    "Throttle I/O Bandwidth (all disks)",
    "KiB/s",
    ChartType::Area,
    1200,
);
const THROTTLE_SERVICED_OPS: Spec = spec(
    "throttle_serviced_ops",
    "disk",
    "throttle_serviced_ops",
    "Throttle Serviced I/O Operations (all disks)",
    "operations/s",
    ChartType::Line,
    1200,
);
const QUEUED_OPS: Spec = spec(
    "queued_ops",
    "disk",
    "queued_ops",
    "Queued I/O Operations (all disks)",
    "operations",
    ChartType::Line,
    2000,
);
const MERGED_OPS: Spec = spec(
    "merged_ops",
    "disk",
    "merged_ops",
    "Merged I/O Operations (all disks)",
    "operations/s",
    ChartType::Line,
    2100,
);

const FAILCNT_DIMS: [DimSpec; 1] = [DimSpec::incremental("failures", 1, 1)];
const QUEUED_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("read", 1, 1),
    DimSpec::absolute("write", -1, 1),
];
/// netdata divides merged operations by 1024 (as bandwidth); kept.
const MERGED_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("read", 1, 1024),
    DimSpec::incremental("write", -1, 1024),
];

/// The v1 controllers' mount points netdata reads.
#[derive(Clone, Debug)]
pub(super) struct V1Bases {
    pub cpuacct: PathBuf,
    pub cpuset: PathBuf,
    pub blkio: PathBuf,
    pub memory: PathBuf,
    pub devices: PathBuf,
}

/// `memory.stat`'s hierarchical totals netdata reads in v1.
#[derive(Default, Clone, Copy)]
struct MemoryStat {
    cache: u64,
    rss: u64,
    rss_huge: u64,
    mapped_file: u64,
    writeback: u64,
    dirty: Option<u64>,
    swap: Option<u64>,
    pgpgin: u64,
    pgpgout: u64,
    pgfault: u64,
    pgmajfault: u64,
    inactive_file: u64,
}

impl MemoryStat {
    fn parse(data: &[u8]) -> MemoryStat {
        let mut m = MemoryStat::default();
        for (key, value) in keyed_numbers(data) {
            match key {
                b"total_cache" => m.cache = value,
                b"total_rss" => m.rss = value,
                b"total_rss_huge" => m.rss_huge = value,
                b"total_mapped_file" => m.mapped_file = value,
                b"total_writeback" => m.writeback = value,
                b"total_dirty" => m.dirty = Some(value),
                b"total_swap" => m.swap = Some(value),
                b"total_pgpgin" => m.pgpgin = value,
                b"total_pgpgout" => m.pgpgout = value,
                b"total_pgfault" => m.pgfault = value,
                b"total_pgmajfault" => m.pgmajfault = value,
                b"total_inactive_file" => m.inactive_file = value,
                _ => {}
            }
        }
        m
    }

    fn any_nonzero(&self) -> bool {
        [
            self.cache,
            self.dirty.unwrap_or(0),
            self.rss,
            self.rss_huge,
            self.mapped_file,
            self.writeback,
            self.swap.unwrap_or(0),
            self.pgpgin,
            self.pgpgout,
            self.pgfault,
            self.pgmajfault,
            self.inactive_file,
        ]
        .iter()
        .any(|&v| v != 0)
    }
}

/// A blkio file's `Read` and `Write` lines summed over the devices (the
/// words after `MAJ:MIN`); `None` for an empty file.
fn blkio_sums(data: &[u8]) -> [u64; 2] {
    let mut sums = [0u64; 2];
    for line in lines(data) {
        let mut w = words(line).skip(1);
        let (Some(kind), Some(value)) = (w.next(), w.next()) else {
            continue;
        };
        let slot = match kind {
            b"Read" => 0,
            b"Write" => 1,
            _ => continue,
        };
        sums[slot] = sums[slot].wrapping_add(parse_u64(value).unwrap_or(0));
    }
    sums
}

/// The number of CPUs of a `cpuset.cpus` list (`0-3,6`), as netdata counts
/// them (an empty list counts as one).
fn cpuset_count(data: &[u8]) -> u64 {
    let mut count = 0u64;
    let mut i = 0;
    let number = |i: &mut usize| {
        let mut n = 0u64;
        while let Some(d) = data.get(*i).filter(|b| b.is_ascii_digit()) {
            n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            *i += 1;
        }
        n
    };
    while i < data.len() {
        let first = number(&mut i);
        count += 1;
        match data.get(i) {
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'-') => {
                i += 1;
                let last = number(&mut i);
                count = count.wrapping_add(last.wrapping_sub(first));
            }
            _ => {}
        }
        i += 1;
    }
    count
}

/// A blkio file and its switch.
#[derive(Default)]
struct Blkio {
    file: Option<SourceFile>,
    switch: Option<ChartSwitch>,
}

impl Blkio {
    /// Takes `NAME_recursive` if there, else `NAME`.
    fn find(&mut self, dir: &Path, name: &str, switch: ChartSwitch) {
        if switch == ChartSwitch::No || self.file.is_some() {
            return;
        }
        for candidate in [format!("{name}_recursive"), name.to_string()] {
            let path = dir.join(&candidate);
            if path.exists() {
                self.file = Some(SourceFile::new(Path::new("/"), &path.to_string_lossy()));
                self.switch = Some(switch);
                return;
            }
        }
    }

    /// Read, written; and whether its chart is on (`auto` latched).
    fn read(&mut self) -> Option<([u64; 2], bool)> {
        let sums = blkio_sums(self.file.as_mut()?.read()?);
        let on = self
            .switch
            .as_mut()
            .is_some_and(|s| s.wants(sums[0] != 0 || sums[1] != 0));
        Some((sums, on))
    }
}

/// A v1 cgroup's sources and charts.
pub(super) struct V1Cgroup {
    /// The cgroup's directory in each controller's tree.
    cpuacct_dir: PathBuf,
    cpuset_dir: PathBuf,
    memory_dir: PathBuf,
    blkio_dir: PathBuf,
    cpuacct_stat: Option<SourceFile>,
    cpu: ChartSwitch,
    /// `cpuset.cpus`, `cpu.cfs_period_us`, `cpu.cfs_quota_us`: taken along
    /// with `cpuacct.stat` without looking for them; each dropped for good
    /// when it cannot be read. Their last values.
    limit_files: [Option<SourceFile>; 3],
    limit_values: [u64; 3],
    cpu_limit: CpuLimit,
    usage_percpu: Option<SourceFile>,
    per_core: ChartSwitch,
    per_core_values: Vec<Option<i64>>,
    cpu_stat: Option<SourceFile>,
    throttling: ChartSwitch,
    last_periods: (u64, u64),
    shares_file: Option<SourceFile>,
    shares: ChartSwitch,
    memory_stat: Option<SourceFile>,
    detailed: ChartSwitch,
    /// The last `total_inactive_file` read (netdata keeps it between
    /// reads).
    inactive_file: u64,
    usage: Option<SourceFile>,
    memory: ChartSwitch,
    memsw: Option<SourceFile>,
    swap: ChartSwitch,
    failcnt_file: Option<SourceFile>,
    failcnt: ChartSwitch,
    memory_limit: LimitFile,
    swap_limit: LimitFile,
    /// io, serviced, throttle io, throttle serviced, queued, merged.
    blkio: [Blkio; 6],
    charts: Charts,
}

#[derive(Default)]
struct Charts {
    cpu: Option<ChartHandle>,
    cpu_limit: Option<ChartHandle>,
    throttled: Option<ChartHandle>,
    throttled_duration: Option<ChartHandle>,
    shares: Option<ChartHandle>,
    per_core: Option<ChartHandle>,
    mem: Option<ChartHandle>,
    writeback: Option<ChartHandle>,
    mem_activity: Option<ChartHandle>,
    pgfaults: Option<ChartHandle>,
    mem_usage: Option<ChartHandle>,
    mem_usage_limit: Option<ChartHandle>,
    mem_utilization: Option<ChartHandle>,
    mem_failcnt: Option<ChartHandle>,
    blkio: [Option<ChartHandle>; 6],
}

/// The blkio files, their switches' places and their charts.
const BLKIO: [(&str, &Spec); 6] = [
    ("blkio.io_service_bytes", &IO),
    ("blkio.io_serviced", &SERVICED_OPS),
    ("blkio.throttle.io_service_bytes", &THROTTLE_IO),
    ("blkio.throttle.io_serviced", &THROTTLE_SERVICED_OPS),
    ("blkio.io_queued", &QUEUED_OPS),
    ("blkio.io_merged", &MERGED_OPS),
];

fn blkio_dims(i: usize) -> &'static [DimSpec] {
    match i {
        0 | 2 => &IO_DIMS,
        1 | 3 => &OPS_DIMS,
        4 => &QUEUED_DIMS,
        _ => &MERGED_DIMS,
    }
}

fn source(path: &Path) -> SourceFile {
    SourceFile::new(Path::new("/"), &path.to_string_lossy())
}

impl V1Cgroup {
    /// Cgroup `id` (`/docker/ID`) of the hierarchies at `bases`.
    pub(super) fn new(bases: &V1Bases, id: &str) -> V1Cgroup {
        let relative = id.trim_start_matches('/');
        V1Cgroup {
            cpuacct_dir: bases.cpuacct.join(relative),
            cpuset_dir: bases.cpuset.join(relative),
            memory_dir: bases.memory.join(relative),
            blkio_dir: bases.blkio.join(relative),
            cpuacct_stat: None,
            cpu: ChartSwitch::No,
            limit_files: [None, None, None],
            limit_values: [0; 3],
            cpu_limit: CpuLimit::default(),
            usage_percpu: None,
            per_core: ChartSwitch::No,
            per_core_values: Vec::new(),
            cpu_stat: None,
            throttling: ChartSwitch::No,
            last_periods: (0, 0),
            shares_file: None,
            shares: ChartSwitch::No,
            memory_stat: None,
            detailed: ChartSwitch::No,
            inactive_file: 0,
            usage: None,
            memory: ChartSwitch::No,
            memsw: None,
            swap: ChartSwitch::No,
            failcnt_file: None,
            failcnt: ChartSwitch::No,
            memory_limit: LimitFile::new("memory_limit"),
            swap_limit: LimitFile::new("memory_and_swap_limit"),
            blkio: Default::default(),
            charts: Charts::default(),
        }
    }

    /// Looks for the files not found yet, as netdata's v1 discovery does.
    pub(super) fn find_files(
        &mut self,
        s: &CgroupSwitches,
        is_service: bool,
        report_used_memory: bool,
    ) {
        let on = |switch: ChartSwitch| switch != ChartSwitch::No;
        let found = |dir: &Path, name: &str| -> Option<SourceFile> {
            let path = dir.join(name);
            path.exists().then(|| source(&path))
        };
        if on(s.cpu) && self.cpuacct_stat.is_none() {
            self.cpuacct_stat = found(&self.cpuacct_dir, "cpuacct.stat");
            if self.cpuacct_stat.is_some() {
                self.cpu = s.cpu;
                self.limit_files = [
                    Some(source(&self.cpuset_dir.join("cpuset.cpus"))),
                    Some(source(&self.cpuacct_dir.join("cpu.cfs_period_us"))),
                    Some(source(&self.cpuacct_dir.join("cpu.cfs_quota_us"))),
                ];
                self.cpu_limit.wanted = true;
            }
        }
        if on(s.cpu_per_core) && !is_service && self.usage_percpu.is_none() {
            self.usage_percpu = found(&self.cpuacct_dir, "cpuacct.usage_percpu");
            if self.usage_percpu.is_some() {
                self.per_core = s.cpu_per_core;
            }
        }
        if on(s.throttling) && !is_service && self.cpu_stat.is_none() {
            self.cpu_stat = found(&self.cpuacct_dir, "cpu.stat");
            if self.cpu_stat.is_some() {
                self.throttling = s.throttling;
            }
        }
        if on(s.shares) && !is_service && self.shares_file.is_none() {
            self.shares_file = found(&self.cpuacct_dir, "cpu.shares");
            if self.shares_file.is_some() {
                self.shares = s.shares;
            }
        }
        if (on(s.detailed_memory) || report_used_memory) && self.memory_stat.is_none() {
            self.memory_stat = found(&self.memory_dir, "memory.stat");
            if self.memory_stat.is_some() {
                self.detailed = if s.detailed_memory == ChartSwitch::Yes {
                    ChartSwitch::Yes
                } else {
                    ChartSwitch::Auto
                };
            }
        }
        if on(s.memory) && self.usage.is_none() {
            self.usage = found(&self.memory_dir, "memory.usage_in_bytes");
            if self.usage.is_some() {
                self.memory = s.memory;
                self.memory_limit
                    .take_along(Some(source(&self.memory_dir.join("memory.limit_in_bytes"))));
            }
        }
        if on(s.swap) && self.memsw.is_none() {
            self.memsw = found(&self.memory_dir, "memory.memsw.usage_in_bytes");
            if self.memsw.is_some() {
                self.swap = s.swap;
                self.swap_limit.take_along(Some(source(
                    &self.memory_dir.join("memory.memsw.limit_in_bytes"),
                )));
            }
        }
        if on(s.failcnt) && self.failcnt_file.is_none() {
            self.failcnt_file = found(&self.memory_dir, "memory.failcnt");
            if self.failcnt_file.is_some() {
                self.failcnt = s.failcnt;
            }
        }
        let switches = s.blkio();
        for ((blkio, (name, _)), switch) in self.blkio.iter_mut().zip(BLKIO).zip(switches) {
            blkio.find(&self.blkio_dir, name, switch);
        }
    }

    /// Reads `cpuacct.stat`: user and system ticks.
    fn read_cpu(&mut self) -> Option<(u64, u64)> {
        let data = self.cpuacct_stat.as_mut()?.read()?;
        let (mut user, mut system) = (0, 0);
        for (key, value) in keyed_numbers(data) {
            match key {
                b"user" => user = value,
                b"system" => system = value,
                _ => {}
            }
        }
        Some((user, system))
    }

    /// Reads the memory files: `memory.stat` (when there), the used
    /// memory less inactive file memory, and swap as netdata computes it.
    #[allow(clippy::type_complexity)]
    fn read_memory(&mut self) -> (Option<MemoryStat>, Option<u64>, Option<(u64, u64)>) {
        let detailed = self
            .memory_stat
            .as_mut()
            .and_then(|f| f.read())
            .map(MemoryStat::parse);
        if let Some(m) = detailed {
            self.inactive_file = m.inactive_file;
        }
        let usage = read_number(&mut self.usage).map(|usage| match detailed {
            Some(_) => usage.saturating_sub(self.inactive_file),
            None => usage,
        });
        // netdata's swap: memory and swap used less memory used (less
        // inactive file memory) and inactive file memory; its `auto`
        // switch looks at the raw memory and swap figure.
        let swap = read_number(&mut self.memsw).map(|memsw| {
            let base = usage.unwrap_or(0).wrapping_add(self.inactive_file);
            (memsw.saturating_sub(base), memsw)
        });
        (detailed, usage, swap)
    }

    /// Reads the files and completes the charts, in netdata's order.
    pub(super) fn collect(
        &mut self,
        host: &Host,
        naming: &ChartNaming,
        machine: &Machine,
        cycle: &mut Cycle,
    ) {
        let hz = machine.clock_ticks;
        if let Some((user, system)) = self.read_cpu() {
            if self.cpu.wants(user != 0 || system != 0) {
                let cpu_chart = self.charts.cpu.get_or_insert_with(|| {
                    let dims = [
                        DimSpec::incremental("user", 100, hz),
                        DimSpec::incremental("system", 100, hz),
                    ];
                    ChartHandle::create(host, naming.def(&CPU), &dims)
                });
                cpu_chart.update(cycle, &[as_value(user), as_value(system)]);
                if self.cpu_limit.wanted {
                    self.cpu_limit_round(host, naming, user.wrapping_add(system), hz, cycle);
                }
            }
        }
        if let Some(data) = self.cpu_stat.as_mut().and_then(|f| f.read()) {
            let mut stat = [0u64; 3];
            for (key, value) in keyed_numbers(data) {
                match key {
                    b"nr_periods" => stat[0] = value,
                    b"nr_throttled" => stat[1] = value,
                    b"throttled_time" => stat[2] = value,
                    _ => {}
                }
            }
            let periods = stat[0].saturating_sub(self.last_periods.0);
            let throttled = stat[1].saturating_sub(self.last_periods.1);
            self.last_periods = (stat[0], stat[1]);
            let share = (throttled * 100).checked_div(periods).unwrap_or(0);
            if lines(data).count() >= 3 && self.throttling.wants(stat.iter().any(|&v| v != 0)) {
                let c = &mut self.charts;
                match (&mut c.throttled, &mut c.throttled_duration) {
                    (Some(throttled_chart), Some(duration_chart)) => {
                        throttled_chart.update(cycle, &[as_value(share)]);
                        duration_chart.update(cycle, &[as_value(stat[2])]);
                    }
                    _ => {
                        c.throttled = Some(ChartHandle::create(
                            host,
                            naming.def(&THROTTLED),
                            &THROTTLED_DIMS,
                        ));
                        c.throttled_duration = Some(ChartHandle::create(
                            host,
                            naming.def(&THROTTLED_DURATION),
                            &DURATION_DIMS,
                        ));
                    }
                }
            }
        }
        if let Some(weight) = read_number(&mut self.shares_file) {
            if self.shares.wants(true) {
                match &mut self.charts.shares {
                    Some(chart) => chart.update(cycle, &[as_value(weight)]),
                    None => {
                        self.charts.shares =
                            Some(ChartHandle::create(host, naming.def(&SHARES), &SHARES_DIMS))
                    }
                }
            }
        }
        self.collect_per_core(host, naming, cycle);
        self.collect_memory(host, naming, machine, cycle);
        for (i, blkio) in self.blkio.iter_mut().enumerate() {
            let Some(([read, write], on)) = blkio.read() else {
                continue;
            };
            if on {
                self.charts.blkio[i]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, naming.def(BLKIO[i].1), blkio_dims(i))
                    })
                    .update(cycle, &[as_value(read), as_value(write)]);
            }
        }
    }

    /// `cpu_limit`: the CPUs of `cpuset.cpus`, or the CFS quota's share of
    /// them, as netdata 1.37 computes it in v1.
    fn cpu_limit_round(
        &mut self,
        host: &Host,
        naming: &ChartNaming,
        usage: u64,
        hz: i64,
        cycle: &mut Cycle,
    ) {
        for (i, file) in self.limit_files.iter_mut().enumerate() {
            let Some(data) = file.as_mut().and_then(|f| f.read()) else {
                *file = None;
                continue;
            };
            if i == 0 {
                let cpus = cpuset_count(data);
                if cpus > 0 {
                    self.limit_values[0] = cpus;
                }
            } else {
                self.limit_values[i] = words(data).next().and_then(parse_u64).unwrap_or(0);
            }
        }
        let [cpuset, period, quota] = &self.limit_files;
        let usable = cpuset.is_some() || (period.is_some() && quota.is_some());
        let value = if usable {
            limit_percent(
                self.limit_values[2],
                self.limit_values[1],
                self.limit_values[0],
            )
        } else {
            0.0
        };
        let readable = self.limit_files.iter().any(Option::is_some);
        if let Some(cpu_chart) = self.charts.cpu.as_ref() {
            self.cpu_limit.round(
                host,
                cpu_chart,
                &mut self.charts.cpu_limit,
                value,
                readable,
                CpuRound {
                    naming,
                    usage,
                    dim: DimSpec::absolute("used", 1, hz),
                },
                cycle,
            );
        }
    }

    fn collect_per_core(&mut self, host: &Host, naming: &ChartNaming, cycle: &mut Cycle) {
        let Some(data) = self.usage_percpu.as_mut().and_then(|f| f.read()) else {
            return;
        };
        let line = lines(data).next().unwrap_or_default();
        let values = &mut self.per_core_values;
        values.clear();
        let mut total = 0u64;
        for word in words(line) {
            let n = parse_u64(word).unwrap_or(0);
            total = total.wrapping_add(n);
            values.push(as_value(n));
        }
        if values.is_empty() || !self.per_core.wants(total != 0) {
            return;
        }
        let count = values.len();
        self.charts
            .per_core
            .get_or_insert_with(|| {
                let mut chart = ChartHandle::create(host, naming.def(&CPU_PER_CORE), &[]);
                for i in 0..count {
                    chart.add_dimension(
                        DimensionDef::new(format!("cpu{i}"))
                            .algorithm(Algorithm::Incremental)
                            .multiplier(100)
                            .divisor(1_000_000_000),
                    );
                }
                chart
            })
            .update(cycle, values);
    }

    fn collect_memory(
        &mut self,
        host: &Host,
        naming: &ChartNaming,
        machine: &Machine,
        cycle: &mut Cycle,
    ) {
        let (detailed, usage, swap) = self.read_memory();
        let c = &mut self.charts;
        if let Some(m) = detailed {
            if self.detailed.wants(m.any_nonzero()) {
                let mem = c.mem.get_or_insert_with(|| {
                    let mut dims = vec![
                        DimSpec::absolute("cache", 1, MIB),
                        DimSpec::absolute("rss", 1, MIB),
                    ];
                    if m.swap.is_some() {
                        dims.push(DimSpec::absolute("swap", 1, MIB));
                    }
                    dims.push(DimSpec::absolute("rss_huge", 1, MIB));
                    dims.push(DimSpec::absolute("mapped_file", 1, MIB));
                    ChartHandle::create(host, naming.def(&MEM), &dims)
                });
                // `swap` is there when `total_swap` was at the chart's
                // creation (and `dirty` when `total_dirty` was).
                let values = [
                    as_value(m.cache),
                    as_value(m.rss.saturating_sub(m.rss_huge)),
                    m.swap.and_then(as_value),
                    as_value(m.rss_huge),
                    as_value(m.mapped_file),
                ];
                if mem.dimension_count() == 5 {
                    mem.update(cycle, &values);
                } else {
                    mem.update(cycle, &[values[0], values[1], values[3], values[4]]);
                }
                let writeback = c.writeback.get_or_insert_with(|| {
                    let dirty = DimSpec::absolute("dirty", 1, MIB);
                    let writeback = DimSpec::absolute("writeback", 1, MIB);
                    let dims: &[DimSpec] = if m.dirty.is_some() {
                        &[dirty, writeback]
                    } else {
                        &[writeback]
                    };
                    ChartHandle::create(host, naming.def(&WRITEBACK), dims)
                });
                let values = [m.dirty.and_then(as_value), as_value(m.writeback)];
                if writeback.dimension_count() == 2 {
                    writeback.update(cycle, &values);
                } else {
                    writeback.update(cycle, &values[1..]);
                }
                let page = page_size();
                c.mem_activity
                    .get_or_insert_with(|| {
                        let dims = [
                            DimSpec::incremental("pgpgin", page, MIB).named("in"),
                            DimSpec::incremental("pgpgout", -page, MIB).named("out"),
                        ];
                        ChartHandle::create(host, naming.def(&MEM_ACTIVITY), &dims)
                    })
                    .update(cycle, &[as_value(m.pgpgin), as_value(m.pgpgout)]);
                c.pgfaults
                    .get_or_insert_with(|| {
                        let dims = [
                            DimSpec::incremental("pgfault", page, MIB),
                            DimSpec::incremental("pgmajfault", -page, MIB).named("swap"),
                        ];
                        ChartHandle::create(host, naming.def(&PGFAULTS), &dims)
                    })
                    .update(cycle, &[as_value(m.pgfault), as_value(m.pgmajfault)]);
            }
        }
        if let Some(ram) = usage {
            if self.memory.wants(ram != 0) {
                let usage_chart = c.mem_usage.get_or_insert_with(|| {
                    ChartHandle::create(host, naming.def(&MEM_USAGE), &MEM_USAGE_DIMS)
                });
                let swap = swap.map_or(0, |(swap, _)| swap);
                usage_chart.update(cycle, &[as_value(ram), as_value(swap)]);
                match (self.memory_limit.read(host, usage_chart), machine.ram_total) {
                    (Some(limit), Some(ram_total)) => {
                        let limit = limit.min(ram_total);
                        c.mem_usage_limit
                            .get_or_insert_with(|| {
                                ChartHandle::create(
                                    host,
                                    naming.def(&MEM_USAGE_LIMIT),
                                    &MEM_USAGE_LIMIT_DIMS,
                                )
                            })
                            .update(cycle, &[as_value(limit.saturating_sub(ram)), as_value(ram)]);
                        let utilization = c.mem_utilization.get_or_insert_with(|| {
                            ChartHandle::create(
                                host,
                                naming.def(&MEM_UTILIZATION),
                                &MEM_UTILIZATION_DIMS,
                            )
                        });
                        if let Some(share) = ram.saturating_mul(100).checked_div(limit) {
                            utilization.update(cycle, &[as_value(share)]);
                        }
                    }
                    _ => {
                        for chart in [&mut c.mem_usage_limit, &mut c.mem_utilization] {
                            if let Some(chart) = chart.take().as_mut() {
                                chart.mark_obsolete();
                            }
                        }
                    }
                }
                let _ = self.swap_limit.read(host, usage_chart);
            }
        }
        if let Some(failures) = read_number(&mut self.failcnt_file) {
            if self.failcnt.wants(failures != 0) {
                c.mem_failcnt
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, naming.def(&MEM_FAILCNT), &FAILCNT_DIMS)
                    })
                    .update(cycle, &[as_value(failures)]);
            }
        }
    }

    /// Reads a systemd service's files for the `services.*` charts.
    pub(super) fn read_service(&mut self) -> ServiceReading {
        let mut r = ServiceReading::default();
        if let Some((user, system)) = self.read_cpu() {
            r.cpu = Some((
                user.wrapping_add(system),
                self.cpu.wants(user != 0 || system != 0),
            ));
        }
        let (detailed, usage, swap) = self.read_memory();
        if let Some(m) = detailed {
            // netdata's test is the switch's truth, `auto` included.
            let on = self.detailed != ChartSwitch::No;
            r.detailed = Some((
                [
                    m.rss,
                    m.mapped_file,
                    m.cache,
                    m.writeback,
                    m.pgfault,
                    m.pgmajfault,
                    m.pgpgin,
                    m.pgpgout,
                ],
                on,
            ));
        }
        if let Some(usage) = usage {
            r.memory = Some((usage, self.memory.wants(usage != 0)));
        }
        if let Some((swap, raw)) = swap {
            r.swap = Some((swap, self.swap.wants(raw != 0)));
        }
        if let Some(failures) = read_number(&mut self.failcnt_file) {
            r.failcnt = Some((failures, self.failcnt.wants(failures != 0)));
        }
        let [io, ops, throttle_io, throttle_ops, queued, merged] = &mut self.blkio;
        r.io_bytes = io.read();
        r.io_ops = ops.read();
        r.throttle_io = throttle_io.read();
        r.throttle_ops = throttle_ops.read();
        r.queued_ops = queued.read();
        r.merged_ops = merged.read();
        r
    }

    /// Marks every chart obsolete (the cgroup is gone).
    pub(super) fn mark_obsolete(&mut self) {
        let c = &mut self.charts;
        for chart in [
            &mut c.cpu,
            &mut c.cpu_limit,
            &mut c.throttled,
            &mut c.throttled_duration,
            &mut c.shares,
            &mut c.per_core,
            &mut c.mem,
            &mut c.writeback,
            &mut c.mem_activity,
            &mut c.pgfaults,
            &mut c.mem_usage,
            &mut c.mem_usage_limit,
            &mut c.mem_utilization,
            &mut c.mem_failcnt,
        ]
        .into_iter()
        .chain(c.blkio.iter_mut())
        .flatten()
        {
            chart.mark_obsolete();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpusets_count_as_netdata_counts_them() {
        assert_eq!(cpuset_count(b"0-3\n"), 4);
        assert_eq!(cpuset_count(b"0,2\n"), 2);
        assert_eq!(cpuset_count(b"0-1,4-5,7\n"), 5);
        assert_eq!(cpuset_count(b"\n"), 1, "an empty list counts as one");
    }

    #[test]
    fn blkio_reads_and_writes_summed_over_devices() {
        let data =
            b"8:0 Read 100\n8:0 Write 20\n8:0 Sync 5\n8:16 Read 1\n8:16 Write 2\nTotal 128\n";
        assert_eq!(blkio_sums(data), [101, 22]);
    }
}
