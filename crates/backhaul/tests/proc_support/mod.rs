//! Fixture helpers shared by the /proc collector black-box tests
//! (`proc_collectors.rs`, `proc_system_collectors.rs`, `proc_net.rs`): a
//! scratch host root that snapshots of kernel files are copied over, the
//! collection loop, reading back what the store holds, log capture, and a
//! counting global allocator for the steady-state tests.
//!
//! Only those test binaries include this module (`mod proc_support;`): it
//! installs a global allocator, which `tests/support` must not.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use backhaul::collectors::proc::default_collectors;
use backhaul::collectors::Collector;
use rrd::Host;

/// Counts the heap allocations of the current thread, to check that a
/// steady-state collection allocates nothing.
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_allocation() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is a const-initialised thread local that never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract, which
        // is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: `ptr` was allocated by this allocator, that is by
        // `System`, with `layout`; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Heap allocations made by the current thread so far.
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// A collection time (seconds) on every chart's grid, 5-s ones included.
pub const T: i64 = 1_700_000_000;

/// `seconds` in microseconds, the collectors' clock.
pub fn ut(seconds: i64) -> u64 {
    seconds as u64 * 1_000_000
}

/// The directory of fixture set `set`: `tests/fixtures/<set>`.
pub fn fixtures(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(set)
}

/// A scratch host root, removed when dropped, over which the snapshots of
/// one fixture set (`tests/fixtures/<set>/t0`, `t1`, ...) are copied.
pub struct Root {
    pub path: PathBuf,
    snapshots: PathBuf,
}

impl Root {
    /// An empty root for test `test`, loading snapshots from
    /// `tests/fixtures/<fixture_set>`.
    pub fn new(fixture_set: &str, test: &str) -> Root {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "backhaul-{fixture_set}-{test}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Root {
            path,
            snapshots: fixtures(fixture_set),
        }
    }

    /// Copies snapshot `name` (`t0`, `t1`) over the root.
    pub fn load(&self, name: &str) {
        copy_tree(&self.snapshots.join(name), &self.path);
    }

    /// Copies snapshot `name` of another fixture set, `fixture_set`, over
    /// the root (to collect two sets' files together).
    pub fn load_from(&self, fixture_set: &str, name: &str) {
        copy_tree(&fixtures(fixture_set).join(name), &self.path);
    }

    pub fn file(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.file(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The collector of one switch alone.
pub fn only(root: &Root, switch: &str) -> Vec<Box<dyn Collector>> {
    default_collectors(&root.path, 1, &|s| s == switch)
}

/// One collection by every collector at `seconds`; a collector error fails
/// the test.
pub fn collect(collectors: &mut [Box<dyn Collector>], host: &Host, seconds: i64) {
    for c in collectors.iter_mut() {
        c.collect(host, ut(seconds))
            .unwrap_or_else(|e| panic!("{}: {e}", c.name()));
    }
}

/// Collects snapshot `t0` of `fixture_set` at `T` and `t1` at `T + step`
/// with the collectors whose switch `enabled` accepts, into a new host.
pub fn collect_two_snapshots(
    fixture_set: &str,
    test: &str,
    step: i64,
    enabled: &dyn Fn(&str) -> bool,
) -> (Root, Host) {
    let root = Root::new(fixture_set, test);
    let host = Host::new("test", 100);
    let mut collectors = default_collectors(&root.path, 1, enabled);
    root.load("t0");
    collect(&mut collectors, &host, T);
    root.load("t1");
    collect(&mut collectors, &host, T + step);
    (root, host)
}

/// Checks that the collections at each of `times` allocate nothing.
#[track_caller]
pub fn assert_collections_do_not_allocate(
    collectors: &mut [Box<dyn Collector>],
    host: &Host,
    times: &[i64],
) {
    for &t in times {
        let before = allocations();
        collect(collectors, host, t);
        assert_eq!(
            allocations() - before,
            0,
            "allocations in the cycle at T + {}",
            t - T
        );
    }
}

/// The value stored for `chart`'s dimension `dim` (an id) at grid time `t`.
pub fn stored(host: &Host, chart: &str, dim: &str, t: i64) -> Option<f64> {
    let chart = host
        .chart_by_id(chart)
        .unwrap_or_else(|| panic!("no chart {chart}"));
    let c = chart.read();
    let index = c
        .dimension_index(dim)
        .unwrap_or_else(|| panic!("no dimension {dim} in {}", c.id()));
    c.aggregate_between(index, t - 1, t).average()
}

#[track_caller]
pub fn assert_close(actual: Option<f64>, expected: f64) {
    let actual = actual.expect("no stored value");
    let tolerance = 1e-6 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "stored {actual}, expected {expected}"
    );
}

/// Checks the values stored for `chart`'s dimensions at grid time `t`.
#[track_caller]
pub fn assert_values(host: &Host, chart: &str, t: i64, expected: &[(&str, f64)]) {
    for &(dim, value) in expected {
        let actual = stored(host, chart, dim, t);
        let tolerance = 1e-6 * value.abs().max(1.0);
        assert!(
            actual.is_some_and(|a| (a - value).abs() <= tolerance),
            "{chart}.{dim} at {t}: stored {actual:?}, expected {value}"
        );
    }
}

/// The host's variables table (its custom variables and the charts'
/// copies), in the order they were first set.
pub fn variables(host: &Host) -> Vec<(String, f64)> {
    host.with_variables(|table| {
        table
            .iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect()
    })
}

/// Log lines written while `f` runs on this thread.
pub fn capture_logs(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}
