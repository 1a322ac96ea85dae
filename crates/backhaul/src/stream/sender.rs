//! Child mode: this agent streams a host of its store to a netdata parent
//! (`[stream] enabled = yes` in stream.conf).
//!
//! One thread per sender. Each attempt walks `destination` in order (the
//! first parent that connects and accepts wins; `:SSL` entries speak TLS),
//! sends the `STREAM` request and reads the parent's answer: `Hit me baby,
//! push them over with the version=N` (the capabilities agreed), or an
//! HTTP refusal (401: key or GUID refused; 409: this GUID is streaming
//! already; 503: the parent is busy), logged with the parent's address.
//! After the answer it sends the host's labels, the host's custom variables
//! and every chart's definition (`send charts matching` decides which),
//! then polls the store (every [`TICK`]): a chart whose collector completed
//! a round goes out as `BEGIN`/`SET`/`END` with the raw collected values,
//! so the parent applies the chart's algorithm as netdata's does. Reading
//! the store takes one chart's read lock at a time: the sender never holds
//! up a collector.
//!
//! Custom variables (plugins.d's `VARIABLE`) go out as netdata 1.37's
//! sender sends them: a chart's, all of them, inside its definition (after
//! the `DIMENSION` lines, before `CHART_DEFINITION_END`) and again, all of
//! them, after the `SET` lines of a round when any changed since they were
//! last sent; a host's as `VARIABLE HOST` lines, each when its value
//! changed (bit for bit: a NaN set again is no change), once per tick
//! before the charts. Unlike netdata (which sends a host variable only
//! when it changes while connected), every connection starts with all of
//! the host's variables, right after its labels.
//!
//! With replication agreed, a chart streams live only after the parent's
//! `REPLAY_CHART ... true ...`; every `REPLAY_CHART` is answered from the
//! store (`RBEGIN`, one `RBEGIN ''` and its `RSET`s per stored point,
//! `RDSTATE`/`RSSTATE`, `REND`).
//!
//! What waits unsent is bounded by `buffer size bytes`: past it the
//! connection is dropped and made again (netdata's overflow, counted).
//! A lost connection, a refusal or an overflow waits `reconnect delay
//! seconds` before the next attempt. With `enable compression` (the
//! default) LZ4 is offered; when the parent agrees, everything after its
//! answer goes out as netdata's compressed blocks
//! (`wire::stream_compression::StreamCompressor`).

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rrd::{Chart, CustomVariables, Host, LabelSource};
use wire::pluginsd::{parse_line, Command, LineFramer, VariableScope};
use wire::simple_pattern::SimplePattern;
use wire::stream_encode as enc;

use super::handshake::{
    capabilities_of_version, ANSWER_PREFIX, ANSWER_V1, ANSWER_V2, CAP_CLABELS, CAP_CLAIM,
    CAP_COMPRESSION, CAP_HLABELS, CAP_REPLICATION, CAP_V1, CAP_V2, CAP_VCAPS, CAP_VN,
};
use crate::config::ProxySettings;
use crate::config::{SenderConfig, StreamDestination};
use crate::exporting::delivery::dial::{self, Deadline, Endpoint};
use crate::exporting::delivery::tls::{self, TlsSettings, TlsStream};
use crate::shutdown::Shutdown;

/// How often the store is polled for completed rounds and the parent's
/// lines are read.
pub const TICK: Duration = Duration::from_millis(100);

/// What this sender offers in `ver=`: no compression, functions or binary
/// values.
pub const OFFERED_CAPABILITIES: u32 =
    CAP_V1 | CAP_V2 | CAP_VN | CAP_VCAPS | CAP_HLABELS | CAP_CLAIM | CAP_CLABELS | CAP_REPLICATION;

/// The identity and settings of one sender.
#[derive(Debug, Clone)]
pub struct SenderOptions {
    /// `[stream]` of stream.conf.
    pub config: SenderConfig,
    /// The hostname sent.
    pub hostname: String,
    /// The machine GUID sent.
    pub machine_guid: String,
    /// The host's update every.
    pub update_every: u32,
    /// 1 for this agent's own host (one more per proxy).
    pub hops: u32,
    /// `[stream] enable compression`: offer LZ4.
    pub enable_compression: bool,
}

/// What a sender did, for tests and the status page.
#[derive(Debug, Default)]
pub struct SenderCounters {
    /// Connections the parent accepted.
    pub connected: AtomicU64,
    /// Refusals (401, 409, 503, or an unknown answer).
    pub refused: AtomicU64,
    /// Connections that could not be made.
    pub connect_failures: AtomicU64,
    /// Connections dropped because the buffer overflowed.
    pub overflows: AtomicU64,
    /// Accepted connections that ended.
    pub disconnected: AtomicU64,
    /// Chart definitions sent.
    pub charts_sent: AtomicU64,
    /// `BEGIN` ... `END` rounds sent.
    pub rounds_sent: AtomicU64,
    /// `VARIABLE HOST` lines sent.
    pub host_variables_sent: AtomicU64,
    /// `VARIABLE CHART` lines sent (in definitions and rounds).
    pub chart_variables_sent: AtomicU64,
    /// `REPLAY_CHART` requests answered.
    pub replay_requests: AtomicU64,
    /// Stored points sent in replication answers.
    pub replayed_points: AtomicU64,
    /// Bytes written to parents.
    pub bytes_sent: AtomicU64,
    /// Whether a parent is connected now.
    pub is_connected: AtomicBool,
}

/// A sender as the status page sees it.
#[derive(Clone)]
pub struct SenderStatus {
    /// The configured `[stream] destination`s.
    pub destination: String,
    pub counters: Arc<SenderCounters>,
    parent: Arc<Mutex<Option<String>>>,
}

impl SenderStatus {
    /// The parent connected now, if any.
    pub fn parent(&self) -> Option<String> {
        self.parent.lock().clone()
    }
}

/// A running sender.
pub struct StreamSender {
    counters: Arc<SenderCounters>,
    parent: Arc<Mutex<Option<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl StreamSender {
    /// Starts the sender thread streaming `host`; it ends with `shutdown`.
    pub fn start(
        host: Arc<Host>,
        options: SenderOptions,
        shutdown: Shutdown,
    ) -> io::Result<StreamSender> {
        let counters = Arc::new(SenderCounters::default());
        let parent = Arc::new(Mutex::new(None));
        let tls_config = if options.config.destinations.iter().any(|d| d.tls) {
            let settings = TlsSettings {
                skip_verification: options.config.ssl_skip_certificate_verification,
                ca_file: options.config.ca_file.clone(),
                ca_path: options.config.ca_path.clone(),
                ..TlsSettings::default()
            };
            Some(tls::client_config(&settings).map_err(|e| io::Error::other(e.to_string()))?)
        } else {
            None
        };
        let sender = Sender {
            host,
            pattern: SimplePattern::new(&options.config.send_charts_matching),
            options,
            shutdown,
            counters: counters.clone(),
            parent: parent.clone(),
            tls_config,
        };
        let thread = std::thread::Builder::new()
            .name("stream-tx".into())
            .spawn(move || sender.run())?;
        Ok(StreamSender {
            counters,
            parent,
            thread,
        })
    }

    /// The counters.
    pub fn counters(&self) -> &SenderCounters {
        &self.counters
    }

    /// The parent connected now, if any.
    pub fn parent(&self) -> Option<String> {
        self.parent.lock().clone()
    }

    /// What the status page reads: the counters and the parent, shared.
    pub fn status(&self, destination: String) -> SenderStatus {
        SenderStatus {
            destination,
            counters: self.counters.clone(),
            parent: self.parent.clone(),
        }
    }

    /// Waits for the thread (after the shutdown fired).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// The parent's answer to the `STREAM` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParentAnswer {
    /// More bytes are needed.
    Incomplete,
    /// Accepted with this version (capability bits, or 1 to 5).
    Accepted {
        /// The version the answer names.
        version: u32,
        /// Bytes of the answer (what follows is the stream).
        len: usize,
    },
    /// An HTTP refusal.
    Refused {
        /// The status code.
        status: u16,
        /// The body (netdata's text), cut to 200 bytes.
        text: String,
    },
    /// Something else.
    Unexpected(String),
}

/// Reads the parent's answer from what arrived so far; `complete` says no
/// more is coming (the parent closed, or went quiet).
pub fn parse_parent_answer(bytes: &[u8], complete: bool) -> ParentAnswer {
    let prefix = ANSWER_PREFIX.as_bytes();
    if bytes.starts_with(prefix) {
        let digits = bytes[prefix.len()..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = prefix.len() + digits;
        if digits == 0 || (end == bytes.len() && !complete) {
            return if complete {
                ParentAnswer::Unexpected(preview(bytes))
            } else {
                ParentAnswer::Incomplete
            };
        }
        return match std::str::from_utf8(&bytes[prefix.len()..end])
            .ok()
            .and_then(|d| d.parse().ok())
        {
            Some(version) => ParentAnswer::Accepted { version, len: end },
            None => ParentAnswer::Unexpected(preview(bytes)),
        };
    }
    for (text, version) in [(ANSWER_V2, 2), (ANSWER_V1, 1)] {
        if bytes.starts_with(text.as_bytes()) {
            return ParentAnswer::Accepted {
                version,
                len: text.len(),
            };
        }
    }
    if bytes.starts_with(b"HTTP/") {
        let Some(head_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            return if complete {
                ParentAnswer::Unexpected(preview(bytes))
            } else {
                ParentAnswer::Incomplete
            };
        };
        if !complete {
            return ParentAnswer::Incomplete;
        }
        let status = bytes
            .split(|&b| b == b' ')
            .nth(1)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = &bytes[head_end + 4..];
        return ParentAnswer::Refused {
            status,
            text: String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_string(),
        };
    }
    let could_be = |text: &str| {
        let n = bytes.len().min(text.len());
        bytes[..n] == text.as_bytes()[..n]
    };
    if !complete && (could_be(ANSWER_PREFIX) || could_be(ANSWER_V1) || could_be("HTTP/")) {
        return ParentAnswer::Incomplete;
    }
    ParentAnswer::Unexpected(preview(bytes))
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(120)]).into_owned()
}

/// A connection to a parent, plain or TLS.
enum Link {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Link {
    fn tcp(&self) -> &TcpStream {
        match self {
            Link::Plain(s) => s,
            Link::Tls(s) => &s.sock,
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.read(buf),
            Link::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Plain(s) => s.write(buf),
            Link::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Link::Plain(s) => s.flush(),
            Link::Tls(s) => s.flush(),
        }
    }
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("the agent is stopping")]
    Stopping,
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("parent {parent} refused with {status}: {text}")]
    Refused {
        parent: String,
        status: u16,
        text: String,
    },
    #[error("parent {parent}: {reason}")]
    Lost { parent: String, reason: String },
    #[error(
        "parent {parent}: {bytes} bytes waiting to be sent exceed buffer size bytes = {limit}; reconnecting"
    )]
    Overflow {
        parent: String,
        bytes: usize,
        limit: u64,
    },
}

/// What the sender remembers of a chart during one connection.
struct SentChart {
    generation: u64,
    /// Whether `send charts matching` lets it through.
    selected: bool,
    /// Streaming live (after the parent's `REPLAY_CHART ... true`, or at
    /// once without replication).
    streaming: bool,
    /// The chart's round counter when its last round was sent.
    rounds: u64,
    /// That round's collection time (µs).
    collected_ut: u64,
    obsolete: bool,
    /// [`rrd::ChartState::histories_received`] when it was defined: when
    /// that changes, the chart is defined again, so the parent asks for
    /// the history that came in since.
    histories: u32,
    /// The [`CustomVariables::generation`] of the chart's variables when
    /// they were last sent (in its definition or a round): when it
    /// differs, the next round carries them all again.
    variables_generation: u64,
}

/// The host's own custom variables as sent on one connection.
#[derive(Debug, Default)]
struct SentHostVariables {
    /// The table's [`CustomVariables::generation`] when last looked at
    /// (`None` before the first look: a new connection sends them all).
    generation: Option<u64>,
    /// Each variable's value as last sent, bit for bit.
    values: HashMap<Box<str>, u64>,
}

impl SentHostVariables {
    /// Writes `VARIABLE HOST` for each of `variables` that was not sent
    /// yet or whose value changed (bit for bit) since; returns how many.
    fn write_changes(&mut self, variables: &CustomVariables, out: &mut Vec<u8>) -> u64 {
        let generation = variables.generation();
        if self.generation == Some(generation) {
            return 0;
        }
        self.generation = Some(generation);
        let mut written = 0;
        for (name, value) in variables.iter() {
            let bits = value.to_bits();
            if self.values.get(name) == Some(&bits) {
                continue;
            }
            self.values.insert(name.into(), bits);
            enc::write_variable(out, VariableScope::Global, name, value);
            written += 1;
        }
        written
    }
}

struct Sender {
    host: Arc<Host>,
    options: SenderOptions,
    pattern: SimplePattern,
    shutdown: Shutdown,
    counters: Arc<SenderCounters>,
    parent: Arc<Mutex<Option<String>>>,
    tls_config: Option<Arc<rustls::ClientConfig>>,
}

impl Sender {
    fn run(self) {
        let delay = Duration::from_secs(u64::from(
            self.options.config.reconnect_delay_seconds.max(1),
        ));
        loop {
            match self.attempt() {
                Err(SessionEnd::Stopping) => break,
                // Logged per destination by `attempt`.
                Err(SessionEnd::Refused { .. } | SessionEnd::Connect(_)) | Ok(()) => {}
                Err(end) => {
                    tracing::warn!(
                        host = self.host.hostname(),
                        reconnect_after_secs = delay.as_secs(),
                        "stream sender: {end}"
                    );
                }
            }
            *self.parent.lock() = None;
            self.counters.is_connected.store(false, Ordering::Relaxed);
            if self.shutdown.sleep(delay) {
                break;
            }
        }
    }

    /// One pass over the destinations: the first that accepts gets the
    /// stream until it ends.
    fn attempt(&self) -> Result<(), SessionEnd> {
        let mut last = SessionEnd::Connect("no destination".into());
        for destination in &self.options.config.destinations {
            if self.shutdown.is_triggered() {
                return Err(SessionEnd::Stopping);
            }
            match self.connect(destination) {
                Ok((link, addr)) => match self.session(link, destination, addr) {
                    Err(refused @ SessionEnd::Refused { .. }) => {
                        tracing::error!(host = self.host.hostname(), "stream sender: {refused}");
                        self.counters.refused.fetch_add(1, Ordering::Relaxed);
                        last = refused;
                    }
                    other => return other,
                },
                Err(SessionEnd::Stopping) => return Err(SessionEnd::Stopping),
                Err(error) => {
                    self.counters
                        .connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        host = self.host.hostname(),
                        %destination,
                        "stream sender: {error}"
                    );
                    last = error;
                }
            }
        }
        Err(last)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.options.config.timeout_seconds.max(1)))
    }

    fn connect(&self, destination: &StreamDestination) -> Result<(Link, SocketAddr), SessionEnd> {
        let endpoint = Endpoint {
            host: destination.destination.host.clone(),
            port: destination.destination.port,
        };
        let (tcp, _, addr, _) = dial::connect_first(
            std::slice::from_ref(&endpoint),
            1,
            self.timeout(),
            Some(&self.shutdown),
        )
        .map_err(|e| {
            if self.shutdown.is_triggered() {
                SessionEnd::Stopping
            } else {
                SessionEnd::Connect(e.to_string())
            }
        })?;
        let _ = tcp.set_nodelay(true);
        if !destination.tls {
            return Ok((Link::Plain(tcp), addr));
        }
        let Some(config) = &self.tls_config else {
            return Err(SessionEnd::Connect("TLS is not set up".into()));
        };
        let deadline = Deadline::after(self.timeout(), Some(&self.shutdown));
        let tls = tls::handshake(config, &endpoint.host, tcp, &deadline)
            .map_err(|e| SessionEnd::Connect(format!("{destination}: {e}")))?;
        Ok((Link::Tls(Box::new(tls)), addr))
    }

    fn request_head(&self) -> Vec<u8> {
        let facts = crate::system_facts::SystemFacts::get();
        let fields = facts.stream_request_fields();
        let system_info: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let user_agent = format!("backhaul/{}", env!("CARGO_PKG_VERSION"));
        let mut head = Vec::new();
        enc::write_stream_request(
            &mut head,
            &enc::StreamRequestFields {
                key: &self.options.config.api_key,
                hostname: &self.options.hostname,
                registry_hostname: &self.options.hostname,
                machine_guid: &self.options.machine_guid,
                update_every: self.options.update_every.max(1),
                os: "linux",
                timezone: &facts.time_zone.name,
                abbrev_timezone: &facts.time_zone.abbreviation,
                utc_offset: i64::from(facts.time_zone.utc_offset),
                hops: self.options.hops,
                ml_capable: false,
                ml_enabled: false,
                mc_version: 0,
                tags: "",
                version: if self.options.enable_compression {
                    OFFERED_CAPABILITIES | CAP_COMPRESSION
                } else {
                    OFFERED_CAPABILITIES
                },
                system_info: &system_info,
                user_agent: &user_agent,
            },
        );
        head
    }

    /// Handshake, then the stream until it ends.
    fn session(
        &self,
        mut link: Link,
        destination: &StreamDestination,
        addr: SocketAddr,
    ) -> Result<(), SessionEnd> {
        let parent = if destination.destination.host == addr.ip().to_string() {
            destination.to_string()
        } else {
            format!("{destination} ({addr})")
        };
        let lost = |reason: String| SessionEnd::Lost {
            parent: parent.clone(),
            reason,
        };
        let deadline = Deadline::after(self.timeout(), Some(&self.shutdown));
        let head = self.request_head();
        write_all(&mut link, &head, &deadline).map_err(|e| self.io_end(e, &lost))?;
        self.counters
            .bytes_sent
            .fetch_add(head.len() as u64, Ordering::Relaxed);
        let (version, leftover) = self.read_answer(&mut link, &deadline, &parent)?;
        let capabilities = capabilities_of_version(version);
        tracing::info!(
            host = self.host.hostname(),
            %parent,
            version,
            replication = capabilities & CAP_REPLICATION != 0,
            compression = capabilities & CAP_COMPRESSION != 0,
            "stream sender: connected to parent"
        );
        self.counters.connected.fetch_add(1, Ordering::Relaxed);
        self.counters.is_connected.store(true, Ordering::Relaxed);
        *self.parent.lock() = Some(parent.clone());
        let result = self.stream(&mut link, capabilities, leftover, &parent);
        self.counters.disconnected.fetch_add(1, Ordering::Relaxed);
        result
    }

    fn io_end(&self, error: io::Error, lost: &dyn Fn(String) -> SessionEnd) -> SessionEnd {
        if dial::is_stopped(&error) || self.shutdown.is_triggered() {
            SessionEnd::Stopping
        } else {
            lost(error.to_string())
        }
    }

    fn read_answer(
        &self,
        link: &mut Link,
        deadline: &Deadline,
        parent: &str,
    ) -> Result<(u32, Vec<u8>), SessionEnd> {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        let mut quiet_since: Option<Instant> = None;
        loop {
            let slice = deadline.next_slice().map_err(|e| {
                if dial::is_stopped(&e) {
                    SessionEnd::Stopping
                } else {
                    SessionEnd::Lost {
                        parent: parent.to_string(),
                        reason: format!("no answer to the STREAM request: {e}"),
                    }
                }
            })?;
            let _ = link.tcp().set_read_timeout(Some(slice.min(TICK)));
            let (got, closed) = match link.read(&mut buf) {
                Ok(0) => (0, true),
                Ok(n) => (n, false),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    (0, false)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => (0, false),
                Err(e) => {
                    return Err(SessionEnd::Lost {
                        parent: parent.to_string(),
                        reason: format!("reading the answer: {e}"),
                    })
                }
            };
            answer.extend_from_slice(&buf[..got]);
            if got > 0 {
                quiet_since = None;
            } else if quiet_since.is_none() {
                quiet_since = Some(Instant::now());
            }
            let quiet = quiet_since.is_some_and(|at| at.elapsed() >= Duration::from_millis(300));
            match parse_parent_answer(&answer, closed || quiet) {
                ParentAnswer::Incomplete if closed => {
                    return Err(SessionEnd::Lost {
                        parent: parent.to_string(),
                        reason: "closed the connection without an answer".into(),
                    })
                }
                ParentAnswer::Incomplete => {}
                ParentAnswer::Accepted { version, len } => {
                    return Ok((version, answer[len..].to_vec()))
                }
                ParentAnswer::Refused { status, text } => {
                    return Err(SessionEnd::Refused {
                        parent: parent.to_string(),
                        status,
                        text,
                    })
                }
                ParentAnswer::Unexpected(text) => {
                    return Err(SessionEnd::Refused {
                        parent: parent.to_string(),
                        status: 0,
                        text: format!("unexpected answer '{text}'"),
                    })
                }
            }
        }
    }

    /// The stream after the handshake.
    fn stream(
        &self,
        link: &mut Link,
        capabilities: u32,
        leftover: Vec<u8>,
        parent: &str,
    ) -> Result<(), SessionEnd> {
        let lost = |reason: String| SessionEnd::Lost {
            parent: parent.to_string(),
            reason,
        };
        let replication = capabilities & CAP_REPLICATION != 0;
        let mut compressor = (capabilities & CAP_COMPRESSION != 0)
            .then(wire::stream_compression::StreamCompressor::new);
        // Lines made this tick, and (when compressing) the blocks waiting
        // to be written.
        let mut lines = Vec::with_capacity(64 * 1024);
        let mut blocks = Vec::new();
        if capabilities & CAP_CLAIM != 0 {
            enc::write_claimed_id(&mut lines, &self.options.machine_guid, None);
        }
        if capabilities & CAP_HLABELS != 0 {
            for label in self.host.labels().iter() {
                enc::write_host_label(
                    &mut lines,
                    &label.key,
                    &label.value,
                    label_source(label.source),
                );
            }
            enc::write_overwrite_labels(&mut lines);
        }
        let mut charts: HashMap<String, SentChart> = HashMap::new();
        let mut host_variables = SentHostVariables::default();
        let mut framer = LineFramer::new();
        let mut incoming: Vec<Vec<u8>> = Vec::new();
        framer.feed(&leftover, |frame| {
            if let Ok(line) = frame {
                incoming.push(line.to_vec());
            }
        });
        let mut buf = vec![0u8; 16 * 1024];
        let timeout = self.timeout();
        let mut last_progress = Instant::now();
        let limit = self.options.config.buffer_size_bytes;
        loop {
            if self.shutdown.is_triggered() {
                return Err(SessionEnd::Stopping);
            }
            for line in incoming.drain(..) {
                self.on_parent_line(&line, &mut charts, &mut lines);
            }
            self.send_host_variables(&mut host_variables, parent, &mut lines);
            self.poll_charts(&mut charts, capabilities, replication, &mut lines);
            let out = match &mut compressor {
                Some(compressor) => {
                    compressor.compress(&lines, &mut blocks);
                    lines.clear();
                    &mut blocks
                }
                None => &mut lines,
            };
            if out.len() as u64 > limit {
                self.counters.overflows.fetch_add(1, Ordering::Relaxed);
                return Err(SessionEnd::Overflow {
                    parent: parent.to_string(),
                    bytes: out.len(),
                    limit,
                });
            }
            // Write what the socket takes now.
            let mut written = 0;
            if !out.is_empty() {
                let _ = link.tcp().set_write_timeout(Some(TICK));
                while written < out.len() {
                    match link.write(&out[written..]) {
                        Ok(0) => return Err(lost("the connection is closed".into())),
                        Ok(n) => written += n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                ErrorKind::WouldBlock
                                    | ErrorKind::TimedOut
                                    | ErrorKind::Interrupted
                            ) =>
                        {
                            break
                        }
                        Err(e) => return Err(lost(format!("sending: {e}"))),
                    }
                }
                if let Link::Tls(tls) = link {
                    let _ = tls.flush();
                }
                out.drain(..written);
                self.counters
                    .bytes_sent
                    .fetch_add(written as u64, Ordering::Relaxed);
            }
            if written > 0 || out.is_empty() {
                last_progress = Instant::now();
            } else if last_progress.elapsed() >= timeout {
                return Err(lost(format!(
                    "took nothing for {} s (timeout seconds)",
                    timeout.as_secs()
                )));
            }
            // Read what the parent says, waiting at most a tick.
            let _ = link.tcp().set_read_timeout(Some(TICK));
            match link.read(&mut buf) {
                Ok(0) => return Err(lost("closed the connection".into())),
                Ok(n) => framer.feed(&buf[..n], |frame| match frame {
                    Ok(line) => incoming.push(line.to_vec()),
                    Err(error) => {
                        tracing::warn!(%parent, %error, "stream sender: bad line from the parent")
                    }
                }),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(lost(format!("reading: {e}"))),
            }
        }
    }

    /// A line from the parent: `REPLAY_CHART` is answered; anything else
    /// is logged and ignored.
    fn on_parent_line(
        &self,
        line: &[u8],
        charts: &mut HashMap<String, SentChart>,
        out: &mut Vec<u8>,
    ) {
        match parse_line(line) {
            Ok(Command::ReplayChart {
                chart_id,
                start_streaming,
                after,
                before,
            }) => {
                self.counters
                    .replay_requests
                    .fetch_add(1, Ordering::Relaxed);
                let id = String::from_utf8_lossy(chart_id).into_owned();
                let chart = self.host.chart_by_id(&id);
                let sent = charts.get_mut(&id);
                match (chart, sent) {
                    (Some(chart), Some(sent)) => {
                        let points = answer_replay(
                            &chart,
                            after,
                            before,
                            start_streaming,
                            crate::sys::now_realtime_ut() / 1_000_000,
                            sent,
                            out,
                        );
                        self.counters
                            .replayed_points
                            .fetch_add(points, Ordering::Relaxed);
                    }
                    _ => {
                        // A chart not sent (or gone): an empty answer so
                        // the parent does not wait for it.
                        enc::write_replay_begin_chart(out, &id);
                        enc::write_replay_end(
                            out,
                            &enc::ReplayEndLine {
                                update_every: self.options.update_every.max(1),
                                first_entry: 0,
                                last_entry: 0,
                                start_streaming: true,
                                after,
                                before,
                                wall_clock: (crate::sys::now_realtime_ut() / 1_000_000) as i64,
                            },
                        );
                    }
                }
            }
            Ok(Command::Empty) => {}
            _ => tracing::debug!(
                line = %String::from_utf8_lossy(&line[..line.len().min(120)]),
                "stream sender: ignored a line from the parent"
            ),
        }
    }

    /// Sends the host's custom variables not sent on this connection yet
    /// or changed since (all of them on the connection's first tick).
    fn send_host_variables(&self, sent: &mut SentHostVariables, parent: &str, out: &mut Vec<u8>) {
        let first = sent.generation.is_none();
        let written = self
            .host
            .with_host_variables(|variables| sent.write_changes(variables, out));
        if written == 0 {
            return;
        }
        self.counters
            .host_variables_sent
            .fetch_add(written, Ordering::Relaxed);
        tracing::debug!(
            host = self.host.hostname(),
            %parent,
            variables = written,
            on_connect = first,
            "stream sender: host variables sent"
        );
    }

    /// Sends new and changed definitions, and the rounds completed since
    /// the last poll.
    fn poll_charts(
        &self,
        charts: &mut HashMap<String, SentChart>,
        capabilities: u32,
        replication: bool,
        out: &mut Vec<u8>,
    ) {
        let now_s = (crate::sys::now_realtime_ut() / 1_000_000) as i64;
        let list = self.host.charts();
        if list.len() < charts.len() {
            let live: std::collections::HashSet<&str> = list.iter().map(|c| c.id()).collect();
            charts.retain(|id, _| live.contains(id.as_str()));
        }
        for chart in &list {
            let state = chart.read();
            if state.is_receiving_history() {
                // A proxy's child is sending this chart's history: it is
                // forwarded once that is in (defined then, the parent asks
                // for all of it), not in part. No round comes meanwhile.
                continue;
            }
            let generation = state.generation();
            let sent = charts.get(chart.id());
            let obsolete = state.is_obsolete();
            let histories = state.histories_received();
            let redefine = match sent {
                None => true,
                Some(sent) => {
                    sent.generation != generation
                        || sent.obsolete != obsolete
                        || sent.histories != histories
                }
            };
            if redefine {
                let selected = match sent {
                    Some(sent) if sent.generation == generation => sent.selected,
                    _ => self.pattern.matches(state.id()) || self.pattern.matches(state.name()),
                };
                let previous = charts.remove(chart.id());
                let mut entry = SentChart {
                    generation,
                    selected,
                    // With replication every definition ends in
                    // `CHART_DEFINITION_END`, which the parent answers with a
                    // `REPLAY_CHART`: the chart waits for it, as netdata's
                    // sender does (the answer reaches the newest point).
                    streaming: !replication,
                    rounds: previous.as_ref().map_or(state.rounds(), |p| p.rounds),
                    collected_ut: previous.as_ref().map_or(0, |p| p.collected_ut),
                    obsolete,
                    histories,
                    variables_generation: state.variables().generation(),
                };
                if selected {
                    write_definition(&state, capabilities, replication, now_s, out);
                    self.counters.charts_sent.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .chart_variables_sent
                        .fetch_add(state.variables().len() as u64, Ordering::Relaxed);
                    if !replication && previous.is_none() {
                        // Without replication the last round goes out at once.
                        entry.rounds = state.rounds().saturating_sub(1);
                    }
                }
                charts.insert(chart.id().to_string(), entry);
            }
            let Some(sent) = charts.get_mut(chart.id()) else {
                continue;
            };
            if !sent.selected || !sent.streaming || obsolete || state.rounds() <= sent.rounds {
                continue;
            }
            let collected_ut = state.last_collected_ut();
            let since = (sent.collected_ut > 0 && collected_ut > sent.collected_ut)
                .then(|| collected_ut - sent.collected_ut);
            enc::write_begin(out, state.id(), since);
            for dim in state.dimensions() {
                if let Some((value, ut)) = dim.last_collected() {
                    if ut == collected_ut {
                        enc::write_set(out, dim.id(), value);
                    }
                }
            }
            let variables = state.variables();
            if variables.generation() != sent.variables_generation {
                // netdata sends them all again when any changed.
                write_chart_variables(variables, out);
                sent.variables_generation = variables.generation();
                self.counters
                    .chart_variables_sent
                    .fetch_add(variables.len() as u64, Ordering::Relaxed);
            }
            enc::write_end(out);
            sent.rounds = state.rounds();
            sent.collected_ut = collected_ut;
            self.counters.rounds_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn label_source(source: LabelSource) -> u32 {
    match source {
        LabelSource::Configured => enc::label_source::CONFIG,
        LabelSource::Automatic => enc::label_source::AUTO,
    }
}

/// `VARIABLE CHART` for each of a chart's custom variables, in the order
/// they were first set.
fn write_chart_variables(variables: &CustomVariables, out: &mut Vec<u8>) {
    for (name, value) in variables.iter() {
        enc::write_variable(out, VariableScope::Local, name, value);
    }
}

/// `CHART`, its labels, `DIMENSION`s, its custom variables and (with
/// replication) `CHART_DEFINITION_END`, in netdata's order.
fn write_definition(
    state: &rrd::ChartState,
    capabilities: u32,
    replication: bool,
    now_s: i64,
    out: &mut Vec<u8>,
) {
    let def = state.def();
    let name = match &def.name {
        Some(name) if def.full_name() != def.full_id() => name.as_str(),
        _ => "",
    };
    enc::write_chart(
        out,
        &enc::ChartLine {
            id: state.id(),
            name,
            title: &def.title,
            units: &def.units,
            family: &def.family,
            context: &def.context,
            chart_type: def.chart_type.as_str(),
            priority: def.priority,
            update_every: state.update_every(),
            obsolete: state.is_obsolete(),
            hidden: def.hidden,
            plugin: &def.plugin,
            module: &def.module,
        },
    );
    // netdata's parent refuses a `CLABEL_COMMIT` without a `CLABEL` before
    // it (and drops the connection), so a chart without labels sends none.
    let has_labels = !def.plugin.is_empty() || !def.labels.is_empty();
    if capabilities & CAP_CLABELS != 0 && has_labels {
        let permanent = enc::label_source::AUTO | enc::label_source::PERMANENT;
        if !def.labels.iter().any(|l| l.key == "_collect_plugin") && !def.plugin.is_empty() {
            enc::write_chart_label(out, "_collect_plugin", &def.plugin, permanent);
            let module = if def.module.is_empty() {
                "[none]"
            } else {
                def.module.as_str()
            };
            enc::write_chart_label(out, "_collect_module", module, permanent);
        }
        for label in &def.labels {
            enc::write_chart_label(out, &label.key, &label.value, label_source(label.source));
        }
        enc::write_chart_labels_commit(out);
    }
    for dim in state.dimensions() {
        let d = dim.def();
        enc::write_dimension(
            out,
            &enc::DimensionLine {
                id: dim.id(),
                name: dim.name(),
                algorithm: d.algorithm.as_str(),
                multiplier: d.multiplier,
                divisor: d.divisor,
                obsolete: false,
                hidden: d.hidden,
            },
        );
    }
    write_chart_variables(state.variables(), out);
    if replication {
        enc::write_chart_definition_end(
            out,
            state.first_entry_t().unwrap_or(0),
            state.last_entry_t().unwrap_or(0),
            now_s,
        );
    }
}

/// Answers `REPLAY_CHART id start_streaming after before` from the store:
/// the stored points with `after < t <= before` (up to the newest point
/// when streaming starts, so nothing falls between the answer and the
/// first live round). Returns the points sent.
fn answer_replay(
    chart: &Chart,
    after: i64,
    before: i64,
    start_streaming: bool,
    now_s: u64,
    sent: &mut SentChart,
    out: &mut Vec<u8>,
) -> u64 {
    let state = chart.read();
    let ue = i64::from(state.update_every().max(1));
    let first = state.first_entry_t().unwrap_or(0);
    let last = state.last_entry_t().unwrap_or(0);
    let before = if start_streaming && !(after == 0 && before == 0) {
        before.max(last)
    } else {
        before
    };
    enc::write_replay_begin_chart(out, state.id());
    let mut points = 0;
    if before > 0 {
        if let Some(window) = state.window(after, before) {
            for (k, slot) in window.slots().enumerate() {
                let t = window.first_t + k as i64 * window.step;
                let row = state.row(slot);
                if !row.iter().any(|s| s.exists()) {
                    continue;
                }
                enc::write_replay_begin_point(out, t - ue, t, now_s as i64);
                for (dim, sample) in state.dimensions().iter().zip(row) {
                    if let Some(value) = sample.unpack() {
                        enc::write_replay_set(out, dim.id(), value);
                    }
                }
                points += 1;
            }
        }
    }
    for dim in state.dimensions() {
        let (collected, ut) = dim.last_collected().unwrap_or((0, 0));
        let calculated = dim.last_stored_value().unwrap_or(0.0);
        enc::write_replay_dimension_state(out, dim.id(), ut, collected, calculated, calculated);
    }
    enc::write_replay_chart_state(
        out,
        state.last_collected_ut(),
        u64::try_from(last).unwrap_or(0) * 1_000_000,
    );
    enc::write_replay_end(
        out,
        &enc::ReplayEndLine {
            update_every: ue as u32,
            first_entry: first,
            last_entry: last,
            start_streaming,
            after,
            before,
            wall_clock: now_s as i64,
        },
    );
    if start_streaming {
        sent.streaming = true;
        // The answer reached the newest point; without a range (`0 0`: the
        // parent has everything up to the definition) the rounds since
        // the definition go out live.
        if before > 0 {
            sent.rounds = state.rounds();
            sent.collected_ut = state.last_collected_ut();
        }
    }
    points
}

/// Proxy mode: on a parent, every child host in the store whose proxy
/// settings say so (stream.conf: `[stream] enabled`, overridden per API key
/// by `default proxy enabled` and per machine GUID by `proxy enabled`, with
/// the matching `destination`, `api key` and `send charts matching`, as
/// netdata 1.37 resolves them) is streamed on with a sender of its own (its
/// hostname and machine GUID, `hops` one more than the child's). A thread looks at the store every
/// second: a new child host gets a sender, a removed one has its sender
/// stopped.
pub struct ProxySenders {
    thread: std::thread::JoinHandle<()>,
    senders: Arc<ProxyCounters>,
}

/// What the proxy thread decided, by machine GUID: the counters of the
/// forwarded hosts' senders, `None` for a host its settings keep here.
type ProxyCounters = Mutex<HashMap<String, Option<Arc<SenderCounters>>>>;

/// A child host's proxy settings, by machine GUID (`None`: not known yet).
pub type ProxyResolver = Box<dyn Fn(&str) -> Option<ProxySettings> + Send>;

impl ProxySenders {
    /// Starts the thread; `template` gives the `[stream]` settings (its
    /// hostname, GUID, destinations, API key and chart pattern are replaced
    /// per host by what `resolve` says).
    pub fn start(
        store: Arc<rrd::Store>,
        template: SenderOptions,
        resolve: ProxyResolver,
        shutdown: Shutdown,
    ) -> io::Result<ProxySenders> {
        let senders: Arc<ProxyCounters> = Arc::default();
        let shared = senders.clone();
        let thread = std::thread::Builder::new()
            .name("stream-proxy".into())
            .spawn(move || proxy_loop(&store, &template, &resolve, &shutdown, &shared))?;
        Ok(ProxySenders { thread, senders })
    }

    /// The counters of the sender of the host with `machine_guid`.
    pub fn counters(&self, machine_guid: &str) -> Option<Arc<SenderCounters>> {
        self.senders.lock().get(machine_guid).cloned().flatten()
    }

    /// Whether the host with `machine_guid` is known and, by its proxy
    /// settings, not forwarded.
    pub fn keeps_back(&self, machine_guid: &str) -> bool {
        matches!(self.senders.lock().get(machine_guid), Some(None))
    }

    /// Waits for the thread and the senders (after the shutdown fired).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

fn proxy_loop(
    store: &rrd::Store,
    template: &SenderOptions,
    resolve: &ProxyResolver,
    shutdown: &Shutdown,
    shared: &ProxyCounters,
) {
    let mut running: HashMap<String, (Arc<Host>, Shutdown, StreamSender)> = HashMap::new();
    // Hosts whose settings say not to forward them (decided once per host).
    let mut not_forwarded: HashMap<String, Arc<Host>> = HashMap::new();
    loop {
        let hosts = store.hosts();
        let local = store.localhost();
        for host in hosts.iter().filter(|h| !Arc::ptr_eq(h, local)) {
            let Some(guid) = host.machine_guid() else {
                continue;
            };
            if running
                .get(guid)
                .is_some_and(|(known, _, _)| Arc::ptr_eq(known, host))
                || not_forwarded
                    .get(guid)
                    .is_some_and(|known| Arc::ptr_eq(known, host))
            {
                continue;
            }
            if let Some((_, stop, sender)) = running.remove(guid) {
                stop.trigger();
                sender.join();
            }
            let Some(settings) = resolve(guid) else {
                continue;
            };
            if !settings.enabled || settings.destinations.is_empty() {
                tracing::info!(
                    host = host.hostname(),
                    machine_guid = guid,
                    "stream proxy: this child host is not forwarded (proxy enabled = no)"
                );
                not_forwarded.insert(guid.to_string(), host.clone());
                shared.lock().insert(guid.to_string(), None);
                continue;
            }
            not_forwarded.remove(guid);
            let mut config = template.config.clone();
            config.enabled = true;
            config.destinations = settings.destinations;
            config.api_key = settings.api_key;
            config.send_charts_matching = settings.send_charts_matching;
            let options = SenderOptions {
                config,
                hostname: host.hostname().to_string(),
                machine_guid: guid.to_string(),
                // One more than the child's own distance, as netdata.
                hops: host.hops().max(1) + 1,
                ..template.clone()
            };
            let stop = Shutdown::new();
            match StreamSender::start(host.clone(), options, stop.clone()) {
                Ok(sender) => {
                    tracing::info!(
                        host = host.hostname(),
                        machine_guid = guid,
                        "stream proxy: forwarding a child host"
                    );
                    shared
                        .lock()
                        .insert(guid.to_string(), Some(sender.counters.clone()));
                    running.insert(guid.to_string(), (host.clone(), stop, sender));
                }
                Err(error) => {
                    tracing::error!(host = host.hostname(), %error, "stream proxy: cannot start a sender");
                }
            }
        }
        not_forwarded.retain(|guid, host| {
            let kept = hosts.iter().any(|h| Arc::ptr_eq(h, host));
            if !kept {
                shared.lock().remove(guid);
            }
            kept
        });
        let gone: Vec<String> = running
            .iter()
            .filter(|(_, (host, _, _))| !hosts.iter().any(|h| Arc::ptr_eq(h, host)))
            .map(|(guid, _)| guid.clone())
            .collect();
        for guid in gone {
            if let Some((host, stop, sender)) = running.remove(&guid) {
                tracing::info!(host = host.hostname(), machine_guid = %guid, "stream proxy: child host removed, its sender stops");
                stop.trigger();
                sender.join();
                shared.lock().remove(&guid);
            }
        }
        if shutdown.sleep(Duration::from_secs(1)) {
            break;
        }
    }
    for (_, (_, stop, _)) in running.iter() {
        stop.trigger();
    }
    for (_, (_, _, sender)) in running {
        sender.join();
    }
}

/// Writes all of `bytes` within `deadline`.
fn write_all(link: &mut Link, mut bytes: &[u8], deadline: &Deadline) -> io::Result<()> {
    while !bytes.is_empty() {
        let slice = deadline.next_slice()?;
        link.tcp().set_write_timeout(Some(slice))?;
        match link.write(bytes) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "connection closed")),
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    link.flush()
}

/// This agent's machine GUID: `registry/netdata.public.unique.id` in
/// `lib_dir`, as netdata keeps it; made (a random UUID) and written there
/// when missing.
pub fn local_machine_guid(lib_dir: &std::path::Path) -> io::Result<String> {
    let file = lib_dir.join("registry/netdata.public.unique.id");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let guid = text.trim().to_ascii_lowercase();
        if crate::config::is_uuid(&guid) {
            return Ok(guid);
        }
    }
    let bytes: [u8; 16] = rand::random();
    let mut guid = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        let byte = match i {
            6 => (byte & 0x0f) | 0x40,
            8 => (byte & 0x3f) | 0x80,
            _ => *byte,
        };
        if matches!(i, 4 | 6 | 8 | 10) {
            guid.push('-');
        }
        guid.push_str(&format!("{byte:02x}"));
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&file, &guid)?;
    Ok(guid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_netdata_sends_them() {
        let ok = b"Hit me baby, push them over with the version=15296";
        assert_eq!(
            parse_parent_answer(&ok[..20], false),
            ParentAnswer::Incomplete
        );
        assert_eq!(parse_parent_answer(ok, false), ParentAnswer::Incomplete);
        assert_eq!(
            parse_parent_answer(ok, true),
            ParentAnswer::Accepted {
                version: 15296,
                len: ok.len()
            }
        );
        let mut more = ok.to_vec();
        more.extend_from_slice(b"REPLAY_CHART x\n");
        assert_eq!(
            parse_parent_answer(&more, false),
            ParentAnswer::Accepted {
                version: 15296,
                len: ok.len()
            }
        );
        assert_eq!(
            parse_parent_answer(ANSWER_V2.as_bytes(), false),
            ParentAnswer::Accepted {
                version: 2,
                len: ANSWER_V2.len()
            }
        );
        let refused = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nNo!";
        assert_eq!(
            parse_parent_answer(refused, false),
            ParentAnswer::Incomplete
        );
        assert_eq!(
            parse_parent_answer(refused, true),
            ParentAnswer::Refused {
                status: 401,
                text: "No!".into()
            }
        );
        assert!(matches!(
            parse_parent_answer(b"SSH-2.0", false),
            ParentAnswer::Unexpected(_)
        ));
    }

    #[test]
    fn offers_what_the_receiver_side_implements() {
        assert_eq!(
            OFFERED_CAPABILITIES | CAP_COMPRESSION,
            super::super::handshake::OUR_CAPABILITIES
        );
    }

    #[test]
    fn a_machine_guid_is_made_once() {
        let dir = std::env::temp_dir().join(format!("bh-guid-{}", std::process::id()));
        let first = local_machine_guid(&dir).unwrap();
        assert!(crate::config::is_uuid(&first), "{first}");
        assert_eq!(local_machine_guid(&dir).unwrap(), first);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
