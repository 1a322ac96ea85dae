//! `Format`: the lines an instance writes into its batches (graphite
//! plaintext, opentsdb telnet, json lines, and the JSON objects of the
//! `json:http` and `opentsdb:http` bodies), and the caches that make a line
//! cheap: a host's rendered labels and head (`HostContext`) and a chart's
//! rendered metric names (`ChartNames`).
//!
//! Every byte-level rule (sanitizers, value formatting, JSON escaping, the
//! line layout) lives in `wire::format`; this module only decides which
//! strings go in (ids or names, which labels) and caches the results.
//! Which format and which delivery a connector type uses is in
//! [`super::registry`].

use std::collections::HashMap;

use rrd::{Algorithm, ChartState, CustomVariables};
use wire::format::prometheus::{self, InfoLabels, Suffix, UnitsPart};
use wire::format::remote_write::{ChartSeries, SeriesName};
use wire::format::{graphite, json, opentsdb, MetricValue};
use wire::number::RenderedTimestamp;

use crate::config::DataSource;

/// The `application` label of `netdata_info`.
pub const APPLICATION: &str = "backhaul";
/// The `version` label of `netdata_info`.
pub const VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// The lines an instance writes. Every line ends in `\n`, so a batch can be
/// cut into parts at any `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `PREFIX.HOST.CHART.DIM[;k=v...] VALUE TIMESTAMP`
    Graphite,
    /// `put PREFIX.CHART.DIM TIMESTAMP VALUE host=HOST[ k=v...]`
    Opentsdb,
    /// One JSON object per line.
    Json,
    /// netdata's json objects, each ending in `,\n` (a JSON array's items).
    JsonArrayItems,
    /// OpenTSDB `/api/put` objects, each ending in `,\n`.
    OpentsdbJson,
    /// Prometheus remote write records, one per sample
    /// (`wire::format::remote_write`), and one `netdata_info` record per
    /// host and batch.
    PrometheusRemoteWrite,
}

/// A host's rendered pieces, shared by all its lines.
#[derive(Debug, Clone)]
pub enum HostContext {
    OpentsdbJson {
        prefix: String,
        tags: opentsdb::JsonTags,
    },
    Graphite {
        prefix: String,
        hostname: String,
        tags: graphite::Tags,
    },
    Opentsdb {
        prefix: String,
        tags: opentsdb::Tags,
    },
    Json {
        fields: json::HostFields,
        /// Objects end in `,\n` (json:http bodies).
        array: bool,
        /// Stored values (`average`, `sum`): netdata's spacing for them.
        stored: bool,
    },
    RemoteWrite {
        prefix: String,
        /// The `instance` label.
        hostname: String,
        data_source: DataSource,
        /// The host's `netdata_info` series.
        info: SeriesName,
    },
}

impl HostContext {
    /// Renders `prefix`, `hostname` and the `labels` to send (`None` when
    /// label sending is off, so JSON has no `labels` object).
    pub fn new(
        connector: Format,
        prefix: &str,
        hostname: &str,
        labels: Option<&[(&str, &str)]>,
        data_source: DataSource,
    ) -> HostContext {
        let sending = labels.is_some();
        let labels = labels.unwrap_or(&[]);
        let stored = data_source != DataSource::AsCollected;
        match connector {
            Format::PrometheusRemoteWrite => HostContext::RemoteWrite {
                prefix: prefix.to_string(),
                hostname: hostname.to_string(),
                data_source,
                info: SeriesName::info(&InfoLabels::new(
                    hostname,
                    APPLICATION,
                    VERSION,
                    labels.iter().copied(),
                )),
            },
            Format::Graphite => HostContext::Graphite {
                prefix: prefix.to_string(),
                hostname: hostname.to_string(),
                tags: graphite::Tags::new(labels.iter().copied()),
            },
            Format::Opentsdb => HostContext::Opentsdb {
                prefix: prefix.to_string(),
                tags: opentsdb::Tags::new(hostname, labels.iter().copied()),
            },
            Format::OpentsdbJson => HostContext::OpentsdbJson {
                prefix: prefix.to_string(),
                tags: opentsdb::JsonTags::new(hostname, labels.iter().copied()),
            },
            Format::Json | Format::JsonArrayItems => HostContext::Json {
                fields: if sending {
                    json::HostFields::with_labels(prefix, hostname, labels.iter().copied())
                } else {
                    json::HostFields::new(prefix, hostname)
                },
                array: connector == Format::JsonArrayItems,
                stored,
            },
        }
    }

    /// Writes the lines a host adds to every batch, before its charts
    /// (remote write: `netdata_info`, stamped with the batch's time);
    /// returns how many.
    pub fn write_host_lines(&self, out: &mut Vec<u8>, timestamp: &RenderedTimestamp) -> usize {
        match self {
            HostContext::RemoteWrite { info, .. } => usize::from(info.write_record(
                out,
                MetricValue::Collected(1),
                timestamp.value().saturating_mul(1000),
            )),
            _ => 0,
        }
    }
}

/// The remote-write series of a host's custom variables, by variable
/// name: made once, so that the encoder reuses their label bytes.
#[derive(Debug, Default)]
pub struct VariableSeries {
    by_name: HashMap<Box<str>, SeriesName>,
}

impl HostContext {
    /// Remote write with `send variables`: one record per custom variable
    /// of the host (`PREFIX_NAME{instance="HOST"}` at the batch's time, as
    /// netdata sends them; a value that is not finite is left out, as for
    /// every sample); returns how many. Other formats send none.
    pub fn write_variables(
        &self,
        out: &mut Vec<u8>,
        timestamp: &RenderedTimestamp,
        variables: &CustomVariables,
        series: &mut VariableSeries,
    ) -> usize {
        let HostContext::RemoteWrite {
            prefix, hostname, ..
        } = self
        else {
            return 0;
        };
        let timestamp_ms = timestamp.value().saturating_mul(1000);
        let mut written = 0;
        for (name, value) in variables.iter() {
            // Looked up by `&str` first: a batch makes no key for the
            // series it has.
            if !series.by_name.contains_key(name) {
                let made = SeriesName::new(
                    &prometheus::variable_metric_name(prefix, name),
                    [("instance", hostname.as_str())],
                );
                series.by_name.insert(name.into(), made);
            }
            let Some(record) = series.by_name.get(name) else {
                continue;
            };
            written +=
                usize::from(record.write_record(out, MetricValue::Stored(value), timestamp_ms));
        }
        written
    }
}

/// A chart's rendered metric names, one per dimension, in dimension order.
#[derive(Debug, Default)]
pub enum ChartNames {
    #[default]
    None,
    Graphite(graphite::ChartMetrics),
    Opentsdb(opentsdb::ChartMetrics),
    Json(json::ChartObjects),
    RemoteWrite(ChartSeries),
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
            HostContext::Opentsdb { prefix, .. } | HostContext::OpentsdbJson { prefix, .. } => {
                let head = opentsdb::ChartPath::new(prefix, chart_part);
                let mut list = opentsdb::ChartMetrics::new(&head);
                chart
                    .dimensions()
                    .iter()
                    .for_each(|d| list.push(&dim_part(d)));
                ChartNames::Opentsdb(list)
            }
            HostContext::Json {
                fields: host_fields,
                array,
                stored,
            } => {
                let def = chart.def();
                let fields = json::ChartFields::new(&json::ChartInfo {
                    id: chart.id(),
                    name: chart.name(),
                    family: &def.family,
                    context: &def.context,
                    chart_type: &def.type_,
                    units: &def.units,
                });
                let mut objects = json::ChartObjects::new(host_fields, &fields, *stored, *array);
                for d in chart.dimensions() {
                    objects.push(&json::DimensionFields::new(d.id(), d.name()));
                }
                ChartNames::Json(objects)
            }
            HostContext::RemoteWrite {
                prefix,
                hostname,
                data_source,
                ..
            } => {
                let def = chart.def();
                let mut series = ChartSeries::new();
                for d in chart.dimensions() {
                    let (units, suffix) = match data_source {
                        DataSource::Average => (UnitsPart::Current(&def.units), Suffix::Average),
                        DataSource::Sum => (UnitsPart::Hidden, Suffix::Sum),
                        DataSource::AsCollected => {
                            let counter = matches!(
                                d.def().algorithm,
                                Algorithm::Incremental | Algorithm::PercentageOfIncrementalRow
                            );
                            let total = counter && def.module != "prometheus";
                            let suffix = if total { Suffix::Total } else { Suffix::Gauge };
                            (UnitsPart::Hidden, suffix)
                        }
                    };
                    let name = prometheus::metric_name(prefix, &def.context, units, suffix);
                    let dimension = dim_part(d);
                    series.push(&SeriesName::new(
                        &name,
                        [
                            ("chart", chart_part),
                            ("family", def.family.as_str()),
                            ("dimension", dimension.as_str()),
                            ("instance", hostname.as_str()),
                        ],
                    ));
                }
                ChartNames::RemoteWrite(series)
            }
        }
    }

    /// Whether the lines are text (every format but remote write, whose
    /// records carry doubles): text takes a value's exact decimal
    /// ([`MetricValue::Exact`]) to the same bytes as its double.
    pub fn writes_text(&self) -> bool {
        !matches!(self, ChartNames::RemoteWrite(_))
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
            (ChartNames::Opentsdb(metrics), HostContext::OpentsdbJson { tags, .. }) => {
                metrics.write_json_objects(out, tags, timestamp, [(dim, value)]) == 1
            }
            (ChartNames::Json(objects), HostContext::Json { .. }) => {
                objects.write_lines(out, timestamp, [(dim, value)]) == 1
            }
            (ChartNames::RemoteWrite(series), HostContext::RemoteWrite { .. }) => {
                series.write_lines(out, timestamp.value().saturating_mul(1000), [(dim, value)]) == 1
            }
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
            (ChartNames::Opentsdb(metrics), HostContext::OpentsdbJson { tags, .. }) => {
                metrics.write_json_objects(out, tags, timestamp, lines)
            }
            (ChartNames::Json(objects), HostContext::Json { .. }) => {
                objects.write_lines(out, timestamp, lines)
            }
            (ChartNames::RemoteWrite(series), HostContext::RemoteWrite { .. }) => {
                series.write_lines(out, timestamp.value().saturating_mul(1000), lines)
            }
            _ => lines
                .into_iter()
                .map(|(dim, value)| usize::from(self.write_line(out, host, dim, value, timestamp)))
                .sum(),
        }
    }
}
