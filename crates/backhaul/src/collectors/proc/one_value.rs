//! [`OneValueCollector`]: the collector of a kernel file whose one number
//! makes one chart of one dimension (`entropy.rs`, `uptime.rs`). The file
//! is re-read every cycle; while it cannot be read the chart is obsolete,
//! and a content that does not parse is skipped.

use std::path::Path;

use rrd::Host;

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::source::SourceFile;
use crate::collectors::Collector;

/// What a [`OneValueCollector`] reads and what it makes of it.
pub(crate) struct OneValue {
    /// The collector's name in logs (`proc:entropy`).
    pub collector: &'static str,
    /// The kernel file, an absolute path below the host root.
    pub path: &'static str,
    pub chart: ChartSpec,
    pub dims: [DimSpec; 1],
    /// The value of the file's content, `None` when it does not parse.
    pub parse: fn(&[u8]) -> Option<i64>,
}

/// Collects one [`OneValue`].
pub(crate) struct OneValueCollector {
    what: &'static OneValue,
    file: SourceFile,
    update_every: u32,
    chart: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl OneValueCollector {
    pub(crate) fn new(root: &Path, update_every: u32, what: &'static OneValue) -> Self {
        OneValueCollector {
            what,
            file: SourceFile::new(root, what.path),
            update_every: update_every.max(1),
            chart: None,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for OneValueCollector {
    fn name(&self) -> &str {
        self.what.collector
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
        let Some(value) = (self.what.parse)(data) else {
            return Ok(());
        };
        let what = self.what;
        let update_every = self.update_every;
        let chart = self.chart.get_or_insert_with(|| {
            ChartHandle::create(host, what.chart.def(update_every), &what.dims)
        });
        let mut cycle = Cycle::new(now_ut);
        chart.update(&mut cycle, &[Some(value)]);
        self.refused.settle(what.collector, cycle);
        Ok(())
    }
}
