//! `BatchBuilder`: walks the store once per interval and formats what one
//! instance sends: which charts and hosts (filters), which points (windows
//! and data sources), and the lines themselves (through a [`Format`]).
//!
//! # Windows
//!
//! Each interval ends at a boundary `before` of the instance's update every.
//! For each chart the builder remembers the grid time of the last point it
//! exported; the chart's window is `(last exported, before]`. So every stored
//! point is exported at most once, a chart slower than the instance is sent
//! only when it has a new point, and a point stored late (a collector that
//! finished after the instance woke) goes out with the next batch instead of
//! being lost. A window without stored points sends nothing. A chart's lines
//! never repeat a timestamp: a point stored after its interval's line went
//! out (a streaming child's round arriving just after the instance woke) is
//! averaged into the next interval, not sent as a second line for a time
//! already sent.
//!
//! * `average`: mean of the window's points, timestamp `before`.
//! * `sum`: sum of the window's points, timestamp `before`.
//! * `as collected`: the last collected raw value of each dimension collected
//!   since the last batch, timestamp = its collection time (seconds).
//!
//! # Replay
//!
//! The per-chart position is also what replay after an outage rests on
//! (see `instance.rs`): building the windows `before` = b, b + update
//! every, ... one after the other sends exactly the windows live export
//! would have sent. A chart whose ring moved past its position (the points
//! after it fell out of the store) has those grid times counted as
//! expired ([`BatchBuilder::take_expired`]) and its position moved to the
//! oldest point still held. [`BatchBuilder::next_pending`] says when the
//! oldest point not exported yet is, so a replay skips windows in which
//! no chart has anything.
//!
//! # Caching
//!
//! Per chart the builder caches the filter decision and each dimension's
//! rendered line head; both are rebuilt only when the chart's generation
//! changes. Host label suffixes are rebuilt when the labels change.

use std::collections::HashMap;
use std::sync::Arc;

use rrd::{Chart, Host, LabelSource, Store, WindowAggregate};
use wire::simple_pattern::SimplePattern;

use wire::format::MetricValue;
use wire::number::{RenderedTimestamp, SevenDecimalUnits};

use super::connectors::{ChartNames, Format, HostContext, VariableSeries};
use crate::config::DataSource;

/// Per-instance settings that decide what goes into a batch.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    pub data_source: DataSource,
    pub prefix: String,
    /// The hostname to send for the local host.
    pub hostname: String,
    pub update_every: u32,
    pub send_names_instead_of_ids: bool,
    pub send_charts_matching: String,
    pub send_hosts_matching: String,
    pub send_configured_labels: bool,
    pub send_automatic_labels: bool,
    /// Legacy `host tags`: extra `key=value` words sent as labels.
    pub host_tags: Vec<(String, String)>,
    /// `send variables` (remote write): each host's custom variables go
    /// out with every batch, as netdata sends them.
    pub send_variables: bool,
}

struct ChartExport {
    chart: Arc<Chart>,
    generation: u64,
    selected: bool,
    names: ChartNames,
    /// Grid time of the newest point exported (stored sources).
    last_exported_t: i64,
    /// The newest timestamp (interval end) lines of this chart went out
    /// with: a point stored after its interval was sent goes into a later
    /// interval's line, never in a second line with the same timestamp.
    last_stamped_t: i64,
    /// Collection time (µs) of the newest collection exported (as collected).
    last_collected_ut: u64,
}

struct HostExport {
    host: Arc<Host>,
    /// What names the host in [`ExportResume`]: `localhost` for the local
    /// host, else its machine GUID (its hostname without one).
    key: String,
    /// The hostname sent for this host.
    hostname: String,
    selected: bool,
    charts: Vec<ChartExport>,
    charts_generation: u64,
    /// The labels `context` was rendered from (`None`: not rendered yet).
    labels: Option<Arc<Vec<rrd::Label>>>,
    context: HostContext,
    /// The series of the host's custom variables sent so far (remote
    /// write with `send variables`), by variable name.
    variable_series: VariableSeries,
}

/// Formats the batches of one instance. Owns its caches; not shared.
pub struct BatchBuilder {
    settings: BatchSettings,
    connector: Format,
    charts_pattern: SimplePattern,
    hosts_pattern: SimplePattern,
    hosts: Vec<HostExport>,
    /// What building a chart reuses and learns.
    work: ChartWork,
    /// Where the previous run of this instance stopped (see
    /// [`BatchBuilder::resume_from`]).
    resume: Option<ExportResume>,
}

/// Where an instance's previous run (before a restart) stopped: every
/// interval up to `delivered_through` was delivered, for the hosts of
/// `hosts` ([`BatchBuilder::exported_hosts`]). A chart of one of those
/// hosts that this run meets for the first time starts after
/// `delivered_through`, so what the store holds since (a streaming
/// child's replicated history) goes out, and the export has no hole
/// across the restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportResume {
    pub delivered_through: i64,
    pub hosts: Vec<String>,
}

/// Late intervals (see [`export_chart`]) one chart sends in one batch at
/// most; the rest goes in the next batches. Bounds a batch after a long
/// outage was replicated, or after a restart: a backlog of an hour goes
/// out over a minute of batches, not in one.
pub const MAX_LATE_INTERVALS_PER_BATCH: i64 = 60;

/// What exporting a chart reuses from chart to chart, and what it learns
/// about the store's positions.
#[derive(Debug, Default)]
struct ChartWork {
    /// Per-dimension window sums of the chart being exported.
    aggregates: Vec<WindowAggregate>,
    progress: Progress,
}

/// Positions learned while building.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    /// Points (grid times × dimensions) that fell out of the store before
    /// they were exported, since the last [`BatchBuilder::take_expired`].
    expired: u64,
    /// The grid time of the oldest stored point not exported yet, after
    /// the last build (`None`: none).
    next_pending: Option<i64>,
}

impl BatchBuilder {
    pub fn new(settings: BatchSettings, connector: Format) -> BatchBuilder {
        BatchBuilder {
            charts_pattern: SimplePattern::new(&settings.send_charts_matching),
            hosts_pattern: SimplePattern::new(&settings.send_hosts_matching),
            settings,
            connector,
            hosts: Vec::new(),
            work: ChartWork::default(),
            resume: None,
        }
    }

    /// Charts of the hosts in `resume` met for the first time start after
    /// its `delivered_through` (not at the current interval).
    pub fn resume_from(&mut self, resume: ExportResume) {
        self.resume = Some(resume);
    }

    /// The keys of the hosts this instance exports (selected), for an
    /// [`ExportResume`] after a restart.
    pub fn exported_hosts(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| h.selected)
            .map(|h| h.key.clone())
            .collect()
    }

    /// Whether the data source is read from the store's rings (`average`,
    /// `sum`), so that missed windows can be built again later; `as
    /// collected` keeps only the last collected value.
    pub fn replays_from_store(&self) -> bool {
        self.settings.data_source != DataSource::AsCollected
    }

    /// Stored points that fell out of the store before they were exported
    /// (grid times × dimensions), since the last call.
    pub fn take_expired(&mut self) -> u64 {
        std::mem::take(&mut self.work.progress.expired)
    }

    /// The grid time of the oldest stored point of a selected chart that
    /// the last [`Self::build`] left unexported (`None`: none).
    pub fn next_pending(&self) -> Option<i64> {
        self.work.progress.next_pending
    }

    pub fn settings(&self) -> &BatchSettings {
        &self.settings
    }

    /// Formats every selected point up to `before` (seconds) into `out`;
    /// returns the number of metric lines written.
    pub fn build(&mut self, store: &Store, before: i64, out: &mut Vec<u8>) -> usize {
        let start_after = before - i64::from(self.settings.update_every.max(1));
        let before_ts = RenderedTimestamp::new(before);
        self.sync_hosts(store);
        self.work.progress.next_pending = None;
        let mut metrics = 0;
        for h in &mut self.hosts {
            if !h.selected {
                continue;
            }
            refresh_host_context(h, &self.settings, self.connector);
            metrics += h.context.write_host_lines(out, &before_ts);
            if self.settings.send_variables {
                let (context, series) = (&h.context, &mut h.variable_series);
                metrics += h.host.with_variables(|table| {
                    context.write_variables(out, &before_ts, table, series)
                });
            }
            let first_after = match &self.resume {
                Some(resume) if resume.hosts.contains(&h.key) => {
                    resume.delivered_through.min(start_after)
                }
                _ => start_after,
            };
            sync_charts(h, first_after);
            let stored = self.settings.data_source != DataSource::AsCollected;
            for i in 0..h.charts.len() {
                // The collector's core last wrote the next charts' locks,
                // states and rows: ask for them while this one is formatted.
                if let Some(ahead) = h.charts.get(i + 2) {
                    ahead.chart.prefetch();
                }
                if let Some(next) = h.charts.get(i + 1) {
                    if stored && next.selected {
                        if let Some(st) = next.chart.try_read() {
                            st.prefetch_row_after(next.last_exported_t);
                        }
                    }
                }
                metrics += export_chart(
                    &mut h.charts[i],
                    &h.context,
                    &self.settings,
                    &self.charts_pattern,
                    &before_ts,
                    out,
                    &mut self.work,
                );
            }
        }
        metrics
    }

    /// Follows the store's host list: new hosts (children that connected)
    /// are added, removed ones (orphans cleaned up) dropped; a host kept
    /// keeps its per-chart export positions.
    fn sync_hosts(&mut self, store: &Store) {
        let hosts = store.hosts();
        if hosts.len() == self.hosts.len()
            && hosts
                .iter()
                .zip(&self.hosts)
                .all(|(host, export)| Arc::ptr_eq(host, &export.host))
        {
            return;
        }
        let mut old = std::mem::take(&mut self.hosts);
        for (i, host) in hosts.into_iter().enumerate() {
            if let Some(position) = old.iter().position(|h| Arc::ptr_eq(&h.host, &host)) {
                self.hosts.push(old.swap_remove(position));
                continue;
            }
            let is_local = i == 0;
            let hostname = if is_local {
                self.settings.hostname.clone()
            } else {
                host.hostname().to_string()
            };
            // The local host is matched under the name `localhost` first,
            // then under its hostname.
            let by_name = self.hosts_pattern.match_result(host.hostname());
            let selected = if is_local {
                self.hosts_pattern.match_result("localhost").or(by_name)
            } else {
                by_name
            }
            .unwrap_or(false);
            let key = if is_local {
                "localhost".to_string()
            } else {
                host.machine_guid().unwrap_or(host.hostname()).to_string()
            };
            self.hosts.push(HostExport {
                key,
                selected,
                charts: Vec::new(),
                charts_generation: 0,
                labels: None,
                variable_series: VariableSeries::default(),
                context: HostContext::new(
                    self.connector,
                    &self.settings.prefix,
                    &hostname,
                    None,
                    self.settings.data_source,
                ),
                hostname,
                host,
            });
        }
    }
}

fn refresh_host_context(h: &mut HostExport, settings: &BatchSettings, connector: Format) {
    let labels = h.host.labels();
    if h.labels
        .as_ref()
        .is_some_and(|old| Arc::ptr_eq(old, &labels))
    {
        return;
    }
    let mut selected: Vec<(&str, &str)> = labels
        .iter()
        .filter(|l| match l.source {
            LabelSource::Configured => settings.send_configured_labels,
            LabelSource::Automatic => settings.send_automatic_labels,
        })
        .map(|l| (l.key.as_str(), l.value.as_str()))
        .collect();
    selected.extend(
        settings
            .host_tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let sending = settings.send_configured_labels
        || settings.send_automatic_labels
        || !settings.host_tags.is_empty();
    h.context = HostContext::new(
        connector,
        &settings.prefix,
        &h.hostname,
        sending.then_some(selected.as_slice()),
        settings.data_source,
    );
    h.labels = Some(labels);
    // Names embed the host's pieces: render every chart again.
    for ce in &mut h.charts {
        ce.generation = 0;
    }
}

fn sync_charts(h: &mut HostExport, start_after: i64) {
    let generation = h.host.charts_generation();
    if generation == h.charts_generation {
        return;
    }
    h.charts_generation = generation;
    let charts = h.host.charts();
    let new_export = |chart| ChartExport {
        chart,
        generation: 0,
        selected: false,
        names: ChartNames::None,
        last_exported_t: start_after,
        last_stamped_t: start_after,
        last_collected_ut: (start_after.max(0) as u64) * 1_000_000,
    };
    let only_added = charts.len() >= h.charts.len()
        && h.charts
            .iter()
            .zip(&charts)
            .all(|(known, now)| Arc::ptr_eq(&known.chart, now));
    if only_added {
        let known = h.charts.len();
        h.charts
            .extend(charts.into_iter().skip(known).map(new_export));
        return;
    }
    // Charts were removed (or put back): keep what is known of the ones
    // still there, in the host's order, and forget the rest.
    let mut known: HashMap<*const Chart, ChartExport> = h
        .charts
        .drain(..)
        .map(|ce| (Arc::as_ptr(&ce.chart), ce))
        .collect();
    h.charts = charts
        .into_iter()
        .map(|chart| {
            known
                .remove(&Arc::as_ptr(&chart))
                .unwrap_or_else(|| new_export(chart))
        })
        .collect();
}

fn export_chart(
    ce: &mut ChartExport,
    host: &HostContext,
    settings: &BatchSettings,
    pattern: &SimplePattern,
    before_ts: &RenderedTimestamp,
    out: &mut Vec<u8>,
    work: &mut ChartWork,
) -> usize {
    let ChartWork {
        aggregates,
        progress,
    } = work;
    let before = before_ts.value();
    let st = ce.chart.read();
    if st.generation() != ce.generation {
        ce.generation = st.generation();
        ce.selected = pattern.matches(st.id()) || pattern.matches(st.name());
        ce.names = if ce.selected {
            let names = settings.send_names_instead_of_ids;
            let chart_part = if names { st.name() } else { st.id() };
            ChartNames::render(host, &st, chart_part, names)
        } else {
            ChartNames::None
        };
    }
    if !ce.selected {
        return 0;
    }
    let mut lines = 0;
    match settings.data_source {
        DataSource::AsCollected => {
            let mut newest = ce.last_collected_ut;
            for (i, d) in st.dimensions().iter().enumerate() {
                let Some((raw, t_ut)) = d.last_collected() else {
                    continue;
                };
                if t_ut <= ce.last_collected_ut {
                    continue;
                }
                newest = newest.max(t_ut);
                let ts = RenderedTimestamp::new((t_ut / 1_000_000) as i64);
                lines += usize::from(ce.names.write_line(
                    out,
                    host,
                    i,
                    MetricValue::Collected(raw),
                    &ts,
                ));
            }
            ce.last_collected_ut = newest;
        }
        DataSource::Average | DataSource::Sum => {
            progress.expired += expire_lost_points(&mut ce.last_exported_t, &st);
            let sum = settings.data_source == DataSource::Sum;
            let ue = i64::from(settings.update_every.max(1));
            // The first interval end this chart has not been sent with:
            // points stored after their interval went out (a child's
            // round that arrived just after the instance woke) are
            // averaged into the next interval, never sent as a second
            // line with a timestamp already sent.
            let from = ce.last_exported_t.max(ce.last_stamped_t);
            if before <= ce.last_stamped_t {
                return lines;
            }
            // Intervals with nothing stored are not walked: the first late
            // interval is the one of the oldest point not exported yet (a
            // position from before a long stop does not hold up the live
            // lines).
            let from = if before - from > ue {
                match next_pending_t(ce.last_exported_t, &st) {
                    Some(next) => from.max((next + ue - 1).div_euclid(ue) * ue - ue),
                    None => before - ue,
                }
            } else {
                from
            };
            if before - from > ue {
                // More than one interval pending: points that arrived late
                // (replicated from a streaming child, a collector that
                // caught up, a late wake-up). One line per interval, at its
                // own end, as they would have gone out live, instead of one
                // average over all of them; at most
                // MAX_LATE_INTERVALS_PER_BATCH of them in this batch.
                let pending = (before - from - 1) / ue;
                let mut end = before - pending * ue;
                let stop = end + pending.min(MAX_LATE_INTERVALS_PER_BATCH) * ue;
                while end < stop {
                    let end_ts = RenderedTimestamp::new(end);
                    let written = export_window(
                        &mut ce.last_exported_t,
                        &ce.names,
                        &st,
                        host,
                        sum,
                        &end_ts,
                        out,
                        aggregates,
                    );
                    if written > 0 {
                        ce.last_stamped_t = end;
                    }
                    lines += written;
                    end += ue;
                }
                if stop < before {
                    // More late intervals than a batch takes: the rest,
                    // and this interval after them, go in the next batches.
                    progress.next_pending =
                        Some(progress.next_pending.map_or(stop, |p| p.min(stop)));
                    return lines;
                }
            }
            let written = export_window(
                &mut ce.last_exported_t,
                &ce.names,
                &st,
                host,
                sum,
                before_ts,
                out,
                aggregates,
            );
            if written > 0 {
                ce.last_stamped_t = before;
            }
            lines += written;
            if let Some(next) = next_pending_t(ce.last_exported_t, &st) {
                progress.next_pending = Some(progress.next_pending.map_or(next, |p| p.min(next)));
            }
        }
    }
    lines
}

/// Writes the lines of the chart's points in `(last exported, before]`,
/// stamped `before`, and moves the chart's position past them.
#[allow(clippy::too_many_arguments)]
fn export_window(
    last_exported_t: &mut i64,
    names: &ChartNames,
    st: &rrd::ChartState,
    host: &HostContext,
    sum: bool,
    before_ts: &RenderedTimestamp,
    out: &mut Vec<u8>,
    aggregates: &mut Vec<WindowAggregate>,
) -> usize {
    let Some(window) = st.window(*last_exported_t, before_ts.value()) else {
        return 0;
    };
    *last_exported_t = window.last_t();
    if window.count == 1 {
        // One point (the instance as fast as the chart): its value is
        // the average and the sum, straight from the row; text formats
        // take its exact decimal (the same text as from the double).
        let exact = names.writes_text();
        let values = st
            .row(window.first_slot)
            .iter()
            .enumerate()
            .filter(|(_, sample)| sample.exists())
            .map(|(i, &sample)| (i, one_point_value(sample, exact)));
        names.write_lines(out, host, before_ts, values)
    } else {
        st.aggregate_all(&window, aggregates);
        let values = aggregates
            .iter()
            .enumerate()
            .filter(|(_, agg)| agg.count > 0)
            .map(|(i, agg)| {
                let value = if sum || agg.count == 1 {
                    agg.sum
                } else {
                    agg.sum / agg.count as f64
                };
                (i, MetricValue::Stored(value))
            });
        names.write_lines(out, host, before_ts, values)
    }
}

/// The value of a one-point window: the stored point's exact decimal when
/// `exact` and it has one (below 10^8), else its double.
#[inline(always)]
fn one_point_value(sample: rrd::PackedSample, exact: bool) -> MetricValue {
    if exact {
        if let Some(units) = sample
            .ten_millionths()
            .and_then(|(negative, units)| SevenDecimalUnits::new(negative, units))
        {
            return MetricValue::Exact(units);
        }
    }
    MetricValue::Stored(sample.summand())
}

/// When the chart's ring is full and its oldest point is newer than the
/// first grid time after the chart's position, the points in between fell
/// out of the store unexported: moves the position to just before the
/// oldest point held and returns how many points (grid times × dimensions)
/// were lost.
fn expire_lost_points(last_exported_t: &mut i64, st: &rrd::ChartState) -> u64 {
    let (Some(first), Some(last)) = (st.first_entry_t(), st.last_entry_t()) else {
        return 0;
    };
    let ue = i64::from(st.update_every().max(1));
    let full = (last - first) / ue + 1 >= st.history() as i64;
    let next = (last_exported_t.div_euclid(ue) + 1) * ue;
    if !full || next >= first {
        return 0;
    }
    *last_exported_t = first - ue;
    ((first - next) / ue) as u64 * st.dimensions().len() as u64
}

/// The grid time of the chart's oldest stored point after `after`.
fn next_pending_t(after: i64, st: &rrd::ChartState) -> Option<i64> {
    let (first, last) = (st.first_entry_t()?, st.last_entry_t()?);
    let ue = i64::from(st.update_every().max(1));
    let next = ((after.div_euclid(ue) + 1) * ue).max(first);
    (next <= last).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rrd::PackedSample;

    /// The text of `value` as netdata writes a stored value.
    fn text(value: MetricValue) -> Vec<u8> {
        let mut buf = Vec::new();
        value.write(&mut buf);
        buf
    }

    /// Checks that a one-point window's exact decimal writes the bytes its
    /// double writes.
    fn check(bits: u32) -> Result<(), TestCaseError> {
        let sample = PackedSample::from_bits(bits);
        prop_assume!(sample.exists());
        let float = text(MetricValue::Stored(sample.summand()));
        let exact = text(one_point_value(sample, true));
        prop_assert_eq!(
            String::from_utf8_lossy(&exact),
            String::from_utf8_lossy(&float),
            "bits {:#010x}",
            bits
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn a_point_writes_the_same_text_exactly_as_from_its_double(bits in any::<u32>()) {
            check(bits | (1 << 24))?;
        }

        #[test]
        fn packed_values_write_the_same_text_exactly_as_from_their_double(
            value in prop_oneof![
                -2e8f64..2e8,
                -1.0f64..1.0,
                (-100_000_000i64..100_000_000).prop_map(|v| v as f64 / 1000.0),
                (0u32..24).prop_map(|e| 10f64.powi(e as i32 - 8)),
                (0u32..24).prop_map(|e| 10f64.powi(e as i32 - 8) - 1e-7),
            ]
        ) {
            check(PackedSample::pack(value).to_bits())?;
        }
    }

    #[test]
    fn every_mantissa_of_some_exponents_writes_the_same_text() {
        // Every mantissa near the exponents' edges, all signs and scales.
        for top in 0u32..32 {
            for mantissa in (0u32..4096).chain((1 << 24) - 4096..1 << 24) {
                check((top << 27) | (1 << 24) | mantissa).unwrap();
            }
        }
    }
}
