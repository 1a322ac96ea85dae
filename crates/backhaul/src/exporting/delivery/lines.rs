//! `LineDelivery`: lines over a TCP stream (graphite plaintext, opentsdb
//! telnet, json lines).
//!
//! A partial write resumes at the exact byte; a batch leaves the ring when
//! the peer's TCP stack acknowledged all of it (see [`BatchRing`]). A lost
//! connection resumes at the start of the line holding the first
//! unacknowledged byte.
//!
//! Moving back to a preferred destination never cuts a line: once an
//! earlier destination answers (checked every `check primary destination
//! every` seconds, even while the current one is busy), the delivery
//! writes only to the end of the current line, waits until the current
//! peer acknowledged everything, and switches. If that acknowledgement does
//! not come within `timeout ms`, it switches as after a lost connection,
//! resuming at the first unacknowledged line.

use std::time::{Duration, Instant};

use super::Delivery;
use crate::exporting::backoff::RetryPolicy;
use crate::exporting::batch::BatchRing;
use crate::exporting::monitoring::IntervalCounters;
use crate::exporting::transport::{PreferredConnection, Transport};
use crate::log_limit::LogLimiter;
use crate::shutdown::Shutdown;

/// How often a pending switch of destination is looked at.
const SWITCH_POLL: Duration = Duration::from_millis(20);

struct PendingSwitch {
    preferred: PreferredConnection,
    since: Instant,
}

/// The TCP line delivery of one instance.
pub struct LineDelivery {
    /// The last error not yet taken by [`Delivery::take_error`].
    last_error: Option<String>,
    transport: Transport,
    retry: Box<dyn RetryPolicy>,
    /// No connection attempt before this instant (backoff).
    next_connect: Instant,
    switch: Option<PendingSwitch>,
    /// How long a switch waits for the acknowledgement of what was written.
    switch_timeout: Duration,
    connect_log: LogLimiter,
    write_log: LogLimiter,
    shutdown: Option<Shutdown>,
    name: String,
}

impl LineDelivery {
    pub fn new(
        name: &str,
        transport: Transport,
        retry: Box<dyn RetryPolicy>,
        timeout: Duration,
    ) -> LineDelivery {
        LineDelivery {
            last_error: None,
            transport,
            retry,
            next_connect: Instant::now(),
            switch: None,
            switch_timeout: timeout,
            connect_log: LogLimiter::new(Duration::from_secs(30)),
            write_log: LogLimiter::new(Duration::from_secs(30)),
            shutdown: None,
            name: name.to_string(),
        }
    }

    fn acknowledged(ring: &mut BatchRing, outstanding: usize, counters: &mut IntervalCounters) {
        let d = ring.acknowledge_all_but(outstanding);
        if d.batches > 0 {
            counters.sent_metrics += d.metrics as u64;
            counters.writes += d.batches as u64;
        }
    }

    /// Completes a pending switch when no line would be cut (or the wait
    /// for the acknowledgement is over).
    fn progress_switch(&mut self, ring: &mut BatchRing, counters: &mut IntervalCounters) {
        if self.switch.is_none() {
            return;
        }
        // What the current peer acknowledged up to now decides where the
        // new connection resumes.
        if let Some(outstanding) = self.transport.unacked() {
            Self::acknowledged(ring, outstanding, counters);
        }
        let Some(pending) = &self.switch else {
            return;
        };
        let lost = !self.transport.is_connected();
        let clean = !lost && ring.rest_of_line() == 0 && ring.unacked() == 0;
        let late = pending.since.elapsed() >= self.switch_timeout;
        if !(lost || clean || late) {
            return;
        }
        if !clean {
            // As after a lost connection: resume at the first line not
            // acknowledged whole.
            ring.connection_lost();
            tracing::info!(instance = %self.name, lost, "switching destination before everything was acknowledged; resuming at the first unacknowledged line");
        }
        if let Some(pending) = self.switch.take() {
            self.transport.switch_to(pending.preferred, !clean);
        }
    }

    fn connect(&mut self, ring: &BatchRing, counters: &mut IntervalCounters) -> bool {
        if Instant::now() < self.next_connect {
            return false;
        }
        tracing::debug!(instance = %self.name, "connecting");
        match self.transport.ensure_connected() {
            Ok(attempts) => {
                counters.reconnects += attempts as u64;
                self.retry.reset();
                self.connect_log.reset();
                if let Some((ep, addr)) = self.transport.connected_endpoint() {
                    tracing::info!(instance = %self.name, destination = %ep, address = %addr, "connected");
                }
                true
            }
            Err(error) => {
                counters.reconnects += error.attempts as u64;
                counters.failures += 1;
                let delay = self.retry.next_delay();
                self.next_connect = Instant::now() + delay;
                let stopping = self.shutdown.as_ref().is_some_and(Shutdown::is_triggered);
                if !stopping {
                    self.last_error = Some(format!("cannot connect: {error}"));
                    if let Some(suppressed) = self.connect_log.check(Instant::now()) {
                        tracing::error!(
                            instance = %self.name,
                            %error,
                            retry_in_ms = delay.as_millis() as u64,
                            suppressed,
                            buffered_batches = ring.len(),
                            "cannot connect"
                        );
                    }
                }
                false
            }
        }
    }
}

impl Delivery for LineDelivery {
    fn poll(&mut self, ring: &mut BatchRing, counters: &mut IntervalCounters) {
        if !self.transport.is_connected() {
            return;
        }
        let check = self.transport.check_peer();
        if check.received > 0 {
            counters.received_bytes += check.received as u64;
            counters.reads += 1;
        }
        if let Some(outstanding) = check.unacked {
            Self::acknowledged(ring, outstanding, counters);
        }
        if check.closed {
            tracing::info!(instance = %self.name, "the receiver closed the connection");
            ring.connection_lost();
        }
    }

    fn deliver(&mut self, ring: &mut BatchRing, counters: &mut IntervalCounters) {
        self.poll(ring, counters);
        self.progress_switch(ring, counters);
        if !ring.has_unwritten() && self.switch.is_none() {
            return;
        }
        let started = Instant::now();
        if !self.transport.is_connected() {
            if !self.connect(ring, counters) {
                counters.latency_us += started.elapsed().as_micros() as u64;
                return;
            }
        } else if self.switch.is_none() {
            match self.transport.probe_preferred(Instant::now()) {
                Some(Ok(preferred)) => {
                    counters.reconnects += preferred.attempts as u64;
                    self.switch = Some(PendingSwitch {
                        preferred,
                        since: Instant::now(),
                    });
                    self.progress_switch(ring, counters);
                }
                Some(Err(attempts)) => counters.reconnects += attempts as u64,
                None => {}
            }
        }
        loop {
            let mut chunk = ring.next_chunk();
            if self.switch.is_some() {
                // Only the end of the current line, then no more.
                chunk = &chunk[..ring.rest_of_line().min(chunk.len())];
            }
            if chunk.is_empty() {
                break;
            }
            let len = chunk.len();
            match self.transport.write_some(chunk) {
                Ok(n) => {
                    counters.sent_bytes += n as u64;
                    ring.advance(n);
                    if let Some(outstanding) = self.transport.unacked() {
                        Self::acknowledged(ring, outstanding, counters);
                    }
                    if n < len {
                        counters.failures += 1;
                        if !self.transport.is_connected() {
                            ring.connection_lost();
                            self.next_connect = Instant::now() + self.retry.next_delay();
                        }
                        self.last_error = Some(format!(
                            "the receiver is not keeping up (wrote {n} of {len} bytes)"
                        ));
                        if let Some(suppressed) = self.write_log.check(Instant::now()) {
                            tracing::warn!(instance = %self.name, written = n, wanted = len, suppressed, "the receiver is not keeping up; will resume at the same byte");
                        }
                        break;
                    }
                }
                Err(error) => {
                    counters.failures += 1;
                    ring.connection_lost();
                    self.next_connect = Instant::now() + self.retry.next_delay();
                    self.last_error = Some(format!("write failed: {error}"));
                    if let Some(suppressed) = self.write_log.check(Instant::now()) {
                        tracing::error!(instance = %self.name, %error, suppressed, "write failed; will reconnect");
                    }
                    break;
                }
            }
        }
        self.progress_switch(ring, counters);
        counters.latency_us += started.elapsed().as_micros() as u64;
        if self.transport.is_connected() {
            self.write_log.reset();
        }
    }

    fn wake_at(&self, ring: &BatchRing) -> Option<Instant> {
        if self.switch.is_some() {
            return Some(Instant::now() + SWITCH_POLL);
        }
        (!ring.is_empty() && !self.transport.is_connected()).then_some(self.next_connect)
    }

    fn is_connected(&self) -> bool {
        self.transport.is_connected()
    }

    fn peer(&self) -> Option<std::net::SocketAddr> {
        self.transport.connected_endpoint().map(|(_, addr)| addr)
    }

    fn take_error(&mut self) -> Option<String> {
        self.last_error.take()
    }

    fn watch(&mut self, shutdown: &Shutdown) {
        self.shutdown = Some(shutdown.clone());
        self.transport.watch(shutdown);
    }

    fn describe(&self) -> String {
        self.transport
            .endpoints()
            .iter()
            .map(|e| format!("tcp:{e}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
