//! The connector registry: every connector type backhaul runs, as a
//! [`Format`] plus a [`DeliveryKind`]. `check-config` and the agent both
//! ask it, so what one reports is what the other runs.
//!
//! Adding a connector: its line encoder in `wire::format`, its arm in
//! [`super::connectors`] (host and chart caches), and one line in
//! [`REGISTRY`]; a new kind of delivery is a new [`super::delivery`]
//! module implementing `Delivery`.

use super::connectors::Format;
use super::delivery::http::BodyFraming;
use crate::config::ConnectorType;

/// How a connector's batches travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    /// A stream of lines over TCP.
    Lines,
    /// HTTP/1.1 `POST`s (with TLS when `tls`).
    Http {
        tls: bool,
        content_type: &'static str,
        framing: BodyFraming,
        /// Headers every request carries, after `Content-Length`.
        headers: &'static [(&'static str, &'static str)],
    },
}

/// What a connector type is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectorSpec {
    pub format: Format,
    pub delivery: DeliveryKind,
}

const GRAPHITE_HTTP: DeliveryKind = DeliveryKind::Http {
    tls: false,
    content_type: "application/graphite",
    framing: BodyFraming::Lines,
    headers: &[],
};
const JSON_HTTP: DeliveryKind = DeliveryKind::Http {
    tls: false,
    content_type: "application/json",
    framing: BodyFraming::JsonArray,
    headers: &[],
};
/// Prometheus remote write 0.1.0: a snappy-compressed protobuf.
const REMOTE_WRITE_HTTP: DeliveryKind = DeliveryKind::Http {
    tls: false,
    content_type: "application/x-protobuf",
    framing: BodyFraming::RemoteWrite,
    headers: &[
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ],
};

const fn with_tls(kind: DeliveryKind) -> DeliveryKind {
    match kind {
        DeliveryKind::Http {
            content_type,
            framing,
            headers,
            ..
        } => DeliveryKind::Http {
            tls: true,
            content_type,
            framing,
            headers,
        },
        DeliveryKind::Lines => DeliveryKind::Lines,
    }
}

const fn spec(format: Format, delivery: DeliveryKind) -> ConnectorSpec {
    ConnectorSpec { format, delivery }
}

/// Every connector type backhaul runs.
pub const REGISTRY: &[(ConnectorType, ConnectorSpec)] = &[
    (
        ConnectorType::Graphite,
        spec(Format::Graphite, DeliveryKind::Lines),
    ),
    (
        ConnectorType::GraphitePlaintext,
        spec(Format::Graphite, DeliveryKind::Lines),
    ),
    (
        ConnectorType::GraphiteHttp,
        spec(Format::Graphite, GRAPHITE_HTTP),
    ),
    (
        ConnectorType::GraphiteHttps,
        spec(Format::Graphite, with_tls(GRAPHITE_HTTP)),
    ),
    (
        ConnectorType::Opentsdb,
        spec(Format::Opentsdb, DeliveryKind::Lines),
    ),
    (
        ConnectorType::OpentsdbTelnet,
        spec(Format::Opentsdb, DeliveryKind::Lines),
    ),
    (
        ConnectorType::OpentsdbHttp,
        spec(Format::OpentsdbJson, JSON_HTTP),
    ),
    (
        ConnectorType::OpentsdbHttps,
        spec(Format::OpentsdbJson, with_tls(JSON_HTTP)),
    ),
    (ConnectorType::Json, spec(Format::Json, DeliveryKind::Lines)),
    (
        ConnectorType::JsonPlaintext,
        spec(Format::Json, DeliveryKind::Lines),
    ),
    (
        ConnectorType::JsonHttp,
        spec(Format::JsonArrayItems, JSON_HTTP),
    ),
    (
        ConnectorType::JsonHttps,
        spec(Format::JsonArrayItems, with_tls(JSON_HTTP)),
    ),
    (
        ConnectorType::PrometheusRemoteWrite,
        spec(Format::PrometheusRemoteWrite, REMOTE_WRITE_HTTP),
    ),
    (
        ConnectorType::PrometheusRemoteWriteHttp,
        spec(Format::PrometheusRemoteWrite, REMOTE_WRITE_HTTP),
    ),
    (
        ConnectorType::PrometheusRemoteWriteHttps,
        spec(Format::PrometheusRemoteWrite, with_tls(REMOTE_WRITE_HTTP)),
    ),
];

/// What backhaul says of a connector type it cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("connector '{0}' is not supported by backhaul yet")]
pub struct Unsupported(pub ConnectorType);

/// The format and delivery of connector type `t`.
pub fn lookup(t: ConnectorType) -> Result<ConnectorSpec, Unsupported> {
    REGISTRY
        .iter()
        .find(|(ty, _)| *ty == t)
        .map(|(_, spec)| *spec)
        .ok_or(Unsupported(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_type_once_and_the_rest_unsupported() {
        for t in ConnectorType::ALL {
            let listed = REGISTRY.iter().filter(|(ty, _)| *ty == t).count();
            assert!(listed <= 1, "{t} listed twice");
            assert_eq!(lookup(t).is_ok(), listed == 1);
        }
        assert!(lookup(ConnectorType::Kinesis).is_err());
        assert!(lookup(ConnectorType::PrometheusRemoteWriteHttps).is_ok());
        assert_eq!(
            lookup(ConnectorType::JsonHttps).unwrap().delivery,
            with_tls(JSON_HTTP)
        );
    }

    #[test]
    fn http_types_match_the_config_layer() {
        for (t, spec) in REGISTRY {
            let http = matches!(spec.delivery, DeliveryKind::Http { .. });
            assert_eq!(http, t.uses_http(), "{t}");
            let tls = matches!(spec.delivery, DeliveryKind::Http { tls: true, .. });
            assert_eq!(tls, t.uses_tls(), "{t}");
        }
    }
}
