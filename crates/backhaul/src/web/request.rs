//! [`Request`]: a request head as the server hands it to the router (and to
//! a stream handler): owned, so it can cross to a worker thread.

use std::net::SocketAddr;

use wire::http_request::{RequestHead, Version};

/// One request: its head and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// As sent (`GET`, `HEAD`, `STREAM`, ...).
    pub method: String,
    /// The raw target: not decoded, query included.
    pub target: Vec<u8>,
    pub version: Version,
    /// Header lines in order, names as sent.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection speaks TLS.
    pub tls: bool,
    /// Whether the client lets the connection stay open after the response.
    pub keep_alive: bool,
    /// Whether the client accepts a gzip-encoded response.
    pub accepts_gzip: bool,
}

impl Request {
    /// The owned copy of a parsed head.
    pub fn from_head(head: &RequestHead<'_>, peer: SocketAddr, tls: bool) -> Request {
        Request {
            method: head.method.to_string(),
            target: head.target.to_vec(),
            version: head.version,
            headers: head
                .headers
                .iter()
                .map(|h| (h.name.to_string(), h.value.to_vec()))
                .collect(),
            peer,
            tls,
            keep_alive: head.keep_alive(),
            accepts_gzip: head.accepts_gzip(),
        }
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// The target's path and query, both raw.
    pub fn path_and_query(&self) -> (&[u8], &[u8]) {
        wire::http_request::split_target(&self.target)
    }

    /// The client's IP address, IPv4-mapped IPv6 addresses as IPv4.
    pub fn client_ip(&self) -> std::net::IpAddr {
        canonical_ip(self.peer.ip())
    }
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, what a
/// dual-stack listener reports for IPv4 clients) turned into IPv4.
pub fn canonical_ip(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    }
}
