//! Named kernel counters and the fixed charts drawn from them, for the
//! modules whose files are lists of `name value` pairs (`/proc/net/netstat`,
//! `/proc/net/snmp`, `/proc/net/snmp6`, `/proc/net/sockstat`, ...).
//!
//! * [`CounterTable`] holds this cycle's value of every counter a chart
//!   uses, addressed as `Section:Name` (`TcpExt:ListenDrops`; a bare name
//!   when the file has no sections, as `/proc/net/snmp6`). Parsers look a
//!   section up once and set values by name, without allocating.
//! * [`TableChart`] declares one chart: its definition, each dimension with
//!   the counter it shows, which counters decide netdata's `auto` rule, and
//!   the netdata.conf key that switches it ([`SwitchKey`]).
//! * [`TableCharts`] creates a chart by its switch: under `auto` (the
//!   default) once one of those counters is not zero, and from then on the
//!   chart stays; under `yes` as soon as its counters are read, zero or
//!   not; under `no` never. It feeds every created chart each cycle, and
//!   marks it obsolete while none of its counters could be read. A counter
//!   missing from a section that was read is zero: the kernel lists only
//!   the ICMP message types that occurred, and netdata charted the others
//!   as zero.

use std::collections::HashMap;

use rrd::Host;

use super::chart_handle::{ChartHandle, ChartSpec, Cycle, DimSpec};
use super::ondemand::{on_demand, ChartSwitches, OnDemand};

/// One dimension of a [`TableChart`]: the counter (`Section:Name`) and the
/// dimension it is shown as.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableDim {
    pub source: &'static str,
    pub dim: DimSpec,
    /// The counter is in memory pages: its multiplier is the page size
    /// (see [`TableCharts::page_size`]).
    pub in_pages: bool,
}

impl TableDim {
    pub(crate) const fn new(source: &'static str, dim: DimSpec) -> TableDim {
        TableDim {
            source,
            dim,
            in_pages: false,
        }
    }

    pub(crate) const fn in_pages(mut self) -> TableDim {
        self.in_pages = true;
        self
    }
}

/// The netdata.conf key of a chart's `yes` / `no` / `auto` switch: `key`
/// of section `[plugin:proc:MODULE]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SwitchKey {
    pub module: &'static str,
    pub key: &'static str,
}

impl SwitchKey {
    pub(crate) const fn new(module: &'static str, key: &'static str) -> SwitchKey {
        SwitchKey { module, key }
    }

    /// Whether the netdata.conf reader takes this key from its section
    /// (`config::PROC_CHART_SWITCHES`).
    #[cfg(test)]
    pub(crate) fn is_read_from_netdata_conf(&self) -> bool {
        crate::config::PROC_CHART_SWITCHES
            .iter()
            .any(|(module, keys)| *module == self.module && keys.contains(&self.key))
    }
}

/// A chart whose dimensions are counters of a [`CounterTable`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableChart {
    pub spec: ChartSpec,
    pub dims: &'static [TableDim],
    /// The counters netdata looks at to decide that the chart is worth
    /// creating, when they are not exactly the dimensions' (`None`).
    pub auto_sources: Option<&'static [&'static str]>,
    /// The key that switches the chart, when netdata has one.
    pub switch: Option<SwitchKey>,
}

/// Splits `Section:Name` (or a bare `Name`, section "").
fn split_source(source: &'static str) -> (&'static str, &'static str) {
    source.split_once(':').unwrap_or(("", source))
}

struct Section {
    name: &'static [u8],
    counters: HashMap<&'static [u8], usize>,
    /// Seen in a file this cycle.
    read: bool,
}

/// This cycle's values of the counters the charts use.
#[derive(Default)]
pub(crate) struct CounterTable {
    sections: Vec<Section>,
    values: Vec<Option<u64>>,
    /// The section of each value.
    value_sections: Vec<usize>,
}

/// A section of a [`CounterTable`], found by [`CounterTable::section`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SectionIndex(usize);

impl CounterTable {
    /// The index of counter `source`, added if new.
    pub(crate) fn register(&mut self, source: &'static str) -> usize {
        let (section, name) = split_source(source);
        let s = match self
            .sections
            .iter()
            .position(|s| s.name == section.as_bytes())
        {
            Some(s) => s,
            None => {
                self.sections.push(Section {
                    name: section.as_bytes(),
                    counters: HashMap::new(),
                    read: false,
                });
                self.sections.len() - 1
            }
        };
        let next = self.values.len();
        let index = *self.sections[s]
            .counters
            .entry(name.as_bytes())
            .or_insert(next);
        if index == next {
            self.values.push(None);
            self.value_sections.push(s);
        }
        index
    }

    /// The section named `name` (without its colon), if a chart uses it,
    /// marked as read this cycle.
    pub(crate) fn section(&mut self, name: &[u8]) -> Option<SectionIndex> {
        let index = self.sections.iter().position(|s| s.name == name)?;
        self.sections[index].read = true;
        Some(SectionIndex(index))
    }

    /// Sets counter `name` of `section` when a chart uses it.
    pub(crate) fn set(&mut self, section: SectionIndex, name: &[u8], value: Option<u64>) {
        if let Some(&index) = self.sections[section.0].counters.get(name) {
            self.values[index] = value;
        }
    }

    /// Sets counter `index` alone (its section is not marked read, so the
    /// other counters of the section stay unknown).
    pub(crate) fn set_index(&mut self, index: usize, value: Option<u64>) {
        self.values[index] = value;
    }

    /// Adds `value` to counter `name` of `section` (per-CPU lines summed).
    pub(crate) fn add(&mut self, section: SectionIndex, name: &[u8], value: u64) {
        if let Some(&index) = self.sections[section.0].counters.get(name) {
            let slot = &mut self.values[index];
            *slot = Some(slot.unwrap_or(0).wrapping_add(value));
        }
    }

    /// Forgets every value (at the start of a cycle).
    pub(crate) fn clear(&mut self) {
        self.values.fill(None);
        for section in &mut self.sections {
            section.read = false;
        }
    }

    pub(crate) fn get(&self, index: usize) -> Option<u64> {
        self.values[index]
    }

    /// The value of counter `index` for a chart: as read, or zero when its
    /// section was read this cycle without it (the kernel lists only the
    /// ICMP message types that occurred; netdata charted the others as
    /// zero), or `None` when its section was not read.
    pub(crate) fn get_or_zero(&self, index: usize) -> Option<u64> {
        self.values[index].or_else(|| self.sections[self.value_sections[index]].read.then_some(0))
    }

    /// Sets the counters of the `Section: name name ...` / `Section: value
    /// value ...` line pairs of `/proc/net/netstat` and `/proc/net/snmp`.
    /// A values line whose section differs from the line before is taken
    /// as a header.
    pub(crate) fn parse_header_value_pairs(&mut self, data: &[u8]) {
        let mut header: Option<&[u8]> = None;
        for line in super::parse::lines(data) {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                header = None;
                continue;
            };
            let prefix = &line[..colon];
            match header {
                Some(h) if h.starts_with(prefix) && h.get(colon) == Some(&b':') => {
                    header = None;
                    let Some(section) = self.section(prefix) else {
                        continue;
                    };
                    let names = super::parse::words(&h[colon + 1..]);
                    let values = super::parse::words(&line[colon + 1..]);
                    for (name, value) in names.zip(values) {
                        self.set(section, name, super::parse::parse_u64(value));
                    }
                }
                _ => header = Some(line),
            }
        }
    }

    /// Sets the counters of `Name value` lines (`/proc/net/snmp6`), all in
    /// section "".
    pub(crate) fn parse_name_value_lines(&mut self, data: &[u8]) {
        let Some(section) = self.section(b"") else {
            return;
        };
        for line in super::parse::lines(data) {
            let mut w = super::parse::words(line);
            if let (Some(name), Some(value)) = (w.next(), w.next()) {
                self.set(section, name, super::parse::parse_u64(value));
            }
        }
    }

    /// Sets the counters of `SECTION: name value name value ...` lines
    /// (`/proc/net/sockstat`, `/proc/net/sockstat6`).
    pub(crate) fn parse_section_pairs(&mut self, data: &[u8]) {
        for line in super::parse::lines(data) {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let Some(section) = self.section(line[..colon].trim_ascii()) else {
                continue;
            };
            let mut w = super::parse::words(&line[colon + 1..]);
            while let (Some(name), Some(value)) = (w.next(), w.next()) {
                self.set(section, name, super::parse::parse_u64(value));
            }
        }
    }
}

struct ChartState {
    chart: &'static TableChart,
    specs: Vec<DimSpec>,
    dims: Vec<usize>,
    auto: Vec<usize>,
    /// `auto` turns `yes` once the chart is created.
    switch: OnDemand,
    handle: Option<ChartHandle>,
}

/// The charts of one module drawn from a [`CounterTable`].
pub(crate) struct TableCharts {
    charts: Vec<ChartState>,
    values: Vec<Option<i64>>,
}

impl TableCharts {
    /// The charts of `charts`, their counters registered in `table`.
    pub(crate) fn new(table: &mut CounterTable, charts: &'static [TableChart]) -> TableCharts {
        let mut widest = 0;
        let charts = charts
            .iter()
            .map(|chart| {
                widest = widest.max(chart.dims.len());
                let dims = chart
                    .dims
                    .iter()
                    .map(|d| table.register(d.source))
                    .collect();
                let auto = match chart.auto_sources {
                    Some(sources) => sources.iter().map(|s| table.register(s)).collect(),
                    None => chart
                        .dims
                        .iter()
                        .map(|d| table.register(d.source))
                        .collect(),
                };
                ChartState {
                    chart,
                    specs: chart.dims.iter().map(|d| d.dim).collect(),
                    dims,
                    auto,
                    switch: OnDemand::Auto,
                    handle: None,
                }
            })
            .collect();
        TableCharts {
            charts,
            values: Vec::with_capacity(widest),
        }
    }

    /// Creates every chart as soon as its counters are read, zero or not
    /// (netdata's modules without an `auto` rule).
    pub(crate) fn always(mut self) -> TableCharts {
        for state in &mut self.charts {
            state.switch = OnDemand::Yes;
        }
        self
    }

    /// Switches each chart that has a [`SwitchKey`] as `switches` says
    /// (`auto` when its key is not set).
    pub(crate) fn switched_by(mut self, switches: ChartSwitches<'_>) -> TableCharts {
        for state in &mut self.charts {
            if let Some(key) = state.chart.switch {
                state.switch = on_demand(switches, key.module, key.key, state.switch);
            }
        }
        self
    }

    /// Sets the multiplier of the dimensions counted in memory pages.
    pub(crate) fn page_size(mut self, bytes: i64) -> TableCharts {
        for state in &mut self.charts {
            for (spec, dim) in state.specs.iter_mut().zip(state.chart.dims) {
                if dim.in_pages {
                    spec.multiplier = bytes;
                }
            }
        }
        self
    }

    /// Creates the charts their switch asks for (under `auto`, those whose
    /// counters turned non-zero), and completes a round of every created
    /// chart with this cycle's counters. A chart none of whose counters
    /// were read this cycle is marked obsolete instead.
    pub(crate) fn update(
        &mut self,
        host: &Host,
        table: &CounterTable,
        cycle: &mut Cycle,
        update_every: u32,
    ) {
        for state in &mut self.charts {
            if state.switch == OnDemand::No {
                continue;
            }
            self.values.clear();
            self.values.extend(
                state
                    .dims
                    .iter()
                    .map(|&i| table.get_or_zero(i).and_then(|v| i64::try_from(v).ok())),
            );
            if self.values.iter().all(Option::is_none) {
                if let Some(handle) = &mut state.handle {
                    handle.mark_obsolete();
                }
                continue;
            }
            if state.handle.is_none() {
                let nonzero = state
                    .auto
                    .iter()
                    .any(|&i| table.get(i).is_some_and(|v| v != 0));
                if !state.switch.wants(nonzero) {
                    continue;
                }
                state.handle = Some(ChartHandle::create(
                    host,
                    state.chart.spec.def(update_every),
                    &state.specs,
                ));
            }
            if let Some(handle) = &mut state.handle {
                handle.update(cycle, &self.values);
            }
        }
    }

    /// Marks every created chart obsolete.
    pub(crate) fn mark_all_obsolete(&mut self) {
        super::chart_handle::mark_all_obsolete(self.charts.iter_mut().map(|s| &mut s.handle));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sources: &[&'static str]) -> (CounterTable, Vec<usize>) {
        let mut t = CounterTable::default();
        let idx = sources.iter().map(|s| t.register(s)).collect();
        (t, idx)
    }

    #[test]
    fn registering_twice_gives_one_counter() {
        let (mut t, idx) = table(&["Tcp:InSegs", "Udp:InSegs", "Tcp:InSegs", "Ip6InOctets"]);
        assert_eq!(idx, [0, 1, 0, 2]);
        assert_eq!(t.register("Ip6InOctets"), 2);
    }

    #[test]
    fn header_value_pairs() {
        let (mut t, idx) = table(&["Tcp:InSegs", "Tcp:OutSegs", "Ip:InReceives", "TcpExt:X"]);
        t.parse_header_value_pairs(
            b"Ip: Forwarding InReceives\nIp: 1 42\nTcp: RtoMin InSegs OutSegs\nTcp: 200 7 8\n\
              TcpExt: X\nIpExt: Y\nIpExt: 3\n",
        );
        let got: Vec<_> = idx.iter().map(|&i| t.get(i)).collect();
        // TcpExt's header has no values line: not set.
        assert_eq!(got, [Some(7), Some(8), Some(42), None]);
        t.clear();
        assert_eq!(t.get(0), None);
    }

    #[test]
    fn odd_pairs_are_survived() {
        let (mut t, idx) = table(&["Tcp:InSegs", "Tcp:OutSegs"]);
        t.parse_header_value_pairs(b"Tcp: InSegs OutSegs\nTcp: x\nTcp:\n:\n\0\xff:");
        assert_eq!(t.get(idx[0]), None);
        t.parse_header_value_pairs(b"Tcp: InSegs OutSegs\nTcp: 5\n");
        assert_eq!((t.get(idx[0]), t.get(idx[1])), (Some(5), None));
    }

    #[test]
    fn a_counter_missing_from_a_read_section_is_zero() {
        let (mut t, idx) = table(&["IcmpMsg:InType3", "IcmpMsg:InType8", "Tcp:InSegs"]);
        t.parse_header_value_pairs(b"IcmpMsg: InType3\nIcmpMsg: 5\n");
        let got: Vec<_> = idx.iter().map(|&i| t.get_or_zero(i)).collect();
        // Tcp was not in the file: unknown, not zero.
        assert_eq!(got, [Some(5), Some(0), None]);
        t.clear();
        assert_eq!(t.get_or_zero(idx[1]), None);
    }

    /// Chart `t.ID` of `dims`, switched by key `ID` of module `m`.
    const fn switched_chart(id: &'static str, dims: &'static [TableDim]) -> TableChart {
        TableChart {
            spec: ChartSpec::proc("m", "t", id, "f", "T", "u", rrd::ChartType::Line, 1),
            dims,
            auto_sources: None,
            switch: Some(SwitchKey::new("m", id)),
        }
    }

    static SWITCHED: [TableChart; 3] = [
        switched_chart("a", &[TableDim::new("S:a", DimSpec::absolute("a", 1, 1))]),
        switched_chart("b", &[TableDim::new("S:b", DimSpec::absolute("b", 1, 1))]),
        switched_chart("c", &[TableDim::new("S:c", DimSpec::absolute("c", 1, 1))]),
    ];

    #[test]
    fn switches_decide_when_a_chart_is_made() {
        let mut table = CounterTable::default();
        let switches = |module: &str, key: &str| match (module, key) {
            ("m", "a") => Some(OnDemand::Yes),
            ("m", "b") => Some(OnDemand::No),
            _ => None,
        };
        let mut charts = TableCharts::new(&mut table, &SWITCHED).switched_by(&switches);
        let host = Host::new("t", 10);
        let mut round = |data: &[u8], at: u64| {
            table.clear();
            table.parse_section_pairs(data);
            let mut cycle = Cycle::new(at * 1_000_000);
            charts.update(&host, &table, &mut cycle, 1);
        };
        // All zero: `yes` (a) is made, `no` (b) and `auto` (c) are not.
        round(b"S: a 0 b 0 c 0\n", 1);
        assert!(host.chart_by_id("t.a").is_some());
        assert!(host.chart_by_id("t.b").is_none());
        assert!(host.chart_by_id("t.c").is_none());
        // Not zero: `auto` is made, `no` still not.
        round(b"S: a 0 b 5 c 5\n", 2);
        assert!(host.chart_by_id("t.b").is_none());
        assert!(host.chart_by_id("t.c").is_some());
    }

    #[test]
    fn always_is_yes_for_every_chart() {
        let mut table = CounterTable::default();
        let mut charts = TableCharts::new(&mut table, &SWITCHED).always();
        let host = Host::new("t", 10);
        table.parse_section_pairs(b"S: a 0 b 0 c 0\n");
        charts.update(&host, &table, &mut Cycle::new(1_000_000), 1);
        assert_eq!(host.charts().len(), 3);
    }

    #[test]
    fn name_value_lines_and_section_pairs() {
        let (mut t, idx) = table(&["Ip6InReceives", "TCP:inuse", "TCP:mem", "sockets:used"]);
        t.parse_name_value_lines(b"Ip6InReceives   \t12\nIp6Other 3\nbad\n");
        t.parse_section_pairs(b"sockets: used 21\nTCP: inuse 3 orphan 0 tw 2 alloc 3 mem 320\n");
        let got: Vec<_> = idx.iter().map(|&i| t.get(i)).collect();
        assert_eq!(got, [Some(12), Some(3), Some(320), Some(21)]);
    }
}
