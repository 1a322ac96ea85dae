//! `/proc/loadavg`: the load averages (`system.load`) and the number of
//! processes and threads (`system.active_processes`).
//!
//! The kernel recomputes load averages every 5 seconds, so, like netdata,
//! `system.load` is a chart of at least 5 s, collected at the first cycle on
//! or after each of its grid times; the load values are collected times
//! 1000 (truncated) and stored divided by 1000.
//!
//! `system.active_processes` has netdata's chart variable `pidmax`, the
//! kernel's `/proc/sys/kernel/pid_max`, read once (netdata reads it once
//! per run) when the chart is made; without the file it is 32768, the
//! value netdata assumes then.

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::parse::{lines, parse_f64, parse_i64, thousandths, words};
use super::source::SourceFile;
use super::variables::{ChartVariable, LimitsFile};
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/loadavg";

/// The shortest update every of `system.load`, in seconds.
pub const MIN_LOAD_UPDATE_EVERY: u32 = 5;

const SYSTEM_LOAD: ChartSpec = ChartSpec {
    type_: "system",
    id: "load",
    family: "load",
    context: None,
    title: "System Load Average",
    units: "load",
    chart_type: ChartType::Line,
    priority: 100,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const LOAD_DIMS: [DimSpec; 3] = [
    DimSpec::absolute("load1", 1, 1000),
    DimSpec::absolute("load5", 1, 1000),
    DimSpec::absolute("load15", 1, 1000),
];

const SYSTEM_ACTIVE_PROCESSES: ChartSpec = ChartSpec {
    type_: "system",
    id: "active_processes",
    family: "processes",
    context: None,
    title: "System Active Processes",
    units: "processes",
    chart_type: ChartType::Line,
    priority: 750,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const ACTIVE_DIMS: [DimSpec; 1] = [DimSpec::absolute("active", 1, 1)];

/// What netdata takes `pid_max` to be when it cannot read it.
const DEFAULT_PID_MAX: i64 = 32768;

/// What one read of the file gives.
#[derive(Debug, PartialEq, Eq)]
struct LoadAverage {
    /// load1, load5, load15, times 1000.
    loads: [Option<i64>; 3],
    /// The number after the `/` of the fourth field: all processes and
    /// threads (netdata's "active processes").
    active: Option<i64>,
}

fn parse_loadavg(data: &[u8]) -> Option<LoadAverage> {
    let first = lines(data).next()?;
    let mut w = words(first);
    let mut load = || w.next().and_then(parse_f64).and_then(thousandths);
    let loads = [load(), load(), load()];
    let active = w
        .next()
        .and_then(|field| field.split(|&b| b == b'/').nth(1))
        .and_then(parse_i64);
    (loads.iter().any(Option::is_some) || active.is_some()).then_some(LoadAverage { loads, active })
}

/// Collects `/proc/loadavg`.
pub struct LoadavgCollector {
    file: SourceFile,
    update_every: u32,
    load_update_every: u32,
    /// The first time (µs) at which `system.load` is due again.
    next_load_ut: u64,
    load: Option<ChartHandle>,
    active: Option<ChartHandle>,
    /// `/proc/sys/kernel/pid_max`, until it is read (once).
    pid_max_file: Option<LimitsFile>,
    /// `system.active_processes`'s `pidmax`.
    pidmax: ChartVariable,
    refused: RefusedRounds,
}

impl LoadavgCollector {
    pub fn new(root: &Path, update_every: u32) -> LoadavgCollector {
        let update_every = update_every.max(1);
        LoadavgCollector {
            file: SourceFile::new(root, "/proc/loadavg"),
            update_every,
            load_update_every: update_every.max(MIN_LOAD_UPDATE_EVERY),
            next_load_ut: 0,
            load: None,
            active: None,
            pid_max_file: Some(LimitsFile::new(root, "/proc/sys/kernel/pid_max")),
            pidmax: ChartVariable::new("pidmax"),
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for LoadavgCollector {
    fn name(&self) -> &str {
        "proc:loadavg"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            super::chart_handle::mark_all_obsolete([&mut self.load, &mut self.active]);
            return Ok(());
        };
        let Some(parsed) = parse_loadavg(data) else {
            return Ok(());
        };
        let mut cycle = Cycle::new(now_ut);

        if now_ut >= self.next_load_ut && parsed.loads.iter().any(Option::is_some) {
            let step_ut = u64::from(self.load_update_every) * 1_000_000;
            self.next_load_ut = (now_ut / step_ut + 1) * step_ut;
            let load_update_every = self.load_update_every;
            let chart = self.load.get_or_insert_with(|| {
                ChartHandle::create(host, SYSTEM_LOAD.def(load_update_every), &LOAD_DIMS)
            });
            chart.update(&mut cycle, &parsed.loads);
        }

        if parsed.active.is_some() {
            let update_every = self.update_every;
            let created = self.active.is_none();
            let chart = self.active.get_or_insert_with(|| {
                ChartHandle::create(
                    host,
                    SYSTEM_ACTIVE_PROCESSES.def(update_every),
                    &ACTIVE_DIMS,
                )
            });
            if created {
                let read = self
                    .pid_max_file
                    .take()
                    .and_then(|mut file| file.numbers::<1>("proc:loadavg"));
                let pid_max = match read {
                    Some([max]) if max > 0 => max,
                    _ => DEFAULT_PID_MAX,
                };
                self.pidmax.set(host, chart, pid_max as f64);
            }
            chart.update(&mut cycle, &[parsed.active]);
        }

        self.refused.settle("proc:loadavg", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loads_and_the_process_count() {
        assert_eq!(
            parse_loadavg(b"0.56 1.02 0.58 3/84 14197\n"),
            Some(LoadAverage {
                loads: [Some(560), Some(1020), Some(580)],
                active: Some(84),
            })
        );
        assert_eq!(
            parse_loadavg(b"0.56 x"),
            Some(LoadAverage {
                loads: [Some(560), None, None],
                active: None,
            })
        );
        assert_eq!(parse_loadavg(b"garbage\n"), None);
        assert_eq!(parse_loadavg(b""), None);
    }
}
