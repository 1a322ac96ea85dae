//! The statsd server's socket loop: one thread, one level-triggered `epoll`
//! set (`sys::Poller`) over the UDP sockets, the TCP listeners and the TCP
//! connections. Every read goes straight into the metrics database under
//! its lock; nothing is queued.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::metrics::{IngestReport, Metrics, ServerStats};
use crate::config::{StatsdBind, StatsdConfig};
use crate::log_limit::LogLimiter;
use crate::shutdown::Shutdown;
use crate::sys::{Poller, Readiness, Waker};

/// netdata's UDP buffer: a datagram is read into 9000 bytes, at most 8999
/// used. A longer one is dropped and counted (netdata used its first 8999
/// bytes, cutting its last line).
pub const UDP_MAX_DATAGRAM: usize = 8999;
/// Bytes read from a TCP connection at once.
const TCP_READ_CHUNK: usize = 65_536;
/// Reads of one TCP connection per wake-up.
const TCP_READS_PER_WAKE: usize = 16;
/// How often the loop wakes to check the stop request and idle clients.
const TICK: Duration = Duration::from_millis(250);
/// The UDP receive buffer asked for (the kernel caps it at
/// `net.core.rmem_max`).
pub const UDP_RECEIVE_BUFFER: usize = 4 << 20;
/// Most bytes of datagrams waiting while the flush holds the metrics' lock.
pub const BACKLOG_MAX_BYTES: usize = 16 << 20;
/// How soon the loop retries a waiting backlog.
const BACKLOG_RETRY: Duration = Duration::from_millis(2);
/// Datagram buffers kept for reuse.
const SPARE_BUFFERS: usize = 1024;
/// Tokens at and above this are TCP connections.
const CONN_TOKEN_BASE: u64 = 1 << 32;

/// The bound sockets of `bind to`.
pub(super) struct Sockets {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
}

impl Sockets {
    /// Binds every address of every entry (a name may resolve to several);
    /// failures are logged and skipped.
    pub(super) fn bind(binds: &[StatsdBind]) -> Sockets {
        let mut sockets = Sockets {
            udp: Vec::new(),
            tcp: Vec::new(),
        };
        for bind in binds {
            let host = if bind.host == "*" {
                "::"
            } else {
                bind.host.as_str()
            };
            let addrs: Vec<SocketAddr> = match (host, bind.port).to_socket_addrs() {
                Ok(addrs) => addrs.collect(),
                Err(error) => {
                    tracing::error!(host = %bind.host, %error, "statsd: cannot resolve a bind to address");
                    continue;
                }
            };
            for addr in addrs {
                let result = if bind.udp {
                    UdpSocket::bind(addr).and_then(|s| {
                        s.set_nonblocking(true)?;
                        // Room for bursts and for the moments the thread is
                        // not scheduled (netdata keeps the kernel's default).
                        if let Err(error) = crate::sys::set_receive_buffer(&s, UDP_RECEIVE_BUFFER) {
                            tracing::debug!(%addr, %error, "statsd: cannot enlarge the UDP receive buffer");
                        }
                        sockets.udp.push(s);
                        Ok(())
                    })
                } else {
                    TcpListener::bind(addr).and_then(|s| {
                        s.set_nonblocking(true)?;
                        sockets.tcp.push(s);
                        Ok(())
                    })
                };
                if let Err(error) = result {
                    let proto = if bind.udp { "udp" } else { "tcp" };
                    tracing::error!(%addr, proto, %error, "statsd: cannot listen");
                }
            }
        }
        sockets
    }

    pub(super) fn is_empty(&self) -> bool {
        self.udp.is_empty() && self.tcp.is_empty()
    }

    pub(super) fn udp_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }

    pub(super) fn tcp_addrs(&self) -> Vec<SocketAddr> {
        self.tcp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Bytes of an incomplete line.
    pending: Vec<u8>,
    /// Dropping an oversized line up to its end.
    discarding: bool,
    last_active: Instant,
}

/// The socket loop's state.
pub(super) struct Server {
    poller: Poller,
    sockets: Sockets,
    conns: HashMap<u64, Conn>,
    next_token: u64,
    metrics: Arc<Mutex<Metrics>>,
    max_conns: usize,
    idle_timeout: Option<Duration>,
    max_line: usize,
    udp_batch: usize,
    udp_buf: Vec<u8>,
    tcp_buf: Vec<u8>,
    log: LogLimiter,
    /// Datagrams read while the flush held the metrics' lock.
    backlog: Vec<(SocketAddr, Vec<u8>)>,
    backlog_bytes: usize,
    /// Buffers of drained datagrams, for the next ones.
    spare: Vec<Vec<u8>>,
    /// Counters of reads made without the lock, added when it is taken.
    unlocked: ServerStats,
    /// Wakes the loop at shutdown (it may wait with no timeout).
    waker: Arc<Waker>,
}

/// The poller token of the shutdown wake-up.
const WAKER_TOKEN: u64 = u64::MAX;

impl Server {
    pub(super) fn new(
        sockets: Sockets,
        config: &StatsdConfig,
        metrics: Arc<Mutex<Metrics>>,
    ) -> io::Result<Server> {
        let poller = Poller::new()?;
        for (i, s) in sockets.udp.iter().enumerate() {
            poller.add(s, i as u64, true, false)?;
        }
        let base = sockets.udp.len() as u64;
        for (i, s) in sockets.tcp.iter().enumerate() {
            poller.add(s, base + i as u64, true, false)?;
        }
        let waker = Arc::new(Waker::new()?);
        poller.add(&*waker, WAKER_TOKEN, true, false)?;
        Ok(Server {
            poller,
            sockets,
            conns: HashMap::new(),
            next_token: CONN_TOKEN_BASE,
            metrics,
            max_conns: config.max_tcp_sockets,
            idle_timeout: (config.tcp_idle_timeout_s > 0)
                .then(|| Duration::from_secs(config.tcp_idle_timeout_s)),
            max_line: config.max_line_length,
            udp_batch: config.udp_messages_at_once.max(1),
            udp_buf: vec![0; UDP_MAX_DATAGRAM + 1],
            tcp_buf: vec![0; TCP_READ_CHUNK],
            log: LogLimiter::with_burst(20, Duration::from_secs(1)),
            backlog: Vec::new(),
            backlog_bytes: 0,
            spare: Vec::new(),
            unlocked: ServerStats::default(),
            waker,
        })
    }

    pub(super) fn run(mut self, shutdown: &Shutdown) {
        let wake = self.waker.clone();
        shutdown.on_trigger(move || wake.wake());
        let mut ready = Vec::new();
        let mut last_sweep = Instant::now();
        while !shutdown.is_triggered() {
            // Timed waits only while something is due: the backlog, or
            // TCP connections to close when idle. A server with nothing to
            // do sleeps until a packet, a connection or the shutdown.
            let wait = if self.has_pending() {
                Some(BACKLOG_RETRY)
            } else if self.idle_timeout.is_some() && !self.conns.is_empty() {
                Some(TICK)
            } else {
                None
            };
            if let Err(error) = self.poller.wait(wait, &mut ready) {
                tracing::error!(%error, "statsd: waiting for sockets failed");
                if shutdown.sleep(TICK) {
                    return;
                }
                continue;
            }
            for r in ready.drain(..) {
                self.handle(r);
            }
            if self.has_pending() {
                self.drain_backlog(false);
            }
            if last_sweep.elapsed() >= TICK {
                last_sweep = Instant::now();
                self.close_idle();
            }
        }
        self.drain_backlog(true);
    }

    fn has_pending(&self) -> bool {
        !self.backlog.is_empty() || self.unlocked != ServerStats::default()
    }

    fn handle(&mut self, r: Readiness) {
        if r.token == WAKER_TOKEN {
            self.waker.reset();
            return;
        }
        let udp = self.sockets.udp.len() as u64;
        let tcp = self.sockets.tcp.len() as u64;
        if r.token < udp {
            self.read_udp(r.token as usize);
        } else if r.token < udp + tcp {
            self.accept((r.token - udp) as usize);
        } else {
            self.read_conn(r.token);
        }
    }

    /// Logs a problem with a peer, rate-limited; returns nothing.
    fn warn(&mut self, peer: SocketAddr, what: &str) {
        if let Some(suppressed) = self.log.check_now() {
            tracing::warn!(%peer, suppressed, "statsd: {what}");
        }
    }

    /// Reads the datagrams waiting on UDP socket `i` into the backlog (up
    /// to `udp messages to process at once` per read), then hands the
    /// backlog to the metrics if their lock is free. While the flush holds
    /// it, datagrams keep being read (so the kernel's buffer does not
    /// overflow) and wait in the backlog, bounded by [`BACKLOG_MAX_BYTES`].
    fn read_udp(&mut self, i: usize) {
        loop {
            let mut got = 0;
            while got < self.udp_batch {
                let (n, peer) = match self.sockets.udp[i].recv_from(&mut self.udp_buf) {
                    Ok(x) => x,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.unlocked.errors += 1;
                        tracing::error!(error = %e, "statsd: UDP receive failed");
                        break;
                    }
                };
                got += 1;
                self.unlocked.udp_packets += 1;
                self.unlocked.udp_bytes += n as u64;
                if n > UDP_MAX_DATAGRAM {
                    self.unlocked.errors += 1;
                    self.warn(
                        peer,
                        &format!("UDP datagram over {UDP_MAX_DATAGRAM} bytes dropped"),
                    );
                    continue;
                }
                if self.backlog_bytes + n > BACKLOG_MAX_BYTES {
                    self.unlocked.errors += 1;
                    self.warn(
                        peer,
                        "UDP datagram dropped: the backlog waiting for the flush is full",
                    );
                    continue;
                }
                let mut datagram = self.spare.pop().unwrap_or_default();
                datagram.clear();
                datagram.extend_from_slice(&self.udp_buf[..n]);
                self.backlog_bytes += n;
                self.backlog.push((peer, datagram));
            }
            if got > 0 {
                self.unlocked.udp_reads += 1;
            }
            self.drain_backlog(false);
            if got < self.udp_batch {
                return;
            }
        }
    }

    /// Ingests the backlog and adds the counters kept meanwhile, if the
    /// metrics' lock is free (or, with `wait`, once it is).
    fn drain_backlog(&mut self, wait: bool) {
        let metrics = self.metrics.clone();
        let guard = if wait {
            Some(metrics.lock())
        } else {
            metrics.try_lock()
        };
        let Some(mut metrics) = guard else {
            return;
        };
        add_unlocked(&mut metrics.stats, std::mem::take(&mut self.unlocked));
        let mut problems: Vec<(SocketAddr, String)> = Vec::new();
        for (peer, datagram) in self.backlog.drain(..) {
            let mut report = IngestReport::default();
            metrics.ingest(&datagram, &mut report);
            if let Some(first) = report.first {
                problems.push((
                    peer,
                    format!("{} problem(s), first: {first}", report.problems),
                ));
            }
            if self.spare.len() < SPARE_BUFFERS {
                self.spare.push(datagram);
            }
        }
        self.backlog_bytes = 0;
        drop(metrics);
        for (peer, what) in problems {
            self.warn(peer, &what);
        }
    }

    fn accept(&mut self, i: usize) {
        loop {
            let (stream, peer) = match self.sockets.tcp[i].accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.metrics.lock().stats.errors += 1;
                    tracing::error!(error = %e, "statsd: TCP accept failed");
                    return;
                }
            };
            if self.conns.len() >= self.max_conns {
                drop(stream);
                self.warn(
                    peer,
                    "TCP connection refused: [statsd] statsd server max TCP sockets reached",
                );
                continue;
            }
            let token = self.next_token;
            self.next_token += 1;
            if stream.set_nonblocking(true).is_err()
                || self.poller.add(&stream, token, true, false).is_err()
            {
                continue;
            }
            {
                let mut metrics = self.metrics.lock();
                metrics.stats.tcp_connects += 1;
                metrics.stats.tcp_connected += 1;
            }
            self.conns.insert(
                token,
                Conn {
                    stream,
                    peer,
                    pending: Vec::new(),
                    discarding: false,
                    last_active: Instant::now(),
                },
            );
        }
    }

    fn read_conn(&mut self, token: u64) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        let mut closed = false;
        let mut problems: Vec<String> = Vec::new();
        // At most this many reads per wake-up, so that one fast client
        // cannot starve the others (the poller reports it again).
        for _ in 0..TCP_READS_PER_WAKE {
            let n = match conn.stream.read(&mut self.tcp_buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.metrics.lock().stats.errors += 1;
                    problems.push(format!("TCP receive failed: {e}"));
                    closed = true;
                    break;
                }
            };
            conn.last_active = Instant::now();
            let mut data = &self.tcp_buf[..n];
            let mut metrics = self.metrics.lock();
            // Datagrams read before come first.
            add_unlocked(&mut metrics.stats, std::mem::take(&mut self.unlocked));
            for (_, datagram) in self.backlog.drain(..) {
                let mut ignored = IngestReport::default();
                metrics.ingest(&datagram, &mut ignored);
            }
            self.backlog_bytes = 0;
            metrics.stats.tcp_reads += 1;
            metrics.stats.tcp_packets += 1;
            metrics.stats.tcp_bytes += n as u64;
            if conn.discarding {
                match memchr::memchr(b'\n', data) {
                    Some(at) => {
                        conn.discarding = false;
                        data = &data[at + 1..];
                    }
                    None => continue,
                }
            }
            let mut report = IngestReport::default();
            let (complete, rest) = wire::statsd::split_complete(data);
            if !complete.is_empty() {
                if conn.pending.is_empty() {
                    metrics.ingest(complete, &mut report);
                } else {
                    conn.pending.extend_from_slice(complete);
                    metrics.ingest(&conn.pending, &mut report);
                    conn.pending.clear();
                }
            }
            if conn.pending.len() + rest.len() > self.max_line {
                metrics.stats.errors += 1;
                conn.pending.clear();
                conn.discarding = true;
                problems.push(format!(
                    "TCP line over {} bytes dropped ([statsd] max line length)",
                    self.max_line
                ));
            } else {
                conn.pending.extend_from_slice(rest);
            }
            if let Some(first) = report.first {
                problems.push(format!("{} problem(s), first: {first}", report.problems));
            }
        }
        let peer = conn.peer;
        for what in problems {
            self.warn(peer, &what);
        }
        if closed {
            self.close(token);
        }
    }

    fn close(&mut self, token: u64) {
        let Some(conn) = self.conns.remove(&token) else {
            return;
        };
        let _ = self.poller.delete(&conn.stream);
        let mut report = IngestReport::default();
        {
            let mut metrics = self.metrics.lock();
            if !conn.pending.is_empty() && !conn.discarding {
                // netdata counts unterminated data as an error, and uses it.
                metrics.stats.errors += 1;
                metrics.ingest(&conn.pending, &mut report);
            }
            metrics.stats.tcp_disconnects += 1;
            metrics.stats.tcp_connected = metrics.stats.tcp_connected.saturating_sub(1);
        }
        if !conn.pending.is_empty() && !conn.discarding {
            self.warn(
                conn.peer,
                "TCP client closed with an unterminated line; it was used",
            );
        }
    }

    fn close_idle(&mut self) {
        let Some(timeout) = self.idle_timeout else {
            return;
        };
        let idle: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.last_active.elapsed() >= timeout)
            .map(|(t, _)| *t)
            .collect();
        for token in idle {
            self.close(token);
        }
    }
}

/// Adds the counters of reads made without the metrics' lock.
fn add_unlocked(stats: &mut ServerStats, pending: ServerStats) {
    stats.errors += pending.errors;
    stats.udp_reads += pending.udp_reads;
    stats.udp_packets += pending.udp_packets;
    stats.udp_bytes += pending.udp_bytes;
}
