//! [`InstanceConfig`]: everything one exporting instance needs, fully
//! resolved (lookup chain and defaults applied), whether it came from an
//! exporting.conf `[TYPE:NAME]` section or the legacy `[backend]` section of
//! netdata.conf.

use super::connector::ConnectorType;
use super::destination::Destination;
use super::error::Location;
use super::value::{DataSource, Secret};

/// One exporting instance, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Instance name: the part of `[TYPE:NAME]` after the last colon
    /// (`instance_N` when empty, as netdata), or `backend` for the legacy
    /// section.
    pub name: String,
    /// Connector type as written.
    pub connector: ConnectorType,
    /// Whether the instance should run.
    pub enabled: bool,
    /// Servers to try in order. Empty for connectors whose destination is
    /// not a host list (see [`ConnectorType::takes_host_list`]).
    pub destinations: Vec<Destination>,
    /// The `destination` value as written (or its default).
    pub destination_text: String,
    /// Which value of each dimension is sent.
    pub data_source: DataSource,
    /// Metric name prefix.
    pub prefix: String,
    /// Host name sent with metrics: the instance's `hostname`, else the
    /// global one.
    pub hostname: String,
    /// Seconds between batches.
    pub update_every: u32,
    /// How many failed batches are kept for resending before data is
    /// dropped.
    pub buffer_on_failures: usize,
    /// `buffer on failures max bytes`: the most formatted bytes those
    /// batches may hold together (one batch is always kept, whatever its
    /// size).
    pub buffer_on_failures_max_bytes: usize,
    /// `replay windows per second`: when the receiver was away longer
    /// than the buffer, the intervals missed are exported again from the
    /// store, at most this many per second; 0 turns replay off (the
    /// oldest batch is dropped instead, as netdata does).
    pub replay_windows_per_second: u32,
    /// `spool directory`: where the instance keeps its undelivered
    /// backlog across a restart (`None`: no spool).
    pub spool_directory: Option<std::path::PathBuf>,
    /// `spool max bytes`: the most the spool keeps (the oldest is dropped
    /// beyond it).
    pub spool_max_bytes: usize,
    /// `spool every secs`: while a receiver is down, the backlog's new
    /// batches are appended to the spool this often (0: only at stop).
    pub spool_every_secs: u32,
    /// Connect and send timeout, in milliseconds.
    pub timeout_ms: u64,
    /// Send chart and dimension names (yes) or ids (no).
    pub send_names_instead_of_ids: bool,
    /// netdata simple pattern selecting the charts to send.
    pub send_charts_matching: String,
    /// netdata simple pattern selecting the hosts to send.
    pub send_hosts_matching: String,
    /// Send the `[host labels]` of netdata.conf.
    pub send_configured_labels: bool,
    /// Send the labels netdata finds by itself.
    pub send_automatic_labels: bool,
    /// Prometheus remote write: also send host variables.
    pub send_variables: bool,
    /// Legacy `[backend] host tags`, sent verbatim (empty for exporting.conf
    /// instances: the exporting engine dropped this setting).
    pub host_tags: String,
    /// Prometheus remote write request path (`/receive` by default); `None`
    /// for other connectors.
    pub remote_write_url_path: Option<String>,
    /// HTTP basic authentication user, if set and not empty.
    pub username: Option<String>,
    /// HTTP basic authentication password, if set and not empty.
    pub password: Option<Secret>,
    /// Settings of the HTTP connectors.
    pub http: HttpOptions,
    /// TLS settings of the `:https` connectors.
    pub tls: TlsOptions,
    /// `check primary destination every`: how often, in seconds, an
    /// instance sending to a later destination checks whether an earlier
    /// one is up again.
    pub check_primary_destination_every: u32,
    /// Settings of the kinesis, pubsub and mongodb connectors.
    pub extras: ConnectorExtras,
    /// True for the instance made from netdata.conf's `[backend]` section.
    pub legacy: bool,
    /// Where the instance's section header is.
    pub source: Location,
}

/// Settings of the HTTP connectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// `http headers`: extra request headers, in order.
    pub headers: Vec<(String, String)>,
    /// `max request body bytes`: requests are cut at line boundaries to
    /// stay within it.
    pub max_request_body_bytes: usize,
    /// `max samples per request` (remote write): requests are cut to hold
    /// at most this many samples.
    pub max_samples_per_request: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            headers: Vec::new(),
            max_request_body_bytes: super::exporting::DEFAULT_MAX_REQUEST_BODY_BYTES,
            max_samples_per_request: super::exporting::DEFAULT_MAX_SAMPLES_PER_REQUEST,
        }
    }
}

/// TLS settings (netdata's `stream.conf` names where it has them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsOptions {
    /// `ssl skip certificate verification`.
    pub skip_certificate_verification: bool,
    /// `CAfile`.
    pub ca_file: Option<std::path::PathBuf>,
    /// `CApath`.
    pub ca_path: Option<std::path::PathBuf>,
    /// `ssl certificate`: client certificate chain.
    pub certificate: Option<std::path::PathBuf>,
    /// `ssl key`: client key.
    pub key: Option<std::path::PathBuf>,
}

/// Settings that only one connector family reads. backhaul does not run
/// these connectors yet; the values are kept so that `check-config` can
/// show them and a later connector can use them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ConnectorExtras {
    /// No extra settings.
    #[default]
    None,
    /// AWS Kinesis (`stream name`, `aws_access_key_id`,
    /// `aws_secret_access_key`; empty when unset).
    Kinesis {
        /// `stream name`.
        stream_name: String,
        /// `aws_access_key_id`.
        aws_access_key_id: String,
        /// `aws_secret_access_key`.
        aws_secret_access_key: Secret,
    },
    /// Google Cloud Pub/Sub (`credentials file`, `project id`, `topic id`).
    Pubsub {
        /// `credentials file`.
        credentials_file: String,
        /// `project id`.
        project_id: String,
        /// `topic id`.
        topic_id: String,
    },
    /// MongoDB (`database`, `collection`).
    Mongodb {
        /// `database`.
        database: String,
        /// `collection`.
        collection: String,
    },
}

impl InstanceConfig {
    /// One stable line describing the instance, as printed by `backhaul
    /// check-config`:
    ///
    /// `TYPE NAME destination=D1,D2 data_source=SOURCE update_every=Ns enabled=yes|no`
    ///
    /// Destinations are shown resolved (`host:port`, default ports filled
    /// in), or as written for connectors that do not take a host list. The
    /// data source has no blank (`as_collected`, one of its accepted
    /// spellings) so the line splits on spaces.
    pub fn summary_line(&self) -> String {
        let destination = if self.destinations.is_empty() {
            self.destination_text.clone()
        } else {
            self.destinations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{} {} destination={} data_source={} update_every={}s enabled={}",
            self.connector,
            self.name,
            destination,
            self.data_source.as_str().replace(' ', "_"),
            self.update_every,
            if self.enabled { "yes" } else { "no" },
        )
    }
}
