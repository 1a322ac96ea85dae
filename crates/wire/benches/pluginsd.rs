//! plugins.d ingestion speed: framing + parsing, reported as SET values per
//! second (criterion's "elements").
//!
//! - `synthetic_250x200`: 250 charts × 200 dimensions of `BEGIN`/`SET`/`END`
//!   (50,000 SET lines, ~1.4 MB), fed in 64 KiB reads as from a pipe.
//! - `apps_plugin_sample`: 5 s of real apps.plugin output (760 SET lines
//!   among 1,620 lines, with CHART/DIMENSION/FUNCTION definitions).
//! - `parse_only_set_lines`: the SET lines of the synthetic buffer, already
//!   split, through `parse_line` alone.
//!
//! Run: `cargo bench -p wire --bench pluginsd -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wire::pluginsd::{parse_line, Command, LineFramer};

const APPS: &[u8] = include_bytes!("../tests/pluginsd/apps.plugin.stdout.txt");
const PIPE_READ: usize = 64 * 1024;

/// 250 charts × 200 dimensions, one collection, values of varied width.
fn synthetic_buffer() -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(2 << 20);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut sets = 0;
    for chart in 0..250 {
        out.extend_from_slice(format!("BEGIN bench.chart_{chart} 1000000\n").as_bytes());
        for dimension in 0..200 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // 1 to 12 digits, now and then negative, like real counters
            // and gauges.
            let digits = 1 + (state % 12) as u32;
            let magnitude = ((state >> 8) % 10u64.pow(digits)) as i64;
            let value = if state & 15 == 0 {
                -magnitude
            } else {
                magnitude
            };
            out.extend_from_slice(format!("SET dimension_{dimension} = {value}\n").as_bytes());
            sets += 1;
        }
        out.extend_from_slice(b"END\n");
    }
    (out, sets)
}

fn count_sets(input: &[u8]) -> u64 {
    input
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"SET "))
        .count() as u64
}

/// Frames and parses `input` as if read from a pipe; returns a checksum.
fn ingest(framer: &mut LineFramer, input: &[u8]) -> i64 {
    let mut checksum: i64 = 0;
    for read in input.chunks(PIPE_READ) {
        let mut rest = read;
        while !rest.is_empty() {
            let room = framer.read_buf();
            let n = room.len().min(rest.len());
            room[..n].copy_from_slice(&rest[..n]);
            framer.commit(n);
            rest = &rest[n..];
            while let Some(frame) = framer.next_line() {
                let Ok(line) = frame else { continue };
                match parse_line(line) {
                    Ok(Command::Set {
                        value: Some(value), ..
                    }) => checksum = checksum.wrapping_add(value),
                    Ok(Command::Set { value: None, .. }) => checksum = checksum.wrapping_add(1),
                    Ok(_) => checksum = checksum.wrapping_add(3),
                    Err(_) => checksum = checksum.wrapping_sub(7),
                }
            }
        }
    }
    checksum
}

fn bench_pluginsd(c: &mut Criterion) {
    let (synthetic, synthetic_sets) = synthetic_buffer();
    assert_eq!(synthetic_sets, count_sets(&synthetic));
    let apps_sets = count_sets(APPS);

    let mut group = c.benchmark_group("pluginsd");

    group.throughput(Throughput::Elements(synthetic_sets));
    group.bench_function("synthetic_250x200", |b| {
        let mut framer = LineFramer::new();
        b.iter(|| black_box(ingest(&mut framer, black_box(&synthetic))));
    });

    group.throughput(Throughput::Elements(apps_sets));
    group.bench_function("apps_plugin_sample", |b| {
        let mut framer = LineFramer::new();
        b.iter(|| black_box(ingest(&mut framer, black_box(APPS))));
    });

    let set_lines: Vec<&[u8]> = synthetic
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"SET "))
        .collect();
    group.throughput(Throughput::Elements(set_lines.len() as u64));
    group.bench_function("parse_only_set_lines", |b| {
        b.iter(|| {
            let mut checksum: i64 = 0;
            for line in &set_lines {
                if let Ok(Command::Set {
                    value: Some(value), ..
                }) = parse_line(black_box(line))
                {
                    checksum = checksum.wrapping_add(value);
                }
            }
            black_box(checksum)
        });
    });

    group.finish();
}

criterion_group!(benches, bench_pluginsd);
criterion_main!(benches);
