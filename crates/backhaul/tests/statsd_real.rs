//! The statsd server against netdata 1.37's own (Debian's `netdata`,
//! `/usr/sbin/netdata`): both get the same statsd input over UDP and TCP
//! (every metric type, sampling rates, tags, names with dots, underscores
//! and spaces, lines without a value or with an unknown type), and must
//! make the same charts (ids, names, titles, units, families, contexts,
//! chart types, priorities, dimensions) with the same values (the raw
//! collected values of `/api/v1/allmetrics?format=prometheus&data=as-collected`),
//! private charts and the synthetic charts of a `statsd.d` app alike.
//!
//! netdata runs with its own temporary directories, its web server and
//! statsd on free ports of 127.0.0.1, and every other plugin off. Skipped
//! with a message when netdata is not installed, unless
//! `BACKHAUL_REQUIRE_REAL_RECEIVERS=1` (`.ci/run`) makes it mandatory.

mod real;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backhaul::agent::Agent;
use backhaul::config;
use backhaul::shutdown::Shutdown;
use real::{free_ports, http_get, local, Server, TempDir, REQUIRE_ENV};

const NETDATA: &str = "/usr/sbin/netdata";

/// The datagrams both servers get over UDP.
const UDP_INPUT: &[&str] = &[
    "real.gauge:10|g",
    "real.gauge2:5.5|g\nreal.gauge2:+2|g\nreal.gauge2:-0.25|g|@0.5",
    "real_counter:3|c\nreal_counter:2|c|@0.5\nreal_counter:|c",
    "realmeter:4|m\nrealmeter:1|m|@0.1",
    "real.timer:100|ms\nreal.timer:200|ms\nreal.timer:300|ms|@0.5\nreal.timer:7.5|ms",
    "real.hist:1|h\nreal.hist:2|h\nreal.hist:3|h\nreal.hist:4|h\nreal.hist:5|h\nreal.hist:6|h\nreal.hist:7|h\nreal.hist:8|h\nreal.hist:9|h\nreal.hist:10|h\nreal.hist:11|h\nreal.hist:12|h\nreal.hist:13|h\nreal.hist:14|h\nreal.hist:15|h\nreal.hist:16|h\nreal.hist:17|h\nreal.hist:18|h\nreal.hist:19|h\nreal.hist:20|h\nreal.hist:21|h",
    "real.one:42|ms",
    "real.set:a|s\nreal.set:b|s\nreal.set:a|s\nreal.set:c|s",
    "real.dict:x|d\nreal.dict:y|d\nreal.dict:x|d\nreal.dict:z|d",
    "real.tagged:1|c|#k:v,units:ms,name:nm,family:fam",
    "real bad line",
    "real.nocolon",
    "real.unknown:1|zz",
    "real.neg:-3|g",
    "real.zinit:zinit|g",
    " real.spaces : 7 | g | @1 \r\n\r\nreal.eq=9|g",
    "realapp.gauge:12.5|g\nrealapp.count:3|c\nrealapp.timer:10|ms\nrealapp.timer:30|ms",
    "realapp.by.a:1|g\nrealapp.by.b:2|g\nrealapp.solo:4|g\nrealapp.set:u1|s",
];

/// A `statsd.d` app both servers read: synthetic charts over the
/// `realapp.*` metrics (value types, a dictionary, a pattern dimension, the
/// same metric twice), private charts on.
const APP_CONF: &str = "[app]\n    name = realapp\n    metrics = realapp.*\n    private charts = yes\n\
    [dictionary]\n    realapp.gauge = The Gauge\n    by_b = Bee\n\
    [values]\n    title = Values\n    family = mine\n    units = things\n    type = area\n    priority = 91000\n\
    \x20   dimension = realapp.gauge '' last 1 1\n    dimension = realapp.count count last 2 1\n\
    \x20   dimension = realapp.count '' events 1 1\n    dimension = realapp.set uniq last 1 1\n\
    [timing]\n    name = timing_chart\n    context = realapp.timing\n\
    \x20   dimension = realapp.timer min min 1 1\n    dimension = realapp.timer max max 1 1\n\
    \x20   dimension = realapp.timer avg average 1 1\n    dimension = realapp.timer p percentile 1 1\n\
    [by]\n    dimension = pattern 'realapp.by.*' 'by_' last 1 1\n    dimension = realapp.solo solo last 1 1\n\
    [never]\n    dimension = realapp.missing missing last 1 1\n";

/// The bytes both servers get over one TCP connection (the last line
/// unterminated: used at close, and counted as an error, by both).
const TCP_INPUT: &str =
    "real.tcpgauge:7|g\nreal.tcpcount:1|c\nreal.tcpcount:4|c\nreal.tcpset:q|s\nreal.tcplast:3|g";

fn netdata_installed() -> bool {
    if Path::new(NETDATA).exists() {
        return true;
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") {
        panic!("statsd_real: {NETDATA} is not installed, and {REQUIRE_ENV}=1 forbids skipping (run .ci/run to install netdata)");
    }
    let _ = std::io::stderr().write_all(
        b"statsd_real: netdata is not installed; test skipped (run .ci/run to install)\n",
    );
    false
}

fn user_name() -> String {
    Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "root".to_string())
}

fn netdata_conf(base: &Path, web: u16, statsd: u16) -> String {
    let base = base.display();
    let user = user_name();
    format!(
        "[global]\n    run as user = {user}\n    hostname = statsd-real\n\
         [db]\n    mode = ram\n    update every = 1\n\
         [directories]\n    config = {base}/etc\n    stock config = {base}/stock\n\
         \x20   cache = {base}/cache\n    lib = {base}/lib\n    log = {base}/log\n    home = {base}\n\
         [logs]\n    error = {base}/log/error.log\n    access = none\n    debug = none\n\
         [web]\n    bind to = 127.0.0.1:{web}\n\
         [plugins]\n    proc = no\n    diskspace = no\n    cgroups = no\n    tc = no\n\
         \x20   idlejitter = no\n    timex = no\n    apps = no\n    python.d = no\n\
         \x20   charts.d = no\n    go.d = no\n    ebpf = no\n    checks = no\n\
         \x20   enable running new plugins = no\n    statsd = yes\n\
         [health]\n    enabled = no\n[ml]\n    enabled = no\n[cloud]\n    enabled = no\n\
         [statsd]\n    bind to = udp:127.0.0.1:{statsd} tcp:127.0.0.1:{statsd}\n"
    )
}

fn backhaul_conf(base: &Path, web: u16, statsd: u16) -> String {
    let base = base.display();
    format!(
        "[global]\n    hostname = statsd-real\n[db]\n    update every = 1\n\
         [directories]\n    config = {base}/etc\n    stock config = {base}/stock\n\
         [web]\n    bind to = 127.0.0.1:{web}\n\
         [plugins]\n    proc = no\n    diskspace = no\n    plugins.d = no\n\
         [statsd]\n    bind to = udp:127.0.0.1:{statsd} tcp:127.0.0.1:{statsd}\n"
    )
}

/// Sends the input: every datagram, then the TCP stream on one connection.
fn send_input(statsd: SocketAddr) {
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
    for datagram in UDP_INPUT {
        udp.send_to(datagram.as_bytes(), statsd).expect("send");
    }
    let mut tcp = TcpStream::connect_timeout(&statsd, Duration::from_secs(2)).expect("tcp");
    tcp.write_all(TCP_INPUT.as_bytes()).expect("tcp write");
}

/// Sleeps until the wall clock is 250..450 ms past a second: both servers
/// flush on whole seconds, so the input lands in one interval.
fn wait_mid_second() {
    loop {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_millis())
            .unwrap_or(0);
        if (250..450).contains(&ms) {
            return;
        }
        std::thread::sleep(Duration::from_millis(((1250 - ms) % 1000).max(1) as u64));
    }
}

/// The `as-collected` lines of the charts matching `keep`, timestamps off.
fn collected(web: SocketAddr, keep: &dyn Fn(&str) -> bool) -> BTreeMap<String, String> {
    let path = "/api/v1/allmetrics?format=prometheus&data=as-collected&timestamps=no";
    let Ok((200, body)) = http_get(web, path, None) else {
        return BTreeMap::new();
    };
    body.lines()
        .filter(|l| !l.starts_with('#') && keep(l))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Polls until the values gathered in the input's interval are visible
/// (the timer has a minimum), then returns the private charts' lines;
/// `Err` with what was seen if they are not within 30 s.
fn private_values(web: SocketAddr) -> Result<BTreeMap<String, String>, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let is_private = |l: &str| l.contains("chart=\"statsd_") || l.contains("chart=\"realapp.");
    loop {
        let lines = collected(web, &is_private);
        let timer_min = lines
            .iter()
            .find(|(k, _)| {
                k.contains("chart=\"statsd_real.timer_timer\"") && k.contains("dimension=\"min\"")
            })
            .map(|(_, v)| v.as_str());
        if timer_min.is_some_and(|v| v != "0") {
            return Ok(lines);
        }
        if Instant::now() >= deadline {
            return Err(format!("{web}: no timer values; last seen {lines:#?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The chart metadata of statsd's charts from `/api/v1/charts`.
fn chart_meta(web: SocketAddr) -> BTreeMap<String, serde_json::Value> {
    let (status, body) = http_get(web, "/api/v1/charts", None).expect("charts");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("charts json");
    let charts = json["charts"].as_object().expect("charts object");
    charts
        .iter()
        .filter(|(_, c)| c["plugin"] == "statsd.plugin")
        .map(|(id, c)| {
            let fields = [
                "id",
                "name",
                "type",
                "family",
                "context",
                "title",
                "units",
                "priority",
                "plugin",
                "module",
                "chart_type",
                "update_every",
                "dimensions",
            ];
            let kept: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|f| (f.to_string(), c[*f].clone()))
                .collect();
            (id.clone(), serde_json::Value::Object(kept))
        })
        .collect()
}

#[test]
fn statsd_charts_and_values_match_netdata() {
    if !netdata_installed() {
        return;
    }
    let dir = TempDir::new("statsd");
    for sub in ["etc/statsd.d", "stock/statsd.d", "cache", "lib", "log"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    std::fs::write(dir.path().join("etc/statsd.d/realapp.conf"), APP_CONF).expect("write app");
    let ports = free_ports(4);
    let (nd_web, nd_statsd, bh_web, bh_statsd) = (ports[0], ports[1], ports[2], ports[3]);

    let conf = dir.path().join("netdata.conf");
    std::fs::write(&conf, netdata_conf(dir.path(), nd_web, nd_statsd)).expect("write");
    let mut cmd = Command::new(NETDATA);
    cmd.arg("-D")
        .arg("-c")
        .arg(&conf)
        .arg("-P")
        .arg(dir.path().join("netdata.pid"));
    let mut netdata = Server::spawn("netdata", cmd, dir.path());
    netdata.add_log(dir.path().join("log/error.log"));
    if !netdata.wait_listening(local(nd_web)) || !netdata.wait_listening(local(nd_statsd)) {
        netdata.fail("did not listen");
    }

    let bh_conf = dir.path().join("backhaul.conf");
    std::fs::write(&bh_conf, backhaul_conf(dir.path(), bh_web, bh_statsd)).expect("write");
    let loaded = config::load(Some(&bh_conf), None).expect("config");
    let shutdown = Shutdown::new();
    let agent = Agent::start(&loaded, shutdown.clone()).expect("agent starts");
    assert!(agent.statsd.is_some(), "backhaul's statsd server runs");
    // netdata's statsd port got one probing connection: so does backhaul's.
    drop(TcpStream::connect_timeout(&local(bh_statsd), Duration::from_secs(2)).expect("probe"));

    wait_mid_second();
    send_input(local(nd_statsd));
    send_input(local(bh_statsd));

    let want = private_values(local(nd_web)).unwrap_or_else(|seen| netdata.fail(&seen));
    let got = private_values(local(bh_web)).unwrap_or_else(|seen| panic!("backhaul: {seen}"));
    assert_eq!(got, want, "private charts' collected values");

    // The server's own counters settle once the TCP connection is closed.
    let own = |l: &str| {
        [
            "chart=\"netdata.statsd_metrics\"",
            "chart=\"netdata.statsd_useful_metrics\"",
            "chart=\"netdata.statsd_events\"",
            "chart=\"netdata.statsd_bytes\"",
            "chart=\"netdata.private_charts\"",
            "chart=\"netdata.tcp_connects\"",
            "chart=\"netdata.tcp_connected\"",
        ]
        .iter()
        .any(|c| l.contains(c))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let want = collected(local(nd_web), &own);
        let got = collected(local(bh_web), &own);
        if got == want && !got.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "own charts differ:\nnetdata  {want:#?}\nbackhaul {got:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let want = chart_meta(local(nd_web));
    let got = chart_meta(local(bh_web));
    for id in [
        "realapp.values",
        "realapp.timing",
        "realapp.by",
        "statsd_realapp.gauge_gauge",
    ] {
        assert!(
            want.contains_key(id),
            "netdata made {id}: {:#?}",
            want.keys()
        );
    }
    if std::env::var_os("STATSD_REAL_SHOW").is_some() {
        for id in ["realapp.values", "realapp.timing", "realapp.by"] {
            eprintln!(
                "{id}: {}\n{}",
                want[id],
                got.get(id).cloned().unwrap_or_default()
            );
        }
    }
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same statsd charts"
    );
    for (id, meta) in &want {
        assert_eq!(&got[id], meta, "chart {id}");
    }

    shutdown.trigger();
    agent.wait();
    netdata.stop();
}
