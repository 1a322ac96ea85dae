//! `Instance`: one exporting instance running on its own OS thread
//! (`exp:NAME`): it wakes on its schedule, builds a batch, keeps it in its
//! ring, delivers what it can, reconnects with backoff, and charts its own
//! health.
//!
//! An instance shares nothing mutable with other instances: a slow or dead
//! receiver delays only its own thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rrd::Store;

use super::backoff::{ExponentialBackoff, RetryPolicy};
use super::batch::{Batch, BatchRing};
use super::exporter::BatchBuilder;
use super::log_limit::LogLimiter;
use super::monitoring::{thread_cpu_ns, InstanceCharts, IntervalCounters, ThreadCpu};
use super::schedule::Schedule;
use super::transport::Transport;
use crate::collectors::now_realtime_ut;
use crate::shutdown::Shutdown;

/// Running totals of an instance, readable from other threads (tests, the
/// web API).
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
    /// CPU nanoseconds the instance thread spent building batches.
    pub build_cpu_ns: AtomicU64,
    pub built_metrics: AtomicU64,
}

impl InstanceTotals {
    pub fn get(v: &AtomicU64) -> u64 {
        v.load(Ordering::Relaxed)
    }
}

fn add(v: &AtomicU64, n: u64) {
    v.fetch_add(n, Ordering::Relaxed);
}

/// Everything one instance needs to run.
pub struct Instance {
    pub name: String,
    pub destination: String,
    pub update_every: u32,
    pub builder: BatchBuilder,
    pub transport: Transport,
    pub ring: BatchRing,
    pub charts: Option<InstanceCharts>,
    pub schedule: Schedule,
    pub totals: Arc<InstanceTotals>,
    pub retry: Box<dyn RetryPolicy>,
    /// No connection attempt before this instant (backoff).
    pub next_connect: Instant,
    connect_log: LogLimiter,
    write_log: LogLimiter,
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

    pub fn default_retry(update_every: u32) -> Box<dyn RetryPolicy> {
        Box::new(ExponentialBackoff::new(
            Duration::from_secs(1),
            Duration::from_secs(u64::from(update_every.max(1))),
        ))
    }

    /// Assembles an instance from its parts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        destination: String,
        update_every: u32,
        builder: BatchBuilder,
        transport: Transport,
        ring: BatchRing,
        charts: Option<InstanceCharts>,
        schedule: Schedule,
        retry: Box<dyn RetryPolicy>,
    ) -> Instance {
        Instance {
            name,
            destination,
            update_every,
            builder,
            transport,
            ring,
            charts,
            schedule,
            totals: Arc::new(InstanceTotals::default()),
            retry,
            next_connect: Instant::now(),
            connect_log: LogLimiter::new(Duration::from_secs(30)),
            write_log: LogLimiter::new(Duration::from_secs(30)),
            last_batch_len: 0,
        }
    }

    /// Runs until `shutdown` fires.
    pub fn run(mut self, store: Arc<Store>, shutdown: Shutdown) {
        tracing::info!(instance = %self.name, destination = %self.destination, update_every = self.update_every, "exporting instance started");
        let mut between = IntervalCounters::default();
        loop {
            let (wake_ut, before) = self.schedule.next_after(now_realtime_ut());
            // Until the wake-up, retry delivery whenever the backoff allows.
            loop {
                let now_ut = now_realtime_ut();
                if now_ut >= wake_ut {
                    break;
                }
                let mut until = Duration::from_micros(wake_ut - now_ut);
                let waiting = !self.ring.is_empty() && !self.transport.is_connected();
                if waiting {
                    until = until.min(self.next_connect.saturating_duration_since(Instant::now()));
                }
                if shutdown.sleep(until) {
                    return;
                }
                if waiting && Instant::now() >= self.next_connect {
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
    /// connection takes, and charts the interval at time `before`. `carried` holds what
    /// happened since the previous interval (retries in between).
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
        if let Some(loss) = self.ring.push(Batch::new(bytes, metrics)) {
            counters.lost_metrics += loss.metrics as u64;
            counters.lost_bytes += loss.bytes as u64;
            counters.discards += 1;
            add(&self.totals.lost_metrics, loss.metrics as u64);
            add(&self.totals.lost_bytes, loss.bytes as u64);
            add(&self.totals.discards, 1);
            tracing::warn!(
                instance = %self.name,
                lost_metrics = loss.metrics,
                lost_bytes = loss.bytes,
                "buffer on failures is full: dropped the oldest batch"
            );
        }
    }

    /// Learns what the peer acknowledged and whether it closed the
    /// connection; acknowledged batches leave the ring, counted as sent.
    pub fn poll_peer(&mut self, counters: &mut IntervalCounters) {
        if !self.transport.is_connected() {
            return;
        }
        let check = self.transport.check_peer();
        if check.received > 0 {
            counters.received_bytes += check.received as u64;
            counters.reads += 1;
            add(&self.totals.received_bytes, check.received as u64);
        }
        if let Some(outstanding) = check.unacked {
            self.acknowledged(outstanding, counters);
        }
        if check.closed {
            tracing::info!(instance = %self.name, "the receiver closed the connection");
            self.ring.connection_lost();
        }
    }

    fn acknowledged(&mut self, outstanding: usize, counters: &mut IntervalCounters) {
        let d = self.ring.acknowledge_all_but(outstanding);
        if d.batches > 0 {
            counters.sent_metrics += d.metrics as u64;
            counters.writes += d.batches as u64;
            add(&self.totals.sent_metrics, d.metrics as u64);
        }
    }

    /// Sends what the ring holds, oldest first, as far as the connection
    /// takes it.
    pub fn deliver(&mut self, counters: &mut IntervalCounters) {
        self.poll_peer(counters);
        if !self.ring.has_unwritten() {
            return;
        }
        let started = Instant::now();
        if !self.transport.is_connected() {
            if Instant::now() < self.next_connect {
                return;
            }
            match self.transport.ensure_connected() {
                Ok(attempts) => {
                    counters.reconnects += attempts as u64;
                    add(&self.totals.reconnects, attempts as u64);
                    self.retry.reset();
                    self.connect_log.reset();
                    if let Some((ep, addr)) = self.transport.connected_endpoint() {
                        tracing::info!(instance = %self.name, destination = %ep, address = %addr, "connected");
                    }
                }
                Err(error) => {
                    counters.reconnects += error.attempts as u64;
                    counters.failures += 1;
                    add(&self.totals.reconnects, error.attempts as u64);
                    add(&self.totals.failures, 1);
                    let delay = self.retry.next_delay();
                    self.next_connect = Instant::now() + delay;
                    if let Some(suppressed) = self.connect_log.check(Instant::now()) {
                        tracing::error!(
                            instance = %self.name,
                            %error,
                            retry_in_ms = delay.as_millis() as u64,
                            suppressed,
                            buffered_batches = self.ring.len(),
                            "cannot connect"
                        );
                    }
                    counters.latency_us += started.elapsed().as_micros() as u64;
                    return;
                }
            }
        } else if self.ring.unacked() == 0 {
            // Only with nothing in flight, so the switch can neither lose
            // nor repeat a line.
            let attempts = self.transport.maybe_return_to_primary(Instant::now());
            if attempts > 0 {
                counters.reconnects += attempts as u64;
                add(&self.totals.reconnects, attempts as u64);
            }
        }
        loop {
            let chunk = self.ring.next_chunk();
            if chunk.is_empty() {
                break;
            }
            let len = chunk.len();
            match self.transport.write_some(chunk) {
                Ok(n) => {
                    counters.sent_bytes += n as u64;
                    add(&self.totals.sent_bytes, n as u64);
                    self.ring.advance(n);
                    if let Some(outstanding) = self.transport.unacked() {
                        self.acknowledged(outstanding, counters);
                    }
                    if n < len {
                        counters.failures += 1;
                        add(&self.totals.failures, 1);
                        if !self.transport.is_connected() {
                            self.ring.connection_lost();
                            self.next_connect = Instant::now() + self.retry.next_delay();
                        }
                        if let Some(suppressed) = self.write_log.check(Instant::now()) {
                            tracing::warn!(instance = %self.name, written = n, wanted = len, suppressed, "the receiver is not keeping up; will resume at the same byte");
                        }
                        break;
                    }
                }
                Err(error) => {
                    counters.failures += 1;
                    add(&self.totals.failures, 1);
                    self.ring.connection_lost();
                    self.next_connect = Instant::now() + self.retry.next_delay();
                    if let Some(suppressed) = self.write_log.check(Instant::now()) {
                        tracing::error!(instance = %self.name, %error, suppressed, "write failed; will reconnect");
                    }
                    break;
                }
            }
        }
        counters.latency_us += started.elapsed().as_micros() as u64;
        if self.transport.is_connected() {
            self.write_log.reset();
        }
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
