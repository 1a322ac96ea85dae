//! The netfilter statistics: `/proc/net/stat/nf_conntrack` (connection
//! tracking, `netfilter.conntrack_*`) and `/proc/net/stat/synproxy`
//! (`netfilter.synproxy_*`), each under netdata 1.37's switch and module
//! name.
//!
//! Both files are a header line of column names and one line of
//! hexadecimal counters per CPU, which are summed (the conntrack `entries`
//! column is the same count on every line: the first non-zero one is
//! taken). Columns are found by their header name. netdata 1.37 read them
//! by position, so on kernels that renamed two conntrack columns
//! (`searched` became `clashres`, `delete_list` became `chainlength`) it
//! charted the new counters under the old names; backhaul charts those two
//! dimensions as zero there (see docs/compatibility.md).
//!
//! The conntrack charts are created at once, as netdata does; without
//! `/proc/net/stat/nf_conntrack`, the connection count alone comes from
//! `/proc/sys/net/netfilter/nf_conntrack_count`. The synproxy charts follow
//! the `auto` rule on the sum of all its counters.
//!
//! While the conntrack module has one of its two files, it keeps netdata's
//! host variable `netfilter_conntrack_max`, from
//! `/proc/sys/net/netfilter/nf_conntrack_max`, read at the first
//! collection and then every `read every seconds` of
//! `[plugin:proc:/proc/sys/net/netfilter/nf_conntrack_max]` (netdata's
//! key; default 10).

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::counter_table::{CounterTable, TableChart, TableCharts, TableDim};
use super::module_file::ModuleFile;
use super::parse::{lines, parse_u64, words};
use super::variables::{HostVariable, LimitsFile, Refresh};
use crate::collectors::Collector;

const CONNTRACK: &str = "/proc/net/stat/nf_conntrack";
const SYNPROXY: &str = "/proc/net/stat/synproxy";

const fn chart(
    module: &'static str,
    id: &'static str,
    family: &'static str,
    title: &'static str,
    units: &'static str,
    priority: i64,
) -> ChartSpec {
    ChartSpec::proc(
        module,
        "netfilter",
        id,
        family,
        title,
        units,
        ChartType::Line,
        priority,
    )
}

const fn rate(source: &'static str, id: &'static str, multiplier: i64) -> TableDim {
    TableDim::new(source, DimSpec::incremental(id, multiplier, 1))
}

/// netdata 1.37's conntrack charts; sources are the file's column names.
static CONNTRACK_CHARTS: &[TableChart] = &[
    TableChart {
        spec: chart(
            CONNTRACK,
            "conntrack_sockets",
            "conntrack",
            "Connection Tracker Connections",
            "active connections",
            8700,
        ),
        dims: &[TableDim::new(
            "entries",
            DimSpec::absolute("connections", 1, 1),
        )],
        auto_sources: None,
        switch: None,
    },
    TableChart {
        spec: chart(
            CONNTRACK,
            "conntrack_new",
            "conntrack",
            "Connection Tracker New Connections",
            "connections/s",
            8701,
        ),
        dims: &[
            rate("new", "new", 1),
            rate("ignore", "ignore", -1),
            rate("invalid", "invalid", -1),
        ],
        auto_sources: None,
        switch: None,
    },
    TableChart {
        spec: chart(
            CONNTRACK,
            "conntrack_changes",
            "conntrack",
            "Connection Tracker Changes",
            "changes/s",
            8702,
        ),
        dims: &[
            rate("insert", "inserted", 1),
            rate("delete", "deleted", -1),
            rate("delete_list", "delete_list", -1),
        ],
        auto_sources: None,
        switch: None,
    },
    TableChart {
        spec: chart(
            CONNTRACK,
            "conntrack_expect",
            "conntrack",
            "Connection Tracker Expectations",
            "expectations/s",
            8703,
        ),
        dims: &[
            rate("expect_create", "created", 1),
            rate("expect_delete", "deleted", -1),
            rate("expect_new", "new", 1),
        ],
        auto_sources: None,
        switch: None,
    },
    TableChart {
        spec: chart(
            CONNTRACK,
            "conntrack_search",
            "conntrack",
            "Connection Tracker Searches",
            "searches/s",
            8710,
        ),
        dims: &[
            rate("searched", "searched", 1),
            rate("search_restart", "restarted", -1),
            rate("found", "found", 1),
        ],
        auto_sources: None,
        switch: None,
    },
    TableChart {
        spec: chart(
            CONNTRACK,
            "conntrack_errors",
            "conntrack",
            "Connection Tracker Errors",
            "events/s",
            8705,
        ),
        dims: &[
            rate("icmp_error", "icmp_error", 1),
            rate("insert_failed", "insert_failed", -1),
            rate("drop", "drop", -1),
            rate("early_drop", "early_drop", -1),
        ],
        auto_sources: None,
        switch: None,
    },
];

/// Every synproxy counter: netdata creates each chart once their sum is
/// not zero.
const SYNPROXY_EVENTS: &[&str] = &[
    "syn_received",
    "cookie_invalid",
    "cookie_valid",
    "cookie_retrans",
    "conn_reopened",
];

/// netdata 1.37's synproxy charts.
static SYNPROXY_CHARTS: &[TableChart] = &[
    TableChart {
        spec: chart(
            SYNPROXY,
            "synproxy_syn_received",
            "synproxy",
            "SYNPROXY SYN Packets received",
            "packets/s",
            8751,
        ),
        dims: &[rate("syn_received", "received", 1)],
        auto_sources: Some(SYNPROXY_EVENTS),
        switch: None,
    },
    TableChart {
        spec: chart(
            SYNPROXY,
            "synproxy_conn_reopened",
            "synproxy",
            "SYNPROXY Connections Reopened",
            "connections/s",
            8753,
        ),
        dims: &[rate("conn_reopened", "reopened", 1)],
        auto_sources: Some(SYNPROXY_EVENTS),
        switch: None,
    },
    TableChart {
        spec: chart(
            SYNPROXY,
            "synproxy_cookies",
            "synproxy",
            "SYNPROXY TCP Cookies",
            "cookies/s",
            8752,
        ),
        dims: &[
            rate("cookie_valid", "valid", 1),
            rate("cookie_invalid", "invalid", -1),
            rate("cookie_retrans", "retransmits", 1),
        ],
        auto_sources: Some(SYNPROXY_EVENTS),
        switch: None,
    },
];

/// A hexadecimal counter as the kernel writes them (`0000001f`).
fn parse_hex(word: &[u8]) -> Option<u64> {
    if word.is_empty() || word.len() > 16 {
        return None;
    }
    word.iter().try_fold(0u64, |acc, &b| {
        let digit = char::from(b).to_digit(16)?;
        Some(acc << 4 | u64::from(digit))
    })
}

/// Sums the per-CPU lines of a header-and-hex-columns file into section
/// "" of `table`, by column name; `entries` is the first non-zero value.
fn sum_columns(table: &mut CounterTable, data: &[u8]) {
    let Some(section) = table.section(b"") else {
        return;
    };
    let mut all = lines(data);
    let Some(header) = all.next() else {
        return;
    };
    let mut entries_seen = false;
    for line in all {
        for (name, word) in words(header).zip(words(line)) {
            let Some(value) = parse_hex(word) else {
                continue;
            };
            if name == b"entries" {
                if !entries_seen {
                    table.set(section, name, Some(value));
                    entries_seen = value != 0;
                }
            } else {
                table.add(section, name, value);
            }
        }
    }
}

/// Collects `/proc/net/stat/nf_conntrack` (or, without it,
/// `/proc/sys/net/netfilter/nf_conntrack_count`).
pub struct ConntrackCollector {
    file: ModuleFile,
    count_file: ModuleFile,
    /// The counter of the `entries` column.
    entries: usize,
    update_every: u32,
    counters: CounterTable,
    charts: TableCharts,
    max_file: LimitsFile,
    max_refresh: Refresh,
    conntrack_max: HostVariable,
    refused: RefusedRounds,
}

const CONNTRACK_COLLECTOR: &str = "proc:conntrack";

/// How often netdata reads `nf_conntrack_max` by default, in seconds
/// (`[plugin:proc:/proc/sys/net/netfilter/nf_conntrack_max] read every
/// seconds`).
pub const CONNTRACK_MAX_READ_EVERY: u32 = 10;

impl ConntrackCollector {
    pub fn new(root: &Path, update_every: u32) -> ConntrackCollector {
        let mut counters = CounterTable::default();
        let charts = TableCharts::new(&mut counters, CONNTRACK_CHARTS).always();
        let entries = counters.register("entries");
        let update_every = update_every.max(1);
        ConntrackCollector {
            entries,
            file: ModuleFile::new(root, CONNTRACK),
            count_file: ModuleFile::new(root, "/proc/sys/net/netfilter/nf_conntrack_count"),
            update_every,
            counters,
            charts,
            max_file: LimitsFile::new(root, "/proc/sys/net/netfilter/nf_conntrack_max"),
            max_refresh: Refresh::every(CONNTRACK_MAX_READ_EVERY.div_ceil(update_every)),
            conntrack_max: HostVariable::new("netfilter_conntrack_max"),
            refused: RefusedRounds::default(),
        }
    }
}

impl ConntrackCollector {
    /// The same, reading `nf_conntrack_max` every `seconds` (at least every
    /// collection).
    pub fn reading_max_every(mut self, seconds: u32) -> ConntrackCollector {
        self.max_refresh = Refresh::every(seconds.div_ceil(self.update_every));
        self
    }
}

impl Collector for ConntrackCollector {
    fn name(&self) -> &str {
        CONNTRACK_COLLECTOR
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        self.counters.clear();
        if let Some(data) = self.file.read(CONNTRACK_COLLECTOR) {
            sum_columns(&mut self.counters, data);
        } else if self.file.is_absent() {
            // The connection count alone, as netdata without the stats file.
            if let Some(data) = self.count_file.read(CONNTRACK_COLLECTOR) {
                let count = words(data).next().and_then(parse_u64);
                self.counters.set_index(self.entries, count);
            }
        }
        // As netdata, only while the module has a file to chart.
        let has_source = !self.file.is_absent() || !self.count_file.is_absent();
        if has_source && self.max_refresh.due() {
            if let Some([max]) = self.max_file.numbers::<1>(CONNTRACK_COLLECTOR) {
                self.conntrack_max.set(host, max as f64);
            }
        }
        let mut cycle = Cycle::new(now_ut);
        self.charts
            .update(host, &self.counters, &mut cycle, self.update_every);
        self.refused.settle(CONNTRACK_COLLECTOR, cycle);
        Ok(())
    }
}

/// Collects `/proc/net/stat/synproxy`.
pub struct SynproxyCollector {
    file: ModuleFile,
    update_every: u32,
    counters: CounterTable,
    charts: TableCharts,
    refused: RefusedRounds,
}

const SYNPROXY_COLLECTOR: &str = "proc:synproxy";

impl SynproxyCollector {
    pub fn new(root: &Path, update_every: u32) -> SynproxyCollector {
        let mut counters = CounterTable::default();
        let charts = TableCharts::new(&mut counters, SYNPROXY_CHARTS);
        SynproxyCollector {
            file: ModuleFile::new(root, SYNPROXY),
            update_every: update_every.max(1),
            counters,
            charts,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for SynproxyCollector {
    fn name(&self) -> &str {
        SYNPROXY_COLLECTOR
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        self.counters.clear();
        if let Some(data) = self.file.read(SYNPROXY_COLLECTOR) {
            sum_columns(&mut self.counters, data);
        }
        let mut cycle = Cycle::new(now_ut);
        self.charts
            .update(host, &self.counters, &mut cycle, self.update_every);
        self.refused.settle(SYNPROXY_COLLECTOR, cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_summed_by_name_and_entries_taken_once() {
        let mut table = CounterTable::default();
        let entries = table.register("entries");
        let found = table.register("found");
        let searched = table.register("searched");
        sum_columns(
            &mut table,
            b"entries  clashres found new\n00000000  00000001 0000000a 1\n00000005  00000000 00000010 x\n00000007 0 1 0\n",
        );
        assert_eq!(table.get(entries), Some(5));
        assert_eq!(table.get(found), Some(0x1b));
        // No `searched` column on this kernel.
        assert_eq!(table.get(searched), None);
    }
}
