//! `/proc/vmstat`: memory paged in from and out to disk (`system.pgpgio`,
//! KiB/s, `out` negative), page faults (`mem.pgfaults`, `major`
//! negative), swap I/O (`system.swapio`, pages times the page size),
//! out-of-memory kills (`mem.oom_kill`) and NUMA events (`mem.numa`).
//!
//! As in netdata 1.37: `system.swapio` is an `auto` chart (created once a
//! page was swapped); `mem.oom_kill` is there whenever the kernel has the
//! `oom_kill` counter; `mem.numa` only on a machine with two NUMA nodes or
//! more (`/sys/devices/system/node/node*`) whose counters are not all zero
//! on the first read.

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{
    mark_all_obsolete, ChartHandle, ChartSpec, Cycle, DimSpec, RefusedRounds,
};
use super::ondemand::{
    any_nonzero, enabled, no_chart_switches, on_demand, ChartSwitches, OnDemand,
};
use super::parse::{lines, parse_i64, words};
use super::source::host_path;
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

const SYSTEM_SWAPIO: ChartSpec = ChartSpec {
    type_: "system",
    id: "swapio",
    family: "swap",
    context: None,
    title: "Swap I/O",
    units: "KiB/s",
    chart_type: ChartType::Area,
    priority: 250,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
fn swapio_dims(page_size: i64) -> [DimSpec; 2] {
    [
        DimSpec::incremental("in", page_size, 1024),
        DimSpec::incremental("out", -page_size, 1024),
    ]
}

const MEM_OOM_KILL: ChartSpec = ChartSpec {
    type_: "mem",
    id: "oom_kill",
    family: "system",
    context: None,
    title: "Out of Memory Kills",
    units: "kills/s",
    chart_type: ChartType::Line,
    priority: 1020,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const OOM_KILL_DIMS: [DimSpec; 1] = [DimSpec::incremental("kills", 1, 1)];

const MEM_NUMA: ChartSpec = ChartSpec {
    type_: "mem",
    id: "numa",
    family: "numa",
    context: None,
    title: "NUMA events",
    units: "events/s",
    chart_type: ChartType::Line,
    priority: 1400,
    plugin: PROC_PLUGIN,
    module: MODULE,
};
const NUMA_DIMS: [DimSpec; 9] = [
    DimSpec::incremental("local", 1, 1),
    DimSpec::incremental("foreign", 1, 1),
    DimSpec::incremental("interleave", 1, 1),
    DimSpec::incremental("other", 1, 1),
    DimSpec::incremental("pte_updates", 1, 1),
    DimSpec::incremental("huge_pte_updates", 1, 1),
    DimSpec::incremental("hint_faults", 1, 1),
    DimSpec::incremental("hint_faults_local", 1, 1),
    DimSpec::incremental("pages_migrated", 1, 1),
];

/// The vmstat counters the charts use, in the order of [`Field`]; the NUMA
/// ones in `mem.numa`'s dimension order.
const FIELD_NAMES: [&[u8]; 16] = [
    b"pgpgin",
    b"pgpgout",
    b"pgfault",
    b"pgmajfault",
    b"pswpin",
    b"pswpout",
    b"oom_kill",
    b"numa_local",
    b"numa_foreign",
    b"numa_interleave",
    b"numa_other",
    b"numa_pte_updates",
    b"numa_huge_pte_updates",
    b"numa_hint_faults",
    b"numa_hint_faults_local",
    b"numa_pages_migrated",
];

#[derive(Clone, Copy)]
enum Field {
    PgpgIn,
    PgpgOut,
    PgFault,
    PgMajFault,
    PswpIn,
    PswpOut,
    OomKill,
    /// The first of the nine NUMA counters.
    NumaLocal,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct VmStat {
    values: [Option<i64>; FIELD_NAMES.len()],
}

impl VmStat {
    fn parse(data: &[u8]) -> VmStat {
        let mut stat = VmStat::default();
        for line in lines(data) {
            let mut w = words(line);
            let (Some(key), Some(value)) = (w.next(), w.next()) else {
                continue;
            };
            let Some(index) = FIELD_NAMES.iter().position(|&name| name == key) else {
                continue;
            };
            let slot = &mut stat.values[index];
            if slot.is_none() {
                *slot = parse_i64(value);
            }
        }
        stat
    }

    fn get(&self, field: Field) -> Option<i64> {
        self.values[field as usize]
    }

    fn numa(&self) -> &[Option<i64>] {
        &self.values[Field::NumaLocal as usize..]
    }
}

/// The number of `node*` directories below `/sys/devices/system/node`.
fn numa_node_count(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(host_path(root, "/sys/devices/system/node")) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.as_encoded_bytes();
            name.len() > 4 && name.starts_with(b"node") && name[4..].iter().all(u8::is_ascii_digit)
        })
        .count()
}

/// Collects `/proc/vmstat`.
pub struct VmstatCollector {
    file: SourceFile,
    update_every: u32,
    page_size: i64,
    do_swapio: OnDemand,
    do_io: bool,
    do_pgfaults: bool,
    do_oom_kill: bool,
    /// The `system-wide numa metric summary` switch.
    numa_switch: OnDemand,
    /// Decided on the first read: two NUMA nodes or more and a non-zero
    /// NUMA counter (under `auto`).
    do_numa: Option<bool>,
    numa_nodes: usize,
    pgpgio: Option<ChartHandle>,
    pgfaults: Option<ChartHandle>,
    swapio: Option<ChartHandle>,
    oom_kill: Option<ChartHandle>,
    numa: Option<ChartHandle>,
    refused: RefusedRounds,
}

impl VmstatCollector {
    pub fn new(root: &Path, update_every: u32) -> VmstatCollector {
        VmstatCollector::configured(root, update_every, &no_chart_switches)
    }

    /// With the per-chart switches of `[plugin:proc:/proc/vmstat]`.
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> VmstatCollector {
        VmstatCollector {
            file: SourceFile::new(root, "/proc/vmstat"),
            update_every: update_every.max(1),
            page_size: i64::try_from(crate::sys::page_size()).unwrap_or(4096),
            do_swapio: on_demand(switches, MODULE, "swap i/o", OnDemand::Auto),
            do_io: enabled(switches, MODULE, "disk i/o"),
            do_pgfaults: enabled(switches, MODULE, "memory page faults"),
            do_oom_kill: enabled(switches, MODULE, "out of memory kills"),
            numa_switch: on_demand(
                switches,
                MODULE,
                "system-wide numa metric summary",
                OnDemand::Auto,
            ),
            do_numa: None,
            numa_nodes: numa_node_count(root),
            pgpgio: None,
            pgfaults: None,
            swapio: None,
            oom_kill: None,
            numa: None,
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
            mark_all_obsolete([
                &mut self.pgpgio,
                &mut self.pgfaults,
                &mut self.swapio,
                &mut self.oom_kill,
                &mut self.numa,
            ]);
            return Ok(());
        };
        let stat = VmStat::parse(data);
        let ue = self.update_every;
        let mut cycle = Cycle::new(now_ut);

        let swapio = [stat.get(Field::PswpIn), stat.get(Field::PswpOut)];
        if self.do_swapio.wants(any_nonzero(&swapio)) {
            let page_size = self.page_size;
            self.swapio
                .get_or_insert_with(|| {
                    ChartHandle::create(host, SYSTEM_SWAPIO.def(ue), &swapio_dims(page_size))
                })
                .update(&mut cycle, &swapio);
        }
        let pgpgio = [stat.get(Field::PgpgIn), stat.get(Field::PgpgOut)];
        if self.do_io && pgpgio.iter().any(Option::is_some) {
            self.pgpgio
                .get_or_insert_with(|| {
                    ChartHandle::create(host, SYSTEM_PGPGIO.def(ue), &PGPGIO_DIMS)
                })
                .update(&mut cycle, &pgpgio);
        }
        let pgfaults = [stat.get(Field::PgFault), stat.get(Field::PgMajFault)];
        if self.do_pgfaults && pgfaults.iter().any(Option::is_some) {
            self.pgfaults
                .get_or_insert_with(|| {
                    ChartHandle::create(host, MEM_PGFAULTS.def(ue), &PGFAULTS_DIMS)
                })
                .update(&mut cycle, &pgfaults);
        }
        if let Some(kills) = stat.get(Field::OomKill).filter(|_| self.do_oom_kill) {
            self.oom_kill
                .get_or_insert_with(|| {
                    ChartHandle::create(host, MEM_OOM_KILL.def(ue), &OOM_KILL_DIMS)
                })
                .update(&mut cycle, &[Some(kills)]);
        }
        let numa_nodes = self.numa_nodes;
        let numa_switch = self.numa_switch;
        let do_numa = *self.do_numa.get_or_insert_with(|| match numa_switch {
            OnDemand::Yes => true,
            OnDemand::No => false,
            OnDemand::Auto => numa_nodes >= 2 && any_nonzero(stat.numa()),
        });
        if do_numa {
            self.numa
                .get_or_insert_with(|| ChartHandle::create(host, MEM_NUMA.def(ue), &NUMA_DIMS))
                .update(&mut cycle, stat.numa());
        }

        self.refused.settle("proc:vmstat", cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_its_counters() {
        let stat = VmStat::parse(
            b"nr_free_pages 5\npgpgin 10\npgpgout 20\npgfault 30\npgmajfault x\nbad\n",
        );
        assert_eq!(stat.get(Field::PgpgIn), Some(10));
        assert_eq!(stat.get(Field::PgpgOut), Some(20));
        assert_eq!(stat.get(Field::PgFault), Some(30));
        assert_eq!(stat.get(Field::PgMajFault), None);
        assert_eq!(stat.get(Field::OomKill), None);
    }
}
