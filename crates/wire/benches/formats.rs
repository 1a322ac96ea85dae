//! Per-line cost of the encoders (graphite, opentsdb, json; stored and
//! as-collected values; remote write bodies), of the number formatting, and of the cached pieces
//! the engine builds once per chart, dimension or batch.
//!
//! Run: `cargo bench -p wire --bench formats -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use wire::format::{graphite, json, opentsdb, MetricValue};
use wire::number::{write_collected_value, write_stored_value, RenderedTimestamp};
use wire::simple_pattern::SimplePattern;

/// The lab's host labels, as stored.
const LABELS: [(&str, &str); 4] = [
    ("env", "lab"),
    ("team_name", "rust port:semi_tilde"),
    ("_is_ephemeral", "false"),
    ("_has_unstable_connection", "false"),
];

const STORED: MetricValue = MetricValue::Stored(55.66016);
const COLLECTED: MetricValue = MetricValue::Collected(1_234_567);
const TIMESTAMP: i64 = 1_795_688_386;

fn numbers(c: &mut Criterion) {
    let mut group = c.benchmark_group("number");
    let mut buf = Vec::with_capacity(64);
    for (label, value) in [
        ("stored_small", 2.5),
        ("stored_typical", 55.66016),
        ("stored_big", 123_456_790_000_000.0),
        ("stored_fallback_1e20", 1e20),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                buf.clear();
                write_stored_value(&mut buf, black_box(value));
                black_box(&buf);
            })
        });
    }
    group.bench_function("std_format_7_decimals", |b| {
        use std::io::Write as _;
        b.iter(|| {
            buf.clear();
            let _ = write!(buf, "{:.7}", black_box(55.66016f64));
            black_box(&buf);
        })
    });
    group.bench_function("collected", |b| {
        b.iter(|| {
            buf.clear();
            write_collected_value(&mut buf, black_box(1_234_567));
            black_box(&buf);
        })
    });
    group.finish();
}

fn graphite_lines(c: &mut Criterion) {
    let mut group = c.benchmark_group("graphite");
    let tags = graphite::Tags::new(LABELS);
    let no_tags = graphite::Tags::none();
    let metric = graphite::ChartPath::new("netdata", "vm", "mem.slab").metric("reclaimable");
    let mut buf = Vec::with_capacity(256);
    for (label, value, tags) in [
        ("line_stored_labels", STORED, &tags),
        ("line_collected_labels", COLLECTED, &tags),
        ("line_stored_no_labels", STORED, &no_tags),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                buf.clear();
                graphite::write_line(
                    &mut buf,
                    black_box(&metric),
                    tags,
                    black_box(value),
                    TIMESTAMP,
                );
                black_box(&buf);
            })
        });
    }
    group.bench_function("build_metric_path", |b| {
        b.iter(|| {
            graphite::MetricPath::new(
                "netdata",
                "vm",
                black_box("lab.Weird Name/with space"),
                "dim name",
            )
        })
    });
    group.bench_function("build_tags", |b| {
        b.iter(|| graphite::Tags::new(black_box(LABELS)))
    });
    group.finish();
}

fn opentsdb_lines(c: &mut Criterion) {
    let mut group = c.benchmark_group("opentsdb");
    let tags = opentsdb::Tags::new("vm", LABELS);
    let metric = opentsdb::ChartPath::new("netdata", "mem.slab").metric("reclaimable");
    let mut buf = Vec::with_capacity(256);
    for (label, value) in [
        ("line_stored_labels", STORED),
        ("line_collected_labels", COLLECTED),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                buf.clear();
                opentsdb::write_line(
                    &mut buf,
                    black_box(&metric),
                    &tags,
                    black_box(value),
                    TIMESTAMP,
                );
                black_box(&buf);
            })
        });
    }
    group.finish();
}

fn json_lines(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    let host = json::HostFields::with_labels("netdata", "vm", LABELS);
    let chart = json::ChartFields::new(&json::ChartInfo {
        id: "mem.slab",
        name: "mem.slab",
        family: "slab",
        context: "mem.slab",
        chart_type: "mem",
        units: "MiB",
    });
    let dimension = json::DimensionFields::new("reclaimable", "reclaimable");
    let mut buf = Vec::with_capacity(512);
    for (label, value) in [
        ("line_stored_labels", STORED),
        ("line_collected_labels", COLLECTED),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                buf.clear();
                json::write_line(
                    &mut buf,
                    &host,
                    black_box(&chart),
                    &dimension,
                    black_box(value),
                    TIMESTAMP,
                );
                black_box(&buf);
            })
        });
    }
    group.finish();
}

fn patterns(c: &mut Criterion) {
    let mut group = c.benchmark_group("simple_pattern");
    let pattern = SimplePattern::new("!*.slow !apps.* system.* mem.* *cpu*");
    group.bench_function("match_5_words", |b| {
        b.iter(|| pattern.matches(black_box("netdata.exporting_main_thread_cpu")))
    });
    group.finish();
}

/// The engine's path: a chart's 200 lines at once through `ChartMetrics`
/// (names cached per chart, the timestamp rendered once per batch), with
/// whole and with fractional values. Reported per line (element).
fn graphite_chart(c: &mut Criterion) {
    let mut group = c.benchmark_group("graphite_chart");
    let head = graphite::ChartPath::new("netdata", "benchhost", "synth.chart_042");
    let mut names = graphite::ChartMetrics::new(&head);
    for d in 0..200 {
        names.push(&format!("dim_{d:03}"));
    }
    let tags = graphite::Tags::none();
    let timestamp = RenderedTimestamp::new(TIMESTAMP);
    let whole: Vec<f64> = (0..200)
        .map(|d| f64::from((d * 7919 + 104_729) % 1_000_003))
        .collect();
    let fractional: Vec<f64> = whole.iter().map(|v| v / 7.0).collect();
    let mut buf = Vec::with_capacity(64 * 1024);
    group.throughput(Throughput::Elements(200));
    for (label, values) in [
        ("200_lines_whole", &whole),
        ("200_lines_fractional", &fractional),
    ] {
        group.bench_function(label, |b| {
            b.iter(|| {
                buf.clear();
                let lines = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (i, MetricValue::Stored(*v)));
                black_box(names.write_lines(&mut buf, &tags, &timestamp, black_box(lines)));
                black_box(&buf);
            })
        });
    }
    group.finish();
}

/// Remote write: a part of 10 000 records (100 charts of 100 dimensions,
/// the bench export's names) into a request body, by an encoder that has
/// seen the series (the steady state: label bytes from its table) and one
/// that has not (every head parsed), records without their series key
/// (the first format) alike; and snappy alone on the same protobuf.
fn remote_write(c: &mut Criterion) {
    use wire::format::remote_write::{BodyEncoder, ChartSeries, SeriesName};
    let mut group = c.benchmark_group("remote_write");
    let mut batch = Vec::new();
    for chart in 0..100 {
        let mut series = ChartSeries::new();
        for dim in 0..100 {
            series.push(&SeriesName::new(
                format!("netdata_bench_chart_{chart}_value_average").as_bytes(),
                [
                    ("chart", format!("bench.chart_name_{chart}").as_str()),
                    ("family", "bench"),
                    ("dimension", format!("dim_{dim}").as_str()),
                    ("instance", "benchhost"),
                ],
            ));
        }
        series.write_lines(
            &mut batch,
            TIMESTAMP * 1000,
            (0..100).map(|d| (d, MetricValue::Stored(d as f64 * 1.5 + 0.25))),
        );
    }
    let unkeyed: Vec<u8> = batch
        .split_inclusive(|&b| b == b'\n')
        .flat_map(|line| line.get(18..).unwrap_or_default())
        .copied()
        .collect();
    group.throughput(Throughput::Elements(10_000));
    let mut warm = BodyEncoder::new();
    warm.encode(&batch).expect("records");
    group.bench_function("encode_seen_10k", |b| {
        b.iter(|| black_box(warm.encode(black_box(&batch)).expect("records").0.len()))
    });
    group.bench_function("encode_unseen_10k", |b| {
        b.iter_batched(
            BodyEncoder::new,
            |mut encoder| black_box(encoder.encode(black_box(&batch)).expect("records").0.len()),
            criterion::BatchSize::LargeInput,
        )
    });
    let mut plain = BodyEncoder::new();
    group.bench_function("encode_without_keys_10k", |b| {
        b.iter(|| black_box(plain.encode(black_box(&unkeyed)).expect("records").0.len()))
    });
    let raw = snap::raw::Decoder::new()
        .decompress_vec(warm.encode(&batch).expect("records").0)
        .expect("snappy");
    let mut snappy = snap::raw::Encoder::new();
    let mut out = vec![0u8; snap::raw::max_compress_len(raw.len())];
    group.bench_function("snappy_only_10k", |b| {
        b.iter(|| black_box(snappy.compress(black_box(&raw), &mut out).expect("snappy")))
    });
    group.finish();
}

criterion_group!(
    benches,
    numbers,
    remote_write,
    graphite_lines,
    graphite_chart,
    opentsdb_lines,
    json_lines,
    patterns
);
criterion_main!(benches);
