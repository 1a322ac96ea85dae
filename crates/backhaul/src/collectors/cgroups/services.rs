//! The `services.*` charts: one dimension per systemd service (a cgroup
//! matching `cgroups to match as systemd services`), as netdata 1.37 makes
//! them (the throttle, queued, merged and failure charts only from v1's
//! files). A chart exists once one service's value of it is switched
//! on; from then on every service with the file gets a dimension (its
//! chart id, named after the service), in discovery order.

use rrd::{Algorithm, ChartDef, ChartType, DimensionDef, Host};

use super::unified::ServiceReading;
use crate::collectors::proc::chart_handle::{ChartHandle, Cycle};

/// netdata's module name for the services charts.
const MODULE: &str = "systemd";

/// netdata's base priority of the services charts.
const PRIORITY: i64 = 19000;

/// One `services.*` chart.
struct ChartKind {
    id: &'static str,
    family: &'static str,
    title: &'static str,
    units: &'static str,
    priority: i64,
    algorithm: Algorithm,
    multiplier: i64,
    divisor: i64,
}

const MIB: i64 = 1024 * 1024;

/// In netdata's order of creation (the cpu divisor is v2's; v1's is the
/// kernel's clock ticks, see [`ServicesCharts::new`]).
const KINDS: [ChartKind; N] = [
    ChartKind {
        id: "cpu",
        family: "cpu",
        title: "Systemd Services CPU utilization (100% = 1 core)",
        units: "percentage",
        priority: 0,
        algorithm: Algorithm::Incremental,
        multiplier: 100,
        divisor: 1_000_000,
    },
    ChartKind {
        id: "mem_usage",
        family: "mem",
        title: "Systemd Services Used Memory",
        units: "MiB",
        priority: 10,
        algorithm: Algorithm::Absolute,
        multiplier: 1,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_rss",
        family: "mem",
        title: "Systemd Services RSS Memory",
        units: "MiB",
        priority: 20,
        algorithm: Algorithm::Absolute,
        multiplier: 1,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_mapped",
        family: "mem",
        title: "Systemd Services Mapped Memory",
        units: "MiB",
        priority: 30,
        algorithm: Algorithm::Absolute,
        multiplier: 1,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_cache",
        family: "mem",
        title: "Systemd Services Cache Memory",
        units: "MiB",
        priority: 40,
        algorithm: Algorithm::Absolute,
        multiplier: 1,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_writeback",
        family: "mem",
        title: "Systemd Services Writeback Memory",
        units: "MiB",
        priority: 50,
        algorithm: Algorithm::Absolute,
        multiplier: 1,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_pgfault",
        family: "mem",
        title: "Systemd Services Memory Minor Page Faults",
        units: "MiB/s",
        priority: 60,
        algorithm: Algorithm::Incremental,
        multiplier: PAGE,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_pgmajfault",
        family: "mem",
        title: "Systemd Services Memory Major Page Faults",
        units: "MiB/s",
        priority: 70,
        algorithm: Algorithm::Incremental,
        multiplier: PAGE,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_pgpgin",
        family: "mem",
        title: "Systemd Services Memory Charging Activity",
        units: "MiB/s",
        priority: 80,
        algorithm: Algorithm::Incremental,
        multiplier: PAGE,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_pgpgout",
        family: "mem",
        title: "Systemd Services Memory Uncharging Activity",
        units: "MiB/s",
        priority: 90,
        algorithm: Algorithm::Incremental,
        multiplier: PAGE,
        divisor: MIB,
    },
    ChartKind {
        id: "mem_failcnt",
        family: "mem",
        title: "Systemd Services Memory Limit Failures",
        units: "failures",
        priority: 110,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "swap_usage",
        family: "swap",
        title: "Systemd Services Swap Memory Used",
        units: "MiB",
        priority: 100,
        algorithm: Algorithm::Absolute,
        multiplier: 1,
        divisor: MIB,
    },
    ChartKind {
        id: "io_read",
        family: "disk",
        title: "Systemd Services Disk Read Bandwidth",
        units: "KiB/s",
        priority: 120,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1024,
    },
    ChartKind {
        id: "io_write",
        family: "disk",
        title: "Systemd Services Disk Write Bandwidth",
        units: "KiB/s",
        priority: 130,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1024,
    },
    ChartKind {
        id: "io_ops_read",
        family: "disk",
        title: "Systemd Services Disk Read Operations",
        units: "operations/s",
        priority: 140,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "io_ops_write",
        family: "disk",
        title: "Systemd Services Disk Write Operations",
        units: "operations/s",
        priority: 150,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "throttle_io_read",
        family: "disk",
        title: "Systemd Services Throttle Disk Read Bandwidth",
        units: "KiB/s",
        priority: 160,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1024,
    },
    ChartKind {
        id: "throttle_io_write",
        family: "disk",
        title: "Systemd Services Throttle Disk Write Bandwidth",
        units: "KiB/s",
        priority: 170,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1024,
    },
    ChartKind {
        id: "throttle_io_ops_read",
        family: "disk",
        title: "Systemd Services Throttle Disk Read Operations",
        units: "operations/s",
        priority: 180,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "throttle_io_ops_write",
        family: "disk",
        title: "Systemd Services Throttle Disk Write Operations",
        units: "operations/s",
        priority: 190,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "queued_io_ops_read",
        family: "disk",
        title: "Systemd Services Queued Disk Read Operations",
        units: "operations/s",
        priority: 200,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "queued_io_ops_write",
        family: "disk",
        title: "Systemd Services Queued Disk Write Operations",
        units: "operations/s",
        priority: 210,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "merged_io_ops_read",
        family: "disk",
        title: "Systemd Services Merged Disk Read Operations",
        units: "operations/s",
        priority: 220,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
    ChartKind {
        id: "merged_io_ops_write",
        family: "disk",
        title: "Systemd Services Merged Disk Write Operations",
        units: "operations/s",
        priority: 230,
        algorithm: Algorithm::Incremental,
        multiplier: 1,
        divisor: 1,
    },
];

/// Stands for the page size in a multiplier (known at run time).
const PAGE: i64 = i64::MIN;

/// The detailed memory charts' places in [`KINDS`] (off unless `enable
/// systemd services detailed memory`; v1 only).
const DETAILED: std::ops::Range<usize> = 2..10;

/// How many services charts there are.
const N: usize = 24;

/// A service's detailed memory figure `i` (rss, mapped, cache,
/// writeback, pgfault, pgmajfault, pgpgin, pgpgout).
fn detailed(r: &ServiceReading, i: usize) -> Option<(u64, bool)> {
    r.detailed.map(|(values, on)| (values[i], on))
}

/// A service's values for each of [`KINDS`], with whether that value is
/// switched on (what makes the chart exist).
fn values(r: &ServiceReading) -> [Option<(u64, bool)>; N] {
    let pair = |v: Option<([u64; 2], bool)>, i: usize| v.map(|(a, on)| (a[i], on));
    [
        r.cpu,
        r.memory,
        detailed(r, 0),
        detailed(r, 1),
        detailed(r, 2),
        detailed(r, 3),
        detailed(r, 4),
        detailed(r, 5),
        detailed(r, 6),
        detailed(r, 7),
        r.failcnt,
        r.swap,
        pair(r.io_bytes, 0),
        pair(r.io_bytes, 1),
        pair(r.io_ops, 0),
        pair(r.io_ops, 1),
        pair(r.throttle_io, 0),
        pair(r.throttle_io, 1),
        pair(r.throttle_ops, 0),
        pair(r.throttle_ops, 1),
        pair(r.queued_ops, 0),
        pair(r.queued_ops, 1),
        pair(r.merged_ops, 0),
        pair(r.merged_ops, 1),
    ]
}

/// A service as the charts see it: its dimension's id and name, and
/// where its dimension is in each chart.
pub(super) struct ServiceDims {
    pub positions: [Option<usize>; N],
}

impl ServiceDims {
    pub(super) fn new() -> ServiceDims {
        ServiceDims {
            positions: [None; N],
        }
    }
}

/// The charts, and each one's values of this round. A round is
/// [`ServicesCharts::want`] for every service, [`ServicesCharts::prepare`],
/// [`ServicesCharts::add`] for every service, [`ServicesCharts::finish`].
pub(super) struct ServicesCharts {
    charts: [Option<ChartHandle>; N],
    round: [Vec<Option<i64>>; N],
    wanted: [bool; N],
    update_every: u32,
    /// The cpu chart's divisor: 1000000 for v2's µs, the clock ticks per
    /// second for v1.
    cpu_divisor: i64,
    /// `enable systemd services detailed memory`.
    detailed_memory: bool,
}

impl ServicesCharts {
    pub(super) fn new(
        update_every: u32,
        cpu_divisor: i64,
        detailed_memory: bool,
    ) -> ServicesCharts {
        ServicesCharts {
            charts: std::array::from_fn(|_| None),
            round: std::array::from_fn(|_| Vec::new()),
            wanted: [false; N],
            update_every,
            cpu_divisor,
            detailed_memory,
        }
    }

    /// A service's values, the detailed memory ones only when switched on.
    fn values(&self, r: &ServiceReading) -> [Option<(u64, bool)>; N] {
        let mut v = values(r);
        if !self.detailed_memory {
            for i in DETAILED {
                v[i] = None;
            }
        }
        v
    }

    /// Notes which charts a service's reading switches on this round.
    pub(super) fn want(&mut self, reading: &ServiceReading) {
        let values = self.values(reading);
        for (w, v) in self.wanted.iter_mut().zip(values) {
            *w |= v.is_some_and(|(_, on)| on);
        }
    }

    /// Makes the charts wanted this round and clears their values.
    pub(super) fn prepare(&mut self, host: &Host) {
        for (k, kind) in KINDS.iter().enumerate() {
            if !self.wanted[k] {
                continue;
            }
            let update_every = self.update_every;
            let chart = self.charts[k].get_or_insert_with(|| {
                let mut def = ChartDef::new("services", kind.id)
                    .family(kind.family)
                    .context(format!("services.{}", kind.id))
                    .title(kind.title)
                    .units(kind.units)
                    .chart_type(ChartType::Stacked)
                    .priority(PRIORITY + kind.priority)
                    .update_every(update_every);
                def.plugin = super::unified::PLUGIN.to_string();
                def.module = MODULE.to_string();
                ChartHandle::create(host, def, &[])
            });
            let round = &mut self.round[k];
            round.clear();
            round.resize(chart.dimension_count(), None);
        }
    }

    /// Sets a service's values in the charts wanted this round, adding its
    /// dimension to a chart the first time.
    pub(super) fn add(
        &mut self,
        reading: &ServiceReading,
        chart_id: &str,
        title: &str,
        dims: &mut ServiceDims,
    ) {
        for (k, value) in self.values(reading).into_iter().enumerate() {
            let (Some((value, _)), true, Some(chart)) =
                (value, self.wanted[k], self.charts[k].as_mut())
            else {
                continue;
            };
            let kind = &KINDS[k];
            let divisor = if k == 0 {
                self.cpu_divisor
            } else {
                kind.divisor
            };
            let round = &mut self.round[k];
            let position = *dims.positions[k].get_or_insert_with(|| {
                chart.add_dimension(
                    DimensionDef::new(chart_id)
                        .name(title)
                        .algorithm(kind.algorithm)
                        .multiplier(if kind.multiplier == PAGE {
                            super::unified::page_size()
                        } else {
                            kind.multiplier
                        })
                        .divisor(divisor),
                )
            });
            if round.len() <= position {
                round.resize(position + 1, None);
            }
            round[position] = i64::try_from(value).ok();
        }
    }

    /// Completes the charts wanted this round.
    pub(super) fn finish(&mut self, cycle: &mut Cycle) {
        for k in 0..KINDS.len() {
            if std::mem::take(&mut self.wanted[k]) {
                if let Some(chart) = self.charts[k].as_mut() {
                    chart.update(cycle, &self.round[k]);
                }
            }
        }
    }
}
