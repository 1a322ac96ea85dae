//! The web server: netdata's web port (`[web]`, 19999 by default), with
//! `/api/v1/allmetrics` (Prometheus and friends), `/api/v1/info`,
//! `/api/v1/charts`, `/host/NAME/...` for each host in the store, and the
//! `STREAM` request of netdata children handed to the stream receiver
//! (`web::Hooks`; without one, a 401 saying no API key is enabled).
//!
//! Its own small server over `std::net`, in three parts:
//!
//! * one event-loop thread (`server.rs`) owns every socket: it accepts,
//!   applies `allow connections from` and `web server max sockets`, reads
//!   request heads (bounded by [`MAX_HEAD_LEN`], parsed by
//!   [`wire::http_request`]), writes responses, speaks TLS when the first
//!   byte of a connection is a TLS handshake (plain HTTP is then redirected
//!   to HTTPS), and enforces the timeouts
//!   (`timeout for first request`, `disconnect idle clients after seconds`).
//!   Idle, slow and half-sent connections cost a buffer, not a thread.
//! * a bounded pool of `web server threads` workers (`pool.rs`) turns a
//!   complete request into a response (`routes.rs`; gzip in
//!   `response.rs`); a full queue answers 503 at once.
//! * a hand-off: a request the router answers with
//!   `Outcome::Upgrade` (`STREAM`, once a [`StreamHandler`] is
//!   registered) leaves the server with its socket, any bytes read past its
//!   head and its TLS session, to run on a thread of its own outside the
//!   pool.
//!
//! Self-monitoring: `netdata.clients`, `netdata.requests`, `netdata.net`,
//! `netdata.response_time` and `netdata.compression_ratio` on the local
//! host (`monitoring.rs`).

mod access;
pub mod allmetrics;
mod charts;
mod conn;
mod info;
mod json;
mod monitoring;
mod pool;
mod request;
mod response;
mod routes;
mod server;
pub mod status;
mod tls;

pub use request::Request;
pub use server::{
    Hooks, StreamHandler, Upgraded, UpgradedStream, WebError, WebServer, WebStats, WebStatsSnapshot,
};
pub use status::StatusSources;

/// Longest request head accepted, in bytes; a longer one is answered 431
/// and its connection closed.
pub const MAX_HEAD_LEN: usize = 16 * 1024;

/// The `Server` header and the version `/api/v1/info` reports.
pub const SERVER_NAME: &str = concat!("backhaul/", env!("CARGO_PKG_VERSION"));
