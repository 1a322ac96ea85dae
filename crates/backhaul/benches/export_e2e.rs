//! End-to-end export bench: a store of N dimensions (charts of 100
//! dimensions, 1 s points) exported by one graphite instance to a loopback
//! receiver that reads and counts. Reports the exporting thread's CPU time
//! per exported metric (user + system, from getrusage(RUSAGE_THREAD)).
//!
//! ```sh
//! cargo bench -p backhaul --bench export_e2e                # 10k, 100k, 1M
//! cargo bench -p backhaul --bench export_e2e -- 100000 as-collected
//! ```
//!
//! Arguments (optional): dimension counts, data sources (`average`,
//! `sum`, `as-collected`) and connectors (`graphite`, `json`,
//! `graphite:http`, `json:http`, `prometheus_remote_write`; default
//! `graphite`: HTTP ones post to a loopback HTTP/1.1 receiver that answers
//! 200, and decodes remote write bodies to count their samples). Each case runs 30 intervals (5 at 1M) after one
//! warm-up; the instance's interval is 10 s of stored points (windows of 10
//! points). `BENCH_UPDATE_EVERY` and `BENCH_INTERVALS` change those.
//!
//! `BENCH_CATCHUP=1` measures replay instead: after the warm-up the
//! instance misses every interval (as during an outage longer than its
//! ring of 10 batches), then catches up with all of them from the store at
//! an unbounded `replay windows per second`; the figure is the thread's CPU
//! for the whole catch-up (building, writing, and polling the socket for
//! acknowledgements while the ring is full) per metric. `BENCH_REPLAY=0`
//! runs the live case with replay off (netdata's ring). `BENCH_OUTAGE=1`
//! sends to a port where nothing listens for every interval and reports
//! the ring's fill and the process's RSS (the backlog stays in the store);
//! `BENCH_RING_MAX_BYTES` sets the ring's byte bound (default 64 MiB).

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backhaul::config::DataSource;
use backhaul::exporting::backoff::ExponentialBackoff;
use backhaul::exporting::delivery::http::{BodyFraming, HttpDelivery, HttpSettings};
use backhaul::exporting::delivery::lines::LineDelivery;
use backhaul::exporting::monitoring::IntervalCounters;
use backhaul::exporting::{
    BatchBuilder, BatchRing, BatchSettings, Delivery, Endpoint, Format, Instance, InstanceParts,
    Schedule, Transport,
};
use backhaul::sys::thread_cpu_ns;
use rrd::{ChartDef, DimensionDef, Host, Store};

const S: u64 = 1_000_000;
const T0: i64 = 1_700_000_000;
const DIMS_PER_CHART: usize = 100;

fn build_store(dims: usize, until: i64, history: usize) -> (Arc<Store>, Vec<Arc<rrd::Chart>>) {
    let store = Arc::new(Store::new(Host::new("benchhost", history)));
    let mut charts = Vec::new();
    for c in 0..dims.div_ceil(DIMS_PER_CHART) {
        let chart = store.localhost().create_chart(
            ChartDef::new("bench", format!("chart_{c}")).name(format!("chart_name_{c}")),
        );
        {
            let mut w = chart.write();
            for d in 0..DIMS_PER_CHART.min(dims - c * DIMS_PER_CHART) {
                w.add_dimension(DimensionDef::new(format!("dim_{d}")));
            }
        }
        charts.push(chart);
    }
    fill(&charts, T0 - 30, until);
    (store, charts)
}

fn fill(charts: &[Arc<rrd::Chart>], from: i64, until: i64) {
    for t in from..=until {
        for chart in charts {
            let mut w = chart.write();
            let n = w.dimensions().len();
            for d in 0..n {
                w.set(d, (t * 7 + d as i64) % 100_000);
            }
            w.done(t as u64 * S).expect("increasing time");
        }
    }
}

struct Sink {
    addr: std::net::SocketAddr,
    lines: Arc<AtomicU64>,
}

/// A loopback HTTP/1.1 receiver: reads each request's body (Content-Length
/// framing), counts its metric lines (`[`/`]` lines of JSON bodies aside),
/// answers `200` with an empty body.
fn http_sink() -> Sink {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let lines = Arc::new(AtomicU64::new(0));
    let counter = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
                let mut chunk = vec![0u8; 1 << 20];
                loop {
                    // Head.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let json = head.contains("application/json");
                    let protobuf = head.contains("application/x-protobuf");
                    while buf.len() < head_end + length {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = &buf[head_end..head_end + length];
                    let newlines = body.iter().filter(|&&b| b == b'\n').count();
                    let metrics = if protobuf {
                        use prost::Message as _;
                        let raw = snap::raw::Decoder::new()
                            .decompress_vec(body)
                            .expect("snappy body");
                        wire::format::remote_write::WriteRequest::decode(raw.as_slice())
                            .expect("protobuf body")
                            .timeseries
                            .len()
                    } else if json {
                        newlines.saturating_sub(2)
                    } else {
                        newlines
                    };
                    counter.fetch_add(metrics as u64, Ordering::Relaxed);
                    buf.drain(..head_end + length);
                    if stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Sink { addr, lines }
}

fn sink() -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let lines = Arc::new(AtomicU64::new(0));
    let counter = lines.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    let newlines = buf[..n].iter().filter(|&&b| b == b'\n').count();
                    counter.fetch_add(newlines as u64, Ordering::Relaxed);
                }
            });
        }
    });
    Sink { addr, lines }
}

/// The instance's update every: 10 s, or `BENCH_UPDATE_EVERY`.
fn update_every() -> i64 {
    std::env::var("BENCH_UPDATE_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v >= 1)
        .unwrap_or(10)
}

/// Intervals to measure: 30 (5 at 1M dimensions), or `BENCH_INTERVALS`.
fn intervals_for(dims: usize) -> i64 {
    std::env::var("BENCH_INTERVALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if dims >= 1_000_000 { 5 } else { 30 })
}

fn run_case(dims: usize, source: DataSource, connector: &str) {
    #[allow(non_snake_case)]
    let UPDATE_EVERY = update_every();
    // Enough intervals for a stable median; the ring holds them all.
    let intervals: i64 = intervals_for(dims);
    let until = T0 + UPDATE_EVERY * (intervals + 1);
    let history = (until - T0 + 40) as usize;
    let t_build = Instant::now();
    let (store, charts) = build_store(dims, until, history);
    let build_s = t_build.elapsed().as_secs_f64();
    let http = connector.ends_with(":http") || connector == "prometheus_remote_write";
    let sink = if http { http_sink() } else { sink() };
    let settings = BatchSettings {
        data_source: source,
        prefix: "netdata".into(),
        hostname: "benchhost".into(),
        update_every: UPDATE_EVERY as u32,
        send_names_instead_of_ids: true,
        send_charts_matching: "*".into(),
        send_hosts_matching: "localhost *".into(),
        send_configured_labels: true,
        send_automatic_labels: false,
        host_tags: Vec::new(),
        send_variables: false,
    };
    let outage = std::env::var("BENCH_OUTAGE").is_ok_and(|v| v == "1");
    let port = if outage {
        // Nothing listens there: the receiver is down for the whole run.
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    } else {
        sink.addr.port()
    };
    let endpoint = Endpoint {
        host: "127.0.0.1".into(),
        port,
    };
    let retry = || {
        Box::new(ExponentialBackoff::new(
            Duration::from_secs(1),
            Duration::from_secs(10),
        ))
    };
    let (format, delivery): (Format, Box<dyn Delivery>) = match connector {
        "graphite" | "json" => (
            if connector == "json" {
                Format::Json
            } else {
                Format::Graphite
            },
            Box::new(LineDelivery::new(
                "bench",
                Transport::new(vec![endpoint], Duration::from_secs(10)),
                retry(),
                Duration::from_secs(10),
            )),
        ),
        "graphite:http" | "json:http" => {
            let json = connector == "json:http";
            (
                if json {
                    Format::JsonArrayItems
                } else {
                    Format::Graphite
                },
                Box::new(HttpDelivery::new(
                    "bench",
                    HttpSettings {
                        endpoints: vec![(endpoint, "/api/put".into())],
                        content_type: if json {
                            "application/json"
                        } else {
                            "application/graphite"
                        },
                        framing: if json {
                            BodyFraming::JsonArray
                        } else {
                            BodyFraming::Lines
                        },
                        authorization: None,
                        fixed_headers: &[],
                        extra_headers: Vec::new(),
                        max_lines: None,
                        max_body: 64 << 20,
                        timeout: Duration::from_secs(10),
                        tls: None,
                        primary_check_every: Duration::from_secs(60),
                        retry: retry(),
                    },
                )),
            )
        }
        "prometheus_remote_write" => (
            Format::PrometheusRemoteWrite,
            Box::new(HttpDelivery::new(
                "bench",
                HttpSettings {
                    endpoints: vec![(endpoint, "/api/v1/write".into())],
                    content_type: "application/x-protobuf",
                    framing: BodyFraming::RemoteWrite,
                    authorization: None,
                    fixed_headers: &[
                        ("Content-Encoding", "snappy"),
                        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                    ],
                    extra_headers: Vec::new(),
                    max_lines: Some(10_000),
                    max_body: 64 << 20,
                    timeout: Duration::from_secs(10),
                    tls: None,
                    primary_check_every: Duration::from_secs(60),
                    retry: retry(),
                },
            )),
        ),
        other => panic!("unknown connector {other}"),
    };
    let mut inst = Instance::new(InstanceParts {
        name: "bench".into(),
        destination: sink.addr.to_string(),
        update_every: UPDATE_EVERY as u32,
        builder: BatchBuilder::new(settings, format),
        delivery,
        ring: BatchRing::new(10).with_max_bytes(
            std::env::var("BENCH_RING_MAX_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(backhaul::config::DEFAULT_BUFFER_ON_FAILURES_MAX_BYTES),
        ),
        charts: None,
        schedule: Schedule::with_offset(UPDATE_EVERY as u32, 0),
    });
    // Warm-up interval: fills the name caches and connects.
    inst.tick(&store, T0, IntervalCounters::default());
    if outage {
        let rss0 = rss_kib();
        let mut peak_rss = rss0;
        let mut peak_ring = 0;
        for i in 1..=intervals {
            inst.tick(&store, T0 + i * UPDATE_EVERY, IntervalCounters::default());
            peak_rss = peak_rss.max(rss_kib());
            peak_ring = peak_ring.max(inst.ring.buffered_bytes());
        }
        println!(
            "export_e2e outage {connector} dims={dims} intervals={intervals}: ring at most {} batches, {:.1} MiB (bound: buffer on failures max bytes {:.0} MiB + one batch); RSS {:.1} MiB after the warm-up, at most {:.1} MiB during the outage (+{:.1} MiB); backlog left in the store since {:?}",
            inst.ring.len(),
            peak_ring as f64 / 1048576.0,
            inst.ring.max_bytes() as f64 / 1048576.0,
            rss0 as f64 / 1024.0,
            peak_rss as f64 / 1024.0,
            (peak_rss - rss0) as f64 / 1024.0,
            inst.backlog_since(),
        );
        return;
    }
    let warm_metrics = inst.totals.built_metrics.load(Ordering::Relaxed);
    let mut cpu_ns = 0u64;
    let mut build_ns = 0u64;
    let mut per_interval: Vec<u64> = Vec::new();
    if std::env::var("BENCH_REPLAY").is_ok_and(|v| v == "0") {
        // netdata's ring (the live path before replay existed).
        inst.set_replay_rate(0);
    }
    let catch_up = std::env::var("BENCH_CATCHUP").is_ok_and(|v| v == "1");
    if catch_up {
        inst.set_replay_rate(u32::MAX);
        let c0 = thread_cpu_ns();
        let built_before = inst.totals.build_cpu_ns.load(Ordering::Relaxed);
        inst.tick(
            &store,
            T0 + intervals * UPDATE_EVERY,
            IntervalCounters::default(),
        );
        while inst.backlog_since().is_some() || !inst.ring.is_empty() {
            let mut c = IntervalCounters::default();
            inst.poll_peer(&mut c);
            inst.catch_up(&store, &mut c);
            inst.deliver(&mut c);
            if inst.backlog_since().is_some() && !inst.ring.has_room() {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        cpu_ns = thread_cpu_ns() - c0;
        build_ns = inst.totals.build_cpu_ns.load(Ordering::Relaxed) - built_before;
        per_interval.push(cpu_ns / intervals as u64);
    }
    for i in (1..=intervals).filter(|_| !catch_up) {
        let before = T0 + i * UPDATE_EVERY;
        if source == DataSource::AsCollected {
            // As collected exports each new collection: make one per interval.
            fill(&charts, until + i, until + i);
        }
        let built_before = inst.totals.build_cpu_ns.load(Ordering::Relaxed);
        let c0 = thread_cpu_ns();
        inst.tick(&store, before, IntervalCounters::default());
        let spent = thread_cpu_ns() - c0;
        per_interval.push(spent);
        cpu_ns += spent;
        build_ns += inst.totals.build_cpu_ns.load(Ordering::Relaxed) - built_before;
    }
    per_interval.sort_unstable();
    let median_ns = per_interval[per_interval.len() / 2];
    let built = inst.totals.built_metrics.load(Ordering::Relaxed) - warm_metrics;
    // Let the receiver catch up, then check it got everything.
    let expected = built + warm_metrics;
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.lines.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        let mut c = IntervalCounters::default();
        inst.deliver(&mut c);
        std::thread::sleep(Duration::from_millis(5));
    }
    let received = sink.lines.load(Ordering::Relaxed);
    let per_metric = cpu_ns as f64 / built as f64;
    let per_metric_median = median_ns as f64 / (built as f64 / intervals as f64);
    let per_metric_build = build_ns as f64 / built as f64;
    let interval_cpu_ms = cpu_ns as f64 / intervals as f64 / 1e6;
    println!(
        "export_e2e {}{connector:<13} dims={dims:>8} source={:<12} metrics/interval={:>8} cpu/metric: median {per_metric_median:>6.1} ns, mean {per_metric:>6.1} ns (format+query {per_metric_build:>6.1} ns) cpu/interval={interval_cpu_ms:>8.2} ms = {:.3}% of a core at update every {UPDATE_EVERY}s; received {received}/{expected}; store built in {build_s:.1}s",
        if catch_up { "catch-up " } else { "" },
        source.as_str(),
        built / intervals as u64,
        interval_cpu_ms / (UPDATE_EVERY as f64 * 1000.0) * 100.0,
    );
    assert_eq!(received, expected, "the receiver must get every line");
}

/// The process's resident set (VmRSS), KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mut dims: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let mut sources: Vec<DataSource> = args
        .iter()
        .filter_map(|a| DataSource::parse(&a.replace('-', " ")).ok())
        .collect();
    if dims.is_empty() {
        dims = vec![10_000, 100_000, 1_000_000];
    }
    if sources.is_empty() {
        sources = vec![DataSource::Average];
    }
    let mut connectors: Vec<&str> = [
        "graphite",
        "json",
        "graphite:http",
        "json:http",
        "prometheus_remote_write",
    ]
    .into_iter()
    .filter(|c| args.iter().any(|a| a == c))
    .collect();
    if connectors.is_empty() {
        connectors = vec!["graphite"];
    }
    for &n in &dims {
        for &s in &sources {
            for c in &connectors {
                run_case(n, s, c);
            }
        }
    }
}
