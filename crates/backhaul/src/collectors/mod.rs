//! Collectors: what puts metrics into the store. Internal collectors read
//! the host's kernel interfaces (`proc`); external plugins speak the
//! plugins.d protocol (`pluginsd`); applications push theirs to the statsd
//! server (`statsd`).
//!
//! Collectors run on threads of their own, driven by [`run_collectors`]:
//! the `/proc` modules together on one thread (as netdata's proc.plugin),
//! the others one per thread. A thread wakes on its update-every grid,
//! calls [`Collector::collect`] with the collection time, and never blocks
//! another thread's collectors or an exporter.

pub mod cgroups;
pub mod pluginsd;
pub mod proc;
pub mod statsd;

use std::time::Duration;

use rrd::Host;

use crate::shutdown::Shutdown;

/// An internal collector: called once per interval on its own thread.
pub trait Collector: Send {
    /// A short name for logs and thread names (`proc:stat`).
    fn name(&self) -> &str;

    /// Seconds between collections.
    fn update_every(&self) -> u32;

    /// Reads its source and completes its charts at `now_ut` (µs since the
    /// epoch). A missing source is not an error loop: the collector marks
    /// its charts obsolete, logs once, and returns `Ok`.
    fn collect(&mut self, host: &Host, now_ut: u64) -> anyhow::Result<()>;
}

/// Kept under this path for callers not yet moved to [`crate::sys`].
use crate::sys::now_realtime_ut;

/// Runs `group` on the calling thread until `shutdown` fires, as netdata
/// runs its `/proc` modules on one thread: wakes at each multiple of the
/// shortest update every among them and collects, in order, those whose
/// update every divides the second it woke for. Failures are logged
/// without stopping.
pub fn run_collectors(mut group: Vec<Box<dyn Collector>>, host: &Host, shutdown: &Shutdown) {
    let Some(step_s) = group
        .iter()
        .map(|c| u64::from(c.update_every().max(1)))
        .min()
    else {
        return;
    };
    let step_ut = step_s * 1_000_000;
    loop {
        let now = now_realtime_ut();
        let next = now - now % step_ut + step_ut;
        if shutdown.sleep(Duration::from_micros(next - now)) {
            return;
        }
        let second = next / 1_000_000;
        let now = now_realtime_ut();
        for collector in &mut group {
            if !second.is_multiple_of(u64::from(collector.update_every().max(1))) {
                continue;
            }
            if let Err(error) = collector.collect(host, now) {
                tracing::warn!(collector = collector.name(), %error, "collection failed");
            }
        }
    }
}

/// Runs `collector` alone on the calling thread until `shutdown` fires:
/// wakes at each multiple of its update every, collects, and logs failures
/// without stopping.
pub fn run_collector(collector: Box<dyn Collector>, host: &Host, shutdown: &Shutdown) {
    run_collectors(vec![collector], host, shutdown);
}
