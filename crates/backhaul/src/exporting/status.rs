//! `InstanceStatus`: what other threads (the web server's status page and
//! `/api/v1/exporters`) may read about a running instance. The instance
//! thread updates it after every delivery; readers only load atomics and
//! take the last error's lock briefly.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::batch::BatchRing;
use super::instance::InstanceTotals;

/// The last error an instance met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    pub text: String,
    /// When (seconds since the epoch).
    pub at_s: i64,
}

/// The connection state shown for an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// A connection to a receiver is up.
    Connected,
    /// No connection, and no error since the last success (starting, or
    /// between HTTP requests).
    Connecting,
    /// No connection, and the last attempt failed.
    Failing,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connected => "connected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Failing => "failing",
        }
    }
}

/// The shared status of one instance.
#[derive(Debug)]
pub struct InstanceStatus {
    pub name: String,
    /// The connector type (`graphite:plaintext`, ...).
    pub connector: String,
    /// The `destination` setting as written.
    pub destination: String,
    pub update_every: u32,
    pub totals: Arc<InstanceTotals>,
    connected: AtomicBool,
    peer: Mutex<Option<SocketAddr>>,
    ring_batches: AtomicU64,
    ring_capacity: AtomicU64,
    buffered_metrics: AtomicU64,
    buffered_bytes: AtomicU64,
    /// The oldest undelivered batch's time, 0 when none.
    oldest_s: AtomicI64,
    /// When a delivery last succeeded, 0 never.
    last_success_s: AtomicI64,
    last_error: Mutex<Option<LastError>>,
}

/// A copy of an [`InstanceStatus`] at one moment.
#[derive(Clone, Debug)]
pub struct StatusSnapshot {
    pub state: ConnectionState,
    pub peer: Option<SocketAddr>,
    pub ring_batches: u64,
    pub ring_capacity: u64,
    pub buffered_metrics: u64,
    pub buffered_bytes: u64,
    /// The oldest undelivered batch's time.
    pub oldest_s: Option<i64>,
    pub last_success_s: Option<i64>,
    pub last_error: Option<LastError>,
}

impl InstanceStatus {
    pub fn new(
        name: &str,
        connector: &str,
        destination: &str,
        update_every: u32,
        totals: Arc<InstanceTotals>,
    ) -> InstanceStatus {
        InstanceStatus {
            name: name.to_string(),
            connector: connector.to_string(),
            destination: destination.to_string(),
            update_every,
            totals,
            connected: AtomicBool::new(false),
            peer: Mutex::new(None),
            ring_batches: AtomicU64::new(0),
            ring_capacity: AtomicU64::new(0),
            buffered_metrics: AtomicU64::new(0),
            buffered_bytes: AtomicU64::new(0),
            oldest_s: AtomicI64::new(0),
            last_success_s: AtomicI64::new(0),
            last_error: Mutex::new(None),
        }
    }

    /// Records the time of the oldest point not delivered yet when the
    /// ring is empty but the instance is behind (replaying from the
    /// store).
    pub fn set_oldest(&self, oldest_s: i64) {
        self.oldest_s.store(oldest_s, Ordering::Relaxed);
    }

    /// Records the ring's fill and the delivery's connection (instance
    /// thread).
    pub fn update(&self, ring: &BatchRing, connected: bool, peer: Option<SocketAddr>) {
        let r = Ordering::Relaxed;
        self.ring_batches.store(ring.len() as u64, r);
        self.ring_capacity.store(ring.capacity() as u64, r);
        self.buffered_metrics
            .store(ring.buffered_metrics() as u64, r);
        self.buffered_bytes.store(ring.buffered_bytes() as u64, r);
        self.oldest_s.store(ring.oldest_time().unwrap_or(0), r);
        self.connected.store(connected, r);
        let mut p = self.peer.lock();
        if *p != peer {
            *p = peer;
        }
    }

    /// A delivery succeeded at `now_s`.
    pub fn succeeded(&self, now_s: i64) {
        self.last_success_s.store(now_s, Ordering::Relaxed);
    }

    /// A delivery failed at `now_s` with `text`.
    pub fn failed(&self, text: String, now_s: i64) {
        *self.last_error.lock() = Some(LastError { text, at_s: now_s });
    }

    pub fn snapshot(&self) -> StatusSnapshot {
        let r = Ordering::Relaxed;
        let last_error = self.last_error.lock().clone();
        let last_success = self.last_success_s.load(r);
        let connected = self.connected.load(r);
        let state = if connected {
            ConnectionState::Connected
        } else if last_error.as_ref().is_some_and(|e| e.at_s >= last_success) {
            ConnectionState::Failing
        } else {
            ConnectionState::Connecting
        };
        let nonzero = |v: i64| (v != 0).then_some(v);
        StatusSnapshot {
            state,
            peer: *self.peer.lock(),
            ring_batches: self.ring_batches.load(r),
            ring_capacity: self.ring_capacity.load(r),
            buffered_metrics: self.buffered_metrics.load(r),
            buffered_bytes: self.buffered_bytes.load(r),
            oldest_s: nonzero(self.oldest_s.load(r)),
            last_success_s: nonzero(last_success),
            last_error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporting::batch::Batch;

    #[test]
    fn state_follows_connection_errors_and_successes() {
        let s = InstanceStatus::new("g", "graphite", "localhost", 1, Default::default());
        assert_eq!(s.snapshot().state, ConnectionState::Connecting);
        s.failed("cannot connect: refused".into(), 100);
        assert_eq!(s.snapshot().state, ConnectionState::Failing);
        s.succeeded(101);
        assert_eq!(s.snapshot().state, ConnectionState::Connecting);
        let mut ring = BatchRing::new(3);
        ring.push(Batch::new(b"a 1 2\n".to_vec(), 1).at(90));
        ring.push(Batch::new(b"b 1 2\n".to_vec(), 1).at(91));
        s.update(&ring, true, Some("127.0.0.1:2003".parse().unwrap()));
        let snap = s.snapshot();
        assert_eq!(snap.state, ConnectionState::Connected);
        assert_eq!((snap.ring_batches, snap.ring_capacity), (2, 3));
        assert_eq!((snap.buffered_metrics, snap.buffered_bytes), (2, 12));
        assert_eq!(snap.oldest_s, Some(90));
        assert_eq!(snap.last_error.unwrap().text, "cannot connect: refused");
    }
}
