//! `idlejitter`: how late the machine wakes a thread that sleeps 20 ms
//! (`system.idlejitter`: the smallest, largest and average lateness of
//! each interval, in microseconds), netdata's `idlejitter.plugin`.
//!
//! netdata measures on a thread of its own for a whole interval; here the
//! measurement runs inside the collection, for the interval less 100 ms
//! (so that the collector keeps its grid), and the round is completed at
//! the interval's start.

use std::time::{Duration, Instant};

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use crate::collectors::Collector;

/// The plugin name netdata gives the chart.
const PLUGIN: &str = "idlejitter.plugin";

/// netdata's `loop time in ms` default.
const SLEEP: Duration = Duration::from_millis(20);

/// Left out of each interval for the collector to keep its grid.
const MARGIN: Duration = Duration::from_millis(100);

const SYSTEM_IDLEJITTER: ChartSpec = ChartSpec {
    type_: "system",
    id: "idlejitter",
    family: "idlejitter",
    context: None,
    title: "CPU Idle Jitter",
    units: "microseconds lost/s",
    chart_type: ChartType::Area,
    priority: 800,
    plugin: PLUGIN,
    module: "",
};
const IDLEJITTER_DIMS: [DimSpec; 3] = [
    DimSpec::absolute("min", 1, 1),
    DimSpec::absolute("max", 1, 1),
    DimSpec::absolute("average", 1, 1),
];

/// Lateness statistics of a run of sleeps, in microseconds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Jitter {
    min: i64,
    max: i64,
    total: i64,
    iterations: i64,
}

impl Jitter {
    fn add(&mut self, late_us: i64) {
        if self.iterations == 0 || late_us < self.min {
            self.min = late_us;
        }
        self.max = self.max.max(late_us);
        self.total = self.total.saturating_add(late_us);
        self.iterations += 1;
    }

    fn values(&self) -> Option<[Option<i64>; 3]> {
        (self.iterations > 0).then(|| {
            [
                Some(self.min),
                Some(self.max),
                Some(self.total / self.iterations),
            ]
        })
    }
}

/// Measures idle jitter.
pub struct IdlejitterCollector {
    update_every: u32,
    window: Duration,
    chart: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl IdlejitterCollector {
    pub fn new(update_every: u32) -> IdlejitterCollector {
        let update_every = update_every.max(1);
        IdlejitterCollector {
            update_every,
            window: Duration::from_secs(u64::from(update_every)).saturating_sub(MARGIN),
            chart: None,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for IdlejitterCollector {
    fn name(&self) -> &str {
        "idlejitter"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut jitter = Jitter::default();
        while start.elapsed() < self.window {
            let before = Instant::now();
            std::thread::sleep(SLEEP);
            let slept = before.elapsed().saturating_sub(SLEEP);
            jitter.add(i64::try_from(slept.as_micros()).unwrap_or(i64::MAX));
        }
        let Some(values) = jitter.values() else {
            return Ok(());
        };
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        self.chart
            .get_or_insert_with(|| {
                ChartHandle::create(host, SYSTEM_IDLEJITTER.def(ue), &IDLEJITTER_DIMS)
            })
            .update(&mut cycle, &values);
        self.refused.settle("idlejitter", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_statistics() {
        let mut j = Jitter::default();
        assert_eq!(j.values(), None);
        for late in [30, 10, 50] {
            j.add(late);
        }
        assert_eq!(j.values(), Some([Some(10), Some(50), Some(30)]));
    }
}
