//! `/proc/net/softnet_stat`: the kernel's per-CPU network receive work
//! (`system.softnet_stat`, the sum, and `cpu.cpuN_softnet_stat`, one per
//! line of the file), as netdata 1.37 charts it.
//!
//! The file has one line per CPU of hexadecimal counters; netdata charts
//! columns 0 (processed), 1 (dropped), 2 (squeezed), 9 (received_rps) and
//! 10 (flow_limit_count). As in netdata, the charts are created at once (no
//! `auto` rule), CPU charts are numbered by line, and a last line whose
//! `processed` is zero gets no chart.

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::module_file::ModuleFile;
use super::parse::{lines, words};
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/net/softnet_stat";
const COLLECTOR: &str = "proc:softnet_stat";

/// The charted columns, with their dimension ids.
const COLUMNS: [(usize, &str); 5] = [
    (0, "processed"),
    (1, "dropped"),
    (2, "squeezed"),
    (9, "received_rps"),
    (10, "flow_limit_count"),
];
const WIDTH: usize = COLUMNS.len();

const DIMS: [DimSpec; WIDTH] = [
    DimSpec::incremental("processed", 1, 1),
    DimSpec::incremental("dropped", 1, 1),
    DimSpec::incremental("squeezed", 1, 1),
    DimSpec::incremental("received_rps", 1, 1),
    DimSpec::incremental("flow_limit_count", 1, 1),
];

const SYSTEM_SOFTNET: ChartSpec = ChartSpec {
    type_: "system",
    id: "softnet_stat",
    family: "softnet_stat",
    context: Some("system.softnet_stat"),
    title: "System softnet_stat",
    units: "events/s",
    chart_type: ChartType::Line,
    priority: 955,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const PER_CORE_PRIORITY: i64 = 4101;

/// netdata reads at most this many lines.
const MAX_LINES: usize = 200;

/// A hexadecimal counter as the kernel writes them (`000dd570`).
fn parse_hex(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 16 {
        return None;
    }
    word.iter().try_fold(0u64, |acc, &b| {
        let digit = char::from(b).to_digit(16)?;
        Some(acc << 4 | u64::from(digit))
    })
}

/// The charted columns of one line.
fn parse_line(line: &[u8]) -> Option<[Option<u64>; WIDTH]> {
    let mut values = [None; WIDTH];
    let mut any = false;
    for (column, word) in words(line).enumerate().take(11) {
        if let Some(slot) = COLUMNS.iter().position(|&(c, _)| c == column) {
            values[slot] = parse_hex(word);
            any = true;
        }
    }
    any.then_some(values)
}

fn collected(value: Option<u64>) -> Option<i64> {
    value.and_then(|v| i64::try_from(v).ok())
}

/// Collects `/proc/net/softnet_stat`.
pub struct SoftnetCollector {
    file: ModuleFile,
    update_every: u32,
    system: Option<ChartHandle>,
    cores: Vec<Option<ChartHandle>>,
    /// This cycle's values, one row per line.
    rows: Vec<[Option<u64>; WIDTH]>,
    refused: RefusedRounds,
}

impl SoftnetCollector {
    pub fn new(root: &Path, update_every: u32) -> SoftnetCollector {
        SoftnetCollector {
            file: ModuleFile::new(root, MODULE),
            update_every: update_every.max(1),
            system: None,
            cores: Vec::new(),
            rows: Vec::new(),
            refused: RefusedRounds::default(),
        }
    }

    fn mark_all_obsolete(&mut self) {
        super::chart_handle::mark_all_obsolete(
            std::iter::once(&mut self.system).chain(self.cores.iter_mut()),
        );
    }
}

impl Collector for SoftnetCollector {
    fn name(&self) -> &str {
        COLLECTOR
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read(COLLECTOR) else {
            self.mark_all_obsolete();
            return Ok(());
        };
        self.rows.clear();
        self.rows
            .extend(lines(data).filter_map(parse_line).take(MAX_LINES));
        if self.rows.is_empty() {
            self.mark_all_obsolete();
            return Ok(());
        }
        let mut totals = [None::<u64>; WIDTH];
        for row in &self.rows {
            for (total, value) in totals.iter_mut().zip(row) {
                if let Some(v) = value {
                    *total = Some(total.unwrap_or(0).wrapping_add(*v));
                }
            }
        }
        // netdata leaves out a last line that processed nothing.
        if self.rows.last().is_some_and(|r| r[0].unwrap_or(0) == 0) {
            self.rows.pop();
        }

        let update_every = self.update_every;
        let mut cycle = Cycle::new(now_ut);
        let system = self.system.get_or_insert_with(|| {
            ChartHandle::create(host, SYSTEM_SOFTNET.def(update_every), &DIMS)
        });
        system.update(&mut cycle, &totals.map(collected));

        if self.cores.len() < self.rows.len() {
            self.cores.resize_with(self.rows.len(), || None);
        }
        for (line, (row, core)) in self.rows.iter().zip(&mut self.cores).enumerate() {
            let chart = core.get_or_insert_with(|| {
                let id = format!("cpu{line}_softnet_stat");
                let mut def = rrd::ChartDef::new("cpu", id.as_str())
                    .family("softnet_stat")
                    .context("cpu.softnet_stat")
                    .title("CPU softnet_stat")
                    .units("events/s")
                    .chart_type(ChartType::Line)
                    .priority(PER_CORE_PRIORITY + line as i64)
                    .update_every(update_every);
                def.plugin = PROC_PLUGIN.to_string();
                def.module = MODULE.to_string();
                ChartHandle::create(host, def, &DIMS)
            });
            chart.update(&mut cycle, &row.map(collected));
        }
        for core in self.cores.iter_mut().skip(self.rows.len()).flatten() {
            core.mark_obsolete();
        }

        self.refused.settle(COLLECTOR, cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_counters() {
        assert_eq!(parse_hex(b"000dd570"), Some(0xdd570));
        assert_eq!(parse_hex(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_hex(b"1ffffffffffffffff"), None);
        assert_eq!(parse_hex(b"0x1"), None);
        assert_eq!(parse_hex(b""), None);
    }

    #[test]
    fn lines_pick_five_columns() {
        let row = parse_line(
            b"000dc636 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 0000000a 0000000b 00000000 00000001",
        )
        .unwrap();
        assert_eq!(row, [Some(0xdc636), Some(0), Some(1), Some(10), Some(11)]);
        // An old kernel's shorter line: the missing columns stay unknown.
        let row = parse_line(b"00000010 00000001 00000002").unwrap();
        assert_eq!(row, [Some(16), Some(1), Some(2), None, None]);
        assert_eq!(parse_line(b""), None);
    }
}
