//! Collectors: what puts metrics into the store. Internal collectors read
//! the host's kernel interfaces (`proc`); external plugins speak the
//! plugins.d protocol (`pluginsd`); applications push theirs to the statsd
//! server (`statsd`).
//!
//! Every collector runs on its own thread, driven by [`run_collector`]: it
//! wakes on its update-every grid, calls [`Collector::collect`] with the
//! collection time, and never blocks another collector or an exporter.

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

/// Runs `collector` on the calling thread until `shutdown` fires: wakes at
/// each multiple of its update every, collects, and logs failures without
/// stopping.
pub fn run_collector(mut collector: Box<dyn Collector>, host: &Host, shutdown: &Shutdown) {
    let step_ut = u64::from(collector.update_every().max(1)) * 1_000_000;
    loop {
        let now = now_realtime_ut();
        let next = now - now % step_ut + step_ut;
        if shutdown.sleep(Duration::from_micros(next - now)) {
            return;
        }
        let now = now_realtime_ut();
        if let Err(error) = collector.collect(host, now) {
            tracing::warn!(collector = collector.name(), %error, "collection failed");
        }
    }
}
