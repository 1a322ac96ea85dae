//! One child's connection: netdata's checks and the answer (on a short
//! thread of its own), then the stream into the child's host until it
//! ends, read by a [`Reader`]: on the shared reading loop for a plain
//! stream (`reading_loop.rs`), on this thread for TLS.
//!
//! The checks, in netdata 1.37's order: the request names a key, a
//! hostname and a machine GUID, both UUIDs (else 401); the GUID is not this
//! agent's own (401, "Don't hit me baby..."); stream.conf accepts the key
//! and the GUID from the child's address (else 401); the rate limit
//! (`accept a streaming request every seconds`) and the bound on children
//! (503); the GUID is not streaming already (409). Each refusal is an HTTP
//! response with netdata's text and a log line naming the peer.
//!
//! After the answer, everything the child sends is plugins.d lines
//! (through LZ4 when compression was agreed). Commands plugins also send go
//! to the child's `Ingest`; the stream-only ones are handled here. The
//! connection is closed, with a log line naming the child, on: end of
//! stream, `idle timeout` of silence, a line longer than netdata's 16 KiB
//! limit, a verb that is not netdata's (garbage), a corrupt compressed
//! block, or shutdown.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rrd::{Chart, DimIndex, Host, StoredAs};
use wire::pluginsd::{
    parse_line, Command, FrameError, LineFramer, TextPreview, DEFAULT_MAX_LINE_LEN,
};
use wire::stream_compression::StreamDecompressor;

use super::handshake::{
    negotiate, Negotiated, StreamRequest, CAP_COMPRESSION, CAP_REPLICATION,
    REFUSED_ALREADY_STREAMING, REFUSED_BUSY, REFUSED_NOT_PERMITTED, REFUSED_SAME_LOCALHOST,
};
use super::replication::{ReplayRequest, ReplicationPolicy};
use super::{Child, Peer, Shared};
use crate::collectors::pluginsd::ingest::{Ingest, IngestSettings};
use crate::web::{Upgraded, UpgradedStream};

/// How long one blocking read waits before checking the idle timeout
/// (shorter when that is): children send every second, so a read mostly
/// wakes for data. Shutdown does not wait for it: the janitor shuts the
/// socket down.
const READ_SLICE: Duration = Duration::from_secs(2);

/// The most read from the socket at once.
const READ_LEN: usize = 16 * 1024;

/// How long a write to the child may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one connection to its end.
pub(super) fn run(shared: &Arc<Shared>, connection: Upgraded) {
    let Upgraded {
        request,
        mut stream,
        leftover,
    } = connection;
    let addr = request.peer;
    let mut peer = Peer {
        addr,
        hostname: String::new(),
        machine_guid: String::new(),
    };
    let _ = socket(&stream).set_write_timeout(Some(WRITE_TIMEOUT));

    let child = match StreamRequest::parse(&request.target) {
        Ok(child) => child,
        Err(error) => {
            tracing::warn!(%peer, %error, "STREAM request refused (401)");
            refuse(shared, &mut stream, 401, REFUSED_NOT_PERMITTED);
            return;
        }
    };
    peer.hostname = child.hostname.clone();
    peer.machine_guid = child.machine_guid.clone();

    let options = &shared.options;
    if options.local_machine_guid.as_deref() == Some(child.machine_guid.as_str()) {
        tracing::warn!(%peer, "STREAM request with this agent's own machine GUID refused (401)");
        refuse(shared, &mut stream, 401, REFUSED_SAME_LOCALHOST);
        return;
    }
    let client_ip = request.client_ip();
    // As `[web] allow ... from`: the address, and loopback also as
    // `localhost`; a negative match refuses.
    let allowed = |pattern: &str| {
        let pattern = wire::simple_pattern::SimplePattern::new(pattern);
        let verdict = pattern.match_result(&client_ip.to_string()).or_else(|| {
            client_ip
                .is_loopback()
                .then(|| pattern.match_result("localhost"))
                .flatten()
        });
        verdict == Some(true)
    };
    let settings = match options.stream.resolve(
        &child.key,
        &child.machine_guid,
        options.default_history,
        allowed,
    ) {
        Ok(settings) => settings,
        Err(refusal) => {
            tracing::warn!(%peer, reason = %refusal, "STREAM request refused (401)");
            refuse(shared, &mut stream, 401, REFUSED_NOT_PERMITTED);
            return;
        }
    };
    if !options.accept_every.is_zero() {
        let now = Instant::now();
        let mut last = shared.last_accepted.lock();
        if last.is_some_and(|at| now.duration_since(at) < options.accept_every) {
            drop(last);
            tracing::warn!(%peer, "STREAM request refused by the rate limit (503)");
            refuse(shared, &mut stream, 503, REFUSED_BUSY);
            return;
        }
        *last = Some(now);
    }

    // Claim the GUID.
    let (host, ingest) = {
        let mut children = shared.children.lock();
        let connected = children.values().filter(|c| c.connected).count();
        if let Some(existing) = children.get(&child.machine_guid) {
            if existing.connected {
                drop(children);
                tracing::warn!(%peer, "STREAM request for a machine GUID already streaming refused (409)");
                refuse(shared, &mut stream, 409, REFUSED_ALREADY_STREAMING);
                return;
            }
        } else if connected >= options.max_children {
            drop(children);
            tracing::warn!(%peer, limit = options.max_children, "STREAM request refused: too many children (503)");
            refuse(shared, &mut stream, 503, REFUSED_BUSY);
            return;
        }
        let entry = children
            .entry(child.machine_guid.clone())
            .or_insert_with(|| {
                let host = shared.store.add_host_by_guid(
                    Host::new(child.hostname.clone(), settings.history as usize)
                        .with_machine_guid(child.machine_guid.clone()),
                );
                let ingest = Ingest::new(
                    IngestSettings {
                        plugin: Arc::from(format!("stream:{}", child.hostname)),
                        plugin_file: "streaming".to_string(),
                        update_every: child.update_every,
                        limits: options.limits,
                    },
                    host.clone(),
                );
                Child {
                    host,
                    ingest: Some(ingest),
                    connected: false,
                    disconnected_at: None,
                    api_key: String::new(),
                }
            });
        entry.connected = true;
        entry.api_key.clone_from(&child.key);
        let ingest = entry.ingest.take();
        let taken = (entry.host.clone(), ingest);
        super::update_is_parent_label(shared, connected + 1);
        taken
    };
    let Some(mut ingest) = ingest else {
        // Cannot happen: the cache is returned before `connected` is cleared.
        release(shared, &child.machine_guid, None);
        return;
    };

    let negotiated = negotiate(child.version, settings.enable_compression);
    let answer = negotiated.to_string();
    if let Err(error) = stream
        .write_all(answer.as_bytes())
        .and_then(|()| stream.flush())
    {
        tracing::warn!(%peer, %error, "cannot answer the child's STREAM request");
        release(shared, &child.machine_guid, Some(ingest));
        return;
    }
    shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        %peer,
        capabilities = negotiated.capabilities,
        compression = negotiated.has(CAP_COMPRESSION),
        replication = negotiated.has(CAP_REPLICATION),
        history = settings.history,
        "child connected"
    );

    ingest.start_run();
    host.set_hops(child.hops);
    host.set_system_info(
        child
            .other
            .iter()
            .filter(|(key, _)| key.starts_with("NETDATA_") && key != "NETDATA_PROTOCOL_VERSION")
            .cloned()
            .collect(),
    );
    host.set_reachable(true);
    let policy = ReplicationPolicy {
        enabled: settings.enable_replication && negotiated.has(CAP_REPLICATION),
        seconds_to_replicate: settings.seconds_to_replicate,
        seconds_per_step: settings.seconds_per_replication_step,
    };
    let session = Session {
        shared: shared.clone(),
        host,
        ingest,
        policy,
        negotiated,
        current_chart: Vec::new(),
        replay_chart: Vec::new(),
        replay_target: None,
        replay_point: None,
        outgoing: Vec::new(),
        closing: None,
        received_ut: crate::sys::now_realtime_ut(),
    };
    let reader = Reader::new(session, peer, child.machine_guid);
    match stream {
        // Plain streams join the shared reading loop: one thread wakes
        // for every child whose bytes arrived together.
        UpgradedStream::Plain(socket) => shared.reading_loop.adopt(reader, socket, leftover),
        // TLS streams keep a thread each, reading through rustls.
        tls @ UpgradedStream::Tls(_) => {
            let mut stream = tls;
            let mut reader = reader;
            let reason = reader.read_loop(&mut stream, leftover);
            reader.finish(&reason);
        }
    }
}

/// Gives the GUID back: not connected any more, the chart cache kept.
fn release(shared: &Shared, machine_guid: &str, ingest: Option<Ingest>) {
    let mut children = shared.children.lock();
    if let Some(child) = children.get_mut(machine_guid) {
        child.connected = false;
        child.disconnected_at = Some(Instant::now());
        if ingest.is_some() {
            child.ingest = ingest;
        }
    }
    let connected = children.values().filter(|c| c.connected).count();
    super::update_is_parent_label(shared, connected);
}

/// Answers an HTTP error with netdata's text and closes.
fn refuse(shared: &Shared, stream: &mut UpgradedStream, status: u16, text: &str) {
    shared.counters.refused.fetch_add(1, Ordering::Relaxed);
    let reason = match status {
        401 => "Unauthorized",
        409 => "Conflict",
        _ => "Service Unavailable",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
    let _ = socket(stream).shutdown(std::net::Shutdown::Both);
}

/// The TCP socket under a stream.
fn socket(stream: &UpgradedStream) -> &TcpStream {
    match stream {
        UpgradedStream::Plain(socket) => socket,
        UpgradedStream::Tls(tls) => tls.get_ref(),
    }
}

/// Why a connection ended.
#[derive(Debug)]
pub(super) enum Ending {
    Closed,
    Idle(Duration),
    Shutdown,
    Io(io::Error),
    Overlong(FrameError),
    Garbage(TextPreview),
    Compression(wire::stream_compression::StreamCompressionError),
    /// The child did not read what was sent to it (bytes waiting).
    Stalled(usize),
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Closed => f.write_str("the child closed the connection"),
            Ending::Idle(after) => write!(f, "nothing received for {} s", after.as_secs()),
            Ending::Shutdown => f.write_str("the agent is stopping"),
            Ending::Io(error) => write!(f, "connection error: {error}"),
            Ending::Overlong(error) => write!(f, "{error}; connection closed"),
            Ending::Garbage(verb) => {
                write!(
                    f,
                    "'{verb}' is not a netdata streaming command; connection closed"
                )
            }
            Ending::Compression(error) => write!(f, "compressed stream broken: {error}"),
            Ending::Stalled(bytes) => write!(
                f,
                "the child does not read: more than {bytes} bytes for it waiting; connection closed"
            ),
        }
    }
}

/// What one connection's lines act on: the child's host and `Ingest`, the
/// replication exchange, and the lines queued for the child.
pub(super) struct Session {
    shared: Arc<Shared>,
    host: Arc<Host>,
    ingest: Ingest,
    policy: ReplicationPolicy,
    negotiated: Negotiated,
    /// The chart of the last `CHART` (for `CHART_DEFINITION_END`).
    current_chart: Vec<u8>,
    /// The chart of the last `RBEGIN` with an id.
    replay_chart: Vec<u8>,
    /// That chart in the store, if it is there.
    replay_target: Option<Arc<Chart>>,
    /// The replicated point being received: its time and `RSET` values.
    replay_point: Option<(i64, Vec<(DimIndex, f64)>)>,
    /// Lines for the child (`REPLAY_CHART`), written after each read.
    outgoing: Vec<u8>,
    /// Set when a line ends the connection.
    closing: Option<Ending>,
    /// When the bytes being handled arrived (wall clock, µs): the
    /// collection time `END` goes by ([`ArrivalTime`]).
    received_ut: u64,
}

/// When received bytes arrived: the wall clock in µs (the collection time
/// an `END` goes by) and the coarse monotonic clock (the idle timeout). Read
/// once per read, or once per wake-up of the reading loop for every
/// connection it reads then, not once per `END`: a child's second of charts
/// comes in a read or a few, and on a virtual machine a clock read is not
/// free.
#[derive(Debug, Clone, Copy)]
pub(super) struct ArrivalTime {
    pub(super) wall_ut: u64,
    pub(super) monotonic: Duration,
}

impl ArrivalTime {
    pub(super) fn now() -> ArrivalTime {
        ArrivalTime {
            wall_ut: crate::sys::now_realtime_ut(),
            monotonic: crate::sys::coarse_monotonic(),
        }
    }
}

/// One connection's reading state: its session, the line framer and the
/// LZ4 decompressor when compression was agreed. Bytes are read into
/// [`Reader::read_buf`] and handled by [`Reader::received`], by the
/// connection's own thread (TLS: [`Reader::read_loop`]) or by the shared
/// reading loop (plain streams).
pub(super) struct Reader {
    pub(super) session: Session,
    pub(super) peer: Peer,
    machine_guid: String,
    framer: LineFramer,
    decompressor: Option<StreamDecompressor>,
    /// Compressed bytes are read here and decompressed into `plain`; plain
    /// bytes are read straight into the framer.
    compressed: Vec<u8>,
    plain: Vec<u8>,
    /// When bytes last came (coarse monotonic clock).
    pub(super) last_data: Duration,
}

impl Reader {
    fn new(session: Session, peer: Peer, machine_guid: String) -> Reader {
        let decompressor = session
            .negotiated
            .has(CAP_COMPRESSION)
            .then(StreamDecompressor::new);
        let compressed = if decompressor.is_some() {
            vec![0u8; READ_LEN]
        } else {
            Vec::new()
        };
        Reader {
            session,
            peer,
            machine_guid,
            // netdata's 16 KiB line limit; reads of at most 16 KiB (a child
            // sends a few KiB a second): the connection's buffers stay small.
            framer: LineFramer::with_limits(DEFAULT_MAX_LINE_LEN, READ_LEN),
            decompressor,
            compressed,
            plain: Vec::new(),
            last_data: crate::sys::coarse_monotonic(),
        }
    }

    /// Where the next read from the socket goes.
    pub(super) fn read_buf(&mut self) -> &mut [u8] {
        if self.decompressor.is_some() {
            &mut self.compressed
        } else {
            let room = self.framer.read_buf();
            let len = room.len().min(READ_LEN);
            &mut room[..len]
        }
    }

    /// Handles `n` bytes just read into [`Self::read_buf`], which arrived
    /// at `at` (see [`ArrivalTime`]).
    pub(super) fn received(&mut self, n: usize, at: ArrivalTime) -> Option<Ending> {
        self.session.received_ut = at.wall_ut;
        self.last_data = at.monotonic;
        match self.decompressor.as_mut() {
            Some(decompressor) => self.session.consume(
                &self.compressed[..n],
                &mut self.framer,
                Some(decompressor),
                &mut self.plain,
            ),
            None => {
                self.framer.commit(n);
                self.session.drain(&mut self.framer)
            }
        }
    }

    /// Handles bytes that came with the request (read before the answer).
    pub(super) fn received_leftover(&mut self, leftover: &[u8]) -> Option<Ending> {
        if leftover.is_empty() {
            return None;
        }
        self.session.consume(
            leftover,
            &mut self.framer,
            self.decompressor.as_mut(),
            &mut self.plain,
        )
    }

    /// Whether nothing came for the idle timeout.
    pub(super) fn is_idle(&self, now: Duration) -> bool {
        now.saturating_sub(self.last_data) >= self.session.shared.options.idle_timeout
    }

    /// Reads a blocking stream to its end, on the connection's own thread.
    fn read_loop(&mut self, stream: &mut UpgradedStream, leftover: Vec<u8>) -> Ending {
        let shared = self.session.shared.clone();
        let reading = shared.register_reading(socket(stream));
        let ending = self.read_until_end(stream, &leftover);
        shared.unregister_reading(reading);
        ending
    }

    fn read_until_end(&mut self, stream: &mut UpgradedStream, leftover: &[u8]) -> Ending {
        let idle_timeout = self.session.shared.options.idle_timeout;
        let slice = READ_SLICE.min(idle_timeout).max(Duration::from_millis(1));
        let _ = socket(stream).set_read_timeout(Some(slice));
        if let Some(ending) = self
            .received_leftover(leftover)
            .or_else(|| self.session.flush(stream))
        {
            return ending;
        }
        loop {
            if self.session.shared.shutdown.is_triggered() {
                return Ending::Shutdown;
            }
            let read = stream.read(self.read_buf());
            match read {
                // The janitor shut the socket down.
                _ if self.session.shared.shutdown.is_triggered() => return Ending::Shutdown,
                Ok(0) => return Ending::Closed,
                Ok(n) => {
                    let at = ArrivalTime::now();
                    if let Some(ending) =
                        self.received(n, at).or_else(|| self.session.flush(stream))
                    {
                        return ending;
                    }
                }
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.is_idle(crate::sys::coarse_monotonic()) {
                        return Ending::Idle(idle_timeout);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Ending::Io(error),
            }
        }
    }

    /// The connection ended: the child's charts go obsolete, its GUID is
    /// given back with its chart cache.
    pub(super) fn finish(self, reason: &Ending) {
        let Reader {
            session,
            peer,
            machine_guid,
            ..
        } = self;
        let Session {
            shared,
            host,
            mut ingest,
            ..
        } = session;
        ingest.end_run();
        for chart in host.charts() {
            if chart.read().is_receiving_history() {
                chart.write().set_receiving_history(false);
            }
        }
        host.set_reachable(false);
        tracing::info!(%peer, %reason, "child disconnected; its charts are obsolete");
        release(&shared, &machine_guid, Some(ingest));
        shared.counters.disconnected.fetch_add(1, Ordering::Relaxed);
    }
}

impl Session {
    /// Writes the lines queued for the child (a blocking stream).
    fn flush(&mut self, stream: &mut UpgradedStream) -> Option<Ending> {
        if self.outgoing.is_empty() {
            return None;
        }
        let result = stream
            .write_all(&self.outgoing)
            .and_then(|()| stream.flush());
        self.outgoing.clear();
        result.err().map(Ending::Io)
    }

    /// Writes what a non-blocking socket takes of the lines queued for the
    /// child; the rest stays queued. `Ok(true)` when all went out.
    pub(super) fn flush_nonblocking(&mut self, socket: &mut TcpStream) -> Result<bool, Ending> {
        while !self.outgoing.is_empty() {
            match socket.write(&self.outgoing) {
                Ok(0) => return Err(Ending::Closed),
                Ok(n) => {
                    self.outgoing.drain(..n);
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(Ending::Io(error)),
            }
        }
        Ok(true)
    }

    /// `idle timeout`: how long a silent child stays connected.
    pub(super) fn idle_timeout(&self) -> Duration {
        self.shared.options.idle_timeout
    }

    /// How many bytes may wait for a child that does not read them.
    pub(super) fn max_unread_bytes(&self) -> usize {
        self.shared.options.max_unread_bytes
    }

    /// Bytes queued for the child.
    pub(super) fn outgoing_len(&self) -> usize {
        self.outgoing.len()
    }

    /// Feeds received bytes through decompression (into `plain`, a buffer
    /// kept between calls) and framing.
    fn consume(
        &mut self,
        bytes: &[u8],
        framer: &mut LineFramer,
        decompressor: Option<&mut StreamDecompressor>,
        plain: &mut Vec<u8>,
    ) -> Option<Ending> {
        match decompressor {
            Some(decompressor) => {
                plain.clear();
                if let Err(error) = decompressor.feed(bytes, |block| plain.extend_from_slice(block))
                {
                    return Some(Ending::Compression(error));
                }
                self.frame(plain, framer)
            }
            None => self.frame(bytes, framer),
        }
    }

    fn frame(&mut self, bytes: &[u8], framer: &mut LineFramer) -> Option<Ending> {
        framer.feed(bytes, |frame| {
            if self.closing.is_some() {
                return;
            }
            match frame {
                Ok(line) => self.on_line(line),
                Err(error) => self.closing = Some(Ending::Overlong(error)),
            }
        });
        self.closing.take()
    }

    /// Handles the complete lines the framer holds (bytes were read into
    /// it directly).
    fn drain(&mut self, framer: &mut LineFramer) -> Option<Ending> {
        loop {
            // The round's `SET` lines, framed and read in one pass.
            self.ingest.take_set_lines(framer);
            let Some(frame) = framer.next_line() else {
                break;
            };
            match frame {
                Ok(line) => self.on_line(line),
                Err(error) => self.closing = Some(Ending::Overlong(error)),
            }
            if self.closing.is_some() {
                break;
            }
        }
        self.closing.take()
    }

    fn on_line(&mut self, line: &[u8]) {
        if self.ingest.try_apply_set(line) {
            return;
        }
        let received_ut = self.received_ut;
        let mut clock = || received_ut;
        let parsed = parse_line(line);
        match parsed {
            Ok(Command::Chart(chart)) => {
                self.current_chart.clear();
                self.current_chart.extend_from_slice(chart.type_id);
                self.ingest.apply_parsed(parsed, &mut clock);
            }
            Ok(Command::ChartDefinitionEnd {
                first_entry,
                last_entry,
                wall_clock,
            }) => {
                let chart = self
                    .host
                    .chart_by_id(&String::from_utf8_lossy(&self.current_chart));
                let parent_last = chart.as_ref().and_then(|chart| chart.read().last_entry_t());
                let request =
                    self.policy
                        .first_request(first_entry, last_entry, wall_clock, parent_last);
                if let Some(chart) = chart {
                    // Until the history is in, a proxy does not forward
                    // the chart (it would forward a part of it).
                    chart
                        .write()
                        .set_receiving_history(request != ReplayRequest::NOTHING);
                }
                self.request(request);
            }
            Ok(Command::ReplayBegin { chart_id, range }) => {
                self.flush_replayed_point();
                if let Some(chart_id) = chart_id {
                    self.replay_chart.clear();
                    self.replay_chart.extend_from_slice(chart_id);
                    self.replay_target = self.host.chart_by_id(&String::from_utf8_lossy(chart_id));
                }
                if let Some(range) = range {
                    self.replay_point = Some((range.end, Vec::new()));
                }
            }
            Ok(Command::ReplaySet {
                dimension_id,
                value,
                ..
            }) => {
                self.shared
                    .counters
                    .replicated_values
                    .fetch_add(1, Ordering::Relaxed);
                if let (Some(chart), Some((_, values))) =
                    (&self.replay_target, self.replay_point.as_mut())
                {
                    let dim = chart
                        .read()
                        .dimension_index(&String::from_utf8_lossy(dimension_id));
                    if let Some(dim) = dim {
                        values.push((dim, value));
                    }
                }
            }
            Ok(Command::ReplayDimensionState {
                dimension_id,
                last_collected_ut,
                collected,
                ..
            }) => {
                self.flush_replayed_point();
                if let Some(chart) = &self.replay_target {
                    let mut writer = chart.write();
                    if let Some(dim) =
                        writer.dimension_index(&String::from_utf8_lossy(dimension_id))
                    {
                        writer.set_last_collected(dim, collected, last_collected_ut);
                    }
                }
            }
            Ok(Command::ReplayChartState { .. }) => self.flush_replayed_point(),
            Ok(Command::ReplayEnd {
                last_entry,
                start_streaming,
                before,
                ..
            }) => {
                self.flush_replayed_point();
                if start_streaming {
                    if let Some(chart) = &self.replay_target {
                        chart.write().set_receiving_history(false);
                    }
                } else {
                    let request = self.policy.next_request(before, last_entry);
                    let chart = std::mem::take(&mut self.replay_chart);
                    request.write_line(&chart, &mut self.outgoing);
                    self.replay_chart = chart;
                }
            }
            Ok(Command::ClaimedId { .. } | Command::Empty) => {}
            Ok(Command::ReplayChart { .. }) => {
                self.closing = Some(Ending::Garbage(TextPreview::new(b"REPLAY_CHART")));
            }
            Ok(Command::Unknown { verb }) => {
                self.closing = Some(Ending::Garbage(TextPreview::new(verb)));
            }
            Ok(
                Command::Function { .. }
                | Command::FunctionResultBegin { .. }
                | Command::FunctionResultEnd
                | Command::Disable,
            ) => {
                // Functions were declined; DISABLE means nothing from a child.
            }
            _ => {
                self.ingest.apply_parsed(parsed, &mut clock);
            }
        }
    }

    /// Stores the replicated point received so far, if any.
    fn flush_replayed_point(&mut self) {
        let Some((t, values)) = self.replay_point.take() else {
            return;
        };
        let Some(chart) = &self.replay_target else {
            return;
        };
        if values.is_empty() {
            return;
        }
        let stored = chart.write().store_point(t, &values);
        if stored != StoredAs::Dropped {
            self.shared
                .counters
                .replicated_points
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a `REPLAY_CHART` for the current chart.
    fn request(&mut self, request: ReplayRequest) {
        let chart = std::mem::take(&mut self.current_chart);
        request.write_line(&chart, &mut self.outgoing);
        self.current_chart = chart;
    }
}
