//! Two real netdata 1.37 children (Debian's `/usr/sbin/netdata`, each with
//! its own config, cache, lib and log folders and web port) stream to a
//! backhaul parent running in this process, which exports graphite (`data
//! source = as collected`, every second) to a recording receiver and to a
//! real carbon-cache. Every child's `system.*` charts must arrive under its
//! own hostname, with the raw values the child itself serves on its own
//! `/api/v1/allmetrics?format=prometheus&source=as-collected`, and whisper
//! must hold, under the child's hostname, exactly what was exported.
//!
//! A second test puts a proxy between a child and the parent and cuts it
//! for 12 s (netdata's sender then waits out its own back-off, about 30 s
//! in all): after the reconnect the parent asks for the gap with
//! `REPLAY_CHART`, and its store and its export hold every second across
//! the outage, once each.
//! A third stops the parent for 8 s and starts a new one on the same port:
//! the child reconnects and the new parent's store holds every second,
//! the ones it was down for included, replicated from the child, and its
//! export (going on from the saved export positions) has no hole.
//!
//! The children run in parallel; the tests take about 40 s together. Skipped (with a
//! line on stderr) when netdata is not installed, unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (set by `.ci/run`, which installs
//! it).

mod real;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use backhaul::agent::Agent;
use backhaul::config;
use backhaul::shutdown::Shutdown;
use real::{free_ports, http_get_ok, local, require, whisper_fetch, Carbon, Server, TempDir};
use support::{Behaviour, FakeReceiver};

const KEY: &str = "11111111-2222-3333-4444-555555555555";
const SYSTEM_INFO: &str = "/usr/lib/netdata/plugins.d/system-info.sh";

/// A netdata child streaming to `parent`.
fn start_child(dir: &Path, hostname: &str, web_port: u16, parent: SocketAddr) -> Server {
    start_child_with(dir, hostname, web_port, parent, "")
}

/// A netdata child streaming to `parent`, with more `[stream]` settings.
fn start_child_with(
    dir: &Path,
    hostname: &str,
    web_port: u16,
    parent: SocketAddr,
    stream_extra: &str,
) -> Server {
    for sub in ["etc", "cache", "lib", "log", "plugins"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // Debian's 1.37.1 sender aborts without it.
    std::fs::copy(SYSTEM_INFO, dir.join("plugins/system-info.sh")).expect("copy system-info.sh");
    let base = dir.display();
    std::fs::write(
        dir.join("etc/netdata.conf"),
        format!(
            "[global]\n hostname = {hostname}\n run as user = root\n\
             [db]\n mode = ram\n update every = 1\n\
             [directories]\n config = {base}/etc\n cache = {base}/cache\n lib = {base}/lib\n\
             \x20log = {base}/log\n plugins = {base}/plugins\n\
             [logs]\n error = {base}/log/error.log\n access = none\n debug = {base}/log/debug.log\n\
             [plugins]\n enable running new plugins = no\n proc = yes\n diskspace = no\n cgroups = no\n\
             \x20tc = no\n idlejitter = no\n timex = no\n statsd = no\n checks = no\n apps = no\n\
             \x20go.d = no\n python.d = no\n charts.d = no\n ebpf = no\n\
             [health]\n enabled = no\n[ml]\n enabled = no\n[registry]\n enabled = no\n\
             [web]\n bind to = 127.0.0.1:{web_port}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/stream.conf"),
        format!(
            "[stream]\n enabled = yes\n destination = {parent}\n api key = {KEY}\n{stream_extra}"
        ),
    )
    .unwrap();
    let mut command = Command::new("netdata");
    command
        .arg("-D")
        .arg("-c")
        .arg(dir.join("etc/netdata.conf"));
    let mut server = Server::spawn(&format!("netdata-{hostname}"), command, dir);
    server.add_log(dir.join("log/error.log"));
    server
}

/// `(chart, dimension) → raw value` from a child's as-collected Prometheus
/// page, for `system.*` charts with plain ids.
fn as_collected(body: &str) -> BTreeMap<(String, String), String> {
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    };
    let mut values = BTreeMap::new();
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let Some((labels, rest)) = line.split_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(&format!("{name}=\""))
                .nth(1)
                .and_then(|v| v.split('"').next())
                .map(str::to_string)
        };
        let (Some(chart), Some(dim)) = (label("chart"), label("dimension")) else {
            continue;
        };
        let Some(value) = rest.split(' ').next() else {
            continue;
        };
        if chart.starts_with("system.") && plain(&chart) && plain(&dim) {
            values.insert((chart, dim), value.to_string());
        }
    }
    values
}

/// `metric → values` of the graphite lines received.
fn graphite_values(lines: &[String]) -> BTreeMap<String, BTreeSet<String>> {
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in lines {
        let mut words = line.split(' ');
        if let (Some(name), Some(value)) = (words.next(), words.next()) {
            // Host labels ride as graphite tags (`;key=value`).
            let name = name.split(';').next().unwrap_or(name);
            // `as collected` values are whole numbers, sent as `N.0000000`.
            let value = value.strip_suffix(".0000000").unwrap_or(value);
            values
                .entry(name.to_string())
                .or_default()
                .insert(value.to_string());
        }
    }
    values
}

#[test]
fn two_netdata_children_stream_to_backhaul_which_exports_each_under_its_own_hostname() {
    if !require("stream_real", &["netdata"]) {
        return;
    }
    assert!(Path::new(SYSTEM_INFO).is_file(), "{SYSTEM_INFO} missing");
    let carbon_here = require("stream_real", &["carbon-cache", "whisper-fetch"]);
    let dir = TempDir::new("stream");
    let receiver = FakeReceiver::start(Behaviour::Normal);
    // The same export to a real carbon-cache (plain paths: no labels).
    let mut carbon = carbon_here.then(Carbon::start);
    let carbon_instance = carbon.as_ref().map_or(String::new(), |carbon| {
        format!(
            "[graphite:carbon]\n enabled = yes\n destination = {}\n data source = as collected\n\
             \x20update every = 1\n send names instead of ids = no\n send charts matching = system.*\n\
             \x20send hosts matching = !localhost *\n send configured labels = no\n\
             \x20send automatic labels = no\n",
            carbon.line
        )
    });

    // The backhaul parent.
    let parent_dir = dir.path().join("parent");
    std::fs::create_dir_all(&parent_dir).unwrap();
    let base = parent_dir.display();
    std::fs::write(
        parent_dir.join("netdata.conf"),
        format!(
            "[global]\n hostname = parent\n[directories]\n config = {base}\n lib = {base}\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n\
             [web]\n bind to = 127.0.0.1:0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        parent_dir.join("stream.conf"),
        format!("[{KEY}]\n enabled = yes\n default history = 300\n"),
    )
    .unwrap();
    std::fs::write(
        parent_dir.join("exporting.conf"),
        format!(
            "[graphite:children]\n enabled = yes\n destination = {}\n data source = as collected\n\
             \x20update every = 1\n send names instead of ids = no\n send charts matching = system.*\n\
             \x20send hosts matching = !localhost *\n{carbon_instance}",
            receiver.addr
        ),
    )
    .unwrap();
    let loaded = config::load(Some(&parent_dir.join("netdata.conf")), None).expect("config");
    assert_eq!(loaded.stream.enabled_api_keys().count(), 1);
    let shutdown = Shutdown::new();
    let agent = Agent::start(&loaded, shutdown.clone()).expect("the parent starts");
    let parent_addr = agent.web.as_ref().expect("web on").local_addrs()[0];

    // Two children, started together.
    let ports = free_ports(2);
    let names = ["child-one", "child-two"];
    let mut children: Vec<Server> = names
        .iter()
        .zip(&ports)
        .map(|(name, port)| start_child(&dir.path().join(name), name, *port, parent_addr))
        .collect();

    // Both connected, with system charts.
    let deadline = Instant::now() + Duration::from_secs(30);
    for name in names {
        loop {
            let host = agent
                .store
                .hosts()
                .into_iter()
                .find(|h| h.hostname() == name);
            if host.is_some_and(|h| {
                h.chart_by_id("system.cpu")
                    .is_some_and(|c| c.read().rounds() > 2)
            }) {
                break;
            }
            if Instant::now() >= deadline {
                let tails: Vec<String> = children.iter().map(|c| c.log_tail(30)).collect();
                panic!(
                    "{name} never streamed system.cpu to the parent\n{}",
                    tails.join("\n")
                );
            }
            for child in &mut children {
                if let Some(status) = child.exited() {
                    child.fail(&format!("exited ({status})"));
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // What each child serves itself, then a few seconds of export.
    let mut own: Vec<BTreeMap<(String, String), String>> = Vec::new();
    for (child, port) in children.iter_mut().zip(&ports) {
        let body = child.wait_for("its own allmetrics", || {
            http_get_ok(
                local(*port),
                "/api/v1/allmetrics?format=prometheus&source=as-collected&names=no",
            )
        });
        let values = as_collected(&body);
        assert!(values.len() > 20, "{values:?}");
        own.push(values);
    }
    let settle = Instant::now() + Duration::from_secs(4);
    while Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(200));
    }
    let exported = graphite_values(&receiver.lines());

    for (name, values) in names.iter().zip(&own) {
        let mut missing = Vec::new();
        let mut matched = 0;
        for ((chart, dim), value) in values {
            let metric = format!("netdata.{name}.{chart}.{dim}");
            match exported.get(&metric) {
                None => missing.push(metric),
                Some(sent) if sent.contains(value) => matched += 1,
                Some(_) => {}
            }
        }
        assert!(
            missing.is_empty(),
            "{name}: not exported: {missing:?}; received: {:?}",
            exported.keys().take(5).collect::<Vec<_>>()
        );
        eprintln!(
            "stream_real: {name}: {matched} of {} values the child serves were exported",
            values.len()
        );
        // The snapshot is one collection; the parent exports each second's
        // last collected value, so nearly every snapshot value is among them.
        assert!(
            matched * 10 >= values.len() * 9,
            "{name}: only {matched} of {} values the child serves were exported",
            values.len()
        );
    }
    // Nothing under the parent's own name, nothing under a third name.
    let hosts: BTreeSet<&str> = exported
        .keys()
        .filter_map(|k| k.split('.').nth(1))
        .collect();
    assert_eq!(hosts, names.into_iter().collect::<BTreeSet<_>>());

    // carbon-cache stored them under each child's hostname: every value
    // whisper holds for a few of each child's metrics is the one exported
    // for that second.
    if let Some(carbon) = &mut carbon {
        let sent = graphite_points(&receiver.lines());
        for name in names {
            for dim in [
                "system.cpu.user",
                "system.cpu.system",
                "system.intr.interrupts",
            ] {
                let metric = format!("netdata.{name}.{dim}");
                let want = sent
                    .get(&metric)
                    .unwrap_or_else(|| panic!("{metric} was not exported"));
                let path = carbon.wsp_path(&metric);
                let (from, until) = (
                    *want.keys().next().unwrap() - 1,
                    *want.keys().last().unwrap(),
                );
                let stored =
                    carbon
                        .server
                        .wait_for(&format!("{} in whisper", path.display()), || {
                            if !path.exists() {
                                return Err("no such file yet".to_string());
                            }
                            let got = whisper_fetch(&path, from, until)?;
                            let held: BTreeMap<i64, f64> =
                                got.into_iter().filter_map(|(t, v)| Some((t, v?))).collect();
                            if held.len() >= 3 {
                                Ok(held)
                            } else {
                                Err(format!("{held:?}"))
                            }
                        });
                for (t, v) in &stored {
                    assert_eq!(
                        want.get(t),
                        Some(v),
                        "{metric} at {t}: whisper {v}, exported {want:?}"
                    );
                }
                eprintln!(
                    "stream_real: carbon-cache holds {} points of {metric}",
                    stored.len()
                );
            }
        }
        carbon.stop();
    }

    for child in &mut children {
        child.stop();
    }
    shutdown.trigger();
    agent.wait();
}

/// `metric → (timestamp → value)` of the graphite lines received.
fn graphite_points(lines: &[String]) -> BTreeMap<String, BTreeMap<i64, f64>> {
    let mut points: BTreeMap<String, BTreeMap<i64, f64>> = BTreeMap::new();
    for line in lines {
        let mut words = line.split(' ');
        if let (Some(name), Some(value), Some(t)) = (words.next(), words.next(), words.next()) {
            let name = name.split(';').next().unwrap_or(name);
            if let (Ok(value), Ok(t)) = (value.parse::<f64>(), t.parse::<i64>()) {
                points.entry(name.to_string()).or_default().insert(t, value);
            }
        }
    }
    points
}

/// A TCP proxy on 127.0.0.1 that can cut its connections and refuse new
/// ones for a while (a network outage between a child and its parent).
struct CuttingProxy {
    addr: SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Sockets of the current connections, to shut down on a cut.
    live: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl CuttingProxy {
    fn start(target: SocketAddr) -> CuttingProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (cut2, stop2, live2) = (cut.clone(), stop.clone(), live.clone());
        std::thread::spawn(move || {
            // While cut, nothing listens: the child's connects are refused
            // (a reset after accepting makes netdata wait 30 s to retry).
            let mut listener = Some(listener);
            while !stop2.load(Ordering::Relaxed) {
                if cut2.load(Ordering::Relaxed) {
                    listener = None;
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                let Some(open) = listener.as_ref() else {
                    if let Ok(again) = std::net::TcpListener::bind(addr) {
                        again.set_nonblocking(true).unwrap();
                        listener = Some(again);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let Ok((client, _)) = open.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                {
                    let mut live = live2.lock().unwrap();
                    live.push(client.try_clone().unwrap());
                    live.push(server.try_clone().unwrap());
                }
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        CuttingProxy {
            addr,
            cut,
            stop,
            live,
        }
    }

    /// Cuts every connection; new ones are refused until `restore`.
    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::Relaxed);
        for socket in self.live.lock().unwrap().drain(..) {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.cut();
    }
}

#[test]
fn a_child_cut_off_for_a_while_is_replicated_and_the_export_has_no_hole() {
    if !require("stream_real", &["netdata"]) {
        return;
    }
    let dir = TempDir::new("stream-cut");
    let receiver = FakeReceiver::start(Behaviour::Normal);
    let parent_dir = dir.path().join("parent");
    std::fs::create_dir_all(&parent_dir).unwrap();
    let base = parent_dir.display();
    std::fs::write(
        parent_dir.join("netdata.conf"),
        format!(
            "[global]\n hostname = parent\n[directories]\n config = {base}\n lib = {base}\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n\
             [web]\n bind to = 127.0.0.1:0\n"
        ),
    )
    .unwrap();
    std::fs::write(
        parent_dir.join("stream.conf"),
        format!("[{KEY}]\n enabled = yes\n default history = 600\n"),
    )
    .unwrap();
    write_children_export(&parent_dir, receiver.addr);
    let loaded = config::load(Some(&parent_dir.join("netdata.conf")), None).expect("config");
    let shutdown = Shutdown::new();
    let agent = Agent::start(&loaded, shutdown.clone()).expect("the parent starts");
    let parent_addr = agent.web.as_ref().expect("web on").local_addrs()[0];
    let proxy = CuttingProxy::start(parent_addr);

    let port = free_ports(1)[0];
    let mut child = start_child_with(
        &dir.path().join("cut-child"),
        "cut-child",
        port,
        proxy.addr,
        " reconnect delay seconds = 1\n",
    );
    let cpu = child.wait_for("system.cpu on the parent", || {
        agent
            .store
            .hosts()
            .into_iter()
            .find(|h| h.hostname() == "cut-child")
            .and_then(|h| h.chart_by_id("system.cpu"))
            .filter(|c| c.read().rounds() > 3)
            .ok_or_else(|| "not yet".to_string())
    });
    let cut_at = cpu.read().last_entry_t().unwrap();
    // The window checked starts up to 3 s before the cut, not before the
    // first point held then (on a busy machine the child's first round
    // may not make a point yet).
    let held_from = cpu.read().first_entry_t().unwrap();
    let user = cpu.read().dimension_index("user").expect("system.cpu user");
    proxy.cut();
    let outage = Duration::from_secs(12);
    let until = Instant::now() + outage;
    while Instant::now() < until {
        if let Some(status) = child.exited() {
            child.fail(&format!("exited ({status}) during the outage"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    proxy.restore();
    let restored_at = cut_at + outage.as_secs() as i64;
    child.wait_for("points after the outage", || {
        let last = cpu.read().last_entry_t().unwrap_or(0);
        if last >= restored_at + 5 {
            Ok(())
        } else {
            Err(format!("last point {last}, want {}", restored_at + 5))
        }
    });

    // The parent holds every second across the outage.
    let (from, to) = ((cut_at - 3).max(held_from), restored_at + 3);
    let held: BTreeSet<i64> = cpu
        .read()
        .points(user, from - 1, to)
        .into_iter()
        .map(|p| p.time)
        .collect();
    let missing: Vec<i64> = (from..=to).filter(|t| !held.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "the parent misses {missing:?} of {from}..={to}"
    );

    // And exported, each point once and at its own second: the points
    // replicated after the outage go out one line per instance interval
    // (1 s), as they would have live, so the exported series has no hole.
    let metric = "netdata.cut-child.system.cpu.user";
    child.wait_for("the export past the outage", || {
        exported_up_to(&receiver, metric, to)
    });
    let times = exported_times(&receiver, metric);
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "times go forward, nothing sent twice: {times:?}"
    );
    let sent: BTreeSet<i64> = times.iter().copied().collect();
    let holes: Vec<i64> = (from..=to).filter(|t| !sent.contains(t)).collect();
    assert!(
        holes.is_empty(),
        "the export misses {holes:?} of {from}..={to}: {times:?}"
    );

    child.stop();
    shutdown.trigger();
    agent.wait();
}

/// The parent's exporting.conf: its children's `system.cpu` (`average`,
/// every second, ids) to the graphite receiver at `to`.
fn write_children_export(parent_dir: &Path, to: SocketAddr) {
    std::fs::write(
        parent_dir.join("exporting.conf"),
        format!(
            "[graphite:children]\n enabled = yes\n destination = {to}\n data source = average\n\
             \x20update every = 1\n send names instead of ids = no\n send charts matching = system.cpu\n\
             \x20send hosts matching = !localhost *\n"
        ),
    )
    .unwrap();
}

/// The timestamps of the graphite lines of `metric` the receiver got, in
/// the order they came.
fn exported_times(receiver: &FakeReceiver, metric: &str) -> Vec<i64> {
    receiver
        .lines()
        .iter()
        .filter(|l| l.split([' ', ';']).next() == Some(metric))
        .filter_map(|l| l.split(' ').nth(2)?.parse().ok())
        .collect()
}

/// Whether `metric` was exported up to `to`, for `wait_for`.
fn exported_up_to(receiver: &FakeReceiver, metric: &str, to: i64) -> Result<(), String> {
    let newest = exported_times(receiver, metric).into_iter().max();
    if newest.is_some_and(|t| t >= to) {
        Ok(())
    } else {
        Err(format!("exported up to {newest:?}, want {to}"))
    }
}

#[test]
fn a_restarted_parent_gets_what_it_missed_from_the_child() {
    if !require("stream_real", &["netdata"]) {
        return;
    }
    let dir = TempDir::new("stream-restart");
    let receiver = FakeReceiver::start(Behaviour::Normal);
    let parent_dir = dir.path().join("parent");
    std::fs::create_dir_all(&parent_dir).unwrap();
    let base = parent_dir.display();
    let parent_port = free_ports(1)[0];
    // The parent exports its children (the spool, and with it the export
    // positions, under `lib`: they survive the restart).
    write_children_export(&parent_dir, receiver.addr);
    std::fs::write(
        parent_dir.join("netdata.conf"),
        format!(
            "[global]\n hostname = parent\n[directories]\n config = {base}\n lib = {base}\n\
             [plugins]\n enable running new plugins = no\n proc = no\n diskspace = no\n\
             [web]\n bind to = 127.0.0.1:{parent_port}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        parent_dir.join("stream.conf"),
        format!("[{KEY}]\n enabled = yes\n default history = 600\n"),
    )
    .unwrap();
    let loaded = config::load(Some(&parent_dir.join("netdata.conf")), None).expect("config");
    let start_parent = || {
        let shutdown = Shutdown::new();
        let agent = Agent::start(&loaded, shutdown.clone()).expect("the parent starts");
        (agent, shutdown)
    };
    let (agent, shutdown) = start_parent();
    let child_port = free_ports(1)[0];
    let mut child = start_child_with(
        &dir.path().join("restart-child"),
        "restart-child",
        child_port,
        local(parent_port),
        " reconnect delay seconds = 1\n",
    );
    let cpu_of = |agent: &Agent| {
        agent
            .store
            .hosts()
            .into_iter()
            .find(|h| h.hostname() == "restart-child")
            .and_then(|h| h.chart_by_id("system.cpu"))
    };
    let cpu = child.wait_for("system.cpu on the parent", || {
        cpu_of(&agent)
            .filter(|c| c.read().rounds() > 3)
            .ok_or_else(|| "not yet".to_string())
    });
    let stopped_at = cpu.read().last_entry_t().unwrap();
    drop(cpu);
    shutdown.trigger();
    agent.wait();

    // Down for 8 s while the child collects on.
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        if let Some(status) = child.exited() {
            child.fail(&format!("exited ({status}) while the parent was down"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (agent, shutdown) = start_parent();
    let restarted_at = stopped_at + 8;
    let cpu = child.wait_for("system.cpu on the restarted parent", || {
        cpu_of(&agent)
            .filter(|c| {
                c.read()
                    .last_entry_t()
                    .is_some_and(|t| t >= restarted_at + 3)
            })
            .ok_or_else(|| "not yet".to_string())
    });
    // The new parent's store holds what the old one had and what it missed
    // while down, every second, replicated from the child's own store.
    let user = cpu.read().dimension_index("user").expect("user");
    let (from, to) = (stopped_at - 3, restarted_at + 3);
    let held: BTreeSet<i64> = cpu
        .read()
        .points(user, from - 1, to)
        .into_iter()
        .map(|p| p.time)
        .collect();
    let missing: Vec<i64> = (from..=to).filter(|t| !held.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "the restarted parent misses {missing:?} of {from}..={to}"
    );

    // The export has no hole across the restart: what the parent missed
    // while down goes out once replication brought it in (lines exported
    // just before the restart may come again).
    let metric = "netdata.restart-child.system.cpu.user";
    child.wait_for("the export past the restart", || {
        exported_up_to(&receiver, metric, to)
    });
    let sent: BTreeSet<i64> = exported_times(&receiver, metric).into_iter().collect();
    let holes: Vec<i64> = (from..=to).filter(|t| !sent.contains(t)).collect();
    assert!(
        holes.is_empty(),
        "the export misses {holes:?} of {from}..={to}: {sent:?}"
    );

    child.stop();
    shutdown.trigger();
    agent.wait();
}
