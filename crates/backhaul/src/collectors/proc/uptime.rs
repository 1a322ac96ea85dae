//! `/proc/uptime`: the time since boot (`system.uptime`), collected in
//! milliseconds and stored in seconds, as netdata does.
//!
//! netdata reads `CLOCK_BOOTTIME` instead when it agrees with the file
//! within a second; backhaul always reads the file, so that a host root
//! other than `/` (and the test fixtures) is honoured.

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::parse::{lines, parse_f64, thousandths, words};
use super::source::SourceFile;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const SYSTEM_UPTIME: ChartSpec = ChartSpec {
    type_: "system",
    id: "uptime",
    family: "uptime",
    context: None,
    title: "System Uptime",
    units: "seconds",
    chart_type: ChartType::Line,
    priority: 1000,
    plugin: PROC_PLUGIN,
    module: "/proc/uptime",
};
const UPTIME_DIMS: [DimSpec; 1] = [DimSpec::absolute("uptime", 1, 1000)];

/// The uptime in milliseconds: the first number of the file, times 1000.
fn uptime_ms(data: &[u8]) -> Option<i64> {
    let first = lines(data).next()?;
    words(first)
        .next()
        .and_then(parse_f64)
        .and_then(thousandths)
}

/// Collects `/proc/uptime`.
pub struct UptimeCollector {
    file: SourceFile,
    update_every: u32,
    chart: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl UptimeCollector {
    pub fn new(root: &Path, update_every: u32) -> UptimeCollector {
        UptimeCollector {
            file: SourceFile::new(root, "/proc/uptime"),
            update_every: update_every.max(1),
            chart: None,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for UptimeCollector {
    fn name(&self) -> &str {
        "proc:uptime"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            if let Some(chart) = &mut self.chart {
                chart.mark_obsolete();
            }
            return Ok(());
        };
        let Some(uptime) = uptime_ms(data) else {
            return Ok(());
        };
        let update_every = self.update_every;
        let chart = self.chart.get_or_insert_with(|| {
            ChartHandle::create(host, SYSTEM_UPTIME.def(update_every), &UPTIME_DIMS)
        });
        let mut cycle = Cycle::new(now_ut);
        chart.update(&mut cycle, &[Some(uptime)]);
        self.refused.settle("proc:uptime", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_first_number() {
        assert_eq!(uptime_ms(b"678.26 858.50\n"), Some(678_260));
        assert_eq!(uptime_ms(b"12\n"), Some(12_000));
        assert_eq!(uptime_ms(b"abc 1\n"), None);
        assert_eq!(uptime_ms(b"\n"), None);
    }
}
