//! `/proc/pressure/{cpu,memory,io}`: pressure stall information. For each
//! resource and each of its `some` and `full` lines, the share of time
//! stalled averaged over 10, 60 and 300 s (`system.RESOURCE_some_pressure`,
//! percentage) and the total stall time (`..._pressure_stall_time`, ms/s).
//!
//! As in netdata 1.37 the charts are collected every 2 s at least, and a
//! `full` chart exists only when the file has a `full` line.

use std::path::Path;

use rrd::{ChartDef, ChartType, Host};

use super::chart_handle::{mark_all_obsolete, ChartHandle, Cycle, DimSpec, RefusedRounds};
use super::ondemand::{enabled, ChartSwitches};
use super::parse::{lines, parse_f64, parse_u64, words};
use super::source::SourceFile;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/pressure";

/// netdata's shortest pressure interval (`MIN_PRESSURE_UPDATE_EVERY`).
const MIN_UPDATE_EVERY: u32 = 2;

struct Resource {
    /// The file name below `/proc/pressure`, and the charts' id prefix.
    name: &'static str,
    title: &'static str,
    family: &'static str,
    priority: i64,
}

const RESOURCES: [Resource; 3] = [
    Resource {
        name: "cpu",
        title: "CPU",
        family: "cpu",
        priority: 100,
    },
    Resource {
        name: "memory",
        title: "Memory",
        family: "ram",
        priority: 200,
    },
    Resource {
        name: "io",
        title: "I/O",
        family: "disk",
        priority: 150,
    },
];

pub(crate) const SOME_DIMS: [DimSpec; 3] = [
    DimSpec::absolute("some 10", 1, 100),
    DimSpec::absolute("some 60", 1, 100),
    DimSpec::absolute("some 300", 1, 100),
];
pub(crate) const FULL_DIMS: [DimSpec; 3] = [
    DimSpec::absolute("full 10", 1, 100),
    DimSpec::absolute("full 60", 1, 100),
    DimSpec::absolute("full 300", 1, 100),
];
pub(crate) const TIME_DIMS: [DimSpec; 1] = [DimSpec::incremental("time", 1, 1)];

/// One line of a pressure file: the three averages × 100, and the total in
/// milliseconds.
#[derive(Debug, PartialEq, Eq)]
struct Line {
    averages: [Option<i64>; 3],
    total_ms: Option<i64>,
}

/// `some avg10=1.00 avg60=0.50 avg300=0.10 total=12345` → its numbers.
fn parse_line(line: &[u8]) -> Option<(bool, Line)> {
    let mut w = words(line);
    let some = match w.next()? {
        b"some" => true,
        b"full" => false,
        _ => return None,
    };
    let mut parsed = Line {
        averages: [None; 3],
        total_ms: None,
    };
    for word in w {
        let Some(eq) = word.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = (&word[..eq], &word[eq + 1..]);
        let hundredths = || parse_f64(value).map(|v| (v * 100.0) as i64);
        match key {
            b"avg10" => parsed.averages[0] = hundredths(),
            b"avg60" => parsed.averages[1] = hundredths(),
            b"avg300" => parsed.averages[2] = hundredths(),
            b"total" => {
                parsed.total_ms = parse_u64(value).and_then(|us| i64::try_from(us / 1000).ok())
            }
            _ => {}
        }
    }
    Some((some, parsed))
}

/// The four charts of one resource: some share, some time, full share,
/// full time.
struct ResourceCharts {
    file: SourceFile,
    /// `enable RESOURCE some pressure`, `enable RESOURCE full pressure`.
    enabled: [bool; 2],
    charts: [Option<ChartHandle>; 4],
}

/// Collects `/proc/pressure`.
pub struct PressureCollector {
    update_every: u32,
    resources: Vec<ResourceCharts>,
    refused: RefusedRounds,
}

impl PressureCollector {
    /// With the switches of `[plugin:proc:/proc/pressure]`.
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> PressureCollector {
        let on = |resource: &str, kind: &str| {
            enabled(
                switches,
                MODULE,
                &format!("enable {resource} {kind} pressure"),
            )
        };
        PressureCollector {
            update_every: update_every.max(MIN_UPDATE_EVERY),
            resources: RESOURCES
                .iter()
                .map(|r| ResourceCharts {
                    file: SourceFile::new(root, &format!("/proc/pressure/{}", r.name)),
                    enabled: [on(r.name, "some"), on(r.name, "full")],
                    charts: Default::default(),
                })
                .collect(),
            refused: RefusedRounds::default(),
        }
    }
}

fn chart_def(resource: &Resource, kind: &str, time: bool, update_every: u32) -> ChartDef {
    let (id, title, units, priority) = if time {
        (
            format!("{}_{kind}_pressure_stall_time", resource.name),
            format!("{} {kind} pressure stall time", resource.title),
            "ms",
            5,
        )
    } else {
        (
            format!("{}_{kind}_pressure", resource.name),
            format!("{} {kind} pressure", resource.title),
            "percentage",
            0,
        )
    };
    let base = if kind == "some" { 40 } else { 50 };
    let mut def = ChartDef::new("system", id)
        .family(resource.family)
        .title(title)
        .units(units)
        .chart_type(ChartType::Line)
        .priority(resource.priority + base + priority)
        .update_every(update_every);
    def.plugin = PROC_PLUGIN.to_string();
    def.module = MODULE.to_string();
    def
}

impl Collector for PressureCollector {
    fn name(&self) -> &str {
        "proc:pressure"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let update_every = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        for (resource, state) in RESOURCES.iter().zip(&mut self.resources) {
            let Some(data) = state.file.read() else {
                mark_all_obsolete(state.charts.iter_mut());
                continue;
            };
            for line in lines(data) {
                let Some((some, parsed)) = parse_line(line) else {
                    continue;
                };
                let (kind, dims, slot) = if some {
                    ("some", &SOME_DIMS, 0)
                } else {
                    ("full", &FULL_DIMS, 2)
                };
                if !state.enabled[slot / 2] {
                    continue;
                }
                state.charts[slot]
                    .get_or_insert_with(|| {
                        ChartHandle::create(
                            host,
                            chart_def(resource, kind, false, update_every),
                            dims,
                        )
                    })
                    .update(&mut cycle, &parsed.averages);
                state.charts[slot + 1]
                    .get_or_insert_with(|| {
                        ChartHandle::create(
                            host,
                            chart_def(resource, kind, true, update_every),
                            &TIME_DIMS,
                        )
                    })
                    .update(&mut cycle, &[parsed.total_ms]);
            }
        }
        self.refused.settle("proc:pressure", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse() {
        let (some, line) =
            parse_line(b"some avg10=8.30 avg60=5.21 avg300=3.96 total=2014176989").unwrap();
        assert!(some);
        assert_eq!(line.averages, [Some(830), Some(521), Some(396)]);
        assert_eq!(line.total_ms, Some(2_014_176));
        let (some, line) = parse_line(b"full avg10=0.00 avg60=x total=5").unwrap();
        assert!(!some);
        assert_eq!(line.averages, [Some(0), None, None]);
        assert_eq!(line.total_ms, Some(0));
        assert!(parse_line(b"other avg10=1").is_none());
        assert!(parse_line(b"").is_none());
    }
}
