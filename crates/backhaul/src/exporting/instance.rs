//! `Instance`: one exporting instance running on its own OS thread
//! (`exp:NAME`): it wakes on its schedule, builds a batch, keeps it in its
//! ring, hands it to its [`Delivery`], and charts its own health.
//!
//! An instance shares nothing mutable with other instances: a slow or dead
//! receiver delays only its own thread.
//!
//! # Replay from the store
//!
//! With `replay windows per second` above 0 and a data source read from
//! the store (`average`, `sum`), the ring never drops a batch: when it is
//! full (`buffer on failures` batches, or `buffer on failures max bytes`)
//! the instance stops building and keeps only its positions (the builder's
//! per-chart time of the last point built; every batch built is in the
//! ring until the receiver acknowledges it, so those positions are the
//! acknowledged ones plus the ring). Once the ring has room again it builds
//! the windows it missed, oldest first, one per `update every`, exactly as
//! live export would have built them, at most `replay windows per second`
//! of them, between its intervals as well; then it goes on live. Windows
//! in which no chart has a point are skipped. Points that fell out of the
//! store meanwhile are counted (`expired`) and logged once per outage.
//! With `as collected` (the store keeps only the last collected value) or
//! `replay windows per second = 0`, the oldest batch is dropped instead,
//! as netdata does.
//!
//! # Spool
//!
//! With a [`Spool`], the instance keeps its undelivered backlog on disk as
//! segments (see `spooler.rs`), each batch written once:
//!
//! * while a receiver is down (a batch older than one interval is not
//!   acknowledged), every `spool every secs` it appends the batches built
//!   since the last write: the ring's and, once the ring is full, the
//!   windows it builds beyond it (the overflow, held in memory only until
//!   the next write, within `buffer on failures max bytes`). So after a
//!   SIGKILL at most the last `spool every secs` (plus the interval being
//!   built) is missing from disk. When `spool max bytes` is reached, or a
//!   write fails, it stops building beyond the ring and keeps positions in
//!   the store instead (as without a spool);
//! * when it stops, it appends the rest: the ring's batches not on disk
//!   yet, the overflow, and the windows not built yet (within a time
//!   bound); the segment holding the oldest batch is rewritten from its
//!   unacknowledged part, so nothing the receiver took is sent again;
//! * once the ring has room, it moves the batches of the segments back
//!   into the ring, oldest first, then the overflow, then goes on with the
//!   store; a segment is removed once all of it is acknowledged;
//! * at start it sends what the segments hold before anything else.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rrd::Store;

use super::backoff::{ExponentialBackoff, RetryPolicy};
use super::batch::{Batch, BatchRing};
use super::delivery::Delivery;
use super::exporter::{BatchBuilder, ExportResume};
use super::monitoring::{InstanceCharts, IntervalCounters};
use super::schedule::Schedule;
use super::spool::ExportPositions;
use super::spool::Spool;
use super::spooler::Spooler;
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
    /// Stored points that fell out of the store before a replay sent
    /// them.
    pub expired_metrics: AtomicU64,
    /// Windows built from the store after the live one was due (replay).
    pub replayed_windows: AtomicU64,
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
            (&self.expired_metrics, c.expired_metrics),
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

/// How often an instance that replays looks for acknowledgements while its
/// ring is full and everything in it is written.
const REPLAY_ACK_POLL: Duration = Duration::from_millis(20);
/// How long an instance may spend building the windows of its backlog when
/// it stops, and then writing its spool: stopping stays prompt.
const SPOOL_WRITE_BOUND: Duration = Duration::from_millis(500);
/// How long a periodic spool write may take (what is new since the last
/// one); past it the write is given up and tried again next time.
const SPOOL_PERIODIC_BOUND: Duration = Duration::from_secs(2);

/// The undelivered batches gathered when an instance stops, oldest first,
/// kept within the spool's byte bound by dropping the oldest (so building
/// a long backlog at stop never holds more than that in memory).
#[derive(Debug)]
struct StopBacklog {
    batches: VecDeque<Batch>,
    bytes: u64,
    max_bytes: u64,
    dropped_metrics: u64,
}

impl StopBacklog {
    fn new(max_bytes: u64) -> StopBacklog {
        StopBacklog {
            batches: VecDeque::new(),
            bytes: 0,
            max_bytes,
            dropped_metrics: 0,
        }
    }

    fn push(&mut self, batch: Batch) {
        if batch.bytes.is_empty() {
            return;
        }
        self.bytes += batch.bytes.len() as u64;
        self.batches.push_back(batch);
        while self.bytes > self.max_bytes {
            let Some(old) = self.batches.pop_front() else {
                break;
            };
            self.bytes -= old.bytes.len() as u64;
            self.dropped_metrics += old.metrics as u64;
        }
    }
}

/// Replay from the store: the instance's position in time and its pace.
#[derive(Debug)]
struct Replay {
    /// Windows per second at most; 0: replay is off.
    rate: u32,
    /// The `before` of the newest window built (`None`: none yet).
    built_before: Option<i64>,
    /// The first window worth building after it (windows where no chart
    /// has a point are skipped).
    next_before: Option<i64>,
    /// The newest interval boundary that is due.
    due_before: i64,
    /// Token bucket of windows.
    tokens: f64,
    refilled: Instant,
    /// The outage being caught up on, for its log lines.
    episode: Option<Episode>,
}

#[derive(Debug)]
struct Episode {
    from_before: i64,
    windows: u64,
    expired: u64,
}

impl Replay {
    fn new(rate: u32) -> Replay {
        Replay {
            rate,
            built_before: None,
            next_before: None,
            due_before: i64::MIN,
            tokens: f64::from(rate.max(1)),
            refilled: Instant::now(),
            episode: None,
        }
    }

    /// The `before` of the next window to build, if one is due.
    fn next_due(&self, update_every: i64) -> Option<i64> {
        let next = match (self.built_before, self.next_before) {
            (None, _) => self.due_before,
            (Some(built), next) => next
                .unwrap_or(built + update_every)
                .max(built + update_every),
        };
        (next <= self.due_before && self.due_before != i64::MIN).then_some(next)
    }

    fn refill(&mut self, now: Instant) {
        let rate = f64::from(self.rate.max(1));
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(rate);
        self.refilled = now;
    }

    /// When the next window may be built.
    fn token_at(&self) -> Instant {
        if self.tokens >= 1.0 {
            return self.refilled;
        }
        let rate = f64::from(self.rate.max(1));
        self.refilled + Duration::from_secs_f64((1.0 - self.tokens) / rate)
    }
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
    replay: Replay,
    spooler: Option<Spooler>,
    /// Batches read back from the spool, not yet in the ring.
    spooled: VecDeque<Batch>,
    /// Windows built beyond a full ring for the spool, not on disk yet.
    overflow: VecDeque<Batch>,
    overflow_bytes: usize,
    /// The newest `at_s` moved into the ring.
    ring_through: i64,
    /// The newest interval end built (live or replayed).
    built_through: i64,
    /// When the export positions were last saved (interval end).
    positions_saved: Option<i64>,
    /// The last save of the positions failed (logged once until one works).
    positions_failing: bool,
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
            replay: Replay::new(crate::config::DEFAULT_REPLAY_WINDOWS_PER_SECOND),
            spooler: None,
            spooled: VecDeque::new(),
            overflow: VecDeque::new(),
            overflow_bytes: 0,
            ring_through: i64::MIN,
            built_through: i64::MIN,
            positions_saved: None,
            positions_failing: false,
        }
    }

    /// Keeps the undelivered backlog in `spool` across a restart (written
    /// every `every_s` seconds while a receiver is down, 0: only when the
    /// instance stops), and sends what it holds now before anything else.
    /// A spool that cannot be read is logged and set aside: a fresh start.
    pub fn set_spool(&mut self, spool: Spool, every_s: u32) {
        let (mut spooler, summary) = Spooler::open(spool, every_s, &self.name);
        if summary.segments > 0 {
            tracing::info!(instance = %self.name, dir = %spooler.dir().display(), segments = summary.segments, metrics = summary.metrics, bytes = summary.bytes, "the spool holds what was not delivered before the last stop: sending it first");
        }
        self.spooled = spooler
            .read_next(i64::MIN, &self.name)
            .unwrap_or_default()
            .into();
        match ExportPositions::load(&spooler.positions_path()) {
            Ok(Some(positions)) => {
                tracing::info!(instance = %self.name, delivered_through = positions.delivered_through, hosts = positions.hosts.len(), "going on from where the last run stopped: what the store holds since then for those hosts is sent");
                self.builder.resume_from(ExportResume {
                    delivered_through: positions.delivered_through,
                    hosts: positions.hosts,
                });
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(instance = %self.name, %error, "the export positions cannot be read; starting at the current interval");
            }
        }
        self.spooler = Some(spooler);
    }

    /// Every interval up to this one was delivered (or had nothing to
    /// send): the oldest undelivered batch, in the ring, read back from the
    /// spool or still on disk, is newer.
    fn delivered_through(&self) -> Option<i64> {
        if self.built_through == i64::MIN {
            return None;
        }
        let oldest_undelivered = [
            self.ring.oldest_time(),
            self.spooled.front().map(|b| b.at_s),
            self.spooler.as_ref().and_then(Spooler::oldest_at_s),
        ]
        .into_iter()
        .flatten()
        .min();
        Some(oldest_undelivered.map_or(self.built_through, |t| (t - 1).min(self.built_through)))
    }

    /// Saves where the export stands beside the spool (every `spool every
    /// secs` when that is not 0, and at stop), so a restart goes on from
    /// there.
    fn save_positions(&mut self, now: i64, force: bool) {
        let Some(spooler) = &self.spooler else {
            return;
        };
        // `spool every secs = 0`: the spool is written at stop only, and so
        // are the positions.
        let every = spooler.every_s();
        if !force && (every == 0 || self.positions_saved.is_some_and(|at| now < at + every)) {
            return;
        }
        let Some(delivered_through) = self.delivered_through() else {
            return;
        };
        // One interval back, and not past a point the last batch left
        // pending: a streaming child's round that arrived just after its
        // interval was built goes out with the next interval, which this
        // run may not build. A restart may send that interval again.
        let ue = self.update_every_s();
        let pending = self.builder.next_pending().map_or(i64::MAX, |t| t - 1);
        let delivered_through = (delivered_through - ue).min(pending);
        self.positions_saved = Some(now);
        let positions = ExportPositions {
            delivered_through,
            hosts: self.builder.exported_hosts(),
        };
        match positions.save(&spooler.positions_path()) {
            Ok(()) => {
                if std::mem::take(&mut self.positions_failing) {
                    tracing::info!(instance = %self.name, "the export positions can be saved again");
                }
            }
            Err(error) => {
                if !std::mem::replace(&mut self.positions_failing, true) {
                    tracing::warn!(instance = %self.name, path = %spooler.positions_path().display(), %error, "cannot save the export positions; after a restart, what a streaming child replicates for the time the agent was down may not be exported");
                }
            }
        }
    }

    /// Whether batches wait outside the ring: read back from the spool, in
    /// the spool not read yet, or built beyond the ring.
    fn backlog_outside_ring(&self) -> bool {
        !self.spooled.is_empty()
            || !self.overflow.is_empty()
            || self
                .spooler
                .as_ref()
                .is_some_and(|s| s.unread_since(self.ring_through).is_some())
    }

    /// Replays missed windows from the store at most `windows_per_second`
    /// (0: never; the ring drops its oldest batch instead).
    pub fn set_replay_rate(&mut self, windows_per_second: u32) {
        self.replay.rate = windows_per_second;
        self.replay.tokens = f64::from(windows_per_second.max(1));
    }

    /// Whether missed windows are built again from the store.
    pub fn replays(&self) -> bool {
        self.replay.rate > 0 && self.builder.replays_from_store()
    }

    fn update_every_s(&self) -> i64 {
        i64::from(self.update_every.max(1))
    }

    /// The time of the oldest point not built yet while the instance is
    /// behind (replaying), else `None`.
    pub fn backlog_since(&self) -> Option<i64> {
        if let Some(front) = self.spooled.front() {
            return Some(front.at_s - self.update_every_s());
        }
        if let Some(at) = self
            .spooler
            .as_ref()
            .and_then(|s| s.unread_since(self.ring_through))
        {
            return Some(at - self.update_every_s());
        }
        if let Some(front) = self.overflow.front() {
            return Some(front.at_s - self.update_every_s());
        }
        if !self.replays() {
            return None;
        }
        let next = self.replay.next_due(self.update_every_s())?;
        Some(next - self.update_every_s())
    }

    /// When the instance should run [`Self::catch_up`] before its next
    /// interval: a window of the backlog may be built (room in the ring, a
    /// token), or a full ring waits for acknowledgements.
    fn catch_up_at(&self) -> Option<Instant> {
        if !self.backlog_outside_ring() {
            if !self.replays() {
                return None;
            }
            self.replay.next_due(self.update_every_s())?;
        }
        if self.ring.has_room() {
            return Some(self.replay.token_at());
        }
        (self.delivery.is_connected() && !self.ring.has_unwritten())
            .then(|| Instant::now() + REPLAY_ACK_POLL)
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
                let replay_at = self.catch_up_at();
                for at in [retry_at, replay_at].into_iter().flatten() {
                    until = until.min(at.saturating_duration_since(Instant::now()));
                }
                if shutdown.sleep(until) {
                    self.spool_on_stop(&store);
                    return;
                }
                if retry_at.is_some_and(|at| Instant::now() >= at) {
                    self.deliver(&mut between);
                }
                if replay_at.is_some_and(|at| Instant::now() >= at) {
                    self.poll_peer(&mut between);
                    self.catch_up(&store, &mut between);
                }
            }
            if shutdown.is_triggered() {
                self.spool_on_stop(&store);
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
        if self.replays() {
            self.replay.due_before = self.replay.due_before.max(before);
            // What the ring holds goes first; then the windows not built
            // yet, each delivered as it is built.
            self.deliver(&mut counters);
            self.catch_up(store, &mut counters);
        } else {
            self.feed_backlog(&mut counters);
            self.export_interval(store, before, &mut counters);
            self.deliver(&mut counters);
        }
        self.spool_periodically(before);
        self.remove_delivered();
        self.save_positions(before, false);
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
        self.built_through = self.built_through.max(before);
        self.last_batch_len = bytes.len();
        add(
            &self.totals.build_cpu_ns,
            thread_cpu_ns().saturating_sub(cpu0),
        );
        add(&self.totals.built_metrics, metrics as u64);
        add(&self.totals.batches, 1);
        if !bytes.is_empty() {
            self.ring_through = before;
        }
        if let Some(loss) = self.ring.push(Batch::new(bytes, metrics).at(before)) {
            let mut lost = IntervalCounters {
                lost_metrics: loss.metrics as u64,
                lost_bytes: loss.bytes as u64,
                discards: loss.batches as u64,
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

    /// Builds the due windows not built yet, oldest first, as long as the
    /// ring has room and the replay rate allows, delivering after each:
    /// the live window when the instance is not behind, the backlog of an
    /// outage otherwise (see the module documentation).
    pub fn catch_up(&mut self, store: &Store, counters: &mut IntervalCounters) {
        let ue = self.update_every_s();
        if self.backlog_outside_ring()
            && self.replay.built_before.is_none()
            && self.replay.due_before != i64::MIN
        {
            // The windows from the first interval on are built one by one
            // behind the spool, however long sending it takes.
            self.replay.built_before = Some(self.replay.due_before - ue);
        }
        if !self.feed_backlog(counters) && !self.may_overflow() {
            return;
        }
        while let Some(before) = self.replay.next_due(ue) {
            // Behind a full ring or a backlog outside it: only beyond it.
            let overflow = !self.ring.has_room() || self.backlog_outside_ring();
            if overflow && !self.may_overflow() {
                if self.replay.episode.is_none() {
                    self.replay.episode = Some(Episode {
                        from_before: before,
                        windows: 0,
                        expired: 0,
                    });
                    tracing::warn!(instance = %self.name, buffered_batches = self.ring.len(), buffered_bytes = self.ring.buffered_bytes(), since = before - ue, "buffer on failures is full: keeping the positions; the missed intervals will be sent from the store when the receiver takes them");
                }
                break;
            }
            // The live window is due anyway; the rate bounds the backlog.
            if before < self.replay.due_before {
                self.replay.refill(Instant::now());
                if self.replay.tokens < 1.0 {
                    break;
                }
                self.replay.tokens -= 1.0;
            }
            if overflow {
                if self.replay.episode.is_none() {
                    self.replay.episode = Some(Episode {
                        from_before: before,
                        windows: 0,
                        expired: 0,
                    });
                    tracing::warn!(instance = %self.name, buffered_batches = self.ring.len(), buffered_bytes = self.ring.buffered_bytes(), since = before - ue, "buffer on failures is full: the backlog goes to the spool");
                }
                let batch = self.build_batch(store, before, counters);
                if !batch.bytes.is_empty() {
                    self.overflow_bytes += batch.bytes.len();
                    self.overflow.push_back(batch);
                }
                continue;
            }
            self.build_window(store, before, counters);
            self.deliver(counters);
        }
        if self.replay.next_due(ue).is_none() && !self.backlog_outside_ring() {
            if let Some(episode) = self.replay.episode.take() {
                tracing::info!(instance = %self.name, replayed_windows = episode.windows, from = episode.from_before - ue, expired_points = episode.expired, "caught up: the missed intervals were sent from the store");
            }
        }
    }

    /// Moves the batches waiting outside the ring (read back from the
    /// spool, then built beyond the ring) into the ring, oldest first, as
    /// far as it has room and the replay rate allows, delivering after
    /// each; true when none is left.
    fn feed_backlog(&mut self, counters: &mut IntervalCounters) -> bool {
        loop {
            if self.spooled.is_empty() {
                let name = &self.name;
                let Some(batches) = self
                    .spooler
                    .as_mut()
                    .and_then(|s| s.read_next(self.ring_through, name))
                else {
                    break;
                };
                self.spooled = batches.into();
            }
            if !self.ring.has_room() || !self.take_token() {
                return false;
            }
            if let Some(batch) = self.spooled.pop_front() {
                self.ring_through = self.ring_through.max(batch.at_s);
                self.ring.append(batch);
            }
            self.deliver(counters);
        }
        while !self.overflow.is_empty() {
            if !self.ring.has_room() || !self.take_token() {
                return false;
            }
            if let Some(batch) = self.overflow.pop_front() {
                self.overflow_bytes -= batch.bytes.len();
                self.ring_through = self.ring_through.max(batch.at_s);
                self.ring.append(batch);
            }
            self.deliver(counters);
        }
        true
    }

    /// One token of the replay rate, if there is one.
    fn take_token(&mut self) -> bool {
        self.replay.refill(Instant::now());
        if self.replay.tokens < 1.0 {
            return false;
        }
        self.replay.tokens -= 1.0;
        true
    }

    /// Whether the next window may be built beyond a full ring, for the
    /// spool: periodic spooling is on, the last write did not fail, and
    /// what waits for the next write stays within `spool max bytes` and
    /// `buffer on failures max bytes`.
    fn may_overflow(&self) -> bool {
        let Some(spooler) = &self.spooler else {
            return false;
        };
        let next = self.last_batch_len.max(1) as u64;
        let waiting = self.overflow_bytes as u64 + self.ring.buffered_bytes() as u64;
        spooler.every_s() > 0
            && !spooler.failing
            && self.replays()
            && waiting + next <= spooler.room()
            && (self.overflow_bytes + self.last_batch_len) <= self.ring.max_bytes()
    }

    /// Every `spool every secs` while a receiver is down (a batch older
    /// than one interval is not acknowledged, or windows wait beyond the
    /// ring), appends what is not on disk yet as a new segment: the ring's
    /// batches newer than the spool's newest, then the overflow, within
    /// `spool max bytes`.
    fn spool_periodically(&mut self, before: i64) {
        let ue = self.update_every_s();
        let Some(spooler) = &mut self.spooler else {
            return;
        };
        let every = spooler.every_s();
        if every == 0 || spooler.last_write.is_some_and(|last| before < last + every) {
            return;
        }
        let down =
            self.ring.oldest_time().is_some_and(|t| t < before - ue) || !self.overflow.is_empty();
        if !down {
            return;
        }
        spooler.last_write = Some(before);
        let on_disk = spooler.on_disk_through();
        let mut room = spooler.room();
        let mut batches: Vec<&Batch> = Vec::new();
        let mut from_overflow = 0;
        let mut left_out = false;
        let ring = self.ring.batches().filter(|b| b.at_s > on_disk);
        for (batch, overflow) in ring
            .map(|b| (b, false))
            .chain(self.overflow.iter().map(|b| (b, true)))
        {
            let len = batch.bytes.len() as u64;
            if len > room {
                left_out = true;
                break;
            }
            room -= len;
            batches.push(batch);
            from_overflow += usize::from(overflow);
        }
        if left_out && !spooler.full_logged {
            spooler.full_logged = true;
            tracing::warn!(instance = %self.name, dir = %spooler.dir().display(), max_bytes = spooler.max_bytes(), "the spool is full (spool max bytes): the newer backlog stays in memory and in the store only, and is lost if the agent is killed");
        } else if !left_out {
            spooler.full_logged = false;
        }
        if batches.is_empty() {
            return;
        }
        let deadline = Instant::now() + SPOOL_PERIODIC_BOUND;
        let ring_count = batches.len() - from_overflow;
        let (done, result) = spooler.append_all(&batches, deadline);
        let total = batches.len();
        drop(batches);
        let written_overflow = done.saturating_sub(ring_count);
        for _ in 0..written_overflow {
            if let Some(batch) = self.overflow.pop_front() {
                self.overflow_bytes -= batch.bytes.len();
            }
        }
        match result {
            Ok(()) => {
                if spooler.failing {
                    tracing::info!(instance = %self.name, dir = %spooler.dir().display(), "the spool can be written again");
                }
                spooler.failing = false;
                tracing::debug!(instance = %self.name, batches = done, left_for_next_time = total - done, segments = spooler.segment_count(), disk_bytes = spooler.disk_bytes(), "the backlog's new batches are in the spool");
            }
            Err(error) => {
                if !spooler.failing {
                    tracing::error!(instance = %self.name, dir = %spooler.dir().display(), %error, "cannot write the spool: the backlog stays in memory and in the store only (bounded as without a spool), and is lost if the agent is killed; trying again every spool every secs");
                }
                spooler.failing = true;
            }
        }
    }

    /// Removes the spool segments the receiver has acknowledged whole.
    fn remove_delivered(&mut self) {
        let through = match self.ring.oldest_time() {
            Some(t) => t - 1,
            None => self.ring_through,
        };
        let Some(spooler) = &mut self.spooler else {
            return;
        };
        if spooler.remove_delivered(through, &self.name) && spooler.segment_count() == 0 {
            tracing::info!(instance = %self.name, "the spool is delivered: its segments are removed");
        }
    }

    /// Writes the rest of the undelivered backlog to the spool (the
    /// instance stops): the ring's unacknowledged batches not on disk yet,
    /// the windows built beyond the ring, and the windows not built yet,
    /// oldest first, as one more segment, within `spool max bytes` (the
    /// oldest segments make room) and a time bound. The segment holding
    /// the oldest unacknowledged batch is rewritten from its
    /// unacknowledged part. Nothing left to deliver leaves no segment.
    pub fn spool_on_stop(&mut self, store: &Store) {
        if self.spooler.is_none() {
            return;
        }
        let deadline = Instant::now() + SPOOL_WRITE_BOUND;
        let mut counters = IntervalCounters::default();
        self.delivery.poll(&mut self.ring, &mut counters);
        self.remove_delivered();
        self.save_positions(self.built_through, true);
        let Some(mut spooler) = self.spooler.take() else {
            return;
        };
        let on_disk = spooler.on_disk_through();
        let mut rest = StopBacklog::new(spooler.max_bytes());
        for (i, batch) in self.ring.take_unacknowledged().into_iter().enumerate() {
            if batch.at_s > on_disk {
                rest.push(batch);
            } else if i == 0 {
                if let Err(error) = spooler.trim_to(&batch) {
                    tracing::warn!(instance = %self.name, %error, "stopping: cannot rewrite the oldest spool segment; lines the receiver took may be sent again");
                }
            }
        }
        for batch in self.overflow.drain(..) {
            rest.push(batch);
        }
        self.overflow_bytes = 0;
        // `spooled` came from the spool and is still there.
        self.spooled.clear();
        let ue = self.update_every_s();
        let mut unbuilt = 0u64;
        if self.replays() {
            while let Some(before) = self.replay.next_due(ue) {
                if Instant::now() >= deadline {
                    unbuilt = ((self.replay.due_before - before) / ue + 1) as u64;
                    break;
                }
                let batch = self.build_batch(store, before, &mut counters);
                rest.push(batch);
            }
        }
        let dropped_segments = spooler.make_room(rest.bytes);
        let batches: Vec<&Batch> = rest.batches.iter().collect();
        let (written, result) = spooler.append_all(&batches, deadline + SPOOL_WRITE_BOUND);
        let not_in_time: u64 = batches[written..].iter().map(|b| b.metrics as u64).sum();
        let dropped = rest.dropped_metrics + dropped_segments;
        match result {
            Ok(()) => {
                if not_in_time > 0 {
                    tracing::warn!(instance = %self.name, lost_metrics = not_in_time, "stopping: the newest part of the backlog was not written in time and is lost");
                }
                if spooler.segment_count() > 0 {
                    tracing::info!(instance = %self.name, dir = %spooler.dir().display(), segments = spooler.segment_count(), bytes = spooler.disk_bytes(), new_batches = batches.len(), "stopping: the undelivered backlog is in the spool");
                }
                if dropped > 0 || unbuilt > 0 {
                    tracing::warn!(instance = %self.name, lost_metrics = dropped, windows_not_built_in_time = unbuilt, max_bytes = spooler.max_bytes(), "stopping: part of the backlog did not fit in the spool (its oldest) and is lost");
                }
            }
            Err(error) => {
                let metrics = not_in_time;
                tracing::error!(instance = %self.name, %error, lost_metrics = metrics + dropped, segments_kept = spooler.segment_count(), "stopping: cannot write the spool; the undelivered backlog not already in it is lost");
            }
        }
    }

    /// Builds the window ending at `before` into the ring (which has room)
    /// and moves the replay position past it.
    fn build_window(&mut self, store: &Store, before: i64, counters: &mut IntervalCounters) {
        let batch = self.build_batch(store, before, counters);
        if !batch.bytes.is_empty() {
            self.ring_through = self.ring_through.max(batch.at_s);
        }
        self.ring.append(batch);
    }

    /// Builds the window ending at `before` and moves the replay position
    /// past it.
    fn build_batch(
        &mut self,
        store: &Store,
        before: i64,
        counters: &mut IntervalCounters,
    ) -> Batch {
        let cpu0 = thread_cpu_ns();
        let mut bytes = self
            .ring
            .take_buffer(self.last_batch_len + self.last_batch_len / 8 + 4096);
        let metrics = self.builder.build(store, before, &mut bytes);
        self.built_through = self.built_through.max(before);
        if !bytes.is_empty() {
            self.last_batch_len = bytes.len();
        }
        add(
            &self.totals.build_cpu_ns,
            thread_cpu_ns().saturating_sub(cpu0),
        );
        add(&self.totals.built_metrics, metrics as u64);
        add(&self.totals.batches, 1);
        let live = before >= self.replay.due_before;
        if !live {
            add(&self.totals.replayed_windows, 1);
        }
        let ue = self.update_every_s();
        self.replay.built_before = Some(before);
        self.replay.next_before = self
            .builder
            .next_pending()
            .map(|t| (t + ue - 1).div_euclid(ue) * ue)
            .or(Some(self.replay.due_before));
        let expired = self.builder.take_expired();
        if !live || expired > 0 {
            let episode = self.replay.episode.get_or_insert(Episode {
                from_before: before,
                windows: 0,
                expired: 0,
            });
            episode.windows += u64::from(!live);
        }
        if expired > 0 {
            let mut now = IntervalCounters {
                expired_metrics: expired,
                ..IntervalCounters::default()
            };
            self.totals.add(&now);
            counters.merge(&mut now);
            let first = self.replay.episode.as_mut().is_none_or(|episode| {
                episode.expired += expired;
                episode.expired == expired
            });
            if first {
                tracing::warn!(instance = %self.name, expired_points = expired, window_before = before, "points fell out of the store (history) before the receiver took them: counted as expired");
            }
        }
        Batch::new(bytes, metrics).at(before)
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
    use crate::config::DataSource;
    use crate::exporting::connectors::Format;
    use crate::exporting::exporter::BatchSettings;
    use parking_lot::Mutex;
    use rrd::{ChartDef, DimensionDef, Host};
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicBool;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn thread_names_fit_linux_limit() {
        assert_eq!(Instance::thread_name("g"), "exp:g");
        assert_eq!(
            Instance::thread_name("my_graphite_instance"),
            "exp:my_graphite"
        );
        assert_eq!(Instance::thread_name("ééééééééé").len(), 14);
    }

    /// A receiver that takes everything at once while it is up.
    #[derive(Clone, Default)]
    struct FakeReceiver {
        up: Arc<AtomicBool>,
        got: Arc<Mutex<Vec<u8>>>,
    }

    struct FakeDelivery(FakeReceiver);

    impl Delivery for FakeDelivery {
        fn deliver(&mut self, ring: &mut BatchRing, counters: &mut IntervalCounters) {
            if !self.0.up.load(Ordering::Relaxed) {
                counters.failures += u64::from(!ring.is_empty());
                return;
            }
            loop {
                let chunk = ring.next_chunk();
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                self.0.got.lock().extend_from_slice(chunk);
                let d = ring.complete(n);
                counters.sent_bytes += n as u64;
                counters.sent_metrics += d.metrics as u64;
                counters.writes += d.batches as u64;
            }
        }
        fn poll(&mut self, _: &mut BatchRing, _: &mut IntervalCounters) {}
        fn wake_at(&self, _: &BatchRing) -> Option<Instant> {
            None
        }
        fn is_connected(&self) -> bool {
            self.0.up.load(Ordering::Relaxed)
        }
        fn peer(&self) -> Option<std::net::SocketAddr> {
            None
        }
        fn watch(&mut self, _: &Shutdown) {}
        fn describe(&self) -> String {
            "fake".into()
        }
    }

    /// (dimension, second) → (value, times received).
    type Received = BTreeMap<(String, i64), (f64, usize)>;

    struct Fixture {
        store: Store,
        chart: Arc<rrd::Chart>,
        rx: FakeReceiver,
        inst: Instance,
    }

    impl Fixture {
        /// A store keeping `history` points of a two-dimension chart, and
        /// an instance with a ring of `ring` batches sending to a fake
        /// receiver.
        fn new(history: usize, ring: usize, source: DataSource) -> Fixture {
            let rx = FakeReceiver::default();
            rx.up.store(true, Ordering::Relaxed);
            Fixture::with_receiver(history, ring, source, rx)
        }

        fn with_receiver(
            history: usize,
            ring: usize,
            source: DataSource,
            rx: FakeReceiver,
        ) -> Fixture {
            let store = Store::new(Host::new("h", history));
            let chart = store.localhost().create_chart(ChartDef::new("t", "c"));
            {
                let mut w = chart.write();
                w.add_dimension(DimensionDef::new("d0"));
                w.add_dimension(DimensionDef::new("d1"));
            }
            let settings = BatchSettings {
                data_source: source,
                prefix: "n".into(),
                hostname: "h".into(),
                update_every: 1,
                send_names_instead_of_ids: false,
                send_charts_matching: "*".into(),
                send_hosts_matching: "*".into(),
                send_configured_labels: false,
                send_automatic_labels: false,
                host_tags: Vec::new(),
                send_variables: false,
            };
            let mut inst = Instance::new(InstanceParts {
                name: "t".into(),
                destination: "fake".into(),
                update_every: 1,
                builder: BatchBuilder::new(settings, Format::Graphite),
                delivery: Box::new(FakeDelivery(rx.clone())),
                ring: BatchRing::new(ring),
                charts: None,
                schedule: Schedule::with_offset(1, 0),
            });
            inst.set_replay_rate(10_000);
            Fixture {
                store,
                chart,
                rx,
                inst,
            }
        }

        /// One second: the collector stores the point of `T0 + k`, the
        /// receiver is up or not, and the instance runs its interval.
        fn second(&mut self, k: i64, up: bool) -> IntervalCounters {
            {
                let mut w = self.chart.write();
                w.set(0, k * 10);
                w.set(1, k * 10 + 1);
                w.done((T0 + k) as u64 * 1_000_000).unwrap();
            }
            self.rx.up.store(up, Ordering::Relaxed);
            self.inst
                .tick(&self.store, T0 + k, IntervalCounters::default())
        }

        /// What the receiver got: (dimension, second) → (value, times), and
        /// whether the timestamps never went back.
        fn received(&self) -> (Received, bool) {
            let got = self.rx.got.lock();
            let text = std::str::from_utf8(&got).unwrap();
            let mut map = BTreeMap::new();
            let mut last = i64::MIN;
            let mut ordered = true;
            for line in text.lines() {
                let mut words = line.split(' ');
                let name = words
                    .next()
                    .unwrap()
                    .rsplit('.')
                    .next()
                    .unwrap()
                    .to_string();
                let value: f64 = words.next().unwrap().parse().unwrap();
                let t: i64 = words.next().unwrap().parse().unwrap();
                ordered &= t >= last;
                last = t;
                let e = map.entry((name, t - T0)).or_insert((value, 0));
                e.1 += 1;
            }
            (map, ordered)
        }

        fn expect_once(&self, seconds: impl IntoIterator<Item = i64>) {
            let (map, ordered) = self.received();
            assert!(ordered, "timestamps went back");
            let mut want = BTreeMap::new();
            for k in seconds {
                want.insert(("d0".to_string(), k), ((k * 10) as f64, 1));
                want.insert(("d1".to_string(), k), ((k * 10 + 1) as f64, 1));
            }
            assert_eq!(map, want);
        }
    }

    #[test]
    fn an_outage_longer_than_the_ring_loses_and_repeats_nothing() {
        let mut f = Fixture::new(30, 3, DataSource::Average);
        for k in 1..=20 {
            f.second(k, !(5..=14).contains(&k));
            assert!(f.inst.ring.len() <= 3);
        }
        f.expect_once(1..=20);
        let totals = &f.inst.totals;
        assert_eq!(InstanceTotals::get(&totals.lost_metrics), 0);
        assert_eq!(InstanceTotals::get(&totals.expired_metrics), 0);
        assert_eq!(InstanceTotals::get(&totals.sent_metrics), 40);
        // Windows 5..=7 were built while the receiver was down; 8..=14
        // were built from the store after it came back.
        assert_eq!(InstanceTotals::get(&totals.replayed_windows), 7);
        assert!(f.inst.backlog_since().is_none(), "caught up");
    }

    #[test]
    fn points_that_fell_out_of_the_store_are_counted_as_expired_once() {
        let mut f = Fixture::new(5, 3, DataSource::Average);
        let mut expired = 0;
        for k in 1..=16 {
            expired += f.second(k, !(3..=14).contains(&k)).expired_metrics;
        }
        // The ring kept 3..=5; at 15 the store holds 11..=15: 6..=10
        // (five seconds of two dimensions) are gone.
        f.expect_once((1..=5).chain(11..=16));
        assert_eq!(expired, 10);
        assert_eq!(InstanceTotals::get(&f.inst.totals.expired_metrics), 10);
        assert_eq!(InstanceTotals::get(&f.inst.totals.lost_metrics), 0);
    }

    #[test]
    fn replay_keeps_to_its_rate() {
        let mut f = Fixture::new(100, 1, DataSource::Average);
        f.inst.set_replay_rate(4);
        for k in 1..=14 {
            f.second(k, k < 2);
        }
        let totals = f.inst.totals.clone();
        let replayed = || InstanceTotals::get(&totals.replayed_windows);
        assert_eq!(replayed(), 0);
        let started = Instant::now();
        f.second(15, true);
        let mut counters = IntervalCounters::default();
        while started.elapsed() < Duration::from_millis(600) {
            std::thread::sleep(Duration::from_millis(10));
            f.inst.catch_up(&f.store, &mut counters);
        }
        let elapsed = started.elapsed().as_secs_f64();
        let replayed = replayed() as f64;
        // A full bucket (4) plus 4 a second.
        assert!(
            replayed <= 4.0 + 4.0 * elapsed + 1.0,
            "{replayed} in {elapsed}s"
        );
        assert!(replayed >= 4.0, "{replayed}");
        // Then everything, in order, once.
        while f.inst.backlog_since().is_some() {
            std::thread::sleep(Duration::from_millis(20));
            f.inst.catch_up(&f.store, &mut counters);
        }
        f.expect_once(1..=15);
    }

    #[test]
    fn without_replay_or_as_collected_the_oldest_batch_is_dropped() {
        for (source, rate) in [(DataSource::Average, 0), (DataSource::AsCollected, 10_000)] {
            let mut f = Fixture::new(30, 3, source);
            f.inst.set_replay_rate(rate);
            let mut lost = 0;
            for k in 1..=10 {
                lost += f.second(k, k == 1 || k == 10).lost_metrics;
            }
            // The ring keeps the newest three of 2..=10.
            assert_eq!(lost, 12, "{source:?}: batches 2..=7 dropped");
            f.expect_once((1..=1).chain(8..=10));
        }
    }

    #[test]
    fn the_byte_bound_holds_the_backlog_in_the_store() {
        let mut f = Fixture::new(30, 100, DataSource::Average);
        f.inst.ring = BatchRing::new(100).with_max_bytes(100);
        for k in 1..=12 {
            f.second(k, !(2..=9).contains(&k));
            assert!(
                f.inst.ring.buffered_bytes() < 100 + 64,
                "{}",
                f.inst.ring.buffered_bytes()
            );
        }
        f.expect_once(1..=12);
    }

    fn test_spool(dir: &std::path::Path, max_bytes: u64) -> Spool {
        let settings = crate::exporting::spool::SpoolSettings {
            dir: dir.to_path_buf(),
            max_bytes,
        };
        Spool::new(&settings, "t", "graphite")
    }

    /// The spool's segment files in `dir`, sorted.
    fn spool_files(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.ends_with(".positions"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn spool_dir(tag: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!(
            "backhaul-instance-spool-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ))
    }

    #[test]
    fn a_stop_during_an_outage_spools_the_backlog_and_the_next_start_sends_it_first() {
        let dir = spool_dir("stop");
        let mut f = Fixture::new(100, 3, DataSource::Average);
        f.inst.set_spool(test_spool(&dir, 1 << 20), 0);
        // Down from second 3: the ring holds 3..=5, the store 6..=10.
        for k in 1..=10 {
            f.second(k, k <= 2);
        }
        f.inst.spool_on_stop(&f.store);
        assert_eq!(spool_files(&dir), vec!["t~0000000001.spool"]);
        // A new process: a fresh store, the same receiver, up.
        let mut g = Fixture::with_receiver(100, 3, DataSource::Average, f.rx.clone());
        g.inst.set_spool(test_spool(&dir, 1 << 20), 0);
        assert_eq!(g.inst.backlog_since(), Some(T0 + 2));
        for k in 11..=15 {
            g.second(k, true);
        }
        g.expect_once(1..=15);
        assert!(spool_files(&dir).is_empty(), "sent: removed");
        // Nothing undelivered at the next stop: no spool.
        g.inst.spool_on_stop(&g.store);
        assert!(spool_files(&dir).is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    /// After a restart the instance goes on from where the last run
    /// stopped (one interval back): what the store got since for the hosts
    /// it exported (a streaming child's replicated history) goes out.
    #[test]
    fn a_restart_goes_on_from_the_saved_positions() {
        let dir = spool_dir("positions");
        let mut f = Fixture::new(100, 3, DataSource::Average);
        f.inst.set_spool(test_spool(&dir, 1 << 20), 0);
        for k in 1..=5 {
            f.second(k, true);
        }
        f.inst.spool_on_stop(&f.store);
        let saved = ExportPositions::load(&dir.join("t.positions"))
            .unwrap()
            .expect("saved at stop");
        assert_eq!(saved.delivered_through, T0 + 4, "one interval back");
        assert_eq!(saved.hosts, ["localhost"]);
        // A new process whose store got 5..=9 before its first interval.
        let mut g = Fixture::with_receiver(100, 3, DataSource::Average, f.rx.clone());
        for k in 5..=9 {
            g.chart
                .write()
                .store_point(T0 + k, &[(0, (k * 10) as f64), (1, (k * 10 + 1) as f64)]);
        }
        g.inst.set_spool(test_spool(&dir, 1 << 20), 0);
        for k in 10..=11 {
            g.second(k, true);
        }
        let (map, ordered) = g.received();
        assert!(ordered);
        for k in 1..=11 {
            let times = map.get(&("d0".to_string(), k)).map_or(0, |(_, n)| *n);
            let want = if k == 5 { 2 } else { 1 };
            assert_eq!(times, want, "second {k}: {map:?}");
        }
        // Without the positions the new run starts at its first interval.
        let _ = std::fs::remove_file(dir.join("t.positions"));
        let rx = FakeReceiver::default();
        rx.up.store(true, Ordering::Relaxed);
        let mut h = Fixture::with_receiver(100, 3, DataSource::Average, rx);
        for k in 5..=9 {
            h.chart
                .write()
                .store_point(T0 + k, &[(0, (k * 10) as f64), (1, (k * 10 + 1) as f64)]);
        }
        h.inst.set_spool(test_spool(&dir, 1 << 20), 0);
        h.second(10, true);
        let (map, _) = h.received();
        assert!(!map.contains_key(&("d0".to_string(), 7)), "{map:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_spool_keeps_the_newest_within_its_bound() {
        let dir = spool_dir("bound");
        let mut f = Fixture::new(100, 3, DataSource::Average);
        // One second of both dimensions is about 50 bytes here.
        f.inst.set_spool(test_spool(&dir, 4 * 52), 0);
        for k in 1..=10 {
            f.second(k, k <= 2);
        }
        f.inst.spool_on_stop(&f.store);
        let mut g = Fixture::with_receiver(100, 3, DataSource::Average, f.rx.clone());
        g.inst.set_spool(test_spool(&dir, 4 * 52), 0);
        assert_eq!(InstanceTotals::get(&g.inst.totals.lost_metrics), 0);
        for k in 11..=12 {
            g.second(k, true);
        }
        // The oldest seconds of the backlog (3..) did not fit; the newest
        // did, and everything after them.
        let (map, ordered) = g.received();
        assert!(ordered);
        let first_kept = (3..=10)
            .find(|k| map.contains_key(&("d0".to_string(), *k)))
            .expect("some of the backlog kept");
        assert!(first_kept > 4, "the bound dropped the oldest");
        g.expect_once((1..=2).chain(first_kept..=12));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_unusable_spool_is_a_fresh_start() {
        let dir = spool_dir("bad");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.spool");
        std::fs::write(&path, b"BHSPOOL\n\x07\0\0\0").unwrap();
        let mut f = Fixture::new(100, 3, DataSource::Average);
        f.inst.set_spool(test_spool(&dir, 1 << 20), 0);
        assert!(!path.exists(), "removed");
        assert!(f.inst.backlog_since().is_none());
        for k in 1..=3 {
            f.second(k, true);
        }
        f.expect_once(1..=3);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Seconds `1..=20`, down from 3 on, spooling every 2 s: what a kill
    /// after second 20 leaves on disk.
    fn outage_then_kill(dir: &std::path::Path) -> Fixture {
        let mut f = Fixture::new(100, 3, DataSource::Average);
        f.inst.set_spool(test_spool(dir, 1 << 20), 2);
        for k in 1..=20 {
            f.second(k, k <= 2);
            assert!(f.inst.ring.len() <= 3);
            assert!(f.inst.overflow.len() <= 3, "only until the next write");
        }
        f
    }

    #[test]
    fn after_a_kill_during_an_outage_at_most_the_spool_interval_is_missing() {
        let dir = spool_dir("kill");
        let f = outage_then_kill(&dir);
        assert!(!spool_files(&dir).is_empty(), "written while down");
        // SIGKILL: no spool_on_stop. A new process, the receiver back.
        let mut g = Fixture::with_receiver(100, 3, DataSource::Average, f.rx.clone());
        drop(f);
        g.inst.set_spool(test_spool(&dir, 1 << 20), 2);
        for k in 21..=26 {
            g.second(k, true);
        }
        let (map, ordered) = g.received();
        assert!(ordered);
        let last_on_disk = (3..=20)
            .rev()
            .find(|k| map.contains_key(&("d0".to_string(), *k)))
            .expect("the backlog came back");
        assert!(
            last_on_disk >= 20 - 2,
            "more than the interval lost: {last_on_disk}"
        );
        g.expect_once((1..=last_on_disk).chain(21..=26));
        assert!(spool_files(&dir).is_empty(), "delivered: removed");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn with_periodic_spooling_an_outage_and_a_clean_stop_lose_and_repeat_nothing() {
        let dir = spool_dir("periodic");
        let mut f = outage_then_kill(&dir);
        // The receiver comes back without a restart: everything once.
        for k in 21..=30 {
            f.second(k, true);
        }
        let mut counters = IntervalCounters::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while f.inst.backlog_since().is_some() && Instant::now() < deadline {
            f.inst.catch_up(&f.store, &mut counters);
        }
        f.second(31, true);
        f.expect_once(1..=31);
        assert!(spool_files(&dir).is_empty(), "delivered: removed");

        // Down again, a clean stop after periodic writes, a restart.
        for k in 32..=40 {
            f.second(k, false);
        }
        f.inst.spool_on_stop(&f.store);
        let mut g = Fixture::with_receiver(100, 3, DataSource::Average, f.rx.clone());
        drop(f);
        g.inst.set_spool(test_spool(&dir, 1 << 20), 2);
        for k in 41..=46 {
            g.second(k, true);
        }
        g.expect_once(1..=46);
        assert!(spool_files(&dir).is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_spool_that_cannot_be_written_keeps_memory_bounded_and_the_store_replays() {
        // The spool directory's place is taken by a file: nothing can be
        // created there.
        let dir = spool_dir("unwritable");
        std::fs::write(&dir, b"not a directory").unwrap();
        let mut f = Fixture::new(100, 3, DataSource::Average);
        f.inst.set_spool(test_spool(&dir, 1 << 20), 1);
        for k in 1..=20 {
            f.second(k, k <= 2);
            assert!(f.inst.ring.len() <= 3);
            assert!(f.inst.overflow.len() <= 2, "{}", f.inst.overflow.len());
        }
        assert!(f.inst.spooler.as_ref().is_some_and(|s| s.failing));
        for k in 21..=22 {
            f.second(k, true);
        }
        let mut counters = IntervalCounters::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while f.inst.backlog_since().is_some() && Instant::now() < deadline {
            f.inst.catch_up(&f.store, &mut counters);
        }
        f.second(23, true);
        f.expect_once(1..=23);
        let _ = std::fs::remove_file(dir);
    }
}
