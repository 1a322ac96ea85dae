//! `/sys/kernel/mm/ksm`: kernel same-page merging. Pages shared, sharing,
//! unshared and volatile (`mem.ksm`, MiB), the memory saved against the
//! memory offered (`mem.ksm_savings`) and their ratio (`mem.ksm_ratios`).
//!
//! As in netdata 1.37, nothing is charted while no page is offered (KSM
//! idle, the usual case).

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{
    mark_all_obsolete, ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds,
};
use super::parse::{parse_u64, words};
use super::source::SourceFile;
use crate::collectors::Collector;

const MODULE: &str = "/sys/kernel/mm/ksm";

const fn spec(
    id: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
) -> ChartSpec {
    ChartSpec::proc(MODULE, "mem", id, "ksm", title, units, chart_type, priority)
}

const MEM_KSM: ChartSpec = spec(
    "ksm",
    "Kernel Same Page Merging",
    "MiB",
    ChartType::Stacked,
    1300,
);
const KSM_DIMS: [DimSpec; 4] = [
    DimSpec::absolute("shared", 1, 1024 * 1024),
    DimSpec::absolute("unshared", -1, 1024 * 1024),
    DimSpec::absolute("sharing", 1, 1024 * 1024),
    DimSpec::absolute("volatile", -1, 1024 * 1024),
];
const MEM_KSM_SAVINGS: ChartSpec = spec(
    "ksm_savings",
    "Kernel Same Page Merging Savings",
    "MiB",
    ChartType::Area,
    1301,
);
const SAVINGS_DIMS: [DimSpec; 2] = [
    DimSpec::absolute("savings", -1, 1024 * 1024),
    DimSpec::absolute("offered", 1, 1024 * 1024),
];
const MEM_KSM_RATIOS: ChartSpec = spec(
    "ksm_ratios",
    "Kernel Same Page Merging Effectiveness",
    "percentage",
    ChartType::Line,
    1302,
);
const RATIOS_DIMS: [DimSpec; 1] = [DimSpec::absolute("savings", 1, 10000)];

const FILES: [&str; 4] = [
    "pages_shared",
    "pages_sharing",
    "pages_unshared",
    "pages_volatile",
];

/// Collects `/sys/kernel/mm/ksm`.
pub struct KsmCollector {
    files: Vec<SourceFile>,
    update_every: u32,
    page_size: u64,
    charts: [Option<ChartHandle>; 3],
    refused: RefusedRounds,
}

impl KsmCollector {
    pub fn new(root: &Path, update_every: u32) -> KsmCollector {
        KsmCollector {
            files: FILES
                .iter()
                .map(|f| SourceFile::new(root, &format!("{MODULE}/{f}")))
                .collect(),
            update_every: update_every.max(1),
            page_size: crate::sys::page_size() as u64,
            charts: Default::default(),
            refused: RefusedRounds::default(),
        }
    }
}

/// shared, sharing, unshared, volatile (pages) → the three charts' values
/// in bytes (and the ratio in 1/10000 %), or `None` while nothing is
/// offered.
fn ksm_values(pages: [u64; 4], page_size: u64) -> Option<([i64; 4], [i64; 2], i64)> {
    let [shared, sharing, unshared, volatile] = pages;
    let offered = shared
        .wrapping_add(sharing)
        .wrapping_add(unshared)
        .wrapping_add(volatile);
    if offered == 0 {
        return None;
    }
    // netdata counts the sharing pages as saved.
    let saved = sharing;
    let bytes = |pages: u64| i64::try_from(pages.wrapping_mul(page_size)).unwrap_or(i64::MAX);
    Some((
        [
            bytes(shared),
            bytes(unshared),
            bytes(sharing),
            bytes(volatile),
        ],
        [bytes(saved), bytes(offered)],
        i64::try_from(saved.wrapping_mul(1_000_000) / offered).unwrap_or(0),
    ))
}

impl Collector for KsmCollector {
    fn name(&self) -> &str {
        "proc:ksm"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let mut pages = [0u64; 4];
        for (value, file) in pages.iter_mut().zip(&mut self.files) {
            let Some(data) = file.read() else {
                mark_all_obsolete(self.charts.iter_mut());
                return Ok(());
            };
            *value = words(data).next().and_then(parse_u64).unwrap_or(0);
        }
        let Some((ksm, savings, ratio)) = ksm_values(pages, self.page_size) else {
            return Ok(());
        };
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        self.charts[0]
            .get_or_insert_with(|| ChartHandle::create(host, MEM_KSM.def(ue), &KSM_DIMS))
            .update(&mut cycle, &ksm.map(Some));
        self.charts[1]
            .get_or_insert_with(|| {
                ChartHandle::create(host, MEM_KSM_SAVINGS.def(ue), &SAVINGS_DIMS)
            })
            .update(&mut cycle, &savings.map(Some));
        self.charts[2]
            .get_or_insert_with(|| ChartHandle::create(host, MEM_KSM_RATIOS.def(ue), &RATIOS_DIMS))
            .update(&mut cycle, &[Some(ratio)]);
        self.refused.settle("proc:ksm", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn savings_follow_netdata() {
        assert_eq!(ksm_values([0; 4], 4096), None);
        // shared 10, sharing 50, unshared 30, volatile 10: offered 100, saved 50
        let (ksm, savings, ratio) = ksm_values([10, 50, 30, 10], 4096).unwrap();
        assert_eq!(ksm, [40960, 122880, 204800, 40960]);
        assert_eq!(savings, [204800, 409600]);
        assert_eq!(ratio, 500_000);
    }
}
