//! The statsd metrics database: every metric received, per type, what it
//! gathered since the last flush ([`Metrics::ingest`]), and the flush that
//! turns that into netdata's private charts ([`Metrics::flush`]) with
//! netdata 1.37's arithmetic (see the module docs of `super`).
//!
//! Pure: no sockets, no clock; the server thread feeds it packets, the flush
//! thread calls [`Metrics::flush`] with the collection time.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher as _;

/// The hash of the metric indexes, sets and dictionaries: foldhash, seeded
/// per process (SipHash was a quarter of the ingest time).
type FastHash = foldhash::fast::RandomState;
use std::sync::Arc;

use rrd::{Algorithm, Chart, ChartDef, ChartType, DimIndex, DimensionDef, Host};
use wire::simple_pattern::SimplePattern;
use wire::statsd::{self, MetricType, StatsdError, TagMeta, Update};

use super::apps::{AppCharts, MetricValues};

/// netdata's priority of statsd private charts.
pub const PRIVATE_CHART_PRIORITY: i64 = 90_000;
/// The plugin name netdata gives statsd charts.
pub const STATSD_PLUGIN: &str = "statsd.plugin";
/// netdata's `RRD_ID_LENGTH_MAX`: chart ids, contexts and titles are cut
/// to this many bytes.
const ID_LENGTH_MAX: usize = 200;
/// Values a timer or histogram keeps per flush interval; beyond, samples
/// are dropped and counted (netdata grows without bound).
pub const MAX_SAMPLES_PER_INTERVAL: usize = 1 << 20;
/// Members a set keeps per flush interval (netdata: unbounded).
pub const MAX_SET_MEMBERS: usize = 1 << 20;

/// What the flush needs from `[statsd]`.
#[derive(Clone, Debug)]
pub struct MetricsSettings {
    pub update_every: u32,
    pub decimal_detail: i64,
    pub percentile: f64,
    pub dictionary_max_unique: usize,
    pub events_dimension: bool,
    /// `gaps on ...`, in [`MetricType::ALL`] order.
    pub gaps: [bool; 7],
    pub max_metrics: usize,
    pub private_charts_matching: SimplePattern,
    pub max_private_charts: usize,
    /// `private charts hidden`: private charts are exported but left out
    /// of `/api/v1/charts`.
    pub private_charts_hidden: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            update_every: 1,
            decimal_detail: 1000,
            percentile: 95.0,
            dictionary_max_unique: 200,
            events_dimension: false,
            gaps: [false; 7],
            max_metrics: 100_000,
            private_charts_matching: SimplePattern::new("*"),
            max_private_charts: 1000,
            private_charts_hidden: false,
        }
    }
}

/// The server's own counters, charted under `netdata.statsd_*`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub unknown_types: u64,
    /// netdata's "errors": socket errors, unterminated TCP data at close;
    /// backhaul adds oversized packets and lines, and metrics over `max
    /// metrics`.
    pub errors: u64,
    pub tcp_reads: u64,
    pub tcp_packets: u64,
    pub tcp_bytes: u64,
    pub udp_reads: u64,
    pub udp_packets: u64,
    pub udp_bytes: u64,
    pub tcp_connects: u64,
    pub tcp_disconnects: u64,
    pub tcp_connected: u64,
}

/// Problems met while reading one packet, for the caller's (rate-limited)
/// log: how many, and the first one.
#[derive(Debug, Default)]
pub struct IngestReport {
    pub problems: u64,
    pub first: Option<String>,
}

impl IngestReport {
    fn note(&mut self, what: impl FnOnce() -> String) {
        self.problems += 1;
        if self.first.is_none() {
            self.first = Some(what());
        }
    }
}

/// The histogram/timer values of the last flush, in stored units
/// (× decimal detail).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistogramLast {
    pub min: i64,
    pub max: i64,
    pub percentile: i64,
    pub median: i64,
    pub stddev: i64,
    pub sum: i64,
}

#[derive(Debug)]
enum Data {
    Gauge(f64),
    Counter(i64),
    Histogram {
        values: Vec<f64>,
        last: HistogramLast,
        zeroed: bool,
    },
    /// A set needs only its number of distinct members: each member is
    /// kept as its 64-bit hash (no allocation per member; two members
    /// count as one only on a 64-bit collision).
    Set(HashSet<u64, FastHash>),
    Dictionary {
        /// Members and their counts (never reset), in order of arrival.
        members: Vec<(String, i64)>,
        index: HashMap<Box<[u8]>, usize, FastHash>,
        full_logged: bool,
    },
}

/// One metric.
#[derive(Debug)]
pub struct Metric {
    name: String,
    metric_type: MetricType,
    meta: TagMeta,
    /// Samples ever received (netdata's `events`).
    events: i64,
    /// Samples since the last flush.
    count: u64,
    /// The flush asked for a reset before the next sample.
    reset: bool,
    checked: bool,
    useful: bool,
    private_chart: bool,
    used_in_apps: bool,
    gaps: bool,
    data: Data,
    /// The value sent to the chart: gauges × decimal detail, counters'
    /// totals, sets' unique count, histograms' average × decimal detail.
    last: i64,
    chart: Option<PrivateChart>,
}

impl Metric {
    /// The values a synthetic chart's dimension may take from this metric.
    pub fn values(&self) -> MetricValues {
        let hist = match &self.data {
            Data::Histogram { last, .. } => Some(*last),
            _ => None,
        };
        MetricValues {
            events: self.events,
            last: self.last,
            histogram: hist,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn metric_type(&self) -> MetricType {
        self.metric_type
    }
}

#[derive(Debug)]
struct PrivateChart {
    chart: Arc<Chart>,
    /// The value dimensions (per type: see `private_dims`), then `events`.
    dims: Vec<DimIndex>,
    events: Option<DimIndex>,
    /// Dictionary members already given a dimension.
    dict_dims: usize,
}

/// Bytes of a metric name kept inside the index's table.
const INLINE_NAME: usize = 31;

/// A metric name as the index keeps it: short names inside the table
/// itself, so a lookup compares bytes already at hand instead of following
/// a pointer to the heap (a cache miss per line on a busy server).
#[derive(Clone, Debug)]
enum NameKey {
    Inline { len: u8, bytes: [u8; INLINE_NAME] },
    Heap(Box<[u8]>),
}

impl NameKey {
    fn new(name: &[u8]) -> NameKey {
        if name.len() <= INLINE_NAME {
            let mut bytes = [0; INLINE_NAME];
            bytes[..name.len()].copy_from_slice(name);
            NameKey::Inline {
                len: name.len() as u8,
                bytes,
            }
        } else {
            NameKey::Heap(name.into())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            NameKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            NameKey::Heap(b) => b,
        }
    }
}

// Hash and equality are the name's bytes', so `&[u8]` looks a key up.
impl std::hash::Hash for NameKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for NameKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for NameKey {}

impl std::borrow::Borrow<[u8]> for NameKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[derive(Debug, Default)]
struct Index {
    names: HashMap<NameKey, usize, FastHash>,
    metrics: Vec<Metric>,
    /// Lines of this type received (netdata counts even those whose value
    /// is ignored).
    events: u64,
    useful: u64,
    /// Metrics before this position have been checked.
    checked: usize,
}

/// The statsd metrics database.
#[derive(Debug)]
pub struct Metrics {
    settings: MetricsSettings,
    indexes: [Index; 7],
    pub stats: ServerStats,
    private_charts: u64,
    apps: AppCharts,
    percentile_name: String,
    /// Hashes set members (seeded per process).
    member_hash: FastHash,
}

fn type_slot(t: MetricType) -> usize {
    MetricType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

fn cut(mut s: String) -> String {
    if s.len() > ID_LENGTH_MAX {
        let mut end = ID_LENGTH_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// netdata's private chart type and id for a metric: `statsd_` and the
/// name's first word (up to the first `.` or `_`), then the rest of the
/// name and `_TYPE`, or `TYPE` alone; both made chart-id safe.
pub fn private_chart_type_and_id(name: &str, metric_type: &str) -> (String, String) {
    let name = cut(name.to_string());
    let (first, rest) = match name.find(['.', '_']) {
        Some(at) => (&name[..at], &name[at + 1..]),
        None => (name.as_str(), ""),
    };
    let type_ = cut(format!("statsd_{first}"));
    let id = if rest.is_empty() {
        metric_type.to_string()
    } else {
        cut(format!("{rest}_{metric_type}"))
    };
    (
        rrd::def::fix_chart_name(&type_),
        rrd::def::fix_chart_name(&id),
    )
}

impl Metrics {
    pub fn new(settings: MetricsSettings, apps: AppCharts) -> Metrics {
        let percentile_name = format!("{:.1}%", settings.percentile);
        Metrics {
            settings,
            indexes: Default::default(),
            stats: ServerStats::default(),
            private_charts: 0,
            apps,
            percentile_name,
            member_hash: FastHash::default(),
        }
    }

    pub fn settings(&self) -> &MetricsSettings {
        &self.settings
    }

    /// Metrics known, per type (in [`MetricType::ALL`] order).
    pub fn metric_counts(&self) -> [u64; 7] {
        std::array::from_fn(|i| self.indexes[i].metrics.len() as u64)
    }

    /// Metrics that feed a chart, per type.
    pub fn useful_counts(&self) -> [u64; 7] {
        std::array::from_fn(|i| self.indexes[i].useful)
    }

    /// Lines received, per type.
    pub fn event_counts(&self) -> [u64; 7] {
        std::array::from_fn(|i| self.indexes[i].events)
    }

    pub fn private_charts(&self) -> u64 {
        self.private_charts
    }

    /// The metric `name` of type `t`, if known.
    pub fn metric(&self, t: MetricType, name: &str) -> Option<&Metric> {
        let index = &self.indexes[type_slot(t)];
        index.names.get(name.as_bytes()).map(|&i| &index.metrics[i])
    }

    /// Reads every line of a packet (or of a TCP stream's complete lines)
    /// into the metrics.
    pub fn ingest(&mut self, packet: &[u8], report: &mut IngestReport) {
        for raw in statsd::lines(packet) {
            match statsd::read_line(&raw) {
                Ok(line) => {
                    if line.excess {
                        report.note(|| {
                            format!(
                                "excess data after the value of '{}'",
                                String::from_utf8_lossy(raw.name)
                            )
                        });
                    }
                    self.apply(
                        line.name,
                        line.metric_type,
                        Some(line.update),
                        line.tags,
                        report,
                    );
                }
                Err(StatsdError::EmptyValue(t)) => {
                    report.note(|| {
                        format!(
                            "metric '{}': {}",
                            String::from_utf8_lossy(raw.name),
                            StatsdError::EmptyValue(t)
                        )
                    });
                    self.apply(raw.name, t, None, raw.tags, report);
                }
                Err(error) => {
                    self.stats.unknown_types += 1;
                    report.note(|| {
                        format!("metric '{}': {error}", String::from_utf8_lossy(raw.name))
                    });
                }
            }
        }
    }

    fn apply(
        &mut self,
        name: &[u8],
        t: MetricType,
        update: Option<Update<'_>>,
        tags: Option<&[u8]>,
        report: &mut IngestReport,
    ) {
        let slot = type_slot(t);
        let index = &mut self.indexes[slot];
        index.events += 1;
        let at = match index.names.get(name) {
            Some(&at) => at,
            None => {
                let total: usize = self.indexes.iter().map(|i| i.metrics.len()).sum();
                if total >= self.settings.max_metrics {
                    self.stats.errors += 1;
                    report.note(|| {
                        format!(
                            "metric '{}' dropped: [statsd] max metrics ({}) reached",
                            String::from_utf8_lossy(name),
                            self.settings.max_metrics
                        )
                    });
                    return;
                }
                let index = &mut self.indexes[slot];
                let data = match t {
                    MetricType::Gauge => Data::Gauge(0.0),
                    MetricType::Counter | MetricType::Meter => Data::Counter(0),
                    MetricType::Timer | MetricType::Histogram => Data::Histogram {
                        values: Vec::new(),
                        last: HistogramLast::default(),
                        zeroed: false,
                    },
                    MetricType::Set => Data::Set(HashSet::default()),
                    MetricType::Dictionary => Data::Dictionary {
                        members: Vec::new(),
                        index: HashMap::default(),
                        full_logged: false,
                    },
                };
                index.metrics.push(Metric {
                    name: String::from_utf8_lossy(name).into_owned(),
                    metric_type: t,
                    meta: TagMeta::default(),
                    events: 0,
                    count: 0,
                    reset: false,
                    checked: false,
                    useful: false,
                    private_chart: false,
                    used_in_apps: false,
                    gaps: self.settings.gaps[slot],
                    data,
                    last: 0,
                    chart: None,
                });
                let at = index.metrics.len() - 1;
                index.names.insert(NameKey::new(name), at);
                at
            }
        };
        let dictionary_max = self.settings.dictionary_max_unique;
        let m = &mut self.indexes[slot].metrics[at];
        if let Some(tags) = tags {
            m.meta.absorb(tags);
        }
        // Once checked, a metric no chart uses gathers nothing.
        if m.checked && !m.useful {
            return;
        }
        let Some(update) = update else {
            return;
        };
        if m.reset {
            m.reset = false;
            m.count = 0;
            match &mut m.data {
                Data::Histogram { values, .. } => values.clear(),
                Data::Set(members) => members.clear(),
                _ => {}
            }
        }
        match (update, &mut m.data) {
            (Update::Init, _) => return,
            (Update::GaugeSet(v), Data::Gauge(g)) => *g = v,
            (Update::GaugeAdd(v), Data::Gauge(g)) => *g += v,
            (Update::Count(n), Data::Counter(c)) => *c = c.wrapping_add(n),
            (Update::Sample { value, times }, Data::Histogram { values, .. }) => {
                let room = MAX_SAMPLES_PER_INTERVAL.saturating_sub(values.len());
                let times = (times as usize).min(room);
                if times == 0 {
                    self.stats.errors += 1;
                    return;
                }
                values.extend(std::iter::repeat_n(value, times));
            }
            (Update::Member(member), Data::Set(members)) => {
                let hash = self.member_hash.hash_one(member);
                if !members.contains(&hash) {
                    if members.len() >= MAX_SET_MEMBERS {
                        self.stats.errors += 1;
                        return;
                    }
                    members.insert(hash);
                }
            }
            (Update::Member(member), Data::Dictionary { members, index, .. }) => {
                let at = match index.get(member) {
                    Some(&at) => at,
                    None => {
                        let key: &[u8] = if members.len() >= dictionary_max {
                            b"other"
                        } else {
                            member
                        };
                        match index.get(key) {
                            Some(&at) => at,
                            None => {
                                members.push((String::from_utf8_lossy(key).into_owned(), 0));
                                index.insert(key.into(), members.len() - 1);
                                members.len() - 1
                            }
                        }
                    }
                };
                members[at].1 += 1;
            }
            // read_line pairs every update with its type.
            _ => return,
        }
        m.events += 1;
        m.count += 1;
    }

    /// One flush at `now_ut`: checks new metrics (private chart or not,
    /// used by a synthetic chart or not), computes each useful metric's
    /// values and completes its private chart, then the synthetic charts.
    pub fn flush(&mut self, host: &Host, now_ut: u64) {
        for t in MetricType::ALL {
            self.check_new(t);
            let slot = type_slot(t);
            let settings = &self.settings;
            let percentile_name = &self.percentile_name;
            let index = &mut self.indexes[slot];
            for m in index.metrics.iter_mut().filter(|m| m.useful) {
                let updated = flush_values(m, settings);
                if m.private_chart && (updated || !m.gaps) {
                    if m.chart.is_none() {
                        self.private_charts += 1;
                    }
                    update_private_chart(m, settings, percentile_name, host, now_ut);
                }
            }
        }
        let indexes = &self.indexes;
        self.apps
            .update(host, now_ut, self.settings.update_every, &|t, name| {
                let index = &indexes[type_slot(t)];
                index
                    .names
                    .get(name.as_bytes())
                    .map(|&i| index.metrics[i].values())
            });
    }

    fn check_new(&mut self, t: MetricType) {
        let slot = type_slot(t);
        let private_charts = self.private_charts;
        let settings = &self.settings;
        let apps = &mut self.apps;
        let index = &mut self.indexes[slot];
        for m in &mut index.metrics[index.checked..] {
            if let Some(app) = apps.claim(t, &m.name, settings.decimal_detail) {
                m.private_chart = app.private_charts;
                m.gaps = app.gaps;
                m.used_in_apps = app.used;
            } else if private_charts >= settings.max_private_charts as u64 {
                tracing::info!(
                    metric = %m.name,
                    limit = settings.max_private_charts,
                    "statsd: metric not charted: the hard limit of private charts is reached \
                     (raise [statsd] max private charts hard limit)"
                );
                m.private_chart = false;
            } else {
                m.private_chart = settings.private_charts_matching.matches(&m.name);
            }
            m.checked = true;
            if (m.private_chart || m.used_in_apps) && !m.useful {
                m.useful = true;
                index.useful += 1;
            }
        }
        index.checked = index.metrics.len();
    }
}

/// Computes a metric's chart values for this flush; true when it was
/// collected since the last one.
fn flush_values(m: &mut Metric, settings: &MetricsSettings) -> bool {
    let detail = settings.decimal_detail;
    let collected = !m.reset && m.count > 0;
    match &mut m.data {
        Data::Gauge(value) => {
            if collected {
                m.last = (*value * detail as f64) as i64;
            }
        }
        Data::Counter(total) => {
            if collected {
                m.last = *total;
            }
        }
        Data::Set(members) => {
            m.last = if collected { members.len() as i64 } else { 0 };
        }
        Data::Dictionary {
            members,
            full_logged,
            ..
        } => {
            m.last = if collected { members.len() as i64 } else { 0 };
            if members.len() >= settings.dictionary_max_unique && !*full_logged {
                *full_logged = true;
                tracing::info!(
                    dictionary = %m.name,
                    members = members.len(),
                    "statsd: dictionary reached its maximum of unique members (raise [statsd] \
                     dictionaries max unique dimensions)"
                );
            }
        }
        Data::Histogram {
            values,
            last,
            zeroed,
        } => {
            if collected && !values.is_empty() {
                values.sort_unstable_by(f64::total_cmp);
                let stats = histogram_stats(values, settings.percentile);
                let scale = |v: f64| (v * detail as f64).round() as i64;
                *last = HistogramLast {
                    min: scale(stats.min),
                    max: scale(stats.max),
                    percentile: if stats.percentile_rounded {
                        scale(stats.percentile)
                    } else {
                        (stats.percentile * detail as f64) as i64
                    },
                    median: scale(stats.median),
                    stddev: scale(stats.stddev),
                    sum: scale(stats.sum),
                };
                m.last = scale(stats.average);
                *zeroed = false;
                m.reset = true;
                return true;
            }
            if !*zeroed {
                *last = HistogramLast::default();
                m.last = 0;
                *zeroed = true;
            }
            return false;
        }
    }
    if collected {
        m.reset = true;
    }
    collected
}

/// Statistics of a sorted, non-empty series, as netdata computes them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistogramStats {
    pub min: f64,
    pub max: f64,
    pub average: f64,
    pub median: f64,
    /// Population standard deviation; netdata's is the value itself for a
    /// single sample.
    pub stddev: f64,
    pub sum: f64,
    pub percentile: f64,
    /// netdata rounds the percentile, except when it takes the minimum (a
    /// series too short for the percentile).
    pub percentile_rounded: bool,
}

/// netdata's statistics of a sorted series (`len >= 1`).
pub fn histogram_stats(sorted: &[f64], percentile: f64) -> HistogramStats {
    let len = sorted.len();
    let sum: f64 = sorted.iter().sum();
    let average = sum / len as f64;
    let median = if len % 2 == 1 {
        sorted[len / 2]
    } else {
        (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0
    };
    let stddev = if len == 1 {
        sorted[0]
    } else {
        let variance = sorted
            .iter()
            .map(|v| (v - average) * (v - average))
            .sum::<f64>()
            / len as f64;
        variance.sqrt()
    };
    let pct_len = (len as f64 * percentile / 100.0).floor() as usize;
    let (percentile, percentile_rounded) = if pct_len < 1 {
        (sorted[0], false)
    } else {
        (sorted[pct_len.min(len) - 1], true)
    };
    HistogramStats {
        min: sorted[0],
        max: sorted[len - 1],
        average,
        median,
        stddev,
        sum,
        percentile,
        percentile_rounded,
    }
}

fn private_chart_def(m: &Metric, settings: &MetricsSettings) -> ChartDef {
    let word = m.metric_type.as_str();
    let (type_, id) = private_chart_type_and_id(&m.name, word);
    let context = cut(format!("{type_}.{id}"));
    let (units, chart_type) = match m.metric_type {
        MetricType::Gauge => ("value", ChartType::Line),
        MetricType::Counter | MetricType::Meter => ("events/s", ChartType::Area),
        MetricType::Set => ("entries", ChartType::Line),
        MetricType::Dictionary => ("events/s", ChartType::Stacked),
        MetricType::Timer => ("milliseconds", ChartType::Area),
        MetricType::Histogram => ("value", ChartType::Area),
    };
    let mut def = ChartDef::new(type_, id)
        .family(
            m.meta
                .family
                .clone()
                .unwrap_or_else(|| m.metric_type.plural().to_string()),
        )
        .context(context)
        .title(cut(format!("statsd private chart for {word} {}", m.name)))
        .units(m.meta.units.clone().unwrap_or_else(|| units.to_string()))
        .chart_type(chart_type)
        .priority(PRIVATE_CHART_PRIORITY)
        .update_every(settings.update_every);
    def.plugin = STATSD_PLUGIN.to_string();
    def.module = "private_chart".to_string();
    def.hidden = settings.private_charts_hidden;
    def
}

fn private_dims(
    m: &Metric,
    settings: &MetricsSettings,
    percentile_name: &str,
) -> Vec<DimensionDef> {
    let detail = settings.decimal_detail;
    let named =
        |d: DimensionDef, default: Option<&str>| match m.meta.dimension_name.as_deref().or(default)
        {
            Some(name) => d.name(name),
            None => d,
        };
    let absolute = |id: &str, divisor: i64| {
        DimensionDef::new(id)
            .algorithm(Algorithm::Absolute)
            .divisor(divisor)
    };
    match m.metric_type {
        MetricType::Gauge => vec![named(absolute("gauge", detail), None)],
        MetricType::Counter | MetricType::Meter => vec![named(
            DimensionDef::new(m.metric_type.as_str()).algorithm(Algorithm::Incremental),
            None,
        )],
        MetricType::Set => vec![named(absolute("set", 1), Some("unique"))],
        MetricType::Dictionary => Vec::new(),
        MetricType::Timer | MetricType::Histogram => vec![
            absolute("min", detail),
            absolute("max", detail),
            absolute("average", detail),
            absolute(percentile_name, detail),
            absolute("median", detail),
            absolute("stddev", detail),
        ],
    }
}

fn update_private_chart(
    m: &mut Metric,
    settings: &MetricsSettings,
    percentile_name: &str,
    host: &Host,
    now_ut: u64,
) {
    if m.chart.is_none() {
        let chart = host.create_chart(private_chart_def(m, settings));
        let mut writer = chart.write();
        let dims = private_dims(m, settings, percentile_name)
            .into_iter()
            .map(|d| writer.add_dimension(d))
            .collect();
        let events = (settings.events_dimension).then(|| {
            writer.add_dimension(DimensionDef::new("events").algorithm(Algorithm::Incremental))
        });
        drop(writer);
        m.chart = Some(PrivateChart {
            chart,
            dims,
            events,
            dict_dims: 0,
        });
    }
    let Some(pc) = m.chart.as_mut() else {
        return;
    };
    let mut writer = pc.chart.write();
    match &m.data {
        Data::Histogram { last, .. } => {
            let values = [
                last.min,
                last.max,
                m.last,
                last.percentile,
                last.median,
                last.stddev,
            ];
            for (&dim, value) in pc.dims.iter().zip(values) {
                writer.set(dim, value);
            }
        }
        Data::Dictionary { members, .. } => {
            // New members get their dimensions newest first, as netdata's
            // dictionary walks them; `dims` stays in member order.
            let start = pc.dict_dims;
            let mut added = vec![None; members.len() - start];
            for (slot, (name, _)) in added.iter_mut().zip(&members[start..]).rev() {
                *slot = Some(writer.add_dimension(
                    DimensionDef::new(name.as_str()).algorithm(Algorithm::Incremental),
                ));
            }
            pc.dims.extend(added.into_iter().flatten());
            pc.dict_dims = members.len();
            for (&dim, (_, count)) in pc.dims.iter().zip(members) {
                writer.set(dim, *count);
            }
        }
        _ => {
            if let Some(&dim) = pc.dims.first() {
                writer.set(dim, m.last);
            }
        }
    }
    if let Some(dim) = pc.events {
        writer.set(dim, m.events);
    }
    let _ = writer.done(now_ut);
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
