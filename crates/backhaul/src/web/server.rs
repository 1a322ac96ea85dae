//! [`WebServer`]: binds the `[web]` addresses and runs the event loop that
//! owns every connection (see the [module docs](super)).
//!
//! The loop waits on one `epoll` set (through [`crate::sys::Poller`]) for
//! the listeners, the connections and a wake-up the workers ring when they
//! finish. Per connection: read until a head is complete (at most
//! [`MAX_HEAD_LEN`](super::MAX_HEAD_LEN) bytes, or 431), queue it for a
//! worker (503 when the queue is full), write the worker's bytes, then wait
//! for the next request (keep-alive, pipelined bytes first) or shut our
//! side and drain until the client closes. Every 250 ms it closes the
//! connections past their deadline, and every `update every` seconds it
//! updates the self-monitoring charts.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rrd::Store;
use rustls::ServerConfig;
use thiserror::Error;
use wire::http_request::{parse_complete_head, HeadError};

use super::access::{Access, Area};
use super::allmetrics::AllmetricsState;
use super::conn::{Conn, Phase};
use super::monitoring::{Sample, WebCharts};
use super::pool::{Done, Job, Pool};
use super::response::{encode, Encoding, GzipCounts, Response};
use super::routes::Context;
use super::{Request, MAX_HEAD_LEN};
use crate::config::{BindAddress, LoadedConfig};
use crate::shutdown::Shutdown;
use crate::sys::{Poller, Readiness, Waker};

/// Takes connections the router hands off (`STREAM` requests): the next
/// issue's stream receiver. [`StreamHandler::accept`] runs on the event
/// loop's thread and must return at once, running the connection on a
/// thread of its own.
pub trait StreamHandler: Send + Sync {
    fn accept(&self, connection: Upgraded);
}

/// A connection handed off, with everything the server knew of it.
pub struct Upgraded {
    /// The request head that asked for it.
    pub request: Request,
    /// The socket, back in blocking mode, with its TLS session if any.
    pub stream: UpgradedStream,
    /// Plain bytes the client sent after the head, already read off the
    /// socket: they come before anything read from `stream`.
    pub leftover: Vec<u8>,
}

/// A handed-off socket: plain, or with its TLS session.
pub enum UpgradedStream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl io::Read for UpgradedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            UpgradedStream::Plain(s) => s.read(buf),
            UpgradedStream::Tls(s) => s.read(buf),
        }
    }
}

impl io::Write for UpgradedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            UpgradedStream::Plain(s) => s.write(buf),
            UpgradedStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            UpgradedStream::Plain(s) => s.flush(),
            UpgradedStream::Tls(s) => s.flush(),
        }
    }
}

/// What the agent plugs into the server.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Where `STREAM` requests go; without one they are refused (401).
    pub stream_handler: Option<Arc<dyn StreamHandler>>,
    /// What the status page and `/api/v1/exporters` show.
    pub status: Arc<super::StatusSources>,
}

/// Why the server could not start.
#[derive(Debug, Error)]
pub enum WebError {
    #[error(
        "cannot listen on {addr}: the address is already in use. Is netdata (or another \
         backhaul) still running on it? Stop it (systemctl stop netdata), or set [web] \
         'bind to' / 'default port' in netdata.conf to a free address, or '[web] mode = none'"
    )]
    AddressInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    #[error("cannot resolve [web] 'bind to' address '{host}': {reason}")]
    Resolve { host: String, reason: String },
    #[error("[web] '{key}' {}: {reason}", path.display())]
    Tls {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("starting the web server: {0}")]
    Io(#[from] io::Error),
}

/// Counters of the server, for tests and the charts (running totals,
/// except `connections_open`).
#[derive(Debug, Default)]
pub struct WebStats {
    pub connections_accepted: AtomicU64,
    pub connections_open: AtomicU64,
    /// Closed at once: `web server max sockets` reached.
    pub connections_rejected: AtomicU64,
    /// Closed at once: `allow connections from` refused the client.
    pub connections_denied: AtomicU64,
    /// Closed for missing a deadline (first request, idle, slow write).
    pub timeouts: AtomicU64,
    /// Responses fully written.
    pub responses: AtomicU64,
    /// Requests answered 4xx/5xx by the event loop itself (malformed,
    /// too large, with a body, queue full).
    pub refused_requests: AtomicU64,
    /// Connections handed to a stream handler.
    pub handed_off: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
}

/// A copy of [`WebStats`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebStatsSnapshot {
    pub connections_accepted: u64,
    pub connections_open: u64,
    pub connections_rejected: u64,
    pub connections_denied: u64,
    pub timeouts: u64,
    pub responses: u64,
    pub refused_requests: u64,
    pub handed_off: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl WebStats {
    pub fn snapshot(&self) -> WebStatsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        WebStatsSnapshot {
            connections_accepted: get(&self.connections_accepted),
            connections_open: get(&self.connections_open),
            connections_rejected: get(&self.connections_rejected),
            connections_denied: get(&self.connections_denied),
            timeouts: get(&self.timeouts),
            responses: get(&self.responses),
            refused_requests: get(&self.refused_requests),
            handed_off: get(&self.handed_off),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The running web server.
pub struct WebServer {
    addrs: Vec<SocketAddr>,
    stats: Arc<WebStats>,
    ctx: Arc<Context>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WebServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebServer")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

/// The poller token of the wake-up.
const WAKER_TOKEN: u64 = 0;
/// Listener `i` has token `FIRST_LISTENER + i`.
const FIRST_LISTENER: u64 = 1;
/// Connections have tokens from here on (never reused).
const FIRST_CONNECTION: u64 = 1 << 32;
/// How often deadlines are checked while a connection has one.
const TICK: Duration = Duration::from_millis(250);
/// How long a closing connection is drained, and how much of it.
const DRAIN_FOR: Duration = Duration::from_secs(2);
const DRAIN_CAP: usize = 256 * 1024;
/// Requests queued for the workers, per worker.
const QUEUE_PER_WORKER: usize = 64;

impl WebServer {
    /// Binds `[web]`'s addresses and starts serving; `Ok(None)` with
    /// `[web] mode = none`. Stops when `shutdown` fires.
    pub fn start(
        config: &LoadedConfig,
        store: Arc<Store>,
        shutdown: Shutdown,
        hooks: Hooks,
    ) -> Result<Option<WebServer>, WebError> {
        let web = &config.main.web;
        if !web.enabled() {
            tracing::info!(mode = %web.mode, "web server off ([web] mode)");
            return Ok(None);
        }
        let open_files = crate::sys::raise_open_files_limit();
        let max_sockets = web.max_sockets.unwrap_or_else(|| {
            open_files.map_or(4096, |n| {
                usize::try_from(n / 4).unwrap_or(usize::MAX).max(64)
            })
        });
        let threads = web.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(2, usize::from)
                .min(6)
        });
        let tls = match (&web.ssl_certificate, &web.ssl_key) {
            (Some(certificate), Some(key)) => Some(super::tls::server_config(certificate, key)?),
            _ => None,
        };
        let tls_enabled = tls.is_some();
        let listeners = bind_all(&web.bind)?;
        let addrs: Vec<SocketAddr> = listeners.iter().map(|(_, addr)| *addr).collect();

        let machine_guid = super::info::read_machine_guid(
            &config
                .main
                .directories
                .lib
                .join("registry/netdata.public.unique.id"),
        );
        let ctx = Arc::new(Context {
            store: store.clone(),
            prometheus: config.exporting.prometheus_exporter.clone(),
            allmetrics: AllmetricsState::new(),
            access: Access::new(&web.access),
            gzip_level: web.gzip.then_some(web.gzip_level),
            gzip_counts: GzipCounts::default(),
            facts: crate::system_facts::SystemFacts::get(),
            machine_guid,
            stream_handler: hooks.stream_handler,
            status: hooks.status,
            tls_enabled: tls.is_some(),
            stream_enabled: config.stream.sender_enabled,
            update_every: config.main.update_every,
        });
        let stats = Arc::new(WebStats::default());
        let waker = Arc::new(Waker::new()?);
        let (done_tx, done_rx) = mpsc::channel();
        let pool = Pool::start(
            threads,
            threads * QUEUE_PER_WORKER,
            ctx.clone(),
            done_tx,
            waker.clone(),
        )?;
        let poller = Poller::new()?;
        poller.add(&*waker, WAKER_TOKEN, true, false)?;
        for (i, (listener, _)) in listeners.iter().enumerate() {
            poller.add(listener, FIRST_LISTENER + i as u64, true, false)?;
        }
        // The loop may wait with no timeout: the shutdown wakes it.
        let wake = waker.clone();
        shutdown.on_trigger(move || wake.wake());
        // And the ports stop taking connections before anything learns of
        // the shutdown: before the loop winds down and before the stream
        // receiver drops its children (it may see the flag and drop them
        // before any wake-up runs). A child that reconnects the moment its
        // connection is dropped is then refused (and tries again after its
        // reconnect delay) instead of being accepted into a backlog the
        // closing listener then resets (netdata then waits a minute).
        let listeners = Arc::new(listeners);
        let stop_listening = Arc::downgrade(&listeners);
        shutdown.before_trigger(move || {
            if let Some(listeners) = stop_listening.upgrade() {
                for (listener, _) in listeners.iter() {
                    let _ = rustix::net::shutdown(listener, rustix::net::Shutdown::Read);
                }
            }
        });
        let seconds = |s: u32| (s > 0).then(|| Duration::from_secs(u64::from(s)));
        let event_loop = EventLoop {
            poller,
            waker,
            listeners,
            conns: HashMap::new(),
            next_id: FIRST_CONNECTION,
            ctx: ctx.clone(),
            pool: Some(pool),
            done: done_rx,
            tls,
            max_sockets,
            idle: seconds(web.idle_timeout_secs),
            first_request: seconds(web.first_request_timeout_secs),
            stats: stats.clone(),
            accept_paused_until: None,
            interval: Interval::default(),
            // netdata's web charts belong to its global statistics, off
            // with `[plugins] netdata monitoring = no`.
            charts: config
                .main
                .plugin_enabled("netdata monitoring")
                .then(|| WebCharts::new(store.localhost(), config.main.update_every)),
            update_every: Duration::from_secs(u64::from(config.main.update_every.max(1))),
            shutdown,
            scratch: vec![0; 16 * 1024],
        };
        let thread = std::thread::Builder::new()
            .name("web".to_string())
            .spawn(move || event_loop.run())?;
        tracing::info!(
            addresses = ?addrs,
            threads,
            max_sockets,
            tls = tls_enabled,
            "web server listening"
        );
        Ok(Some(WebServer {
            addrs,
            stats,
            ctx,
            thread: Some(thread),
        }))
    }

    /// The addresses it listens on (with the ports the system chose for
    /// port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The counters now.
    pub fn stats(&self) -> WebStatsSnapshot {
        self.stats.snapshot()
    }

    /// Bytes of the written-out response buffer kept for the next
    /// Prometheus body (0: none kept now).
    pub fn kept_response_bytes(&self) -> usize {
        self.ctx.allmetrics.spare_body_bytes()
    }

    /// Waits for the server to stop (after the shutdown fired).
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds every `bind to` address: `*` is every IPv6 and IPv4 address (one
/// dual-stack socket, or IPv4 alone where IPv6 is missing), a name every
/// address it resolves to.
fn bind_all(bind: &[BindAddress]) -> Result<Vec<(TcpListener, SocketAddr)>, WebError> {
    let mut listeners: Vec<(TcpListener, SocketAddr)> = Vec::new();
    for entry in bind {
        let candidates: Vec<SocketAddr> = if entry.host == "*" {
            let any6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, entry.port));
            match TcpListener::bind(any6) {
                Ok(listener) => {
                    let addr = listener.local_addr()?;
                    listener.set_nonblocking(true)?;
                    listeners.push((listener, addr));
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    return Err(WebError::AddressInUse { addr: any6 })
                }
                Err(_) => vec![SocketAddr::from((
                    std::net::Ipv4Addr::UNSPECIFIED,
                    entry.port,
                ))],
            }
        } else {
            (entry.host.as_str(), entry.port)
                .to_socket_addrs()
                .map_err(|e| WebError::Resolve {
                    host: entry.host.clone(),
                    reason: e.to_string(),
                })?
                .collect()
        };
        if candidates.is_empty() {
            return Err(WebError::Resolve {
                host: entry.host.clone(),
                reason: "no address".to_string(),
            });
        }
        for addr in candidates {
            if listeners
                .iter()
                .any(|(_, bound)| *bound == addr && addr.port() != 0)
            {
                continue;
            }
            let listener = TcpListener::bind(addr).map_err(|source| {
                if source.kind() == io::ErrorKind::AddrInUse {
                    WebError::AddressInUse { addr }
                } else {
                    WebError::Bind {
                        addr: addr.to_string(),
                        source,
                    }
                }
            })?;
            let local = listener.local_addr()?;
            listener.set_nonblocking(true)?;
            listeners.push((listener, local));
        }
    }
    Ok(listeners)
}

/// Response times of the current charts interval.
#[derive(Debug, Default)]
struct Interval {
    responses: u64,
    sum_us: u64,
    max_us: u64,
    gzip_before: u64,
    gzip_after: u64,
}

struct EventLoop {
    poller: Poller,
    waker: Arc<Waker>,
    /// Shared only with the shutdown's callback that stops them listening
    /// (which holds them weakly: they close when the loop ends).
    listeners: Arc<Vec<(TcpListener, SocketAddr)>>,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    ctx: Arc<Context>,
    pool: Option<Pool>,
    done: Receiver<Done>,
    tls: Option<Arc<ServerConfig>>,
    max_sockets: usize,
    idle: Option<Duration>,
    first_request: Option<Duration>,
    stats: Arc<WebStats>,
    accept_paused_until: Option<Instant>,
    interval: Interval,
    charts: Option<WebCharts>,
    update_every: Duration,
    shutdown: Shutdown,
    scratch: Vec<u8>,
}

impl EventLoop {
    fn run(mut self) {
        let mut ready = Vec::new();
        let mut next_sweep = Instant::now() + TICK;
        let mut next_charts = self
            .charts
            .is_some()
            .then(|| next_chart_time(self.update_every));
        loop {
            let now = Instant::now();
            // Wake only for what is due: deadlines while a connection has
            // one, the charts while there are charts, a paused accept. An
            // idle agent's web thread then sleeps until its next chart
            // update (or for good, with `netdata monitoring = no`): on a
            // virtual machine every timed wake-up costs tens of µs.
            let has_deadlines = self.conns.values().any(|c| c.deadline.is_some());
            let due = [
                has_deadlines.then_some(next_sweep),
                next_charts,
                self.accept_paused_until,
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = due.map(|due| due.saturating_duration_since(now));
            if let Err(error) = self.poller.wait(timeout, &mut ready) {
                tracing::error!(%error, "web server: waiting for sockets failed; stopping");
                break;
            }
            if self.shutdown.is_triggered() {
                break;
            }
            for event in ready.iter().copied() {
                self.on_event(event);
            }
            self.collect_done();
            let now = Instant::now();
            if self.accept_paused_until.is_some_and(|until| now >= until) {
                self.accept_paused_until = None;
                self.watch_listeners(true);
            }
            if now >= next_sweep {
                if has_deadlines {
                    self.sweep(now);
                }
                next_sweep = now + TICK;
            }
            if next_charts.is_some_and(|at| now >= at) {
                self.update_charts();
                next_charts = Some(next_chart_time(self.update_every));
            }
        }
        if let Some(pool) = self.pool.take() {
            pool.stop();
        }
        self.stats.connections_open.store(0, Ordering::Relaxed);
        tracing::debug!("web server stopped");
    }

    fn on_event(&mut self, event: Readiness) {
        match event.token {
            WAKER_TOKEN => self.waker.reset(),
            token if token < FIRST_CONNECTION => {
                let index = usize::try_from(token - FIRST_LISTENER).unwrap_or(usize::MAX);
                self.accept(index);
            }
            id => self.on_connection(id, event),
        }
    }

    /// Stops or resumes watching the listeners (while accepting fails for
    /// want of descriptors, a readable listener would wake the loop at
    /// once, again and again).
    fn watch_listeners(&self, watch: bool) {
        for (i, (listener, _)) in self.listeners.iter().enumerate() {
            let _ = self
                .poller
                .modify(listener, FIRST_LISTENER + i as u64, watch, false);
        }
    }

    fn accept(&mut self, index: usize) {
        loop {
            let Some((listener, _)) = self.listeners.get(index) else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors (or memory): stop accepting for a
                    // moment rather than spin on a listener that stays
                    // readable.
                    tracing::warn!(error = %e, "web server: accept failed; pausing accepts for 100 ms");
                    self.accept_paused_until = Some(Instant::now() + Duration::from_millis(100));
                    self.watch_listeners(false);
                    return;
                }
            };
            add(&self.stats.connections_accepted, 1);
            let client = super::request::canonical_ip(peer.ip());
            if !self.ctx.access.allows(Area::Connections, client) {
                add(&self.stats.connections_denied, 1);
                tracing::debug!(%peer, "web connection refused by [web] allow connections from");
                continue;
            }
            if self.conns.len() >= self.max_sockets {
                add(&self.stats.connections_rejected, 1);
                refuse_busy(stream);
                continue;
            }
            if let Err(error) = self.register(stream, peer) {
                tracing::debug!(%peer, %error, "web connection dropped");
            }
        }
    }

    fn register(&mut self, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        let _ = stream.set_nodelay(true);
        let now = Instant::now();
        let mut conn = Conn::new(stream, peer, self.tls.is_some(), now);
        conn.deadline = self.first_request.map(|d| now + d);
        let id = self.next_id;
        self.next_id += 1;
        self.poller.add(&conn.stream, id, true, false)?;
        conn.interest = Some((true, false));
        self.conns.insert(id, conn);
        self.stats
            .connections_open
            .store(self.conns.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn close(&mut self, id: u64) {
        if let Some(conn) = self.conns.remove(&id) {
            if conn.interest.is_some() {
                let _ = self.poller.delete(&conn.stream);
            }
            self.stats
                .connections_open
                .store(self.conns.len() as u64, Ordering::Relaxed);
        }
    }

    fn on_connection(&mut self, id: u64, event: Readiness) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match conn.phase {
            Phase::Reading => self.read_request(id),
            Phase::Writing => self.write_response(id),
            Phase::Draining => {
                if conn.drain(&mut self.scratch, DRAIN_CAP) {
                    self.close(id);
                }
            }
            Phase::Busy => {
                if event.closed {
                    // Gone while a worker has its request: stop watching;
                    // the worker's answer drops it.
                    conn.dead = true;
                    let _ = self.poller.delete(&conn.stream);
                    conn.interest = None;
                }
            }
        }
    }

    fn read_request(&mut self, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        match conn.fill(self.tls.as_ref(), &mut self.scratch, MAX_HEAD_LEN) {
            Ok(filled) => add(&self.stats.bytes_in, filled.socket_bytes),
            Err(error) => {
                tracing::debug!(peer = %conn.peer, %error, "web connection failed while reading");
                self.close(id);
                return;
            }
        }
        self.try_request(id);
    }

    /// Starts the request at the front of the connection's buffer, if its
    /// head is complete; else waits for more (or closes an ended one).
    fn try_request(&mut self, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Some(len) = conn.scanner.scan(&conn.inbuf) else {
            if conn.inbuf.len() > MAX_HEAD_LEN {
                let error = HeadError::TooLarge {
                    limit: MAX_HEAD_LEN,
                };
                tracing::debug!(peer = %conn.peer, %error, "web request refused");
                self.refuse(
                    id,
                    Response::text(431, format!("Request head too large: {error}.")),
                );
            } else if conn.eof {
                self.close(id);
            } else {
                self.update_interest(id);
            }
            return;
        };
        let tls = conn.tls.is_some();
        let peer = conn.peer;
        let parsed = if len > MAX_HEAD_LEN {
            Err(HeadError::TooLarge {
                limit: MAX_HEAD_LEN,
            })
        } else {
            parse_complete_head(&conn.inbuf[..len])
                .map(|head| (Request::from_head(&head, peer, tls), head.has_body()))
        };
        conn.inbuf.drain(..len);
        conn.scanner.reset();
        conn.request_started = Instant::now();
        let (request, has_body) = match parsed {
            Ok(parsed) => parsed,
            Err(error) => {
                tracing::debug!(%peer, %error, "web request refused");
                let status = match error {
                    HeadError::TooLarge { .. } => 431,
                    HeadError::UnsupportedVersion => 505,
                    _ => 400,
                };
                self.refuse(id, Response::text(status, format!("Bad request: {error}.")));
                return;
            }
        };
        if has_body {
            self.refuse(id, Response::text(413, "Request bodies are not accepted."));
            return;
        }
        conn.phase = Phase::Busy;
        conn.deadline = None;
        let Some(pool) = &self.pool else {
            return;
        };
        if let Err(job) = pool.submit(Job { id, request }) {
            tracing::debug!(peer = %job.request.peer, "web request queue full; answered 503");
            self.refuse(id, Response::text(503, "The server is busy; try again."));
            return;
        }
        self.update_interest(id);
    }

    /// Answers `response` from the event loop itself and closes after it.
    fn refuse(&mut self, id: u64, response: Response) {
        add(&self.stats.refused_requests, 1);
        let bytes = encode(
            &response,
            &Encoding {
                head_only: false,
                keep_alive: false,
                gzip_level: None,
                gzip_counts: None,
                now_s: crate::sys::now_realtime_ut() / 1_000_000,
            },
        );
        self.start_writing(id, bytes, false);
    }

    fn start_writing(&mut self, id: u64, bytes: Vec<u8>, keep_alive: bool) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.out = bytes;
        conn.out_pos = 0;
        conn.keep_alive = keep_alive && !conn.eof;
        conn.phase = Phase::Writing;
        conn.deadline = self.idle.map(|d| Instant::now() + d);
        self.write_response(id);
    }

    fn write_response(&mut self, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let (written, finished) = match conn.flush() {
            Ok(result) => result,
            Err(error) => {
                tracing::debug!(peer = %conn.peer, %error, "web connection failed while writing");
                self.close(id);
                return;
            }
        };
        add(&self.stats.bytes_out, written);
        if written > 0 {
            conn.deadline = self.idle.map(|d| Instant::now() + d);
        }
        if !finished {
            self.update_interest(id);
            return;
        }
        add(&self.stats.responses, 1);
        let took = u64::try_from(conn.request_started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.interval.responses += 1;
        self.interval.sum_us = self.interval.sum_us.saturating_add(took);
        self.interval.max_us = self.interval.max_us.max(took);
        // A scrape's megabytes serve as the next scrape's body.
        self.ctx
            .allmetrics
            .recycle_body(std::mem::take(&mut conn.out));
        conn.out_pos = 0;
        if conn.keep_alive {
            conn.phase = Phase::Reading;
            conn.deadline = self.idle.map(|d| Instant::now() + d);
            // A pipelined request may be buffered already.
            self.try_request(id);
        } else {
            let written = conn.shut();
            add(&self.stats.bytes_out, written);
            conn.phase = Phase::Draining;
            conn.deadline = Some(Instant::now() + DRAIN_FOR);
            self.update_interest(id);
        }
    }

    fn update_interest(&mut self, id: u64) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let wanted = conn.wanted_interest();
        if wanted == conn.interest {
            return;
        }
        let result = match (conn.interest, wanted) {
            (Some(_), Some((read, write))) => self.poller.modify(&conn.stream, id, read, write),
            (None, Some((read, write))) => self.poller.add(&conn.stream, id, read, write),
            (Some(_), None) => self.poller.delete(&conn.stream),
            (None, None) => Ok(()),
        };
        match result {
            Ok(()) => conn.interest = wanted,
            Err(error) => {
                tracing::debug!(peer = %conn.peer, %error, "web connection lost");
                self.close(id);
            }
        }
    }

    fn collect_done(&mut self) {
        while let Ok(done) = self.done.try_recv() {
            match done {
                Done::Respond {
                    id,
                    bytes,
                    keep_alive,
                    status,
                } => {
                    let dead = self.conns.get(&id).is_none_or(|c| c.dead);
                    if dead {
                        self.close(id);
                        continue;
                    }
                    tracing::trace!(id, status, "web response ready");
                    self.start_writing(id, bytes, keep_alive);
                }
                Done::Upgrade {
                    id,
                    handler,
                    request,
                } => self.hand_off(id, handler, request),
            }
        }
    }

    fn hand_off(&mut self, id: u64, handler: Arc<dyn StreamHandler>, request: Request) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        self.stats
            .connections_open
            .store(self.conns.len() as u64, Ordering::Relaxed);
        if conn.interest.is_some() {
            let _ = self.poller.delete(&conn.stream);
        }
        if conn.dead || conn.stream.set_nonblocking(false).is_err() {
            return;
        }
        let Conn {
            stream, tls, inbuf, ..
        } = conn;
        let stream = match tls {
            Some(session) => {
                UpgradedStream::Tls(Box::new(rustls::StreamOwned::new(*session, stream)))
            }
            None => UpgradedStream::Plain(stream),
        };
        add(&self.stats.handed_off, 1);
        handler.accept(Upgraded {
            request,
            stream,
            leftover: inbuf,
        });
    }

    /// Closes the connections past their deadline.
    fn sweep(&mut self, now: Instant) {
        let late: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| now >= d))
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            if let Some(conn) = self.conns.get(&id) {
                if conn.phase != Phase::Draining {
                    add(&self.stats.timeouts, 1);
                    tracing::debug!(peer = %conn.peer, phase = ?conn.phase, "web connection timed out");
                }
            }
            self.close(id);
        }
    }

    fn update_charts(&mut self) {
        let gzip_before = self.ctx.gzip_counts.before.load(Ordering::Relaxed);
        let gzip_after = self.ctx.gzip_counts.after.load(Ordering::Relaxed);
        let before = gzip_before - self.interval.gzip_before.min(gzip_before);
        let after = gzip_after - self.interval.gzip_after.min(gzip_after);
        let savings = before
            .saturating_sub(after)
            .saturating_mul(100_000)
            .checked_div(before)
            .unwrap_or(0);
        let sample = Sample {
            clients: self.conns.len() as u64,
            requests_total: self.stats.responses.load(Ordering::Relaxed),
            bytes_in_total: self.stats.bytes_in.load(Ordering::Relaxed),
            bytes_out_total: self.stats.bytes_out.load(Ordering::Relaxed),
            response_time_avg_us: self
                .interval
                .sum_us
                .checked_div(self.interval.responses)
                .unwrap_or(0),
            response_time_max_us: self.interval.max_us,
            compression_savings_milli: savings,
        };
        if let Some(charts) = &mut self.charts {
            charts.update(&sample, crate::sys::now_realtime_ut());
        }
        self.interval = Interval {
            gzip_before,
            gzip_after,
            ..Interval::default()
        };
    }
}

/// The next whole multiple of `every` on the wall clock, as an instant.
fn next_chart_time(every: Duration) -> Instant {
    let now_us = crate::sys::now_realtime_ut();
    let every_us = u64::try_from(every.as_micros()).unwrap_or(1_000_000).max(1);
    let wait = every_us - now_us % every_us;
    Instant::now() + Duration::from_micros(wait)
}

/// Over `web server max sockets`: a short 503, written if the socket takes
/// it at once, then closed.
fn refuse_busy(stream: TcpStream) {
    use std::io::Write as _;
    let _ = stream.set_nonblocking(true);
    let mut stream = stream;
    let _ = stream.write(
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n\r\nToo many connections; retry.\n",
    );
    let _ = stream.shutdown(std::net::Shutdown::Write);
}
