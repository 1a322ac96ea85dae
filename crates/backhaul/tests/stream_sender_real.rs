//! backhaul as a child of a real netdata 1.37 parent (Debian's
//! `/usr/sbin/netdata`, its own config, cache, lib and log folders, an API
//! key in its stream.conf, a free web port). backhaul runs in this process
//! with `[stream] enabled = yes` in its stream.conf (compression on, the
//! default) and a chart of known values, and starts collecting before the
//! parent runs. The parent must serve that chart, with those values, under
//! backhaul's hostname on `/host/NAME/api/v1/allmetrics?format=shell`,
//! list the host's labels, hold the seconds collected before it started
//! (replicated from backhaul's store), and say it negotiated compression.
//! Custom variables set before the parent ran (a host's and a chart's)
//! must be on its `allmetrics?format=prometheus&variables=yes` page (netdata
//! itself would not resend the host's on connect), and their later changes
//! too.
//!
//! About 10 s. Skipped (with a line on stderr) when netdata is not
//! installed, unless `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (set by
//! `.ci/run`, which installs it).

mod real;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use backhaul::agent::Agent;
use backhaul::config;
use backhaul::shutdown::Shutdown;
use real::{free_ports, http_get_ok, local, require, Server, TempDir};
use rrd::{Algorithm, ChartDef, DimensionDef};

const KEY: &str = "11111111-2222-3333-4444-555555555555";
const SYSTEM_INFO: &str = "/usr/lib/netdata/plugins.d/system-info.sh";

/// A netdata parent accepting `KEY`, on `web_port`. Health is on (without
/// any alert: its stock config folder is empty), since netdata 1.37 lists
/// a chart's custom variables among the host's only with health.
fn start_parent(dir: &Path, web_port: u16) -> Server {
    for sub in ["etc", "cache", "lib", "log", "plugins", "stock"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::copy(SYSTEM_INFO, dir.join("plugins/system-info.sh")).expect("copy system-info.sh");
    let base = dir.display();
    std::fs::write(
        dir.join("etc/netdata.conf"),
        format!(
            "[global]\n hostname = real-parent\n run as user = root\n\
             [db]\n mode = ram\n update every = 1\n\
             [directories]\n config = {base}/etc\n cache = {base}/cache\n lib = {base}/lib\n\
             \x20log = {base}/log\n plugins = {base}/plugins\n stock config = {base}/stock\n\
             [logs]\n error = {base}/log/error.log\n access = none\n debug = {base}/log/debug.log\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n cgroups = no\n\
             \x20tc = no\n idlejitter = no\n timex = no\n statsd = no\n checks = no\n apps = no\n\
             \x20go.d = no\n python.d = no\n charts.d = no\n ebpf = no\n\
             [health]\n enabled = yes\n[ml]\n enabled = no\n[registry]\n enabled = no\n\
             [web]\n bind to = 127.0.0.1:{web_port}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/stream.conf"),
        format!(
            "[stream]\n enabled = no\n[{KEY}]\n enabled = yes\n allow from = *\n\
             \x20default memory mode = ram\n health enabled by default = yes\n"
        ),
    )
    .unwrap();
    let mut command = Command::new("netdata");
    command
        .arg("-D")
        .arg("-c")
        .arg(dir.join("etc/netdata.conf"));
    let mut server = Server::spawn("netdata-parent", command, dir);
    server.add_log(dir.join("log/error.log"));
    server
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The value of `netdata_NAME VALUE TIMESTAMP` on an allmetrics prometheus
/// page with `variables=yes`.
fn prometheus_variable(body: &str, name: &str) -> Option<String> {
    body.lines()
        .find_map(|line| line.strip_prefix(&format!("netdata_{name} ")))
        .and_then(|rest| rest.split(' ').next())
        .map(str::to_string)
}

/// Waits for the parent's variables of backhaul's host to say
/// `host_var` and `chart_var`.
fn wait_for_variables(parent: &mut Server, port: u16, host_var: &str, chart_var: &str) {
    parent.wait_for("backhaul's custom variables on the parent", || {
        let body = http_get_ok(
            local(port),
            "/host/backhaul-child/api/v1/allmetrics?format=prometheus&variables=yes",
        )?;
        let host = prometheus_variable(&body, "backhaul_host_var");
        let chart = prometheus_variable(&body, "backhaul_test_gauge_backhaul_chart_var");
        if host.as_deref() == Some(host_var) && chart.as_deref() == Some(chart_var) {
            Ok(())
        } else {
            Err(format!(
                "host {host:?}, chart {chart:?} in: {}",
                body.lines()
                    .filter(|l| l.contains("backhaul") || l.contains("variable"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ))
        }
    });
}

fn chart_rounds(agent: &Agent) -> u64 {
    agent
        .store
        .localhost()
        .chart_by_id("backhaul_test.gauge")
        .map_or(0, |chart| chart.read().rounds())
}

/// The value of `NAME="value"      # units` on an allmetrics shell page.
fn shell_value(body: &str, name: &str) -> Option<String> {
    body.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=\"")))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
}

#[test]
fn a_real_netdata_parent_serves_backhauls_charts_with_backhauls_values() {
    if !require("stream_sender_real", &["netdata"]) {
        return;
    }
    assert!(Path::new(SYSTEM_INFO).is_file(), "{SYSTEM_INFO} missing");
    let dir = TempDir::new("stream-sender");
    let port = free_ports(1)[0];
    let parent_dir = dir.path().join("parent");

    // The backhaul child.
    let child_dir = dir.path().join("child");
    std::fs::create_dir_all(&child_dir).unwrap();
    let base = child_dir.display();
    std::fs::write(
        child_dir.join("netdata.conf"),
        format!(
            "[global]\n hostname = backhaul-child\n[directories]\n config = {base}\n lib = {base}\n\
             [host labels]\n role = edge\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n\
             [web]\n bind to = 127.0.0.1:0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        child_dir.join("stream.conf"),
        format!(
            "[stream]\n enabled = yes\n destination = 127.0.0.1:{port}\n api key = {KEY}\n\
             \x20reconnect delay seconds = 1\n"
        ),
    )
    .unwrap();
    let loaded = config::load(Some(&child_dir.join("netdata.conf")), None).expect("config");
    assert!(loaded.stream.sender_enabled);
    let shutdown = Shutdown::new();
    let agent = Agent::start(&loaded, shutdown.clone()).expect("the child starts");

    // A chart of known values, collected every second by this thread.
    let chart = agent.store.localhost().create_chart(
        ChartDef::new("backhaul_test", "gauge")
            .title("Known values")
            .units("things")
            .family("test")
            .context("backhaul_test.gauge")
            .priority(1000)
            .update_every(1),
    );
    {
        let mut w = chart.write();
        w.add_dimension(DimensionDef::new("answer").algorithm(Algorithm::Absolute));
        w.add_dimension(
            DimensionDef::new("milli")
                .algorithm(Algorithm::Absolute)
                .divisor(1000),
        );
    }
    // Custom variables, set long before the parent runs.
    let localhost = agent.store.localhost().clone();
    localhost.set_variable("backhaul_host_var", 2.0);
    localhost.set_chart_variable(&chart, "backhaul_chart_var", 7.25);
    let variable_chart = chart.clone();
    let collecting = shutdown.clone();
    let collector = std::thread::spawn(move || {
        while !collecting.is_triggered() {
            {
                let mut w = chart.write();
                w.set_by_id("answer", 42);
                w.set_by_id("milli", 12_345);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_micros() as u64;
                let _ = w.done(now);
            }
            collecting.sleep(Duration::from_secs(1));
        }
    });

    // A few seconds collected while no parent runs: the sender retries.
    let deadline = Instant::now() + Duration::from_secs(20);
    let sender = agent.sender.as_ref().expect("the sender runs");
    while chart_rounds(&agent) < 4 || sender.counters().connect_failures.load(Ordering::Relaxed) < 2
    {
        assert!(Instant::now() < deadline, "the child did not collect");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before_parent = now_s();
    let mut parent = start_parent(&parent_dir, port);
    assert!(
        parent.wait_listening(local(port)),
        "the netdata parent did not listen\n{}",
        parent.log_tail(30)
    );

    let started = Instant::now();
    let body = parent.wait_for("backhaul's chart on the parent", || {
        let body = http_get_ok(
            local(port),
            "/host/backhaul-child/api/v1/allmetrics?format=shell",
        )?;
        match (
            shell_value(&body, "NETDATA_BACKHAUL_TEST_GAUGE_ANSWER"),
            shell_value(&body, "NETDATA_BACKHAUL_TEST_GAUGE_MILLI"),
        ) {
            (Some(a), Some(m)) if a == "42" && m == "12" => Ok(body),
            _ => Err(format!(
                "not yet: {}",
                body.lines()
                    .filter(|l| l.contains("BACKHAUL_TEST"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
        }
    });
    eprintln!(
        "stream_sender_real: the parent served backhaul's values after {:?}",
        started.elapsed()
    );
    assert!(body.contains("NETDATA_BACKHAUL_TEST_GAUGE_ANSWER=\"42\""));

    // The host is known to the parent, with its labels.
    let info = parent.wait_for("the child in the parent's info", || {
        let info = http_get_ok(local(port), "/host/backhaul-child/api/v1/info")?;
        if info.contains("\"role\"") {
            Ok(info)
        } else {
            Err(info.chars().take(300).collect())
        }
    });
    assert!(info.contains("edge"), "{info}");
    assert_eq!(sender.counters().refused.load(Ordering::Relaxed), 0);
    parent.wait_for("live rounds after replication", || {
        match sender.counters().rounds_sent.load(Ordering::Relaxed) {
            0 => Err("none sent yet".to_string()),
            n => Ok(n),
        }
    });

    // The seconds before the parent ran came from backhaul's store.
    let path = format!(
        "/host/backhaul-child/api/v1/data?chart=backhaul_test.gauge&dimensions=answer\
         &after={}&before={before_parent}&points=0&group=max&format=json&options=seconds",
        before_parent - 30
    );
    let replicated = parent.wait_for("replicated points before the parent started", || {
        let body = http_get_ok(local(port), &path)?;
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        let points: Vec<(i64, f64)> = json["data"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|row| Some((row[0].as_i64()?, row[1].as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        if points.len() >= 2 && points.iter().all(|(_, v)| *v == 42.0) {
            Ok(points)
        } else {
            Err(body.chars().take(400).collect())
        }
    });
    eprintln!(
        "stream_sender_real: {} points from before the parent started, replicated",
        replicated.len()
    );
    let log = std::fs::read_to_string(parent_dir.join("log/error.log")).unwrap_or_default();
    assert!(
        log.lines().any(|l| l.contains("backhaul-child")
            && l.contains("negotiated capabilities")
            && l.contains("COMPRESSION")),
        "compression not negotiated:\n{}",
        parent.log_tail(20)
    );

    // The variables set before the parent ran, then changed.
    wait_for_variables(&mut parent, port, "2.0000000", "7.2500000");
    localhost.set_variable("backhaul_host_var", 3.0);
    localhost.set_chart_variable(&variable_chart, "backhaul_chart_var", 8.5);
    wait_for_variables(&mut parent, port, "3.0000000", "8.5000000");
    assert_eq!(sender.counters().refused.load(Ordering::Relaxed), 0);
    assert_eq!(sender.counters().connected.load(Ordering::Relaxed), 1);

    parent.stop();
    shutdown.trigger();
    collector.join().unwrap();
    agent.wait();
}
