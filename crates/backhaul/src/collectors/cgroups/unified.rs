//! One cgroup of the unified (v2) hierarchy: its files (`cpu.stat`,
//! `cpu.weight`, `memory.stat`, `memory.current`, `memory.swap.current`,
//! `io.stat`, `cpu.pressure`, `memory.pressure`, `io.pressure`), read each
//! second, and the `cgroup_NAME.*` charts netdata 1.37 makes from them,
//! in netdata's order and with its rules for when each appears.
//!
//! A systemd service's cgroup is read here too, for the `services.*`
//! charts ([`UnifiedCgroup::read_service`]).

use std::path::{Path, PathBuf};

use rrd::{ChartDef, ChartType, Host};

use super::CgroupSwitches;
use crate::collectors::proc::chart_handle::{ChartHandle, Cycle, DimSpec};
use crate::collectors::proc::parse::{lines, parse_f64, parse_u64, words};
use crate::collectors::proc::pressure::{FULL_DIMS, SOME_DIMS, TIME_DIMS};
use crate::collectors::proc::source::SourceFile;
use crate::collectors::proc::variables::ChartVariable;
use crate::config::ChartSwitch;

/// netdata's plugin and module names for the per-cgroup charts.
pub(super) const PLUGIN: &str = "cgroups.plugin";
pub(super) const MODULE: &str = "/sys/fs/cgroup";

pub(super) const MIB: i64 = 1024 * 1024;

/// A chart of a cgroup: everything but its type (`cgroup_NAME`).
pub(super) struct Spec {
    id: &'static str,
    family: &'static str,
    /// The context without its `cgroup.` (or `k8s.cgroup.`) prefix.
    context: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    /// Added to `containers priority`.
    priority: i64,
}

pub(super) const fn spec(
    id: &'static str,
    family: &'static str,
    context: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
) -> Spec {
    Spec {
        id,
        family,
        context,
        title,
        units,
        chart_type,
        priority,
    }
}

pub(super) const CPU: Spec = spec(
    "cpu",
    "cpu",
    "cpu",
    "CPU Usage (100% = 1 core)",
    "percentage",
    ChartType::Stacked,
    0,
);
pub(super) const CPU_LIMIT: Spec = spec(
    "cpu_limit",
    "cpu",
    "cpu_limit",
    "CPU Usage within the limits",
    "percentage",
    ChartType::Line,
    -1,
);
pub(super) const MEM_USAGE_LIMIT: Spec = spec(
    "mem_usage_limit",
    "mem",
    "mem_usage_limit",
    "Used RAM within the limits",
    "MiB",
    ChartType::Stacked,
    200,
);
pub(super) const MEM_UTILIZATION: Spec = spec(
    "mem_utilization",
    "mem",
    "mem_utilization",
    "Memory Utilization",
    "percentage",
    ChartType::Area,
    199,
);
pub(super) const THROTTLED: Spec = spec(
    "throttled",
    "cpu",
    "throttled",
    "CPU Throttled Runnable Periods",
    "percentage",
    ChartType::Line,
    10,
);
pub(super) const THROTTLED_DURATION: Spec = spec(
    "throttled_duration",
    "cpu",
    "throttled_duration",
    "CPU Throttled Time Duration",
    "ms",
    ChartType::Line,
    15,
);
pub(super) const SHARES: Spec = spec(
    "cpu_shares",
    "cpu",
    "cpu_shares",
    "CPU Time Relative Share",
    "shares",
    ChartType::Line,
    20,
);
pub(super) const MEM: Spec = spec(
    "mem",
    "mem",
    "mem",
    "Memory Usage",
    "MiB",
    ChartType::Stacked,
    220,
);
pub(super) const WRITEBACK: Spec = spec(
    "writeback",
    "mem",
    "writeback",
    "Writeback Memory",
    "MiB",
    ChartType::Area,
    300,
);
pub(super) const PGFAULTS: Spec = spec(
    "pgfaults",
    "mem",
    "pgfaults",
    "Memory Page Faults",
    "MiB/s",
    ChartType::Line,
    500,
);
pub(super) const MEM_USAGE: Spec = spec(
    "mem_usage",
    "mem",
    "mem_usage",
    "Used Memory",
    "MiB",
    ChartType::Stacked,
    210,
);
pub(super) const IO: Spec = spec(
    "io",
    "disk",
    "io",
    "I/O Bandwidth (all disks)",
    "KiB/s",
    ChartType::Area,
    1200,
);
pub(super) const SERVICED_OPS: Spec = spec(
    "serviced_ops",
    "disk",
    "serviced_ops",
    "Serviced I/O Operations (all disks)",
    "operations/s",
    ChartType::Line,
    1200,
);

/// The pressure charts of one resource: some share, some stall time, full
/// share, full stall time.
pub(super) const PRESSURE: [[Spec; 4]; 3] = [
    [
        spec(
            "cpu_some_pressure",
            "cpu",
            "cpu_some_pressure",
            "CPU some pressure",
            "percentage",
            ChartType::Line,
            2200,
        ),
        spec(
            "cpu_some_pressure_stall_time",
            "cpu",
            "cpu_some_pressure_stall_time",
            "CPU some pressure stall time",
            "ms",
            ChartType::Line,
            2220,
        ),
        spec(
            "cpu_full_pressure",
            "cpu",
            "cpu_full_pressure",
            "CPU full pressure",
            "percentage",
            ChartType::Line,
            2240,
        ),
        spec(
            "cpu_full_pressure_stall_time",
            "cpu",
            "cpu_full_pressure_stall_time",
            "CPU full pressure stall time",
            "ms",
            ChartType::Line,
            2260,
        ),
    ],
    [
        // netdata's ids say `mem_`, its contexts `memory_`.
        spec(
            "mem_some_pressure",
            "mem",
            "memory_some_pressure",
            "Memory some pressure",
            "percentage",
            ChartType::Line,
            2300,
        ),
        spec(
            "memory_some_pressure_stall_time",
            "mem",
            "memory_some_pressure_stall_time",
            "Memory some pressure stall time",
            "ms",
            ChartType::Line,
            2320,
        ),
        spec(
            "mem_full_pressure",
            "mem",
            "memory_full_pressure",
            "Memory full pressure",
            "percentage",
            ChartType::Line,
            2340,
        ),
        spec(
            "memory_full_pressure_stall_time",
            "mem",
            "memory_full_pressure_stall_time",
            "Memory full pressure stall time",
            "ms",
            ChartType::Line,
            2360,
        ),
    ],
    [
        spec(
            "io_some_pressure",
            "disk",
            "io_some_pressure",
            "I/O some pressure",
            "percentage",
            ChartType::Line,
            2400,
        ),
        spec(
            "io_some_pressure_stall_time",
            "disk",
            "io_some_pressure_stall_time",
            "I/O some pressure stall time",
            "ms",
            ChartType::Line,
            2420,
        ),
        spec(
            "io_full_pressure",
            "disk",
            "io_full_pressure",
            "I/O full pressure",
            "percentage",
            ChartType::Line,
            2440,
        ),
        spec(
            "io_full_pressure_stall_time",
            "disk",
            "io_full_pressure_stall_time",
            "I/O full pressure stall time",
            "ms",
            ChartType::Line,
            2460,
        ),
    ],
];

/// The pressure files, in netdata's order (cpu, memory, io).
pub(super) const PRESSURE_FILES: [&str; 3] = ["cpu.pressure", "memory.pressure", "io.pressure"];

pub(super) const CPU_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("user", 100, 1_000_000),
    DimSpec::incremental("system", 100, 1_000_000),
];
pub(super) const CPU_LIMIT_DIMS: [DimSpec; 1] = [DimSpec::absolute("used", 1, 1_000_000)];
pub(super) const MEM_USAGE_LIMIT_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("available", 1, MIB),
    DimSpec::absolute("used", 1, MIB),
];
pub(super) const MEM_UTILIZATION_DIMS: [DimSpec; 1] = [DimSpec::absolute("utilization", 1, 1)];
pub(super) const THROTTLED_DIMS: [DimSpec; 1] = [DimSpec::absolute("throttled", 1, 1)];
pub(super) const DURATION_DIMS: [DimSpec; 1] = [DimSpec::incremental("duration", 1, 1_000_000)];
pub(super) const SHARES_DIMS: [DimSpec; 1] = [DimSpec::absolute("shares", 1, 1)];
pub(super) const MEM_DIMS: [DimSpec; 6] = [
    DimSpec::absolute("anon", 1, MIB),
    DimSpec::absolute("kernel_stack", 1, MIB),
    DimSpec::absolute("slab", 1, MIB),
    DimSpec::absolute("sock", 1, MIB),
    DimSpec::absolute("anon_thp", 1, MIB),
    DimSpec::absolute("file", 1, MIB),
];
pub(super) const MEM_USAGE_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("ram", 1, MIB),
    DimSpec::absolute("swap", 1, MIB),
];
pub(super) const IO_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("read", 1, 1024),
    DimSpec::incremental("write", -1, 1024),
];
pub(super) const OPS_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("read", 1, 1),
    DimSpec::incremental("write", -1, 1),
];

/// Where a cgroup's charts go: their type and context prefix.
pub(super) struct ChartNaming {
    /// `cgroup_NAME`.
    pub chart_type: String,
    /// `k8s.cgroup` for a Kubernetes pod's cgroup, else `cgroup`.
    pub context_prefix: &'static str,
    pub priority: i64,
    pub update_every: u32,
    /// Labels on every chart (a Kubernetes pod's).
    pub labels: Vec<rrd::Label>,
}

impl ChartNaming {
    pub(super) fn def(&self, spec: &Spec) -> ChartDef {
        let mut def = ChartDef::new(&self.chart_type, spec.id)
            .family(spec.family)
            .context(format!("{}.{}", self.context_prefix, spec.context))
            .title(spec.title)
            .units(spec.units)
            .chart_type(spec.chart_type)
            .priority(self.priority + spec.priority)
            .update_every(self.update_every);
        def.plugin = PLUGIN.to_string();
        def.module = MODULE.to_string();
        def.labels = self.labels.clone();
        def
    }
}

/// A pressure file and its two latched switches (some, full).
struct PressureSource {
    file: Option<SourceFile>,
    enabled: [ChartSwitch; 2],
    charts: [Option<ChartHandle>; 4],
}

/// The number a one-number file (`memory.current`, `cpu.weight`) holds.
pub(super) fn read_number(file: &mut Option<SourceFile>) -> Option<u64> {
    file.as_mut()
        .and_then(|f| f.read())
        .and_then(|d| words(d).next().and_then(parse_u64))
}

/// The `KEY NUMBER` lines of a cgroup file (`cpu.stat`, `memory.stat`);
/// a number that does not parse reads as 0, as netdata's `str2ull`.
pub(super) fn keyed_numbers(data: &[u8]) -> impl Iterator<Item = (&[u8], u64)> {
    lines(data).filter_map(|line| {
        let mut w = words(line);
        let key = w.next()?;
        let value = w.next()?;
        Some((key, parse_u64(value).unwrap_or(0)))
    })
}

/// `memory.stat` values netdata reads in v2.
#[derive(Default, Clone, Copy)]
struct MemoryStat {
    anon: u64,
    kernel_stack: u64,
    slab: u64,
    sock: u64,
    anon_thp: u64,
    file: u64,
    file_writeback: u64,
    file_dirty: Option<u64>,
    pgfault: u64,
    pgmajfault: u64,
    inactive_file: u64,
}

impl MemoryStat {
    fn parse(data: &[u8]) -> MemoryStat {
        let mut m = MemoryStat::default();
        for (key, value) in keyed_numbers(data) {
            match key {
                b"anon" => m.anon = value,
                b"kernel_stack" => m.kernel_stack = value,
                b"slab" => m.slab = value,
                b"sock" => m.sock = value,
                b"anon_thp" => m.anon_thp = value,
                b"file" => m.file = value,
                b"file_writeback" => m.file_writeback = value,
                b"file_dirty" => m.file_dirty = Some(value),
                b"pgfault" => m.pgfault = value,
                b"pgmajfault" => m.pgmajfault = value,
                b"inactive_file" => m.inactive_file = value,
                _ => {}
            }
        }
        m
    }

    /// netdata's test for turning `auto` detailed memory on (`file` is not
    /// in it).
    fn any_nonzero(&self) -> bool {
        [
            self.anon,
            self.file_dirty.unwrap_or(0),
            self.kernel_stack,
            self.slab,
            self.sock,
            self.file_writeback,
            self.anon_thp,
            self.pgfault,
            self.pgmajfault,
            self.inactive_file,
        ]
        .iter()
        .any(|&v| v != 0)
    }
}

/// `cpu.stat`'s values netdata reads.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
struct CpuStat {
    user_usec: u64,
    system_usec: u64,
    nr_periods: u64,
    nr_throttled: u64,
    throttled_usec: u64,
}

impl CpuStat {
    /// `None` for fewer than two lines (netdata wants at least three,
    /// counting the empty one after the last newline).
    fn parse(data: &[u8]) -> Option<CpuStat> {
        if lines(data).count() < 3 {
            return None;
        }
        let mut c = CpuStat::default();
        for (key, value) in keyed_numbers(data) {
            match key {
                b"user_usec" => c.user_usec = value,
                b"system_usec" => c.system_usec = value,
                b"nr_periods" => c.nr_periods = value,
                b"nr_throttled" => c.nr_throttled = value,
                b"throttled_usec" => c.throttled_usec = value,
                _ => {}
            }
        }
        Some(c)
    }
}

/// One pressure file: `some` and (from its second line) `full`, each the
/// three averages × 100 and the total in ms. As netdata 1.37 reads it,
/// the `full` total is the `some` line's (its defect, kept: the series
/// must carry the same values under both agents).
#[derive(Debug, PartialEq, Eq)]
struct Pressure {
    some: [i64; 3],
    some_total_ms: i64,
    full: Option<[i64; 3]>,
}

impl Pressure {
    fn parse(data: &[u8]) -> Option<Pressure> {
        let mut all = lines(data).filter(|l| !l.is_empty());
        let some = all.next()?;
        let full = all.next();
        let averages = |line: &[u8]| -> [i64; 3] {
            let mut out = [0; 3];
            for word in words(line) {
                let Some(eq) = word.iter().position(|&b| b == b'=') else {
                    continue;
                };
                let value = || parse_f64(&word[eq + 1..]).map_or(0, |v| (v * 100.0) as i64);
                match &word[..eq] {
                    b"avg10" => out[0] = value(),
                    b"avg60" => out[1] = value(),
                    b"avg300" => out[2] = value(),
                    _ => {}
                }
            }
            out
        };
        let total = words(some)
            .filter_map(|w| w.strip_prefix(b"total="))
            .find_map(parse_u64)
            .map_or(0, |us| i64::try_from(us / 1000).unwrap_or(i64::MAX));
        Some(Pressure {
            some: averages(some),
            some_total_ms: total,
            full: full.map(averages),
        })
    }
}

pub(super) fn as_value(v: u64) -> Option<i64> {
    i64::try_from(v).ok()
}

/// A unified cgroup's sources and charts.
pub(super) struct UnifiedCgroup {
    dir: PathBuf,
    cpu_stat: Option<SourceFile>,
    cpu: ChartSwitch,
    throttling: ChartSwitch,
    last_periods: (u64, u64),
    /// `cpu.max`, its chart variable (`cpu_limit` on the cpu chart) and
    /// the usage at the last round, × 100.
    cpu_max: Option<SourceFile>,
    cpu_limit: CpuLimit,
    weight: Option<SourceFile>,
    shares: ChartSwitch,
    memory_stat: Option<SourceFile>,
    detailed: ChartSwitch,
    memory_current: Option<SourceFile>,
    memory: ChartSwitch,
    swap_current: Option<SourceFile>,
    swap: ChartSwitch,
    /// `memory.max`, `memory.swap.max` and their chart variables.
    memory_max: LimitFile,
    swap_max: LimitFile,
    io_stat: Option<SourceFile>,
    io_bytes: ChartSwitch,
    io_ops: ChartSwitch,
    pressure: [PressureSource; 3],
    charts: Charts,
}

#[derive(Default)]
struct Charts {
    cpu: Option<ChartHandle>,
    throttled: Option<ChartHandle>,
    throttled_duration: Option<ChartHandle>,
    shares: Option<ChartHandle>,
    mem: Option<ChartHandle>,
    writeback: Option<ChartHandle>,
    pgfaults: Option<ChartHandle>,
    mem_usage: Option<ChartHandle>,
    cpu_limit: Option<ChartHandle>,
    mem_usage_limit: Option<ChartHandle>,
    mem_utilization: Option<ChartHandle>,
    io: Option<ChartHandle>,
    serviced_ops: Option<ChartHandle>,
}

impl UnifiedCgroup {
    pub(super) fn new(dir: PathBuf) -> UnifiedCgroup {
        UnifiedCgroup {
            dir,
            cpu_stat: None,
            cpu: ChartSwitch::No,
            throttling: ChartSwitch::No,
            last_periods: (0, 0),
            cpu_max: None,
            cpu_limit: CpuLimit::default(),
            weight: None,
            shares: ChartSwitch::No,
            memory_stat: None,
            detailed: ChartSwitch::No,
            memory_current: None,
            memory: ChartSwitch::No,
            swap_current: None,
            swap: ChartSwitch::No,
            memory_max: LimitFile::new("memory_limit"),
            swap_max: LimitFile::new("memory_and_swap_limit"),
            io_stat: None,
            io_bytes: ChartSwitch::No,
            io_ops: ChartSwitch::No,
            pressure: std::array::from_fn(|_| PressureSource {
                file: None,
                enabled: [ChartSwitch::No; 2],
                charts: Default::default(),
            }),
            charts: Charts::default(),
        }
    }

    /// Looks for the files not found yet (at each discovery, as netdata
    /// does): a file that appears later is picked up then.
    pub(super) fn find_files(&mut self, s: &CgroupSwitches, is_service: bool) {
        let dir = self.dir.clone();
        let found = |name: &str| -> Option<SourceFile> {
            let path = dir.join(name);
            path.exists()
                .then(|| SourceFile::new(Path::new("/"), &path.to_string_lossy()))
        };
        let on = |switch: ChartSwitch| switch != ChartSwitch::No;
        if (on(s.io_bytes) || on(s.io_ops)) && self.io_stat.is_none() {
            self.io_stat = found("io.stat");
            if self.io_stat.is_some() {
                self.io_bytes = s.io_bytes;
                self.io_ops = s.io_ops;
            }
        }
        if (on(s.cpu) || on(s.throttling)) && self.cpu_stat.is_none() {
            self.cpu_stat = found("cpu.stat");
            if self.cpu_stat.is_some() {
                self.cpu = s.cpu;
                self.throttling = s.throttling;
                // netdata takes `cpu.max` along without looking for it; a
                // missing one is noticed at the first round.
                self.cpu_max = found("cpu.max");
                self.cpu_limit.wanted = true;
            }
        }
        if on(s.shares) && self.weight.is_none() {
            self.weight = found("cpu.weight");
            if self.weight.is_some() {
                self.shares = s.shares;
            }
        }
        // As netdata 1.37 in v2 (`report used memory` forced off there):
        // no detailed memory for systemd services.
        if on(s.detailed_memory) && !is_service && self.memory_stat.is_none() {
            self.memory_stat = found("memory.stat");
            if self.memory_stat.is_some() {
                self.detailed = if s.detailed_memory == ChartSwitch::Yes {
                    ChartSwitch::Yes
                } else {
                    ChartSwitch::Auto
                };
            }
        }
        if on(s.memory) && self.memory_current.is_none() {
            self.memory_current = found("memory.current");
            if self.memory_current.is_some() {
                self.memory = s.memory;
                self.memory_max.take_along(found("memory.max"));
            }
        }
        if on(s.swap) && self.swap_current.is_none() {
            self.swap_current = found("memory.swap.current");
            if self.swap_current.is_some() {
                self.swap = s.swap;
                self.swap_max.take_along(found("memory.swap.max"));
            }
        }
        let switches = [
            [s.cpu_pressure, ChartSwitch::No],
            s.memory_pressure,
            s.io_pressure,
        ];
        for ((source, file), wanted) in self.pressure.iter_mut().zip(PRESSURE_FILES).zip(switches) {
            // cpu's `full` starts off; the first read may turn it on.
            let looked_up = if file == "cpu.pressure" {
                on(wanted[0])
            } else {
                on(wanted[0]) || on(wanted[1])
            };
            if looked_up && source.file.is_none() {
                source.file = found(file);
                if source.file.is_some() {
                    source.enabled = wanted;
                }
            }
        }
    }

    /// Reads the files and completes the charts, in netdata's order.
    pub(super) fn collect(
        &mut self,
        host: &Host,
        naming: &ChartNaming,
        machine: &Machine,
        cycle: &mut Cycle,
    ) {
        let cpu = self
            .cpu_stat
            .as_mut()
            .and_then(|f| f.read())
            .and_then(CpuStat::parse);
        let shares = read_number(&mut self.weight);
        let pressures: [Option<Pressure>; 3] = std::array::from_fn(|i| {
            self.pressure[i]
                .file
                .as_mut()
                .and_then(|f| f.read())
                .and_then(Pressure::parse)
        });
        let detailed = self
            .memory_stat
            .as_mut()
            .and_then(|f| f.read())
            .map(MemoryStat::parse);
        let current = read_number(&mut self.memory_current);
        let swap = read_number(&mut self.swap_current);
        let io = self.io_stat.as_mut().and_then(|f| f.read()).map(io_sums);

        let c = &mut self.charts;
        if let Some(stat) = cpu {
            if self.cpu.wants(stat.user_usec != 0 || stat.system_usec != 0) {
                let cpu_chart = c
                    .cpu
                    .get_or_insert_with(|| ChartHandle::create(host, naming.def(&CPU), &CPU_DIMS));
                cpu_chart.update(
                    cycle,
                    &[as_value(stat.user_usec), as_value(stat.system_usec)],
                );
                if self.cpu_limit.wanted {
                    // `cpu.max` is `QUOTA PERIOD`; netdata reads a quota of
                    // `max` as 0, which means every CPU. A file that cannot
                    // be read is dropped for good.
                    let read = self.cpu_max.as_mut().and_then(|f| f.read()).map(|data| {
                        let mut w = words(data);
                        let quota = w.next().and_then(parse_u64).unwrap_or(0);
                        let period = w.next().and_then(parse_u64).unwrap_or(0);
                        (quota, period)
                    });
                    if read.is_none() {
                        self.cpu_max = None;
                    }
                    let value = read.map_or(0.0, |(quota, period)| {
                        limit_percent(quota, period, machine.cpus.max(1))
                    });
                    self.cpu_limit.round(
                        host,
                        cpu_chart,
                        &mut c.cpu_limit,
                        value,
                        self.cpu_max.is_some(),
                        CpuRound {
                            naming,
                            usage: stat.user_usec.wrapping_add(stat.system_usec),
                            dim: CPU_LIMIT_DIMS[0],
                        },
                        cycle,
                    );
                }
            }
            let (last_periods, last_throttled) = self.last_periods;
            let periods = stat.nr_periods.saturating_sub(last_periods);
            let throttled = stat.nr_throttled.saturating_sub(last_throttled);
            self.last_periods = (stat.nr_periods, stat.nr_throttled);
            let share = (throttled * 100).checked_div(periods).unwrap_or(0);
            let nonzero =
                stat.nr_periods != 0 || stat.nr_throttled != 0 || stat.throttled_usec != 0;
            if self.throttling.wants(nonzero) {
                // netdata creates both charts on the first read and
                // collects them from the second.
                match (&mut c.throttled, &mut c.throttled_duration) {
                    (Some(throttled_chart), Some(duration_chart)) => {
                        throttled_chart.update(cycle, &[as_value(share)]);
                        duration_chart
                            .update(cycle, &[as_value(stat.throttled_usec.saturating_mul(1000))]);
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
        if let Some(weight) = shares {
            if self.shares.wants(true) {
                match &mut c.shares {
                    Some(chart) => chart.update(cycle, &[as_value(weight)]),
                    None => {
                        c.shares =
                            Some(ChartHandle::create(host, naming.def(&SHARES), &SHARES_DIMS))
                    }
                }
            }
        }
        if let Some(m) = detailed {
            if self.detailed.wants(m.any_nonzero()) {
                c.mem
                    .get_or_insert_with(|| ChartHandle::create(host, naming.def(&MEM), &MEM_DIMS))
                    .update(
                        cycle,
                        &[
                            as_value(m.anon),
                            as_value(m.kernel_stack),
                            as_value(m.slab),
                            as_value(m.sock),
                            as_value(m.anon_thp),
                            as_value(m.file),
                        ],
                    );
                let writeback = c.writeback.get_or_insert_with(|| {
                    let has_dirty = m.file_dirty.is_some();
                    let dims = [
                        DimSpec::absolute("dirty", 1, MIB),
                        DimSpec::absolute("writeback", 1, MIB),
                    ];
                    ChartHandle::create(
                        host,
                        naming.def(&WRITEBACK),
                        if has_dirty { &dims } else { &dims[1..] },
                    )
                });
                let values = [m.file_dirty.and_then(as_value), as_value(m.file_writeback)];
                if writeback.dimension_count() == 2 {
                    writeback.update(cycle, &values);
                } else {
                    writeback.update(cycle, &values[1..]);
                }
                let page = page_size();
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
        if let Some(current) = current {
            if self.memory.wants(current != 0) {
                let ram = match detailed {
                    Some(m) => current.saturating_sub(m.inactive_file),
                    None => current,
                };
                let usage_chart = c.mem_usage.get_or_insert_with(|| {
                    ChartHandle::create(host, naming.def(&MEM_USAGE), &MEM_USAGE_DIMS)
                });
                usage_chart.update(
                    cycle,
                    &[as_value(ram), Some(swap.and_then(as_value).unwrap_or(0))],
                );
                // The limits: `memory_limit` (and the charts within it),
                // then `memory_and_swap_limit`.
                let limit = self.memory_max.read(host, usage_chart);
                match (limit, machine.ram_total) {
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
                        if let Some(share) = (ram.saturating_mul(100)).checked_div(limit) {
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
                if let Some(usage_chart) = c.mem_usage.as_ref() {
                    let _ = self.swap_max.read(host, usage_chart);
                }
            }
        }
        if let Some([rbytes, wbytes, rios, wios]) = io {
            if self.io_bytes.wants(rbytes != 0 || wbytes != 0) {
                c.io.get_or_insert_with(|| ChartHandle::create(host, naming.def(&IO), &IO_DIMS))
                    .update(cycle, &[as_value(rbytes), as_value(wbytes)]);
            }
            if self.io_ops.wants(rios != 0 || wios != 0) {
                c.serviced_ops
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, naming.def(&SERVICED_OPS), &OPS_DIMS)
                    })
                    .update(cycle, &[as_value(rios), as_value(wios)]);
            }
        }
        for ((source, specs), read) in self.pressure.iter_mut().zip(&PRESSURE).zip(pressures) {
            let Some(p) = read else {
                continue;
            };
            // netdata latches `auto` at the first read, with no test for
            // non-zero values; `full` follows the file's second line.
            if source.enabled[0] == ChartSwitch::Auto {
                source.enabled[0] = ChartSwitch::Yes;
                source.enabled[1] = if p.full.is_some() {
                    ChartSwitch::Yes
                } else {
                    ChartSwitch::No
                };
            }
            let values = |a: [i64; 3]| a.map(Some);
            if source.enabled[0] != ChartSwitch::No {
                source.charts[0]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, naming.def(&specs[0]), &SOME_DIMS)
                    })
                    .update(cycle, &values(p.some));
                source.charts[1]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, naming.def(&specs[1]), &TIME_DIMS)
                    })
                    .update(cycle, &[Some(p.some_total_ms)]);
            }
            if source.enabled[1] != ChartSwitch::No {
                source.charts[2]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, naming.def(&specs[2]), &FULL_DIMS)
                    })
                    .update(cycle, &values(p.full.unwrap_or_default()));
                source.charts[3]
                    .get_or_insert_with(|| {
                        ChartHandle::create(host, naming.def(&specs[3]), &TIME_DIMS)
                    })
                    .update(cycle, &[Some(p.some_total_ms)]);
            }
        }
    }

    /// Marks every chart obsolete (the cgroup is gone).
    pub(super) fn mark_obsolete(&mut self) {
        let c = &mut self.charts;
        for chart in [
            &mut c.cpu,
            &mut c.throttled,
            &mut c.throttled_duration,
            &mut c.shares,
            &mut c.mem,
            &mut c.writeback,
            &mut c.pgfaults,
            &mut c.mem_usage,
            &mut c.cpu_limit,
            &mut c.mem_usage_limit,
            &mut c.mem_utilization,
            &mut c.io,
            &mut c.serviced_ops,
        ]
        .into_iter()
        .chain(self.pressure.iter_mut().flat_map(|p| p.charts.iter_mut()))
        .flatten()
        {
            chart.mark_obsolete();
        }
    }
}

/// Facts of the machine the limits charts need.
pub(super) struct Machine {
    /// The number of CPUs (`cpu.max`'s `max` is all of them).
    pub cpus: u64,
    /// The kernel's clock ticks per second (v1's CPU times are in ticks).
    pub clock_ticks: i64,
    /// `MemTotal` of `/proc/meminfo`, bytes; `None` when unreadable (no
    /// memory limit charts then, as in netdata).
    pub ram_total: Option<u64>,
}

/// One round's input to the `cpu_limit` chart.
pub(super) struct CpuRound<'a> {
    pub naming: &'a ChartNaming,
    /// The cpu chart's `user + system`, in its unit (µs in v2, ticks in
    /// v1).
    pub usage: u64,
    /// The chart's dimension (its divisor is the cpu chart's).
    pub dim: DimSpec,
}

/// The `cpu_limit` chart's state, as netdata 1.37 keeps it: the chart
/// variable is made at the cpu chart's first round, the chart from the
/// second, while a limit file is readable.
#[derive(Default)]
pub(super) struct CpuLimit {
    /// A limit file was taken along with the cpu file and is still there.
    pub wanted: bool,
    variable: Option<ChartVariable>,
    /// The usage × 100 at the last round.
    previous: f64,
}

impl CpuLimit {
    /// One round, after the caller read the limit: `value` is the limit in
    /// % of a core (0: none this round), `readable` whether a limit file
    /// is left for the next rounds.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn round(
        &mut self,
        host: &Host,
        cpu_chart: &ChartHandle,
        chart: &mut Option<ChartHandle>,
        value: f64,
        readable: bool,
        now: CpuRound<'_>,
        cycle: &mut Cycle,
    ) {
        if !readable {
            self.wanted = false;
        }
        let Some(variable) = self.variable.as_mut() else {
            // The first round: the variable, no value yet.
            let mut variable = ChartVariable::new("cpu_limit");
            variable.set(host, cpu_chart, f64::NAN);
            self.variable = Some(variable);
            return;
        };
        let usage = now.usage as f64 * 100.0;
        if value > 0.0 {
            let limit_chart = chart.get_or_insert_with(|| {
                self.previous = usage;
                ChartHandle::create(host, now.naming.def(&CPU_LIMIT), &[now.dim])
            });
            let used =
                100.0 * (usage - self.previous) / (value * f64::from(now.naming.update_every));
            self.previous = usage;
            limit_chart.update(cycle, &[Some(if used > 0.0 { used as i64 } else { 0 })]);
            variable.set(host, cpu_chart, value);
        } else {
            if let Some(mut gone) = chart.take() {
                gone.mark_obsolete();
            }
            variable.set(host, cpu_chart, f64::NAN);
        }
    }
}

/// netdata's limit in % of a core from a CFS quota and period and the
/// CPUs allowed: the quota's share when below the CPUs, else all CPUs.
pub(super) fn limit_percent(quota: u64, period: u64, cpus: u64) -> f64 {
    let cpus = cpus as f64;
    let share = if quota > 0 && period > 0 {
        quota as f64 / period as f64
    } else {
        0.0
    };
    if share > 0.0 && share < cpus {
        share * 100.0
    } else {
        cpus * 100.0
    }
}

/// A v2 memory limit file (`memory.max`, `memory.swap.max`) and its chart
/// variable on the mem_usage chart, in MiB (`max` is 2^64 - 1 bytes). As
/// in netdata, the file is taken along with its usage file without
/// looking for it, the variable is made at the first read, and a file that
/// cannot be read is dropped for good (the variable stays, unset).
pub(super) struct LimitFile {
    file: Option<SourceFile>,
    wanted: bool,
    variable: ChartVariable,
    made: bool,
}

impl LimitFile {
    pub(super) fn new(variable: &'static str) -> LimitFile {
        LimitFile {
            file: None,
            wanted: false,
            variable: ChartVariable::new(variable),
            made: false,
        }
    }

    /// The usage file was found: the limit file (if there) comes along.
    pub(super) fn take_along(&mut self, file: Option<SourceFile>) {
        self.file = file;
        self.wanted = true;
    }

    /// The limit in bytes, when read.
    pub(super) fn read(&mut self, host: &Host, usage_chart: &ChartHandle) -> Option<u64> {
        if !self.wanted {
            return None;
        }
        if !self.made {
            self.made = true;
            self.variable.set(host, usage_chart, f64::NAN);
        }
        let limit = match self.file.as_mut().and_then(|f| f.read()) {
            Some(data) if data.trim_ascii_end() == b"max" => u64::MAX,
            Some(data) => words(data).next().and_then(parse_u64).unwrap_or(0),
            None => {
                self.file = None;
                self.wanted = false;
                return None;
            }
        };
        self.variable
            .set(host, usage_chart, (limit / (1024 * 1024)) as f64);
        Some(limit)
    }
}

/// `io.stat` summed over its devices (netdata adds every line):
/// rbytes, wbytes, rios, wios. A line is `MAJ:MIN rbytes=.. wbytes=..
/// rios=.. wios=.. dbytes=.. dios=..`.
fn io_sums(data: &[u8]) -> [u64; 4] {
    let mut sums = [0u64; 4];
    for line in lines(data) {
        for word in words(line) {
            let Some(eq) = word.iter().position(|&b| b == b'=') else {
                continue;
            };
            let slot = match &word[..eq] {
                b"rbytes" => 0,
                b"wbytes" => 1,
                b"rios" => 2,
                b"wios" => 3,
                _ => continue,
            };
            sums[slot] = sums[slot].wrapping_add(parse_u64(&word[eq + 1..]).unwrap_or(0));
        }
    }
    sums
}

/// What a systemd service's cgroup gives the `services.*` charts in one
/// round: each value read, and whether its switch is on (`auto` latched
/// by a non-zero value, as netdata does at read time).
#[derive(Default, Clone, Copy)]
pub(super) struct ServiceReading {
    /// `user + system` (µs in v2, ticks in v1).
    pub cpu: Option<(u64, bool)>,
    /// The used memory (`memory.current` as read in v2; v1's usage less
    /// inactive file memory).
    pub memory: Option<(u64, bool)>,
    /// v1's `memory.failcnt`.
    pub failcnt: Option<(u64, bool)>,
    /// v1's detailed memory: rss, mapped, cache, writeback, pgfault,
    /// pgmajfault, pgpgin, pgpgout; on once `memory.stat` was read (for
    /// `enable systemd services detailed memory`).
    pub detailed: Option<([u64; 8], bool)>,
    pub swap: Option<(u64, bool)>,
    /// Bytes read, written.
    pub io_bytes: Option<([u64; 2], bool)>,
    /// Operations read, written.
    pub io_ops: Option<([u64; 2], bool)>,
    /// v1's throttled bytes, throttled operations, queued and merged
    /// operations: read, written.
    pub throttle_io: Option<([u64; 2], bool)>,
    pub throttle_ops: Option<([u64; 2], bool)>,
    pub queued_ops: Option<([u64; 2], bool)>,
    pub merged_ops: Option<([u64; 2], bool)>,
}

impl UnifiedCgroup {
    /// Reads a systemd service's files for the `services.*` charts (a
    /// service has no charts of its own).
    pub(super) fn read_service(&mut self) -> ServiceReading {
        let mut r = ServiceReading::default();
        if let Some(stat) = self
            .cpu_stat
            .as_mut()
            .and_then(|f| f.read())
            .and_then(CpuStat::parse)
        {
            let on = self.cpu.wants(stat.user_usec != 0 || stat.system_usec != 0);
            r.cpu = Some((stat.user_usec.wrapping_add(stat.system_usec), on));
        }
        if let Some(current) = read_number(&mut self.memory_current) {
            r.memory = Some((current, self.memory.wants(current != 0)));
        }
        if let Some(swap) = read_number(&mut self.swap_current) {
            r.swap = Some((swap, self.swap.wants(swap != 0)));
        }
        if let Some([rbytes, wbytes, rios, wios]) =
            self.io_stat.as_mut().and_then(|f| f.read()).map(io_sums)
        {
            r.io_bytes = Some((
                [rbytes, wbytes],
                self.io_bytes.wants(rbytes != 0 || wbytes != 0),
            ));
            r.io_ops = Some(([rios, wios], self.io_ops.wants(rios != 0 || wios != 0)));
        }
        r
    }
}

/// The kernel's page size (pgfaults' multiplier).
pub(super) fn page_size() -> i64 {
    rustix::param::page_size() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stat_as_netdata_reads_it() {
        let stat = CpuStat::parse(
            b"usage_usec 350\nuser_usec 200\nsystem_usec 150\nnice_usec 0\n\
              nr_periods 10\nnr_throttled 2\nthrottled_usec 7\n",
        )
        .unwrap();
        assert_eq!(
            stat,
            CpuStat {
                user_usec: 200,
                system_usec: 150,
                nr_periods: 10,
                nr_throttled: 2,
                throttled_usec: 7
            }
        );
        assert_eq!(
            CpuStat::parse(b"usage_usec 1\n"),
            None,
            "fewer than 3 lines"
        );
    }

    #[test]
    fn pressure_keeps_netdata_full_total() {
        let p = Pressure::parse(
            b"some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n\
              full avg10=0.75 avg60=0.10 avg300=0.01 total=9999\n",
        )
        .unwrap();
        assert_eq!(p.some, [150, 25, 0]);
        assert_eq!(p.some_total_ms, 123);
        assert_eq!(p.full, Some([75, 10, 1]));
        let only_some =
            Pressure::parse(b"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").unwrap();
        assert_eq!(only_some.full, None);
        assert_eq!(Pressure::parse(b""), None);
    }

    #[test]
    fn memory_stat_auto_ignores_file() {
        let m = MemoryStat::parse(b"anon 0\nfile 4096\nfile_dirty 0\n");
        assert_eq!(m.file, 4096);
        assert_eq!(m.file_dirty, Some(0));
        assert!(!m.any_nonzero(), "netdata's test leaves `file` out");
        assert!(MemoryStat::parse(b"anon 1\n").any_nonzero());
    }
}
