//! `/api/v1/allmetrics?format=prometheus` on the side-by-side load: a store
//! of 50 000 dimensions (500 charts of 100, 1 s points), scraped by one
//! scraper every 10 s of stored time. Reports the CPU time of `serve` per
//! served series (thread CPU, user + system).
//!
//! ```sh
//! cargo bench -p backhaul --bench allmetrics            # 50k series
//! cargo bench -p backhaul --bench allmetrics -- 200000  # another size
//! cargo bench -p backhaul --bench allmetrics -- format=prometheus  # one query
//! BENCH_SCRAPES=200 cargo bench -p backhaul --bench allmetrics  # more scrapes (for perf)
//! BENCH_COLD=1 cargo bench -p backhaul --bench allmetrics  # caches flushed before each scrape
//! ```
//!
//! `BENCH_COLD=1` writes 64 MiB elsewhere before each scrape (outside the
//! measured time), so the scrape finds the store out of the CPU's caches,
//! as a real scrape every 10 s does.

use std::net::{IpAddr, Ipv4Addr};

use backhaul::config::PrometheusExporterConfig;
use backhaul::sys::thread_cpu_ns;
use backhaul::web::allmetrics::{serve, AllmetricsState};
use rrd::{ChartDef, DimensionDef, Host, Store};

const S: u64 = 1_000_000;
const T0: i64 = 1_700_000_000;
const DIMS_PER_CHART: usize = 100;
const EVERY: i64 = 10;
const QUERIES: [&str; 4] = [
    "format=prometheus",
    "format=prometheus&types=yes&help=yes",
    "format=prometheus&data=as-collected",
    "format=shell",
];

fn main() {
    let dims: usize = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(50_000);
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.starts_with("format="))
        .collect();
    let scrapes: i64 = std::env::var("BENCH_SCRAPES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut flush = std::env::var("BENCH_COLD")
        .is_ok_and(|v| v == "1")
        .then(|| vec![0u8; 64 << 20]);
    let until = T0 + EVERY * (scrapes + 1) + 5;
    let store = Store::new(Host::new("benchhost", (until - T0 + 40) as usize));
    let mut charts = Vec::new();
    for c in 0..dims.div_ceil(DIMS_PER_CHART) {
        let chart = store.localhost().create_chart(
            ChartDef::new("bench", format!("chart_{c}"))
                .name(format!("chart_name_{c}"))
                .units("requests/s")
                .family("bench family")
                .context(format!("bench.context_{}", c % 50)),
        );
        {
            let mut w = chart.write();
            for d in 0..DIMS_PER_CHART.min(dims - c * DIMS_PER_CHART) {
                w.add_dimension(DimensionDef::new(format!("dim_{d}")));
            }
        }
        charts.push(chart);
    }
    for t in T0 - 30..=until {
        for chart in &charts {
            let mut w = chart.write();
            for d in 0..w.dimensions().len() {
                w.set(d, (t * 7 + d as i64) % 100_000);
            }
            w.done(t as u64 * S).expect("increasing time");
        }
    }
    let cfg = PrometheusExporterConfig::default();
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for query in QUERIES
        .into_iter()
        .filter(|q| only.is_empty() || only.iter().any(|o| o == q))
    {
        let state = AllmetricsState::new();
        let warm = serve(query, client, None, &store, &cfg, &state, T0);
        let mut cpu = 0u64;
        let mut bytes = 0usize;
        let mut series = 0usize;
        for i in 1..=scrapes {
            if let Some(flush) = flush.as_mut() {
                for (k, b) in flush.iter_mut().enumerate().step_by(64) {
                    *b = b.wrapping_add(k as u8);
                }
                std::hint::black_box(&flush);
            }
            let c0 = thread_cpu_ns();
            let r = serve(query, client, None, &store, &cfg, &state, T0 + i * EVERY);
            cpu += thread_cpu_ns() - c0;
            bytes += r.body.len();
            series += r
                .body
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty() && l[0] != b'#')
                .count();
        }
        println!(
            "allmetrics {query:<40} dims={dims:>7} series/scrape={:>7} cpu/series {:>6.1} ns, cpu/scrape {:>7.2} ms, {:>8} bytes/scrape (warm-up {} bytes)",
            series / scrapes as usize,
            cpu as f64 / series as f64,
            cpu as f64 / scrapes as f64 / 1e6,
            bytes / scrapes as usize,
            warm.body.len(),
        );
    }
}
