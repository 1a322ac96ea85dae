//! `/api/v1/allmetrics` (stub; replaced by the real module at merge).
//!
//! The router calls [`serve`] with the raw query string, the client's
//! address, the host of a `/host/NAME/...` request and the store. This stub
//! answers 501 and names what it was given, so the routing can be tested
//! before the formats exist.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::Mutex;

/// Per-(scraper, host) times of the last scrape.
#[derive(Debug, Default)]
pub struct AllmetricsState {
    last: Mutex<HashMap<(String, String), i64>>,
}

impl AllmetricsState {
    pub fn new() -> AllmetricsState {
        AllmetricsState {
            last: Mutex::new(HashMap::new()),
        }
    }
}

/// What [`serve`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllmetricsResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// `query`: the raw query string (after `?`, not decoded); `client`: the
/// scraper's IP (the default `server` name); `host`: `Some(hostname)` for
/// `/host/NAME/api/v1/allmetrics`, `None` for the local host.
pub fn serve(
    query: &str,
    client: IpAddr,
    host: Option<&str>,
    store: &rrd::Store,
    cfg: &crate::config::PrometheusExporterConfig,
    state: &AllmetricsState,
    now_s: i64,
) -> AllmetricsResponse {
    let _ = (store, cfg);
    let host = host.unwrap_or("localhost").to_string();
    state
        .last
        .lock()
        .insert((client.to_string(), host.clone()), now_s);
    AllmetricsResponse {
        status: 501,
        content_type: "text/plain; charset=utf-8",
        body: format!(
            "allmetrics is not implemented yet (host={host} client={client} query={query})\n"
        )
        .into_bytes(),
    }
}
