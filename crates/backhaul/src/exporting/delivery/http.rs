//! `HttpDelivery`: the `:http` and `:https` connectors. Each batch, or each
//! part of it when the body would pass `max request body bytes`, is one
//! `POST` on an HTTP/1.1 keep-alive connection, acknowledged only by its
//! response:
//!
//! * 2xx: delivered;
//! * 429 and 5xx: the same request again after an exponential backoff with
//!   jitter, or after `Retry-After` when the server asks for longer;
//! * 413: the request is split in halves (at line boundaries) and sent
//!   again; a single line larger than the limit is dropped and counted;
//! * any other status: the request is dropped, counted as rejected, and
//!   logged with the status and the start of the response body;
//! * a connection the server closed while idle is noticed before it is
//!   reused; one that breaks after a whole request was sent and before its
//!   response arrived gets the request again on a new connection, counted
//!   as a possible repeat (delivery is at least once).
//!
//! The request head is netdata 1.37's (`POST /api/put HTTP/1.1`, `Host`,
//! `Authorization`, `Content-Type`, `Content-Length`), with a valid `Host`
//! (the configured host and port) and CRLF after every header line; the
//! connector's own headers (remote write's `Content-Encoding` and version)
//! and the extra headers (`http headers`) follow.
//!
//! Remote write ([`BodyFraming::RemoteWrite`]) sends each part of at most
//! `max samples per request` records as a snappy-compressed protobuf,
//! encoded at send time into a buffer the delivery keeps; a body over
//! `max request body bytes` is split in halves before it is sent, as a 413
//! would have it.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use super::dial::{self, Deadline, Endpoint};
use super::{tls, Delivery};
use crate::exporting::backoff::RetryPolicy;
use crate::exporting::batch::{BatchRing, Part};
use crate::exporting::monitoring::IntervalCounters;
use crate::log_limit::LogLimiter;
use crate::shutdown::Shutdown;

/// How a request body wraps the batch's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// The lines as they are (graphite).
    Lines,
    /// `[\n` + the objects joined by `,\n` + `\n]\n` (json, opentsdb); the
    /// batch holds objects each ending in `,\n`.
    JsonArray,
    /// A Prometheus remote write request: the batch holds one record per
    /// sample (`wire::format::remote_write`), encoded when sent.
    RemoteWrite,
}

impl BodyFraming {
    /// Body bytes around a part of `len` bytes.
    fn body_len(self, len: usize) -> usize {
        match self {
            BodyFraming::Lines | BodyFraming::RemoteWrite => len,
            // "[\n" + len - 2 + "\n]\n"
            BodyFraming::JsonArray => len + 3,
        }
    }

    /// The largest part whose body fits `max_body`.
    fn part_limit(self, max_body: usize) -> usize {
        match self {
            BodyFraming::Lines => max_body,
            // The body is compressed: the records' size says little; a
            // body found too large is split before it is sent.
            BodyFraming::RemoteWrite => usize::MAX,
            BodyFraming::JsonArray => max_body.saturating_sub(3),
        }
    }
}

/// The longest `Retry-After` honoured; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// Response head and kept body limits.
const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const KEPT_BODY: usize = 256;

/// Everything an HTTP delivery is configured with.
pub struct HttpSettings {
    /// Destinations in order of preference, with each one's request path.
    pub endpoints: Vec<(Endpoint, String)>,
    pub content_type: &'static str,
    pub framing: BodyFraming,
    /// The `Authorization` header value, if any (`Basic ...`).
    pub authorization: Option<String>,
    /// The connector's own header lines, after `Content-Length`.
    pub fixed_headers: &'static [(&'static str, &'static str)],
    /// Extra header lines, `Name: value`, in order.
    pub extra_headers: Vec<(String, String)>,
    /// At most this many lines (remote write: samples) per request.
    pub max_lines: Option<usize>,
    /// Largest request body; parts are cut at line boundaries to fit.
    pub max_body: usize,
    /// Connect, handshake, request and response, each.
    pub timeout: Duration,
    /// TLS client configuration for `:https`.
    pub tls: Option<Arc<ClientConfig>>,
    /// How often a later destination checks whether an earlier one is up.
    pub primary_check_every: Duration,
    pub retry: Box<dyn RetryPolicy>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<tls::TlsStream>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    fn set_timeouts(&self, slice: Duration) -> io::Result<()> {
        self.tcp().set_read_timeout(Some(slice))?;
        self.tcp().set_write_timeout(Some(slice))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write_vectored(bufs),
            Stream::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

struct Connection {
    stream: Stream,
    index: usize,
    peer: SocketAddr,
    /// Requests answered on it (a reused connection may have been closed
    /// by the server while idle).
    answered: u64,
}

/// What one response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<Duration>,
    /// `Location` (a redirection's target), for logs.
    pub location: Option<String>,
    /// The server will close the connection after it.
    pub close: bool,
    /// The first bytes of the body, for logs.
    pub body_start: Vec<u8>,
    /// Bytes read for it.
    pub bytes: usize,
}

/// How long a request whose write broke waits for an answer the server
/// may have sent before it read the body.
const EARLY_ANSWER_WAIT: Duration = Duration::from_millis(500);

/// Why an exchange failed.
enum ExchangeError {
    /// Before the whole request was written: it cannot have been processed.
    NotSent(io::Error),
    /// The whole request was written and no response came.
    NoResponse(io::Error),
}

/// The HTTP(S) delivery of one instance.
pub struct HttpDelivery {
    /// The last error not yet taken by [`Delivery::take_error`].
    last_error: Option<String>,
    settings: HttpSettings,
    connection: Option<Connection>,
    shutdown: Option<Shutdown>,
    /// No request before this instant (backoff, `Retry-After`).
    retry_at: Option<Instant>,
    /// The current part's request was sent whole and never answered: its
    /// next sending is a possible repeat.
    unanswered: bool,
    /// A 413 lowered the part size for the rest of the current batch.
    split_limit: Option<usize>,
    last_primary_check: Instant,
    head: Vec<u8>,
    response: Vec<u8>,
    /// Remote write bodies, encoded at send time.
    encoder: wire::format::remote_write::BodyEncoder,
    connect_log: LogLimiter,
    status_log: LogLimiter,
    name: String,
}

impl HttpDelivery {
    pub fn new(name: &str, settings: HttpSettings) -> HttpDelivery {
        HttpDelivery {
            last_error: None,
            settings,
            connection: None,
            shutdown: None,
            retry_at: None,
            unanswered: false,
            split_limit: None,
            last_primary_check: Instant::now(),
            head: Vec::with_capacity(512),
            response: Vec::with_capacity(4096),
            encoder: wire::format::remote_write::BodyEncoder::new(),
            connect_log: LogLimiter::new(Duration::from_secs(30)),
            status_log: LogLimiter::new(Duration::from_secs(30)),
            name: name.to_string(),
        }
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        self.settings
            .endpoints
            .iter()
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// Connects to the first of the first `upto` destinations that
    /// answers (with the TLS handshake for `:https`).
    fn connect(&self, upto: usize) -> Result<(Connection, usize), dial::ConnectError> {
        let endpoints = self.endpoints();
        let timeout = self.settings.timeout;
        let mut from = 0;
        let mut attempts = 0;
        // A failed TLS handshake: the later destinations are still worth a
        // try, and it is the error to report if none answers.
        let mut tls_failure = None;
        while from < upto {
            let (tcp, offset, peer, tried) = match dial::connect_first(
                &endpoints[from..upto],
                upto - from,
                timeout,
                self.shutdown.as_ref(),
            ) {
                Ok(found) => found,
                Err(e) => {
                    return Err(dial::ConnectError {
                        attempts: attempts + e.attempts,
                        last: tls_failure.unwrap_or(e.last),
                    })
                }
            };
            attempts += tried;
            let index = from + offset;
            let _ = tcp.set_nodelay(true);
            let stream = match &self.settings.tls {
                None => Stream::Plain(tcp),
                Some(config) => {
                    let deadline = Deadline::after(timeout, self.shutdown.as_ref());
                    tracing::debug!(instance = %self.name, address = %peer, "TLS handshake");
                    match tls::handshake(config, &endpoints[index].host, tcp, &deadline) {
                        Ok(s) => Stream::Tls(Box::new(s)),
                        Err(e) => {
                            tls_failure = Some(format!("{} ({peer}): {e}", endpoints[index]));
                            from = index + 1;
                            continue;
                        }
                    }
                }
            };
            let connection = Connection {
                stream,
                index,
                peer,
                answered: 0,
            };
            return Ok((connection, attempts));
        }
        Err(dial::ConnectError {
            attempts,
            last: tls_failure.unwrap_or_else(|| "no destination".to_string()),
        })
    }

    /// Makes sure a connection is up; moves back to an earlier destination
    /// when it is time to check. Between requests, so nothing is cut.
    fn ensure_connected(&mut self, counters: &mut IntervalCounters) -> bool {
        if let Some(conn) = &mut self.connection {
            // A connection the server closed while idle (or that carries
            // bytes nobody asked for) is not reused.
            if !still_open(&mut conn.stream) {
                tracing::debug!(instance = %self.name, "the server closed the idle connection");
                self.connection = None;
            }
        }
        let now = Instant::now();
        if let Some(current) = self.connection.as_ref().map(|c| c.index) {
            if current > 0
                && now.duration_since(self.last_primary_check) >= self.settings.primary_check_every
            {
                self.last_primary_check = now;
                match self.connect(current) {
                    Ok((conn, attempts)) => {
                        counters.reconnects += attempts as u64;
                        tracing::info!(instance = %self.name, destination = %self.settings.endpoints[conn.index].0, "moved back to a preferred destination");
                        self.connection = Some(conn);
                    }
                    Err(e) => counters.reconnects += e.attempts as u64,
                }
            }
            return true;
        }
        match self.connect(self.settings.endpoints.len()) {
            Ok((conn, attempts)) => {
                counters.reconnects += attempts as u64;
                self.connect_log.reset();
                tracing::info!(instance = %self.name, destination = %self.settings.endpoints[conn.index].0, address = %conn.peer, tls = self.settings.tls.is_some(), "connected");
                self.last_primary_check = Instant::now();
                self.connection = Some(conn);
                true
            }
            Err(error) => {
                counters.reconnects += error.attempts as u64;
                counters.failures += 1;
                let delay = self.settings.retry.next_delay();
                self.retry_at = Some(Instant::now() + delay);
                if !self.stopping() {
                    self.last_error = Some(format!("cannot connect: {error}"));
                    if let Some(suppressed) = self.connect_log.check(Instant::now()) {
                        tracing::error!(instance = %self.name, %error, retry_in_ms = delay.as_millis() as u64, suppressed, "cannot connect");
                    }
                }
                false
            }
        }
    }

    fn stopping(&self) -> bool {
        self.shutdown.as_ref().is_some_and(Shutdown::is_triggered)
    }

    /// Writes the request head for a body of `body_len` bytes into
    /// `self.head`.
    fn build_head(&mut self, index: usize, body_len: usize) {
        let (endpoint, path) = &self.settings.endpoints[index];
        let head = &mut self.head;
        head.clear();
        head.extend_from_slice(b"POST ");
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(endpoint.to_string().as_bytes());
        head.extend_from_slice(b"\r\n");
        if let Some(auth) = &self.settings.authorization {
            head.extend_from_slice(b"Authorization: ");
            head.extend_from_slice(auth.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"Content-Type: ");
        head.extend_from_slice(self.settings.content_type.as_bytes());
        head.extend_from_slice(b"\r\nContent-Length: ");
        head.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
        head.extend_from_slice(b"\r\n");
        for (name, value) in self.settings.fixed_headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        for (name, value) in &self.settings.extra_headers {
            head.extend_from_slice(name.as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
    }

    /// Sends one request with `part` as its body (remote write: the body
    /// just encoded from it) and reads the response.
    fn exchange(&mut self, part: &[u8]) -> Result<Response, ExchangeError> {
        let Some(index) = self.connection.as_ref().map(|c| c.index) else {
            return Err(ExchangeError::NotSent(io::Error::new(
                ErrorKind::NotConnected,
                "not connected",
            )));
        };
        let framing = self.settings.framing;
        let body_len = match framing {
            BodyFraming::RemoteWrite => self.encoder.body().len(),
            _ => framing.body_len(part.len()),
        };
        self.build_head(index, body_len);
        let timeout = self.settings.timeout;
        let deadline = Deadline::after(timeout, self.shutdown.as_ref());
        let Some(conn) = self.connection.as_mut() else {
            return Err(ExchangeError::NotSent(io::Error::new(
                ErrorKind::NotConnected,
                "not connected",
            )));
        };
        let pieces: [&[u8]; 4] = match framing {
            BodyFraming::Lines => [&self.head, part, &[], &[]],
            BodyFraming::RemoteWrite => [&self.head, self.encoder.body(), &[], &[]],
            BodyFraming::JsonArray => {
                let objects = part.get(..part.len().saturating_sub(2)).unwrap_or_default();
                [&self.head, b"[\n", objects, b"\n]\n"]
            }
        };
        if let Err(error) = write_all(&mut conn.stream, &pieces, &deadline) {
            // A server may answer before it read the body (a 413 for a
            // body too large, a 401) and close: the write then breaks, and
            // that answer, already here, decides what happens to the part.
            if matches!(
                error.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ) {
                let deadline =
                    Deadline::after(EARLY_ANSWER_WAIT.min(timeout), self.shutdown.as_ref());
                if let Ok(mut response) =
                    read_response(&mut conn.stream, &mut self.response, &deadline)
                {
                    if !(200..300).contains(&response.status) {
                        tracing::debug!(instance = %self.name, status = response.status, "the server answered before reading the whole request");
                        response.close = true;
                        return Ok(response);
                    }
                }
            }
            return Err(ExchangeError::NotSent(error));
        }
        tracing::debug!(instance = %self.name, body_bytes = body_len, "request sent; waiting for the response");
        let deadline = Deadline::after(timeout, self.shutdown.as_ref());
        let response = read_response(&mut conn.stream, &mut self.response, &deadline)
            .map_err(ExchangeError::NoResponse)?;
        conn.answered += 1;
        Ok(response)
    }

    /// Drops a part: it will never be delivered.
    fn reject(
        &mut self,
        ring: &mut BatchRing,
        part_len: usize,
        lines: usize,
        counters: &mut IntervalCounters,
    ) {
        if ring.rest_of_batch() == part_len {
            self.split_limit = None;
        }
        counters.rejected_metrics += lines as u64;
        counters.rejected_bytes += part_len as u64;
        let delivered = ring.reject(part_len, lines);
        counters.sent_metrics += delivered.metrics as u64;
        self.unanswered = false;
    }

    fn back_off(&mut self, at_least: Option<Duration>) -> Duration {
        let mut delay = self.settings.retry.next_delay();
        if let Some(asked) = at_least {
            delay = delay.max(asked.min(MAX_RETRY_AFTER));
        }
        self.retry_at = Some(Instant::now() + delay);
        delay
    }
}

/// Whether an idle keep-alive connection can take the next request: the
/// server has sent nothing since its last response (a TLS session's own
/// records, such as session tickets, do not count), nor closed it.
fn still_open(stream: &mut Stream) -> bool {
    match crate::sys::wait_readable(stream.tcp(), Duration::ZERO) {
        Ok(false) => return true,
        Ok(true) => {}
        Err(_) => return false,
    }
    if stream.tcp().set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let open = matches!(stream.read(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    open && stream.tcp().set_nonblocking(false).is_ok()
}

fn count_lines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

impl Delivery for HttpDelivery {
    fn deliver(&mut self, ring: &mut BatchRing, counters: &mut IntervalCounters) {
        let started = Instant::now();
        loop {
            if self.stopping() {
                break;
            }
            if let Some(at) = self.retry_at {
                if Instant::now() < at {
                    break;
                }
                self.retry_at = None;
            }
            let limit = self
                .settings
                .framing
                .part_limit(self.settings.max_body)
                .min(self.split_limit.unwrap_or(usize::MAX))
                .max(1);
            let Some(Part {
                mut bytes,
                oversize,
                mut batch_end,
            }) = ring.next_part(limit)
            else {
                self.split_limit = None;
                break;
            };
            let remote_write = self.settings.framing == BodyFraming::RemoteWrite;
            // Remote write: the encoder stops at the limit itself.
            if let Some(max_lines) = self.settings.max_lines.filter(|_| !remote_write) {
                if let Some(end) = memchr::memchr_iter(b'\n', bytes).nth(max_lines.max(1) - 1) {
                    if end + 1 < bytes.len() {
                        bytes = &bytes[..=end];
                        batch_end = false;
                    }
                }
            }
            let mut part_len = bytes.len();
            if oversize {
                let lines = count_lines(bytes).max(1);
                if let Some(suppressed) = self.status_log.check(Instant::now()) {
                    tracing::warn!(instance = %self.name, bytes = part_len, max_request_body_bytes = self.settings.max_body, suppressed, "a single line is larger than the largest request body; dropped");
                }
                self.reject(ring, part_len, lines, counters);
                continue;
            }
            let mut body_len = self.settings.framing.body_len(part_len);
            if remote_write {
                let max_samples = self.settings.max_lines.unwrap_or(usize::MAX).max(1);
                match self.encoder.encode_at_most(bytes, max_samples) {
                    Ok((taken, _)) => {
                        if taken < bytes.len() {
                            bytes = &bytes[..taken];
                            part_len = taken;
                            batch_end = false;
                        }
                        body_len = self.encoder.body().len();
                    }
                    Err(error) => {
                        tracing::error!(instance = %self.name, %error, "cannot encode a remote write request; its samples are dropped");
                        if let Some(end) = memchr::memchr_iter(b'\n', bytes).nth(max_samples - 1) {
                            bytes = &bytes[..=end];
                            part_len = bytes.len();
                        }
                        let lines = count_lines(bytes).max(1);
                        self.reject(ring, part_len, lines, counters);
                        continue;
                    }
                }
                if body_len > self.settings.max_body {
                    let lines = count_lines(bytes);
                    if lines <= 1 {
                        if let Some(suppressed) = self.status_log.check(Instant::now()) {
                            tracing::warn!(instance = %self.name, bytes = body_len, max_request_body_bytes = self.settings.max_body, suppressed, "a single sample is larger than the largest request body; dropped");
                        }
                        self.reject(ring, part_len, lines.max(1), counters);
                    } else {
                        counters.splits += 1;
                        self.split_limit = Some((part_len / 2).max(1));
                    }
                    continue;
                }
            }
            if !self.ensure_connected(counters) {
                break;
            }
            let reused = self.connection.as_ref().is_some_and(|c| c.answered > 0);
            let result = self.exchange(bytes);
            match result {
                Ok(response) => {
                    if self.unanswered {
                        counters.repeats += 1;
                        self.unanswered = false;
                    }
                    counters.reads += 1;
                    counters.received_bytes += response.bytes as u64;
                    if response.close {
                        self.connection = None;
                    }
                    match response.status {
                        200..=299 => {
                            self.settings.retry.reset();
                            counters.writes += 1;
                            counters.sent_bytes += body_len as u64;
                            let delivered = ring.complete(part_len);
                            counters.sent_metrics += delivered.metrics as u64;
                            if batch_end {
                                self.split_limit = None;
                            }
                        }
                        413 => {
                            counters.splits += 1;
                            let lines = count_lines(bytes);
                            if lines <= 1 {
                                if let Some(suppressed) = self.status_log.check(Instant::now()) {
                                    tracing::warn!(instance = %self.name, status = 413, bytes = part_len, suppressed, "the server refuses even one line as too large; dropped");
                                }
                                self.reject(ring, part_len, lines.max(1), counters);
                            } else {
                                self.split_limit = Some((part_len / 2).max(1));
                            }
                        }
                        300..=399 => {
                            // A redirection is the configuration's problem
                            // (http where https is wanted, a moved path):
                            // backhaul does not follow it, and keeps the
                            // metrics until the destination is fixed.
                            counters.failures += 1;
                            let delay = self.back_off(response.retry_after);
                            let location = response.location.as_deref().unwrap_or("");
                            self.last_error = Some(format!(
                                "HTTP {}: the server redirects to '{location}'; fix the destination",
                                response.status
                            ));
                            if let Some(suppressed) = self.status_log.check(Instant::now()) {
                                tracing::error!(instance = %self.name, status = response.status, location, retry_in_ms = delay.as_millis() as u64, suppressed, "the server redirects the request, which is not followed: fix the destination (or the URL path, or use https); the metrics are kept");
                            }
                            break;
                        }
                        429 | 500..=599 => {
                            counters.retries += 1;
                            counters.failures += 1;
                            let delay = self.back_off(response.retry_after);
                            self.last_error = Some(format!(
                                "HTTP {}: the server asks to retry later",
                                response.status
                            ));
                            if let Some(suppressed) = self.status_log.check(Instant::now()) {
                                tracing::warn!(instance = %self.name, status = response.status, retry_in_ms = delay.as_millis() as u64, body = %String::from_utf8_lossy(&response.body_start), suppressed, "the server asks to retry later");
                            }
                            break;
                        }
                        status => {
                            counters.rejects += 1;
                            let lines = count_lines(bytes);
                            self.last_error = Some(format!(
                                "HTTP {status}: the server rejected {lines} metrics"
                            ));
                            if let Some(suppressed) = self.status_log.check(Instant::now()) {
                                tracing::error!(instance = %self.name, status, metrics = lines, body = %String::from_utf8_lossy(&response.body_start), suppressed, "the server rejected a request; its metrics are dropped");
                            }
                            self.reject(ring, part_len, lines, counters);
                        }
                    }
                }
                Err(ExchangeError::NotSent(error)) => {
                    self.connection = None;
                    if dial::is_stopped(&error) {
                        break;
                    }
                    counters.failures += 1;
                    if reused {
                        // A keep-alive connection that died while idle:
                        // nothing of the request was processed.
                        continue;
                    }
                    let delay = self.back_off(None);
                    self.last_error = Some(format!("sending a request failed: {error}"));
                    if let Some(suppressed) = self.connect_log.check(Instant::now()) {
                        tracing::error!(instance = %self.name, %error, retry_in_ms = delay.as_millis() as u64, suppressed, "sending a request failed");
                    }
                    break;
                }
                Err(ExchangeError::NoResponse(error)) => {
                    self.connection = None;
                    if self.unanswered {
                        counters.repeats += 1;
                    }
                    self.unanswered = true;
                    if dial::is_stopped(&error) {
                        break;
                    }
                    counters.failures += 1;
                    if reused && error.kind() != ErrorKind::TimedOut {
                        continue;
                    }
                    let delay = self.back_off(None);
                    self.last_error = Some(format!("no response to a request: {error}"));
                    if let Some(suppressed) = self.connect_log.check(Instant::now()) {
                        tracing::warn!(instance = %self.name, %error, retry_in_ms = delay.as_millis() as u64, suppressed, "no response to a request; it will be sent again");
                    }
                    break;
                }
            }
        }
        counters.latency_us += started.elapsed().as_micros() as u64;
    }

    fn poll(&mut self, _ring: &mut BatchRing, _counters: &mut IntervalCounters) {}

    fn wake_at(&self, ring: &BatchRing) -> Option<Instant> {
        if ring.is_empty() {
            return None;
        }
        self.retry_at
    }

    fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    fn peer(&self) -> Option<SocketAddr> {
        self.connection.as_ref().map(|c| c.peer)
    }

    fn take_error(&mut self) -> Option<String> {
        self.last_error.take()
    }

    fn watch(&mut self, shutdown: &Shutdown) {
        self.shutdown = Some(shutdown.clone());
    }

    fn describe(&self) -> String {
        let scheme = if self.settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        self.settings
            .endpoints
            .iter()
            .map(|(e, p)| format!("{scheme}://{e}{p}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The error of a blocking call whose time slice ran out (or that a signal
/// interrupted): try again while the deadline allows.
fn slice_ran_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Writes `pieces` in order, within `deadline`.
fn write_all(stream: &mut Stream, pieces: &[&[u8]], deadline: &Deadline) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = pieces
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| IoSlice::new(p))
        .collect();
    let mut bufs = &mut slices[..];
    while !bufs.is_empty() {
        let slice = deadline.next_slice()?;
        stream.set_timeouts(slice)?;
        match stream.write_vectored(bufs) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::WriteZero,
                    "the peer takes no more bytes",
                ))
            }
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if slice_ran_out(&e) => {}
            Err(e) => return Err(e),
        }
    }
    loop {
        let slice = deadline.next_slice()?;
        stream.set_timeouts(slice)?;
        match stream.flush() {
            Ok(()) => return Ok(()),
            Err(e) if slice_ran_out(&e) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads more bytes into `buf` within `deadline`; `Ok(0)` at the end of
/// the stream.
fn read_more(stream: &mut Stream, buf: &mut Vec<u8>, deadline: &Deadline) -> io::Result<usize> {
    let mut chunk = [0u8; 8192];
    loop {
        let slice = deadline.next_slice()?;
        stream.set_timeouts(slice)?;
        match stream.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if slice_ran_out(&e) => {}
            // A TLS peer that closed without close_notify: the end.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e),
        }
    }
}

/// Reads one response (skipping `1xx` interim ones) and its body.
fn read_response(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    deadline: &Deadline,
) -> io::Result<Response> {
    buf.clear();
    let mut total = 0;
    loop {
        // Parse the head.
        let (status, head_len, length, chunked, close, retry_after, location) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = parsed.code.unwrap_or(0);
                    let mut length = None;
                    let mut chunked = false;
                    let mut close = parsed.version == Some(0);
                    let mut retry_after = None;
                    let mut location = None;
                    for h in parsed.headers.iter() {
                        let value = String::from_utf8_lossy(h.value);
                        let value = value.trim();
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = value.parse::<usize>().ok();
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = value.to_ascii_lowercase().contains("chunked");
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            let v = value.to_ascii_lowercase();
                            if v.contains("close") {
                                close = true;
                            } else if v.contains("keep-alive") {
                                close = false;
                            }
                        } else if h.name.eq_ignore_ascii_case("retry-after") {
                            retry_after = parse_retry_after(value);
                        } else if h.name.eq_ignore_ascii_case("location") {
                            location = Some(value.chars().take(256).collect());
                        }
                    }
                    break (
                        status,
                        head_len,
                        length,
                        chunked,
                        close,
                        retry_after,
                        location,
                    );
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() > MAX_RESPONSE_HEAD {
                        return Err(io::Error::new(
                            ErrorKind::InvalidData,
                            "response head too large",
                        ));
                    }
                    let n = read_more(stream, buf, deadline)?;
                    total += n;
                    if n == 0 {
                        return Err(io::Error::new(
                            ErrorKind::UnexpectedEof,
                            if buf.is_empty() {
                                "the server closed the connection without answering".to_string()
                            } else {
                                "the server closed the connection in the middle of its response"
                                    .to_string()
                            },
                        ));
                    }
                }
                Err(e) => {
                    return Err(io::Error::new(
                        ErrorKind::InvalidData,
                        format!("malformed response: {e}"),
                    ))
                }
            }
        };
        let mut body = buf.split_off(head_len);
        buf.clear();
        // Interim responses have no body.
        let has_body = !(100..200).contains(&status) && status != 204 && status != 304;
        let mut kept = Vec::new();
        let mut close = close;
        if has_body {
            if chunked {
                read_chunked(stream, &mut body, &mut kept, &mut total, deadline)?;
            } else if let Some(length) = length {
                while body.len() < length {
                    let n = read_more(stream, &mut body, deadline)?;
                    total += n;
                    if n == 0 {
                        return Err(io::Error::new(
                            ErrorKind::UnexpectedEof,
                            "the server closed the connection in the middle of its response body",
                        ));
                    }
                    if body.len() > KEPT_BODY && body.len() < length {
                        keep(&mut kept, &body);
                        let remaining = length - body.len();
                        body.clear();
                        // Keep reading, counting only what is left.
                        let mut left = remaining;
                        while left > 0 {
                            let n = read_more(stream, &mut body, deadline)?;
                            total += n;
                            if n == 0 {
                                return Err(io::Error::new(ErrorKind::UnexpectedEof, "the server closed the connection in the middle of its response body"));
                            }
                            left = left.saturating_sub(n);
                            body.clear();
                        }
                        break;
                    }
                }
                keep(&mut kept, &body[..body.len().min(length)]);
            } else {
                // No length: the body runs to the end of the connection.
                close = true;
                keep(&mut kept, &body);
                loop {
                    body.clear();
                    let n = read_more(stream, &mut body, deadline)?;
                    total += n;
                    if n == 0 {
                        break;
                    }
                    keep(&mut kept, &body);
                }
            }
        }
        if (100..200).contains(&status) {
            *buf = body;
            continue;
        }
        return Ok(Response {
            status,
            retry_after,
            location,
            close,
            body_start: kept,
            bytes: total,
        });
    }
}

fn keep(kept: &mut Vec<u8>, bytes: &[u8]) {
    let room = KEPT_BODY.saturating_sub(kept.len());
    kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Reads a chunked body whose first bytes are in `buf`.
fn read_chunked(
    stream: &mut Stream,
    buf: &mut Vec<u8>,
    kept: &mut Vec<u8>,
    total: &mut usize,
    deadline: &Deadline,
) -> io::Result<()> {
    loop {
        match httparse::parse_chunk_size(buf) {
            Ok(httparse::Status::Complete((at, size))) => {
                let size = usize::try_from(size)
                    .map_err(|_| io::Error::new(ErrorKind::InvalidData, "chunk too large"))?;
                if size == 0 {
                    // Trailers until an empty line.
                    buf.drain(..at);
                    loop {
                        if let Some(end) = find(buf, b"\r\n") {
                            if end == 0 {
                                return Ok(());
                            }
                            buf.drain(..end + 2);
                            continue;
                        }
                        if read_more(stream, buf, deadline)? == 0 {
                            return Ok(());
                        }
                    }
                }
                let mut left = size + 2;
                buf.drain(..at);
                loop {
                    let take = left.min(buf.len());
                    keep(kept, &buf[..take.min(size.min(buf.len()))]);
                    buf.drain(..take);
                    left -= take;
                    if left == 0 {
                        break;
                    }
                    let n = read_more(stream, buf, deadline)?;
                    *total += n;
                    if n == 0 {
                        return Err(io::Error::new(
                            ErrorKind::UnexpectedEof,
                            "the server closed the connection in a chunked body",
                        ));
                    }
                }
            }
            Ok(httparse::Status::Partial) => {
                if buf.len() > 1024 {
                    return Err(io::Error::new(
                        ErrorKind::InvalidData,
                        "malformed chunk size",
                    ));
                }
                let n = read_more(stream, buf, deadline)?;
                *total += n;
                if n == 0 {
                    return Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the server closed the connection in a chunked body",
                    ));
                }
            }
            Err(_) => {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    "malformed chunk size",
                ))
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporting::batch::Batch;
    use std::io::BufRead;

    /// A receiver that stops reading a request's body for 400 ms after the
    /// first MiB (so a write of the request blocks for longer than the
    /// delivery's 100 ms slices), then reads the rest and answers 200;
    /// returns the body length it read.
    fn slow_reader() -> (SocketAddr, std::thread::JoinHandle<usize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::with_capacity(4096, stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut left = length;
            let mut chunk = vec![0u8; 64 * 1024];
            let mut paused = false;
            while left > 0 {
                let n = reader.read(&mut chunk[..left.min(64 * 1024)]).unwrap();
                assert!(n > 0, "the client closed mid-body");
                left -= n;
                if !paused && length - left > 1 << 20 {
                    paused = true;
                    std::thread::sleep(Duration::from_millis(400));
                }
            }
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            length
        });
        (addr, t)
    }

    #[test]
    fn a_body_that_takes_many_write_slices_is_delivered_whole() {
        let (addr, receiver) = slow_reader();
        let mut delivery = delivery_to(addr, 64 << 20, Duration::from_secs(30));
        // 32 MiB of lines: more than the kernel's buffers on both sides
        // hold, so the pause blocks the writer.
        let line = b"netdata.box.chart.dimension 1.0000000 1700000000\n";
        let mut bytes = Vec::new();
        while bytes.len() < 32 << 20 {
            bytes.extend_from_slice(line);
        }
        let (len, lines) = (bytes.len(), bytes.len() / line.len());
        let mut ring = BatchRing::new(2);
        ring.push(Batch::new(bytes, lines));
        let mut counters = IntervalCounters::default();
        delivery.deliver(&mut ring, &mut counters);
        assert!(ring.is_empty(), "{counters:?}");
        assert_eq!(counters.sent_metrics, lines as u64);
        assert_eq!(counters.failures, 0);
        assert_eq!(receiver.join().unwrap(), len);
    }

    /// The bytes queued unread on `stream`.
    fn queued(stream: &std::net::TcpStream) -> usize {
        rustix::io::ioctl_fionread(stream).map_or(0, |n| n as usize)
    }

    #[test]
    fn a_stop_request_ends_a_write_to_a_peer_that_never_reads() {
        // A receiver that accepts and never reads a byte.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (accepted_tx, accepted_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let _ = accepted_tx.send(stream);
        });
        let mut delivery = delivery_to(addr, 64 << 20, Duration::from_secs(20));
        let stop = Shutdown::new();
        delivery.watch(&stop);
        // 32 MiB: more than both kernels' buffers hold.
        let line = b"netdata.box.chart.dimension 1.0000000 1700000000\n";
        let mut bytes = Vec::new();
        while bytes.len() < 32 << 20 {
            bytes.extend_from_slice(line);
        }
        let lines = bytes.len() / line.len();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let sender = std::thread::spawn(move || {
            let mut ring = BatchRing::new(2);
            ring.push(Batch::new(bytes, lines));
            let mut counters = IntervalCounters::default();
            delivery.deliver(&mut ring, &mut counters);
            let _ = done_tx.send((ring, counters));
        });
        let peer = accepted_rx.recv().unwrap();
        // Readiness: the peer's receive queue stopped growing, so the
        // write is blocked on a full send buffer.
        let mut last = 0;
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let now = queued(&peer);
            if now > 0 && now == last {
                break;
            }
            last = now;
        }
        assert!(!sender.is_finished(), "the write did not block");
        let triggered = Instant::now();
        stop.trigger();
        let (ring, counters) = done_rx
            .recv_timeout(Duration::from_secs(2))
            .expect("still writing 2 s after the stop request");
        assert!(
            triggered.elapsed() < Duration::from_secs(2),
            "took {:?} to stop",
            triggered.elapsed()
        );
        sender.join().unwrap();
        // Nothing counts as sent, and the batch is kept for the next start.
        assert!(!ring.is_empty());
        assert_eq!(counters.sent_metrics, 0);
        drop(peer);
    }

    /// A receiver that answers one request with `response` (after reading
    /// the head and a Content-Length body), in writes 50 ms apart (a
    /// server that streams its answer), cut at each of `cuts`.
    fn answering(response: Vec<u8>, cuts: Vec<usize>) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let mut from = 0;
            for cut in cuts.into_iter().chain([response.len()]) {
                reader.get_mut().write_all(&response[from..cut]).unwrap();
                reader.get_mut().flush().unwrap();
                from = cut;
                std::thread::sleep(Duration::from_millis(50));
            }
            // Hold the connection until the client is done with it.
            let _ = reader.read(&mut [0u8; 1]);
        });
        addr
    }

    fn delivery_to(addr: SocketAddr, max_body: usize, timeout: Duration) -> HttpDelivery {
        HttpDelivery::new(
            "t",
            HttpSettings {
                endpoints: vec![(
                    Endpoint {
                        host: "127.0.0.1".into(),
                        port: addr.port(),
                    },
                    "/api/put".into(),
                )],
                content_type: "application/graphite",
                framing: BodyFraming::Lines,
                authorization: None,
                fixed_headers: &[],
                extra_headers: Vec::new(),
                max_lines: None,
                max_body,
                timeout,
                tls: None,
                primary_check_every: Duration::from_secs(60),
                retry: Box::new(crate::exporting::backoff::ExponentialBackoff::new(
                    Duration::from_secs(1),
                    Duration::from_secs(1),
                )),
            },
        )
    }

    #[test]
    fn every_byte_of_a_long_response_counts_as_received() {
        let body = vec![b'x'; 5000];
        let mut response =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        response.extend_from_slice(&body);
        let expected = response.len() as u64;
        // The head with 100 bytes of the body, 1000 more, the rest: every
        // path through the body reading.
        let head = response.len() - body.len();
        let mut delivery = delivery_to(
            answering(response, vec![head + 100, head + 1100]),
            1 << 20,
            Duration::from_secs(10),
        );
        let mut ring = BatchRing::new(2);
        ring.push(Batch::new(b"a 1 2\n".to_vec(), 1));
        let mut counters = IntervalCounters::default();
        delivery.deliver(&mut ring, &mut counters);
        assert!(ring.is_empty(), "{counters:?}");
        assert_eq!(counters.reads, 1);
        assert_eq!(counters.received_bytes, expected);
    }

    #[test]
    fn framing_lengths() {
        assert_eq!(BodyFraming::JsonArray.body_len(10), 13);
        assert_eq!(BodyFraming::JsonArray.part_limit(13), 10);
        assert_eq!(BodyFraming::Lines.body_len(10), 10);
    }

    #[test]
    fn retry_after_in_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
