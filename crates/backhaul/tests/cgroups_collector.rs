//! The cgroups collector on recorded snapshots of the unified hierarchy
//! (`tests/fixtures/cgroups`, see its README): netdata 1.37's charts and
//! their values worked out by hand, its discovery rules (patterns,
//! systemd services, the rename script's exit codes, cgroups that go
//! away), the v1 case logged once, and no allocation in a steady cycle.
//! The same charts against a real netdata 1.37 are in `swap_test.rs`.

mod proc_support;

use std::path::{Path, PathBuf};

use backhaul::collectors::cgroups::{CgroupsCollector, CgroupsConfig, UnifiedChoice};
use backhaul::collectors::Collector;
use proc_support::*;
use rrd::Host;

const FIXTURES: &str = "cgroups";
const DOCKER: &str =
    "sys/fs/cgroup/unified/docker/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A rename script in `root`: the docker cgroup is called `web`, any
/// other keeps the name it is given.
fn naming_script(root: &Root) -> PathBuf {
    write_script(
        root,
        "name.sh",
        "case \"$1\" in\n  /docker/*) echo web; exit 0 ;;\n  *) echo \"$2\"; exit 0 ;;\nesac\n",
    )
}

fn write_script(root: &Root, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = root.file(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn config(root: &Root, script: &Path, check_every_s: u32) -> CgroupsConfig {
    CgroupsConfig {
        unified: UnifiedChoice::Yes,
        unified_path: Some(root.file("sys/fs/cgroup/unified")),
        name_script: Some(script.to_path_buf()),
        check_every_s,
        ..CgroupsConfig::default()
    }
}

fn collector(config: &CgroupsConfig, root: &Root) -> Vec<Box<dyn Collector>> {
    vec![Box::new(
        CgroupsCollector::new(config, Path::new("/nonexistent")).with_root(&root.path),
    )]
}

/// A collector with the naming script, discovering every
/// `check_every_s`, after the rounds at `T` (snapshot t0) and `T + 1`
/// (t1).
fn after_two_rounds(test: &str, check_every_s: u32) -> (Root, Host, Vec<Box<dyn Collector>>) {
    after_two_rounds_of(FIXTURES, test, &|root, script| {
        config(root, script, check_every_s)
    })
}

/// [`after_two_rounds`] with fixture set `fixtures` and the configuration
/// `config` makes from the root and the naming script.
fn after_two_rounds_of(
    fixtures: &str,
    test: &str,
    config: &dyn Fn(&Root, &Path) -> CgroupsConfig,
) -> (Root, Host, Vec<Box<dyn Collector>>) {
    let root = Root::new(fixtures, test);
    let host = Host::new("test", 100);
    let script = naming_script(&root);
    let mut collectors = collector(&config(&root, &script), &root);
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + 1);
    (root, host, collectors)
}

fn charts_of(host: &Host, prefix: &str) -> Vec<String> {
    let mut ids: Vec<String> = host
        .charts()
        .iter()
        .map(|c| c.read().id().to_string())
        .filter(|id| id.starts_with(prefix))
        .collect();
    ids.sort();
    ids
}

#[test]
fn netdata_charts_and_values_from_two_snapshots() {
    let (root, host, mut collectors) = after_two_rounds("values", 10);

    // The container (renamed by the script) has every chart netdata 1.37
    // makes in v2 but cpu_shares (off by default).
    let pressure: Vec<String> = ["cpu", "mem", "io"]
        .iter()
        .flat_map(|r| {
            let stall = if *r == "mem" { "memory" } else { r };
            [
                format!("{r}_some_pressure"),
                format!("{stall}_some_pressure_stall_time"),
                format!("{r}_full_pressure"),
                format!("{stall}_full_pressure_stall_time"),
            ]
        })
        .collect();
    let mut expected: Vec<String> = [
        "cpu",
        "cpu_limit",
        "throttled",
        "throttled_duration",
        "mem",
        "writeback",
        "pgfaults",
        "mem_usage",
        "mem_usage_limit",
        "mem_utilization",
        "io",
        "serviced_ops",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(pressure.iter().cloned())
    .map(|c| format!("cgroup_web.{c}"))
    .collect();
    expected.sort();
    assert_eq!(charts_of(&host, "cgroup_web."), expected);

    // user_usec 2000000 → 2250000 in 1 s: 25 % of a core; system +100000.
    assert_values(
        &host,
        "cgroup_web.cpu",
        T + 1,
        &[("user", 25.0), ("system", 10.0)],
    );
    // nr_throttled +20 of nr_periods +100.
    assert_values(&host, "cgroup_web.throttled", T + 1, &[("throttled", 20.0)]);
    // memory.stat in MiB: anon 100, kernel_stack 1, slab 2, file 50.
    assert_values(
        &host,
        "cgroup_web.mem",
        T + 1,
        &[
            ("anon", 100.0),
            ("kernel_stack", 1.0),
            ("slab", 2.0),
            ("sock", 0.0),
            ("file", 50.0),
        ],
    );
    assert_values(
        &host,
        "cgroup_web.writeback",
        T + 1,
        &[("dirty", 1.0), ("writeback", 0.0)],
    );
    // pgfault +256 pages of 4 KiB in 1 s: 1 MiB/s.
    assert_values(
        &host,
        "cgroup_web.pgfaults",
        T + 1,
        &[("pgfault", 1.0), ("pgmajfault", 0.0)],
    );
    // memory.current 200 MiB minus inactive_file 20 MiB; swap 10 MiB as read.
    assert_values(
        &host,
        "cgroup_web.mem_usage",
        T + 1,
        &[("ram", 180.0), ("swap", 10.0)],
    );
    // io.stat summed over both devices: +100 KiB read, +4 KiB written.
    assert_values(
        &host,
        "cgroup_web.io",
        T + 1,
        &[("read", 100.0), ("write", -4.0)],
    );
    assert_values(
        &host,
        "cgroup_web.serviced_ops",
        T + 1,
        &[("read", 5.0), ("write", -2.0)],
    );
    for r in ["cpu", "mem", "io"] {
        let stall = if r == "mem" { "memory" } else { r };
        assert_values(
            &host,
            &format!("cgroup_web.{r}_some_pressure"),
            T + 1,
            &[("some 10", 1.5), ("some 60", 0.5), ("some 300", 0.1)],
        );
        assert_values(
            &host,
            &format!("cgroup_web.{r}_full_pressure"),
            T + 1,
            &[("full 10", 0.25), ("full 60", 0.05), ("full 300", 0.01)],
        );
        // total 100000 → 150000 µs: 50 ms/s. The full chart shows the
        // some line's total too, as netdata 1.37 reads it.
        for kind in ["some", "full"] {
            assert_values(
                &host,
                &format!("cgroup_web.{stall}_{kind}_pressure_stall_time"),
                T + 1,
                &[("time", 50.0)],
            );
        }
    }

    // The limits: cpu.max 150000/100000 is 1.5 of the 2 CPUs, so 150 %;
    // the cpu_limit chart starts at the cpu chart's second round (0 then)
    // and counts from there: +200000 µs in the next second is
    // 100 × 200000 × 100 / 150 = 13333333 → 13.333333 %.
    let cpu_stat = root.file(&format!("{DOCKER}/cpu.stat"));
    std::fs::write(
        &cpu_stat,
        "usage_usec 3550000\nuser_usec 2400000\nsystem_usec 1150000\n\
         nr_periods 300\nnr_throttled 30\nthrottled_usec 80000\n",
    )
    .unwrap();
    collect(&mut collectors, &host, T + 2);
    assert_values(&host, "cgroup_web.cpu_limit", T + 2, &[("used", 13.333333)]);
    let web_cpu = host.chart_by_id("cgroup_web.cpu").unwrap();
    assert_eq!(web_cpu.read().variables().get("cpu_limit"), Some(150.0));
    // memory.max 512 MiB (below MemTotal): 180 MiB used, 332 available,
    // 180 × 100 / 512 = 35 %. memory.swap.max `max`: 2^64 - 1 bytes.
    assert_values(
        &host,
        "cgroup_web.mem_usage_limit",
        T + 2,
        &[("available", 332.0), ("used", 180.0)],
    );
    assert_values(
        &host,
        "cgroup_web.mem_utilization",
        T + 2,
        &[("utilization", 35.0)],
    );
    let usage = host.chart_by_id("cgroup_web.mem_usage").unwrap();
    assert_eq!(usage.read().variables().get("memory_limit"), Some(512.0));
    assert_eq!(
        usage.read().variables().get("memory_and_swap_limit"),
        Some(17_592_186_044_415.0)
    );
    // No cpu.max in the cgroup recorded here: the variable exists, unset.
    let bhrec_cpu = host.chart_by_id("cgroup_bhrec.cpu").unwrap();
    assert!(bhrec_cpu
        .read()
        .variables()
        .get("cpu_limit")
        .is_some_and(f64::is_nan));
    assert!(host.chart_by_id("cgroup_bhrec.cpu_limit").is_none());

    // netdata's chart definitions.
    let cpu = host.chart_by_id("cgroup_web.cpu").unwrap();
    let def = cpu.read().def().clone();
    assert_eq!(def.context, "cgroup.cpu");
    assert_eq!(def.family, "cpu");
    assert_eq!(def.title, "CPU Usage (100% = 1 core)");
    assert_eq!(def.units, "percentage");
    assert_eq!(def.priority, 40000);
    assert_eq!(def.plugin, "cgroups.plugin");
    assert_eq!(def.module, "/sys/fs/cgroup");
    let mem_pressure = host.chart_by_id("cgroup_web.mem_some_pressure").unwrap();
    assert_eq!(
        mem_pressure.read().def().context,
        "cgroup.memory_some_pressure"
    );
    assert_eq!(mem_pressure.read().def().priority, 42300);

    // The cgroup recorded on this machine kind: CPU and pressure only.
    // user_usec 1399 → 165183 (+163784 µs in 1 s), system_usec 0 → 4029.
    assert_values(
        &host,
        "cgroup_bhrec.cpu",
        T + 1,
        &[("user", 16.3784), ("system", 0.4029)],
    );
    assert_eq!(charts_of(&host, "cgroup_bhrec.").len(), 15);
    assert_eq!(
        host.chart_by_id("cgroup_web.cpu_limit")
            .unwrap()
            .read()
            .def()
            .priority,
        39999
    );
    // Systemd services: a dimension each (named after the service) in
    // the services charts whose value is on for one of them; web used
    // half a core, ssh nothing since t0; web holds 100 MiB. No swap, no
    // I/O: those charts are not made.
    assert_eq!(
        charts_of(&host, "services."),
        ["services.cpu", "services.mem_usage"]
    );
    assert_values(
        &host,
        "services.cpu",
        T + 1,
        &[
            ("system-slice_web-service", 50.0),
            ("system-slice_ssh-service", 0.0),
        ],
    );
    assert_values(
        &host,
        "services.mem_usage",
        T + 1,
        &[("system-slice_web-service", 100.0)],
    );
    let services_cpu = host.chart_by_id("services.cpu").unwrap();
    let names: Vec<String> = services_cpu
        .read()
        .dimensions()
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    assert!(
        names.contains(&"web".to_string()) && names.contains(&"ssh".to_string()),
        "{names:?}"
    );
    assert_eq!(services_cpu.read().def().priority, 19000);
    assert_eq!(services_cpu.read().def().module, "systemd");
    // The hierarchy's root, slices, services and init.scope: no charts of
    // their own.
    let all: Vec<String> = charts_of(&host, "cgroup");
    assert!(
        all.iter()
            .all(|c| c.starts_with("cgroup_web.") || c.starts_with("cgroup_bhrec.")),
        "{all:?}"
    );
}

#[test]
fn the_rename_scripts_exit_codes_as_netdata_reads_them() {
    let root = Root::new(FIXTURES, "rename");
    let host = Host::new("test", 100);
    // bhrec: "try again" (2) twice, so the second answer is taken; the
    // docker cgroup: "disable" (3).
    let script = write_script(
        &root,
        "name.sh",
        "case \"$1\" in\n  /docker/*) echo never; exit 3 ;;\n\
         *) c=\"$0.$2.count\"; n=$(cat \"$c\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$c\"; \
         echo \"try$n\"; exit 2 ;;\nesac\n",
    );
    // A discovery every collection.
    let mut collectors = collector(&config(&root, &script, 1), &root);
    root.load("t0");
    collect(&mut collectors, &host, T);
    assert!(
        charts_of(&host, "cgroup").is_empty(),
        "waiting for the name"
    );
    collect(&mut collectors, &host, T + 1);
    collect(&mut collectors, &host, T + 2);
    let charts = charts_of(&host, "cgroup");
    assert!(!charts.is_empty());
    // Each cgroup was asked twice: its second answer is its name.
    assert!(
        charts.iter().all(|c| c.starts_with("cgroup_try2.")),
        "{charts:?}"
    );
    assert!(host.chart_by_id("cgroup_try2.cpu").is_some());

    // A script that cannot run leaves the cgroups off.
    let host = Host::new("test", 100);
    let missing = root.file("no-such-script.sh");
    let mut collectors = collector(&config(&root, &missing, 1), &root);
    collect(&mut collectors, &host, T);
    collect(&mut collectors, &host, T + 1);
    assert!(charts_of(&host, "cgroup").is_empty());
}

#[test]
fn a_cgroup_that_goes_has_its_charts_obsolete() {
    let (root, host, mut collectors) = after_two_rounds("gone", 1);
    let cpu = host.chart_by_id("cgroup_web.cpu").unwrap();
    assert!(!cpu.read().is_obsolete());
    std::fs::remove_dir_all(root.file(DOCKER)).unwrap();
    collect(&mut collectors, &host, T + 2);
    assert!(cpu.read().is_obsolete());
    assert!(!host
        .chart_by_id("cgroup_bhrec.cpu")
        .unwrap()
        .read()
        .is_obsolete());
}

#[test]
fn v1_hierarchies_that_are_not_there_chart_nothing_and_log_once() {
    let root = Root::new(FIXTURES, "v1");
    let host = Host::new("test", 100);
    let script = naming_script(&root);
    let config = CgroupsConfig {
        unified: UnifiedChoice::No,
        ..config(&root, &script, 1)
    };
    let mut collectors = collector(&config, &root);
    root.load("t0");
    let logs = capture_logs(|| {
        collect(&mut collectors, &host, T);
        collect(&mut collectors, &host, T + 1);
    });
    assert_eq!(
        logs.matches("reading the v1 hierarchies").count(),
        1,
        "{logs}"
    );
    assert_eq!(
        logs.matches("cannot read this hierarchy").count(),
        1,
        "{logs}"
    );
    assert!(charts_of(&host, "cgroup").is_empty());
}

#[test]
fn a_steady_cycle_allocates_nothing() {
    let (_root, host, mut collectors) = after_two_rounds("alloc", 10);
    collect(&mut collectors, &host, T + 2);
    // Between discoveries (every 10 s): reading and storing only.
    assert_collections_do_not_allocate(&mut collectors, &host, &[T + 3, T + 4, T + 5]);
}

/// The v1 hierarchies below the fixture root, named as netdata's keys
/// would name them.
fn v1_config(root: &Root, script: &Path) -> CgroupsConfig {
    let base = |c: &str| Some(root.file(&format!("sys/fs/cgroup/{c}")));
    CgroupsConfig {
        unified: UnifiedChoice::No,
        v1_paths: [
            base("cpuacct"),
            base("cpuset"),
            base("blkio"),
            base("memory"),
            base("devices"),
        ],
        name_script: Some(script.to_path_buf()),
        check_every_s: 10,
        ..CgroupsConfig::default()
    }
}

#[test]
fn v1_charts_and_values_from_two_snapshots() {
    let (_root, host, mut collectors) = after_two_rounds_of("cgroups_v1", "values", &v1_config);

    // The container: every v1 chart but cpu_shares (off by default) and
    // the throttle ones (no throttle files).
    let mut expected: Vec<String> = [
        "cpu",
        "cpu_limit",
        "throttled",
        "throttled_duration",
        "cpu_per_core",
        "mem",
        "writeback",
        "mem_activity",
        "pgfaults",
        "mem_usage",
        "mem_usage_limit",
        "mem_utilization",
        "mem_failcnt",
        "io",
        "serviced_ops",
        "queued_ops",
        "merged_ops",
    ]
    .iter()
    .map(|c| format!("cgroup_web.{c}"))
    .collect();
    expected.sort();
    assert_eq!(charts_of(&host, "cgroup_web."), expected);
    // cpuacct.stat in ticks (100 a second): user +20, system +10.
    assert_values(
        &host,
        "cgroup_web.cpu",
        T + 1,
        &[("user", 20.0), ("system", 10.0)],
    );
    // cpu0 +0.1 s of CPU in 1 s.
    assert_values(
        &host,
        "cgroup_web.cpu_per_core",
        T + 1,
        &[("cpu0", 10.0), ("cpu1", 0.0)],
    );
    // nr_throttled +5 of nr_periods +10.
    assert_values(&host, "cgroup_web.throttled", T + 1, &[("throttled", 50.0)]);
    // A CFS quota of half a period, over 2 CPUs: 50 %.
    let cpu = host.chart_by_id("cgroup_web.cpu").unwrap();
    assert_eq!(cpu.read().variables().get("cpu_limit"), Some(50.0));
    // memory.stat totals in MiB: cache 10, rss 50 - 2 huge, mapped 4.
    assert_values(
        &host,
        "cgroup_web.mem",
        T + 1,
        &[
            ("cache", 10.0),
            ("rss", 48.0),
            ("swap", 0.0),
            ("rss_huge", 2.0),
            ("mapped_file", 4.0),
        ],
    );
    assert_values(
        &host,
        "cgroup_web.writeback",
        T + 1,
        &[("dirty", 1.0), ("writeback", 0.0)],
    );
    // +256 pages in, +512 faults, of 4 KiB.
    assert_values(
        &host,
        "cgroup_web.mem_activity",
        T + 1,
        &[("pgpgin", 1.0), ("pgpgout", 0.0)],
    );
    assert_values(&host, "cgroup_web.pgfaults", T + 1, &[("pgfault", 2.0)]);
    // usage 80 MiB less 8 inactive: 72; memory+swap 90 less (72 + 8): 10.
    assert_values(
        &host,
        "cgroup_web.mem_usage",
        T + 1,
        &[("ram", 72.0), ("swap", 10.0)],
    );
    // Limit 256 MiB: 184 available, 72 × 100 / 256 = 28 %.
    assert_values(
        &host,
        "cgroup_web.mem_usage_limit",
        T + 1,
        &[("available", 184.0), ("used", 72.0)],
    );
    assert_values(
        &host,
        "cgroup_web.mem_utilization",
        T + 1,
        &[("utilization", 28.0)],
    );
    let usage = host.chart_by_id("cgroup_web.mem_usage").unwrap();
    assert_eq!(usage.read().variables().get("memory_limit"), Some(256.0));
    assert_eq!(
        usage.read().variables().get("memory_and_swap_limit"),
        Some(512.0)
    );
    assert_values(&host, "cgroup_web.mem_failcnt", T + 1, &[("failures", 2.0)]);
    // blkio: +200 KiB read, +100 KiB written; +5 and +3 operations; 4 and 2
    // queued; merged +2048 and +1024, divided by 1024 as netdata does.
    assert_values(
        &host,
        "cgroup_web.io",
        T + 1,
        &[("read", 200.0), ("write", -100.0)],
    );
    assert_values(
        &host,
        "cgroup_web.serviced_ops",
        T + 1,
        &[("read", 5.0), ("write", -3.0)],
    );
    assert_values(
        &host,
        "cgroup_web.queued_ops",
        T + 1,
        &[("read", 4.0), ("write", -2.0)],
    );
    assert_values(
        &host,
        "cgroup_web.merged_ops",
        T + 1,
        &[("read", 2.0), ("write", -1.0)],
    );

    // The cgroup recorded here had used no CPU at t0 by cpuacct.stat
    // (user 0): its cpu chart starts at t1 (`auto`), its first rate one
    // round later. cpuacct.usage_percpu had cpu1 at 1578909 ns already:
    // that chart started at t0, and cpu0 +198038256 ns in 1 s is 19.8 %.
    assert!(host.chart_by_id("cgroup_bhrec.cpu").is_some());
    assert_eq!(stored(&host, "cgroup_bhrec.cpu", "user", T + 1), None);
    assert_values(
        &host,
        "cgroup_bhrec.cpu_per_core",
        T + 1,
        &[("cpu0", 19.8038256), ("cpu1", 0.0)],
    );
    // 516096 bytes used; no limit below MemTotal (2000 MiB).
    assert_values(
        &host,
        "cgroup_bhrec.mem_usage",
        T + 1,
        &[("ram", 0.4921875), ("swap", 0.0)],
    );
    assert_values(
        &host,
        "cgroup_bhrec.mem_usage_limit",
        T + 1,
        &[("available", 1999.5078125), ("used", 0.4921875)],
    );
    // No cpuset or CFS files in its cpuacct tree: the variable, unset.
    let bhrec = host.chart_by_id("cgroup_bhrec.cpu").unwrap();
    assert!(bhrec
        .read()
        .variables()
        .get("cpu_limit")
        .is_some_and(f64::is_nan));
    assert!(host.chart_by_id("cgroup_bhrec.cpu_limit").is_none());

    // The service: +50 ticks; 100 MiB less 4 inactive; 110 - (96 + 4).
    assert_eq!(
        charts_of(&host, "services."),
        ["services.cpu", "services.mem_usage", "services.swap_usage"]
    );
    assert_values(
        &host,
        "services.cpu",
        T + 1,
        &[("system-slice_web-service", 50.0)],
    );
    assert_values(
        &host,
        "services.mem_usage",
        T + 1,
        &[("system-slice_web-service", 96.0)],
    );
    assert_values(
        &host,
        "services.swap_usage",
        T + 1,
        &[("system-slice_web-service", 10.0)],
    );

    // Between discoveries, a v1 round allocates nothing either.
    collect(&mut collectors, &host, T + 2);
    assert_collections_do_not_allocate(&mut collectors, &host, &[T + 3, T + 4]);
}

#[test]
fn a_kubernetes_name_puts_its_labels_on_every_chart() {
    let root = Root::new(FIXTURES, "k8s");
    let host = Host::new("test", 100);
    let script = write_script(
        &root,
        "name.sh",
        "case \"$1\" in\n  /docker/*) echo 'k8s_web k8s_namespace=\"default\",k8s_pod_name=\"web-1\"'; exit 0 ;;\n\
         *) echo \"$2\"; exit 0 ;;\nesac\n",
    );
    let mut collectors = collector(&config(&root, &script, 10), &root);
    root.load("t0");
    collect(&mut collectors, &host, T);
    for chart in ["cgroup_k8s_web.cpu", "cgroup_k8s_web.cpu_some_pressure"] {
        let chart = host.chart_by_id(chart).unwrap_or_else(|| panic!("{chart}"));
        let labels: Vec<(String, String)> = chart
            .read()
            .def()
            .labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect();
        assert_eq!(
            labels,
            [
                ("k8s_namespace".to_string(), "default".to_string()),
                ("k8s_pod_name".to_string(), "web-1".to_string()),
            ]
        );
    }
}

#[test]
fn v1_services_detailed_memory_when_switched_on() {
    let (_root, host, _collectors) =
        after_two_rounds_of("cgroups_v1", "detailed", &|root, script| CgroupsConfig {
            services_detailed_memory: true,
            ..v1_config(root, script)
        });
    let charts = charts_of(&host, "services.mem_");
    for chart in [
        "services.mem_rss",
        "services.mem_mapped",
        "services.mem_cache",
        "services.mem_writeback",
        "services.mem_pgfault",
        "services.mem_pgmajfault",
        "services.mem_pgpgin",
        "services.mem_pgpgout",
        "services.mem_usage",
    ] {
        assert!(charts.contains(&chart.to_string()), "{chart}: {charts:?}");
    }
    // web.service's memory.stat: total_rss 100 MiB.
    assert_values(
        &host,
        "services.mem_rss",
        T + 1,
        &[("system-slice_web-service", 100.0)],
    );
    let rss = host.chart_by_id("services.mem_rss").unwrap();
    assert_eq!(rss.read().def().priority, 19020);
    assert_eq!(rss.read().def().title, "Systemd Services RSS Memory");
    // Off by default (the values test has none of them).
}
