//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`: the IP, TCP,
//! UDP and ICMP counters of the kernel (`system.ip`, `system.ipv6`, `ip.*`,
//! `ipv4.*`, `ipv6.*`), under netdata 1.37's one switch for the three,
//! `/proc/net/netstat`, and its module name for all their charts.
//!
//! Each chart has netdata's `yes` / `no` / `auto` key, in the section of
//! the file it is drawn from: `[plugin:proc:/proc/net/netstat]` (`bandwidth`,
//! `input errors`, `ECN packets`, `TCP reorders`, ...),
//! `[plugin:proc:/proc/net/snmp]` (`ipv4 packets`, `ipv4 TCP connections`,
//! ...) and `[plugin:proc:/proc/net/snmp6]` (`ipv6 packets`, `icmp`, ...);
//! see `CHARTS`. Under `auto`, the default, a chart is created once one of
//! its counters is not zero, and kept from then on; under `yes` as soon as
//! its file is read; under `no` never. Each file is read on its own: one
//! that is missing at start is not read again (one log line), and only the
//! charts drawn from it are absent (netdata 1.37 gave up all three files
//! when `/proc/net/snmp6` was missing, as on a kernel without IPv6).
//!
//! `/proc/net/snmp`'s `Tcp` `MaxConn` (`-1`: no limit) is netdata's host
//! variable `tcp_max_connections`, set whenever the file is read.

use std::path::Path;

use rrd::{ChartType, Host};

use super::chart_handle::{ChartSpec, Cycle, DimSpec, RefusedRounds};
use super::counter_table::{CounterTable, SwitchKey, TableChart, TableCharts, TableDim};
use super::module_file::ModuleFile;
use super::ondemand::{no_chart_switches, ChartSwitches};
use super::parse::{lines, words};
use super::variables::{parse_signed, HostVariable};
use crate::collectors::Collector;

const MODULE: &str = "/proc/net/netstat";
/// The netdata.conf section (after `plugin:proc:`) of the IPv4 charts.
const SNMP_SECTION: &str = "/proc/net/snmp";
/// The netdata.conf section (after `plugin:proc:`) of the IPv6 charts.
const SNMP6_SECTION: &str = "/proc/net/snmp6";
const COLLECTOR: &str = "proc:netstat";

/// Bits in a kilobit: bandwidth is bytes × 8 / 1000.
const BITS_IN_A_KILOBIT: i64 = 1000;

const fn chart(
    type_: &'static str,
    id: &'static str,
    family: &'static str,
    title: &'static str,
    units: &'static str,
    chart_type: ChartType,
    priority: i64,
) -> ChartSpec {
    ChartSpec::proc(
        MODULE, type_, id, family, title, units, chart_type, priority,
    )
}

/// The switch `key` of `[plugin:proc:/proc/net/netstat]`.
const fn netstat_key(key: &'static str) -> Option<SwitchKey> {
    Some(SwitchKey::new(MODULE, key))
}

/// The switch `key` of `[plugin:proc:/proc/net/snmp]`.
const fn snmp_key(key: &'static str) -> Option<SwitchKey> {
    Some(SwitchKey::new(SNMP_SECTION, key))
}

/// The switch `key` of `[plugin:proc:/proc/net/snmp6]`.
const fn snmp6_key(key: &'static str) -> Option<SwitchKey> {
    Some(SwitchKey::new(SNMP6_SECTION, key))
}

/// netdata 1.37's charts of the three files, in its order, each with
/// netdata's section and key for its switch (the ICMP packets and errors
/// charts share one key, and so do the two UDPLite charts of IPv4).
static CHARTS: &[TableChart] = &[
    TableChart {
        spec: chart(
            "system",
            "ip",
            "network",
            "IP Bandwidth",
            "kilobits/s",
            ChartType::Area,
            501,
        ),
        dims: &[
            TableDim::new(
                "IpExt:InOctets",
                DimSpec::incremental("InOctets", 8, BITS_IN_A_KILOBIT).named("received"),
            ),
            TableDim::new(
                "IpExt:OutOctets",
                DimSpec::incremental("OutOctets", -8, BITS_IN_A_KILOBIT).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("bandwidth"),
    },
    TableChart {
        spec: chart(
            "ip",
            "inerrors",
            "errors",
            "IP Input Errors",
            "packets/s",
            ChartType::Line,
            4100,
        ),
        dims: &[
            TableDim::new(
                "IpExt:InNoRoutes",
                DimSpec::incremental("InNoRoutes", 1, 1).named("noroutes"),
            ),
            TableDim::new(
                "IpExt:InTruncatedPkts",
                DimSpec::incremental("InTruncatedPkts", 1, 1).named("truncated"),
            ),
            TableDim::new(
                "IpExt:InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1).named("checksum"),
            ),
        ],
        auto_sources: Some(&["IpExt:InNoRoutes", "IpExt:InTruncatedPkts"]),
        switch: netstat_key("input errors"),
    },
    TableChart {
        spec: chart(
            "ip",
            "mcast",
            "multicast",
            "IP Multicast Bandwidth",
            "kilobits/s",
            ChartType::Area,
            4600,
        ),
        dims: &[
            TableDim::new(
                "IpExt:InMcastOctets",
                DimSpec::incremental("InMcastOctets", 8, BITS_IN_A_KILOBIT).named("received"),
            ),
            TableDim::new(
                "IpExt:OutMcastOctets",
                DimSpec::incremental("OutMcastOctets", -8, BITS_IN_A_KILOBIT).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("multicast bandwidth"),
    },
    TableChart {
        spec: chart(
            "ip",
            "bcast",
            "broadcast",
            "IP Broadcast Bandwidth",
            "kilobits/s",
            ChartType::Area,
            4500,
        ),
        dims: &[
            TableDim::new(
                "IpExt:InBcastOctets",
                DimSpec::incremental("InBcastOctets", 8, BITS_IN_A_KILOBIT).named("received"),
            ),
            TableDim::new(
                "IpExt:OutBcastOctets",
                DimSpec::incremental("OutBcastOctets", -8, BITS_IN_A_KILOBIT).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("broadcast bandwidth"),
    },
    TableChart {
        spec: chart(
            "ip",
            "mcastpkts",
            "multicast",
            "IP Multicast Packets",
            "packets/s",
            ChartType::Line,
            4610,
        ),
        dims: &[
            TableDim::new(
                "IpExt:InMcastPkts",
                DimSpec::incremental("InMcastPkts", 1, 1).named("received"),
            ),
            TableDim::new(
                "IpExt:OutMcastPkts",
                DimSpec::incremental("OutMcastPkts", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("multicast packets"),
    },
    TableChart {
        spec: chart(
            "ip",
            "bcastpkts",
            "broadcast",
            "IP Broadcast Packets",
            "packets/s",
            ChartType::Line,
            4510,
        ),
        dims: &[
            TableDim::new(
                "IpExt:InBcastPkts",
                DimSpec::incremental("InBcastPkts", 1, 1).named("received"),
            ),
            TableDim::new(
                "IpExt:OutBcastPkts",
                DimSpec::incremental("OutBcastPkts", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("broadcast packets"),
    },
    TableChart {
        spec: chart(
            "ip",
            "ecnpkts",
            "ecn",
            "IP ECN Statistics",
            "packets/s",
            ChartType::Line,
            4700,
        ),
        dims: &[
            TableDim::new(
                "IpExt:InCEPkts",
                DimSpec::incremental("InCEPkts", 1, 1).named("CEP"),
            ),
            TableDim::new(
                "IpExt:InNoECTPkts",
                DimSpec::incremental("InNoECTPkts", -1, 1).named("NoECTP"),
            ),
            TableDim::new(
                "IpExt:InECT0Pkts",
                DimSpec::incremental("InECT0Pkts", 1, 1).named("ECTP0"),
            ),
            TableDim::new(
                "IpExt:InECT1Pkts",
                DimSpec::incremental("InECT1Pkts", 1, 1).named("ECTP1"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("ECN packets"),
    },
    TableChart {
        spec: chart(
            "ip",
            "tcpmemorypressures",
            "tcp",
            "TCP Memory Pressures",
            "events/s",
            ChartType::Line,
            4290,
        ),
        dims: &[TableDim::new(
            "TcpExt:TCPMemoryPressures",
            DimSpec::incremental("TCPMemoryPressures", 1, 1).named("pressures"),
        )],
        auto_sources: None,
        switch: netstat_key("TCP memory pressures"),
    },
    TableChart {
        spec: chart(
            "ip",
            "tcpconnaborts",
            "tcp",
            "TCP Connection Aborts",
            "connections/s",
            ChartType::Line,
            4210,
        ),
        dims: &[
            TableDim::new(
                "TcpExt:TCPAbortOnData",
                DimSpec::incremental("TCPAbortOnData", 1, 1).named("baddata"),
            ),
            TableDim::new(
                "TcpExt:TCPAbortOnClose",
                DimSpec::incremental("TCPAbortOnClose", 1, 1).named("userclosed"),
            ),
            TableDim::new(
                "TcpExt:TCPAbortOnMemory",
                DimSpec::incremental("TCPAbortOnMemory", 1, 1).named("nomemory"),
            ),
            TableDim::new(
                "TcpExt:TCPAbortOnTimeout",
                DimSpec::incremental("TCPAbortOnTimeout", 1, 1).named("timeout"),
            ),
            TableDim::new(
                "TcpExt:TCPAbortOnLinger",
                DimSpec::incremental("TCPAbortOnLinger", 1, 1).named("linger"),
            ),
            TableDim::new(
                "TcpExt:TCPAbortFailed",
                DimSpec::incremental("TCPAbortFailed", -1, 1).named("failed"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("TCP connection aborts"),
    },
    TableChart {
        spec: chart(
            "ip",
            "tcpreorders",
            "tcp",
            "TCP Reordered Packets by Detection Method",
            "packets/s",
            ChartType::Line,
            4220,
        ),
        dims: &[
            TableDim::new(
                "TcpExt:TCPTSReorder",
                DimSpec::incremental("TCPTSReorder", 1, 1).named("timestamp"),
            ),
            TableDim::new(
                "TcpExt:TCPSACKReorder",
                DimSpec::incremental("TCPSACKReorder", 1, 1).named("sack"),
            ),
            TableDim::new(
                "TcpExt:TCPFACKReorder",
                DimSpec::incremental("TCPFACKReorder", 1, 1).named("fack"),
            ),
            TableDim::new(
                "TcpExt:TCPRenoReorder",
                DimSpec::incremental("TCPRenoReorder", 1, 1).named("reno"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("TCP reorders"),
    },
    TableChart {
        spec: chart(
            "ip",
            "tcpofo",
            "tcp",
            "TCP Out-Of-Order Queue",
            "packets/s",
            ChartType::Line,
            4250,
        ),
        dims: &[
            TableDim::new(
                "TcpExt:TCPOFOQueue",
                DimSpec::incremental("TCPOFOQueue", 1, 1).named("inqueue"),
            ),
            TableDim::new(
                "TcpExt:TCPOFODrop",
                DimSpec::incremental("TCPOFODrop", -1, 1).named("dropped"),
            ),
            TableDim::new(
                "TcpExt:TCPOFOMerge",
                DimSpec::incremental("TCPOFOMerge", 1, 1).named("merged"),
            ),
            TableDim::new(
                "TcpExt:OfoPruned",
                DimSpec::incremental("OfoPruned", -1, 1).named("pruned"),
            ),
        ],
        auto_sources: Some(&[
            "TcpExt:TCPOFOQueue",
            "TcpExt:TCPOFODrop",
            "TcpExt:TCPOFOMerge",
        ]),
        switch: netstat_key("TCP out-of-order queue"),
    },
    TableChart {
        spec: chart(
            "ip",
            "tcpsyncookies",
            "tcp",
            "TCP SYN Cookies",
            "packets/s",
            ChartType::Line,
            4260,
        ),
        dims: &[
            TableDim::new(
                "TcpExt:SyncookiesRecv",
                DimSpec::incremental("SyncookiesRecv", 1, 1).named("received"),
            ),
            TableDim::new(
                "TcpExt:SyncookiesSent",
                DimSpec::incremental("SyncookiesSent", -1, 1).named("sent"),
            ),
            TableDim::new(
                "TcpExt:SyncookiesFailed",
                DimSpec::incremental("SyncookiesFailed", -1, 1).named("failed"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("TCP SYN cookies"),
    },
    TableChart {
        spec: chart(
            "ip",
            "tcp_syn_queue",
            "tcp",
            "TCP SYN Queue Issues",
            "packets/s",
            ChartType::Line,
            4215,
        ),
        dims: &[
            TableDim::new(
                "TcpExt:TCPReqQFullDrop",
                DimSpec::incremental("TCPReqQFullDrop", 1, 1).named("drops"),
            ),
            TableDim::new(
                "TcpExt:TCPReqQFullDoCookies",
                DimSpec::incremental("TCPReqQFullDoCookies", 1, 1).named("cookies"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("TCP SYN queue"),
    },
    TableChart {
        spec: chart(
            "ip",
            "tcp_accept_queue",
            "tcp",
            "TCP Accept Queue Issues",
            "packets/s",
            ChartType::Line,
            4216,
        ),
        dims: &[
            TableDim::new(
                "TcpExt:ListenOverflows",
                DimSpec::incremental("ListenOverflows", 1, 1).named("overflows"),
            ),
            TableDim::new(
                "TcpExt:ListenDrops",
                DimSpec::incremental("ListenDrops", 1, 1).named("drops"),
            ),
        ],
        auto_sources: None,
        switch: netstat_key("TCP accept queue"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "packets",
            "packets",
            "IPv4 Packets",
            "packets/s",
            ChartType::Line,
            5130,
        ),
        dims: &[
            TableDim::new(
                "Ip:InReceives",
                DimSpec::incremental("InReceives", 1, 1).named("received"),
            ),
            TableDim::new(
                "Ip:OutRequests",
                DimSpec::incremental("OutRequests", -1, 1).named("sent"),
            ),
            TableDim::new(
                "Ip:ForwDatagrams",
                DimSpec::incremental("ForwDatagrams", 1, 1).named("forwarded"),
            ),
            TableDim::new(
                "Ip:InDelivers",
                DimSpec::incremental("InDelivers", 1, 1).named("delivered"),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 packets"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "fragsout",
            "fragments",
            "IPv4 Fragments Sent",
            "packets/s",
            ChartType::Line,
            5460,
        ),
        dims: &[
            TableDim::new(
                "Ip:FragOKs",
                DimSpec::incremental("FragOKs", 1, 1).named("ok"),
            ),
            TableDim::new(
                "Ip:FragFails",
                DimSpec::incremental("FragFails", -1, 1).named("failed"),
            ),
            TableDim::new(
                "Ip:FragCreates",
                DimSpec::incremental("FragCreates", 1, 1).named("created"),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 fragments sent"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "fragsin",
            "fragments",
            "IPv4 Fragments Reassembly",
            "packets/s",
            ChartType::Line,
            5461,
        ),
        dims: &[
            TableDim::new(
                "Ip:ReasmOKs",
                DimSpec::incremental("ReasmOKs", 1, 1).named("ok"),
            ),
            TableDim::new(
                "Ip:ReasmFails",
                DimSpec::incremental("ReasmFails", -1, 1).named("failed"),
            ),
            TableDim::new(
                "Ip:ReasmReqds",
                DimSpec::incremental("ReasmReqds", 1, 1).named("all"),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 fragments assembly"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "errors",
            "errors",
            "IPv4 Errors",
            "packets/s",
            ChartType::Line,
            5150,
        ),
        dims: &[
            TableDim::new("Ip:InDiscards", DimSpec::incremental("InDiscards", 1, 1)),
            TableDim::new("Ip:OutDiscards", DimSpec::incremental("OutDiscards", -1, 1)),
            TableDim::new("Ip:InHdrErrors", DimSpec::incremental("InHdrErrors", 1, 1)),
            TableDim::new("Ip:OutNoRoutes", DimSpec::incremental("OutNoRoutes", -1, 1)),
            TableDim::new(
                "Ip:InAddrErrors",
                DimSpec::incremental("InAddrErrors", 1, 1),
            ),
            TableDim::new(
                "Ip:InUnknownProtos",
                DimSpec::incremental("InUnknownProtos", 1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 errors"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "icmp",
            "icmp",
            "IPv4 ICMP Packets",
            "packets/s",
            ChartType::Line,
            5170,
        ),
        dims: &[
            TableDim::new(
                "Icmp:InMsgs",
                DimSpec::incremental("InMsgs", 1, 1).named("received"),
            ),
            TableDim::new(
                "Icmp:OutMsgs",
                DimSpec::incremental("OutMsgs", -1, 1).named("sent"),
            ),
        ],
        auto_sources: Some(&[
            "Icmp:InMsgs",
            "Icmp:OutMsgs",
            "Icmp:InErrors",
            "Icmp:OutErrors",
            "Icmp:InCsumErrors",
        ]),
        switch: snmp_key("ipv4 ICMP packets"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "icmp_errors",
            "icmp",
            "IPv4 ICMP Errors",
            "packets/s",
            ChartType::Line,
            5171,
        ),
        dims: &[
            TableDim::new("Icmp:InErrors", DimSpec::incremental("InErrors", 1, 1)),
            TableDim::new("Icmp:OutErrors", DimSpec::incremental("OutErrors", -1, 1)),
            TableDim::new(
                "Icmp:InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1),
            ),
        ],
        auto_sources: Some(&[
            "Icmp:InMsgs",
            "Icmp:OutMsgs",
            "Icmp:InErrors",
            "Icmp:OutErrors",
            "Icmp:InCsumErrors",
        ]),
        switch: snmp_key("ipv4 ICMP packets"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "icmpmsg",
            "icmp",
            "IPv4 ICMP Messages",
            "packets/s",
            ChartType::Line,
            5172,
        ),
        dims: &[
            TableDim::new(
                "IcmpMsg:InType0",
                DimSpec::incremental("InType0", 1, 1).named("InEchoReps"),
            ),
            TableDim::new(
                "IcmpMsg:OutType0",
                DimSpec::incremental("OutType0", -1, 1).named("OutEchoReps"),
            ),
            TableDim::new(
                "IcmpMsg:InType3",
                DimSpec::incremental("InType3", 1, 1).named("InDestUnreachs"),
            ),
            TableDim::new(
                "IcmpMsg:OutType3",
                DimSpec::incremental("OutType3", -1, 1).named("OutDestUnreachs"),
            ),
            TableDim::new(
                "IcmpMsg:InType5",
                DimSpec::incremental("InType5", 1, 1).named("InRedirects"),
            ),
            TableDim::new(
                "IcmpMsg:OutType5",
                DimSpec::incremental("OutType5", -1, 1).named("OutRedirects"),
            ),
            TableDim::new(
                "IcmpMsg:InType8",
                DimSpec::incremental("InType8", 1, 1).named("InEchos"),
            ),
            TableDim::new(
                "IcmpMsg:OutType8",
                DimSpec::incremental("OutType8", -1, 1).named("OutEchos"),
            ),
            TableDim::new(
                "IcmpMsg:InType9",
                DimSpec::incremental("InType9", 1, 1).named("InRouterAdvert"),
            ),
            TableDim::new(
                "IcmpMsg:OutType9",
                DimSpec::incremental("OutType9", -1, 1).named("OutRouterAdvert"),
            ),
            TableDim::new(
                "IcmpMsg:InType10",
                DimSpec::incremental("InType10", 1, 1).named("InRouterSelect"),
            ),
            TableDim::new(
                "IcmpMsg:OutType10",
                DimSpec::incremental("OutType10", -1, 1).named("OutRouterSelect"),
            ),
            TableDim::new(
                "IcmpMsg:InType11",
                DimSpec::incremental("InType11", 1, 1).named("InTimeExcds"),
            ),
            TableDim::new(
                "IcmpMsg:OutType11",
                DimSpec::incremental("OutType11", -1, 1).named("OutTimeExcds"),
            ),
            TableDim::new(
                "IcmpMsg:InType12",
                DimSpec::incremental("InType12", 1, 1).named("InParmProbs"),
            ),
            TableDim::new(
                "IcmpMsg:OutType12",
                DimSpec::incremental("OutType12", -1, 1).named("OutParmProbs"),
            ),
            TableDim::new(
                "IcmpMsg:InType13",
                DimSpec::incremental("InType13", 1, 1).named("InTimestamps"),
            ),
            TableDim::new(
                "IcmpMsg:OutType13",
                DimSpec::incremental("OutType13", -1, 1).named("OutTimestamps"),
            ),
            TableDim::new(
                "IcmpMsg:InType14",
                DimSpec::incremental("InType14", 1, 1).named("InTimestampReps"),
            ),
            TableDim::new(
                "IcmpMsg:OutType14",
                DimSpec::incremental("OutType14", -1, 1).named("OutTimestampReps"),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 ICMP messages"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "tcpsock",
            "tcp",
            "IPv4 TCP Connections",
            "active connections",
            ChartType::Line,
            5200,
        ),
        dims: &[TableDim::new(
            "Tcp:CurrEstab",
            DimSpec::absolute("CurrEstab", 1, 1).named("connections"),
        )],
        auto_sources: None,
        switch: snmp_key("ipv4 TCP connections"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "tcppackets",
            "tcp",
            "IPv4 TCP Packets",
            "packets/s",
            ChartType::Line,
            5204,
        ),
        dims: &[
            TableDim::new(
                "Tcp:InSegs",
                DimSpec::incremental("InSegs", 1, 1).named("received"),
            ),
            TableDim::new(
                "Tcp:OutSegs",
                DimSpec::incremental("OutSegs", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 TCP packets"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "tcperrors",
            "tcp",
            "IPv4 TCP Errors",
            "packets/s",
            ChartType::Line,
            5220,
        ),
        dims: &[
            TableDim::new("Tcp:InErrs", DimSpec::incremental("InErrs", 1, 1)),
            TableDim::new(
                "Tcp:InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1),
            ),
            TableDim::new(
                "Tcp:RetransSegs",
                DimSpec::incremental("RetransSegs", -1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 TCP errors"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "tcpopens",
            "tcp",
            "IPv4 TCP Opens",
            "connections/s",
            ChartType::Line,
            5205,
        ),
        dims: &[
            TableDim::new(
                "Tcp:ActiveOpens",
                DimSpec::incremental("ActiveOpens", 1, 1).named("active"),
            ),
            TableDim::new(
                "Tcp:PassiveOpens",
                DimSpec::incremental("PassiveOpens", 1, 1).named("passive"),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 TCP opens"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "tcphandshake",
            "tcp",
            "IPv4 TCP Handshake Issues",
            "events/s",
            ChartType::Line,
            5230,
        ),
        dims: &[
            TableDim::new("Tcp:EstabResets", DimSpec::incremental("EstabResets", 1, 1)),
            TableDim::new("Tcp:OutRsts", DimSpec::incremental("OutRsts", 1, 1)),
            TableDim::new(
                "Tcp:AttemptFails",
                DimSpec::incremental("AttemptFails", 1, 1),
            ),
            TableDim::new(
                "TcpExt:TCPSynRetrans",
                DimSpec::incremental("TCPSynRetrans", 1, 1).named("SynRetrans"),
            ),
        ],
        auto_sources: Some(&["Tcp:EstabResets", "Tcp:OutRsts", "Tcp:AttemptFails"]),
        switch: snmp_key("ipv4 TCP handshake issues"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "udppackets",
            "udp",
            "IPv4 UDP Packets",
            "packets/s",
            ChartType::Line,
            5300,
        ),
        dims: &[
            TableDim::new(
                "Udp:InDatagrams",
                DimSpec::incremental("InDatagrams", 1, 1).named("received"),
            ),
            TableDim::new(
                "Udp:OutDatagrams",
                DimSpec::incremental("OutDatagrams", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 UDP packets"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "udperrors",
            "udp",
            "IPv4 UDP Errors",
            "events/s",
            ChartType::Line,
            5310,
        ),
        dims: &[
            TableDim::new(
                "Udp:RcvbufErrors",
                DimSpec::incremental("RcvbufErrors", 1, 1),
            ),
            TableDim::new(
                "Udp:SndbufErrors",
                DimSpec::incremental("SndbufErrors", -1, 1),
            ),
            TableDim::new("Udp:InErrors", DimSpec::incremental("InErrors", 1, 1)),
            TableDim::new("Udp:NoPorts", DimSpec::incremental("NoPorts", 1, 1)),
            TableDim::new(
                "Udp:InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1),
            ),
            TableDim::new(
                "Udp:IgnoredMulti",
                DimSpec::incremental("IgnoredMulti", 1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp_key("ipv4 UDP errors"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "udplite",
            "udplite",
            "IPv4 UDPLite Packets",
            "packets/s",
            ChartType::Line,
            5400,
        ),
        dims: &[
            TableDim::new(
                "UdpLite:InDatagrams",
                DimSpec::incremental("InDatagrams", 1, 1).named("received"),
            ),
            TableDim::new(
                "UdpLite:OutDatagrams",
                DimSpec::incremental("OutDatagrams", -1, 1).named("sent"),
            ),
        ],
        auto_sources: Some(&[
            "UdpLite:InDatagrams",
            "UdpLite:OutDatagrams",
            "UdpLite:NoPorts",
            "UdpLite:InErrors",
            "UdpLite:InCsumErrors",
            "UdpLite:RcvbufErrors",
            "UdpLite:SndbufErrors",
            "UdpLite:IgnoredMulti",
        ]),
        switch: snmp_key("ipv4 UDPLite packets"),
    },
    TableChart {
        spec: chart(
            "ipv4",
            "udplite_errors",
            "udplite",
            "IPv4 UDPLite Errors",
            "packets/s",
            ChartType::Line,
            5410,
        ),
        dims: &[
            TableDim::new(
                "UdpLite:RcvbufErrors",
                DimSpec::incremental("RcvbufErrors", 1, 1),
            ),
            TableDim::new(
                "UdpLite:SndbufErrors",
                DimSpec::incremental("SndbufErrors", -1, 1),
            ),
            TableDim::new("UdpLite:InErrors", DimSpec::incremental("InErrors", 1, 1)),
            TableDim::new("UdpLite:NoPorts", DimSpec::incremental("NoPorts", 1, 1)),
            TableDim::new(
                "UdpLite:InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1),
            ),
            TableDim::new(
                "UdpLite:IgnoredMulti",
                DimSpec::incremental("IgnoredMulti", 1, 1),
            ),
        ],
        auto_sources: Some(&[
            "UdpLite:InDatagrams",
            "UdpLite:OutDatagrams",
            "UdpLite:NoPorts",
            "UdpLite:InErrors",
            "UdpLite:InCsumErrors",
            "UdpLite:RcvbufErrors",
            "UdpLite:SndbufErrors",
            "UdpLite:IgnoredMulti",
        ]),
        switch: snmp_key("ipv4 UDPLite packets"),
    },
    TableChart {
        spec: chart(
            "system",
            "ipv6",
            "network",
            "IPv6 Bandwidth",
            "kilobits/s",
            ChartType::Area,
            502,
        ),
        dims: &[
            TableDim::new(
                "Ip6InOctets",
                DimSpec::incremental("InOctets", 8, BITS_IN_A_KILOBIT).named("received"),
            ),
            TableDim::new(
                "Ip6OutOctets",
                DimSpec::incremental("OutOctets", -8, BITS_IN_A_KILOBIT).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("bandwidth"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "packets",
            "packets",
            "IPv6 Packets",
            "packets/s",
            ChartType::Line,
            6200,
        ),
        dims: &[
            TableDim::new(
                "Ip6InReceives",
                DimSpec::incremental("InReceives", 1, 1).named("received"),
            ),
            TableDim::new(
                "Ip6OutRequests",
                DimSpec::incremental("OutRequests", -1, 1).named("sent"),
            ),
            TableDim::new(
                "Ip6OutForwDatagrams",
                DimSpec::incremental("OutForwDatagrams", -1, 1).named("forwarded"),
            ),
            TableDim::new(
                "Ip6InDelivers",
                DimSpec::incremental("InDelivers", 1, 1).named("delivers"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("ipv6 packets"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "fragsout",
            "fragments6",
            "IPv6 Fragments Sent",
            "packets/s",
            ChartType::Line,
            6401,
        ),
        dims: &[
            TableDim::new(
                "Ip6FragOKs",
                DimSpec::incremental("FragOKs", 1, 1).named("ok"),
            ),
            TableDim::new(
                "Ip6FragFails",
                DimSpec::incremental("FragFails", -1, 1).named("failed"),
            ),
            TableDim::new(
                "Ip6FragCreates",
                DimSpec::incremental("FragCreates", 1, 1).named("all"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("ipv6 fragments sent"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "fragsin",
            "fragments6",
            "IPv6 Fragments Reassembly",
            "packets/s",
            ChartType::Line,
            6402,
        ),
        dims: &[
            TableDim::new(
                "Ip6ReasmOKs",
                DimSpec::incremental("ReasmOKs", 1, 1).named("ok"),
            ),
            TableDim::new(
                "Ip6ReasmFails",
                DimSpec::incremental("ReasmFails", -1, 1).named("failed"),
            ),
            TableDim::new(
                "Ip6ReasmTimeout",
                DimSpec::incremental("ReasmTimeout", -1, 1).named("timeout"),
            ),
            TableDim::new(
                "Ip6ReasmReqds",
                DimSpec::incremental("ReasmReqds", 1, 1).named("all"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("ipv6 fragments assembly"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "errors",
            "errors",
            "IPv6 Errors",
            "packets/s",
            ChartType::Line,
            6300,
        ),
        dims: &[
            TableDim::new("Ip6InDiscards", DimSpec::incremental("InDiscards", 1, 1)),
            TableDim::new("Ip6OutDiscards", DimSpec::incremental("OutDiscards", -1, 1)),
            TableDim::new("Ip6InHdrErrors", DimSpec::incremental("InHdrErrors", 1, 1)),
            TableDim::new(
                "Ip6InAddrErrors",
                DimSpec::incremental("InAddrErrors", 1, 1),
            ),
            TableDim::new(
                "Ip6InUnknownProtos",
                DimSpec::incremental("InUnknownProtos", 1, 1),
            ),
            TableDim::new(
                "Ip6InTooBigErrors",
                DimSpec::incremental("InTooBigErrors", 1, 1),
            ),
            TableDim::new(
                "Ip6InTruncatedPkts",
                DimSpec::incremental("InTruncatedPkts", 1, 1),
            ),
            TableDim::new("Ip6InNoRoutes", DimSpec::incremental("InNoRoutes", 1, 1)),
            TableDim::new("Ip6OutNoRoutes", DimSpec::incremental("OutNoRoutes", -1, 1)),
        ],
        auto_sources: Some(&[
            "Ip6InDiscards",
            "Ip6OutDiscards",
            "Ip6InHdrErrors",
            "Ip6InAddrErrors",
            "Ip6InUnknownProtos",
            "Ip6InTooBigErrors",
            "Ip6InTruncatedPkts",
            "Ip6InNoRoutes",
        ]),
        switch: snmp6_key("ipv6 errors"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "udppackets",
            "udp6",
            "IPv6 UDP Packets",
            "packets/s",
            ChartType::Line,
            6601,
        ),
        dims: &[
            TableDim::new(
                "Udp6InDatagrams",
                DimSpec::incremental("InDatagrams", 1, 1).named("received"),
            ),
            TableDim::new(
                "Udp6OutDatagrams",
                DimSpec::incremental("OutDatagrams", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("ipv6 UDP packets"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "udperrors",
            "udp6",
            "IPv6 UDP Errors",
            "events/s",
            ChartType::Line,
            6610,
        ),
        dims: &[
            TableDim::new(
                "Udp6RcvbufErrors",
                DimSpec::incremental("RcvbufErrors", 1, 1),
            ),
            TableDim::new(
                "Udp6SndbufErrors",
                DimSpec::incremental("SndbufErrors", -1, 1),
            ),
            TableDim::new("Udp6InErrors", DimSpec::incremental("InErrors", 1, 1)),
            TableDim::new("Udp6NoPorts", DimSpec::incremental("NoPorts", 1, 1)),
            TableDim::new(
                "Udp6InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1),
            ),
            TableDim::new(
                "Udp6IgnoredMulti",
                DimSpec::incremental("IgnoredMulti", 1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("ipv6 UDP errors"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "udplitepackets",
            "udplite6",
            "IPv6 UDPlite Packets",
            "packets/s",
            ChartType::Line,
            6701,
        ),
        dims: &[
            TableDim::new(
                "UdpLite6InDatagrams",
                DimSpec::incremental("InDatagrams", 1, 1).named("received"),
            ),
            TableDim::new(
                "UdpLite6OutDatagrams",
                DimSpec::incremental("OutDatagrams", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("ipv6 UDPlite packets"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "udpliteerrors",
            "udplite6",
            "IPv6 UDP Lite Errors",
            "events/s",
            ChartType::Line,
            6710,
        ),
        dims: &[
            TableDim::new(
                "UdpLite6RcvbufErrors",
                DimSpec::incremental("RcvbufErrors", 1, 1),
            ),
            TableDim::new(
                "UdpLite6SndbufErrors",
                DimSpec::incremental("SndbufErrors", -1, 1),
            ),
            TableDim::new("UdpLite6InErrors", DimSpec::incremental("InErrors", 1, 1)),
            TableDim::new("UdpLite6NoPorts", DimSpec::incremental("NoPorts", 1, 1)),
            TableDim::new(
                "UdpLite6InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1),
            ),
        ],
        auto_sources: Some(&[
            "UdpLite6InErrors",
            "UdpLite6NoPorts",
            "UdpLite6RcvbufErrors",
            "UdpLite6SndbufErrors",
            "Udp6InCsumErrors",
            "UdpLite6InCsumErrors",
        ]),
        switch: snmp6_key("ipv6 UDPlite errors"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "mcast",
            "multicast6",
            "IPv6 Multicast Bandwidth",
            "kilobits/s",
            ChartType::Area,
            6850,
        ),
        dims: &[
            TableDim::new(
                "Ip6InMcastOctets",
                DimSpec::incremental("InMcastOctets", 8, BITS_IN_A_KILOBIT).named("received"),
            ),
            TableDim::new(
                "Ip6OutMcastOctets",
                DimSpec::incremental("OutMcastOctets", -8, BITS_IN_A_KILOBIT).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("multicast bandwidth"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "bcast",
            "broadcast6",
            "IPv6 Broadcast Bandwidth",
            "kilobits/s",
            ChartType::Area,
            6840,
        ),
        dims: &[
            TableDim::new(
                "Ip6InBcastOctets",
                DimSpec::incremental("InBcastOctets", 8, BITS_IN_A_KILOBIT).named("received"),
            ),
            TableDim::new(
                "Ip6OutBcastOctets",
                DimSpec::incremental("OutBcastOctets", -8, BITS_IN_A_KILOBIT).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("broadcast bandwidth"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "mcastpkts",
            "multicast6",
            "IPv6 Multicast Packets",
            "packets/s",
            ChartType::Line,
            6851,
        ),
        dims: &[
            TableDim::new(
                "Ip6InMcastPkts",
                DimSpec::incremental("InMcastPkts", 1, 1).named("received"),
            ),
            TableDim::new(
                "Ip6OutMcastPkts",
                DimSpec::incremental("OutMcastPkts", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("multicast packets"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmp",
            "icmp6",
            "IPv6 ICMP Messages",
            "messages/s",
            ChartType::Line,
            6900,
        ),
        dims: &[
            TableDim::new(
                "Icmp6InMsgs",
                DimSpec::incremental("InMsgs", 1, 1).named("received"),
            ),
            TableDim::new(
                "Icmp6OutMsgs",
                DimSpec::incremental("OutMsgs", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmpredir",
            "icmp6",
            "IPv6 ICMP Redirects",
            "redirects/s",
            ChartType::Line,
            6910,
        ),
        dims: &[
            TableDim::new(
                "Icmp6InRedirects",
                DimSpec::incremental("InRedirects", 1, 1).named("received"),
            ),
            TableDim::new(
                "Icmp6OutRedirects",
                DimSpec::incremental("OutRedirects", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp redirects"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmperrors",
            "icmp6",
            "IPv6 ICMP Errors",
            "errors/s",
            ChartType::Line,
            6920,
        ),
        dims: &[
            TableDim::new("Icmp6InErrors", DimSpec::incremental("InErrors", 1, 1)),
            TableDim::new("Icmp6OutErrors", DimSpec::incremental("OutErrors", -1, 1)),
            TableDim::new(
                "Icmp6InCsumErrors",
                DimSpec::incremental("InCsumErrors", 1, 1),
            ),
            TableDim::new(
                "Icmp6InDestUnreachs",
                DimSpec::incremental("InDestUnreachs", 1, 1),
            ),
            TableDim::new(
                "Icmp6InPktTooBigs",
                DimSpec::incremental("InPktTooBigs", 1, 1),
            ),
            TableDim::new(
                "Icmp6InTimeExcds",
                DimSpec::incremental("InTimeExcds", 1, 1),
            ),
            TableDim::new(
                "Icmp6InParmProblems",
                DimSpec::incremental("InParmProblems", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutDestUnreachs",
                DimSpec::incremental("OutDestUnreachs", -1, 1),
            ),
            TableDim::new(
                "Icmp6OutPktTooBigs",
                DimSpec::incremental("OutPktTooBigs", -1, 1),
            ),
            TableDim::new(
                "Icmp6OutTimeExcds",
                DimSpec::incremental("OutTimeExcds", -1, 1),
            ),
            TableDim::new(
                "Icmp6OutParmProblems",
                DimSpec::incremental("OutParmProblems", -1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp errors"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmpechos",
            "icmp6",
            "IPv6 ICMP Echo",
            "messages/s",
            ChartType::Line,
            6930,
        ),
        dims: &[
            TableDim::new("Icmp6InEchos", DimSpec::incremental("InEchos", 1, 1)),
            TableDim::new("Icmp6OutEchos", DimSpec::incremental("OutEchos", -1, 1)),
            TableDim::new(
                "Icmp6InEchoReplies",
                DimSpec::incremental("InEchoReplies", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutEchoReplies",
                DimSpec::incremental("OutEchoReplies", -1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp echos"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "groupmemb",
            "icmp6",
            "IPv6 ICMP Group Membership",
            "messages/s",
            ChartType::Line,
            6940,
        ),
        dims: &[
            TableDim::new(
                "Icmp6InGroupMembQueries",
                DimSpec::incremental("InQueries", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutGroupMembQueries",
                DimSpec::incremental("OutQueries", -1, 1),
            ),
            TableDim::new(
                "Icmp6InGroupMembResponses",
                DimSpec::incremental("InResponses", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutGroupMembResponses",
                DimSpec::incremental("OutResponses", -1, 1),
            ),
            TableDim::new(
                "Icmp6InGroupMembReductions",
                DimSpec::incremental("InReductions", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutGroupMembReductions",
                DimSpec::incremental("OutReductions", -1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp group membership"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmprouter",
            "icmp6",
            "IPv6 Router Messages",
            "messages/s",
            ChartType::Line,
            6950,
        ),
        dims: &[
            TableDim::new(
                "Icmp6InRouterSolicits",
                DimSpec::incremental("InSolicits", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutRouterSolicits",
                DimSpec::incremental("OutSolicits", -1, 1),
            ),
            TableDim::new(
                "Icmp6InRouterAdvertisements",
                DimSpec::incremental("InAdvertisements", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutRouterAdvertisements",
                DimSpec::incremental("OutAdvertisements", -1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp router"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmpneighbor",
            "icmp6",
            "IPv6 Neighbor Messages",
            "messages/s",
            ChartType::Line,
            6960,
        ),
        dims: &[
            TableDim::new(
                "Icmp6InNeighborSolicits",
                DimSpec::incremental("InSolicits", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutNeighborSolicits",
                DimSpec::incremental("OutSolicits", -1, 1),
            ),
            TableDim::new(
                "Icmp6InNeighborAdvertisements",
                DimSpec::incremental("InAdvertisements", 1, 1),
            ),
            TableDim::new(
                "Icmp6OutNeighborAdvertisements",
                DimSpec::incremental("OutAdvertisements", -1, 1),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp neighbor"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmpmldv2",
            "icmp6",
            "IPv6 ICMP MLDv2 Reports",
            "reports/s",
            ChartType::Line,
            6970,
        ),
        dims: &[
            TableDim::new(
                "Icmp6InMLDv2Reports",
                DimSpec::incremental("InMLDv2Reports", 1, 1).named("received"),
            ),
            TableDim::new(
                "Icmp6OutMLDv2Reports",
                DimSpec::incremental("OutMLDv2Reports", -1, 1).named("sent"),
            ),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp mldv2"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "icmptypes",
            "icmp6",
            "IPv6 ICMP Types",
            "messages/s",
            ChartType::Line,
            6980,
        ),
        dims: &[
            TableDim::new("Icmp6InType1", DimSpec::incremental("InType1", 1, 1)),
            TableDim::new("Icmp6InType128", DimSpec::incremental("InType128", 1, 1)),
            TableDim::new("Icmp6InType129", DimSpec::incremental("InType129", 1, 1)),
            TableDim::new("Icmp6InType136", DimSpec::incremental("InType136", 1, 1)),
            TableDim::new("Icmp6OutType1", DimSpec::incremental("OutType1", -1, 1)),
            TableDim::new("Icmp6OutType128", DimSpec::incremental("OutType128", -1, 1)),
            TableDim::new("Icmp6OutType129", DimSpec::incremental("OutType129", -1, 1)),
            TableDim::new("Icmp6OutType133", DimSpec::incremental("OutType133", -1, 1)),
            TableDim::new("Icmp6OutType135", DimSpec::incremental("OutType135", -1, 1)),
            TableDim::new("Icmp6OutType143", DimSpec::incremental("OutType143", -1, 1)),
        ],
        auto_sources: None,
        switch: snmp6_key("icmp types"),
    },
    TableChart {
        spec: chart(
            "ipv6",
            "ect",
            "packets",
            "IPv6 ECT Packets",
            "packets/s",
            ChartType::Line,
            6210,
        ),
        dims: &[
            TableDim::new("Ip6InNoECTPkts", DimSpec::incremental("InNoECTPkts", 1, 1)),
            TableDim::new("Ip6InECT1Pkts", DimSpec::incremental("InECT1Pkts", 1, 1)),
            TableDim::new("Ip6InECT0Pkts", DimSpec::incremental("InECT0Pkts", 1, 1)),
            TableDim::new("Ip6InCEPkts", DimSpec::incremental("InCEPkts", 1, 1)),
        ],
        auto_sources: None,
        switch: snmp6_key("ect"),
    },
];

/// `MaxConn` of the `Tcp:` header and values lines of `/proc/net/snmp`
/// (signed: `-1` when the kernel sets no limit).
fn tcp_max_conn(data: &[u8]) -> Option<i64> {
    let mut tcp = lines(data).filter(|line| line.starts_with(b"Tcp:"));
    let (header, values) = (tcp.next()?, tcp.next()?);
    words(&header[4..])
        .zip(words(&values[4..]))
        .find(|(name, _)| *name == b"MaxConn")
        .and_then(|(_, value)| parse_signed(value))
}

/// Collects `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`.
pub struct NetstatCollector {
    netstat: ModuleFile,
    snmp: ModuleFile,
    snmp6: ModuleFile,
    update_every: u32,
    counters: CounterTable,
    charts: TableCharts,
    tcp_max_connections: HostVariable,
    refused: RefusedRounds,
}

impl NetstatCollector {
    /// Every chart on netdata's default switch (`auto`).
    pub fn new(root: &Path, update_every: u32) -> NetstatCollector {
        NetstatCollector::configured(root, update_every, &no_chart_switches)
    }

    /// With the per-chart switches of `[plugin:proc:/proc/net/netstat]`,
    /// `[plugin:proc:/proc/net/snmp]` and `[plugin:proc:/proc/net/snmp6]`.
    pub fn configured(
        root: &Path,
        update_every: u32,
        switches: ChartSwitches<'_>,
    ) -> NetstatCollector {
        let mut counters = CounterTable::default();
        let charts = TableCharts::new(&mut counters, CHARTS).switched_by(switches);
        NetstatCollector {
            netstat: ModuleFile::new(root, "/proc/net/netstat"),
            snmp: ModuleFile::new(root, "/proc/net/snmp"),
            snmp6: ModuleFile::new(root, "/proc/net/snmp6"),
            update_every: update_every.max(1),
            counters,
            charts,
            tcp_max_connections: HostVariable::new("tcp_max_connections"),
            refused: RefusedRounds::default(),
        }
    }
}

impl Collector for NetstatCollector {
    fn name(&self) -> &str {
        COLLECTOR
    }

    fn update_every(&self) -> u32 {
        self.update_every
    }

    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()> {
        self.counters.clear();
        if let Some(data) = self.netstat.read(COLLECTOR) {
            self.counters.parse_header_value_pairs(data);
        }
        let mut max_conn = None;
        if let Some(data) = self.snmp.read(COLLECTOR) {
            self.counters.parse_header_value_pairs(data);
            max_conn = tcp_max_conn(data);
        }
        if let Some(data) = self.snmp6.read(COLLECTOR) {
            self.counters.parse_name_value_lines(data);
        }
        let mut cycle = Cycle::new(now_ut);
        self.charts
            .update(host, &self.counters, &mut cycle, self.update_every);
        if let Some(max_conn) = max_conn {
            self.tcp_max_connections.set(host, max_conn as f64);
        }
        self.refused.settle(COLLECTOR, cycle);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_max_conn_is_read_signed() {
        let snmp = b"Ip: Forwarding DefaultTTL\nIp: 2 64\n\
                     Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens\n\
                     Tcp: 1 200 120000 -1 122784\n";
        assert_eq!(tcp_max_conn(snmp), Some(-1));
        assert_eq!(tcp_max_conn(b"Tcp: MaxConn\nTcp: 4096\n"), Some(4096));
        assert_eq!(tcp_max_conn(b"Tcp: RtoMin\nTcp: 200\n"), None);
        assert_eq!(tcp_max_conn(b"Tcp: MaxConn\n"), None);
        assert_eq!(tcp_max_conn(b""), None);
    }

    #[test]
    fn every_chart_is_unique_and_well_formed() {
        let mut ids: Vec<String> = CHARTS
            .iter()
            .map(|c| format!("{}.{}", c.spec.type_, c.spec.id))
            .collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "duplicate chart ids");
        for c in CHARTS {
            assert!(!c.dims.is_empty(), "{}", c.spec.id);
            let mut dims: Vec<&str> = c.dims.iter().map(|d| d.dim.id).collect();
            dims.sort_unstable();
            dims.dedup();
            assert_eq!(dims.len(), c.dims.len(), "{}", c.spec.id);
        }
    }

    #[test]
    fn every_chart_has_a_switch_netdata_conf_reads() {
        for chart in CHARTS {
            let key = chart.switch.expect("every chart has a switch");
            assert!(key.is_read_from_netdata_conf(), "{key:?}");
        }
        // And every key read for these sections switches a chart.
        for (module, keys) in crate::config::PROC_CHART_SWITCHES {
            if ![MODULE, SNMP_SECTION, SNMP6_SECTION].contains(module) {
                continue;
            }
            for key in *keys {
                let wanted = Some(SwitchKey::new(module, key));
                assert!(CHARTS.iter().any(|c| c.switch == wanted), "{module} {key}");
            }
        }
    }

    #[test]
    fn snmp6_without_sections_and_netstat_with() {
        let mut collector = NetstatCollector::new(Path::new("/nonexistent"), 1);
        collector
            .counters
            .parse_header_value_pairs(b"TcpExt: ListenDrops TCPSynRetrans\nTcpExt: 4 9\n");
        collector
            .counters
            .parse_name_value_lines(b"Ip6InOctets 100\nIp6OutOctets 50\n");
        let host = Host::new("t", 10);
        let mut cycle = Cycle::new(1_000_000);
        collector
            .charts
            .update(&host, &collector.counters, &mut cycle, 1);
        assert!(host.chart_by_id("ip.tcp_accept_queue").is_some());
        assert!(host.chart_by_id("system.ipv6").is_some());
        // TCPSynRetrans alone does not decide ipv4.tcphandshake (netdata's rule).
        assert!(host.chart_by_id("ipv4.tcphandshake").is_none());
        assert!(host.chart_by_id("ip.tcpofo").is_none());
    }
}
