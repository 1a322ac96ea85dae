//! Cost of the /proc collectors: every default collector, reading this
//! machine's real /proc, run back to back for N cycles on one thread.
//! Reports the thread's CPU time per cycle; at `update every = 1` that is
//! the share of one core the collectors cost.
//!
//! ```sh
//! cargo bench -p backhaul --bench proc_cost            # 300 cycles
//! cargo bench -p backhaul --bench proc_cost -- 1000
//! cargo bench -p backhaul --bench proc_cost -- 30 --pause-ms 1000  # cold caches
//! ```
//!
//! `--pause-ms` sleeps between cycles, as the agent does: caches and branch
//! predictors go cold, which is what a collection once a second costs.

use std::path::Path;

use backhaul::collectors::proc::default_collectors;
use backhaul::sys::thread_cpu_ns;
use rrd::{Host, Store};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pause_ms: u64 = args
        .iter()
        .position(|a| a == "--pause-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // The first number that is not `--pause-ms`'s value.
    let cycles: u64 = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || args[i - 1] != "--pause-ms")
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(300);
    let store = Store::new(Host::new("bench", 3600));
    let mut collectors = default_collectors(Path::new("/"), 1, &|s| s != "idlejitter");
    let names: Vec<String> = collectors.iter().map(|c| c.name().to_string()).collect();
    let mut per_collector = vec![0u64; collectors.len()];
    // Collection times one second apart, as the scheduler would give.
    let t0 = 1_700_000_000u64 * 1_000_000;
    // Warm-up: charts created, files opened.
    for c in &mut collectors {
        let _ = c.collect(store.localhost(), t0);
    }
    let mut start = thread_cpu_ns();
    for i in 1..=cycles {
        if pause_ms > 0 {
            let before = thread_cpu_ns();
            std::thread::sleep(std::time::Duration::from_millis(pause_ms));
            start += thread_cpu_ns() - before;
        }
        for (k, c) in collectors.iter_mut().enumerate() {
            let before = thread_cpu_ns();
            let _ = c.collect(store.localhost(), t0 + i * 1_000_000);
            per_collector[k] += thread_cpu_ns() - before;
        }
    }
    let total = thread_cpu_ns() - start;
    let per_cycle_us = total as f64 / cycles as f64 / 1000.0;
    println!(
        "proc_cost cycles={cycles} pause={pause_ms}ms collectors={} cpu/cycle={per_cycle_us:.1} us = {:.3}% of one core at update every 1s",
        collectors.len(),
        per_cycle_us / 1e6 * 100.0
    );
    for (name, ns) in names.iter().zip(per_collector) {
        println!(
            "  {name:<16} {:>8.1} us/cycle",
            ns as f64 / cycles as f64 / 1000.0
        );
    }
    let charts = store.localhost().chart_count();
    println!("  charts collected: {charts}");
}
