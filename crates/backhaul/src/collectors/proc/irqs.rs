//! `/proc/interrupts` and `/proc/softirqs`: interrupts per second by source,
//! system-wide (`system.interrupts`, `system.softirqs`) and per CPU
//! (`cpu.cpuN_interrupts`, `cpu.cpuN_softirqs`).
//!
//! Both files are a table: a header of `CPUn` columns, then one line per
//! source with a count per CPU. netdata 1.37's rules, kept here:
//!
//! * a source becomes a dimension of the system chart once its total is
//!   non-zero, and of a CPU's chart once its count on that CPU is;
//! * a numbered interrupt is named after its device, the line's last word
//!   (after `:`), then `_` and its number (`ttyS0_26`); other sources
//!   (`LOC`, `TIMER`) by their id; a name is at most 50 bytes;
//! * every CPU gets an interrupts chart; a CPU gets a softirqs chart once
//!   one of its counts is non-zero.

use std::path::Path;

use rrd::{Algorithm, ChartDef, ChartType, DimensionDef, Host};

use super::chart_handle::{auto_label, ChartHandle, Cycle, RefusedRounds};
use super::ondemand::{on_demand, ChartSwitches, OnDemand};
use super::parse::{lines, parse_u64};
use super::source::SourceFile;
use super::PROC_PLUGIN;
use crate::collectors::Collector;

/// netdata's longest interrupt name (`MAX_INTERRUPT_NAME`).
const MAX_NAME: usize = 50;

/// What differs between the two files.
struct Kind {
    collector: &'static str,
    module: &'static str,
    /// `interrupts` or `softirqs`: the system chart's id and family.
    what: &'static str,
    system_title: &'static str,
    cpu_title: &'static str,
    units: &'static str,
    system_priority: i64,
    cpu_priority: i64,
    /// Numbered sources are named after their device.
    device_names: bool,
    /// A CPU's chart waits for a non-zero count.
    cpu_chart_on_demand: bool,
    /// The `[plugin:proc:MODULE]` switch of the per-CPU charts.
    per_core_key: &'static str,
}

const INTERRUPTS: Kind = Kind {
    collector: "proc:interrupts",
    module: "/proc/interrupts",
    what: "interrupts",
    system_title: "System interrupts",
    cpu_title: "CPU Interrupts",
    units: "interrupts/s",
    system_priority: 1000,
    cpu_priority: 1100,
    device_names: true,
    cpu_chart_on_demand: false,
    per_core_key: "interrupts per core",
};

const SOFTIRQS: Kind = Kind {
    collector: "proc:softirqs",
    module: "/proc/softirqs",
    what: "softirqs",
    system_title: "System softirqs",
    cpu_title: "CPU softirqs",
    units: "softirqs/s",
    system_priority: 950,
    cpu_priority: 3000,
    device_names: false,
    cpu_chart_on_demand: true,
    per_core_key: "softirqs per core",
};

/// The words of a line of these files: separated by blanks and `:`.
fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b.is_ascii_whitespace() || b == b':')
        .filter(|w| !w.is_empty())
}

/// One source (a line) and where its dimensions are.
struct Source {
    id: String,
    name: String,
    counts: Vec<i64>,
    total: i64,
    /// Seen in this cycle's read.
    present: bool,
    system_dim: Option<usize>,
    cpu_dims: Vec<Option<usize>>,
}

/// The parsed table, kept across cycles so that a steady read allocates
/// nothing.
#[derive(Default)]
struct Table {
    cpus: usize,
    sources: Vec<Source>,
    /// A scratch buffer for a source's name.
    name: String,
}

impl Table {
    /// Reads `data` into the table; false when it has no `CPUn` header.
    fn parse(&mut self, data: &[u8], device_names: bool) -> bool {
        let mut lines = lines(data);
        let Some(header) = lines.next() else {
            return false;
        };
        if self.cpus == 0 {
            self.cpus = fields(header).filter(|w| w.starts_with(b"CPU")).count();
        }
        if self.cpus == 0 {
            return false;
        }
        let cpus = self.cpus;
        for source in &mut self.sources {
            source.present = false;
        }
        for (line_number, line) in lines.enumerate() {
            let mut words = fields(line);
            let Some(id) = words.next() else {
                continue;
            };
            let Ok(id) = std::str::from_utf8(id) else {
                continue;
            };
            let position = match self.sources.get(line_number) {
                Some(s) if s.id == id => line_number,
                _ => match self.sources.iter().position(|s| s.id == id) {
                    Some(p) => p,
                    None => {
                        self.sources.push(Source {
                            id: id.to_string(),
                            name: String::new(),
                            counts: vec![0; cpus],
                            total: 0,
                            present: false,
                            system_dim: None,
                            cpu_dims: vec![None; cpus],
                        });
                        self.sources.len() - 1
                    }
                },
            };
            let source = &mut self.sources[position];
            source.present = true;
            source.total = 0;
            let mut word_count = 1;
            let mut last: &[u8] = b"";
            for c in 0..cpus {
                let value = match words.next() {
                    Some(w) => {
                        word_count += 1;
                        last = w;
                        parse_u64(w)
                            .and_then(|v| i64::try_from(v).ok())
                            .unwrap_or(0)
                    }
                    None => 0,
                };
                source.counts[c] = value;
                source.total = source.total.saturating_add(value);
            }
            for w in words {
                word_count += 1;
                last = w;
            }
            self.name.clear();
            if device_names && id.as_bytes()[0].is_ascii_digit() && cpus + 2 < word_count {
                let device = String::from_utf8_lossy(last);
                let room = MAX_NAME.saturating_sub(id.len() + 1);
                let mut cut = device.len().min(room);
                while !device.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.name.push_str(&device[..cut]);
                self.name.push('_');
                self.name.push_str(id);
            } else {
                self.name.push_str(id);
            }
            if source.name != self.name {
                source.name.clone_from(&self.name);
                // Renamed: its dimensions are declared again under the name.
                source.system_dim = None;
                source.cpu_dims.iter_mut().for_each(|d| *d = None);
            }
        }
        true
    }
}

fn dimension(source: &Source) -> DimensionDef {
    DimensionDef::new(source.id.as_str())
        .name(source.name.as_str())
        .algorithm(Algorithm::Incremental)
}

/// Collects one of the two files.
pub struct IrqCollector {
    kind: &'static Kind,
    file: SourceFile,
    update_every: u32,
    /// The per-CPU charts: `no` none, `yes` every source on every CPU,
    /// `auto` the sources counted there.
    per_core: OnDemand,
    table: Table,
    system: Option<ChartHandle>,
    cpus: Vec<Option<ChartHandle>>,
    /// Values in a chart's dimension order, reused across charts.
    values: Vec<Option<i64>>,
    refused: RefusedRounds,
}

/// Collects `/proc/interrupts`, with the switches of its
/// `[plugin:proc:/proc/interrupts]` section.
pub fn interrupts_collector(
    root: &Path,
    update_every: u32,
    switches: ChartSwitches<'_>,
) -> IrqCollector {
    IrqCollector::new(&INTERRUPTS, root, update_every, switches)
}

/// Collects `/proc/softirqs`, with the switches of its
/// `[plugin:proc:/proc/softirqs]` section.
pub fn softirqs_collector(
    root: &Path,
    update_every: u32,
    switches: ChartSwitches<'_>,
) -> IrqCollector {
    IrqCollector::new(&SOFTIRQS, root, update_every, switches)
}

impl IrqCollector {
    fn new(
        kind: &'static Kind,
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> IrqCollector {
        IrqCollector {
            kind,
            file: SourceFile::new(root, kind.module),
            update_every: update_every.max(1),
            per_core: on_demand(switches, kind.module, kind.per_core_key, OnDemand::Auto),
            table: Table::default(),
            system: None,
            cpus: Vec::new(),
            values: Vec::new(),
            refused: RefusedRounds::default(),
        }
    }

    fn def(&self, type_: &str, id: &str, title: &str, context: &str, priority: i64) -> ChartDef {
        let mut def = ChartDef::new(type_, id)
            .family(self.kind.what)
            .context(context)
            .title(title)
            .units(self.kind.units)
            .chart_type(ChartType::Stacked)
            .priority(priority)
            .update_every(self.update_every);
        def.plugin = PROC_PLUGIN.to_string();
        def.module = self.kind.module.to_string();
        def
    }
}

impl Collector for IrqCollector {
    fn name(&self) -> &str {
        self.kind.collector
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        let kind = self.kind;
        let Some(data) = self.file.read() else {
            super::chart_handle::mark_all_obsolete(
                std::iter::once(&mut self.system).chain(self.cpus.iter_mut()),
            );
            return Ok(());
        };
        if !self.table.parse(data, kind.device_names) {
            return Ok(());
        }
        let mut cycle = Cycle::new(now_ut);

        // The system chart: every source whose total is not zero.
        if self.system.is_none() {
            let context = format!("system.{}", kind.what);
            let def = self.def(
                "system",
                kind.what,
                kind.system_title,
                &context,
                kind.system_priority,
            );
            self.system = Some(ChartHandle::create(host, def, &[]));
        }
        if let Some(chart) = self.system.as_mut() {
            for source in &mut self.table.sources {
                if source.present && source.total != 0 && source.system_dim.is_none() {
                    source.system_dim = Some(chart.add_dimension(dimension(source)));
                }
            }
            self.values.clear();
            self.values.resize(chart.dimension_count(), None);
            for source in &self.table.sources {
                if let (true, Some(dim)) = (source.present && source.total != 0, source.system_dim)
                {
                    self.values[dim] = Some(source.total);
                }
            }
            chart.update(&mut cycle, &self.values);
        }

        // One chart per CPU: the sources counted on it (all, under `yes`).
        if self.per_core == OnDemand::No {
            self.refused.settle(kind.collector, cycle);
            return Ok(());
        }
        let every_source = self.per_core == OnDemand::Yes;
        let cpus = self.table.cpus;
        if self.cpus.len() < cpus {
            self.cpus.resize_with(cpus, || None);
        }
        for c in 0..cpus {
            if self.cpus[c].is_none() {
                let any = self
                    .table
                    .sources
                    .iter()
                    .any(|s| s.present && s.counts[c] != 0);
                if kind.cpu_chart_on_demand && !any && !every_source {
                    continue;
                }
                let core = format!("cpu{c}");
                let id = format!("{core}_{}", kind.what);
                let context = format!("cpu.{}", kind.what);
                let priority = kind.cpu_priority + c as i64;
                let def = self
                    .def("cpu", &id, kind.cpu_title, &context, priority)
                    .label(auto_label("cpu", &core));
                self.cpus[c] = Some(ChartHandle::create(host, def, &[]));
            }
            let Some(chart) = self.cpus[c].as_mut() else {
                continue;
            };
            for source in &mut self.table.sources {
                let counted = every_source || source.counts[c] != 0;
                if source.present && counted && source.cpu_dims[c].is_none() {
                    source.cpu_dims[c] = Some(chart.add_dimension(dimension(source)));
                }
            }
            self.values.clear();
            self.values.resize(chart.dimension_count(), None);
            for source in &self.table.sources {
                let counted = every_source || source.counts[c] != 0;
                if let (true, Some(dim)) = (source.present && counted, source.cpu_dims[c]) {
                    self.values[dim] = Some(source.counts[c]);
                }
            }
            chart.update(&mut cycle, &self.values);
        }

        self.refused.settle(kind.collector, cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERRUPTS_TEXT: &[u8] = b"           CPU0       CPU1       \n\
 24:          1          0  IO-APIC   5-edge      ACPI:Ged\n\
 28:          0          0 PCI-MSIX-0000:00:01.0   0-edge      virtio0-config\n\
NMI:          0          0   Non-maskable interrupts\n\
LOC:    2696660    2661794   Local timer interrupts\n\
ERR:          0\n";

    #[test]
    fn interrupt_names_follow_netdata() {
        let mut table = Table::default();
        assert!(table.parse(INTERRUPTS_TEXT, true));
        assert_eq!(table.cpus, 2);
        let names: Vec<(&str, &str, i64)> = table
            .sources
            .iter()
            .map(|s| (s.id.as_str(), s.name.as_str(), s.total))
            .collect();
        assert_eq!(
            names,
            vec![
                ("24", "Ged_24", 1),
                ("28", "virtio0-config_28", 0),
                ("NMI", "NMI", 0),
                ("LOC", "LOC", 2696660 + 2661794),
                ("ERR", "ERR", 0),
            ]
        );
        assert_eq!(table.sources[3].counts, vec![2696660, 2661794]);
    }

    #[test]
    fn long_names_keep_the_number() {
        let mut table = Table::default();
        let device = "d".repeat(60);
        let text = format!("CPU0\n 7: 3 x {device}\n");
        assert!(table.parse(text.as_bytes(), true));
        let name = &table.sources[0].name;
        assert_eq!(name.len(), MAX_NAME);
        assert!(name.ends_with("d_7"));
    }

    #[test]
    fn no_header_no_table() {
        let mut table = Table::default();
        assert!(!table.parse(b"nonsense\n 1: 2 3\n", true));
        assert!(!table.parse(b"", true));
    }
}
