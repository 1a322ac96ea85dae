//! `/sys/block/zram*`: compressed RAM block devices. Per device, memory
//! used (`mem.zram_usage.DEV`), saved (`mem.zram_savings.DEV`), the
//! compression ratio (`mem.zram_ratio.DEV`) and the allocator's efficiency
//! (`mem.zram_efficiency.DEV`), from its `mm_stat`.
//!
//! netdata finds the devices once, at start, by the zram major number of
//! the files in `/dev`; backhaul finds them once too, as the `zram*`
//! entries of `/sys/block` that have an `mm_stat` (the same devices, and
//! no `/dev` scan).

use std::path::Path;

use rrd::{ChartDef, ChartType, Host};

use super::chart_handle::{
    auto_label, mark_all_obsolete, ChartHandle, Cycle, DimSpec, RefusedRounds,
};
use super::parse::{parse_u64, words};
use super::source::{host_path, SourceFile};
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/sys/block/zram";

const MIB: i64 = 1024 * 1024;

struct ZramChart {
    id: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
    dims: &'static [DimSpec],
}

const CHARTS: [ZramChart; 4] = [
    ZramChart {
        id: "zram_usage",
        title: "ZRAM Memory Usage",
        units: "MiB",
        chart_type: ChartType::Area,
        priority: 1600,
        dims: &[
            DimSpec::absolute("compressed", 1, MIB),
            DimSpec::absolute("metadata", 1, MIB),
        ],
    },
    ZramChart {
        id: "zram_savings",
        title: "ZRAM Memory Savings",
        units: "MiB",
        chart_type: ChartType::Area,
        priority: 1601,
        dims: &[
            DimSpec::absolute("savings", 1, MIB),
            DimSpec::absolute("original", 1, MIB),
        ],
    },
    ZramChart {
        id: "zram_ratio",
        title: "ZRAM Compression Ratio (original to compressed)",
        units: "ratio",
        chart_type: ChartType::Line,
        priority: 1602,
        dims: &[DimSpec::absolute("ratio", 1, 100)],
    },
    ZramChart {
        id: "zram_efficiency",
        title: "ZRAM Efficiency",
        units: "percentage",
        chart_type: ChartType::Line,
        priority: 1603,
        dims: &[DimSpec::absolute("percent", 1, 10000)],
    },
];

/// The first three numbers of `mm_stat`: original size, compressed size
/// and memory used in total (bytes); `None` with fewer than 7 fields.
fn parse_mm_stat(data: &[u8]) -> Option<[i64; 3]> {
    let mut fields = [0i64; 3];
    let mut count = 0;
    for (i, word) in words(data).enumerate() {
        if i < 3 {
            fields[i] = parse_u64(word).and_then(|v| i64::try_from(v).ok())?;
        }
        count += 1;
    }
    (count >= 7).then_some(fields)
}

/// The four charts' values from original, compressed and total, as netdata
/// computes them (integer divisions).
fn zram_values([original, compressed, total]: [i64; 3]) -> [[Option<i64>; 2]; 4] {
    let ratio = if compressed == 0 {
        1
    } else {
        original.saturating_mul(100) / compressed
    };
    let efficiency = if total == 0 {
        100
    } else {
        compressed.saturating_mul(1_000_000) / total
    };
    [
        [Some(compressed), Some(total - compressed)],
        [Some(compressed - original), Some(original)],
        [Some(ratio), None],
        [Some(efficiency), None],
    ]
}

struct Device {
    name: String,
    file: SourceFile,
    charts: [Option<ChartHandle>; 4],
}

/// Collects `/sys/block/zram*`.
pub struct ZramCollector {
    root: std::path::PathBuf,
    update_every: u32,
    devices: Option<Vec<Device>>,
    refused: RefusedRounds,
}

impl ZramCollector {
    pub fn new(root: &Path, update_every: u32) -> ZramCollector {
        ZramCollector {
            root: root.to_path_buf(),
            update_every: update_every.max(1),
            devices: None,
            refused: RefusedRounds::default(),
        }
    }
}

fn find_devices(root: &Path) -> Vec<Device> {
    let block = host_path(root, "/sys/block");
    let mut names: Vec<String> = std::fs::read_dir(&block)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("zram") && block.join(n).join("mm_stat").exists())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    if names.is_empty() {
        tracing::info!(path = %block.display(), "no zram devices; the zram charts are off");
    }
    names
        .into_iter()
        .map(|name| Device {
            file: SourceFile::new(root, &format!("/sys/block/{name}/mm_stat")),
            name,
            charts: Default::default(),
        })
        .collect()
}

fn chart_def(device: &str, chart: &ZramChart, update_every: u32) -> ChartDef {
    let mut def = ChartDef::new("mem", format!("{}.{device}", chart.id))
        .family(device)
        .context(format!("mem.{}", chart.id))
        .title(chart.title)
        .units(chart.units)
        .chart_type(chart.chart_type)
        .priority(chart.priority)
        .update_every(update_every)
        .label(auto_label("device", device));
    def.plugin = PROC_PLUGIN.to_string();
    def.module = MODULE.to_string();
    def
}

impl Collector for ZramCollector {
    fn name(&self) -> &str {
        "proc:zram"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let root = &self.root;
        let devices = self.devices.get_or_insert_with(|| find_devices(root));
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        for device in devices.iter_mut() {
            let Some(stat) = device.file.read().and_then(parse_mm_stat) else {
                mark_all_obsolete(device.charts.iter_mut());
                continue;
            };
            let values = zram_values(stat);
            for ((slot, spec), values) in device.charts.iter_mut().zip(&CHARTS).zip(&values) {
                slot.get_or_insert_with(|| {
                    ChartHandle::create(host, chart_def(&device.name, spec, ue), spec.dims)
                })
                .update(&mut cycle, &values[..spec.dims.len()]);
            }
        }
        self.refused.settle("proc:zram", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm_stat_and_values() {
        assert_eq!(parse_mm_stat(b"0 0 0 0 0 0 0 0 0\n"), Some([0, 0, 0]));
        assert_eq!(parse_mm_stat(b"1 2 3\n"), None);
        let idle = zram_values([0, 0, 0]);
        assert_eq!(idle[2][0], Some(1));
        assert_eq!(idle[3][0], Some(100));
        // original 4000, compressed 1000, total 1250
        let v = zram_values([4000, 1000, 1250]);
        assert_eq!(v[0], [Some(1000), Some(250)]);
        assert_eq!(v[1], [Some(-3000), Some(4000)]);
        assert_eq!(v[2][0], Some(400));
        assert_eq!(v[3][0], Some(800_000));
    }
}
