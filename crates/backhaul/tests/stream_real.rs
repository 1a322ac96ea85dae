//! Two real netdata 1.37 children (Debian's `/usr/sbin/netdata`, each with
//! its own config, cache, lib and log folders and web port) stream to a
//! backhaul parent running in this process, which exports graphite (`data
//! source = as collected`, every second) to a recording receiver. Every
//! child's `system.*` charts must arrive under its own hostname, with the
//! raw values the child itself serves on its own
//! `/api/v1/allmetrics?format=prometheus&source=as-collected`.
//!
//! The children run in parallel; the test takes about 15 s. Skipped (with a
//! line on stderr) when netdata is not installed, unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (set by `.ci/run`, which installs
//! it).

mod real;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use backhaul::agent::Agent;
use backhaul::config;
use backhaul::shutdown::Shutdown;
use real::{free_ports, local, require, Server, TempDir};
use support::{Behaviour, FakeReceiver};

const KEY: &str = "11111111-2222-3333-4444-555555555555";
const SYSTEM_INFO: &str = "/usr/lib/netdata/plugins.d/system-info.sh";

/// One GET; the body, or an error.
fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut socket =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    socket
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    socket
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(format!(
            "unexpected response: {}",
            text.chars().take(200).collect::<String>()
        )),
    }
}

/// A netdata child streaming to `parent`.
fn start_child(dir: &Path, hostname: &str, web_port: u16, parent: SocketAddr) -> Server {
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
        format!("[stream]\n enabled = yes\n destination = {parent}\n api key = {KEY}\n"),
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
    let dir = TempDir::new("stream");
    let receiver = FakeReceiver::start(Behaviour::Normal);

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
             \x20send hosts matching = !localhost *\n",
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
            http_get(
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

    for child in &mut children {
        child.stop();
    }
    shutdown.trigger();
    agent.wait();
}
