//! `/api/v1/allmetrics` (and `/host/NAME/api/v1/allmetrics`): every
//! metric of a host in one response, as netdata 1.37 serves it.
//!
//! # Parameters
//!
//! The query string is split at `&` and `=`, then each name and value is
//! percent-decoded (`+` is a space). A parameter without a value is
//! ignored, as in netdata; the last of repeated parameters wins.
//!
//! * `format`: `shell` (default), `prometheus`, `prometheus_all_hosts`,
//!   `json`; anything else is a 400 with netdata's text.
//! * `filter`: a simple pattern on chart ids and names (shell: names only,
//!   as netdata). For the Prometheus formats it replaces
//!   `[prometheus:exporter] send charts matching`.
//! * `server`: the scraper's name (default: its IP address); `prefix`
//!   (default `[prometheus:exporter] prefix`); `data` or `source` (also
//!   `data source`, `data-source`, `data_source`, `datasource`): `average`,
//!   `sum`, `as collected` and netdata's other spellings (an unknown one
//!   keeps the default).
//! * flags `help`, `types`, `names`, `timestamps`, `variables`, `oldunits`,
//!   `hideunits`: `yes`, `1` or `true` set them, anything else clears them.
//!   Defaults: `timestamps` on, `names` per `send names instead of ids`,
//!   the rest off.
//!
//! # Averaging window (Prometheus formats)
//!
//! Each scraper (`server`) gets, for each host it scrapes, the values
//! since its own previous scrape of that host: netdata's window. With
//! `after` the previous scrape (first scrape: `now - update every`) and
//! `before = now`, a chart collected every `ue` seconds serves the stored
//! points from `after - 2 ue` to `before - 3 ue` inclusive, both aligned
//! down to the chart's grid (at least the newest point; never past the
//! chart's newest point), stamped with the last point's time. The two
//! update intervals of lag let every collector finish its round. The
//! scrapers are remembered in an [`AllmetricsState`] (bounded; one not seen
//! for an hour is forgotten and starts over).
//!
//! `as collected` serves each dimension's last collected raw value (if
//! collected since `after`) with its collection time.
//!
//! # `types=yes`
//!
//! netdata wrote `# TYPE` before every sample, so a metric family had as
//! many TYPE lines as samples, which the text format forbids. Here each
//! family gets one TYPE line and all its samples are grouped under it (in
//! the order families first appear; the `help=yes` comments travel with
//! their samples, a chart's comment with its first sample). Without
//! `types=yes` the lines come in netdata's order.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use rrd::{Algorithm, Chart, ChartState, Host, LabelSource, Store, WindowAggregate};
use wire::format::allmetrics_json as json;
use wire::format::allmetrics_shell as shell;
use wire::format::prometheus::{
    self, ChartComment, ChartSamples, CollectedComment, InfoLabels, ScrapeComment, SeriesHead,
    Suffix, UnitsPart,
};
use wire::format::MetricValue;
use wire::number::RenderedTimestamp;
use wire::simple_pattern::SimplePattern;

use crate::config::{DataSource, PrometheusExporterConfig};

/// `Content-Type` of the Prometheus formats.
pub const CONTENT_TYPE_PROMETHEUS: &str = "text/plain; version=0.0.4";
/// `Content-Type` of the shell format and of errors.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; charset=utf-8";
/// `Content-Type` of the JSON format.
pub const CONTENT_TYPE_JSON: &str = "application/json; charset=utf-8";
/// `Content-Type` of the unknown-host page.
pub const CONTENT_TYPE_HTML: &str = "text/html; charset=utf-8";

/// netdata's answer to an unknown `format` (status 400).
pub const BAD_FORMAT_TEXT: &str =
    "Which format? 'shell', 'prometheus', 'prometheus_all_hosts' and 'json' are currently supported.";

/// A scraper not seen for this long is forgotten (seconds).
pub const FORGET_SCRAPER_AFTER_S: i64 = 3600;
/// At most this many (scraper, host) pairs are remembered; the one seen
/// longest ago makes room for a new one.
pub const MAX_SCRAPERS: usize = 4096;
/// A `server` name is cut to this many bytes (it is a key kept in memory).
pub const MAX_SERVER_NAME_BYTES: usize = 256;
/// At most this many (host, options) series caches are kept (see
/// [`AllmetricsState`]).
pub const MAX_SERIES_CACHES: usize = 16;

/// The smallest response buffer kept for the next scrape's body
/// ([`AllmetricsState::recycle_body`]): smaller ones cost little to map.
pub const MIN_SPARE_BODY_BYTES: usize = 1 << 20;

/// The largest response buffer kept for the next scrape's body.
pub const MAX_SPARE_BODY_BYTES: usize = 256 << 20;

/// What the Prometheus formats remember between requests: each (scraper,
/// host) pair's last scrape time, and the `application` and `version`
/// labels of `netdata_info`.
pub struct AllmetricsState {
    scrapers: Mutex<HashMap<(String, String), i64>>,
    /// What the common scrapes (`average` or `sum`, no `help`, no
    /// `types`) rendered, per host and options: at most
    /// [`MAX_SERIES_CACHES`], the one used longest ago making room.
    series_caches: Mutex<Vec<SeriesCache>>,
    /// The length of the last Prometheus body served.
    last_body_len: AtomicUsize,
    /// One written-out response buffer of megabytes, kept for the next
    /// scrape's body: written into pages already mapped, a body costs no
    /// page faults and no zeroing (a third of a 50k-series scrape's CPU
    /// when each had a new 6 MB buffer). At most one, of at most
    /// [`MAX_SPARE_BODY_BYTES`]: the agent keeps the memory of its
    /// largest scrape's body between scrapes.
    spare_body: Mutex<Option<Vec<u8>>>,
    application: String,
    version: String,
}

impl Default for AllmetricsState {
    fn default() -> Self {
        AllmetricsState::new()
    }
}

impl AllmetricsState {
    /// No scraper seen yet; `netdata_info` says `application="backhaul"`
    /// and backhaul's version.
    pub fn new() -> AllmetricsState {
        AllmetricsState::with_identity("backhaul", concat!("v", env!("CARGO_PKG_VERSION")))
    }

    /// As [`AllmetricsState::new`], with other `application` and `version`
    /// labels (netdata's, to compare with its captures).
    pub fn with_identity(application: &str, version: &str) -> AllmetricsState {
        AllmetricsState {
            scrapers: Mutex::new(HashMap::new()),
            series_caches: Mutex::new(Vec::new()),
            last_body_len: AtomicUsize::new(0),
            spare_body: Mutex::new(None),
            application: application.to_owned(),
            version: version.to_owned(),
        }
    }

    /// How many (scraper, host) pairs are remembered.
    pub fn scrapers(&self) -> usize {
        self.scrapers.lock().len()
    }

    /// The length of the last Prometheus body served: a guess of the
    /// next one's (for its `Content-Length`).
    pub fn body_len_guess(&self) -> usize {
        self.last_body_len.load(Ordering::Relaxed)
    }

    /// Keeps `buffer` (a response that was written out; its bytes do not
    /// matter) for the next Prometheus body, when it is between
    /// [`MIN_SPARE_BODY_BYTES`] and [`MAX_SPARE_BODY_BYTES`] long and
    /// larger than the one kept.
    pub fn recycle_body(&self, mut buffer: Vec<u8>) {
        let capacity = buffer.capacity();
        if !(MIN_SPARE_BODY_BYTES..=MAX_SPARE_BODY_BYTES).contains(&capacity) {
            return;
        }
        let mut spare = self.spare_body.lock();
        if spare
            .as_ref()
            .is_some_and(|kept| kept.capacity() >= capacity)
        {
            return;
        }
        buffer.clear();
        let smaller = spare.replace(buffer);
        // Unmapping megabytes is not done under the lock.
        drop(spare);
        drop(smaller);
    }

    /// Bytes of the response buffer kept for the next body (0: none).
    pub fn spare_body_bytes(&self) -> usize {
        self.spare_body.lock().as_ref().map_or(0, Vec::capacity)
    }

    /// A body buffer starting with `head_room` zero bytes: the kept one
    /// if there is one, else a new one.
    fn body_buffer(&self, head_room: usize) -> Vec<u8> {
        let mut buffer = self.spare_body.lock().take().unwrap_or_default();
        buffer.resize(head_room, 0);
        buffer
    }

    /// How many (host, options) series caches are kept.
    pub fn series_caches(&self) -> usize {
        self.series_caches.lock().len()
    }

    /// The series cache of `host` with `shape`, taken out of the state
    /// (an empty one if none is kept): a request uses it without a lock
    /// and gives it back with [`Self::give_back`]. A concurrent request of
    /// the same shape renders its own.
    fn take_cache(&self, host: &Arc<Host>, shape: &CacheShape) -> SeriesCache {
        let mut caches = self.series_caches.lock();
        let found = caches
            .iter()
            .position(|c| c.host.as_ptr() == Arc::as_ptr(host) && c.shape == *shape);
        match found {
            Some(at) => caches.swap_remove(at),
            None => SeriesCache::new(host, shape.clone()),
        }
    }

    /// Keeps `cache` for the next request of its shape; forgets caches
    /// not used for [`FORGET_SCRAPER_AFTER_S`] and, beyond
    /// [`MAX_SERIES_CACHES`], the one used longest ago.
    fn give_back(&self, mut cache: SeriesCache, now: i64) {
        cache.last_used = now;
        let mut caches = self.series_caches.lock();
        caches.retain(|c| {
            now - c.last_used <= FORGET_SCRAPER_AFTER_S
                && !(c.host.as_ptr() == cache.host.as_ptr() && c.shape == cache.shape)
        });
        if caches.len() >= MAX_SERIES_CACHES {
            if let Some(oldest) = caches
                .iter()
                .enumerate()
                .min_by_key(|(_, c)| c.last_used)
                .map(|(at, _)| at)
            {
                caches.swap_remove(oldest);
            }
        }
        caches.push(cache);
    }

    /// Records that `server` scrapes `host` at `now`; returns its previous
    /// scrape time, `None` on its first (or first after being forgotten).
    fn last_access(&self, server: &str, host: &str, now: i64) -> Option<i64> {
        let mut scrapers = self.scrapers.lock();
        let key = (server.to_owned(), host.to_owned());
        if let Some(last) = scrapers.get_mut(&key) {
            let previous = *last;
            *last = now;
            return (now - previous <= FORGET_SCRAPER_AFTER_S).then_some(previous);
        }
        if scrapers.len() >= MAX_SCRAPERS {
            scrapers.retain(|_, last| now - *last <= FORGET_SCRAPER_AFTER_S);
        }
        if scrapers.len() >= MAX_SCRAPERS {
            let oldest = scrapers
                .iter()
                .min_by_key(|(_, last)| **last)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                scrapers.remove(&oldest);
            }
        }
        scrapers.insert(key, now);
        None
    }
}

/// A response: status, `Content-Type` and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllmetricsResponse {
    pub status: u16,
    pub content_type: &'static str,
    /// The body, after `head_room` bytes of room for the HTTP head (see
    /// [`serve_with_head_room`]).
    pub body: Vec<u8>,
    pub head_room: usize,
}

impl AllmetricsResponse {
    /// The body without its head room.
    pub fn content(&self) -> &[u8] {
        self.body.get(self.head_room..).unwrap_or_default()
    }
}

/// Serves `/api/v1/allmetrics?QUERY`.
///
/// `query`: the raw query string (after `?`, not yet percent-decoded);
/// `client`: the scraper's IP (the default `server` name); `host`:
/// `Some(hostname)` for `/host/NAME/api/v1/allmetrics`, `None` for the
/// local host; `now_s`: the time of the request (seconds).
pub fn serve(
    query: &str,
    client: IpAddr,
    host: Option<&str>,
    store: &Store,
    cfg: &PrometheusExporterConfig,
    state: &AllmetricsState,
    now_s: i64,
) -> AllmetricsResponse {
    serve_with_head_room(query, client, host, store, cfg, state, now_s, 0)
}

/// [`serve`], with a Prometheus body (the megabytes of a scrape) written
/// after `head_room` bytes left for the HTTP head, so that the head can be
/// put in front of it without moving it. The web server asks for as many
/// bytes as the head of a body as long as the previous one
/// ([`AllmetricsState::body_len_guess`]) takes; other bodies get none.
#[allow(clippy::too_many_arguments)]
pub fn serve_with_head_room(
    query: &str,
    client: IpAddr,
    host: Option<&str>,
    store: &Store,
    cfg: &PrometheusExporterConfig,
    state: &AllmetricsState,
    now_s: i64,
    head_room: usize,
) -> AllmetricsResponse {
    let params = Params::parse(query, client, cfg);
    let host = match host {
        None => store.localhost().clone(),
        Some(name) => match store.hosts().into_iter().find(|h| h.hostname() == name) {
            Some(host) => host,
            None => return unknown_host(name),
        },
    };
    match params.format {
        Some(OutputFormat::Shell) => AllmetricsResponse {
            status: 200,
            content_type: CONTENT_TYPE_TEXT,
            body: serve_shell(&host, &params),
            head_room: 0,
        },
        Some(OutputFormat::Json) => AllmetricsResponse {
            status: 200,
            content_type: CONTENT_TYPE_JSON,
            body: serve_json(&host, &params),
            head_room: 0,
        },
        Some(OutputFormat::Prometheus { all_hosts }) => {
            let body = serve_prometheus(
                &host, all_hosts, store, cfg, state, &params, now_s, head_room,
            );
            state
                .last_body_len
                .store(body.len() - head_room, Ordering::Relaxed);
            AllmetricsResponse {
                status: 200,
                content_type: CONTENT_TYPE_PROMETHEUS,
                body,
                head_room,
            }
        }
        None => AllmetricsResponse {
            status: 400,
            content_type: CONTENT_TYPE_TEXT,
            body: BAD_FORMAT_TEXT.as_bytes().to_vec(),
            head_room: 0,
        },
    }
}

fn unknown_host(name: &str) -> AllmetricsResponse {
    let mut body = b"This netdata does not maintain a database for host: ".to_vec();
    for c in name.chars() {
        match c {
            '&' => body.extend_from_slice(b"&amp;"),
            '<' => body.extend_from_slice(b"&lt;"),
            '>' => body.extend_from_slice(b"&gt;"),
            '"' => body.extend_from_slice(b"&quot;"),
            '\'' => body.extend_from_slice(b"&#39;"),
            c => {
                let mut utf8 = [0; 4];
                body.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    AllmetricsResponse {
        status: 404,
        content_type: CONTENT_TYPE_HTML,
        body,
        head_room: 0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    Shell,
    Json,
    Prometheus { all_hosts: bool },
}

/// The request's parameters, defaults applied.
#[derive(Debug, Clone)]
struct Params {
    /// `None`: an unknown format was asked for.
    format: Option<OutputFormat>,
    filter: Option<String>,
    server: String,
    prefix: String,
    data_source: DataSource,
    help: bool,
    types: bool,
    names: bool,
    timestamps: bool,
    oldunits: bool,
    hideunits: bool,
    /// `variables=yes`: each host's custom variables after its
    /// `netdata_info` (Prometheus formats only, as in netdata).
    variables: bool,
}

impl Params {
    fn parse(query: &str, client: IpAddr, cfg: &PrometheusExporterConfig) -> Params {
        let mut params = Params {
            format: Some(OutputFormat::Shell),
            filter: None,
            server: client.to_string(),
            prefix: cfg.prefix.clone(),
            data_source: cfg.data_source,
            help: false,
            types: false,
            names: cfg.send_names_instead_of_ids,
            timestamps: true,
            oldunits: false,
            hideunits: false,
            variables: false,
        };
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (percent_decode(name), percent_decode(value));
            if name.is_empty() || value.is_empty() {
                continue;
            }
            let on = matches!(value.as_str(), "yes" | "1" | "true");
            match name.as_str() {
                "format" => {
                    params.format = match value.as_str() {
                        "shell" => Some(OutputFormat::Shell),
                        "prometheus" => Some(OutputFormat::Prometheus { all_hosts: false }),
                        "prometheus_all_hosts" => {
                            Some(OutputFormat::Prometheus { all_hosts: true })
                        }
                        "json" => Some(OutputFormat::Json),
                        _ => None,
                    }
                }
                "filter" => params.filter = Some(value),
                "server" => params.server = truncate(value, MAX_SERVER_NAME_BYTES),
                "prefix" => params.prefix = value,
                "data" | "source" | "data source" | "data-source" | "data_source"
                | "datasource" => {
                    if let Ok(source) = DataSource::parse(&value) {
                        params.data_source = source;
                    }
                }
                "help" => params.help = on,
                "types" => params.types = on,
                "names" => params.names = on,
                "timestamps" => params.timestamps = on,
                "oldunits" => params.oldunits = on,
                "hideunits" => params.hideunits = on,
                "variables" => params.variables = on,
                _ => {}
            }
        }
        params
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Decodes `%XX` escapes and `+` (a space); a `%` not followed by two hex
/// digits is kept as it is; bytes that are not UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || b == b'+') {
        return text.to_owned();
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let pair = bytes
                    .get(i + 1)
                    .copied()
                    .and_then(hex)
                    .zip(bytes.get(i + 2).copied().and_then(hex));
                if let Some((high, low)) = pair {
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a chart passes `filter` (its id or its name matches).
fn chart_matches(pattern: &SimplePattern, st: &ChartState) -> bool {
    pattern.matches(st.id()) || pattern.matches(st.name())
}

// ---------------------------------------------------------------------------
// shell and json

fn serve_shell(host: &Host, params: &Params) -> Vec<u8> {
    let filter = params.filter.as_deref().map(SimplePattern::new);
    let mut out = Vec::new();
    for chart in host.charts() {
        let st = chart.read();
        if filter.as_ref().is_some_and(|f| !f.matches(st.name())) {
            continue;
        }
        shell::write_chart_header(&mut out, st.id(), st.name());
        if st.is_obsolete() {
            continue;
        }
        let units = &st.def().units;
        let line = shell::ShellChart::new(st.name());
        let mut total = 0.0;
        for d in st.dimensions() {
            if d.last_collected().is_none() {
                continue;
            }
            let def = d.def();
            let value = d.last_stored_value().map(|mut n| {
                if def.multiplier < 0 || def.divisor < 0 {
                    n = -n;
                }
                let n = shell::round_value(n);
                if !def.hidden {
                    total += n;
                }
                n
            });
            line.write_dimension(&mut out, d.name(), value, units);
        }
        line.write_total(&mut out, shell::round_value(total), units);
    }
    shell::write_alarms_header(&mut out);
    out
}

fn serve_json(host: &Host, params: &Params) -> Vec<u8> {
    let filter = params.filter.as_deref().map(SimplePattern::new);
    let mut out = Vec::new();
    let mut doc = json::Document::begin(&mut out);
    for chart in host.charts() {
        let st = chart.read();
        if filter.as_ref().is_some_and(|f| !chart_matches(f, &st)) || st.is_obsolete() {
            continue;
        }
        let def = st.def();
        let mut c = doc.chart(&json::ChartHead {
            id: st.id(),
            name: st.name(),
            family: &def.family,
            context: &def.context,
            units: &def.units,
            last_updated: st.last_entry_t().unwrap_or(0),
        });
        for d in st.dimensions() {
            if d.last_collected().is_some() {
                c.dimension(d.id(), d.name(), d.last_stored_value());
            }
        }
        c.end();
    }
    doc.end();
    out
}

// ---------------------------------------------------------------------------
// prometheus

/// Where the lines go: straight out in netdata's order, or grouped by
/// metric family under one `# TYPE` line each (`types=yes`).
enum Lines {
    Direct(Vec<u8>),
    Grouped(Box<Families>),
}

#[derive(Default)]
struct Families {
    /// Lines before every family (the `help=yes` scrape comment).
    preamble: Vec<u8>,
    list: Vec<Family>,
    by_name: HashMap<Vec<u8>, usize>,
    /// The comment of the chart being written, until its first sample.
    chart_comment: Vec<u8>,
}

struct Family {
    name: Vec<u8>,
    /// `None`: no TYPE line (`netdata_info`).
    metric_type: Option<&'static str>,
    body: Vec<u8>,
    /// Where the TYPE line goes in `body`: after the comments of the
    /// family's first sample, before the sample.
    type_at: usize,
}

impl Lines {
    /// A line outside any family (written first when grouped).
    fn preamble(&mut self) -> &mut Vec<u8> {
        match self {
            Lines::Direct(out) => out,
            Lines::Grouped(families) => &mut families.preamble,
        }
    }

    /// A chart's comment (`help=yes`): in place, or held for the chart's
    /// first sample.
    fn chart_comment(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        match self {
            Lines::Direct(out) => write(out),
            Lines::Grouped(families) => {
                families.chart_comment.clear();
                write(&mut families.chart_comment);
            }
        }
    }

    /// One sample of family `name`: its comments, then its line.
    fn sample(
        &mut self,
        name: &[u8],
        metric_type: Option<&'static str>,
        comments: impl FnOnce(&mut Vec<u8>),
        line: impl FnOnce(&mut Vec<u8>),
    ) {
        match self {
            Lines::Direct(out) => {
                comments(out);
                line(out);
            }
            Lines::Grouped(families) => {
                let families = &mut **families;
                let (index, new) = match families.by_name.get(name) {
                    Some(&index) => (index, false),
                    None => {
                        families.list.push(Family {
                            name: name.to_vec(),
                            metric_type,
                            body: Vec::new(),
                            type_at: 0,
                        });
                        let index = families.list.len() - 1;
                        families.by_name.insert(name.to_vec(), index);
                        (index, true)
                    }
                };
                let family = &mut families.list[index];
                family.body.append(&mut families.chart_comment);
                comments(&mut family.body);
                if new {
                    family.type_at = family.body.len();
                }
                line(&mut family.body);
            }
        }
    }

    fn finish(self, types: bool) -> Vec<u8> {
        match self {
            Lines::Direct(out) => out,
            Lines::Grouped(families) => {
                let families = *families;
                let mut out = families.preamble;
                for family in families.list {
                    let (comments, rest) = family.body.split_at(family.type_at);
                    out.extend_from_slice(comments);
                    if let (true, Some(metric_type)) = (types, family.metric_type) {
                        prometheus::write_type_line(&mut out, &family.name, metric_type);
                    }
                    out.extend_from_slice(rest);
                }
                out
            }
        }
    }
}

/// What every chart of one request shares.
struct Request<'a> {
    params: &'a Params,
    pattern: SimplePattern,
    /// The text `pattern` was made from.
    pattern_text: String,
    /// Start of the scraper's window (seconds).
    after: i64,
    /// End of the window: the request's time (seconds).
    before: i64,
    /// `,instance="HOST"` for `prometheus_all_hosts`, else empty.
    instance: Vec<u8>,
    aggregates: Vec<WindowAggregate>,
}

#[allow(clippy::too_many_arguments)]
fn serve_prometheus(
    host: &Arc<Host>,
    all_hosts: bool,
    store: &Store,
    cfg: &PrometheusExporterConfig,
    state: &AllmetricsState,
    params: &Params,
    now: i64,
    head_room: usize,
) -> Vec<u8> {
    let update_every = i64::from(cfg.update_every.max(1));
    let server = if params.server.is_empty() {
        "default"
    } else {
        params.server.as_str()
    };
    let last_seen = state.last_access(server, host.hostname(), now);
    let after = match last_seen {
        Some(last) if last <= now => last,
        _ => now - update_every,
    };

    // The body starts with the head room (zeros, overwritten by the head).
    let mut lines = if params.types {
        Lines::Grouped(Box::new(Families {
            preamble: vec![0; head_room],
            ..Families::default()
        }))
    } else {
        Lines::Direct(state.body_buffer(head_room))
    };
    if params.help {
        prometheus::write_scrape_comment(
            lines.preamble(),
            &ScrapeComment {
                hostname: host.hostname(),
                server,
                source: params.data_source.as_str(),
                last_seen,
                after,
                now,
            },
        );
    }

    let pattern_text = params
        .filter
        .as_deref()
        .unwrap_or(&cfg.send_charts_matching)
        .to_owned();
    let mut request = Request {
        params,
        pattern: SimplePattern::new(&pattern_text),
        pattern_text,
        after,
        before: now,
        instance: Vec::new(),
        aggregates: Vec::new(),
    };
    let hosts = if all_hosts {
        let pattern = SimplePattern::new(&cfg.send_hosts_matching);
        store
            .hosts()
            .into_iter()
            .enumerate()
            .filter(|(i, h)| {
                let by_name = pattern.match_result(h.hostname());
                let verdict = if *i == 0 {
                    pattern.match_result("localhost").or(by_name)
                } else {
                    by_name
                };
                verdict.unwrap_or(false)
            })
            .map(|(_, h)| h)
            .collect()
    } else {
        vec![host.clone()]
    };
    for h in &hosts {
        request.instance = if all_hosts {
            prometheus::instance_label(h.hostname())
        } else {
            Vec::new()
        };
        write_host(h, cfg, state, &mut request, &mut lines, now);
    }
    lines.finish(params.types)
}

fn write_host(
    host: &Arc<Host>,
    cfg: &PrometheusExporterConfig,
    state: &AllmetricsState,
    request: &mut Request<'_>,
    lines: &mut Lines,
    now: i64,
) {
    let labels = host.labels();
    let sent = labels
        .iter()
        .filter(|l| match l.source {
            LabelSource::Configured => cfg.send_configured_labels,
            LabelSource::Automatic => cfg.send_automatic_labels,
        })
        .map(|l| (l.key.as_str(), l.value.as_str()));
    let info = InfoLabels::new(host.hostname(), &state.application, &state.version, sent);
    let timestamp = request.params.timestamps.then_some(now * 1000);
    lines.sample(
        b"netdata_info",
        None,
        |_| {},
        |out| prometheus::write_info_line(out, &info, timestamp),
    );
    let params = request.params;
    if params.variables {
        let how = prometheus::VariableLines {
            prefix: &params.prefix,
            instance: (!request.instance.is_empty()).then(|| host.hostname()),
            timestamp_ms: timestamp.map(|_| now * 1000),
            help: params.help,
        };
        // One block per host, with no TYPE line; grouped output keeps the
        // blocks together after the `netdata_info` lines.
        lines.sample(
            b"\0variables",
            None,
            |_| {},
            |out| host.with_variables(|table| prometheus::write_variables(out, &how, table.iter())),
        );
    }
    if let (Lines::Direct(out), false, false) = (
        &mut *lines,
        params.help,
        params.data_source == DataSource::AsCollected,
    ) {
        let shape = CacheShape::new(request);
        let mut cache = state.take_cache(host, &shape);
        write_host_cached(host, request, &mut cache, out);
        state.give_back(cache, now);
        return;
    }
    write_host_charts(host, request, lines);
}

/// Every chart of `host` that the request takes, through [`write_chart`].
fn write_host_charts(host: &Host, request: &mut Request<'_>, lines: &mut Lines) {
    for chart in host.charts() {
        let st = chart.read();
        if st.is_obsolete() || !chart_matches(&request.pattern, &st) {
            continue;
        }
        write_chart(&st, request, lines);
    }
}

/// Everything of a request that the rendered sample lines depend on,
/// besides the host and the chart: what a [`SeriesCache`] is kept for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CacheShape {
    prefix: String,
    names: bool,
    /// `data=sum` (else `average`).
    sum: bool,
    hideunits: bool,
    oldunits: bool,
    /// The chart filter's text.
    pattern: String,
    /// `,instance="HOST"` (`prometheus_all_hosts`) or empty.
    instance: Vec<u8>,
}

impl CacheShape {
    fn new(request: &Request<'_>) -> CacheShape {
        let params = request.params;
        CacheShape {
            prefix: params.prefix.clone(),
            names: params.names,
            sum: params.data_source == DataSource::Sum,
            hideunits: params.hideunits,
            oldunits: params.oldunits,
            pattern: request.pattern_text.clone(),
            instance: request.instance.clone(),
        }
    }

    /// The units part and suffix of the metric names.
    fn units_and_suffix<'a>(&self, units: &'a str) -> (UnitsPart<'a>, Suffix) {
        if self.sum {
            (UnitsPart::Hidden, Suffix::Sum)
        } else if self.hideunits {
            (UnitsPart::Hidden, Suffix::Average)
        } else if self.oldunits {
            (UnitsPart::Old(units), Suffix::Average)
        } else {
            (UnitsPart::Current(units), Suffix::Average)
        }
    }
}

/// One host's charts as a scrape of one [`CacheShape`] renders them, in
/// the host's chart order: whether the filter takes each chart, and its
/// sample lines ([`ChartSamples`]), rebuilt when the chart's generation
/// changes. Holds the charts weakly: a removed chart is not kept alive.
struct SeriesCache {
    host: Weak<Host>,
    shape: CacheShape,
    /// The host's chart list generation `charts` follows.
    charts_generation: u64,
    charts: Vec<CachedChart>,
    /// Bytes the previous scrape of this shape wrote for this host: the
    /// next one reserves that much (and a little more) at once.
    last_len: usize,
    /// When it was last used (seconds).
    last_used: i64,
}

struct CachedChart {
    chart: Weak<Chart>,
    /// The chart generation `selected` and `samples` are of (0: none).
    generation: u64,
    selected: bool,
    /// Rendered at the chart's first sample after a change.
    samples: Option<ChartSamples>,
}

impl CachedChart {
    fn new(chart: &Arc<Chart>) -> CachedChart {
        CachedChart {
            chart: Arc::downgrade(chart),
            generation: 0,
            selected: false,
            samples: None,
        }
    }
}

impl SeriesCache {
    fn new(host: &Arc<Host>, shape: CacheShape) -> SeriesCache {
        SeriesCache {
            host: Arc::downgrade(host),
            shape,
            charts_generation: 0,
            charts: Vec::new(),
            last_len: 0,
            last_used: 0,
        }
    }

    /// Makes `self.charts` follow `charts` (the host's list now), keeping
    /// what is known of the charts still there.
    fn sync(&mut self, charts: &[Arc<Chart>], generation: u64) {
        let same = generation == self.charts_generation
            && self.charts.len() == charts.len()
            && self
                .charts
                .iter()
                .zip(charts)
                .all(|(known, now)| known.chart.as_ptr() == Arc::as_ptr(now));
        if same {
            return;
        }
        self.charts_generation = generation;
        let mut known: HashMap<*const Chart, CachedChart> = self
            .charts
            .drain(..)
            .map(|c| (c.chart.as_ptr(), c))
            .collect();
        self.charts = charts
            .iter()
            .map(|chart| {
                known
                    .remove(&Arc::as_ptr(chart))
                    .unwrap_or_else(|| CachedChart::new(chart))
            })
            .collect();
    }
}

/// The sample lines of `st` for `shape`.
fn render_samples(st: &ChartState, shape: &CacheShape) -> ChartSamples {
    let def = st.def();
    let chart = if shape.names { st.name() } else { st.id() };
    let (units, suffix) = shape.units_and_suffix(&def.units);
    let name = prometheus::metric_name(&shape.prefix, &def.context, units, suffix);
    let mut samples = ChartSamples::new(&SeriesHead::new(&name, chart, &def.family));
    for d in st.dimensions() {
        samples.push(dimension_shown(d, shape.names), &shape.instance);
    }
    samples
}

/// The common scrape (`average` or `sum`, no comments, netdata's line
/// order) of one host's charts into `out`, from and into `cache`: the
/// same bytes as [`write_chart`].
fn write_host_cached(
    host: &Host,
    request: &mut Request<'_>,
    cache: &mut SeriesCache,
    out: &mut Vec<u8>,
) {
    let charts = host.charts();
    cache.sync(&charts, host.charts_generation());
    out.reserve(cache.last_len + cache.last_len / 16);
    let start = out.len();
    let timestamps = request.params.timestamps;
    let sum = cache.shape.sum;
    // (Cache hints for the next charts, as the exporter gives, measured
    // nothing here: alternating runs of `BENCH_COLD=1` were the same within
    // their noise.)
    for (chart, cached) in charts.iter().zip(cache.charts.iter_mut()) {
        let st = chart.read();
        if st.generation() != cached.generation {
            cached.generation = st.generation();
            cached.selected = chart_matches(&request.pattern, &st);
            cached.samples = None;
        }
        if st.is_obsolete() || !cached.selected {
            continue;
        }
        let Some(window) = netdata_window(&st, request.after, request.before) else {
            continue;
        };
        let samples = cached
            .samples
            .get_or_insert_with(|| render_samples(&st, &cache.shape));
        st.aggregate_all(&window, &mut request.aggregates);
        let timestamp = RenderedTimestamp::new(window.last_t() * 1000);
        let timestamp = timestamps.then_some(&timestamp);
        let value = |(index, agg): (usize, &WindowAggregate)| {
            (agg.count > 0).then(|| {
                let value = if sum || agg.count == 1 {
                    agg.sum
                } else {
                    agg.sum / agg.count as f64
                };
                (index, MetricValue::Stored(value))
            })
        };
        let aggregates = request.aggregates.iter().enumerate();
        if st.all_dimensions_collected() {
            // The usual case: no dimension to skip, so none is read (a
            // scrape every few seconds finds them out of the cache).
            samples.write_lines(out, timestamp, aggregates.filter_map(value));
        } else {
            let collected = st.dimensions().iter().map(|d| d.last_collected().is_some());
            let values = aggregates
                .zip(collected)
                .filter(|&(_, collected)| collected)
                .filter_map(|(aggregate, _)| value(aggregate));
            samples.write_lines(out, timestamp, values);
        }
    }
    cache.last_len = out.len() - start;
}

fn write_chart(st: &ChartState, request: &mut Request<'_>, lines: &mut Lines) {
    let params = request.params;
    let def = st.def();
    let chart = if params.names { st.name() } else { st.id() };
    let comment = ChartComment {
        chart,
        context: &def.context,
        family: &def.family,
        units: &def.units,
    };
    if params.help {
        lines.chart_comment(|out| prometheus::write_chart_comment(out, &comment));
    }
    let names = params.names;
    let timestamp_ms = |ms: i64| params.timestamps.then_some(ms);

    if params.data_source == DataSource::AsCollected {
        let from_prometheus = def.module == "prometheus";
        for d in st.dimensions() {
            let Some((raw, collected_ut)) = d.last_collected() else {
                continue;
            };
            let collected_ut = i64::try_from(collected_ut).unwrap_or(i64::MAX);
            if collected_ut / 1_000_000 < request.after {
                continue;
            }
            let dim = d.def();
            let counter = matches!(
                dim.algorithm,
                Algorithm::Incremental | Algorithm::PercentageOfIncrementalRow
            );
            let suffix = if counter && !from_prometheus {
                Suffix::Total
            } else {
                Suffix::Gauge
            };
            let name =
                prometheus::metric_name(&params.prefix, &def.context, UnitsPart::Hidden, suffix);
            let head = SeriesHead::new(&name, chart, &def.family);
            let (value, multiplier, divisor) = if from_prometheus {
                let scaled = raw as f64 * dim.multiplier as f64 / dim.divisor as f64;
                (MetricValue::Stored(scaled), 1, 1)
            } else {
                (MetricValue::Collected(raw), dim.multiplier, dim.divisor)
            };
            let metric_type = if counter { "counter" } else { "gauge" };
            lines.sample(
                &name,
                Some(metric_type),
                |out| {
                    if params.help {
                        prometheus::write_collected_sample_comment(
                            out,
                            &name,
                            &CollectedComment {
                                chart: comment,
                                dimension: dimension_shown(d, names),
                                multiplier,
                                divisor,
                                counter,
                            },
                        );
                    }
                },
                |out| {
                    head.write_sample(
                        out,
                        dimension_shown(d, names),
                        &request.instance,
                        value,
                        timestamp_ms(collected_ut / 1000),
                    );
                },
            );
        }
        return;
    }

    let Some(window) = netdata_window(st, request.after, request.before) else {
        return;
    };
    let sum = params.data_source == DataSource::Sum;
    let (units, suffix) = if sum {
        (UnitsPart::Hidden, Suffix::Sum)
    } else if params.hideunits {
        (UnitsPart::Hidden, Suffix::Average)
    } else if params.oldunits {
        (UnitsPart::Old(&def.units), Suffix::Average)
    } else {
        (UnitsPart::Current(&def.units), Suffix::Average)
    };
    let name = prometheus::metric_name(&params.prefix, &def.context, units, suffix);
    let head = SeriesHead::new(&name, chart, &def.family);
    let last_t = window.last_t();
    st.aggregate_all(&window, &mut request.aggregates);
    for (d, agg) in st.dimensions().iter().zip(&request.aggregates) {
        if d.last_collected().is_none() || agg.count == 0 {
            continue;
        }
        let value = if sum || agg.count == 1 {
            agg.sum
        } else {
            agg.sum / agg.count as f64
        };
        lines.sample(
            &name,
            Some(suffix.metric_type()),
            |out| {
                if params.help {
                    prometheus::write_stored_sample_comment(
                        out,
                        &name,
                        dimension_shown(d, names),
                        &def.units,
                        request.after,
                        last_t,
                    );
                }
            },
            |out| {
                head.write_sample(
                    out,
                    dimension_shown(d, names),
                    &request.instance,
                    MetricValue::Stored(value),
                    timestamp_ms(last_t * 1000),
                );
            },
        );
    }
}

/// The dimension's name (`names`) or id.
fn dimension_shown(d: &rrd::Dimension, names: bool) -> &str {
    if names {
        d.name()
    } else {
        d.id()
    }
}

/// netdata's window for a scrape covering `(after, before]`: the grid
/// times from `after - 2 ue` to `before - 3 ue` (both aligned down to the
/// chart's grid), at least the last of them, clamped to what the chart
/// holds; `None` when the chart holds nothing there.
fn netdata_window(st: &ChartState, after: i64, before: i64) -> Option<rrd::SlotWindow> {
    let ue = i64::from(st.update_every().max(1));
    let align = |t: i64| t - t.rem_euclid(ue);
    let last = align(before - 2 * ue) - ue;
    let first = align(after - 2 * ue).min(last);
    // `window` takes `(after, before]`: start just before `first`.
    st.window(first - 1, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rrd::{ChartDef, DimensionDef, Label};

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn store() -> Store {
        let store = Store::new(Host::new("box", 100));
        store.localhost().set_labels(vec![
            Label::new("env", "lab", LabelSource::Configured),
            Label::new("_os", "linux", LabelSource::Automatic),
        ]);
        let chart = store.localhost().create_chart(
            ChartDef::new("sys", "load")
                .units("load")
                .family("load")
                .update_every(1),
        );
        let mut w = chart.write();
        let d = w.add_dimension(DimensionDef::new("load1").name("one minute"));
        for t in 100..=110u64 {
            w.set(d, t as i64);
            w.done(t * 1_000_000).unwrap();
        }
        drop(w);
        store
    }

    fn get(query: &str, state: &AllmetricsState, now: i64) -> (u16, String) {
        let cfg = PrometheusExporterConfig::default();
        let r = serve(query, CLIENT, None, &store(), &cfg, state, now);
        (r.status, String::from_utf8(r.body).unwrap())
    }

    #[test]
    fn parameters_are_decoded_after_splitting() {
        let cfg = PrometheusExporterConfig::default();
        let p = Params::parse(
            "format=prometheus&filter=a%20b+c%26d&server=%F0%9F%98%80&prefix=&help=1&names=no&timestamps=maybe&x&=y&data=sum",
            CLIENT,
            &cfg,
        );
        assert_eq!(
            p.format,
            Some(OutputFormat::Prometheus { all_hosts: false })
        );
        assert_eq!(p.filter.as_deref(), Some("a b c&d"));
        assert_eq!(p.server, "😀");
        assert_eq!(p.prefix, "netdata");
        assert!(p.help && !p.names && !p.timestamps);
        assert_eq!(p.data_source, DataSource::Sum);
        let p = Params::parse("data=bogus&format=xml&format=json&oops=%zz", CLIENT, &cfg);
        assert_eq!(p.data_source, DataSource::Average);
        assert_eq!(p.format, Some(OutputFormat::Json));
        assert_eq!(p.server, "127.0.0.1");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%ff%2"), "\u{fffd}%2");
        assert_eq!(Params::parse("format=xml", CLIENT, &cfg).format, None);
    }

    #[test]
    fn each_scraper_gets_its_own_window() {
        let state = AllmetricsState::with_identity("netdata", "v1.37.1");
        // First scrape at 110, update every 10: after = 100, points
        // 98..=107 held from 100: mean of 100..=107.
        let (_, body) = get("format=prometheus&server=a", &state, 110);
        assert!(
            body.contains("dimension=\"one minute\"} 103.5000000 107000\n"),
            "{body}"
        );
        // The same scraper 2 s later: points 108..=109.
        let (_, body) = get("format=prometheus&server=a&help=yes", &state, 112);
        assert!(
            body.contains("last seen 2 seconds ago, time range 110 to 112"),
            "{body}"
        );
        assert!(body.contains("} 108.5000000 109000\n"), "{body}");
        // Another scraper starts over: points 100..=109.
        let (_, body) = get("format=prometheus&server=b", &state, 112);
        assert!(body.contains("} 104.5000000 109000\n"), "{body}");
        assert_eq!(state.scrapers(), 2);
    }

    #[test]
    fn scrapers_are_bounded_and_forgotten() {
        let state = AllmetricsState::new();
        // Two scrapers a second: exactly s0..s9 are the ten oldest.
        let seen = |i: usize| 1000 + (i / 2) as i64;
        for i in 0..MAX_SCRAPERS + 10 {
            assert_eq!(state.last_access(&format!("s{i}"), "box", seen(i)), None);
        }
        assert_eq!(state.scrapers(), MAX_SCRAPERS);
        // The oldest were evicted; a recent one is remembered.
        let now = seen(MAX_SCRAPERS + 10);
        let recent = format!("s{}", MAX_SCRAPERS + 9);
        assert_eq!(
            state.last_access(&recent, "box", now),
            Some(seen(MAX_SCRAPERS + 9))
        );
        assert_eq!(state.last_access("s0", "box", now), None);
        assert_eq!(state.scrapers(), MAX_SCRAPERS);
        // Not seen for over an hour: forgotten.
        let later = now + FORGET_SCRAPER_AFTER_S + 1;
        assert_eq!(state.last_access(&recent, "box", later), None);
        // Expired entries make room before anyone is evicted.
        state.last_access("new", "box", later);
        assert_eq!(state.scrapers(), 2);
    }

    #[test]
    fn labels_follow_the_exporter_settings() {
        let state = AllmetricsState::with_identity("netdata", "v1.37.1");
        let (_, body) = get("format=prometheus&timestamps=no", &state, 110);
        assert!(body.starts_with(
            "netdata_info{instance=\"box\",application=\"netdata\",version=\"v1.37.1\",env=\"lab\"} 1\n"
        ));
        assert!(AllmetricsState::new().application == "backhaul");
    }

    /// A host whose charts exercise what the cached path must get right:
    /// escapes, an obsolete chart, a chart the filter leaves out, a
    /// dimension never collected (its points stored from elsewhere), one
    /// collected late, another update every.
    fn varied_host() -> Arc<Host> {
        let host = Arc::new(Host::new("box", 100));
        let plain = host.create_chart(
            ChartDef::new("sys", "load")
                .name("load \"avg\"")
                .units("load")
                .family("fam\\ily")
                .context("sys.load"),
        );
        let odd = host.create_chart(
            ChartDef::new("lab", "odd")
                .units("KiB/s")
                .family("lab")
                .context("lab.odd")
                .update_every(2),
        );
        let gone = host.create_chart(ChartDef::new("lab", "gone").units("u"));
        let skipped = host.create_chart(ChartDef::new("skip", "me").units("u"));
        {
            let mut w = plain.write();
            w.add_dimension(DimensionDef::new("load1").name("one\nminute"));
            w.add_dimension(DimensionDef::new("load5"));
            for t in 100..=130u64 {
                w.set(0, t as i64);
                w.set(1, 3 * t as i64);
                w.done(t * 1_000_000).unwrap();
            }
        }
        {
            let mut w = odd.write();
            let a = w.add_dimension(DimensionDef::new("a"));
            let late = w.add_dimension(DimensionDef::new("late"));
            let never = w.add_dimension(DimensionDef::new("never"));
            for t in (100..=130u64).step_by(2) {
                w.set(a, 7 * t as i64);
                if t > 120 {
                    w.set(late, t as i64);
                }
                w.done(t * 1_000_000).unwrap();
                w.store_point(t as i64, &[(never, 5.0)]);
            }
        }
        for chart in [&gone, &skipped] {
            let mut w = chart.write();
            w.add_dimension(DimensionDef::new("x"));
            for t in 100..=130u64 {
                w.set(0, 1);
                w.done(t * 1_000_000).unwrap();
            }
        }
        gone.write().set_obsolete(true);
        host
    }

    /// The request's lines through the cache (kept in `state`) and
    /// through `write_chart`, side by side.
    fn both_paths(
        host: &Arc<Host>,
        query: &str,
        state: &AllmetricsState,
        now: i64,
    ) -> (Vec<u8>, Vec<u8>) {
        let cfg = PrometheusExporterConfig {
            send_charts_matching: "!skip.* *".to_owned(),
            ..PrometheusExporterConfig::default()
        };
        let params = Params::parse(query, CLIENT, &cfg);
        let pattern_text = cfg.send_charts_matching.clone();
        let mut request = Request {
            params: &params,
            pattern: SimplePattern::new(&pattern_text),
            pattern_text,
            after: now - 10,
            before: now,
            instance: if query.contains("instance") {
                prometheus::instance_label("box")
            } else {
                Vec::new()
            },
            aggregates: Vec::new(),
        };
        let mut cached = Lines::Direct(Vec::new());
        write_host(host, &cfg, state, &mut request, &mut cached, now);
        let mut plain = Lines::Direct(Vec::new());
        write_host_charts(host, &mut request, &mut plain);
        let (Lines::Direct(cached), Lines::Direct(plain)) = (cached, plain) else {
            unreachable!()
        };
        // The cached path wrote `netdata_info` first.
        let info_end = cached.iter().position(|&b| b == b'\n').unwrap() + 1;
        (cached[info_end..].to_vec(), plain)
    }

    #[test]
    fn cached_lines_are_the_lines_of_write_chart() {
        let host = varied_host();
        let state = AllmetricsState::new();
        let queries = [
            "format=prometheus",
            "format=prometheus&names=no",
            "format=prometheus&data=sum",
            "format=prometheus&hideunits=yes&timestamps=no",
            "format=prometheus&oldunits=yes&prefix=p",
            "format=prometheus&instance",
        ];
        for round in 0..3 {
            for query in queries {
                let (cached, plain) = both_paths(&host, query, &state, 131 + round);
                let text = String::from_utf8(cached.clone()).unwrap();
                assert_eq!(
                    text,
                    String::from_utf8(plain).unwrap(),
                    "{query}, round {round}"
                );
                assert!(text.contains("family=\"fam\\\\ily\""), "{text}");
                assert!(
                    !text.contains("never") && !text.contains("skip") && !text.contains("gone"),
                    "{text}"
                );
            }
            // Change what the cache holds between rounds.
            match round {
                0 => {
                    let chart = host.chart_by_id("sys.load").unwrap();
                    let mut w = chart.write();
                    w.add_dimension(DimensionDef::new("load5").name("five"));
                    w.add_dimension(DimensionDef::new("load15"));
                    w.set(0, 1);
                    w.set(1, 2);
                    w.set(2, 3);
                    w.done(131_000_000).unwrap();
                }
                1 => {
                    host.create_chart(
                        ChartDef::new("sys", "load")
                            .name("renamed")
                            .units("load")
                            .family("fam\\ily")
                            .context("sys.load"),
                    );
                    let chart = host.create_chart(ChartDef::new("new", "chart").units("u"));
                    let mut w = chart.write();
                    w.add_dimension(DimensionDef::new("n"));
                    for t in 120..=133u64 {
                        w.set(0, t as i64);
                        w.done(t * 1_000_000).unwrap();
                    }
                }
                _ => {}
            }
        }
        assert_eq!(state.series_caches(), queries.len());
    }

    #[test]
    fn series_caches_are_bounded() {
        let host = varied_host();
        let state = AllmetricsState::new();
        for i in 0..MAX_SERIES_CACHES + 5 {
            let query = format!("format=prometheus&prefix=p{i}");
            let (cached, plain) = both_paths(&host, &query, &state, 131 + i as i64);
            assert_eq!(cached, plain);
        }
        assert_eq!(state.series_caches(), MAX_SERIES_CACHES);
        // Not used for an hour: forgotten at the next request.
        both_paths(
            &host,
            "format=prometheus",
            &state,
            140 + 2 * FORGET_SCRAPER_AFTER_S,
        );
        assert_eq!(state.series_caches(), 1);
    }

    #[test]
    fn a_written_out_body_serves_the_next_scrape() {
        // What a first scrape serves, from a new buffer.
        let (_, fresh) = get(
            "format=prometheus&timestamps=no",
            &AllmetricsState::with_identity("netdata", "v1.37.1"),
            110,
        );
        let state = AllmetricsState::with_identity("netdata", "v1.37.1");
        // Too small, too large: not kept.
        state.recycle_body(vec![1; MIN_SPARE_BODY_BYTES - 1]);
        assert_eq!(state.spare_body_bytes(), 0);
        state.recycle_body(Vec::with_capacity(MAX_SPARE_BODY_BYTES + 1));
        assert_eq!(state.spare_body_bytes(), 0);
        // A larger one replaces a smaller one, not the other way round.
        state.recycle_body(vec![7; MIN_SPARE_BODY_BYTES]);
        state.recycle_body(vec![7; 2 * MIN_SPARE_BODY_BYTES]);
        state.recycle_body(vec![7; MIN_SPARE_BODY_BYTES]);
        assert_eq!(state.spare_body_bytes(), 2 * MIN_SPARE_BODY_BYTES);

        let cfg = PrometheusExporterConfig::default();
        let r = serve_with_head_room(
            "format=prometheus&timestamps=no",
            CLIENT,
            None,
            &store(),
            &cfg,
            &state,
            110,
            5,
        );
        // The kept buffer, taken: its old bytes gone, the head room zeros.
        assert_eq!(state.spare_body_bytes(), 0);
        assert!(r.body.capacity() >= 2 * MIN_SPARE_BODY_BYTES);
        assert_eq!(&r.body[..5], &[0; 5]);
        assert_eq!(String::from_utf8_lossy(&r.body[5..]), fresh);
        // With none kept, a new buffer.
        let r = serve(
            "format=prometheus",
            CLIENT,
            None,
            &store(),
            &cfg,
            &state,
            111,
        );
        assert!(r.body.capacity() < MIN_SPARE_BODY_BYTES);
    }

    #[test]
    fn bad_format_and_unknown_host() {
        let state = AllmetricsState::new();
        let (status, body) = get("format=xml", &state, 110);
        assert_eq!((status, body.as_str()), (400, BAD_FORMAT_TEXT));
        let cfg = PrometheusExporterConfig::default();
        let r = serve("", CLIENT, Some("<x>"), &store(), &cfg, &state, 110);
        assert_eq!(r.status, 404);
        assert_eq!(r.content_type, CONTENT_TYPE_HTML);
        assert!(r.body.ends_with(b"host: &lt;x&gt;"));
        let r = serve("", CLIENT, Some("box"), &store(), &cfg, &state, 110);
        assert_eq!((r.status, r.content_type), (200, CONTENT_TYPE_TEXT));
    }
}
