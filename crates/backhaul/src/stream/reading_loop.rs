//! The shared reading loop: one thread and one `epoll` set read every
//! plain (not TLS) child connection after its handshake.
//!
//! Children send their second of charts at about the same time, so one
//! wake-up of this thread reads many of them, where a thread per child woke
//! once per child (on a virtual machine a wake-up costs tens of µs of the
//! woken thread's CPU: with 50 children that was a quarter of the parent's
//! CPU). A connection's bytes are read without blocking, at most
//! [`READS_PER_TURN`] reads a turn (the readiness is level-triggered: a child
//! with more waiting comes back next turn, after the others), and handled by
//! its [`Reader`] as on a thread of its own. Lines for the child
//! (`REPLAY_CHART`) are written as the socket takes them; the rest waits for
//! it to become writable, bounded by `max_unread_bytes` (4 MiB). Every second while a
//! child is connected the loop checks the idle timeout; with none it sleeps
//! until a child comes or the agent stops.
//!
//! One thread bounds what a parent takes in: at ~64 ns a value on the
//! 2-core bench machine, about 15 million values a second (200 children of
//! 2,000 dimensions each second are 400,000). TLS connections keep a thread
//! each (rustls over a blocking socket).

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::connection::{ArrivalTime, Ending, Reader};
use crate::shutdown::Shutdown;
use crate::sys::{Poller, Readiness, Waker};

/// Reads of one connection per turn of the loop (16 KiB each).
const READS_PER_TURN: usize = 4;

/// How often the idle timeout is checked while a child is connected.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The poller token of the wake-up; connections count from 1.
const WAKER_TOKEN: u64 = 0;

/// A connection handed over by its handshake thread, not yet polled.
struct Adopted {
    reader: Reader,
    socket: TcpStream,
    leftover: Vec<u8>,
}

/// The handle the handshake threads hand connections to.
pub(super) struct ReadingLoop {
    adopted: Mutex<Vec<Adopted>>,
    waker: Waker,
}

impl ReadingLoop {
    /// Starts the loop's thread; it stops when `shutdown` fires, ending
    /// every connection it holds.
    pub(super) fn start(shutdown: &Shutdown) -> io::Result<Arc<ReadingLoop>> {
        let poller = Poller::new()?;
        let handle = Arc::new(ReadingLoop {
            adopted: Mutex::new(Vec::new()),
            waker: Waker::new()?,
        });
        poller.add(&handle.waker, WAKER_TOKEN, true, false)?;
        let state = LoopState {
            handle: handle.clone(),
            poller,
            shutdown: shutdown.clone(),
            connections: HashMap::new(),
            next_token: WAKER_TOKEN + 1,
        };
        let wake = handle.clone();
        shutdown.on_trigger(move || wake.waker.wake());
        std::thread::Builder::new()
            .name("stream-rx-loop".into())
            .spawn(move || state.run())?;
        Ok(handle)
    }

    /// Takes a connection after its handshake: `leftover` are bytes read
    /// with the request.
    pub(super) fn adopt(&self, reader: Reader, socket: TcpStream, leftover: Vec<u8>) {
        self.adopted.lock().push(Adopted {
            reader,
            socket,
            leftover,
        });
        self.waker.wake();
    }
}

struct Connection {
    reader: Reader,
    socket: TcpStream,
    /// Whether the poller also watches for writability (lines wait).
    writing: bool,
}

struct LoopState {
    handle: Arc<ReadingLoop>,
    poller: Poller,
    shutdown: Shutdown,
    connections: HashMap<u64, Connection>,
    next_token: u64,
}

impl LoopState {
    fn run(mut self) {
        let mut ready = Vec::new();
        let mut last_idle_check = crate::sys::coarse_monotonic();
        loop {
            let timeout = (!self.connections.is_empty()).then_some(IDLE_CHECK);
            if let Err(error) = self.poller.wait(timeout, &mut ready) {
                tracing::error!(%error, "stream reading loop: waiting for sockets failed; stopping");
                break;
            }
            if self.shutdown.is_triggered() {
                break;
            }
            // One clock read for everything this wake-up reads.
            let at = ArrivalTime::now();
            for event in ready.iter().copied() {
                if event.token == WAKER_TOKEN {
                    self.handle.waker.reset();
                    self.take_adopted();
                } else {
                    self.on_event(event, at);
                }
            }
            let now = at.monotonic;
            if now.saturating_sub(last_idle_check) >= IDLE_CHECK {
                last_idle_check = now;
                self.end_idle(now);
            }
        }
        // Stopping: every connection ends, and anything still handed over.
        self.take_adopted();
        let tokens: Vec<u64> = self.connections.keys().copied().collect();
        for token in tokens {
            self.end(token, &Ending::Shutdown);
        }
    }

    fn take_adopted(&mut self) {
        let adopted = std::mem::take(&mut *self.handle.adopted.lock());
        for Adopted {
            mut reader,
            socket,
            leftover,
        } in adopted
        {
            if self.shutdown.is_triggered() {
                reader.finish(&Ending::Shutdown);
                continue;
            }
            let token = self.next_token;
            self.next_token += 1;
            if let Err(error) = socket
                .set_nonblocking(true)
                .and_then(|()| self.poller.add(&socket, token, true, false))
            {
                reader.finish(&Ending::Io(error));
                continue;
            }
            let ending = reader.received_leftover(&leftover);
            self.connections.insert(
                token,
                Connection {
                    reader,
                    socket,
                    writing: false,
                },
            );
            match ending {
                Some(ending) => self.end(token, &ending),
                None => self.flush(token),
            }
        }
    }

    fn on_event(&mut self, event: Readiness, at: ArrivalTime) {
        let token = event.token;
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        if event.readable || event.closed {
            for _ in 0..READS_PER_TURN {
                let read = connection.socket.read(connection.reader.read_buf());
                let ending = match read {
                    Ok(0) => Some(Ending::Closed),
                    Ok(n) => connection.reader.received(n, at),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => None,
                    Err(error) => Some(Ending::Io(error)),
                };
                if let Some(ending) = ending {
                    self.end(token, &ending);
                    return;
                }
            }
        }
        self.flush(token);
    }

    /// Writes the lines queued for the child as far as its socket takes
    /// them, and watches for writability while some wait.
    fn flush(&mut self, token: u64) {
        let Some(connection) = self.connections.get_mut(&token) else {
            return;
        };
        let result = connection
            .reader
            .session
            .flush_nonblocking(&mut connection.socket);
        let all_out = match result {
            Ok(all_out) => all_out,
            Err(ending) => {
                self.end(token, &ending);
                return;
            }
        };
        let limit = connection.reader.session.max_unread_bytes();
        if !all_out && connection.reader.session.outgoing_len() > limit {
            self.end(token, &Ending::Stalled(limit));
            return;
        }
        if all_out == connection.writing {
            // Watch for writability exactly while lines wait.
            connection.writing = !all_out;
            if let Err(error) =
                self.poller
                    .modify(&connection.socket, token, true, connection.writing)
            {
                self.end(token, &Ending::Io(error));
            }
        }
    }

    fn end_idle(&mut self, now: Duration) {
        let idle: Vec<u64> = self
            .connections
            .iter()
            .filter(|(_, connection)| connection.reader.is_idle(now))
            .map(|(&token, _)| token)
            .collect();
        for token in idle {
            let after = self.connections[&token].reader.session.idle_timeout();
            self.end(token, &Ending::Idle(after));
        }
    }

    /// Ends a connection: out of the poller, closed, its child released.
    fn end(&mut self, token: u64, ending: &Ending) {
        let Some(connection) = self.connections.remove(&token) else {
            return;
        };
        let _ = self.poller.delete(&connection.socket);
        drop(connection.socket);
        connection.reader.finish(ending);
    }
}
