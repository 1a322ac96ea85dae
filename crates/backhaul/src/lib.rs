//! backhaul, the agent: configuration, collectors, the exporting engine, the
//! web server and the command line. The store lives in the `rrd` crate and the wire formats
//! in the `wire` crate; this crate wires them to files, processes and sockets.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod agent;
pub mod collectors;
pub mod config;
pub mod exporting;
pub mod log_limit;
pub mod logging;
pub mod once;
pub mod shutdown;
pub mod store_cleanup;
pub mod stream;
pub mod sys;
pub mod system_facts;
pub mod web;
