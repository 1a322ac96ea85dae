//! Test support: in-process fake receivers for fault injection on
//! 127.0.0.1 (normal, slow, closing mid-batch, black hole), and a small
//! synthetic store. Real receivers are tested in `real_receivers.rs`.
//!
//! `http_receiver`: a scripted HTTP/1.1 (and HTTPS) receiver for the HTTP
//! connectors; `tls`: a throw-away CA and certificates made at test time.

#![allow(dead_code)]

pub mod http_receiver;
pub mod tls;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How a fake receiver treats its connections.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Reads everything as it comes.
    Normal,
    /// Reads `chunk` bytes, then sleeps `pause`, forever.
    Slow { chunk: usize, pause: Duration },
    /// On the first connection, reads `after` bytes then closes it; later
    /// connections are normal.
    CloseFirstAfter { after: usize },
    /// Accepts connections and never reads.
    BlackHole,
}

/// A line receiver on 127.0.0.1. Keeps the complete lines of every
/// connection (an unterminated tail is dropped when its connection closes,
/// as carbon does).
pub struct FakeReceiver {
    pub addr: SocketAddr,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    connections: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    behaviour: Behaviour,
}

impl FakeReceiver {
    pub fn start(behaviour: Behaviour) -> FakeReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        Self::serve(listener, behaviour, Default::default(), Default::default())
    }

    /// Starts on a given address (a restart on the same port).
    pub fn start_on(addr: SocketAddr, behaviour: Behaviour) -> FakeReceiver {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match TcpListener::bind(addr) {
                Ok(l) => return Self::serve(l, behaviour, Default::default(), Default::default()),
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("rebind {addr}: {e}"),
            }
        }
    }

    fn serve(
        listener: TcpListener,
        behaviour: Behaviour,
        lines: Arc<Mutex<Vec<(Instant, String)>>>,
        connections: Arc<AtomicUsize>,
    ) -> FakeReceiver {
        let addr = listener.local_addr().expect("addr");
        let closed = Arc::new(AtomicUsize::new(0));
        let (stop, thread) = Self::spawn_acceptor(
            listener,
            behaviour,
            lines.clone(),
            connections.clone(),
            closed.clone(),
        );
        FakeReceiver {
            addr,
            lines,
            connections,
            closed,
            stop,
            thread: Some(thread),
            behaviour,
        }
    }

    fn spawn_acceptor(
        listener: TcpListener,
        behaviour: Behaviour,
        lines: Arc<Mutex<Vec<(Instant, String)>>>,
        connections: Arc<AtomicUsize>,
        closed: Arc<AtomicUsize>,
    ) -> (Arc<AtomicBool>, JoinHandle<()>) {
        listener.set_nonblocking(true).expect("nonblocking");
        if let Behaviour::Slow { .. } = behaviour {
            small_receive_buffer(&listener);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (lines, connections, stop) = (lines.clone(), connections.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut workers: Vec<JoinHandle<()>> = Vec::new();
                let mut held: Vec<TcpStream> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let n = connections.fetch_add(1, Ordering::SeqCst);
                            if let Behaviour::BlackHole = behaviour {
                                held.push(stream);
                                continue;
                            }
                            let (lines, stop, closed) =
                                (lines.clone(), stop.clone(), closed.clone());
                            workers.push(std::thread::spawn(move || {
                                read_lines(stream, behaviour, n, &lines, &stop);
                                closed.fetch_add(1, Ordering::SeqCst);
                            }));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
                drop(held);
                for w in workers {
                    let _ = w.join();
                }
            })
        };
        (stop, thread)
    }

    /// Closes the listener and every connection.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Starts again on the same port, keeping the lines received so far.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("rebind {}: {e}", self.addr),
            }
        };
        let (stop, thread) = Self::spawn_acceptor(
            listener,
            self.behaviour,
            self.lines.clone(),
            self.connections.clone(),
            self.closed.clone(),
        );
        self.stop = stop;
        self.thread = Some(thread);
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().iter().map(|(_, l)| l.clone()).collect()
    }

    pub fn timed_lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().clone()
    }

    /// Connections this receiver has closed (or seen closed).
    pub fn closed_connections(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` connections are closed (or `timeout`).
    pub fn wait_for_closed(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.closed_connections() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` lines arrived (or `timeout`).
    pub fn wait_for_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        while self.lines.lock().len() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.lines()
    }
}

impl Drop for FakeReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn read_lines(
    mut stream: TcpStream,
    behaviour: Behaviour,
    connection: usize,
    lines: &Mutex<Vec<(Instant, String)>>,
    stop: &AtomicBool,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(20)));
    let mut pending: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        let want = match behaviour {
            Behaviour::Slow { chunk, .. } => chunk,
            Behaviour::CloseFirstAfter { after } if connection == 0 => {
                (after - total).min(buf.len())
            }
            _ => buf.len(),
        };
        if want == 0 {
            break; // close mid-batch
        }
        match stream.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => {
                total += n;
                pending.extend_from_slice(&buf[..n]);
                let now = Instant::now();
                while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                    lines.lock().push((now, text));
                }
                if let Behaviour::Slow { pause, .. } = behaviour {
                    std::thread::sleep(pause);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
}

/// Shrinks the receive buffer of the connections `listener` accepts, so a
/// slow reader pushes back on the sender quickly.
fn small_receive_buffer(listener: &TcpListener) {
    rustix::net::sockopt::set_socket_recv_buffer_size(listener, 4096).expect("SO_RCVBUF");
}

/// Asserts that `got` holds exactly `want`, each line once, and shows the
/// difference compactly when not.
pub fn assert_lines(got: &[String], want: &std::collections::BTreeSet<String>) {
    let set: std::collections::BTreeSet<String> = got.iter().cloned().collect();
    let dups = got.len() - set.len();
    let missing: Vec<_> = want.difference(&set).take(5).collect();
    let extra: Vec<_> = set.difference(want).take(5).collect();
    let missing_n = want.difference(&set).count();
    let extra_n = set.difference(want).count();
    assert!(
        dups == 0 && missing_n == 0 && extra_n == 0,
        "{dups} duplicates; {missing_n} missing, e.g. {missing:?}; {extra_n} unexpected, e.g. {extra:?}"
    );
}

/// A port on 127.0.0.1 where nothing listens. It is taken below the
/// kernel's ephemeral range, so no client connection can grab it before a
/// test starts a receiver there.
pub fn dead_addr() -> SocketAddr {
    use std::sync::atomic::AtomicU16;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 500) as u16 * 20;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::SeqCst) % 10_000;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if TcpListener::bind(addr).is_ok() {
            return addr;
        }
    }
}
