//! `/proc/net/sockstat` and `/proc/net/sockstat6`: sockets in use per
//! protocol and the memory they hold (`ipv4.sockstat_*`,
//! `ipv6.sockstat6_*`), each file under its own netdata switch and module
//! name; socket memory is counted by the kernel in pages and shown in KiB.
//!
//! Each chart has netdata's `yes` / `no` / `auto` key in its file's section:
//! `[plugin:proc:/proc/net/sockstat]` `ipv4 sockets`, `ipv4 TCP sockets`,
//! `ipv4 TCP memory`, `ipv4 UDP sockets`, `ipv4 UDP memory`, `ipv4 UDPLITE
//! sockets`, `ipv4 RAW sockets`, `ipv4 FRAG sockets`, `ipv4 FRAG memory`;
//! `[plugin:proc:/proc/net/sockstat6]` `ipv6 TCP sockets`, `ipv6 UDP
//! sockets`, `ipv6 UDPLITE sockets`, `ipv6 RAW sockets`, `ipv6 FRAG
//! sockets`. Under `auto`, the default, a chart is created once a counter
//! is not zero; under `yes` as soon as the file is read; under `no` never.
//!
//! The IPv4 one also keeps netdata's host variables of the TCP limits:
//! `tcp_max_orphans` (`/proc/sys/net/ipv4/tcp_max_orphans`) and
//! `tcp_mem_low`, `tcp_mem_pressure`, `tcp_mem_high` (the three numbers of
//! `/proc/sys/net/ipv4/tcp_mem`, pages, in KiB). As netdata, it reads them
//! at the first collection (whether `/proc/net/sockstat` is there or not)
//! and then once the collections since add up to more than `[plugin:proc:
//! /proc/net/sockstat] update constants every` seconds (60: every 61 s at
//! one collection a second).

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::counter_table::{CounterTable, SwitchKey, TableChart, TableCharts, TableDim};
use super::module_file::ModuleFile;
use super::ondemand::{no_chart_switches, ChartSwitches};
use super::variables::{HostVariable, LimitsFile, Refresh};
use crate::collectors::Collector;

const SOCKSTAT: &str = "/proc/net/sockstat";
const SOCKSTAT6: &str = "/proc/net/sockstat6";

/// The switch `key` of `[plugin:proc:/proc/net/sockstat]`.
const fn sockstat_key(key: &'static str) -> Option<SwitchKey> {
    Some(SwitchKey::new(SOCKSTAT, key))
}

/// The switch `key` of `[plugin:proc:/proc/net/sockstat6]`.
const fn sockstat6_key(key: &'static str) -> Option<SwitchKey> {
    Some(SwitchKey::new(SOCKSTAT6, key))
}

const fn gauge(source: &'static str, id: &'static str) -> TableDim {
    TableDim::new(source, DimSpec::absolute(id, 1, 1))
}

/// netdata 1.37's `/proc/net/sockstat` charts.
static SOCKSTAT_CHARTS: &[TableChart] = &[
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_sockets",
            "sockets",
            "IPv4 Sockets Used",
            "sockets",
            ChartType::Line,
            5100,
        ),
        dims: &[gauge("sockets:used", "used")],
        auto_sources: None,
        switch: sockstat_key("ipv4 sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_tcp_sockets",
            "tcp",
            "IPv4 TCP Sockets",
            "sockets",
            ChartType::Line,
            5201,
        ),
        dims: &[
            gauge("TCP:alloc", "alloc"),
            gauge("TCP:orphan", "orphan"),
            gauge("TCP:inuse", "inuse"),
            gauge("TCP:tw", "timewait"),
        ],
        auto_sources: None,
        switch: sockstat_key("ipv4 TCP sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_tcp_mem",
            "tcp",
            "IPv4 TCP Sockets Memory",
            "KiB",
            ChartType::Area,
            5290,
        ),
        dims: &[TableDim::new("TCP:mem", DimSpec::absolute("mem", 1, 1024)).in_pages()],
        auto_sources: None,
        switch: sockstat_key("ipv4 TCP memory"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_udp_sockets",
            "udp",
            "IPv4 UDP Sockets",
            "sockets",
            ChartType::Line,
            5300,
        ),
        dims: &[gauge("UDP:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat_key("ipv4 UDP sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_udp_mem",
            "udp",
            "IPv4 UDP Sockets Memory",
            "KiB",
            ChartType::Area,
            5390,
        ),
        dims: &[TableDim::new("UDP:mem", DimSpec::absolute("mem", 1, 1024)).in_pages()],
        auto_sources: None,
        switch: sockstat_key("ipv4 UDP memory"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_udplite_sockets",
            "udplite",
            "IPv4 UDPLITE Sockets",
            "sockets",
            ChartType::Line,
            5400,
        ),
        dims: &[gauge("UDPLITE:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat_key("ipv4 UDPLITE sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_raw_sockets",
            "raw",
            "IPv4 RAW Sockets",
            "sockets",
            ChartType::Line,
            5450,
        ),
        dims: &[gauge("RAW:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat_key("ipv4 RAW sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_frag_sockets",
            "fragments",
            "IPv4 FRAG Sockets",
            "fragments",
            ChartType::Line,
            5460,
        ),
        dims: &[gauge("FRAG:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat_key("ipv4 FRAG sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT,
            "ipv4",
            "sockstat_frag_mem",
            "fragments",
            "IPv4 FRAG Sockets Memory",
            "KiB",
            ChartType::Area,
            5470,
        ),
        dims: &[TableDim::new(
            "FRAG:memory",
            DimSpec::absolute("mem", 1, 1024),
        )],
        auto_sources: None,
        switch: sockstat_key("ipv4 FRAG memory"),
    },
];

/// netdata 1.37's `/proc/net/sockstat6` charts.
static SOCKSTAT6_CHARTS: &[TableChart] = &[
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT6,
            "ipv6",
            "sockstat6_tcp_sockets",
            "tcp6",
            "IPv6 TCP Sockets",
            "sockets",
            ChartType::Line,
            6500,
        ),
        dims: &[gauge("TCP6:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat6_key("ipv6 TCP sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT6,
            "ipv6",
            "sockstat6_udp_sockets",
            "udp6",
            "IPv6 UDP Sockets",
            "sockets",
            ChartType::Line,
            6600,
        ),
        dims: &[gauge("UDP6:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat6_key("ipv6 UDP sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT6,
            "ipv6",
            "sockstat6_udplite_sockets",
            "udplite6",
            "IPv6 UDPLITE Sockets",
            "sockets",
            ChartType::Line,
            6700,
        ),
        dims: &[gauge("UDPLITE6:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat6_key("ipv6 UDPLITE sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT6,
            "ipv6",
            "sockstat6_raw_sockets",
            "raw6",
            "IPv6 RAW Sockets",
            "sockets",
            ChartType::Line,
            6800,
        ),
        dims: &[gauge("RAW6:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat6_key("ipv6 RAW sockets"),
    },
    TableChart {
        spec: ChartSpec::proc(
            SOCKSTAT6,
            "ipv6",
            "sockstat6_frag_sockets",
            "fragments6",
            "IPv6 FRAG Sockets",
            "fragments",
            ChartType::Line,
            6400,
        ),
        dims: &[gauge("FRAG6:inuse", "inuse")],
        auto_sources: None,
        switch: sockstat6_key("ipv6 FRAG sockets"),
    },
];

/// netdata's default `update constants every` of
/// `[plugin:proc:/proc/net/sockstat]`, in seconds.
pub const UPDATE_CONSTANTS_EVERY: u32 = 60;

/// The TCP limits `/proc/net/sockstat`'s module keeps as host variables.
struct TcpLimits {
    refresh: Refresh,
    max_orphans_file: LimitsFile,
    mem_file: LimitsFile,
    max_orphans: HostVariable,
    /// `tcp_mem_low`, `tcp_mem_pressure`, `tcp_mem_high`.
    mem: [HostVariable; 3],
    /// Bytes in a page (`tcp_mem` counts pages).
    page_size: f64,
}

impl TcpLimits {
    fn new(root: &Path, update_every: u32, every_seconds: u32, page_size: i64) -> TcpLimits {
        TcpLimits {
            refresh: Refresh::every(every_seconds / update_every.max(1) + 1),
            max_orphans_file: LimitsFile::new(root, "/proc/sys/net/ipv4/tcp_max_orphans"),
            mem_file: LimitsFile::new(root, "/proc/sys/net/ipv4/tcp_mem"),
            max_orphans: HostVariable::new("tcp_max_orphans"),
            mem: [
                HostVariable::new("tcp_mem_low"),
                HostVariable::new("tcp_mem_pressure"),
                HostVariable::new("tcp_mem_high"),
            ],
            page_size: page_size as f64,
        }
    }

    fn collect(&mut self, host: &Host, collector: &str) {
        if !self.refresh.due() {
            return;
        }
        if let Some([orphans]) = self.max_orphans_file.numbers::<1>(collector) {
            self.max_orphans.set(host, orphans as f64);
        }
        if let Some(pages) = self.mem_file.numbers::<3>(collector) {
            for (variable, pages) in self.mem.iter_mut().zip(pages) {
                variable.set(host, pages as f64 * self.page_size / 1024.0);
            }
        }
    }
}

/// Collects `/proc/net/sockstat` or `/proc/net/sockstat6`.
pub struct SockstatCollector {
    name: &'static str,
    file: ModuleFile,
    update_every: u32,
    counters: CounterTable,
    charts: TableCharts,
    /// The IPv4 one's TCP limits.
    tcp_limits: Option<TcpLimits>,
    refused: RefusedRounds,
}

impl SockstatCollector {
    /// The IPv4 one, `/proc/net/sockstat`, every chart on netdata's default
    /// switch (`auto`).
    pub fn ipv4(root: &Path, update_every: u32) -> SockstatCollector {
        SockstatCollector::ipv4_configured(root, update_every, &no_chart_switches)
    }

    /// The IPv6 one, `/proc/net/sockstat6`, every chart on netdata's default
    /// switch (`auto`).
    pub fn ipv6(root: &Path, update_every: u32) -> SockstatCollector {
        SockstatCollector::ipv6_configured(root, update_every, &no_chart_switches)
    }

    /// [`SockstatCollector::ipv4`] with the per-chart switches of
    /// `[plugin:proc:/proc/net/sockstat]`.
    pub fn ipv4_configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> SockstatCollector {
        let mut collector = SockstatCollector::new(
            "proc:sockstat",
            SOCKSTAT,
            SOCKSTAT_CHARTS,
            root,
            update_every,
            switches,
        );
        let page_size = i64::try_from(crate::sys::page_size()).unwrap_or(4096);
        collector.tcp_limits = Some(TcpLimits::new(
            root,
            collector.update_every,
            UPDATE_CONSTANTS_EVERY,
            page_size,
        ));
        collector
    }

    /// With `[plugin:proc:/proc/net/sockstat] update constants every` set
    /// to `seconds` (how often the IPv4 one reads the TCP limits; the IPv6
    /// one has none).
    pub fn updating_constants_every(mut self, seconds: u32) -> SockstatCollector {
        if let Some(limits) = &mut self.tcp_limits {
            limits.refresh = Refresh::every(seconds / self.update_every + 1);
        }
        self
    }

    /// [`SockstatCollector::ipv6`] with the per-chart switches of
    /// `[plugin:proc:/proc/net/sockstat6]`.
    pub fn ipv6_configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> SockstatCollector {
        SockstatCollector::new(
            "proc:sockstat6",
            SOCKSTAT6,
            SOCKSTAT6_CHARTS,
            root,
            update_every,
            switches,
        )
    }

    fn new(
        name: &'static str,
        path: &str,
        charts: &'static [TableChart],
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> SockstatCollector {
        let mut counters = CounterTable::default();
        let page_size = i64::try_from(crate::sys::page_size()).unwrap_or(4096);
        let charts = TableCharts::new(&mut counters, charts)
            .page_size(page_size)
            .switched_by(switches);
        SockstatCollector {
            name,
            file: ModuleFile::new(root, path),
            update_every: update_every.max(1),
            counters,
            charts,
            tcp_limits: None,
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for SockstatCollector {
    fn name(&self) -> &str {
        self.name
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        if let Some(limits) = &mut self.tcp_limits {
            limits.collect(host, self.name);
        }
        self.counters.clear();
        let Some(data) = self.file.read(self.name) else {
            self.charts.mark_all_obsolete();
            return Ok(());
        };
        self.counters.parse_section_pairs(data);
        let mut cycle = Cycle::new(now_ut);
        self.charts
            .update(host, &self.counters, &mut cycle, self.update_every);
        self.refused.settle(self.name, cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_has_a_switch_netdata_conf_reads() {
        let charts = || SOCKSTAT_CHARTS.iter().chain(SOCKSTAT6_CHARTS);
        for chart in charts() {
            let key = chart.switch.expect("every chart has a switch");
            assert!(key.is_read_from_netdata_conf(), "{key:?}");
        }
        // And every key read for these sections switches a chart.
        for (module, keys) in crate::config::PROC_CHART_SWITCHES {
            if ![SOCKSTAT, SOCKSTAT6].contains(module) {
                continue;
            }
            for key in *keys {
                let wanted = Some(SwitchKey::new(module, key));
                assert!(charts().any(|c| c.switch == wanted), "{module} {key}");
            }
        }
    }
}
