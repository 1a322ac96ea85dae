//! statsd ingest speed: packets of statsd lines read and aggregated into
//! the metrics database (`Metrics::ingest`), reported as metrics (lines)
//! per second (criterion's "elements"); and the flush of those metrics
//! into their private charts.
//!
//! The load: 1,000 metric names (40 % counters, 30 % gauges, 20 % timers,
//! 10 % sets), 20 lines per packet (~600 bytes, as a client batches them
//! under a UDP MTU), sampling rates on a tenth of the counters, the
//! occasional tag. 500 packets (10,000 lines) per iteration.
//!
//! Run: `cargo bench -p backhaul --bench statsd_ingest -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use backhaul::collectors::statsd::metrics::IngestReport;
use backhaul::collectors::statsd::{AppCharts, Metrics, MetricsSettings};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rrd::Host;

const NAMES: usize = 1000;
const LINES_PER_PACKET: usize = 20;
const PACKETS: usize = 500;

fn packets() -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..PACKETS)
        .map(|_| {
            let mut p = String::new();
            for _ in 0..LINES_PER_PACKET {
                let r = next();
                let n = (r % NAMES as u64) as usize;
                let v = (r >> 20) % 10_000;
                match n % 10 {
                    0..=3 if n.is_multiple_of(40) => {
                        p.push_str(&format!("app.requests.n{n}:{}|c|@0.1\n", v % 10))
                    }
                    0..=3 => p.push_str(&format!("app.requests.n{n}:{}|c\n", v % 10)),
                    4..=6 => p.push_str(&format!("app.queue.n{n}:{v}|g|#units:items\n")),
                    7 | 8 => p.push_str(&format!("app.latency.n{n}:{}.{}|ms\n", v / 10, v % 10)),
                    _ => p.push_str(&format!("app.users.n{n}:user{}|s\n", v % 500)),
                }
            }
            p.into_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let packets = packets();
    let lines = (PACKETS * LINES_PER_PACKET) as u64;
    let mut group = c.benchmark_group("statsd");
    group.throughput(Throughput::Elements(lines));

    group.bench_function("parse_only", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for p in &packets {
                for raw in wire::statsd::lines(p) {
                    if wire::statsd::read_line(&raw).is_ok() {
                        n += 1;
                    }
                }
            }
            black_box(n)
        })
    });

    group.bench_function("parse_and_aggregate", |b| {
        let mut metrics = Metrics::new(MetricsSettings::default(), AppCharts::default());
        let host = Host::new("bench", 60);
        let mut t = 1_700_000_000_000_000u64;
        b.iter(|| {
            let mut report = IngestReport::default();
            for p in &packets {
                metrics.ingest(black_box(p), &mut report);
            }
            // One flush per 10,000 lines keeps the timer and set buffers
            // at a realistic size.
            t += 1_000_000;
            metrics.flush(&host, t);
            black_box(report.problems)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("statsd_flush");
    group.throughput(Throughput::Elements(NAMES as u64));
    group.bench_function("flush_1000_metrics", |b| {
        let host = Host::new("bench", 60);
        let mut t = 1_700_000_000_000_000u64;
        b.iter_batched_ref(
            || {
                let mut metrics = Metrics::new(MetricsSettings::default(), AppCharts::default());
                let mut report = IngestReport::default();
                for p in &packets {
                    metrics.ingest(p, &mut report);
                }
                metrics
            },
            |metrics| {
                t += 1_000_000;
                metrics.flush(&host, t);
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
