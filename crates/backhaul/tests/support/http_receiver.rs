//! An in-process HTTP/1.1 receiver on 127.0.0.1 for fault injection, over
//! plain TCP or TLS (rustls, server side).
//!
//! Every request is answered as a [`Script`] says: a status (200, 204, 400,
//! 413, 429 with `Retry-After`, 500, 503, ...), possibly after a delay, then
//! keeping the connection or closing it (silently, or announced with
//! `Connection: close`); or the connection is cut half-way through the
//! status line; or closed without a byte of answer. Requests are framed by
//! `Content-Length` only (chunked bodies are a protocol error here), several
//! per connection (keep-alive).
//!
//! Everything is recorded: each request's exact head bytes (so line endings
//! can be checked), its parsed request line and headers in order, its body,
//! what the receiver did with it and whether it kept the body ("accepted":
//! the data a real server would have stored, which for a 2xx answer is
//! always the case), plus every byte received on each TCP connection (for
//! TLS: the ciphertext, to check that nothing went in the clear), TLS
//! handshake errors and protocol errors.
//!
//! Threads: one acceptor, one per connection; all stop (bounded, within
//! about 50 ms) on [`HttpReceiver::stop`] or drop. Waiting is on a condition
//! variable signalled at every recorded event, always with a deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown as NetShutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// How often blocked reads wake up to look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// Bound on a TLS handshake and on writing one response.
const IO_BOUND: Duration = Duration::from_secs(10);
/// Largest head and body accepted.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One header line, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    /// Without the surrounding blanks.
    pub value: String,
    /// The line ended in CRLF (else in a bare LF).
    pub crlf: bool,
}

/// What the receiver did with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Not acted on yet (a delayed answer).
    Pending,
    /// Answered with this status (the whole response was written).
    Answered(u16),
    /// Decided to answer with this status, but writing it failed (the
    /// client had gone) or the receiver was stopped during the delay.
    AnswerFailed(u16),
    /// Sent half a status line, then closed.
    CutMidResponse,
    /// Closed without answering.
    Unanswered,
}

/// One request as received, and what became of it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Arrival order over all connections, from 0.
    pub seq: usize,
    /// Which connection (accept order, from 0).
    pub connection: usize,
    /// Its place on that connection, from 0.
    pub on_connection: usize,
    /// When its last byte had arrived.
    pub at: Instant,
    pub method: String,
    pub target: String,
    pub version: String,
    /// The request line ended in CRLF.
    pub request_line_crlf: bool,
    /// In the order received.
    pub headers: Vec<Header>,
    /// The exact bytes of the request line, the header lines and the empty
    /// line that ends them.
    pub head: Vec<u8>,
    pub body: Vec<u8>,
    /// Over TLS: the server name the client sent (SNI), if any.
    pub sni: Option<String>,
    /// Over TLS: whether the client presented a certificate.
    pub client_certificate: bool,
    pub tls: bool,
    /// [`Outcome::Pending`] until the receiver has acted.
    pub outcome: Outcome,
    /// The receiver kept the body (every 2xx answer, and the cut or
    /// unanswered ones scripted as accepted).
    pub accepted: bool,
    /// When the response (or the cut) was written.
    pub answered_at: Option<Instant>,
}

impl Request {
    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// The exact bytes received: head and body.
    pub fn raw(&self) -> Vec<u8> {
        let mut raw = self.head.clone();
        raw.extend_from_slice(&self.body);
        raw
    }

    /// The status it was answered with, if it was answered at all.
    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            Outcome::Answered(s) => Some(s),
            _ => None,
        }
    }

    /// The body as the items of `framing` (see [`split_body`]).
    pub fn items(&self, framing: Framing) -> Result<Vec<String>, String> {
        split_body(&self.body, framing)
            .map_err(|e| format!("request {} (connection {}): {e}", self.seq, self.connection))
    }
}

/// What to do after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterResponse {
    /// Wait for the next request on the connection.
    KeepAlive,
    /// Close the connection without saying so in the response (as a server
    /// whose keep-alive timeout expired does).
    Close,
    /// Send `Connection: close` and close.
    CloseAnnounced,
}

/// A response to send.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Extra headers, after `Content-Length`.
    pub headers: Vec<(String, String)>,
    /// Sent with `Content-Length`; nothing (and no `Content-Length`) for
    /// 204 and 304.
    pub body: Vec<u8>,
    /// Waited before anything is written.
    pub delay: Duration,
    pub then: AfterResponse,
}

/// What the receiver does with one request.
#[derive(Clone, Debug)]
pub enum Action {
    Respond(Response),
    /// Writes the first half of `HTTP/1.1 200 OK\r\n` and closes.
    /// `accepted`: whether the body counts as kept.
    CloseMidResponse {
        accepted: bool,
    },
    /// Closes after reading the request, without a byte of answer.
    CloseWithoutAnswer {
        accepted: bool,
    },
}

impl Action {
    /// Answers `status` (a short text body unless 204/304), keep-alive.
    pub fn status(status: u16) -> Action {
        let body = match status {
            204 | 304 => Vec::new(),
            _ => format!("{status} {}\n", reason(status)).into_bytes(),
        };
        Action::Respond(Response {
            status,
            headers: Vec::new(),
            body,
            delay: Duration::ZERO,
            then: AfterResponse::KeepAlive,
        })
    }

    /// Answers `status` with `Retry-After: seconds`.
    pub fn retry_after(status: u16, seconds: u64) -> Action {
        Action::status(status).with_header("Retry-After", &seconds.to_string())
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Action {
        if let Action::Respond(r) = &mut self {
            r.headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// Waits `delay` before answering.
    pub fn delayed(mut self, delay: Duration) -> Action {
        if let Action::Respond(r) = &mut self {
            r.delay = delay;
        }
        self
    }

    /// Closes the connection after answering, without announcing it.
    pub fn then_close(mut self) -> Action {
        if let Action::Respond(r) = &mut self {
            r.then = AfterResponse::Close;
        }
        self
    }

    /// Answers with `Connection: close` and closes.
    pub fn then_close_announced(mut self) -> Action {
        if let Action::Respond(r) = &mut self {
            r.then = AfterResponse::CloseAnnounced;
        }
        self
    }

    fn accepted(&self) -> bool {
        match self {
            Action::Respond(r) => (200..300).contains(&r.status),
            Action::CloseMidResponse { accepted } | Action::CloseWithoutAnswer { accepted } => {
                *accepted
            }
        }
    }
}

/// Chooses the action for each request (which knows its `seq`).
pub type Script = Arc<dyn Fn(&Request) -> Action + Send + Sync>;

/// The same action for every request.
pub fn always(action: Action) -> Script {
    Arc::new(move |_| action.clone())
}

/// `first[i]` for request `i`, then `then` for all later ones.
pub fn in_order(first: Vec<Action>, then: Action) -> Script {
    Arc::new(move |r| first.get(r.seq).cloned().unwrap_or_else(|| then.clone()))
}

/// Any rule.
pub fn script(f: impl Fn(&Request) -> Action + Send + Sync + 'static) -> Script {
    Arc::new(f)
}

/// How a body holds its items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Lines, each ended by `\n` (graphite): a cut last line is an error.
    Lines,
    /// `[\n` + one object a line, joined by `,\n` + `\n]\n` (json and
    /// opentsdb over HTTP). An empty body is an error.
    JsonArray,
}

/// Splits a body into its items (lines or JSON objects, without their
/// separators), checking the framing strictly.
pub fn split_body(body: &[u8], framing: Framing) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
    match framing {
        Framing::Lines => {
            if text.is_empty() {
                return Ok(Vec::new());
            }
            let Some(all) = text.strip_suffix('\n') else {
                return Err(format!(
                    "the last line is not terminated: {:?}",
                    tail(text, 80)
                ));
            };
            Ok(all.split('\n').map(str::to_string).collect())
        }
        Framing::JsonArray => {
            let inner = text
                .strip_prefix("[\n")
                .and_then(|t| t.strip_suffix("\n]\n"))
                .ok_or_else(|| {
                    format!(
                        "not framed as \"[\\n\" ... \"\\n]\\n\": starts {:?}, ends {:?}",
                        head(text, 40),
                        tail(text, 40)
                    )
                })?;
            let objects: Vec<String> = inner.split(",\n").map(str::to_string).collect();
            for o in &objects {
                if !(o.starts_with('{') && o.ends_with('}')) || o.contains('\n') {
                    return Err(format!("not one object on one line: {:?}", head(o, 120)));
                }
            }
            Ok(objects)
        }
    }
}

fn head(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Everything recorded so far.
#[derive(Default, Clone)]
pub struct ReceiverState {
    pub requests: Vec<Request>,
    /// Connections accepted.
    pub connections: usize,
    /// Connections finished (closed by either side).
    pub closed: usize,
    /// TLS handshakes that failed, with the reason.
    pub tls_errors: Vec<String>,
    /// Requests that could not be parsed, or were left incomplete when their
    /// connection closed.
    pub protocol_errors: Vec<String>,
    /// Every byte received on each connection, by connection index (for TLS
    /// the encrypted bytes).
    pub wire: Vec<Vec<u8>>,
}

impl ReceiverState {
    /// The requests whose body the receiver kept, in arrival order.
    pub fn delivered(&self) -> Vec<&Request> {
        self.requests.iter().filter(|r| r.accepted).collect()
    }

    /// Requests the receiver has acted on (answered, cut or closed).
    pub fn acted_on(&self) -> usize {
        self.requests
            .iter()
            .filter(|r| r.outcome != Outcome::Pending)
            .count()
    }
}

struct Shared {
    state: Mutex<ReceiverState>,
    changed: Condvar,
    script: Script,
    tls: Option<Arc<ServerConfig>>,
    stop: AtomicBool,
}

impl Shared {
    fn update<T>(&self, f: impl FnOnce(&mut ReceiverState) -> T) -> T {
        let v = f(&mut self.state.lock());
        self.changed.notify_all();
        v
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The receiver. Stops on drop.
pub struct HttpReceiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpReceiver {
    /// Plain HTTP on a free port of 127.0.0.1.
    pub fn start(script: Script) -> HttpReceiver {
        Self::start_with(script, None)
    }

    /// HTTPS on a free port of 127.0.0.1 (see `support::tls::TestPki`).
    pub fn start_tls(script: Script, config: Arc<ServerConfig>) -> HttpReceiver {
        Self::start_with(script, Some(config))
    }

    /// Plain HTTP on `addr` (a port a test kept free until now).
    #[allow(dead_code)]
    pub fn start_on(script: Script, addr: SocketAddr) -> HttpReceiver {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        Self::start_listening(script, None, listener)
    }

    fn start_with(script: Script, tls: Option<Arc<ServerConfig>>) -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Self::start_listening(script, tls, listener)
    }

    fn start_listening(
        script: Script,
        tls: Option<Arc<ServerConfig>>,
        listener: TcpListener,
    ) -> HttpReceiver {
        let addr = listener.local_addr().expect("local addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let shared = Arc::new(Shared {
            state: Mutex::new(ReceiverState::default()),
            changed: Condvar::new(),
            script,
            tls,
            stop: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("http-rx-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn acceptor")
        };
        HttpReceiver {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Closes the listener and every connection; joins all threads.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }

    /// A copy of everything recorded.
    pub fn state(&self) -> ReceiverState {
        self.shared.state.lock().clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.state.lock().requests.clone()
    }

    /// Waits until `done` holds (true) or `timeout` passes (false).
    pub fn wait(&self, timeout: Duration, mut done: impl FnMut(&ReceiverState) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.state.lock();
        loop {
            if done(&state) {
                return true;
            }
            if self
                .shared
                .changed
                .wait_until(&mut state, deadline)
                .timed_out()
            {
                return done(&state);
            }
        }
    }

    /// Waits until at least `n` requests were acted on; returns them all.
    /// Panics with what was seen on timeout.
    pub fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        if !self.wait(timeout, |s| s.acted_on() >= n) {
            panic!(
                "waited {timeout:?} for {n} requests; got:\n{}",
                self.summary()
            );
        }
        self.requests()
    }

    pub fn connections(&self) -> usize {
        self.shared.state.lock().connections
    }

    pub fn closed_connections(&self) -> usize {
        self.shared.state.lock().closed
    }

    pub fn tls_errors(&self) -> Vec<String> {
        self.shared.state.lock().tls_errors.clone()
    }

    pub fn protocol_errors(&self) -> Vec<String> {
        self.shared.state.lock().protocol_errors.clone()
    }

    /// How many requests were answered with `status`.
    pub fn count_answered(&self, status: u16) -> usize {
        self.shared
            .state
            .lock()
            .requests
            .iter()
            .filter(|r| r.outcome == Outcome::Answered(status))
            .count()
    }

    /// The items of every body the receiver kept, in arrival order.
    pub fn delivered_items(&self, framing: Framing) -> Result<Vec<String>, String> {
        let state = self.shared.state.lock();
        let mut items = Vec::new();
        for r in state.delivered() {
            items.extend(r.items(framing)?);
        }
        Ok(items)
    }

    /// One line per request, for failure messages.
    pub fn summary(&self) -> String {
        let state = self.shared.state.lock();
        let mut s = format!(
            "{} connections ({} closed), {} TLS errors {:?}, protocol errors {:?}\n",
            state.connections,
            state.closed,
            state.tls_errors.len(),
            state.tls_errors,
            state.protocol_errors
        );
        for r in &state.requests {
            s.push_str(&format!(
                "  #{} conn {}/{} {} {} {} body {} B, {:?}{}\n",
                r.seq,
                r.connection,
                r.on_connection,
                r.method,
                r.target,
                r.version,
                r.body.len(),
                r.outcome,
                if r.accepted { ", kept" } else { "" }
            ));
        }
        s
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stopped() {
        match listener.accept() {
            Ok((stream, _)) => {
                let index = shared.update(|s| {
                    s.connections += 1;
                    s.wire.push(Vec::new());
                    s.connections - 1
                });
                let shared = shared.clone();
                let worker = std::thread::Builder::new()
                    .name(format!("http-rx-{index}"))
                    .spawn(move || {
                        serve_connection(&shared, stream, index);
                        shared.update(|s| s.closed += 1);
                    })
                    .expect("spawn connection thread");
                workers.push(worker);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                shared.update(|s| s.protocol_errors.push(format!("accept: {e}")));
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    drop(listener);
    for w in workers {
        let _ = w.join();
    }
}

/// A TCP stream that keeps a copy of every byte it reads.
struct Recorder {
    stream: TcpStream,
    shared: Arc<Shared>,
    index: usize,
}

impl Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        if n > 0 {
            self.shared.state.lock().wire[self.index].extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

enum Conn {
    Plain(Recorder),
    Tls(Box<StreamOwned<ServerConnection, Recorder>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(r) => &r.stream,
            Conn::Tls(s) => &s.sock.stream,
        }
    }

    /// SNI and whether a client certificate was presented.
    fn peer_info(&self) -> (Option<String>, bool) {
        match self {
            Conn::Plain(_) => (None, false),
            Conn::Tls(s) => (
                s.conn.server_name().map(str::to_string),
                s.conn.peer_certificates().is_some_and(|c| !c.is_empty()),
            ),
        }
    }

    /// A graceful close: TLS close_notify, then FIN.
    fn close_gracefully(mut self) {
        if let Conn::Tls(s) = &mut self {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.tcp().shutdown(NetShutdown::Both);
    }

    /// An abrupt close: no close_notify.
    fn close_abruptly(self) {
        let _ = self.tcp().shutdown(NetShutdown::Both);
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(r) => r.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(r) => r.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(r) => r.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn handshake(
    config: &Arc<ServerConfig>,
    mut sock: Recorder,
    shared: &Shared,
) -> Result<StreamOwned<ServerConnection, Recorder>, (Recorder, String)> {
    let mut conn = match ServerConnection::new(config.clone()) {
        Ok(c) => c,
        Err(e) => return Err((sock, format!("server connection: {e}"))),
    };
    let deadline = Instant::now() + IO_BOUND;
    while conn.is_handshaking() {
        match conn.complete_io(&mut sock) {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {
                if shared.stopped() {
                    return Err((sock, "stopped during the handshake".into()));
                }
                if Instant::now() >= deadline {
                    return Err((sock, format!("handshake not done in {IO_BOUND:?}")));
                }
            }
            Err(e) => return Err((sock, format!("handshake: {e}"))),
        }
    }
    Ok(StreamOwned::new(conn, sock))
}

fn serve_connection(shared: &Arc<Shared>, stream: TcpStream, index: usize) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(IO_BOUND));
    let recorder = Recorder {
        stream,
        shared: shared.clone(),
        index,
    };
    let mut conn = match &shared.tls {
        None => Conn::Plain(recorder),
        Some(config) => match handshake(config, recorder, shared) {
            Ok(s) => Conn::Tls(Box::new(s)),
            Err((sock, e)) => {
                shared.update(|s| s.tls_errors.push(format!("connection {index}: {e}")));
                let _ = sock.stream.shutdown(NetShutdown::Both);
                return;
            }
        },
    };
    let tls = shared.tls.is_some();
    let (sni, client_certificate) = conn.peer_info();
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut on_connection = 0;
    loop {
        let (head, consumed) = match parse_request(&buf) {
            Parse::Complete(head, consumed) => (head, consumed),
            Parse::Invalid(e) => {
                shared.update(|s| {
                    s.protocol_errors.push(format!(
                        "connection {index}, request {on_connection}: {e}; bytes: {:?}",
                        String::from_utf8_lossy(&buf[..buf.len().min(300)])
                    ))
                });
                let _ = conn.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                let _ = conn.flush();
                conn.close_gracefully();
                return;
            }
            Parse::Partial => {
                if shared.stopped() {
                    conn.close_abruptly();
                    return;
                }
                match conn.read(&mut chunk) {
                    Ok(0) => {
                        if !buf.is_empty() {
                            shared.update(|s| {
                                s.protocol_errors.push(format!(
                                    "connection {index}: closed by the client after {} bytes of an incomplete request {on_connection}",
                                    buf.len()
                                ))
                            });
                        }
                        conn.close_gracefully();
                        return;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) if is_timeout(&e) => {}
                    Err(e) => {
                        if !buf.is_empty() {
                            shared.update(|s| {
                                s.protocol_errors.push(format!(
                                    "connection {index}: {e} after {} bytes of an incomplete request {on_connection}",
                                    buf.len()
                                ))
                            });
                        }
                        conn.close_abruptly();
                        return;
                    }
                }
                continue;
            }
        };
        let body = buf[head.len..consumed].to_vec();
        let head_bytes = buf[..head.len].to_vec();
        buf.drain(..consumed);
        let mut request = Request {
            seq: 0,
            connection: index,
            on_connection,
            at: Instant::now(),
            method: head.method,
            target: head.target,
            version: head.version,
            request_line_crlf: head.request_line_crlf,
            headers: head.headers,
            head: head_bytes,
            body,
            sni: sni.clone(),
            client_certificate,
            tls,
            outcome: Outcome::Pending,
            accepted: false,
            answered_at: None,
        };
        on_connection += 1;
        // Number the request and choose its action under one lock, so the
        // script sees requests in `seq` order.
        let (seq, action) = {
            let mut state = shared.state.lock();
            request.seq = state.requests.len();
            let action = (shared.script)(&request);
            request.accepted = action.accepted();
            let seq = request.seq;
            state.requests.push(request);
            (seq, action)
        };
        shared.changed.notify_all();
        let set_done = |outcome: Outcome| {
            shared.update(|s| {
                let r = &mut s.requests[seq];
                r.outcome = outcome;
                r.answered_at = Some(Instant::now());
            })
        };
        match action {
            Action::Respond(r) => {
                if !sleep_unless_stopped(shared, r.delay) {
                    set_done(Outcome::AnswerFailed(r.status));
                    conn.close_abruptly();
                    return;
                }
                let bytes = render(&r);
                if conn.write_all(&bytes).and_then(|_| conn.flush()).is_err() {
                    set_done(Outcome::AnswerFailed(r.status));
                    conn.close_abruptly();
                    return;
                }
                set_done(Outcome::Answered(r.status));
                if r.then != AfterResponse::KeepAlive {
                    conn.close_gracefully();
                    return;
                }
            }
            Action::CloseMidResponse { .. } => {
                let _ = conn.write_all(b"HTTP/1.1 2");
                let _ = conn.flush();
                set_done(Outcome::CutMidResponse);
                conn.close_abruptly();
                return;
            }
            Action::CloseWithoutAnswer { .. } => {
                set_done(Outcome::Unanswered);
                conn.close_abruptly();
                return;
            }
        }
    }
}

/// Sleeps `d` in short steps; false if the receiver was stopped meanwhile.
fn sleep_unless_stopped(shared: &Shared, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    loop {
        if shared.stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
}

fn render(r: &Response) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    let bodyless = matches!(r.status, 204 | 304);
    if !bodyless {
        out.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    for (name, value) in &r.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if r.then == AfterResponse::CloseAnnounced {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if !bodyless {
        bytes.extend_from_slice(&r.body);
    }
    bytes
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

struct Head {
    method: String,
    target: String,
    version: String,
    request_line_crlf: bool,
    headers: Vec<Header>,
    /// Bytes of the head, through its empty line.
    len: usize,
}

enum Parse {
    /// A whole request: its head, and the bytes it takes with its body.
    Complete(Head, usize),
    Partial,
    Invalid(String),
}

/// Parses one request at the start of `buf`, strictly: a request line of
/// three words, `Name: value` header lines (CRLF or bare LF, each recorded),
/// an empty line, and exactly `Content-Length` bytes of body.
fn parse_request(buf: &[u8]) -> Parse {
    let mut lines: Vec<(&[u8], bool)> = Vec::new();
    let mut pos = 0;
    let head_len = loop {
        let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_HEAD {
                return Parse::Invalid(format!("no end of head in {MAX_HEAD} bytes"));
            }
            return Parse::Partial;
        };
        let line = &buf[pos..pos + nl];
        pos += nl + 1;
        let (text, crlf) = match line.strip_suffix(b"\r") {
            Some(t) => (t, true),
            None => (line, false),
        };
        if text.is_empty() {
            if lines.is_empty() {
                return Parse::Invalid("an empty line before the request line".into());
            }
            break pos;
        }
        lines.push((text, crlf));
    };
    let (request_line, request_line_crlf) = lines[0];
    let Ok(request_line) = std::str::from_utf8(request_line) else {
        return Parse::Invalid("request line is not UTF-8".into());
    };
    let words: Vec<&str> = request_line.split(' ').collect();
    if words.len() != 3 || words.iter().any(|w| w.is_empty() || w.contains('\r')) {
        return Parse::Invalid(format!("bad request line {request_line:?}"));
    }
    if !words[2].starts_with("HTTP/") {
        return Parse::Invalid(format!("bad version in {request_line:?}"));
    }
    let mut headers = Vec::new();
    let mut content_length: Option<usize> = None;
    for &(line, crlf) in &lines[1..] {
        let Ok(line) = std::str::from_utf8(line) else {
            return Parse::Invalid(format!("header line is not UTF-8: {line:?}"));
        };
        if line.starts_with([' ', '\t']) {
            return Parse::Invalid(format!("folded header line {line:?}"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Parse::Invalid(format!("header line without a colon {line:?}"));
        };
        if name.is_empty() || name.contains([' ', '\t', '\r']) {
            return Parse::Invalid(format!("bad header name in {line:?}"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.contains('\r') {
            return Parse::Invalid(format!("a CR inside header line {line:?}"));
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Parse::Invalid(format!("unexpected {line:?} (Content-Length framing only)"));
        }
        if name.eq_ignore_ascii_case("content-length") {
            let Ok(n) = value.parse::<usize>() else {
                return Parse::Invalid(format!("bad {line:?}"));
            };
            if content_length.is_some_and(|c| c != n) {
                return Parse::Invalid("conflicting Content-Length headers".into());
            }
            if n > MAX_BODY {
                return Parse::Invalid(format!("body of {n} bytes is over {MAX_BODY}"));
            }
            content_length = Some(n);
        }
        headers.push(Header {
            name: name.to_string(),
            value: value.to_string(),
            crlf,
        });
    }
    let total = head_len + content_length.unwrap_or(0);
    if buf.len() < total {
        return Parse::Partial;
    }
    Parse::Complete(
        Head {
            method: words[0].to_string(),
            target: words[1].to_string(),
            version: words[2].to_string(),
            request_line_crlf,
            headers,
            len: head_len,
        },
        total,
    )
}
