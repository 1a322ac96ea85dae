//! The connector types netdata 1.37 knows ([`ConnectorType`]), their default
//! ports and which of them backhaul can run.

use std::fmt;

/// A connector type, spelled exactly as in an exporting.conf section name
/// (`[TYPE:NAME]`) or the legacy `[backend] type`.
///
/// Aliases stay distinct (`graphite` and `graphite:plaintext` send the same
/// lines) because netdata looks up per-type defaults in the `[TYPE]` section
/// spelled as written: an instance `[graphite:plaintext:x]` reads
/// `[graphite:plaintext]`, not `[graphite]`. Use [`ConnectorType::family`]
/// to treat aliases alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectorType {
    /// `graphite`: graphite plaintext over TCP.
    Graphite,
    /// `graphite:plaintext`: same as `graphite`.
    GraphitePlaintext,
    /// `graphite:http`: graphite lines in HTTP POSTs.
    GraphiteHttp,
    /// `graphite:https`: graphite lines in HTTPS POSTs.
    GraphiteHttps,
    /// `opentsdb`: OpenTSDB telnet `put` lines over TCP.
    Opentsdb,
    /// `opentsdb:telnet`: same as `opentsdb`.
    OpentsdbTelnet,
    /// `opentsdb:http`: OpenTSDB JSON over HTTP.
    OpentsdbHttp,
    /// `opentsdb:https`: OpenTSDB JSON over HTTPS.
    OpentsdbHttps,
    /// `json`: one JSON object a line over TCP.
    Json,
    /// `json:plaintext`: same as `json`.
    JsonPlaintext,
    /// `json:http`: JSON over HTTP.
    JsonHttp,
    /// `json:https`: JSON over HTTPS.
    JsonHttps,
    /// `prometheus_remote_write`: Prometheus remote write over HTTP.
    PrometheusRemoteWrite,
    /// `prometheus_remote_write:http`: same as `prometheus_remote_write`.
    PrometheusRemoteWriteHttp,
    /// `prometheus_remote_write:https`: remote write over HTTPS.
    PrometheusRemoteWriteHttps,
    /// `kinesis`: AWS Kinesis.
    Kinesis,
    /// `pubsub`: Google Cloud Pub/Sub.
    Pubsub,
    /// `mongodb`: MongoDB.
    Mongodb,
}

/// What a connector sends, regardless of the alias used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectorFamily {
    /// Graphite plaintext lines.
    Graphite,
    /// OpenTSDB (telnet lines or HTTP JSON).
    Opentsdb,
    /// netdata's JSON objects.
    Json,
    /// Prometheus remote write.
    PrometheusRemoteWrite,
    /// AWS Kinesis.
    Kinesis,
    /// Google Cloud Pub/Sub.
    Pubsub,
    /// MongoDB.
    Mongodb,
}

impl ConnectorType {
    /// Every connector type, in netdata's documentation order.
    pub const ALL: [ConnectorType; 18] = [
        ConnectorType::Graphite,
        ConnectorType::GraphitePlaintext,
        ConnectorType::GraphiteHttp,
        ConnectorType::GraphiteHttps,
        ConnectorType::Opentsdb,
        ConnectorType::OpentsdbTelnet,
        ConnectorType::OpentsdbHttp,
        ConnectorType::OpentsdbHttps,
        ConnectorType::Json,
        ConnectorType::JsonPlaintext,
        ConnectorType::JsonHttp,
        ConnectorType::JsonHttps,
        ConnectorType::PrometheusRemoteWrite,
        ConnectorType::PrometheusRemoteWriteHttp,
        ConnectorType::PrometheusRemoteWriteHttps,
        ConnectorType::Kinesis,
        ConnectorType::Pubsub,
        ConnectorType::Mongodb,
    ];

    /// The type string as written in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorType::Graphite => "graphite",
            ConnectorType::GraphitePlaintext => "graphite:plaintext",
            ConnectorType::GraphiteHttp => "graphite:http",
            ConnectorType::GraphiteHttps => "graphite:https",
            ConnectorType::Opentsdb => "opentsdb",
            ConnectorType::OpentsdbTelnet => "opentsdb:telnet",
            ConnectorType::OpentsdbHttp => "opentsdb:http",
            ConnectorType::OpentsdbHttps => "opentsdb:https",
            ConnectorType::Json => "json",
            ConnectorType::JsonPlaintext => "json:plaintext",
            ConnectorType::JsonHttp => "json:http",
            ConnectorType::JsonHttps => "json:https",
            ConnectorType::PrometheusRemoteWrite => "prometheus_remote_write",
            ConnectorType::PrometheusRemoteWriteHttp => "prometheus_remote_write:http",
            ConnectorType::PrometheusRemoteWriteHttps => "prometheus_remote_write:https",
            ConnectorType::Kinesis => "kinesis",
            ConnectorType::Pubsub => "pubsub",
            ConnectorType::Mongodb => "mongodb",
        }
    }

    /// The connector type spelled exactly `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// What the connector sends.
    pub fn family(self) -> ConnectorFamily {
        use ConnectorType::*;
        match self {
            Graphite | GraphitePlaintext | GraphiteHttp | GraphiteHttps => {
                ConnectorFamily::Graphite
            }
            Opentsdb | OpentsdbTelnet | OpentsdbHttp | OpentsdbHttps => ConnectorFamily::Opentsdb,
            Json | JsonPlaintext | JsonHttp | JsonHttps => ConnectorFamily::Json,
            PrometheusRemoteWrite | PrometheusRemoteWriteHttp | PrometheusRemoteWriteHttps => {
                ConnectorFamily::PrometheusRemoteWrite
            }
            Kinesis => ConnectorFamily::Kinesis,
            Pubsub => ConnectorFamily::Pubsub,
            Mongodb => ConnectorFamily::Mongodb,
        }
    }

    /// True for connectors that send HTTP(S) requests (a destination may
    /// then carry a `/path`).
    pub fn uses_http(self) -> bool {
        use ConnectorType::*;
        matches!(
            self,
            GraphiteHttp
                | GraphiteHttps
                | OpentsdbHttp
                | OpentsdbHttps
                | JsonHttp
                | JsonHttps
                | PrometheusRemoteWrite
                | PrometheusRemoteWriteHttp
                | PrometheusRemoteWriteHttps
        )
    }

    /// True for the `:https` variants.
    pub fn uses_tls(self) -> bool {
        use ConnectorType::*;
        matches!(
            self,
            GraphiteHttps | OpentsdbHttps | JsonHttps | PrometheusRemoteWriteHttps
        )
    }

    /// True when `destination` is a list of `host[:port]` entries. False for
    /// kinesis (an AWS region), pubsub (an API endpoint) and mongodb (a
    /// `mongodb://` URI): their destination is kept as text only.
    pub fn takes_host_list(self) -> bool {
        !matches!(
            self.family(),
            ConnectorFamily::Kinesis | ConnectorFamily::Pubsub | ConnectorFamily::Mongodb
        )
    }

    /// The port used when a destination gives none: graphite 2003, opentsdb
    /// 4242, json 5448 (netdata's); kinesis and pubsub 443, mongodb 27017
    /// (unused: their destinations are not host lists). Prometheus remote
    /// write has none (netdata had no usable one either): its destinations
    /// must name their port.
    pub fn default_port(self) -> Option<u16> {
        match self.family() {
            ConnectorFamily::Graphite => Some(2003),
            ConnectorFamily::Opentsdb => Some(4242),
            ConnectorFamily::Json => Some(5448),
            ConnectorFamily::PrometheusRemoteWrite => None,
            ConnectorFamily::Kinesis | ConnectorFamily::Pubsub => Some(443),
            ConnectorFamily::Mongodb => Some(27017),
        }
    }

    /// The destination used when none is configured: `localhost`, except
    /// kinesis (`us-east-1`) and pubsub (`pubsub.googleapis.com`), as in
    /// netdata.
    pub fn default_destination(self) -> &'static str {
        match self.family() {
            ConnectorFamily::Kinesis => "us-east-1",
            ConnectorFamily::Pubsub => "pubsub.googleapis.com",
            _ => "localhost",
        }
    }
}

impl fmt::Display for ConnectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for connector in ConnectorType::ALL {
            assert_eq!(
                ConnectorType::from_name(connector.as_str()),
                Some(connector)
            );
        }
        assert_eq!(ConnectorType::from_name("prometheus"), None);
        assert_eq!(ConnectorType::from_name("Graphite"), None);
    }

    #[test]
    fn ports_and_support() {
        assert_eq!(ConnectorType::GraphitePlaintext.default_port(), Some(2003));
        assert_eq!(ConnectorType::OpentsdbTelnet.default_port(), Some(4242));
        assert_eq!(ConnectorType::JsonHttp.default_port(), Some(5448));
        assert_eq!(
            ConnectorType::PrometheusRemoteWriteHttps.default_port(),
            None
        );
    }
}
