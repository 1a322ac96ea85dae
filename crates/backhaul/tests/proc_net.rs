//! Black-box tests of the network /proc collectors
//! (`backhaul::collectors::proc`): `/proc/net/netstat` with `snmp` and
//! `snmp6`, `sockstat`, `sockstat6`, `softnet_stat`, `stat/nf_conntrack`,
//! `stat/synproxy`, and the extended `/proc/net/dev` charts.
//!
//! `tests/fixtures/proc_net/t0` and `t1` are two snapshots of this kind of
//! machine's files, about a second apart (see the README there). Each test
//! collects `t0` at `T` and `t1` at `T + 1 s` and checks the stored values
//! against numbers worked out by hand from the two snapshots (the
//! arithmetic is in the comments), and the chart definitions against
//! netdata 1.37.1's on this kind of machine
//! (`fixtures/proc_net/netdata-1.37-charts.json`).

mod proc_support;

use std::collections::BTreeSet;
use std::fs;

use backhaul::collectors::proc::default_collectors;
use backhaul::collectors::Collector;
use proc_support::{
    assert_close, assert_collections_do_not_allocate, assert_values, capture_logs, collect,
    collect_two_snapshots, fixtures, stored, variables, Root, T,
};
use rrd::{Algorithm, Host};

/// The fixture set: `tests/fixtures/proc_net`.
const FIXTURES: &str = "proc_net";

/// The switches of the modules under test.
const NET_SWITCHES: [&str; 7] = [
    "/proc/net/dev",
    "/proc/net/netstat",
    "/proc/net/sockstat",
    "/proc/net/sockstat6",
    "/proc/net/softnet_stat",
    "/proc/net/stat/conntrack",
    "/proc/net/stat/synproxy",
];

fn net_collectors(root: &Root) -> Vec<Box<dyn Collector>> {
    default_collectors(&root.path, 1, &|s| NET_SWITCHES.contains(&s))
}

/// Collects `t0` at `T` and `t1` at `T + 1`.
fn two_snapshots(test: &str) -> (Root, Host) {
    collect_two_snapshots(FIXTURES, test, 1, &|s| NET_SWITCHES.contains(&s))
}

fn chart_ids(host: &Host) -> BTreeSet<String> {
    host.charts().iter().map(|c| c.id().to_string()).collect()
}

// ---------------------------------------------------------------------------
// Values.

#[test]
fn ip_tcp_udp_icmp_counters() {
    let (_root, host) = two_snapshots("netstat");
    // IpExt InOctets 23822087298 -> 23822110076, OutOctets 23175549345 ->
    // 23175572123: 22778 B/s each, × 8 / 1000 kilobits (sent negative).
    assert_values(
        &host,
        "system.ip",
        T + 1,
        &[("InOctets", 182.224), ("OutOctets", -182.224)],
    );
    // Ip InReceives 1814057 -> 1814290, OutRequests 1649086 -> 1649319,
    // InDelivers 1814057 -> 1814290, ForwDatagrams 0.
    assert_values(
        &host,
        "ipv4.packets",
        T + 1,
        &[
            ("InReceives", 233.0),
            ("OutRequests", -233.0),
            ("ForwDatagrams", 0.0),
            ("InDelivers", 233.0),
        ],
    );
    // Tcp ActiveOpens 122784 -> 122824, PassiveOpens 116104 -> 116144
    // (the 20 + 20 test connections), InSegs 1813484 -> 1813885, OutSegs
    // 1843800 -> 1844201; CurrEstab 2 (a gauge).
    assert_values(
        &host,
        "ipv4.tcpopens",
        T + 1,
        &[("ActiveOpens", 40.0), ("PassiveOpens", 40.0)],
    );
    assert_values(
        &host,
        "ipv4.tcppackets",
        T + 1,
        &[("InSegs", 401.0), ("OutSegs", -401.0)],
    );
    assert_values(&host, "ipv4.tcpsock", T, &[("CurrEstab", 2.0)]);
    // Udp InDatagrams 891 -> 921, OutDatagrams 933 -> 964, NoPorts 40 -> 41
    // (the datagram to a closed port), answered by one ICMP port
    // unreachable: Icmp InMsgs 42 -> 43, OutMsgs 40 -> 41, IcmpMsg InType3
    // and OutType3 likewise.
    assert_values(
        &host,
        "ipv4.udppackets",
        T + 1,
        &[("InDatagrams", 30.0), ("OutDatagrams", -31.0)],
    );
    assert_values(
        &host,
        "ipv4.udperrors",
        T + 1,
        &[("NoPorts", 1.0), ("InErrors", 0.0), ("SndbufErrors", 0.0)],
    );
    assert_values(
        &host,
        "ipv4.icmp",
        T + 1,
        &[("InMsgs", 1.0), ("OutMsgs", -1.0)],
    );
    assert_values(
        &host,
        "ipv4.icmpmsg",
        T + 1,
        &[("InType3", 1.0), ("OutType3", -1.0), ("InType8", 0.0)],
    );
    // IpExt InNoECTPkts 1854244 -> 1854477 (netdata's multiplier −1).
    assert_values(
        &host,
        "ip.ecnpkts",
        T + 1,
        &[("InNoECTPkts", -233.0), ("InCEPkts", 0.0)],
    );
    // TcpExt counters that did not move, but are not zero: charted.
    assert_values(
        &host,
        "ip.tcpconnaborts",
        T + 1,
        &[("TCPAbortOnData", 0.0), ("TCPAbortOnClose", 0.0)],
    );
}

#[test]
fn ipv6_counters() {
    let (_root, host) = two_snapshots("snmp6");
    // Ip6InOctets 31616 -> 59002, Ip6OutOctets 33240 -> 60626: 27386 B/s.
    assert_values(
        &host,
        "system.ipv6",
        T + 1,
        &[("InOctets", 219.088), ("OutOctets", -219.088)],
    );
    // Ip6InReceives 442 -> 674, Ip6OutRequests 463 -> 695, Ip6InDelivers
    // 442 -> 674; Ip6InNoECTPkts 442 -> 674.
    assert_values(
        &host,
        "ipv6.packets",
        T + 1,
        &[
            ("InReceives", 232.0),
            ("OutRequests", -232.0),
            ("InDelivers", 232.0),
        ],
    );
    assert_values(&host, "ipv6.ect", T + 1, &[("InNoECTPkts", 232.0)]);
    // Udp6InDatagrams 0 -> 30, Udp6OutDatagrams 20 -> 51, Udp6NoPorts 20 -> 21.
    assert_values(
        &host,
        "ipv6.udppackets",
        T + 1,
        &[("InDatagrams", 30.0), ("OutDatagrams", -31.0)],
    );
    assert_values(&host, "ipv6.udperrors", T + 1, &[("NoPorts", 1.0)]);
    // Icmp6 In/OutMsgs 22 -> 23 / 41 -> 42; In/OutDestUnreachs and
    // In/OutType1 22 -> 23.
    assert_values(
        &host,
        "ipv6.icmp",
        T + 1,
        &[("InMsgs", 1.0), ("OutMsgs", -1.0)],
    );
    assert_values(
        &host,
        "ipv6.icmperrors",
        T + 1,
        &[("InDestUnreachs", 1.0), ("OutDestUnreachs", -1.0)],
    );
    assert_values(
        &host,
        "ipv6.icmptypes",
        T + 1,
        &[("InType1", 1.0), ("OutType1", -1.0), ("InType128", 0.0)],
    );
}

#[test]
fn sockets() {
    let (root, host) = two_snapshots("sockstat");
    // sockets: used 28; TCP: inuse 8 orphan 0 tw 13 -> 54 alloc 8 mem 414
    // (pages of 4 KiB here: 414 × 4096 / 1024 KiB); UDP: inuse 2.
    assert_values(&host, "ipv4.sockstat_sockets", T + 1, &[("used", 28.0)]);
    assert_values(
        &host,
        "ipv4.sockstat_tcp_sockets",
        T + 1,
        &[
            ("alloc", 8.0),
            ("orphan", 0.0),
            ("inuse", 8.0),
            ("timewait", 54.0),
        ],
    );
    assert_values(&host, "ipv4.sockstat_tcp_sockets", T, &[("timewait", 13.0)]);
    let page = backhaul::sys::page_size() as f64;
    assert_values(
        &host,
        "ipv4.sockstat_tcp_mem",
        T + 1,
        &[("mem", 414.0 * page / 1024.0)],
    );
    assert_values(&host, "ipv4.sockstat_udp_sockets", T + 1, &[("inuse", 2.0)]);
    // Zero counters: no chart (UDP mem, UDPLITE, RAW, FRAG, all of sockstat6).
    let ids = chart_ids(&host);
    for absent in [
        "ipv4.sockstat_udp_mem",
        "ipv4.sockstat_udplite_sockets",
        "ipv4.sockstat_raw_sockets",
        "ipv4.sockstat_frag_sockets",
        "ipv4.sockstat_frag_mem",
        "ipv6.sockstat6_tcp_sockets",
    ] {
        assert!(!ids.contains(absent), "{absent}");
    }
    // An IPv6 socket appears: its chart follows, values as collected.
    let mut sockstat6 = default_collectors(&root.path, 1, &|s| s == "/proc/net/sockstat6");
    root.write(
        "proc/net/sockstat6",
        "TCP6: inuse 3\nUDP6: inuse 0\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n",
    );
    collect(&mut sockstat6, &host, T + 2);
    assert_values(
        &host,
        "ipv6.sockstat6_tcp_sockets",
        T + 2,
        &[("inuse", 3.0)],
    );
    assert!(!chart_ids(&host).contains("ipv6.sockstat6_udp_sockets"));
}

/// The host variables of the TCP limits: `proc:sockstat` reads
/// `/proc/sys/net/ipv4/tcp_max_orphans` and `tcp_mem` (pages, in KiB) at
/// the first collection and then once more than `update constants every`
/// (60) seconds of collections went by; `proc:netstat` sets
/// `tcp_max_connections` from `/proc/net/snmp`'s `Tcp` `MaxConn`.
#[test]
fn tcp_limit_variables() {
    let (root, host) = two_snapshots("tcp-vars");
    let page_kib = backhaul::sys::page_size() as f64 / 1024.0;
    let get = |host: &Host, name: &str| host.with_variables(|v| v.get(name));
    // tcp_max_orphans 131072; tcp_mem 287898 383867 575796 pages.
    assert_eq!(get(&host, "tcp_max_orphans"), Some(131072.0));
    assert_eq!(get(&host, "tcp_mem_low"), Some(287898.0 * page_kib));
    assert_eq!(get(&host, "tcp_mem_pressure"), Some(383867.0 * page_kib));
    assert_eq!(get(&host, "tcp_mem_high"), Some(575796.0 * page_kib));
    // snmp: Tcp MaxConn -1 (no limit).
    assert_eq!(get(&host, "tcp_max_connections"), Some(-1.0));
    // Host variables (not a chart's): these five and netfilter_conntrack_max.
    assert_eq!(host.with_host_variables(|v| v.len()), 6);

    // The limits are read at collections 1, 62, 123, ... (61 s apart).
    let mut sockstat = default_collectors(&root.path, 1, &|s| s == "/proc/net/sockstat");
    let host2 = Host::new("test2", 100);
    collect(&mut sockstat, &host2, T);
    root.write("proc/sys/net/ipv4/tcp_max_orphans", "4096\n");
    root.write("proc/sys/net/ipv4/tcp_mem", "10\t20\t30\n");
    for t in 1..=60 {
        collect(&mut sockstat, &host2, T + t);
    }
    assert_eq!(get(&host2, "tcp_max_orphans"), Some(131072.0));
    collect(&mut sockstat, &host2, T + 61);
    assert_eq!(get(&host2, "tcp_max_orphans"), Some(4096.0));
    assert_eq!(get(&host2, "tcp_mem_high"), Some(30.0 * page_kib));
    // Set in netdata's order: max orphans, then low, pressure, high.
    let names: Vec<String> = variables(&host2).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "tcp_max_orphans",
            "tcp_mem_low",
            "tcp_mem_pressure",
            "tcp_mem_high"
        ]
    );

    // MaxConn follows the file at every collection.
    let mut netstat = default_collectors(&root.path, 1, &|s| s == "/proc/net/netstat");
    let snmp = fs::read_to_string(root.file("proc/net/snmp")).unwrap();
    root.write(
        "proc/net/snmp",
        &snmp.replace("Tcp: 1 200 120000 -1 ", "Tcp: 1 200 120000 4096 "),
    );
    collect(&mut netstat, &host2, T + 62);
    assert_eq!(get(&host2, "tcp_max_connections"), Some(4096.0));
}

/// `[plugin:proc:/proc/net/sockstat] update constants every`, from
/// netdata.conf: 5 s reads the limits every 6 collections (more than 5 s
/// of collections since the last read), 0 at every collection.
#[test]
fn sockstat_update_constants_every_is_read_from_netdata_conf() {
    use backhaul::collectors::proc::{configured_collectors_with, no_interface_sections};
    for (seconds, update_every, reads_at) in [(5, 1, 6), (0, 1, 1), (5, 2, 3)] {
        let (main, warnings) = backhaul::config::parse_main_str(
            &format!("[plugin:proc:/proc/net/sockstat]\n\tupdate constants every = {seconds}\n"),
            "netdata.conf",
        )
        .expect("valid");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(main.proc_patterns.sockstat_update_constants_every, seconds);
        let root = Root::new(FIXTURES, "constants-every");
        root.load("t0");
        let switches = |module: &str, key: &str| main.proc_chart_switch(module, key);
        let mut sockstat = configured_collectors_with(
            &root.path,
            update_every,
            &|s| s == "/proc/net/sockstat",
            &switches,
            backhaul::collectors::proc::no_disk_sections(),
            no_interface_sections(),
            &main.proc_patterns,
        );
        let host = Host::new("test", 100);
        collect(&mut sockstat, &host, T);
        root.write("proc/sys/net/ipv4/tcp_max_orphans", "4096\n");
        let step = i64::from(update_every);
        for n in 1..reads_at {
            collect(&mut sockstat, &host, T + step * n);
            assert_eq!(
                host.with_variables(|v| v.get("tcp_max_orphans")),
                Some(131072.0),
                "{seconds} s at {update_every} s: collection {}",
                n + 1
            );
        }
        collect(&mut sockstat, &host, T + step * reads_at);
        assert_eq!(
            host.with_variables(|v| v.get("tcp_max_orphans")),
            Some(4096.0),
            "{seconds} s at {update_every} s"
        );
    }
    // Not a number of seconds: refused, as backhaul's other numbers.
    assert!(backhaul::config::parse_main_str(
        "[plugin:proc:/proc/net/sockstat]\n\tupdate constants every = often\n",
        "netdata.conf",
    )
    .is_err());
}

/// Without the `/proc/sys` files: no variables, and nothing above debug in
/// the log; without `/proc/net/sockstat` the limits are still read, as in
/// netdata (it reads them before opening the file).
#[test]
fn missing_limit_files_make_no_variables() {
    let root = Root::new(FIXTURES, "no-limits");
    root.load("t0");
    fs::remove_dir_all(root.file("proc/sys")).unwrap();
    let host = Host::new("test", 100);
    let mut collectors = net_collectors(&root);
    let logs = capture_logs(|| {
        for t in 0..70 {
            collect(&mut collectors, &host, T + t);
        }
    });
    let names: Vec<String> = variables(&host).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["net.eth0.nic_speed_max", "tcp_max_connections"]);
    assert!(!logs.contains("proc/sys"), "{logs}");

    let root = Root::new(FIXTURES, "no-sockstat");
    root.load("t0");
    fs::remove_file(root.file("proc/net/sockstat")).unwrap();
    let host = Host::new("test", 100);
    let mut sockstat = default_collectors(&root.path, 1, &|s| s == "/proc/net/sockstat");
    collect(&mut sockstat, &host, T);
    assert_eq!(
        host.with_variables(|v| v.get("tcp_max_orphans")),
        Some(131072.0)
    );
    assert_eq!(host.chart_count(), 0);
}

#[test]
fn softnet() {
    let (_root, host) = two_snapshots("softnet");
    // processed: cpu0 0xde117 -> 0xde12b (+20), cpu1 0xdcf4a -> 0xdd107
    // (+445); squeezed: cpu1 1 -> 1.
    assert_values(
        &host,
        "system.softnet_stat",
        T + 1,
        &[
            ("processed", 465.0),
            ("dropped", 0.0),
            ("squeezed", 0.0),
            ("received_rps", 0.0),
            ("flow_limit_count", 0.0),
        ],
    );
    assert_values(
        &host,
        "cpu.cpu0_softnet_stat",
        T + 1,
        &[("processed", 20.0)],
    );
    assert_values(
        &host,
        "cpu.cpu1_softnet_stat",
        T + 1,
        &[("processed", 445.0)],
    );
}

#[test]
fn netfilter() {
    let (root, host) = two_snapshots("netfilter");
    // nf_conntrack: all zero, charted anyway (netdata has no `auto` here).
    assert_values(
        &host,
        "netfilter.conntrack_sockets",
        T + 1,
        &[("connections", 0.0)],
    );
    assert_values(
        &host,
        "netfilter.conntrack_new",
        T + 1,
        &[("new", 0.0), ("ignore", 0.0), ("invalid", 0.0)],
    );
    // This kernel has no `searched` column (it is `clashres` now): zero,
    // not clashres' value.
    assert_values(
        &host,
        "netfilter.conntrack_search",
        T + 1,
        &[("searched", 0.0), ("found", 0.0)],
    );
    // synproxy: all zero, so no chart (`auto`).
    assert!(!chart_ids(&host).contains("netfilter.synproxy_cookies"));

    // Counters per CPU line are summed; entries is one count for all.
    let mut filters = default_collectors(&root.path, 1, &|s| {
        matches!(s, "/proc/net/stat/conntrack" | "/proc/net/stat/synproxy")
    });
    let host = Host::new("test2", 100);
    root.write(
        "proc/net/stat/nf_conntrack",
        "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
         0000000a  00000010 00000001 00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n\
         0000000a  00000020 00000001 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n",
    );
    root.write(
        "proc/net/stat/synproxy",
        "entries\t\tsyn_received\tcookie_invalid\tcookie_valid\tcookie_retrans\tconn_reopened\n\
         00000000\t00000004\t00000000\t00000001\t00000000\t00000000\n\
         00000000\t00000006\t00000000\t00000002\t00000000\t00000000\n",
    );
    collect(&mut filters, &host, T);
    root.write(
        "proc/net/stat/nf_conntrack",
        "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
         0000000c  00000018 00000001 00000004 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n\
         0000000c  00000020 00000001 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n",
    );
    root.write(
        "proc/net/stat/synproxy",
        "entries\t\tsyn_received\tcookie_invalid\tcookie_valid\tcookie_retrans\tconn_reopened\n\
         00000000\t00000005\t00000000\t00000001\t00000000\t00000000\n\
         00000000\t00000009\t00000000\t00000004\t00000000\t00000000\n",
    );
    collect(&mut filters, &host, T + 1);
    // entries 0xa -> 0xc; searched 0x10+0x20 -> 0x18+0x20 (+8); new 2+3 -> 4+3.
    assert_values(
        &host,
        "netfilter.conntrack_sockets",
        T + 1,
        &[("connections", 12.0)],
    );
    assert_values(
        &host,
        "netfilter.conntrack_search",
        T + 1,
        &[("searched", 8.0)],
    );
    assert_values(&host, "netfilter.conntrack_new", T + 1, &[("new", 2.0)]);
    // syn_received 4+6 -> 5+9 (+4); cookie_valid 1+2 -> 1+4 (+2).
    assert_values(
        &host,
        "netfilter.synproxy_syn_received",
        T + 1,
        &[("received", 4.0)],
    );
    assert_values(
        &host,
        "netfilter.synproxy_cookies",
        T + 1,
        &[("valid", 2.0)],
    );
}

/// `netfilter_conntrack_max` from `/proc/sys/net/netfilter/nf_conntrack_max`,
/// read at the first collection and every 10 s, while the module has a file.
#[test]
fn conntrack_max_variable() {
    let (root, host) = two_snapshots("conntrack-max");
    assert_eq!(
        host.with_variables(|v| v.get("netfilter_conntrack_max")),
        Some(262144.0)
    );
    let mut conntrack = default_collectors(&root.path, 1, &|s| s == "/proc/net/stat/conntrack");
    let host2 = Host::new("test2", 100);
    collect(&mut conntrack, &host2, T);
    root.write("proc/sys/net/netfilter/nf_conntrack_max", "65536\n");
    for t in 1..10 {
        collect(&mut conntrack, &host2, T + t);
    }
    let max = |host: &Host| host.with_variables(|v| v.get("netfilter_conntrack_max"));
    assert_eq!(max(&host2), Some(262144.0));
    collect(&mut conntrack, &host2, T + 10);
    assert_eq!(max(&host2), Some(65536.0));

    // Neither nf_conntrack nor nf_conntrack_count: no module, no variable.
    let bare = Root::new(FIXTURES, "conntrack-bare");
    bare.load("t0");
    fs::remove_file(bare.file("proc/net/stat/nf_conntrack")).unwrap();
    let mut conntrack = default_collectors(&bare.path, 1, &|s| s == "/proc/net/stat/conntrack");
    let host3 = Host::new("test3", 100);
    collect(&mut conntrack, &host3, T);
    assert_eq!(max(&host3), None);
    // nf_conntrack_count alone is enough.
    bare.write("proc/sys/net/netfilter/nf_conntrack_count", "7\n");
    let mut conntrack = default_collectors(&bare.path, 1, &|s| s == "/proc/net/stat/conntrack");
    collect(&mut conntrack, &host3, T);
    assert_eq!(max(&host3), Some(262144.0));
}

/// `nic_speed_max`, a variable of each physical interface's `net.IFACE`:
/// the speed (Mbit/s) in kilobits/s, set whenever the speed is read, also
/// with `speed = no` (which only takes the chart), as netdata.
#[test]
fn nic_speed_max_variable() {
    let (root, host) = two_snapshots("nic-speed");
    // eth0's speed is -1 (unknown): 0, as netdata charts it. lo is not
    // collected, ifb0 and ifb1 are virtual.
    let eth0 = host.chart_by_id("net.eth0").unwrap();
    assert_eq!(eth0.read().variables().get("nic_speed_max"), Some(0.0));
    let names: Vec<String> = variables(&host)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.contains("nic_speed_max"))
        .collect();
    assert_eq!(names, ["net.eth0.nic_speed_max"]);

    let mut netdev = default_collectors(&root.path, 1, &|s| s == "/proc/net/dev");
    root.write("sys/class/net/eth0/speed", "1000\n");
    collect(&mut netdev, &host, T + 2);
    assert_eq!(
        eth0.read().variables().get("nic_speed_max"),
        Some(1_000_000.0)
    );
    assert_eq!(
        host.with_variables(|v| v.get("net.eth0.nic_speed_max")),
        Some(1_000_000.0)
    );

    let switches = |module: &str, key: &str| {
        (module == "/proc/net/dev" && key == "speed for all interfaces")
            .then_some(backhaul::config::ChartSwitch::No)
    };
    let mut no_speed = backhaul::collectors::proc::configured_collectors(
        &root.path,
        1,
        &|s| s == "/proc/net/dev",
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
    );
    let host2 = Host::new("test2", 100);
    collect(&mut no_speed, &host2, T);
    assert!(host2.chart_by_id("net_speed.eth0").is_none());
    assert_eq!(
        host2.with_variables(|v| v.get("net.eth0.nic_speed_max")),
        Some(1_000_000.0)
    );
}

#[test]
fn interface_state_charts() {
    let (root, host) = two_snapshots("netdev");
    // eth0: speed -1 (unknown) -> 0 kilobits/s, duplex "unknown", operstate
    // "up", carrier 1, mtu 1400.
    assert_values(&host, "net_speed.eth0", T + 1, &[("speed", 0.0)]);
    assert_values(
        &host,
        "net_duplex.eth0",
        T + 1,
        &[("full", 0.0), ("half", 0.0), ("unknown", 1.0)],
    );
    assert_values(
        &host,
        "net_operstate.eth0",
        T + 1,
        &[("up", 1.0), ("down", 0.0), ("unknown", 0.0)],
    );
    assert_values(
        &host,
        "net_carrier.eth0",
        T + 1,
        &[("up", 1.0), ("down", 0.0)],
    );
    assert_values(&host, "net_mtu.eth0", T + 1, &[("mtu", 1400.0)]);
    // ifb0 is down and virtual: operstate and MTU only (its carrier cannot
    // be read).
    assert_values(
        &host,
        "net_operstate.ifb0",
        T + 1,
        &[("down", 1.0), ("up", 0.0)],
    );
    assert_values(&host, "net_mtu.ifb0", T + 1, &[("mtu", 1500.0)]);
    let ids = chart_ids(&host);
    for absent in [
        "net_carrier.ifb0",
        "net_speed.ifb0",
        "net_duplex.ifb0",
        "net_mtu.lo",
    ] {
        assert!(!ids.contains(absent), "{absent}");
    }

    // Errors and drops appear when they stop being zero; a known speed is
    // in megabits in the file.
    let mut netdev = default_collectors(&root.path, 1, &|s| s == "/proc/net/dev");
    let host = Host::new("test2", 100);
    let dev = fs::read_to_string(root.file("proc/net/dev")).unwrap();
    collect(&mut netdev, &host, T);
    let with_errors = dev.replace(
        "25436    0    0    0     0          0         0  1508653",
        "25436    7    3    0     0          0         0  1508653",
    );
    assert_ne!(with_errors, dev, "the fixture's eth0 line changed");
    root.write("proc/net/dev", &with_errors);
    root.write("sys/class/net/eth0/speed", "10000\n");
    root.write("sys/class/net/eth0/duplex", "full\n");
    collect(&mut netdev, &host, T + 1);
    collect(&mut netdev, &host, T + 2);
    assert_values(
        &host,
        "net_errors.eth0",
        T + 2,
        &[("inbound", 0.0), ("outbound", 0.0)],
    );
    assert_values(&host, "net_drops.eth0", T + 2, &[("inbound", 0.0)]);
    assert!(!chart_ids(&host).contains("net_fifo.eth0"));
    assert_values(&host, "net_speed.eth0", T + 2, &[("speed", 10_000_000.0)]);
    assert_values(
        &host,
        "net_duplex.eth0",
        T + 2,
        &[("full", 1.0), ("unknown", 0.0)],
    );
}

// ---------------------------------------------------------------------------
// Chart definitions and the set of charts, against netdata 1.37.

fn netdata_charts() -> serde_json::Map<String, serde_json::Value> {
    let text = fs::read_to_string(fixtures(FIXTURES).join("netdata-1.37-charts.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Charts these snapshots make that netdata 1.37 did not make on its
/// machine, each with the reason: netdata's own `auto` rule on counters
/// that differed.
const NOT_IN_NETDATA_SAMPLE: &[(&str, &str)] = &[
    (
        "ip.tcp_accept_queue",
        "ListenOverflows/ListenDrops were 561 here, zero on netdata's machine",
    ),
    (
        "ipv4.tcpsock",
        "CurrEstab was 2 here, zero on netdata's machine",
    ),
];

#[test]
fn chart_set_matches_netdata_137() {
    let (_root, host) = two_snapshots("set");
    let ours = chart_ids(&host);
    let theirs: BTreeSet<String> = netdata_charts().keys().cloned().collect();
    let missing: Vec<&String> = theirs.difference(&ours).collect();
    assert!(
        missing.is_empty(),
        "netdata made these, we did not: {missing:?}"
    );
    let extra: BTreeSet<&str> = ours.difference(&theirs).map(String::as_str).collect();
    let expected: BTreeSet<&str> = NOT_IN_NETDATA_SAMPLE.iter().map(|(id, _)| *id).collect();
    assert_eq!(extra, expected);
}

#[test]
fn chart_definitions_match_netdata_137() {
    let (_root, host) = two_snapshots("defs");
    let theirs = netdata_charts();
    let mut compared = 0;
    for (id, chart) in &theirs {
        let ours = host.chart_by_id(id).unwrap_or_else(|| panic!("no {id}"));
        let c = ours.read();
        let def = c.def();
        let text = |key: &str| chart[key].as_str().unwrap_or_default().to_string();
        assert_eq!(format!("{} ({id})", def.title), text("title"), "{id} title");
        for (key, value) in [
            ("units", def.units.as_str()),
            ("family", def.family.as_str()),
            ("context", def.context.as_str()),
            ("type", def.type_.as_str()),
            ("plugin", def.plugin.as_str()),
            ("module", def.module.as_str()),
        ] {
            assert_eq!(value, text(key), "{id} {key}");
        }
        assert_eq!(
            def.chart_type.as_str(),
            text("chart_type"),
            "{id} chart type"
        );
        assert_eq!(
            Some(def.priority),
            chart["priority"].as_i64(),
            "{id} priority"
        );
        assert_eq!(
            Some(u64::from(c.update_every())),
            chart["update_every"].as_u64(),
            "{id}"
        );
        let ours_dims: BTreeSet<(String, String)> = c
            .dimensions()
            .iter()
            .filter(|d| !d.def().hidden)
            .map(|d| (d.def().id.clone(), d.name().to_string()))
            .collect();
        let their_dims: BTreeSet<(String, String)> = chart["dimensions"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(dim, v)| (dim.clone(), v["name"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(ours_dims, their_dims, "{id} dimensions");
        let ours_labels: BTreeSet<(String, String)> = def
            .labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect();
        let their_labels: BTreeSet<(String, String)> = chart["chart_labels"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(ours_labels, their_labels, "{id} labels");
        compared += 1;
    }
    assert_eq!(compared, 52);
}

/// Spot checks of what the JSON does not carry: algorithms, multipliers
/// and divisors (netdata's proc plugin source; signs show in its graphite
/// output).
#[test]
fn algorithms_multipliers_divisors() {
    let (_root, host) = two_snapshots("algo");
    let dim = |chart: &str, dim: &str| -> (Algorithm, i64, i64) {
        let chart = host.chart_by_id(chart).unwrap();
        let c = chart.read();
        let d = &c.dimensions()[c.dimension_index(dim).unwrap()];
        (d.def().algorithm, d.def().multiplier, d.def().divisor)
    };
    use Algorithm::{Absolute as ABS, Incremental as INC};
    let page = backhaul::sys::page_size() as i64;
    for (chart, d, expected) in [
        ("system.ip", "OutOctets", (INC, -8, 1000)),
        ("system.ipv6", "InOctets", (INC, 8, 1000)),
        ("ip.ecnpkts", "InNoECTPkts", (INC, -1, 1)),
        ("ip.tcpconnaborts", "TCPAbortFailed", (INC, -1, 1)),
        ("ipv4.tcpsock", "CurrEstab", (ABS, 1, 1)),
        ("ipv4.tcperrors", "RetransSegs", (INC, -1, 1)),
        ("ipv4.tcphandshake", "TCPSynRetrans", (INC, 1, 1)),
        ("ipv6.icmptypes", "OutType143", (INC, -1, 1)),
        ("ipv4.sockstat_tcp_mem", "mem", (ABS, page, 1024)),
        ("ipv4.sockstat_tcp_sockets", "timewait", (ABS, 1, 1)),
        ("system.softnet_stat", "processed", (INC, 1, 1)),
        ("netfilter.conntrack_sockets", "connections", (ABS, 1, 1)),
        ("netfilter.conntrack_errors", "early_drop", (INC, -1, 1)),
        ("net_speed.eth0", "speed", (ABS, 1, 1)),
        ("net_operstate.eth0", "lowerlayerdown", (ABS, 1, 1)),
    ] {
        assert_eq!(dim(chart, d), expected, "{chart}.{d}");
    }
}

// ---------------------------------------------------------------------------
// Steady state, missing files, odd content.

/// The network collectors over a scratch root named `name`, after three
/// collections (t0, then t1 twice): every chart made, every rate known.
fn warmed_up(name: &str) -> (Root, Host, Vec<Box<dyn Collector>>) {
    let root = Root::new(FIXTURES, name);
    root.load("t0");
    let host = Host::new("test", 100);
    let mut collectors = net_collectors(&root);
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    collect(&mut collectors, &host, T + 2);
    (root, host, collectors)
}

#[test]
fn steady_state_collection_does_not_allocate() {
    let (_root, host, mut collectors) = warmed_up("alloc");
    assert!(host.chart_count() > 50, "{}", host.chart_count());
    assert_collections_do_not_allocate(&mut collectors, &host, &[T + 3, T + 4, T + 5]);
}

/// Collections that read the limits again (sockstat's 62nd and 123rd,
/// conntrack's every 10th) allocate nothing either.
#[test]
fn limits_refresh_does_not_allocate() {
    let (_root, host, mut collectors) = warmed_up("limits-alloc");
    let times: Vec<i64> = (T + 3..T + 130).collect();
    assert_collections_do_not_allocate(&mut collectors, &host, &times);
    assert_eq!(variables(&host).len(), 7);
}

#[test]
fn a_file_missing_at_start_is_logged_once_and_not_read_again() {
    let root = Root::new(FIXTURES, "absent");
    root.load("t0");
    for file in [
        "proc/net/snmp6",
        "proc/net/stat/synproxy",
        "proc/net/sockstat6",
    ] {
        fs::remove_file(root.file(file)).unwrap();
    }
    let host = Host::new("test", 100);
    let mut collectors = net_collectors(&root);
    let logs = capture_logs(|| {
        for t in T..T + 5 {
            collect(&mut collectors, &host, t);
        }
        // Appearing later changes nothing: the module's use of it is off,
        // as in netdata.
        root.load("t1");
        collect(&mut collectors, &host, T + 5);
        collect(&mut collectors, &host, T + 6);
    });
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains("not present")).collect();
    assert_eq!(lines.len(), 3, "{logs}");
    for file in [
        "proc/net/snmp6",
        "proc/net/stat/synproxy",
        "proc/net/sockstat6",
    ] {
        assert!(lines.iter().any(|l| l.contains(file)), "{file}: {logs}");
    }
    assert!(!logs.contains("WARN"), "{logs}");
    let ids = chart_ids(&host);
    // The IPv6 charts are absent; the IPv4 ones from netstat and snmp are not.
    assert!(!ids.contains("system.ipv6"));
    assert!(!ids.contains("ipv6.packets"));
    assert!(ids.contains("system.ip"));
    assert!(ids.contains("ipv4.packets"));
}

#[test]
fn a_file_that_goes_away_makes_its_charts_obsolete_and_comes_back() {
    let root = Root::new(FIXTURES, "vanish");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut collectors = net_collectors(&root);
    let logs = capture_logs(|| {
        collect(&mut collectors, &host, T);
        fs::remove_file(root.file("proc/net/snmp")).unwrap();
        fs::remove_file(root.file("proc/net/sockstat")).unwrap();
        fs::remove_file(root.file("proc/net/softnet_stat")).unwrap();
        for t in T + 1..T + 4 {
            collect(&mut collectors, &host, t);
        }
        for id in [
            "ipv4.packets",
            "ipv4.tcpopens",
            "ipv4.sockstat_sockets",
            "system.softnet_stat",
            "cpu.cpu1_softnet_stat",
        ] {
            assert!(host.chart_by_id(id).unwrap().read().is_obsolete(), "{id}");
        }
        // Charts of the other files, and tcphandshake (one dimension from
        // netstat), go on.
        for id in ["system.ip", "ipv6.packets", "ipv4.tcphandshake"] {
            assert!(!host.chart_by_id(id).unwrap().read().is_obsolete(), "{id}");
        }
        root.load("t1");
        collect(&mut collectors, &host, T + 4);
    });
    let warnings = logs.lines().filter(|l| l.contains("WARN")).count();
    assert_eq!(warnings, 3, "one warning per missing file:\n{logs}");
    for id in [
        "ipv4.packets",
        "ipv4.sockstat_sockets",
        "system.softnet_stat",
    ] {
        assert!(!host.chart_by_id(id).unwrap().read().is_obsolete(), "{id}");
    }
}

#[test]
fn odd_content_is_survived() {
    let root = Root::new(FIXTURES, "odd");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut collectors = net_collectors(&root);
    collect(&mut collectors, &host, T);
    let files = [
        "proc/net/netstat",
        "proc/net/snmp",
        "proc/net/snmp6",
        "proc/net/sockstat",
        "proc/net/sockstat6",
        "proc/net/softnet_stat",
        "proc/net/dev",
        "proc/net/stat/nf_conntrack",
        "proc/net/stat/synproxy",
        "sys/class/net/eth0/mtu",
        "sys/class/net/eth0/speed",
        "sys/class/net/eth0/operstate",
    ];
    // Cut in the middle of a line.
    for file in files {
        let data = fs::read(root.file(file)).unwrap();
        fs::write(root.file(file), &data[..data.len() / 2 + 1]).unwrap();
    }
    collect(&mut collectors, &host, T + 1);
    // Garbage.
    let garbage = "TcpExt: a b c\nTcpExt: 1\nIp: x\nIp: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22\n\
                   \u{0}\u{1}\u{ff}:\nTCP: inuse\nsockets: used -3\nffffffffffffffffffff 1 zz\n::::\n \t \n\
                   Ip6InOctets 99999999999999999999999\neth0: 1 2\n-1\nup down\n";
    for file in files {
        fs::write(root.file(file), garbage).unwrap();
    }
    collect(&mut collectors, &host, T + 2);
    // Empty.
    for file in files {
        fs::write(root.file(file), b"").unwrap();
    }
    collect(&mut collectors, &host, T + 3);
    assert!(host
        .chart_by_id("ipv4.packets")
        .unwrap()
        .read()
        .is_obsolete());
    // And back.
    root.load("t1");
    collect(&mut collectors, &host, T + 4);
    assert!(!host
        .chart_by_id("ipv4.packets")
        .unwrap()
        .read()
        .is_obsolete());
}

/// `[plugin:proc:/proc/net/dev] disable by default interfaces matching`
/// from netdata.conf decides which interfaces are charted (and the
/// diskspace and diskstats patterns are read the same way).
#[test]
fn netdata_conf_patterns_choose_the_interfaces() {
    let (main, warnings) = backhaul::config::parse_main_str(
        "[plugin:proc:/proc/net/dev]\n\tdisable by default interfaces matching = eth*\n\
         \tenable new interfaces detected at runtime = yes\n\
         [plugin:proc:/proc/diskstats]\n\texclude disks = sd*\n\
         [plugin:proc:diskspace]\n\texclude space metrics on paths = /boot/*\n\
         \texclude space metrics on filesystems = tmpfs\n",
        "netdata.conf",
    )
    .unwrap();
    let patterns = &main.proc_patterns;
    assert_eq!(patterns.disabled_interfaces, "eth*");
    assert_eq!(patterns.excluded_disks, "sd*");
    assert_eq!(patterns.diskspace_excluded_paths, "/boot/*");
    assert_eq!(patterns.diskspace_excluded_filesystems, "tmpfs");
    // The pattern keys are read, and so is the section's switch.
    assert!(warnings.is_empty(), "{warnings:?}");

    let root = Root::new(FIXTURES, "patterns");
    root.write(
        "proc/net/dev",
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
         lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n  \
         eth0:    2000      20    0    0    0     0          0         0     2000      20    0    0    0     0       0          0\n",
    );
    let host = Host::new("patterns", 100);
    let mut collectors = backhaul::collectors::proc::configured_collectors_with(
        &root.path,
        1,
        &|s| s == "/proc/net/dev",
        &backhaul::collectors::proc::no_chart_switches,
        backhaul::collectors::proc::no_disk_sections(),
        backhaul::collectors::proc::no_interface_sections(),
        patterns,
    );
    collect(&mut collectors, &host, T);
    collect(&mut collectors, &host, T + 1);
    let ids = chart_ids(&host);
    assert!(ids.contains("net.lo"), "lo is no longer disabled: {ids:?}");
    assert!(!ids.contains("net.eth0"), "eth0 is: {ids:?}");

    // netdata's default disables lo.
    let mut defaults = default_collectors(&root.path, 1, &|s| s == "/proc/net/dev");
    let host = Host::new("defaults", 100);
    collect(&mut defaults, &host, T);
    collect(&mut defaults, &host, T + 1);
    let ids = chart_ids(&host);
    assert!(
        !ids.contains("net.lo") && ids.contains("net.eth0"),
        "{ids:?}"
    );
}

// ---------------------------------------------------------------------------
// Per-chart switches (`[plugin:proc:MODULE]` and
// `[plugin:proc:/proc/net/dev:IFACE]`).

/// The chart switches of the network modules: `no` removes a chart that is
/// there by default, `yes` makes one whose counters are all zero, `auto`
/// (every key not set) keeps netdata's rule.
#[test]
fn net_chart_switches_follow_netdata() {
    use backhaul::config::ChartSwitch;
    let switches = |module: &str, key: &str| match (module, key) {
        ("/proc/net/netstat", "ECN packets") => Some(ChartSwitch::No),
        ("/proc/net/netstat", "multicast bandwidth") => Some(ChartSwitch::Yes),
        ("/proc/net/snmp", "ipv4 packets") => Some(ChartSwitch::No),
        ("/proc/net/snmp", "ipv4 UDPLite packets") => Some(ChartSwitch::Yes),
        ("/proc/net/snmp6", "ipv6 packets") => Some(ChartSwitch::No),
        ("/proc/net/snmp6", "ipv6 fragments sent") => Some(ChartSwitch::Yes),
        ("/proc/net/sockstat", "ipv4 TCP sockets") => Some(ChartSwitch::No),
        ("/proc/net/sockstat", "ipv4 UDPLITE sockets") => Some(ChartSwitch::Yes),
        ("/proc/net/sockstat6", "ipv6 TCP sockets") => Some(ChartSwitch::Yes),
        ("/proc/net/dev", "errors for all interfaces") => Some(ChartSwitch::Yes),
        ("/proc/net/dev", "mtu for all interfaces") => Some(ChartSwitch::No),
        _ => None,
    };
    let root = Root::new(FIXTURES, "net-switches");
    let host = Host::new("test", 100);
    let mut collectors = backhaul::collectors::proc::configured_collectors(
        &root.path,
        1,
        &|s| NET_SWITCHES.contains(&s),
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
    );
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    let ids = chart_ids(&host);
    // `no`: not there (each is there by default).
    for id in [
        "ip.ecnpkts",
        "ipv4.packets",
        "ipv6.packets",
        "ipv4.sockstat_tcp_sockets",
        "net_mtu.eth0",
        "net_mtu.ifb0",
    ] {
        assert!(!ids.contains(id), "{id}");
    }
    // `yes`: there with zeros (none is there by default).
    assert_values(
        &host,
        "ip.mcast",
        T + 1,
        &[("InMcastOctets", 0.0), ("OutMcastOctets", 0.0)],
    );
    assert_values(&host, "ipv4.udplite", T + 1, &[("InDatagrams", 0.0)]);
    assert_values(&host, "ipv4.udplite_errors", T + 1, &[("NoPorts", 0.0)]);
    assert_values(&host, "ipv6.fragsout", T + 1, &[("FragOKs", 0.0)]);
    assert_values(
        &host,
        "ipv4.sockstat_udplite_sockets",
        T + 1,
        &[("inuse", 0.0)],
    );
    assert_values(
        &host,
        "ipv6.sockstat6_tcp_sockets",
        T + 1,
        &[("inuse", 0.0)],
    );
    assert_values(
        &host,
        "net_errors.eth0",
        T + 1,
        &[("inbound", 0.0), ("outbound", 0.0)],
    );
    // The interfaces `disable by default interfaces matching` names stay
    // out; an idle one gets its `yes` chart.
    assert!(!ids.contains("net_errors.lo"));
    assert!(ids.contains("net_errors.ifb1"));
    // The rest as by default.
    for id in [
        "system.ip",
        "ipv4.tcppackets",
        "ipv6.udppackets",
        "ipv4.sockstat_sockets",
        "net.eth0",
        "net_operstate.eth0",
    ] {
        assert!(ids.contains(id), "{id}");
    }
    for id in ["ipv4.fragsout", "ip.bcast", "net_drops.eth0", "net.ifb0"] {
        assert!(!ids.contains(id), "{id}");
    }
}

/// An interface's own section `[plugin:proc:/proc/net/dev:IFACE]`:
/// `enabled = yes` brings back an interface the module leaves out (lo, by
/// `disable by default interfaces matching`; ifb1, by `enable new
/// interfaces detected at runtime = no`), a chart key wins over the
/// module's `... for all interfaces`, and `virtual = no` adds a virtual
/// interface into `system.net`.
#[test]
fn an_interfaces_own_section_overrides_the_module_switches() {
    use backhaul::collectors::proc::{configured_collectors_with, InterfaceSectionSwitches};
    use backhaul::config::{ChartSwitch, ProcPatterns};
    let switches = |module: &str, key: &str| match (module, key) {
        ("/proc/net/dev", "enable new interfaces detected at runtime") => Some(ChartSwitch::No),
        ("/proc/net/dev", "errors for all interfaces") => Some(ChartSwitch::Yes),
        _ => None,
    };
    let interfaces: InterfaceSectionSwitches =
        std::sync::Arc::new(|interface: &str, key: &str| match (interface, key) {
            ("lo" | "eth0" | "ifb1", "enabled") => Some(ChartSwitch::Yes),
            ("lo", "virtual") => Some(ChartSwitch::No),
            ("eth0", "errors") => Some(ChartSwitch::No),
            ("eth0", "operstate") => Some(ChartSwitch::No),
            ("ifb1", "packets") => Some(ChartSwitch::Yes),
            _ => None,
        });
    let root = Root::new(FIXTURES, "interface-sections");
    let host = Host::new("test", 100);
    let mut collectors = configured_collectors_with(
        &root.path,
        1,
        &|s| s == "/proc/net/dev",
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
        interfaces,
        &ProcPatterns::default(),
    );
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    let ids = chart_ids(&host);
    // lo: enabled, its bandwidth added to the physical total: 23182410638
    // -> 23182460802 bytes, 50164 B/s × 8 / 1000 = 401.312 kilobits/s
    // (eth0's counters do not move).
    assert!(ids.contains("net.lo"), "{ids:?}");
    assert_values(
        &host,
        "system.net",
        T + 1,
        &[("InOctets", 401.312), ("OutOctets", -401.312)],
    );
    assert_values(
        &host,
        "net_errors.lo",
        T + 1,
        &[("inbound", 0.0), ("outbound", 0.0)],
    );
    // eth0: its own `errors = no` and `operstate = no` win.
    assert!(!ids.contains("net_errors.eth0"));
    assert!(!ids.contains("net_operstate.eth0"));
    assert!(ids.contains("net_carrier.eth0") && ids.contains("net_mtu.eth0"));
    // ifb1: enabled, packets `yes` with zeros; ifb0: not enabled.
    assert_values(
        &host,
        "net_packets.ifb1",
        T + 1,
        &[("received", 0.0), ("sent", 0.0), ("multicast", 0.0)],
    );
    assert!(ids.iter().all(|id| !id.ends_with(".ifb0")), "{ids:?}");
}

/// The network switches from netdata.conf, as the agent passes them on.
#[test]
fn net_switches_are_read_from_netdata_conf() {
    use backhaul::collectors::proc::{configured_collectors_with, InterfaceSectionSwitches};
    let (main, warnings) = backhaul::config::parse_main_str(
        "[plugin:proc:/proc/net/netstat]\n\tECN packets = no\n\
         [plugin:proc:/proc/net/sockstat]\n\tipv4 UDPLITE sockets = yes\n\
         [plugin:proc:/proc/net/dev]\n\tbandwidth for all interfaces = no\n\
         [plugin:proc:/proc/net/dev:lo]\n\tenabled = yes\n\tbandwidth = yes\n",
        "netdata.conf",
    )
    .expect("valid");
    assert!(warnings.is_empty(), "{warnings:?}");
    let switches = |module: &str, key: &str| main.proc_chart_switch(module, key);
    let owned = main.clone();
    let interfaces: InterfaceSectionSwitches =
        std::sync::Arc::new(move |interface, key| owned.proc_interface_switch(interface, key));
    let root = Root::new(FIXTURES, "net-conf");
    let host = Host::new("test", 100);
    let mut collectors = configured_collectors_with(
        &root.path,
        1,
        &|s| NET_SWITCHES.contains(&s),
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
        interfaces,
        &main.proc_patterns,
    );
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    let ids = chart_ids(&host);
    assert!(!ids.contains("ip.ecnpkts"));
    assert!(ids.contains("ipv4.sockstat_udplite_sockets"));
    // `bandwidth for all interfaces = no` takes system.net and eth0's
    // bandwidth (and so its speed); lo's own `bandwidth = yes` wins.
    assert!(!ids.contains("system.net") && !ids.contains("net.eth0"));
    assert!(!ids.contains("net_speed.eth0"));
    assert!(ids.contains("net.lo") && ids.contains("net_packets.eth0"));
}

/// `[plugin:proc:/proc/sys/net/netfilter/nf_conntrack_max] read every
/// seconds` (netdata's key, default 10) sets how often the
/// `netfilter_conntrack_max` variable is read again; the section's other
/// keys are reported as not used.
#[test]
fn conntrack_max_read_every_is_read_from_netdata_conf() {
    use backhaul::collectors::proc::{configured_collectors_with, no_interface_sections};
    for (seconds, update_every, reads_at) in [(3, 1, 3), (0, 1, 1), (4, 2, 2)] {
        let (main, warnings) = backhaul::config::parse_main_str(
            &format!(
                "[plugin:proc:/proc/sys/net/netfilter/nf_conntrack_max]\n\t\
                 read every seconds = {seconds}\n\tfilename to monitor = /x\n"
            ),
            "netdata.conf",
        )
        .expect("valid");
        let keys: Vec<Option<String>> = warnings.iter().map(|w| w.key.clone()).collect();
        assert_eq!(
            keys,
            [Some("filename to monitor".to_string())],
            "{warnings:?}"
        );
        assert_eq!(main.proc_patterns.conntrack_max_read_every, seconds);
        let root = Root::new(FIXTURES, "conntrack-every");
        root.load("t0");
        let switches = |module: &str, key: &str| main.proc_chart_switch(module, key);
        let mut conntrack = configured_collectors_with(
            &root.path,
            update_every,
            &|s| s == "/proc/net/stat/conntrack",
            &switches,
            backhaul::collectors::proc::no_disk_sections(),
            no_interface_sections(),
            &main.proc_patterns,
        );
        let host = Host::new("test", 100);
        let max = |host: &Host| host.with_variables(|v| v.get("netfilter_conntrack_max"));
        collect(&mut conntrack, &host, T);
        assert_eq!(max(&host), Some(262144.0));
        root.write("proc/sys/net/netfilter/nf_conntrack_max", "65536\n");
        let step = i64::from(update_every);
        for n in 1..reads_at {
            collect(&mut conntrack, &host, T + step * n);
            assert_eq!(
                max(&host),
                Some(262144.0),
                "{seconds} s at {update_every} s"
            );
        }
        collect(&mut conntrack, &host, T + step * reads_at);
        assert_eq!(max(&host), Some(65536.0), "{seconds} s at {update_every} s");
    }
    let bad = backhaul::config::parse_main_str(
        "[plugin:proc:/proc/sys/net/netfilter/nf_conntrack_max]\n\tread every seconds = soon\n",
        "netdata.conf",
    );
    assert!(bad.is_err());
}

/// A container's interface (registered by the cgroups collector) is
/// charted under its cgroup, named after the container's side, received
/// and sent swapped (the container's view), with the cgroup's labels; an
/// interface renamed after its charts were made has those charts obsolete.
#[test]
fn a_container_interface_is_charted_under_its_cgroup() {
    use backhaul::collectors::proc::{NetDevCollector, NetRename, NetdevRenames};
    use std::sync::Arc;
    let root = Root::new(FIXTURES, "netdev_rename");
    let renames = Arc::new(NetdevRenames::default());
    let rename = NetRename {
        chart_type: "cgroup_web".to_string(),
        device: "eth1".to_string(),
        k8s: false,
        labels: vec![rrd::Label::new(
            "k8s_pod_name",
            "web-1",
            rrd::LabelSource::Automatic,
        )],
    };
    renames.add("eth0", rename);
    let mut renamed: Vec<Box<dyn Collector>> = vec![Box::new(
        NetDevCollector::new(&root.path, 1).renaming(renames.clone()),
    )];
    let mut plain: Vec<Box<dyn Collector>> = vec![Box::new(NetDevCollector::new(&root.path, 1))];
    let (host, plain_host) = (Host::new("test", 100), Host::new("test", 100));
    root.load("t0");
    collect(&mut renamed, &host, T);
    collect(&mut plain, &plain_host, T);
    root.load("t1");
    collect(&mut renamed, &host, T + 1);
    collect(&mut plain, &plain_host, T + 1);

    let ids = chart_ids(&host);
    assert!(ids.contains("cgroup_web.net_eth1"), "{ids:?}");
    assert!(ids.contains("cgroup_web.net_packets_eth1"), "{ids:?}");
    assert!(!ids.contains("net.eth0"), "not charted twice: {ids:?}");
    let chart = host.chart_by_id("cgroup_web.net_eth1").unwrap();
    let def = chart.read().def().clone();
    assert_eq!(def.context, "cgroup.net_net");
    assert_eq!(def.family, "net eth1");
    assert_eq!(def.priority, 43000);
    let labels: Vec<(&str, &str)> = def
        .labels
        .iter()
        .map(|l| (l.key.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("interface_type", "real"),
            ("device", "eth0"),
            ("k8s_pod_name", "web-1")
        ]
    );
    let packets = host.chart_by_id("cgroup_web.net_packets_eth1").unwrap();
    assert_eq!(packets.read().def().context, "cgroup.net_packets");
    assert_eq!(packets.read().def().priority, 43001);
    // What eth0 sent, the container received.
    for (chart, plain_chart) in [
        ("cgroup_web.net_eth1", "net.eth0"),
        ("cgroup_web.net_packets_eth1", "net_packets.eth0"),
    ] {
        let get = |h: &Host, c: &str, d: &str| stored(h, c, d, T + 1).unwrap();
        assert_close(
            Some(get(&host, chart, "received")),
            -get(&plain_host, plain_chart, "sent"),
        );
        assert_close(
            Some(get(&host, chart, "sent")),
            -get(&plain_host, plain_chart, "received"),
        );
    }

    // Renamed later: the charts made as `net.eth0` become obsolete.
    let late = Arc::new(NetdevRenames::default());
    let mut collectors: Vec<Box<dyn Collector>> = vec![Box::new(
        NetDevCollector::new(&root.path, 1).renaming(late.clone()),
    )];
    let host = Host::new("test", 100);
    collect(&mut collectors, &host, T);
    collect(&mut collectors, &host, T + 1);
    let before = host.chart_by_id("net.eth0").unwrap();
    assert!(!before.read().is_obsolete());
    late.add(
        "eth0",
        NetRename {
            chart_type: "cgroup_web".to_string(),
            device: "eth1".to_string(),
            k8s: true,
            labels: Vec::new(),
        },
    );
    collect(&mut collectors, &host, T + 2);
    assert!(before.read().is_obsolete());
    let after = host.chart_by_id("cgroup_web.net_eth1").unwrap();
    assert_eq!(after.read().def().context, "k8s.cgroup.net_net");
}
