//! `Instance`: one exporting instance running on its own OS thread
//! (`exp:NAME`): it wakes on its schedule, builds a batch, keeps it in its
//! ring, hands it to its [`Delivery`], and charts its own health.
//!
//! An instance shares nothing mutable with other instances: a slow or dead
//! receiver delays only its own thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rrd::Store;

use super::backoff::{ExponentialBackoff, RetryPolicy};
use super::batch::{Batch, BatchRing};
use super::delivery::Delivery;
use super::exporter::BatchBuilder;
use super::monitoring::{InstanceCharts, IntervalCounters};
use super::schedule::Schedule;
use super::status::InstanceStatus;
use crate::shutdown::Shutdown;
use crate::sys::{now_realtime_ut, thread_cpu_ns, ThreadCpu};

/// Running totals of an instance, readable from other threads (tests now,
/// a web API later).
#[derive(Debug, Default)]
pub struct InstanceTotals {
    pub batches: AtomicU64,
    pub sent_metrics: AtomicU64,
    pub sent_bytes: AtomicU64,
    pub lost_metrics: AtomicU64,
    pub lost_bytes: AtomicU64,
    pub discards: AtomicU64,
    pub reconnects: AtomicU64,
    pub failures: AtomicU64,
    pub received_bytes: AtomicU64,
    /// Successful deliveries (TCP: batches acknowledged; HTTP: 2xx answers).
    pub writes: AtomicU64,
    /// Metrics and bytes the receiver refused for good (HTTP 4xx, or a
    /// line larger than the largest request).
    pub rejected_metrics: AtomicU64,
    pub rejected_bytes: AtomicU64,
    /// Requests answered with a status that drops them (4xx but 413, 429).
    pub rejects: AtomicU64,
    /// Requests answered 429 or 5xx (sent again later).
    pub retries: AtomicU64,
    /// Requests sent again after their response was lost: the receiver
    /// may have them twice.
    pub repeats: AtomicU64,
    /// 413 answers (the request was split).
    pub splits: AtomicU64,
    /// CPU nanoseconds the instance thread spent building batches.
    pub build_cpu_ns: AtomicU64,
    pub built_metrics: AtomicU64,
}

impl InstanceTotals {
    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }

    /// Adds what `c` counted (its `buffered_*` are levels, not counts).
    fn add(&self, c: &IntervalCounters) {
        let pairs = [
            (&self.sent_metrics, c.sent_metrics),
            (&self.sent_bytes, c.sent_bytes),
            (&self.lost_metrics, c.lost_metrics),
            (&self.lost_bytes, c.lost_bytes),
            (&self.discards, c.discards),
            (&self.reconnects, c.reconnects),
            (&self.failures, c.failures),
            (&self.received_bytes, c.received_bytes),
            (&self.writes, c.writes),
            (&self.rejected_metrics, c.rejected_metrics),
            (&self.rejected_bytes, c.rejected_bytes),
            (&self.rejects, c.rejects),
            (&self.retries, c.retries),
            (&self.repeats, c.repeats),
            (&self.splits, c.splits),
        ];
        for (total, n) in pairs {
            if n > 0 {
                add(total, n);
            }
        }
    }
}

fn add(v: &AtomicU64, n: u64) {
    v.fetch_add(n, Ordering::Relaxed);
}

/// The parts an instance is assembled from.
pub struct InstanceParts {
    pub name: String,
    /// The `destination` setting as written, for logs.
    pub destination: String,
    pub update_every: u32,
    pub builder: BatchBuilder,
    pub delivery: Box<dyn Delivery>,
    pub ring: BatchRing,
    pub charts: Option<InstanceCharts>,
    pub schedule: Schedule,
}

/// Everything one instance needs to run.
pub struct Instance {
    pub name: String,
    pub destination: String,
    pub update_every: u32,
    pub builder: BatchBuilder,
    pub delivery: Box<dyn Delivery>,
    pub ring: BatchRing,
    pub charts: Option<InstanceCharts>,
    pub schedule: Schedule,
    pub totals: Arc<InstanceTotals>,
    /// What other threads may read about it (status page).
    pub status: Arc<InstanceStatus>,
    /// Size of the previous batch, to size the next one's buffer.
    last_batch_len: usize,
}

impl Instance {
    /// The OS thread name: `exp:NAME`, cut to 15 bytes (Linux's limit) on a
    /// character boundary.
    pub fn thread_name(name: &str) -> String {
        let mut s = format!("exp:{name}");
        while s.len() > 15 {
            s.pop();
        }
        s
    }

    /// Reconnect and retry pacing: from 1 s, doubling up to the instance's
    /// update every, with jitter.
    pub fn default_retry(update_every: u32) -> Box<dyn RetryPolicy> {
        Box::new(ExponentialBackoff::new(
            Duration::from_secs(1),
            Duration::from_secs(u64::from(update_every.max(1))),
        ))
    }

    /// Assembles an instance from its parts.
    pub fn new(parts: InstanceParts) -> Instance {
        let totals = Arc::new(InstanceTotals::default());
        let status = Arc::new(InstanceStatus::new(
            &parts.name,
            "",
            &parts.destination,
            parts.update_every,
            totals.clone(),
        ));
        Instance {
            name: parts.name,
            destination: parts.destination,
            update_every: parts.update_every,
            builder: parts.builder,
            delivery: parts.delivery,
            ring: parts.ring,
            charts: parts.charts,
            schedule: parts.schedule,
            totals,
            status,
            last_batch_len: 0,
        }
    }

    /// Names the connector type on its status (before the instance runs).
    pub fn set_connector(&mut self, connector: &str) {
        self.status = Arc::new(InstanceStatus::new(
            &self.name,
            connector,
            &self.destination,
            self.update_every,
            self.totals.clone(),
        ));
    }

    /// Publishes the ring's fill, the connection and the delivery's last
    /// error to [`Self::status`].
    fn publish(&mut self, delivered: bool) {
        let now_s = (now_realtime_ut() / 1_000_000) as i64;
        if delivered {
            self.status.succeeded(now_s);
        }
        if let Some(error) = self.delivery.take_error() {
            self.status.failed(error, now_s);
        }
        self.status.update(
            &self.ring,
            self.delivery.is_connected(),
            self.delivery.peer(),
        );
    }

    /// Runs until `shutdown` fires.
    pub fn run(mut self, store: Arc<Store>, shutdown: Shutdown) {
        self.delivery.watch(&shutdown);
        tracing::info!(instance = %self.name, destination = %self.destination, sends_to = %self.delivery.describe(), update_every = self.update_every, "exporting instance started");
        let mut between = IntervalCounters::default();
        loop {
            let (wake_ut, before) = self.schedule.next_after(now_realtime_ut());
            // Until the wake-up, deliver again whenever the delivery asks.
            loop {
                let now_ut = now_realtime_ut();
                if now_ut >= wake_ut {
                    break;
                }
                let mut until = Duration::from_micros(wake_ut - now_ut);
                let retry_at = self.delivery.wake_at(&self.ring);
                if let Some(at) = retry_at {
                    until = until.min(at.saturating_duration_since(Instant::now()));
                }
                if shutdown.sleep(until) {
                    return;
                }
                if retry_at.is_some_and(|at| Instant::now() >= at) {
                    self.deliver(&mut between);
                }
            }
            if shutdown.is_triggered() {
                return;
            }
            self.tick(&store, before, std::mem::take(&mut between));
        }
    }

    /// One interval: builds the batch ending at `before`, delivers what the
    /// receiver takes, and charts the interval at time `before`. `carried`
    /// holds what happened since the previous interval (retries in between).
    pub fn tick(
        &mut self,
        store: &Store,
        before: i64,
        carried: IntervalCounters,
    ) -> IntervalCounters {
        let mut counters = carried;
        self.export_interval(store, before, &mut counters);
        self.deliver(&mut counters);
        counters.buffered_metrics = self.ring.buffered_metrics() as u64;
        counters.buffered_bytes = self.ring.buffered_bytes() as u64;
        if let Some(charts) = &self.charts {
            charts.update(
                &counters,
                ThreadCpu::current(),
                before.max(0) as u64 * 1_000_000,
            );
        }
        counters
    }

    /// Builds the batch of the interval ending at `before` and queues it.
    pub fn export_interval(&mut self, store: &Store, before: i64, counters: &mut IntervalCounters) {
        let cpu0 = thread_cpu_ns();
        let mut bytes = self
            .ring
            .take_buffer(self.last_batch_len + self.last_batch_len / 8 + 4096);
        let metrics = self.builder.build(store, before, &mut bytes);
        self.last_batch_len = bytes.len();
        add(
            &self.totals.build_cpu_ns,
            thread_cpu_ns().saturating_sub(cpu0),
        );
        add(&self.totals.built_metrics, metrics as u64);
        add(&self.totals.batches, 1);
        if let Some(loss) = self.ring.push(Batch::new(bytes, metrics).at(before)) {
            let mut lost = IntervalCounters {
                lost_metrics: loss.metrics as u64,
                lost_bytes: loss.bytes as u64,
                discards: 1,
                ..IntervalCounters::default()
            };
            self.totals.add(&lost);
            counters.merge(&mut lost);
            tracing::warn!(
                instance = %self.name,
                lost_metrics = loss.metrics,
                lost_bytes = loss.bytes,
                "buffer on failures is full: dropped the oldest batch"
            );
        }
    }

    /// Learns what the receiver acknowledged or closed, without sending.
    pub fn poll_peer(&mut self, counters: &mut IntervalCounters) {
        let mut now = IntervalCounters::default();
        self.delivery.poll(&mut self.ring, &mut now);
        self.totals.add(&now);
        self.publish(now.writes > 0);
        counters.merge(&mut now);
    }

    /// Sends what the ring holds, oldest first, as far as the receiver
    /// takes it.
    pub fn deliver(&mut self, counters: &mut IntervalCounters) {
        let mut now = IntervalCounters::default();
        self.delivery.deliver(&mut self.ring, &mut now);
        self.totals.add(&now);
        self.publish(now.writes > 0);
        counters.merge(&mut now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_fit_linux_limit() {
        assert_eq!(Instance::thread_name("g"), "exp:g");
        assert_eq!(
            Instance::thread_name("my_graphite_instance"),
            "exp:my_graphite"
        );
        assert_eq!(Instance::thread_name("ééééééééé").len(), 14);
    }
}
