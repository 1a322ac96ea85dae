//! Streaming: parent mode (netdata children stream their hosts to this
//! agent) and child mode ([`sender`]: this agent streams its own host to a
//! parent).
//!
//! The web server hands a `STREAM` request's connection to the
//! [`StreamReceiver`] (a `web::StreamHandler`): a plain connection joins
//! the shared reading loop (`reading_loop`: one thread and one `epoll` set
//! for every plain child), a TLS one gets a thread of its own:
//!
//! | file | owns |
//! | --- | --- |
//! | [`handshake`] | the request's fields, capability negotiation, netdata's answer and refusal texts |
//! | `connection` | one child's connection: the checks, the answer, then reading the stream (LZ4 or plain) into the child's host |
//! | [`replication`] | what to ask for with `REPLAY_CHART` (the points that come back are stored with `rrd`'s `ChartWriter::store_point`) |
//! | [`sender`] | child mode: `[stream] enabled = yes`, the connection to a parent, definitions, rounds and replication answers from the store |
//!
//! The receiver keeps one entry per machine GUID: the child's `Host` in the
//! store and the `Ingest` holding its chart cache, both kept across
//! reconnects. When a child goes, its charts are marked obsolete; a host
//! whose child stayed away `[db] cleanup orphan hosts after secs` is
//! removed from the store by the receiver's janitor thread.
//!
//! The reading loop reads without blocking, a bounded slice per child per
//! turn, and checks the idle timeout once a second while children are
//! connected; a TLS connection's thread blocks in its socket's read for up
//! to two seconds at a time. On shutdown the loop is woken through an
//! `eventfd`, and the janitor shuts every registered connection's socket
//! down, which ends the TLS threads' reads at once.

pub mod handshake;
pub mod replication;
pub mod sender;

mod connection;
mod reading_loop;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rrd::{Host, Store};

use crate::collectors::pluginsd::ingest::{Ingest, IngestLimits};
use crate::config::{LoadedConfig, StreamConfig};
use crate::shutdown::Shutdown;
use crate::web::{StreamHandler, Upgraded};

/// How the receiver runs; from the configuration by
/// [`ReceiverOptions::from_config`].
#[derive(Debug, Clone)]
pub struct ReceiverOptions {
    /// stream.conf.
    pub stream: StreamConfig,
    /// netdata.conf's history: the default of `default history`.
    pub default_history: u32,
    /// `[db] cleanup orphan hosts after secs` (0: at the next look, as
    /// netdata).
    pub cleanup_orphan_hosts_after: Duration,
    /// `[web] accept a streaming request every seconds` (0: no limit).
    pub accept_every: Duration,
    /// This agent's machine GUID, if it has one: a child claiming it is
    /// refused.
    pub local_machine_guid: Option<String>,
    /// A child silent this long is disconnected.
    pub idle_timeout: Duration,
    /// Bounds on what one child may define.
    pub limits: IngestLimits,
    /// The most children connected at once; more are answered 503.
    pub max_children: usize,
    /// Bytes waiting for a child that does not read them (replication
    /// requests) before its connection is closed.
    pub max_unread_bytes: usize,
}

impl ReceiverOptions {
    /// The options the configuration gives.
    pub fn from_config(config: &LoadedConfig) -> ReceiverOptions {
        let main = &config.main;
        let local_machine_guid = std::fs::read_to_string(
            main.directories
                .lib
                .join("registry/netdata.public.unique.id"),
        )
        .ok()
        .map(|text| text.trim().to_ascii_lowercase())
        .filter(|guid| crate::config::is_uuid(guid));
        ReceiverOptions {
            stream: config.stream.clone(),
            default_history: main.history,
            cleanup_orphan_hosts_after: Duration::from_secs(u64::from(
                main.cleanup_orphan_hosts_after_secs,
            )),
            accept_every: Duration::from_secs(u64::from(main.web.stream_accept_every_secs)),
            local_machine_guid,
            idle_timeout: Duration::from_secs(60),
            limits: IngestLimits::default(),
            max_children: 10_000,
            max_unread_bytes: 4 << 20,
        }
    }

    /// Whether any API key accepts children (else no receiver is needed).
    pub fn accepts_children(&self) -> bool {
        self.stream.enabled_api_keys().next().is_some()
    }
}

/// One machine GUID the receiver has seen.
struct Child {
    host: Arc<Host>,
    /// The chart cache, `None` while a connection holds it.
    ingest: Option<Ingest>,
    connected: bool,
    /// When the last connection ended.
    disconnected_at: Option<Instant>,
    /// The API key of its last accepted connection (for its proxy settings).
    api_key: String,
}

/// Counters for tests and the status page.
#[derive(Debug, Default)]
pub struct ReceiverCounters {
    /// Connections accepted (the answer sent).
    pub accepted: AtomicU64,
    /// Requests refused (401, 409, 503).
    pub refused: AtomicU64,
    /// Connections ended, for whatever reason.
    pub disconnected: AtomicU64,
    /// Hosts removed by the janitor.
    pub hosts_removed: AtomicU64,
    /// Replicated values received (`RSET`).
    pub replicated_values: AtomicU64,
    /// Replicated points stored (appended, or filling a gap).
    pub replicated_points: AtomicU64,
}

/// What the connection threads share.
struct Shared {
    store: Arc<Store>,
    options: ReceiverOptions,
    shutdown: Shutdown,
    children: Mutex<HashMap<String, Child>>,
    last_accepted: Mutex<Option<Instant>>,
    counters: ReceiverCounters,
    /// The sockets of the connections reading now (clones, by a number of
    /// their own), shut down on shutdown to end their blocking reads.
    reading: Mutex<HashMap<u64, TcpStream>>,
    next_reading: AtomicU64,
    /// Reads every plain connection after its handshake.
    reading_loop: Arc<reading_loop::ReadingLoop>,
}

impl Shared {
    /// Registers a connection's socket for [`Shared::end_reads`]; returns
    /// the number to unregister it with.
    fn register_reading(&self, socket: &TcpStream) -> Option<u64> {
        let clone = socket.try_clone().ok()?;
        let key = self.next_reading.fetch_add(1, Ordering::Relaxed);
        self.reading.lock().insert(key, clone);
        Some(key)
    }

    fn unregister_reading(&self, key: Option<u64>) {
        if let Some(key) = key {
            self.reading.lock().remove(&key);
        }
    }

    /// Ends every registered connection's blocking read (on shutdown).
    fn end_reads(&self) {
        for socket in self.reading.lock().values() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// The parent side of netdata's streaming (see the [module docs](self)).
#[derive(Clone)]
pub struct StreamReceiver {
    shared: Arc<Shared>,
}

impl StreamReceiver {
    /// A receiver writing children's hosts into `store`; starts its janitor
    /// thread (which ends with `shutdown`).
    pub fn start(
        store: Arc<Store>,
        options: ReceiverOptions,
        shutdown: Shutdown,
    ) -> std::io::Result<StreamReceiver> {
        let reading_loop = reading_loop::ReadingLoop::start(&shutdown)?;
        let shared = Arc::new(Shared {
            reading_loop,
            store,
            options,
            shutdown,
            children: Mutex::new(HashMap::new()),
            last_accepted: Mutex::new(None),
            counters: ReceiverCounters::default(),
            reading: Mutex::new(HashMap::new()),
            next_reading: AtomicU64::new(0),
        });
        let janitor = shared.clone();
        std::thread::Builder::new()
            .name("stream-janitor".into())
            .spawn(move || janitor_loop(&janitor))?;
        Ok(StreamReceiver { shared })
    }

    /// The counters.
    pub fn counters(&self) -> &ReceiverCounters {
        &self.shared.counters
    }

    /// The API key the child with `machine_guid` last connected with.
    pub fn api_key_of(&self, machine_guid: &str) -> Option<String> {
        self.shared
            .children
            .lock()
            .get(machine_guid)
            .map(|child| child.api_key.clone())
    }

    /// Children connected now.
    pub fn connected_children(&self) -> usize {
        self.shared
            .children
            .lock()
            .values()
            .filter(|child| child.connected)
            .count()
    }
}

impl StreamHandler for StreamReceiver {
    fn accept(&self, connection: Upgraded) {
        let shared = self.shared.clone();
        let peer = connection.request.peer;
        let spawned = std::thread::Builder::new()
            .name("stream-rx".into())
            .spawn(move || connection::run(&shared, connection));
        if let Err(error) = spawned {
            tracing::error!(%peer, %error, "cannot start a stream receiver thread; connection dropped");
        }
    }
}

/// netdata's automatic `_is_parent` label of the local host: `true` while
/// at least one child streams here, `false` again when the last one goes
/// (with `send automatic labels = yes` the exported series change with it,
/// as netdata's do). Called with the children's lock held.
fn update_is_parent_label(shared: &Shared, connected: usize) {
    let localhost = shared.store.localhost();
    let labels = localhost.labels();
    let value = if connected > 0 { "true" } else { "false" };
    let Some(pos) = labels
        .iter()
        .position(|l| l.key == crate::agent::IS_PARENT_LABEL)
    else {
        return;
    };
    if labels[pos].value != value {
        let mut updated = (*labels).clone();
        updated[pos].value = value.to_string();
        localhost.set_labels(updated);
    }
}

/// Removes hosts whose child stayed away longer than the cleanup delay;
/// on shutdown, ends the connections' blocking reads.
fn janitor_loop(shared: &Shared) {
    let delay = shared.options.cleanup_orphan_hosts_after;
    let tick = (delay / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    loop {
        if shared.shutdown.sleep(tick) {
            shared.end_reads();
            return;
        }
        let now = Instant::now();
        let mut children = shared.children.lock();
        let expired: Vec<String> = children
            .iter()
            .filter(|(_, child)| {
                !child.connected
                    && child
                        .disconnected_at
                        .is_some_and(|at| now.duration_since(at) >= delay)
            })
            .map(|(guid, _)| guid.clone())
            .collect();
        for guid in expired {
            if let Some(child) = children.remove(&guid) {
                shared.store.remove_host(&child.host);
                shared
                    .counters
                    .hosts_removed
                    .fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    host = child.host.hostname(),
                    machine_guid = %guid,
                    after_secs = delay.as_secs(),
                    "orphan child host removed"
                );
            }
        }
    }
}

/// Who a connection is, for log lines.
#[derive(Debug, Clone)]
struct Peer {
    addr: SocketAddr,
    hostname: String,
    machine_guid: String,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.hostname.is_empty() {
            write!(f, "{}", self.addr)
        } else {
            write!(
                f,
                "{} ({}, {})",
                self.hostname, self.machine_guid, self.addr
            )
        }
    }
}
