//! Pure encoders and parsers for backhaul: the wire formats it sends
//! (graphite, opentsdb, json, prometheus) and serves (netdata's
//! `/api/v1/allmetrics` forms), the netdata plugins.d protocol it reads, the
//! HTTP request heads its web server reads, the statsd lines its statsd
//! server reads,
//! netdata simple patterns and name sanitizers.
//!
//! Nothing in this crate touches a socket, a file or a clock: encoders append
//! to byte buffers, parsers take bytes and return values.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod format;
pub mod http_request;
pub mod number;
pub mod pluginsd;
pub(crate) mod room;
pub mod sanitize;
pub mod simple_pattern;
pub mod statsd;
pub mod stream_compression;
pub mod stream_encode;
