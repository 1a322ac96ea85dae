//! Store benchmarks: collection rounds (append) and window aggregation.
//!
//! `cargo bench -p rrd --bench store`

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rrd::{Algorithm, ChartDef, DimensionDef, Host, PackedSample};

const S: u64 = 1_000_000;

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    for (alg, label) in [
        (Algorithm::Absolute, "absolute"),
        (Algorithm::Incremental, "incremental"),
    ] {
        let dims = 200usize;
        g.throughput(Throughput::Elements(dims as u64));
        g.bench_function(format!("{label}/200dims_per_round"), |b| {
            let host = Host::new("h", 3600);
            let chart = host.create_chart(ChartDef::new("bench", "c"));
            let idx: Vec<_> = {
                let mut w = chart.write();
                (0..dims)
                    .map(|i| w.add_dimension(DimensionDef::new(format!("d{i}")).algorithm(alg)))
                    .collect()
            };
            let mut t = 1_000_000u64;
            b.iter(|| {
                let mut w = chart.write();
                for (k, &d) in idx.iter().enumerate() {
                    w.set(d, (t as i64) * 7 + k as i64);
                }
                w.done(t * S).unwrap();
                t += 1;
            });
        });
    }
    g.finish();
}

fn aggregate(c: &mut Criterion) {
    let mut g = c.benchmark_group("aggregate");
    let host = Host::new("h", 3600);
    let chart = host.create_chart(ChartDef::new("bench", "c"));
    let d = chart.write().add_dimension(DimensionDef::new("d"));
    // Fill past one wrap-around.
    for t in 0..5000u64 {
        let mut w = chart.write();
        w.set(d, t as i64);
        w.done((1_000_000 + t) * S).unwrap();
    }
    for window in [1i64, 10, 60, 3600] {
        g.throughput(Throughput::Elements(window as u64));
        g.bench_function(format!("window_{window}s"), |b| {
            let r = chart.read();
            let last = r.last_entry_t().unwrap();
            b.iter(|| {
                black_box(
                    r.aggregate_between(d, black_box(last - window), last)
                        .average(),
                )
            });
        });
    }
    g.finish();
}

fn aggregate_chart(c: &mut Criterion) {
    let mut g = c.benchmark_group("aggregate_all");
    let host = Host::new("h", 3600);
    let chart = host.create_chart(ChartDef::new("bench", "c"));
    let dims = 200;
    {
        let mut w = chart.write();
        for i in 0..dims {
            w.add_dimension(DimensionDef::new(format!("d{i}")));
        }
    }
    for t in 0..5000u64 {
        let mut w = chart.write();
        for d in 0..dims {
            w.set(d, (t + d as u64) as i64);
        }
        w.done((1_000_000 + t) * S).unwrap();
    }
    for window in [1i64, 10, 60] {
        g.throughput(Throughput::Elements(dims as u64));
        g.bench_function(format!("200dims_window_{window}s"), |b| {
            let r = chart.read();
            let last = r.last_entry_t().unwrap();
            let mut out = Vec::new();
            b.iter(|| {
                let w = r.window(black_box(last - window), last).unwrap();
                r.aggregate_all(&w, &mut out);
                black_box(&out);
            });
        });
    }
    g.finish();
}

fn packing(c: &mut Criterion) {
    let mut g = c.benchmark_group("packed");
    let values: Vec<f64> = (0..1024)
        .map(|i| (i as f64 * 1234.5678).sin() * 1e6)
        .collect();
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("pack_1024", |b| {
        b.iter_batched(
            || values.clone(),
            |v| {
                v.iter()
                    .map(|&x| PackedSample::pack(x).to_bits())
                    .fold(0u32, |a, x| a ^ x)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, append, aggregate, aggregate_chart, packing);
criterion_main!(benches);
