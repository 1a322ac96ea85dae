//! `Transport`: one instance's TCP connection to the first reachable of its
//! destinations, and everything about keeping it: failover in order, the
//! periodic move back to the primary, connect and write timeouts, noticing a
//! peer that closed, and counting what the peer sent us.
//!
//! Names are resolved on every connection attempt (a receiver that moved to
//! another address is found again) and every resolved address is tried.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::delivery::dial::{self, Deadline};
use crate::shutdown::Shutdown;

/// How often a connection to a later destination retries the primary ones.
pub const PRIMARY_RETRY_INTERVAL: Duration = Duration::from_secs(60);

pub use super::delivery::dial::{ConnectError, Endpoint};

struct Connection {
    stream: TcpStream,
    /// Index in `endpoints` of the destination we are connected to.
    index: usize,
    peer: SocketAddr,
}

/// What a readiness check found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PeerCheck {
    /// Bytes the peer sent us (counted as `received`).
    pub received: usize,
    /// The peer closed the connection (or it failed).
    pub closed: bool,
    /// Bytes still unacknowledged in our send queue: measured while the
    /// connection was up, or at an orderly close (FIN). `None` after a reset,
    /// when the kernel has already thrown the queue away.
    pub unacked: Option<usize>,
}

pub struct Transport {
    endpoints: Vec<Endpoint>,
    shutdown: Option<Shutdown>,
    timeout: Duration,
    connection: Option<Connection>,
    last_primary_try: Instant,
    primary_retry_every: Duration,
    send_buffer: Option<usize>,
    scratch: Box<[u8; 4096]>,
}

impl Transport {
    pub fn new(endpoints: Vec<Endpoint>, timeout: Duration) -> Transport {
        Transport {
            endpoints,
            shutdown: None,
            timeout: timeout.max(Duration::from_millis(1)),
            connection: None,
            last_primary_try: Instant::now(),
            primary_retry_every: PRIMARY_RETRY_INTERVAL,
            send_buffer: None,
            scratch: Box::new([0; 4096]),
        }
    }

    /// Changes how often a later destination retries the earlier ones
    /// (default [`PRIMARY_RETRY_INTERVAL`]).
    pub fn with_primary_retry_every(mut self, every: Duration) -> Transport {
        self.primary_retry_every = every;
        self
    }

    /// Caps each connection's kernel send buffer, which bounds the bytes in
    /// flight (written but not yet acknowledged). Default: the kernel's.
    pub fn with_send_buffer(mut self, bytes: usize) -> Transport {
        self.send_buffer = Some(bytes);
        self
    }

    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    /// The destination we are connected to.
    pub fn connected_endpoint(&self) -> Option<(&Endpoint, SocketAddr)> {
        self.connection
            .as_ref()
            .map(|c| (&self.endpoints[c.index], c.peer))
    }

    pub fn disconnect(&mut self) {
        self.connection = None;
    }

    /// The stop request that cuts connects and writes short.
    pub fn watch(&mut self, shutdown: &Shutdown) {
        self.shutdown = Some(shutdown.clone());
    }

    /// The destinations, in order.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Index of the destination we are connected to.
    pub fn connected_index(&self) -> Option<usize> {
        self.connection.as_ref().map(|c| c.index)
    }

    /// Tries the first `upto` destinations in order; returns the first
    /// that connects, plus the number of attempts.
    fn connect_in_order(&self, upto: usize) -> Result<(Connection, usize), ConnectError> {
        let (stream, index, peer, attempts) =
            dial::connect_first(&self.endpoints, upto, self.timeout, self.shutdown.as_ref())?;
        match self.prepare(stream) {
            Ok(stream) => Ok((
                Connection {
                    stream,
                    index,
                    peer,
                },
                attempts,
            )),
            Err(e) => Err(ConnectError {
                attempts,
                last: format!("{} ({peer}): {e}", self.endpoints[index]),
            }),
        }
    }

    /// Connects to the first of the destinations before the current one
    /// that answers, without touching the current connection; the caller
    /// switches with [`Self::switch_to`] when no line would be cut.
    pub fn probe_preferred(&mut self, now: Instant) -> Option<Result<PreferredConnection, usize>> {
        let current = self.connection.as_ref().map(|c| c.index)?;
        if current == 0 || now.duration_since(self.last_primary_try) < self.primary_retry_every {
            return None;
        }
        self.last_primary_try = now;
        Some(
            self.connect_in_order(current)
                .map(|(conn, attempts)| PreferredConnection { conn, attempts })
                .map_err(|e| e.attempts),
        )
    }

    /// Replaces the current connection with `preferred`. With `abort`, the
    /// old connection is reset rather than closed, so that the kernel does
    /// not go on sending what it holds unacknowledged (those lines are
    /// sent again on the new connection).
    pub fn switch_to(&mut self, preferred: PreferredConnection, abort: bool) {
        if let Some(old) = self.connection.take() {
            if abort {
                let _ = crate::sys::reset_on_close(&old.stream);
            }
        }
        tracing::info!(destination = %self.endpoints[preferred.conn.index], "moved back to a preferred destination");
        self.connection = Some(preferred.conn);
    }

    fn prepare(&self, stream: TcpStream) -> io::Result<TcpStream> {
        stream.set_write_timeout(Some(self.timeout))?;
        if let Some(bytes) = self.send_buffer {
            crate::sys::set_send_buffer(&stream, bytes)?;
        }
        stream.set_nodelay(false)?;
        Ok(stream)
    }

    /// Makes sure we are connected, trying the destinations in order.
    /// Returns the number of connection attempts made (0 if already up).
    pub fn ensure_connected(&mut self) -> Result<usize, ConnectError> {
        if self.connection.is_some() {
            return Ok(0);
        }
        let (conn, attempts) = self.connect_in_order(self.endpoints.len())?;
        self.last_primary_try = Instant::now();
        self.connection = Some(conn);
        Ok(attempts)
    }

    /// Reads whatever the peer sent without blocking, to notice a closed
    /// connection before writing to it. Closes our side if it did.
    pub fn check_peer(&mut self) -> PeerCheck {
        let mut check = PeerCheck::default();
        let Some(conn) = self.connection.as_mut() else {
            check.closed = true;
            return check;
        };
        if conn.stream.set_nonblocking(true).is_err() {
            self.connection = None;
            check.closed = true;
            return check;
        }
        let mut reset = false;
        loop {
            match conn.stream.read(&mut self.scratch[..]) {
                Ok(0) => {
                    check.closed = true;
                    break;
                }
                Ok(n) => check.received += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    check.closed = true;
                    reset = true;
                    break;
                }
            }
        }
        if !reset {
            check.unacked = crate::sys::send_queue_len(&conn.stream);
        }
        if !check.closed && conn.stream.set_nonblocking(false).is_err() {
            check.closed = true;
        }
        if check.closed {
            self.connection = None;
        }
        check
    }

    /// Bytes written on the connection that the peer has not acknowledged.
    pub fn unacked(&self) -> Option<usize> {
        self.connection
            .as_ref()
            .and_then(|c| crate::sys::send_queue_len(&c.stream))
    }

    /// Writes as much of `bytes` as the peer takes within the write timeout
    /// (`timeout ms`, for the whole call). `Ok(n)` with `n < bytes.len()`
    /// means the time ran out (the connection stays up; the caller resumes
    /// at byte `n` later). An error means the connection is gone (it is
    /// closed here).
    pub fn write_some(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let deadline = Deadline::after(self.timeout, self.shutdown.as_ref());
        let Some(conn) = self.connection.as_mut() else {
            return Err(io::Error::new(ErrorKind::NotConnected, "not connected"));
        };
        let mut written = 0;
        let result = loop {
            if written >= bytes.len() {
                break Ok(written);
            }
            // Each write gets at most a slice of what is left, so a stop
            // request is noticed.
            let slice = match deadline.next_slice() {
                Ok(slice) => slice,
                Err(e) if dial::is_stopped(&e) => break Err(e),
                Err(_) => break Ok(written),
            };
            if let Err(e) = conn.stream.set_write_timeout(Some(slice)) {
                break Err(e);
            }
            match conn.stream.write(&bytes[written..]) {
                Ok(0) => {
                    break Err(io::Error::new(
                        ErrorKind::WriteZero,
                        "peer accepts no more bytes",
                    ))
                }
                Ok(n) => written += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ) => {}
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(n) => Ok(n),
            Err(e) if dial::is_stopped(&e) => Ok(written),
            Err(e) => {
                self.connection = None;
                if written > 0 {
                    Ok(written)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// A connection to a preferred destination, made while another is in use.
pub struct PreferredConnection {
    conn: Connection,
    /// Destinations tried to make it.
    pub attempts: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn ep(addr: SocketAddr) -> Endpoint {
        Endpoint {
            host: addr.ip().to_string(),
            port: addr.port(),
        }
    }

    fn dead_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn first_reachable_destination_wins() {
        let up = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = Endpoint {
            host: "127.0.0.1".into(),
            port: dead_port(),
        };
        let mut t = Transport::new(
            vec![dead, ep(up.local_addr().unwrap())],
            Duration::from_secs(1),
        );
        assert_eq!(t.ensure_connected().unwrap(), 2);
        assert_eq!(t.connected_endpoint().unwrap().1, up.local_addr().unwrap());
    }

    #[test]
    fn a_later_destination_retries_the_primary_once_per_interval() {
        let up = TcpListener::bind("127.0.0.1:0").unwrap();
        let primary = Endpoint {
            host: "127.0.0.1".into(),
            port: dead_port(),
        };
        let every = Duration::from_secs(60);
        let mut t = Transport::new(
            vec![primary, ep(up.local_addr().unwrap())],
            Duration::from_secs(1),
        )
        .with_primary_retry_every(every);
        t.ensure_connected().unwrap();
        assert_eq!(t.connected_index(), Some(1));
        let t0 = Instant::now() + every;
        assert!(matches!(t.probe_preferred(t0), Some(Err(1))));
        assert!(t.probe_preferred(t0 + every / 2).is_none());
        assert!(t
            .probe_preferred(t0 + every - Duration::from_millis(1))
            .is_none());
        assert!(matches!(t.probe_preferred(t0 + every), Some(Err(1))));
        assert_eq!(t.connected_index(), Some(1), "probing does not switch");
    }

    #[test]
    fn names_are_resolved_at_connect_time() {
        let up = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = up.local_addr().unwrap().port();
        let mut t = Transport::new(
            vec![Endpoint {
                host: "localhost".into(),
                port,
            }],
            Duration::from_secs(1),
        );
        // localhost may resolve to ::1 first; every address is tried.
        t.ensure_connected().unwrap();
    }

    #[test]
    fn unresolvable_name_is_an_error_naming_it() {
        let mut t = Transport::new(
            vec![Endpoint {
                host: "no-such-host.invalid".into(),
                port: 1,
            }],
            Duration::from_millis(200),
        );
        let e = t.ensure_connected().unwrap_err();
        assert!(e.to_string().contains("no-such-host.invalid"), "{e}");
    }

    #[test]
    fn peer_close_is_noticed_before_writing_and_bytes_are_counted() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut t = Transport::new(vec![ep(l.local_addr().unwrap())], Duration::from_secs(1));
        t.ensure_connected().unwrap();
        let (mut peer, _) = l.accept().unwrap();
        peer.write_all(b"hello").unwrap();
        drop(peer);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut received = 0;
        let closed = loop {
            let c = t.check_peer();
            received += c.received;
            if c.closed || Instant::now() > deadline {
                break c.closed;
            }
            std::thread::yield_now();
        };
        assert_eq!((received, closed), (5, true));
        assert!(!t.is_connected());
    }

    #[test]
    fn write_to_a_black_hole_returns_partial_after_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut t = Transport::new(
            vec![ep(l.local_addr().unwrap())],
            Duration::from_millis(200),
        );
        t.ensure_connected().unwrap();
        let _peer = l.accept().unwrap(); // never reads
        let big = vec![b'x'; 64 << 20];
        let n = t.write_some(&big).unwrap();
        assert!(n < big.len());
        assert!(t.is_connected());
    }
}
