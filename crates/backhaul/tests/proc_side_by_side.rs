//! The /proc and /sys charts of netdata 1.37 (the Debian package) and of
//! backhaul on this machine, one agent after the other with the same
//! netdata.conf (only the `proc` plugin on, the web server on a free port
//! of 127.0.0.1), compared as `/api/v1/charts` shows them: the same charts
//! for every module backhaul collects, with the same title, units, family,
//! context, type, priority, update every, plugin, module, labels and
//! dimensions.
//!
//! Skipped when netdata is not installed, unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (set by `.ci/run`).

mod real;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use real::{free_ports, http_get, local, Server, TempDir, REQUIRE_ENV};
use serde_json::Value;

const NETDATA: &str = "/usr/sbin/netdata";

/// The modules compared: every `[plugin:proc]` module backhaul collects
/// but `/proc/net/dev` (whose interface state charts are another piece of
/// work).
const MODULES: &[&str] = &[
    "/proc/stat",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/meminfo",
    "/proc/vmstat",
    "/proc/interrupts",
    "/proc/softirqs",
    "/proc/diskstats",
    "/proc/pressure",
    "/proc/sys/kernel/random/entropy_avail",
    "ipc",
    "/proc/mdstat",
    "/sys/block/zram",
    "/sys/kernel/mm/ksm",
];

/// Charts whose existence depends on the moment, not on the machine: a
/// disk's operations in flight (`auto`: created once one is seen), message
/// queues (there while a queue exists).
fn momentary(id: &str) -> bool {
    id.starts_with("disk_qops.") || id.starts_with("system.message_queue_")
}

/// Charts whose dimensions come as sources are first counted.
fn growing(id: &str) -> bool {
    id.ends_with("interrupts") || id.ends_with("softirqs")
}

fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "[global]
    run as user = root
    hostname = sbs
    update every = 1
[db]
    update every = 1
    mode = ram
    retention = 600
[directories]
    config = {d}/etc
    stock config = /usr/lib/netdata/conf.d
    plugins = {d}/plugins.d
    web = /usr/share/netdata/web
    cache = {d}/cache
    lib = {d}/lib
    home = {d}/lib
    lock = {d}/lib/lock
    log = {d}/log
    registry = {d}/registry
    health config = {d}/etc/health.d
[logs]
    debug = {d}/log/debug.log
    error = {d}/log/error.log
    access = none
[web]
    mode = static-threaded
    bind to = 127.0.0.1
    default port = {port}
[plugins]
    proc = yes
    diskspace = no
    cgroups = no
    tc = no
    idlejitter = no
    timex = no
    checks = no
    netdata monitoring = no
    statsd = no
    enable running new plugins = no
    plugins.d = no
[statsd]
    enabled = no
[ml]
    enabled = no
[health]
    enabled = no
[registry]
    enabled = no
"
    )
}

/// Runs an agent until its chart list holds still (the same ids in three
/// answers a second apart, after its 2-s pressure charts came) and returns
/// `/api/v1/charts`'s charts by id.
fn charts_of(name: &str, cmd: impl FnOnce(&Path) -> Command) -> BTreeMap<String, Value> {
    let dir = TempDir::new(name);
    for sub in [
        "etc",
        "lib/cloud.d",
        "cache",
        "log",
        "lib/lock",
        "registry",
        "plugins.d",
    ] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(
        dir.path().join("lib/cloud.d/cloud.conf"),
        "[global]\n    enabled = no\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/.opt-out-from-anonymous-statistics"),
        "",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/exporting.conf"),
        "[exporting:global]\n    enabled = no\n",
    )
    .unwrap();
    let port = free_ports(1)[0];
    std::fs::write(
        dir.path().join("etc/netdata.conf"),
        config(dir.path(), port),
    )
    .unwrap();
    let mut server = Server::spawn(name, cmd(dir.path()), dir.path());
    server.add_log(dir.path().join("log/error.log"));
    if !server.wait_listening(local(port)) {
        server.fail("its web server did not listen");
    }
    let fetch = || -> Result<BTreeMap<String, Value>, String> {
        let (status, body) =
            http_get(local(port), "/api/v1/charts", None).map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        let json: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let charts = json["charts"].as_object().ok_or("no charts object")?;
        Ok(charts.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    };
    let mut previous: Option<BTreeSet<String>> = None;
    let mut steady = 0;
    let charts = server.wait_for("a steady chart list", || {
        let charts = fetch()?;
        let ids: BTreeSet<String> = charts.keys().cloned().collect();
        if !ids.contains("system.io_some_pressure") && Path::new("/proc/pressure/io").exists() {
            return Err(format!("{} charts, no pressure yet", ids.len()));
        }
        if previous.as_ref() == Some(&ids) {
            steady += 1;
        } else {
            steady = 0;
        }
        previous = Some(ids);
        if steady >= 2 {
            return Ok(charts);
        }
        // A second between answers: the next collection.
        std::thread::sleep(Duration::from_secs(1));
        Err(format!("{steady} steady answers so far"))
    });
    server.stop();
    charts
}

fn in_scope(chart: &Value) -> bool {
    let module = chart["module"].as_str().unwrap_or("");
    chart["plugin"] == "proc.plugin" && MODULES.contains(&module)
}

fn labels(chart: &Value) -> BTreeMap<String, String> {
    chart["chart_labels"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// (id, name) of the dimensions, in order (neither agent lists hidden
/// dimensions such as the CPU charts' `idle`).
fn dimensions(chart: &Value) -> Vec<(String, String)> {
    chart["dimensions"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v["name"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn proc_charts_match_netdata_137_on_this_machine() {
    if !Path::new(NETDATA).exists() {
        if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
            panic!("{NETDATA} not installed, and {REQUIRE_ENV}=1 forbids skipping (run .ci/run)");
        }
        eprintln!("proc_side_by_side: {NETDATA} not installed; skipped");
        return;
    }
    let netdata = charts_of("netdata", |dir| {
        let mut cmd = Command::new(NETDATA);
        cmd.arg("-D").arg("-c").arg(dir.join("etc/netdata.conf"));
        cmd
    });
    let backhaul = charts_of("backhaul", |dir| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backhaul"));
        cmd.arg("--config")
            .arg(dir.join("etc/netdata.conf"))
            .arg("--exporting-config")
            .arg(dir.join("etc/exporting.conf"));
        cmd
    });
    let ids = |charts: &BTreeMap<String, Value>| -> BTreeSet<String> {
        charts
            .iter()
            .filter(|(id, c)| in_scope(c) && !momentary(id))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let (n, b) = (ids(&netdata), ids(&backhaul));
    assert!(n.len() > 20, "netdata made only {} charts: {n:?}", n.len());
    assert_eq!(
        n.difference(&b).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "charts netdata makes and backhaul does not"
    );
    assert_eq!(
        b.difference(&n).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "charts backhaul makes and netdata does not"
    );
    let mut differences = Vec::new();
    for id in netdata.keys().filter(|id| backhaul.contains_key(*id)) {
        let (nc, bc) = (&netdata[id], &backhaul[id]);
        if !in_scope(nc) {
            continue;
        }
        for key in [
            "name",
            "type",
            "family",
            "context",
            "title",
            "priority",
            "plugin",
            "module",
            "units",
            "chart_type",
            "update_every",
        ] {
            if nc[key] != bc[key] {
                differences.push(format!(
                    "{id}.{key}: netdata {} backhaul {}",
                    nc[key], bc[key]
                ));
            }
        }
        if labels(nc) != labels(bc) {
            differences.push(format!(
                "{id} labels: netdata {:?} backhaul {:?}",
                labels(nc),
                labels(bc)
            ));
        }
        let (nd, bd) = (dimensions(nc), dimensions(bc));
        if growing(id) {
            // Sources counted in one run and not yet in the other aside,
            // the same ids have the same names.
            let names: BTreeMap<_, _> = bd.iter().cloned().collect();
            for (dim, name) in &nd {
                if names.get(dim).is_some_and(|n| n != name) {
                    differences.push(format!(
                        "{id}.{dim}: netdata {name} backhaul {}",
                        names[dim]
                    ));
                }
            }
        } else if nd != bd {
            differences.push(format!("{id} dimensions: netdata {nd:?} backhaul {bd:?}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
