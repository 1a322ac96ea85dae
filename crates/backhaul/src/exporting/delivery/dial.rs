//! Making TCP connections that a stop request can interrupt: name
//! resolution on a helper thread, non-blocking connects, and I/O in short
//! slices, each checking the instance's [`Shutdown`] and its deadline.
//!
//! A blocking `getaddrinfo`, `connect`, TLS handshake or `write` could hold
//! an instance thread for `timeout ms` (20 s by default) after SIGTERM;
//! everything here gives up within [`SLICE`] of a stop request.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::shutdown::Shutdown;

/// The longest a blocking step runs before the stop request is checked.
pub const SLICE: Duration = Duration::from_millis(100);

/// One `destination` entry, resolved at connect time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The error of a step cut short by a stop request.
pub fn stopped() -> io::Error {
    io::Error::new(ErrorKind::Interrupted, "the agent is stopping")
}

/// True for the error [`stopped`] makes.
pub fn is_stopped(error: &io::Error) -> bool {
    error.kind() == ErrorKind::Interrupted && error.to_string() == "the agent is stopping"
}

/// When a step must end, and the stop request it watches.
#[derive(Clone, Debug)]
pub struct Deadline {
    pub at: Instant,
    pub shutdown: Option<Shutdown>,
}

impl Deadline {
    pub fn after(timeout: Duration, shutdown: Option<&Shutdown>) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            shutdown: shutdown.cloned(),
        }
    }

    /// `Err` when the stop request fired or the time is up; else the time
    /// the next blocking call may take.
    pub fn next_slice(&self) -> io::Result<Duration> {
        if self.shutdown.as_ref().is_some_and(Shutdown::is_triggered) {
            return Err(stopped());
        }
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(ErrorKind::TimedOut, "timed out"));
        }
        Ok(left.min(SLICE))
    }
}

/// Resolves `endpoint` to its addresses. Literal addresses need no lookup;
/// names are looked up on a helper thread so that a hanging resolver
/// delays neither the deadline nor a stop request (the helper is left to
/// finish on its own).
pub fn resolve(endpoint: &Endpoint, deadline: &Deadline) -> io::Result<Vec<SocketAddr>> {
    let literal = endpoint.host.split('%').next().unwrap_or_default();
    if let Ok(ip) = literal.parse::<IpAddr>() {
        if !endpoint.host.contains('%') {
            return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
        }
    }
    resolve_with(endpoint, deadline, |host, port| {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(|addrs| addrs.collect())
    })
}

/// [`resolve`] of a name by `lookup` (the system's resolver there; a
/// hanging one in tests), run on a helper thread.
fn resolve_with(
    endpoint: &Endpoint,
    deadline: &Deadline,
    lookup: impl FnOnce(String, u16) -> io::Result<Vec<SocketAddr>> + Send + 'static,
) -> io::Result<Vec<SocketAddr>> {
    let (tx, rx) = mpsc::channel();
    let (host, port) = (endpoint.host.clone(), endpoint.port);
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let _ = tx.send(lookup(host, port));
        })?;
    loop {
        let slice = deadline.next_slice()?;
        match rx.recv_timeout(slice) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the resolver thread died"))
            }
        }
    }
}

/// Connects to `addr` without blocking past the deadline or a stop
/// request.
pub fn connect(addr: SocketAddr, deadline: &Deadline) -> io::Result<TcpStream> {
    let attempt = crate::sys::Connecting::start(addr)?;
    loop {
        let slice = deadline.next_slice()?;
        if crate::sys::wait_writable(&attempt, slice)? {
            break;
        }
    }
    attempt.finish()
}

/// Tries the first `upto` endpoints in order, every address of each;
/// returns the first stream that connects with its endpoint index and
/// address, and how many endpoints were tried.
pub fn connect_first(
    endpoints: &[Endpoint],
    upto: usize,
    timeout: Duration,
    shutdown: Option<&Shutdown>,
) -> Result<(TcpStream, usize, SocketAddr, usize), ConnectError> {
    let mut attempts = 0;
    let mut last = String::from("no destination");
    for (index, ep) in endpoints.iter().enumerate().take(upto) {
        attempts += 1;
        let deadline = Deadline::after(timeout, shutdown);
        let addrs = match resolve(ep, &deadline) {
            Ok(a) => a,
            Err(e) if is_stopped(&e) => return Err(ConnectError::stopping(attempts)),
            Err(e) => {
                last = format!("cannot resolve '{}': {e}", ep.host);
                continue;
            }
        };
        for addr in addrs {
            match connect(addr, &deadline) {
                Ok(stream) => return Ok((stream, index, addr, attempts)),
                Err(e) if is_stopped(&e) => return Err(ConnectError::stopping(attempts)),
                Err(e) => last = format!("{ep} ({addr}): {e}"),
            }
        }
    }
    Err(ConnectError { attempts, last })
}

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
#[error("could not connect to any destination ({attempts} attempts): {last}")]
pub struct ConnectError {
    pub attempts: usize,
    pub last: String,
}

impl ConnectError {
    fn stopping(attempts: usize) -> ConnectError {
        ConnectError {
            attempts,
            last: "the agent is stopping".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::{Domain, SockAddr, Socket, Type};
    use std::net::TcpListener;

    #[test]
    fn literal_addresses_need_no_lookup() {
        let d = Deadline::after(Duration::from_secs(1), None);
        let ep = Endpoint {
            host: "::1".into(),
            port: 5,
        };
        assert_eq!(resolve(&ep, &d).unwrap(), vec!["[::1]:5".parse().unwrap()]);
    }

    /// A lookup that hangs until `release` is dropped, then fails.
    fn hanging_lookup(
        release: mpsc::Receiver<()>,
    ) -> impl FnOnce(String, u16) -> io::Result<Vec<SocketAddr>> + Send + 'static {
        move |_, _| {
            let _ = release.recv();
            Err(io::Error::other("released"))
        }
    }

    #[test]
    fn a_stop_request_cuts_a_hanging_name_lookup_short() {
        let (hold, release) = mpsc::channel::<()>();
        let stop = Shutdown::new();
        let d = Deadline::after(Duration::from_secs(60), Some(&stop));
        let ep = Endpoint {
            host: "receiver.example".into(),
            port: 2003,
        };
        let (started_tx, started_rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            let _ = started_tx.send(());
            resolve_with(&ep, &d, hanging_lookup(release))
        });
        started_rx.recv().unwrap();
        let triggered = Instant::now();
        stop.trigger();
        let e = t.join().unwrap().unwrap_err();
        assert!(is_stopped(&e), "{e}");
        assert!(triggered.elapsed() < Duration::from_secs(2));
        drop(hold);
    }

    #[test]
    fn a_hanging_name_lookup_ends_at_the_deadline() {
        let (hold, release) = mpsc::channel::<()>();
        let d = Deadline::after(Duration::from_millis(300), None);
        let ep = Endpoint {
            host: "receiver.example".into(),
            port: 2003,
        };
        let started = Instant::now();
        let e = resolve_with(&ep, &d, hanging_lookup(release)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(hold);
    }

    #[test]
    fn connects_and_refuses() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let d = Deadline::after(Duration::from_secs(2), None);
        connect(l.local_addr().unwrap(), &d).unwrap();
        let dead = l.local_addr().unwrap();
        drop(l);
        let e = connect(dead, &d).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
    }

    #[test]
    fn a_stop_request_cuts_a_hanging_connect_short() {
        // A loopback listener with a full backlog that never accepts drops
        // further SYNs, so the next connect hangs.
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SockAddr::from(
                "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
            ))
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut held = Vec::new();
        let stop = Shutdown::new();
        // Fill the backlog: a connect that has not finished within a
        // second is hanging (loopback connects take microseconds).
        let probe = Deadline::after(Duration::from_secs(1), None);
        for _ in 0..16 {
            match connect(addr, &probe) {
                Ok(s) => held.push(s),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                    break;
                }
            }
        }
        // Now one hangs until the stop request.
        let s2 = stop.clone();
        let d = Deadline::after(Duration::from_secs(30), Some(&stop));
        let t = std::thread::spawn(move || connect(addr, &d));
        s2.trigger();
        let started = Instant::now();
        let e = t.join().unwrap().unwrap_err();
        assert!(is_stopped(&e), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
