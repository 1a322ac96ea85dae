//! `timex`: the kernel clock's synchronization (`system.clock_sync_state`,
//! `system.clock_status`, `system.clock_sync_offset`), netdata's
//! `timex.plugin`, every 10 s (its `update every`) or the host's
//! interval if longer.

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::source::Trouble;
use crate::collectors::Collector;
use crate::sys::ClockSync;

const PLUGIN: &str = "timex.plugin";

/// netdata's `[plugin:timex] update every` default.
const UPDATE_EVERY: u32 = 10;

const fn spec(
    id: &'static str,
    title: &'static str,
    units: &'static str,
    priority: i64,
) -> ChartSpec {
    ChartSpec {
        type_: "system",
        id,
        family: "clock synchronization",
        context: None,
        title,
        units,
        chart_type: ChartType::Line,
        priority,
        plugin: PLUGIN,
        module: "",
    }
}

const SYNC_STATE: ChartSpec = spec(
    "clock_sync_state",
    "System Clock Synchronization State",
    "state",
    1100,
);
const SYNC_STATE_DIMS: [DimSpec; 1] = [DimSpec::absolute("state", 1, 1)];
const STATUS: ChartSpec = spec("clock_status", "System Clock Status", "status", 1105);
const STATUS_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("unsync", 1, 1),
    DimSpec::absolute("clockerr", 1, 1),
];
const OFFSET: ChartSpec = spec(
    "clock_sync_offset",
    "Computed Time Offset Between Local System and Reference Clock",
    "milliseconds",
    1110,
);

/// Where the collector reads the clock from: the kernel, or a test's
/// stand-in.
pub type ClockSource = fn() -> std::io::Result<ClockSync>;

/// Collects the clock's synchronization state.
pub struct TimexCollector {
    update_every: u32,
    source: ClockSource,
    trouble: Trouble,
    charts: [Option<ChartHandle>; 3],
    refused: RefusedRounds,
}

impl TimexCollector {
    /// Reads the kernel clock every 10 s, or every `host_update_every` if
    /// longer.
    pub fn new(host_update_every: u32) -> TimexCollector {
        TimexCollector::with_source(host_update_every, crate::sys::clock_sync)
    }

    /// Reads the clock from `source`.
    pub fn with_source(host_update_every: u32, source: ClockSource) -> TimexCollector {
        TimexCollector {
            update_every: UPDATE_EVERY.max(host_update_every),
            source,
            trouble: Trouble::default(),
            charts: Default::default(),
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for TimexCollector {
    fn name(&self) -> &str {
        "timex"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let clock = match (self.source)() {
            Ok(clock) => {
                if self.trouble.recover() {
                    tracing::info!("the clock's synchronization state is readable again");
                }
                clock
            }
            Err(error) => {
                if self.trouble.fail() {
                    tracing::warn!(%error, "cannot read the clock's synchronization state");
                }
                super::chart_handle::mark_all_obsolete(self.charts.iter_mut());
                return Ok(());
            }
        };
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        self.charts[0]
            .get_or_insert_with(|| ChartHandle::create(host, SYNC_STATE.def(ue), &SYNC_STATE_DIMS))
            .update(&mut cycle, &[Some(i64::from(clock.synchronized))]);
        self.charts[1]
            .get_or_insert_with(|| ChartHandle::create(host, STATUS.def(ue), &STATUS_DIMS))
            .update(
                &mut cycle,
                &[
                    Some(i64::from(clock.unsync)),
                    Some(i64::from(clock.clockerr)),
                ],
            );
        let per_ms = clock.offset_per_ms;
        self.charts[2]
            .get_or_insert_with(|| {
                ChartHandle::create(
                    host,
                    OFFSET.def(ue),
                    &[DimSpec::absolute("offset", 1, per_ms)],
                )
            })
            .update(&mut cycle, &[Some(clock.offset)]);
        self.refused.settle("timex", cycle);
        Ok(())
    }
}
