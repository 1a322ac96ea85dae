//! Configuration: netdata.conf-style main file and exporting.conf.
//!
//! backhaul reads netdata's own files unchanged:
//! - netdata.conf ([`MainConfig`]): host name, collection interval,
//!   directories, plugins, web, logs, host labels, the `[health]` keys netdata
//!   sends as host labels, and the legacy `[backend]` exporting section;
//! - exporting.conf ([`ExportingConfig`]): one `[TYPE:NAME]` section per
//!   exporting instance, with `[TYPE]` and `[exporting:global]` defaults;
//! - stream.conf ([`StreamConfig`]): the API keys and machine GUIDs that
//!   may stream to this agent (parent mode).
//!
//! [`load`] reads both and returns a [`LoadedConfig`]: the resolved values
//! and every [`Warning`] (unknown or unused settings, duplicates, ...). A
//! problem that makes a value unusable is a [`ConfigError`] whose text names
//! the file, the line, the section and the key.
//!
//! Submodules: `ini` (syntax and line numbers), `value` (booleans, numbers,
//! data source), `destination`, `connector`, `instance`, `main_conf`,
//! `exporting`, `error`.

mod cgroups_conf;
mod connector;
mod destination;
mod error;
mod exporting;
mod ini;
mod instance;
mod logs_conf;
mod main_conf;
mod statsd_conf;
mod stream_conf;
mod value;

use std::path::{Path, PathBuf};

pub use cgroups_conf::{
    CgroupSwitches, CgroupsConfig, UnifiedChoice, CGROUPS_SECTION, V1_CONTROLLERS,
};
pub use connector::{ConnectorFamily, ConnectorType};
pub use destination::{parse_destination, parse_destinations, Destination};
pub use error::{ConfigError, Location, Warning, WarningKind};
pub use exporting::{
    ExportingConfig, PrometheusExporterConfig, DEFAULT_BUFFER_ON_FAILURES,
    DEFAULT_BUFFER_ON_FAILURES_MAX_BYTES, DEFAULT_PREFIX, DEFAULT_REPLAY_WINDOWS_PER_SECOND,
    DEFAULT_SEND_CHARTS_MATCHING, DEFAULT_SEND_HOSTS_MATCHING, DEFAULT_SPOOL_MAX_BYTES,
    DEFAULT_TIMEOUT_MS, DEFAULT_UPDATE_EVERY, GLOBAL_SECTION, PROMETHEUS_EXPORTER_SECTION,
};
pub use instance::{ConnectorExtras, HttpOptions, InstanceConfig, TlsOptions};
pub use logs_conf::{LogOutput, LogsConfig, SYSLOG_FACILITIES};
pub use main_conf::{
    parse_bind_to, system_hostname, BindAddress, ChartSwitch, Directories, HealthConfig,
    MainConfig, PluginsConfig, ProcPatterns, WebAccess, WebConfig, BACKEND_SECTION,
    DEFAULT_BIND_TO, DEFAULT_WEB_PORT, PLUGIN_SWITCHES, PROC_CHART_SWITCHES,
    PROC_INTERFACE_SWITCHES, PROC_SWITCHES,
};
pub use statsd_conf::{StatsdBind, StatsdConfig, DEFAULT_STATSD_BIND_TO, DEFAULT_STATSD_PORT};
pub use stream_conf::{
    is_uuid, parse_stream_destinations, ProxyOverride, ProxySettings, ReceiverSettings,
    SenderConfig, StreamConfig, StreamDestination, StreamRefusal, StreamSection,
    DEFAULT_RECONNECT_DELAY_SECONDS, DEFAULT_SECONDS_PER_REPLICATION_STEP,
    DEFAULT_SECONDS_TO_REPLICATE, DEFAULT_SENDER_BUFFER_BYTES, DEFAULT_SENDER_TIMEOUT_SECONDS,
    DEFAULT_STREAM_PORT, STREAM_FILE_NAME,
};
pub use value::{DataSource, Secret};

/// The name of the exporting file looked for in `[directories] config`.
pub const EXPORTING_FILE_NAME: &str = "exporting.conf";

/// Everything [`load`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedConfig {
    /// netdata.conf, resolved (built-in defaults without one).
    pub main: MainConfig,
    /// exporting.conf, resolved (no instances without one).
    pub exporting: ExportingConfig,
    /// Warnings: netdata.conf's, then exporting.conf's, each in line order.
    pub warnings: Vec<Warning>,
    /// The netdata.conf read, if any.
    pub main_file: Option<PathBuf>,
    /// The exporting.conf read, if any.
    pub exporting_file: Option<PathBuf>,
    /// stream.conf, resolved (no API keys without one: no child accepted).
    pub stream: StreamConfig,
    /// The stream.conf read, if any.
    pub stream_file: Option<PathBuf>,
}

impl LoadedConfig {
    /// Every exporting.conf instance (enabled or not), then the legacy
    /// `[backend]` instance if it is enabled.
    pub fn instances(&self) -> impl Iterator<Item = &InstanceConfig> + '_ {
        self.exporting
            .instances
            .iter()
            .chain(self.main.backend.as_ref().filter(|backend| backend.enabled))
    }

    /// The instances that should run (see [`LoadedConfig::instances`]).
    pub fn enabled_instances(&self) -> impl Iterator<Item = &InstanceConfig> + '_ {
        self.instances().filter(|instance| instance.enabled)
    }
}

/// Loads the configuration.
///
/// - `main`: the netdata.conf to read; `None` uses built-in defaults and
///   reads no file.
/// - stream.conf is read from `[directories] config` when a netdata.conf
///   was given and that file exists.
/// - `exporting`: the exporting.conf to read; `None` reads
///   `[directories] config`/exporting.conf (default
///   `/etc/netdata/exporting.conf`) if a netdata.conf was given and that
///   file exists, else nothing. netdata's fallback to the stock
///   exporting.conf is not reproduced: the stock file enables nothing.
pub fn load(main: Option<&Path>, exporting: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
    let mut warnings = Vec::new();
    let main_config = match main {
        Some(path) => parse_text(
            &read_text(path)?,
            &path.display().to_string(),
            &mut warnings,
            main_conf::main_from_document,
        )?,
        None => MainConfig::builtin(),
    };

    let exporting_file = match (exporting, main) {
        (Some(path), _) => Some(path.to_path_buf()),
        (None, Some(_)) => Some(main_config.directories.config.join(EXPORTING_FILE_NAME))
            .filter(|candidate| candidate.is_file()),
        (None, None) => None,
    };
    let exporting_config = match &exporting_file {
        Some(path) => parse_text(
            &read_text(path)?,
            &path.display().to_string(),
            &mut warnings,
            |document, warnings| {
                exporting::exporting_from_document(document, &main_config, warnings)
            },
        )?,
        None => ExportingConfig::default(),
    };

    if let Some(backend) = main_config.backend.as_ref().filter(|b| b.enabled) {
        if let Some(clash) = exporting_config
            .instances
            .iter()
            .find(|instance| instance.name == backend.name)
        {
            return Err(ConfigError::DuplicateInstance {
                at: Box::new(backend.source.clone()),
                section: BACKEND_SECTION.to_string(),
                name: backend.name.clone(),
                other_section: format!("{}:{}", clash.connector, clash.name),
                other_at: Box::new(clash.source.clone()),
            });
        }
    }

    let stream_file = main
        .map(|_| main_config.directories.config.join(STREAM_FILE_NAME))
        .filter(|candidate| candidate.is_file());
    let mut stream_config = match &stream_file {
        Some(path) => parse_text(
            &read_text(path)?,
            &path.display().to_string(),
            &mut warnings,
            stream_conf::stream_from_document,
        )?,
        None => StreamConfig::default(),
    };
    stream_config.take_db_replication(&main_config.replication);

    Ok(LoadedConfig {
        main: main_config,
        exporting: exporting_config,
        warnings,
        main_file: main.map(Path::to_path_buf),
        exporting_file,
        stream: stream_config,
        stream_file,
    })
}

/// Parses netdata.conf text, naming it `file_label` in messages. The host
/// name defaults to the machine's when `[global] hostname` is unset.
pub fn parse_main_str(
    text: &str,
    file_label: &str,
) -> Result<(MainConfig, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let config = parse_text(
        text,
        file_label,
        &mut warnings,
        main_conf::main_from_document,
    )?;
    Ok((config, warnings))
}

/// Parses exporting.conf text, naming it `file_label` in messages; `main`
/// provides the global host name and collection interval.
pub fn parse_exporting_str(
    text: &str,
    file_label: &str,
    main: &MainConfig,
) -> Result<(ExportingConfig, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let config = parse_text(text, file_label, &mut warnings, |document, warnings| {
        exporting::exporting_from_document(document, main, warnings)
    })?;
    Ok((config, warnings))
}

/// Parses stream.conf text, naming it `file_label` in messages.
pub fn parse_stream_str(
    text: &str,
    file_label: &str,
) -> Result<(StreamConfig, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let config = parse_text(
        text,
        file_label,
        &mut warnings,
        stream_conf::stream_from_document,
    )?;
    Ok((config, warnings))
}

/// Parses `text` with the ini layer and builds a value from it with
/// `build`; the warnings this file raised are appended to `warnings` in
/// line order.
fn parse_text<T>(
    text: &str,
    file_label: &str,
    warnings: &mut Vec<Warning>,
    build: impl FnOnce(&ini::IniDocument, &mut Vec<Warning>) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let first_new = warnings.len();
    let document = ini::parse(text, file_label, warnings)?;
    let value = build(&document, warnings)?;
    warnings[first_new..].sort_by_key(|warning| warning.line);
    Ok(value)
}

/// Reads a file as text; bytes that are not UTF-8 (in comments, say) are
/// replaced rather than refused.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| ConfigError::Io {
            file: path.to_path_buf(),
            source,
        })
}
