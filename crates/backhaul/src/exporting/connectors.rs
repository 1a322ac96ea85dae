//! `Connector`: the line format of an instance (graphite plaintext, opentsdb
//! telnet, json lines), and the caches that make a line cheap: a host's
//! rendered labels and head (`HostContext`) and a chart's rendered metric
//! names (`ChartNames`).
//!
//! Every byte-level rule (sanitizers, value formatting, JSON escaping, the
//! line layout) lives in `wire::format`; this module only decides which
//! strings go in (ids or names, which labels) and caches the results.

use rrd::ChartState;
use wire::format::{graphite, json, opentsdb, MetricValue};
use wire::number::RenderedTimestamp;

use crate::config::ConnectorType;

/// The line format an instance speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// `PREFIX.HOST.CHART.DIM[;k=v...] VALUE TIMESTAMP`
    Graphite,
    /// `put PREFIX.CHART.DIM TIMESTAMP VALUE host=HOST[ k=v...]`
    Opentsdb,
    /// One JSON object per line.
    Json,
}

impl Connector {
    /// The connector for a configured type, if backhaul speaks it.
    pub fn for_type(t: ConnectorType) -> Option<Connector> {
        match t {
            ConnectorType::Graphite | ConnectorType::GraphitePlaintext => Some(Connector::Graphite),
            ConnectorType::Opentsdb | ConnectorType::OpentsdbTelnet => Some(Connector::Opentsdb),
            ConnectorType::Json | ConnectorType::JsonPlaintext => Some(Connector::Json),
            _ => None,
        }
    }
}

/// A host's rendered pieces, shared by all its lines.
#[derive(Debug, Clone)]
pub enum HostContext {
    Graphite {
        prefix: String,
        hostname: String,
        tags: graphite::Tags,
    },
    Opentsdb {
        prefix: String,
        tags: opentsdb::Tags,
    },
    Json(json::HostFields),
}

impl HostContext {
    /// Renders `prefix`, `hostname` and the `labels` to send (`None` when
    /// label sending is off, so JSON has no `labels` object).
    pub fn new(
        connector: Connector,
        prefix: &str,
        hostname: &str,
        labels: Option<&[(&str, &str)]>,
    ) -> HostContext {
        let sending = labels.is_some();
        let labels = labels.unwrap_or(&[]);
        match connector {
            Connector::Graphite => HostContext::Graphite {
                prefix: prefix.to_string(),
                hostname: hostname.to_string(),
                tags: graphite::Tags::new(labels.iter().copied()),
            },
            Connector::Opentsdb => HostContext::Opentsdb {
                prefix: prefix.to_string(),
                tags: opentsdb::Tags::new(hostname, labels.iter().copied()),
            },
            Connector::Json => HostContext::Json(if sending {
                json::HostFields::with_labels(prefix, hostname, labels.iter().copied())
            } else {
                json::HostFields::new(prefix, hostname)
            }),
        }
    }
}

/// A chart's rendered metric names, one per dimension, in dimension order.
#[derive(Debug, Default)]
pub enum ChartNames {
    #[default]
    None,
    Graphite(graphite::ChartMetrics),
    Opentsdb(opentsdb::ChartMetrics),
    Json(json::ChartFields, Vec<json::DimensionFields>),
}

impl ChartNames {
    /// Renders the names of every dimension of `chart` for `host`'s format.
    /// `chart_part` is the chart's id or `type.name`; dimensions use their
    /// names when `names`, else their ids.
    pub fn render(
        host: &HostContext,
        chart: &ChartState,
        chart_part: &str,
        names: bool,
    ) -> ChartNames {
        let dim_part = |d: &'_ rrd::Dimension| -> String {
            if names {
                d.name().to_owned()
            } else {
                d.id().to_owned()
            }
        };
        match host {
            HostContext::Graphite {
                prefix, hostname, ..
            } => {
                let head = graphite::ChartPath::new(prefix, hostname, chart_part);
                let mut list = graphite::ChartMetrics::new(&head);
                chart
                    .dimensions()
                    .iter()
                    .for_each(|d| list.push(&dim_part(d)));
                ChartNames::Graphite(list)
            }
            HostContext::Opentsdb { prefix, .. } => {
                let head = opentsdb::ChartPath::new(prefix, chart_part);
                let mut list = opentsdb::ChartMetrics::new(&head);
                chart
                    .dimensions()
                    .iter()
                    .for_each(|d| list.push(&dim_part(d)));
                ChartNames::Opentsdb(list)
            }
            HostContext::Json(_) => {
                let def = chart.def();
                let fields = json::ChartFields::new(&json::ChartInfo {
                    id: chart.id(),
                    name: chart.name(),
                    family: &def.family,
                    context: &def.context,
                    chart_type: &def.type_,
                    units: &def.units,
                });
                let dims = chart
                    .dimensions()
                    .iter()
                    .map(|d| json::DimensionFields::new(d.id(), d.name()))
                    .collect();
                ChartNames::Json(fields, dims)
            }
        }
    }

    /// Writes the line of dimension `dim`; false if nothing was written (a
    /// non-finite value, or names rendered for another format).
    #[inline]
    pub fn write_line(
        &self,
        out: &mut Vec<u8>,
        host: &HostContext,
        dim: usize,
        value: MetricValue,
        timestamp: &RenderedTimestamp,
    ) -> bool {
        match (self, host) {
            (ChartNames::Graphite(metrics), HostContext::Graphite { tags, .. }) => {
                metrics.write_line(out, dim, tags, value, timestamp)
            }
            (ChartNames::Opentsdb(metrics), HostContext::Opentsdb { tags, .. }) => {
                metrics.write_line(out, dim, tags, value, timestamp)
            }
            (ChartNames::Json(chart, dims), HostContext::Json(fields)) => match dims.get(dim) {
                Some(d) => json::write_line(out, fields, chart, d, value, timestamp.value()),
                None => false,
            },
            _ => false,
        }
    }

    /// Writes the line of every `(dimension, value)` of `lines`, as
    /// [`Self::write_line`] does one by one; returns how many were written.
    #[inline]
    pub fn write_lines<I>(
        &self,
        out: &mut Vec<u8>,
        host: &HostContext,
        timestamp: &RenderedTimestamp,
        lines: I,
    ) -> usize
    where
        I: IntoIterator<Item = (usize, MetricValue)>,
    {
        match (self, host) {
            (ChartNames::Graphite(metrics), HostContext::Graphite { tags, .. }) => {
                metrics.write_lines(out, tags, timestamp, lines)
            }
            (ChartNames::Opentsdb(metrics), HostContext::Opentsdb { tags, .. }) => {
                metrics.write_lines(out, tags, timestamp, lines)
            }
            _ => lines
                .into_iter()
                .map(|(dim, value)| usize::from(self.write_line(out, host, dim, value, timestamp)))
                .sum(),
        }
    }
}
