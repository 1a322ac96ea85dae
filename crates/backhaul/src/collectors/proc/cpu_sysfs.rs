//! The per-core files of `/sys/devices/system/cpu/cpuN` that netdata's
//! `/proc/stat` module charts: thermal throttling events
//! (`cpu.core_throttling`, `cpu.package_throttling`) and the current
//! frequency (`cpu.cpufreq`, the average over the interval from
//! `cpufreq/stats/time_in_state` when the kernel has it, else
//! `cpufreq/scaling_cur_freq`). One dimension per core (`cpuN`).
//!
//! As in netdata 1.37: `core_throttle_count` is `auto` (charted once a
//! core was throttled), `package_throttle_count` off, `cpu frequency` on;
//! all three off on machines with more than 50 processors. The files are
//! looked for once, when the cores are first known. (The C-state
//! residency charts, `cpu.cpuN_cpuidle`, are `cpuidle.rs`'.)

use std::path::{Path, PathBuf};

use rrd::{Algorithm, ChartDef, ChartType, DimensionDef, Host};

use super::chart_handle::{mark_all_obsolete, ChartHandle, Cycle};
use super::ondemand::{on_demand, ChartSwitches, OnDemand};
use super::parse::{lines, parse_u64, words};
use super::source::{host_path, SourceFile};
use super::PROC_PLUGIN;

const MODULE: &str = "/proc/stat";

/// netdata turns the per-core files off beyond this many processors.
const MAX_PROCESSORS: usize = 50;

/// A chart of one number per core.
struct PerCoreChart {
    id: &'static str,
    family: &'static str,
    context: &'static str,
    title: &'static str,
    units: &'static str,
    priority: i64,
    algorithm: Algorithm,
    divisor: i64,
}

const CHARTS: [PerCoreChart; 3] = [
    PerCoreChart {
        id: "core_throttling",
        family: "throttling",
        context: "cpu.core_throttling",
        title: "Core Thermal Throttling Events",
        units: "events/s",
        priority: 5001,
        algorithm: Algorithm::Incremental,
        divisor: 1,
    },
    PerCoreChart {
        id: "package_throttling",
        family: "throttling",
        context: "cpu.package_throttling",
        title: "Package Thermal Throttling Events",
        units: "events/s",
        priority: 5002,
        algorithm: Algorithm::Incremental,
        divisor: 1,
    },
    PerCoreChart {
        id: "cpufreq",
        family: "cpufreq",
        context: "cpufreq.cpufreq",
        title: "Current CPU Frequency",
        units: "MHz",
        priority: 5003,
        algorithm: Algorithm::Absolute,
        divisor: 1000,
    },
];

const CORE_THROTTLING: usize = 0;
const PACKAGE_THROTTLING: usize = 1;
const CPUFREQ: usize = 2;

/// A core's `time_in_state` and the ticks of each frequency at the last
/// read.
struct TimeInState {
    file: SourceFile,
    last_ticks: Vec<u64>,
}

impl TimeInState {
    /// The average frequency (kHz) over the time since the last read, 0
    /// when no time passed; `None` when unreadable or empty.
    fn average(&mut self) -> Option<u64> {
        let data = self.file.read()?;
        let mut total_ticks: u64 = 0;
        let mut weighted: u64 = 0;
        let mut any = false;
        for (i, line) in lines(data).enumerate() {
            let mut w = words(line);
            let (Some(frequency), Some(ticks)) =
                (w.next().and_then(parse_u64), w.next().and_then(parse_u64))
            else {
                continue;
            };
            any = true;
            if i >= self.last_ticks.len() {
                self.last_ticks.resize(i + 1, 0);
            }
            let since = ticks.wrapping_sub(self.last_ticks[i]);
            self.last_ticks[i] = ticks;
            total_ticks = total_ticks.wrapping_add(since);
            weighted = weighted.wrapping_add(frequency.wrapping_mul(since));
        }
        if !any {
            return None;
        }
        Some(weighted.checked_div(total_ticks).unwrap_or(0))
    }
}

/// One core's files (absent when the kernel has none).
struct Core {
    name: String,
    files: [Option<SourceFile>; 3],
    time_in_state: Option<TimeInState>,
    /// This round's values, by chart.
    values: [Option<i64>; 3],
    dims: [Option<usize>; 3],
}

/// The per-core files of the cores `/proc/stat` lists.
pub(crate) struct CoreFiles {
    root: PathBuf,
    switches: [OnDemand; 3],
    cores: Option<Vec<Core>>,
    charts: [Option<ChartHandle>; 3],
    values: Vec<Option<i64>>,
}

impl CoreFiles {
    pub(crate) fn new(root: &Path, switches: ChartSwitches<'_>) -> CoreFiles {
        CoreFiles {
            root: root.to_path_buf(),
            switches: [
                on_demand(switches, MODULE, "core_throttle_count", OnDemand::Auto),
                on_demand(switches, MODULE, "package_throttle_count", OnDemand::No),
                on_demand(switches, MODULE, "cpu frequency", OnDemand::Yes),
            ],
            cores: None,
            charts: Default::default(),
            values: Vec::new(),
        }
    }

    fn discover(&mut self, cores: usize) -> Vec<Core> {
        if cores > MAX_PROCESSORS {
            self.switches = [OnDemand::No; 3];
        }
        let exists = |path: &str| host_path(&self.root, path).exists();
        (0..cores)
            .map(|n| {
                let base = format!("/sys/devices/system/cpu/cpu{n}");
                let file = |which: usize, relative: &str| {
                    let path = format!("{base}/{relative}");
                    (self.switches[which] != OnDemand::No && exists(&path))
                        .then(|| SourceFile::new(&self.root, &path))
                };
                let time_in_state = {
                    let path = format!("{base}/cpufreq/stats/time_in_state");
                    (self.switches[CPUFREQ] != OnDemand::No && exists(&path)).then(|| TimeInState {
                        file: SourceFile::new(&self.root, &path),
                        last_ticks: Vec::new(),
                    })
                };
                Core {
                    name: format!("cpu{n}"),
                    files: [
                        file(CORE_THROTTLING, "thermal_throttle/core_throttle_count"),
                        file(
                            PACKAGE_THROTTLING,
                            "thermal_throttle/package_throttle_count",
                        ),
                        file(CPUFREQ, "cpufreq/scaling_cur_freq"),
                    ],
                    time_in_state,
                    values: [None; 3],
                    dims: [None; 3],
                }
            })
            .collect()
    }

    /// Reads the files of the `cores` cores and completes the charts.
    pub(crate) fn collect(
        &mut self,
        cores: usize,
        host: &Host,
        update_every: u32,
        cycle: &mut Cycle,
    ) {
        if cores == 0 {
            return;
        }
        if self.cores.is_none() {
            let found = self.discover(cores);
            self.cores = Some(found);
        }
        let Some(cores) = self.cores.as_mut() else {
            return;
        };
        for (which, spec) in CHARTS.iter().enumerate() {
            if self.switches[which] == OnDemand::No {
                continue;
            }
            let mut read = 0;
            let mut nonzero = 0;
            for core in cores.iter_mut() {
                let mut value = None;
                if which == CPUFREQ {
                    if let Some(tis) = &mut core.time_in_state {
                        value = tis.average().filter(|&v| v > 0);
                    }
                }
                if value.is_none() {
                    value = core.files[which]
                        .as_mut()
                        .and_then(|f| f.read())
                        .and_then(|d| words(d).next().and_then(parse_u64));
                }
                core.values[which] = value.and_then(|v| i64::try_from(v).ok());
                if let Some(v) = core.values[which] {
                    read += 1;
                    if v != 0 {
                        nonzero += 1;
                    }
                }
            }
            if read == 0 || !self.switches[which].wants(nonzero > 0) {
                if read == 0 {
                    mark_all_obsolete(std::iter::once(&mut self.charts[which]));
                }
                continue;
            }
            let chart = self.charts[which].get_or_insert_with(|| {
                let mut def = ChartDef::new("cpu", spec.id)
                    .family(spec.family)
                    .context(spec.context)
                    .title(spec.title)
                    .units(spec.units)
                    .chart_type(ChartType::Line)
                    .priority(spec.priority)
                    .update_every(update_every);
                def.plugin = PROC_PLUGIN.to_string();
                def.module = MODULE.to_string();
                ChartHandle::create(host, def, &[])
            });
            for core in cores.iter_mut() {
                if core.values[which].is_some() && core.dims[which].is_none() {
                    let dim = DimensionDef::new(core.name.as_str())
                        .algorithm(spec.algorithm)
                        .divisor(spec.divisor);
                    core.dims[which] = Some(chart.add_dimension(dim));
                }
            }
            self.values.clear();
            self.values.resize(chart.dimension_count(), None);
            for core in cores.iter() {
                if let (Some(dim), Some(value)) = (core.dims[which], core.values[which]) {
                    self.values[dim] = Some(value);
                }
            }
            chart.update(cycle, &self.values);
        }
    }

    pub(crate) fn mark_all_obsolete(&mut self) {
        mark_all_obsolete(self.charts.iter_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_in_state_averages_the_interval() {
        let dir = std::env::temp_dir().join(format!("backhaul-tis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("time_in_state");
        std::fs::write(&path, "1000000 100\n2000000 0\n").unwrap();
        let mut tis = TimeInState {
            file: SourceFile::new(&dir, "/time_in_state"),
            last_ticks: Vec::new(),
        };
        assert_eq!(tis.average(), Some(1_000_000));
        std::fs::write(&path, "1000000 150\n2000000 150\n").unwrap();
        // 50 ticks at 1 GHz, 150 at 2 GHz: (50 + 300) / 200 = 1.75 GHz
        assert_eq!(tis.average(), Some(1_750_000));
        // No time passed: 0.
        assert_eq!(tis.average(), Some(0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
