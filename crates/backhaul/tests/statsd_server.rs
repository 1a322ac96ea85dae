//! The statsd server, black-box on 127.0.0.1:0: every metric type over UDP
//! and TCP (sampling rates, tags, several metrics per packet, lines split
//! across TCP writes), malformed lines, an oversized datagram, an oversized
//! TCP line and one TCP connection too many. Checks the raw values the
//! private charts collect and the server's own counters.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::collectors::statsd::{self, StatsdServer, StatsdSettings};
use backhaul::config::StatsdConfig;
use backhaul::shutdown::Shutdown;
use rrd::Host;

fn start(config: StatsdConfig) -> (Arc<Host>, StatsdServer, Shutdown) {
    let host = Arc::new(Host::new("statsd-test", 60));
    let shutdown = Shutdown::new();
    let settings = StatsdSettings {
        enabled: true,
        config,
        user_config_dir: "/nonexistent/etc".into(),
        stock_config_dir: "/nonexistent/stock".into(),
    };
    let server = statsd::start(&settings, host.clone(), shutdown.clone())
        .expect("starts")
        .expect("sockets bound");
    (host, server, shutdown)
}

fn config() -> StatsdConfig {
    StatsdConfig {
        bind_to: "udp:127.0.0.1:0 tcp:127.0.0.1:0".into(),
        ..StatsdConfig::default()
    }
}

/// The raw values last collected by chart `id`, by dimension id.
fn collected(host: &Host, id: &str) -> Option<Vec<(String, i64)>> {
    let chart = host.chart_by_id(id)?;
    let state = chart.read();
    let values: Option<Vec<(String, i64)>> = state
        .dimensions()
        .iter()
        .map(|d| d.last_collected().map(|(v, _)| (d.id().to_string(), v)))
        .collect();
    values
}

/// Waits (10 s at most) for `want` to be what chart `id` last collected.
fn wait_for(host: &Host, id: &str, want: &[(&str, i64)]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let want: Vec<(String, i64)> = want.iter().map(|(d, v)| (d.to_string(), *v)).collect();
    loop {
        let got = collected(host, id);
        if got.as_ref() == Some(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{id}: want {want:?}, last seen {got:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stats_settle(server: &StatsdServer, f: impl Fn(&statsd::ServerStats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = server.metrics.lock().stats;
        if f(&stats) {
            return;
        }
        assert!(Instant::now() < deadline, "stats never settled: {stats:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_metric_type_over_udp_and_tcp() {
    let (host, server, shutdown) = start(config());
    let udp_addr: SocketAddr = server.udp[0];
    let tcp_addr: SocketAddr = server.tcp[0];
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let send = |s: &str| {
        udp.send_to(s.as_bytes(), udp_addr).expect("send");
    };
    // One flush interval's worth, several metrics per packet.
    send("t.gauge:10|g\nt.gauge:+5|g|@0.5\nt.gauge:-2|g");
    send("t.counter:3|c\nt.counter:2|c|@0.1\nt.counter|c");
    send("t.meter:4|m");
    send("t.timer:100|ms\nt.timer:200|ms\nt.timer:300|ms|@0.5");
    send("t.set:a|s\nt.set:b|s\nt.set:a|s");
    send("t.dict:x|d\nt.dict:y|d\nt.dict:x|d");
    send("t.tags:1|c|#units:things,name:dim,family:fam");
    send("t.bad:1|zz\n:::\n\n  \nt.empty:|g");
    send(&"x".repeat(9000));
    let mut tcp = TcpStream::connect(tcp_addr).expect("tcp");
    tcp.write_all(b"t.tcp:1").expect("write");
    tcp.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(30));
    tcp.write_all(b"2|g\nt.tcpcount:5|c\n").expect("write");

    wait_for(&host, "statsd_t.gauge_gauge", &[("gauge", 18_000)]);
    // 3 + round(2 / 0.1) + 1
    wait_for(&host, "statsd_t.counter_counter", &[("counter", 24)]);
    wait_for(&host, "statsd_t.meter_meter", &[("meter", 4)]);
    // 100, 200, 300 ×2: min, max, average, 95th percentile, median, stddev.
    wait_for(
        &host,
        "statsd_t.timer_timer",
        &[
            ("min", 100_000),
            ("max", 300_000),
            ("average", 225_000),
            ("95.0%", 300_000),
            ("median", 250_000),
            ("stddev", 82_916),
        ],
    );
    wait_for(&host, "statsd_t.set_set", &[("set", 2)]);
    wait_for(&host, "statsd_t.dict_dictionary", &[("y", 1), ("x", 2)]);
    wait_for(&host, "statsd_t.tcp_gauge", &[("gauge", 12_000)]);
    wait_for(&host, "statsd_t.tcpcount_counter", &[("counter", 5)]);
    let tags = host
        .chart_by_id("statsd_t.tags_counter")
        .expect("tagged chart");
    assert_eq!(tags.read().def().units, "things");
    assert_eq!(tags.read().def().family, "fam");
    assert_eq!(tags.read().dimensions()[0].name(), "dim");
    // `t.empty:|g` made a metric without a value: its chart shows 0.
    wait_for(&host, "statsd_t.empty_gauge", &[("gauge", 0)]);

    // The oversized datagram is an error; the unknown type is counted.
    stats_settle(&server, |s| {
        s.errors == 1 && s.unknown_types == 1 && s.udp_packets == 9
    });

    // A line longer than `max line length` is dropped up to its end; the
    // connection stays usable.
    let mut long = vec![b'y'; 70_000];
    long.extend_from_slice(b"\nt.after:1|c\n");
    tcp.write_all(&long).expect("write");
    wait_for(&host, "statsd_t.after_counter", &[("counter", 1)]);
    stats_settle(&server, |s| s.errors == 2 && s.tcp_connected == 1);

    // Samples of a timer stop after their interval: zeros, not repeats.
    wait_for(
        &host,
        "statsd_t.timer_timer",
        &[
            ("min", 0),
            ("max", 0),
            ("average", 0),
            ("95.0%", 0),
            ("median", 0),
            ("stddev", 0),
        ],
    );
    wait_for(&host, "statsd_t.set_set", &[("set", 0)]);
    // Gauges and counters keep their last value.
    wait_for(&host, "statsd_t.gauge_gauge", &[("gauge", 18_000)]);

    // An unterminated line at close is used (and counted as an error).
    tcp.write_all(b"t.last:3|g").expect("write");
    drop(tcp);
    wait_for(&host, "statsd_t.last_gauge", &[("gauge", 3_000)]);
    stats_settle(&server, |s| {
        s.errors == 3 && s.tcp_connects == 1 && s.tcp_disconnects == 1 && s.tcp_connected == 0
    });

    // netdata's own charts.
    wait_for(
        &host,
        "netdata.tcp_connects",
        &[("connects", 1), ("disconnects", 1)],
    );
    let metrics = host
        .chart_by_id("netdata.statsd_metrics")
        .expect("own chart");
    assert_eq!(
        metrics
            .read()
            .dimensions()
            .iter()
            .map(|d| d.id().to_string())
            .collect::<Vec<_>>(),
        [
            "gauges",
            "counters",
            "timers",
            "meters",
            "histograms",
            "sets",
            "dictionaries"
        ]
    );
    shutdown.trigger();
    server.join();
}

#[test]
fn tcp_connections_beyond_the_limit_are_closed() {
    let (_host, server, shutdown) = start(StatsdConfig {
        max_tcp_sockets: 1,
        ..config()
    });
    let tcp_addr = server.tcp[0];
    let _first = TcpStream::connect(tcp_addr).expect("first");
    stats_settle(&server, |s| s.tcp_connected == 1);
    let mut second = TcpStream::connect(tcp_addr).expect("second connects");
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    // The server closes it at once: end of stream (or a reset).
    assert!(matches!(second.read(&mut byte), Ok(0) | Err(_)));
    assert_eq!(server.metrics.lock().stats.tcp_connects, 1);
    shutdown.trigger();
    server.join();
}

#[test]
fn idle_tcp_clients_are_disconnected() {
    let (_host, server, shutdown) = start(StatsdConfig {
        tcp_idle_timeout_s: 1,
        ..config()
    });
    let mut idle = TcpStream::connect(server.tcp[0]).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    assert!(matches!(idle.read(&mut byte), Ok(0) | Err(_)));
    stats_settle(&server, |s| s.tcp_disconnects == 1 && s.tcp_connected == 0);
    shutdown.trigger();
    server.join();
}

#[test]
fn the_hard_limit_of_private_charts_is_kept() {
    let (host, server, shutdown) = start(StatsdConfig {
        max_private_charts: 2,
        ..config()
    });
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.send_to(b"a:1|g\nb:1|g", server.udp[0]).expect("send");
    wait_for(&host, "statsd_a.gauge", &[("gauge", 1000)]);
    wait_for(&host, "statsd_b.gauge", &[("gauge", 1000)]);
    udp.send_to(b"c:1|g", server.udp[0]).expect("send");
    stats_settle(&server, |_| {
        let m = server.metrics.lock();
        m.metric_counts()[0] == 3
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(host.chart_by_id("statsd_c.gauge").is_none());
    assert_eq!(server.metrics.lock().private_charts(), 2);
    shutdown.trigger();
    server.join();
}
