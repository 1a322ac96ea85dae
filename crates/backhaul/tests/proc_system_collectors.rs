//! Black-box tests of the /proc and /sys collectors added for netdata
//! 1.37's other system charts (`mem.kernel`, `system.interrupts`,
//! `disk_util.DEV`, `system.cpu_some_pressure`, ...).
//!
//! The snapshots are the same as `proc_collectors.rs`'s
//! (`tests/fixtures/proc/t0` and `t1`, see the README there): each test
//! collects `t0` at `T` and `t1` at `T + 1 s` and checks what the store
//! holds against numbers worked out by hand from the two snapshots with
//! netdata's formulas (the arithmetic is in the comments), and the chart
//! definitions against netdata 1.37.1's on this machine kind
//! (`charts_default_internal_plugins.json` of the reference samples).

mod proc_support;

use std::fs;
use std::path::Path;

use backhaul::collectors::proc::default_collectors;
use backhaul::collectors::Collector;
use proc_support::{
    assert_collections_do_not_allocate, assert_values, capture_logs, collect,
    collect_two_snapshots, only, stored, ut, variables, Root, T,
};
use rrd::{ChartType, Host};

/// The fixture set: `tests/fixtures/proc`, shared with `proc_collectors.rs`.
const FIXTURES: &str = "proc";

/// Collects `t0` at `T` and `t1` at `T + 1` with every collector but
/// idlejitter (which measures for most of each interval; tested on its own).
fn two_snapshots(test: &str) -> (Root, Host) {
    collect_two_snapshots(FIXTURES, test, 1, &|s| s != "idlejitter")
}

// ---------------------------------------------------------------------------
// Values.

#[test]
fn meminfo_kernel_writeback_and_slab() {
    let (_root, host) = two_snapshots("meminfo");
    // t1: Dirty 20476, Writeback 0, WritebackTmp 0, NFS_Unstable 0, Bounce 0 (KiB)
    assert_values(
        &host,
        "mem.writeback",
        T + 1,
        &[
            ("Dirty", 20476.0 / 1024.0),
            ("Writeback", 0.0),
            ("FuseWriteback", 0.0),
            ("NfsWriteback", 0.0),
            ("Bounce", 0.0),
        ],
    );
    // t1: Slab 129616, KernelStack 1360, PageTables 1804, VmallocUsed 5620, Percpu 808
    assert_values(
        &host,
        "mem.kernel",
        T + 1,
        &[
            ("Slab", 129616.0 / 1024.0),
            ("KernelStack", 1360.0 / 1024.0),
            ("PageTables", 1804.0 / 1024.0),
            ("VmallocUsed", 5620.0 / 1024.0),
            ("Percpu", 808.0 / 1024.0),
        ],
    );
    // t1: SReclaimable 102480, SUnreclaim 27136
    assert_values(
        &host,
        "mem.slab",
        T + 1,
        &[
            ("reclaimable", 102480.0 / 1024.0),
            ("unreclaimable", 27136.0 / 1024.0),
        ],
    );
    // No swap, no huge pages, no corrupted pages here: those `auto` charts
    // are not created.
    for id in [
        "system.swap",
        "mem.hwcorrupt",
        "mem.hugepages",
        "mem.transparent_hugepages",
    ] {
        assert!(host.chart_by_id(id).is_none(), "{id}");
    }
}

#[test]
fn meminfo_auto_charts_appear_once_non_zero() {
    let root = Root::new(FIXTURES, "meminfo-auto");
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/meminfo");
    let base = "MemTotal: 1000 kB\nMemFree: 500 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n\
                HardwareCorrupted: 0 kB\nHugePages_Total: 0\nHugePages_Free: 0\n\
                HugePages_Rsvd: 0\nHugePages_Surp: 0\nHugepagesize: 2048 kB\n\
                AnonHugePages: 0 kB\nShmemHugePages: 0 kB\n";
    root.write("proc/meminfo", base);
    collect(&mut collectors, &host, T);
    assert!(host.chart_by_id("system.swap").is_none());
    root.write(
        "proc/meminfo",
        "MemTotal: 1000 kB\nMemFree: 500 kB\nSwapTotal: 2048 kB\nSwapFree: 1024 kB\n\
         HardwareCorrupted: 4 kB\nHugePages_Total: 10\nHugePages_Free: 4\n\
         HugePages_Rsvd: 1\nHugePages_Surp: 2\nHugepagesize: 2048 kB\n\
         AnonHugePages: 6144 kB\nShmemHugePages: 0 kB\n",
    );
    collect(&mut collectors, &host, T + 1);
    assert_values(&host, "system.swap", T + 1, &[("free", 1.0), ("used", 1.0)]);
    assert_values(
        &host,
        "mem.hwcorrupt",
        T + 1,
        &[("HardwareCorrupted", 4.0 / 1024.0)],
    );
    // pages × 2048 KiB / 1024: free 4 → 8 MiB, used 10 - 4 - 1 = 5 → 10 MiB
    assert_values(
        &host,
        "mem.hugepages",
        T + 1,
        &[
            ("free", 8.0),
            ("used", 10.0),
            ("surplus", 4.0),
            ("reserved", 2.0),
        ],
    );
    assert_values(
        &host,
        "mem.transparent_hugepages",
        T + 1,
        &[("anonymous", 6.0), ("shmem", 0.0)],
    );
    // Back to zero: the charts stay (netdata latches `auto` to `yes`).
    root.write("proc/meminfo", base);
    collect(&mut collectors, &host, T + 2);
    assert_values(&host, "system.swap", T + 2, &[("free", 0.0), ("used", 0.0)]);
}

#[test]
fn vmstat_oom_kills_and_swap_io() {
    let (_root, host) = two_snapshots("vmstat");
    // oom_kill 0 → 0: the chart is there (the kernel has the counter).
    assert_values(&host, "mem.oom_kill", T + 1, &[("kills", 0.0)]);
    // pswpin/pswpout stay 0: no `system.swapio`; one node: no `mem.numa`.
    assert!(host.chart_by_id("system.swapio").is_none());
    assert!(host.chart_by_id("mem.numa").is_none());

    let root = Root::new(FIXTURES, "swapio");
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/vmstat");
    root.write("proc/vmstat", "pswpin 10\npswpout 20\n");
    collect(&mut collectors, &host, T);
    root.write("proc/vmstat", "pswpin 13\npswpout 28\n");
    collect(&mut collectors, &host, T + 1);
    let page_kib = backhaul::sys::page_size() as f64 / 1024.0;
    assert_values(
        &host,
        "system.swapio",
        T + 1,
        &[("in", 3.0 * page_kib), ("out", -8.0 * page_kib)],
    );
}

#[test]
fn vmstat_numa_needs_two_nodes() {
    let root = Root::new(FIXTURES, "numa");
    fs::create_dir_all(root.file("sys/devices/system/node/node0")).unwrap();
    fs::create_dir_all(root.file("sys/devices/system/node/node1")).unwrap();
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/vmstat");
    root.write(
        "proc/vmstat",
        "numa_hit 5\nnuma_local 100\nnuma_foreign 7\n",
    );
    collect(&mut collectors, &host, T);
    root.write(
        "proc/vmstat",
        "numa_hit 5\nnuma_local 150\nnuma_foreign 9\n",
    );
    collect(&mut collectors, &host, T + 1);
    assert_values(
        &host,
        "mem.numa",
        T + 1,
        &[("local", 50.0), ("foreign", 2.0)],
    );
}

#[test]
fn interrupts_per_system_and_cpu() {
    let (_root, host) = two_snapshots("interrupts");
    // LOC 2699057 2664770 → 2699296 2664968: +239 +198, total 437
    // 36 (virtio1-req.0): 0 862484 → 0 862898: +414 on cpu1
    // RES 427908 340243 → 428156 340269: +248 +26
    assert_values(
        &host,
        "system.interrupts",
        T + 1,
        &[("LOC", 437.0), ("36", 414.0), ("RES", 274.0), ("24", 0.0)],
    );
    assert_values(
        &host,
        "cpu.cpu0_interrupts",
        T + 1,
        &[("LOC", 239.0), ("RES", 248.0)],
    );
    assert_values(
        &host,
        "cpu.cpu1_interrupts",
        T + 1,
        &[("LOC", 198.0), ("36", 414.0)],
    );
    let chart = host.chart_by_id("system.interrupts").unwrap();
    let c = chart.read();
    let names: Vec<&str> = c.dimensions().iter().map(|d| d.name()).collect();
    // Sources whose total is zero (28, NMI, ...) have no dimension.
    assert_eq!(
        names,
        [
            "Ged_24",
            "Ged_25",
            "ttyS0_26",
            "virtio0-stats_31",
            "virtio0-reporting_vq_32",
            "virtio4-input_34",
            "virtio1-config_35",
            "virtio1-req.0_36",
            "virtio2-input.0_38",
            "virtio2-output.0_39",
            "virtio3-rx_41",
            "virtio3-tx_42",
            "virtio3-event_43",
            "LOC",
            "IWI",
            "RES",
            "CAL",
            "TLB",
            "HYP",
        ]
    );
    // cpu0 never counted 36: no dimension for it there.
    let cpu0 = host.chart_by_id("cpu.cpu0_interrupts").unwrap();
    assert!(cpu0.read().dimension_index("36").is_none());
}

#[test]
fn softirqs_per_system_and_cpu() {
    let (_root, host) = two_snapshots("softirqs");
    // TIMER 442332 464146 → 442389 464166: +57 +20
    // BLOCK 0 862452 → 0 862868: +416 on cpu1
    // RCU 1136510 1223480 → 1136734 1223597: +224 +117
    assert_values(
        &host,
        "system.softirqs",
        T + 1,
        &[
            ("TIMER", 77.0),
            ("BLOCK", 416.0),
            ("RCU", 341.0),
            ("NET_TX", 0.0),
        ],
    );
    assert_values(
        &host,
        "cpu.cpu0_softirqs",
        T + 1,
        &[("TIMER", 57.0), ("RCU", 224.0)],
    );
    assert_values(
        &host,
        "cpu.cpu1_softirqs",
        T + 1,
        &[("TIMER", 20.0), ("BLOCK", 416.0)],
    );
    // HI and IRQ_POLL never counted; BLOCK never on cpu0.
    let system = host.chart_by_id("system.softirqs").unwrap();
    assert!(system.read().dimension_index("HI").is_none());
    let cpu0 = host.chart_by_id("cpu.cpu0_softirqs").unwrap();
    assert!(cpu0.read().dimension_index("BLOCK").is_none());
}
#[test]
fn disk_extended_charts() {
    let (_root, host) = two_snapshots("diskext");
    // vda t0: 7211 4790 2855130 26339 4084 22318 5035152 30645 0 6596 57674 5076 6 306184 687 35 1
    //     t1: 7798 5927 3859474 31880 4142 22331 5121024 30906 0 7804 63491 5095 6 382016 703 35 1
    // deltas: reads 587, merged reads 1137, read sectors 1004344, read ms 5541,
    //         writes 58, merged writes 13, write sectors 85872, write ms 261,
    //         in flight 0, busy 1208, backlog 5817, discards 19, merged 0,
    //         discard sectors 75832, discard ms 16, flushes 0, flush ms 0
    assert_values(
        &host,
        "disk_ext.vda",
        T + 1,
        &[("discards", 75832.0 * 512.0 / 1024.0)],
    );
    assert_values(
        &host,
        "disk_ext_ops.vda",
        T + 1,
        &[("discards", 19.0), ("flushes", 0.0)],
    );
    assert_values(&host, "disk_backlog.vda", T + 1, &[("backlog", 5817.0)]);
    assert_values(&host, "disk_busy.vda", T + 1, &[("busy", 1208.0)]);
    // 1208 ms / (10 × 1 s) = 120 %, capped at 100
    assert_values(&host, "disk_util.vda", T + 1, &[("utilization", 100.0)]);
    assert_values(
        &host,
        "disk_mops.vda",
        T + 1,
        &[("reads", 1137.0), ("writes", -13.0)],
    );
    assert_values(&host, "disk_ext_mops.vda", T + 1, &[("discards", 0.0)]);
    assert_values(
        &host,
        "disk_iotime.vda",
        T + 1,
        &[("reads", 5541.0), ("writes", -261.0)],
    );
    assert_values(
        &host,
        "disk_ext_iotime.vda",
        T + 1,
        &[("discards", 16.0), ("flushes", 0.0)],
    );
    // integer divisions, as netdata: 5541 / 587 = 9, 261 / 58 = 4
    assert_values(
        &host,
        "disk_await.vda",
        T + 1,
        &[("reads", 9.0), ("writes", -4.0)],
    );
    // 16 / 19 = 0; no flushes: 0
    assert_values(
        &host,
        "disk_ext_await.vda",
        T + 1,
        &[("discards", 0.0), ("flushes", 0.0)],
    );
    // 1004344 / 587 = 1710 sectors = 855 KiB; 85872 / 58 = 1480 sectors = 740 KiB
    assert_values(
        &host,
        "disk_avgsz.vda",
        T + 1,
        &[("reads", 855.0), ("writes", -740.0)],
    );
    // 75832 / 19 = 3991 sectors = 1995.5 KiB
    assert_values(&host, "disk_ext_avgsz.vda", T + 1, &[("discards", 1995.5)]);
    // 1208 ms / (587 + 58) operations = 1
    assert_values(&host, "disk_svctm.vda", T + 1, &[("svctm", 1.0)]);
    // Nothing in flight in either snapshot: no `disk_qops` (netdata's auto).
    assert!(host.chart_by_id("disk_qops.vda").is_none());
    // zram0 counted nothing: no charts at all.
    assert!(host.chart_by_id("disk_util.zram0").is_none());
}

#[test]
fn disk_queued_operations_appear_when_in_flight() {
    let root = Root::new(FIXTURES, "qops");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/diskstats");
    collect(&mut collectors, &host, T);
    assert!(host.chart_by_id("disk_qops.vda").is_none());
    root.write(
        "proc/diskstats",
        " 254       0 vda 7798 5927 3859474 31880 4142 22331 5121024 30906 3 7804 63491 5095 6 382016 703 35 1\n",
    );
    collect(&mut collectors, &host, T + 1);
    assert_values(&host, "disk_qops.vda", T + 1, &[("operations", 3.0)]);
}
#[test]
fn pressure_every_two_seconds() {
    let root = Root::new(FIXTURES, "pressure");
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/pressure");
    assert_eq!(collectors[0].update_every(), 2);
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 2);
    // cpu some t1: avg10=9.48 avg60=5.70 avg300=4.09 (× 100 collected, / 100 stored)
    assert_values(
        &host,
        "system.cpu_some_pressure",
        T + 2,
        &[("some 10", 9.48), ("some 60", 5.70), ("some 300", 4.09)],
    );
    // total µs / 1000: 2014902 → 2015046 ms, +144 in 2 s
    assert_values(
        &host,
        "system.cpu_some_pressure_stall_time",
        T + 2,
        &[("time", 72.0)],
    );
    assert_values(
        &host,
        "system.cpu_full_pressure",
        T + 2,
        &[("full 10", 0.0)],
    );
    // io full: 56291 → 56293 ms, +2 in 2 s; avg60=0.31
    assert_values(
        &host,
        "system.io_full_pressure_stall_time",
        T + 2,
        &[("time", 1.0)],
    );
    assert_values(
        &host,
        "system.io_full_pressure",
        T + 2,
        &[("full 60", 0.31)],
    );
    // io some: 105621 → 105653 ms, +32 in 2 s
    assert_values(
        &host,
        "system.io_some_pressure_stall_time",
        T + 2,
        &[("time", 16.0)],
    );
    assert_values(
        &host,
        "system.memory_some_pressure",
        T + 2,
        &[("some 60", 0.01)],
    );
}

#[test]
fn entropy_ipc_zram_and_ksm() {
    let (_root, host) = two_snapshots("misc");
    assert_values(&host, "system.entropy", T + 1, &[("entropy", 256.0)]);
    // /proc/sysvipc/sem: one array of 3 semaphores
    assert_values(
        &host,
        "system.ipc_semaphores",
        T + 1,
        &[("semaphores", 3.0)],
    );
    assert_values(
        &host,
        "system.ipc_semaphore_arrays",
        T + 1,
        &[("arrays", 1.0)],
    );
    // /proc/sysvipc/msg: queue 0 with 3 messages, 300 bytes
    assert_values(&host, "system.message_queue_messages", T + 1, &[("0", 3.0)]);
    assert_values(&host, "system.message_queue_bytes", T + 1, &[("0", 300.0)]);
    // /proc/sysvipc/shm: one segment of 1 MiB
    assert_values(
        &host,
        "system.shared_memory_segments",
        T + 1,
        &[("segments", 1.0)],
    );
    assert_values(
        &host,
        "system.shared_memory_bytes",
        T + 1,
        &[("bytes", 1048576.0)],
    );
    // zram0 is empty: mm_stat all zero; netdata's ratio 1 / 100, efficiency 100 / 10000
    assert_values(
        &host,
        "mem.zram_usage.zram0",
        T + 1,
        &[("compressed", 0.0), ("metadata", 0.0)],
    );
    assert_values(
        &host,
        "mem.zram_savings.zram0",
        T + 1,
        &[("savings", 0.0), ("original", 0.0)],
    );
    assert_values(&host, "mem.zram_ratio.zram0", T + 1, &[("ratio", 0.01)]);
    assert_values(
        &host,
        "mem.zram_efficiency.zram0",
        T + 1,
        &[("percent", 0.01)],
    );
    // KSM offers no pages here: no charts.
    assert!(host.chart_by_id("mem.ksm").is_none());
}

/// netdata's host variables of the semaphore limits, from
/// `/proc/sys/kernel/sem`, read at the first collection and then every
/// `60 / update every + 2` collections.
#[test]
fn ipc_semaphore_limit_variables() {
    let root = Root::new(FIXTURES, "ipc-vars");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut ipc = only(&root, "ipc");
    collect(&mut ipc, &host, T);
    // kernel/sem: SEMMSL 32000, SEMMNS 1024000000, SEMOPM 500, SEMMNI 32000
    assert_eq!(
        variables(&host),
        [
            ("ipc_semaphores_max".to_string(), 1024000000.0),
            ("ipc_semaphores_arrays_max".to_string(), 32000.0),
        ]
    );
    // Collections 2 to 62 do not read the file; the 63rd does.
    root.write("proc/sys/kernel/sem", "250\t256000\t32\t1024\n");
    for t in 1..62 {
        collect(&mut ipc, &host, T + t);
    }
    assert_eq!(
        host.with_variables(|v| v.get("ipc_semaphores_max")),
        Some(1024000000.0)
    );
    collect(&mut ipc, &host, T + 62);
    assert_eq!(
        host.with_variables(|v| (
            v.get("ipc_semaphores_max"),
            v.get("ipc_semaphores_arrays_max")
        )),
        (Some(256000.0), Some(1024.0))
    );

    // At 2 s a collection: every 32 collections.
    let mut every_two = default_collectors(&root.path, 2, &|s| s == "ipc");
    let host2 = Host::new("test2", 100);
    collect(&mut every_two, &host2, T);
    root.write("proc/sys/kernel/sem", "250\t512000\t32\t2048\n");
    for t in 1..32 {
        collect(&mut every_two, &host2, T + 2 * t);
    }
    assert_eq!(
        host2.with_variables(|v| v.get("ipc_semaphores_max")),
        Some(256000.0)
    );
    collect(&mut every_two, &host2, T + 64);
    assert_eq!(
        host2.with_variables(|v| v.get("ipc_semaphores_max")),
        Some(512000.0)
    );

    // `semaphore totals = no`: no limits either (netdata's do_sem).
    let switches = |module: &str, key: &str| {
        (module == "ipc" && key == "semaphore totals").then_some(backhaul::config::ChartSwitch::No)
    };
    let mut no_sem = backhaul::collectors::proc::configured_collectors(
        &root.path,
        1,
        &|s| s == "ipc",
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
    );
    let host3 = Host::new("test3", 100);
    collect(&mut no_sem, &host3, T);
    assert_eq!(host3.with_variables(|v| v.len()), 0);

    // Without the file: no variables, nothing above debug in the log.
    fs::remove_file(root.file("proc/sys/kernel/sem")).unwrap();
    let mut ipc = only(&root, "ipc");
    let host4 = Host::new("test4", 100);
    let logs = capture_logs(|| {
        for t in 0..70 {
            collect(&mut ipc, &host4, T + t);
        }
    });
    assert_eq!(host4.with_variables(|v| v.len()), 0);
    assert!(host4.chart_by_id("system.ipc_semaphores").is_some());
    assert!(!logs.contains("kernel/sem"), "{logs}");
}

/// A collection that reads the semaphore limits again (the 63rd)
/// allocates nothing either.
#[test]
fn ipc_limits_refresh_does_not_allocate() {
    let root = Root::new(FIXTURES, "ipc-alloc");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut ipc = only(&root, "ipc");
    collect(&mut ipc, &host, T);
    collect(&mut ipc, &host, T + 1);
    let times: Vec<i64> = (T + 2..T + 130).collect();
    assert_collections_do_not_allocate(&mut ipc, &host, &times);
    assert_eq!(
        host.with_variables(|v| v.get("ipc_semaphores_arrays_max")),
        Some(32000.0)
    );
}

#[test]
fn zram_and_ksm_values() {
    let root = Root::new(FIXTURES, "zram-ksm");
    let host = Host::new("test", 100);
    fs::create_dir_all(root.file("sys/block/zram1")).unwrap();
    root.write(
        "sys/block/zram1/mm_stat",
        "4194304 1048576 1310720 0 1310720 5 0 0 0\n",
    );
    for (file, pages) in [
        ("pages_shared", 256),
        ("pages_sharing", 1280),
        ("pages_unshared", 768),
        ("pages_volatile", 256),
    ] {
        root.write(&format!("sys/kernel/mm/ksm/{file}"), &format!("{pages}\n"));
    }
    let mut collectors = default_collectors(&root.path, 1, &|s| {
        s == "/sys/block/zram" || s == "/sys/kernel/mm/ksm"
    });
    collect(&mut collectors, &host, T);
    // original 4 MiB, compressed 1 MiB, used 1.25 MiB
    assert_values(
        &host,
        "mem.zram_usage.zram1",
        T,
        &[("compressed", 1.0), ("metadata", 0.25)],
    );
    assert_values(
        &host,
        "mem.zram_savings.zram1",
        T,
        &[("savings", -3.0), ("original", 4.0)],
    );
    // 4194304 × 100 / 1048576 = 400 → 4.00; 1048576 × 1000000 / 1310720 = 800000 → 80 %
    assert_values(&host, "mem.zram_ratio.zram1", T, &[("ratio", 4.0)]);
    assert_values(&host, "mem.zram_efficiency.zram1", T, &[("percent", 80.0)]);
    // offered 2560 pages, saved (sharing) 1280: 50 %
    let page_mib = backhaul::sys::page_size() as f64 / 1048576.0;
    assert_values(
        &host,
        "mem.ksm",
        T,
        &[
            ("shared", 256.0 * page_mib),
            ("unshared", -768.0 * page_mib),
            ("sharing", 1280.0 * page_mib),
            ("volatile", -256.0 * page_mib),
        ],
    );
    assert_values(
        &host,
        "mem.ksm_savings",
        T,
        &[
            ("savings", -1280.0 * page_mib),
            ("offered", 2560.0 * page_mib),
        ],
    );
    assert_values(&host, "mem.ksm_ratios", T, &[("savings", 50.0)]);
}
// ---------------------------------------------------------------------------
// Chart definitions against netdata 1.37.

/// A chart as netdata 1.37.1 showed it on this machine kind (rows of
/// `samples/charts_default_internal_plugins.json`, the title without the
/// ` (name)` the API adds); `dims: None` where the dimensions depend on
/// the moment (interrupt sources seen so far), checked by the value tests.
struct Def {
    id: &'static str,
    title: &'static str,
    units: &'static str,
    family: &'static str,
    context: &'static str,
    chart_type: ChartType,
    priority: i64,
    update_every: u32,
    plugin: &'static str,
    module: &'static str,
    labels: &'static [(&'static str, &'static str)],
    dims: Option<&'static [(&'static str, &'static str)]>,
}

const NETDATA_137: &[Def] = &[
    Def {
        id: "mem.writeback",
        title: "Writeback Memory",
        units: "MiB",
        family: "kernel",
        context: "mem.writeback",
        chart_type: ChartType::Line,
        priority: 1100,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/meminfo",
        labels: &[],
        dims: Some(&[
            ("Dirty", "Dirty"),
            ("Writeback", "Writeback"),
            ("FuseWriteback", "FuseWriteback"),
            ("NfsWriteback", "NfsWriteback"),
            ("Bounce", "Bounce"),
        ]),
    },
    Def {
        id: "mem.kernel",
        title: "Memory Used by Kernel",
        units: "MiB",
        family: "kernel",
        context: "mem.kernel",
        chart_type: ChartType::Stacked,
        priority: 1101,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/meminfo",
        labels: &[],
        dims: Some(&[
            ("Slab", "Slab"),
            ("KernelStack", "KernelStack"),
            ("PageTables", "PageTables"),
            ("VmallocUsed", "VmallocUsed"),
            ("Percpu", "Percpu"),
        ]),
    },
    Def {
        id: "mem.slab",
        title: "Reclaimable Kernel Memory",
        units: "MiB",
        family: "slab",
        context: "mem.slab",
        chart_type: ChartType::Stacked,
        priority: 1200,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/meminfo",
        labels: &[],
        dims: Some(&[
            ("reclaimable", "reclaimable"),
            ("unreclaimable", "unreclaimable"),
        ]),
    },
    Def {
        id: "mem.oom_kill",
        title: "Out of Memory Kills",
        units: "kills/s",
        family: "system",
        context: "mem.oom_kill",
        chart_type: ChartType::Line,
        priority: 1020,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/vmstat",
        labels: &[],
        dims: Some(&[("kills", "kills")]),
    },
    Def {
        id: "system.interrupts",
        title: "System interrupts",
        units: "interrupts/s",
        family: "interrupts",
        context: "system.interrupts",
        chart_type: ChartType::Stacked,
        priority: 1000,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/interrupts",
        labels: &[],
        dims: None,
    },
    Def {
        id: "cpu.cpu0_interrupts",
        title: "CPU Interrupts",
        units: "interrupts/s",
        family: "interrupts",
        context: "cpu.interrupts",
        chart_type: ChartType::Stacked,
        priority: 1100,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/interrupts",
        labels: &[("cpu", "cpu0")],
        dims: None,
    },
    Def {
        id: "cpu.cpu1_interrupts",
        title: "CPU Interrupts",
        units: "interrupts/s",
        family: "interrupts",
        context: "cpu.interrupts",
        chart_type: ChartType::Stacked,
        priority: 1101,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/interrupts",
        labels: &[("cpu", "cpu1")],
        dims: None,
    },
    Def {
        id: "system.softirqs",
        title: "System softirqs",
        units: "softirqs/s",
        family: "softirqs",
        context: "system.softirqs",
        chart_type: ChartType::Stacked,
        priority: 950,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/softirqs",
        labels: &[],
        dims: None,
    },
    Def {
        id: "cpu.cpu0_softirqs",
        title: "CPU softirqs",
        units: "softirqs/s",
        family: "softirqs",
        context: "cpu.softirqs",
        chart_type: ChartType::Stacked,
        priority: 3000,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/softirqs",
        labels: &[("cpu", "cpu0")],
        dims: None,
    },
    Def {
        id: "cpu.cpu1_softirqs",
        title: "CPU softirqs",
        units: "softirqs/s",
        family: "softirqs",
        context: "cpu.softirqs",
        chart_type: ChartType::Stacked,
        priority: 3001,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/softirqs",
        labels: &[("cpu", "cpu1")],
        dims: None,
    },
    Def {
        id: "disk_ext.vda",
        title: "Amount of Discarded Data",
        units: "KiB/s",
        family: "/",
        context: "disk_ext.io",
        chart_type: ChartType::Area,
        priority: 2001,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("discards", "discards")]),
    },
    Def {
        id: "disk_ext_ops.vda",
        title: "Disk Completed Extended I/O Operations",
        units: "operations/s",
        family: "/",
        context: "disk_ext.ops",
        chart_type: ChartType::Line,
        priority: 2011,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("discards", "discards"), ("flushes", "flushes")]),
    },
    Def {
        id: "disk_backlog.vda",
        title: "Disk Backlog",
        units: "milliseconds",
        family: "/",
        context: "disk.backlog",
        chart_type: ChartType::Area,
        priority: 2020,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("backlog", "backlog")]),
    },
    Def {
        id: "disk_busy.vda",
        title: "Disk Busy Time",
        units: "milliseconds",
        family: "/",
        context: "disk.busy",
        chart_type: ChartType::Area,
        priority: 2030,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("busy", "busy")]),
    },
    Def {
        id: "disk_util.vda",
        title: "Disk Utilization Time",
        units: "% of time working",
        family: "/",
        context: "disk.util",
        chart_type: ChartType::Area,
        priority: 2040,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("utilization", "utilization")]),
    },
    Def {
        id: "disk_mops.vda",
        title: "Disk Merged Operations",
        units: "merged operations/s",
        family: "/",
        context: "disk.mops",
        chart_type: ChartType::Line,
        priority: 2080,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("reads", "reads"), ("writes", "writes")]),
    },
    Def {
        id: "disk_ext_mops.vda",
        title: "Disk Merged Discard Operations",
        units: "merged operations/s",
        family: "/",
        context: "disk_ext.mops",
        chart_type: ChartType::Line,
        priority: 2081,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("discards", "discards")]),
    },
    Def {
        id: "disk_iotime.vda",
        title: "Disk Total I/O Time",
        units: "milliseconds/s",
        family: "/",
        context: "disk.iotime",
        chart_type: ChartType::Line,
        priority: 2090,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("reads", "reads"), ("writes", "writes")]),
    },
    Def {
        id: "disk_ext_iotime.vda",
        title: "Disk Total I/O Time for Extended Operations",
        units: "milliseconds/s",
        family: "/",
        context: "disk_ext.iotime",
        chart_type: ChartType::Line,
        priority: 2091,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("discards", "discards"), ("flushes", "flushes")]),
    },
    Def {
        id: "disk_await.vda",
        title: "Average Completed I/O Operation Time",
        units: "milliseconds/operation",
        family: "/",
        context: "disk.await",
        chart_type: ChartType::Line,
        priority: 2050,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("reads", "reads"), ("writes", "writes")]),
    },
    Def {
        id: "disk_ext_await.vda",
        title: "Average Completed Extended I/O Operation Time",
        units: "milliseconds/operation",
        family: "/",
        context: "disk_ext.await",
        chart_type: ChartType::Line,
        priority: 2051,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("discards", "discards"), ("flushes", "flushes")]),
    },
    Def {
        id: "disk_avgsz.vda",
        title: "Average Completed I/O Operation Bandwidth",
        units: "KiB/operation",
        family: "/",
        context: "disk.avgsz",
        chart_type: ChartType::Area,
        priority: 2060,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("reads", "reads"), ("writes", "writes")]),
    },
    Def {
        id: "disk_ext_avgsz.vda",
        title: "Average Amount of Discarded Data",
        units: "KiB/operation",
        family: "/",
        context: "disk_ext.avgsz",
        chart_type: ChartType::Area,
        priority: 2060,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("discards", "discards")]),
    },
    Def {
        id: "disk_svctm.vda",
        title: "Average Service Time",
        units: "milliseconds/operation",
        family: "/",
        context: "disk.svctm",
        chart_type: ChartType::Line,
        priority: 2070,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/diskstats",
        labels: &[
            ("device", "vda"),
            ("mount_point", "/"),
            ("device_type", "physical"),
        ],
        dims: Some(&[("svctm", "svctm")]),
    },
    Def {
        id: "system.entropy",
        title: "Available Entropy",
        units: "entropy",
        family: "entropy",
        context: "system.entropy",
        chart_type: ChartType::Line,
        priority: 1000,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/proc/sys/kernel/random/entropy_avail",
        labels: &[],
        dims: Some(&[("entropy", "entropy")]),
    },
    Def {
        id: "system.cpu_some_pressure",
        title: "CPU some pressure",
        units: "percentage",
        family: "cpu",
        context: "system.cpu_some_pressure",
        chart_type: ChartType::Line,
        priority: 140,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[
            ("some 10", "some 10"),
            ("some 60", "some 60"),
            ("some 300", "some 300"),
        ]),
    },
    Def {
        id: "system.cpu_some_pressure_stall_time",
        title: "CPU some pressure stall time",
        units: "ms",
        family: "cpu",
        context: "system.cpu_some_pressure_stall_time",
        chart_type: ChartType::Line,
        priority: 145,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[("time", "time")]),
    },
    Def {
        id: "system.cpu_full_pressure",
        title: "CPU full pressure",
        units: "percentage",
        family: "cpu",
        context: "system.cpu_full_pressure",
        chart_type: ChartType::Line,
        priority: 150,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[
            ("full 10", "full 10"),
            ("full 60", "full 60"),
            ("full 300", "full 300"),
        ]),
    },
    Def {
        id: "system.cpu_full_pressure_stall_time",
        title: "CPU full pressure stall time",
        units: "ms",
        family: "cpu",
        context: "system.cpu_full_pressure_stall_time",
        chart_type: ChartType::Line,
        priority: 155,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[("time", "time")]),
    },
    Def {
        id: "system.memory_some_pressure",
        title: "Memory some pressure",
        units: "percentage",
        family: "ram",
        context: "system.memory_some_pressure",
        chart_type: ChartType::Line,
        priority: 240,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[
            ("some 10", "some 10"),
            ("some 60", "some 60"),
            ("some 300", "some 300"),
        ]),
    },
    Def {
        id: "system.memory_some_pressure_stall_time",
        title: "Memory some pressure stall time",
        units: "ms",
        family: "ram",
        context: "system.memory_some_pressure_stall_time",
        chart_type: ChartType::Line,
        priority: 245,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[("time", "time")]),
    },
    Def {
        id: "system.memory_full_pressure",
        title: "Memory full pressure",
        units: "percentage",
        family: "ram",
        context: "system.memory_full_pressure",
        chart_type: ChartType::Line,
        priority: 250,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[
            ("full 10", "full 10"),
            ("full 60", "full 60"),
            ("full 300", "full 300"),
        ]),
    },
    Def {
        id: "system.memory_full_pressure_stall_time",
        title: "Memory full pressure stall time",
        units: "ms",
        family: "ram",
        context: "system.memory_full_pressure_stall_time",
        chart_type: ChartType::Line,
        priority: 255,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[("time", "time")]),
    },
    Def {
        id: "system.io_some_pressure",
        title: "I/O some pressure",
        units: "percentage",
        family: "disk",
        context: "system.io_some_pressure",
        chart_type: ChartType::Line,
        priority: 190,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[
            ("some 10", "some 10"),
            ("some 60", "some 60"),
            ("some 300", "some 300"),
        ]),
    },
    Def {
        id: "system.io_some_pressure_stall_time",
        title: "I/O some pressure stall time",
        units: "ms",
        family: "disk",
        context: "system.io_some_pressure_stall_time",
        chart_type: ChartType::Line,
        priority: 195,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[("time", "time")]),
    },
    Def {
        id: "system.io_full_pressure",
        title: "I/O full pressure",
        units: "percentage",
        family: "disk",
        context: "system.io_full_pressure",
        chart_type: ChartType::Line,
        priority: 200,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[
            ("full 10", "full 10"),
            ("full 60", "full 60"),
            ("full 300", "full 300"),
        ]),
    },
    Def {
        id: "system.io_full_pressure_stall_time",
        title: "I/O full pressure stall time",
        units: "ms",
        family: "disk",
        context: "system.io_full_pressure_stall_time",
        chart_type: ChartType::Line,
        priority: 205,
        update_every: 2,
        plugin: "proc.plugin",
        module: "/proc/pressure",
        labels: &[],
        dims: Some(&[("time", "time")]),
    },
    Def {
        id: "mem.zram_usage.zram0",
        title: "ZRAM Memory Usage",
        units: "MiB",
        family: "zram0",
        context: "mem.zram_usage",
        chart_type: ChartType::Area,
        priority: 1600,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/sys/block/zram",
        labels: &[("device", "zram0")],
        dims: Some(&[("compressed", "compressed"), ("metadata", "metadata")]),
    },
    Def {
        id: "mem.zram_savings.zram0",
        title: "ZRAM Memory Savings",
        units: "MiB",
        family: "zram0",
        context: "mem.zram_savings",
        chart_type: ChartType::Area,
        priority: 1601,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/sys/block/zram",
        labels: &[("device", "zram0")],
        dims: Some(&[("savings", "savings"), ("original", "original")]),
    },
    Def {
        id: "mem.zram_ratio.zram0",
        title: "ZRAM Compression Ratio (original to compressed)",
        units: "ratio",
        family: "zram0",
        context: "mem.zram_ratio",
        chart_type: ChartType::Line,
        priority: 1602,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/sys/block/zram",
        labels: &[("device", "zram0")],
        dims: Some(&[("ratio", "ratio")]),
    },
    Def {
        id: "mem.zram_efficiency.zram0",
        title: "ZRAM Efficiency",
        units: "percentage",
        family: "zram0",
        context: "mem.zram_efficiency",
        chart_type: ChartType::Line,
        priority: 1603,
        update_every: 1,
        plugin: "proc.plugin",
        module: "/sys/block/zram",
        labels: &[("device", "zram0")],
        dims: Some(&[("percent", "percent")]),
    },
    Def {
        id: "system.ipc_semaphores",
        title: "IPC Semaphores",
        units: "semaphores",
        family: "ipc semaphores",
        context: "system.ipc_semaphores",
        chart_type: ChartType::Area,
        priority: 1203,
        update_every: 1,
        plugin: "proc.plugin",
        module: "ipc",
        labels: &[],
        dims: Some(&[("semaphores", "semaphores")]),
    },
    Def {
        id: "system.ipc_semaphore_arrays",
        title: "IPC Semaphore Arrays",
        units: "arrays",
        family: "ipc semaphores",
        context: "system.ipc_semaphore_arrays",
        chart_type: ChartType::Area,
        priority: 1204,
        update_every: 1,
        plugin: "proc.plugin",
        module: "ipc",
        labels: &[],
        dims: Some(&[("arrays", "arrays")]),
    },
    Def {
        id: "system.shared_memory_segments",
        title: "IPC Shared Memory Number of Segments",
        units: "segments",
        family: "ipc shared memory",
        context: "system.shared_memory_segments",
        chart_type: ChartType::Stacked,
        priority: 1205,
        update_every: 1,
        plugin: "proc.plugin",
        module: "ipc",
        labels: &[],
        dims: Some(&[("segments", "segments")]),
    },
    Def {
        id: "system.shared_memory_bytes",
        title: "IPC Shared Memory Used Bytes",
        units: "bytes",
        family: "ipc shared memory",
        context: "system.shared_memory_bytes",
        chart_type: ChartType::Stacked,
        priority: 1206,
        update_every: 1,
        plugin: "proc.plugin",
        module: "ipc",
        labels: &[],
        dims: Some(&[("bytes", "bytes")]),
    },
    Def {
        id: "system.clock_sync_state",
        title: "System Clock Synchronization State",
        units: "state",
        family: "clock synchronization",
        context: "system.clock_sync_state",
        chart_type: ChartType::Line,
        priority: 1100,
        update_every: 10,
        plugin: "timex.plugin",
        module: "",
        labels: &[],
        dims: Some(&[("state", "state")]),
    },
    Def {
        id: "system.clock_status",
        title: "System Clock Status",
        units: "status",
        family: "clock synchronization",
        context: "system.clock_status",
        chart_type: ChartType::Line,
        priority: 1105,
        update_every: 10,
        plugin: "timex.plugin",
        module: "",
        labels: &[],
        dims: Some(&[("unsync", "unsync"), ("clockerr", "clockerr")]),
    },
    Def {
        id: "system.clock_sync_offset",
        title: "Computed Time Offset Between Local System and Reference Clock",
        units: "milliseconds",
        family: "clock synchronization",
        context: "system.clock_sync_offset",
        chart_type: ChartType::Line,
        priority: 1110,
        update_every: 10,
        plugin: "timex.plugin",
        module: "",
        labels: &[],
        dims: Some(&[("offset", "offset")]),
    },
    // No message queue existed when the sample was taken: these two are
    // netdata 1.37's `ipc.c` definitions.
    Def {
        id: "system.message_queue_messages",
        title: "IPC Message Queue Number of Messages",
        units: "messages",
        family: "ipc message queues",
        context: "system.message_queue_messages",
        chart_type: ChartType::Stacked,
        priority: 1201,
        update_every: 1,
        plugin: "proc.plugin",
        module: "ipc",
        labels: &[],
        dims: Some(&[("0", "0")]),
    },
    Def {
        id: "system.message_queue_bytes",
        title: "IPC Message Queue Used Bytes",
        units: "bytes",
        family: "ipc message queues",
        context: "system.message_queue_bytes",
        chart_type: ChartType::Stacked,
        priority: 1202,
        update_every: 1,
        plugin: "proc.plugin",
        module: "ipc",
        labels: &[],
        dims: Some(&[("0", "0")]),
    },
];

/// The snapshots, collected by every module but idlejitter (which measures
/// for most of a second; tested on its own) at `T` and `T + 2` (two seconds
/// apart, so modules that run every 2 s, like pressure, collect twice).
fn two_snapshots_every_two_seconds(test: &str) -> (Root, Host) {
    collect_two_snapshots(FIXTURES, test, 2, &|s| s != "idlejitter")
}

#[test]
fn chart_definitions_match_netdata_137() {
    let (_root, host) = two_snapshots_every_two_seconds("defs");
    for e in NETDATA_137 {
        let chart = host
            .chart_by_id(e.id)
            .unwrap_or_else(|| panic!("no chart {}", e.id));
        let c = chart.read();
        let def = c.def();
        assert_eq!(c.name(), e.id, "{}", e.id);
        assert_eq!(def.title, e.title, "{}", e.id);
        assert_eq!(def.units, e.units, "{}", e.id);
        assert_eq!(def.family, e.family, "{}", e.id);
        assert_eq!(def.context, e.context, "{}", e.id);
        assert_eq!(def.chart_type, e.chart_type, "{}", e.id);
        assert_eq!(def.priority, e.priority, "{}", e.id);
        assert_eq!(def.update_every, e.update_every, "{}", e.id);
        assert_eq!(def.plugin, e.plugin, "{}", e.id);
        assert_eq!(def.module, e.module, "{}", e.id);
        assert!(!def.obsolete, "{}", e.id);
        let labels: Vec<(&str, &str)> = def
            .labels
            .iter()
            .map(|l| (l.key.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(labels, e.labels, "{}", e.id);
        if let Some(expected) = e.dims {
            let dims: Vec<(&str, &str)> =
                c.dimensions().iter().map(|d| (d.id(), d.name())).collect();
            assert_eq!(dims, expected, "{}", e.id);
        }
    }
}

/// The charts the first collectors made before these modules came, which
/// `proc_collectors.rs` checks.
fn checked_elsewhere(id: &str) -> bool {
    id.starts_with("disk_space.")
        || id.starts_with("disk_inodes.")
        || [
            "system.cpu",
            "cpu.cpu0",
            "cpu.cpu1",
            "system.intr",
            "system.ctxt",
            "system.forks",
            "system.processes",
            "system.uptime",
            "system.load",
            "system.active_processes",
            "system.pgpgio",
            "mem.pgfaults",
            "system.ram",
            "mem.available",
            "mem.committed",
            "system.net",
            "net.eth0",
            "net_packets.eth0",
            "system.io",
            "disk.vda",
            "disk_ops.vda",
        ]
        .contains(&id)
}

#[test]
fn only_netdata_137_charts_are_created() {
    let (_root, host) = two_snapshots_every_two_seconds("set");
    let mut ids: Vec<String> = host
        .charts()
        .iter()
        .map(|c| c.id().to_string())
        .filter(|id| !checked_elsewhere(id))
        .collect();
    ids.sort();
    let mut expected: Vec<&str> = NETDATA_137.iter().map(|e| e.id).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn steady_state_collection_does_not_allocate() {
    let root = Root::new(FIXTURES, "alloc");
    root.load("t0");
    let host = Host::new("test", 100);
    let mut collectors = default_collectors(&root.path, 1, &|s| s != "idlejitter");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 2);
    collect(&mut collectors, &host, T + 4);
    assert_collections_do_not_allocate(&mut collectors, &host, &[T + 6, T + 8, T + 20]);
}

#[test]
fn idlejitter_measures_a_second() {
    let host = Host::new("test", 100);
    let mut collectors = default_collectors(Path::new("/nonexistent"), 1, &|s| s == "idlejitter");
    assert_eq!(collectors.len(), 1);
    let started = std::time::Instant::now();
    collect(&mut collectors, &host, T);
    collect(&mut collectors, &host, T + 1);
    // Each collection measures for the interval less 100 ms.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1800));
    let min = stored(&host, "system.idlejitter", "min", T + 1).unwrap();
    let max = stored(&host, "system.idlejitter", "max", T + 1).unwrap();
    let average = stored(&host, "system.idlejitter", "average", T + 1).unwrap();
    assert!(
        0.0 <= min && min <= average && average <= max,
        "{min} {average} {max}"
    );
}

#[test]
fn timex_reads_the_clock_every_ten_seconds() {
    use backhaul::collectors::proc::TimexCollector;
    use backhaul::sys::ClockSync;
    fn synced() -> std::io::Result<ClockSync> {
        Ok(ClockSync {
            synchronized: true,
            unsync: false,
            clockerr: false,
            offset: -2500,
            offset_per_ms: 1000,
        })
    }
    fn broken() -> std::io::Result<ClockSync> {
        Err(std::io::Error::other("no clock"))
    }
    let host = Host::new("test", 100);
    let mut timex = TimexCollector::with_source(1, synced);
    assert_eq!(timex.update_every(), 10);
    timex.collect(&host, ut(T)).unwrap();
    assert_values(&host, "system.clock_sync_state", T, &[("state", 1.0)]);
    assert_values(
        &host,
        "system.clock_status",
        T,
        &[("unsync", 0.0), ("clockerr", 0.0)],
    );
    // -2500 µs = -2.5 ms
    assert_values(&host, "system.clock_sync_offset", T, &[("offset", -2.5)]);
    let mut timex = TimexCollector::with_source(1, broken);
    let host = Host::new("test", 100);
    timex.collect(&host, ut(T)).unwrap();
    assert!(host.chart_by_id("system.clock_sync_state").is_none());
}
// ---------------------------------------------------------------------------
// Failures.

#[test]
fn missing_files_are_logged_once_and_make_no_charts() {
    let root = Root::new(FIXTURES, "missing");
    let host = Host::new("test", 100);
    let switches = [
        "/proc/interrupts",
        "/proc/softirqs",
        "/proc/pressure",
        "/proc/sys/kernel/random/entropy_avail",
        "ipc",
        "/sys/block/zram",
        "/sys/kernel/mm/ksm",
        "/proc/mdstat",
    ];
    let mut collectors = default_collectors(&root.path, 1, &|s| switches.contains(&s));
    assert_eq!(collectors.len(), switches.len());
    let logs = capture_logs(|| {
        for t in 0..3 {
            collect(&mut collectors, &host, T + 2 * t);
        }
    });
    assert_eq!(host.chart_count(), 0);
    for path in [
        "proc/interrupts",
        "proc/softirqs",
        "proc/pressure/cpu",
        "proc/sys/kernel/random/entropy_avail",
        "proc/sysvipc/sem",
        "sys/kernel/mm/ksm/pages_shared",
        "proc/mdstat",
    ] {
        assert_eq!(logs.matches(path).count(), 1, "{path}:\n{logs}");
    }
    assert_eq!(logs.matches("no zram devices").count(), 1, "{logs}");

    // The files appear: netdata's module stays off; here the charts follow
    // within a minute of collections (a file never seen is tried again
    // every 60 reads, not every second).
    root.load("t0");
    collect(&mut collectors, &host, T + 6);
    assert!(host.chart_by_id("system.interrupts").is_none());
    for t in 4..=62 {
        collect(&mut collectors, &host, T + 2 * t);
    }
    assert!(host.chart_by_id("system.interrupts").is_some());
    assert!(host.chart_by_id("system.entropy").is_some());
}

#[test]
fn odd_content_is_survived() {
    let root = Root::new(FIXTURES, "odd");
    let host = Host::new("test", 100);
    for (file, content) in [
        ("proc/interrupts", "garbage\n\n:::\n 5: x y z\n"),
        ("proc/softirqs", "CPU0\nTIMER:\n: 5\n"),
        ("proc/pressure/cpu", "some avg10=x total=-1\nfull\n"),
        ("proc/sys/kernel/random/entropy_avail", "lots\n"),
        ("proc/sysvipc/sem", "only a header\n1 2\n"),
        ("proc/sysvipc/msg", "header\n0 x 600 1 2\n"),
        ("sys/block/zram0/mm_stat", "1 2\n"),
        ("sys/kernel/mm/ksm/pages_shared", "-5\n"),
        (
            "proc/mdstat",
            "md9 : active\nmd8 : active raid1\n [x/y] [U]\n [=] resync = ?% a b c\n",
        ),
    ] {
        root.write(file, content);
    }
    let mut collectors = default_collectors(&root.path, 1, &|s| s != "idlejitter" && s != "timex");
    for t in 0..3 {
        collect(&mut collectors, &host, T + 2 * t);
    }
}
// ---------------------------------------------------------------------------
// Per-chart switches (`[plugin:proc:MODULE]`).

#[test]
fn chart_switches_follow_netdata() {
    use backhaul::collectors::proc::configured_collectors;
    use backhaul::config::ChartSwitch;
    let switches = |module: &str, key: &str| match (module, key) {
        ("/proc/meminfo", "system swap") => Some(ChartSwitch::Yes),
        ("/proc/meminfo", "slab memory") => Some(ChartSwitch::No),
        ("/proc/vmstat", "swap i/o") => Some(ChartSwitch::Yes),
        ("/proc/vmstat", "out of memory kills") => Some(ChartSwitch::No),
        ("/proc/interrupts", "interrupts per core") => Some(ChartSwitch::No),
        ("/proc/softirqs", "softirqs per core") => Some(ChartSwitch::Yes),
        ("/proc/pressure", "enable cpu full pressure") => Some(ChartSwitch::No),
        ("ipc", "message queues") => Some(ChartSwitch::No),
        ("/proc/diskstats", "bandwidth for all disks") => Some(ChartSwitch::Yes),
        ("/proc/diskstats", "backlog for all disks") => Some(ChartSwitch::No),
        ("/proc/stat", "per cpu core utilization") => Some(ChartSwitch::No),
        _ => None,
    };
    let root = Root::new(FIXTURES, "switches");
    let host = Host::new("test", 100);
    let mut collectors = configured_collectors(
        &root.path,
        1,
        &|s| s != "idlejitter",
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
    );
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    // `yes`: there with zeros.
    assert_values(&host, "system.swap", T + 1, &[("free", 0.0), ("used", 0.0)]);
    assert!(host.chart_by_id("system.swapio").is_some());
    // `no`: not there.
    for id in [
        "mem.slab",
        "mem.oom_kill",
        "cpu.cpu0_interrupts",
        "system.cpu_full_pressure",
        "system.message_queue_messages",
    ] {
        assert!(host.chart_by_id(id).is_none(), "{id}");
    }
    // Disks: bandwidth `yes` charts the idle zram0 too (not the excluded
    // loop devices); backlog `no` charts no backlog.
    assert_values(
        &host,
        "disk.zram0",
        T + 1,
        &[("reads", 0.0), ("writes", 0.0)],
    );
    assert!(host.chart_by_id("disk.loop0").is_none());
    assert!(host.chart_by_id("disk_backlog.vda").is_none());
    assert!(host.chart_by_id("disk_busy.vda").is_some());
    // No per-core CPU charts; the total stays.
    assert!(host.chart_by_id("cpu.cpu0").is_none());
    assert!(host.chart_by_id("system.cpu").is_some());
    // The rest as by default.
    assert!(host.chart_by_id("system.interrupts").is_some());
    assert!(host.chart_by_id("system.cpu_some_pressure").is_some());
    assert!(host.chart_by_id("system.ipc_semaphores").is_some());
    // softirqs per core = yes: every source on every CPU, zeros included.
    let cpu0 = host.chart_by_id("cpu.cpu0_softirqs").unwrap();
    let ids: Vec<String> = cpu0
        .read()
        .dimensions()
        .iter()
        .map(|d| d.id().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER",
            "RCU"
        ]
    );
    assert_values(&host, "cpu.cpu0_softirqs", T + 1, &[("BLOCK", 0.0)]);
}
/// A disk's own section `[plugin:proc:/proc/diskstats:DEV]`: `enable = no`
/// drops the disk, `enable performance metrics = no` its charts unless one
/// is switched on by name, a chart key wins over `... for all disks`, and
/// `enable = yes` brings back a disk `exclude disks` names (loop0).
#[test]
fn a_disks_own_section_overrides_the_module_switches() {
    use backhaul::collectors::proc::{configured_collectors, DiskSectionSwitches};
    use backhaul::config::ChartSwitch;
    let switches = |module: &str, key: &str| match (module, key) {
        ("/proc/diskstats", "backlog for all disks") => Some(ChartSwitch::No),
        _ => None,
    };
    let disks: DiskSectionSwitches =
        std::sync::Arc::new(|device: &str, key: &str| match (device, key) {
            ("zram0", "enable") => Some(ChartSwitch::No),
            ("vda", "backlog") => Some(ChartSwitch::Yes),
            ("vda", "operations") => Some(ChartSwitch::No),
            ("loop0", "enable") => Some(ChartSwitch::Yes),
            ("loop0", "enable performance metrics") => Some(ChartSwitch::No),
            ("loop0", "bandwidth") => Some(ChartSwitch::Yes),
            _ => None,
        });
    let root = Root::new(FIXTURES, "disk-sections");
    let host = Host::new("test", 100);
    let mut collectors =
        configured_collectors(&root.path, 1, &|s| s == "/proc/diskstats", &switches, disks);
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    assert!(
        host.chart_by_id("disk.zram0").is_none(),
        "zram0: enable = no"
    );
    assert!(
        host.chart_by_id("disk_backlog.vda").is_some(),
        "vda: backlog = yes wins"
    );
    assert!(
        host.chart_by_id("disk_ops.vda").is_none(),
        "vda: operations = no"
    );
    assert!(
        host.chart_by_id("disk.vda").is_some(),
        "vda: bandwidth as by default"
    );
    assert!(
        host.chart_by_id("disk.loop0").is_some(),
        "loop0: enabled, bandwidth = yes"
    );
    assert!(
        host.chart_by_id("disk_ops.loop0").is_none(),
        "loop0: no performance metrics"
    );
    assert!(
        host.chart_by_id("disk.loop1").is_none(),
        "loop1: still excluded"
    );
}

/// The same keys read from netdata.conf.
#[test]
fn disk_sections_are_read_from_netdata_conf() {
    let (main, warnings) = backhaul::config::parse_main_str(
        "[plugin:proc:/proc/diskstats]\n    enable new disks detected at runtime = no\n\
         [plugin:proc:/proc/diskstats:vda]\n    enable = yes\n    backlog = no\n    bcache = yes\n",
        "netdata.conf",
    )
    .expect("valid");
    use backhaul::config::ChartSwitch;
    assert_eq!(
        main.proc_disk_switch("vda", "enable"),
        Some(ChartSwitch::Yes)
    );
    assert_eq!(
        main.proc_disk_switch("vda", "backlog"),
        Some(ChartSwitch::No)
    );
    assert_eq!(main.proc_disk_switch("sda", "backlog"), None);
    assert_eq!(
        main.proc_chart_switch("/proc/diskstats", "enable new disks detected at runtime"),
        Some(ChartSwitch::No)
    );
    let texts: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("bcache") && texts[0].contains("not used"),
        "{texts:?}"
    );
}

// ---------------------------------------------------------------------------
// /proc/mdstat (no md arrays on the reference machine: the file is the
// kernel's documented layout, written by the test).

const MDSTAT_RECOVERING: &str = "Personalities : [raid1] [raid0] [linear]
md1 : active raid1 sdc1[2] sdb1[1](F) sda1[0]
      1048512 blocks super 1.2 [2/1] [U_]
      [==>..................]  recovery = 12.6% (132224/1048512) finish=2.5min speed=8000K/sec
      bitmap: 0/1 pages [0KB], 65536KB chunk

md0 : active raid0 sdd1[1] sde1[0]
      2095104 blocks super 1.2 512k chunks

md2 : inactive sdf1[0](S)
      1048512 blocks super 1.2

unused devices: <none>
";

const MDSTAT_CLEAN: &str = "Personalities : [raid1]
md1 : active raid1 sdc1[2] sda1[0]
      1048512 blocks super 1.2 [2/2] [UU]
      bitmap: 0/1 pages [0KB], 65536KB chunk

unused devices: <none>
";

#[test]
fn mdstat_arrays() {
    let root = Root::new(FIXTURES, "mdstat");
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/mdstat");
    root.write("proc/mdstat", MDSTAT_RECOVERING);
    root.write("sys/block/md1/md/mismatch_cnt", "8\n");
    collect(&mut collectors, &host, T);
    // md1: [2/1] → 1 in use, 1 down
    assert_values(&host, "mdstat.mdstat_health", T, &[("md1", 1.0)]);
    assert_values(
        &host,
        "mdstat.md1_disks",
        T,
        &[("inuse", 1.0), ("down", 1.0)],
    );
    assert_values(&host, "mdstat.md1_mismatch", T, &[("count", 8.0)]);
    // recovery 12.6 % (× 100 collected, / 100 stored), 2.5 min, 8000 KiB/s
    assert_values(
        &host,
        "mdstat.md1_operation",
        T,
        &[
            ("check", 0.0),
            ("resync", 0.0),
            ("recovery", 12.6),
            ("reshape", 0.0),
        ],
    );
    assert_values(&host, "mdstat.md1_finish", T, &[("finish_in", 150.0)]);
    assert_values(&host, "mdstat.md1_speed", T, &[("speed", 8000.0)]);
    // md0 is raid0: only there; md2 is inactive: nothing.
    assert_values(&host, "mdstat.md0_availability", T, &[("available", 1.0)]);
    assert!(host.chart_by_id("mdstat.md0_disks").is_none());
    assert!(host.chart_by_id("mdstat.md2_availability").is_none());
    {
        let chart = host.chart_by_id("mdstat.md1_disks").unwrap();
        let c = chart.read();
        let def = c.def();
        assert_eq!(def.family, "md1 (raid1)");
        assert_eq!(def.context, "md.disks");
        assert_eq!(def.title, "Disks Stats");
        assert_eq!(def.priority, 2106);
        let labels: Vec<(&str, &str)> = def
            .labels
            .iter()
            .map(|l| (l.key.as_str(), l.value.as_str()))
            .collect();
        assert_eq!(labels, [("device", "md1"), ("raid_level", "raid1")]);
        // md0 was the second array seen: its priorities are 10 further.
        let md0 = host.chart_by_id("mdstat.md0_availability").unwrap();
        assert_eq!(md0.read().def().priority, 2105 + 10);
    }

    // Recovered, md0 gone: md0's chart is obsolete, md1 back to [2/2].
    root.write("proc/mdstat", MDSTAT_CLEAN);
    collect(&mut collectors, &host, T + 1);
    assert_values(
        &host,
        "mdstat.md1_disks",
        T + 1,
        &[("inuse", 2.0), ("down", 0.0)],
    );
    assert_values(&host, "mdstat.md1_operation", T + 1, &[("recovery", 0.0)]);
    assert!(
        host.chart_by_id("mdstat.md0_availability")
            .unwrap()
            .read()
            .def()
            .obsolete
    );

    // Steady: nothing allocated.
    collect(&mut collectors, &host, T + 2);
    assert_collections_do_not_allocate(&mut collectors, &host, &[T + 3]);
}
/// `[plugin:proc:/proc/mdstat]`: each chart group switched off by its key,
/// and `make charts obsolete = no` keeps a gone array's charts.
#[test]
fn mdstat_keys_switch_chart_groups() {
    use backhaul::collectors::proc::configured_collectors;
    use backhaul::config::ChartSwitch;
    let switches = |module: &str, key: &str| match (module, key) {
        ("/proc/mdstat", "faulty devices") => Some(ChartSwitch::No),
        ("/proc/mdstat", "mismatch count") => Some(ChartSwitch::No),
        ("/proc/mdstat", "operation status") => Some(ChartSwitch::No),
        ("/proc/mdstat", "make charts obsolete") => Some(ChartSwitch::No),
        _ => None,
    };
    let root = Root::new(FIXTURES, "mdstat-keys");
    let host = Host::new("test", 100);
    let mut collectors = configured_collectors(
        &root.path,
        1,
        &|s| s == "/proc/mdstat",
        &switches,
        backhaul::collectors::proc::no_disk_sections(),
    );
    root.write("proc/mdstat", MDSTAT_RECOVERING);
    root.write("sys/block/md1/md/mismatch_cnt", "8\n");
    collect(&mut collectors, &host, T);
    assert_values(
        &host,
        "mdstat.md1_disks",
        T,
        &[("inuse", 1.0), ("down", 1.0)],
    );
    assert_values(&host, "mdstat.md0_availability", T, &[("available", 1.0)]);
    for id in [
        "mdstat.mdstat_health",
        "mdstat.md1_mismatch",
        "mdstat.md1_operation",
        "mdstat.md1_finish",
        "mdstat.md1_speed",
    ] {
        assert!(host.chart_by_id(id).is_none(), "{id}");
    }
    root.write("proc/mdstat", MDSTAT_CLEAN);
    collect(&mut collectors, &host, T + 1);
    assert!(
        !host
            .chart_by_id("mdstat.md0_availability")
            .unwrap()
            .read()
            .def()
            .obsolete,
        "make charts obsolete = no"
    );

    let off = |module: &str, key: &str| match (module, key) {
        ("/proc/mdstat", "disk stats" | "nonredundant arrays availability") => {
            Some(ChartSwitch::No)
        }
        _ => None,
    };
    let host = Host::new("test", 100);
    let mut collectors = configured_collectors(
        &root.path,
        1,
        &|s| s == "/proc/mdstat",
        &off,
        backhaul::collectors::proc::no_disk_sections(),
    );
    root.write("proc/mdstat", MDSTAT_RECOVERING);
    collect(&mut collectors, &host, T);
    assert!(host.chart_by_id("mdstat.md1_disks").is_none());
    assert!(host.chart_by_id("mdstat.md0_availability").is_none());
    assert!(host.chart_by_id("mdstat.mdstat_health").is_some());
    assert!(host.chart_by_id("mdstat.md1_operation").is_some());
}
// ---------------------------------------------------------------------------
// Throttling and frequency (not on the reference machine kind: the files
// are written by the test, in the kernel's format).

#[test]
fn cpu_throttling_and_frequency() {
    let root = Root::new(FIXTURES, "cpufreq");
    let host = Host::new("test", 100);
    root.load("t0");
    let cpu = |n: usize, file: &str, value: &str| {
        root.write(&format!("sys/devices/system/cpu/cpu{n}/{file}"), value);
    };
    cpu(0, "thermal_throttle/core_throttle_count", "0\n");
    cpu(1, "thermal_throttle/core_throttle_count", "0\n");
    cpu(0, "thermal_throttle/package_throttle_count", "7\n");
    cpu(0, "cpufreq/scaling_cur_freq", "2400000\n");
    cpu(1, "cpufreq/scaling_cur_freq", "1200000\n");
    cpu(1, "cpufreq/stats/time_in_state", "1000000 100\n2000000 0\n");
    let mut collectors = only(&root, "/proc/stat");
    collect(&mut collectors, &host, T);
    // Never throttled yet: `auto` waits; package counts are off by default.
    assert!(host.chart_by_id("cpu.core_throttling").is_none());
    assert!(host.chart_by_id("cpu.package_throttling").is_none());
    root.load("t1");
    cpu(0, "thermal_throttle/core_throttle_count", "3\n");
    cpu(
        1,
        "cpufreq/stats/time_in_state",
        "1000000 150\n2000000 150\n",
    );
    collect(&mut collectors, &host, T + 1);
    // Throttled: the chart appears, this count its base.
    assert!(host.chart_by_id("cpu.core_throttling").is_some());
    // cpu0: scaling_cur_freq 2400000 kHz; cpu1: time_in_state over the
    // second: 50 ticks at 1 GHz and 150 at 2 GHz = 1750000 kHz
    assert_values(
        &host,
        "cpu.cpufreq",
        T + 1,
        &[("cpu0", 2400.0), ("cpu1", 1750.0)],
    );
    let chart = host.chart_by_id("cpu.cpufreq").unwrap();
    let c = chart.read();
    assert_eq!(c.def().context, "cpufreq.cpufreq");
    assert_eq!(c.def().units, "MHz");
    assert_eq!(c.def().priority, 5003);
    drop(c);
    cpu(0, "thermal_throttle/core_throttle_count", "5\n");
    collect(&mut collectors, &host, T + 2);
    assert_values(
        &host,
        "cpu.core_throttling",
        T + 2,
        &[("cpu0", 2.0), ("cpu1", 0.0)],
    );
}
#[test]
fn partitions_get_charts_only_when_switched_on() {
    use backhaul::collectors::proc::configured_collectors;
    use backhaul::config::ChartSwitch;
    let partition_line = |reads: u64| {
        format!(
            " 254       1 vda1 {reads} 0 {} 10 4 0 8 2 0 12 12 0 0 0 0 0 0\n",
            reads * 8
        )
    };
    for (switch, charted) in [(None, false), (Some(ChartSwitch::Auto), true)] {
        let root = Root::new(FIXTURES, "partitions");
        fs::create_dir_all(root.file("sys/dev/block/254:1/partition")).unwrap();
        let host = Host::new("test", 100);
        let switches = move |module: &str, key: &str| {
            (module == "/proc/diskstats" && key == "performance metrics for partitions")
                .then_some(switch)
                .flatten()
        };
        let mut collectors = configured_collectors(
            &root.path,
            1,
            &|s| s == "/proc/diskstats",
            &switches,
            backhaul::collectors::proc::no_disk_sections(),
        );
        root.write("proc/diskstats", &partition_line(100));
        collect(&mut collectors, &host, T);
        root.write("proc/diskstats", &partition_line(150));
        collect(&mut collectors, &host, T + 1);
        // netdata's default: no performance charts for partitions.
        assert_eq!(
            host.chart_by_id("disk.vda1").is_some(),
            charted,
            "{switch:?}"
        );
        if charted {
            // 50 reads of 8 sectors: 400 × 512 / 1024 = 200 KiB/s
            assert_values(&host, "disk.vda1", T + 1, &[("reads", 200.0)]);
            assert_values(&host, "disk_ops.vda1", T + 1, &[("reads", 50.0)]);
            let chart = host.chart_by_id("disk.vda1").unwrap();
            let labels: Vec<(String, String)> = chart
                .read()
                .def()
                .labels
                .iter()
                .map(|l| (l.key.clone(), l.value.clone()))
                .collect();
            assert!(labels.contains(&("device_type".to_string(), "partition".to_string())));
        }
    }
}

/// netdata's C-state residency charts: per core, the share of the
/// interval active (`/proc/schedstat`'s running time) and in each idle
/// state, a dimension per state named as the kernel names it.
#[test]
fn cpuidle_residency_per_core() {
    let root = Root::new(FIXTURES, "cpuidle");
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/stat");
    root.load("t0");
    let round = |active: [u64; 2], states: [[u64; 2]; 2]| {
        root.write(
            "proc/schedstat",
            &format!(
                "version 15\ntimestamp 4295\n\
                 cpu0 0 0 0 0 0 0 {} 200 300\ndomain0 3 0 0\n\
                 cpu1 0 0 0 0 0 0 {} 200 300\ndomain0 3 0 0\n",
                active[0], active[1]
            ),
        );
        for (core, times) in states.iter().enumerate() {
            for (state, name) in ["POLL", "C1"].iter().enumerate() {
                let dir = format!("sys/devices/system/cpu/cpu{core}/cpuidle/state{state}");
                root.write(&format!("{dir}/name"), &format!("{name}\n"));
                root.write(&format!("{dir}/time"), &format!("{}\n", times[state]));
            }
        }
    };
    round([1_000_000, 2_000_000], [[0, 5000], [10, 8000]]);
    collect(&mut collectors, &host, T);
    // cpu0: active +300 µs, POLL +100, C1 +600 of 1000: 30, 10, 60 %.
    // cpu1: active +500 µs, POLL +0, C1 +1500 of 2000: 25, 0, 75 %.
    round([1_300_000, 2_500_000], [[100, 5600], [10, 9500]]);
    collect(&mut collectors, &host, T + 1);
    assert_values(
        &host,
        "cpu.cpu0_cpuidle",
        T + 1,
        &[("active", 30.0), ("poll", 10.0), ("c1", 60.0)],
    );
    assert_values(
        &host,
        "cpu.cpu1_cpuidle",
        T + 1,
        &[("active", 25.0), ("poll", 0.0), ("c1", 75.0)],
    );
    let chart = host.chart_by_id("cpu.cpu1_cpuidle").unwrap();
    let def = chart.read().def().clone();
    assert_eq!(def.context, "cpuidle.cpu_cstate_residency_time");
    assert_eq!(def.family, "cpuidle");
    assert_eq!(def.priority, 6001);
    assert_eq!(def.labels[0].key, "cpu");
    assert_eq!(def.labels[0].value, "cpu1");
    let names: Vec<String> = chart
        .read()
        .dimensions()
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    assert_eq!(names, ["C0 (active)", "POLL", "C1"]);
    // Steady rounds (every core busy, so none is woken) allocate nothing.
    round([1_400_000, 2_600_000], [[100, 5700], [10, 9600]]);
    collect(&mut collectors, &host, T + 2);
    round([1_500_000, 2_700_000], [[100, 5800], [10, 9700]]);
    assert_collections_do_not_allocate(&mut collectors, &host, &[T + 3]);
    // A core whose running time did not move is woken first (a thread
    // pinned to it runs), then read: all of its interval was idle.
    round([1_500_000, 2_800_000], [[100, 6800], [10, 9800]]);
    collect(&mut collectors, &host, T + 4);
    assert_values(
        &host,
        "cpu.cpu0_cpuidle",
        T + 4,
        &[("active", 0.0), ("poll", 0.0), ("c1", 100.0)],
    );
}

/// Without `/proc/schedstat` (this machine kind's kernel), no cpuidle
/// charts, as netdata: the idle states alone are not enough.
#[test]
fn no_schedstat_no_cpuidle_charts() {
    let root = Root::new(FIXTURES, "no-schedstat");
    let host = Host::new("test", 100);
    let mut collectors = only(&root, "/proc/stat");
    root.load("t0");
    root.write("sys/devices/system/cpu/cpu0/cpuidle/state0/name", "POLL\n");
    root.write("sys/devices/system/cpu/cpu0/cpuidle/state0/time", "5\n");
    collect(&mut collectors, &host, T);
    collect(&mut collectors, &host, T + 1);
    assert!(host.chart_by_id("cpu.cpu0_cpuidle").is_none());
}
