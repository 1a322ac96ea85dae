//! Delivery: how an instance's formatted batches reach its receiver.
//!
//! A connector is a format ([`super::connectors::Format`]) plus a delivery.
//! Two deliveries implement [`Delivery`]:
//!
//! * [`lines::LineDelivery`]: a stream of lines over TCP (graphite
//!   plaintext, opentsdb telnet, json lines). Bytes resume exactly where a
//!   write stopped; a batch is acknowledged by the peer's TCP stack (its
//!   send queue drains); failover never cuts a line.
//! * [`http::HttpDelivery`]: HTTP/1.1 requests (the `:http` and `:https`
//!   connectors), one per batch or per part of a batch, each acknowledged
//!   only by its response; retries, drops and splits follow the status.
//!
//! Both read from the instance's [`BatchRing`] and account what happened
//! in the instance's [`IntervalCounters`]. [`dial`] makes connections that
//! a stop request interrupts; [`tls`] holds the rustls set-up.

pub mod dial;
pub mod http;
pub mod lines;
pub mod tls;

use std::time::Instant;

use super::batch::BatchRing;
use super::monitoring::IntervalCounters;
use crate::shutdown::Shutdown;

/// Sends an instance's batches to its receiver.
pub trait Delivery: Send {
    /// Sends what `ring` holds, oldest first, as far as the receiver takes
    /// it now, and counts what happened in `counters`.
    fn deliver(&mut self, ring: &mut BatchRing, counters: &mut IntervalCounters);

    /// Learns what the receiver acknowledged or closed since the last
    /// call, without sending.
    fn poll(&mut self, ring: &mut BatchRing, counters: &mut IntervalCounters);

    /// When [`Self::deliver`] should run again before the next interval
    /// (a backoff ending, a switch of destination in progress); `None`:
    /// at the next interval.
    fn wake_at(&self, ring: &BatchRing) -> Option<Instant>;

    /// Whether a connection is up.
    fn is_connected(&self) -> bool;

    /// The address of the receiver it is connected to.
    fn peer(&self) -> Option<std::net::SocketAddr>;

    /// The stop request that interrupts blocking steps.
    fn watch(&mut self, shutdown: &Shutdown);

    /// Where it delivers to, for the start-up log line.
    fn describe(&self) -> String;

    /// The last error since the previous call (for the status page), taken
    /// so that it is reported once.
    fn take_error(&mut self) -> Option<String> {
        None
    }
}
