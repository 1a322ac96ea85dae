//! plugins.d ingest bench: a synthetic plugin of 250 charts x 200
//! dimensions (the lab's load test shape) replayed round after round
//! through the line framer (64 KiB reads, as from a pipe), the parser and
//! the store, on one thread. Reports SET values per second for
//! framer + parse alone and for framer + parse + store.
//!
//! ```sh
//! cargo bench -p backhaul --bench pluginsd_ingest            # 300 rounds
//! cargo bench -p backhaul --bench pluginsd_ingest -- 1000    # rounds
//! ```
//!
//! Half the dimensions are `absolute`, half `incremental`; values are
//! counters of 1 to 10 digits that grow every round; 20 distinct rounds of
//! text are pre-generated and cycled (the store sees a counter reset once
//! per cycle, as after a plugin restart). Each round is completed one
//! second after the previous one, so every `END` stores a point.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use backhaul::collectors::pluginsd::{Ingest, IngestLimits, IngestSettings};
use rrd::{Host, Store};
use wire::pluginsd::{parse_line, Command, LineFramer, DEFAULT_READ_CHUNK};

const CHARTS: usize = 250;
const DIMS: usize = 200;
const DISTINCT_ROUNDS: usize = 20;
const S: u64 = 1_000_000;
const T0: u64 = 1_700_000_000 * S;

fn definitions() -> Vec<u8> {
    let mut text = String::new();
    for c in 0..CHARTS {
        text.push_str(&format!(
            "CHART bench.chart_{c} '' 'Bench chart {c}' 'units' family bench.context line {} 1\n",
            1000 + c
        ));
        for d in 0..DIMS {
            let algorithm = if d % 2 == 0 {
                "absolute"
            } else {
                "incremental"
            };
            text.push_str(&format!("DIMENSION dim_{d} '' {algorithm} 1 1\n"));
        }
    }
    text.into_bytes()
}

fn round(r: usize) -> Vec<u8> {
    let mut text = String::with_capacity(CHARTS * DIMS * 24);
    for c in 0..CHARTS {
        text.push_str(&format!("BEGIN bench.chart_{c} 1000000\n"));
        for d in 0..DIMS {
            // 1 to 10 digits, growing with the round.
            let magnitude = 10u64.pow((d % 10) as u32);
            let value = magnitude + (r as u64 + 1) * (d as u64 + 1) * (c as u64 + 1);
            text.push_str(&format!("SET dim_{d} = {value}\n"));
        }
        text.push_str("END\n");
    }
    text.into_bytes()
}

/// Copies `bytes` into the framer in pipe-sized reads, calling `on_lines`
/// after each read.
fn feed(framer: &mut LineFramer, mut bytes: &[u8], mut on_lines: impl FnMut(&mut LineFramer)) {
    while !bytes.is_empty() {
        let room = framer.read_buf();
        let n = room.len().min(bytes.len()).min(DEFAULT_READ_CHUNK);
        room[..n].copy_from_slice(&bytes[..n]);
        framer.commit(n);
        bytes = &bytes[n..];
        on_lines(framer);
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(300);
    let definitions = definitions();
    let texts: Vec<Vec<u8>> = (0..DISTINCT_ROUNDS).map(round).collect();
    let bytes_per_round = texts[0].len();
    let sets_per_round = (CHARTS * DIMS) as u64;
    println!(
        "pluginsd_ingest: {CHARTS} charts x {DIMS} dims, {rounds} rounds, \
         {} KiB of text per round",
        bytes_per_round / 1024
    );

    // framer + parse only.
    let mut framer = LineFramer::new();
    let mut sets = 0u64;
    let started = Instant::now();
    for r in 0..rounds {
        feed(&mut framer, &texts[r % DISTINCT_ROUNDS], |framer| {
            while let Some(frame) = framer.next_line() {
                if let Ok(line) = frame {
                    if let Ok(Command::Set { value, .. }) = parse_line(line) {
                        sets += 1;
                        black_box(value);
                    }
                }
            }
        });
    }
    let parse_secs = started.elapsed().as_secs_f64();
    assert_eq!(sets, sets_per_round * rounds as u64);
    report("framer + parse", sets, parse_secs, bytes_per_round * rounds);

    // framer + parse + store.
    let store = Arc::new(Store::new(Host::new("bench", 60)));
    let mut ingest = Ingest::new(
        IngestSettings {
            plugin: Arc::from("bench"),
            plugin_file: "bench.plugin".to_string(),
            update_every: 1,
            limits: IngestLimits::default(),
        },
        store.localhost().clone(),
    );
    let now = Cell::new(T0);
    let mut clock = || now.get();
    let mut framer = LineFramer::new();
    feed(&mut framer, &definitions, |framer| {
        ingest.drain(framer, &mut clock);
    });
    // One warm-up round.
    now.set(now.get() + S);
    feed(&mut framer, &texts[0], |framer| {
        ingest.drain(framer, &mut clock);
    });
    let before = ingest.counters();
    let started = Instant::now();
    for r in 0..rounds {
        now.set(now.get() + S);
        feed(&mut framer, &texts[(r + 1) % DISTINCT_ROUNDS], |framer| {
            ingest.drain(framer, &mut clock);
        });
    }
    let ingest_secs = started.elapsed().as_secs_f64();
    let after = ingest.counters();
    let stored = after.values - before.values;
    assert_eq!(stored, sets_per_round * rounds as u64, "{after:?}");
    assert_eq!(
        after.collections - before.collections,
        (CHARTS * rounds) as u64
    );
    report(
        "framer + parse + store",
        stored,
        ingest_secs,
        bytes_per_round * rounds,
    );
    let chart = store
        .localhost()
        .chart_by_id("bench.chart_0")
        .expect("chart");
    black_box(chart.read().rounds());
}

fn report(what: &str, sets: u64, secs: f64, bytes: usize) {
    println!(
        "{what:>24}: {:>7.2} M SET/s  {:>6.1} ns/SET  {:>7.1} MiB/s  ({sets} SETs in {secs:.3} s)",
        sets as f64 / secs / 1e6,
        secs * 1e9 / sets as f64,
        bytes as f64 / secs / (1024.0 * 1024.0),
    );
}
