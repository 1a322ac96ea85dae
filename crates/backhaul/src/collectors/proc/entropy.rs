//! `/proc/sys/kernel/random/entropy_avail`: the kernel's available entropy
//! (`system.entropy`).

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::parse::{parse_i64, words};
use super::source::SourceFile;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/sys/kernel/random/entropy_avail";

const SYSTEM_ENTROPY: ChartSpec = ChartSpec {
    type_: "system",
    id: "entropy",
    family: "entropy",
    context: None,
    title: "Available Entropy",
    units: "entropy",
    chart_type: ChartType::Line,
    priority: 1000,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const ENTROPY_DIMS: [DimSpec; 1] = [DimSpec::absolute("entropy", 1, 1)];

/// Collects `/proc/sys/kernel/random/entropy_avail`.
pub struct EntropyCollector {
    file: SourceFile,
    update_every: u32,
    chart: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl EntropyCollector {
    pub fn new(root: &Path, update_every: u32) -> EntropyCollector {
        EntropyCollector {
            file: SourceFile::new(root, MODULE),
            update_every: update_every.max(1),
            chart: None,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for EntropyCollector {
    fn name(&self) -> &str {
        "proc:entropy"
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
        let Some(entropy) = words(data).next().and_then(parse_i64) else {
            return Ok(());
        };
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        self.chart
            .get_or_insert_with(|| ChartHandle::create(host, SYSTEM_ENTROPY.def(ue), &ENTROPY_DIMS))
            .update(&mut cycle, &[Some(entropy)]);
        self.refused.settle("proc:entropy", cycle);
        Ok(())
    }
}
