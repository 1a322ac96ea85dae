//! Black-box tests of the /proc collectors (`backhaul::collectors::proc`).
//!
//! `tests/fixtures/proc/t0` and `t1` are two snapshots of this kind of
//! machine's kernel files, taken about a second apart (see the README
//! there). Each test copies them into a scratch root, collects `t0` at time
//! `T` and `t1` at `T + 1 s`, and checks what the store holds against
//! numbers worked out by hand from the two snapshots with netdata's
//! formulas (the arithmetic is in the comments), and the chart definitions
//! against netdata 1.37's (`charts_all.json` of the reference samples).

mod proc_support;

use std::fs;
use std::io::Write as _;
use std::path::Path;

use backhaul::collectors::proc::{default_collectors, SWITCHES};
use backhaul::collectors::Collector;
use backhaul::config::ChartSwitch;
use proc_support::{
    assert_close, assert_collections_do_not_allocate, assert_values, capture_logs, collect,
    collect_two_snapshots, stored, variables, Root, T,
};
use rrd::{Algorithm, ChartType, Host};

/// The fixture set: `tests/fixtures/proc`.
const FIXTURES: &str = "proc";

/// Every collector but idlejitter (which measures for most of each
/// interval) and mdstat (the machine kind has no md arrays, so no file):
/// `proc_system_collectors.rs` tests both.
fn is_snapshot_collector(switch: &str) -> bool {
    switch != "idlejitter" && switch != "/proc/mdstat"
}

fn all_collectors(root: &Root) -> Vec<Box<dyn Collector>> {
    default_collectors(&root.path, 1, &is_snapshot_collector)
}

/// Collects `t0` at `T` and `t1` at `T + 1` with every collector.
fn two_snapshots(test: &str) -> (Root, Host) {
    collect_two_snapshots(FIXTURES, test, 1, &is_snapshot_collector)
}

// ---------------------------------------------------------------------------
// Values: one test per chart family.

#[test]
fn cpu_percentages() {
    let (_root, host) = two_snapshots("cpu");
    // cpu t0: 43426 0 4863 85796 457 0 75 528 0 0
    //     t1: 43625 0 4945 85850 566 0 76 528 0 0
    // deltas: user 199, system 82, idle 54, iowait 109, softirq 1; total 445
    assert_values(
        &host,
        "system.cpu",
        T + 1,
        &[
            ("user", 199.0 * 100.0 / 445.0),
            ("system", 82.0 * 100.0 / 445.0),
            ("idle", 54.0 * 100.0 / 445.0),
            ("iowait", 109.0 * 100.0 / 445.0),
            ("softirq", 1.0 * 100.0 / 445.0),
            ("nice", 0.0),
            ("irq", 0.0),
            ("steal", 0.0),
            ("guest", 0.0),
            ("guest_nice", 0.0),
        ],
    );
    // cpu0: user 1, system 69, idle 51, iowait 103, softirq 1; total 225
    assert_values(
        &host,
        "cpu.cpu0",
        T + 1,
        &[
            ("user", 1.0 * 100.0 / 225.0),
            ("system", 69.0 * 100.0 / 225.0),
            ("iowait", 103.0 * 100.0 / 225.0),
        ],
    );
    // cpu1: user 198, system 13, idle 4, iowait 6, softirq 1; total 222
    assert_values(
        &host,
        "cpu.cpu1",
        T + 1,
        &[
            ("user", 198.0 * 100.0 / 222.0),
            ("idle", 4.0 * 100.0 / 222.0),
        ],
    );
    // A rate needs two collections: nothing at T.
    assert_eq!(stored(&host, "system.cpu", "user", T), None);
}

#[test]
fn interrupts_context_switches_forks_and_processes() {
    let (_root, host) = two_snapshots("stat");
    // intr 352262 -> 354508, ctxt 470929 -> 472632, processes 14172 -> 14197
    assert_close(stored(&host, "system.intr", "interrupts", T + 1), 2246.0);
    assert_close(stored(&host, "system.ctxt", "switches", T + 1), 1703.0);
    assert_close(stored(&host, "system.forks", "started", T + 1), 25.0);
    // procs_running 2 -> 3, procs_blocked 0 -> 0 (blocked is negative)
    assert_close(stored(&host, "system.processes", "running", T), 2.0);
    assert_close(stored(&host, "system.processes", "running", T + 1), 3.0);
    assert_close(stored(&host, "system.processes", "blocked", T + 1), 0.0);
}

#[test]
fn uptime_and_load() {
    let (root, host) = two_snapshots("load");
    // uptime 676.06 -> 678.26 s, collected in ms, divided by 1000
    assert_close(stored(&host, "system.uptime", "uptime", T), 676.06);
    assert_close(stored(&host, "system.uptime", "uptime", T + 1), 678.26);
    // loadavg t0: 0.56 1.02 0.58 1/86; t1: 0.56 1.02 0.58 3/84
    assert_close(stored(&host, "system.load", "load1", T), 0.56);
    assert_close(stored(&host, "system.load", "load5", T), 1.02);
    assert_close(stored(&host, "system.load", "load15", T), 0.58);
    assert_close(stored(&host, "system.active_processes", "active", T), 86.0);
    assert_close(
        stored(&host, "system.active_processes", "active", T + 1),
        84.0,
    );

    // system.load is a 5-s chart: collected again at T + 5, not before.
    let load = host.chart_by_id("system.load").unwrap();
    assert_eq!(load.read().update_every(), 5);
    assert_eq!(load.read().rounds(), 1);
    let mut loadavg = default_collectors(&root.path, 1, &|s| s == "/proc/loadavg");
    let host2 = Host::new("test2", 100);
    root.write("proc/loadavg", "0.50 1.00 0.50 1/80 1\n");
    collect(&mut loadavg, &host2, T);
    root.write("proc/loadavg", "2.00 1.00 0.50 1/80 1\n");
    for t in T + 1..T + 5 {
        collect(&mut loadavg, &host2, t);
    }
    assert_eq!(host2.chart_by_id("system.load").unwrap().read().rounds(), 1);
    collect(&mut loadavg, &host2, T + 5);
    assert_close(stored(&host2, "system.load", "load1", T + 5), 2.0);
    assert_eq!(
        host2
            .chart_by_id("system.active_processes")
            .unwrap()
            .read()
            .rounds(),
        6
    );
}

/// netdata's alarm variables of `/proc/stat` and `/proc/loadavg`.
#[test]
fn active_processors_and_pidmax_variables() {
    let (root, host) = two_snapshots("cpu-vars");
    // /proc/stat lists cpu0 and cpu1: the last core's number plus one.
    let table = variables(&host);
    assert!(
        table.contains(&("active_processors".to_string(), 2.0)),
        "{table:?}"
    );
    // /proc/sys/kernel/pid_max 32768, a variable of system.active_processes
    // (its name is its id: one copy in the host's table).
    let chart = host.chart_by_id("system.active_processes").unwrap();
    assert_eq!(chart.read().variables().get("pidmax"), Some(32768.0));
    assert!(
        table.contains(&("system.active_processes.pidmax".to_string(), 32768.0)),
        "{table:?}"
    );
    assert_eq!(
        host.with_host_variables(|own| own.get("active_processors")),
        Some(2.0)
    );

    // One core fewer: the variable follows at the next collection.
    let stat = fs::read_to_string(root.file("proc/stat")).unwrap();
    let one_core: String = stat
        .lines()
        .filter(|line| !line.starts_with("cpu1"))
        .map(|line| format!("{line}\n"))
        .collect();
    root.write("proc/stat", &one_core);
    let mut stat_only = default_collectors(&root.path, 1, &|s| s == "/proc/stat");
    let host2 = Host::new("test2", 100);
    collect(&mut stat_only, &host2, T);
    assert_eq!(
        host2.with_variables(|t| t.get("active_processors")),
        Some(1.0)
    );
    // No system.cpu (`cpu utilization = no`): no variable, as in netdata.
    let switches = |module: &str, key: &str| {
        (module == "/proc/stat" && key == "cpu utilization").then_some(ChartSwitch::No)
    };
    let mut no_total = backhaul::collectors::proc::configured_collectors(
        &root.path,
        1,
        &|s| s == "/proc/stat",
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
    );
    let host3 = Host::new("test3", 100);
    collect(&mut no_total, &host3, T);
    assert!(host3.chart_by_id("system.cpu").is_none());
    assert_eq!(host3.with_variables(|t| t.len()), 0);

    // pid_max is read once, when the chart is made: a later change is not
    // seen (netdata reads it once per run). Without the file netdata
    // assumes 32768.
    let fresh = Root::new(FIXTURES, "pidmax");
    fresh.load("t0");
    fresh.write("proc/sys/kernel/pid_max", "4194304\n");
    let mut loadavg = default_collectors(&fresh.path, 1, &|s| s == "/proc/loadavg");
    let host4 = Host::new("test4", 100);
    collect(&mut loadavg, &host4, T);
    fresh.write("proc/sys/kernel/pid_max", "1000\n");
    collect(&mut loadavg, &host4, T + 1);
    assert_eq!(
        host4.with_variables(|t| t.get("system.active_processes.pidmax")),
        Some(4194304.0)
    );
    fs::remove_file(fresh.file("proc/sys/kernel/pid_max")).unwrap();
    let mut loadavg = default_collectors(&fresh.path, 1, &|s| s == "/proc/loadavg");
    let host5 = Host::new("test5", 100);
    let logs = capture_logs(|| collect(&mut loadavg, &host5, T));
    assert_eq!(
        host5.with_variables(|t| t.get("system.active_processes.pidmax")),
        Some(32768.0)
    );
    assert!(!logs.contains("WARN"), "{logs}");
}

/// Every module that keeps one of netdata's alarm variables, run in the
/// default order over one root with both fixture sets: the variables come
/// in the order the modules first set them.
#[test]
fn alarm_variables_in_module_order() {
    let root = Root::new(FIXTURES, "var-order");
    root.load("t0");
    root.load_from("proc_net", "t0");
    let host = Host::new("test", 100);
    let mut collectors = all_collectors(&root);
    collect(&mut collectors, &host, T);
    root.load("t1");
    root.load_from("proc_net", "t1");
    collect(&mut collectors, &host, T + 1);
    let page_kib = backhaul::sys::page_size() as f64 / 1024.0;
    // backhaul's module order (SWITCHES): stat, loadavg, net/dev, netstat,
    // sockstat, conntrack, ipc. netdata 1.37 runs sockstat before netstat
    // and /proc/net/dev on a thread of its own, so on a netdata of this
    // machine the order is active_processors, pidmax, tcp_max_orphans,
    // tcp_mem_*, tcp_max_connections, netfilter_conntrack_max, ipc_*, and
    // net.eth0.nic_speed_max last.
    let expected = [
        ("active_processors", 2.0),
        ("system.active_processes.pidmax", 32768.0),
        // eth0's speed is -1 (unknown): 0 kilobits/s, as netdata.
        ("net.eth0.nic_speed_max", 0.0),
        ("tcp_max_connections", -1.0),
        ("tcp_max_orphans", 131072.0),
        ("tcp_mem_low", 287898.0 * page_kib),
        ("tcp_mem_pressure", 383867.0 * page_kib),
        ("tcp_mem_high", 575796.0 * page_kib),
        ("netfilter_conntrack_max", 262144.0),
        ("ipc_semaphores_max", 1024000000.0),
        ("ipc_semaphores_arrays_max", 32000.0),
    ];
    let expected: Vec<(String, f64)> = expected
        .iter()
        .map(|&(name, value)| (name.to_string(), value))
        .collect();
    assert_eq!(variables(&host), expected);
}

#[test]
fn memory() {
    let (_root, host) = two_snapshots("mem");
    // t1 meminfo (kB): MemTotal 24731708, MemFree 20468816, Buffers 44768,
    // Cached 4059972, Shmem 8856, SReclaimable 10244, MemAvailable 24305796,
    // Committed_AS 85692 -- see the fixture; netdata 1.37:
    //   cached = Cached + SReclaimable - Shmem
    //   used   = MemTotal - MemFree - cached - Buffers
    // in MiB (/1024):
    assert_values(
        &host,
        "system.ram",
        T + 1,
        &[
            ("free", 19989.359375),
            ("used", 152.98828125),
            ("cached", 3965.9921875),
            ("buffers", 43.71875),
        ],
    );
    assert_close(
        stored(&host, "mem.available", "MemAvailable", T + 1),
        23736.12890625,
    );
    assert_close(
        stored(&host, "mem.committed", "Committed_AS", T + 1),
        83.68359375,
    );
}

#[test]
fn vmstat_paging_and_faults() {
    let (_root, host) = two_snapshots("vmstat");
    // pgpgin 1427565 -> 1929737, pgpgout 2517576 -> 2560512 (KiB, out negative)
    assert_close(stored(&host, "system.pgpgio", "in", T + 1), 502_172.0);
    assert_close(stored(&host, "system.pgpgio", "out", T + 1), -42_936.0);
    // pgfault 13306959 -> 13342243, pgmajfault 588 -> 594 (major negative)
    assert_close(stored(&host, "mem.pgfaults", "minor", T + 1), 35_284.0);
    assert_close(stored(&host, "mem.pgfaults", "major", T + 1), -6.0);
}

#[test]
fn network() {
    let (_root, host) = two_snapshots("net");
    // eth0 received bytes 70340462 -> 73652174: 3311712 B/s * 8 / 1000
    // sent bytes 357590 -> 362602: 5012 B/s * -8 / 1000
    assert_close(stored(&host, "net.eth0", "received", T + 1), 26_493.696);
    assert_close(stored(&host, "net.eth0", "sent", T + 1), -40.096);
    // eth0 is the only physical interface (lo, ifb0, ifb1 are virtual).
    assert_close(stored(&host, "system.net", "InOctets", T + 1), 26_493.696);
    assert_close(stored(&host, "system.net", "OutOctets", T + 1), -40.096);
    // packets 4777 -> 4879, 4314 -> 4386, multicast 0 -> 0
    assert_close(stored(&host, "net_packets.eth0", "received", T + 1), 102.0);
    assert_close(stored(&host, "net_packets.eth0", "sent", T + 1), -72.0);
    assert_close(stored(&host, "net_packets.eth0", "multicast", T + 1), 0.0);
    // lo is disabled by default; ifb0 and ifb1 never moved a byte.
    for absent in [
        "net.lo",
        "net.ifb0",
        "net.ifb1",
        "net_packets.lo",
        "net_packets.ifb0",
    ] {
        assert!(
            host.chart_by_id(absent).is_none(),
            "{absent} should not exist"
        );
    }
}

#[test]
fn disks() {
    let (_root, host) = two_snapshots("disk");
    // vda read sectors 2855130 -> 3859474, written 5035152 -> 5121024
    // (× 512 / 1024 KiB; writes negative)
    assert_close(stored(&host, "disk.vda", "reads", T + 1), 502_172.0);
    assert_close(stored(&host, "disk.vda", "writes", T + 1), -42_936.0);
    // reads completed 7211 -> 7798, writes 4084 -> 4142
    assert_close(stored(&host, "disk_ops.vda", "reads", T + 1), 587.0);
    assert_close(stored(&host, "disk_ops.vda", "writes", T + 1), -58.0);
    // vda is the only physical disk.
    assert_close(stored(&host, "system.io", "in", T + 1), 502_172.0);
    assert_close(stored(&host, "system.io", "out", T + 1), -42_936.0);
    for absent in [
        "disk.loop0",
        "disk.zram0",
        "disk_ops.loop0",
        "disk_ops.zram0",
    ] {
        assert!(
            host.chart_by_id(absent).is_none(),
            "{absent} should not exist"
        );
    }
}

/// `statvfs` of a path: (block size, blocks avail, used, reserved).
fn statvfs_blocks(path: &Path) -> (u64, u64, u64, u64) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let st = backhaul::sys::statvfs(&c).expect("statvfs");
    let bsize = if st.f_frsize != 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    let (total, free, avail) = (st.f_blocks, st.f_bfree, st.f_bavail);
    (bsize, avail, total - free, free - avail)
}

#[test]
fn disk_space_follows_mountinfo_and_statvfs() {
    let root = Root::new(FIXTURES, "space");
    root.load("t0");
    // Mount points of the fixture's mountinfo that exist as directories
    // below the root: / (ext4), /dev (devtmpfs), /dev/shm (tmpfs),
    // /sys/fs/cgroup (excluded path), /dev/pts (devpts: a pseudo
    // filesystem), and a read-only tmpfs. netdata 1.37 charted /, /dev and
    // /dev/shm on this kind of machine.
    for dir in [
        "dev/shm",
        "sys/fs/cgroup",
        "dev/pts",
        "mnt/sandboxing/model_tools_env/v1/python",
    ] {
        fs::create_dir_all(root.file(dir)).unwrap();
    }
    let host = Host::new("test", 100);
    let mut diskspace = default_collectors(&root.path, 1, &|s| s == "diskspace");
    collect(&mut diskspace, &host, T);

    let mut ids: Vec<String> = host.charts().iter().map(|c| c.id().to_string()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "disk_inodes._",
            "disk_inodes._dev",
            "disk_inodes._dev_shm",
            "disk_space._",
            "disk_space._dev",
            "disk_space._dev_shm"
        ]
    );

    // All of them live on the scratch root's filesystem here; other tests
    // write meanwhile, so allow a few MiB of drift.
    let (bsize, avail, used, reserved) = statvfs_blocks(&root.path);
    let gib = |blocks: u64| (blocks * bsize) as f64 / (1u64 << 30) as f64;
    for (dim, expected) in [
        ("avail", gib(avail)),
        ("used", gib(used)),
        ("reserved_for_root", gib(reserved)),
    ] {
        let value = stored(&host, "disk_space._", dim, T).unwrap();
        assert!(
            (value - expected).abs() < 0.05,
            "{dim}: {value} vs {expected}"
        );
    }
    let space = host.chart_by_id("disk_space._").unwrap();
    let c = space.read();
    assert_eq!(c.def().family, "/");
    let dims: Vec<(&str, i64, i64)> = c
        .dimensions()
        .iter()
        .map(|d| (d.name(), d.def().multiplier, d.def().divisor))
        .collect();
    let b = bsize as i64;
    assert_eq!(
        dims,
        [
            ("avail", b, 1 << 30),
            ("used", b, 1 << 30),
            ("reserved for root", b, 1 << 30)
        ]
    );
    let labels: Vec<(&str, &str)> = c
        .def()
        .labels
        .iter()
        .map(|l| (l.key.as_str(), l.value.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("mount_point", "/"),
            ("filesystem", "ext4"),
            ("mount_root", "/")
        ]
    );
    drop(c);

    // /dev/shm unmounted: its charts go obsolete at the next mount check
    // (every 15 s).
    let mountinfo = fs::read_to_string(root.file("proc/self/mountinfo")).unwrap();
    let without_shm: String = mountinfo
        .lines()
        .filter(|l| !l.contains(" /dev/shm "))
        .map(|l| format!("{l}\n"))
        .collect();
    root.write("proc/self/mountinfo", &without_shm);
    collect(&mut diskspace, &host, T + 1);
    assert!(!host
        .chart_by_id("disk_space._dev_shm")
        .unwrap()
        .read()
        .is_obsolete());
    collect(&mut diskspace, &host, T + 15);
    assert!(host
        .chart_by_id("disk_space._dev_shm")
        .unwrap()
        .read()
        .is_obsolete());
    assert!(!host
        .chart_by_id("disk_space._")
        .unwrap()
        .read()
        .is_obsolete());
}

// ---------------------------------------------------------------------------
// Chart definitions against netdata 1.37.

/// One dimension as netdata 1.37 declares it: id, name, algorithm,
/// multiplier, divisor, hidden.
type Dim = (&'static str, &'static str, Algorithm, i64, i64, bool);

struct Expected {
    id: &'static str,
    name: &'static str,
    /// As `charts_all.json` shows it: the title, then the chart name in
    /// parentheses (netdata's API adds that).
    title: &'static str,
    units: &'static str,
    family: &'static str,
    context: &'static str,
    chart_type: ChartType,
    priority: i64,
    update_every: u32,
    plugin: &'static str,
    module: &'static str,
    dims: &'static [Dim],
}

use Algorithm::{Absolute as ABS, Incremental as INC, PercentageOfIncrementalRow as PCT};

const CPU_DIMS: &[Dim] = &[
    ("guest_nice", "guest_nice", PCT, 1, 1, false),
    ("guest", "guest", PCT, 1, 1, false),
    ("steal", "steal", PCT, 1, 1, false),
    ("softirq", "softirq", PCT, 1, 1, false),
    ("irq", "irq", PCT, 1, 1, false),
    ("user", "user", PCT, 1, 1, false),
    ("system", "system", PCT, 1, 1, false),
    ("nice", "nice", PCT, 1, 1, false),
    ("iowait", "iowait", PCT, 1, 1, false),
    // Hidden: not in charts_all.json, but in allmetrics (NETDATA_SYSTEM_CPU_IDLE).
    ("idle", "idle", PCT, 1, 1, true),
];

/// Rows of `samples/charts_all.json` (netdata 1.37.1 on this kind of VM);
/// algorithms, multipliers and divisors are netdata's proc plugin's (the
/// JSON does not carry them; the signs show in the graphite sample).
const NETDATA_137: &[Expected] = &[
    Expected {
        id: "system.cpu",
        name: "system.cpu",
        title: "Total CPU utilization (system.cpu)",
        units: "percentage",
        family: "cpu",
        context: "system.cpu",
        chart_type: ChartType::Stacked,
        priority: 100,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/stat",
        dims: CPU_DIMS,
    },
    Expected {
        id: "cpu.cpu0",
        name: "cpu.cpu0",
        title: "Core utilization (cpu.cpu0)",
        units: "percentage",
        family: "utilization",
        context: "cpu.cpu",
        chart_type: ChartType::Stacked,
        priority: 1001,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/stat",
        dims: CPU_DIMS,
    },
    Expected {
        id: "cpu.cpu1",
        name: "cpu.cpu1",
        title: "Core utilization (cpu.cpu1)",
        units: "percentage",
        family: "utilization",
        context: "cpu.cpu",
        chart_type: ChartType::Stacked,
        priority: 1002,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/stat",
        dims: CPU_DIMS,
    },
    Expected {
        id: "system.intr",
        name: "system.intr",
        title: "CPU Interrupts (system.intr)",
        units: "interrupts/s",
        family: "interrupts",
        context: "system.intr",
        chart_type: ChartType::Line,
        priority: 900,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/stat",
        dims: &[("interrupts", "interrupts", INC, 1, 1, false)],
    },
    Expected {
        id: "system.ctxt",
        name: "system.ctxt",
        title: "CPU Context Switches (system.ctxt)",
        units: "context switches/s",
        family: "processes",
        context: "system.ctxt",
        chart_type: ChartType::Line,
        priority: 800,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/stat",
        dims: &[("switches", "switches", INC, 1, 1, false)],
    },
    Expected {
        id: "system.forks",
        name: "system.forks",
        title: "Started Processes (system.forks)",
        units: "processes/s",
        family: "processes",
        context: "system.forks",
        chart_type: ChartType::Line,
        priority: 700,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/stat",
        dims: &[("started", "started", INC, 1, 1, false)],
    },
    Expected {
        id: "system.processes",
        name: "system.processes",
        title: "System Processes (system.processes)",
        units: "processes",
        family: "processes",
        context: "system.processes",
        chart_type: ChartType::Line,
        priority: 600,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/stat",
        dims: &[
            ("running", "running", ABS, 1, 1, false),
            ("blocked", "blocked", ABS, -1, 1, false),
        ],
    },
    Expected {
        id: "system.uptime",
        name: "system.uptime",
        title: "System Uptime (system.uptime)",
        units: "seconds",
        family: "uptime",
        context: "system.uptime",
        chart_type: ChartType::Line,
        priority: 1000,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/uptime",
        dims: &[("uptime", "uptime", ABS, 1, 1000, false)],
    },
    Expected {
        id: "system.load",
        name: "system.load",
        title: "System Load Average (system.load)",
        units: "load",
        family: "load",
        context: "system.load",
        chart_type: ChartType::Line,
        priority: 100,
        update_every: 5,
        plugin: "proc.plugin",
        module: "/proc/loadavg",
        dims: &[
            ("load1", "load1", ABS, 1, 1000, false),
            ("load5", "load5", ABS, 1, 1000, false),
            ("load15", "load15", ABS, 1, 1000, false),
        ],
    },
    Expected {
        id: "system.active_processes",
        name: "system.active_processes",
        title: "System Active Processes (system.active_processes)",
        units: "processes",
        family: "processes",
        context: "system.active_processes",
        chart_type: ChartType::Line,
        priority: 750,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/loadavg",
        dims: &[("active", "active", ABS, 1, 1, false)],
    },
    Expected {
        id: "system.pgpgio",
        name: "system.pgpgio",
        title: "Memory Paged from/to disk (system.pgpgio)",
        units: "KiB/s",
        family: "disk",
        context: "system.pgpgio",
        chart_type: ChartType::Area,
        priority: 151,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/vmstat",
        dims: &[
            ("in", "in", INC, 1, 1, false),
            ("out", "out", INC, -1, 1, false),
        ],
    },
    Expected {
        id: "mem.pgfaults",
        name: "mem.pgfaults",
        title: "Memory Page Faults (mem.pgfaults)",
        units: "faults/s",
        family: "system",
        context: "mem.pgfaults",
        chart_type: ChartType::Line,
        priority: 1040,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/vmstat",
        dims: &[
            ("minor", "minor", INC, 1, 1, false),
            ("major", "major", INC, -1, 1, false),
        ],
    },
    Expected {
        id: "system.ram",
        name: "system.ram",
        title: "System RAM (system.ram)",
        units: "MiB",
        family: "ram",
        context: "system.ram",
        chart_type: ChartType::Stacked,
        priority: 200,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/meminfo",
        dims: &[
            ("free", "free", ABS, 1, 1024, false),
            ("used", "used", ABS, 1, 1024, false),
            ("cached", "cached", ABS, 1, 1024, false),
            ("buffers", "buffers", ABS, 1, 1024, false),
        ],
    },
    Expected {
        id: "mem.available",
        name: "mem.available",
        title: "Available RAM for applications (mem.available)",
        units: "MiB",
        family: "system",
        context: "mem.available",
        chart_type: ChartType::Area,
        priority: 1010,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/meminfo",
        dims: &[("MemAvailable", "avail", ABS, 1, 1024, false)],
    },
    Expected {
        id: "mem.committed",
        name: "mem.committed",
        title: "Committed (Allocated) Memory (mem.committed)",
        units: "MiB",
        family: "system",
        context: "mem.committed",
        chart_type: ChartType::Area,
        priority: 1030,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/meminfo",
        dims: &[("Committed_AS", "Committed_AS", ABS, 1, 1024, false)],
    },
    Expected {
        id: "system.net",
        name: "system.net",
        title: "Physical Network Interfaces Aggregated Bandwidth (system.net)",
        units: "kilobits/s",
        family: "network",
        context: "system.net",
        chart_type: ChartType::Area,
        priority: 500,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/net/dev",
        dims: &[
            ("InOctets", "received", INC, 8, 1000, false),
            ("OutOctets", "sent", INC, -8, 1000, false),
        ],
    },
    Expected {
        id: "net.eth0",
        name: "net.eth0",
        title: "Bandwidth (net.eth0)",
        units: "kilobits/s",
        family: "eth0",
        context: "net.net",
        chart_type: ChartType::Area,
        priority: 7000,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/net/dev",
        dims: &[
            ("received", "received", INC, 8, 1000, false),
            ("sent", "sent", INC, -8, 1000, false),
        ],
    },
    Expected {
        id: "net_packets.eth0",
        name: "net_packets.eth0",
        title: "Packets (net_packets.eth0)",
        units: "packets/s",
        family: "eth0",
        context: "net.packets",
        chart_type: ChartType::Line,
        priority: 7001,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/net/dev",
        dims: &[
            ("received", "received", INC, 1, 1, false),
            ("sent", "sent", INC, -1, 1, false),
            ("multicast", "multicast", INC, 1, 1, false),
        ],
    },
    Expected {
        id: "system.io",
        name: "system.io",
        title: "Disk I/O (system.io)",
        units: "KiB/s",
        family: "disk",
        context: "system.io",
        chart_type: ChartType::Area,
        priority: 150,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        dims: &[
            ("in", "in", INC, 1, 1, false),
            ("out", "out", INC, -1, 1, false),
        ],
    },
    Expected {
        id: "disk.vda",
        name: "disk.vda",
        title: "Disk I/O Bandwidth (disk.vda)",
        units: "KiB/s",
        family: "/",
        context: "disk.io",
        chart_type: ChartType::Area,
        priority: 2000,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        dims: &[
            ("reads", "reads", INC, 512, 1024, false),
            ("writes", "writes", INC, -512, 1024, false),
        ],
    },
    Expected {
        id: "disk_ops.vda",
        name: "disk_ops.vda",
        title: "Disk Completed I/O Operations (disk_ops.vda)",
        units: "operations/s",
        family: "/",
        context: "disk.ops",
        chart_type: ChartType::Line,
        priority: 2010,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        dims: &[
            ("reads", "reads", INC, 1, 1, false),
            ("writes", "writes", INC, -1, 1, false),
        ],
    },
];

#[test]
fn chart_definitions_match_netdata_137() {
    let (_root, host) = two_snapshots("defs");
    for e in NETDATA_137 {
        let chart = host
            .chart_by_id(e.id)
            .unwrap_or_else(|| panic!("no chart {}", e.id));
        let c = chart.read();
        let def = c.def();
        assert_eq!(c.name(), e.name, "{}", e.id);
        assert_eq!(format!("{} ({})", def.title, c.name()), e.title, "{}", e.id);
        assert_eq!(def.units, e.units, "{}", e.id);
        assert_eq!(def.family, e.family, "{}", e.id);
        assert_eq!(def.context, e.context, "{}", e.id);
        assert_eq!(def.chart_type, e.chart_type, "{}", e.id);
        assert_eq!(def.priority, e.priority, "{}", e.id);
        assert_eq!(def.update_every, e.update_every, "{}", e.id);
        assert_eq!(def.plugin, e.plugin, "{}", e.id);
        assert_eq!(def.module, e.module, "{}", e.id);
        assert!(!def.obsolete, "{}", e.id);
        type Owned = (String, String, Algorithm, i64, i64, bool);
        let dims: Vec<Owned> = c
            .dimensions()
            .iter()
            .map(|d| {
                let dd = d.def();
                (
                    dd.id.clone(),
                    d.name().to_string(),
                    dd.algorithm,
                    dd.multiplier,
                    dd.divisor,
                    dd.hidden,
                )
            })
            .collect();
        let expected: Vec<Owned> = e
            .dims
            .iter()
            .map(|&(id, name, a, m, d, h)| (id.to_string(), name.to_string(), a, m, d, h))
            .collect();
        assert_eq!(dims, expected, "{}", e.id);
    }
}

#[test]
fn chart_labels_match_netdata_137() {
    let (_root, host) = two_snapshots("labels");
    let labels = |id: &str| -> Vec<(String, String)> {
        let chart = host.chart_by_id(id).unwrap();
        let c = chart.read();
        c.def()
            .labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect()
    };
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        labels("net.eth0"),
        pairs(&[("interface_type", "real"), ("device", "eth0")])
    );
    assert_eq!(
        labels("disk.vda"),
        pairs(&[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical")
        ])
    );
    assert!(labels("system.cpu").is_empty());
}

/// The complete set of charts the snapshots make is checked in
/// `proc_system_collectors.rs`; here, that these are among them.
#[test]
fn netdata_137_charts_are_created() {
    let (_root, host) = two_snapshots("set");
    for e in NETDATA_137 {
        assert!(host.chart_by_id(e.id).is_some(), "no chart {}", e.id);
    }
    for switch in [
        "/proc/stat",
        "/proc/net/dev",
        "/proc/diskstats",
        "diskspace",
    ] {
        assert!(SWITCHES.contains(&switch), "{switch}");
    }
}

#[test]
fn steady_state_collection_does_not_allocate() {
    let root = Root::new(FIXTURES, "alloc");
    root.load("t0");
    fs::create_dir_all(root.file("dev/shm")).unwrap();
    let host = Host::new("test", 100);
    let mut collectors = all_collectors(&root);
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    collect(&mut collectors, &host, T + 2);
    assert!(host.chart_count() > 20);

    // Same charts, same files: nothing to create, nothing to allocate,
    // including a cycle that re-reads the (unchanged) mount list.
    assert_collections_do_not_allocate(&mut collectors, &host, &[T + 3, T + 4, T + 15]);
}

// ---------------------------------------------------------------------------
// Failures.

#[test]
fn a_missing_file_makes_charts_obsolete_and_logs_once() {
    let root = Root::new(FIXTURES, "missing");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut collectors = all_collectors(&root);
    let logs = capture_logs(|| {
        collect(&mut collectors, &host, T);
        fs::remove_file(root.file("proc/meminfo")).unwrap();
        fs::remove_file(root.file("proc/stat")).unwrap();
        for t in T + 1..T + 6 {
            // `collect` panics on any error.
            collect(&mut collectors, &host, t);
        }
        for id in [
            "system.ram",
            "mem.available",
            "mem.committed",
            "system.cpu",
            "cpu.cpu0",
            "system.intr",
        ] {
            assert!(host.chart_by_id(id).unwrap().read().is_obsolete(), "{id}");
        }
        assert!(!host
            .chart_by_id("system.uptime")
            .unwrap()
            .read()
            .is_obsolete());
        assert_eq!(
            host.chart_by_id("system.ram").unwrap().read().rounds(),
            1,
            "no rounds while the file is missing"
        );

        root.load("t1");
        collect(&mut collectors, &host, T + 6);
        collect(&mut collectors, &host, T + 7);
    });

    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "one warning per missing file:\n{logs}");
    assert!(warnings.iter().any(|l| l.contains("proc/meminfo")));
    assert!(warnings.iter().any(|l| l.contains("proc/stat")));
    let recoveries = logs
        .lines()
        .filter(|l| l.contains("readable again"))
        .count();
    assert_eq!(recoveries, 2, "{logs}");

    for id in ["system.ram", "system.cpu", "cpu.cpu1"] {
        assert!(!host.chart_by_id(id).unwrap().read().is_obsolete(), "{id}");
    }
    // Back to normal values (t1's, an absolute chart right away).
    assert_close(stored(&host, "system.ram", "free", T + 6), 19989.359375);
}

#[test]
fn a_vanished_interface_makes_its_charts_obsolete() {
    let root = Root::new(FIXTURES, "iface");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut netdev = default_collectors(&root.path, 1, &|s| s == "/proc/net/dev");
    collect(&mut netdev, &host, T);
    assert!(!host.chart_by_id("net.eth0").unwrap().read().is_obsolete());

    let without_eth0: String = fs::read_to_string(root.file("proc/net/dev"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains("eth0:"))
        .map(|l| format!("{l}\n"))
        .collect();
    root.write("proc/net/dev", &without_eth0);
    collect(&mut netdev, &host, T + 1);
    assert!(host.chart_by_id("net.eth0").unwrap().read().is_obsolete());
    assert!(host
        .chart_by_id("net_packets.eth0")
        .unwrap()
        .read()
        .is_obsolete());
    assert!(!host.chart_by_id("system.net").unwrap().read().is_obsolete());

    // It comes back: the charts revive, and rates resume after one round.
    root.load("t1");
    collect(&mut netdev, &host, T + 2);
    assert!(!host.chart_by_id("net.eth0").unwrap().read().is_obsolete());
    let mut later = fs::read_to_string(root.file("proc/net/dev")).unwrap();
    later = later.replace("73652174", "73653174"); // +1000 bytes
    root.write("proc/net/dev", &later);
    collect(&mut netdev, &host, T + 3);
    assert_close(stored(&host, "net.eth0", "received", T + 3), 8.0);
}

#[test]
fn a_vanished_disk_makes_its_charts_obsolete() {
    let root = Root::new(FIXTURES, "vanished-disk");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut disks = default_collectors(&root.path, 1, &|s| s == "/proc/diskstats");
    collect(&mut disks, &host, T);
    let without_vda: String = fs::read_to_string(root.file("proc/diskstats"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains(" vda "))
        .map(|l| format!("{l}\n"))
        .collect();
    root.write("proc/diskstats", &without_vda);
    collect(&mut disks, &host, T + 1);
    assert!(host.chart_by_id("disk.vda").unwrap().read().is_obsolete());
    assert!(host
        .chart_by_id("disk_ops.vda")
        .unwrap()
        .read()
        .is_obsolete());
}

#[test]
fn odd_content_is_survived() {
    let root = Root::new(FIXTURES, "odd");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut collectors = all_collectors(&root);
    collect(&mut collectors, &host, T);

    // Truncated files: every file cut in the middle of a line.
    let files = [
        "proc/stat",
        "proc/loadavg",
        "proc/uptime",
        "proc/meminfo",
        "proc/net/dev",
        "proc/diskstats",
        "proc/vmstat",
        "proc/self/mountinfo",
    ];
    for file in files {
        let data = fs::read(root.file(file)).unwrap();
        fs::write(root.file(file), &data[..data.len() / 2 + 3]).unwrap();
    }
    collect(&mut collectors, &host, T + 1);

    // Garbage: binary, non-numbers, extra and missing columns.
    let garbage = "cpu x y z\ncpu0 1 2 3 4 5 6 7 8 9 10 11 12 13\nintr -5\n\u{0}\u{1}\u{ff}\n\
                   eth0: 1 2\n  lo: a b c d e f g h i j k l m n o p\n8 0 sda 1 2 3\n\
                   MemTotal: 99999999999999999999999 kB\n1 2 3:4 / / rw - ext4\n:::\n \t \n";
    for file in files {
        let mut f = fs::File::create(root.file(file)).unwrap();
        f.write_all(garbage.as_bytes()).unwrap();
    }
    collect(&mut collectors, &host, T + 2);
    // Empty files count as unreadable.
    for file in files {
        fs::write(root.file(file), b"").unwrap();
    }
    collect(&mut collectors, &host, T + 3);
    assert!(host.chart_by_id("system.ram").unwrap().read().is_obsolete());

    // And back.
    root.load("t1");
    collect(&mut collectors, &host, T + 4);
    assert!(!host.chart_by_id("system.ram").unwrap().read().is_obsolete());
}

#[test]
fn switches_select_collectors() {
    let root = Root::new(FIXTURES, "switches");
    let names: Vec<String> = default_collectors(&root.path, 2, &|s| {
        matches!(s, "/proc/stat" | "/proc/net/dev" | "diskspace")
    })
    .iter()
    .map(|c| format!("{}@{}", c.name(), c.update_every()))
    .collect();
    assert_eq!(names, ["proc:stat@2", "proc:netdev@2", "diskspace@2"]);
    assert_eq!(
        default_collectors(&root.path, 1, &|_| true).len(),
        SWITCHES.len()
    );
    assert!(default_collectors(&root.path, 1, &|_| false).is_empty());
}
