//! exporting.conf: turns its sections into an [`ExportingConfig`].
//!
//! Sections:
//! - `[exporting:global]`: defaults for every instance (and `enabled`);
//! - `[prometheus:exporter]`: the Prometheus scrape endpoint's settings,
//!   falling back to `[exporting:global]`;
//! - `[TYPE]`, where TYPE is a connector type (`[graphite]`,
//!   `[graphite:plaintext]`): defaults for the instances of that exact TYPE;
//! - `[TYPE:NAME]`: one instance. The section name is split at its *last*
//!   colon, so `[graphite:http:my_name]` is an instance `my_name` of type
//!   `graphite:http`, while `[graphite:http]` (a whole type string) is a
//!   `[TYPE]` section. An empty NAME (`[json:]`) is named `instance_N` (N
//!   counts such sections from 1), as netdata does.
//!
//! A value is looked up in `[TYPE:NAME]`, then `[TYPE]`, then
//! `[exporting:global]`, then the built-in default. This also holds for
//! `enabled`: as in netdata 1.37, `[exporting:global] enabled` is the
//! default of every instance's `enabled`, not a master switch (an instance
//! saying `enabled = yes` runs even when the global section says no; a
//! warning points this out).
//!
//! Other behaviours worth knowing:
//! - an instance section with no settings is ignored (netdata never
//!   registers one), with a warning;
//! - `[PREFIX:NAME]` with an unknown PREFIX is an error; a section with no
//!   colon that is not a connector type is ignored with a warning;
//! - unknown settings are ignored with a warning naming file, line and key;
//!   `host tags` (dropped by the exporting engine) likewise;
//! - every known value is checked in every section, used or not.

use super::connector::{ConnectorFamily, ConnectorType};
use super::destination::parse_destinations;
use super::error::{ConfigError, Location, Warning, WarningKind};
use super::ini::{invalid_value, IniDocument, IniSection, SectionChain};
use super::instance::{ConnectorExtras, HttpOptions, InstanceConfig, TlsOptions};
use super::main_conf::MainConfig;
use super::value::{parse_bool, parse_u32, parse_whole_number, DataSource, Secret};
use std::path::PathBuf;

/// Name of the section holding defaults for every instance.
pub const GLOBAL_SECTION: &str = "exporting:global";
/// Name of the Prometheus scrape endpoint's section.
pub const PROMETHEUS_EXPORTER_SECTION: &str = "prometheus:exporter";

/// Default `update every`, seconds.
pub const DEFAULT_UPDATE_EVERY: u32 = 10;
/// Default `buffer on failures`.
pub const DEFAULT_BUFFER_ON_FAILURES: usize = 10;
/// Default `buffer on failures max bytes`: 64 MiB of formatted batches
/// per instance (about ten intervals of 50 000 dimensions in graphite).
pub const DEFAULT_BUFFER_ON_FAILURES_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Default `spool max bytes`: 256 MiB per instance.
pub const DEFAULT_SPOOL_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Default `spool every secs`: while a receiver is down, the backlog's new
/// batches go to the spool every 5 seconds.
pub const DEFAULT_SPOOL_EVERY_SECS: u32 = 5;
/// The directory under `[directories] lib` that `spool directory`
/// defaults to.
pub const DEFAULT_SPOOL_SUBDIRECTORY: &str = "exporting-spool";
/// Default `replay windows per second`: after an outage, the missed
/// intervals are sent from the store at most this many per second.
pub const DEFAULT_REPLAY_WINDOWS_PER_SECOND: u32 = 10;
/// Default `timeout ms`: 10000, the value netdata 1.37's code uses. Its
/// documentation and stock exporting.conf say 20000; backhaul follows what
/// netdata did, not what it said.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default `prefix`.
pub const DEFAULT_PREFIX: &str = "netdata";
/// Default `send charts matching`.
pub const DEFAULT_SEND_CHARTS_MATCHING: &str = "*";
/// Default `send hosts matching`.
pub const DEFAULT_SEND_HOSTS_MATCHING: &str = "localhost *";
/// Default `remote write URL path` of prometheus remote write.
pub const DEFAULT_REMOTE_WRITE_URL_PATH: &str = "/receive";

pub(crate) const SECONDS_REASON: &str = "must be a whole number of seconds >= 1";
pub(crate) const COUNT_REASON: &str = "must be a whole number >= 0";
pub(crate) const MILLISECONDS_REASON: &str = "must be a whole number of milliseconds >= 1";

/// Everything exporting.conf configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportingConfig {
    /// `[exporting:global] enabled` (default no). As in netdata 1.37 this is
    /// the default of each instance's `enabled`, not a master switch: look
    /// at [`InstanceConfig::enabled`] to know what runs.
    pub enabled: bool,
    /// Every instance section, in file order, enabled or not.
    pub instances: Vec<InstanceConfig>,
    /// The Prometheus scrape endpoint's settings.
    pub prometheus_exporter: PrometheusExporterConfig,
}

impl Default for ExportingConfig {
    /// What backhaul uses when there is no exporting.conf.
    fn default() -> Self {
        Self {
            enabled: false,
            instances: Vec::new(),
            prometheus_exporter: PrometheusExporterConfig::default(),
        }
    }
}

/// Settings of the Prometheus scrape endpoint (`[prometheus:exporter]`,
/// then `[exporting:global]`, then these defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusExporterConfig {
    /// Default interval for scrapes that give none, seconds.
    pub update_every: u32,
    /// Which value of each dimension is served.
    pub data_source: DataSource,
    /// Serve names (yes) or ids (no).
    pub send_names_instead_of_ids: bool,
    /// Serve the `[host labels]` of netdata.conf.
    pub send_configured_labels: bool,
    /// Serve automatic labels.
    pub send_automatic_labels: bool,
    /// Simple pattern selecting the charts served.
    pub send_charts_matching: String,
    /// Simple pattern selecting the hosts served.
    pub send_hosts_matching: String,
    /// Metric name prefix.
    pub prefix: String,
    /// Prefix added to label names (`netdata label prefix`, default empty).
    pub netdata_label_prefix: String,
    /// The `[prometheus:exporter]` header, when the section exists.
    pub source: Option<Location>,
}

impl Default for PrometheusExporterConfig {
    fn default() -> Self {
        Self {
            update_every: DEFAULT_UPDATE_EVERY,
            data_source: DataSource::Average,
            send_names_instead_of_ids: true,
            send_configured_labels: true,
            send_automatic_labels: false,
            send_charts_matching: DEFAULT_SEND_CHARTS_MATCHING.to_string(),
            send_hosts_matching: DEFAULT_SEND_HOSTS_MATCHING.to_string(),
            prefix: DEFAULT_PREFIX.to_string(),
            netdata_label_prefix: String::new(),
            source: None,
        }
    }
}

/// How a setting's value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Bool,
    Seconds,
    Count,
    Milliseconds,
    DataSource,
    Destination,
    Text,
    NonEmptyText,
    UrlPath,
    HttpHeaders,
    Bytes,
    Samples,
    ReplayRate,
}

/// A setting exporting.conf knows, and the connector family that reads it
/// (`None`: every family).
struct KnownSetting {
    key: &'static str,
    kind: ValueKind,
    only_for: Option<ConnectorFamily>,
}

const fn setting(key: &'static str, kind: ValueKind) -> KnownSetting {
    KnownSetting {
        key,
        kind,
        only_for: None,
    }
}

const fn setting_for(key: &'static str, kind: ValueKind, family: ConnectorFamily) -> KnownSetting {
    KnownSetting {
        key,
        kind,
        only_for: Some(family),
    }
}

/// Settings of instance, `[TYPE]` and `[exporting:global]` sections.
const INSTANCE_SETTINGS: &[KnownSetting] = &[
    setting("enabled", ValueKind::Bool),
    setting("destination", ValueKind::Destination),
    setting("data source", ValueKind::DataSource),
    setting("prefix", ValueKind::Text),
    setting("hostname", ValueKind::NonEmptyText),
    setting("update every", ValueKind::Seconds),
    setting("buffer on failures", ValueKind::Count),
    setting("buffer on failures max bytes", ValueKind::Bytes),
    setting("replay windows per second", ValueKind::ReplayRate),
    setting("spool directory", ValueKind::Text),
    setting("spool max bytes", ValueKind::Bytes),
    setting("spool every secs", ValueKind::Count),
    setting("timeout ms", ValueKind::Milliseconds),
    setting("send names instead of ids", ValueKind::Bool),
    setting("send charts matching", ValueKind::Text),
    setting("send hosts matching", ValueKind::Text),
    setting("send configured labels", ValueKind::Bool),
    setting("send automatic labels", ValueKind::Bool),
    setting("username", ValueKind::Text),
    setting("password", ValueKind::Text),
    setting("http headers", ValueKind::HttpHeaders),
    setting("max request body bytes", ValueKind::Bytes),
    setting("check primary destination every", ValueKind::Seconds),
    setting("ssl skip certificate verification", ValueKind::Bool),
    setting("CAfile", ValueKind::Text),
    setting("CApath", ValueKind::Text),
    setting("ssl certificate", ValueKind::Text),
    setting("ssl key", ValueKind::Text),
    setting_for(
        "remote write URL path",
        ValueKind::UrlPath,
        ConnectorFamily::PrometheusRemoteWrite,
    ),
    setting_for(
        "max samples per request",
        ValueKind::Samples,
        ConnectorFamily::PrometheusRemoteWrite,
    ),
    setting_for(
        "send variables",
        ValueKind::Bool,
        ConnectorFamily::PrometheusRemoteWrite,
    ),
    setting_for("stream name", ValueKind::Text, ConnectorFamily::Kinesis),
    setting_for(
        "aws_access_key_id",
        ValueKind::Text,
        ConnectorFamily::Kinesis,
    ),
    setting_for(
        "aws_secret_access_key",
        ValueKind::Text,
        ConnectorFamily::Kinesis,
    ),
    setting_for("credentials file", ValueKind::Text, ConnectorFamily::Pubsub),
    setting_for("project id", ValueKind::Text, ConnectorFamily::Pubsub),
    setting_for("topic id", ValueKind::Text, ConnectorFamily::Pubsub),
    setting_for("database", ValueKind::Text, ConnectorFamily::Mongodb),
    setting_for("collection", ValueKind::Text, ConnectorFamily::Mongodb),
];

/// Settings of `[prometheus:exporter]`.
const PROMETHEUS_EXPORTER_SETTINGS: &[KnownSetting] = &[
    setting("update every", ValueKind::Seconds),
    setting("data source", ValueKind::DataSource),
    setting("send names instead of ids", ValueKind::Bool),
    setting("send configured labels", ValueKind::Bool),
    setting("send automatic labels", ValueKind::Bool),
    setting("send charts matching", ValueKind::Text),
    setting("send hosts matching", ValueKind::Text),
    setting("prefix", ValueKind::Text),
    setting("netdata label prefix", ValueKind::Text),
];

/// What a section of exporting.conf is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SectionRole {
    Global,
    PrometheusExporter,
    TypeDefaults(ConnectorType),
    Instance {
        connector: ConnectorType,
        name: String,
    },
    Unknown,
}

fn family_name(family: ConnectorFamily) -> &'static str {
    match family {
        ConnectorFamily::Graphite => "graphite",
        ConnectorFamily::Opentsdb => "opentsdb",
        ConnectorFamily::Json => "json",
        ConnectorFamily::PrometheusRemoteWrite => "prometheus_remote_write",
        ConnectorFamily::Kinesis => "kinesis",
        ConnectorFamily::Pubsub => "pubsub",
        ConnectorFamily::Mongodb => "mongodb",
    }
}

/// Checks `value` against `kind`; `connector` is known in `[TYPE]` and
/// instance sections (destinations are only checked then).
fn check_value(
    kind: ValueKind,
    value: &str,
    connector: Option<ConnectorType>,
) -> Result<(), String> {
    match kind {
        ValueKind::Bool => parse_bool(value).map(drop),
        ValueKind::Seconds => parse_u32(value, 1, SECONDS_REASON).map(drop),
        ValueKind::Count => parse_count(value).map(drop),
        ValueKind::Milliseconds => parse_whole_number(value, 1, MILLISECONDS_REASON).map(drop),
        ValueKind::DataSource => DataSource::parse(value).map(drop),
        ValueKind::Destination => match connector {
            Some(connector) => parse_destination_value(value, connector).map(drop),
            None => Ok(()),
        },
        ValueKind::Text => Ok(()),
        ValueKind::NonEmptyText => parse_non_empty(value).map(drop),
        ValueKind::UrlPath => parse_url_path(value).map(drop),
        ValueKind::HttpHeaders => parse_http_headers(value).map(drop),
        ValueKind::Bytes => parse_bytes(value).map(drop),
        ValueKind::Samples => parse_samples(value).map(drop),
        ValueKind::ReplayRate => parse_replay_rate(value).map(drop),
    }
}

pub(crate) fn parse_count(value: &str) -> Result<usize, String> {
    let count = parse_whole_number(value, 0, COUNT_REASON)?;
    usize::try_from(count).map_err(|_| COUNT_REASON.to_string())
}

pub(crate) fn parse_non_empty(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(value.to_string())
    }
}

/// Header names backhaul writes itself: setting them would make the
/// request ambiguous.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
];

/// `http headers`: `Name: value` pairs separated by `|`, e.g.
/// `Authorization: Bearer abc | X-Scope-OrgID: tenant1`.
pub(crate) fn parse_http_headers(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for item in value.split('|').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, v)) = item.split_once(':') else {
            return Err(format!(
                "'{item}' is not 'Name: value' (separate headers with '|')"
            ));
        };
        let (name, v) = (name.trim(), v.trim());
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(format!("'{name}' is not a valid header name"));
        }
        if v.chars().any(|c| c.is_control()) {
            return Err(format!(
                "the value of header '{name}' holds a control character"
            ));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "'{name}' is set by backhaul itself and cannot be configured"
            ));
        }
        headers.push((name.to_string(), v.to_string()));
    }
    Ok(headers)
}

/// The smallest `max request body bytes` accepted.
pub const MIN_REQUEST_BODY_BYTES: usize = 1024;
/// `max request body bytes` when unset (1 MiB, the body limit of common
/// proxies' defaults).
pub const DEFAULT_MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;
/// `check primary destination every` when unset, seconds.
pub const DEFAULT_CHECK_PRIMARY_EVERY: u32 = 60;

/// `max samples per request` when unset: remote write requests of at
/// most 10 000 samples (about 1.5 MB of protobuf, a few hundred KB
/// compressed), well within what Prometheus, Mimir, Thanos, Cortex and
/// VictoriaMetrics accept.
pub const DEFAULT_MAX_SAMPLES_PER_REQUEST: usize = 10_000;
const SAMPLES_REASON: &str = "must be a whole number of samples >= 1";

fn parse_samples(value: &str) -> Result<usize, String> {
    let n = parse_whole_number(value, 1, SAMPLES_REASON)?;
    usize::try_from(n).map_err(|_| SAMPLES_REASON.to_string())
}

/// Headers remote write sets itself.
const REMOTE_WRITE_HEADERS: &[&str] = &["content-encoding", "x-prometheus-remote-write-version"];

/// `spool directory`: unset, the default under `[directories] lib`;
/// empty or `none`, no spool.
pub(crate) fn spool_directory(value: Option<&str>, main: &MainConfig) -> Option<PathBuf> {
    match value.map(str::trim) {
        None => Some(main.directories.lib.join(DEFAULT_SPOOL_SUBDIRECTORY)),
        Some("") | Some("none") => None,
        Some(path) => Some(PathBuf::from(path)),
    }
}

const REPLAY_RATE_REASON: &str =
    "must be a whole number of windows per second (0: do not replay from the store)";

/// `replay windows per second`: 0 (off) or more.
/// `spool every secs`: whole seconds, 0 (only when the agent stops) and up.
pub(crate) fn parse_spool_every(value: &str) -> Result<u32, String> {
    const REASON: &str = "must be a whole number of seconds >= 0 (0: only when the agent stops)";
    let n = parse_whole_number(value, 0, REASON)?;
    u32::try_from(n).map_err(|_| REASON.to_string())
}

pub(crate) fn parse_replay_rate(value: &str) -> Result<u32, String> {
    let n = parse_whole_number(value, 0, REPLAY_RATE_REASON)?;
    u32::try_from(n).map_err(|_| REPLAY_RATE_REASON.to_string())
}

pub(crate) fn parse_bytes(value: &str) -> Result<usize, String> {
    let reason = format!("must be a whole number of bytes >= {MIN_REQUEST_BODY_BYTES}");
    let n = parse_whole_number(value, MIN_REQUEST_BODY_BYTES as u64, &reason)?;
    usize::try_from(n).map_err(|_| reason)
}

fn parse_url_path(value: &str) -> Result<String, String> {
    if value.starts_with('/') && !value.contains(char::is_whitespace) {
        Ok(value.to_string())
    } else {
        Err("must be a path starting with '/', without blanks".to_string())
    }
}

/// Parses a destination value for `connector`: a host list, or any non-empty
/// text for connectors that do not take one.
pub(crate) fn parse_destination_value(
    value: &str,
    connector: ConnectorType,
) -> Result<Vec<super::Destination>, String> {
    if connector.takes_host_list() {
        parse_destinations(value, connector)
    } else if value.is_empty() {
        Err("no destination given".to_string())
    } else {
        Ok(Vec::new())
    }
}

fn classify(section_name: &str, auto_named: &mut usize) -> Result<SectionRole, String> {
    if section_name == GLOBAL_SECTION {
        return Ok(SectionRole::Global);
    }
    if section_name == PROMETHEUS_EXPORTER_SECTION {
        return Ok(SectionRole::PrometheusExporter);
    }
    if let Some(connector) = ConnectorType::from_name(section_name) {
        return Ok(SectionRole::TypeDefaults(connector));
    }
    let Some((type_name, instance_name)) = section_name.rsplit_once(':') else {
        return Ok(SectionRole::Unknown);
    };
    let Some(connector) = ConnectorType::from_name(type_name) else {
        return Err(type_name.to_string());
    };
    let name = if instance_name.is_empty() {
        *auto_named += 1;
        format!("instance_{auto_named}")
    } else {
        instance_name.to_string()
    };
    Ok(SectionRole::Instance { connector, name })
}

/// Checks every setting of `section` against `known`, warning about unknown
/// ones and those meant for another connector family.
fn check_section(
    section: &IniSection,
    known: &[KnownSetting],
    connector: Option<ConnectorType>,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    for entry in &section.entries {
        if entry.key == "host tags" {
            warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                &entry.key,
                WarningKind::NotUsed,
                "netdata's exporting engine dropped 'host tags' and so does backhaul \
                 (set labels in [host labels] of netdata.conf); ignored",
            ));
            continue;
        }
        if entry.key == "netdata label prefix" && !entry.value.trim().is_empty() {
            warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                &entry.key,
                WarningKind::NotUsed,
                "accepted and not used: /api/v1/allmetrics sends label names as they are",
            ));
            continue;
        }
        let Some(spec) = known.iter().find(|spec| spec.key == entry.key) else {
            warnings.push(Warning::about_key(
                &entry.at,
                &section.name,
                &entry.key,
                WarningKind::Unknown,
                "unknown setting; ignored",
            ));
            continue;
        };
        check_value(spec.kind, &entry.value, connector)
            .map_err(|reason| invalid_value(section, entry, reason))?;
        if let (Some(family), Some(connector)) = (spec.only_for, connector) {
            if connector.family() != family {
                warnings.push(Warning::about_key(
                    &entry.at,
                    &section.name,
                    &entry.key,
                    WarningKind::NotUsed,
                    format!(
                        "only used by {} connectors; ignored for {}",
                        family_name(family),
                        connector
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Builds an [`ExportingConfig`] from a parsed exporting.conf; `main`
/// provides the global hostname and collection interval.
pub fn exporting_from_document(
    document: &IniDocument,
    main: &MainConfig,
    warnings: &mut Vec<Warning>,
) -> Result<ExportingConfig, ConfigError> {
    let global = document.section(GLOBAL_SECTION);
    let mut auto_named = 0;
    let mut instance_sections = Vec::new();

    for section in &document.sections {
        let role = classify(&section.name, &mut auto_named).map_err(|connector| {
            ConfigError::UnknownConnector {
                at: Box::new(section.at.clone()),
                section: section.name.clone(),
                connector,
            }
        })?;
        match &role {
            SectionRole::Global => check_section(section, INSTANCE_SETTINGS, None, warnings)?,
            SectionRole::PrometheusExporter => {
                check_section(section, PROMETHEUS_EXPORTER_SETTINGS, None, warnings)?
            }
            SectionRole::TypeDefaults(connector) => {
                check_section(section, INSTANCE_SETTINGS, Some(*connector), warnings)?
            }
            SectionRole::Instance { connector, name } => {
                check_section(section, INSTANCE_SETTINGS, Some(*connector), warnings)?;
                if section.entries.is_empty() {
                    warnings.push(Warning::about_section(
                        &section.at,
                        &section.name,
                        WarningKind::Suspicious,
                        "instance section has no settings; ignored (netdata ignores it too)",
                    ));
                } else {
                    instance_sections.push((section, *connector, name.clone()));
                }
            }
            SectionRole::Unknown => warnings.push(Warning::about_section(
                &section.at,
                &section.name,
                WarningKind::Unknown,
                "unknown section (not [exporting:global], [prometheus:exporter], \
                 a connector type or [TYPE:NAME]); ignored",
            )),
        }
    }

    let global_enabled = SectionChain::new([global]).parsed("enabled", parse_bool)?;

    let mut instances: Vec<InstanceConfig> = Vec::new();
    let mut sections_by_instance: Vec<&IniSection> = Vec::new();
    for (section, connector, name) in instance_sections {
        let same_name = instances.iter().position(|other| other.name == name);
        if let Some(first) = same_name.map(|index| sections_by_instance[index]) {
            return Err(ConfigError::DuplicateInstance {
                at: Box::new(section.at.clone()),
                section: section.name.clone(),
                name,
                other_section: first.name.clone(),
                other_at: Box::new(first.at.clone()),
            });
        }
        let type_defaults = document.section(connector.as_str());
        let chain = SectionChain::new([Some(section), type_defaults, global]);
        let instance = resolve_instance(&chain, section, connector, name, main)?;
        warn_about_instance(
            &section.name,
            &instance,
            &chain,
            global_enabled,
            main,
            warnings,
        );
        instances.push(instance);
        sections_by_instance.push(section);
    }

    let prometheus_exporter =
        resolve_prometheus_exporter(document.section(PROMETHEUS_EXPORTER_SECTION), global)?;

    Ok(ExportingConfig {
        enabled: global_enabled.unwrap_or(false),
        instances,
        prometheus_exporter,
    })
}

fn resolve_instance(
    chain: &SectionChain<'_>,
    section: &IniSection,
    connector: ConnectorType,
    name: String,
    main: &MainConfig,
) -> Result<InstanceConfig, ConfigError> {
    let destination_text = chain.text_or("destination", connector.default_destination());
    let destinations = match chain.parsed("destination", |value| {
        parse_destination_value(value, connector)
    })? {
        Some(destinations) => destinations,
        // The built-in defaults always parse.
        None => {
            parse_destination_value(connector.default_destination(), connector).unwrap_or_default()
        }
    };
    let is_remote_write = connector.family() == ConnectorFamily::PrometheusRemoteWrite;
    let enabled = chain.parsed_or("enabled", false, parse_bool)?;
    if enabled && destinations.is_empty() && connector.takes_host_list() {
        return Err(ConfigError::MissingSetting {
            at: Box::new(section.at.clone()),
            section: section.name.clone(),
            key: "destination".to_string(),
            reason: "prometheus remote write has no default port (netdata had no usable \
                     one either): write HOST:PORT, e.g. 127.0.0.1:9090 for a Prometheus server"
                .to_string(),
        });
    }
    let optional_text = |key: &str| {
        chain
            .find(key)
            .map(|(_, entry)| entry.value.clone())
            .filter(|value| !value.is_empty())
    };
    let extras = match connector.family() {
        ConnectorFamily::Kinesis => ConnectorExtras::Kinesis {
            stream_name: chain.text_or("stream name", ""),
            aws_access_key_id: chain.text_or("aws_access_key_id", ""),
            aws_secret_access_key: Secret::new(chain.text_or("aws_secret_access_key", "")),
        },
        ConnectorFamily::Pubsub => ConnectorExtras::Pubsub {
            credentials_file: chain.text_or("credentials file", ""),
            project_id: chain.text_or("project id", ""),
            topic_id: chain.text_or("topic id", ""),
        },
        ConnectorFamily::Mongodb => ConnectorExtras::Mongodb {
            database: chain.text_or("database", ""),
            collection: chain.text_or("collection", ""),
        },
        _ => ConnectorExtras::None,
    };

    Ok(InstanceConfig {
        name,
        connector,
        enabled,
        destinations,
        destination_text,
        data_source: chain.parsed_or("data source", DataSource::Average, DataSource::parse)?,
        prefix: chain.text_or("prefix", DEFAULT_PREFIX),
        hostname: chain.parsed_or("hostname", main.hostname.clone(), parse_non_empty)?,
        update_every: chain.parsed_or("update every", DEFAULT_UPDATE_EVERY, |value| {
            parse_u32(value, 1, SECONDS_REASON)
        })?,
        buffer_on_failures: chain.parsed_or(
            "buffer on failures",
            DEFAULT_BUFFER_ON_FAILURES,
            parse_count,
        )?,
        buffer_on_failures_max_bytes: chain.parsed_or(
            "buffer on failures max bytes",
            DEFAULT_BUFFER_ON_FAILURES_MAX_BYTES,
            parse_bytes,
        )?,
        replay_windows_per_second: chain.parsed_or(
            "replay windows per second",
            DEFAULT_REPLAY_WINDOWS_PER_SECOND,
            parse_replay_rate,
        )?,
        spool_directory: spool_directory(
            chain.find("spool directory").map(|(_, e)| e.value.as_str()),
            main,
        ),
        spool_max_bytes: chain.parsed_or("spool max bytes", DEFAULT_SPOOL_MAX_BYTES, parse_bytes)?,
        spool_every_secs: chain.parsed_or(
            "spool every secs",
            DEFAULT_SPOOL_EVERY_SECS,
            parse_spool_every,
        )?,
        timeout_ms: chain.parsed_or("timeout ms", DEFAULT_TIMEOUT_MS, |value| {
            parse_whole_number(value, 1, MILLISECONDS_REASON)
        })?,
        send_names_instead_of_ids: chain.parsed_or(
            "send names instead of ids",
            true,
            parse_bool,
        )?,
        send_charts_matching: chain.text_or("send charts matching", DEFAULT_SEND_CHARTS_MATCHING),
        send_hosts_matching: chain.text_or("send hosts matching", DEFAULT_SEND_HOSTS_MATCHING),
        send_configured_labels: chain.parsed_or("send configured labels", true, parse_bool)?,
        send_automatic_labels: chain.parsed_or("send automatic labels", false, parse_bool)?,
        send_variables: is_remote_write && chain.parsed_or("send variables", true, parse_bool)?,
        host_tags: String::new(),
        remote_write_url_path: if is_remote_write {
            Some(chain.parsed_or(
                "remote write URL path",
                DEFAULT_REMOTE_WRITE_URL_PATH.to_string(),
                parse_url_path,
            )?)
        } else {
            None
        },
        username: optional_text("username"),
        password: optional_text("password").map(Secret::new),
        http: HttpOptions {
            headers: chain.parsed_or("http headers", Vec::new(), |value| {
                let headers = parse_http_headers(value)?;
                let basic_auth = optional_text("username").is_some()
                    || optional_text("password").is_some();
                if let Some((name, _)) = headers
                    .iter()
                    .find(|(name, _)| basic_auth && name.eq_ignore_ascii_case("authorization"))
                {
                    return Err(format!(
                        "'{name}' would be sent twice: 'username'/'password' already send HTTP \
                         basic authentication; set one or the other"
                    ));
                }
                match headers.iter().find(|(name, _)| {
                    is_remote_write
                        && REMOTE_WRITE_HEADERS.contains(&name.to_ascii_lowercase().as_str())
                }) {
                    Some((name, _)) => Err(format!(
                        "'{name}' is set by backhaul itself for remote write and cannot be configured"
                    )),
                    None => Ok(headers),
                }
            })?,
            max_request_body_bytes: chain.parsed_or(
                "max request body bytes",
                DEFAULT_MAX_REQUEST_BODY_BYTES,
                parse_bytes,
            )?,
            max_samples_per_request: chain.parsed_or(
                "max samples per request",
                DEFAULT_MAX_SAMPLES_PER_REQUEST,
                parse_samples,
            )?,
        },
        tls: TlsOptions {
            skip_certificate_verification: chain.parsed_or(
                "ssl skip certificate verification",
                false,
                parse_bool,
            )?,
            ca_file: optional_text("CAfile").map(PathBuf::from),
            ca_path: optional_text("CApath").map(PathBuf::from),
            certificate: optional_text("ssl certificate").map(PathBuf::from),
            key: optional_text("ssl key").map(PathBuf::from),
        },
        check_primary_destination_every: chain.parsed_or(
            "check primary destination every",
            DEFAULT_CHECK_PRIMARY_EVERY,
            |value| parse_u32(value, 1, SECONDS_REASON),
        )?,
        extras,
        legacy: false,
        source: section.at.clone(),
    })
}

fn warn_about_instance(
    section: &str,
    instance: &InstanceConfig,
    chain: &SectionChain<'_>,
    global_enabled: Option<bool>,
    main: &MainConfig,
    warnings: &mut Vec<Warning>,
) {
    if !instance.enabled {
        return;
    }
    let enabled_by_global = chain
        .find("enabled")
        .is_some_and(|(found_in, _)| found_in.name == GLOBAL_SECTION);
    if global_enabled == Some(false) && !enabled_by_global {
        warnings.push(Warning::about_section(
            &instance.source,
            section,
            WarningKind::Suspicious,
            "enabled although [exporting:global] says 'enabled = no': that value is only the \
             default of each instance's 'enabled' (as in netdata 1.37), so this instance runs",
        ));
    }
    if instance.data_source != DataSource::AsCollected
        && !instance.update_every.is_multiple_of(main.update_every)
    {
        warnings.push(Warning::about_section(
            &instance.source,
            section,
            WarningKind::Suspicious,
            format!(
                "'update every' ({}s) is not a multiple of the collection interval ({}s): \
                 values will be taken at uneven points of the stored data",
                instance.update_every, main.update_every
            ),
        ));
    }
}

fn resolve_prometheus_exporter(
    exporter: Option<&IniSection>,
    global: Option<&IniSection>,
) -> Result<PrometheusExporterConfig, ConfigError> {
    let chain = SectionChain::new([exporter, global]);
    let defaults = PrometheusExporterConfig::default();
    Ok(PrometheusExporterConfig {
        update_every: chain.parsed_or("update every", defaults.update_every, |value| {
            parse_u32(value, 1, SECONDS_REASON)
        })?,
        data_source: chain.parsed_or("data source", defaults.data_source, DataSource::parse)?,
        send_names_instead_of_ids: chain.parsed_or(
            "send names instead of ids",
            defaults.send_names_instead_of_ids,
            parse_bool,
        )?,
        send_configured_labels: chain.parsed_or(
            "send configured labels",
            defaults.send_configured_labels,
            parse_bool,
        )?,
        send_automatic_labels: chain.parsed_or(
            "send automatic labels",
            defaults.send_automatic_labels,
            parse_bool,
        )?,
        send_charts_matching: chain.text_or("send charts matching", &defaults.send_charts_matching),
        send_hosts_matching: chain.text_or("send hosts matching", &defaults.send_hosts_matching),
        prefix: chain.text_or("prefix", &defaults.prefix),
        netdata_label_prefix: chain.text_or("netdata label prefix", ""),
        source: exporter.map(|section| section.at.clone()),
    })
}
