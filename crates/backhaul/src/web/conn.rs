//! One client connection of the event loop: its non-blocking socket, its
//! TLS session if it speaks TLS, the bytes read and not yet used (bounded),
//! the response being written, and where it is in its life.
//!
//! Reading and writing never block: each call does what the socket allows
//! now and says whether it finished. The event loop (`server.rs`) decides
//! what comes next.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use rustls::{ServerConfig, ServerConnection};
use wire::http_request::HeadScanner;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a complete request head.
    Reading,
    /// A worker has the request.
    Busy,
    /// Writing a response.
    Writing,
    /// Our side is shut; reading (and dropping) until the client closes,
    /// so the last response is not cut by a reset.
    Draining,
}

/// What a read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Filled {
    /// Bytes read off the socket (TLS records included).
    pub socket_bytes: u64,
    /// The client closed its side.
    pub eof: bool,
}

/// One connection.
pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// The TLS session, once the first byte said TLS.
    pub tls: Option<Box<ServerConnection>>,
    /// TLS is configured and the first byte has not arrived yet.
    pub detecting: bool,
    /// Plain bytes read and not yet used: the head being read, and
    /// whatever followed it.
    pub inbuf: Vec<u8>,
    pub scanner: HeadScanner,
    /// The response being written, and how far.
    pub out: Vec<u8>,
    pub out_pos: usize,
    pub phase: Phase,
    /// Keep the connection once the response is written.
    pub keep_alive: bool,
    /// The client closed its side (no further request can come).
    pub eof: bool,
    /// The socket hung up while a worker had the request: dropped when the
    /// worker answers.
    pub dead: bool,
    /// When the connection is closed for slowness, if nothing happens.
    pub deadline: Option<Instant>,
    /// When the current request's head was complete.
    pub request_started: Instant,
    /// What the poller waits for now (`None`: not registered).
    pub interest: Option<(bool, bool)>,
    /// Bytes dropped while draining.
    pub drained: usize,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr, tls_configured: bool, now: Instant) -> Conn {
        Conn {
            stream,
            peer,
            tls: None,
            detecting: tls_configured,
            inbuf: Vec::new(),
            scanner: HeadScanner::default(),
            out: Vec::new(),
            out_pos: 0,
            phase: Phase::Reading,
            keep_alive: false,
            eof: false,
            dead: false,
            deadline: None,
            request_started: now,
            interest: None,
            drained: 0,
        }
    }

    /// What the poller should wait for in the current phase.
    pub fn wanted_interest(&self) -> Option<(bool, bool)> {
        let tls_wants_write = self.tls.as_ref().is_some_and(|t| t.wants_write());
        match self.phase {
            _ if self.dead => None,
            Phase::Reading => Some((!self.eof, tls_wants_write)),
            Phase::Busy => Some((false, false)),
            Phase::Writing => Some((false, true)),
            Phase::Draining => Some((true, false)),
        }
    }

    /// Reads what the socket has, up to `limit` plain bytes in `inbuf`.
    pub fn fill(
        &mut self,
        tls_config: Option<&Arc<ServerConfig>>,
        scratch: &mut [u8],
        limit: usize,
    ) -> io::Result<Filled> {
        let mut filled = Filled::default();
        if self.detecting {
            let n = match self.stream.read(scratch) {
                Ok(0) => {
                    filled.eof = true;
                    self.eof = true;
                    return Ok(filled);
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(filled),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(filled),
                Err(e) => return Err(e),
            };
            filled.socket_bytes += n as u64;
            self.detecting = false;
            match tls_config {
                // A TLS record of type handshake (22) starts every TLS
                // connection; no HTTP request starts with that byte.
                Some(config) if scratch[0] == 0x16 => {
                    let mut session = ServerConnection::new(config.clone())
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    let mut first = &scratch[..n];
                    while !first.is_empty() {
                        session.read_tls(&mut first)?;
                        session
                            .process_new_packets()
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    }
                    self.tls = Some(Box::new(session));
                    self.read_plaintext(scratch, limit, &mut filled)?;
                }
                _ => self.inbuf.extend_from_slice(&scratch[..n]),
            }
        }
        if self.tls.is_some() {
            self.fill_tls(scratch, limit, &mut filled)?;
        } else {
            self.fill_plain(scratch, limit, &mut filled)?;
        }
        Ok(filled)
    }

    fn fill_plain(
        &mut self,
        scratch: &mut [u8],
        limit: usize,
        filled: &mut Filled,
    ) -> io::Result<()> {
        while self.inbuf.len() <= limit {
            let room = (limit + 1 - self.inbuf.len()).min(scratch.len());
            match self.stream.read(&mut scratch[..room]) {
                Ok(0) => {
                    filled.eof = true;
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    filled.socket_bytes += n as u64;
                    self.inbuf.extend_from_slice(&scratch[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn fill_tls(
        &mut self,
        scratch: &mut [u8],
        limit: usize,
        filled: &mut Filled,
    ) -> io::Result<()> {
        loop {
            if self.inbuf.len() > limit || self.eof {
                break;
            }
            let Some(tls) = self.tls.as_mut() else {
                break;
            };
            match tls.read_tls(&mut self.stream) {
                Ok(0) => {
                    filled.eof = true;
                    self.eof = true;
                }
                Ok(n) => filled.socket_bytes += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if let Err(error) = tls.process_new_packets() {
                // Tell the client why (an alert), as far as the socket
                // takes it now.
                let _ = tls.write_tls(&mut self.stream);
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
            self.read_plaintext(scratch, limit, filled)?;
        }
        self.push_tls()?;
        Ok(())
    }

    /// Moves the plain bytes the TLS session decrypted into `inbuf`.
    fn read_plaintext(
        &mut self,
        scratch: &mut [u8],
        limit: usize,
        filled: &mut Filled,
    ) -> io::Result<()> {
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        while self.inbuf.len() <= limit {
            match tls.reader().read(scratch) {
                // A clean close (close_notify).
                Ok(0) => {
                    filled.eof = true;
                    self.eof = true;
                    break;
                }
                Ok(n) => self.inbuf.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    filled.eof = true;
                    self.eof = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes the TLS session's pending records (handshake, alerts) as far
    /// as the socket takes them now; returns the bytes written.
    fn push_tls(&mut self) -> io::Result<u64> {
        let mut written = 0;
        if let Some(tls) = self.tls.as_mut() {
            while tls.wants_write() {
                match tls.write_tls(&mut self.stream) {
                    Ok(n) => written += n as u64,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(written)
    }

    /// Writes as much of the response as the socket takes now. Returns the
    /// bytes written to the socket and whether the response is all out.
    pub fn flush(&mut self) -> io::Result<(u64, bool)> {
        let mut written = 0u64;
        if self.tls.is_none() {
            while self.out_pos < self.out.len() {
                match self.stream.write(&self.out[self.out_pos..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.out_pos += n;
                        written += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((written, false)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            return Ok((written, true));
        }
        loop {
            written += self.push_tls()?;
            let Some(tls) = self.tls.as_mut() else {
                return Ok((written, true));
            };
            if tls.wants_write() {
                return Ok((written, false));
            }
            if self.out_pos >= self.out.len() {
                return Ok((written, true));
            }
            let end = self.out.len().min(self.out_pos + 16 * 1024);
            let n = tls.writer().write(&self.out[self.out_pos..end])?;
            self.out_pos += n;
            if n == 0 && !tls.wants_write() {
                return Ok((written, false));
            }
        }
    }

    /// Starts closing: a TLS close_notify, then our side of the TCP
    /// connection shut (the client reads the end of the response, then
    /// end-of-file).
    pub fn shut(&mut self) -> u64 {
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
        }
        let written = self.push_tls().unwrap_or(0);
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        written
    }

    /// Reads and drops what the client still sends; `true` once it closed
    /// (or failed, or sent more than `cap` bytes).
    pub fn drain(&mut self, scratch: &mut [u8], cap: usize) -> bool {
        loop {
            match self.stream.read(scratch) {
                Ok(0) => return true,
                Ok(n) => {
                    self.drained += n;
                    if self.drained > cap {
                        return true;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return true,
            }
        }
    }
}
