//! `/proc/vmstat`: memory paged in from and out to disk (`system.pgpgio`,
//! KiB/s, `out` negative) and page faults (`mem.pgfaults`, `major`
//! negative).

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::parse::{lines, parse_i64, words};
use super::source::SourceFile;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

const MODULE: &str = "/proc/vmstat";

const SYSTEM_PGPGIO: ChartSpec = ChartSpec {
    type_: "system",
    id: "pgpgio",
    family: "disk",
    context: None,
    title: "Memory Paged from/to disk",
    units: "KiB/s",
    chart_type: ChartType::Area,
    priority: 151,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const PGPGIO_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("in", 1, 1),
    DimSpec::incremental("out", -1, 1),
];

const MEM_PGFAULTS: ChartSpec = ChartSpec {
    type_: "mem",
    id: "pgfaults",
    family: "system",
    context: None,
    title: "Memory Page Faults",
    units: "faults/s",
    chart_type: ChartType::Line,
    priority: 1040,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const PGFAULTS_DIMS: [DimSpec; 2] = [
    DimSpec::incremental("minor", 1, 1),
    DimSpec::incremental("major", -1, 1),
];

#[derive(Debug, Default, PartialEq, Eq)]
struct VmStat {
    pgpgin: Option<i64>,
    pgpgout: Option<i64>,
    pgfault: Option<i64>,
    pgmajfault: Option<i64>,
}

impl VmStat {
    fn parse(data: &[u8]) -> VmStat {
        let mut stat = VmStat::default();
        for line in lines(data) {
            let mut w = words(line);
            let (Some(key), Some(value)) = (w.next(), w.next()) else {
                continue;
            };
            let slot = match key {
                b"pgpgin" => &mut stat.pgpgin,
                b"pgpgout" => &mut stat.pgpgout,
                b"pgfault" => &mut stat.pgfault,
                b"pgmajfault" => &mut stat.pgmajfault,
                _ => continue,
            };
            if slot.is_none() {
                *slot = parse_i64(value);
            }
        }
        stat
    }
}

/// Collects `/proc/vmstat`.
pub struct VmstatCollector {
    file: SourceFile,
    update_every: u32,
    pgpgio: Option<ChartHandle>,
    pgfaults: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl VmstatCollector {
    pub fn new(root: &Path, update_every: u32) -> VmstatCollector {
        VmstatCollector {
            file: SourceFile::new(root, "/proc/vmstat"),
            update_every: update_every.max(1),
            pgpgio: None,
            pgfaults: None,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for VmstatCollector {
    fn name(&self) -> &str {
        "proc:vmstat"
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let Some(data) = self.file.read() else {
            super::chart_handle::mark_all_obsolete([&mut self.pgpgio, &mut self.pgfaults]);
            return Ok(());
        };
        let stat = VmStat::parse(data);
        let update_every = self.update_every;
        let mut cycle = Cycle::new(now_ut);

        if stat.pgpgin.is_some() || stat.pgpgout.is_some() {
            self.pgpgio
                .get_or_insert_with(|| {
                    ChartHandle::create(host, SYSTEM_PGPGIO.def(update_every), &PGPGIO_DIMS)
                })
                .update(&mut cycle, &[stat.pgpgin, stat.pgpgout]);
        }
        if stat.pgfault.is_some() || stat.pgmajfault.is_some() {
            self.pgfaults
                .get_or_insert_with(|| {
                    ChartHandle::create(host, MEM_PGFAULTS.def(update_every), &PGFAULTS_DIMS)
                })
                .update(&mut cycle, &[stat.pgfault, stat.pgmajfault]);
        }

        self.refused.settle("proc:vmstat", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_its_four_counters() {
        let stat = VmStat::parse(
            b"nr_free_pages 5\npgpgin 10\npgpgout 20\npgfault 30\npgmajfault x\nbad\n",
        );
        assert_eq!(
            stat,
            VmStat {
                pgpgin: Some(10),
                pgpgout: Some(20),
                pgfault: Some(30),
                pgmajfault: None,
            }
        );
    }
}
