//! `/proc/stat`: CPU time (`system.cpu` and one `cpu.cpuN` per core),
//! interrupts (`system.intr`), context switches (`system.ctxt`), process
//! creation (`system.forks`) and running/blocked processes
//! (`system.processes`); with `cpu_sysfs.rs`, thermal throttling and CPU
//! frequency (`cpu.core_throttling`, `cpu.package_throttling`,
//! `cpu.cpufreq`) where the machine has them, and with `cpuidle.rs` the
//! C-state residency (`cpu.cpuN_cpuidle`).
//!
//! CPU charts use netdata's dimension order and math: ten
//! `percentage-of-incremental-row` dimensions with `idle` hidden, `user`
//! without `guest` and `nice` without `guest_nice` (the kernel counts guest
//! time in both).
//!
//! With `system.cpu`, the host variable `active_processors` (netdata's, for
//! its alarms): the number of the last `cpuN` line plus one, 1 when there
//! is none, set at every collection (in the store when it changes).

use std::path::Path;

use rrd::{Algorithm, ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::cpu_sysfs::CoreFiles;
use super::cpuidle::CpuIdle;
use super::ondemand::{enabled, no_chart_switches, ChartSwitches};
use super::parse::{lines, parse_i64, parse_u64, words};
use super::source::SourceFile;
use super::variables::HostVariable;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/stat";

/// The most cores we keep charts for; a larger core number is odd content.
const MAX_CORES: usize = 16_384;

const fn cpu_dim(id: &'static str) -> DimSpec {
    DimSpec::new(id, Algorithm::PercentageOfIncrementalRow, 1, 1)
}

/// The CPU chart dimensions, in netdata's order.
const CPU_DIMS: [DimSpec; 10] = [
    cpu_dim("guest_nice"),
    cpu_dim("guest"),
    cpu_dim("steal"),
    cpu_dim("softirq"),
    cpu_dim("irq"),
    cpu_dim("user"),
    cpu_dim("system"),
    cpu_dim("nice"),
    cpu_dim("iowait"),
    cpu_dim("idle").hide(),
];

const SYSTEM_CPU: ChartSpec = ChartSpec {
    type_: "system",
    id: "cpu",
    family: "cpu",
    context: None,
    title: "Total CPU utilization",
    units: "percentage",
    chart_type: ChartType::Stacked,
    priority: 100,
    plugin: PROC_PLUGIN,
    module: MODULE,
};

/// Per-core charts are at 1000 + core number + 1.
const CORE_PRIORITY_BASE: i64 = 1000;

const SYSTEM_INTR: ChartSpec = ChartSpec {
    type_: "system",
    id: "intr",
    family: "interrupts",
    context: None,
    title: "CPU Interrupts",
    units: "interrupts/s",
    chart_type: ChartType::Line,
    priority: 900,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const INTR_DIMS: [DimSpec; 1] = [DimSpec::incremental("interrupts", 1, 1)];

const SYSTEM_CTXT: ChartSpec = ChartSpec {
    type_: "system",
    id: "ctxt",
    family: "processes",
    context: None,
    title: "CPU Context Switches",
    units: "context switches/s",
    chart_type: ChartType::Line,
    priority: 800,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const CTXT_DIMS: [DimSpec; 1] = [DimSpec::incremental("switches", 1, 1)];

const SYSTEM_FORKS: ChartSpec = ChartSpec {
    type_: "system",
    id: "forks",
    family: "processes",
    context: None,
    title: "Started Processes",
    units: "processes/s",
    chart_type: ChartType::Line,
    priority: 700,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const FORKS_DIMS: [DimSpec; 1] = [DimSpec::incremental("started", 1, 1)];

const SYSTEM_PROCESSES: ChartSpec = ChartSpec {
    type_: "system",
    id: "processes",
    family: "processes",
    context: None,
    title: "System Processes",
    units: "processes",
    chart_type: ChartType::Line,
    priority: 600,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const PROCESSES_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("running", 1, 1),
    DimSpec::absolute("blocked", -1, 1),
];

/// One CPU line's counters, in [`CPU_DIMS`] order.
fn cpu_values(fields: &[u64; 10]) -> [Option<i64>; 10] {
    let [user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice] = *fields;
    let user = user.saturating_sub(guest);
    let nice = nice.saturating_sub(guest_nice);
    [
        guest_nice, guest, steal, softirq, irq, user, system, nice, iowait, idle,
    ]
    .map(|v| i64::try_from(v).ok())
}

/// Parses the counters of a `cpu` line (the words after its key): at least
/// the first eight (up to `steal`), `guest` and `guest_nice` being 0 when
/// the kernel does not give them.
fn parse_cpu_fields<'a>(mut rest: impl Iterator<Item = &'a [u8]>) -> Option<[u64; 10]> {
    let mut fields = [0u64; 10];
    for (i, field) in fields.iter_mut().enumerate() {
        match rest.next() {
            Some(word) => *field = parse_u64(word)?,
            None if i >= 8 => break,
            None => return None,
        }
    }
    Some(fields)
}

/// The core number of a `cpuN` key, `None` for the `cpu` total.
enum CpuKey {
    Total,
    Core(usize),
}

fn cpu_key(key: &[u8]) -> Option<CpuKey> {
    let digits = key.strip_prefix(b"cpu")?;
    if digits.is_empty() {
        return Some(CpuKey::Total);
    }
    let core = usize::try_from(parse_u64(digits)?).ok()?;
    (core < MAX_CORES).then_some(CpuKey::Core(core))
}

/// Collects `/proc/stat`.
pub struct StatCollector {
    file: SourceFile,
    update_every: u32,
    charts: StatCharts,
    /// Throttling and frequency, from `/sys/devices/system/cpu`.
    core_files: CoreFiles,
    /// C-state residency (`cpu.cpuN_cpuidle`).
    cpuidle: CpuIdle,
    refused: RefusedRounds,
}

struct StatCharts {
    total: Option<ChartHandle>,
    /// Per core, by core number.
    cores: Vec<Option<ChartHandle>>,
    /// Which cores the current file lists.
    cores_seen: Vec<bool>,
    intr: Option<ChartHandle>,
    ctxt: Option<ChartHandle>,
    forks: Option<ChartHandle>,
    processes: Option<ChartHandle>,
    /// The `[plugin:proc:/proc/stat]` switches, in the order of
    /// [`CHART_KEYS`] (all on unless set to `no`).
    enabled: [bool; 6],
    /// `active_processors`, kept while `system.cpu` exists.
    active_processors: HostVariable,
}

/// netdata's switches of the `/proc/stat` charts: `system.cpu`,
/// `cpu.cpuN`, `system.intr`, `system.ctxt`, `system.forks`,
/// `system.processes`.
const CHART_KEYS: [&str; 6] = [
    "cpu utilization",
    "per cpu core utilization",
    "cpu interrupts",
    "context switches",
    "processes started",
    "processes running",
];

impl Default for StatCharts {
    fn default() -> StatCharts {
        StatCharts {
            total: None,
            cores: Vec::new(),
            cores_seen: Vec::new(),
            intr: None,
            ctxt: None,
            forks: None,
            processes: None,
            enabled: [true; 6],
            active_processors: HostVariable::new("active_processors"),
        }
    }
}

impl StatCharts {
    fn mark_all_obsolete(&mut self) {
        let singles = [
            &mut self.total,
            &mut self.intr,
            &mut self.ctxt,
            &mut self.forks,
            &mut self.processes,
        ];
        super::chart_handle::mark_all_obsolete(singles.into_iter().chain(self.cores.iter_mut()));
    }

    fn process(&mut self, data: &[u8], host: &Host, update_every: u32, cycle: &mut Cycle) {
        self.cores_seen.iter_mut().for_each(|seen| *seen = false);
        let mut forks = None;
        let mut running = None;
        let mut blocked = None;
        // The number of the last `cpuN` line (netdata's count of cores).
        let mut last_core = None;

        for line in lines(data) {
            let mut w = words(line);
            let Some(key) = w.next() else { continue };
            match key {
                b"intr" => {
                    let value = w.next().and_then(parse_i64);
                    if value.is_some() && self.enabled[2] {
                        let chart = self.intr.get_or_insert_with(|| {
                            ChartHandle::create(host, SYSTEM_INTR.def(update_every), &INTR_DIMS)
                        });
                        chart.update(cycle, &[value]);
                    }
                }
                b"ctxt" => {
                    let value = w.next().and_then(parse_i64);
                    if value.is_some() && self.enabled[3] {
                        let chart = self.ctxt.get_or_insert_with(|| {
                            ChartHandle::create(host, SYSTEM_CTXT.def(update_every), &CTXT_DIMS)
                        });
                        chart.update(cycle, &[value]);
                    }
                }
                b"processes" => forks = forks.or(w.next().and_then(parse_i64)),
                b"procs_running" => running = running.or(w.next().and_then(parse_i64)),
                b"procs_blocked" => blocked = blocked.or(w.next().and_then(parse_i64)),
                _ => {
                    let Some(which) = cpu_key(key) else { continue };
                    let Some(fields) = parse_cpu_fields(w) else {
                        continue;
                    };
                    let values = cpu_values(&fields);
                    match which {
                        CpuKey::Total if !self.enabled[0] => {}
                        CpuKey::Total => {
                            let chart = self.total.get_or_insert_with(|| {
                                ChartHandle::create(host, SYSTEM_CPU.def(update_every), &CPU_DIMS)
                            });
                            chart.update(cycle, &values);
                        }
                        CpuKey::Core(core) => {
                            last_core = Some(core);
                            if self.cores.len() <= core {
                                self.cores.resize_with(core + 1, || None);
                                self.cores_seen.resize(core + 1, false);
                            }
                            self.cores_seen[core] = true;
                            if !self.enabled[1] {
                                continue;
                            }
                            let chart = self.cores[core].get_or_insert_with(|| {
                                ChartHandle::create(host, core_chart(core, update_every), &CPU_DIMS)
                            });
                            chart.update(cycle, &values);
                        }
                    }
                }
            }
        }

        // A core that went offline leaves the file: its chart is obsolete
        // until it comes back.
        for (chart, seen) in self.cores.iter_mut().zip(&self.cores_seen) {
            if let (Some(chart), false) = (chart, *seen) {
                chart.mark_obsolete();
            }
        }

        if self.total.is_some() {
            let processors = last_core.map_or(1, |core| core + 1);
            self.active_processors.set(host, processors as f64);
        }

        if forks.is_some() && self.enabled[4] {
            let chart = self.forks.get_or_insert_with(|| {
                ChartHandle::create(host, SYSTEM_FORKS.def(update_every), &FORKS_DIMS)
            });
            chart.update(cycle, &[forks]);
        }
        if (running.is_some() || blocked.is_some()) && self.enabled[5] {
            let chart = self.processes.get_or_insert_with(|| {
                ChartHandle::create(host, SYSTEM_PROCESSES.def(update_every), &PROCESSES_DIMS)
            });
            chart.update(cycle, &[running, blocked]);
        }
    }
}

fn core_chart(core: usize, update_every: u32) -> rrd::ChartDef {
    let id = format!("cpu{core}");
    let mut def = rrd::ChartDef::new("cpu", id)
        .family("utilization")
        .context("cpu.cpu")
        .title("Core utilization")
        .units("percentage")
        .chart_type(ChartType::Stacked)
        .priority(CORE_PRIORITY_BASE + core as i64 + 1)
        .update_every(update_every);
    def.plugin = PROC_PLUGIN.to_string();
    def.module = MODULE.to_string();
    def
}

impl StatCollector {
    pub fn new(root: &Path, update_every: u32) -> StatCollector {
        StatCollector::configured(root, update_every, &no_chart_switches)
    }

    /// With the per-chart switches of `[plugin:proc:/proc/stat]`
    /// (`core_throttle_count`, `package_throttle_count`, `cpu frequency`).
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> StatCollector {
        StatCollector {
            file: SourceFile::new(root, "/proc/stat"),
            update_every: update_every.max(1),
            charts: StatCharts {
                enabled: CHART_KEYS.map(|key| enabled(switches, MODULE, key)),
                ..StatCharts::default()
            },
            core_files: CoreFiles::new(root, switches),
            cpuidle: CpuIdle::new(
                root,
                switches,
                std::thread::available_parallelism().map_or(1, usize::from),
            ),
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for StatCollector {
    fn name(&self) -> &str {
        "proc:stat"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            self.charts.mark_all_obsolete();
            self.core_files.mark_all_obsolete();
            self.cpuidle.mark_all_obsolete();
            return Ok(());
        };
        let mut cycle = Cycle::new(now_ut);
        self.charts
            .process(data, host, self.update_every, &mut cycle);
        let cores = self.charts.cores_seen.len();
        self.core_files
            .collect(cores, host, self.update_every, &mut cycle);
        self.cpuidle.collect(host, self.update_every, &mut cycle);
        self.refused.settle("proc:stat", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &[u8]) -> Option<[u64; 10]> {
        let mut w = words(line);
        w.next();
        parse_cpu_fields(w)
    }

    #[test]
    fn cpu_lines_with_eight_to_ten_counters_parse() {
        assert_eq!(
            fields(b"cpu  1 2 3 4 5 6 7 8 9 10"),
            Some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        );
        assert_eq!(
            fields(b"cpu 1 2 3 4 5 6 7 8"),
            Some([1, 2, 3, 4, 5, 6, 7, 8, 0, 0])
        );
        assert_eq!(
            fields(b"cpu 1 2 3 4 5 6 7 8 9 10 11 12"),
            Some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        );
        assert_eq!(fields(b"cpu 1 2 3 4 5 6 7"), None);
        assert_eq!(fields(b"cpu 1 2 x 4 5 6 7 8"), None);
    }

    #[test]
    fn guest_time_is_taken_out_of_user_and_nice() {
        let v = cpu_values(&[100, 50, 3, 4, 5, 6, 7, 8, 30, 20]);
        // guest_nice, guest, steal, softirq, irq, user, system, nice, iowait, idle
        assert_eq!(v, [20, 30, 8, 7, 6, 70, 3, 30, 5, 4].map(Some));
        // A guest larger than user (odd content) does not wrap.
        assert_eq!(cpu_values(&[1, 0, 0, 0, 0, 0, 0, 0, 5, 1])[5], Some(0));
    }

    #[test]
    fn cpu_keys() {
        assert!(matches!(cpu_key(b"cpu"), Some(CpuKey::Total)));
        assert!(matches!(cpu_key(b"cpu12"), Some(CpuKey::Core(12))));
        assert!(cpu_key(b"cpux").is_none());
        assert!(cpu_key(b"cpu99999999").is_none());
        assert!(cpu_key(b"ctxt").is_none());
    }

    #[test]
    fn odd_content_does_not_panic() {
        let host = Host::new("t", 10);
        let mut charts = StatCharts::default();
        let mut cycle = Cycle::new(1_000_000_000);
        let junk: &[u8] = b"cpu\ncpu0 1 2\nintr\nintr x\nctxt 5 6 7\nprocesses -3\n\xff\xfe\n\n   \nprocs_running 1";
        charts.process(junk, &host, 1, &mut cycle);
        assert!(charts.total.is_none());
        assert!(charts.intr.is_none());
        assert!(charts.ctxt.is_some());
        assert!(charts.forks.is_none());
        assert!(charts.processes.is_some());
    }

    #[test]
    fn an_offline_core_is_obsolete_until_it_returns() {
        let host = Host::new("t", 10);
        let mut charts = StatCharts::default();
        let two = b"cpu 1 1 1 1 1 1 1 1 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\ncpu1 1 1 1 1 1 1 1 1 0 0\n";
        let one = b"cpu 2 1 1 1 1 1 1 1 0 0\ncpu0 2 1 1 1 1 1 1 1 0 0\n";
        charts.process(two, &host, 1, &mut Cycle::new(1_000_000_000));
        charts.process(one, &host, 1, &mut Cycle::new(1_001_000_000));
        let cpu1 = host.chart_by_id("cpu.cpu1").unwrap();
        assert!(cpu1.read().is_obsolete());
        assert!(!host.chart_by_id("cpu.cpu0").unwrap().read().is_obsolete());
        charts.process(two, &host, 1, &mut Cycle::new(1_002_000_000));
        assert!(!cpu1.read().is_obsolete());
    }
}
