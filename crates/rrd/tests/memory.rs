//! Memory accounting: each stored point costs 4 bytes, plus a fixed overhead
//! per dimension. Measured with a counting allocator, so it is exact and
//! independent of timing. `cargo test -p rrd --test memory -- --nocapture`
//! prints the figures recorded in BENCHMARKS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use rrd::{ChartDef, DimensionDef, Host};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// bookkeeping is one atomic add, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract, which
        // is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller
        // upholds the rest of `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live bytes of a host with `charts` charts of `dims` dimensions each
/// (ids like netdata's: `d0`, `d1`, ...), after one collection round.
fn bytes_for(history: usize, charts: usize, dims: usize) -> isize {
    let before = LIVE.load(Ordering::SeqCst);
    let host = Host::new("h", history);
    for c in 0..charts {
        let chart = host.create_chart(ChartDef::new("bench", format!("chart{c}")));
        let mut w = chart.write();
        for d in 0..dims {
            let i = w.add_dimension(DimensionDef::new(format!("dim{d}")));
            w.set(i, d as i64);
        }
        w.done(1_000_000_000_000).unwrap();
    }
    let after = LIVE.load(Ordering::SeqCst);
    drop(host);
    after - before
}

#[test]
fn four_bytes_per_point_plus_fixed_overhead_per_dimension() {
    // The test harness's own threads allocate too; run the measurement a
    // few times and keep the smallest reading, which excludes their noise.
    let measure = |h| (0..5).map(|_| bytes_for(h, 100, 100)).min().unwrap();
    let dims = 100 * 100;
    let small = measure(1000);
    let large = measure(2000);
    let per_point = (large - small) as f64 / (dims as f64 * 1000.0);
    let per_dim_total_at_1000 = small as f64 / dims as f64;
    let per_dim_overhead = per_dim_total_at_1000 - 4.0 * 1000.0;
    println!("bytes per stored point: {per_point:.3}");
    println!(
        "fixed bytes per dimension (incl. its share of chart and index): {per_dim_overhead:.1}"
    );
    assert!(per_point <= 4.0, "per point {per_point}");
    assert!(
        per_dim_overhead < 256.0,
        "per dimension overhead {per_dim_overhead}"
    );
}
