//! `/proc/sys/kernel/random/entropy_avail`: the kernel's available entropy
//! (`system.entropy`).

use std::path::Path;

use rrd::ChartType;

use super::chart_handle::{ChartSpec, DimSpec};
use super::one_value::{OneValue, OneValueCollector};
use super::parse::{parse_i64, words};
use super::PROC_PLUGIN;

const MODULE: &str = "/proc/sys/kernel/random/entropy_avail";

static ENTROPY: OneValue = OneValue {
    collector: "proc:entropy",
    path: MODULE,
    chart: ChartSpec {
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
    },
    dims: [DimSpec::absolute("entropy", 1, 1)],
    parse: |data| words(data).next().and_then(parse_i64),
};

/// Collects `/proc/sys/kernel/random/entropy_avail`.
pub(crate) fn collector(root: &Path, update_every: u32) -> OneValueCollector {
    OneValueCollector::new(root, update_every, &ENTROPY)
}
