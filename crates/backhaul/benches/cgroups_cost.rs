//! Cost of the cgroups collector per collection, between discoveries:
//! reading every cgroup's files and completing its charts, on one thread.
//!
//! ```sh
//! cargo bench -p backhaul --bench cgroups_cost                 # 50 real cgroups, 300 rounds
//! cargo bench -p backhaul --bench cgroups_cost -- 200 1000     # 200 cgroups, 1000 rounds
//! ```
//!
//! The cgroups are made in this machine's unified hierarchy (removed at
//! the end; needs root and a writable cgroup2 mount), so the files are the
//! kernel's own: on this machine kind a child has `cpu.stat` and the three
//! pressure files (15 charts each). Reports the thread's CPU time per
//! round; at one round a second that is the share of one core.

use std::path::{Path, PathBuf};

use backhaul::collectors::cgroups::{CgroupsCollector, CgroupsConfig, UnifiedChoice};
use backhaul::collectors::Collector;
use backhaul::sys::thread_cpu_ns;
use rrd::{Host, Store};

/// The first read-write cgroup2 mount.
fn unified_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|l| {
        let (before, after) = l.split_once(" - ")?;
        let mut rest = after.split(' ');
        let (fs, _, options) = (rest.next()?, rest.next()?, rest.next()?);
        (fs == "cgroup2" && options.split(',').any(|o| o == "rw"))
            .then(|| before.split(' ').nth(4).map(PathBuf::from))?
    })
}

struct Made(Vec<PathBuf>);

impl Drop for Made {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn main() {
    let numbers: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let count = numbers.first().copied().unwrap_or(50);
    let rounds = numbers.get(1).copied().unwrap_or(300);
    let Some(mount) = unified_mount() else {
        eprintln!("no cgroup2 mount: nothing to measure");
        return;
    };
    let mut made = Made(Vec::new());
    for i in 0..count {
        let dir = mount.join(format!("bh_bench_{}_{i}", std::process::id()));
        if let Err(e) = std::fs::create_dir(&dir) {
            eprintln!("cannot make {}: {e}", dir.display());
            return;
        }
        made.0.push(dir);
    }
    let config = CgroupsConfig {
        unified: UnifiedChoice::Yes,
        unified_path: Some(mount.clone()),
        // No rename script (the names stay the directories'), and one
        // discovery only: the rounds measured are the steady ones.
        name_script: Some(PathBuf::from("/bin/true")),
        check_every_s: u32::MAX,
        ..CgroupsConfig::default()
    };
    let store = Store::new(Host::new("bench", 3600));
    let mut collector = CgroupsCollector::new(&config, Path::new("/nonexistent"));
    let t0 = 1_700_000_000u64 * 1_000_000;
    // Discovery, the names, the charts.
    for i in 0..3 {
        let _ = collector.collect(store.localhost(), t0 + i * 1_000_000);
    }
    let charts = store
        .localhost()
        .charts()
        .iter()
        .filter(|c| c.read().id().starts_with("cgroup_bh_bench_"))
        .count();
    let start = thread_cpu_ns();
    for i in 3..3 + rounds {
        let _ = collector.collect(store.localhost(), t0 + i * 1_000_000);
    }
    let total = thread_cpu_ns() - start;
    let per_round_us = total as f64 / rounds as f64 / 1000.0;
    println!(
        "{count} cgroups, {charts} charts, {rounds} rounds: {per_round_us:.1} µs per round \
         ({:.2} µs per cgroup) = {:.3} % of one core at one round a second",
        per_round_us / count as f64,
        per_round_us / 10_000.0
    );
    drop(made);
}
