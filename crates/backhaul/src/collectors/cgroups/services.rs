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

/// How many services charts there are.
const N: usize = 16;

/// A service's values for each of [`KINDS`], with whether that value is
/// switched on (what makes the chart exist).
fn values(r: &ServiceReading) -> [Option<(u64, bool)>; N] {
    let pair = |v: Option<([u64; 2], bool)>, i: usize| v.map(|(a, on)| (a[i], on));
    [
        r.cpu,
        r.memory,
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
}

impl ServicesCharts {
    pub(super) fn new(update_every: u32, cpu_divisor: i64) -> ServicesCharts {
        ServicesCharts {
            charts: Default::default(),
            round: Default::default(),
            wanted: [false; N],
            update_every,
            cpu_divisor,
        }
    }

    /// Notes which charts a service's reading switches on this round.
    pub(super) fn want(&mut self, reading: &ServiceReading) {
        for (w, v) in self.wanted.iter_mut().zip(values(reading)) {
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
        for (k, value) in values(reading).into_iter().enumerate() {
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
                        .multiplier(kind.multiplier)
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
