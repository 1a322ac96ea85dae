//! The whole agent running Debian netdata 1.37's own plugins, unmodified,
//! from `/usr/lib/netdata/plugins.d`: `apps.plugin` must get its charts to
//! a graphite receiver on loopback with plausible values; `charts.d.plugin`
//! and `python.d.plugin` (which find nothing to collect on a bare machine,
//! print `DISABLE` and exit) must be handled cleanly: disabled after one
//! run, never restarted, nothing left running.
//!
//! Skipped (with a line on stderr) when apps.plugin is not installed,
//! unless `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (set by `.ci/run`, which
//! installs the `netdata` and `netdata-plugins-python` packages).

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backhaul::agent::Agent;
use backhaul::collectors::pluginsd::PluginState;
use backhaul::config;
use backhaul::shutdown::Shutdown;
use support::{Behaviour, FakeReceiver};

const PLUGINS_DIR: &str = "/usr/lib/netdata/plugins.d";
const REQUIRE_ENV: &str = "BACKHAUL_REQUIRE_REAL_RECEIVERS";
const HOSTNAME: &str = "pluginsdreal";

/// Whether `plugin` is installed; otherwise a skip line (or a panic when
/// skipping is forbidden).
fn require_plugin(plugin: &str) -> bool {
    if Path::new(PLUGINS_DIR).join(plugin).is_file() {
        return true;
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("pluginsd_real: {PLUGINS_DIR}/{plugin} is not installed, and {REQUIRE_ENV}=1 forbids skipping (run .ci/run to install netdata)");
    }
    let line = format!(
        "pluginsd_real: {PLUGINS_DIR}/{plugin} not installed; its part of the test skipped (run .ci/run to install)\n"
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path =
            std::env::temp_dir().join(format!("backhaul-pluginsd-real-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        for sub in ["etc", "cache", "lib", "log"] {
            std::fs::create_dir_all(path.join(sub)).expect("create temp dirs");
        }
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `name value timestamp` lines by metric name, last value kept.
fn last_values(lines: &[String]) -> BTreeMap<String, f64> {
    lines
        .iter()
        .filter_map(|line| {
            let mut words = line.split(' ');
            let name = words.next()?;
            let value = words.next()?.parse().ok()?;
            Some((name.to_string(), value))
        })
        .collect()
}

#[test]
fn netdata_plugins_run_unmodified_and_apps_charts_reach_graphite() {
    if !require_plugin("apps.plugin") {
        return;
    }
    let with_charts_d = require_plugin("charts.d.plugin");
    let with_python_d = require_plugin("python.d.plugin");
    if std::process::Command::new("pgrep")
        .args(["-x", "netdata"])
        .output()
        .is_ok_and(|out| !out.stdout.is_empty())
    {
        let _ = std::io::stderr()
            .write_all(b"pluginsd_real: a netdata daemon is running (.ci/run stops it)\n");
    }

    let receiver = FakeReceiver::start(Behaviour::Normal);
    let dir = TempDir::new();
    let base = dir.0.display().to_string();
    let netdata_conf = dir.0.join("netdata.conf");
    std::fs::write(
        &netdata_conf,
        format!(
            "[global]\n    hostname = {HOSTNAME}\n    update every = 1\n\
             [directories]\n    plugins = {PLUGINS_DIR}\n    config = {base}/etc\n\
             \x20   cache = {base}/cache\n    lib = {base}/lib\n    log = {base}/log\n\
             [plugins]\n    enable running new plugins = no\n    proc = no\n\
             \x20   apps = yes\n    charts.d = yes\n    python.d = yes\n\
             [web]\n    mode = none\n"
        ),
    )
    .expect("write netdata.conf");
    let exporting_conf = dir.0.join("exporting.conf");
    std::fs::write(
        &exporting_conf,
        format!(
            "[graphite:pluginsd_real]\n    enabled = yes\n    destination = {}\n\
             \x20   data source = as collected\n    update every = 1\n\
             \x20   send charts matching = apps.*\n",
            receiver.addr
        ),
    )
    .expect("write exporting.conf");
    let loaded = config::load(Some(&netdata_conf), Some(&exporting_conf)).expect("config");

    let shutdown = Shutdown::new();
    let agent = Agent::start(&loaded, shutdown.clone()).expect("agent starts");
    let runner = agent.plugins.as_ref().expect("plugins.d runner is on");

    // apps.* metrics on the wire, with plausible values.
    let prefix = format!("netdata.{HOSTNAME}.");
    let deadline = Instant::now() + Duration::from_secs(40);
    let values = loop {
        let values = last_values(&receiver.lines());
        let cpu = values
            .keys()
            .any(|k| k.starts_with(&format!("{prefix}apps.cpu.")));
        let processes: f64 = values
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{prefix}apps.processes.")))
            .map(|(_, v)| *v)
            .sum();
        if cpu && processes > 0.0 {
            break values;
        }
        assert!(
            Instant::now() < deadline,
            "no apps.cpu / apps.processes > 0 within 40 s; got {} lines, apps status {:?}, first: {:?}",
            values.len(),
            runner.plugin("apps").map(|p| (p.state(), p.counters())),
            values.keys().take(10).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let apps_metrics: Vec<&String> = values
        .keys()
        .filter(|k| k.starts_with(&format!("{prefix}apps.")))
        .collect();
    assert!(apps_metrics.len() >= 20, "{apps_metrics:?}");
    assert!(
        values
            .keys()
            .all(|k| k.starts_with(&format!("{prefix}apps."))),
        "only apps.* charts are sent"
    );
    // Memory of the processes apps.plugin sees is never negative.
    assert!(values
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{prefix}apps.mem.")))
        .all(|(_, v)| *v >= 0.0));

    // apps.plugin: running, collecting, no protocol trouble.
    let apps = runner.plugin("apps").expect("apps started");
    let apps_pid = match apps.state() {
        PluginState::Running { pid } => pid,
        other => panic!("apps.plugin is not running: {other:?}"),
    };
    let counters = apps.counters();
    assert!(counters.collections > 50, "{counters:?}");
    assert_eq!(
        counters.parse_errors
            + counters.unknown_verbs
            + counters.set_errors
            + counters.overlong_lines,
        0,
        "{counters:?}"
    );
    let apps_cpu = agent
        .store
        .localhost()
        .chart_by_id("apps.cpu")
        .expect("apps.cpu");
    assert!(!apps_cpu.read().dimensions().is_empty());
    assert_eq!(apps_cpu.read().def().plugin, "apps.plugin");

    // charts.d and python.d: whatever they decide, cleanly.
    for (name, installed) in [("charts.d", with_charts_d), ("python.d", with_python_d)] {
        if !installed {
            continue;
        }
        let status = runner.plugin(name).expect("started");
        // Give it time to try its modules and decide.
        let decided_by = Instant::now() + Duration::from_secs(30);
        while matches!(
            status.state(),
            PluginState::Starting | PluginState::Running { .. }
        ) && status.counters().collections == 0
            && Instant::now() < decided_by
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let state = status.state();
        match &state {
            PluginState::Disabled { reason } => {
                assert_eq!(status.runs(), 1, "{name} restarted after: {reason}");
            }
            PluginState::Running { .. } | PluginState::Restarting { .. } => {}
            other => panic!("{name}: {other:?}"),
        }
        eprintln!(
            "pluginsd_real: {name}: {state:?} after {} run(s), {:?}",
            status.runs(),
            status.counters()
        );
    }

    shutdown.trigger();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        agent.wait();
        let _ = done_tx.send(());
    });
    done_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("the agent stops within 15 s");
    waiter.join().expect("agent thread");
    assert!(
        !Path::new(&format!("/proc/{apps_pid}")).exists(),
        "apps.plugin (pid {apps_pid}) left behind"
    );
}
