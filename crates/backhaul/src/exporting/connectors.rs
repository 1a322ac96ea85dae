//! `Connector`: the line format of an instance (graphite plaintext, opentsdb
//! telnet, json lines), and the caches that make a line cheap: the host's
//! rendered prefix, hostname and labels (`HostContext`) and each dimension's
//! rendered line head (`LineHeads`).
//!
//! The byte-level rules (sanitizers, value formatting, JSON escaping) live
//! in the `wire` crate; this module only decides which piece goes where.

use rrd::ChartState;
use wire::number::{write_collected_value, write_stored_value};
use wire::sanitize::{
    write_graphite_tag_key, write_graphite_tag_value, write_json_escaped, write_metric_part,
    write_opentsdb_tag, write_prefix_or_hostname,
};

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

    /// Writes one `average`/`sum` line.
    #[inline]
    pub fn write_stored(
        self,
        out: &mut Vec<u8>,
        host: &HostContext,
        head: &[u8],
        value: f64,
        timestamp: i64,
    ) {
        self.write_line(out, host, head, timestamp, |out| {
            write_stored_value(out, value)
        });
    }

    /// Writes one `as collected` line.
    #[inline]
    pub fn write_collected(
        self,
        out: &mut Vec<u8>,
        host: &HostContext,
        head: &[u8],
        raw: i64,
        timestamp: i64,
    ) {
        self.write_line(out, host, head, timestamp, |out| {
            write_collected_value(out, raw)
        });
    }

    #[inline]
    fn write_line(
        self,
        out: &mut Vec<u8>,
        host: &HostContext,
        head: &[u8],
        timestamp: i64,
        value: impl FnOnce(&mut Vec<u8>),
    ) {
        let mut ts = itoa::Buffer::new();
        let ts = ts.format(timestamp).as_bytes();
        out.extend_from_slice(head);
        match self {
            Connector::Graphite => {
                value(out);
                out.push(b' ');
                out.extend_from_slice(ts);
                out.push(b'\n');
            }
            Connector::Opentsdb => {
                out.extend_from_slice(ts);
                out.push(b' ');
                value(out);
                out.extend_from_slice(&host.tail);
            }
            Connector::Json => {
                value(out);
                out.extend_from_slice(b",\"timestamp\": ");
                out.extend_from_slice(ts);
                out.extend_from_slice(b"}\n");
            }
        }
    }
}

/// A host's rendered pieces, shared by all its lines.
#[derive(Debug, Default, Clone)]
pub struct HostContext {
    /// graphite: `PREFIX.HOST.`; opentsdb: `put PREFIX.`; json: the object's
    /// start up to and including the labels.
    lead: Vec<u8>,
    /// graphite: `;k=v...` tags; unused otherwise.
    tags: Vec<u8>,
    /// opentsdb: ` host=HOST k=v...\n`; unused otherwise.
    tail: Vec<u8>,
    prefix: String,
    hostname: String,
    rendered: bool,
}

impl HostContext {
    pub fn new(_connector: &Connector, prefix: &str, hostname: &str) -> HostContext {
        HostContext {
            prefix: prefix.to_string(),
            hostname: hostname.to_string(),
            ..HostContext::default()
        }
    }

    pub fn is_rendered(&self) -> bool {
        self.rendered
    }

    /// Renders the prefix, hostname and `labels` for `connector`.
    pub fn render_labels(&mut self, connector: &Connector, labels: &[(&str, &str)]) {
        self.lead.clear();
        self.tags.clear();
        self.tail.clear();
        match connector {
            Connector::Graphite => {
                write_prefix_or_hostname(&mut self.lead, &self.prefix);
                self.lead.push(b'.');
                write_prefix_or_hostname(&mut self.lead, &self.hostname);
                self.lead.push(b'.');
                for (k, v) in labels {
                    self.tags.push(b';');
                    write_graphite_tag_key(&mut self.tags, k);
                    self.tags.push(b'=');
                    write_graphite_tag_value(&mut self.tags, v);
                }
            }
            Connector::Opentsdb => {
                self.lead.extend_from_slice(b"put ");
                write_prefix_or_hostname(&mut self.lead, &self.prefix);
                self.lead.push(b'.');
                self.tail.extend_from_slice(b" host=");
                write_prefix_or_hostname(&mut self.tail, &self.hostname);
                for (k, v) in labels {
                    self.tail.push(b' ');
                    write_opentsdb_tag(&mut self.tail, k);
                    self.tail.push(b'=');
                    write_opentsdb_tag(&mut self.tail, v);
                }
                self.tail.push(b'\n');
            }
            Connector::Json => {
                self.lead.extend_from_slice(b"{\"prefix\":\"");
                write_json_escaped(&mut self.lead, &self.prefix);
                self.lead.extend_from_slice(b"\",\"hostname\":\"");
                write_json_escaped(&mut self.lead, &self.hostname);
                self.lead.extend_from_slice(b"\",\"labels\":{");
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        self.lead.push(b',');
                    }
                    self.lead.push(b'"');
                    write_json_escaped(&mut self.lead, k);
                    self.lead.extend_from_slice(b"\":\"");
                    write_json_escaped(&mut self.lead, v);
                    self.lead.push(b'"');
                }
                self.lead.extend_from_slice(b"},");
            }
        }
        self.rendered = true;
    }
}

/// Each dimension's rendered line head, in dimension order.
#[derive(Debug, Default)]
pub struct LineHeads {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl LineHeads {
    /// The head of dimension `i`.
    #[inline]
    pub fn head(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Renders the heads of every dimension of `chart`; `chart_part` is the
    /// chart's id or `type.name`, and dimensions use names when `names`.
    pub fn render(
        &mut self,
        connector: &Connector,
        host: &HostContext,
        chart: &ChartState,
        chart_part: &str,
        names: bool,
        scratch: &mut Vec<u8>,
    ) {
        self.bytes.clear();
        self.ends.clear();
        // The part shared by all the chart's dimensions.
        scratch.clear();
        match connector {
            Connector::Graphite | Connector::Opentsdb => {
                scratch.extend_from_slice(&host.lead);
                write_metric_part(scratch, chart_part);
                scratch.push(b'.');
            }
            Connector::Json => {
                let def = chart.def();
                scratch.extend_from_slice(&host.lead);
                let mut field = |name: &[u8], value: &str| {
                    scratch.extend_from_slice(name);
                    write_json_escaped(scratch, value);
                    scratch.extend_from_slice(b"\",");
                };
                field(b"\"chart_id\":\"", chart.id());
                field(b"\"chart_name\":\"", chart.name());
                field(b"\"chart_family\":\"", &def.family);
                field(b"\"chart_context\": \"", &def.context);
                field(b"\"chart_type\":\"", &def.type_);
                field(b"\"units\": \"", &def.units);
            }
        }
        for d in chart.dimensions() {
            self.bytes.extend_from_slice(scratch);
            match connector {
                Connector::Graphite => {
                    write_metric_part(&mut self.bytes, if names { d.name() } else { d.id() });
                    self.bytes.extend_from_slice(&host.tags);
                    self.bytes.push(b' ');
                }
                Connector::Opentsdb => {
                    write_metric_part(&mut self.bytes, if names { d.name() } else { d.id() });
                    self.bytes.push(b' ');
                }
                Connector::Json => {
                    self.bytes.extend_from_slice(b"\"id\":\"");
                    write_json_escaped(&mut self.bytes, d.id());
                    self.bytes.extend_from_slice(b"\",\"name\":\"");
                    write_json_escaped(&mut self.bytes, d.name());
                    self.bytes.extend_from_slice(b"\",\"value\":");
                }
            }
            self.ends.push(self.bytes.len());
        }
    }
}
