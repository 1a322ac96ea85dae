//! The statsd server: netdata 1.37's `[statsd]` (UDP and TCP on port 8125
//! by default), feeding the store like any collector.
//!
//! * `server.rs` — one thread owning every socket (UDP sockets, TCP
//!   listeners, TCP connections) in one `epoll` set: reads datagrams and
//!   stream bytes, frames TCP lines (bounded by `max line length`), bounds
//!   the connections (`statsd server max TCP sockets`, idle timeout) and
//!   counts and logs (rate-limited, with the peer) what it drops.
//! * `metrics.rs` — the metrics database: what each metric gathered since
//!   the last flush, and the flush that completes netdata's private charts
//!   (`statsd_FIRSTWORD.REST_TYPE`) with netdata's arithmetic.
//! * `apps.rs` — `statsd.d/*.conf` synthetic charts.
//! * this file — settings, start-up, the flush thread on the `update every`
//!   grid, and netdata's own statsd charts (`netdata.statsd_metrics`,
//!   `_useful_metrics`, `_events`, `_reads`, `_bytes`, `_packets`,
//!   `netdata.tcp_connects`, `netdata.tcp_connected`,
//!   `netdata.private_charts`).
//!
//! Memory is bounded: at most `max metrics` metrics, `max line length`
//! bytes buffered per TCP connection, `statsd server max TCP sockets`
//! connections, a 9000-byte UDP buffer, dictionaries capped at
//! `dictionaries max unique dimensions` members, and timers, histograms and
//! sets capped per flush interval (`metrics::MAX_SAMPLES_PER_INTERVAL`,
//! `metrics::MAX_SET_MEMBERS`).

pub mod apps;
pub mod metrics;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use parking_lot::Mutex;
use rrd::{Algorithm, Chart, ChartDef, ChartType, DimIndex, DimensionDef, Host};
use wire::simple_pattern::SimplePattern;
use wire::statsd::MetricType;

use crate::config::{MainConfig, StatsdConfig};
use crate::shutdown::Shutdown;
use crate::sys::now_realtime_ut;

pub use apps::AppCharts;
pub use metrics::{Metrics, MetricsSettings, ServerStats};

/// Everything the statsd server runs with.
#[derive(Clone, Debug)]
pub struct StatsdSettings {
    /// `[plugins] statsd`.
    pub enabled: bool,
    pub config: StatsdConfig,
    /// `[directories] config` and `stock config`: where `statsd.d` is.
    pub user_config_dir: PathBuf,
    pub stock_config_dir: PathBuf,
}

impl StatsdSettings {
    pub fn from_main(main: &MainConfig) -> StatsdSettings {
        StatsdSettings {
            enabled: main.plugin_enabled("statsd"),
            config: main.statsd.clone(),
            user_config_dir: main.directories.config.clone(),
            stock_config_dir: main.directories.stock_config.clone(),
        }
    }

    fn metrics_settings(&self) -> MetricsSettings {
        let c = &self.config;
        MetricsSettings {
            update_every: c.update_every,
            decimal_detail: c.decimal_detail,
            percentile: c.percentile,
            dictionary_max_unique: c.dictionary_max_unique,
            events_dimension: c.events_dimension,
            gaps: c.gaps,
            max_metrics: c.max_metrics,
            private_charts_matching: SimplePattern::new(&c.private_charts_matching),
            max_private_charts: c.max_private_charts,
            private_charts_hidden: c.private_charts_hidden,
        }
    }
}

/// A running statsd server: its threads and the addresses it listens on.
pub struct StatsdServer {
    /// Bound UDP addresses.
    pub udp: Vec<SocketAddr>,
    /// Bound TCP addresses.
    pub tcp: Vec<SocketAddr>,
    pub metrics: Arc<Mutex<Metrics>>,
    threads: Vec<JoinHandle<()>>,
}

impl StatsdServer {
    /// Waits for both threads (after the shutdown fired).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Binds the sockets of `bind to` and starts the server and flush threads.
/// As in netdata, an address that cannot be bound is logged and skipped,
/// and a server with no socket at all is disabled (`Ok(None)`, logged).
pub fn start(
    settings: &StatsdSettings,
    host: Arc<Host>,
    shutdown: Shutdown,
) -> anyhow::Result<Option<StatsdServer>> {
    if !settings.enabled {
        return Ok(None);
    }
    let apps = apps::AppCharts::load(&settings.user_config_dir, &settings.stock_config_dir);
    let metrics = Arc::new(Mutex::new(Metrics::new(settings.metrics_settings(), apps)));
    let binds = settings
        .config
        .binds()
        .map_err(|reason| anyhow::anyhow!("[statsd] bind to: {reason}"))?;
    let sockets = server::Sockets::bind(&binds);
    if sockets.is_empty() {
        tracing::error!(
            bind_to = %settings.config.bind_to,
            "statsd: no statsd socket could be bound; statsd is disabled"
        );
        return Ok(None);
    }
    let udp = sockets.udp_addrs();
    let tcp = sockets.tcp_addrs();
    tracing::info!(?udp, ?tcp, "statsd: listening");
    let server = server::Server::new(sockets, &settings.config, metrics.clone())
        .context("statsd: setting up the socket loop")?;
    let mut threads = Vec::new();
    {
        let shutdown = shutdown.clone();
        threads.push(
            std::thread::Builder::new()
                .name("statsd:server".into())
                .spawn(move || server.run(&shutdown))
                .context("starting the statsd server thread")?,
        );
    }
    {
        let metrics = metrics.clone();
        let update_every = settings.config.update_every;
        threads.push(
            std::thread::Builder::new()
                .name("statsd:flush".into())
                .spawn(move || flush_loop(&metrics, &host, update_every, &shutdown))
                .context("starting the statsd flush thread")?,
        );
    }
    Ok(Some(StatsdServer {
        udp,
        tcp,
        metrics,
        threads,
    }))
}

fn flush_loop(metrics: &Mutex<Metrics>, host: &Host, update_every: u32, shutdown: &Shutdown) {
    let step_ut = u64::from(update_every.max(1)) * 1_000_000;
    let mut own = OwnCharts::new(host, update_every);
    loop {
        let now = now_realtime_ut();
        let next = now - now % step_ut + step_ut;
        if shutdown.sleep(Duration::from_micros(next - now)) {
            return;
        }
        let now = now_realtime_ut();
        let snapshot = {
            let mut metrics = metrics.lock();
            metrics.flush(host, now);
            Snapshot::of(&metrics)
        };
        own.update(&snapshot, now);
    }
}

/// What netdata's own statsd charts show, taken at a flush.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub metrics: [u64; 7],
    pub useful: [u64; 7],
    pub events: [u64; 7],
    pub private_charts: u64,
    pub stats: ServerStats,
}

impl Snapshot {
    pub fn of(metrics: &Metrics) -> Snapshot {
        Snapshot {
            metrics: metrics.metric_counts(),
            useful: metrics.useful_counts(),
            events: metrics.event_counts(),
            private_charts: metrics.private_charts(),
            stats: metrics.stats,
        }
    }
}

/// netdata's order of the per-type dimensions of its statsd charts.
const TYPE_DIM_ORDER: [MetricType; 7] = [
    MetricType::Gauge,
    MetricType::Counter,
    MetricType::Timer,
    MetricType::Meter,
    MetricType::Histogram,
    MetricType::Set,
    MetricType::Dictionary,
];

struct OwnChart {
    chart: Arc<Chart>,
    dims: Vec<DimIndex>,
}

impl OwnChart {
    #[allow(clippy::too_many_arguments)]
    fn create(
        host: &Host,
        id: &str,
        title: &str,
        units: &str,
        priority: i64,
        chart_type: ChartType,
        update_every: u32,
        dims: &[(&str, Algorithm, i64, i64)],
    ) -> OwnChart {
        let mut def = ChartDef::new("netdata", id)
            .family("statsd")
            .title(title)
            .units(units)
            .priority(priority)
            .chart_type(chart_type)
            .update_every(update_every);
        def.plugin = metrics::STATSD_PLUGIN.to_string();
        def.module = "stats".to_string();
        let chart = host.create_chart(def);
        let dims = {
            let mut writer = chart.write();
            dims.iter()
                .map(|(id, algorithm, multiplier, divisor)| {
                    writer.add_dimension(
                        DimensionDef::new(*id)
                            .algorithm(*algorithm)
                            .multiplier(*multiplier)
                            .divisor(*divisor),
                    )
                })
                .collect()
        };
        OwnChart { chart, dims }
    }

    fn update(&self, values: &[u64], now_ut: u64) {
        let mut writer = self.chart.write();
        for (&dim, &value) in self.dims.iter().zip(values) {
            writer.set(dim, i64::try_from(value).unwrap_or(i64::MAX));
        }
        let _ = writer.done(now_ut);
    }
}

/// netdata's own statsd charts.
struct OwnCharts {
    metrics: OwnChart,
    useful: OwnChart,
    events: OwnChart,
    reads: OwnChart,
    bytes: OwnChart,
    packets: OwnChart,
    tcp_connects: OwnChart,
    tcp_connected: OwnChart,
    private_charts: OwnChart,
}

impl OwnCharts {
    fn new(host: &Host, every: u32) -> OwnCharts {
        use Algorithm::{Absolute as A, Incremental as I};
        use ChartType::{Area, Line, Stacked};
        let per_type = |algorithm: Algorithm, extra: &[&'static str]| {
            TYPE_DIM_ORDER
                .iter()
                .map(|t| t.plural())
                .chain(extra.iter().copied())
                .map(|id| (id, algorithm, 1, 1))
                .collect::<Vec<_>>()
        };
        let tcp_udp = |multiplier: i64, divisor: i64| {
            vec![
                ("tcp", I, multiplier, divisor),
                ("udp", I, multiplier, divisor),
            ]
        };
        OwnCharts {
            metrics: OwnChart::create(
                host,
                "statsd_metrics",
                "Metrics in the netdata statsd database",
                "metrics",
                132_010,
                Stacked,
                every,
                &per_type(A, &[]),
            ),
            useful: OwnChart::create(
                host,
                "statsd_useful_metrics",
                "Useful metrics in the netdata statsd database",
                "metrics",
                132_010,
                Stacked,
                every,
                &per_type(A, &[]),
            ),
            events: OwnChart::create(
                host,
                "statsd_events",
                "Events processed by the netdata statsd server",
                "events/s",
                132_011,
                Stacked,
                every,
                &per_type(I, &["unknown", "errors"]),
            ),
            reads: OwnChart::create(
                host,
                "statsd_reads",
                "Read operations made by the netdata statsd server",
                "reads/s",
                132_012,
                Stacked,
                every,
                &tcp_udp(1, 1),
            ),
            bytes: OwnChart::create(
                host,
                "statsd_bytes",
                "Bytes read by the netdata statsd server",
                "kilobits/s",
                132_013,
                Stacked,
                every,
                &tcp_udp(8, 1000),
            ),
            packets: OwnChart::create(
                host,
                "statsd_packets",
                "Network packets processed by the netdata statsd server",
                "packets/s",
                132_014,
                Stacked,
                every,
                &tcp_udp(1, 1),
            ),
            tcp_connects: OwnChart::create(
                host,
                "tcp_connects",
                "statsd server TCP connects and disconnects",
                "events",
                132_015,
                Line,
                every,
                &[("connects", I, 1, 1), ("disconnects", I, -1, 1)],
            ),
            tcp_connected: OwnChart::create(
                host,
                "tcp_connected",
                "statsd server TCP connected sockets",
                "sockets",
                132_016,
                Line,
                every,
                &[("connected", A, 1, 1)],
            ),
            private_charts: OwnChart::create(
                host,
                "private_charts",
                "Private metric charts created by the netdata statsd server",
                "charts",
                132_020,
                Area,
                every,
                &[("charts", A, 1, 1)],
            ),
        }
    }

    fn update(&mut self, s: &Snapshot, now_ut: u64) {
        let ordered = |per_type: &[u64; 7]| {
            TYPE_DIM_ORDER
                .iter()
                .map(|t| per_type[MetricType::ALL.iter().position(|x| x == t).unwrap_or(0)])
                .collect::<Vec<_>>()
        };
        let st = &s.stats;
        self.metrics.update(&ordered(&s.metrics), now_ut);
        self.useful.update(&ordered(&s.useful), now_ut);
        let mut events = ordered(&s.events);
        events.extend([st.unknown_types, st.errors]);
        self.events.update(&events, now_ut);
        self.reads.update(&[st.tcp_reads, st.udp_reads], now_ut);
        self.bytes.update(&[st.tcp_bytes, st.udp_bytes], now_ut);
        self.packets
            .update(&[st.tcp_packets, st.udp_packets], now_ut);
        self.tcp_connects
            .update(&[st.tcp_connects, st.tcp_disconnects], now_ut);
        self.tcp_connected.update(&[st.tcp_connected], now_ut);
        self.private_charts.update(&[s.private_charts], now_ut);
    }
}
